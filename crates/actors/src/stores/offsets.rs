//! The offset store: source offsets in the offsets topic, keyed as Kafka Connect keys them,
//! `["<connector>",{<source partition>}]` → `{<source offset>}` (tombstone = reset).
//!
//! A source connector may name its own offsets topic (`offsets.storage.topic`, KIP-618). Its
//! tasks and the REST offsets endpoints then see [`ConnectorOffsets`]: the connector's topic
//! first, the worker's topic for partitions it does not hold (offsets stored before the
//! connector had a topic of its own), and writes going to both, as Kafka Connect's
//! `ConnectorOffsetBackingStore` does. [`OffsetStores`] creates and reads such topics on demand.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_connectors::sdk::{OffsetReader, SourceOffset, SourcePartition};
use rdkafka::config::ClientConfig;
use serde_json::{json, Value as JsonValue};
use tokio_util::sync::CancellationToken;

use super::log::{LogRecord, TopicLog};
use super::topics::{TopicCreator, TopicSpec};
use crate::error::StoreError;

/// The connector key naming a source connector's own offsets topic.
pub const OFFSETS_STORAGE_TOPIC: &str = "offsets.storage.topic";

type OffsetMap = HashMap<String, HashMap<String, (SourcePartition, SourceOffset)>>;

/// The offset store.
pub struct OffsetStore {
    log: TopicLog,
    offsets: Arc<RwLock<OffsetMap>>,
}

/// A stable text form of a partition map, independent of key order.
fn canonical(partition: &SourcePartition) -> String {
    let sorted: BTreeMap<&String, &JsonValue> = partition.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

fn parse_key(key: &[u8]) -> Option<(String, SourcePartition)> {
    let parsed: JsonValue = serde_json::from_slice(key).ok()?;
    let items = parsed.as_array()?;
    let connector = items.first()?.as_str()?.to_string();
    let partition = items.get(1)?.as_object()?.clone();
    Some((connector, partition))
}

impl OffsetStore {
    /// Starts reading the offsets topic and waits until it is read to the end.
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn start(
        client_config: &ClientConfig,
        topic: &str,
        stop: CancellationToken,
    ) -> Result<Self, StoreError> {
        let offsets: Arc<RwLock<OffsetMap>> = Arc::default();
        let writer = Arc::clone(&offsets);
        let apply = Box::new(move |record: &LogRecord<'_>| {
            let Some((connector, partition)) = record.key.and_then(parse_key) else {
                return;
            };
            let offset_opt = record
                .value
                .and_then(|bytes| serde_json::from_slice::<JsonValue>(bytes).ok())
                .and_then(|value| value.as_object().cloned());
            let mut offsets = writer
                .write()
                .expect("offset map lock is never poisoned: no panics while held");
            let per_connector = offsets.entry(connector).or_default();
            let key = canonical(&partition);
            match offset_opt {
                Some(offset) => {
                    per_connector.insert(key, (partition, offset));
                }
                None => {
                    per_connector.remove(&key);
                }
            }
        });
        let log = TopicLog::start(client_config, topic, apply, stop).await?;
        log.read_to_end().await?;
        Ok(OffsetStore { log, offsets })
    }

    /// Returns the stored offset of one partition of `connector`.
    pub fn offset(&self, connector: &str, partition: &SourcePartition) -> Option<SourceOffset> {
        let offsets = self
            .offsets
            .read()
            .expect("offset map lock is never poisoned");
        offsets
            .get(connector)?
            .get(&canonical(partition))
            .map(|(_, offset)| offset.clone())
    }

    /// Returns every stored `(partition, offset)` of `connector`.
    pub fn connector_offsets(&self, connector: &str) -> Vec<(SourcePartition, SourceOffset)> {
        let offsets = self
            .offsets
            .read()
            .expect("offset map lock is never poisoned");
        offsets
            .get(connector)
            .map(|entries| entries.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Writes offsets (`None` resets a partition); returns once Kafka acknowledged all of them and
    /// they are applied locally.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge a write.
    pub async fn write(
        &self,
        connector: &str,
        entries: &[(SourcePartition, Option<SourceOffset>)],
    ) -> Result<(), StoreError> {
        let mut last = None;
        for (partition, offset_opt) in entries {
            let key = serde_json::to_string(&json!([connector, partition]))
                .map_err(|error| StoreError::Internal(error.to_string()))?;
            let value = match offset_opt {
                Some(offset) => Some(
                    serde_json::to_vec(offset)
                        .map_err(|error| StoreError::Internal(error.to_string()))?,
                ),
                None => None,
            };
            last = Some(self.log.send_no_wait(&key, value.as_deref()).await?);
        }
        if last.is_some() {
            self.log.read_to_end().await?;
        }
        Ok(())
    }

    /// Returns the offsets topic.
    pub fn topic(&self) -> &str {
        self.log.topic()
    }

    /// Returns the key and value of one offset record, as [`Self::write`] writes them (for a
    /// transactional source producer that writes its offsets itself).
    ///
    /// # Errors
    /// An internal error when the partition or offset cannot be serialised.
    pub fn offset_record(
        connector: &str,
        partition: &SourcePartition,
        offset: &SourceOffset,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let key = serde_json::to_string(&json!([connector, partition]))
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let value =
            serde_json::to_vec(offset).map_err(|error| StoreError::Internal(error.to_string()))?;
        Ok((key, value))
    }

    /// Reads everything written so far.
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.log.read_to_end().await
    }

    /// Reads everything written so far, waiting for the transactions still open in the topic
    /// to end: an exactly-once task's start, after its zombies were fenced
    /// ([`super::log::TopicLog::read_through_open_transactions`]).
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn refresh_committed(&self) -> Result<(), StoreError> {
        self.log.read_through_open_transactions().await
    }

    /// Returns a reader of one connector's offsets, for its tasks.
    pub fn reader(self: &Arc<Self>, connector: &str) -> Arc<dyn OffsetReader> {
        Arc::new(ConnectorOffsetReader {
            store: Arc::clone(self),
            connector: connector.to_string(),
        })
    }
}

struct ConnectorOffsetReader {
    store: Arc<OffsetStore>,
    connector: String,
}

impl OffsetReader for ConnectorOffsetReader {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.store.offset(&self.connector, partition)
    }
}

