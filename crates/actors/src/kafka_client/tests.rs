//! One test per effective-config rule.

use std::collections::BTreeMap;

use super::*;

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

fn clients(worker: &[(&str, &str)]) -> KafkaClients {
    KafkaClients::from_worker_properties("broker:9092", &props(worker)).expect("valid worker")
}

fn get(config: &ClientConfig, key: &str) -> Option<String> {
    config.get(key).map(str::to_string)
}

const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"connect\" password=\"connect-secret\";";

#[test]
fn every_client_gets_bootstrap_servers_and_the_bare_security_keys() {
    let clients = clients(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", SCRAM_JAAS),
        ("group.id", "connect-cluster"),
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
    ]);
    let connector = props(&[]);
    for role in ClientRole::ALL {
        for connector_opt in [None, Some(&connector)] {
            let config = clients
                .client_config_for(role, &[], connector_opt)
                .expect("valid");
            assert_eq!(
                get(&config, "bootstrap.servers").as_deref(),
                Some("broker:9092")
            );
            assert_eq!(
                get(&config, "security.protocol").as_deref(),
                Some("SASL_PLAINTEXT")
            );
            assert_eq!(get(&config, "sasl.username").as_deref(), Some("connect"));
            assert_eq!(
                get(&config, "sasl.password").as_deref(),
                Some("connect-secret")
            );
            assert_eq!(
                get(&config, "sasl.jaas.config"),
                None,
                "translated, not passed"
            );
            assert_eq!(
                get(&config, "group.id"),
                None,
                "worker keys are not client keys"
            );
            assert_eq!(get(&config, "key.converter"), None);
        }
    }
}

#[test]
fn role_prefixed_worker_keys_reach_only_that_roles_connector_clients() {
    let clients = clients(&[
        ("producer.compression.type", "zstd"),
        ("consumer.fetch.min.bytes", "1024"),
        ("admin.request.timeout.ms", "5000"),
    ]);
    let connector = props(&[]);
    let producer = clients
        .client_config_for(ClientRole::Producer, &[], Some(&connector))
        .expect("valid");
    assert_eq!(get(&producer, "compression.type").as_deref(), Some("zstd"));
    assert_eq!(get(&producer, "fetch.min.bytes"), None);
    let consumer = clients
        .client_config_for(ClientRole::Consumer, &[], Some(&connector))
        .expect("valid");
    assert_eq!(get(&consumer, "fetch.min.bytes").as_deref(), Some("1024"));
    assert_eq!(get(&consumer, "compression.type"), None);
    let admin = clients
        .client_config_for(ClientRole::Admin, &[], Some(&connector))
        .expect("valid");
    assert_eq!(get(&admin, "request.timeout.ms").as_deref(), Some("5000"));
    // The worker's own clients (stores, leader) take the bare keys only, as in Kafka Connect.
    let store_producer = clients
        .client_config_for(ClientRole::Producer, &[], None)
        .expect("valid");
    assert_eq!(get(&store_producer, "compression.type"), None);
}

#[test]
fn user_keys_win_over_ferry_defaults_and_overrides_win_over_worker_keys() {
    let clients = clients(&[("producer.linger.ms", "50"), ("producer.acks", "1")]);
    let connector = props(&[("producer.override.acks", "all")]);
    let config = clients
        .client_config_for(
            ClientRole::Producer,
            &[
                ("linger.ms", "5"),
                ("acks", "-1"),
                ("client.id", "connector-producer-a-0"),
            ],
            Some(&connector),
        )
        .expect("valid");
    assert_eq!(get(&config, "linger.ms").as_deref(), Some("50"));
    assert_eq!(get(&config, "acks").as_deref(), Some("all"));
    assert_eq!(
        get(&config, "client.id").as_deref(),
        Some("connector-producer-a-0")
    );
}

