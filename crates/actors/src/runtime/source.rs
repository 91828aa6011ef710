//! The source loop: poll → transform → convert → produce (batched, acknowledged asynchronously) → store the
//! offsets of acknowledged records every `offset.flush.interval.ms` and on stop.
//!
//! Each poll's records are converted into one [`ProduceBatch`] (their bytes in one buffer) and
//! handed to the task's producer thread ([`SourceProducer`]), which acknowledges *units*: runs
//! of consecutive records of one source partition. The offset tracker keeps one entry per unit,
//! so a batch of one partition costs one partition, one offset and one acknowledgement. A
//! [`SourceBatch::Lines`] batch (FileStreamSource) without transformations is converted line by
//! line from its text, without a record per line.

use std::time::Duration;

use ferry_connectors::converters::Converters;
use ferry_connectors::sdk::framework::{keys, ExactlyOnceSourceSupport, TransactionBoundary};
use ferry_connectors::sdk::{
    ConnectorError, LineBatch, RecordAck, SourceBatch, SourceOffset, SourcePartition, SourceRecord,
    SourceTask, TransactionRequest, Value,
};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::errors::ToleratedFailure;
use super::offsets::OffsetTracker;
use super::source_errors::SourceErrors;
use super::source_producer::Transactional;
use super::source_producer::{BatchEnd, BatchRecord, ProduceBatch, SourceProducer};
use super::topic_creation::SourceTopicCreation;
use super::transform::{SourceTransformed, TaskTransforms};
use super::{TaskEnv, TaskSpec};
use crate::kafka_client::ClientRole;
use crate::stores::{ConnectorOffsets, OffsetStore};

/// Records awaiting acknowledgement before the loop stops polling the task.
const MAX_IN_FLIGHT: usize = 200_000;
/// How long the final producer flush may take on stop.
const STOP_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// A unit's acknowledgement (its sequence number and, when the task wants them, the Kafka
/// metadata of its records), or a delivery failure.
pub(crate) type Ack = (u64, Result<Vec<RecordAck>, String>);

/// The sequence number of the acknowledgement that a transaction the task ended was
/// committed (`transaction.boundary=connector`).
pub(crate) const TRANSACTION_COMMITTED: u64 = u64::MAX;

/// Forwards the DLQ producer's delivery reports to the source loop: a dead-lettered record is a
/// unit of its own (its sequence number is the delivery opaque), so its offset follows its DLQ
/// acknowledgement.
pub(crate) struct AckContext {
    pub(crate) acks_tx: mpsc::UnboundedSender<Ack>,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let outcome = match result {
            Ok(_) => Ok(Vec::new()),
            Err((error, _)) => Err(error.to_string()),
        };
        let _ = self.acks_tx.send((seq as u64, outcome));
    }
}

/// An exactly-once task's transaction settings (the worker has `exactly.once.source.support=enabled`).
struct ExactlyOnce {
    /// `${group.id}-${connector}-${task}`, as Kafka Connect builds it.
    transactional_id: String,
    boundary: TransactionBoundary,
    /// How often an `interval` boundary commits.
    interval: Duration,
}

impl ExactlyOnce {
    fn for_task(env: &TaskEnv, spec: &TaskSpec) -> Result<Option<Self>, ConnectorError> {
        if env.exactly_once_source != ExactlyOnceSourceSupport::Enabled {
            return Ok(None);
        }
        let boundary = TransactionBoundary::from_props(&spec.config).map_err(|reason| {
            ConnectorError::user(format!("invalid {}: {reason}", keys::TRANSACTION_BOUNDARY))
        })?;
        if spec
            .config
            .get(keys::DLQ_TOPIC_NAME)
            .is_some_and(|topic| !topic.trim().is_empty())
        {
            return Err(ConnectorError::user(format!(
                "{} is not supported yet for an exactly-once source task",
                keys::DLQ_TOPIC_NAME
            )));
        }
        let interval = match spec.config.get(keys::TRANSACTION_BOUNDARY_INTERVAL_MS) {
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| {
                    ConnectorError::user(format!(
                        "invalid {}: `{raw}` is not a number of milliseconds",
                        keys::TRANSACTION_BOUNDARY_INTERVAL_MS
                    ))
                })?,
            None => env.offset_flush_interval,
        };
        Ok(Some(ExactlyOnce {
            transactional_id: transactional_id(&env.group_id, &spec.connector, spec.index),
            boundary,
            interval,
        }))
    }
}

