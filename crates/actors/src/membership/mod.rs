//! Cluster membership over chitchat gossip: who is alive, where to reach them, whether they
//! accept work, and what they run.
//!
//! ```text
//!  chitchat (UDP gossip, phi-accrual failure detector)
//!     └─ live_nodes_watcher: BTreeMap<ChitchatId, NodeState>       (one entry per incarnation)
//!          └─ members task: dedupe by node_id (highest generation), keep nodes with advertise_addr
//!               ├─ members_rx():        watch  BTreeMap<node_id, Member>  (includes self)
//!               └─ subscribe_changes(): broadcast ClusterChange::{Joined, Updated, Left}
//! ```
//!
//! Non-goals: gossip is not consensus. Leadership is derived from the members map but confirmed
//! in Kafka (see DESIGN.md, "Membership and leadership").
//!
//! # Readiness
//! A member with `ready == false` is alive but does not accept work: it is starting, or it is
//! leaving. The leader must not assign to it, but it stays in the members map (and keeps the
//! tasks it reports) until it turns ready, leaves (then it disappears within a gossip round or
//! two) or is declared dead by the failure detector (after about [`Membership::dead_after`]).
//!
//! # Failure detection
//! Chitchat's detector declares a node dead when the time since its last heartbeat exceeds
//! `phi_threshold × mean heartbeat interval`, where the mean is smoothed with a prior of
//! `initial_interval` weighted as 5 samples. A live node's heartbeat reaches its peers about
//! every half gossip interval (directly and through other peers; measured with 3 to 8 nodes),
//! so the detector's timeout is about `phi_threshold × gossip_interval / 2`.
//!
//! Defaults: gossip every 200 ms, prior 100 ms, phi 16, so a timeout of about 1.6 s; dead
//! nodes are forgotten after 5 minutes. Measured on a 2-core machine, 3 nodes on UDP
//! loopback (`tests.rs`, 14 observations each): a node killed 5 s after joining is dropped by
//! its peers after 1.6 s median (1.2–1.8 s), one killed right after joining after 1.4 s
//! median (1.0–1.8 s); no member flapped during 10 s of full CPU load, when the timeouts
//! ranged from 1.0 to 1.6 s. A node that calls [`Membership::leave`] is dropped after about
//! 0.4 s; a restarted node replaces its old incarnation after about 0.6 s.

mod diff;
pub mod keys;
pub mod quorum;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chitchat::transport::Transport;
use chitchat::{
    spawn_chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, NodeState,
    ProtocolVersion,
};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use diff::{apply_changes, diff_members, ClusterChange};
pub use quorum::{has_quorum, MemberTracker, QuorumView};

/// How often the quorum view is recomputed without gossip events (to expire dead members).
const QUORUM_TICK: Duration = Duration::from_millis(500);

/// Default interval between two gossip rounds.
pub const DEFAULT_GOSSIP_INTERVAL: Duration = Duration::from_millis(200);

/// How many [`ClusterChange`]s a slow subscriber may lag behind before it misses some.
const CHANGES_CHANNEL_CAPACITY: usize = 1_024;

/// Number of gossip rounds [`Membership::leave`] waits so that peers see the goodbye.
const LEAVE_GOSSIP_ROUNDS: u32 = 2;

/// How long [`Membership::leave`] waits for the gossip server to stop.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// The members map: live members by node id, self included.
pub type Members = BTreeMap<String, Member>;

/// Settings of chitchat's phi-accrual failure detector.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureDetectorTuning {
    /// A node is dead once `time since last heartbeat / mean heartbeat interval` exceeds this.
    pub phi_threshold: f64,
    /// Prior mean heartbeat interval (weighted as 5 samples); `None` means half the gossip
    /// interval, the mean interval measured in steady state (3 to 8 nodes on loopback), so
    /// that a node dying shortly after joining is detected as fast as any other.
    pub initial_interval: Option<Duration>,
    /// Heartbeat gaps longer than this are not used as samples (e.g. a node coming back).
    pub max_interval: Duration,
    /// How long the state of a dead node is kept (and, for the first half, still gossiped)
    /// before it is garbage collected. Chitchat's default (24 h) is far too long.
    pub dead_node_grace_period: Duration,
    /// How long deleted keys (tombstones) are kept before garbage collection.
    pub marked_for_deletion_grace_period: Duration,
}

