//! Conversions between the facade's types and the generated protobuf messages. This is the only
//! place that knows both; the facade's types never derive prost.

use std::collections::{BTreeMap, HashMap};

use ferry_connectors::validation::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo};
use serde_json::{Map as JsonMap, Value as JsonValue};

use super::proto;
use crate::error::ServiceError;
use crate::service::types::{
    ConnectorInfo, ConnectorOffset, ConnectorOffsets, ConnectorStateInfo, CreateConnector,
    InstanceState, PluginInfo, TaskId, TaskInfo, TaskState,
};
use crate::service::ServerInfo;

/// Config key that names the connector (Kafka Connect's `name`).
const NAME_KEY: &str = "name";

pub(super) fn config_from_proto(config: HashMap<String, String>) -> BTreeMap<String, String> {
    config.into_iter().collect()
}

fn config_to_proto(config: BTreeMap<String, String>) -> HashMap<String, String> {
    config.into_iter().collect()
}

impl TryFrom<proto::CreateConnectorRequest> for CreateConnector {
    type Error = ServiceError;

    /// Takes the name from `config["name"]` when the request leaves it empty, as Kafka Connect does;
    /// an empty `initial_state` means RUNNING.
    fn try_from(request: proto::CreateConnectorRequest) -> Result<Self, Self::Error> {
        let config = config_from_proto(request.config);
        let name = if request.name.is_empty() {
            config.get(NAME_KEY).cloned().ok_or_else(|| {
                ServiceError::InvalidArgument("Connector name is required: set \"name\"".into())
            })?
        } else {
            request.name
        };
        let initial_state_opt = Some(request.initial_state).filter(|state| !state.is_empty());
        Ok(CreateConnector {
            name,
            config,
            initial_state: initial_state_opt,
        })
    }
}

/// Turns `set` and `delete_keys` into the facade's patch (`None` deletes a key).
///
/// # Errors
/// `InvalidArgument` when a key is both set and deleted.
pub(super) fn config_patch_from_proto(
    set: HashMap<String, String>,
    delete_keys: Vec<String>,
) -> Result<BTreeMap<String, Option<String>>, ServiceError> {
    let mut patch: BTreeMap<String, Option<String>> = set
        .into_iter()
        .map(|(key, value)| (key, Some(value)))
        .collect();
    for key in delete_keys {
        if patch.contains_key(&key) {
            return Err(ServiceError::InvalidArgument(format!(
                "Config key `{key}` is both set and deleted"
            )));
        }
        patch.insert(key, None);
    }
    Ok(patch)
}

impl From<ServerInfo> for proto::ServerInfo {
    fn from(info: ServerInfo) -> Self {
        proto::ServerInfo {
            version: info.version,
            commit: info.commit,
            kafka_cluster_id: info.kafka_cluster_id.unwrap_or_default(),
        }
    }
}

impl From<TaskId> for proto::TaskId {
    fn from(id: TaskId) -> Self {
        proto::TaskId {
            connector: id.connector,
            task: id.task,
        }
    }
}

impl From<ConnectorInfo> for proto::ConnectorInfo {
    fn from(info: ConnectorInfo) -> Self {
        proto::ConnectorInfo {
            name: info.name,
            config: config_to_proto(info.config),
            tasks: info.tasks.into_iter().map(Into::into).collect(),
            r#type: info.connector_type,
        }
    }
}

impl From<InstanceState> for proto::ConnectorState {
    fn from(state: InstanceState) -> Self {
        proto::ConnectorState {
            state: state.state,
            worker_id: state.worker_id,
            trace: state.trace,
            version: state.version,
        }
    }
}

impl From<TaskState> for proto::TaskState {
    fn from(state: TaskState) -> Self {
        proto::TaskState {
            id: state.id,
            state: state.state,
            worker_id: state.worker_id,
            trace: state.trace,
            restarts: state.restarts,
            last_error: state.last_error,
            version: state.version,
            retries: state.retries,
        }
    }
}

impl From<ConnectorStateInfo> for proto::ConnectorStatus {
    fn from(status: ConnectorStateInfo) -> Self {
        proto::ConnectorStatus {
            name: status.name,
            connector: Some(status.connector.into()),
            tasks: status.tasks.into_iter().map(Into::into).collect(),
            r#type: status.connector_type,
        }
    }
}

impl From<TaskInfo> for proto::TaskInfo {
    fn from(info: TaskInfo) -> Self {
        proto::TaskInfo {
            id: Some(info.id.into()),
            config: config_to_proto(info.config),
        }
    }
}

impl From<ConnectorOffset> for proto::ConnectorOffset {
    fn from(entry: ConnectorOffset) -> Self {
        proto::ConnectorOffset {
            partition: Some(struct_from_json(entry.partition)),
            offset: entry.offset.map(struct_from_json),
        }
    }
}

impl From<ConnectorOffsets> for proto::ConnectorOffsets {
    fn from(offsets: ConnectorOffsets) -> Self {
        proto::ConnectorOffsets {
            offsets: offsets.offsets.into_iter().map(Into::into).collect(),
        }
    }
}

fn struct_from_json(object: JsonMap<String, JsonValue>) -> prost_types::Struct {
    prost_types::Struct {
        fields: object
            .into_iter()
            .map(|(key, value)| (key, value_from_json(value)))
            .collect(),
    }
}

