//! The errant-record reporter (Kafka Connect's `ErrantRecordReporter`, KIP-610): a sink task
//! hands the runtime a record it could not write, and the runtime applies the connector's error
//! policy to it (log it, write its original bytes to the dead-letter queue).
//!
//! A task reports only records it skips under `errors.tolerance=all`; under `none` it fails
//! instead, as it always did. Reporting is cheap and never blocks: the runtime writes the
//! reported records to the dead-letter queue before it commits the offsets past them.

use super::record::SinkRecord;

/// Where a reported record was read from, and why it could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrantRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The reason the sink refused the record (no connector secrets in it).
    pub error: String,
}

impl ErrantRecord {
    /// Returns the report of `record`, keyed by where it was read (its original topic and
    /// partition, whatever topic a transformation routed it to).
    pub fn of(record: &SinkRecord, error: impl Into<String>) -> Self {
        ErrantRecord {
            topic: record.original_topic().to_string(),
            partition: record.original_kafka_partition(),
            offset: record.kafka_offset,
            error: error.into(),
        }
    }
}

/// Receives the records a sink task skips.
pub trait ErrantRecordReporter: Send + Sync {
    /// Reports one skipped record. Never blocks; never fails.
    fn report(&self, record: ErrantRecord);

    /// Returns how many of the records reported so far (counted from the first) the runtime has
    /// handled: logged and, with a dead-letter queue, written there and acknowledged. Kafka
    /// Connect's reporter returns a future per record; this count completes them in order.
    fn handled(&self) -> u64 {
        0
    }
}
