//! The audit of Kafka Connect's framework keys (`tests/framework_keys/`): every key Kafka
//! Connect 4.3.1 acts on is either implemented by Ferry (declared and accepted) or refused with
//! an error that names it. A key added to the fixture without either fails this test.

use std::collections::BTreeMap;

use crate::registry::builtin_registry;
use crate::sdk::ConnectorType;
use crate::validation::{check_connector_config, config_def_for, validate_connector_config};

const FIXTURE: &str = include_str!("../../tests/framework_keys/kafka-connect-4.3.1.txt");

struct FixtureKey {
    scope: String,
    key: String,
    status: String,
    sample_key: String,
    sample_value: String,
}

fn fixture() -> Vec<FixtureKey> {
    FIXTURE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            assert!(columns.len() >= 5, "fixture line has 5 columns: {line}");
            let key = columns[1].to_string();
            let sample_key = if columns[3] == "-" {
                key.clone()
            } else {
                columns[3].to_string()
            };
            FixtureKey {
                scope: columns[0].to_string(),
                key,
                status: columns[2].to_string(),
                sample_key,
                sample_value: columns[4..].join(" "),
            }
        })
        .collect()
}

fn base_config(connector_type: ConnectorType) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match connector_type {
        ConnectorType::Sink => &[
            ("name", "audit"),
            ("connector.class", "FileStreamSink"),
            ("file", "/tmp/ferry-audit-out.txt"),
            ("topics", "audit-topic"),
        ],
        ConnectorType::Source => &[
            ("name", "audit"),
            ("connector.class", "FileStreamSource"),
            ("file", "/tmp/ferry-audit-in.txt"),
            ("topic", "audit-topic"),
        ],
    };
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

/// Returns the config with the sample set, and what topic creation needs alongside.
fn config_with(connector_type: ConnectorType, key: &str, value: &str) -> BTreeMap<String, String> {
    let mut config = base_config(connector_type);
    if key.starts_with("topic.creation.") {
        config.insert(
            "topic.creation.default.replication.factor".into(),
            "1".into(),
        );
        config.insert("topic.creation.default.partitions".into(), "1".into());
    }
    config.insert(key.to_string(), value.to_string());
    config
}

fn errors_on(config: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    let infos = validate_connector_config(&builtin_registry(), config).expect("known class");
    infos
        .configs
        .into_iter()
        .filter(|info| info.definition.name == key)
        .flat_map(|info| info.value.errors)
        .collect()
}

fn types_of(scope: &str) -> Vec<ConnectorType> {
    match scope {
        "common" => vec![ConnectorType::Source, ConnectorType::Sink],
        "sink" => vec![ConnectorType::Sink],
        "source" => vec![ConnectorType::Source],
        other => panic!("unknown scope {other} in the fixture"),
    }
}

/// Keys whose sample value cannot be set on the base config on its own.
fn skip_sample(key: &str) -> bool {
    matches!(key, "connector.class" | "topics.regex")
        || key.starts_with("transforms")
        || key.starts_with("predicates")
}