fn producer_config(
    env: &TaskEnv,
    spec: &TaskSpec,
    eos_opt: Option<&ExactlyOnce>,
) -> Result<ClientConfig, ConnectorError> {
    let client_id = format!("connector-producer-{}", spec.id());
    if let Some(eos) = eos_opt {
        // Offset records go to the partition the offset store's writer picks for their key.
        let mut config = env.client_config_for(
            ClientRole::Producer,
            &[
                ("client.id", &client_id),
                ("linger.ms", "5"),
                ("batch.num.messages", "10000"),
                ("queue.buffering.max.messages", "500000"),
                ("transaction.timeout.ms", "60000"),
                ("message.timeout.ms", "60000"),
            ],
            &spec.config,
        )?;
        // What exactly-once needs is not the user's to override (as in Kafka Connect).
        config
            .set("transactional.id", &eos.transactional_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random");
        return Ok(config);
    }
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

/// Runs a source task (made by `create_task`) until cancelled.
///
/// With exactly-once sources enabled, the task's producer is transactional: it fences the
/// task's zombies (`init_transactions`) and the offsets they committed are read before the task
/// is created, and each transaction holds the records of one poll (`poll` boundary) or of an
/// interval (`interval`) with their offsets, written to the offsets topic by the same producer.
///
/// # Errors
/// A conversion error (user), a task error, or a failed delivery or transaction (external).
pub(crate) async fn run_source_task(
    env: &TaskEnv,
    spec: &TaskSpec,
    offsets: ConnectorOffsets,
    converters: Converters,
    create_task: impl FnOnce() -> Result<Box<dyn SourceTask>, ConnectorError>,
    cancel: CancellationToken,
) -> Result<(), ConnectorError> {
    let transforms = TaskTransforms::from_spec(spec)?;
    let eos_opt = ExactlyOnce::for_task(env, spec)?;
    let (acks_tx, mut acks_rx) = mpsc::unbounded_channel::<Ack>();
    let errors = SourceErrors::create(env, spec, acks_tx.clone()).await?;
    let topic_creation_opt = SourceTopicCreation::create(env, spec)?;
    let producer = SourceProducer::start(
        &producer_config(env, spec, eos_opt.as_ref())?,
        format!("producer-{}", spec.id()),
        acks_tx,
        eos_opt.as_ref().map(|eos| Transactional {
            offsets_topic: offsets.topic().to_string(),
            commit_each_batch: eos.boundary == TransactionBoundary::Poll,
            lease: env.lease.clone(),
        }),
    )?;
    if let Some(eos) = &eos_opt {
        producer.init_transactions().await?;
        // Zombies are fenced: what they committed is all there is. Read it before the task
        // reads its offsets, also where it lies behind another task's open transaction.
        offsets.refresh_committed().await.map_err(|error| {
            ConnectorError::external(format!("failed to read the offsets topic: {error}"))
        })?;
        tracing::info!(task = %spec.id(), transactional_id = %eos.transactional_id, boundary = ?eos.boundary, "exactly-once source task: zombies fenced");
    }
    let mut task = create_task()?;
    producer.set_with_metadata(task.wants_acknowledgements());
    let mut loop_state = SourceLoop {
        topics: super::TopicTracker::new(env, spec),
        records_out: metrics::counter!(crate::metric_names::TASK_RECORDS_TOTAL, "connector" => spec.connector.clone(), "task" => spec.index.to_string(), "direction" => "out"),
        in_flight: metrics::gauge!(crate::metric_names::TASK_IN_FLIGHT, "connector" => spec.connector.clone(), "task" => spec.index.to_string()),
        env,
        spec,
        converters: &converters,
        producer: &producer,
        offsets,
        cancel: &cancel,
        tracker: OffsetTracker::default(),
        acked: Vec::new(),
        errors,
        topic_creation_opt,
        next_seq: 0,
        open_unit_opt: None,
        batch: ProduceBatch::default(),
        last_topic: String::new(),
        transactional: eos_opt.is_some(),
        batch_offsets: Vec::new(),
        connector_boundary: eos_opt
            .as_ref()
            .is_some_and(|eos| eos.boundary == TransactionBoundary::Connector),
        transaction_offsets: Vec::new(),
        transaction_committed: false,
    };
    let flush_interval = match &eos_opt {
        Some(eos) if eos.boundary == TransactionBoundary::Interval => eos.interval,
        _ => env.offset_flush_interval,
    };
    let mut next_flush = Instant::now() + flush_interval;

    let outcome: Result<(), ConnectorError> = async {
        loop {
            while let Ok(ack) = acks_rx.try_recv() {
                loop_state.handle_ack(ack)?;
            }
            if !loop_state.acked.is_empty() {
                task.acknowledged(std::mem::take(&mut loop_state.acked))
                    .await?;
            }
            if Instant::now() >= next_flush {
                loop_state.flush_offsets(&mut *task).await?;
                next_flush = Instant::now() + flush_interval;
            }
            if loop_state.tracker.in_flight() >= MAX_IN_FLIGHT {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(()),
                    Some(ack) = acks_rx.recv() => loop_state.handle_ack(ack)?,
                    () = tokio::time::sleep_until(next_flush) => {}
                }
                continue;
            }
            // Only cancellation interrupts a poll (the offset flush waits for it: a poll that
            // returns within a second, as the SDK asks, delays it at most that long).
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                batch = task.poll_batch() => loop_state.process(batch?, &transforms).await?,
            }
        }
    }
    .await;

    // Stop: deliver what is in flight, store its offsets, then release the task.
    let stop_result = loop_state.drain_and_flush(&mut *task, &mut acks_rx).await;
    task.stop().await;
    outcome.and(stop_result)
}

