//! The config store: connector configs, generated task configs and target states in the config
//! topic, in Kafka Connect's key and value formats (so Ferry can adopt a Kafka Connect cluster's
//! topic and the other way round).
//!
//! | key | value |
//! |---|---|
//! | `connector-<name>` | `{"properties":{...}}` (tombstone = deleted) |
//! | `task-<name>-<n>` | `{"properties":{...}}`, buffered until the matching commit |
//! | `commit-<name>` | `{"tasks":N}`: the preceding N task configs become current |
//! | `target-state-<name>` | `{"state":"PAUSED","state.v2":"STOPPED"}` |
//! | `tasks-fencing-<name>` | `{"task-count":N}`: KIP-618, the exactly-once source generation whose older generations' producers are fenced |
//! | `ferry-assignment` | Ferry's: the leader's latest task assignment |
//! | `session-key` | `{"key","algorithm","creation-timestamp"}`: KIP-507, see [`super::session_key`] |
//! | `ferry-leader-lease` | written by older Ferry versions (the leader lease, now in the lease topic, see [`super::lease`]): ignored |

use std::collections::BTreeMap;
use std::sync::Arc;

use std::time::Duration;

use ferry_connectors::sdk::TaskConfig;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::log::{LogRecord, TopicLog};
use super::session_key::{SessionKey, SESSION_KEY_KEY};
use crate::error::StoreError;
use crate::leader::assignment::Assignment;

const CONNECTOR_PREFIX: &str = "connector-";
const TASK_PREFIX: &str = "task-";
const COMMIT_PREFIX: &str = "commit-";
const TARGET_STATE_PREFIX: &str = "target-state-";
/// Kafka Connect's task-count record (KIP-618): the leader writes it once it has fenced the
/// transactional producers of an exactly-once source connector's previous task generation.
const TASK_COUNT_PREFIX: &str = "tasks-fencing-";
/// Ferry's own record: the leader's latest task assignment (Kafka Connect ignores `ferry-` keys).
const ASSIGNMENT_KEY: &str = "ferry-assignment";
/// Older Ferry versions' leader lease record; it now lives in the lease topic, and a record left
/// in the config topic is skipped.
const OLD_LEASE_KEY: &str = "ferry-leader-lease";

/// What the user asked a connector to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

impl TargetState {
    /// Parses `RUNNING`/`STARTED`, `PAUSED`, `STOPPED` in any case (`initial_state` on create).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "RUNNING" | "STARTED" => Some(TargetState::Started),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }

    fn record_value(self) -> serde_json::Value {
        match self {
            TargetState::Started => json!({"state": "STARTED"}),
            TargetState::Paused => json!({"state": "PAUSED"}),
            // `state` falls back to PAUSED so that workers that predate STOPPED stay safe.
            TargetState::Stopped => json!({"state": "PAUSED", "state.v2": "STOPPED"}),
        }
    }

    fn from_record_value(value: &serde_json::Value) -> Option<Self> {
        let state = value
            .get("state.v2")
            .or_else(|| value.get("state"))?
            .as_str()?;
        match state {
            "STARTED" => Some(TargetState::Started),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }
}

/// Everything the config topic says, as of `offset`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSnapshot {
    /// Number of records applied (a version counter for change detection).
    pub version: u64,
    pub connectors: BTreeMap<String, BTreeMap<String, String>>,
    /// Committed task configs per connector, in task order.
    pub tasks: BTreeMap<String, Vec<TaskConfig>>,
    pub target_states: BTreeMap<String, TargetState>,
    /// The latest assignment a leader published (the highest epoch seen).
    pub assignment: Option<Assignment>,
    /// The latest task-count record (`tasks-fencing-<name>`) per connector: the size of the
    /// task generation started after the previous generations' producers were fenced.
    pub task_count_records: BTreeMap<String, u32>,
    /// Task configs written but not yet committed.
    pending_tasks: BTreeMap<String, BTreeMap<u32, TaskConfig>>,
}

