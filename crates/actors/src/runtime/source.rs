//! The source loop: poll → transform → convert → produce (batched, acknowledged asynchronously) → store the
//! offsets of acknowledged records every `offset.flush.interval.ms` and on stop.

use std::sync::Arc;
use std::time::Duration;

use ferry_connectors::converters::Converters;
use ferry_connectors::sdk::{ConnectorError, RecordAck, SourceRecord, SourceTask};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::errors::ToleratedFailure;
use super::offsets::OffsetTracker;
use super::source_errors::SourceErrors;
use super::topic_creation::SourceTopicCreation;
use super::transform::{SourceTransformed, TaskTransforms};
use super::{TaskEnv, TaskSpec};
use crate::kafka_client::ClientRole;

/// Records awaiting acknowledgement before the loop stops polling the task.
const MAX_IN_FLIGHT: usize = 200_000;
/// How long the final producer flush may take on stop.
const STOP_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) type Ack = (u64, Result<Option<RecordAck>, String>);

/// Forwards delivery reports (sequence number, outcome) to the source loop; the DLQ producer
/// shares the channel, so a dead-lettered record's offset follows its DLQ acknowledgement.
/// With `with_metadata`, each success carries Kafka's metadata for the task's `acknowledged`
/// (the DLQ producer's do not: that record never reached its topic).
pub(crate) struct AckContext {
    pub(crate) acks_tx: mpsc::UnboundedSender<Ack>,
    pub(crate) with_metadata: bool,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let outcome = match result {
            Ok(message) if self.with_metadata => Ok(Some(RecordAck {
                seq: seq as u64,
                topic: message.topic().to_string(),
                partition: message.partition(),
                offset: message.offset(),
                timestamp: message.timestamp().to_millis().unwrap_or(-1),
            })),
            Ok(_) => Ok(None),
            Err((error, _)) => Err(error.to_string()),
        };
        let _ = self.acks_tx.send((seq as u64, outcome));
    }
}

fn producer_config(env: &TaskEnv, spec: &TaskSpec) -> Result<ClientConfig, ConnectorError> {
    let client_id = format!("connector-producer-{}", spec.id());
    env.client_config_for(
        ClientRole::Producer,
        &[
            ("client.id", &client_id),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("batch.num.messages", "10000"),
            ("queue.buffering.max.messages", "500000"),
            ("message.timeout.ms", "0"),
        ],
        &spec.config,
    )
}

/// Runs a source task until cancelled.
///
/// # Errors
/// A conversion error (user), a task error, or a failed delivery (external).
pub(crate) async fn run_source_task(
    env: &TaskEnv,
    spec: &TaskSpec,
    converters: Converters,
    mut task: Box<dyn SourceTask>,
    cancel: CancellationToken,
) -> Result<(), ConnectorError> {
    let transforms = TaskTransforms::from_spec(spec)?;
    let (acks_tx, mut acks_rx) = mpsc::unbounded_channel::<Ack>();
    let errors = SourceErrors::create(env, spec, acks_tx.clone()).await?;
    let topic_creation_opt = SourceTopicCreation::create(env, spec)?;
    let producer: Arc<ThreadedProducer<AckContext>> = Arc::new(
        producer_config(env, spec)?
            .create_with_context(AckContext {
                acks_tx,
                with_metadata: task.wants_acknowledgements(),
            })
            .map_err(|error| {
                ConnectorError::external(format!("failed to create producer: {error}"))
            })?,
    );
    let mut loop_state = SourceLoop {
        topics: super::TopicTracker::new(env, spec),
        records_out: metrics::counter!(crate::metric_names::TASK_RECORDS_TOTAL, "connector" => spec.connector.clone(), "task" => spec.index.to_string(), "direction" => "out"),
        in_flight: metrics::gauge!(crate::metric_names::TASK_IN_FLIGHT, "connector" => spec.connector.clone(), "task" => spec.index.to_string()),
        env,
        spec,
        converters: &converters,
        producer: &producer,
        tracker: OffsetTracker::default(),
        acked: Vec::new(),
        errors,
        topic_creation_opt,
    };
    let mut flush_tick = tokio::time::interval(env.offset_flush_interval);
    flush_tick.tick().await;

    let outcome: Result<(), ConnectorError> = async {
        loop {
            while let Ok(ack) = acks_rx.try_recv() {
                loop_state.handle_ack(ack)?;
            }
            if !loop_state.acked.is_empty() {
                task.acknowledged(std::mem::take(&mut loop_state.acked))
                    .await?;
            }
            if loop_state.tracker.in_flight() >= MAX_IN_FLIGHT {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(()),
                    Some(ack) = acks_rx.recv() => loop_state.handle_ack(ack)?,
                    _ = flush_tick.tick() => loop_state.flush_offsets(&mut *task).await?,
                }
                continue;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                _ = flush_tick.tick() => loop_state.flush_offsets(&mut *task).await?,
                batch = task.poll() => {
                    for record in batch? {
                        match loop_state.errors.transform(&transforms, record)? {
                            Ok(SourceTransformed::Kept(record)) => loop_state.produce(record, &mut acks_rx).await?,
                            Ok(SourceTransformed::Dropped { partition, offset }) => loop_state.tracker.skip(&partition, offset),
                            Err(skipped) => loop_state.skip_record(&skipped.original, &skipped.failure).await?,
                        }
                    }
                }
            }
        }
    }
    .await;

    // Stop: deliver what is in flight, store its offsets, then release the task.
    let stop_result = loop_state.drain_and_flush(&mut *task, &mut acks_rx).await;
    task.stop().await;
    outcome.and(stop_result)
}

