//! The sink loop: a consumer in group `connect-<name>` (cooperative-sticky, manual commits) on its
//! own thread feeds batches through a bounded channel to the task: convert → `put`; every
//! `offset.flush.interval.ms`, on revoke and on stop, `pre_commit` (flush) and commit only what
//! the sink made durable.
//!
//! When the task falls behind the channel fills; the consumer thread then stops polling, so the
//! records wait in librdkafka's fetch queue (which stops fetching at `queued.min.messages` and
//! looks again every `fetch.queue.backoff.ms`). Only a task stalled for [`PAUSE_AFTER`] (a sink
//! retrying through an outage) gets its partitions paused, with the consumer polling on so group
//! membership and rebalances go on; a pause discards the prefetched records, so it is kept for
//! real stalls.
//!
//! A retriable failure (`External`) of `put`, `flush`/`pre_commit` or `open` is retried in place
//! ([`super::retry`]): the loop waits the backoff, the task forgets what it buffered (`close`,
//! `open`), and every partition is rewound to the offset after what the task made durable, so
//! the failed batch and everything not yet durable come again; nothing is committed past them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::{mpsc as std_mpsc, Mutex};
use std::time::Duration;

use ferry_connectors::converters::Converters;
use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::{ConnectorError, SinkControl, SinkTask, TopicPartition};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::retry::ReplayPoints;
use super::sink_errors::SinkErrors;
use super::sink_partitions::{ConsumerActions, PartitionControl};
use super::transform::TaskTransforms;
use super::{TaskEnv, TaskSpec};
use crate::kafka_client::ClientRole;

/// Batches buffered between the consumer thread and the task.
const CHANNEL_BATCHES: usize = 4;
/// Largest batch handed to `put`.
const MAX_BATCH: usize = 2_000;
/// After this long without new records, what was put is flushed and committed without waiting
/// for the next `offset.flush.interval.ms` tick: an idle pipeline is durable quickly.
const IDLE_COMMIT_DELAY: Duration = Duration::from_millis(200);
/// How long the consumer thread waits for room in a full channel at a time, before it looks at
/// its commands again.
const FULL_CHANNEL_WAIT: Duration = Duration::from_millis(100);
/// How long the channel stays full before the consumer thread pauses its partitions and polls
/// on (well inside librdkafka's `max.poll.interval.ms` of 300 s).
const PAUSE_AFTER: Duration = Duration::from_secs(10);
/// Ferry's sink consumer settings, set before the worker's and the connector's own keys (which
/// win). librdkafka's default `fetch.queue.backoff.ms` of 1 s freezes fetching for a whole second
/// each time the local queue reaches `queued.min.messages`, which a fast sink does several times
/// a second.
const CONSUMER_DEFAULTS: [(&str, &str); 1] = [("fetch.queue.backoff.ms", "10")];
/// How long a revoke waits for the task to flush.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(60);

type Offsets = BTreeMap<TopicPartition, i64>;

/// How long the consumer thread waits for a seek the task asked for.
const SEEK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the rebalance callback waits for a newly assigned partition's position.
const POSITION_TIMEOUT: Duration = Duration::from_secs(10);

enum ConsumerEvent {
    /// Polled records, with the generation of the last seek applied before them.
    Records(Vec<OwnedMessage>, u64),
    /// Newly assigned partitions, and the position of each whose position could be read.
    Assigned(Vec<TopicPartition>, Offsets),
    Revoked {
        partitions: Vec<TopicPartition>,
        reply_tx: std_mpsc::SyncSender<Offsets>,
    },
}

enum ConsumerCommand {
    Commit(Offsets),
    CommitSync(Offsets, std_mpsc::SyncSender<Result<(), String>>),
    /// The task's rewinds, pauses and resumes.
    Control(ConsumerActions),
    Stop,
}

struct SinkContext {
    /// `(connector, task)` labels for the lag metric.
    labels: (String, String),
    events_tx: mpsc::Sender<ConsumerEvent>,
    /// A batch the task had no room for yet.
    pending: Mutex<Option<Vec<OwnedMessage>>>,
    /// Partitions the task paused (the stall pause must not resume them).
    task_paused: Mutex<BTreeSet<TopicPartition>>,
    closing: AtomicBool,
}

