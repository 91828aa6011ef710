//! The transformation chain on the data path: built once per task from its config, applied per
//! record — sources `poll → transforms → convert → produce`, sinks `consume → convert →
//! transforms → put`, where Kafka Connect runs them.
//!
//! A dropped source record still counts for offsets (its position is committable as soon as
//! every earlier record is acknowledged). A sink record keeps its original topic, partition
//! and offset for the consumer commit even when a transform (e.g. `RegexRouter`) routes it to
//! another topic: the runtime computes commit positions from the consumed messages, and the
//! record carries its consumed topic partition (`SinkRecord::original_opt`, KIP-793) for the
//! sink's `pre_commit` and errant reports.

use ferry_connectors::sdk::{
    ConnectorError, SinkRecord, SourceOffset, SourcePartition, SourceRecord, TopicPartition,
};
use ferry_connectors::transforms::{TransformChain, TransformChainError, TransformRecord};

use super::TaskSpec;

/// What the chain did with a source record.
#[allow(clippy::large_enum_variant)] // moved once per record, never stored
pub(crate) enum SourceTransformed {
    Kept(SourceRecord),
    /// Dropped by a transform (e.g. `Filter`): its offset is still to be committed.
    Dropped {
        partition: SourcePartition,
        offset: SourceOffset,
    },
}

/// A transform failed on a record: the chain's error plus where the record came from.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{context}: {error}")]
pub(crate) struct TransformFailure {
    /// `topic t partition p offset o` (sinks) or `topic t source partition {...} offset {...}`.
    pub(crate) context: String,
    pub(crate) error: TransformChainError,
}

impl From<TransformFailure> for ConnectorError {
    fn from(failure: TransformFailure) -> Self {
        ConnectorError::user(format!(
            "Error while applying transformations to the record from {failure}"
        ))
    }
}

/// A task's transformation chain.
pub(crate) struct TaskTransforms {
    chain: TransformChain,
}

impl TaskTransforms {
    /// Builds the chain from the task's config (`transforms`, `predicates` and their keys).
    ///
    /// # Errors
    /// A user error listing every config problem (the connector was validated on create, so
    /// this only happens for configs written by older versions or by hand).
    pub(crate) fn from_spec(spec: &TaskSpec) -> Result<Self, ConnectorError> {
        if spec.factory.converts_records() {
            // A plugin connector's transforms run in the plugin, between its task and its
            // converters, as in Kafka Connect; records reach the runtime as Kafka bytes.
            return Ok(TaskTransforms {
                chain: TransformChain::empty(),
            });
        }
        let chain = TransformChain::from_connector_config(&spec.config).map_err(|errors| {
            ConnectorError::user(format!(
                "invalid transforms configuration: {}",
                errors.join("; ")
            ))
        })?;
        Ok(TaskTransforms { chain })
    }

    /// Returns true when the chain has no transform.
    pub(crate) fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// Applies the chain to a source record.
    ///
    /// # Errors
    /// The failing transform, with the record's topic and source position.
    pub(crate) fn apply_source(
        &self,
        record: SourceRecord,
    ) -> Result<SourceTransformed, TransformFailure> {
        if self.chain.is_empty() {
            return Ok(SourceTransformed::Kept(record));
        }
        let SourceRecord {
            source_partition,
            source_offset,
            topic,
            kafka_partition,
            key,
            value,
            headers,
            timestamp,
            dropped: _,
            transaction,
        } = record;
        let input = TransformRecord {
            topic,
            kafka_partition,
            kafka_offset: None,
            timestamp,
            key,
            value,
            headers,
        };
        let context_topic = input.topic.clone();
        match self.chain.apply(input) {
            Ok(Some(output)) => Ok(SourceTransformed::Kept(SourceRecord {
                source_partition,
                source_offset,
                topic: output.topic,
                kafka_partition: output.kafka_partition,
                key: output.key,
                value: output.value,
                headers: output.headers,
                timestamp: output.timestamp,
                dropped: false,
                transaction,
            })),
            Ok(None) => Ok(SourceTransformed::Dropped {
                partition: source_partition,
                offset: source_offset,
            }),
            Err(error) => Err(TransformFailure {
                context: format!(
                    "topic {context_topic} source partition {} offset {}",
                    serde_json::Value::Object(source_partition),
                    serde_json::Value::Object(source_offset)
                ),
                error,
            }),
        }
    }

