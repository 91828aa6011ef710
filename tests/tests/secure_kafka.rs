//! Ferry against a secured Kafka (`scripts/kafka.sh --secure`): the whole worker on the
//! SASL_SSL/SCRAM-SHA-512 listener with a JKS truststore, on the mTLS listener with a PKCS12
//! keystore, on the OAUTHBEARER listeners (an unsecured JWT; OIDC client credentials from a
//! token endpoint, the broker validating the signed JWTs), and what a worker says and does
//! when a credential or certificate is wrong.

use std::path::Path;
use std::time::Duration;

use ferry_tests::oidc::TokenEndpoint;
use ferry_tests::secure::{
    kafka_config_command, mtls_bootstrap, oauth_unsecured_bootstrap, oidc_jaas_config,
    oidc_jaas_config_with_truststore, oidc_worker_properties, sasl_ssl_worker_properties,
    secure_broker, PASSWORD,
};
use ferry_tests::{all_running, start_cluster, unique_name, wait_until, Api, FerryProcess};
use serde_json::json;

const LINES: usize = 200;
const ALT_PASSWORD: &str = "ferry-alt-secret";

fn refs(properties: &[(String, String)]) -> Vec<(&str, &str)> {
    properties
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect()
}

fn write_input(path: &Path) -> String {
    let text: String = (0..LINES)
        .map(|index| format!("secured line {index:04}\n"))
        .collect();
    std::fs::write(path, &text).unwrap();
    text
}

async fn wait_for_output(output: &Path, expected: &str) {
    wait_until(
        Duration::from_secs(60),
        "every line in the sink's file",
        || async {
            let text = std::fs::read_to_string(output).unwrap_or_default();
            (text == expected).then_some(())
        },
    )
    .await
    .unwrap();
}

/// Creates FileStreamSource → topic → FileStreamSink; the source's producer logs in as another
/// SCRAM user through a connector override.
async fn create_pipeline(api: &Api, prefix: &str, input: &Path, output: &Path) -> (String, String) {
    let jaas = format!("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"ferry-alt\" password=\"{ALT_PASSWORD}\";");
    create_pipeline_with(
        api,
        prefix,
        input,
        output,
        json!({ "producer.override.sasl.jaas.config": jaas }),
    )
    .await
}

/// Creates FileStreamSource (with `source_extra` in its config) → topic → FileStreamSink.
async fn create_pipeline_with(
    api: &Api,
    prefix: &str,
    input: &Path,
    output: &Path,
    source_extra: serde_json::Value,
) -> (String, String) {
    let topic = format!("{prefix}-lines");
    let source = format!("{prefix}-source");
    let sink = format!("{prefix}-sink");
    let mut source_config =
        json!({"connector.class": "FileStreamSource", "file": input, "topic": topic});
    let extra = source_extra.as_object().expect("an object").clone();
    source_config.as_object_mut().unwrap().extend(extra);
    api.create_connector(&source, source_config).await.unwrap();
    api.create_connector(
        &sink,
        json!({"connector.class": "FileStreamSink", "file": output, "topics": topic}),
    )
    .await
    .unwrap();
    (source, sink)
}

fn assert_no_secret(what: &str, text: &str) {
    assert_hidden(what, text, &[]);
}