impl Default for FailureDetectorTuning {
    fn default() -> Self {
        Self {
            phi_threshold: 16.0,
            initial_interval: None,
            max_interval: Duration::from_secs(2),
            dead_node_grace_period: Duration::from_secs(5 * 60),
            marked_for_deletion_grace_period: Duration::from_secs(5 * 60),
        }
    }
}

/// Configuration of a node's membership.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipConfig {
    /// Stable id of the node, kept across restarts.
    pub node_id: String,
    /// Incarnation of the node: higher for a later start (see [`generation_now`]).
    pub generation: u64,
    /// UDP address the gossip server binds.
    pub gossip_listen: SocketAddr,
    /// UDP address peers gossip to (not an unspecified address such as `0.0.0.0`).
    pub gossip_advertise: SocketAddr,
    /// Gossip addresses (`host:port`) of some other nodes; hostnames are re-resolved every 60 s.
    pub seeds: Vec<String>,
    /// Nodes only gossip with nodes of the same cluster id.
    pub cluster_id: String,
    /// The worker's REST/gRPC address, `host:port` (Kafka Connect's `worker_id`).
    pub advertise_addr: String,
    /// The Ferry version this node runs.
    pub version: String,
    /// Interval between two gossip rounds (each round gossips with up to 3 live peers).
    pub gossip_interval: Duration,
    /// Failure detector settings.
    pub failure_detector: FailureDetectorTuning,
    /// How long a node that stopped gossiping still counts as a member for the quorum
    /// (`cluster.member.expiry.ms`; see [`quorum`]).
    pub member_expiry: Duration,
}

impl MembershipConfig {
    /// Returns a configuration with the default tuning: generation = now, gossip advertised on
    /// the listen address, no seeds, gossip every [`DEFAULT_GOSSIP_INTERVAL`].
    pub fn new(
        node_id: impl Into<String>,
        cluster_id: impl Into<String>,
        gossip_listen: SocketAddr,
        advertise_addr: impl Into<String>,
    ) -> Self {
        Self {
            node_id: node_id.into(),
            generation: generation_now(),
            gossip_listen,
            gossip_advertise: gossip_listen,
            seeds: Vec::new(),
            cluster_id: cluster_id.into(),
            advertise_addr: advertise_addr.into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            gossip_interval: DEFAULT_GOSSIP_INTERVAL,
            failure_detector: FailureDetectorTuning::default(),
            member_expiry: quorum::DEFAULT_MEMBER_EXPIRY,
        }
    }

    /// Returns the expected time between a node's death (no goodbye) and the moment its peers
    /// drop it from their members map.
    ///
    /// It is the detector's timeout, `phi_threshold × initial_interval` (the initial interval
    /// defaults to the expected mean heartbeat interval), plus two gossip intervals: liveness
    /// is checked once per round, and the last heartbeat predates the death. It is an estimate,
    /// not a bound: lost packets stretch the mean interval. With the defaults it is 2 s; see
    /// the module docs for measurements.
    pub fn dead_after(&self) -> Duration {
        let detector_timeout = self
            .initial_interval()
            .mul_f64(self.failure_detector.phi_threshold);
        detector_timeout + self.gossip_interval * 2
    }

    fn initial_interval(&self) -> Duration {
        self.failure_detector
            .initial_interval
            .unwrap_or(self.gossip_interval / 2)
    }

    fn validate(&self) -> Result<(), MembershipError> {
        let invalid = |reason: String| Err(MembershipError::InvalidConfig(reason));
        if self.node_id.is_empty() {
            return invalid("node id is empty".to_string());
        }
        if self.advertise_addr.is_empty() {
            return invalid("advertise address is empty".to_string());
        }
        if self.gossip_advertise.ip().is_unspecified() || self.gossip_advertise.port() == 0 {
            return invalid(format!(
                "gossip advertise address `{}` is not reachable by peers",
                self.gossip_advertise
            ));
        }
        if self.gossip_interval.is_zero() || self.initial_interval().is_zero() {
            return invalid("gossip and initial intervals must be positive".to_string());
        }
        let phi_threshold = self.failure_detector.phi_threshold;
        if !phi_threshold.is_finite() || phi_threshold <= 0.0 {
            return invalid(format!("phi threshold {phi_threshold} must be positive"));
        }
        Ok(())
    }