impl ClientContext for SinkContext {
    /// librdkafka's statistics (every `statistics.interval.ms`) carry each partition's lag.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, topic_stats) in &statistics.topics {
            for (partition, partition_stats) in &topic_stats.partitions {
                if *partition < 0 || partition_stats.consumer_lag < 0 {
                    continue;
                }
                #[allow(clippy::cast_precision_loss)]
                let lag = partition_stats.consumer_lag as f64;
                metrics::gauge!(
                    crate::metric_names::TASK_CONSUMER_LAG,
                    "connector" => self.labels.0.clone(),
                    "task" => self.labels.1.clone(),
                    "topic" => topic.clone(),
                    "partition" => partition.to_string()
                )
                .set(lag);
            }
        }
    }
}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        if self.closing.load(Ordering::SeqCst) {
            return;
        }
        let partitions = partitions_of(list);
        {
            let mut paused = self
                .task_paused
                .lock()
                .expect("task_paused lock is never poisoned");
            for tp in &partitions {
                paused.remove(tp);
            }
        }
        if let Some(pending) = self
            .pending
            .lock()
            .expect("pending lock is never poisoned")
            .as_mut()
        {
            // The new owner reads these again from the committed offset.
            pending.retain(|message| {
                !partitions
                    .iter()
                    .any(|tp| tp.topic == message.topic() && tp.partition == message.partition())
            });
        }
        let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
        if self
            .events_tx
            .blocking_send(ConsumerEvent::Revoked {
                partitions,
                reply_tx,
            })
            .is_err()
        {
            return;
        }
        match reply_rx.recv_timeout(REVOKE_TIMEOUT) {
            Ok(offsets) if !offsets.is_empty() => {
                if let Err(error) = consumer.commit(&to_list(&offsets), CommitMode::Sync) {
                    tracing::warn!(%error, "failed to commit offsets of revoked partitions");
                }
            }
            Ok(_) => {}
            Err(_) => tracing::warn!(
                "sink task did not flush revoked partitions in time; not committing them"
            ),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            if !self.closing.load(Ordering::SeqCst) {
                let positions = assigned_positions(consumer, list);
                let _ = self
                    .events_tx
                    .blocking_send(ConsumerEvent::Assigned(partitions_of(list), positions));
            }
        }
    }
}

/// Where the consumer starts in each newly assigned partition: the group's committed offset,
/// else (`auto.offset.reset=earliest`) the partition's first offset. Kafka Connect's
/// `WorkerSinkTask` puts every assigned partition's `consumer.position()` into the offsets it
/// hands `preCommit`, and connectors rely on it (Debezium's JDBC sink answers an offset for
/// every partition it was opened with, from those). A partition whose position cannot be read
/// in time is left out, as before any record of it arrives.
fn assigned_positions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    list: &TopicPartitionList,
) -> Offsets {
    let mut positions = Offsets::new();
    if list.count() == 0 {
        return positions;
    }
    let Ok(committed) = consumer.committed_offsets(list.clone(), POSITION_TIMEOUT) else {
        return positions;
    };
    for element in committed.elements() {
        let tp = TopicPartition {
            topic: element.topic().to_string(),
            partition: element.partition(),
        };
        let position = match element.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => consumer
                .fetch_watermarks(&tp.topic, tp.partition, POSITION_TIMEOUT)
                .ok()
                .map(|(low, _)| low),
        };
        if let Some(position) = position {
            positions.insert(tp, position);
        }
    }
    positions
}

fn partitions_of(list: &TopicPartitionList) -> Vec<TopicPartition> {
    list.elements()
        .iter()
        .map(|element| TopicPartition {
            topic: element.topic().to_string(),
            partition: element.partition(),
        })
        .collect()
}

fn to_list(offsets: &Offsets) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for (tp, offset) in offsets {
        let _ = list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset));
    }
    list
}

