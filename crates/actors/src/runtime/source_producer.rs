//! A source task's producer thread: one `BaseProducer` that sends the converted batches the
//! source loop hands it and serves its own delivery reports (no librdkafka poll thread, no
//! message per record). Records are acknowledged per *unit*, a run of consecutive records of one
//! source partition within a poll batch: the loop hears of a unit once Kafka acknowledged every
//! record in it, which is all the offset tracker needs.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_connectors::sdk::{ConnectorError, RecordAck};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message as _, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use tokio::sync::{mpsc, oneshot};

use super::source::{Ack, TRANSACTION_COMMITTED};

/// Batches handed to the producer thread and not yet taken by it.
const BATCH_QUEUE: usize = 4;
/// How long the thread parks when records are in flight and librdkafka had no delivery report
/// ready (a new batch unparks it; room in a full queue waits at most this long). It never waits inside
/// rdkafka's `poll(timeout)`: that one busy-waits through the last millisecond of its timeout
/// (a remaining time under 1 ms becomes a non-blocking poll), which cost a quarter of the CPU.
const IDLE_SLEEP: Duration = Duration::from_millis(1);

/// One record of a [`ProduceBatch`]: its key and value are ranges of the batch's `bytes`.
pub(crate) struct BatchRecord {
    /// Index into [`ProduceBatch::topics`].
    pub(crate) topic: usize,
    pub(crate) key_opt: Option<Range<usize>>,
    pub(crate) value_opt: Option<Range<usize>>,
    pub(crate) partition_opt: Option<i32>,
    pub(crate) timestamp_opt: Option<i64>,
    pub(crate) headers_opt: Option<OwnedHeaders>,
    /// The record's sequence number: its position among the records the task returned.
    pub(crate) seq: u64,
}

/// Converted records of one poll, their bytes in one buffer.
#[derive(Default)]
pub(crate) struct ProduceBatch {
    /// The topics of the batch (one, for most sources).
    pub(crate) topics: Vec<String>,
    pub(crate) bytes: Vec<u8>,
    pub(crate) records: Vec<BatchRecord>,
    /// The units of the batch in record order: (unit sequence number, records to produce). A
    /// unit's sequence number is that of its first record, so a record belongs to the last
    /// unit whose number is not above the record's.
    pub(crate) units: Vec<(u64, usize)>,
    /// Exactly-once only: the offset records (key, value) of the batch, written to the offsets
    /// topic in the same transaction as its records.
    pub(crate) offsets: Vec<(String, Vec<u8>)>,
    /// Exactly-once only: what ends the transaction after the batch
    /// (`transaction.boundary=connector`; the `poll` boundary commits every batch anyway).
    pub(crate) end: BatchEnd,
}

/// What a transaction does after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BatchEnd {
    /// It stays open (unless the boundary is `poll`).
    #[default]
    Open,
    /// It is committed.
    Commit,
    /// It is aborted, and the batch's offset records are committed in a transaction of their
    /// own: the records are dropped, the task goes on after them.
    Abort,
}

