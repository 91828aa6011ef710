//! A source task's error handling (Ferry goes beyond Kafka Connect here: the same DLQ and
//! headers as sinks). Each record's transformation and conversion run through the
//! [`ErrorHandler`], as in Kafka Connect's `WorkerSourceTask`; a record the policy skips
//! (`errors.tolerance=all`) is dead-lettered with the task's sequence number as delivery opaque,
//! so its source offset becomes committable only when the DLQ acknowledged it: the source loop's
//! offset tracker treats a DLQ ack like a produce ack. Without a DLQ the skipped record's offset
//! is committable at once (Kafka Connect's behaviour).
//!
//! The DLQ record holds the record as the task returned it (before transformations): key,
//! value and headers serialised by the connector's converters, or, where a converter refuses
//! them (the failure may be that very conversion), as schemaless JSON.

use std::ops::Range;

use ferry_connectors::converters::{
    Converters, JsonConverter, JsonConverterConfig, JSON_CONVERTER_CLASS,
    SIMPLE_HEADER_CONVERTER_CLASS,
};
use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::{ConnectorError, Converter, SourceRecord};
use rdkafka::message::{Header, OwnedHeaders};
use tokio::sync::mpsc;

use super::dlq::{self, DlqProducer, DlqRecord, Origin};
use super::errors::{
    tolerance_exceeded, ErrorHandler, ErrorPolicy, RecordRef, Stage, ToleratedFailure,
};
use super::sink_errors::{converter_class, ExecutingClass};
use super::source::{Ack, AckContext};
use super::transform::{SourceTransformed, TaskTransforms};
use super::{TaskEnv, TaskSpec};

/// A source record in Kafka's bytes: its key and value as ranges of the batch's buffer.
pub(crate) struct ConvertedRecord {
    pub(crate) key_opt: Option<Range<usize>>,
    pub(crate) value_opt: Option<Range<usize>>,
    pub(crate) headers_opt: Option<OwnedHeaders>,
}

/// A record the error policy skipped: as the task returned it, and why.
pub(crate) struct SkippedRecord {
    pub(crate) original: SourceRecord,
    pub(crate) failure: ToleratedFailure,
}

/// Error handling and the dead-letter queue of one source task.
pub struct SourceErrors {
    handler: ErrorHandler,
    dlq_opt: Option<DlqProducer<AckContext>>,
    key_class: String,
    value_class: String,
    header_class: String,
    connector: String,
    task_index: u32,
    /// Serialises what the connector's converters cannot, for the DLQ.
    fallback: JsonConverter,
}

impl SourceErrors {
    /// Reads the task's `errors.*` settings and, with a DLQ topic, creates the DLQ producer
    /// whose delivery reports join the task's own (`acks_tx`).
    ///
    /// # Errors
    /// A user error for an invalid setting; an external error when the DLQ cannot be set up.
    pub(crate) async fn create(
        env: &TaskEnv,
        spec: &TaskSpec,
        acks_tx: mpsc::UnboundedSender<Ack>,
    ) -> Result<Self, ConnectorError> {
        let policy = ErrorPolicy::from_config(&spec.config)?;
        let dlq_opt = match &policy.dlq_topic_opt {
            Some(topic) => {
                Some(DlqProducer::create(env, spec, &policy, topic, AckContext { acks_tx }).await?)
            }
            None => None,
        };
        Ok(SourceErrors {
            handler: ErrorHandler::new(policy, &spec.connector, spec.index),
            dlq_opt,
            key_class: converter_class(env, spec, keys::KEY_CONVERTER, JSON_CONVERTER_CLASS),
            value_class: converter_class(env, spec, keys::VALUE_CONVERTER, JSON_CONVERTER_CLASS),
            header_class: converter_class(
                env,
                spec,
                keys::HEADER_CONVERTER,
                SIMPLE_HEADER_CONVERTER_CLASS,
            ),
            connector: spec.connector.clone(),
            task_index: spec.index,
            fallback: JsonConverter::new(JsonConverterConfig {
                schemas_enable: false,
                ..JsonConverterConfig::default()
            }),
        })
    }

