//! The dead-letter queue of a connector (`errors.deadletterqueue.*`): a producer that writes
//! records the error policy skipped to the DLQ topic, created on first use with one partition
//! and `errors.deadletterqueue.topic.replication.factor` replicas, as Kafka Connect does.
//!
//! A sink's DLQ record is the consumed record as it was read: key, value, headers and timestamp
//! byte for byte. A source's (Ferry's addition) is the record the task returned, before
//! transformations, serialised with the connector's converters; a part those converters cannot
//! serialise (the failure being dead-lettered) is written as schemaless JSON. With
//! `errors.deadletterqueue.context.headers.enable`, Kafka Connect's `__connect.errors.*` headers
//! follow the original ones.
//!
//! DLQ writes are part of the commit contract: the runtime commits an offset only after the DLQ
//! records before it were acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::ConnectorError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::errors::{ErrorPolicy, Stage, ToleratedFailure};
use super::{apply_client_overrides, TaskEnv, TaskSpec};

pub const HEADER_PREFIX: &str = "__connect.errors.";
pub const HEADER_ORIG_TOPIC: &str = "__connect.errors.topic";
pub const HEADER_ORIG_PARTITION: &str = "__connect.errors.partition";
pub const HEADER_ORIG_OFFSET: &str = "__connect.errors.offset";
pub const HEADER_CONNECTOR_NAME: &str = "__connect.errors.connector.name";
pub const HEADER_TASK_ID: &str = "__connect.errors.task.id";
pub const HEADER_STAGE: &str = "__connect.errors.stage";
pub const HEADER_EXECUTING_CLASS: &str = "__connect.errors.class.name";
pub const HEADER_EXCEPTION: &str = "__connect.errors.exception.class.name";
pub const HEADER_EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
pub const HEADER_EXCEPTION_STACK_TRACE: &str = "__connect.errors.exception.stacktrace";

/// The DLQ topic's partition count (Kafka Connect's `DLQ_NUM_DESIRED_PARTITIONS`).
const DLQ_PARTITIONS: i32 = 1;
/// How long the stop and commit paths wait for DLQ acknowledgements.
pub(crate) const DLQ_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// One record for the DLQ.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DlqRecord {
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) timestamp_opt: Option<i64>,
}

/// Where a dead-lettered record was read (sinks) or headed (sources).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition_opt: Option<i32>,
    pub(crate) offset_opt: Option<i64>,
}

/// Returns the Java exception class Kafka Connect would name for a failure.
fn exception_class(failure: &ToleratedFailure) -> &'static str {
    match (failure.stage, failure.error.kind) {
        (_, ferry_connectors::sdk::ErrorKind::External) => {
            "org.apache.kafka.connect.errors.RetriableException"
        }
        (
            Stage::KeyConverter
            | Stage::ValueConverter
            | Stage::HeaderConverter
            | Stage::Transformation,
            _,
        ) => "org.apache.kafka.connect.errors.DataException",
        _ => "org.apache.kafka.connect.errors.ConnectException",
    }
}

/// Appends Kafka Connect's `__connect.errors.*` context headers to `record`.
pub(crate) fn add_context_headers(
    record: &mut DlqRecord,
    connector: &str,
    task_index: u32,
    origin: Origin<'_>,
    failure: &ToleratedFailure,
) {
    let mut add = |key: &str, value: String| {
        record
            .headers
            .push((key.to_string(), Some(value.into_bytes())));
    };
    add(HEADER_ORIG_TOPIC, origin.topic.to_string());
    if let Some(partition) = origin.partition_opt {
        add(HEADER_ORIG_PARTITION, partition.to_string());
    }
    if let Some(offset) = origin.offset_opt {
        add(HEADER_ORIG_OFFSET, offset.to_string());
    }
    add(HEADER_CONNECTOR_NAME, connector.to_string());
    add(HEADER_TASK_ID, task_index.to_string());
    add(HEADER_STAGE, failure.stage.name().to_string());
    add(HEADER_EXECUTING_CLASS, failure.executing_class.clone());
    let class = exception_class(failure);
    add(HEADER_EXCEPTION, class.to_string());
    add(HEADER_EXCEPTION_MESSAGE, failure.error.message.clone());
    add(
        HEADER_EXCEPTION_STACK_TRACE,
        format!("{class}: {}\n", failure.error.message),
    );
}