/// The worker's offset stores: its offsets topic, and the connectors' own topics
/// (`offsets.storage.topic`), each created and read the first time a connector needs it and
/// kept until the worker stops.
pub struct OffsetStores {
    global: Arc<OffsetStore>,
    client_config: ClientConfig,
    creator: Arc<dyn TopicCreator>,
    /// Partitions and replication of a connector's topic: the worker's offsets topic's.
    partitions: i32,
    replication_factor: i32,
    stop: CancellationToken,
    by_topic: tokio::sync::Mutex<HashMap<String, Arc<OffsetStore>>>,
}

impl OffsetStores {
    /// The worker's stores, around its offsets topic (`global`); a connector's own topic is
    /// created by `creator` with `partitions` and `replication_factor`.
    pub fn new(
        global: Arc<OffsetStore>,
        client_config: ClientConfig,
        creator: Arc<dyn TopicCreator>,
        (partitions, replication_factor): (i32, i32),
        stop: CancellationToken,
    ) -> Self {
        OffsetStores {
            global,
            client_config,
            creator,
            partitions,
            replication_factor,
            stop,
            by_topic: tokio::sync::Mutex::default(),
        }
    }

    /// The worker's offsets topic's store.
    pub fn global(&self) -> &Arc<OffsetStore> {
        &self.global
    }

    /// Returns the offsets of `connector` with config `config`: its own topic (created if
    /// missing) when `offsets.storage.topic` names one other than the worker's.
    ///
    /// # Errors
    /// Fails when the connector's topic can neither be created nor read.
    pub async fn for_connector(
        &self,
        connector: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<ConnectorOffsets, StoreError> {
        let own_topic_opt = config
            .get(OFFSETS_STORAGE_TOPIC)
            .map(|topic| topic.trim())
            .filter(|topic| !topic.is_empty() && *topic != self.global.topic());
        let Some(topic) = own_topic_opt else {
            return Ok(ConnectorOffsets {
                connector: connector.to_string(),
                primary: Arc::clone(&self.global),
                secondary_opt: None,
            });
        };
        let mut by_topic = self.by_topic.lock().await;
        let store = match by_topic.get(topic) {
            Some(store) => Arc::clone(store),
            None => {
                self.creator
                    .create_compacted(&TopicSpec {
                        name: topic.to_string(),
                        partitions: self.partitions,
                        replication_factor: self.replication_factor,
                    })
                    .await?;
                let store = Arc::new(
                    OffsetStore::start(&self.client_config, topic, self.stop.clone()).await?,
                );
                tracing::info!(%connector, %topic, "reading the connector's own offsets topic");
                by_topic.insert(topic.to_string(), Arc::clone(&store));
                store
            }
        };
        Ok(ConnectorOffsets {
            connector: connector.to_string(),
            primary: store,
            secondary_opt: Some(Arc::clone(&self.global)),
        })
    }
}

/// One source connector's offsets: in its own topic (`primary`) when it has one, with the
/// worker's topic (`secondary_opt`) as the fallback for reads and a second copy of writes.
#[derive(Clone)]
pub struct ConnectorOffsets {
    connector: String,
    primary: Arc<OffsetStore>,
    secondary_opt: Option<Arc<OffsetStore>>,
}

impl ConnectorOffsets {
    /// The topic the connector's offsets are written to (in an exactly-once task's
    /// transactions too).
    pub fn topic(&self) -> &str {
        self.primary.topic()
    }

