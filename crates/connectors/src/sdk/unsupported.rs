//! Framework keys Kafka Connect acts on that Ferry does not implement yet. Each is refused with
//! an error naming it (on create, update and `config/validate`) rather than ignored: running a
//! config without what it asks for would silently change its meaning.
//!
//! A key set to its Kafka Connect default is accepted where the default is what Ferry does.
//! The exactly-once keys are declared in [`super::framework`] (checked against the worker's
//! `exactly.once.source.support` by [`super::framework::check_exactly_once`]).

use std::collections::BTreeMap;

use super::config::{ConfigKey, ConfigType, Importance};
use super::ConnectorType;

/// One refused key.
#[derive(Debug, Clone, Copy)]
pub struct UnsupportedKey {
    pub name: &'static str,
    /// `None`: every connector; otherwise only connectors of that type have the key.
    pub connector_type_opt: Option<ConnectorType>,
    /// A value that is accepted because it is what Ferry does (Kafka Connect's default).
    pub accepted_value_opt: Option<&'static str>,
    /// What it would take (for the message).
    pub reason: &'static str,
}

/// The refused framework keys.
pub const UNSUPPORTED_KEYS: &[UnsupportedKey] = &[
    UnsupportedKey {
        name: "key.converter.plugin.version",
        connector_type_opt: None,
        accepted_value_opt: None,
        reason: "Ferry has one version of each plugin",
    },
    UnsupportedKey {
        name: "value.converter.plugin.version",
        connector_type_opt: None,
        accepted_value_opt: None,
        reason: "Ferry has one version of each plugin",
    },
    UnsupportedKey {
        name: "header.converter.plugin.version",
        connector_type_opt: None,
        accepted_value_opt: None,
        reason: "Ferry has one version of each plugin",
    },
];

fn applies(key: &UnsupportedKey, connector_type: ConnectorType) -> bool {
    key.connector_type_opt
        .is_none_or(|only| only == connector_type)
}

/// Returns the declarations of the refused keys a connector of `connector_type` has (listed by
/// the validate endpoint, where their errors are attached).
pub fn unsupported_config_keys(connector_type: ConnectorType) -> Vec<ConfigKey> {
    UNSUPPORTED_KEYS
        .iter()
        .filter(|key| applies(key, connector_type))
        .map(|key| {
            let mut config_key = ConfigKey::new(
                key.name,
                ConfigType::String,
                Importance::Low,
                &format!("Not supported yet by Ferry: {}.", key.reason),
            )
            .group("Not supported yet", 0)
            .display_name(key.name);
            config_key = match key.accepted_value_opt {
                Some(value) => config_key.default_value(value),
                None => config_key.default_null(),
            };
            config_key
        })
        .collect()
}

/// Returns `(key, message)` for every refused key that `props` sets (to anything but its
/// accepted value).
pub fn check_unsupported_keys(
    connector_type: ConnectorType,
    props: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for key in UNSUPPORTED_KEYS {
        if !applies(key, connector_type) {
            continue;
        }
        let Some(value) = props.get(key.name) else {
            continue;
        };
        let accepted = key
            .accepted_value_opt
            .is_some_and(|accepted| accepted.eq_ignore_ascii_case(value.trim()));
        if !accepted {
            errors.push((
                key.name.to_string(),
                format!(
                    "{} is not supported yet ({}); remove it from the connector config",
                    key.name, key.reason
                ),
            ));
        }
    }
    errors
}