    /// Applies the chain to a sink record consumed from `consumed_topic` (its `topic` before
    /// any transform); `Ok(None)` when a transform dropped it.
    ///
    /// # Errors
    /// The failing transform, with the record's topic, partition and offset.
    pub(crate) fn apply_sink(
        &self,
        record: SinkRecord,
        consumed_topic: &str,
    ) -> Result<Option<SinkRecord>, TransformFailure> {
        if self.chain.is_empty() {
            return Ok(Some(record));
        }
        let SinkRecord {
            topic,
            kafka_partition,
            kafka_offset,
            timestamp,
            key,
            value,
            headers,
            original_opt,
        } = record;
        debug_assert_eq!(
            original_opt
                .as_ref()
                .map_or(topic.as_str(), |tp| tp.topic.as_str()),
            consumed_topic
        );
        let input = TransformRecord {
            topic,
            kafka_partition: Some(kafka_partition),
            kafka_offset: Some(kafka_offset),
            timestamp,
            key,
            value,
            headers,
        };
        match self.chain.apply(input) {
            Ok(Some(output)) => {
                let routed_partition = output.kafka_partition.unwrap_or(kafka_partition);
                // KIP-793: the sink keys offsets and errant reports by where the record was
                // read, whatever topic a transform (e.g. RegexRouter) routed it to.
                let routed = output.topic != consumed_topic || routed_partition != kafka_partition;
                let original_opt = match original_opt {
                    Some(original) => Some(original),
                    None if routed => Some(TopicPartition {
                        topic: consumed_topic.to_string(),
                        partition: kafka_partition,
                    }),
                    None => None,
                };
                Ok(Some(SinkRecord {
                    topic: output.topic,
                    kafka_partition: routed_partition,
                    kafka_offset,
                    timestamp: output.timestamp,
                    key: output.key,
                    value: output.value,
                    headers: output.headers,
                    original_opt,
                }))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(TransformFailure {
                context: format!(
                    "topic {consumed_topic} partition {kafka_partition} offset {kafka_offset}"
                ),
                error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_connectors::sdk::{SchemaAndValue, Value};

    fn transforms(pairs: &[(&str, &str)]) -> TaskTransforms {
        let config = pairs
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect();
        TaskTransforms {
            chain: TransformChain::from_connector_config(&config).unwrap(),
        }
    }

    fn consumed(topic: &str) -> SinkRecord {
        SinkRecord {
            topic: topic.to_string(),
            kafka_partition: 3,
            kafka_offset: 7,
            timestamp: Some(0),
            key: SchemaAndValue::null(),
            value: SchemaAndValue::schemaless(Value::String("v".into())),
            headers: Vec::new(),
            original_opt: None,
        }
    }

    #[test]
    fn a_routed_sink_record_keeps_the_topic_partition_it_was_consumed_from() {
        let router = transforms(&[
            ("transforms", "route"),
            (
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
            ("transforms.route.regex", "orders"),
            ("transforms.route.replacement", "orders-copy"),
        ]);
        let routed = router
            .apply_sink(consumed("orders"), "orders")
            .unwrap()
            .unwrap();
        assert_eq!(routed.topic, "orders-copy");
        assert_eq!(
            (routed.original_topic(), routed.original_kafka_partition()),
            ("orders", 3)
        );
        // A topic the router leaves alone is not marked as routed.
        let untouched = router
            .apply_sink(consumed("other"), "other")
            .unwrap()
            .unwrap();
        assert_eq!(untouched.original_opt, None);
        assert_eq!(untouched.original_topic(), "other");
    }
}