fn assert_hidden(what: &str, text: &str, more_secrets: &[&str]) {
    for secret in [PASSWORD, ALT_PASSWORD].iter().chain(more_secrets) {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

#[tokio::test]
async fn a_two_worker_cluster_runs_on_sasl_ssl_with_a_jks_truststore() {
    let certs = secure_broker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-sasl");
    let properties = sasl_ssl_worker_properties(certs);
    let (addrs, workers) = start_cluster(dir.path(), &prefix, 2, &refs(&properties))
        .await
        .unwrap();
    // Any node answers; the config is written by the leader over SASL_SSL with its fencing
    // producer.
    let api = Api::new(addrs[1]);
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);
    let (source, sink) = create_pipeline(&api, &prefix, &input, &output).await;
    for name in [&source, &sink] {
        api.wait_status(name, Duration::from_secs(60), |status| {
            all_running(status, 1)
        })
        .await
        .unwrap();
    }
    wait_for_output(&output, &expected).await;

    // The REST offsets endpoints read the offset store and the sink's group over SASL_SSL.
    let expected_position = expected.len() as u64;
    let source_offsets = wait_until(Duration::from_secs(30), "the source's offset", || {
        let api = api.clone();
        let source = source.clone();
        async move {
            let (_, body) = api
                .get(&format!("/connectors/{source}/offsets"))
                .await
                .ok()?;
            let position = body["offsets"][0]["offset"]["position"].as_u64()?;
            (position == expected_position).then_some(body)
        }
    })
    .await
    .unwrap();
    assert_eq!(source_offsets["offsets"].as_array().unwrap().len(), 1);
    wait_until(
        Duration::from_secs(30),
        "the sink's committed offsets",
        || {
            let api = api.clone();
            let sink = sink.clone();
            async move {
                let (_, body) = api.get(&format!("/connectors/{sink}/offsets")).await.ok()?;
                let committed: u64 = body["offsets"]
                    .as_array()?
                    .iter()
                    .filter_map(|entry| entry["offset"]["kafka_offset"].as_u64())
                    .sum();
                (committed == LINES as u64).then_some(())
            }
        },
    )
    .await
    .unwrap();

    let logs: String = workers
        .iter()
        .map(|worker| worker.stdout() + &worker.stderr())
        .collect();
    assert!(
        logs.contains("this node leads the cluster"),
        "a leader confirmed itself in Kafka (its fencing producer initialised transactions)"
    );
    for addr in &addrs {
        let node = Api::new(*addr);
        for path in ["/", "/metrics", "/health", "/cluster"] {
            let text = reqwest::get(format!("http://{addr}{path}"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_no_secret(path, &text);
        }
        let (_, status) = node
            .get(&format!("/connectors/{source}/status"))
            .await
            .unwrap();
        assert_no_secret("status", &status.to_string());
    }
    assert_no_secret("the workers' logs", &logs);
}

#[tokio::test]
async fn a_worker_runs_on_the_mtls_listener_with_a_pkcs12_keystore() {
    let certs = secure_broker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-mtls");
    let truststore = certs.join("truststore.p12").display().to_string();
    let keystore = certs.join("client.p12").display().to_string();
    let mtls_bootstrap = mtls_bootstrap();
    let properties = [
        ("bootstrap.servers", mtls_bootstrap.as_str()),
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PKCS12"),
        ("ssl.truststore.location", truststore.as_str()),
        ("ssl.truststore.password", PASSWORD),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", keystore.as_str()),
        ("ssl.keystore.password", PASSWORD),
        ("ssl.key.password", PASSWORD),
    ];
    let (_worker, api) = ferry_tests::start_worker(dir.path(), &prefix, &properties).await;
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);
    let topic = format!("{prefix}-lines");
    api.create_connector(
        &format!("{prefix}-source"),
        json!({"connector.class": "FileStreamSource", "file": input, "topic": topic}),
    )
    .await
    .unwrap();
    api.create_connector(
        &format!("{prefix}-sink"),
        json!({"connector.class": "FileStreamSink", "file": output, "topics": topic}),
    )
    .await
    .unwrap();
    wait_for_output(&output, &expected).await;
}

async fn health(addr: std::net::SocketAddr) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://{addr}/health")).await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// Waits until `/health` is unhealthy with a message containing `cause`, and the log says it too.
async fn wait_for_cause(worker: &FerryProcess, cause: &str) {
    let addr = worker.addr;
    let message = wait_until(
        Duration::from_secs(60),
        &format!("/health naming `{cause}`"),
        || async move {
            let (status, body) = health(addr).await?;
            (status != 200 && body.contains(cause)).then_some(body)
        },
    )
    .await
    .unwrap();
    assert_no_secret("/health", &message);
    wait_until(
        Duration::from_secs(10),
        "the log naming the cause",
        || async {
            (worker.stdout() + &worker.stderr())
                .contains(cause)
                .then_some(())
        },
    )
    .await
    .unwrap();
}

fn assert_alive_without_panic(worker: &mut FerryProcess) {
    let logs = worker.stdout() + &worker.stderr();
    assert!(!logs.contains("panicked"), "{logs}");
    assert_no_secret("the log", &logs);
}

#[tokio::test]
async fn an_untrusted_certificate_is_reported_and_a_fixed_truststore_is_picked_up() {
    let certs = secure_broker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-ca");
    let truststore = dir.path().join("truststore.jks");
    std::fs::copy(certs.join("untrusted-truststore.jks"), &truststore).unwrap();
    let mut properties = sasl_ssl_worker_properties(certs);
    for (key, value) in &mut properties {
        if key == "ssl.truststore.location" {
            *value = truststore.display().to_string();
        }
    }
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &refs(&properties)).unwrap();
    wait_for_cause(&worker, "certificate verify failed").await;
    assert_alive_without_panic(&mut worker);
    // Fixing the store on disk is enough: each attempt reads it again.
    std::fs::copy(certs.join("truststore.jks"), &truststore).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
}

#[tokio::test]
async fn a_wrong_scram_password_is_reported_and_the_worker_recovers_once_it_is_fixed() {
    let certs = secure_broker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-pw");
    // A user whose credential the broker does not have yet: the worker's password is wrong
    // until the operator sets it on the broker.
    let user = prefix.clone();
    let user_password = "late-user-secret";
    let mut properties = sasl_ssl_worker_properties(certs);
    for (key, value) in &mut properties {
        if key == "sasl.jaas.config" {
            *value = format!("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{user_password}\";");
        }
    }
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &refs(&properties)).unwrap();
    wait_for_cause(&worker, "Authentication failed").await;
    assert_alive_without_panic(&mut worker);
    assert!(!(worker.stdout() + &worker.stderr()).contains(user_password));
    kafka_config_command(&[
        "--alter",
        "--add-config",
        &format!("SCRAM-SHA-512=[password={user_password}]"),
        "--entity-type",
        "users",
        "--entity-name",
        &user,
    ]);
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
}

