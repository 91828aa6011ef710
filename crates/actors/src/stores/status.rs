//! The status store: connector and task states in the status topic, in Kafka Connect's format,
//! `status-connector-<name>` / `status-task-<name>-<n>` →
//! `{"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":N}`.
//!
//! Ferry adds fields Kafka Connect's readers ignore: `restarts`, `retries` (retriable failures
//! retried in place; a RUNNING task with a `trace` is retrying one now) and `last_error`.
//!
//! Every status the store applies (written by any worker, read back from the topic) is also
//! published as a [`StatusChange`] to [`StatusStore::subscribe`]rs.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rdkafka::config::ClientConfig;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::log::{LogRecord, TopicLog};
use crate::error::StoreError;

const CONNECTOR_PREFIX: &str = "status-connector-";
const TASK_PREFIX: &str = "status-task-";
/// Active topics (KIP-558): `status-topic-<topic>:connector-<name>`.
const TOPIC_PREFIX: &str = "status-topic-";
const TOPIC_CONNECTOR_SEPARATOR: &str = ":connector-";

/// How many [`StatusChange`]s a slow subscriber may lag behind before it misses some (it then
/// gets `RecvError::Lagged` and should re-read [`StatusStore::snapshot`]).
const CHANGES_CHANNEL_CAPACITY: usize = 1_024;

/// Observed state of a connector or task (Kafka Connect's `AbstractStatus.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
    Destroyed,
}

/// One status record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub retries: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Status {
    /// A status without trace or restarts.
    pub fn new(state: State, worker_id: &str, generation: i64) -> Self {
        Status {
            state,
            trace: None,
            worker_id: worker_id.to_string(),
            generation,
            restarts: 0,
            retries: 0,
            last_error: None,
        }
    }
}

/// One status applied by the store: a connector's (`task: None`) or a task's new status, `None`
/// when it was deleted (a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub connector: String,
    pub task: Option<u32>,
    pub status: Option<Status>,
}

/// Every status, as read from the topic.
#[derive(Debug, Clone, Default)]
pub struct StatusSnapshot {
    pub connectors: BTreeMap<String, Status>,
    pub tasks: BTreeMap<(String, u32), Status>,
    /// Topics each connector used since the last reset.
    pub topics: BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl StatusSnapshot {
    fn apply_topic(&mut self, key: &str, present: bool) {
        let Some(rest) = key.strip_prefix(TOPIC_PREFIX) else {
            return;
        };
        let Some((topic, connector)) = rest.split_once(TOPIC_CONNECTOR_SEPARATOR) else {
            return;
        };
        if present {
            self.topics
                .entry(connector.to_string())
                .or_default()
                .insert(topic.to_string());
        } else if let Some(topics) = self.topics.get_mut(connector) {
            topics.remove(topic);
        }
    }

    /// Applies one record; returns the change it made, or `None` when the key is not a status
    /// key or the record was ignored (a stale UNASSIGNED).
    fn apply(&mut self, key: &str, status_opt: Option<Status>) -> Option<StatusChange> {
        if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
            match &status_opt {
                Some(status) => {
                    self.connectors.insert(name.to_string(), status.clone());
                }
                None => {
                    self.connectors.remove(name);
                }
            }
            Some(StatusChange {
                connector: name.to_string(),
                task: None,
                status: status_opt,
            })
        } else if let Some(rest) = key.strip_prefix(TASK_PREFIX) {
            let (name, index) = rest.rsplit_once('-')?;
            let index = index.parse::<u32>().ok()?;
            let task_key = (name.to_string(), index);
            match &status_opt {
                Some(status) => {
                    // A stale UNASSIGNED from an older generation must not hide a newer state
                    // (KAFKA-12525).
                    if let Some(existing) = self.tasks.get(&task_key) {
                        if status.state == State::Unassigned
                            && status.generation < existing.generation
                        {
                            return None;
                        }
                    }
                    self.tasks.insert(task_key, status.clone());
                }
                None => {
                    self.tasks.remove(&task_key);
                }
            }
            Some(StatusChange {
                connector: name.to_string(),
                task: Some(index),
                status: status_opt,
            })
        } else {
            None
        }
    }

