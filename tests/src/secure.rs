//! The secured broker of `scripts/kafka.sh --secure` (SASL_SSL/SCRAM-SHA-512 and mTLS) and
//! Kafka's Java client, for the tests of Ferry against secured clusters and Java clients.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::repo_root;

/// The SASL_SSL listener (SCRAM-SHA-512).
pub const SASL_SSL_BOOTSTRAP: &str = "127.0.0.1:19094";
/// The SSL listener that requires a client certificate.
pub const MTLS_BOOTSTRAP: &str = "127.0.0.1:19095";
/// The PLAINTEXT listener, for test set-up only.
pub const INTERNAL_BOOTSTRAP: &str = "127.0.0.1:19096";
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
        ("bootstrap.servers".into(), SASL_SSL_BOOTSTRAP.into()),
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
            INTERNAL_BOOTSTRAP,
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