#[test]
fn producers_partition_like_java_unless_the_user_says_otherwise() {
    let default = clients(&[])
        .client_config_for(ClientRole::Producer, &[], None)
        .expect("valid");
    assert_eq!(
        get(&default, "partitioner").as_deref(),
        Some("murmur2_random")
    );
    let consumer = clients(&[])
        .client_config_for(ClientRole::Consumer, &[], None)
        .expect("valid");
    assert_eq!(get(&consumer, "partitioner"), None);
    let chosen = clients(&[("producer.partitioner", "consistent_random")])
        .client_config_for(ClientRole::Producer, &[], Some(&props(&[])))
        .expect("valid");
    assert_eq!(
        get(&chosen, "partitioner").as_deref(),
        Some("consistent_random")
    );
}

#[test]
fn the_default_policy_is_all_as_in_kafka_connect() {
    let clients = clients(&[]);
    assert_eq!(clients.policy(), OverridePolicy::All);
    let connector = props(&[("consumer.override.max.poll.interval.ms", "600000")]);
    clients
        .validate_connector_overrides(&connector)
        .expect("All allows any override");
}

#[test]
fn policy_none_refuses_every_override_naming_the_key() {
    let clients = clients(&[(OVERRIDE_POLICY_KEY, "None")]);
    let connector = props(&[("producer.override.acks", "1")]);
    let error = clients
        .validate_connector_overrides(&connector)
        .expect_err("None refuses");
    assert_eq!(
        error,
        ClientConfigError::OverrideRefused {
            key: "producer.override.acks".into(),
            policy: "None"
        }
    );
    assert!(error.to_string().contains("producer.override.acks"));
    clients
        .validate_connector_overrides(&props(&[("topics", "a")]))
        .expect("no override, nothing to refuse");
}

#[test]
fn policy_principal_allows_only_the_principal_keys() {
    let clients = clients(&[(
        OVERRIDE_POLICY_KEY,
        "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy",
    )]);
    let principal = props(&[
        ("consumer.override.security.protocol", "SASL_SSL"),
        ("consumer.override.sasl.mechanism", "PLAIN"),
        (
            "consumer.override.sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\" password=\"b\";",
        ),
    ]);
    clients
        .validate_connector_overrides(&principal)
        .expect("principal keys are allowed");
    let config = clients
        .client_config_for(ClientRole::Consumer, &[], Some(&principal))
        .expect("valid");
    assert_eq!(get(&config, "sasl.username").as_deref(), Some("a"));
    let error = clients
        .validate_connector_overrides(&props(&[("consumer.override.fetch.min.bytes", "1")]))
        .expect_err("not a principal key");
    assert_eq!(error.key(), "consumer.override.fetch.min.bytes");
}

#[test]
fn an_unknown_policy_is_refused() {
    let error = KafkaClients::from_worker_properties(
        "b:9092",
        &props(&[(OVERRIDE_POLICY_KEY, "com.example.MyPolicy")]),
    )
    .expect_err("custom policies are not supported");
    assert_eq!(error.key(), OVERRIDE_POLICY_KEY);
}

#[test]
fn a_key_librdkafka_does_not_know_is_an_error_naming_the_users_key() {
    let clients = clients(&[("consumer.max.poll.records", "500")]);
    let error = clients
        .client_config_for(ClientRole::Consumer, &[], Some(&props(&[])))
        .expect_err("librdkafka has no max.poll.records");
    assert_eq!(error.key(), "consumer.max.poll.records");
    let error = clients
        .validate_worker_settings()
        .expect_err("start-up checks every role");
    assert_eq!(error.key(), "consumer.max.poll.records");
}

#[test]
fn a_rejected_secret_value_is_not_shown() {
    let clients = clients(&[
        ("security.protocol", "SSL"),
        ("ssl.key.pem", "not-a-key-secret"),
    ]);
    let result = clients.client_config_for(ClientRole::Admin, &[], None);
    if let Err(error) = result {
        assert!(!error.to_string().contains("not-a-key-secret"), "{error}");
    }
}

#[test]
fn kerberos_is_refused_with_the_reason() {
    for worker in [
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "GSSAPI"),
        ],
        vec![("security.protocol", "SASL_SSL")],
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
            ),
        ],
    ] {
        let error = clients(&worker)
            .validate_worker_settings()
            .expect_err("GSSAPI is not built");
        let text = error.to_string();
        assert!(text.contains("GSSAPI"), "{text}");
        assert!(
            ["sasl.mechanism", "sasl.jaas.config"].contains(&error.key()),
            "{text}"
        );
    }
}