    fn chitchat_config(&self) -> ChitchatConfig {
        let tuning = &self.failure_detector;
        ChitchatConfig {
            chitchat_id: ChitchatId::new(
                self.node_id.clone(),
                self.generation,
                self.gossip_advertise,
            ),
            cluster_id: self.cluster_id.clone(),
            gossip_interval: self.gossip_interval,
            listen_addr: self.gossip_listen,
            seed_nodes: self.seeds.clone(),
            failure_detector_config: FailureDetectorConfig {
                phi_threshold: tuning.phi_threshold,
                sampling_window_size: 1_000,
                max_interval: tuning.max_interval,
                initial_interval: self.initial_interval(),
                dead_node_grace_period: tuning.dead_node_grace_period,
            },
            marked_for_deletion_grace_period: tuning.marked_for_deletion_grace_period,
            catchup_callback: None,
            extra_liveness_predicate: None,
            // V1 (compressed digests) only once every node can decode it.
            protocol_version: ProtocolVersion::V0,
        }
    }

    fn initial_key_values(&self) -> Vec<(String, String)> {
        vec![
            (
                keys::ADVERTISE_ADDR_KEY.to_string(),
                self.advertise_addr.clone(),
            ),
            (keys::VERSION_KEY.to_string(), self.version.clone()),
            (keys::READINESS_KEY.to_string(), keys::NOT_READY.to_string()),
            (keys::RUNNING_TASKS_KEY.to_string(), String::new()),
            (keys::GAVE_UP_TASKS_KEY.to_string(), String::new()),
            (
                keys::ASSIGNMENT_EPOCH_KEY.to_string(),
                keys::encode_assignment_epoch(0),
            ),
        ]
    }
}

/// Returns a generation for a process starting now: the Unix time in nanoseconds (as Quickwit
/// does), so that a restarted node has a higher generation than its previous incarnation.
pub fn generation_now() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

/// A membership failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The configuration cannot work.
    #[error("invalid membership config: {0}")]
    InvalidConfig(String),
    /// The gossip server could not start (e.g. the UDP address is taken).
    #[error("failed to start gossip on `{listen_addr}`: {message}")]
    Start {
        /// The address the server tried to bind.
        listen_addr: SocketAddr,
        /// The cause.
        message: String,
    },
}

/// A live member of the cluster, as gossiped by the node itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Stable node id.
    pub node_id: String,
    /// Incarnation (start time); the members map keeps the highest one per node id.
    pub generation: u64,
    /// REST/gRPC address, `host:port`.
    pub advertise_addr: String,
    /// Ferry version.
    pub version: String,
    /// Whether the member accepts work (see the module docs: "Readiness").
    pub ready: bool,
    /// Tasks it runs, `(connector, task index)`, sorted.
    pub running_tasks: Vec<(String, u32)>,
    /// Tasks it gave up on after repeated failures (the leader moves them elsewhere).
    pub gave_up_tasks: Vec<(String, u32)>,
    /// Epoch of the last assignment it applied.
    pub assignment_epoch: u64,
    /// The plugin connector classes it can run, sorted.
    pub plugins: Vec<keys::PluginOffer>,
}

impl Member {
    /// Builds a member from a node's gossiped state; `None` until it gossiped its advertise
    /// address (or after it deleted it to leave).
    fn from_node_state(chitchat_id: &ChitchatId, node_state: &NodeState) -> Option<Member> {
        let advertise_addr = node_state.get(keys::ADVERTISE_ADDR_KEY)?;
        let node_id = chitchat_id.node_id.to_string();
        let running_tasks = match node_state.get(keys::RUNNING_TASKS_KEY) {
            None => Vec::new(),
            Some(encoded) => keys::decode_running_tasks(encoded).unwrap_or_else(|error| {
                warn!(node_id=%node_id, error=%error, "ignoring malformed running tasks");
                Vec::new()
            }),
        };
        let gave_up_tasks = node_state
            .get(keys::GAVE_UP_TASKS_KEY)
            .and_then(|encoded| keys::decode_running_tasks(encoded).ok())
            .unwrap_or_default();
        let assignment_epoch = node_state
            .get(keys::ASSIGNMENT_EPOCH_KEY)
            .and_then(keys::decode_assignment_epoch)
            .unwrap_or(0);
        let plugins = node_state
            .get(keys::PLUGINS_KEY)
            .and_then(|encoded| keys::decode_plugins(encoded).ok())
            .unwrap_or_default();
        Some(Member {
            plugins,
            generation: chitchat_id.generation_id,
            advertise_addr: advertise_addr.to_string(),
            version: node_state
                .get(keys::VERSION_KEY)
                .unwrap_or_default()
                .to_string(),
            ready: node_state.get(keys::READINESS_KEY) == Some(keys::READY),
            running_tasks,
            gave_up_tasks,
            assignment_epoch,
            node_id,
        })
    }
}