#[tokio::test]
async fn a_mechanism_the_listener_does_not_offer_is_reported_without_a_panic() {
    let certs = secure_broker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-mech");
    let mut properties = sasl_ssl_worker_properties(certs);
    for (key, value) in &mut properties {
        if key == "sasl.mechanism" {
            *value = "SCRAM-SHA-256".into();
        }
    }
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &refs(&properties)).unwrap();
    wait_for_cause(&worker, "SCRAM-SHA-256").await;
    let (status, body) = health(addr).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("SCRAM-SHA-512"),
        "the broker's mechanisms are named: {body}"
    );
    assert_alive_without_panic(&mut worker);
}

#[tokio::test]
async fn kerberos_is_a_startup_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-krb");
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(
        dir.path(),
        &prefix,
        addr,
        &[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "GSSAPI"),
        ],
    )
    .unwrap();
    let status = worker.wait_exit(Duration::from_secs(30)).await.unwrap();
    assert!(!status.success());
    let logs = worker.stdout() + &worker.stderr();
    assert!(
        logs.contains("sasl.mechanism") && logs.contains("GSSAPI"),
        "{logs}"
    );
}

#[allow(unreachable_pub, dead_code, clippy::all, clippy::pedantic)]
mod proto {
    tonic::include_proto!("ferry.v1");
}

