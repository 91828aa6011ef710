//! Validation of a whole connector config: framework keys plus the connector's own, in Kafka
//! Connect's `ConfigInfos` shape (the validate endpoint) and as the 400 message of a create.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::registry::ConnectorRegistry;
use crate::sdk::config::{type_name, ConfigDef, ConfigType, DefaultValue};
use crate::sdk::framework::{self, keys, ExactlyOnceSourceSupport};
use crate::sdk::{topic_creation, unsupported};
use crate::sdk::{ConfigValues, ConnectorFactory};

/// `ConfigInfos`: the validate endpoint's answer.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

/// One key's definition and validated value.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// `ConfigKeyInfo`, as Kafka Connect serialises it.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
}

/// `ConfigValueInfo`, as Kafka Connect serialises it.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// Why a connector config was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfig {
    #[error("{0}")]
    UnknownClass(String),
    #[error("Connector configuration is invalid and contains the following {count} error(s):\n{joined}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`", count = .0.len(), joined = .0.join("\n"))]
    Errors(Vec<String>),
}

/// A config that passed validation, with its factory.
#[derive(Clone)]
pub struct ValidConnectorConfig {
    pub factory: Arc<dyn ConnectorFactory>,
    pub values: ConfigValues,
}

/// Returns the framework keys merged with the connector's own (the connector's win).
pub fn full_config_def(factory: &dyn ConnectorFactory) -> ConfigDef {
    framework::framework_config_def(factory.connector_type()).merge(&factory.config_def())
}

/// Returns the keys a given config is validated against: [`full_config_def`] plus, for a source
/// that uses topic creation, the `topic.creation.<group>.*` keys its groups add.
pub fn config_def_for(
    factory: &dyn ConnectorFactory,
    props: &BTreeMap<String, String>,
) -> ConfigDef {
    let def = full_config_def(factory);
    if factory.connector_type() == crate::sdk::ConnectorType::Source
        && topic_creation::uses_topic_creation(props)
    {
        return def.merge(&topic_creation::topic_creation_config_def(props));
    }
    def
}

/// Returns the 400 message for an unknown `connector.class`, naming the closest known names.
pub fn unknown_class_message(registry: &ConnectorRegistry, class: &str) -> String {
    let closest = registry.closest_names(class, 3);
    format!(
        "Failed to find any class that implements Connector and which name matches {class}; closest known: {}",
        closest.join(", ")
    )
}

/// Validates a connector config for the validate endpoint: always an answer, errors inside.
///
/// # Errors
/// Only an unknown or missing `connector.class` (nothing to validate against).
pub fn validate_connector_config(
    registry: &ConnectorRegistry,
    props: &BTreeMap<String, String>,
) -> Result<ConfigInfos, InvalidConfig> {
    validate_connector_config_for(registry, props, ExactlyOnceSourceSupport::Disabled)
}

