//! The lease store: each worker's **liveness lease**, and the leader lease, confirmed in Kafka.
//!
//! A small Ferry-owned compacted topic (see [`lease_topic_name`]) holds one record per worker,
//! `worker-<node id>` → `{"node_id","incarnation","seq"}`, renewed every quarter of the lease
//! period (`cluster.lease.ms`), and the leader lease, `leader` → `{"node_id"}`, renewed every
//! second by the leader in its fenced transaction (a tombstone releases it). Kafka Connect never
//! reads this topic. The rules (see `docs/failure-model.md`):
//!
//! - **Self-fence.** A worker's lease is valid until the send time of its latest renewal that
//!   Kafka acknowledged *while the lease was still valid*, plus the lease period. When it
//!   lapses the worker stops every task; its next renewal starts a new **incarnation**, and it
//!   runs tasks again only from an assignment that names that incarnation.
//! - **Expiry on the reader's clock.** A peer's lease is expired for this node once this node
//!   has read the topic to its end, with the end offsets asked *after* `last renewal read +
//!   lease period + fence margin` (its own monotonic clock), and found no newer renewal. No
//!   clock is compared across machines.
//!
//! The topic is read `read_uncommitted`: a worker's plain renewal acknowledged before this node
//! asked for the end offsets is below the high watermark, hence read, even while a leader's
//! lease transaction is open (with `read_committed` it could hide above the last stable offset).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use serde_json::json;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::config::{write_in_transaction, LeaderWriter};
use super::log::{Isolation, LogRecord, TopicLog};
use crate::error::StoreError;

/// Key of the leader lease record.
const LEADER_KEY: &str = "leader";
/// Prefix of a worker's lease record.
const WORKER_PREFIX: &str = "worker-";

/// Default of `cluster.lease.ms`.
pub const DEFAULT_LEASE_PERIOD: Duration = Duration::from_secs(4);

/// How often the leader renews its lease.
pub const LEADER_LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(1);

/// How long after reading a leader lease a node considers it held (when no renewal follows).
pub const LEADER_LEASE_TTL: Duration = Duration::from_secs(3);

/// Returns the lease topic of a cluster: `ferry-leases-<group.id>`, with every character a
/// topic name cannot hold replaced by `_`.
pub fn lease_topic_name(group_id: &str) -> String {
    let cleaned: String = group_id
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') {
                character
            } else {
                '_'
            }
        })
        .collect();
    let mut name = format!("ferry-leases-{cleaned}");
    name.truncate(249);
    name
}

/// The leader's lease as this node last read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    /// The node id of the leader that wrote it.
    pub node_id: String,
    /// When this node read it (its own clock): the lease expires [`LEADER_LEASE_TTL`] later.
    pub read_at: Instant,
}

impl LeaderLease {
    /// Returns the holder's node id while the lease is unexpired at `now`.
    pub fn holder_at(&self, now: Instant) -> Option<&str> {
        (now.saturating_duration_since(self.read_at) < LEADER_LEASE_TTL)
            .then_some(self.node_id.as_str())
    }
}

/// This worker's own lease (pure bookkeeping: the store calls it around each renewal).
#[derive(Debug, Clone)]
pub struct OwnLease {
    period: Duration,
    /// The incarnation of the current chain of renewals and until when it is valid.
    current_opt: Option<(u64, Instant)>,
    /// The last incarnation handed out (a new chain takes a larger one).
    last_incarnation: u64,
}

impl OwnLease {
    /// A lease not held yet; incarnations start above `seed` (use the process start time so
    /// that a restarted worker never reuses one).
    pub fn new(period: Duration, seed: u64) -> Self {
        OwnLease {
            period,
            current_opt: None,
            last_incarnation: seed,
        }
    }

    /// Returns the incarnation the next renewal, sent at `now`, carries: the current one while
    /// the lease is valid, a new one after it lapsed (or before the first renewal).
    pub fn incarnation_to_send(&mut self, now: Instant) -> u64 {
        match self.current_opt {
            Some((incarnation, valid_until)) if now < valid_until => incarnation,
            _ => {
                self.current_opt = None;
                self.last_incarnation += 1;
                self.last_incarnation
            }
        }
    }