struct SourceLoop<'a> {
    topics: super::TopicTracker,
    records_out: metrics::Counter,
    in_flight: metrics::Gauge,
    env: &'a TaskEnv,
    spec: &'a TaskSpec,
    converters: &'a Converters,
    producer: &'a Arc<ThreadedProducer<AckContext>>,
    tracker: OffsetTracker,
    /// Metadata of acknowledged records not yet handed to the task (`acknowledged`).
    acked: Vec<RecordAck>,
    errors: SourceErrors,
    topic_creation_opt: Option<SourceTopicCreation>,
}

impl SourceLoop<'_> {
    fn handle_ack(&mut self, (seq, outcome): Ack) -> Result<(), ConnectorError> {
        match outcome {
            Ok(metadata_opt) => {
                self.tracker.ack(seq);
                self.records_out.increment(1);
                self.acked.extend(metadata_opt);
                Ok(())
            }
            Err(error) => Err(ConnectorError::external(format!(
                "failed to produce a record to Kafka: {error}"
            ))),
        }
    }

    async fn produce(
        &mut self,
        record: SourceRecord,
        acks_rx: &mut mpsc::UnboundedReceiver<Ack>,
    ) -> Result<(), ConnectorError> {
        let topic = record.topic.as_str();
        self.topics.observe(topic);
        if let Some(topic_creation) = self.topic_creation_opt.as_mut() {
            topic_creation.ensure_topic(topic).await?;
        }
        let converted = match self.errors.convert_record(self.converters, &record).await? {
            Ok(converted) => converted,
            Err(failure) => return self.skip_record(&record, &failure).await,
        };
        let (key, value, headers_opt) = (converted.key, converted.value, converted.headers_opt);
        let seq = self
            .tracker
            .submit(&record.source_partition, record.source_offset);
        let opaque =
            usize::try_from(seq).map_err(|_| ConnectorError::internal("sequence overflow"))?;
        loop {
            let mut base: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(topic, opaque);
            if let Some(key) = &key {
                base = base.key(key.as_slice());
            }
            if let Some(value) = &value {
                base = base.payload(value.as_slice());
            }
            if let Some(partition) = record.kafka_partition {
                base = base.partition(partition);
            }
            if let Some(timestamp) = record.timestamp {
                base = base.timestamp(timestamp);
            }
            if let Some(headers) = &headers_opt {
                base = base.headers(headers.clone());
            }
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // The local queue is full: wait for acknowledgements to make room.
                    if let Ok(Some(ack)) =
                        tokio::time::timeout(Duration::from_millis(10), acks_rx.recv()).await
                    {
                        self.handle_ack(ack)?;
                    }
                }
                Err((error, _)) => {
                    return Err(ConnectorError::external(format!(
                        "failed to produce to `{topic}`: {error}"
                    )));
                }
            }
        }
    }

    /// Skips a record the error policy tolerated: dead-letters it (its offset is committable
    /// once the DLQ acknowledged it) or, without a DLQ, marks it done at once.
    async fn skip_record(
        &mut self,
        original: &SourceRecord,
        failure: &ToleratedFailure,
    ) -> Result<(), ConnectorError> {
        let seq = self
            .tracker
            .submit(&original.source_partition, original.source_offset.clone());
        let pending = self
            .errors
            .dead_letter(self.converters, original, failure, seq)
            .await?;
        if !pending {
            self.tracker.ack(seq);
        }
        Ok(())
    }

    async fn flush_offsets(&mut self, task: &mut dyn SourceTask) -> Result<(), ConnectorError> {
        #[allow(clippy::cast_precision_loss)]
        self.in_flight.set(self.tracker.in_flight() as f64);
        let committable = self.tracker.take_committable();
        if committable.is_empty() {
            return Ok(());
        }
        let entries: Vec<_> = committable
            .iter()
            .map(|(partition, offset)| (partition.clone(), Some(offset.clone())))
            .collect();
        let write = self.env.offset_store.write(&self.spec.connector, &entries);
        match tokio::time::timeout(
            self.env.offset_flush_timeout.max(Duration::from_secs(5)),
            write,
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                self.tracker.restore(&committable);
                tracing::warn!(task = %self.spec.id(), %error, "failed to store source offsets; will retry");
                return Ok(());
            }
            Err(_) => {
                self.tracker.restore(&committable);
                tracing::warn!(task = %self.spec.id(), "timed out storing source offsets; will retry");
                return Ok(());
            }
        }
        if let Err(error) = task.commit().await {
            tracing::warn!(task = %self.spec.id(), %error, "source task commit hook failed");
        }
        Ok(())
    }

    async fn drain_and_flush(
        &mut self,
        task: &mut dyn SourceTask,
        acks_rx: &mut mpsc::UnboundedReceiver<Ack>,
    ) -> Result<(), ConnectorError> {
        let producer = Arc::clone(self.producer);
        let flushed = tokio::task::spawn_blocking(move || producer.flush(STOP_FLUSH_TIMEOUT)).await;
        if !matches!(flushed, Ok(Ok(()))) {
            tracing::warn!(task = %self.spec.id(), "not every record was acknowledged before stop; their offsets are not stored");
        }
        if let Err(error) = self.errors.flush().await {
            tracing::warn!(task = %self.spec.id(), %error, "not every dead letter queue record was acknowledged before stop; their offsets are not stored");
        }
        let mut result = Ok(());
        while let Ok(ack) = acks_rx.try_recv() {
            if let Err(error) = self.handle_ack(ack) {
                result = Err(error);
            }
        }
        if !self.acked.is_empty() {
            if let Err(error) = task.acknowledged(std::mem::take(&mut self.acked)).await {
                tracing::warn!(task = %self.spec.id(), %error, "source task acknowledgement hook failed");
            }
        }
        self.flush_offsets(task).await?;
        result
    }
}