fn consumer_config(env: &TaskEnv, spec: &TaskSpec) -> Result<ClientConfig, ConnectorError> {
    let group_id = format!("connect-{}", spec.connector);
    let client_id = format!("connector-consumer-{}", spec.id());
    env.client_config_for(
        ClientRole::Consumer,
        &[
            ("group.id", &group_id),
            ("client.id", &client_id),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("enable.partition.eof", "false"),
            ("statistics.interval.ms", "5000"),
            // A crashed worker's consumer holds its partitions until its session expires: keep
            // that short (the broker's minimum is 6 s) so a sink's partitions move soon after a
            // crash.
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "2000"),
            CONSUMER_DEFAULTS[0],
        ],
        &spec.config,
    )
}

/// Runs a sink task until cancelled.
///
/// # Errors
/// A record that cannot be converted (unless `errors.tolerance=all`), a DLQ failure, or a
/// task error.
pub(crate) async fn run_sink_task(
    env: &TaskEnv,
    spec: &TaskSpec,
    converters: Converters,
    errors: SinkErrors,
    mut task: Box<dyn SinkTask>,
    control: Arc<SinkControl>,
    cancel: CancellationToken,
) -> Result<(), ConnectorError> {
    let transforms = TaskTransforms::from_spec(spec)?;
    let (events_tx, mut events_rx) = mpsc::channel(CHANNEL_BATCHES);
    let context = SinkContext {
        labels: (spec.connector.clone(), spec.index.to_string()),
        events_tx,
        pending: Mutex::new(None),
        task_paused: Mutex::new(BTreeSet::new()),
        closing: AtomicBool::new(false),
    };
    let consumer: BaseConsumer<SinkContext> = consumer_config(env, spec)?
        .create_with_context(context)
        .map_err(|error| ConnectorError::external(format!("failed to create consumer: {error}")))?;
    subscribe(&consumer, &spec.config)?;
    let (commands_tx, commands_rx) = std_mpsc::channel();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let thread_name = format!("sink-{}", spec.id());
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            run_consumer_thread(&consumer, &commands_rx, &runtime);
            drop(consumer);
            let _ = closed_tx.send(());
        })
        .map_err(|error| {
            ConnectorError::internal(format!("failed to start consumer thread: {error}"))
        })?;

    let mut state = SinkState {
        transforms,
        topics: super::TopicTracker::new(env, spec),
        env,
        spec,
        converters: &converters,
        current: Offsets::new(),
        committed: Offsets::new(),
        errors,
        control,
        partitions: PartitionControl::default(),
        replay: ReplayPoints::default(),
    };
    let mut commit_tick = tokio::time::interval(env.offset_flush_interval);
    commit_tick.tick().await;

    let mut redeliver = false;
    let outcome: Result<(), ConnectorError> = async {
        loop {
            let step: Result<bool, ConnectorError> = async {
            if std::mem::take(&mut redeliver) {
                state.redeliver(&mut *task, &commands_tx).await?;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(true),
                // Before records, so a busy stream of records never delays the periodic commit.
                _ = commit_tick.tick() => {
                    if !env.lease.wait_open(&cancel).await {
                        return Ok(true);
                    }
                    state.commit(&mut *task, &commands_tx, true).await?;
                    state.act_on_requests(&mut *task, &commands_tx).await?;
                }
                event = events_rx.recv() => match event {
                    None => return Err(ConnectorError::external("the Kafka consumer stopped")),
                    Some(ConsumerEvent::Records(batch, generation)) => {
                        // Past the worker's lease deadline nothing is put: the task waits to be
                        // stopped (the records come again from the committed offsets).
                        if !env.lease.wait_open(&cancel).await {
                            return Ok(true);
                        }
                        let admitted = state.partitions.admit(batch, generation);
                        state.put(&mut *task, admitted).await?;
                        state.act_on_requests(&mut *task, &commands_tx).await?;
                    }
                    Some(ConsumerEvent::Assigned(partitions, positions)) => {
                        // Offered to pre_commit from now on, as committed already.
                        for (tp, position) in positions {
                            if !state.current.contains_key(&tp) {
                                state.current.insert(tp.clone(), position);
                                state.committed.insert(tp, position);
                            }
                        }
                        task.open(&partitions).await?;
                        state.act_on_requests(&mut *task, &commands_tx).await?;
                    }
                    Some(ConsumerEvent::Revoked { partitions, reply_tx }) => {
                        let subset: Offsets = state.current.iter()
                            .filter(|(tp, _)| partitions.contains(tp))
                            .map(|(tp, offset)| (tp.clone(), *offset))
                            .collect();
                        let flushed: Result<Offsets, ConnectorError> = async {
                            state.settle_dead_letters().await?;
                            // Past the worker's lease deadline revoked partitions commit nothing.
                            let committable = if subset.is_empty() || !env.lease.is_open() { Offsets::new() } else { task.pre_commit(subset).await? };
                            state.settle_dead_letters().await?;
                            Ok(committable)
                        }.await;
                        // A failed flush commits nothing, but the partitions are gone all the
                        // same: forget them before the failure is retried or fails the task.
                        let _ = reply_tx.send(flushed.as_ref().cloned().unwrap_or_default());
                        for tp in &partitions {
                            state.current.remove(tp);
                            state.committed.remove(tp);
                        }
                        state.replay.forget(&partitions);
                        state.partitions.revoke(&partitions);
                        if let Err(error) = task.close(&partitions).await {
                            tracing::warn!(task = %spec.id(), %error, "sink task close failed");
                        }
                        flushed?;
                    }
                },
                () = tokio::time::sleep(IDLE_COMMIT_DELAY), if state.current != state.committed => {
                    if !env.lease.wait_open(&cancel).await {
                        return Ok(true);
                    }
                    state.commit(&mut *task, &commands_tx, false).await?;
                    state.act_on_requests(&mut *task, &commands_tx).await?;
                }
            }
            Ok(false)
            }
            .await;
            match step {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(error) => {
                    // A retriable failure is waited out here; any other fails the task.
                    if !task.retries_in_place() {
                        return Err(error);
                    }
                    let delay = state.errors.retries().absorb(error)?;
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        () = tokio::time::sleep(delay) => redeliver = true,
                    }
                }
            }
        }
    }
    .await;

    if outcome.is_ok()
        && !state.current.is_empty()
        && state.current != state.committed
        && env.lease.is_open()
    {
        // Stop: flush and commit synchronously before leaving the group.
        let flushed: Result<Offsets, ConnectorError> = async {
            state.settle_dead_letters().await?;
            let committable = task.pre_commit(state.current.clone()).await?;
            state.settle_dead_letters().await?;
            Ok(committable)
        }
        .await;
        match flushed {
            Ok(committable) if !committable.is_empty() => {
                if !final_commit(&committable, &commands_tx, &mut events_rx).await {
                    tracing::warn!(task = %spec.id(), "final offset commit did not complete");
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(task = %spec.id(), %error, "final flush failed; offsets not committed")
            }
        }
    }
    // Dropping the receiver first lets a rebalance callback during close return at once.
    drop(events_rx);
    let _ = commands_tx.send(ConsumerCommand::Stop);
    task.stop().await;
    if tokio::time::timeout(Duration::from_secs(10), closed_rx)
        .await
        .is_err()
    {
        tracing::warn!(task = %spec.id(), "kafka consumer did not close within 10 s");
    }
    outcome
}