impl ConfigSnapshot {
    /// Returns the target state of a connector (STARTED unless set).
    pub fn target_state(&self, connector: &str) -> TargetState {
        self.target_states
            .get(connector)
            .copied()
            .unwrap_or(TargetState::Started)
    }

    /// Returns true when the connector exists.
    pub fn contains(&self, connector: &str) -> bool {
        self.connectors.contains_key(connector)
    }

    /// Returns the number of committed tasks of a connector.
    pub fn task_count(&self, connector: &str) -> usize {
        self.tasks.get(connector).map_or(0, Vec::len)
    }

    fn apply(&mut self, key: &str, value: Option<&serde_json::Value>) {
        self.version += 1;
        if key == ASSIGNMENT_KEY {
            let Some(assignment) =
                value.and_then(|v| serde_json::from_value::<Assignment>(v.clone()).ok())
            else {
                return;
            };
            // Workers ignore anything older than what they applied.
            if self
                .assignment
                .as_ref()
                .is_none_or(|current| assignment.epoch >= current.epoch)
            {
                self.assignment = Some(assignment);
            }
        } else if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
            match value.and_then(properties_of) {
                Some(properties) => {
                    self.connectors.insert(name.to_string(), properties);
                }
                None => {
                    self.connectors.remove(name);
                    self.tasks.remove(name);
                    self.pending_tasks.remove(name);
                    self.target_states.remove(name);
                    self.task_count_records.remove(name);
                }
            }
        } else if let Some(name) = key.strip_prefix(TASK_COUNT_PREFIX) {
            match value
                .and_then(|v| v.get("task-count"))
                .and_then(serde_json::Value::as_u64)
                .and_then(|count| u32::try_from(count).ok())
            {
                Some(count) => {
                    self.task_count_records.insert(name.to_string(), count);
                }
                None => {
                    self.task_count_records.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix(TARGET_STATE_PREFIX) {
            match value.and_then(TargetState::from_record_value) {
                Some(state) => {
                    self.target_states.insert(rest.to_string(), state);
                }
                None => {
                    self.target_states.remove(rest);
                }
            }
        } else if let Some(rest) = key.strip_prefix(TASK_PREFIX) {
            let Some((name, index)) = rest.rsplit_once('-') else {
                return;
            };
            let (Ok(index), Some(properties)) =
                (index.parse::<u32>(), value.and_then(properties_of))
            else {
                return;
            };
            self.pending_tasks
                .entry(name.to_string())
                .or_default()
                .insert(index, properties);
        } else if let Some(name) = key.strip_prefix(COMMIT_PREFIX) {
            let Some(count) = value
                .and_then(|v| v.get("tasks"))
                .and_then(serde_json::Value::as_u64)
            else {
                return;
            };
            let pending = self.pending_tasks.remove(name).unwrap_or_default();
            let mut committed = Vec::new();
            for index in 0..count {
                match u32::try_from(index)
                    .ok()
                    .and_then(|index| pending.get(&index))
                {
                    Some(config) => committed.push(config.clone()),
                    None => {
                        // Kafka Connect flags such a connector as inconsistent and regenerates
                        // its tasks; an empty set makes the leader do the same.
                        tracing::warn!(connector = %name, count, "task configs missing for commit, will regenerate");
                        committed.clear();
                        break;
                    }
                }
            }
            self.tasks.insert(name.to_string(), committed);
        }
    }
}

fn properties_of(value: &serde_json::Value) -> Option<BTreeMap<String, String>> {
    let properties = value.get("properties")?.as_object()?;
    Some(
        properties
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect(),
    )
}

/// The leader's transactional writer for the config topic. Initialising it (with the cluster's
/// fixed `transactional.id`) fences every older leader's writer: their next write fails and they
/// step down.
pub struct LeaderWriter {
    producer: FutureProducer,
}

impl LeaderWriter {
    /// Creates the writer and initialises its transactions, fencing older leaders.
    ///
    /// # Errors
    /// Fails when the producer cannot be created or Kafka refuses the transactional id.
    pub async fn fence_older_leaders(
        client_config: &ClientConfig,
        transactional_id: &str,
    ) -> Result<Self, StoreError> {
        let producer: FutureProducer = client_config
            .clone()
            .set("transactional.id", transactional_id)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()
            .map_err(|error| {
                StoreError::kafka("(config)", "create transactional producer", &error)
            })?;
        let initialising = producer.clone();
        tokio::task::spawn_blocking(move || initialising.init_transactions(TXN_TIMEOUT))
            .await
            .map_err(|error| StoreError::Internal(error.to_string()))?
            .map_err(|error| classify_txn_error("initialise transactions", &error))?;
        Ok(LeaderWriter { producer })
    }
}

const TXN_TIMEOUT: Duration = Duration::from_secs(30);

fn classify_txn_error(operation: &str, error: &KafkaError) -> StoreError {
    let fenced = match error {
        KafkaError::Transaction(rd_error) => {
            rd_error.is_fatal()
                || matches!(
                    rd_error.code(),
                    RDKafkaErrorCode::Fenced
                        | RDKafkaErrorCode::ProducerFenced
                        | RDKafkaErrorCode::InvalidProducerEpoch
                )
        }
        other => matches!(
            other.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
            )
        ),
    };
    if fenced {
        StoreError::Fenced(format!("{operation}: {error}"))
    } else {
        StoreError::Kafka {
            topic: "(config)".to_string(),
            operation: operation.to_string(),
            message: error.to_string(),
        }
    }
}

/// Writes `records` to `log`'s topic in one transaction of the leader's writer, and waits until
/// they are applied locally.
///
/// # Errors
/// [`StoreError::Fenced`] when a newer leader took over.
pub(crate) async fn write_in_transaction(
    writer: &LeaderWriter,
    log: &TopicLog,
    records: Vec<(String, Option<serde_json::Value>)>,
) -> Result<(), StoreError> {
    writer
        .producer
        .begin_transaction()
        .map_err(|error| classify_txn_error("begin transaction", &error))?;
    let mut last = None;
    for (key, value) in records {
        let bytes_opt = match value {
            Some(value) => Some(
                serde_json::to_vec(&value)
                    .map_err(|error| StoreError::Internal(error.to_string()))?,
            ),
            None => None,
        };
        let mut record: FutureRecord<'_, str, [u8]> =
            FutureRecord::to(log.topic()).key(key.as_str());
        if let Some(bytes) = &bytes_opt {
            record = record.payload(bytes.as_slice());
        }
        match writer.producer.send(record, TXN_TIMEOUT).await {
            Ok(delivery) => last = Some((delivery.partition, delivery.offset)),
            Err((error, _)) => {
                let classified = classify_txn_error("write", &error);
                let _ = writer.producer.abort_transaction(TXN_TIMEOUT);
                return Err(classified);
            }
        }
    }
    let committing = writer.producer.clone();
    tokio::task::spawn_blocking(move || committing.commit_transaction(TXN_TIMEOUT))
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))?
        .map_err(|error| classify_txn_error("commit transaction", &error))?;
    if let Some((partition, offset)) = last {
        log.wait_applied(&BTreeMap::from([(partition, offset + 1)]))
            .await?;
    }
    Ok(())
}

