//! `LeaderActor`: runs on every node; acts only while its node is the elected leader.
//!
//! While leading it (1) generates task configs for connectors that need them, (2) computes the
//! assignment from the ready live members, and (3) publishes it to the config topic with a new
//! epoch. A task moving off a live worker is revoked first: it is left out of the published
//! assignment until no other live member gossips it as running, then assigned to its new owner.
//! A dead worker's tasks move at once, unless `scheduled.rebalance.max.delay.ms` keeps them
//! waiting for the worker to come back.
//!
//! Split brain: a node leads only while it sees a quorum of the members
//! ([`crate::membership::quorum`], with vanished members whose Kafka lease expired no longer
//! counted, see [`super::quorum_gate`]) and no other node holds an unexpired leader lease;
//! while it leads it renews the leader lease every second in its fenced transaction (in the
//! lease topic, [`crate::stores::lease`]), and it releases it when it steps down (lost quorum,
//! another node elected, stopped). A node cut off from the others' gossip thus never claims
//! leadership, so it never fences the majority's leader. Every assignment names the lease
//! incarnation of each worker, as the leader read it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_connectors::ConnectorRegistry;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use tokio::sync::watch;

use super::assignment::{compute_assignment_where_eligible, Assignment};
use super::election::{elect_leader, Candidate};
use super::placement::{move_tasks_off_workers_that_gave_up, plugin_eligibility, required_plugin};
use super::quorum_gate::QuorumGate;
use crate::membership::Members;
use crate::stores::config::LeaderWriter;
use crate::stores::lease::LEADER_LEASE_RENEW_INTERVAL;
use crate::stores::{ConfigSnapshot, ConfigStore, State, Status, StatusStore, TargetState};
use crate::worker::generate_task_configs;
use crate::StoreError;

/// How often the leader re-checks even without events.
const LEADER_TICK: Duration = Duration::from_millis(500);

/// What the leader needs.
pub struct LeaderDeps {
    pub node_id: String,
    pub registry: ConnectorRegistry,
    pub config_store: Arc<ConfigStore>,
    pub members_rx: watch::Receiver<Members>,
    /// Kafka Connect's `scheduled.rebalance.max.delay.ms`; Ferry's default is 0.
    pub rebalance_delay: Duration,
    /// Client settings and the cluster's `transactional.id` for fenced leader writes; `None`
    /// under `ferry dev` (the embedded cluster mis-handles transactions).
    pub fencing_opt: Option<(rdkafka::config::ClientConfig, String)>,
    /// How long after start this node may not lead: until gossip has shown it the cluster, every
    /// node sees only itself and would claim leadership (and fence the real leader). Zero for a
    /// worker without seeds.
    pub startup_grace: Duration,
    /// The quorum this node must see to lead.
    pub quorum: QuorumGate,
    /// How long the tasks of a worker that vanished without a goodbye (dead, or cut off from
    /// gossip) stay assigned to it: a cut-off worker fences itself (it loses its quorum at about
    /// the time the others declare it dead) and needs a moment to stop its tasks.
    pub fence_margin: Duration,
    /// Whether the leader renews a lease in the lease topic (off under `ferry dev`, a single
    /// node on the embedded cluster; needs the quorum gate's lease store).
    pub lease_enabled: bool,
    /// Resolves config provider placeholders for connector planning.
    pub config_providers: Arc<crate::config_providers::ConfigProviders>,
    /// Where the leader says that no worker has a connector's plugin.
    pub status_store: Arc<StatusStore>,
    /// This node's `worker_id` and status generation, for those status records.
    pub worker_id: String,
    pub generation: i64,
    /// Set on a worker with `exactly.once.source.support=enabled` (not under `ferry dev`):
    /// before it writes a source connector's new task configs, the leader fences the previous
    /// task generation's transactional producers and records the new generation's task count
    /// (KIP-618's zombie fencing).
    pub eos_source_fencing_opt: Option<EosSourceFencing>,
}

/// What the leader needs to fence an exactly-once source connector's previous task generation.
#[derive(Clone)]
pub struct EosSourceFencing {
    /// Client settings for the fencing producers.
    pub client_config: rdkafka::config::ClientConfig,
    /// The cluster's `group.id` (part of each task's `transactional.id`).
    pub group_id: String,
}

