//! A sink task's error handling: each consumed record's conversion (and, at merge time,
//! transformation) runs through the [`ErrorHandler`]; records the policy skips, and errant
//! records the task reports from `put`/`flush`, are written to the dead-letter queue byte for
//! byte; the sink loop commits offsets only after [`SinkErrors::wait_acknowledged`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferry_connectors::converters::{
    resolve_converter_class, Converters, JSON_CONVERTER_CLASS, SIMPLE_HEADER_CONVERTER_CLASS,
};
use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::{
    ConnectorError, ErrantRecord, ErrantRecordReporter, Header, SinkRecord,
};
use rdkafka::message::{Headers, Message, OwnedMessage};

use super::dlq::{self, DlqProducer, DlqRecord, Origin, SinkDlqContext};
use super::errors::{ErrorHandler, ErrorPolicy, RecordRef, Stage, StageFailure, ToleratedFailure};
use super::retry::TaskRetries;
use super::{TaskEnv, TaskSpec};

/// Errant records a task reported, waiting for the runtime.
#[derive(Default)]
pub(crate) struct ErrantQueue {
    records: Mutex<Vec<ErrantRecord>>,
    /// Records taken by the runtime so far.
    taken: AtomicU64,
    /// Records handled (logged, dead-lettered and acknowledged) so far.
    handled: AtomicU64,
}

impl ErrantRecordReporter for ErrantQueue {
    fn report(&self, record: ErrantRecord) {
        self.records
            .lock()
            .expect("errant queue lock is never poisoned")
            .push(record);
    }

    fn handled(&self) -> u64 {
        self.handled.load(Ordering::SeqCst)
    }
}

impl ErrantQueue {
    fn take(&self) -> Vec<ErrantRecord> {
        let records = std::mem::take(
            &mut *self
                .records
                .lock()
                .expect("errant queue lock is never poisoned"),
        );
        self.taken.fetch_add(records.len() as u64, Ordering::SeqCst);
        records
    }
}

/// Which class an operation runs (the `__connect.errors.class.name` header).
#[derive(Debug, Clone, Copy)]
pub enum ExecutingClass<'a> {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Connector,
    /// A transformation's class, given by the caller.
    Named(&'a str),
}

struct SinkDlq {
    producer: DlqProducer<SinkDlqContext>,
    sent: u64,
    delivered: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
}

/// Error handling and the dead-letter queue of one sink task.
pub struct SinkErrors {
    handler: ErrorHandler,
    dlq_opt: Option<SinkDlq>,
    errant: Arc<ErrantQueue>,
    key_class: String,
    value_class: String,
    header_class: String,
    connector_class: String,
    connector: String,
    task_index: u32,
    /// Retriable failures retried in place.
    retries: Arc<TaskRetries>,
}

/// Returns the Java class a converter role resolves to (connector setting, else worker's).
pub(crate) fn converter_class(
    env: &TaskEnv,
    spec: &TaskSpec,
    role_key: &str,
    default: &str,
) -> String {
    spec.config
        .get(role_key)
        .or_else(|| env.worker_props.get(role_key))
        .map_or(default.to_string(), |name| {
            resolve_converter_class(name).map_or(name.clone(), str::to_string)
        })
}

impl SinkErrors {
    /// Reads the task's `errors.*` settings and, with a DLQ topic, creates the DLQ producer (and
    /// the topic when missing).
    ///
    /// # Errors
    /// A user error for an invalid setting; an external error when the DLQ cannot be set up.
    pub(crate) async fn create(env: &TaskEnv, spec: &TaskSpec) -> Result<Self, ConnectorError> {
        let policy = ErrorPolicy::from_config(&spec.config)?;
        let retries = Arc::new(TaskRetries::for_task(spec)?);
        let dlq_opt = match &policy.dlq_topic_opt {
            Some(topic) => {
                let context = SinkDlqContext::new(spec);
                let (delivered, failure) = context.handles();
                let producer = DlqProducer::create(env, spec, &policy, topic, context).await?;
                Some(SinkDlq {
                    producer,
                    sent: 0,
                    delivered,
                    failure,
                })
            }
            None => None,
        };
        Ok(SinkErrors {
            handler: ErrorHandler::new(policy, &spec.connector, spec.index),
            dlq_opt,
            errant: Arc::new(ErrantQueue::default()),
            key_class: converter_class(env, spec, keys::KEY_CONVERTER, JSON_CONVERTER_CLASS),
            value_class: converter_class(env, spec, keys::VALUE_CONVERTER, JSON_CONVERTER_CLASS),
            header_class: converter_class(
                env,
                spec,
                keys::HEADER_CONVERTER,
                SIMPLE_HEADER_CONVERTER_CLASS,
            ),
            connector_class: dlq::connector_class(spec),
            connector: spec.connector.clone(),
            task_index: spec.index,
            retries,
        })
    }