/// The stop's synchronous commit of `committable` (flushed offsets). Another member leaving
/// the group at the same moment (every worker stopped at once) makes the consumer thread revoke
/// this task's partitions before it gets to the commit: its callback waits for the task's
/// answer, and the group accepts this member's commit only inside that callback. So while the
/// commit is pending, a revoke is answered with the flushed offsets of the revoked partitions
/// (the callback commits them) and polled records are dropped (nothing is put any more; they
/// are read again from the committed offsets). Returns whether the commit succeeded or every
/// flushed partition was handed to a revoke (whose callback warns when its own commit fails).
async fn final_commit(
    committable: &Offsets,
    commands_tx: &std_mpsc::Sender<ConsumerCommand>,
    events_rx: &mut mpsc::Receiver<ConsumerEvent>,
) -> bool {
    let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
    if commands_tx
        .send(ConsumerCommand::CommitSync(committable.clone(), reply_tx))
        .is_err()
    {
        return false;
    }
    let mut reply =
        tokio::task::spawn_blocking(move || reply_rx.recv_timeout(Duration::from_secs(10)));
    let mut by_revoke: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut events_open = true;
    let committed = loop {
        tokio::select! {
            result = &mut reply => break matches!(result, Ok(Ok(Ok(())))),
            event = events_rx.recv(), if events_open => match event {
                Some(ConsumerEvent::Revoked { partitions, reply_tx }) => {
                    let subset: Offsets = committable
                        .iter()
                        .filter(|(tp, _)| partitions.contains(tp))
                        .map(|(tp, offset)| (tp.clone(), *offset))
                        .collect();
                    by_revoke.extend(subset.keys().cloned());
                    let _ = reply_tx.send(subset);
                }
                Some(ConsumerEvent::Records(..) | ConsumerEvent::Assigned(..)) => {}
                None => events_open = false,
            },
        }
    };
    committed || committable.keys().all(|tp| by_revoke.contains(tp))
}