/// The DLQ producer's client config: the worker's client settings, `producer.*` and
/// `producer.override.*`. The one place DLQ clients are configured.
pub(crate) fn dlq_producer_config(env: &TaskEnv, spec: &TaskSpec) -> ClientConfig {
    let mut config = env.client_config.clone();
    config
        .set("client.id", format!("connector-dlq-producer-{}", spec.id()))
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "0");
    apply_client_overrides(&mut config, &env.worker_props, &spec.config, "producer.");
    config
}

/// The connector's admin client config: the worker's client settings, `admin.*` and
/// `admin.override.*` (DLQ and source topic creation).
pub(crate) fn connector_admin_config(env: &TaskEnv, spec: &TaskSpec) -> ClientConfig {
    let mut config = env.client_config.clone();
    config.set("client.id", format!("connector-adminclient-{}", spec.id()));
    apply_client_overrides(&mut config, &env.worker_props, &spec.config, "admin.");
    config
}

/// Creates `topic` unless it exists.
///
/// # Errors
/// An external error when the topic neither exists nor can be created.
pub(crate) async fn create_topic_unless_exists(
    admin: &AdminClient<DefaultClientContext>,
    topic: NewTopic<'_>,
) -> Result<bool, ConnectorError> {
    let name = topic.name.to_string();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&[topic], &options)
        .await
        .map_err(|error| {
            ConnectorError::external(format!("failed to create topic `{name}`: {error}"))
        })?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(true),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => Ok(false),
        Some(Err((_, code))) => Err(ConnectorError::external(format!(
            "failed to create topic `{name}`: {code}"
        ))),
    }
}

/// Writes DLQ records; delivery reports go to the producer context `C`.
pub(crate) struct DlqProducer<C: ProducerContext<DeliveryOpaque = usize> + 'static> {
    producer: Arc<ThreadedProducer<C>>,
    topic: String,
}

impl<C: ProducerContext<DeliveryOpaque = usize> + 'static> DlqProducer<C> {
    /// Creates the DLQ topic if missing, then the producer.
    ///
    /// # Errors
    /// An external error when the topic or the producer cannot be created.
    pub(crate) async fn create(
        env: &TaskEnv,
        spec: &TaskSpec,
        policy: &ErrorPolicy,
        topic: &str,
        context: C,
    ) -> Result<Self, ConnectorError> {
        let admin: AdminClient<DefaultClientContext> = connector_admin_config(env, spec)
            .create()
            .map_err(|error| {
            ConnectorError::external(format!("failed to create admin client: {error}"))
        })?;
        let new_topic = NewTopic::new(
            topic,
            DLQ_PARTITIONS,
            TopicReplication::Fixed(i32::from(policy.dlq_replication_factor)),
        );
        if create_topic_unless_exists(&admin, new_topic).await? {
            tracing::info!(task = %spec.id(), %topic, "created the dead letter queue topic");
        }
        let producer = dlq_producer_config(env, spec)
            .create_with_context(context)
            .map_err(|error| {
                ConnectorError::external(format!("failed to create the DLQ producer: {error}"))
            })?;
        Ok(DlqProducer {
            producer: Arc::new(producer),
            topic: topic.to_string(),
        })
    }

    /// Returns the DLQ topic.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues `record`; its delivery report carries `opaque`.
    ///
    /// # Errors
    /// An external error when the producer refuses the record.
    pub(crate) async fn send(
        &self,
        record: &DlqRecord,
        opaque: usize,
    ) -> Result<(), ConnectorError> {
        let mut headers_opt = None;
        if !record.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: value.as_deref(),
                });
            }
            headers_opt = Some(headers);
        }
        loop {
            let mut base: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(&self.topic, opaque);
            if let Some(key) = &record.key {
                base = base.key(key.as_slice());
            }
            if let Some(value) = &record.value {
                base = base.payload(value.as_slice());
            }
            if let Some(timestamp) = record.timestamp_opt {
                base = base.timestamp(timestamp);
            }
            if let Some(headers) = &headers_opt {
                base = base.headers(headers.clone());
            }
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // The producer's own thread drains the queue: wait a moment for room.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((error, _)) => {
                    return Err(ConnectorError::external(format!(
                        "failed to produce to the dead letter queue `{}`: {error}",
                        self.topic
                    )))
                }
            }
        }
    }

    /// Waits until every queued record was delivered (or `timeout` passed).
    ///
    /// # Errors
    /// An external error when records remain undelivered.
    pub(crate) async fn flush(&self, timeout: Duration) -> Result<(), ConnectorError> {
        let producer = Arc::clone(&self.producer);
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ConnectorError::external(format!(
                "the dead letter queue `{}` did not acknowledge its records: {error}",
                self.topic
            ))),
            Err(error) => Err(ConnectorError::internal(format!(
                "dead letter queue flush panicked: {error}"
            ))),
        }
    }
}