impl ProduceBatch {
    /// Returns the index of `topic` in `topics`, adding it when new.
    pub(crate) fn topic_index(&mut self, topic: &str) -> usize {
        if let Some(last) = self.topics.len().checked_sub(1) {
            if self.topics[last] == topic {
                return last;
            }
        }
        match self.topics.iter().position(|known| known == topic) {
            Some(index) => index,
            None => {
                self.topics.push(topic.to_string());
                self.topics.len() - 1
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty() && self.offsets.is_empty()
    }
}

enum Command {
    Produce(ProduceBatch),
    Flush(Duration, oneshot::Sender<Result<(), KafkaError>>),
    /// Exactly-once: `init_transactions` (fences every earlier producer of the task's
    /// `transactional.id` and aborts its open transaction).
    InitTransactions(oneshot::Sender<Result<(), KafkaError>>),
    /// Exactly-once, `interval` boundary: commits the open transaction, if any.
    Commit(oneshot::Sender<Result<(), String>>),
    /// Exactly-once, `connector` boundary, at stop: aborts the open transaction, if any.
    Abort(oneshot::Sender<Result<(), String>>),
}

/// How long a transaction operation (init, commit, abort) may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);
/// The delivery opaque of offset records (no unit: their delivery is the transaction's).
const OFFSET_RECORD: usize = usize::MAX;

/// A transactional producer's settings (exactly-once sources).
#[derive(Clone)]
pub(crate) struct Transactional {
    /// The offsets topic the offset records go to.
    pub(crate) offsets_topic: String,
    /// `poll` boundary: commit after every batch; otherwise on [`SourceProducer::commit`].
    pub(crate) commit_each_batch: bool,
    /// The task's lease: no transaction is committed once its deadline has passed.
    pub(crate) lease: crate::stores::TaskLease,
}

struct Unit {
    seq: u64,
    remaining: usize,
    acks: Vec<RecordAck>,
}

/// Delivery reports, counted per unit; they are served on the producer thread (its `poll`).
pub(crate) struct UnitContext {
    acks_tx: mpsc::UnboundedSender<Ack>,
    with_metadata: Arc<AtomicBool>,
    units: Mutex<VecDeque<Unit>>,
    /// Units sent and not fully acknowledged.
    open_units: AtomicUsize,
    /// Delivery reports served so far (to tell whether a `poll` served any).
    delivered: AtomicUsize,
}

impl UnitContext {
    fn register(&self, batch: &ProduceBatch) {
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        for &(seq, records) in &batch.units {
            if records > 0 {
                units.push_back(Unit {
                    seq,
                    remaining: records,
                    acks: Vec::new(),
                });
                self.open_units.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn unit_of(units: &VecDeque<Unit>, record_seq: u64) -> Option<usize> {
        units
            .partition_point(|unit| unit.seq <= record_seq)
            .checked_sub(1)
    }
}

impl ClientContext for UnitContext {}

impl ProducerContext for UnitContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, record_seq: usize) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        if record_seq == OFFSET_RECORD {
            if let Err((error, _)) = result {
                let _ = self
                    .acks_tx
                    .send((0, Err(format!("failed to write source offsets: {error}"))));
            }
            return;
        }
        let record_seq = record_seq as u64;
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        let Some(index) = Self::unit_of(&units, record_seq) else {
            return;
        };
        let unit = &mut units[index];
        match result {
            Ok(message) => {
                if self.with_metadata.load(Ordering::Relaxed) {
                    unit.acks.push(RecordAck {
                        seq: record_seq,
                        topic: message.topic().to_string(),
                        partition: message.partition(),
                        offset: message.offset(),
                        timestamp: message.timestamp().to_millis().unwrap_or(-1),
                    });
                }
                unit.remaining = unit.remaining.saturating_sub(1);
                if unit.remaining == 0 {
                    let acks = std::mem::take(&mut unit.acks);
                    let _ = self.acks_tx.send((unit.seq, Ok(acks)));
                    self.open_units.fetch_sub(1, Ordering::Relaxed);
                    // Units of different Kafka partitions complete out of order: drop the
                    // finished ones from the front only.
                    while units.front().is_some_and(|unit| unit.remaining == 0) {
                        units.pop_front();
                    }
                }
            }
            Err((error, _)) => {
                let _ = self.acks_tx.send((unit.seq, Err(error.to_string())));
            }
        }
    }
}

/// The handle of a producer thread; dropping it stops the thread once its queue is sent.
pub(crate) struct SourceProducer {
    /// Shared with the context: whether acknowledgements carry each record's metadata.
    with_metadata: Arc<AtomicBool>,
    commands_tx_opt: Option<mpsc::Sender<Command>>,
    thread_opt: Option<std::thread::JoinHandle<()>>,
}

impl SourceProducer {
    /// Creates the producer and starts its thread; unit acknowledgements and failures go to
    /// `acks_tx` (with each record's Kafka metadata once [`Self::set_with_metadata`] asks).
    /// A `transactional_opt` producer writes each batch and its offset records in a
    /// transaction; call [`Self::init_transactions`] before the first batch.
    ///
    /// # Errors
    /// An external error when librdkafka refuses the configuration.
    pub(crate) fn start(
        config: &ClientConfig,
        name: String,
        acks_tx: mpsc::UnboundedSender<Ack>,
        transactional_opt: Option<Transactional>,
    ) -> Result<Self, ConnectorError> {
        let with_metadata = Arc::new(AtomicBool::new(false));
        let producer: BaseProducer<UnitContext> = config
            .create_with_context(UnitContext {
                acks_tx,
                with_metadata: Arc::clone(&with_metadata),
                units: Mutex::new(VecDeque::new()),
                open_units: AtomicUsize::new(0),
                delivered: AtomicUsize::new(0),
            })
            .map_err(|error| {
                ConnectorError::external(format!("failed to create producer: {error}"))
            })?;
        let (commands_tx, commands_rx) = mpsc::channel(BATCH_QUEUE);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&producer, commands_rx, transactional_opt.as_ref()))
            .map_err(|error| {
                ConnectorError::internal(format!("failed to start the producer thread: {error}"))
            })?;
        Ok(SourceProducer {
            with_metadata,
            commands_tx_opt: Some(commands_tx),
            thread_opt: Some(thread),
        })
    }