#[test]
fn every_kafka_connect_framework_key_is_implemented_or_refused() {
    let keys = fixture();
    assert!(keys.len() >= 40, "the fixture lists Kafka Connect's keys");
    let registry = builtin_registry();
    let mut problems = Vec::new();
    for entry in &keys {
        for connector_type in types_of(&entry.scope) {
            let config = if skip_sample(&entry.sample_key) {
                base_config(connector_type)
            } else {
                config_with(connector_type, &entry.sample_key, &entry.sample_value)
            };
            let factory = registry
                .find(&config["connector.class"])
                .expect("the base connector exists");
            let declared = config_def_for(factory.as_ref(), &config)
                .key(&entry.sample_key)
                .is_some();
            let prefix = entry.key.ends_with('*');
            match entry.status.as_str() {
                "implemented" => {
                    if !prefix && !declared {
                        problems.push(format!(
                            "{} ({connector_type:?}) is listed as implemented but Ferry does not declare it",
                            entry.key
                        ));
                    }
                    if skip_sample(&entry.sample_key) {
                        continue;
                    }
                    let result = check_connector_config(&registry, &config);
                    if let Err(error) = result {
                        problems.push(format!(
                            "{}={} ({connector_type:?}) is refused: {error}",
                            entry.sample_key, entry.sample_value
                        ));
                    }
                }
                "refused" => {
                    let errors = errors_on(&config, &entry.key);
                    let named = errors.iter().any(|error| {
                        error.contains(&entry.key) && error.contains("is not supported yet")
                    });
                    if !named {
                        problems.push(format!(
                            "{} ({connector_type:?}) is listed as refused but validation says {errors:?}",
                            entry.key
                        ));
                    }
                    match check_connector_config(&registry, &config) {
                        Ok(_) => problems.push(format!(
                            "{} ({connector_type:?}) is accepted on create",
                            entry.key
                        )),
                        Err(error) if !error.to_string().contains(&entry.key) => problems.push(
                            format!("the create error does not name {}: {error}", entry.key),
                        ),
                        Err(_) => {}
                    }
                }
                other => problems.push(format!("{}: unknown status {other}", entry.key)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn refused_keys_set_to_their_kafka_connect_default_are_accepted() {
    let registry = builtin_registry();
    for (key, value) in [
        ("exactly.once.support", "requested"),
        ("transaction.boundary", "poll"),
    ] {
        let config = config_with(ConnectorType::Source, key, value);
        assert!(
            check_connector_config(&registry, &config).is_ok(),
            "{key}={value}"
        );
    }
}

#[test]
fn a_dlq_topic_consumed_by_the_sink_is_refused_as_kafka_connect_does() {
    let mut config = base_config(ConnectorType::Sink);
    config.insert(
        "errors.deadletterqueue.topic.name".into(),
        "audit-topic".into(),
    );
    let errors = errors_on(&config, "topics");
    assert_eq!(
        errors,
        vec!["The DLQ topic 'audit-topic' may not be included in the list of topics ('topics=[audit-topic]') consumed by the connector".to_string()]
    );
}

#[test]
fn topic_creation_without_the_default_group_settings_is_refused() {
    let mut config = base_config(ConnectorType::Source);
    config.insert("topic.creation.groups".into(), "g".into());
    let error = check_connector_config(&builtin_registry(), &config)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("Missing required configuration \"topic.creation.default.replication.factor\" which has no default value."),
        "{error}"
    );
    assert!(
        error.contains("topic.creation.default.partitions"),
        "{error}"
    );
}

#[test]
fn exactly_once_required_needs_a_connector_that_declares_support_on_an_enabled_worker() {
    use crate::sdk::framework::{check_exactly_once, ExactlyOnceSourceSupport};
    let registry = builtin_registry();
    let file = registry.find("FileStreamSource").expect("built in");
    let datagen = registry.find("Datagen").expect("built in");
    let mut stdin: BTreeMap<String, String> = BTreeMap::new();
    stdin.insert("exactly.once.support".into(), "required".into());
    let keys_of = |errors: Vec<(String, String)>| -> Vec<String> {
        errors.into_iter().map(|(key, _)| key).collect()
    };
    assert_eq!(
        keys_of(check_exactly_once(
            file.as_ref(),
            &stdin,
            ExactlyOnceSourceSupport::Enabled
        )),
        vec!["exactly.once.support".to_string()],
        "stdin tracks no offset"
    );
    let on_disabled = check_exactly_once(file.as_ref(), &stdin, ExactlyOnceSourceSupport::Disabled);
    assert_eq!(
        on_disabled.len(),
        2,
        "the worker and the connector are both refused, as Kafka Connect does: {on_disabled:?}"
    );
    assert!(on_disabled[0]
        .1
        .contains("This worker does not have exactly-once source support enabled."));
    assert!(on_disabled[1]
        .1
        .contains("The connector does not support exactly-once semantics"));
    let mut with_file = stdin.clone();
    with_file.insert("file".into(), "/tmp/in.txt".into());
    assert!(
        check_exactly_once(file.as_ref(), &with_file, ExactlyOnceSourceSupport::Enabled).is_empty()
    );
    assert!(
        check_exactly_once(datagen.as_ref(), &stdin, ExactlyOnceSourceSupport::Enabled).is_empty()
    );
    let mut connector_boundary = with_file.clone();
    connector_boundary.remove("exactly.once.support");
    connector_boundary.insert("transaction.boundary".into(), "connector".into());
    let refused = check_exactly_once(
        file.as_ref(),
        &connector_boundary,
        ExactlyOnceSourceSupport::Disabled,
    );
    assert_eq!(
        keys_of(refused.clone()),
        vec!["transaction.boundary".to_string()],
        "refused whatever the worker says"
    );
    assert!(
        refused[0]
            .1
            .contains("does not support connector-defined transaction boundaries"),
        "{refused:?}"
    );
}