/// JSON → `google.protobuf.Value`. Numbers become doubles, as in proto3's JSON mapping.
fn value_from_json(value: JsonValue) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        JsonValue::Null => Kind::NullValue(prost_types::NullValue::NullValue.into()),
        JsonValue::Bool(flag) => Kind::BoolValue(flag),
        JsonValue::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or_default()),
        JsonValue::String(text) => Kind::StringValue(text),
        JsonValue::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(value_from_json).collect(),
        }),
        JsonValue::Object(object) => Kind::StructValue(struct_from_json(object)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// `google.protobuf.Struct` → JSON. Whole numbers become JSON integers (offsets such as
/// `{"position": 6}` must stay integers).
pub(crate) fn json_from_struct(object: prost_types::Struct) -> JsonMap<String, JsonValue> {
    object
        .fields
        .into_iter()
        .map(|(key, value)| (key, json_from_value(value)))
        .collect()
}

fn json_from_value(value: prost_types::Value) -> JsonValue {
    use prost_types::value::Kind;
    match value.kind {
        None | Some(Kind::NullValue(_)) => JsonValue::Null,
        Some(Kind::BoolValue(flag)) => JsonValue::Bool(flag),
        Some(Kind::NumberValue(number)) => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let integral = number.fract() == 0.0 && number.abs() < 9.0e15;
            if integral {
                #[allow(clippy::cast_possible_truncation)]
                JsonValue::from(number as i64)
            } else {
                serde_json::Number::from_f64(number).map_or(JsonValue::Null, JsonValue::Number)
            }
        }
        Some(Kind::StringValue(text)) => JsonValue::String(text),
        Some(Kind::ListValue(list)) => {
            JsonValue::Array(list.values.into_iter().map(json_from_value).collect())
        }
        Some(Kind::StructValue(object)) => JsonValue::Object(json_from_struct(object)),
    }
}

impl From<PluginInfo> for proto::PluginInfo {
    fn from(plugin: PluginInfo) -> Self {
        proto::PluginInfo {
            class: plugin.class,
            r#type: plugin.plugin_type,
            version: plugin.version,
        }
    }
}

impl From<ConfigKeyInfo> for proto::ConfigKeyInfo {
    fn from(key: ConfigKeyInfo) -> Self {
        proto::ConfigKeyInfo {
            name: key.name,
            r#type: key.config_type,
            required: key.required,
            default_value: key.default_value,
            importance: key.importance,
            documentation: key.documentation,
            group: key.group,
            order: key.order,
            width: key.width,
            display_name: key.display_name,
            dependents: key.dependents,
        }
    }
}

impl From<ConfigValueInfo> for proto::ConfigValueInfo {
    fn from(value: ConfigValueInfo) -> Self {
        proto::ConfigValueInfo {
            name: value.name,
            value: value.value,
            recommended_values: value.recommended_values,
            errors: value.errors,
            visible: value.visible,
        }
    }
}

impl From<ConfigInfo> for proto::ConfigInfo {
    fn from(info: ConfigInfo) -> Self {
        proto::ConfigInfo {
            definition: Some(info.definition.into()),
            value: Some(info.value.into()),
        }
    }
}

impl From<ConfigInfos> for proto::ValidateConfigResponse {
    fn from(infos: ConfigInfos) -> Self {
        proto::ValidateConfigResponse {
            name: infos.name,
            error_count: u32::try_from(infos.error_count).unwrap_or(u32::MAX),
            groups: infos.groups,
            configs: infos.configs.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kafka_connect_file_is_a_create_request_and_the_name_may_come_from_the_config() {
        let request = proto::CreateConnectorRequest {
            name: String::new(),
            config: HashMap::from([
                ("name".to_string(), "c1".to_string()),
                ("connector.class".to_string(), "Datagen".to_string()),
            ]),
            initial_state: String::new(),
        };
        let create = CreateConnector::try_from(request).unwrap();
        assert_eq!(create.name, "c1");
        assert_eq!(create.initial_state, None);
        assert_eq!(create.config["connector.class"], "Datagen");

        let nameless = proto::CreateConnectorRequest::default();
        let error = CreateConnector::try_from(nameless).unwrap_err();
        assert!(
            matches!(error, ServiceError::InvalidArgument(_)),
            "{error:?}"
        );
    }

    #[test]
    fn a_patch_sets_and_deletes_but_not_the_same_key() {
        let patch = config_patch_from_proto(
            HashMap::from([("a".to_string(), "1".to_string())]),
            vec!["b".to_string()],
        )
        .unwrap();
        assert_eq!(
            patch,
            BTreeMap::from([
                ("a".to_string(), Some("1".to_string())),
                ("b".to_string(), None)
            ])
        );
        let error = config_patch_from_proto(
            HashMap::from([("a".to_string(), "1".to_string())]),
            vec!["a".to_string()],
        )
        .unwrap_err();
        assert!(error.to_string().contains("`a`"), "{error}");
    }

    #[test]
    fn offsets_become_structs_with_proto3_json_numbers() {
        let partition = serde_json::json!({"kafka_topic": "t", "kafka_partition": 2});
        let offset = serde_json::json!({"kafka_offset": 42});
        let entry = ConnectorOffset {
            partition: partition.as_object().unwrap().clone(),
            offset: Some(offset.as_object().unwrap().clone()),
        };
        let converted = proto::ConnectorOffset::from(entry);
        let partition = converted.partition.unwrap();
        assert_eq!(
            partition.fields["kafka_topic"].kind,
            Some(prost_types::value::Kind::StringValue("t".into()))
        );
        assert_eq!(
            converted.offset.unwrap().fields["kafka_offset"].kind,
            Some(prost_types::value::Kind::NumberValue(42.0))
        );
    }
}