/// How long a fenced leader waits before it may claim leadership again (so two nodes that both
/// think they lead do not fence each other back and forth).
const FENCED_BACKOFF: Duration = Duration::from_secs(3);

/// Messages of [`LeaderActor`].
pub enum LeaderMsg {
    /// Re-evaluate leadership and the assignment.
    Tick,
    /// Return the leader's view.
    GetSnapshot(RpcReplyPort<LeaderSnapshot>),
    /// Store the task configs a connector's instance generated on its worker for the stored
    /// config `for_config` (a plugin connector); replies whether they were written (false:
    /// unchanged), or why they were refused.
    PutTaskConfigs {
        connector: String,
        for_config: BTreeMap<String, String>,
        tasks: Vec<ferry_connectors::sdk::TaskConfig>,
        reply: RpcReplyPort<Result<bool, TaskConfigsRefused>>,
    },
}

/// Why the leader refused reported task configs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskConfigsRefused {
    /// This node does not lead (any more).
    #[error("this worker is not the leader")]
    NotLeader,
    /// The connector is gone, stopped, or its config differs from the one the tasks were
    /// generated for (one side has not read the newest config yet).
    #[error(
        "connector {0}'s stored config differs from the one its task configs were generated for"
    )]
    StaleConfig(String),
    /// The write failed (the message says why).
    #[error("failed to store the task configs: {0}")]
    Write(String),
}

/// The leader's view, for the API and tests.
#[derive(Debug, Clone, Serialize)]
pub struct LeaderSnapshot {
    pub leader: Option<String>,
    pub is_leader: bool,
    pub assignment_epoch: u64,
}

/// The leader actor's state.
pub struct LeaderState {
    deps: LeaderDeps,
    leader_opt: Option<String>,
    is_leader: bool,
    /// The assignment the leader aims for (may include tasks still being revoked elsewhere).
    desired_opt: Option<Assignment>,
    /// Ready workers seen at the last tick, and when workers that left were last seen.
    last_workers: BTreeSet<String>,
    departed: BTreeMap<String, Instant>,
    writer_opt: Option<LeaderWriter>,
    fenced_until_opt: Option<Instant>,
    started_at: Instant,
    /// When this leader last renewed its lease.
    lease_renewed_at_opt: Option<Instant>,
    /// Whether the last tick saw a quorum (for logging changes only).
    had_quorum_opt: Option<bool>,
    /// Connectors reported UNASSIGNED because no worker has their plugin, with the trace.
    unplaceable: BTreeMap<String, String>,
}

/// The leader actor.
pub struct LeaderActor;

