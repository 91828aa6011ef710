//! The secured broker of `scripts/kafka.sh --secure` (SASL_SSL/SCRAM-SHA-512, mTLS and
//! OAUTHBEARER) and Kafka's Java client, for the tests of Ferry against secured clusters and
//! Java clients. `FERRY_KAFKA_SECURE_PORT` moves the broker's ports as it does for the script.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::repo_root;

fn secure_listener(offset: u16) -> String {
    let base: u16 = std::env::var("FERRY_KAFKA_SECURE_PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(19094);
    format!("127.0.0.1:{}", base + offset)
}

/// Returns the SASL_SSL listener (SCRAM-SHA-512).
pub fn sasl_ssl_bootstrap() -> String {
    secure_listener(0)
}

/// Returns the SSL listener that requires a client certificate.
pub fn mtls_bootstrap() -> String {
    secure_listener(1)
}

/// Returns the PLAINTEXT listener, for test set-up only.
pub fn internal_bootstrap() -> String {
    secure_listener(2)
}

/// Returns the SASL_PLAINTEXT listener taking unsecured OAUTHBEARER JWTs.
pub fn oauth_unsecured_bootstrap() -> String {
    secure_listener(4)
}

/// Returns the SASL_SSL listener validating signed OAUTHBEARER JWTs against the test JWKS.
pub fn oauth_jwt_bootstrap() -> String {
    secure_listener(5)
}
/// The password of every store and of the SCRAM user `ferry`.
pub const PASSWORD: &str = "ferry-secret";

fn state_dir() -> PathBuf {
    PathBuf::from(std::env::var("FERRY_KAFKA_DIR").unwrap_or_else(|_| "/tmp/ferry-kafka".into()))
}

fn cache_dir() -> PathBuf {
    match std::env::var("FERRY_CACHE_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
            .join(".cache/ferry"),
    }
}

/// The broker's jars (kafka-clients included).
pub fn kafka_lib() -> PathBuf {
    cache_dir().join("kafka-4.3.1/lib")
}

/// Starts the secured broker unless it runs (`scripts/kafka.sh start --secure` is a no-op
/// then) and returns the folder of its certificates and stores.
///
/// # Panics
/// When the broker cannot be started.
pub fn secure_broker() -> &'static Path {
    static CERTS: OnceLock<PathBuf> = OnceLock::new();
    CERTS.get_or_init(|| {
        let script = repo_root().join("scripts/kafka.sh");
        let status = Command::new(&script)
            .args(["start", "--secure"])
            .stdout(Stdio::null())
            .status()
            .expect("scripts/kafka.sh runs");
        assert!(status.success(), "scripts/kafka.sh start --secure failed");
        state_dir().join("secure/certs")
    })
}

/// Worker properties of a Kafka Connect deployment on the SASL_SSL listener with a JKS
/// truststore, as such a deployment writes them.
pub fn sasl_ssl_worker_properties(certs: &Path) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), sasl_ssl_bootstrap()),
        ("security.protocol".into(), "SASL_SSL".into()),
        ("sasl.mechanism".into(), "SCRAM-SHA-512".into()),
        (
            "sasl.jaas.config".into(),
            format!("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ferry\" password=\"{PASSWORD}\";"),
        ),
        (
            "ssl.truststore.location".into(),
            certs.join("truststore.jks").display().to_string(),
        ),
        ("ssl.truststore.password".into(), PASSWORD.into()),
    ]
}

/// Worker properties of a Kafka Connect deployment logging in with OIDC client credentials
/// (Java's login callback handler and JAAS options) on the signed-JWT listener.
pub fn oidc_worker_properties(
    certs: &Path,
    token_endpoint_url: &str,
    client_id: &str,
    client_secret: &str,
) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), oauth_jwt_bootstrap()),
        ("security.protocol".into(), "SASL_SSL".into()),
        ("sasl.mechanism".into(), "OAUTHBEARER".into()),
        (
            "sasl.login.callback.handler.class".into(),
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler".into(),
        ),
        (
            "sasl.oauthbearer.token.endpoint.url".into(),
            token_endpoint_url.into(),
        ),
        (
            "sasl.jaas.config".into(),
            oidc_jaas_config(client_id, client_secret),
        ),
        (
            "ssl.truststore.location".into(),
            certs.join("truststore.jks").display().to_string(),
        ),
        ("ssl.truststore.password".into(), PASSWORD.into()),
    ]
}

/// Returns Java's JAAS line of the OIDC client-credentials flow.
pub fn oidc_jaas_config(client_id: &str, client_secret: &str) -> String {
    format!("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"{client_id}\" clientSecret=\"{client_secret}\" scope=\"kafka\";")
}

/// Returns Java's JAAS line of the OIDC client-credentials flow whose token endpoint (HTTPS) is
/// trusted through the `ssl.truststore.*` options of the login module, as Java's
/// `JaasOptionsUtils` reads them.
pub fn oidc_jaas_config_with_truststore(
    client_id: &str,
    client_secret: &str,
    truststore: &Path,
) -> String {
    format!(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"{client_id}\" clientSecret=\"{client_secret}\" scope=\"kafka\" ssl.truststore.location=\"{}\" ssl.truststore.password=\"{PASSWORD}\";",
        truststore.display()
    )
}

/// Runs Kafka's `kafka.admin.ConfigCommand` against the internal listener.
///
/// # Panics
/// When the command fails.
pub fn kafka_config_command(args: &[&str]) {
    let lib = format!("{}/*", kafka_lib().display());
    let output = Command::new("java")
        .args([
            "-cp",
            &lib,
            "kafka.admin.ConfigCommand",
            "--bootstrap-server",
            &internal_bootstrap(),
        ])
        .args(args)
        .output()
        .expect("java runs");
    assert!(
        output.status.success(),
        "ConfigCommand {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles `tests/java/FerryJavaClient.java` against the broker's kafka-clients jar (once per
/// source version, into the cache) and returns the class path to run it with.
///
/// # Panics
/// When `javac` fails.
pub fn java_client_classpath() -> String {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH
        .get_or_init(|| {
            let source = repo_root().join("tests/java/FerryJavaClient.java");
            let text = std::fs::read(&source).expect("the Java client source exists");
            let digest = text.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
            });
            let out = cache_dir().join(format!("java-client/{digest:016x}"));
            let lib = format!("{}/*", kafka_lib().display());
            if !out.join("FerryJavaClient.class").exists() {
                std::fs::create_dir_all(&out).expect("cache dir");
                let status = Command::new("javac")
                    .args(["-cp", &lib, "-d"])
                    .arg(&out)
                    .arg(&source)
                    .status()
                    .expect("javac runs");
                assert!(status.success(), "javac FerryJavaClient.java failed");
            }
            format!("{}:{lib}", out.display())
        })
        .clone()
}

/// Runs the Java client with `args` and `stdin`; returns its standard output.
///
/// # Panics
/// When it fails.
pub fn run_java_client(args: &[&str], stdin: &str) -> String {
    use std::io::Write;

    let mut child = Command::new("java")
        .args(["-cp", &java_client_classpath(), "FerryJavaClient"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("java client finishes");
    assert!(
        output.status.success(),
        "FerryJavaClient {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}