const OIDC_HANDLER: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler";
const OAUTH_MODULE: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

#[test]
fn an_unsecured_jwt_is_translated() {
    let jaas = format!(
        "{OAUTH_MODULE} required unsecuredLoginStringClaim_sub=\"svc\" unsecuredLoginExtension_traceId=\"abc\";"
    );
    let config = clients(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", &jaas),
    ])
    .client_config_for(ClientRole::Admin, &[], None)
    .expect("valid");
    assert_eq!(
        get(&config, "sasl.oauthbearer.config").as_deref(),
        Some("principal=svc extension_traceId=abc")
    );
    assert_eq!(
        get(&config, "enable.sasl.oauthbearer.unsecure.jwt").as_deref(),
        Some("true")
    );
    assert_eq!(get(&config, "sasl.oauthbearer.method"), None);
    let renamed = format!(
        "{OAUTH_MODULE} required unsecuredLoginPrincipalClaimName=\"client\" unsecuredLoginStringClaim_client=\"svc\" unsecuredLoginListClaim_scope=\"a\" unsecuredLoginLifetimeSeconds=\"60\";"
    );
    let config = clients(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", &renamed),
    ])
    .client_config_for(ClientRole::Admin, &[], None)
    .expect("valid");
    assert_eq!(
        get(&config, "sasl.oauthbearer.config").as_deref(),
        Some("principal=svc principalClaimName=client lifeSeconds=60 scope=a")
    );
    let other_claim = format!(
        "{OAUTH_MODULE} required unsecuredLoginStringClaim_sub=\"svc\" unsecuredLoginNumberClaim_level=\"3\";"
    );
    let error = clients(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", &other_claim),
    ])
    .validate_worker_settings()
    .expect_err("a claim librdkafka cannot make");
    assert_eq!(error.key(), "sasl.jaas.config");
    assert!(
        error
            .to_string()
            .contains("unsecuredLoginNumberClaim_level"),
        "{error}"
    );
}

#[test]
fn the_java_oidc_flow_becomes_librdkafkas() {
    let jaas = format!(
        "{OAUTH_MODULE} required clientId=\"ferry\" clientSecret=\"oidc-secret\" scope=\"kafka\" extension_logicalCluster=\"lkc-1\";"
    );
    let config = clients(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", OIDC_HANDLER),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
        ("sasl.oauthbearer.sub.claim.name", "sub"),
        ("sasl.jaas.config", &jaas),
    ])
    .client_config_for(ClientRole::Consumer, &[], None)
    .expect("valid");
    for (key, expected) in [
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
        ("sasl.oauthbearer.client.id", "ferry"),
        ("sasl.oauthbearer.client.secret", "oidc-secret"),
        ("sasl.oauthbearer.scope", "kafka"),
        ("sasl.oauthbearer.extensions", "logicalCluster=lkc-1"),
    ] {
        assert_eq!(get(&config, key).as_deref(), Some(expected), "{key}");
    }
    for absent in [
        "sasl.login.callback.handler.class",
        "sasl.oauthbearer.sub.claim.name",
        "sasl.oauthbearer.config",
        "enable.sasl.oauthbearer.unsecure.jwt",
    ] {
        assert_eq!(get(&config, absent), None, "{absent}");
    }
}

#[test]
fn kafka_4_1_client_credential_keys_win_over_the_jaas_options() {
    let jaas = format!("{OAUTH_MODULE} required clientId=\"old\" clientSecret=\"old-secret\";");
    let config = clients(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", OIDC_HANDLER),
        ("sasl.oauthbearer.token.endpoint.url", "http://idp/token"),
        ("sasl.oauthbearer.client.credentials.client.id", "new"),
        (
            "sasl.oauthbearer.client.credentials.client.secret",
            "new-secret",
        ),
        ("sasl.jaas.config", &jaas),
    ])
    .client_config_for(ClientRole::Producer, &[], None)
    .expect("valid");
    assert_eq!(
        get(&config, "sasl.oauthbearer.client.id").as_deref(),
        Some("new")
    );
    assert_eq!(
        get(&config, "sasl.oauthbearer.client.secret").as_deref(),
        Some("new-secret")
    );
}