    /// Whether the connector has an offsets topic of its own.
    pub fn has_own_topic(&self) -> bool {
        self.secondary_opt.is_some()
    }

    /// Returns the stored offset of one partition: the connector's topic's, else the worker's.
    pub fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.primary.offset(&self.connector, partition).or_else(|| {
            self.secondary_opt
                .as_ref()
                .and_then(|secondary| secondary.offset(&self.connector, partition))
        })
    }

    /// Returns every stored `(partition, offset)`, the connector's topic winning.
    pub fn all(&self) -> Vec<(SourcePartition, SourceOffset)> {
        let mut merged: HashMap<String, (SourcePartition, SourceOffset)> = HashMap::new();
        let stores = self
            .secondary_opt
            .iter()
            .chain(std::iter::once(&self.primary));
        for store in stores {
            for (partition, offset) in store.connector_offsets(&self.connector) {
                merged.insert(canonical(&partition), (partition, offset));
            }
        }
        merged.into_values().collect()
    }

    /// Writes offsets (`None` resets a partition) to the connector's topic and, when it has
    /// one, to the worker's too. Resets go to the worker's topic first: a reset in the
    /// connector's topic alone would uncover the worker's older offset (the order of Kafka
    /// Connect's fix for KAFKA-15018). The second copy of other offsets is best effort.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge a write to the connector's topic (or a reset to
    /// the worker's).
    pub async fn write(
        &self,
        entries: &[(SourcePartition, Option<SourceOffset>)],
    ) -> Result<(), StoreError> {
        let Some(secondary) = &self.secondary_opt else {
            return self.primary.write(&self.connector, entries).await;
        };
        let resets: Vec<_> = entries
            .iter()
            .filter(|(_, offset_opt)| offset_opt.is_none())
            .cloned()
            .collect();
        if !resets.is_empty() {
            secondary.write(&self.connector, &resets).await?;
        }
        self.primary.write(&self.connector, entries).await?;
        let copies: Vec<_> = entries
            .iter()
            .filter(|(_, offset_opt)| offset_opt.is_some())
            .cloned()
            .collect();
        self.copy_to_worker_topic(&copies).await;
        Ok(())
    }

    /// Writes committed offsets to the worker's topic too when the connector has its own
    /// (best effort: a failure is logged; the connector's topic is the one read first).
    pub async fn copy_to_worker_topic(&self, entries: &[(SourcePartition, Option<SourceOffset>)]) {
        let Some(secondary) = &self.secondary_opt else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        let copy = secondary.write(&self.connector, entries);
        match tokio::time::timeout(Duration::from_secs(30), copy).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(connector = %self.connector, %error, "failed to copy source offsets to the worker's offsets topic (they are in the connector's own)");
            }
            Err(_) => {
                tracing::warn!(connector = %self.connector, "timed out copying source offsets to the worker's offsets topic (they are in the connector's own)");
            }
        }
    }

    /// Reads everything written so far to the connector's topic and the worker's.
    ///
    /// # Errors
    /// Fails when a topic cannot be read.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.primary.refresh().await?;
        if let Some(secondary) = &self.secondary_opt {
            secondary.refresh().await?;
        }
        Ok(())
    }

    /// An exactly-once task's start: reads the connector's topic through other tasks' open
    /// transactions ([`OffsetStore::refresh_committed`]), and the worker's to its end.
    ///
    /// # Errors
    /// Fails when a topic cannot be read.
    pub async fn refresh_committed(&self) -> Result<(), StoreError> {
        self.primary.refresh_committed().await?;
        if let Some(secondary) = &self.secondary_opt {
            secondary.refresh().await?;
        }
        Ok(())
    }

    /// Returns a reader of the connector's offsets, for its tasks.
    pub fn reader(&self) -> Arc<dyn OffsetReader> {
        Arc::new(self.clone())
    }
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        ConnectorOffsets::offset(self, partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_kafka_connect_format_and_order_does_not_matter() {
        let (connector, partition) =
            parse_key(br#"["local-file-source",{"filename":"/tmp/test.txt"}]"#).unwrap();
        assert_eq!(connector, "local-file-source");
        assert_eq!(partition["filename"], "/tmp/test.txt");
        let first: SourcePartition = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let second: SourcePartition = serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap();
        assert_eq!(canonical(&first), canonical(&second));
        assert!(parse_key(b"not json").is_none());
    }
}