/// [`validate_connector_config`] on a worker whose `exactly.once.source.support` is `worker_eos`.
///
/// # Errors
/// Only an unknown or missing `connector.class` (nothing to validate against).
pub fn validate_connector_config_for(
    registry: &ConnectorRegistry,
    props: &BTreeMap<String, String>,
    worker_eos: ExactlyOnceSourceSupport,
) -> Result<ConfigInfos, InvalidConfig> {
    let factory = find_factory(registry, props)?;
    // The transforms and predicates a config names add their keys (`transforms.<alias>.*`),
    // as Kafka Connect's enriched ConnectorConfig does. A connector whose process converts
    // its records (a jar in the plugin host) runs its chain there, of any Transformation its
    // plugin.path holds (Debezium's ExtractNewRecordState): the plugin's validate checks it.
    let transforms = if factory.converts_records() {
        crate::transforms::chain::Enriched::empty()
    } else {
        crate::transforms::chain::enrich(props)
    };
    let def = config_def_for(factory.as_ref(), props).merge(&transforms.def);
    let mut results = def.validate(props);
    let mut extra_errors: Vec<(String, String)> =
        unsupported::check_unsupported_keys(factory.connector_type(), props);
    extra_errors.extend(transforms.errors);
    extra_errors.extend(framework::check_exactly_once(
        factory.as_ref(),
        props,
        worker_eos,
    ));
    if factory.connector_type() == crate::sdk::ConnectorType::Sink {
        extra_errors.extend(framework::check_sink_topics(props));
    }
    if results.iter().all(|value| value.errors.is_empty()) {
        if let Ok(values) = def.parse(props) {
            extra_errors.extend(factory.validate(&values));
        }
    }
    // Errors on keys no definition declares and no prefix group owns (a connector refusing a
    // key it does not implement): reported as entries of their own, never dropped.
    let mut undeclared: Vec<(String, String)> = Vec::new();
    for (key, message) in extra_errors {
        match results.iter_mut().find(|value| value.name == key) {
            Some(result) => {
                if !result.errors.contains(&message) {
                    result.errors.push(message);
                }
            }
            None => {
                // A key no definition declares (e.g. a removed ReplaceField key): report it
                // under the first key of its prefix group so the error is not lost.
                let owner = results
                    .iter_mut()
                    .filter(|value| key.starts_with(value.name.trim_end_matches("type")))
                    .find(|value| value.name.ends_with(".type"));
                match owner {
                    Some(result) => result.errors.push(message),
                    None => undeclared.push((key, message)),
                }
            }
        }
    }
    let mut groups: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for key in def.keys() {
        if let Some(group) = &key.group {
            if seen.insert(group.clone()) {
                groups.push(group.clone());
            }
        }
    }
    let configs: Vec<ConfigInfo> = def
        .keys()
        .iter()
        .zip(results)
        .map(|(key, result)| {
            let hidden = key.config_type == ConfigType::Password;
            ConfigInfo {
                definition: key_info(key),
                value: ConfigValueInfo {
                    name: result.name,
                    value: if hidden {
                        result.value.map(|_| "[hidden]".to_string())
                    } else {
                        result.value
                    },
                    recommended_values: Vec::new(),
                    errors: result.errors,
                    visible: true,
                },
            }
        })
        .collect();
    let mut configs = configs;
    for (key, message) in undeclared {
        if let Some(config) = configs.iter_mut().find(|config| config.value.name == key) {
            config.value.errors.push(message);
            continue;
        }
        configs.push(undeclared_config_info(
            &key,
            props.get(&key).map(String::as_str),
            "",
            vec![message],
        ));
    }
    let error_count = configs
        .iter()
        .filter(|config| !config.value.errors.is_empty())
        .count();
    Ok(ConfigInfos {
        name: factory.class_names()[0].to_string(),
        error_count,
        groups,
        configs,
    })
}

/// A validate entry for a key no definition declares: a plain STRING definition with
/// `documentation`. An undeclared key has no type to say it is a password, so a value whose
/// key names a secret is shown as [`crate::sdk::secret::HIDDEN`].
pub fn undeclared_config_info(
    key: &str,
    value_opt: Option<&str>,
    documentation: &str,
    errors: Vec<String>,
) -> ConfigInfo {
    let definition = crate::sdk::ConfigKey::new(
        key,
        ConfigType::String,
        crate::sdk::Importance::Low,
        documentation,
    )
    .default_null();
    let value = value_opt.map(|value| {
        if crate::sdk::is_secret_config_key(key) {
            crate::sdk::secret::HIDDEN.to_string()
        } else {
            value.to_string()
        }
    });
    ConfigInfo {
        definition: key_info(&definition),
        value: ConfigValueInfo {
            name: key.to_string(),
            value,
            recommended_values: Vec::new(),
            errors,
            visible: true,
        },
    }
}

/// Returns `ConfigKeyInfo` of one declared key.
pub fn key_info(key: &crate::sdk::ConfigKey) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: key.name.clone(),
        config_type: type_name(key.config_type).to_string(),
        required: key.default == DefaultValue::Required,
        default_value: key.default_string(),
        importance: format!("{:?}", key.importance).to_ascii_uppercase(),
        documentation: key.documentation.clone(),
        group: key.group.clone(),
        order: key.order,
        width: "NONE".to_string(),
        display_name: key.display_name.clone(),
        dependents: Vec::new(),
    }
}

/// Validates a config for create/update: the factory and values with defaults, or every error.
///
/// # Errors
/// [`InvalidConfig`] listing every problem, each naming its key.
pub fn check_connector_config(
    registry: &ConnectorRegistry,
    props: &BTreeMap<String, String>,
) -> Result<ValidConnectorConfig, InvalidConfig> {
    check_connector_config_for(registry, props, ExactlyOnceSourceSupport::Disabled)
}