#[test]
fn an_incomplete_or_foreign_oidc_setup_names_the_key() {
    let base = [
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", OIDC_HANDLER),
    ];
    let with_secret =
        format!("{OAUTH_MODULE} required clientId=\"a\" clientSecret=\"oidc-secret\";");
    let no_secret = format!("{OAUTH_MODULE} required clientId=\"a\";");
    let unsecured = format!("{OAUTH_MODULE} required unsecuredLoginStringClaim_sub=\"a\";");
    for (extra, expected_key) in [
        (
            vec![("sasl.jaas.config", with_secret.as_str())],
            "sasl.oauthbearer.token.endpoint.url",
        ),
        (
            vec![
                ("sasl.jaas.config", with_secret.as_str()),
                ("sasl.oauthbearer.token.endpoint.url", "file:///tmp/token"),
            ],
            "sasl.oauthbearer.token.endpoint.url",
        ),
        (
            vec![
                ("sasl.jaas.config", no_secret.as_str()),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            ],
            "sasl.oauthbearer.client.credentials.client.secret",
        ),
        (
            vec![
                ("sasl.jaas.config", unsecured.as_str()),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            ],
            "sasl.jaas.config",
        ),
        (
            vec![
                ("sasl.jaas.config", with_secret.as_str()),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
                ("sasl.oauthbearer.sub.claim.name", "client_id"),
            ],
            "sasl.oauthbearer.sub.claim.name",
        ),
    ] {
        let worker: Vec<_> = base.iter().copied().chain(extra).collect();
        let error = clients(&worker)
            .validate_worker_settings()
            .expect_err(expected_key);
        assert_eq!(error.key(), expected_key, "{error}");
        assert!(!error.to_string().contains("oidc-secret"), "{error}");
    }
    let error = clients(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", "com.example.MyHandler"),
    ])
    .validate_worker_settings()
    .expect_err("a Java callback");
    assert_eq!(error.key(), "sasl.login.callback.handler.class");
    // clientSecret without the OIDC handler: a Java client would ignore it and fail later.
    let error = clients(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.jaas.config", &with_secret),
    ])
    .validate_worker_settings()
    .expect_err("no handler");
    assert_eq!(error.key(), "sasl.jaas.config");
    assert!(
        error
            .to_string()
            .contains("sasl.login.callback.handler.class"),
        "{error}"
    );
}

#[test]
fn librdkafka_is_built_with_tls_every_sasl_mechanism_codec_and_the_oidc_flow() {
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let builtin = ClientConfig::new()
        .create_native_config()
        .expect("an empty config")
        .get("builtin.features")
        .expect("builtin.features");
    let features: Vec<&str> = builtin.split(',').map(str::trim).collect();
    for feature in [
        "ssl",
        "sasl_plain",
        "sasl_scram",
        "sasl_oauthbearer",
        "oidc",
        "gzip",
        "snappy",
        "lz4",
        "zstd",
    ] {
        assert!(
            features.contains(&feature),
            "librdkafka {version} lacks {feature}: {builtin}"
        );
    }
}

#[test]
fn a_bad_jaas_config_names_the_key_and_hides_the_value() {
    let clients = clients(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"hunter2\"",
        ),
    ]);
    let error = clients
        .validate_worker_settings()
        .expect_err("no closing ;");
    assert_eq!(error.key(), "sasl.jaas.config");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[test]
fn endpoint_identification_empty_disables_host_name_checks() {
    let disabled = clients(&[("ssl.endpoint.identification.algorithm", "")])
        .client_config_for(ClientRole::Admin, &[], None)
        .expect("valid");
    assert_eq!(
        get(&disabled, "ssl.endpoint.identification.algorithm").as_deref(),
        Some("none")
    );
    let https = clients(&[("ssl.endpoint.identification.algorithm", "HTTPS")])
        .client_config_for(ClientRole::Admin, &[], None)
        .expect("valid");
    assert_eq!(
        get(&https, "ssl.endpoint.identification.algorithm").as_deref(),
        Some("https")
    );
}