/// A sink's DLQ delivery reports: how many are outstanding and the first failure.
#[derive(Default)]
pub(crate) struct SinkDlqContext {
    delivered: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<String>>>,
    counter: Option<metrics::Counter>,
}

impl SinkDlqContext {
    pub(crate) fn new(spec: &TaskSpec) -> Self {
        SinkDlqContext {
            delivered: Arc::new(AtomicU64::new(0)),
            failure: Arc::new(Mutex::new(None)),
            counter: Some(metrics::counter!(
                crate::metric_names::TASK_DLQ_RECORDS_TOTAL,
                "connector" => spec.connector.clone(),
                "task" => spec.index.to_string()
            )),
        }
    }

    /// Returns handles to read the outcome after the context moved into the producer.
    pub(crate) fn handles(&self) -> (Arc<AtomicU64>, Arc<Mutex<Option<String>>>) {
        (Arc::clone(&self.delivered), Arc::clone(&self.failure))
    }
}

impl ClientContext for SinkDlqContext {}

impl ProducerContext for SinkDlqContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: usize) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::SeqCst);
                if let Some(counter) = &self.counter {
                    counter.increment(1);
                }
            }
            Err((error, _)) => {
                let mut failure = self
                    .failure
                    .lock()
                    .expect("dlq failure lock is never poisoned");
                failure.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// Reads one record back from Kafka by its position (an errant record a sink reported after the
/// batch it came in was released), byte for byte.
///
/// # Errors
/// An external error when the record cannot be read within 30 s.
pub(crate) async fn read_consumed_record(
    env: &TaskEnv,
    spec: &TaskSpec,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<DlqRecord, ConnectorError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};

    let mut config = env.client_config.clone();
    config
        .set("group.id", format!("connect-{}", spec.connector))
        .set("client.id", format!("connector-dlq-reader-{}", spec.id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    apply_client_overrides(&mut config, &env.worker_props, &spec.config, "consumer.");
    let topic_name = topic.to_string();
    let topic = topic.to_string();
    let read = tokio::task::spawn_blocking(move || -> Result<DlqRecord, String> {
        let consumer: BaseConsumer = config.create().map_err(|error| error.to_string())?;
        let mut list = rdkafka::TopicPartitionList::new();
        list.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset))
            .map_err(|error| error.to_string())?;
        consumer.assign(&list).map_err(|error| error.to_string())?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) if message.offset() == offset => {
                    let mut headers = Vec::new();
                    if let Some(raw) = message.headers() {
                        for header in raw.iter() {
                            headers
                                .push((header.key.to_string(), header.value.map(<[u8]>::to_vec)));
                        }
                    }
                    return Ok(DlqRecord {
                        key: message.key().map(<[u8]>::to_vec),
                        value: message.payload().map(<[u8]>::to_vec),
                        headers,
                        timestamp_opt: message.timestamp().to_millis(),
                    });
                }
                Some(Ok(message)) if message.offset() > offset => {
                    return Err(format!("offset {offset} is no longer in the log"));
                }
                Some(Err(error)) => return Err(error.to_string()),
                _ => {}
            }
        }
        Err("timed out".to_string())
    })
    .await
    .map_err(|error| ConnectorError::internal(format!("DLQ reader panicked: {error}")))?;
    read.map_err(|error| {
        ConnectorError::external(format!(
            "failed to read the errant record at topic {topic_name} partition {partition} offset {offset} for the dead letter queue: {error}"
        ))
    })
}

/// Returns the connector class (the executing class of put-time failures).
pub(crate) fn connector_class(spec: &TaskSpec) -> String {
    spec.config
        .get(keys::CONNECTOR_CLASS)
        .cloned()
        .unwrap_or_default()
}