    /// Returns the reporter the task's context hands to the task.
    pub(crate) fn reporter(&self) -> Arc<dyn ErrantRecordReporter> {
        Arc::clone(&self.errant) as Arc<dyn ErrantRecordReporter>
    }

    /// Returns the reporter a task that retries by itself (a plugin) tells its retries.
    pub(crate) fn retry_reporter(&self) -> Arc<dyn ferry_connectors::sdk::RetryReporter> {
        Arc::clone(&self.retries) as Arc<dyn ferry_connectors::sdk::RetryReporter>
    }

    /// Returns the task's in-place retries.
    pub(crate) fn retries(&self) -> &TaskRetries {
        &self.retries
    }

    /// Returns the handler (for the policy).
    pub fn handler(&self) -> &ErrorHandler {
        &self.handler
    }

    fn class_name<'a>(&'a self, class: ExecutingClass<'a>) -> &'a str {
        match class {
            ExecutingClass::KeyConverter => &self.key_class,
            ExecutingClass::ValueConverter => &self.value_class,
            ExecutingClass::HeaderConverter => &self.header_class,
            ExecutingClass::Connector => &self.connector_class,
            ExecutingClass::Named(name) => name,
        }
    }

    /// Runs one stage of `message`'s processing under the error policy: `Some(value)`, or
    /// `None` when the record failed, was tolerated and dead-lettered (the caller skips it).
    ///
    /// # Errors
    /// The failure when the policy does not tolerate it; a DLQ write failure.
    pub async fn handle<T>(
        &mut self,
        stage: Stage,
        class: ExecutingClass<'_>,
        message: &OwnedMessage,
        operation: impl FnMut() -> Result<T, ConnectorError>,
    ) -> Result<Option<T>, ConnectorError> {
        let record = consumed_ref(message);
        let outcome = self
            .handler
            .execute_classified(stage, self.class_name(class), record, operation)
            .await;
        match outcome {
            Ok(value) => Ok(Some(value)),
            Err(StageFailure::Tolerated(failure)) => {
                self.dead_letter(original_of(message), message, &failure)
                    .await?;
                Ok(None)
            }
            Err(StageFailure::ToleranceExceeded { failure, error }) => {
                // Kafka Connect reports the record (log, DLQ) before failing the task.
                self.dead_letter(original_of(message), message, &failure)
                    .await?;
                self.wait_acknowledged().await?;
                Err(error)
            }
            Err(StageFailure::Unhandled(error)) => Err(error),
        }
    }

    /// Converts a consumed record (key, value, then headers, each its own stage).
    ///
    /// # Errors
    /// As [`SinkErrors::handle`].
    pub(crate) async fn convert_record(
        &mut self,
        converters: &Converters,
        message: &OwnedMessage,
    ) -> Result<Option<SinkRecord>, ConnectorError> {
        let topic = message.topic();
        let describe = |part: &str, error: &dyn std::fmt::Display| {
            ConnectorError::user(format!(
                "Failed to convert the record {part} from topic {topic} partition {} offset {}: {error}",
                message.partition(),
                message.offset()
            ))
        };
        let key_opt = self
            .handle(
                Stage::KeyConverter,
                ExecutingClass::KeyConverter,
                message,
                || {
                    converters
                        .key
                        .to_connect_data(topic, message.key())
                        .map_err(|error| describe("key", &error))
                },
            )
            .await?;
        let Some(key) = key_opt else { return Ok(None) };
        let value_opt = self
            .handle(
                Stage::ValueConverter,
                ExecutingClass::ValueConverter,
                message,
                || {
                    converters
                        .value
                        .to_connect_data(topic, message.payload())
                        .map_err(|error| describe("value", &error))
                },
            )
            .await?;
        let Some(value) = value_opt else {
            return Ok(None);
        };
        let mut headers = Vec::new();
        if let Some(raw_headers) = message.headers() {
            let headers_opt = self
                .handle(
                    Stage::HeaderConverter,
                    ExecutingClass::HeaderConverter,
                    message,
                    || {
                        let mut converted = Vec::with_capacity(raw_headers.count());
                        for header in raw_headers.iter() {
                            let header_value = converters
                                .header
                                .to_connect_header(topic, header.key, header.value)
                                .map_err(|error| describe("header", &error))?;
                            converted.push(Header {
                                key: header.key.to_string(),
                                value: header_value,
                            });
                        }
                        Ok(converted)
                    },
                )
                .await?;
            let Some(converted) = headers_opt else {
                return Ok(None);
            };
            headers = converted;
        }
        Ok(Some(SinkRecord {
            topic: topic.to_string(),
            kafka_partition: message.partition(),
            kafka_offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key,
            value,
            headers,
            original_opt: None,
        }))
    }