#[test]
fn java_tls_defaults_are_accepted_and_other_values_refused() {
    clients(&[
        ("ssl.protocol", "TLSv1.3"),
        ("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
        ("ssl.keymanager.algorithm", "SunX509"),
        ("ssl.trustmanager.algorithm", "PKIX"),
    ])
    .validate_worker_settings()
    .expect("Java's defaults");
    let error = clients(&[("ssl.enabled.protocols", "TLSv1.1")])
        .validate_worker_settings()
        .expect_err("old TLS");
    assert_eq!(error.key(), "ssl.enabled.protocols");
}

#[test]
fn a_missing_trust_store_is_a_store_error_naming_the_key() {
    let error = clients(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.location", "/nonexistent/truststore.jks"),
        ("ssl.truststore.password", "changeit"),
    ])
    .validate_worker_settings()
    .expect_err("no such file");
    assert!(matches!(error, ClientConfigError::Store { .. }), "{error}");
    assert_eq!(error.key(), "ssl.truststore.location");
    assert!(!error.to_string().contains("changeit"));
}

#[test]
fn an_inline_pem_trust_store_becomes_ssl_ca_pem() {
    let certificate = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
    let config = clients(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.certificates", certificate),
    ])
    .client_config_for(ClientRole::Admin, &[], None)
    .expect("valid");
    assert_eq!(get(&config, "ssl.ca.pem").as_deref(), Some(certificate));
    assert_eq!(get(&config, "ssl.truststore.certificates"), None);
}

#[test]
fn java_only_names_are_renamed_for_librdkafka() {
    let config = clients(&[("producer.max.request.size", "2097152")])
        .client_config_for(ClientRole::Producer, &[], Some(&props(&[])))
        .expect("valid");
    assert_eq!(
        get(&config, "message.max.bytes").as_deref(),
        Some("2097152")
    );
}

#[test]
fn librdkafka_names_keep_working() {
    let config = clients(&[
        ("security.protocol", "sasl_plaintext"),
        ("sasl.mechanisms", "PLAIN"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ])
    .client_config_for(ClientRole::Consumer, &[], None)
    .expect("valid");
    assert_eq!(get(&config, "sasl.username").as_deref(), Some("u"));
}

#[test]
fn debug_output_shows_no_worker_properties() {
    let clients = clients(&[("sasl.jaas.config", SCRAM_JAAS)]);
    let shown = format!("{clients:?}");
    assert!(!shown.contains("connect-secret"), "{shown}");
}

#[test]
fn the_listeners_ssl_client_auth_is_not_handed_to_kafka_clients() {
    // Un-prefixed, it is the REST listener's fallback; librdkafka has no such key.
    let clients = clients(&[("ssl.client.auth", "required")]);
    for role in ClientRole::ALL {
        let config = clients.client_config_for(role, &[], None).expect("valid");
        assert_eq!(get(&config, "ssl.client.auth"), None, "{role:?}");
    }
}

#[test]
fn override_errors_list_each_override_with_the_policys_refusal_or_a_translation_error() {
    let principal = clients(&[(OVERRIDE_POLICY_KEY, "Principal")]);
    let checked = principal.connector_override_errors(&props(&[
        ("producer.override.compression.type", "zstd"),
        ("producer.override.sasl.mechanism", "PLAIN"),
        (
            "consumer.override.sasl.jaas.config",
            "NoSuchModule required;",
        ),
        ("topics", "a"),
    ]));
    let keys: Vec<&str> = checked.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "producer.override.compression.type",
            "producer.override.sasl.mechanism",
            "consumer.override.sasl.jaas.config"
        ]
    );
    assert_eq!(
        checked[0].1,
        ["The 'Principal' policy does not allow 'compression.type' to be overridden in the connector configuration."]
    );
    assert!(checked[1].1.is_empty(), "{checked:?}");
    assert_eq!(checked[2].1.len(), 1, "{checked:?}");
    assert!(checked[2].1[0].contains("NoSuchModule"), "{checked:?}");
    let all = clients(&[]);
    let checked = all.connector_override_errors(&props(&[("admin.override.retries", "3")]));
    assert_eq!(
        checked,
        [("admin.override.retries".to_string(), Vec::new())]
    );
}