/// `PUT /connector-plugins/{p}/config/validate` and gRPC `ValidateConfig` under the
/// `Principal` policy: the refused override is an error on its own entry, in Kafka Connect's
/// shape; an allowed one is listed without errors; a secret value is hidden.
async fn check_validate_reports_the_refused_override(api: &Api, prefix: &str, grpc_url: String) {
    let config = json!({
        "name": format!("{prefix}-validated"),
        "connector.class": "Datagen", "kafka.topic": format!("{prefix}-t"), "quickstart": "sequence",
        "producer.override.compression.type": "zstd",
        "producer.override.sasl.jaas.config": format!("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"{ALT_PASSWORD}\";"),
    });
    let (status, answer) = api
        .call(
            reqwest::Method::PUT,
            "/connector-plugins/Datagen/config/validate",
            Some(&config),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["error_count"], 1, "{answer}");
    let entry = |name: &str| {
        answer["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|info| info["value"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed: {answer}"))
            .clone()
    };
    let refused = entry("producer.override.compression.type");
    assert_eq!(
        refused["definition"]["name"],
        "producer.override.compression.type"
    );
    assert_eq!(refused["value"]["value"], "zstd");
    let errors = refused["value"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{refused}");
    let error = errors[0].as_str().unwrap();
    assert!(
        error.contains("'Principal' policy") && error.contains("compression.type"),
        "{error}"
    );
    let allowed = entry("producer.override.sasl.jaas.config");
    assert_eq!(allowed["value"]["errors"], json!([]), "{allowed}");
    assert_eq!(allowed["value"]["value"], "[hidden]", "{allowed}");
    assert_no_secret("the validate answer", &answer.to_string());
    let (_, stored) = api.get("/connectors").await.unwrap();
    assert_eq!(stored, json!([]), "validate stores nothing");

    let channel = tonic::transport::Endpoint::from_shared(grpc_url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = proto::plugin_service_client::PluginServiceClient::new(channel);
    let grpc_config = config
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| (key.clone(), value.as_str().unwrap().to_string()))
        .collect();
    let answer = client
        .validate_config(proto::ValidateConfigRequest {
            plugin: "Datagen".into(),
            config: grpc_config,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.error_count, 1, "{answer:?}");
    let refused = answer
        .configs
        .iter()
        .filter_map(|info| info.value.as_ref())
        .find(|value| value.name == "producer.override.compression.type")
        .expect("the refused override is listed");
    assert!(
        refused.errors[0].contains("'Principal' policy"),
        "{refused:?}"
    );
    assert!(!format!("{answer:?}").contains(ALT_PASSWORD));
}

#[tokio::test]
async fn a_refused_override_is_a_400_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-policy");
    let (worker, api) = ferry_tests::start_worker(
        dir.path(),
        &prefix,
        &[("connector.client.config.override.policy", "Principal")],
    )
    .await;
    let name = format!("{prefix}-gen");
    let body = json!({"name": name, "config": {
        "connector.class": "Datagen", "kafka.topic": format!("{prefix}-t"), "quickstart": "sequence",
        "producer.override.compression.type": "zstd",
    }});
    let (status, response) = api
        .call(reqwest::Method::POST, "/connectors", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error_code"], 400);
    let message = response["message"].as_str().unwrap();
    assert!(
        message.contains("producer.override.compression.type"),
        "{message}"
    );
    assert!(message.contains("Principal"), "{message}");
    let (status, _) = api.get(&format!("/connectors/{name}")).await.unwrap();
    assert_eq!(status, 404, "nothing stored");
    let (status, response) = api
        .call(
            reqwest::Method::PUT,
            &format!("/connectors/{name}/config"),
            Some(&body["config"]),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{response}");
    let (status, _) = api.get(&format!("/connectors/{name}")).await.unwrap();
    assert_eq!(status, 404, "nothing stored");
    check_validate_reports_the_refused_override(&api, &prefix, worker.url()).await;
    // The principal keys are allowed.
    let allowed = json!({
        "connector.class": "Datagen", "kafka.topic": format!("{prefix}-t"), "quickstart": "sequence",
        "producer.override.security.protocol": "PLAINTEXT",
    });
    api.create_connector(&name, allowed).await.unwrap();
}

const OAUTH_LOGIN_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

#[tokio::test]
async fn a_worker_runs_on_the_oauthbearer_listener_with_an_unsecured_jwt() {
    secure_broker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-ojwt");
    let bootstrap = oauth_unsecured_bootstrap();
    let jaas = format!("{OAUTH_LOGIN_MODULE} required unsecuredLoginStringClaim_sub=\"ferry\";");
    let properties = [
        ("bootstrap.servers", bootstrap.as_str()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", jaas.as_str()),
    ];
    let (_worker, api) = ferry_tests::start_worker(dir.path(), &prefix, &properties).await;
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);
    create_pipeline_with(&api, &prefix, &input, &output, json!({})).await;
    wait_for_output(&output, &expected).await;
}

const WORKER_CLIENT_SECRET: &str = "oidc-worker-secret-7f3a";
const SOURCE_CLIENT_SECRET: &str = "oidc-source-secret-91c2";

/// Everything a worker shows: `/`, `/metrics`, `/health`, `/cluster`, a connector's status and
/// its logs.
async fn assert_nothing_shows(worker: &FerryProcess, api: &Api, connector: &str, secrets: &[&str]) {
    let addr = worker.addr;
    for path in ["/", "/metrics", "/health", "/cluster"] {
        let text = reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_hidden(path, &text, secrets);
    }
    let (_, status) = api
        .get(&format!("/connectors/{connector}/status"))
        .await
        .unwrap();
    assert_hidden("status", &status.to_string(), secrets);
    assert_hidden("the log", &(worker.stdout() + &worker.stderr()), secrets);
}

#[tokio::test]
async fn a_worker_logs_in_with_oidc_client_credentials_and_the_secrets_never_show() {
    let certs = secure_broker();
    let endpoint = TokenEndpoint::start(certs);
    endpoint.register("ferry-worker", WORKER_CLIENT_SECRET);
    endpoint.register("ferry-source", SOURCE_CLIENT_SECRET);
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-oidc");
    let properties =
        oidc_worker_properties(certs, &endpoint.url(), "ferry-worker", WORKER_CLIENT_SECRET);
    let (worker, api) = ferry_tests::start_worker(dir.path(), &prefix, &refs(&properties)).await;
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);
    // The source's producer logs in as another OAuth client through a connector override.
    let (source, _sink) = create_pipeline_with(
        &api,
        &prefix,
        &input,
        &output,
        json!({
            "producer.override.sasl.jaas.config": oidc_jaas_config("ferry-source", SOURCE_CLIENT_SECRET),
        }),
    )
    .await;
    wait_for_output(&output, &expected).await;
    let issued_to = endpoint.issued_to();
    for client in ["ferry-worker", "ferry-source"] {
        assert!(
            issued_to.iter().any(|issued| issued == client),
            "a token was issued to {client}: {issued_to:?}"
        );
    }
    assert_eq!(endpoint.refused_total(), 0);
    assert_nothing_shows(
        &worker,
        &api,
        &source,
        &[WORKER_CLIENT_SECRET, SOURCE_CLIENT_SECRET],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_oidc_client_secret_is_reported_and_the_worker_recovers_once_it_is_registered() {
    let certs = secure_broker();
    let endpoint = TokenEndpoint::start(certs);
    let client_secret = "oidc-late-secret-5d0e";
    // The identity provider knows another secret for this client until the operator registers
    // the worker's.
    endpoint.register("ferry-late", "oidc-previous-secret");
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-oidc-pw");
    let properties = oidc_worker_properties(certs, &endpoint.url(), "ferry-late", client_secret);
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &refs(&properties)).unwrap();
    wait_for_cause(&worker, "OAUTHBEARER token").await;
    let (_, body) = health(addr).await.unwrap();
    assert!(
        body.contains("invalid_client"),
        "the token endpoint's answer is shown: {body}"
    );
    assert!(endpoint.refused_total() > 0);
    assert_alive_without_panic(&mut worker);
    assert_hidden(
        "the log",
        &(worker.stdout() + &worker.stderr()),
        &[client_secret],
    );
    endpoint.register("ferry-late", client_secret);
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    assert!(endpoint
        .issued_to()
        .iter()
        .any(|client| client == "ferry-late"));
    assert_hidden(
        "the log",
        &(worker.stdout() + &worker.stderr()),
        &[client_secret],
    );
}

/// The OIDC worker properties with an HTTPS token endpoint trusted through the JAAS options
/// (`truststore`), plus the login timing keys of Confluent's and Apache's OIDC examples.
fn https_oidc_worker_properties(
    certs: &Path,
    endpoint: &TokenEndpoint,
    client_id: &str,
    client_secret: &str,
    truststore: &Path,
) -> Vec<(String, String)> {
    let mut properties = oidc_worker_properties(certs, &endpoint.url(), client_id, client_secret);
    for (key, value) in &mut properties {
        if key == "sasl.jaas.config" {
            *value = oidc_jaas_config_with_truststore(client_id, client_secret, truststore);
        }
    }
    for (key, value) in [
        ("sasl.login.connect.timeout.ms", "15000"),
        ("sasl.login.read.timeout.ms", "15000"),
        ("sasl.login.retry.backoff.ms", "100"),
        ("sasl.login.retry.backoff.max.ms", "10000"),
        ("sasl.login.refresh.window.factor", "0.8"),
        ("sasl.login.refresh.window.jitter", "0.05"),
        ("sasl.login.refresh.min.period.seconds", "60"),
        ("sasl.login.refresh.buffer.seconds", "300"),
    ] {
        properties.push((key.into(), value.into()));
    }
    properties
}

const HTTPS_WORKER_CLIENT_SECRET: &str = "oidc-https-worker-secret-2b8e";

#[tokio::test]
async fn a_worker_logs_in_with_oidc_from_an_https_token_endpoint_trusted_through_the_jaas_options()
{
    let certs = secure_broker();
    let endpoint = TokenEndpoint::start_https(certs);
    assert!(endpoint.url().starts_with("https://"), "{}", endpoint.url());
    endpoint.register("ferry-https", HTTPS_WORKER_CLIENT_SECRET);
    endpoint.register("ferry-https-source", SOURCE_CLIENT_SECRET);
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-oidcs");
    let truststore = certs.join("truststore.jks");
    let properties = https_oidc_worker_properties(
        certs,
        &endpoint,
        "ferry-https",
        HTTPS_WORKER_CLIENT_SECRET,
        &truststore,
    );
    let (worker, api) = ferry_tests::start_worker(dir.path(), &prefix, &refs(&properties)).await;
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);
    // The source's producer logs in as another client, its JAAS override bringing the token
    // endpoint's truststore too (a PKCS12 one).
    let (source, _sink) = create_pipeline_with(
        &api,
        &prefix,
        &input,
        &output,
        json!({
            "producer.override.sasl.jaas.config": oidc_jaas_config_with_truststore(
                "ferry-https-source",
                SOURCE_CLIENT_SECRET,
                &certs.join("truststore.p12"),
            ),
        }),
    )
    .await;
    wait_for_output(&output, &expected).await;
    let issued_to = endpoint.issued_to();
    for client in ["ferry-https", "ferry-https-source"] {
        assert!(
            issued_to.iter().any(|issued| issued == client),
            "a token was issued to {client} over HTTPS: {issued_to:?}"
        );
    }
    assert_eq!(endpoint.refused_total(), 0);
    assert!(endpoint.tls_connections_total() > 0);
    let logs = worker.stdout() + &worker.stderr();
    for key in [
        "sasl.login.connect.timeout.ms",
        "sasl.login.refresh.window.factor",
        "sasl.login.refresh.buffer.seconds",
    ] {
        let line = logs
            .lines()
            .find(|line| line.contains(key) && line.contains("librdkafka"))
            .unwrap_or_else(|| panic!("an INFO line naming {key}:\n{logs}"));
        assert!(line.contains("INFO"), "{line}");
    }
    assert_nothing_shows(
        &worker,
        &api,
        &source,
        &[HTTPS_WORKER_CLIENT_SECRET, SOURCE_CLIENT_SECRET],
    )
    .await;
}

#[tokio::test]
async fn an_untrusted_token_endpoint_certificate_is_reported_and_a_fixed_truststore_is_picked_up() {
    let certs = secure_broker();
    let endpoint = TokenEndpoint::start_https(certs);
    let client_secret = "oidc-https-untrusted-secret-4c1a";
    endpoint.register("ferry-https-ca", client_secret);
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("sec-oidcs-ca");
    // The JAAS truststore holds another CA than the one that signed the endpoint's certificate;
    // the broker's own truststore (bare ssl.truststore.*) is right.
    let truststore = dir.path().join("idp-truststore.jks");
    std::fs::copy(certs.join("untrusted-truststore.jks"), &truststore).unwrap();
    let properties = https_oidc_worker_properties(
        certs,
        &endpoint,
        "ferry-https-ca",
        client_secret,
        &truststore,
    );
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &refs(&properties)).unwrap();
    wait_for_cause(&worker, &endpoint.url()).await;
    let (_, body) = health(addr).await.unwrap();
    assert!(
        body.contains("SSL certificate"),
        "the cause names the TLS failure: {body}"
    );
    // The worker reached the endpoint and refused its certificate: no request was made.
    assert!(endpoint.tls_connections_total() > 0);
    assert_eq!(endpoint.refused_total(), 0);
    assert!(endpoint.issued_to().is_empty());
    assert_alive_without_panic(&mut worker);
    assert_hidden(
        "the log",
        &(worker.stdout() + &worker.stderr()),
        &[client_secret],
    );
    // Fixing the store on disk is enough: each attempt reads it again.
    std::fs::copy(certs.join("truststore.jks"), &truststore).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    assert!(endpoint
        .issued_to()
        .iter()
        .any(|client| client == "ferry-https-ca"));
}