    fn class_name<'a>(&'a self, class: ExecutingClass<'a>) -> &'a str {
        match class {
            ExecutingClass::KeyConverter => &self.key_class,
            ExecutingClass::ValueConverter => &self.value_class,
            ExecutingClass::HeaderConverter => &self.header_class,
            ExecutingClass::Connector => "",
            ExecutingClass::Named(name) => name,
        }
    }

    /// Runs one stage of `record`'s processing under the error policy (`record` is the one the
    /// task returned, before transformations); a tolerated failure is handed back for
    /// [`SourceErrors::dead_letter`].
    ///
    /// # Errors
    /// The failure when the policy does not tolerate it.
    pub async fn execute<T>(
        &self,
        stage: Stage,
        class: ExecutingClass<'_>,
        record: &SourceRecord,
        operation: impl FnMut() -> Result<T, ConnectorError>,
    ) -> Result<Result<T, ToleratedFailure>, ConnectorError> {
        self.handler
            .execute(
                stage,
                self.class_name(class),
                RecordRef::Source(record),
                operation,
            )
            .await
    }

    /// Converts a record's key, value and headers (each its own stage), appending the key and
    /// value bytes to `out` (the batch's buffer); the result gives their ranges in it. After a
    /// failure `out` is as it was.
    ///
    /// # Errors
    /// As [`SourceErrors::execute`].
    pub(crate) async fn convert_record_into(
        &self,
        converters: &Converters,
        record: &SourceRecord,
        out: &mut Vec<u8>,
    ) -> Result<Result<ConvertedRecord, ToleratedFailure>, ConnectorError> {
        let topic = record.topic.as_str();
        let describe = |part: &str, error: &dyn std::fmt::Display| {
            ConnectorError::user(format!(
                "Failed to convert the record {part} for topic {topic}: {error}"
            ))
        };
        let convert = |converter: &dyn Converter,
                       data: &ferry_connectors::sdk::SchemaAndValue,
                       part: &str,
                       out: &mut Vec<u8>| {
            let start = out.len();
            match converter.from_connect_data_into(topic, data.schema.as_deref(), &data.value, out)
            {
                Ok(non_null) => Ok(non_null.then_some(start..out.len())),
                Err(error) => {
                    out.truncate(start);
                    Err(describe(part, &error))
                }
            }
        };
        let start = out.len();
        let key_opt = match self
            .execute(
                Stage::KeyConverter,
                ExecutingClass::KeyConverter,
                record,
                || convert(converters.key.as_ref(), &record.key, "key", out),
            )
            .await?
        {
            Ok(key) => key,
            Err(failure) => return Ok(Err(failure)),
        };
        let value_opt = match self
            .execute(
                Stage::ValueConverter,
                ExecutingClass::ValueConverter,
                record,
                || convert(converters.value.as_ref(), &record.value, "value", out),
            )
            .await?
        {
            Ok(value) => value,
            Err(failure) => {
                out.truncate(start);
                return Ok(Err(failure));
            }
        };
        let mut headers_opt = None;
        if !record.headers.is_empty() {
            let converted = self
                .execute(
                    Stage::HeaderConverter,
                    ExecutingClass::HeaderConverter,
                    record,
                    || {
                        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
                        for header in &record.headers {
                            let bytes = converters
                                .header
                                .from_connect_header(
                                    topic,
                                    &header.key,
                                    header.value.schema.as_deref(),
                                    &header.value.value,
                                )
                                .map_err(|error| describe("header", &error))?;
                            headers = headers.insert(Header {
                                key: &header.key,
                                value: bytes.as_deref(),
                            });
                        }
                        Ok(headers)
                    },
                )
                .await?;
            match converted {
                Ok(headers) => headers_opt = Some(headers),
                Err(failure) => {
                    out.truncate(start);
                    return Ok(Err(failure));
                }
            }
        }
        Ok(Ok(ConvertedRecord {
            key_opt,
            value_opt,
            headers_opt,
        }))
    }