/// A worker of the Java OIDC flow with `extra` keys (bare, prefixed or overrides).
fn oidc_worker<'a>(jaas: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut worker = vec![
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", OIDC_HANDLER),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
        ("sasl.jaas.config", jaas),
    ];
    worker.extend_from_slice(extra);
    worker
}

fn oidc_jaas(more_options: &str) -> String {
    format!(
        "{OAUTH_MODULE} required clientId=\"ferry\" clientSecret=\"oidc-secret\" {more_options};"
    )
}

/// Each Java login timing key, with a value Java accepts and one it refuses.
const TIMING_CASES: [(&str, &str, &str); 8] = [
    ("sasl.login.connect.timeout.ms", "10000", "-1"),
    ("sasl.login.read.timeout.ms", "10000", "ten seconds"),
    ("sasl.login.retry.backoff.ms", "100", "-5"),
    ("sasl.login.retry.backoff.max.ms", "10000", "1e4"),
    ("sasl.login.refresh.window.factor", "0.8", "0.4"),
    ("sasl.login.refresh.window.jitter", "0.05", "0.3"),
    ("sasl.login.refresh.min.period.seconds", "60", "901"),
    ("sasl.login.refresh.buffer.seconds", "300", "3601"),
];

#[test]
fn each_java_login_timing_key_is_accepted_and_not_handed_to_librdkafka() {
    let jaas = oidc_jaas("");
    for (key, good, _) in TIMING_CASES {
        let clients = clients(&oidc_worker(&jaas, &[(key, good)]));
        clients
            .validate_worker_settings()
            .unwrap_or_else(|error| panic!("{key}={good}: {error}"));
        for role in ClientRole::ALL {
            let config = clients
                .client_config_for(role, &[], Some(&props(&[])))
                .expect("valid");
            assert_eq!(get(&config, key), None, "{key} for {role:?}");
            assert_eq!(
                get(&config, "sasl.oauthbearer.method").as_deref(),
                Some("oidc")
            );
        }
        let logged = clients.login_timing_keys_left_to_librdkafka();
        assert_eq!(logged.len(), 1, "{key}: {}", logged.len());
        assert_eq!(logged[0].0, key);
        assert_eq!(logged[0].1.key, key);
        assert!(logged[0].1.librdkafka_behaviour.contains("librdkafka"));
    }
    assert_eq!(
        TIMING_CASES.len(),
        security::LOGIN_TIMING_KEYS.len(),
        "one case per key"
    );
}

#[test]
fn each_java_login_timing_key_with_a_value_java_refuses_names_the_key() {
    let jaas = oidc_jaas("");
    for (key, _, bad) in TIMING_CASES {
        let error = clients(&oidc_worker(&jaas, &[(key, bad)]))
            .validate_worker_settings()
            .expect_err(key);
        assert_eq!(error.key(), key, "{error}");
        assert!(error.to_string().contains("expected"), "{error}");
    }
}