    /// Returns the task statuses of a connector, by task index.
    pub fn connector_tasks(&self, connector: &str) -> Vec<(u32, Status)> {
        self.tasks
            .range((connector.to_string(), 0)..=(connector.to_string(), u32::MAX))
            .map(|((_, index), status)| (*index, status.clone()))
            .collect()
    }
}

/// The status store.
pub struct StatusStore {
    log: TopicLog,
    snapshot: Arc<RwLock<StatusSnapshot>>,
    changes_tx: broadcast::Sender<StatusChange>,
}

impl StatusStore {
    /// Starts reading the status topic and waits until it is read to the end.
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn start(
        client_config: &ClientConfig,
        topic: &str,
        stop: CancellationToken,
    ) -> Result<Self, StoreError> {
        let snapshot: Arc<RwLock<StatusSnapshot>> = Arc::default();
        let writer = Arc::clone(&snapshot);
        let (changes_tx, _) = broadcast::channel(CHANGES_CHANNEL_CAPACITY);
        let publisher = changes_tx.clone();
        let apply = Box::new(move |record: &LogRecord<'_>| {
            let Some(key) = record.key.and_then(|key| std::str::from_utf8(key).ok()) else {
                return;
            };
            if key.starts_with(TOPIC_PREFIX) {
                writer
                    .write()
                    .expect("status lock is never poisoned")
                    .apply_topic(key, record.value.is_some());
                return;
            }
            let status_opt = record
                .value
                .and_then(|bytes| serde_json::from_slice::<Status>(bytes).ok());
            let mut snapshot = writer.write().expect("status lock is never poisoned");
            if let Some(change) = snapshot.apply(key, status_opt) {
                // Sent under the write lock, so subscribers get changes in the order they were
                // applied. An error only means that nobody listens.
                let _ = publisher.send(change);
            }
        });
        let log = TopicLog::start(client_config, topic, apply, stop).await?;
        log.read_to_end().await?;
        Ok(StatusStore {
            log,
            snapshot,
            changes_tx,
        })
    }

    /// Returns a receiver of every status applied from now on, in topic order per key.
    ///
    /// A receiver that lags more than 1024 changes gets `RecvError::Lagged`: it missed changes
    /// and should re-read [`StatusStore::snapshot`].
    pub fn subscribe(&self) -> broadcast::Receiver<StatusChange> {
        self.changes_tx.subscribe()
    }

    /// Returns a copy of every status.
    pub fn snapshot(&self) -> StatusSnapshot {
        self.snapshot
            .read()
            .expect("status lock is never poisoned")
            .clone()
    }

    /// Returns a connector's status.
    pub fn connector(&self, name: &str) -> Option<Status> {
        self.snapshot
            .read()
            .expect("status lock is never poisoned")
            .connectors
            .get(name)
            .cloned()
    }

    /// Returns a connector's task statuses.
    pub fn tasks(&self, name: &str) -> Vec<(u32, Status)> {
        self.snapshot
            .read()
            .expect("status lock is never poisoned")
            .connector_tasks(name)
    }

    /// Writes a connector status.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_connector(&self, name: &str, status: &Status) -> Result<(), StoreError> {
        self.write(&format!("{CONNECTOR_PREFIX}{name}"), Some(status))
            .await
    }

    /// Writes a task status.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_task(
        &self,
        name: &str,
        index: u32,
        status: &Status,
    ) -> Result<(), StoreError> {
        self.write(&format!("{TASK_PREFIX}{name}-{index}"), Some(status))
            .await
    }

    /// Removes a connector's status and its tasks' statuses (tombstones).
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge a write.
    pub async fn delete_connector(&self, name: &str, task_count: u32) -> Result<(), StoreError> {
        let indexes: Vec<u32> = {
            let snapshot = self.snapshot.read().expect("status lock is never poisoned");
            let mut known: Vec<u32> = snapshot
                .connector_tasks(name)
                .into_iter()
                .map(|(index, _)| index)
                .collect();
            known.extend(0..task_count);
            known.sort_unstable();
            known.dedup();
            known
        };
        for index in indexes {
            self.write(&format!("{TASK_PREFIX}{name}-{index}"), None)
                .await?;
        }
        self.write(&format!("{CONNECTOR_PREFIX}{name}"), None).await
    }

    /// Returns the topics a connector used since the last reset.
    pub fn topics(&self, name: &str) -> Vec<String> {
        let snapshot = self.snapshot.read().expect("status lock is never poisoned");
        snapshot
            .topics
            .get(name)
            .map(|topics| topics.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records that a connector's task used a topic (Kafka Connect's active-topic record).
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn put_topic(
        &self,
        connector: &str,
        topic: &str,
        task: u32,
    ) -> Result<(), StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        let value = serde_json::json!({"topic": {"name": topic, "connector": connector, "task": task, "discoverTimestamp": now}});
        let bytes =
            serde_json::to_vec(&value).map_err(|error| StoreError::Internal(error.to_string()))?;
        self.log
            .send(
                &format!("{TOPIC_PREFIX}{topic}{TOPIC_CONNECTOR_SEPARATOR}{connector}"),
                Some(&bytes),
            )
            .await
    }

    /// Forgets the topics a connector used (tombstones).
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge a write.
    pub async fn reset_topics(&self, connector: &str) -> Result<(), StoreError> {
        for topic in self.topics(connector) {
            self.log
                .send(
                    &format!("{TOPIC_PREFIX}{topic}{TOPIC_CONNECTOR_SEPARATOR}{connector}"),
                    None,
                )
                .await?;
        }
        Ok(())
    }

    /// Removes one task's status.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write.
    pub async fn delete_task(&self, name: &str, index: u32) -> Result<(), StoreError> {
        self.write(&format!("{TASK_PREFIX}{name}-{index}"), None)
            .await
    }

    /// Reads everything written so far.
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.log.read_to_end().await
    }

    async fn write(&self, key: &str, status_opt: Option<&Status>) -> Result<(), StoreError> {
        let bytes = match status_opt {
            Some(status) => Some(
                serde_json::to_vec(status)
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

    #[test]
    fn reads_kafka_connect_status_records() {
        let record = br#"{"state":"FAILED","trace":"boom","worker_id":"h:8083","generation":3}"#;
        let status: Status = serde_json::from_slice(record).unwrap();
        assert_eq!(status.state, State::Failed);
        assert_eq!(status.trace.as_deref(), Some("boom"));
        let mut snapshot = StatusSnapshot::default();
        snapshot.apply("status-task-my-conn-1", Some(status));
        snapshot.apply(
            "status-connector-my-conn",
            Some(Status::new(State::Running, "h:8083", 3)),
        );
        assert_eq!(snapshot.connector_tasks("my-conn").len(), 1);
        assert_eq!(snapshot.connector_tasks("my-conn")[0].0, 1);
        assert!(snapshot.connector_tasks("my").is_empty());
    }

    #[test]
    fn stale_unassigned_does_not_overwrite_a_newer_generation() {
        let mut snapshot = StatusSnapshot::default();
        snapshot.apply(
            "status-task-c-0",
            Some(Status::new(State::Running, "a:1", 5)),
        );
        snapshot.apply(
            "status-task-c-0",
            Some(Status::new(State::Unassigned, "b:1", 4)),
        );
        assert_eq!(snapshot.connector_tasks("c")[0].1.state, State::Running);
    }

    #[test]
    fn apply_reports_the_change_it_made() {
        let mut snapshot = StatusSnapshot::default();
        let running = Status::new(State::Running, "a:1", 5);
        assert_eq!(
            snapshot.apply("status-task-my-conn-2", Some(running.clone())),
            Some(StatusChange {
                connector: "my-conn".to_string(),
                task: Some(2),
                status: Some(running),
            })
        );
        // A stale UNASSIGNED is ignored, so it is no change.
        assert_eq!(
            snapshot.apply(
                "status-task-my-conn-2",
                Some(Status::new(State::Unassigned, "b:1", 4))
            ),
            None
        );
        assert_eq!(
            snapshot.apply("status-connector-my-conn", None),
            Some(StatusChange {
                connector: "my-conn".to_string(),
                task: None,
                status: None,
            })
        );
        assert_eq!(snapshot.apply("status-task-no-index", None), None);
        assert_eq!(snapshot.apply("something-else", None), None);
    }

    #[test]
    fn writes_kafka_connect_shape() {
        let text = serde_json::to_string(&Status::new(State::Running, "h:8083", 1)).unwrap();
        assert_eq!(
            text,
            r#"{"state":"RUNNING","trace":null,"worker_id":"h:8083","generation":1}"#
        );
    }
}