    /// Applies the policy to the errant records the task reported since the last call and
    /// dead-letters them; their originals come from `batch` or, when it no longer holds them,
    /// from Kafka.
    ///
    /// # Errors
    /// Under `errors.tolerance=none`, the first errant record; a DLQ failure.
    pub(crate) async fn handle_errant_records(
        &mut self,
        env: &TaskEnv,
        spec: &TaskSpec,
        batch: &[OwnedMessage],
    ) -> Result<(), ConnectorError> {
        let errant = self.errant.take();
        if errant.is_empty() {
            return Ok(());
        }
        let index: BTreeMap<(&str, i32, i64), &OwnedMessage> = batch
            .iter()
            .map(|message| {
                (
                    (message.topic(), message.partition(), message.offset()),
                    message,
                )
            })
            .collect();
        for record in errant {
            let found_opt = index
                .get(&(record.topic.as_str(), record.partition, record.offset))
                .copied();
            let timestamp_opt = found_opt.and_then(|message| message.timestamp().to_millis());
            let origin = RecordRef::Consumed {
                topic: &record.topic,
                partition: record.partition,
                offset: record.offset,
                timestamp_opt,
            };
            let failure = self.handler.execute_failed(
                Stage::TaskPut,
                &self.connector_class,
                origin,
                ConnectorError::user(record.error.clone()),
                1,
            )?;
            if self.dlq_opt.is_none() {
                continue;
            }
            let original = match found_opt {
                Some(message) => original_of(message),
                None => {
                    dlq::read_consumed_record(
                        env,
                        spec,
                        &record.topic,
                        record.partition,
                        record.offset,
                    )
                    .await?
                }
            };
            self.dead_letter_at(
                original,
                Origin {
                    topic: &record.topic,
                    partition_opt: Some(record.partition),
                    offset_opt: Some(record.offset),
                },
                &failure,
            )
            .await?;
        }
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        original: DlqRecord,
        message: &OwnedMessage,
        failure: &ToleratedFailure,
    ) -> Result<(), ConnectorError> {
        self.dead_letter_at(
            original,
            Origin {
                topic: message.topic(),
                partition_opt: Some(message.partition()),
                offset_opt: Some(message.offset()),
            },
            failure,
        )
        .await
    }

    async fn dead_letter_at(
        &mut self,
        mut original: DlqRecord,
        origin: Origin<'_>,
        failure: &ToleratedFailure,
    ) -> Result<(), ConnectorError> {
        let context_headers = self.handler.policy().dlq_context_headers;
        let Some(dlq) = self.dlq_opt.as_mut() else {
            return Ok(());
        };
        if context_headers {
            dlq::add_context_headers(
                &mut original,
                &self.connector,
                self.task_index,
                origin,
                failure,
            );
        }
        dlq.producer.send(&original, 0).await?;
        dlq.sent += 1;
        Ok(())
    }

    /// Waits until every DLQ record sent so far is acknowledged: offsets past them may then be
    /// committed.
    ///
    /// # Errors
    /// An external error when the DLQ did not acknowledge them (nothing may be committed).
    pub(crate) async fn wait_acknowledged(&mut self) -> Result<(), ConnectorError> {
        // Records taken after this point are not covered by the wait below.
        let taken = self.errant.taken.load(Ordering::SeqCst);
        let Some(dlq) = self.dlq_opt.as_mut() else {
            self.errant.handled.store(taken, Ordering::SeqCst);
            return Ok(());
        };
        if dlq.delivered.load(Ordering::SeqCst) < dlq.sent {
            dlq.producer.flush(dlq::DLQ_FLUSH_TIMEOUT).await?;
        }
        if let Some(error) = dlq
            .failure
            .lock()
            .expect("dlq failure lock is never poisoned")
            .clone()
        {
            return Err(ConnectorError::external(format!(
                "failed to write to the dead letter queue `{}`: {error}",
                dlq.producer.topic()
            )));
        }
        let delivered = dlq.delivered.load(Ordering::SeqCst);
        if delivered < dlq.sent {
            return Err(ConnectorError::external(format!(
                "the dead letter queue `{}` acknowledged {delivered} of {} records",
                dlq.producer.topic(),
                dlq.sent
            )));
        }
        self.errant.handled.store(taken, Ordering::SeqCst);
        Ok(())
    }
}

fn consumed_ref(message: &OwnedMessage) -> RecordRef<'_> {
    RecordRef::Consumed {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
        timestamp_opt: message.timestamp().to_millis(),
    }
}

/// The consumed record as read: key, value, headers and timestamp.
fn original_of(message: &OwnedMessage) -> DlqRecord {
    let mut headers = Vec::new();
    if let Some(raw) = message.headers() {
        for header in raw.iter() {
            headers.push((header.key.to_string(), header.value.map(<[u8]>::to_vec)));
        }
    }
    DlqRecord {
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
        timestamp_opt: message.timestamp().to_millis(),
    }
}