/// The unit being built: consecutive records of one source partition.
struct OpenUnit {
    seq: u64,
    partition: SourcePartition,
    offset: SourceOffset,
    /// Records of the unit that go to Kafka (the others were dropped by a transform).
    produced: usize,
}

struct SourceLoop<'a> {
    topics: super::TopicTracker,
    records_out: metrics::Counter,
    in_flight: metrics::Gauge,
    env: &'a TaskEnv,
    spec: &'a TaskSpec,
    converters: &'a Converters,
    producer: &'a SourceProducer,
    /// Where the task's offsets are stored (the connector's own topic or the worker's).
    offsets: ConnectorOffsets,
    /// The task's cancellation (a task past its lease deadline waits on it).
    cancel: &'a CancellationToken,
    tracker: OffsetTracker,
    /// Metadata of acknowledged records not yet handed to the task (`acknowledged`).
    acked: Vec<RecordAck>,
    errors: SourceErrors,
    topic_creation_opt: Option<SourceTopicCreation>,
    /// The sequence number of the next record the task returns.
    next_seq: u64,
    open_unit_opt: Option<OpenUnit>,
    /// The records of the current poll, converted.
    batch: ProduceBatch,
    /// The topic last checked for topic creation and the active-topics record.
    last_topic: String,
    /// Exactly-once: offsets travel in the producer's transactions, not through the store.
    transactional: bool,
    /// Exactly-once: the last offset of each source partition in the current poll.
    batch_offsets: Vec<(SourcePartition, SourceOffset)>,
    /// Exactly-once with `transaction.boundary=connector`: the task ends its transactions.
    connector_boundary: bool,
    /// ... and the last offset of each source partition in the open transaction.
    transaction_offsets: Vec<(SourcePartition, SourceOffset)>,
    /// ... and whether one of its transactions was committed since the task's `commit` hook
    /// was last called.
    transaction_committed: bool,
}