fn subscribe(
    consumer: &BaseConsumer<SinkContext>,
    config: &BTreeMap<String, String>,
) -> Result<(), ConnectorError> {
    let topics: Vec<String> = config
        .get(keys::TOPICS)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let regex = config
        .get(keys::TOPICS_REGEX)
        .map_or("", |value| value.trim());
    let subscription: Vec<String> = if topics.is_empty() {
        if regex.is_empty() {
            return Err(ConnectorError::user(
                "Must configure one of topics or topics.regex",
            ));
        }
        vec![format!("^{}", regex.trim_start_matches('^'))]
    } else {
        topics
    };
    let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).map_err(|error| {
        ConnectorError::user(format!("failed to subscribe to {subscription:?}: {error}"))
    })
}

fn run_consumer_thread(
    consumer: &BaseConsumer<SinkContext>,
    commands_rx: &std_mpsc::Receiver<ConsumerCommand>,
    runtime: &tokio::runtime::Handle,
) {
    let context = consumer.context();
    let mut paused = false;
    // The generation of the last seek the task asked for (tags every batch sent after it).
    let mut generation = 0;
    // Since when the task has had no room for the pending batch.
    let mut full_since_opt: Option<std::time::Instant> = None;
    loop {
        loop {
            match commands_rx.try_recv() {
                Ok(ConsumerCommand::Commit(offsets)) => {
                    if let Err(error) = consumer.commit(&to_list(&offsets), CommitMode::Async) {
                        tracing::warn!(%error, "failed to commit sink offsets");
                    }
                }
                Ok(ConsumerCommand::CommitSync(offsets, reply_tx)) => {
                    let result = consumer
                        .commit(&to_list(&offsets), CommitMode::Sync)
                        .map_err(|e| e.to_string());
                    let _ = reply_tx.send(result);
                }
                Ok(ConsumerCommand::Control(actions)) => {
                    generation = apply_actions(consumer, actions, paused).unwrap_or(generation);
                }
                Ok(ConsumerCommand::Stop) | Err(std_mpsc::TryRecvError::Disconnected) => {
                    context.closing.store(true, Ordering::SeqCst);
                    return;
                }
                Err(std_mpsc::TryRecvError::Empty) => break,
            }
        }
        let batch_opt = context
            .pending
            .lock()
            .expect("pending lock is never poisoned")
            .take();
        if let Some(batch) = batch_opt {
            let send = context
                .events_tx
                .send_timeout(ConsumerEvent::Records(batch, generation), FULL_CHANNEL_WAIT);
            match runtime.block_on(send) {
                Ok(()) => full_since_opt = None,
                Err(mpsc::error::SendTimeoutError::Timeout(ConsumerEvent::Records(batch, _))) => {
                    full_since_opt.get_or_insert_with(std::time::Instant::now);
                    let mut pending = context
                        .pending
                        .lock()
                        .expect("pending lock is never poisoned");
                    match pending.as_mut() {
                        // Records polled meanwhile (none while paused) go after this batch.
                        Some(newer) => {
                            let mut merged = batch;
                            merged.append(newer);
                            *pending = Some(merged);
                        }
                        None => *pending = Some(batch),
                    }
                }
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {}
                Err(mpsc::error::SendTimeoutError::Closed(_)) => {
                    context.closing.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
        let waiting = context
            .pending
            .lock()
            .expect("pending lock is never poisoned")
            .is_some();
        let stalled = waiting && full_since_opt.is_some_and(|since| since.elapsed() >= PAUSE_AFTER);
        if stalled != paused {
            if let Ok(assignment) = consumer.assignment() {
                let result = if stalled {
                    consumer.pause(&assignment)
                } else {
                    // Not the partitions the task paused itself.
                    let task_paused = context
                        .task_paused
                        .lock()
                        .expect("task_paused lock is never poisoned")
                        .clone();
                    let resumable: Vec<TopicPartition> = partitions_of(&assignment)
                        .into_iter()
                        .filter(|tp| !task_paused.contains(tp))
                        .collect();
                    consumer.resume(&list_of(&resumable))
                };
                if let Err(error) = result {
                    tracing::warn!(%error, "failed to pause or resume sink partitions");
                }
            }
            paused = stalled;
        }
        if waiting && !paused {
            // The task is busy: leave the records in librdkafka's queue and offer the batch again.
            continue;
        }
        let mut batch = Vec::new();
        let first_wait = if paused {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(100)
        };
        let mut wait = first_wait;
        while batch.len() < MAX_BATCH {
            match consumer.poll(wait) {
                Some(Ok(message)) => batch.push(message.detach()),
                Some(Err(error)) => {
                    tracing::warn!(%error, "kafka consumer error");
                    break;
                }
                None => break,
            }
            wait = Duration::ZERO;
        }
        if !batch.is_empty() {
            let mut pending = context
                .pending
                .lock()
                .expect("pending lock is never poisoned");
            match pending.as_mut() {
                Some(existing) => existing.extend(batch),
                None => *pending = Some(batch),
            }
        }
    }
}

fn list_of(partitions: &[TopicPartition]) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for tp in partitions {
        list.add_partition(&tp.topic, tp.partition);
    }
    list
}

/// Applies a task's requests on the consumer thread: seeks (dropping the fetched records of the
/// sought partitions that wait here), pauses and resumes of assigned partitions (a resume waits
/// while the whole assignment is paused for a stalled task). Returns the new seek generation.
fn apply_actions(
    consumer: &BaseConsumer<SinkContext>,
    actions: ConsumerActions,
    stalled: bool,
) -> Option<u64> {
    let context = consumer.context();
    let assigned: BTreeSet<TopicPartition> = consumer
        .assignment()
        .map(|list| partitions_of(&list).into_iter().collect())
        .unwrap_or_default();
    let generation_opt = (!actions.seek.is_empty()).then_some(actions.generation);
    if !actions.seek.is_empty() {
        if let Some(pending) = context
            .pending
            .lock()
            .expect("pending lock is never poisoned")
            .as_mut()
        {
            pending.retain(|message| {
                !actions.seek.contains_key(&TopicPartition {
                    topic: message.topic().to_string(),
                    partition: message.partition(),
                })
            });
        }
        for (tp, offset) in &actions.seek {
            if !assigned.contains(tp) {
                tracing::warn!(topic = %tp.topic, partition = tp.partition, "sink task rewound a partition it is not assigned; ignored");
                continue;
            }
            if let Err(error) = consumer.seek(
                &tp.topic,
                tp.partition,
                Offset::Offset(*offset),
                SEEK_TIMEOUT,
            ) {
                tracing::warn!(topic = %tp.topic, partition = tp.partition, offset, %error, "failed to rewind a sink partition");
            }
        }
    }
    let mut task_paused = context
        .task_paused
        .lock()
        .expect("task_paused lock is never poisoned");
    let pause: Vec<TopicPartition> = actions
        .pause
        .into_iter()
        .filter(|tp| assigned.contains(tp))
        .collect();
    if !pause.is_empty() {
        if let Err(error) = consumer.pause(&list_of(&pause)) {
            tracing::warn!(%error, "failed to pause sink partitions");
        }
        task_paused.extend(pause);
    }
    let resume: Vec<TopicPartition> = actions
        .resume
        .into_iter()
        .filter(|tp| task_paused.remove(tp) && assigned.contains(tp))
        .collect();
    if !resume.is_empty() && !stalled {
        if let Err(error) = consumer.resume(&list_of(&resume)) {
            tracing::warn!(%error, "failed to resume sink partitions");
        }
    }
    generation_opt
}

fn tp_of(message: &OwnedMessage) -> TopicPartition {
    TopicPartition {
        topic: message.topic().to_string(),
        partition: message.partition(),
    }
}

/// The next offset to read per partition after `messages` (`(topic, partition, offset)` in the
/// order polled: offsets grow within a partition). A batch holds long runs of one partition, so
/// the map is touched once per run rather than once per record.
fn next_offsets<'m>(messages: impl IntoIterator<Item = (&'m str, i32, i64)>) -> Offsets {
    let mut positions = Offsets::new();
    let mut run_opt: Option<(&str, i32, i64)> = None;
    let close_run = |positions: &mut Offsets, (topic, partition, next): (&str, i32, i64)| {
        let tp = TopicPartition {
            topic: topic.to_string(),
            partition,
        };
        positions.insert(tp, next);
    };
    for (topic, partition, offset) in messages {
        match run_opt.as_mut() {
            Some((run_topic, run_partition, next))
                if *run_topic == topic && *run_partition == partition =>
            {
                *next = offset + 1;
            }
            _ => {
                if let Some(run) = run_opt {
                    close_run(&mut positions, run);
                }
                run_opt = Some((topic, partition, offset + 1));
            }
        }
    }
    if let Some(run) = run_opt {
        close_run(&mut positions, run);
    }
    positions
}