impl Actor for LeaderActor {
    type Msg = LeaderMsg;
    type State = LeaderState;
    type Arguments = LeaderDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<LeaderMsg>,
        deps: LeaderDeps,
    ) -> Result<LeaderState, ActorProcessingErr> {
        let mut members_rx = deps.members_rx.clone();
        let members_ref = myself.clone();
        tokio::spawn(async move {
            while members_rx.changed().await.is_ok() {
                if members_ref.cast(LeaderMsg::Tick).is_err() {
                    break;
                }
            }
        });
        let mut config_rx = deps.config_store.subscribe();
        let config_ref = myself.clone();
        tokio::spawn(async move {
            while config_rx.changed().await.is_ok() {
                if config_ref.cast(LeaderMsg::Tick).is_err() {
                    break;
                }
            }
        });
        myself.send_interval(LEADER_TICK, || LeaderMsg::Tick);
        Ok(LeaderState {
            deps,
            leader_opt: None,
            is_leader: false,
            desired_opt: None,
            last_workers: BTreeSet::new(),
            departed: BTreeMap::new(),
            writer_opt: None,
            fenced_until_opt: None,
            started_at: Instant::now(),
            lease_renewed_at_opt: None,
            had_quorum_opt: None,
            unplaceable: BTreeMap::new(),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<LeaderMsg>,
        state: &mut LeaderState,
    ) -> Result<(), ActorProcessingErr> {
        state.step_down("node stopping").await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<LeaderMsg>,
        message: LeaderMsg,
        state: &mut LeaderState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            LeaderMsg::Tick => state.tick().await,
            LeaderMsg::GetSnapshot(reply) => {
                let epoch = state
                    .deps
                    .config_store
                    .snapshot()
                    .assignment
                    .as_ref()
                    .map_or(0, |a| a.epoch);
                let _ = reply.send(LeaderSnapshot {
                    leader: state.leader_opt.clone(),
                    is_leader: state.is_leader,
                    assignment_epoch: epoch,
                });
            }
            LeaderMsg::PutTaskConfigs {
                connector,
                for_config,
                tasks,
                reply,
            } => {
                let result = state
                    .put_reported_task_configs(&connector, &for_config, &tasks)
                    .await;
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}

impl LeaderState {
    async fn tick(&mut self) {
        let quorum = self.deps.quorum.status();
        if self.had_quorum_opt != Some(quorum.has_quorum) {
            if quorum.has_quorum {
                tracing::info!(live = quorum.live, known = quorum.known, lease_holder = ?quorum.lease_holder, "quorum: this node sees a majority of the members");
            } else {
                tracing::warn!(live = quorum.live, known = quorum.known, lease_holder = ?quorum.lease_holder, "quorum lost: this node sees no majority of the members; it will not lead");
            }
            self.had_quorum_opt = Some(quorum.has_quorum);
        }
        if !quorum.has_quorum {
            self.step_down("no quorum").await;
            return;
        }
        let members = self.deps.members_rx.borrow().clone();
        let candidates: Vec<Candidate> = members
            .values()
            .map(|member| Candidate {
                node_id: member.node_id.clone(),
                generation: member.generation,
                ready: member.ready,
            })
            .collect();
        let leader_opt = elect_leader(&candidates);
        if leader_opt != self.leader_opt {
            tracing::info!(leader = ?leader_opt, node_id = %self.deps.node_id, "leader elected");
            self.leader_opt.clone_from(&leader_opt);
        }
        let am_leader = leader_opt.as_deref() == Some(self.deps.node_id.as_str());
        if !am_leader {
            self.step_down("another node leads").await;
            return;
        }
        if !self.is_leader {
            if self
                .fenced_until_opt
                .is_some_and(|until| Instant::now() < until)
            {
                return;
            }
            if self.started_at.elapsed() < self.deps.startup_grace {
                return;
            }
            if let Some(holder) = &quorum.lease_holder {
                if holder != &self.deps.node_id {
                    tracing::debug!(lease_holder = %holder, "not claiming leadership: another node holds the lease");
                    return;
                }
            }
            if let Some((client_config, transactional_id)) = &self.deps.fencing_opt {
                match LeaderWriter::fence_older_leaders(client_config, transactional_id).await {
                    Ok(writer) => self.writer_opt = Some(writer),
                    Err(error) => {
                        tracing::warn!(%error, "cannot confirm leadership in Kafka yet");
                        return;
                    }
                }
            } else {
                tracing::info!("leader fencing skipped: the embedded Kafka cluster does not handle transactions");
            }
            // Start from what the previous leader published.
            if let Err(error) = self.deps.config_store.refresh().await {
                tracing::warn!(%error, "leader cannot read the config topic yet");
                return;
            }
            self.is_leader = true;
            self.lease_renewed_at_opt = None;
            tracing::info!(node_id = %self.deps.node_id, "this node leads the cluster");
        }
        self.renew_lease_when_due().await;
        if !self.is_leader {
            return;
        }
        let snapshot = self.deps.config_store.snapshot();
        if self.ensure_task_configs(&snapshot).await {
            return;
        }
        let now = Instant::now();
        let ready: BTreeSet<String> = members
            .values()
            .filter(|m| m.ready)
            .map(|m| m.node_id.clone())
            .collect();
        for gone in self.last_workers.difference(&ready) {
            self.departed.entry(gone.clone()).or_insert(now);
        }
        let delay = self.deps.rebalance_delay;
        self.departed
            .retain(|worker, since| !ready.contains(worker) && now.duration_since(*since) < delay);
        self.last_workers.clone_from(&ready);
        let mut workers = ready;
        workers.extend(self.departed.keys().cloned());
        // Vanished workers whose lease expired are out of the view: their tasks move at once.
        let vanished = self.deps.quorum.view().0.vanished;
        workers.extend(workers_still_fencing(
            &vanished,
            now,
            self.deps.fence_margin,
        ));

        let connectors: BTreeMap<String, u32> = snapshot
            .connectors
            .keys()
            .map(|name| {
                let count = if snapshot.target_state(name) == TargetState::Stopped {
                    0
                } else {
                    snapshot.task_count(name)
                };
                (name.clone(), u32::try_from(count).unwrap_or(u32::MAX))
            })
            .collect();
        let previous = self
            .desired_opt
            .clone()
            .or_else(|| snapshot.assignment.clone())
            .unwrap_or_default();
        let eligible = plugin_eligibility(&self.deps.registry, &snapshot.connectors, &members);
        let mut desired =
            compute_assignment_where_eligible(&workers, &connectors, &eligible, &previous);
        self.report_unplaceable(&snapshot, &eligible, &workers)
            .await;
        move_tasks_off_workers_that_gave_up(&mut desired, &members, &workers, &eligible);
        self.desired_opt = Some(desired.clone());

        // Revoke before assign: a task another live member still runs waits for it to stop.
        let mut published = desired;
        let current_opt = snapshot.assignment.as_ref();
        published
            .tasks
            .retain(|task, owner| may_assign(task, owner, current_opt, &members));
        if let Some(leases) = self.deps.quorum.leases() {
            let incarnations = leases.incarnations();
            published.leases = workers
                .iter()
                .filter_map(|worker| {
                    incarnations
                        .get(worker)
                        .map(|incarnation| (worker.clone(), *incarnation))
                })
                .collect();
        }
        let current_epoch = snapshot.assignment.as_ref().map_or(0, |a| a.epoch);
        let unchanged = snapshot.assignment.as_ref().is_some_and(|current| {
            current.connectors == published.connectors
                && current.tasks == published.tasks
                && current.leases == published.leases
        });
        if unchanged {
            return;
        }
        published.epoch = current_epoch + 1;
        tracing::info!(
            epoch = published.epoch,
            tasks = published.tasks.len(),
            workers = workers.len(),
            "publishing assignment"
        );
        let result = self
            .deps
            .config_store
            .put_assignment_as_leader(self.writer_opt.as_ref(), &published)
            .await;
        self.handle_write_result(result, "publish the assignment");
    }

    /// Writes an UNASSIGNED status, naming the missing plugin, for every connector (and its
    /// tasks) that no present worker can run; once per connector until it can be placed.
    async fn report_unplaceable(
        &mut self,
        snapshot: &ConfigSnapshot,
        eligible: &BTreeMap<String, BTreeSet<String>>,
        workers: &BTreeSet<String>,
    ) {
        let mut unplaceable = BTreeMap::new();
        for (name, allowed) in eligible {
            let Some(config) = snapshot.connectors.get(name) else {
                continue;
            };
            if allowed.intersection(workers).next().is_some()
                || snapshot.target_state(name) == TargetState::Stopped
            {
                continue;
            }
            let trace = format!(
                "no live worker has the plugin {} in its plugin.path; the connector is assigned as soon as one does",
                required_plugin(config)
            );
            unplaceable.insert(name.clone(), trace);
        }
        for (name, trace) in &unplaceable {
            if self.unplaceable.get(name) == Some(trace) {
                continue;
            }
            tracing::warn!(connector = %name, %trace, "connector cannot be placed");
            let status_store = &self.deps.status_store;
            // Speak for the worker that ran it last: a stale UNASSIGNED of an older generation
            // would not replace its RUNNING record.
            let at_generation = |previous: Option<&Status>| {
                previous.map_or(self.deps.generation, |status| {
                    status.generation.max(self.deps.generation)
                })
            };
            let mut status = Status::new(
                State::Unassigned,
                &self.deps.worker_id,
                at_generation(status_store.connector(name).as_ref()),
            );
            status.trace = Some(trace.clone());
            let mut written = status_store.put_connector(name, &status).await.is_ok();
            let previous_tasks: BTreeMap<u32, Status> =
                status_store.tasks(name).into_iter().collect();
            for index in 0..u32::try_from(snapshot.task_count(name)).unwrap_or(0) {
                let mut task_status = Status::new(
                    State::Unassigned,
                    &self.deps.worker_id,
                    at_generation(previous_tasks.get(&index)),
                );
                task_status.trace = Some(trace.clone());
                written &= status_store
                    .put_task(name, index, &task_status)
                    .await
                    .is_ok();
            }
            if !written {
                // Try again on the next tick.
                continue;
            }
            self.unplaceable.insert(name.clone(), trace.clone());
        }
        self.unplaceable
            .retain(|name, _| unplaceable.contains_key(name));
    }

    /// Renews the lease when [`LEADER_LEASE_RENEW_INTERVAL`] passed since the last renewal.
    async fn renew_lease_when_due(&mut self) {
        let Some(leases) = self
            .deps
            .quorum
            .leases()
            .filter(|_| self.deps.lease_enabled)
        else {
            return;
        };
        let due = self
            .lease_renewed_at_opt
            .is_none_or(|renewed_at| renewed_at.elapsed() >= LEADER_LEASE_RENEW_INTERVAL);
        if !due {
            return;
        }
        let started = Instant::now();
        let result = leases
            .renew_leader_lease(self.writer_opt.as_ref(), &self.deps.node_id)
            .await;
        if result.is_ok() {
            self.lease_renewed_at_opt = Some(started);
        }
        self.handle_write_result(result, "renew the leader lease");
    }

    /// Stops leading; a leader that was not fenced releases its lease so that the next leader
    /// need not wait for it to expire.
    async fn step_down(&mut self, reason: &str) {
        if self.is_leader {
            tracing::info!(node_id = %self.deps.node_id, reason, "stepping down as leader");
            if let Some(leases) = self
                .deps
                .quorum
                .leases()
                .filter(|_| self.deps.lease_enabled)
            {
                let released = leases.release_leader_lease(self.writer_opt.as_ref()).await;
                if let Err(error) = released {
                    tracing::warn!(%error, "failed to release the leader lease; it expires by itself");
                }
            }
        }
        self.is_leader = false;
        self.desired_opt = None;
        self.writer_opt = None;
        self.lease_renewed_at_opt = None;
    }

    /// Stops leading without touching Kafka (a newer leader fenced this one).
    fn step_down_fenced(&mut self) {
        if self.is_leader {
            tracing::info!(node_id = %self.deps.node_id, "stepping down as leader: fenced");
        }
        self.is_leader = false;
        self.desired_opt = None;
        self.writer_opt = None;
        self.lease_renewed_at_opt = None;
    }

    /// Steps down when a newer leader fenced this one.
    fn handle_write_result(&mut self, result: Result<(), StoreError>, what: &str) {
        match result {
            Ok(()) => {}
            Err(StoreError::Fenced(message)) => {
                tracing::warn!(%message, "fenced by a newer leader");
                self.fenced_until_opt = Some(Instant::now() + FENCED_BACKOFF);
                self.step_down_fenced();
            }
            Err(error) => tracing::warn!(%error, "failed to {what}"),
        }
    }

    /// Stores the task configs a connector's instance reported from its worker, through the
    /// fenced writer, when they differ from the stored ones.
    async fn put_reported_task_configs(
        &mut self,
        connector: &str,
        for_config: &BTreeMap<String, String>,
        tasks: &[ferry_connectors::sdk::TaskConfig],
    ) -> Result<bool, TaskConfigsRefused> {
        if !self.is_leader {
            return Err(TaskConfigsRefused::NotLeader);
        }
        let mut snapshot = self.deps.config_store.snapshot();
        if snapshot.connectors.get(connector) != Some(for_config) {
            // The worker may have read a config this leader has not read yet.
            self.deps
                .config_store
                .refresh()
                .await
                .map_err(|error| TaskConfigsRefused::Write(error.to_string()))?;
            snapshot = self.deps.config_store.snapshot();
        }
        let current = snapshot.connectors.get(connector) == Some(for_config)
            && snapshot.target_state(connector) != TargetState::Stopped;
        if !current {
            return Err(TaskConfigsRefused::StaleConfig(connector.to_string()));
        }
        if snapshot.tasks.get(connector).map(Vec::as_slice) == Some(tasks) {
            return Ok(false);
        }
        tracing::info!(connector = %connector, tasks = tasks.len(), "writing task configs reported by the connector's worker");
        let fenced_generation = self
            .fence_previous_generation(&snapshot, connector, for_config, tasks.len())
            .await
            .map_err(TaskConfigsRefused::Write)?;
        let result = self
            .deps
            .config_store
            .put_task_configs_as_leader(
                self.writer_opt.as_ref(),
                connector,
                tasks,
                fenced_generation,
            )
            .await;
        let outcome = result
            .as_ref()
            .map(|()| true)
            .map_err(|error| TaskConfigsRefused::Write(error.to_string()));
        self.handle_write_result(result, "write reported task configs");
        outcome
    }

    /// Writes task configs for connectors whose stored ones are missing or outdated; returns true
    /// when it wrote any (the next snapshot triggers another tick). A connector planned on its
    /// assigned worker (a plugin connector) gets its task configs from that worker's report
    /// instead ([`LeaderMsg::PutTaskConfigs`]), except the empty list of a stopped connector.
    async fn ensure_task_configs(&mut self, snapshot: &ConfigSnapshot) -> bool {
        let mut wrote = false;
        for (name, config) in &snapshot.connectors {
            let wanted = if snapshot.target_state(name) == TargetState::Stopped {
                Ok(Vec::new())
            } else {
                let planned_by_its_worker = self
                    .deps
                    .registry
                    .find_for_config(config)
                    .is_some_and(|factory| factory.plans_tasks_on_assigned_worker());
                if planned_by_its_worker {
                    continue;
                }
                generate_task_configs(&self.deps.registry, &self.deps.config_providers, config)
            };
            // A connector whose config cannot produce tasks is reported FAILED by its worker.
            let Ok(task_configs) = wanted else { continue };
            if snapshot.tasks.get(name) != Some(&task_configs) {
                tracing::info!(connector = %name, tasks = task_configs.len(), "writing task configs");
                let fenced_generation = match self
                    .fence_previous_generation(snapshot, name, config, task_configs.len())
                    .await
                {
                    Ok(fenced_generation) => fenced_generation,
                    Err(error) => {
                        // The old task configs stay current; the next tick tries again.
                        tracing::warn!(connector = %name, %error, "not writing task configs: the previous task generation could not be fenced");
                        continue;
                    }
                };
                let result = self
                    .deps
                    .config_store
                    .put_task_configs_as_leader(
                        self.writer_opt.as_ref(),
                        name,
                        &task_configs,
                        fenced_generation,
                    )
                    .await;
                let succeeded = result.is_ok();
                self.handle_write_result(result, "write task configs");
                if !self.is_leader {
                    return false;
                }
                wrote |= succeeded;
            }
        }
        wrote
    }

    /// Before new task configs of an exactly-once source connector are written (on a worker
    /// with `exactly.once.source.support=enabled`), fences the transactional producers of the
    /// previous generation's tasks that the new one does not have: ids `new_count..n`, n the
    /// larger of the recorded task count and the committed task configs' count. A zombie of a
    /// removed task (tasks.max lowered) can then neither commit nor keep a transaction open. The
    /// ids below `new_count` are fenced by the new tasks themselves (each one's
    /// `init_transactions` before its first poll), so tasks that go on are not fenced twice.
    /// Returns whether it fenced (the caller then writes the task-count record with the
    /// configs); false for other connectors.
    ///
    /// # Errors
    /// Names the transactional id that could not be fenced.
    async fn fence_previous_generation(
        &self,
        snapshot: &ConfigSnapshot,
        name: &str,
        config: &BTreeMap<String, String>,
        new_count: usize,
    ) -> Result<bool, String> {
        let Some(fencing) = &self.deps.eos_source_fencing_opt else {
            return Ok(false);
        };
        let is_source = self
            .deps
            .registry
            .find_for_config(config)
            .is_some_and(|factory| {
                factory.connector_type() == ferry_connectors::sdk::ConnectorType::Source
            });
        if !is_source {
            return Ok(false);
        }
        let recorded = snapshot
            .task_count_records
            .get(name)
            .map_or(0, |count| *count as usize);
        let previous = recorded.max(snapshot.task_count(name));
        let transactional_ids: Vec<String> = (new_count..previous)
            .map(|task| crate::runtime::source::transactional_id(&fencing.group_id, name, task))
            .collect();
        let client_config = fencing.client_config.clone();
        let fencing_ids = transactional_ids.clone();
        tokio::task::spawn_blocking(move || {
            crate::runtime::source::fence_transactional_ids(&client_config, &fencing_ids)
        })
        .await
        .map_err(|error| error.to_string())??;
        tracing::info!(connector = %name, previous_task_count = previous, ?transactional_ids, "zombie fencing: the previous task generation's producers are fenced");
        Ok(true)
    }
}

/// Returns whether `task` may be published for `owner` (revoke-then-assign): no other live
/// member gossips it running, and, when it moves (the current assignment gives it to another
/// worker, or to nobody), the current assignment no longer gives it to a live member and every
/// other live member has carried out the current epoch. A member's gossiped running tasks are as
/// new as its gossiped epoch (one step, in version order), so a leader whose gossip view is
/// stale (it was frozen, or just took over) waits instead of trusting old running tasks. An
/// epoch of 0 is unknown (an older version, or a worker that has not reconciled yet): only its
/// running tasks count.
fn may_assign(
    task: &(String, u32),
    owner: &str,
    current_opt: Option<&Assignment>,
    members: &Members,
) -> bool {
    let others = || members.values().filter(|member| member.node_id != owner);
    if others().any(|member| member.running_tasks.contains(task)) {
        return false;
    }
    let Some(current) = current_opt else {
        return true;
    };
    let current_owner_opt = current.tasks.get(task).map(String::as_str);
    if current_owner_opt == Some(owner) {
        return true;
    }
    if current_owner_opt.is_some_and(|previous| members.contains_key(previous)) {
        return false;
    }
    !others().any(|member| member.assignment_epoch != 0 && member.assignment_epoch < current.epoch)
}

/// Returns the workers that vanished without a goodbye (dead, or cut off from gossip) less than
/// `fence_margin` ago: their tasks stay in place meanwhile, because a cut-off worker loses its
/// quorum at about the time the others see it vanish, and needs a moment to stop its tasks.
fn workers_still_fencing(
    vanished: &BTreeMap<String, Instant>,
    now: Instant,
    fence_margin: Duration,
) -> Vec<String> {
    vanished
        .iter()
        .filter(|(_, since)| now.saturating_duration_since(**since) < fence_margin)
        .map(|(worker, _)| worker.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(node_id: &str, epoch: u64, running: &[(&str, u32)]) -> crate::membership::Member {
        crate::membership::Member {
            node_id: node_id.to_string(),
            generation: 1,
            advertise_addr: format!("{node_id}:8083"),
            version: String::new(),
            ready: true,
            running_tasks: running
                .iter()
                .map(|(connector, index)| ((*connector).to_string(), *index))
                .collect(),
            gave_up_tasks: Vec::new(),
            assignment_epoch: epoch,
            plugins: Vec::new(),
        }
    }

    #[test]
    fn a_moving_task_waits_until_every_other_member_carried_out_its_revocation() {
        let task = ("c".to_string(), 0);
        let members_at = |a_epoch: u64, a_running: &[(&str, u32)]| -> Members {
            [member("a", a_epoch, a_running), member("b", 5, &[])]
                .into_iter()
                .map(|m| (m.node_id.clone(), m))
                .collect()
        };
        let mut current = Assignment {
            epoch: 5,
            tasks: BTreeMap::from([(task.clone(), "a".to_string())]),
            ..Assignment::default()
        };
        // Still with live "a" in the published assignment: revoke first.
        assert!(!may_assign(&task, "b", Some(&current), &members_at(5, &[])));
        assert!(may_assign(
            &task,
            "a",
            Some(&current),
            &members_at(5, &[("c", 0)])
        ));
        // Revoked at epoch 6: "a" must have carried out epoch 6 and not run it.
        current.epoch = 6;
        current.tasks.clear();
        assert!(
            !may_assign(&task, "b", Some(&current), &members_at(5, &[])),
            "a's view is older than the revocation"
        );
        assert!(!may_assign(
            &task,
            "b",
            Some(&current),
            &members_at(6, &[("c", 0)])
        ));
        assert!(may_assign(&task, "b", Some(&current), &members_at(6, &[])));
        assert!(
            may_assign(&task, "b", Some(&current), &members_at(0, &[])),
            "epoch unknown: running tasks only"
        );
        // The owner in the assignment is gone (dead): moves as soon as the others caught up.
        current.tasks.insert(task.clone(), "dead".to_string());
        assert!(may_assign(&task, "b", Some(&current), &members_at(6, &[])));
        assert!(may_assign(&task, "b", None, &members_at(6, &[])));
    }

    #[test]
    fn a_vanished_worker_keeps_its_tasks_for_the_fence_margin() {
        let start = Instant::now();
        let vanished = BTreeMap::from([
            ("old".to_string(), start),
            ("new".to_string(), start + Duration::from_millis(900)),
        ]);
        let now = start + Duration::from_secs(1);
        assert_eq!(
            workers_still_fencing(&vanished, now, Duration::from_secs(1)),
            vec!["new".to_string()]
        );
        assert!(workers_still_fencing(&vanished, now, Duration::ZERO).is_empty());
    }
}