#[test]
fn prefixed_and_override_login_timing_keys_follow_the_prefix_rules() {
    let jaas = oidc_jaas("");
    for (key, good, bad) in TIMING_CASES {
        for role in ClientRole::ALL {
            let prefixed = format!("{}{key}", role.worker_prefix());
            let clients = clients(&oidc_worker(&jaas, &[(prefixed.as_str(), good)]));
            let config = clients
                .client_config_for(role, &[], Some(&props(&[])))
                .expect("valid");
            assert_eq!(get(&config, key), None, "{prefixed}");
            let logged: Vec<String> = clients
                .login_timing_keys_left_to_librdkafka()
                .into_iter()
                .map(|(written, _)| written)
                .collect();
            assert_eq!(logged, std::slice::from_ref(&prefixed));
            let error = self::clients(&oidc_worker(&jaas, &[(prefixed.as_str(), bad)]))
                .client_config_for(role, &[], Some(&props(&[])))
                .expect_err(&prefixed);
            assert_eq!(error.key(), prefixed);

            let override_key = format!("{}{key}", role.override_prefix());
            let plain = self::clients(&oidc_worker(&jaas, &[]));
            let config = plain
                .client_config_for(role, &[], Some(&props(&[(override_key.as_str(), good)])))
                .expect("an allowed override");
            assert_eq!(get(&config, key), None, "{override_key}");
            let error = plain
                .validate_connector_overrides(&props(&[(override_key.as_str(), bad)]))
                .expect_err(&override_key);
            assert_eq!(error.key(), override_key);
            let principal = self::clients(&[(OVERRIDE_POLICY_KEY, "Principal")]);
            let error = principal
                .validate_connector_overrides(&props(&[(override_key.as_str(), good)]))
                .expect_err("Principal allows only the principal's keys");
            assert!(
                matches!(error, ClientConfigError::OverrideRefused { .. }),
                "{error}"
            );
        }
    }
}

#[test]
fn other_sasl_login_keys_stay_refused() {
    // A Java login class changes how the client authenticates: librdkafka cannot run it.
    let jaas = oidc_jaas("");
    let error = clients(&oidc_worker(
        &jaas,
        &[("sasl.login.class", "com.example.MyLogin")],
    ))
    .validate_worker_settings()
    .expect_err("a Java login class");
    assert_eq!(error.key(), "sasl.login.class", "{error}");
}

const TEST_CA: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";

#[test]
fn the_jaas_truststore_becomes_the_token_endpoints_https_ca_pem() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ca_file = dir.path().join("idp-ca.pem");
    std::fs::write(&ca_file, TEST_CA).expect("write the CA");
    let jaas = oidc_jaas(&format!(
        "ssl.truststore.location=\"{}\" ssl.truststore.type=\"PEM\" ssl.endpoint.identification.algorithm=\"https\" ssl.protocol=\"TLSv1.3\"",
        ca_file.display()
    ));
    let broker_ca = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";
    let config = clients(&oidc_worker(
        &jaas,
        &[
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.certificates", broker_ca),
        ],
    ))
    .client_config_for(ClientRole::Producer, &[], None)
    .expect("valid");
    assert_eq!(get(&config, "https.ca.pem").as_deref(), Some(TEST_CA));
    // The broker's CAs stay the client's own ssl.* keys, as in Java.
    assert_eq!(get(&config, "ssl.ca.pem").as_deref(), Some(broker_ca));
    for absent in [
        "https.ca.location",
        "ssl.truststore.location",
        "sasl.jaas.config",
    ] {
        assert_eq!(get(&config, absent), None, "{absent}");
    }
    let inline = oidc_jaas(&format!(
        "ssl.truststore.type=\"PEM\" ssl.truststore.certificates=\"{TEST_CA}\""
    ));
    let config = clients(&oidc_worker(&inline, &[]))
        .client_config_for(ClientRole::Admin, &[], None)
        .expect("valid");
    assert_eq!(get(&config, "https.ca.pem").as_deref(), Some(TEST_CA));
}

#[test]
fn without_jaas_tls_options_the_token_endpoint_uses_the_system_cas() {
    let jaas = oidc_jaas("");
    let config = clients(&oidc_worker(
        &jaas,
        &[
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.certificates", TEST_CA),
        ],
    ))
    .client_config_for(ClientRole::Admin, &[], None)
    .expect("valid");
    assert_eq!(get(&config, "https.ca.pem"), None);
    assert_eq!(get(&config, "https.ca.location"), None);
    // librdkafka's own key still works, bare or prefixed.
    let config = clients(&oidc_worker(
        &jaas,
        &[("https.ca.location", "/etc/idp-ca.pem")],
    ))
    .client_config_for(ClientRole::Admin, &[], None)
    .expect("valid");
    assert_eq!(
        get(&config, "https.ca.location").as_deref(),
        Some("/etc/idp-ca.pem")
    );
}

