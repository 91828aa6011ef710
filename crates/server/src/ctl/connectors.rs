//! Connector commands: apply, get, describe, the state changes, restart and offsets.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ferry_connectors::sdk::is_secret_config_key;
use ferry_connectors::sdk::secret::HIDDEN;
use serde_json::Value as JsonValue;
use tonic::Code;

use super::views::{
    ActionView, ConnectorListView, ConnectorSummaryView, DescribeView, OffsetsView, RestartView,
    StatusView,
};
use super::{CtlError, Session};
use crate::grpc::proto;

/// The config key naming the connector's plugin.
const CONNECTOR_CLASS_KEY: &str = "connector.class";

/// A connector file: `{"name": "...", "config": {...}}` with every value as a string.
#[derive(Debug, PartialEq, Eq)]
struct ConnectorFile {
    name: String,
    config: HashMap<String, String>,
}

/// Reads a Kafka Connect connector file. Config values may be strings, numbers or booleans (as
/// people write them); they become strings, which is what the API takes.
fn read_connector_file(path: &Path) -> Result<ConnectorFile, CtlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| CtlError::Usage(format!("cannot read {}: {error}", path.display())))?;
    parse_connector_file(&text)
        .map_err(|message| CtlError::Usage(format!("{}: {message}", path.display())))
}

fn parse_connector_file(text: &str) -> Result<ConnectorFile, String> {
    let document: JsonValue =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let Some(object) = document.as_object() else {
        return Err("expected an object {\"name\": ..., \"config\": {...}}".to_string());
    };
    let Some(config_object) = object.get("config").and_then(JsonValue::as_object) else {
        return Err("expected a \"config\" object".to_string());
    };
    let mut config = HashMap::new();
    for (key, value) in config_object {
        let text = match value {
            JsonValue::String(text) => text.clone(),
            JsonValue::Number(number) => number.to_string(),
            JsonValue::Bool(flag) => flag.to_string(),
            JsonValue::Null | JsonValue::Array(_) | JsonValue::Object(_) => {
                return Err(format!(
                    "config value of `{key}` must be a string, number or boolean"
                ));
            }
        };
        config.insert(key.clone(), text);
    }
    let name = match object.get("name") {
        Some(JsonValue::String(name)) => name.clone(),
        Some(_) => return Err("\"name\" must be a string".to_string()),
        None => config.get("name").cloned().unwrap_or_default(),
    };
    if name.is_empty() {
        return Err("missing connector \"name\"".to_string());
    }
    Ok(ConnectorFile { name, config })
}

/// Creates the connector, or replaces its config when it exists (GetConnector decides).
pub(super) async fn apply(session: &Session, path: &Path) -> Result<(), CtlError> {
    let file = read_connector_file(path)?;
    let mut client = session.connector_client().await?;
    let existing = client
        .get_connector(proto::GetConnectorRequest {
            name: file.name.clone(),
        })
        .await;
    let action = match existing {
        Ok(_) => {
            client
                .put_connector_config(proto::PutConnectorConfigRequest {
                    name: file.name.clone(),
                    config: file.config,
                })
                .await?;
            "configured"
        }
        Err(status) if status.code() == Code::NotFound => {
            client
                .create_connector(proto::CreateConnectorRequest {
                    name: file.name.clone(),
                    config: file.config,
                    initial_state: String::new(),
                })
                .await?;
            "created"
        }
        Err(status) => return Err(status.into()),
    };
    session.print(&ActionView {
        name: file.name,
        action,
    });
    Ok(())
}

pub(super) async fn list_connectors(session: &Session) -> Result<(), CtlError> {
    let mut client = session.connector_client().await?;
    let response = client
        .list_connectors(proto::ListConnectorsRequest {
            expand_status: true,
            expand_info: false,
        })
        .await?
        .into_inner();
    let mut connectors = Vec::new();
    for expanded in response.connectors {
        let status = expanded.status.unwrap_or_else(|| proto::ConnectorStatus {
            name: expanded.name,
            ..Default::default()
        });
        connectors.push(ConnectorSummaryView::from(status));
    }
    connectors.sort_by(|left, right| left.name.cmp(&right.name));
    session.print(&ConnectorListView { connectors });
    Ok(())
}