/// Converts chitchat's live nodes (one entry per incarnation) into the members map: one member
/// per node id, the highest generation, and only nodes that gossiped their advertise address.
fn members_from_live_nodes(live_nodes: &BTreeMap<ChitchatId, NodeState>) -> Members {
    let mut latest_incarnations: BTreeMap<&str, (&ChitchatId, &NodeState)> = BTreeMap::new();
    for (chitchat_id, node_state) in live_nodes {
        let node_id: &str = &chitchat_id.node_id;
        let is_newer = match latest_incarnations.get(node_id) {
            Some((known_id, _)) => chitchat_id.generation_id > known_id.generation_id,
            None => true,
        };
        if is_newer {
            latest_incarnations.insert(node_id, (chitchat_id, node_state));
        }
    }
    let mut members = Members::new();
    for (node_id, (chitchat_id, node_state)) in latest_incarnations {
        if let Some(member) = Member::from_node_state(chitchat_id, node_state) {
            members.insert(node_id.to_string(), member);
        }
    }
    members
}

/// Handle to this node's membership: publishes its state, and exposes the live members.
///
/// Cloning is cheap; the gossip server stops when the last clone is dropped (without a goodbye:
/// call [`Membership::leave`] first).
#[derive(Clone)]
pub struct Membership {
    inner: Arc<MembershipInner>,
}

struct MembershipInner {
    config: MembershipConfig,
    chitchat_handle: ChitchatHandle,
    members_rx: watch::Receiver<Members>,
    quorum_rx: watch::Receiver<QuorumView>,
    changes_tx: broadcast::Sender<ClusterChange>,
    members_task: JoinHandle<()>,
    has_left: AtomicBool,
}

impl Drop for MembershipInner {
    fn drop(&mut self) {
        self.members_task.abort();
    }
}

impl Membership {
    /// Starts gossiping: binds `config.gossip_listen`, announces this node (not ready) and
    /// starts maintaining the members map.
    ///
    /// Production uses `chitchat::transport::UdpTransport`; tests may use `ChannelTransport`.
    ///
    /// # Errors
    /// [`MembershipError::InvalidConfig`] for an unusable config, [`MembershipError::Start`]
    /// when the transport cannot open the listen address.
    pub async fn start(
        config: MembershipConfig,
        transport: &dyn Transport,
    ) -> Result<Membership, MembershipError> {
        config.validate()?;
        let chitchat_handle = spawn_chitchat(
            config.chitchat_config(),
            config.initial_key_values(),
            transport,
        )
        .await
        .map_err(|error| MembershipError::Start {
            listen_addr: config.gossip_listen,
            message: format!("{error:#}"),
        })?;
        let live_nodes_rx = chitchat_handle
            .with_chitchat(|chitchat| chitchat.live_nodes_watcher())
            .await;
        let (members_tx, members_rx) = watch::channel(Members::new());
        let (quorum_tx, quorum_rx) = watch::channel(QuorumView::default());
        let (changes_tx, _) = broadcast::channel(CHANGES_CHANNEL_CAPACITY);
        let members_task = tokio::spawn(maintain_members(
            live_nodes_rx,
            members_tx,
            changes_tx.clone(),
            (MemberTracker::new(config.member_expiry), quorum_tx),
        ));
        info!(
            node_id=%config.node_id,
            generation=config.generation,
            gossip_addr=%config.gossip_advertise,
            dead_after_ms=config.dead_after().as_millis(),
            "membership started"
        );
        Ok(Membership {
            inner: Arc::new(MembershipInner {
                config,
                chitchat_handle,
                members_rx,
                quorum_rx,
                changes_tx,
                members_task,
                has_left: AtomicBool::new(false),
            }),
        })
    }