#[test]
fn jaas_tls_options_of_an_http_endpoint_are_not_read_as_in_java() {
    let jaas = oidc_jaas("ssl.truststore.location=\"/nonexistent/idp.jks\"");
    let config = clients(&oidc_worker(
        &jaas,
        &[("sasl.oauthbearer.token.endpoint.url", "http://idp/token")],
    ))
    .client_config_for(ClientRole::Admin, &[], None)
    .expect("Java reads them only for https");
    assert_eq!(get(&config, "https.ca.pem"), None);
}

#[test]
fn jaas_tls_options_that_cannot_be_translated_name_the_key_and_the_option() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ca_file = dir.path().join("idp-ca.pem");
    std::fs::write(&ca_file, TEST_CA).expect("write the CA");
    let location = format!("ssl.truststore.location=\"{}\"", ca_file.display());
    for (options, extra, expected) in [
        (
            "ssl.keystore.location=\"/etc/idp-client.p12\" ssl.keystore.password=\"ks-secret\"",
            vec![],
            "ssl.keystore.location",
        ),
        (
            "ssl.cipher.suites=\"TLS_AES_128_GCM_SHA256\"",
            vec![],
            "ssl.cipher.suites",
        ),
        (
            "ssl.enabled.protocols=\"TLSv1.1\"",
            vec![],
            "ssl.enabled.protocols",
        ),
        (
            "ssl.endpoint.identification.algorithm=\"ldaps\"",
            vec![],
            "ssl.endpoint.identification.algorithm",
        ),
        ("ssl.provider=\"BC\"", vec![], "ssl.provider"),
        (
            "ssl.truststore.password=\"ts-secret\"",
            vec![],
            "ssl.truststore.password",
        ),
        ("ssl.no.such.option=\"1\"", vec![], "ssl.no.such.option"),
        (
            location.as_str(),
            vec![("https.ca.location", "/etc/idp-ca.pem")],
            "https.ca.location",
        ),
    ] {
        let jaas = oidc_jaas(options);
        let error = clients(&oidc_worker(&jaas, &extra))
            .validate_worker_settings()
            .expect_err(options);
        assert_eq!(error.key(), "sasl.jaas.config", "{error}");
        let text = error.to_string();
        assert!(text.contains(expected), "{options}: {text}");
        for secret in ["oidc-secret", "ks-secret", "ts-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    let missing = oidc_jaas(
        "ssl.truststore.location=\"/nonexistent/idp.jks\" ssl.truststore.password=\"ts-secret\"",
    );
    let error = clients(&oidc_worker(&missing, &[]))
        .validate_worker_settings()
        .expect_err("no such store");
    assert!(matches!(error, ClientConfigError::Store { .. }), "{error}");
    assert_eq!(error.key(), "sasl.jaas.config");
    assert!(
        error.to_string().contains("/nonexistent/idp.jks"),
        "{error}"
    );
    assert!(!error.to_string().contains("ts-secret"), "{error}");
}

#[test]
fn a_connectors_jaas_override_brings_its_own_token_endpoint_truststore() {
    let worker_jaas = oidc_jaas("");
    let override_jaas = oidc_jaas(&format!(
        "ssl.truststore.type=\"PEM\" ssl.truststore.certificates=\"{TEST_CA}\""
    ));
    let config = clients(&oidc_worker(&worker_jaas, &[]))
        .client_config_for(
            ClientRole::Producer,
            &[],
            Some(&props(&[(
                "producer.override.sasl.jaas.config",
                override_jaas.as_str(),
            )])),
        )
        .expect("valid");
    assert_eq!(get(&config, "https.ca.pem").as_deref(), Some(TEST_CA));
    let bad = oidc_jaas("ssl.provider=\"BC\"");
    let error = clients(&oidc_worker(&worker_jaas, &[]))
        .validate_connector_overrides(&props(&[("producer.override.sasl.jaas.config", &bad)]))
        .expect_err("a JVM provider");
    assert_eq!(error.key(), "producer.override.sasl.jaas.config");
}