    /// Makes acknowledgements carry each record's Kafka metadata (the task wants them).
    pub(crate) fn set_with_metadata(&self, with_metadata: bool) {
        self.with_metadata.store(with_metadata, Ordering::Relaxed);
    }

    /// Initialises the transactional producer: fences the task's zombies (every earlier
    /// producer with its `transactional.id`) and aborts their open transaction.
    ///
    /// # Errors
    /// An external error when Kafka refuses (the task restarts and tries again).
    pub(crate) async fn init_transactions(&self) -> Result<(), ConnectorError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.command(Command::InitTransactions(reply_tx)).await?;
        Self::transaction_reply("initialise transactions", reply_rx).await
    }

    /// Commits the open transaction (`interval` boundary; a no-op with none open).
    ///
    /// # Errors
    /// An external error when the commit fails (the transaction is aborted).
    pub(crate) async fn commit(&self) -> Result<(), ConnectorError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.command(Command::Commit(reply_tx)).await?;
        Self::transaction_reply("commit the transaction", reply_rx).await
    }

    /// Aborts the open transaction (a no-op with none open).
    ///
    /// # Errors
    /// An external error when the abort fails.
    pub(crate) async fn abort(&self) -> Result<(), ConnectorError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.command(Command::Abort(reply_tx)).await?;
        Self::transaction_reply("abort the transaction", reply_rx).await
    }

    async fn transaction_reply<E: std::fmt::Display>(
        what: &str,
        reply_rx: oneshot::Receiver<Result<(), E>>,
    ) -> Result<(), ConnectorError> {
        match reply_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ConnectorError::external(format!(
                "failed to {what}: {error}"
            ))),
            Err(_) => Err(ConnectorError::internal(
                "the source producer thread stopped",
            )),
        }
    }

    /// Hands a batch to the thread; waits while its queue is full.
    ///
    /// # Errors
    /// An internal error when the thread is gone.
    pub(crate) async fn send(&self, batch: ProduceBatch) -> Result<(), ConnectorError> {
        self.command(Command::Produce(batch)).await
    }

    async fn command(&self, command: Command) -> Result<(), ConnectorError> {
        let stopped = || ConnectorError::internal("the source producer thread stopped");
        let commands_tx = self.commands_tx_opt.as_ref().ok_or_else(stopped)?;
        commands_tx.send(command).await.map_err(|_| stopped())?;
        // The thread may be parked waiting for delivery reports: it has work now.
        if let Some(thread) = &self.thread_opt {
            thread.thread().unpark();
        }
        Ok(())
    }

    /// Waits until everything handed over so far is acknowledged (or `timeout` passed).
    ///
    /// # Errors
    /// The producer's flush error, or an internal error when the thread is gone.
    pub(crate) async fn flush(&self, timeout: Duration) -> Result<(), ConnectorError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.command(Command::Flush(timeout, reply_tx)).await?;
        match reply_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ConnectorError::external(format!(
                "failed to flush the producer: {error}"
            ))),
            Err(_) => Err(ConnectorError::internal(
                "the source producer thread stopped",
            )),
        }
    }
}