    /// Returns this node's configuration.
    pub fn config(&self) -> &MembershipConfig {
        &self.inner.config
    }

    /// Returns a receiver of the members map: live members by node id, self included, one
    /// entry per node id (its highest generation), only members that gossiped their advertise
    /// address. It is empty until the first gossip round and stops changing after
    /// [`Membership::leave`].
    pub fn members_rx(&self) -> watch::Receiver<Members> {
        self.inner.members_rx.clone()
    }

    /// Returns a receiver of the quorum view: the node ids counted as members (seen alive within
    /// [`MembershipConfig::member_expiry`], not gone gracefully) and those alive now. See
    /// [`quorum`] for the rule built on it.
    pub fn quorum_rx(&self) -> watch::Receiver<QuorumView> {
        self.inner.quorum_rx.clone()
    }

    /// Returns a receiver of membership changes from now on, in the order they happened.
    ///
    /// Changes made before the call (such as this node's own `Joined`, emitted at the first
    /// gossip round) are not replayed: use [`Membership::snapshot_and_subscribe`] to get the
    /// starting point. A subscriber that lags more than 1024 changes gets
    /// `RecvError::Lagged`; it should then resubscribe.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<ClusterChange> {
        self.inner.changes_tx.subscribe()
    }

    /// Returns the current members map and a receiver of the changes that follow it, with no
    /// change missed or repeated in between: applying the received changes (see
    /// [`apply_changes`]) to the snapshot keeps it equal to the members map.
    pub fn snapshot_and_subscribe(&self) -> (Members, broadcast::Receiver<ClusterChange>) {
        // Holding the read lock keeps the members task from publishing in between.
        let members = self.inner.members_rx.borrow();
        let changes_rx = self.inner.changes_tx.subscribe();
        (members.clone(), changes_rx)
    }

    /// Returns the expected time for peers to drop this cluster's nodes that die without
    /// leaving (see [`MembershipConfig::dead_after`]).
    pub fn dead_after(&self) -> Duration {
        self.inner.config.dead_after()
    }

    /// Publishes whether this node accepts work. Peers (and this node's own members map) see
    /// it after the next gossip round.
    pub async fn set_ready(&self, ready: bool) {
        let readiness = if ready { keys::READY } else { keys::NOT_READY };
        self.set_self_key(keys::READINESS_KEY, readiness.to_string())
            .await;
    }

    /// Publishes the tasks this node gave up on after repeated failures.
    pub async fn set_gave_up_tasks(&self, tasks: &[(String, u32)]) {
        self.set_self_key(keys::GAVE_UP_TASKS_KEY, keys::encode_running_tasks(tasks))
            .await;
    }

    /// Publishes the plugin connector classes this node can run.
    pub async fn set_plugins(&self, offers: &[keys::PluginOffer]) {
        self.set_self_key(keys::PLUGINS_KEY, keys::encode_plugins(offers))
            .await;
    }

    /// Publishes the tasks this node runs, `(connector, task index)`.
    pub async fn set_running_tasks(&self, tasks: &[(String, u32)]) {
        self.set_self_key(keys::RUNNING_TASKS_KEY, keys::encode_running_tasks(tasks))
            .await;
    }

    /// Publishes the tasks this node runs and the epoch of the last assignment it carried out,
    /// in that order in one step: a peer that sees the epoch also sees tasks at least as new
    /// (gossip hands a node's keys over in version order).
    pub async fn set_running_tasks_at_epoch(&self, epoch: u64, tasks: &[(String, u32)]) {
        let running = keys::encode_running_tasks(tasks);
        let epoch = keys::encode_assignment_epoch(epoch);
        self.inner
            .chitchat_handle
            .with_chitchat(|chitchat| {
                let self_state = chitchat.self_node_state();
                self_state.set(keys::RUNNING_TASKS_KEY, &running);
                self_state.set(keys::ASSIGNMENT_EPOCH_KEY, &epoch);
            })
            .await;
    }

    /// Publishes the epoch of the last assignment this node applied.
    pub async fn set_assignment_epoch(&self, epoch: u64) {
        self.set_self_key(
            keys::ASSIGNMENT_EPOCH_KEY,
            keys::encode_assignment_epoch(epoch),
        )
        .await;
    }

    /// Leaves the cluster gracefully: turns readiness off and withdraws the advertise address
    /// (so peers drop this node from their members map as soon as they hear about it, and emit
    /// `Left`), waits two gossip rounds so that the news spreads, then stops gossiping.
    /// Calling it again does nothing.
    pub async fn leave(&self) {
        if self.inner.has_left.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner
            .chitchat_handle
            .with_chitchat(|chitchat| {
                let self_state = chitchat.self_node_state();
                self_state.set(keys::READINESS_KEY, keys::NOT_READY);
                if self_state.contains_key(keys::ADVERTISE_ADDR_KEY) {
                    self_state.delete(keys::ADVERTISE_ADDR_KEY);
                }
            })
            .await;
        // Not synchronisation: the goodbye travels with the next gossip rounds, and there is
        // no acknowledgement to wait for.
        tokio::time::sleep(self.inner.config.gossip_interval * LEAVE_GOSSIP_ROUNDS).await;
        self.inner.members_task.abort();
        if self.inner.chitchat_handle.initiate_shutdown().is_ok() {
            let termination = self.inner.chitchat_handle.termination_watcher();
            if tokio::time::timeout(SHUTDOWN_TIMEOUT, termination)
                .await
                .is_err()
            {
                warn!(node_id=%self.inner.config.node_id, "gossip server did not stop in time");
            }
        }
        info!(node_id=%self.inner.config.node_id, "left the cluster");
    }

    /// Stops gossiping at once, without a goodbye, as if the process had been killed; peers
    /// notice through their failure detector. For tests and in-process chaos harnesses.
    pub fn kill_for_test(&self) {
        self.inner.has_left.store(true, Ordering::SeqCst);
        self.inner.members_task.abort();
        self.inner.chitchat_handle.abort();
    }

    async fn set_self_key(&self, key: &str, value: String) {
        self.inner
            .chitchat_handle
            .with_chitchat(|chitchat| chitchat.self_node_state().set(key, &value))
            .await;
    }
}

