//! A secured Ferry, set up as Kafka Connect users secure Kafka Connect: https listeners, the
//! BasicAuth extension with its JAAS file passed in `KAFKA_OPTS`, config providers, plus Ferry's
//! bearer tokens. Real `ferry` processes on the real broker; certificates are made with openssl
//! and keytool when the test runs; gRPC is called with grpcurl and `ferry ctl`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use ferry_tests::{
    ferry_binary, free_local_addr, node_id_of, repo_root, test_bootstrap, unique_name, wait_until,
    worker_args, FerryProcess,
};
use serde_json::{json, Value as JsonValue};

#[allow(unreachable_pub, dead_code, clippy::all, clippy::pedantic)]
mod proto {
    tonic::include_proto!("ferry.v1");
}

const USER: &str = "alice";
const PASSWORD: &str = "w0nder-land-pw";
const TOKEN: &str = "ci-robot-token-7f3a";
const KEYSTORE_PASSWORD: &str = "keystore-pw-9c1e";
const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a command and panics with its output when it fails.
fn run(program: &str, args: &[&str], dir: &Path) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Certificates made for one test: a CA, a server certificate for 127.0.0.1/localhost (PEM,
/// PKCS12), a client certificate, and the CA in a JKS truststore.
struct Pki {
    ca: PathBuf,
    /// Server key + certificate + CA in one PEM file (`ssl.keystore.type=PEM`).
    server_pem_keystore: PathBuf,
    server_p12: PathBuf,
    trust_jks: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509"];
    ca_args.extend_from_slice(&ec);
    ca_args.extend_from_slice(&[
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ferry-test-ca",
    ]);
    run("openssl", &ca_args, dir);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    for name in ["server", "client"] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let cert = format!("{name}.pem");
        let subject = format!("/CN={name}");
        let mut args = vec!["req"];
        args.extend_from_slice(&ec);
        args.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subject]);
        run("openssl", &args, dir);
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
            dir,
        );
    }
    let mut pem_keystore = std::fs::read_to_string(dir.join("server.key")).unwrap();
    pem_keystore.push_str(&std::fs::read_to_string(dir.join("server.pem")).unwrap());
    pem_keystore.push_str(&std::fs::read_to_string(dir.join("ca.pem")).unwrap());
    std::fs::write(dir.join("server-keystore.pem"), pem_keystore).unwrap();
    let passout = format!("pass:{KEYSTORE_PASSWORD}");
    run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            "server.pem",
            "-inkey",
            "server.key",
            "-certfile",
            "ca.pem",
            "-name",
            "ferry",
            "-out",
            "server.p12",
            "-passout",
            &passout,
        ],
        dir,
    );
    run(
        "keytool",
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            "ca.pem",
            "-keystore",
            "trust.jks",
            "-storepass",
            KEYSTORE_PASSWORD,
            "-storetype",
            "JKS",
        ],
        dir,
    );
    Pki {
        ca: dir.join("ca.pem"),
        server_pem_keystore: dir.join("server-keystore.pem"),
        server_p12: dir.join("server.p12"),
        trust_jks: dir.join("trust.jks"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    }
}