pub(super) async fn describe(session: &Session, name: String) -> Result<(), CtlError> {
    let mut client = session.connector_client().await?;
    let status = client
        .get_connector_status(proto::GetConnectorStatusRequest { name: name.clone() })
        .await?
        .into_inner();
    let info = client
        .get_connector(proto::GetConnectorRequest { name })
        .await?
        .into_inner();
    // The API answers a connector's config as stored (as Kafka Connect's does); a view for
    // people never shows a secret.
    let config: BTreeMap<String, String> = info
        .config
        .into_iter()
        .map(|(key, value)| {
            let shown = if is_secret_config_key(&key) {
                HIDDEN.to_string()
            } else {
                value
            };
            (key, shown)
        })
        .collect();
    session.print(&DescribeView {
        status: StatusView::from(status),
        class: config.get(CONNECTOR_CLASS_KEY).cloned().unwrap_or_default(),
        config,
    });
    Ok(())
}

/// A change that takes only the connector's name and answers nothing.
#[derive(Debug, Clone, Copy)]
pub(super) enum StateChange {
    Delete,
    Pause,
    Resume,
    Stop,
}

pub(super) async fn change_state(
    session: &Session,
    name: String,
    change: StateChange,
) -> Result<(), CtlError> {
    let mut client = session.connector_client().await?;
    let action = match change {
        StateChange::Delete => {
            let request = proto::DeleteConnectorRequest { name: name.clone() };
            client.delete_connector(request).await?;
            "deleted"
        }
        StateChange::Pause => {
            let request = proto::PauseConnectorRequest { name: name.clone() };
            client.pause_connector(request).await?;
            "paused"
        }
        StateChange::Resume => {
            let request = proto::ResumeConnectorRequest { name: name.clone() };
            client.resume_connector(request).await?;
            "resumed"
        }
        StateChange::Stop => {
            let request = proto::StopConnectorRequest { name: name.clone() };
            client.stop_connector(request).await?;
            "stopped"
        }
    };
    session.print(&ActionView { name, action });
    Ok(())
}

pub(super) async fn restart(
    session: &Session,
    name: String,
    include_tasks: bool,
    only_failed: bool,
) -> Result<(), CtlError> {
    let mut client = session.connector_client().await?;
    let response = client
        .restart_connector(proto::RestartConnectorRequest {
            name: name.clone(),
            include_tasks,
            only_failed,
        })
        .await?
        .into_inner();
    session.print(&RestartView {
        name,
        action: "restarted",
        plan: response.plan.map(StatusView::from),
    });
    Ok(())
}

pub(super) async fn offsets(session: &Session, name: String) -> Result<(), CtlError> {
    let mut client = session.connector_client().await?;
    let offsets = client
        .get_offsets(proto::GetOffsetsRequest { name })
        .await?
        .into_inner();
    session.print(&OffsetsView::from(offsets));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_become_strings() {
        let file = parse_connector_file(
            r#"{"name": "gen", "config": {"connector.class": "Datagen", "tasks.max": 2,
                "ratio": 0.5, "enabled": true}}"#,
        )
        .unwrap();
        assert_eq!(file.name, "gen");
        assert_eq!(file.config["tasks.max"], "2");
        assert_eq!(file.config["ratio"], "0.5");
        assert_eq!(file.config["enabled"], "true");
        assert_eq!(file.config["connector.class"], "Datagen");
    }

    #[test]
    fn the_name_may_come_from_the_config() {
        let file = parse_connector_file(r#"{"config": {"name": "gen"}}"#).unwrap();
        assert_eq!(file.name, "gen");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let cases = [
            ("nope", "not valid JSON"),
            ("[]", "expected an object"),
            (r#"{"name": "gen"}"#, "\"config\""),
            (r#"{"config": {}}"#, "missing connector \"name\""),
            (r#"{"name": "gen", "config": {"x": null}}"#, "`x`"),
            (r#"{"name": "gen", "config": {"x": [1]}}"#, "`x`"),
        ];
        for (text, expected) in cases {
            let message = parse_connector_file(text).unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }
}