/// The config store.
pub struct ConfigStore {
    log: TopicLog,
    snapshot_rx: watch::Receiver<Arc<ConfigSnapshot>>,
    session_key_rx: watch::Receiver<Option<SessionKey>>,
}

impl ConfigStore {
    /// Starts reading the config topic and waits until it is read to the end.
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn start(
        client_config: &ClientConfig,
        topic: &str,
        stop: CancellationToken,
    ) -> Result<Self, StoreError> {
        let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(ConfigSnapshot::default()));
        let (session_key_tx, session_key_rx) = watch::channel(None);
        let mut snapshot = ConfigSnapshot::default();
        let apply = Box::new(move |record: &LogRecord<'_>| {
            let Some(key) = record.key.and_then(|key| std::str::from_utf8(key).ok()) else {
                return;
            };
            let value: Option<serde_json::Value> = record
                .value
                .and_then(|bytes| serde_json::from_slice(bytes).ok());
            if key == OLD_LEASE_KEY {
                return;
            }
            if key == SESSION_KEY_KEY {
                if let Some(session_key) = value.as_ref().and_then(SessionKey::from_record_value) {
                    session_key_tx.send_replace(Some(session_key));
                }
                return;
            }
            snapshot.apply(key, value.as_ref());
            snapshot_tx.send_replace(Arc::new(snapshot.clone()));
        });
        let log = TopicLog::start(client_config, topic, apply, stop).await?;
        log.read_to_end().await?;
        Ok(ConfigStore {
            log,
            snapshot_rx,
            session_key_rx,
        })
    }

    /// Returns a receiver of the latest session key read from the config topic.
    pub fn session_key(&self) -> watch::Receiver<Option<SessionKey>> {
        self.session_key_rx.clone()
    }

    /// Writes a new session key (the leader's job); returns once it is durable and applied here.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_session_key(&self, session_key: &SessionKey) -> Result<(), StoreError> {
        self.write(SESSION_KEY_KEY, Some(&session_key.record_value()))
            .await
    }

    /// Returns the current snapshot.
    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        Arc::clone(&self.snapshot_rx.borrow())
    }

    /// Returns a receiver that sees every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ConfigSnapshot>> {
        self.snapshot_rx.clone()
    }

    /// Waits until everything written so far is applied (a fresh read).
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn refresh(&self) -> Result<Arc<ConfigSnapshot>, StoreError> {
        self.log.read_to_end().await?;
        Ok(self.snapshot())
    }

    /// Writes a connector config; returns once it is durable and applied locally.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_connector_config(
        &self,
        name: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let value = json!({ "properties": config });
        self.write(&format!("{CONNECTOR_PREFIX}{name}"), Some(&value))
            .await
    }

    /// Deletes a connector (tombstones its config and target state).
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn delete_connector(&self, name: &str) -> Result<(), StoreError> {
        self.write(&format!("{CONNECTOR_PREFIX}{name}"), None)
            .await?;
        self.write(&format!("{TARGET_STATE_PREFIX}{name}"), None)
            .await
    }

    /// Writes a target state.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_target_state(&self, name: &str, state: TargetState) -> Result<(), StoreError> {
        self.write(
            &format!("{TARGET_STATE_PREFIX}{name}"),
            Some(&state.record_value()),
        )
        .await
    }

    /// Writes task configs followed by the commit record that makes them current.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the writes.
    pub async fn put_task_configs(
        &self,
        name: &str,
        task_configs: &[TaskConfig],
    ) -> Result<(), StoreError> {
        for (index, config) in task_configs.iter().enumerate() {
            let value = json!({ "properties": config });
            let bytes = serde_json::to_vec(&value)
                .map_err(|error| StoreError::Internal(error.to_string()))?;
            self.log
                .send_no_wait(&format!("{TASK_PREFIX}{name}-{index}"), Some(&bytes))
                .await?;
        }
        self.write(
            &format!("{COMMIT_PREFIX}{name}"),
            Some(&json!({ "tasks": task_configs.len() })),
        )
        .await
    }

    /// Writes task configs and their commit record in one transaction of the leader's writer
    /// (or plainly when `writer_opt` is `None`: the embedded cluster, which mis-handles
    /// transactions). With `fenced_generation`, the commit is followed (in the same
    /// transaction) by the task-count record `tasks-fencing-<name>` `{"task-count": N}`: the
    /// caller fenced the previous generation's transactional producers.
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when a newer leader took over.
    pub async fn put_task_configs_as_leader(
        &self,
        writer_opt: Option<&LeaderWriter>,
        name: &str,
        task_configs: &[TaskConfig],
        fenced_generation: bool,
    ) -> Result<(), StoreError> {
        let task_count_record = (
            format!("{TASK_COUNT_PREFIX}{name}"),
            json!({ "task-count": task_configs.len() }),
        );
        let Some(writer) = writer_opt else {
            self.put_task_configs(name, task_configs).await?;
            if fenced_generation {
                let (key, value) = task_count_record;
                self.write(&key, Some(&value)).await?;
            }
            return Ok(());
        };
        let mut records = Vec::new();
        for (index, config) in task_configs.iter().enumerate() {
            records.push((
                format!("{TASK_PREFIX}{name}-{index}"),
                json!({ "properties": config }),
            ));
        }
        records.push((
            format!("{COMMIT_PREFIX}{name}"),
            json!({ "tasks": task_configs.len() }),
        ));
        if fenced_generation {
            records.push(task_count_record);
        }
        let records = records
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect();
        self.write_transaction(writer, records).await
    }

    /// Publishes an assignment in a transaction of the leader's writer (plainly without one).
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when a newer leader took over.
    pub async fn put_assignment_as_leader(
        &self,
        writer_opt: Option<&LeaderWriter>,
        assignment: &Assignment,
    ) -> Result<(), StoreError> {
        let Some(writer) = writer_opt else {
            return self.put_assignment(assignment).await;
        };
        let value = serde_json::to_value(assignment)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        self.write_transaction(writer, vec![(ASSIGNMENT_KEY.to_string(), Some(value))])
            .await
    }

    async fn write_transaction(
        &self,
        writer: &LeaderWriter,
        records: Vec<(String, Option<serde_json::Value>)>,
    ) -> Result<(), StoreError> {
        write_in_transaction(writer, &self.log, records).await
    }

    /// Publishes an assignment (the leader's job).
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_assignment(&self, assignment: &Assignment) -> Result<(), StoreError> {
        let value = serde_json::to_value(assignment)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        self.write(ASSIGNMENT_KEY, Some(&value)).await
    }

    async fn write(&self, key: &str, value: Option<&serde_json::Value>) -> Result<(), StoreError> {
        let bytes = match value {
            Some(value) => Some(
                serde_json::to_vec(value)
                    .map_err(|error| StoreError::Internal(error.to_string()))?,
            ),
            None => None,
        };
        self.log.send(key, bytes.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(snapshot: &mut ConfigSnapshot, key: &str, value: Option<serde_json::Value>) {
        snapshot.apply(key, value.as_ref());
    }

    #[test]
    fn reads_kafka_connect_records() {
        let mut snapshot = ConfigSnapshot::default();
        apply(
            &mut snapshot,
            "connector-my-conn",
            Some(json!({"properties": {"tasks.max": "2", "file": "/x"}})),
        );
        apply(
            &mut snapshot,
            "task-my-conn-0",
            Some(json!({"properties": {"file": "/x", "task.id": "0"}})),
        );
        apply(
            &mut snapshot,
            "task-my-conn-1",
            Some(json!({"properties": {"file": "/x", "task.id": "1"}})),
        );
        assert_eq!(
            snapshot.task_count("my-conn"),
            0,
            "tasks are buffered until the commit"
        );
        apply(&mut snapshot, "commit-my-conn", Some(json!({"tasks": 2})));
        assert_eq!(snapshot.task_count("my-conn"), 2);
        assert_eq!(snapshot.tasks["my-conn"][1]["task.id"], "1");
        apply(
            &mut snapshot,
            "target-state-my-conn",
            Some(json!({"state": "PAUSED", "state.v2": "STOPPED"})),
        );
        assert_eq!(snapshot.target_state("my-conn"), TargetState::Stopped);
        apply(&mut snapshot, "connector-my-conn", None);
        assert!(!snapshot.contains("my-conn"));
        assert_eq!(snapshot.task_count("my-conn"), 0);
    }

    #[test]
    fn an_old_leader_lease_record_in_the_config_topic_changes_nothing() {
        let mut snapshot = ConfigSnapshot::default();
        apply(
            &mut snapshot,
            "connector-c",
            Some(json!({"properties": {"tasks.max": "1"}})),
        );
        let before = snapshot.clone();
        // The store skips the key before the snapshot sees it; the snapshot ignores it too.
        apply(
            &mut snapshot,
            OLD_LEASE_KEY,
            Some(json!({"node_id": "old-leader"})),
        );
        apply(&mut snapshot, OLD_LEASE_KEY, None);
        assert_eq!(snapshot.connectors, before.connectors);
        assert_eq!(snapshot.assignment, before.assignment);
    }

    #[test]
    fn older_assignments_are_ignored() {
        let mut snapshot = ConfigSnapshot::default();
        let newer = Assignment {
            epoch: 5,
            ..Assignment::default()
        };
        let older = Assignment {
            epoch: 4,
            ..Assignment::default()
        };
        apply(
            &mut snapshot,
            "ferry-assignment",
            Some(serde_json::to_value(&newer).unwrap()),
        );
        apply(
            &mut snapshot,
            "ferry-assignment",
            Some(serde_json::to_value(&older).unwrap()),
        );
        assert_eq!(snapshot.assignment.as_ref().map(|a| a.epoch), Some(5));
    }

    #[test]
    fn a_commit_with_missing_task_configs_leaves_no_tasks() {
        let mut snapshot = ConfigSnapshot::default();
        apply(
            &mut snapshot,
            "connector-c",
            Some(json!({"properties": {}})),
        );
        apply(&mut snapshot, "task-c-0", Some(json!({"properties": {}})));
        apply(&mut snapshot, "commit-c", Some(json!({"tasks": 2})));
        assert_eq!(snapshot.task_count("c"), 0);
    }

    #[test]
    fn target_states_round_trip_in_kafka_connect_format() {
        for state in [
            TargetState::Started,
            TargetState::Paused,
            TargetState::Stopped,
        ] {
            assert_eq!(
                TargetState::from_record_value(&state.record_value()),
                Some(state)
            );
        }
        assert_eq!(
            TargetState::from_record_value(&json!({"state": "PAUSED"})),
            Some(TargetState::Paused)
        );
        assert_eq!(TargetState::parse("running"), Some(TargetState::Started));
        assert_eq!(TargetState::parse("bogus"), None);
    }

    #[test]
    fn reads_a_kafka_connect_config_topic_and_skips_the_records_it_does_not_use() {
        // As Kafka Connect 4.3.1 wrote them (tests/tests/migration.rs runs the real thing).
        let records = [
            (
                "session-key",
                json!({"key": "7BPx8A7Kce74E60yIVjufN+TPjOKwvERdsPq+N/90js=",
                "algorithm": "HmacSHA256", "creation-timestamp": 1_796_220_148_425_i64}),
            ),
            (
                "connector-mig-src",
                json!({"properties": {"connector.class": "FileStreamSource",
                "file": "/tmp/in.txt", "topic": "lines", "name": "mig-src"}}),
            ),
            (
                "task-mig-src-0",
                json!({"properties": {"connector.class": "FileStreamSource",
                "name": "mig-src", "topic": "lines", "file": "/tmp/in.txt",
                "task.class": "org.apache.kafka.connect.file.FileStreamSourceTask"}}),
            ),
            ("commit-mig-src", json!({"tasks": 1})),
            ("tasks-fencing-mig-src", json!({"task-count": 1})),
            (
                "restart-connector-mig-src",
                json!({"include-tasks": true, "only-failed": false}),
            ),
            ("logger-cluster-org.apache.kafka", json!({"level": "DEBUG"})),
            ("target-state-mig-src", json!({"state": "PAUSED"})),
        ];
        let mut snapshot = ConfigSnapshot::default();
        for (key, value) in records {
            apply(&mut snapshot, key, Some(value));
        }
        assert_eq!(snapshot.connectors.keys().collect::<Vec<_>>(), ["mig-src"]);
        assert_eq!(snapshot.task_count("mig-src"), 1);
        assert_eq!(
            snapshot.tasks["mig-src"][0]["task.class"],
            "org.apache.kafka.connect.file.FileStreamSourceTask"
        );
        assert_eq!(snapshot.target_state("mig-src"), TargetState::Paused);
        assert!(snapshot.assignment.is_none());
        assert_eq!(snapshot.task_count_records["mig-src"], 1);
        apply(&mut snapshot, "connector-mig-src", None);
        assert!(snapshot.task_count_records.is_empty());
    }
}