/// Writes Kafka Connect's JAAS file and `user: password` file, and Ferry's tokens file; returns
/// the `KAFKA_OPTS` value and the tokens file.
fn write_credentials(dir: &Path) -> (String, PathBuf) {
    let users = dir.join("credentials.properties");
    std::fs::write(&users, format!("{USER}: {PASSWORD}\nbob: builder\n")).unwrap();
    let jaas = dir.join("connect_jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "KafkaConnect {{\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"{}\";\n}};\n",
            users.display()
        ),
    )
    .unwrap();
    let tokens = dir.join("tokens.properties");
    std::fs::write(&tokens, format!("ci-robot={TOKEN}\n")).unwrap();
    (
        format!(
            "-Xmx256m -Djava.security.auth.login.config={}",
            jaas.display()
        ),
        tokens,
    )
}

fn https_client(pki: &Pki, with_identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30));
    if with_identity {
        let mut pem = std::fs::read(&pki.client_key).unwrap();
        pem.extend(std::fs::read(&pki.client_cert).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Credentials<'a> {
    None,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    credentials: Credentials<'_>,
    body_opt: Option<&JsonValue>,
) -> (u16, String) {
    let mut request = client.request(method, url);
    request = match credentials {
        Credentials::None => request,
        Credentials::Basic(user, password) => request.basic_auth(user, Some(password)),
        Credentials::Bearer(token) => request.bearer_auth(token),
    };
    if let Some(body) = body_opt {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, JsonValue) {
    let (status, text) = call(
        client,
        reqwest::Method::GET,
        url,
        Credentials::Basic(USER, PASSWORD),
        None,
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(JsonValue::Null),
    )
}

async fn wait_healthy(worker: &FerryProcess, client: &reqwest::Client, url: &str) {
    let health = format!("{url}/health");
    let result = wait_until(TIMEOUT, "GET /health (authenticated) to answer 200", || {
        let client = client.clone();
        let health = health.clone();
        async move {
            let response = client
                .get(&health)
                .basic_auth(USER, Some(PASSWORD))
                .send()
                .await
                .ok()?;
            (response.status() == reqwest::StatusCode::OK).then_some(())
        }
    })
    .await;
    if let Err(error) = result {
        panic!("{error}; stderr:\n{}", worker.stderr());
    }
}

/// Returns the path of grpcurl, installing it with `scripts/install-grpcurl.sh` when missing.
fn grpcurl_path() -> PathBuf {
    if let Some(path) = std::env::var_os("GRPCURL") {
        return PathBuf::from(path);
    }
    let output = Command::new(repo_root().join("scripts/install-grpcurl.sh"))
        .output()
        .expect("scripts/install-grpcurl.sh runs");
    assert!(output.status.success(), "installing grpcurl failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(stdout.lines().last().expect("a path").trim())
}

/// Runs grpcurl; returns (success, stdout + stderr).
fn grpcurl(args: &[&str]) -> (bool, String) {
    let output = Command::new(grpcurl_path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("grpcurl runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn basic_header() -> String {
    format!(
        "authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    )
}

/// Runs `ferry ctl <args>` with `envs`; returns (exit code, stdout, stderr).
fn ferry_ctl(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(ferry_binary())
        .arg("ctl")
        .args(args)
        .env_remove("FERRY_SERVER")
        .env_remove("FERRY_USER")
        .env_remove("FERRY_TOKEN")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("ferry ctl runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every record of partition 0 of `topic` as (key, value text), read to the end.
fn topic_records(topic: &str) -> Vec<(String, String)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("group.id", unique_name("inspect"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let (_, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&list).unwrap();
    let mut records = Vec::new();
    let mut position = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while position < high && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            position = message.offset() + 1;
            records.push((
                String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
            ));
        }
    }
    assert!(position >= high, "read {topic} to its end");
    records
}

/// The session key bytes of the latest `session-key` record.
fn latest_session_key(config_topic: &str) -> Option<Vec<u8>> {
    topic_records(config_topic)
        .into_iter()
        .rev()
        .find(|(key, _)| key == "session-key")
        .map(|(_, value)| {
            let record: JsonValue = serde_json::from_str(&value).unwrap();
            assert_eq!(record["algorithm"], "HmacSHA256", "{record}");
            assert!(record["creation-timestamp"].is_i64(), "{record}");
            base64::engine::general_purpose::STANDARD
                .decode(record["key"].as_str().unwrap())
                .unwrap()
        })
}

/// A forwarded-request body as a worker signs it: the encoded `ForwardConfigChangeRequest`.
fn forward_request(
    name: &str,
    config: &JsonValue,
) -> (proto::ForwardConfigChangeRequest, JsonValue) {
    let payload = json!({ "config": config }).to_string();
    let message = proto::ForwardConfigChangeRequest {
        operation: "create".into(),
        connector: name.into(),
        payload_json: payload.clone(),
    };
    let json = json!({"operation": "create", "connector": name, "payloadJson": payload});
    (message, json)
}

fn sign(key: &[u8], message: &proto::ForwardConfigChangeRequest) -> String {
    let body = prost::Message::encode_to_vec(message);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, &body).as_ref())
}

#[tokio::test]
async fn a_two_worker_https_cluster_with_basic_auth_tokens_session_keys_and_config_providers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let (kafka_opts, tokens_file) = write_credentials(dir.path());
    let prefix = unique_name("secured");
    let config_topic = format!("{prefix}-configs");

    // Secrets the connectors get through providers: a file provider properties file and an env var.
    let secrets_dir = dir.path().join("secrets");
    std::fs::create_dir(&secrets_dir).unwrap();
    let input = dir.path().join(format!("input-{}.txt", unique_name("in")));
    let output = dir
        .path()
        .join(format!("output-{}.txt", unique_name("out")));
    std::fs::write(&input, "first\nsecond\nthird\n").unwrap();
    let secrets_file = secrets_dir.join("paths.properties");
    std::fs::write(&secrets_file, format!("sink.file={}\n", output.display())).unwrap();
    let env_var = "FERRY_SECRET_INPUT";
    let input_text = input.display().to_string();
    let output_text = output.display().to_string();

    let addrs = [free_local_addr(), free_local_addr()];
    let seeds = format!("{},{}", addrs[0], addrs[1]);
    let secrets_dir_text = secrets_dir.display().to_string();
    let keystore = pki.server_pem_keystore.display().to_string();
    let ca = pki.ca.display().to_string();
    let tokens = tokens_file.display().to_string();
    let mut workers = Vec::new();
    for addr in addrs {
        let listener = format!("https://{addr}");
        let node_id = node_id_of(addr);
        let extra = [
            ("listeners", listener.as_str()),
            ("gossip.seeds", seeds.as_str()),
            ("node.id", node_id.as_str()),
            ("listeners.https.ssl.keystore.type", "PEM"),
            ("listeners.https.ssl.keystore.location", keystore.as_str()),
            ("listeners.https.ssl.truststore.type", "PEM"),
            ("listeners.https.ssl.truststore.location", ca.as_str()),
            ("rest.extension.classes", BASIC_AUTH_EXTENSION),
            ("rest.auth.tokens.file", tokens.as_str()),
            ("config.providers", "file,env"),
            (
                "config.providers.file.class",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            (
                "config.providers.file.param.allowed.paths",
                secrets_dir_text.as_str(),
            ),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ),
            (
                "config.providers.env.param.allowlist.pattern",
                "FERRY_SECRET_.*",
            ),
            // Short, so the test sees the leader replace the key.
            ("inter.worker.key.ttl.ms", "6000"),
        ];
        let args = worker_args(dir.path(), &prefix, addr, &extra).unwrap();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        workers.push(
            FerryProcess::spawn_with_env(
                &refs,
                addr,
                &[
                    ("KAFKA_OPTS", kafka_opts.as_str()),
                    (env_var, input_text.as_str()),
                ],
            )
            .unwrap(),
        );
    }
    let client = https_client(&pki, false);
    let urls: Vec<String> = addrs.iter().map(|addr| format!("https://{addr}")).collect();
    for (worker, url) in workers.iter().zip(&urls) {
        wait_healthy(worker, &client, url).await;
    }
    let cluster = wait_until(TIMEOUT, "both members ready with a leader", || {
        let client = client.clone();
        let url = format!("{}/cluster", urls[0]);
        async move {
            let (_, view) = get_json(&client, &url).await;
            let ready = view["members"]
                .as_array()?
                .iter()
                .filter(|m| m["ready"] == true)
                .count();
            (ready == 2 && view["leader"].is_string()).then_some(view)
        }
    })
    .await
    .unwrap();
    let leader_index = usize::from(cluster["leader"] != node_id_of(addrs[0]));
    let (leader, follower) = (&urls[leader_index], &urls[1 - leader_index]);

    // REST: no credentials, wrong ones, a bad token: 401 with Kafka Connect's message.
    for credentials in [
        Credentials::None,
        Credentials::Basic(USER, "wrong"),
        Credentials::Basic("mallory", PASSWORD),
        Credentials::Bearer("not-a-token"),
    ] {
        for path in [
            "/connectors",
            "/health",
            "/",
            "/connectors/x/status",
            "/metrics",
        ] {
            let (status, body) = call(
                &client,
                reqwest::Method::GET,
                &format!("{follower}{path}"),
                credentials,
                None,
            )
            .await;
            assert_eq!(status, 401, "{path}: {body}");
            let body: JsonValue = serde_json::from_str(&body).unwrap();
            assert_eq!(
                body,
                json!({"error_code": 401, "message": "User cannot access the resource."})
            );
        }
    }
    let (status, _) = call(
        &client,
        reqwest::Method::GET,
        &format!("{follower}/connectors"),
        Credentials::Bearer(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        status, 200,
        "a token from rest.auth.tokens.file is accepted"
    );

    // gRPC: the same credentials, UNAUTHENTICATED without them.
    let follower_addr = follower.trim_start_matches("https://");
    let (ok, text) = grpcurl(&["-cacert", &ca, follower_addr, "list"]);
    assert!(!ok && text.contains("Unauthenticated"), "{text}");
    let (ok, text) = grpcurl(&[
        "-cacert",
        &ca,
        "-H",
        "authorization: Basic bm9wZTpub3Bl",
        follower_addr,
        "list",
    ]);
    assert!(!ok && text.contains("Unauthenticated"), "{text}");
    let (ok, text) = grpcurl(&["-cacert", &ca, "-H", &basic_header(), follower_addr, "list"]);
    assert!(ok && text.contains("ferry.v1.ConnectorService"), "{text}");
    let bearer = format!("authorization: Bearer {TOKEN}");
    let (ok, text) = grpcurl(&[
        "-cacert",
        &ca,
        "-H",
        &bearer,
        follower_addr,
        "ferry.v1.ClusterService/ListMembers",
    ]);
    assert!(ok && text.contains(&node_id_of(addrs[0])), "{text}");

    // Create through the follower (forwarded, signed with the session key) and the leader, with
    // secrets from the env and file providers.
    let source_placeholder = format!("${{env:{env_var}}}");
    let sink_placeholder = format!("${{file:{}:sink.file}}", secrets_file.display());
    let topic = unique_name("secured-lines");
    let source_config =
        json!({"connector.class": "FileStreamSource", "file": source_placeholder, "topic": topic});
    let sink_config =
        json!({"connector.class": "FileStreamSink", "file": sink_placeholder, "topics": topic});
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        &format!("{follower}/connectors"),
        Credentials::Basic(USER, PASSWORD),
        Some(&json!({"name": "secret-src", "config": source_config})),
    )
    .await;
    assert_eq!(status, 201, "create through the follower: {body}");
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        &format!("{leader}/connectors"),
        Credentials::Bearer(TOKEN),
        Some(&json!({"name": "secret-sink", "config": sink_config})),
    )
    .await;
    assert_eq!(status, 201, "create through the leader: {body}");

    // The tasks got the resolved values: the lines went file → Kafka → file.
    wait_until(TIMEOUT, "the sink wrote the three lines", || {
        let output = output.clone();
        async move {
            let text = std::fs::read_to_string(&output).ok()?;
            (text == "first\nsecond\nthird\n").then_some(())
        }
    })
    .await
    .unwrap_or_else(|error| {
        panic!(
            "{error}; stderr:\n{}\n{}",
            workers[0].stderr(),
            workers[1].stderr()
        )
    });

    // Never resolved in the config topic, nor in any API answer.
    let records = topic_records(&config_topic);
    let connector_record = records
        .iter()
        .rev()
        .find(|(key, _)| key == "connector-secret-src")
        .expect("config record");
    assert!(
        connector_record.1.contains(&source_placeholder),
        "{connector_record:?}"
    );
    assert!(
        records
            .iter()
            .any(|(key, value)| key.starts_with("task-secret-sink") && value.contains("${file:")),
        "task configs keep the placeholder"
    );
    for (key, value) in &records {
        assert!(
            !value.contains(&input_text) && !value.contains(&output_text),
            "{key} holds a resolved secret: {value}"
        );
    }
    for url in [leader, follower] {
        for path in [
            "/connectors/secret-src/config",
            "/connectors/secret-src",
            "/connectors/secret-src/tasks",
            "/connectors/secret-sink/tasks",
            "/connectors/secret-src/status",
            "/connectors?expand=info&expand=status",
        ] {
            let (status, body) = call(
                &client,
                reqwest::Method::GET,
                &format!("{url}{path}"),
                Credentials::Basic(USER, PASSWORD),
                None,
            )
            .await;
            assert_eq!(status, 200, "{path}: {body}");
            assert!(
                !body.contains(&input_text) && !body.contains(&output_text),
                "{path} shows a resolved secret: {body}"
            );
        }
    }
    let (_, config) = get_json(&client, &format!("{follower}/connectors/secret-src/config")).await;
    assert_eq!(
        config["file"],
        source_placeholder.as_str(),
        "GET config shows the placeholder"
    );
    let (status, body) = call(
        &client,
        reqwest::Method::PUT,
        &format!("{follower}/connector-plugins/FileStreamSink/config/validate"),
        Credentials::Basic(USER, PASSWORD),
        Some(&sink_config),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("${file:") && !body.contains(&output_text),
        "validate: {body}"
    );

    // A forwarded request without the cluster's key is refused, and stores nothing.
    let (forged, forged_json) = forward_request(
        "forged",
        &json!({"connector.class": "FileStreamSink", "file": "/tmp/forged", "topics": topic}),
    );
    let leader_addr = leader.trim_start_matches("https://");
    let forged_data = forged_json.to_string();
    // The caller is even a valid user (reflection, which grpcurl needs, wants credentials): only
    // the session key signature makes a forwarded request.
    let call_forward = |extra_headers: Vec<String>| {
        let mut args = vec![
            "-cacert".to_string(),
            ca.clone(),
            "-H".to_string(),
            basic_header(),
            "-d".to_string(),
            forged_data.clone(),
        ];
        for header in extra_headers {
            args.push("-H".to_string());
            args.push(header);
        }
        args.push(leader_addr.to_string());
        args.push("ferry.v1.WorkerService/ForwardConfigChange".to_string());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        grpcurl(&refs)
    };
    let (ok, text) = call_forward(vec![]);
    assert!(
        !ok && text.contains("InvalidArgument") && text.contains("missing required signature"),
        "{text}"
    );
    let (ok, text) = call_forward(vec![
        "x-connect-authorization: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        "x-connect-request-signature-algorithm: HmacSHA256".into(),
    ]);
    assert!(
        !ok && text.contains("PermissionDenied") && text.contains("invalid signature"),
        "{text}"
    );
    // Signed with a key the leader replaced: stale, refused.
    let old_key = latest_session_key(&config_topic).expect("the leader wrote a session key");
    wait_until(TIMEOUT, "the leader to replace the session key", || {
        let config_topic = config_topic.clone();
        let old_key = old_key.clone();
        async move {
            let current = tokio::task::spawn_blocking(move || latest_session_key(&config_topic))
                .await
                .ok()??;
            (current != old_key).then_some(())
        }
    })
    .await
    .unwrap();
    let (ok, text) = call_forward(vec![
        format!("x-connect-authorization: {}", sign(&old_key, &forged)),
        "x-connect-request-signature-algorithm: HmacSHA256".into(),
    ]);
    assert!(
        !ok && text.contains("PermissionDenied"),
        "stale key: {text}"
    );
    let (status, _) = get_json(&client, &format!("{leader}/connectors/forged")).await;
    assert_eq!(status, 404, "a refused forwarded request stores nothing");
    // The format is Kafka Connect's: a body signed with the current key is accepted.
    let current_key = latest_session_key(&config_topic).unwrap();
    let (signed, signed_json) = forward_request(
        "signed-by-test",
        &json!({"connector.class": "FileStreamSink", "file": "/tmp/signed", "topics": topic}),
    );
    let signed_data = signed_json.to_string();
    let signature = format!("x-connect-authorization: {}", sign(&current_key, &signed));
    let user_header = basic_header();
    let (ok, text) = grpcurl(&[
        "-cacert",
        &ca,
        "-H",
        &user_header,
        "-H",
        &signature,
        "-H",
        "x-connect-request-signature-algorithm: HmacSHA256",
        "-d",
        &signed_data,
        leader_addr,
        "ferry.v1.WorkerService/ForwardConfigChange",
    ]);
    assert!(ok, "a correctly signed request: {text}");
    // Forwarding keeps working across key rotations.
    let (status, body) = call(
        &client,
        reqwest::Method::DELETE,
        &format!("{follower}/connectors/signed-by-test"),
        Credentials::Basic(USER, PASSWORD),
        None,
    )
    .await;
    assert_eq!(status, 204, "delete forwarded after a key rotation: {body}");

    // ferry ctl with TLS and credentials (flags and env vars).
    let server = format!("https://{follower_addr}");
    let (code, stdout, stderr) = ferry_ctl(
        &[
            "--server",
            &server,
            "--cacert",
            &ca,
            "--user",
            &format!("{USER}:{PASSWORD}"),
            "get",
            "connectors",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("secret-src") && stdout.contains("secret-sink"),
        "{stdout}"
    );
    let (code, stdout, stderr) = ferry_ctl(
        &["get", "connectors", "-o", "json"],
        &[
            ("FERRY_SERVER", follower_addr),
            ("FERRY_CACERT", &ca),
            ("FERRY_TOKEN", TOKEN),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("secret-src"), "{stdout}");
    let (code, _, stderr) = ferry_ctl(
        &[
            "--server",
            &server,
            "--cacert",
            &ca,
            "--user",
            "alice:wrong",
            "get",
            "connectors",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(
        !stderr.contains("alice:wrong") && !stderr.contains("wrong"),
        "ctl does not echo credentials: {stderr}"
    );

    // Secrets never reach the logs.
    for worker in &workers {
        let logs = worker.stderr();
        for secret in [PASSWORD, TOKEN, output_text.as_str()] {
            assert!(!logs.contains(secret), "a secret in the logs: {secret}");
        }
    }
}

#[tokio::test]
async fn mutual_tls_with_pkcs12_and_jks_stores_beside_a_plain_http_listener() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let prefix = unique_name("mtls");
    let https_addr = free_local_addr();
    let http_addr = free_local_addr();
    let listeners = format!("https://{https_addr},http://{http_addr}");
    let p12 = pki.server_p12.display().to_string();
    let jks = pki.trust_jks.display().to_string();
    let extra = [
        ("listeners", listeners.as_str()),
        ("rest.advertised.listener", "https"),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", p12.as_str()),
        ("ssl.keystore.password", KEYSTORE_PASSWORD),
        ("ssl.truststore.location", jks.as_str()),
        ("ssl.truststore.password", KEYSTORE_PASSWORD),
        ("ssl.client.auth", "required"),
    ];
    let args = worker_args(dir.path(), &prefix, https_addr, &extra).unwrap();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let worker = FerryProcess::spawn(&refs, https_addr).unwrap();

    // http and https side by side: the plain listener answers too.
    let plain = reqwest::Client::new();
    let http_health = format!("http://{http_addr}/health");
    wait_until(TIMEOUT, "the http listener healthy", || {
        let plain = plain.clone();
        let url = http_health.clone();
        async move { (plain.get(&url).send().await.ok()?.status() == 200).then_some(()) }
    })
    .await
    .unwrap_or_else(|error| panic!("{error}: {}", worker.stderr()));
    let with_certificate = https_client(&pki, true);
    let response = with_certificate
        .get(format!("https://{https_addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, root) = get_json(&with_certificate, &format!("https://{https_addr}/")).await;
    assert!(root["version"].is_string(), "{root}");

    // No client certificate: the handshake is refused.
    let without_certificate = https_client(&pki, false);
    let refused = without_certificate
        .get(format!("https://{https_addr}/health"))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a client without a certificate is refused: {refused:?}"
    );

    let ca = pki.ca.display().to_string();
    let cert = pki.client_cert.display().to_string();
    let key = pki.client_key.display().to_string();
    let https_text = https_addr.to_string();
    let (ok, text) = grpcurl(&["-cacert", &ca, &https_text, "list"]);
    assert!(!ok, "grpcurl without a certificate: {text}");
    let (ok, text) = grpcurl(&[
        "-cacert",
        &ca,
        "-cert",
        &cert,
        "-key",
        &key,
        &https_text,
        "list",
    ]);
    assert!(ok && text.contains("ferry.v1.ConnectorService"), "{text}");
    let (code, stdout, stderr) = ferry_ctl(
        &[
            "--server",
            &https_text,
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "cluster",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&https_text) || stdout.contains("ready") || !stdout.is_empty(),
        "{stdout}"
    );
    let (code, _, stderr) = ferry_ctl(&["--server", &https_text, "--cacert", &ca, "cluster"], &[]);
    assert_eq!(
        code, 4,
        "ctl without a certificate cannot connect: {stderr}"
    );
    assert!(
        !worker.stderr().contains(KEYSTORE_PASSWORD),
        "the keystore password is not logged"
    );
}

#[tokio::test]
async fn bad_security_settings_stop_the_worker_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let p12 = pki.server_p12.display().to_string();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("config.providers", "vault"),
                (
                    "config.providers.vault.class",
                    "com.acme.VaultConfigProvider",
                ),
            ],
            "com.acme.VaultConfigProvider",
        ),
        (
            vec![("rest.extension.classes", "com.acme.OidcRestExtension")],
            "com.acme.OidcRestExtension",
        ),
        (
            vec![("rest.extension.classes", BASIC_AUTH_EXTENSION)],
            "KAFKA_OPTS",
        ),
        (
            vec![
                ("ssl.keystore.type", "PKCS12"),
                ("ssl.keystore.location", p12.as_str()),
                ("ssl.keystore.password", "not-the-password"),
            ],
            "ssl.keystore.location",
        ),
        (
            vec![
                ("ssl.keystore.location", p12.as_str()),
                ("ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"),
            ],
            "ssl.cipher.suites",
        ),
        (
            vec![("inter.worker.signature.algorithm", "HmacMD5")],
            "inter.worker.signature.algorithm",
        ),
    ];
    for (extra, expected) in cases {
        let addr = free_local_addr();
        let tls = extra.iter().any(|(key, _)| key.starts_with("ssl."));
        let listener = format!("{}://{addr}", if tls { "https" } else { "http" });
        let mut properties = vec![("listeners", listener.as_str())];
        properties.extend(extra.iter().copied());
        let args = worker_args(dir.path(), "ferry-bad-security", addr, &properties).unwrap();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut worker =
            FerryProcess::spawn_with_env(&refs, addr, &[("KAFKA_OPTS", "-Xmx1g")]).unwrap();
        let status = worker.wait_exit(Duration::from_secs(20)).await.unwrap();
        let stderr = worker.stderr();
        assert_eq!(status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{extra:?} should name {expected}: {stderr}"
        );
        assert!(
            !stderr.contains("not-the-password") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

/// Reads from `stream` until EOF or `deadline`; true when the server closed the connection.
fn closed_by_server(stream: &mut TcpStream, deadline: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    while started.elapsed() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

#[tokio::test]
async fn parity_details_and_abuse_limits_on_a_plain_worker() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("parity");
    let addr: SocketAddr = free_local_addr();
    let mut worker = FerryProcess::worker(
        dir.path(),
        &prefix,
        addr,
        &[("rest.connection.idle.timeout.ms", "1000")],
    )
    .unwrap();
    worker.wait_healthy(TIMEOUT).await.unwrap();
    let api = ferry_tests::Api::new(addr);
    let url = worker.url();
    // No pooled connections: the server closes idle ones after a second, and a client that reuses
    // one at that moment sees it closed.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    api.create_connector("gen", json!({"connector.class": "Datagen", "kafka.topic": unique_name("parity-gen"), "quickstart": "sequence", "tasks.max": "2", "max.interval": "500"})).await.unwrap();
    let status = api
        .wait_status("gen", TIMEOUT, |status| ferry_tests::all_running(status, 2))
        .await
        .unwrap();

    // `version` in connector and task status, as Kafka Connect 4.x shows it.
    let (_, plugins) = api.get("/connector-plugins").await.unwrap();
    let datagen_version = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|plugin| {
            plugin["class"]
                .as_str()
                .unwrap_or_default()
                .contains("Datagen")
        })
        .unwrap()["version"]
        .clone();
    assert!(datagen_version.is_string(), "{plugins}");
    assert_eq!(status["connector"]["version"], datagen_version, "{status}");
    for task in status["tasks"].as_array().unwrap() {
        assert_eq!(task["version"], datagen_version, "{status}");
    }

    // Trailing slashes answer like the path without them.
    for (with_slash, without) in [
        ("/connectors/", "/connectors"),
        ("/connectors/gen/status/", "/connectors/gen/status"),
        ("/connectors/gen/config/", "/connectors/gen/config"),
    ] {
        let (status_a, body_a) = api.get(with_slash).await.unwrap();
        let (status_b, body_b) = api.get(without).await.unwrap();
        assert_eq!(status_a, 200, "{with_slash}: {body_a}");
        assert_eq!(status_a, status_b, "{with_slash}");
        if without != "/connectors/gen/status" {
            assert_eq!(body_a, body_b, "{with_slash}");
        }
    }

    // Booleans as Java's Boolean.parseBoolean reads them (what Python clients send).
    let response = client
        .post(format!(
            "{url}/connectors/gen/restart?includeTasks=True&onlyFailed=False"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        202,
        "includeTasks=True restarts tasks too"
    );
    let plan: JsonValue = response.json().await.unwrap();
    assert_eq!(plan["tasks"].as_array().map(Vec::len), Some(2), "{plan}");
    let response = client
        .post(format!("{url}/connectors/gen/restart?includeTasks=yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        204,
        "anything but true is false, as in Java"
    );
    let response = client
        .get(format!("{url}/connector-plugins?connectorsOnly=FALSE"))
        .send()
        .await
        .unwrap();
    let all: JsonValue = response.json().await.unwrap();
    assert!(
        all.as_array().unwrap().len() > plugins.as_array().unwrap().len(),
        "{all}"
    );

    // Bodies over the limit: 413; malformed JSON: 400 (both with the error body).
    let huge = format!(
        "{{\"name\":\"big\",\"config\":{{\"x\":\"{}\"}}}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let response = client
        .post(format!("{url}/connectors"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: JsonValue = response.json().await.unwrap();
    assert_eq!(body["error_code"], 413, "{body}");
    let response = client
        .post(format!("{url}/connectors"))
        .header("content-type", "application/json")
        .body("{\"name\": \"x\", \"config\": {")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: JsonValue = response.json().await.unwrap();
    assert_eq!(body["error_code"], 400, "{body}");

    // Expected 4xx answers are not errors in the log.
    for path in [
        "/connectors/missing",
        "/nowhere",
        "/connectors/gen/tasks/9/status",
    ] {
        let _ = client.get(format!("{url}{path}")).send().await.unwrap();
    }
    // Idle connections and clients that send headers too slowly are closed.
    let mut idle = TcpStream::connect(addr).unwrap();
    assert!(
        closed_by_server(&mut idle, Duration::from_secs(10)),
        "an idle connection is closed"
    );
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /connectors HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(
        closed_by_server(&mut slow, Duration::from_secs(10)),
        "a request whose headers never end is closed"
    );
    let mut kept = TcpStream::connect(addr).unwrap();
    kept.write_all(b"GET /connectors HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(
        closed_by_server(&mut kept, Duration::from_secs(10)),
        "a keep-alive connection left idle is closed"
    );

    let logs = worker.stderr();
    let error_lines: Vec<&str> = logs.lines().filter(|line| line.contains("ERROR")).collect();
    assert!(error_lines.is_empty(), "{error_lines:?}");
}