struct SinkState<'a> {
    transforms: TaskTransforms,
    topics: super::TopicTracker,
    env: &'a TaskEnv,
    spec: &'a TaskSpec,
    converters: &'a Converters,
    /// Next offset to read per partition, for everything `put` so far.
    current: Offsets,
    committed: Offsets,
    errors: SinkErrors,
    /// Where the task's requests (rewind, pause, resume, commit) arrive.
    control: Arc<SinkControl>,
    partitions: PartitionControl,
    /// Where each partition is delivered again from after a retriable failure.
    replay: ReplayPoints,
}

impl SinkState<'_> {
    /// Flushes the task and commits what it made durable (asynchronously). Without `force`, does
    /// nothing when no record arrived since the last call.
    async fn commit(
        &mut self,
        task: &mut dyn SinkTask,
        commands_tx: &std_mpsc::Sender<ConsumerCommand>,
        force: bool,
    ) -> Result<(), ConnectorError> {
        if self.current.is_empty() || (!force && self.current == self.committed) {
            return Ok(());
        }
        // Errant records reported by earlier puts are dead-lettered before the task flushes (a
        // task may wait on their futures in flush, as Kafka Connect settles them first), and
        // those reported while flushing right after.
        self.settle_dead_letters().await?;
        let committable = task.pre_commit(self.current.clone()).await?;
        if self.replay.note_durable(&committable) {
            // New records are durable: a retriable outage, if any, is over.
            self.errors.retries().succeeded();
        }
        self.settle_dead_letters().await?;
        if !committable.is_empty() {
            let _ = commands_tx.send(ConsumerCommand::Commit(committable));
        }
        // What was offered: a sink may commit less (e.g. S3 until an object is uploaded) and is
        // asked again at the next tick.
        self.committed = self.current.clone();
        Ok(())
    }

    async fn put(
        &mut self,
        task: &mut dyn SinkTask,
        batch: Vec<OwnedMessage>,
    ) -> Result<(), ConnectorError> {
        let mut records = Vec::with_capacity(batch.len());
        let positions = next_offsets(
            batch
                .iter()
                .map(|message| (message.topic(), message.partition(), message.offset())),
        );
        for topic in positions.keys() {
            self.topics.observe(&topic.topic);
        }
        for message in &batch {
            if let Some(record) = self.errors.convert_record(self.converters, message).await? {
                match self.transforms.apply_sink(record, message.topic()) {
                    Ok(Some(record)) => records.push(record),
                    Ok(None) => {}
                    Err(failure) => {
                        // errors.tolerance=all skips (and dead-letters) the record; none fails.
                        let class = failure.error.class.clone();
                        let error = ConnectorError::from(failure);
                        let _: Option<()> = self
                            .errors
                            .handle(
                                super::errors::Stage::Transformation,
                                super::sink_errors::ExecutingClass::Named(&class),
                                message,
                                || Err(error.clone()),
                            )
                            .await?;
                    }
                }
            }
        }
        if !records.is_empty() {
            let count = records.len() as u64;
            let started = std::time::Instant::now();
            self.replay.note_batch(positions.keys(), || {
                batch
                    .iter()
                    .map(|message| (tp_of(message), message.offset()))
                    .collect()
            });
            task.put(records).await?;
            let labels = [
                ("connector", self.spec.connector.clone()),
                ("task", self.spec.index.to_string()),
            ];
            metrics::histogram!(crate::metric_names::TASK_BATCH_SECONDS, &labels)
                .record(started.elapsed().as_secs_f64());
            metrics::counter!(
                crate::metric_names::TASK_RECORDS_TOTAL,
                "connector" => self.spec.connector.clone(),
                "task" => self.spec.index.to_string(),
                "direction" => "in"
            )
            .increment(count);
        }
        self.errors
            .handle_errant_records(self.env, self.spec, &batch)
            .await?;
        self.current.extend(positions);
        Ok(())
    }

    /// Acts on what the task asked during its last call: seeks, pauses and resumes go to the
    /// consumer thread; held records of resumed partitions are delivered; a commit request
    /// flushes and commits now. Repeats while those calls make new requests.
    async fn act_on_requests(
        &mut self,
        task: &mut dyn SinkTask,
        commands_tx: &std_mpsc::Sender<ConsumerCommand>,
    ) -> Result<(), ConnectorError> {
        loop {
            let requests = self.control.take();
            if requests.is_empty() {
                return Ok(());
            }
            let request_commit = requests.request_commit;
            let (current, committed, replay) =
                (&mut self.current, &mut self.committed, &mut self.replay);
            let (actions, released) = self.partitions.apply(requests, |tp, offset| {
                // Kafka Connect's rewind: the partition's position is the new offset.
                current.insert(tp.clone(), offset);
                committed.insert(tp.clone(), offset);
                replay.rewound(tp, offset);
            });
            if actions != ConsumerActions::default() {
                let _ = commands_tx.send(ConsumerCommand::Control(actions));
            }
            if !released.is_empty() {
                self.put(task, released).await?;
            }
            if request_commit {
                self.commit(task, commands_tx, true).await?;
            }
        }
    }

    /// After a retriable failure: the task forgets what it buffered (`close`, then `open`) and
    /// every partition it was handed records of is rewound to its replay point.
    async fn redeliver(
        &mut self,
        task: &mut dyn SinkTask,
        commands_tx: &std_mpsc::Sender<ConsumerCommand>,
    ) -> Result<(), ConnectorError> {
        let points = self.replay.points().clone();
        if points.is_empty() {
            return Ok(());
        }
        let partitions: Vec<TopicPartition> = points.keys().cloned().collect();
        tracing::info!(task = %self.spec.id(), ?points, "delivering again from the last durable offsets");
        if let Err(error) = task.close(&partitions).await {
            tracing::warn!(task = %self.spec.id(), %error, "sink task close failed");
        }
        task.open(&partitions).await?;
        for (tp, offset) in points {
            self.control.offset(tp, offset);
        }
        self.act_on_requests(task, commands_tx).await
    }

    /// Dead-letters the errant records the task reported while flushing and waits for every
    /// DLQ record to be acknowledged: only then may offsets past them be committed.
    async fn settle_dead_letters(&mut self) -> Result<(), ConnectorError> {
        self.errors
            .handle_errant_records(self.env, self.spec, &[])
            .await?;
        self.errors.wait_acknowledged().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.to_string(),
            partition,
        }
    }

    #[test]
    fn next_offsets_keeps_the_last_offset_of_each_partition_across_interleaved_runs() {
        let positions = next_offsets([
            ("a", 0, 10),
            ("a", 0, 11),
            ("a", 1, 5),
            ("b", 0, 7),
            ("a", 0, 12),
            ("a", 1, 6),
            ("a", 1, 7),
        ]);
        let expected: Offsets = [(tp("a", 0), 13), (tp("a", 1), 8), (tp("b", 0), 8)]
            .into_iter()
            .collect();
        assert_eq!(positions, expected);
    }

    #[test]
    fn next_offsets_of_an_empty_batch_is_empty() {
        assert!(next_offsets([]).is_empty());
    }
}
