//! The offset store: source offsets in the offsets topic, keyed as Kafka Connect keys them,
//! `["<connector>",{<source partition>}]` → `{<source offset>}` (tombstone = reset).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use ferry_connectors::sdk::{OffsetReader, SourceOffset, SourcePartition};
use rdkafka::config::ClientConfig;
use serde_json::{json, Value as JsonValue};
use tokio_util::sync::CancellationToken;

use super::log::{LogRecord, TopicLog};
use crate::error::StoreError;

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