    /// Records that Kafka acknowledged, at `acked_at`, the renewal of `incarnation` sent at
    /// `sent_at`. It extends the lease to `sent_at + period` only when it continues the current
    /// chain before that lapsed, or starts the new incarnation in time.
    pub fn on_acknowledged(&mut self, incarnation: u64, sent_at: Instant, acked_at: Instant) {
        let valid_until = sent_at + self.period;
        match self.current_opt {
            Some((current, current_until)) if current == incarnation => {
                if acked_at < current_until {
                    self.current_opt = Some((incarnation, current_until.max(valid_until)));
                }
            }
            Some(_) => {}
            None => {
                if incarnation == self.last_incarnation && acked_at < valid_until {
                    self.current_opt = Some((incarnation, valid_until));
                }
            }
        }
    }

    /// Returns until when the current chain of renewals is valid, if one is.
    pub fn valid_until(&self) -> Option<Instant> {
        self.current_opt.map(|(_, valid_until)| valid_until)
    }

    /// Returns the incarnation whose lease is valid at `now`, if any.
    pub fn valid_incarnation(&self, now: Instant) -> Option<u64> {
        self.current_opt
            .and_then(|(incarnation, valid_until)| (now < valid_until).then_some(incarnation))
    }
}

/// How long before its lease lapses (on its own monotonic clock) a worker's tasks stop
/// delivering: one eighth of the lease period (500 ms with the default 4 s).
pub fn lease_safety_margin(period: Duration) -> Duration {
    period / 8
}

/// The worker's lease deadline, as its tasks see it: the send time of its latest acknowledged
/// renewal + lease period − [`lease_safety_margin`], on `CLOCK_MONOTONIC` ([`Instant`], which
/// keeps counting while the process is frozen by `SIGSTOP`), tagged with the lease incarnation
/// it belongs to. Packed in one atomic: the incarnation's low 16 bits and the deadline in
/// microseconds after `base` (48 bits: 8.9 years). Cheap to clone.
#[derive(Clone)]
pub struct LeaseGate {
    base: Instant,
    /// `ALWAYS_OPEN`, or `tag << 48 | deadline_us`.
    packed: Arc<AtomicU64>,
    /// The tag of the incarnation the latest task was started under (`NO_TAG`: none).
    running_tag: Arc<AtomicU64>,
    changed: Arc<Notify>,
}

const ALWAYS_OPEN: u64 = u64::MAX;
const NO_TAG: u64 = u64::MAX;
const DEADLINE_BITS: u32 = 48;
const DEADLINE_MASK: u64 = (1 << DEADLINE_BITS) - 1;

impl std::fmt::Debug for LeaseGate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LeaseGate")
            .field("packed", &self.packed.load(Ordering::Relaxed))
            .finish()
    }
}

impl LeaseGate {
    /// A gate that is always open (`ferry dev`: no leases).
    pub fn always_open() -> Self {
        Self::with(ALWAYS_OPEN)
    }

    /// A gate closed until [`LeaseGate::open_until`] is called.
    pub fn closed() -> Self {
        Self::with(0)
    }

