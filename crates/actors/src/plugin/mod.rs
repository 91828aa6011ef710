//! Connectors run by a plugin process (Kafka Connect jars in the JVM plugin host, or native
//! plugins), adapted to the SDK so that the runtime treats them like built-ins.
//!
//! - [`PluginConnectorFactory`] is the `ConnectorFactory` of one plugin class: its ConfigDef
//!   comes from the plugin, `validate` asks the plugin, and its connector instance runs on the
//!   worker the leader assigned the connector to ([`connector`]), which reports the task configs
//!   the instance generated; `task_configs` answers from those reports.
//! - [`source_task`] and [`sink_task`] implement the SDK's `SourceTask`/`SinkTask` over the
//!   protocol's streams: the plugin converts (and, later, transforms) records, so they carry
//!   Kafka-ready bytes, and the runtime keeps every Kafka read and write and every offset.
//!
//! - [`task_config_reporter`] sends the task configs an instance generated to the leader, which
//!   stores them when they changed (the instance may run on any worker).
//!
//! A task config of a plugin connector carries the connector's own config under
//! [`CONNECTOR_CONFIG_PREFIX`]: converters and errors.* are connector-level in Kafka Connect,
//! and the worker that runs a task may not be the one that runs the connector.

mod connector;
mod factory;
mod sink_task;
mod source_task;
pub mod task_config_reporter;

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_connectors::sdk::ConnectorFactory;
use ferry_connectors::ConnectorRegistry;

use crate::stores::{ConfigSnapshot, TargetState};

pub use factory::{plugin_registry, PluginConnectorFactory};

/// The prefix under which a plugin task config carries its connector's config.
pub const CONNECTOR_CONFIG_PREFIX: &str = "ferry.connector.";

/// A connector whose instance runs here: its factory, name and stored config.
type OwnedConnector = (Arc<dyn ConnectorFactory>, String, BTreeMap<String, String>);

/// Tells every factory which of its connectors this worker runs the instance of: those the
/// assignment gives to `node_id` and that are not stopped. An instance gets its config with
/// config provider placeholders resolved, as Kafka Connect's `Connector.start` does (and its
/// task configs are compared with the resolved config); a config whose placeholders cannot be
/// resolved starts no instance (the worker reports the connector FAILED).
pub(crate) fn assign_connector_instances(
    registry: &ConnectorRegistry,
    providers: &crate::config_providers::ConfigProviders,
    snapshot: &ConfigSnapshot,
    node_id: &str,
) {
    let mut owned: Vec<OwnedConnector> = Vec::new();
    if let Some(assignment) = &snapshot.assignment {
        for (name, config) in &snapshot.connectors {
            let here = assignment
                .connectors
                .get(name)
                .is_some_and(|owner| owner == node_id);
            if !here || snapshot.target_state(name) == TargetState::Stopped {
                continue;
            }
            let Ok(resolved) = providers.resolve(config) else {
                continue;
            };
            if let Some(factory) = registry.find_for_config(&resolved) {
                owned.push((factory, name.clone(), resolved));
            }
        }
    }
    for factory in registry.factories() {
        let mine: BTreeMap<String, BTreeMap<String, String>> = owned
            .iter()
            .filter(|(owner, _, _)| Arc::ptr_eq(owner, &factory))
            .map(|(_, name, config)| (name.clone(), config.clone()))
            .collect();
        factory.assign_connectors(&mine);
    }
}

/// Stops every connector instance this worker runs (shutdown, or no quorum).
pub(crate) fn stop_connector_instances(registry: &ConnectorRegistry) {
    for factory in registry.factories() {
        factory.assign_connectors(&BTreeMap::new());
    }
}

/// Splits a plugin task config into the task's own keys and its connector's config.
pub(crate) fn split_task_config(
    config: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut task = BTreeMap::new();
    let mut connector = BTreeMap::new();
    for (key, value) in config {
        match key.strip_prefix(CONNECTOR_CONFIG_PREFIX) {
            Some(connector_key) => {
                connector.insert(connector_key.to_string(), value.clone());
            }
            None => {
                task.insert(key.clone(), value.clone());
            }
        }
    }
    (task, connector)
}

/// The worker properties a plugin needs: `key.converter`, `value.converter`,
/// `header.converter` and their sub-keys for converters, and `exactly.once.source.support` (a
/// source task's context has a `TransactionContext` when the connector defines transactions).
pub(crate) fn converter_worker_props(
    worker_props: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    worker_props
        .iter()
        .filter(|(key, _)| {
            key.as_str() == ferry_connectors::sdk::framework::ExactlyOnceSourceSupport::KEY
                || ["key.converter", "value.converter", "header.converter"]
                    .iter()
                    .any(|prefix| key.starts_with(prefix))
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Maps a plugin's error to the SDK's kinds (user errors are not retried).
pub(crate) fn plugin_error(
    error: &ferry_plugin::proto::PluginError,
) -> ferry_connectors::sdk::ConnectorError {
    use ferry_connectors::sdk::ConnectorError;
    use ferry_plugin::proto::ErrorKind;
    match error.kind() {
        ErrorKind::User => ConnectorError::user(error.message.clone()),
        ErrorKind::External => ConnectorError::external(error.message.clone()),
        ErrorKind::Internal | ErrorKind::Unspecified => {
            ConnectorError::internal(error.message.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_configs_split_into_task_and_connector_keys() {
        let config: BTreeMap<String, String> = [
            ("file", "/tmp/a"),
            ("ferry.connector.value.converter", "StringConverter"),
            ("connector.class", "FileStreamSource"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        let (task, connector) = split_task_config(&config);
        assert_eq!(task.len(), 2);
        assert_eq!(connector["value.converter"], "StringConverter");
    }
}