/// [`check_connector_config`] on a worker whose `exactly.once.source.support` is `worker_eos`.
///
/// # Errors
/// [`InvalidConfig`] listing every problem, each naming its key.
pub fn check_connector_config_for(
    registry: &ConnectorRegistry,
    props: &BTreeMap<String, String>,
    worker_eos: ExactlyOnceSourceSupport,
) -> Result<ValidConnectorConfig, InvalidConfig> {
    let infos = validate_connector_config_for(registry, props, worker_eos)?;
    if infos.error_count > 0 {
        let errors = infos
            .configs
            .iter()
            .flat_map(|config| config.value.errors.iter().cloned())
            .collect();
        return Err(InvalidConfig::Errors(errors));
    }
    let factory = find_factory(registry, props)?;
    let values = config_def_for(factory.as_ref(), props)
        .parse(props)
        .map_err(InvalidConfig::Errors)?;
    Ok(ValidConnectorConfig { factory, values })
}

fn find_factory(
    registry: &ConnectorRegistry,
    props: &BTreeMap<String, String>,
) -> Result<Arc<dyn ConnectorFactory>, InvalidConfig> {
    let Some(class) = props
        .get(keys::CONNECTOR_CLASS)
        .filter(|class| !class.trim().is_empty())
    else {
        return Err(InvalidConfig::Errors(vec![format!(
            "Missing required configuration \"{}\" which has no default value.",
            keys::CONNECTOR_CLASS
        )]));
    };
    if let Some(factory) = registry.find_for_config(props) {
        return Ok(factory);
    }
    match props
        .get(keys::CONNECTOR_PLUGIN_VERSION)
        .filter(|version| !version.trim().is_empty())
    {
        Some(version) if registry.find(class).is_some() => {
            Err(InvalidConfig::Errors(vec![format!(
            "Invalid value {version} for configuration {}: no plugin of {class} has that version",
            keys::CONNECTOR_PLUGIN_VERSION
        )]))
        }
        _ => Err(InvalidConfig::UnknownClass(unknown_class_message(
            registry, class,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{
        ConfigKey, ConfigValues, ConnectorError, ConnectorType, Importance, TaskConfig,
    };

    struct SecretSink;

    impl ConnectorFactory for SecretSink {
        fn class_names(&self) -> &'static [&'static str] {
            &["com.example.SecretSinkConnector"]
        }
        fn connector_type(&self) -> ConnectorType {
            ConnectorType::Sink
        }
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new().define(ConfigKey::new(
                "connection.password",
                ConfigType::Password,
                Importance::High,
                "secret",
            ))
        }
        fn task_configs(
            &self,
            _config: &ConfigValues,
            _max_tasks: usize,
        ) -> Result<Vec<TaskConfig>, ConnectorError> {
            Ok(Vec::new())
        }
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect()
    }

    #[test]
    fn passwords_are_hidden_in_validation_results() {
        let mut registry = ConnectorRegistry::empty();
        registry.add(SecretSink);
        let infos = validate_connector_config(
            &registry,
            &props(&[
                ("name", "s"),
                ("connector.class", "SecretSink"),
                ("topics", "t"),
                ("connection.password", "hunter2"),
            ]),
        )
        .unwrap();
        let password = infos
            .configs
            .iter()
            .find(|config| config.definition.name == "connection.password")
            .unwrap();
        assert_eq!(password.value.value.as_deref(), Some("[hidden]"));
        assert_eq!(password.definition.config_type, "PASSWORD");
        assert!(!serde_json::to_string(&infos).unwrap().contains("hunter2"));
        assert_eq!(infos.error_count, 0, "{infos:?}");
    }

    #[test]
    fn every_error_names_its_key_and_is_counted() {
        let mut registry = ConnectorRegistry::empty();
        registry.add(SecretSink);
        let infos = validate_connector_config(
            &registry,
            &props(&[
                ("name", "s"),
                ("connector.class", "SecretSink"),
                ("tasks.max", "-1"),
            ]),
        )
        .unwrap();
        assert_eq!(
            infos.error_count, 3,
            "tasks.max, topics and the missing password: {infos:?}"
        );
        let error = check_connector_config(
            &registry,
            &props(&[
                ("name", "s"),
                ("connector.class", "SecretSink"),
                ("topics", "t"),
            ]),
        )
        .err()
        .unwrap();
        assert!(error.to_string().contains("connection.password"), "{error}");
        let unknown =
            check_connector_config(&registry, &props(&[("connector.class", "SecretSinc")]))
                .err()
                .unwrap();
        assert!(
            unknown.to_string().contains("SecretSink"),
            "closest name offered: {unknown}"
        );
    }
}
