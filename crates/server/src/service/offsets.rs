//! Changing a connector's offsets (Kafka Connect's KIP-875): only while the connector is STOPPED.
//! Source offsets live in the offsets topic; sink offsets are the committed offsets of the
//! consumer group `connect-<name>`.

use std::time::Duration;

use ferry_actors::stores::TargetState;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};

use super::types::ConnectorOffset;
use super::ConnectService;
use crate::error::ServiceError;

const ALTERED: &str = "The offsets for this connector have been altered successfully";
const RESET: &str = "The offsets for this connector have been reset successfully";

impl ConnectService {
    async fn check_stopped(&self, name: &str) -> Result<bool, ServiceError> {
        let runtime = self.runtime()?;
        let snapshot = runtime
            .config_store
            .refresh()
            .await
            .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        let config = snapshot
            .connectors
            .get(name)
            .ok_or_else(|| ServiceError::NotFound(format!("Connector {name} not found")))?;
        if snapshot.target_state(name) != TargetState::Stopped || snapshot.task_count(name) > 0 {
            return Err(ServiceError::FailedPrecondition(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done \
                 for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        let is_sink = config
            .get(ferry_connectors::sdk::framework::keys::CONNECTOR_CLASS)
            .and_then(|class| self.registry().find(class))
            .is_some_and(|factory| {
                factory.connector_type() == ferry_connectors::sdk::ConnectorType::Sink
            });
        Ok(is_sink)
    }

    /// Alters offsets of a STOPPED connector (`offset: None` resets one partition).
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` unless STOPPED; `InvalidArgument` for an empty or
    /// malformed list.
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<String, ServiceError> {
        if offsets.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "The offsets to alter must not be empty".to_string(),
            ));
        }
        let is_sink = self.check_stopped(name).await?;
        let runtime = self.runtime()?;
        if is_sink {
            let mut list = rdkafka::TopicPartitionList::new();
            for entry in &offsets {
                let topic = entry
                    .partition
                    .get("kafka_topic")
                    .and_then(|value| value.as_str());
                let partition = entry
                    .partition
                    .get("kafka_partition")
                    .and_then(serde_json::Value::as_i64);
                let (Some(topic), Some(partition)) =
                    (topic, partition.and_then(|p| i32::try_from(p).ok()))
                else {
                    return Err(ServiceError::InvalidArgument(
                        "Sink connector offsets need a partition of the form {\"kafka_topic\": ..., \"kafka_partition\": ...}".to_string(),
                    ));
                };
                let Some(offset) = entry
                    .offset
                    .as_ref()
                    .and_then(|offset| offset.get("kafka_offset"))
                    .and_then(serde_json::Value::as_i64)
                else {
                    return Err(ServiceError::InvalidArgument(
                        "Sink connector offsets need an offset of the form {\"kafka_offset\": N}; resetting one partition is done with DELETE".to_string(),
                    ));
                };
                list.add_partition_offset(topic, partition, rdkafka::Offset::Offset(offset))
                    .map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
            }
            let client_config = runtime.connector_admin_config(name)?;
            let group = format!("connect-{name}");
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let consumer: BaseConsumer = client_config
                    .clone()
                    .set("group.id", &group)
                    .set("enable.auto.commit", "false")
                    .create()
                    .map_err(|error| error.to_string())?;
                consumer
                    .commit(&list, CommitMode::Sync)
                    .map_err(|error| error.to_string())
            })
            .await
            .map_err(|error| ServiceError::Internal(error.to_string()))?
            .map_err(ServiceError::Unavailable)?;
        } else {
            let entries: Vec<_> = offsets
                .into_iter()
                .map(|entry| (entry.partition, entry.offset))
                .collect();
            runtime
                .source_offsets(name)
                .await?
                .write(&entries)
                .await
                .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        }
        tracing::info!(connector = %name, "offsets altered");
        Ok(ALTERED.to_string())
    }

    /// Resets every offset of a STOPPED connector.
    ///
    /// # Errors
    /// `NotFound`; `FailedPrecondition` unless STOPPED.
    pub async fn reset_offsets(&self, name: &str) -> Result<String, ServiceError> {
        let is_sink = self.check_stopped(name).await?;
        let runtime = self.runtime()?;
        if is_sink {
            let admin: AdminClient<DefaultClientContext> = runtime
                .connector_admin_config(name)?
                .create()
                .map_err(|error| ServiceError::Internal(error.to_string()))?;
            let group = format!("connect-{name}");
            let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
            let results = admin
                .delete_groups(&[group.as_str()], &options)
                .await
                .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
            for result in results {
                if let Err((_, code)) = result {
                    if code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound {
                        return Err(ServiceError::FailedPrecondition(format!(
                            "Failed to reset the offsets of consumer group {group}: {code} (does it still have active members?)"
                        )));
                    }
                }
            }
        } else {
            let offsets = runtime.source_offsets(name).await?;
            let entries: Vec<_> = offsets
                .all()
                .into_iter()
                .map(|(partition, _)| (partition, None))
                .collect();
            offsets
                .write(&entries)
                .await
                .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        }
        tracing::info!(connector = %name, "offsets reset");
        Ok(RESET.to_string())
    }
}