/// Returns the node ids alive in gossip and those alive but gone gracefully (they withdrew
/// their advertise address, see [`Membership::leave`]).
fn live_and_leaving(
    live_nodes: &BTreeMap<ChitchatId, NodeState>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut live = BTreeSet::new();
    let mut leaving = BTreeSet::new();
    for (chitchat_id, node_state) in live_nodes {
        let node_id = chitchat_id.node_id.to_string();
        if node_state.get(keys::ADVERTISE_ADDR_KEY).is_some() {
            live.insert(node_id);
        } else {
            leaving.insert(node_id);
        }
    }
    // A restarted node may still have a leaving-looking old incarnation: it is alive.
    leaving.retain(|node_id| !live.contains(node_id));
    (live, leaving)
}

/// Keeps the members map in sync with chitchat's live nodes and broadcasts the changes; keeps
/// the quorum view up to date (also on a timer, so that dead members expire). Ends when
/// chitchat stops.
async fn maintain_members(
    mut live_nodes_rx: watch::Receiver<BTreeMap<ChitchatId, NodeState>>,
    members_tx: watch::Sender<Members>,
    changes_tx: broadcast::Sender<ClusterChange>,
    (mut tracker, quorum_tx): (MemberTracker, watch::Sender<QuorumView>),
) {
    let mut quorum_tick = tokio::time::interval(QUORUM_TICK);
    quorum_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (members, live, leaving) = {
            let live_nodes = live_nodes_rx.borrow_and_update();
            let (live, leaving) = live_and_leaving(&live_nodes);
            (members_from_live_nodes(&live_nodes), live, leaving)
        };
        let view = tracker.observe(&live, &leaving, std::time::Instant::now());
        quorum_tx.send_if_modified(|current| {
            if *current == view {
                return false;
            }
            *current = view;
            true
        });
        // Broadcasting while the watch is locked for writing makes
        // `Membership::snapshot_and_subscribe` atomic, and a subscriber woken by a change reads
        // a members map that includes it.
        members_tx.send_if_modified(|current_members| {
            let changes = diff_members(current_members, &members);
            if changes.is_empty() {
                return false;
            }
            *current_members = members;
            for change in changes {
                // No subscriber is fine.
                let _ = changes_tx.send(change);
            }
            true
        });
        tokio::select! {
            changed = live_nodes_rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = quorum_tick.tick() => {}
        }
    }
}