impl Drop for SourceProducer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; it does not wait for acknowledgements
        // (`flush` does that on a clean stop).
        drop(self.commands_tx_opt.take());
        if let Some(thread) = self.thread_opt.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn run(
    producer: &BaseProducer<UnitContext>,
    mut commands_rx: mpsc::Receiver<Command>,
    transactional_opt: Option<&Transactional>,
) {
    // Whether a transaction is open (exactly-once, `interval` boundary: across batches).
    let mut open = false;
    // Exactly-once: why a transaction of this producer failed (it was aborted). Nothing more
    // is produced or committed: batches already queued behind it come after records that were
    // never committed, and committing them (with their offsets) would skip those records for
    // good. The task restarts from its last committed offsets; every refusal repeats the cause,
    // since whichever reaches the task first is the error it fails with.
    let mut failed_opt: Option<String> = None;
    loop {
        let command = if producer.context().open_units.load(Ordering::Relaxed) > 0 {
            match commands_rx.try_recv() {
                Ok(command) => command,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if !serve_reports(producer) {
                        std::thread::park_timeout(IDLE_SLEEP);
                    }
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        } else {
            match commands_rx.blocking_recv() {
                Some(command) => command,
                None => return,
            }
        };
        match (command, transactional_opt) {
            (Command::Produce(batch), None) => {
                // A failure is reported through the acknowledgements.
                let _ = produce(producer, batch);
            }
            (Command::Produce(_), Some(_)) if failed_opt.is_some() => {
                let cause = failed_opt.clone().unwrap_or_default();
                let _ = producer.context().acks_tx.send((0, Err(cause)));
            }
            (Command::Produce(batch), Some(transactional)) => {
                failed_opt =
                    produce_in_transaction(producer, batch, transactional, &mut open).err();
            }
            (Command::Flush(timeout, reply), _) => {
                let _ = reply.send(producer.flush(timeout));
            }
            (Command::InitTransactions(reply), _) => {
                let _ = reply.send(producer.init_transactions(TXN_TIMEOUT));
            }
            (Command::Commit(reply), Some(_)) if failed_opt.is_some() => {
                let _ = reply.send(Err(failed_opt.clone().unwrap_or_default()));
            }
            (Command::Commit(reply), Some(transactional)) => {
                let result = commit(producer, &mut open, &transactional.lease);
                failed_opt = result.as_ref().err().cloned();
                let _ = reply.send(result);
            }
            (Command::Commit(reply) | Command::Abort(reply), None) => {
                let _ = reply.send(Ok(()));
            }
            (Command::Abort(reply), Some(_)) => {
                let result = if std::mem::take(&mut open) {
                    producer
                        .abort_transaction(TXN_TIMEOUT)
                        .map_err(|error| error.to_string())
                } else {
                    Ok(())
                };
                let _ = reply.send(result);
            }
        }
    }
}

/// Commits the open transaction; aborts it when the commit fails, or instead of committing
/// once the task's lease deadline has passed: a worker resuming from a freeze (or cut off) must
/// not commit what it had in hand, since its task may run elsewhere (whose producer fences this
/// one) or no longer exist (whose transactional id nobody fences). The error makes the task
/// start again from the last committed offsets, if it is still its to run.
fn commit(
    producer: &BaseProducer<UnitContext>,
    open: &mut bool,
    lease: &crate::stores::TaskLease,
) -> Result<(), String> {
    if !std::mem::take(open) {
        return Ok(());
    }
    if !lease.is_open() {
        let _ = producer.abort_transaction(TXN_TIMEOUT);
        return Err("the worker's lease deadline passed: transaction aborted".to_string());
    }
    let result = producer.commit_transaction(TXN_TIMEOUT);
    if result.is_err() {
        let _ = producer.abort_transaction(TXN_TIMEOUT);
    }
    result.map_err(|error| error.to_string())
}

/// Exactly-once: writes a batch's records and its offset records in the open transaction
/// (beginning one when none is open), and commits it with the `poll` boundary. A failure
/// aborts the transaction and is reported as a failed acknowledgement: the task restarts from
/// the last committed offsets. Returns the failure's message.
fn produce_in_transaction(
    producer: &BaseProducer<UnitContext>,
    mut batch: ProduceBatch,
    transactional: &Transactional,
    open: &mut bool,
) -> Result<(), String> {
    let fail = |what: &str, error: &dyn std::fmt::Display| {
        let message = format!("failed to {what}: {error}");
        let _ = producer.context().acks_tx.send((0, Err(message.clone())));
        Err(message)
    };
    if !*open {
        if let Err(error) = producer.begin_transaction() {
            return fail("begin a transaction", &error);
        }
        *open = true;
    }
    let offsets = std::mem::take(&mut batch.offsets);
    let end = batch.end;
    if let Err(message) = produce(producer, batch) {
        *open = false;
        let _ = producer.abort_transaction(TXN_TIMEOUT);
        return Err(message);
    }
    if end == BatchEnd::Abort {
        // The connector drops the transaction's records: each is delivered (so that its unit
        // is acknowledged, not failed by a purge) before the abort, and its offsets are
        // committed in the next transaction, as Kafka Connect does.
        if let Err(error) = producer.flush(TXN_TIMEOUT) {
            *open = false;
            let _ = producer.abort_transaction(TXN_TIMEOUT);
            return fail("deliver the records of an aborted transaction", &error);
        }
        serve_reports(producer);
        *open = false;
        if let Err(error) = producer.abort_transaction(TXN_TIMEOUT) {
            return fail("abort the transaction", &error);
        }
        if let Err(error) = producer.begin_transaction() {
            return fail("begin a transaction", &error);
        }
        *open = true;
    }
    for (key, value) in &offsets {
        let mut record: BaseRecord<'_, str, [u8], usize> =
            BaseRecord::with_opaque_to(&transactional.offsets_topic, OFFSET_RECORD)
                .key(key.as_str())
                .payload(value.as_slice());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    if !serve_reports(producer) {
                        std::thread::park_timeout(IDLE_SLEEP);
                    }
                }
                Err((error, _)) => {
                    *open = false;
                    let _ = producer.abort_transaction(TXN_TIMEOUT);
                    return fail("write source offsets", &error);
                }
            }
        }
    }
    if transactional.commit_each_batch || end != BatchEnd::Open {
        if let Err(error) = commit(producer, open, &transactional.lease) {
            return fail("commit the transaction", &error);
        }
        if end != BatchEnd::Open {
            let _ = producer
                .context()
                .acks_tx
                .send((TRANSACTION_COMMITTED, Ok(Vec::new())));
        }
    }
    Ok(())
}