impl SourceLoop<'_> {
    fn handle_ack(&mut self, (seq, outcome): Ack) -> Result<(), ConnectorError> {
        match outcome {
            Ok(_) if seq == TRANSACTION_COMMITTED => {
                self.transaction_committed = true;
                Ok(())
            }
            Ok(metadata) => {
                let records = self.tracker.ack(seq);
                self.records_out.increment(records as u64);
                self.acked.extend(metadata);
                Ok(())
            }
            Err(error) => Err(ConnectorError::external(format!(
                "failed to produce a record to Kafka: {error}"
            ))),
        }
    }

    /// Transforms, converts and hands one poll's records to the producer thread.
    async fn process(
        &mut self,
        batch: SourceBatch,
        transforms: &TaskTransforms,
    ) -> Result<(), ConnectorError> {
        match batch {
            SourceBatch::Lines(lines) if transforms.is_empty() => self.convert_lines(lines).await?,
            batch => {
                for record in batch.into_records() {
                    let request = record.transaction;
                    self.process_record(record, transforms).await?;
                    if self.connector_boundary && request != TransactionRequest::None {
                        // The transaction ends at this record: what came before it is sent
                        // with the commit or abort, the rest goes into the next transaction.
                        self.send_batch(request).await?;
                    }
                }
            }
        }
        self.send_batch(TransactionRequest::None).await
    }

    /// Sends the records converted since the last send, with their offset records under
    /// exactly-once. With `transaction.boundary=connector`, the offsets of the open transaction
    /// go with the `request` that ends it (an abort commits them after dropping the records).
    async fn send_batch(&mut self, request: TransactionRequest) -> Result<(), ConnectorError> {
        self.close_unit();
        if self.transactional {
            let offsets = std::mem::take(&mut self.batch_offsets);
            let offsets = if self.connector_boundary {
                for (partition, offset) in offsets {
                    match self
                        .transaction_offsets
                        .iter_mut()
                        .find(|(known, _)| *known == partition)
                    {
                        Some((_, last)) => *last = offset,
                        None => self.transaction_offsets.push((partition, offset)),
                    }
                }
                match request {
                    TransactionRequest::None => Vec::new(),
                    TransactionRequest::Commit | TransactionRequest::Abort => {
                        std::mem::take(&mut self.transaction_offsets)
                    }
                }
            } else {
                offsets
            };
            for (partition, offset) in offsets {
                let record = OffsetStore::offset_record(&self.spec.connector, &partition, &offset)
                    .map_err(|error| ConnectorError::internal(error.to_string()))?;
                self.batch.offsets.push(record);
            }
            self.batch.end = match request {
                TransactionRequest::None => BatchEnd::Open,
                TransactionRequest::Commit => BatchEnd::Commit,
                TransactionRequest::Abort => BatchEnd::Abort,
            };
        }
        if !self.batch.is_empty() {
            // Past the worker's lease deadline nothing is produced: the task waits to be
            // stopped (its records were never sent, so their offsets are never committed).
            if !self.env.lease.wait_open(self.cancel).await {
                self.batch = ProduceBatch::default();
                return Ok(());
            }
            let batch = std::mem::take(&mut self.batch);
            self.producer.send(batch).await?;
        }
        Ok(())
    }

    /// Exactly-once: remembers the latest offset of `partition` in this poll (its offset
    /// record goes into the transaction with the poll's records).
    fn note_batch_offset(&mut self, partition: &SourcePartition, offset: &SourceOffset) {
        if !self.transactional {
            return;
        }
        match self
            .batch_offsets
            .iter_mut()
            .find(|(known, _)| known == partition)
        {
            Some((_, last)) => offset.clone_into(last),
            None => self.batch_offsets.push((partition.clone(), offset.clone())),
        }
    }

    async fn process_record(
        &mut self,
        record: SourceRecord,
        transforms: &TaskTransforms,
    ) -> Result<(), ConnectorError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        match self.errors.transform(transforms, record)? {
            Ok(SourceTransformed::Kept(record)) => self.convert_record(record, seq).await,
            Ok(SourceTransformed::Dropped { partition, offset }) => {
                self.extend_unit(&partition, offset, seq, 0);
                Ok(())
            }
            Err(skipped) => {
                self.skip_record(&skipped.original, &skipped.failure, seq)
                    .await
            }
        }
    }

    /// Adds `produced` records ending at `offset` (the first of them numbered `seq`) to the open
    /// unit, or opens a unit when the partition differs.
    fn extend_unit(
        &mut self,
        partition: &SourcePartition,
        offset: SourceOffset,
        seq: u64,
        produced: usize,
    ) {
        if let Some(unit) = self
            .open_unit_opt
            .as_mut()
            .filter(|unit| unit.partition == *partition)
        {
            unit.offset = offset;
            unit.produced += produced;
            return;
        }
        self.close_unit();
        self.open_unit_opt = Some(OpenUnit {
            seq,
            partition: partition.clone(),
            offset,
            produced,
        });
    }

    /// Submits the open unit to the offset tracker and, when it has records to produce, to
    /// the batch.
    fn close_unit(&mut self) {
        if let Some(unit) = self.open_unit_opt.take() {
            self.note_batch_offset(&unit.partition, &unit.offset);
            self.tracker
                .submit(&unit.partition, unit.offset, unit.seq, unit.produced);
            if unit.produced > 0 {
                self.batch.units.push((unit.seq, unit.produced));
            }
        }
    }

    /// Records the topic (active topics, topic creation) when it is not the previous record's.
    async fn observe_topic(&mut self, topic: &str) -> Result<(), ConnectorError> {
        if self.last_topic == topic {
            return Ok(());
        }
        self.topics.observe(topic);
        if let Some(topic_creation) = self.topic_creation_opt.as_mut() {
            topic_creation.ensure_topic(topic).await?;
        }
        topic.clone_into(&mut self.last_topic);
        Ok(())
    }

    async fn convert_record(
        &mut self,
        record: SourceRecord,
        seq: u64,
    ) -> Result<(), ConnectorError> {
        self.observe_topic(&record.topic).await?;
        let start = self.batch.bytes.len();
        let converted = match self
            .errors
            .convert_record_into(self.converters, &record, &mut self.batch.bytes)
            .await?
        {
            Ok(converted) => converted,
            Err(failure) => {
                self.batch.bytes.truncate(start);
                return self.skip_record(&record, &failure, seq).await;
            }
        };
        let topic = self.batch.topic_index(&record.topic);
        self.batch.records.push(BatchRecord {
            topic,
            key_opt: converted.key_opt,
            value_opt: converted.value_opt,
            partition_opt: record.kafka_partition,
            timestamp_opt: record.timestamp,
            headers_opt: converted.headers_opt,
            seq,
        });
        let SourceRecord {
            source_partition,
            source_offset,
            ..
        } = record;
        self.extend_unit(&source_partition, source_offset, seq, 1);
        Ok(())
    }

    /// Converts a batch of lines from its text (no transformations): a null key and each line
    /// as a string value. A line the value converter refuses goes the way of any record (as a
    /// record of its own, through the error policy).
    async fn convert_lines(&mut self, lines: LineBatch) -> Result<(), ConnectorError> {
        if lines.is_empty() {
            return Ok(());
        }
        self.observe_topic(&lines.topic).await?;
        let topic = lines.topic.as_str();
        let Ok(key_opt) = self
            .converters
            .key
            .from_connect_data(topic, None, &Value::Null)
        else {
            // The key converter refuses a null key: every record fails the same way, each
            // through the error policy.
            for index in 0..lines.len() {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.convert_record(lines.record(index), seq).await?;
            }
            return Ok(());
        };
        let topic_index = self.batch.topic_index(topic);
        let schema = lines.value_schema.as_deref();
        // The run of converted lines not yet in the open unit: (first seq, count, last index).
        let mut run_opt: Option<(u64, usize, usize)> = None;
        for index in 0..lines.len() {
            let seq = self.next_seq;
            self.next_seq += 1;
            let bytes = &mut self.batch.bytes;
            let start = bytes.len();
            let key_range_opt = key_opt.as_deref().map(|key| {
                bytes.extend_from_slice(key);
                start..bytes.len()
            });
            let value_start = bytes.len();
            match self.converters.value.from_connect_text_into(
                topic,
                schema,
                lines.line(index),
                bytes,
            ) {
                Ok(non_null) => {
                    let value_opt = non_null.then_some(value_start..bytes.len());
                    self.batch.records.push(BatchRecord {
                        topic: topic_index,
                        key_opt: key_range_opt,
                        value_opt,
                        partition_opt: None,
                        timestamp_opt: None,
                        headers_opt: None,
                        seq,
                    });
                    let run = run_opt.get_or_insert((seq, 0, index));
                    run.1 += 1;
                    run.2 = index;
                }
                Err(_) => {
                    bytes.truncate(start);
                    if let Some((first_seq, count, last)) = run_opt.take() {
                        self.extend_unit(&lines.partition, lines.offset(last), first_seq, count);
                    }
                    self.convert_record(lines.record(index), seq).await?;
                }
            }
        }
        if let Some((first_seq, count, last)) = run_opt {
            self.extend_unit(&lines.partition, lines.offset(last), first_seq, count);
        }
        Ok(())
    }

    /// Skips a record the error policy tolerated: dead-letters it (its offset is committable
    /// once the DLQ acknowledged it) or, without a DLQ, marks it done at once. It is a unit of
    /// its own.
    async fn skip_record(
        &mut self,
        original: &SourceRecord,
        failure: &ToleratedFailure,
        seq: u64,
    ) -> Result<(), ConnectorError> {
        self.close_unit();
        let pending = self
            .errors
            .dead_letter(self.converters, original, failure, seq)
            .await?;
        self.note_batch_offset(&original.source_partition, &original.source_offset);
        self.tracker.submit(
            &original.source_partition,
            original.source_offset.clone(),
            seq,
            usize::from(pending),
        );
        Ok(())
    }

    async fn flush_offsets(&mut self, task: &mut dyn SourceTask) -> Result<(), ConnectorError> {
        #[allow(clippy::cast_precision_loss)]
        self.in_flight.set(self.tracker.in_flight() as f64);
        if !self.env.lease.is_open() {
            // Past the worker's lease deadline: no offset commit (the new owner's may be
            // newer). What is committable stays in the tracker.
            tracing::warn!(task = %self.spec.id(), "worker lease deadline passed: not committing source offsets");
            return Ok(());
        }
        if self.connector_boundary {
            // The task ends its transactions, with their offsets in them; its commit hook
            // hears of those committed, as in Kafka Connect.
            if std::mem::take(&mut self.transaction_committed) {
                if let Err(error) = task.commit().await {
                    tracing::warn!(task = %self.spec.id(), %error, "source task commit hook failed");
                }
            }
            return Ok(());
        }
        if self.transactional {
            // The offsets are in the transactions: commit the open one (`interval`; with `poll`
            // every batch committed its own).
            self.producer.commit().await?;
            let committed = self.tracker.take_committable();
            if !committed.is_empty() {
                // A connector with its own offsets topic: a copy in the worker's, outside the
                // transactions (best effort, as Kafka Connect does).
                if self.offsets.has_own_topic() {
                    let copies: Vec<_> = committed
                        .iter()
                        .map(|(partition, offset)| (partition.clone(), Some(offset.clone())))
                        .collect();
                    self.offsets.copy_to_worker_topic(&copies).await;
                }
                if let Err(error) = task.commit().await {
                    tracing::warn!(task = %self.spec.id(), %error, "source task commit hook failed");
                }
            }
            return Ok(());
        }
        let committable = self.tracker.take_committable();
        if committable.is_empty() {
            return Ok(());
        }
        let entries: Vec<_> = committable
            .iter()
            .map(|(partition, offset)| (partition.clone(), Some(offset.clone())))
            .collect();
        let write = self.offsets.write(&entries);
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
        if self.producer.flush(STOP_FLUSH_TIMEOUT).await.is_err() {
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
        if self.connector_boundary {
            // A transaction the task did not end is not committed (as Kafka Connect, which
            // commits at stop only what the task asked for); aborting it now keeps it from
            // holding back `read_committed` consumers until it times out.
            if let Err(error) = self.producer.abort().await {
                tracing::warn!(task = %self.spec.id(), %error, "failed to abort the open transaction at stop");
            }
        }
        self.flush_offsets(task).await?;
        result
    }
}

/// An exactly-once source task's `transactional.id`, as Kafka Connect builds it:
/// `${group.id}-${connector}-${task}` (the tasks' producers and `PUT /connectors/{name}/fence`).
pub fn transactional_id(group_id: &str, connector: &str, task: impl std::fmt::Display) -> String {
    format!("{group_id}-{connector}-{task}")
}

/// Fences each transactional id: a producer with it initialises its transactions (the broker
/// bumps the id's epoch and aborts its open transaction), then is dropped. Blocking: call it
/// from `spawn_blocking`.
///
/// # Errors
/// Names the transactional id that could not be fenced.
pub fn fence_transactional_ids(
    client_config: &ClientConfig,
    transactional_ids: &[String],
) -> Result<(), String> {
    use rdkafka::producer::{BaseProducer, Producer};

    for transactional_id in transactional_ids {
        let fencer: BaseProducer = client_config
            .clone()
            .set("transactional.id", transactional_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()
            .map_err(|error| {
                format!("cannot create a producer to fence {transactional_id}: {error}")
            })?;
        fencer
            .init_transactions(Duration::from_secs(30))
            .map_err(|error| {
                format!("Failed to fence transactional producer {transactional_id}: {error}")
            })?;
    }
    Ok(())
}