    /// Applies the transformation chain to `record` under the error policy (Kafka Connect's
    /// `TRANSFORMATION` stage): a failure under `errors.tolerance=all` is logged and handed back
    /// with the record as the task returned it, for [`SourceErrors::dead_letter`].
    ///
    /// # Errors
    /// The failure, under `errors.tolerance=none` (its message names the stage, the transform's
    /// class and the record's topic and source position).
    pub(crate) fn transform(
        &self,
        transforms: &TaskTransforms,
        record: SourceRecord,
    ) -> Result<Result<SourceTransformed, Box<SkippedRecord>>, ConnectorError> {
        if record.dropped {
            // Dropped where it was transformed (a plugin connector's chain runs in the plugin):
            // its offset still counts once every earlier record is acknowledged.
            return Ok(Ok(SourceTransformed::Dropped {
                partition: record.source_partition,
                offset: record.source_offset,
            }));
        }
        if transforms.is_empty() {
            return Ok(Ok(SourceTransformed::Kept(record)));
        }
        let policy = self.handler.policy();
        // The original is kept only when a failure would need it: to skip and dead-letter the
        // record, or to describe it in the error log.
        let original_opt = (policy.tolerate_all || policy.log_enable).then(|| record.clone());
        let failure = match transforms.apply_source(record) {
            Ok(transformed) => return Ok(Ok(transformed)),
            Err(failure) => failure,
        };
        let class = failure.error.class.clone();
        let error = ConnectorError::from(failure);
        let Some(original) = original_opt else {
            return Err(tolerance_exceeded(Stage::Transformation, &class, &error));
        };
        let tolerated = self.handler.execute_failed(
            Stage::Transformation,
            &class,
            RecordRef::Source(&original),
            error,
            1,
        )?;
        Ok(Err(Box::new(SkippedRecord {
            original,
            failure: tolerated,
        })))
    }

    /// Writes a skipped record to the DLQ with delivery opaque `seq`; returns false when there
    /// is no DLQ (the caller then treats the record as done at once).
    ///
    /// # Errors
    /// An external error when the DLQ producer refuses the record.
    pub(crate) async fn dead_letter(
        &self,
        converters: &Converters,
        original: &SourceRecord,
        failure: &ToleratedFailure,
        seq: u64,
    ) -> Result<bool, ConnectorError> {
        let Some(dlq) = &self.dlq_opt else {
            return Ok(false);
        };
        let topic = original.topic.as_str();
        let serialise = |converter: &dyn Converter,
                         data: &ferry_connectors::sdk::SchemaAndValue| {
            converter
                .from_connect_data(topic, data.schema.as_deref(), &data.value)
                .or_else(|_| {
                    self.fallback
                        .from_connect_data(topic, data.schema.as_deref(), &data.value)
                })
                .unwrap_or(None)
        };
        let mut record = DlqRecord {
            key: serialise(converters.key.as_ref(), &original.key),
            value: serialise(converters.value.as_ref(), &original.value),
            headers: Vec::with_capacity(original.headers.len()),
            timestamp_opt: original.timestamp,
        };
        for header in &original.headers {
            let bytes = converters
                .header
                .from_connect_header(
                    topic,
                    &header.key,
                    header.value.schema.as_deref(),
                    &header.value.value,
                )
                .unwrap_or_else(|_| serialise(&self.fallback, &header.value));
            record.headers.push((header.key.clone(), bytes));
        }
        if self.handler.policy().dlq_context_headers {
            dlq::add_context_headers(
                &mut record,
                &self.connector,
                self.task_index,
                Origin {
                    topic,
                    partition_opt: original.kafka_partition,
                    offset_opt: None,
                },
                failure,
            );
        }
        let opaque =
            usize::try_from(seq).map_err(|_| ConnectorError::internal("sequence overflow"))?;
        dlq.send(&record, opaque).await?;
        Ok(true)
    }

    /// Waits for the DLQ's outstanding acknowledgements (on stop).
    ///
    /// # Errors
    /// An external error when records remain unacknowledged.
    pub(crate) async fn flush(&self) -> Result<(), ConnectorError> {
        match &self.dlq_opt {
            Some(dlq) => dlq.flush(dlq::DLQ_FLUSH_TIMEOUT).await,
            None => Ok(()),
        }
    }
}