    fn with(packed: u64) -> Self {
        LeaseGate {
            base: Instant::now(),
            packed: Arc::new(AtomicU64::new(packed)),
            running_tag: Arc::new(AtomicU64::new(NO_TAG)),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Lets the tasks of `incarnation` act until `deadline`.
    pub fn open_until(&self, incarnation: u64, deadline: Instant) {
        let micros = deadline.saturating_duration_since(self.base).as_micros();
        let micros = u64::try_from(micros)
            .unwrap_or(DEADLINE_MASK)
            .min(DEADLINE_MASK - 1);
        let packed = ((incarnation & 0xffff) << DEADLINE_BITS) | micros;
        self.packed.store(packed, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// The gate of a task started now under `incarnation_opt` (`None`: never open). The
    /// worker runs all its tasks under one incarnation (it stops them all when it changes), so
    /// this is also the incarnation [`LeaseGate::running_tasks_may_act`] checks.
    pub fn start_task(&self, incarnation_opt: Option<u64>) -> TaskLease {
        let tag_opt = incarnation_opt.map(|incarnation| incarnation & 0xffff);
        self.running_tag
            .store(tag_opt.unwrap_or(NO_TAG), Ordering::Release);
        TaskLease {
            gate: self.clone(),
            tag_opt,
        }
    }

    /// Returns true when the tasks started last may act now (`GET /cluster` counts the tasks
    /// of a worker whose tasks may not act as none: they deliver and commit nothing).
    pub fn running_tasks_may_act(&self) -> bool {
        let tag = self.running_tag.load(Ordering::Acquire);
        TaskLease {
            gate: self.clone(),
            tag_opt: (tag != NO_TAG).then_some(tag),
        }
        .is_open()
    }
}

/// A task's right to act: open while the worker's lease of the incarnation the task was
/// started under is valid, less the safety margin. A task checks it before each delivery and
/// commit (one atomic load and one monotonic clock read); once its incarnation's lease lapsed
/// it stays closed, even after the worker renews under a new incarnation.
#[derive(Clone, Debug)]
pub struct TaskLease {
    gate: LeaseGate,
    tag_opt: Option<u64>,
}

impl TaskLease {
    /// A task lease that is always open (`ferry dev`, unit tests).
    pub fn always_open() -> Self {
        LeaseGate::always_open().start_task(Some(0))
    }

    /// Returns true while the task may deliver and commit.
    #[inline]
    pub fn is_open(&self) -> bool {
        let packed = self.gate.packed.load(Ordering::Acquire);
        if packed == ALWAYS_OPEN {
            return true;
        }
        let Some(tag) = self.tag_opt else {
            return false;
        };
        if packed >> DEADLINE_BITS != tag {
            return false;
        }
        let now = u64::try_from(self.gate.base.elapsed().as_micros()).unwrap_or(u64::MAX);
        now < packed & DEADLINE_MASK
    }

    /// Waits until the task may act (returns true) or `cancel` fires (returns false); returns
    /// at once while the gate is open (the hot path: one atomic load, one clock read).
    pub async fn wait_open(&self, cancel: &CancellationToken) -> bool {
        if self.is_open() {
            return true;
        }
        loop {
            let changed = self.gate.changed.notified();
            if self.is_open() {
                return true;
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return false,
                () = changed => {}
            }
        }
    }
}

/// What this node read of the other workers' leases (pure bookkeeping).
#[derive(Debug, Clone)]
pub struct PeerLeases {
    period: Duration,
    margin: Duration,
    /// Per node id: its last incarnation read, and when this node read its last renewal.
    last_read: BTreeMap<String, (u64, Instant)>,
    /// When this node last asked for the end offsets of a read to the end that completed.
    confirmed_at_opt: Option<Instant>,
}

impl PeerLeases {
    /// Leases of `period`, expired `margin` after that on this node's clock.
    pub fn new(period: Duration, margin: Duration) -> Self {
        PeerLeases {
            period,
            margin,
            last_read: BTreeMap::new(),
            confirmed_at_opt: None,
        }
    }

    /// Records a renewal of `node_id` read at `now`.
    pub fn observe(&mut self, node_id: &str, incarnation: u64, now: Instant) {
        self.last_read
            .insert(node_id.to_string(), (incarnation, now));
    }

    /// Records that a read to the end, with end offsets asked at `asked_at`, completed.
    pub fn confirm(&mut self, asked_at: Instant) {
        if self
            .confirmed_at_opt
            .is_none_or(|confirmed| asked_at > confirmed)
        {
            self.confirmed_at_opt = Some(asked_at);
        }
    }

    /// Returns true when `node_id`'s lease is known to have expired: a read to the end asked
    /// after its last renewal read + period + margin found nothing newer. A node never read
    /// is not expired (nothing is known of it).
    pub fn is_expired(&self, node_id: &str) -> bool {
        let (Some((_, read_at)), Some(confirmed_at)) =
            (self.last_read.get(node_id), self.confirmed_at_opt)
        else {
            return false;
        };
        confirmed_at >= *read_at + self.period + self.margin
    }

    /// Returns the incarnations last read, by node id.
    pub fn incarnations(&self) -> BTreeMap<String, u64> {
        self.last_read
            .iter()
            .map(|(node_id, (incarnation, _))| (node_id.clone(), *incarnation))
            .collect()
    }
}

struct LeaseState {
    own: OwnLease,
    peers: PeerLeases,
}

/// The lease store.
pub struct LeaseStore {
    log: Arc<TopicLog>,
    node_id: String,
    state: Arc<Mutex<LeaseState>>,
    leader_rx: watch::Receiver<Option<LeaderLease>>,
    gate: LeaseGate,
}

impl LeaseStore {
    /// Starts reading the lease topic (to its end), then renews this worker's lease every
    /// quarter `period` and confirms the reading every quarter period, until `stop`.
    ///
    /// # Errors
    /// Fails when the topic cannot be read.
    pub async fn start(
        client_config: &ClientConfig,
        topic: &str,
        node_id: &str,
        (period, margin): (Duration, Duration),
        incarnation_seed: u64,
        stop: CancellationToken,
    ) -> Result<Arc<Self>, StoreError> {
        let state = Arc::new(Mutex::new(LeaseState {
            own: OwnLease::new(period, incarnation_seed),
            peers: PeerLeases::new(period, margin),
        }));
        let (leader_tx, leader_rx) = watch::channel(None);
        let apply_state = Arc::clone(&state);
        let own_key = format!("{WORKER_PREFIX}{node_id}");
        let apply = Box::new(move |record: &LogRecord<'_>| {
            let Some(key) = record.key.and_then(|key| std::str::from_utf8(key).ok()) else {
                return;
            };
            let value: Option<serde_json::Value> = record
                .value
                .and_then(|bytes| serde_json::from_slice(bytes).ok());
            let now = Instant::now();
            if key == LEADER_KEY {
                let holder_opt = value
                    .as_ref()
                    .and_then(|lease| lease.get("node_id"))
                    .and_then(serde_json::Value::as_str);
                leader_tx.send_replace(holder_opt.map(|holder| LeaderLease {
                    node_id: holder.to_string(),
                    read_at: now,
                }));
                return;
            }
            let Some(peer) = key.strip_prefix(WORKER_PREFIX) else {
                return;
            };
            if key == own_key {
                return;
            }
            let Some(incarnation) = value
                .as_ref()
                .and_then(|lease| lease.get("incarnation"))
                .and_then(serde_json::Value::as_u64)
            else {
                return;
            };
            if let Ok(mut state) = apply_state.lock() {
                state.peers.observe(peer, incarnation, now);
            }
        });
        let log = Arc::new(
            TopicLog::start_with_isolation(
                client_config,
                topic,
                apply,
                stop.clone(),
                Isolation::ReadUncommitted,
            )
            .await?,
        );
        let asked_at = Instant::now();
        log.read_to_end().await?;
        if let Ok(mut state) = state.lock() {
            state.peers.confirm(asked_at);
        }
        let store = Arc::new(LeaseStore {
            log,
            node_id: node_id.to_string(),
            state,
            leader_rx,
            gate: LeaseGate::closed(),
        });
        let tick = period / 4;
        tokio::spawn(renew_own_lease(
            Arc::clone(&store),
            tick,
            period,
            stop.clone(),
        ));
        tokio::spawn(confirm_reads(Arc::clone(&store), tick, stop));
        Ok(store)
    }

    /// Returns the gate of this worker's tasks: open until its lease deadline less the safety
    /// margin.
    pub fn gate(&self) -> &LeaseGate {
        &self.gate
    }

    /// Returns this worker's incarnation while its lease is valid, `None` once it lapsed (the
    /// worker must then run nothing).
    pub fn own_incarnation(&self) -> Option<u64> {
        self.state
            .lock()
            .ok()
            .and_then(|state| state.own.valid_incarnation(Instant::now()))
    }

    /// Returns the node ids among `node_ids` whose lease has expired on this node's clock.
    pub fn expired<'a>(&self, node_ids: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
        let Ok(state) = self.state.lock() else {
            return BTreeSet::new();
        };
        node_ids
            .into_iter()
            .filter(|node_id| state.peers.is_expired(node_id))
            .cloned()
            .collect()
    }

    /// Returns every worker's incarnation as last read (this worker's own valid one included).
    pub fn incarnations(&self) -> BTreeMap<String, u64> {
        let Ok(state) = self.state.lock() else {
            return BTreeMap::new();
        };
        let mut incarnations = state.peers.incarnations();
        if let Some(own) = state.own.valid_incarnation(Instant::now()) {
            incarnations.insert(self.node_id.clone(), own);
        }
        incarnations
    }

    /// Returns the leader lease as last read (`None`: never written, or released).
    pub fn leader_lease(&self) -> Option<LeaderLease> {
        self.leader_rx.borrow().clone()
    }

    /// Renews the leader lease in a transaction of the leader's writer (plainly without one).
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when a newer leader took over.
    pub async fn renew_leader_lease(
        &self,
        writer_opt: Option<&LeaderWriter>,
        node_id: &str,
    ) -> Result<(), StoreError> {
        let value = json!({ "node_id": node_id });
        self.write_leader(writer_opt, Some(value)).await
    }

    /// Releases the leader lease (a tombstone), so that another node may lead at once.
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when a newer leader took over (then the lease is not ours).
    pub async fn release_leader_lease(
        &self,
        writer_opt: Option<&LeaderWriter>,
    ) -> Result<(), StoreError> {
        self.write_leader(writer_opt, None).await
    }

    async fn write_leader(
        &self,
        writer_opt: Option<&LeaderWriter>,
        value: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        match writer_opt {
            Some(writer) => {
                write_in_transaction(writer, &self.log, vec![(LEADER_KEY.to_string(), value)]).await
            }
            None => {
                let bytes = value.map(|value| value.to_string().into_bytes());
                self.log.send(LEADER_KEY, bytes.as_deref()).await
            }
        }
    }
}

/// Renews this worker's lease every `tick`; a renewal not acknowledged within the lease period
/// is given up (the next one is sent anyway).
async fn renew_own_lease(
    store: Arc<LeaseStore>,
    tick: Duration,
    period: Duration,
    stop: CancellationToken,
) {
    let key = format!("{WORKER_PREFIX}{}", store.node_id);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq: u64 = 0;
    let mut was_valid = false;
    let safety = lease_safety_margin(period);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let sent_at = Instant::now();
        let Ok(incarnation) = store
            .state
            .lock()
            .map(|mut state| state.own.incarnation_to_send(sent_at))
        else {
            return;
        };
        seq += 1;
        let value =
            json!({ "node_id": store.node_id, "incarnation": incarnation, "seq": seq }).to_string();
        let sent =
            tokio::time::timeout(period, store.log.send_no_wait(&key, Some(value.as_bytes())))
                .await;
        let acked_at = Instant::now();
        match sent {
            Ok(Ok(_)) => {
                if let Ok(mut state) = store.state.lock() {
                    state.own.on_acknowledged(incarnation, sent_at, acked_at);
                    if let (Some(valid_until), Some(current)) = (
                        state.own.valid_until(),
                        state.own.valid_incarnation(acked_at),
                    ) {
                        let deadline = valid_until.checked_sub(safety).unwrap_or(sent_at);
                        store.gate.open_until(current, deadline);
                    }
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "failed to renew this worker's lease"),
            Err(_) => tracing::warn!(
                period_ms = period.as_millis(),
                "this worker's lease renewal was not acknowledged within the lease period"
            ),
        }
        let valid = store.own_incarnation().is_some();
        if valid != was_valid {
            if valid {
                tracing::info!(incarnation, "this worker holds its lease in Kafka");
            } else {
                tracing::warn!(
                    "this worker's lease lapsed: it could not renew it in Kafka within the lease period; its tasks stop"
                );
            }
            was_valid = valid;
        }
    }
}

/// Reads the lease topic to its end every `tick`, remembering when the end offsets were asked.
async fn confirm_reads(store: Arc<LeaseStore>, tick: Duration, stop: CancellationToken) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let asked_at = Instant::now();
        match store.log.read_to_end().await {
            Ok(()) => {
                if let Ok(mut state) = store.state.lock() {
                    state.peers.confirm(asked_at);
                }
            }
            Err(error) => tracing::debug!(%error, "cannot read the lease topic to its end"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(4);
    const MARGIN: Duration = Duration::from_secs(1);

    fn secs(start: Instant, seconds: f64) -> Instant {
        start + Duration::from_secs_f64(seconds)
    }

    #[test]
    fn the_own_lease_lasts_a_period_from_the_send_time_of_the_last_renewal() {
        let start = Instant::now();
        let mut own = OwnLease::new(PERIOD, 100);
        assert_eq!(
            own.valid_incarnation(start),
            None,
            "not held before a renewal"
        );
        let first = own.incarnation_to_send(start);
        assert_eq!(first, 101);
        own.on_acknowledged(first, start, secs(start, 0.1));
        assert_eq!(own.valid_incarnation(secs(start, 3.9)), Some(101));
        assert_eq!(own.valid_incarnation(secs(start, 4.0)), None);
        // A renewal sent at 1 s extends it to 5 s.
        assert_eq!(own.incarnation_to_send(secs(start, 1.0)), 101);
        own.on_acknowledged(101, secs(start, 1.0), secs(start, 1.2));
        assert_eq!(own.valid_incarnation(secs(start, 4.9)), Some(101));
    }

    #[test]
    fn an_acknowledgement_after_the_lapse_does_not_revive_the_lease() {
        let start = Instant::now();
        let mut own = OwnLease::new(PERIOD, 0);
        let first = own.incarnation_to_send(start);
        own.on_acknowledged(first, start, secs(start, 0.1));
        // Sent at 3 s, acknowledged only at 4.5 s: the lease lapsed at 4 s.
        assert_eq!(own.incarnation_to_send(secs(start, 3.0)), first);
        own.on_acknowledged(first, secs(start, 3.0), secs(start, 4.5));
        assert_eq!(own.valid_incarnation(secs(start, 4.5)), None);
        // The next renewal starts a new incarnation.
        let second = own.incarnation_to_send(secs(start, 5.0));
        assert!(second > first);
        own.on_acknowledged(second, secs(start, 5.0), secs(start, 5.1));
        assert_eq!(own.valid_incarnation(secs(start, 6.0)), Some(second));
        // A late acknowledgement of the old incarnation changes nothing.
        own.on_acknowledged(first, secs(start, 5.5), secs(start, 5.6));
        assert_eq!(own.valid_incarnation(secs(start, 8.9)), Some(second));
    }

    #[test]
    fn a_peer_expires_only_after_a_read_to_the_end_past_its_period_and_margin() {
        let start = Instant::now();
        let mut peers = PeerLeases::new(PERIOD, MARGIN);
        assert!(!peers.is_expired("b"), "never read: not known to expire");
        peers.observe("b", 7, start);
        peers.confirm(secs(start, 4.9));
        assert!(!peers.is_expired("b"));
        peers.confirm(secs(start, 5.0));
        assert!(peers.is_expired("b"));
        // A newer renewal read later un-expires it.
        peers.observe("b", 7, secs(start, 5.2));
        assert!(!peers.is_expired("b"));
        // An older confirmation never replaces a newer one.
        peers.confirm(secs(start, 1.0));
        peers.confirm(secs(start, 10.2));
        assert!(peers.is_expired("b"));
        assert_eq!(peers.incarnations(), BTreeMap::from([("b".to_string(), 7)]));
    }

    #[test]
    fn without_a_confirmed_read_nothing_expires() {
        let start = Instant::now();
        let mut peers = PeerLeases::new(PERIOD, MARGIN);
        peers.observe("b", 1, start);
        assert!(!peers.is_expired("b"));
    }

    /// The safety argument in small: whenever the reader declares a peer expired, the peer's
    /// own lease has lapsed, for any send/ack/read timings where the reader reads a record
    /// after it was acknowledged and the end offsets cover every acknowledged record.
    #[test]
    fn a_peer_declared_expired_has_no_valid_lease() {
        let start = Instant::now();
        // Peer renews at 0, 1, 2 s; the ack of the one sent at 2 s comes late (3.5 s), the one
        // at 3 s is never acknowledged.
        let mut own = OwnLease::new(PERIOD, 0);
        let mut peers = PeerLeases::new(PERIOD, MARGIN);
        for (sent, acked) in [(0.0, 0.1), (1.0, 1.1), (2.0, 3.5)] {
            let incarnation = own.incarnation_to_send(secs(start, sent));
            own.on_acknowledged(incarnation, secs(start, sent), secs(start, acked));
            // The reader reads it a little after the ack.
            peers.observe("b", incarnation, secs(start, acked + 0.05));
        }
        for tenth in 0..200 {
            let now = secs(start, f64::from(tenth) / 10.0);
            peers.confirm(now);
            if peers.is_expired("b") {
                assert_eq!(own.valid_incarnation(now), None, "at {now:?}");
            }
        }
        assert!(peers.is_expired("b"));
    }

    #[test]
    fn the_lease_topic_name_is_derived_from_the_group_id() {
        assert_eq!(
            lease_topic_name("connect-cluster"),
            "ferry-leases-connect-cluster"
        );
        assert_eq!(lease_topic_name("a b/c"), "ferry-leases-a_b_c");
        assert_eq!(lease_topic_name(&"x".repeat(400)).len(), 249);
    }
}
