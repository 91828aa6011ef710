//! Records as connectors see them: what a source task returns and what a sink task receives.

use serde_json::{Map, Value as JsonValue};

use super::data::SchemaAndValue;

/// A source partition, e.g. `{"filename": "/data/in.txt"}`: a connector-defined JSON object.
pub type SourcePartition = Map<String, JsonValue>;
/// A source offset, e.g. `{"position": 4096}`: a connector-defined JSON object.
pub type SourceOffset = Map<String, JsonValue>;

/// One header: a key and a value with an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: SchemaAndValue,
}

/// A record a source task produced, with the source position it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source_partition: SourcePartition,
    pub source_offset: SourceOffset,
    pub topic: String,
    /// The Kafka partition to write to; `None` lets the producer's partitioner choose.
    pub kafka_partition: Option<i32>,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    pub headers: Vec<Header>,
    /// Milliseconds since the epoch; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// The record stands only for its source position: the task's own transformation chain
    /// dropped it (a plugin connector's, run in the plugin) or skipped it under
    /// `errors.tolerance=all`. Nothing is written; its offset is committed like that of a
    /// record a transform dropped, once every earlier record is acknowledged.
    pub dropped: bool,
    /// With `transaction.boundary=connector`: the transaction the task ends at this record.
    pub transaction: TransactionRequest,
}

/// A transaction boundary a source task defines at one of its records
/// (`transaction.boundary=connector`; Kafka Connect's `TransactionContext`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionRequest {
    #[default]
    None,
    /// Commit the open transaction after this record.
    Commit,
    /// Abort the open transaction after this record: its records are dropped and their
    /// offsets committed (the task does not see them again).
    Abort,
}

impl SourceRecord {
    /// Returns a record with a null key, no headers and no timestamp.
    pub fn new(
        source_partition: SourcePartition,
        source_offset: SourceOffset,
        topic: impl Into<String>,
        value: SchemaAndValue,
    ) -> Self {
        SourceRecord {
            source_partition,
            source_offset,
            topic: topic.into(),
            kafka_partition: None,
            key: SchemaAndValue::null(),
            value,
            headers: Vec::new(),
            timestamp: None,
            dropped: false,
            transaction: TransactionRequest::None,
        }
    }
}

/// A record a sink task receives: converted key, value and headers plus where it was read.
///
/// `topic` and `kafka_partition` are the record's after transformations (a `RegexRouter` may
/// have renamed the topic); where it was read is [`SinkRecord::original_topic`] and
/// [`SinkRecord::original_kafka_partition`] (Kafka Connect's KIP-793): the positions a sink
/// returns from `pre_commit` and the records it reports as errant are keyed by those.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub timestamp: Option<i64>,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    pub headers: Vec<Header>,
    /// The topic partition the record was consumed from, when a transformation changed
    /// `topic` or `kafka_partition`; `None` when they are still the consumed ones.
    pub original_opt: Option<TopicPartition>,
}

impl SinkRecord {
    /// Returns the topic the record was consumed from (before transformations).
    pub fn original_topic(&self) -> &str {
        self.original_opt
            .as_ref()
            .map_or(self.topic.as_str(), |original| original.topic.as_str())
    }

    /// Returns the partition the record was consumed from (before transformations).
    pub fn original_kafka_partition(&self) -> i32 {
        self.original_opt
            .as_ref()
            .map_or(self.kafka_partition, |original| original.partition)
    }

    /// Returns the topic partition the record was consumed from: the key of its offset.
    pub fn original_topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: self.original_topic().to_string(),
            partition: self.original_kafka_partition(),
        }
    }
}

/// A topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}