/// Sends a batch's records; fails with the message of a record that could not be sent (also
/// reported as a failed acknowledgement of its unit).
fn produce(producer: &BaseProducer<UnitContext>, mut batch: ProduceBatch) -> Result<(), String> {
    producer.context().register(&batch);
    let bytes = &batch.bytes;
    for record in &mut batch.records {
        let topic = batch.topics[record.topic].as_str();
        let opaque = usize::try_from(record.seq).unwrap_or(usize::MAX);
        let mut base: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(topic, opaque);
        if let Some(key) = &record.key_opt {
            base = base.key(&bytes[key.clone()]);
        }
        if let Some(value) = &record.value_opt {
            base = base.payload(&bytes[value.clone()]);
        }
        if let Some(partition) = record.partition_opt {
            base = base.partition(partition);
        }
        if let Some(timestamp) = record.timestamp_opt {
            base = base.timestamp(timestamp);
        }
        if let Some(headers) = record.headers_opt.take() {
            base = base.headers(headers);
        }
        loop {
            match producer.send(base) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    if !serve_reports(producer) {
                        std::thread::park_timeout(IDLE_SLEEP);
                    }
                }
                Err((error, _)) => {
                    let context = producer.context();
                    let units = context.units.lock().unwrap_or_else(|e| e.into_inner());
                    let seq = UnitContext::unit_of(&units, record.seq)
                        .map_or(record.seq, |index| units[index].seq);
                    let message = format!("failed to produce to `{topic}`: {error}");
                    let _ = context.acks_tx.send((seq, Err(message.clone())));
                    return Err(message);
                }
            }
        }
    }
    serve_reports(producer);
    Ok(())
}

/// Serves the delivery reports librdkafka has ready without waiting (one event, which holds
/// many reports, per `poll`); returns whether there were any.
fn serve_reports(producer: &BaseProducer<UnitContext>) -> bool {
    let delivered = &producer.context().delivered;
    let before = delivered.load(Ordering::Relaxed);
    let mut last = before;
    loop {
        producer.poll(Duration::ZERO);
        let now = delivered.load(Ordering::Relaxed);
        if now == last {
            return now != before;
        }
        last = now;
    }
}
