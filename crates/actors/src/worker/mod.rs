//! `WorkerActor`: reconciles the connectors and tasks running on this worker with what the config
//! topic asks for, supervises the tasks (restart with backoff, FAILED when retrying cannot help)
//! and writes their status.
//!
//! Reconciliation is event-driven (every new config snapshot) and periodic (a tick catches
//! anything missed). The decisions are pure functions (`plan::diff_tasks`,
//! `restart_policy::RestartPolicy::decide`); the actor only carries them out.
//!
//! Fencing: a worker that does not see a quorum of the cluster's members (it is cut off from
//! their gossip, see [`crate::membership::quorum`]) stops every task and starts none until it
//! sees one again; the majority's leader moves those tasks elsewhere as it does for a dead node.

pub mod plan;
pub mod restart_policy;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::{ConnectorError, ErrorKind, TaskConfig};
use ferry_connectors::validation::config_def_for;
use ferry_connectors::ConnectorRegistry;
use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config_providers::{redact_resolved, restore_placeholders, ConfigProviders};
use crate::leader::QuorumGate;
use crate::runtime::retry::{RetryNotice, RetryNotifier};
use crate::runtime::{run_task, TaskEnv, TaskSpec};
use crate::stores::{ConfigSnapshot, ConfigStore, State, Status, StatusStore, TargetState};
use plan::{diff_tasks, TaskKey};
use restart_policy::{RestartDecision, RestartPolicy};

/// How often the worker reconciles even without config changes.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);

/// How often the worker checks its quorum and its own lease (they change without an event).
const QUORUM_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What the worker needs.
#[derive(Clone)]
pub struct WorkerDeps {
    /// This node's id in gossip and in assignments.
    pub node_id: String,
    /// Advertised `host:port`: the `worker_id` in status output.
    pub worker_id: String,
    /// The epoch of the last assignment this worker carried out (its stops done) and the tasks
    /// running here, for gossip: the leader revokes before it reassigns, and hands a revoked
    /// task to its new owner only once every live member has carried out that revocation's
    /// epoch (`u64::MAX`: this worker is shutting down and starts nothing any more).
    pub running_tx: tokio::sync::watch::Sender<(u64, Vec<TaskKey>)>,
    /// The tasks this worker gave up on, for gossip (the leader moves them elsewhere).
    pub gave_up_tx: tokio::sync::watch::Sender<Vec<TaskKey>>,
    pub registry: ConnectorRegistry,
    pub config_store: Arc<ConfigStore>,
    pub status_store: Arc<StatusStore>,
    pub task_env: TaskEnv,
    pub restart_policy: RestartPolicy,
    /// How long a task may take to stop (flush and commit) before it is abandoned.
    pub task_shutdown_timeout: Duration,
    /// Written into status records (newer generations win over stale UNASSIGNED).
    pub generation: i64,
    /// Without a quorum the worker runs no task.
    pub quorum: QuorumGate,
}

/// Messages of [`WorkerActor`].
pub enum WorkerMsg {
    /// Compare what runs with the latest config snapshot and act.
    Reconcile,
    /// A task's tokio task ended.
    TaskExited {
        key: TaskKey,
        run_id: u64,
        result: Result<(), ConnectorError>,
    },
    /// A task retries a retriable failure in place, or recovered from one: write its status.
    TaskRetrying {
        key: TaskKey,
        run_id: u64,
        notice: RetryNotice,
    },
    /// A backoff delay ended: start the task again if it is still wanted.
    RestartAfterBackoff { key: TaskKey, run_id: u64 },
    /// Restart one task now (REST `POST /connectors/{c}/tasks/{t}/restart`).
    RestartTask {
        key: TaskKey,
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Restart a connector's tasks: all, or only the failed ones.
    RestartConnectorTasks {
        connector: String,
        only_failed: bool,
        reply: RpcReplyPort<Vec<u32>>,
    },
    /// Stop every task (flushing and committing), write UNASSIGNED, and reply.
    Shutdown(RpcReplyPort<()>),
    /// Return what runs here.
    GetSnapshot(RpcReplyPort<WorkerSnapshot>),
}

/// What runs on this worker, for the API and tests.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerSnapshot {
    pub running: Vec<String>,
    pub failed: Vec<String>,
    pub backing_off: Vec<String>,
}

struct RunningTask {
    config: TaskConfig,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    run_id: u64,
}

#[derive(Default)]
struct TaskHistory {
    failures: Vec<Instant>,
    restarts: u32,
    /// Retriable failures retried in place, over every run here.
    retries: u64,
    last_error: Option<String>,
}

/// The worker's state.
pub struct WorkerState {
    deps: WorkerDeps,
    running: BTreeMap<TaskKey, RunningTask>,
    /// Tasks waiting out a backoff before their restart, with the config to restart with.
    backing_off: BTreeMap<TaskKey, (TaskConfig, u64)>,
    /// Tasks given up on, with the config that failed.
    failed: BTreeMap<TaskKey, TaskConfig>,
    /// Tasks that failed too often here (retryable errors), with the config that failed; the
    /// leader moves them to another worker. Cleared by a config change or a restart request.
    gave_up: BTreeMap<TaskKey, TaskConfig>,
    history: BTreeMap<TaskKey, TaskHistory>,
    /// Last connector state this worker wrote.
    connector_states: BTreeMap<String, State>,
    next_run_id: u64,
    stopping: bool,
    /// Whether the last reconcile saw a quorum (`None` before the first).
    had_quorum_opt: Option<bool>,
    /// Epoch of the last assignment carried out here (gossiped with the running tasks).
    applied_epoch: u64,
}

/// The worker actor.
pub struct WorkerActor;

impl Actor for WorkerActor {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = WorkerDeps;

    async fn pre_start(
        &self,
        myself: ActorRef<WorkerMsg>,
        deps: WorkerDeps,
    ) -> Result<WorkerState, ActorProcessingErr> {
        let mut config_rx = deps.config_store.subscribe();
        let watcher_ref = myself.clone();
        tokio::spawn(async move {
            while config_rx.changed().await.is_ok() {
                if watcher_ref.cast(WorkerMsg::Reconcile).is_err() {
                    break;
                }
            }
        });
        myself.send_interval(RECONCILE_INTERVAL, || WorkerMsg::Reconcile);
        let quorum = deps.quorum.clone();
        let quorum_ref = myself.clone();
        tokio::spawn(async move {
            // A new lease incarnation means the lease lapsed in between (perhaps while this
            // process was frozen, too briefly to see the quorum go): reconcile at once.
            let state_now = || (quorum.status().has_quorum, quorum.own_incarnation());
            let mut had = state_now();
            let mut check = tokio::time::interval(QUORUM_CHECK_INTERVAL);
            loop {
                check.tick().await;
                let now = state_now();
                if now != had {
                    had = now;
                    if quorum_ref.cast(WorkerMsg::Reconcile).is_err() {
                        break;
                    }
                }
            }
        });
        myself.cast(WorkerMsg::Reconcile)?;
        Ok(WorkerState {
            deps,
            running: BTreeMap::new(),
            backing_off: BTreeMap::new(),
            failed: BTreeMap::new(),
            gave_up: BTreeMap::new(),
            history: BTreeMap::new(),
            connector_states: BTreeMap::new(),
            next_run_id: 0,
            stopping: false,
            had_quorum_opt: None,
            applied_epoch: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        message: WorkerMsg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WorkerMsg::Reconcile => {
                if !state.stopping {
                    state.reconcile(&myself).await;
                }
            }
            WorkerMsg::TaskExited {
                key,
                run_id,
                result,
            } => state.on_task_exited(&myself, key, run_id, result).await,
            WorkerMsg::TaskRetrying {
                key,
                run_id,
                notice,
            } => state.on_task_retrying(key, run_id, notice).await,
            WorkerMsg::RestartAfterBackoff { key, run_id } => {
                if state.stopping {
                    return Ok(());
                }
                if let Some((config, pending_run)) = state.backing_off.get(&key).cloned() {
                    if pending_run == run_id {
                        state.backing_off.remove(&key);
                        state.start_task(&myself, key, config).await;
                    }
                }
            }
            WorkerMsg::RestartTask { key, reply } => {
                let result = state.restart_task(&myself, &key).await;
                let _ = reply.send(result);
            }
            WorkerMsg::RestartConnectorTasks {
                connector,
                only_failed,
                reply,
            } => {
                let snapshot = state.deps.config_store.snapshot();
                let mut restarted = Vec::new();
                for index in 0..u32::try_from(snapshot.task_count(&connector)).unwrap_or(0) {
                    let key = (connector.clone(), index);
                    if only_failed && !state.failed.contains_key(&key) {
                        continue;
                    }
                    if state.restart_task(&myself, &key).await.is_ok() {
                        restarted.push(index);
                    }
                }
                let _ = reply.send(restarted);
            }
            WorkerMsg::Shutdown(reply) => {
                state.stopping = true;
                state.stop_all().await;
                let _ = reply.send(());
            }
            WorkerMsg::GetSnapshot(reply) => {
                let name = |key: &TaskKey| format!("{}-{}", key.0, key.1);
                let _ = reply.send(WorkerSnapshot {
                    running: state.running.keys().map(name).collect(),
                    failed: state.failed.keys().map(name).collect(),
                    backing_off: state.backing_off.keys().map(name).collect(),
                });
            }
        }
        Ok(())
    }
}

impl WorkerState {
    async fn reconcile(&mut self, myself: &ActorRef<WorkerMsg>) {
        let snapshot = self.deps.config_store.snapshot();
        let quorum = self.deps.quorum.status();
        if self.had_quorum_opt != Some(quorum.has_quorum) {
            if quorum.has_quorum {
                tracing::info!(
                    live = quorum.live,
                    known = quorum.known,
                    "worker sees a quorum: running its assigned tasks"
                );
            } else if self.had_quorum_opt.is_some() || !self.running.is_empty() {
                tracing::warn!(live = quorum.live, known = quorum.known, lease_holder = ?quorum.lease_holder, running = self.running.len(), "worker fenced: no quorum, stopping every task");
            }
            self.had_quorum_opt = Some(quorum.has_quorum);
        }
        let epoch = snapshot
            .assignment
            .as_ref()
            .map_or(0, |assignment| assignment.epoch);
        if !quorum.has_quorum {
            crate::plugin::stop_connector_instances(&self.deps.registry);
            self.stop_all_fenced().await;
            // Running nothing carries out any assignment.
            self.applied_epoch = self.applied_epoch.max(epoch);
            self.publish_running();
            return;
        }
        let own_incarnation_opt = self.deps.quorum.own_incarnation();
        if !assignment_names_this_incarnation(&snapshot, &self.deps.node_id, own_incarnation_opt) {
            if !self.running.is_empty() {
                tracing::warn!(incarnation = ?own_incarnation_opt, running = self.running.len(), "the assignment names another lease incarnation of this worker (its lease lapsed meanwhile): stopping every task until a leader publishes one for this incarnation");
            }
            crate::plugin::stop_connector_instances(&self.deps.registry);
            self.stop_all_fenced().await;
            self.applied_epoch = self.applied_epoch.max(epoch);
            self.publish_running();
            return;
        }
        let desired = desired_tasks(&snapshot, &self.deps.node_id);
        self.gave_up.retain(|key, config| {
            snapshot
                .tasks
                .get(&key.0)
                .and_then(|tasks| tasks.get(key.1 as usize))
                == Some(config)
        });
        // Forget failures of tasks whose config changed or that are gone.
        self.failed
            .retain(|key, config| desired.get(key) == Some(config));
        self.backing_off
            .retain(|key, (config, _)| desired.get(key) == Some(config));
        let mut current: BTreeMap<TaskKey, TaskConfig> = self
            .running
            .iter()
            .map(|(key, task)| (key.clone(), task.config.clone()))
            .collect();
        for (key, (config, _)) in &self.backing_off {
            current.insert(key.clone(), config.clone());
        }
        let failed: BTreeSet<TaskKey> = self.failed.keys().cloned().collect();
        let diff = diff_tasks(&current, &desired, &failed);
        for key in &diff.to_stop {
            self.backing_off.remove(key);
            self.stop_task(key).await;
            let connector_alive =
                snapshot.contains(&key.0) && snapshot.target_state(&key.0) != TargetState::Stopped;
            let still_exists =
                connector_alive && u32::try_from(snapshot.task_count(&key.0)).unwrap_or(0) > key.1;
            if !still_exists {
                self.history.remove(key);
                if let Err(error) = self.deps.status_store.delete_task(&key.0, key.1).await {
                    tracing::warn!(connector = %key.0, task = key.1, %error, "failed to delete task status");
                }
            }
        }
        for key in diff.to_start {
            if let Some(config) = desired.get(&key) {
                self.start_task(myself, key, config.clone()).await;
            }
        }
        self.write_connector_states(&snapshot).await;
        crate::plugin::assign_connector_instances(
            &self.deps.registry,
            &self.deps.task_env.config_providers,
            &snapshot,
            &self.deps.node_id,
        );
        self.applied_epoch = self.applied_epoch.max(epoch);
        self.publish_running();
        self.publish_gave_up();
    }

    fn publish_gave_up(&self) {
        let gave_up: Vec<TaskKey> = self.gave_up.keys().cloned().collect();
        self.deps.gave_up_tx.send_if_modified(|current| {
            if *current == gave_up {
                return false;
            }
            current.clone_from(&gave_up);
            true
        });
    }

    fn publish_running(&self) {
        let running = (
            self.applied_epoch,
            self.running.keys().cloned().collect::<Vec<TaskKey>>(),
        );
        self.deps.running_tx.send_if_modified(|current| {
            if *current == running {
                return false;
            }
            current.clone_from(&running);
            true
        });
    }

    /// Returns true when this worker runs connector `name` (reports its status).
    fn owns_connector(&self, snapshot: &ConfigSnapshot, name: &str) -> bool {
        snapshot
            .assignment
            .as_ref()
            .and_then(|assignment| assignment.connectors.get(name))
            .is_some_and(|owner| owner == &self.deps.node_id)
    }

    async fn write_connector_states(&mut self, snapshot: &ConfigSnapshot) {
        for (name, config) in &snapshot.connectors {
            if !self.owns_connector(snapshot, name) {
                // Another worker reports it now.
                self.connector_states.remove(name);
                continue;
            }
            // A retryable planning error (a plugin connector's instance has not reported its
            // task configs yet) is waited out, not reported as FAILED.
            let planning_error = match snapshot.target_state(name) {
                TargetState::Stopped => None,
                _ => generate_task_configs(
                    &self.deps.registry,
                    &self.deps.task_env.config_providers,
                    config,
                )
                .err()
                .filter(|error| !error.is_retryable()),
            };
            if let Some(error) = planning_error {
                if self.connector_states.get(name) != Some(&State::Failed) {
                    let mut status =
                        Status::new(State::Failed, &self.deps.worker_id, self.deps.generation);
                    status.trace = Some(error.message.clone());
                    if self
                        .deps
                        .status_store
                        .put_connector(name, &status)
                        .await
                        .is_ok()
                    {
                        self.connector_states.insert(name.clone(), State::Failed);
                    }
                }
                continue;
            }
            let wanted = match snapshot.target_state(name) {
                TargetState::Started => State::Running,
                TargetState::Paused => State::Paused,
                TargetState::Stopped => State::Stopped,
            };
            if self.connector_states.get(name) != Some(&wanted) {
                let status = Status::new(wanted, &self.deps.worker_id, self.deps.generation);
                match self.deps.status_store.put_connector(name, &status).await {
                    Ok(()) => {
                        self.connector_states.insert(name.clone(), wanted);
                    }
                    Err(error) => {
                        tracing::warn!(connector = %name, %error, "failed to write connector status")
                    }
                }
                if wanted == State::Paused {
                    for index in 0..u32::try_from(snapshot.task_count(name)).unwrap_or(0) {
                        self.put_task_status(&(name.clone(), index), State::Paused, None)
                            .await;
                    }
                }
            }
        }
        let gone: Vec<String> = self
            .connector_states
            .keys()
            .filter(|name| !snapshot.contains(name))
            .cloned()
            .collect();
        for name in gone {
            self.connector_states.remove(&name);
            if let Err(error) = self.deps.status_store.delete_connector(&name, 0).await {
                tracing::warn!(connector = %name, %error, "failed to delete connector status");
            }
        }
    }

    async fn start_task(&mut self, myself: &ActorRef<WorkerMsg>, key: TaskKey, config: TaskConfig) {
        let Some(factory) = self.deps.registry.find_for_config(&config) else {
            self.fail_task(&key, config, "unknown connector class in task config")
                .await;
            return;
        };
        let run_id = self.next_run_id;
        self.next_run_id += 1;
        let cancel = CancellationToken::new();
        let notice_ref = myself.clone();
        let notice_key = key.clone();
        let retry_notifier: RetryNotifier = Arc::new(move |notice| {
            let _ = notice_ref.cast(WorkerMsg::TaskRetrying {
                key: notice_key.clone(),
                run_id,
                notice,
            });
        });
        // What the task runs with; `config` stays what it was assigned (the plan compares it).
        let run_config = with_connector_keys(
            config.clone(),
            factory.as_ref(),
            self.deps.config_store.snapshot().connectors.get(&key.0),
        );
        let spec = TaskSpec {
            connector: key.0.clone(),
            index: key.1,
            config: run_config,
            factory,
            retry_notifier,
        };
        let mut env = self.deps.task_env.clone();
        env.lease = self
            .deps
            .quorum
            .lease_gate()
            .start_task(self.deps.quorum.own_incarnation());
        let exit_ref = myself.clone();
        let task_cancel = cancel.clone();
        let exit_key = key.clone();
        let span = tracing::info_span!("task", connector = %key.0, task = key.1, run_id);
        let task_future = async move {
            let outcome = AssertUnwindSafe(run_task(env, spec, task_cancel))
                .catch_unwind()
                .await;
            let result = outcome.unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_string()))
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(ConnectorError::internal(format!(
                    "task panicked: {message}"
                )))
            });
            let _ = exit_ref.cast(WorkerMsg::TaskExited {
                key: exit_key,
                run_id,
                result,
            });
        };
        let handle = tokio::spawn(tracing::Instrument::instrument(task_future, span));
        tracing::info!(connector = %key.0, task = key.1, "task started");
        self.running.insert(
            key.clone(),
            RunningTask {
                config,
                cancel,
                handle,
                run_id,
            },
        );
        self.put_task_status(&key, State::Running, None).await;
    }

    async fn stop_task(&mut self, key: &TaskKey) {
        let Some(task) = self.running.remove(key) else {
            return;
        };
        task.cancel.cancel();
        let mut handle = task.handle;
        if tokio::time::timeout(self.deps.task_shutdown_timeout, &mut handle)
            .await
            .is_err()
        {
            tracing::warn!(connector = %key.0, task = key.1, "task did not stop in time; abandoning it");
            handle.abort();
        }
        tracing::info!(connector = %key.0, task = key.1, "task stopped");
        self.publish_running();
    }

    /// Stops every task at once (flush and commit within the shutdown timeout) without writing
    /// their status: the workers that take them over report them.
    async fn stop_all_fenced(&mut self) {
        self.backing_off.clear();
        if self.running.is_empty() {
            return;
        }
        let mut stopping = Vec::new();
        for (key, task) in std::mem::take(&mut self.running) {
            task.cancel.cancel();
            stopping.push((key, task.handle));
        }
        let timeout = self.deps.task_shutdown_timeout;
        let waits = stopping.into_iter().map(|(key, mut handle)| async move {
            if tokio::time::timeout(timeout, &mut handle).await.is_err() {
                tracing::warn!(connector = %key.0, task = key.1, "task did not stop in time; abandoning it");
                handle.abort();
            }
            tracing::info!(connector = %key.0, task = key.1, "task stopped (fenced)");
        });
        futures::future::join_all(waits).await;
        self.publish_running();
    }

    async fn stop_all(&mut self) {
        crate::plugin::stop_connector_instances(&self.deps.registry);
        let keys: Vec<TaskKey> = self.running.keys().cloned().collect();
        let mut stopping = Vec::new();
        for key in &keys {
            if let Some(task) = self.running.remove(key) {
                task.cancel.cancel();
                stopping.push((key.clone(), task.handle));
            }
        }
        let timeout = self.deps.task_shutdown_timeout;
        let waits = stopping.into_iter().map(|(key, mut handle)| async move {
            if tokio::time::timeout(timeout, &mut handle).await.is_err() {
                tracing::warn!(connector = %key.0, task = key.1, "task did not stop in time; abandoning it");
                handle.abort();
            }
        });
        futures::future::join_all(waits).await;
        // Shutting down: nothing starts here any more, whatever the leader publishes.
        self.applied_epoch = u64::MAX;
        self.publish_running();
        for key in keys {
            self.put_task_status(&key, State::Unassigned, None).await;
        }
    }

    async fn on_task_exited(
        &mut self,
        myself: &ActorRef<WorkerMsg>,
        key: TaskKey,
        run_id: u64,
        result: Result<(), ConnectorError>,
    ) {
        let Some(task) = self.running.get(&key) else {
            return;
        };
        if task.run_id != run_id {
            return;
        }
        let Some(task) = self.running.remove(&key) else {
            return;
        };
        let error = match result {
            Ok(()) => ConnectorError::internal("task exited unexpectedly"),
            Err(error) => error,
        };
        let trace = format!("{:?} error: {}", error.kind, error.message);
        tracing::warn!(connector = %key.0, task = key.1, error = %error.message, kind = ?error.kind, "task failed");
        // User errors and fatal external ones (a refusal for good, errors.retry.timeout spent)
        // fail the task. Node-local, internal and the external errors a task did not retry in
        // place are restarted here, counted toward task.restart.max.failures, and then moved
        // to another worker.
        if matches!(error.kind, ErrorKind::User | ErrorKind::Fatal) || self.stopping {
            self.fail_task(&key, task.config, &trace).await;
            return;
        }
        let history = self.history.entry(key.clone()).or_default();
        let now = Instant::now();
        history.failures.push(now);
        history.last_error = Some(trace.clone());
        match self.deps.restart_policy.decide(&mut history.failures, now) {
            RestartDecision::RestartAfter(delay) => {
                history.restarts += 1;
                metrics::counter!(crate::metric_names::TASK_RESTARTS_TOTAL, "connector" => key.0.clone(), "task" => key.1.to_string())
                    .increment(1);
                let restart_run = self.next_run_id;
                self.next_run_id += 1;
                self.backing_off
                    .insert(key.clone(), (task.config, restart_run));
                tracing::info!(connector = %key.0, task = key.1, delay_ms = delay.as_millis(), "task restart scheduled");
                self.put_task_status(&key, State::Restarting, Some(trace))
                    .await;
                let restart_key = key.clone();
                myself.send_after(delay, move || WorkerMsg::RestartAfterBackoff {
                    key: restart_key,
                    run_id: restart_run,
                });
            }
            RestartDecision::GiveUp => {
                // Give up here; the leader tries it on another worker, and only when every
                // worker gave up does it stay FAILED.
                tracing::warn!(connector = %key.0, task = key.1, "task failed too often here; handing it to another worker");
                self.gave_up.insert(key.clone(), task.config.clone());
                self.publish_gave_up();
                self.fail_task(&key, task.config, &trace).await;
            }
        }
    }

    async fn on_task_retrying(&mut self, key: TaskKey, run_id: u64, notice: RetryNotice) {
        if self.running.get(&key).map(|task| task.run_id) != Some(run_id) {
            return;
        }
        let history = self.history.entry(key.clone()).or_default();
        let trace = match notice {
            RetryNotice::Retrying { error, .. } => {
                history.retries += 1;
                history.last_error = Some(error.clone());
                Some(error)
            }
            RetryNotice::Recovered { .. } => None,
        };
        self.put_task_status(&key, State::Running, trace).await;
    }

    async fn fail_task(&mut self, key: &TaskKey, config: TaskConfig, trace: &str) {
        self.failed.insert(key.clone(), config);
        self.history.entry(key.clone()).or_default().last_error = Some(trace.to_string());
        self.put_task_status(key, State::Failed, Some(trace.to_string()))
            .await;
    }

    async fn restart_task(
        &mut self,
        myself: &ActorRef<WorkerMsg>,
        key: &TaskKey,
    ) -> Result<(), String> {
        if !self.deps.quorum.status().has_quorum {
            return Err(format!(
                "Task {}-{} cannot restart: this worker does not see a quorum of the cluster",
                key.0, key.1
            ));
        }
        let snapshot = self.deps.config_store.snapshot();
        let Some(config) = snapshot
            .tasks
            .get(&key.0)
            .and_then(|tasks| tasks.get(key.1 as usize))
            .cloned()
        else {
            return Err(format!("Task {}-{} not found", key.0, key.1));
        };
        self.stop_task(key).await;
        self.failed.remove(key);
        self.backing_off.remove(key);
        if self.gave_up.remove(key).is_some() {
            self.publish_gave_up();
        }
        if let Some(history) = self.history.get_mut(key) {
            history.failures.clear();
        }
        if snapshot.target_state(&key.0) == TargetState::Started {
            self.start_task(myself, key.clone(), config).await;
        }
        Ok(())
    }

    async fn put_task_status(&self, key: &TaskKey, state: State, trace: Option<String>) {
        let mut status = Status::new(state, &self.deps.worker_id, self.deps.generation);
        status.trace = trace;
        if let Some(history) = self.history.get(key) {
            status.restarts = history.restarts;
            status.retries = history.retries;
            status.last_error.clone_from(&history.last_error);
        }
        if let Err(error) = self
            .deps
            .status_store
            .put_task(&key.0, key.1, &status)
            .await
        {
            tracing::warn!(connector = %key.0, task = key.1, %error, "failed to write task status");
        }
    }
}

/// Generates a connector's task configs from its stored config. Config provider placeholders are
/// resolved for the connector's planning and put back into the task configs (which are written to
/// the config topic); errors never show a resolved value.
///
/// # Errors
/// A user error when the class is unknown, a placeholder cannot be resolved, or the config is
/// invalid.
/// A plugin task's config as Kafka Connect wrote it (a cluster Ferry took over) has none of the
/// connector-level keys Ferry's own task configs carry under
/// [`crate::plugin::CONNECTOR_CONFIG_PREFIX`]: the runtime and the plugin host would run the
/// task with the worker's converters, transforms and `errors.*` instead of the connector's.
/// They come from the connector's stored config then, where Kafka Connect's worker takes them.
fn with_connector_keys(
    mut config: TaskConfig,
    factory: &dyn ferry_connectors::sdk::ConnectorFactory,
    connector_opt: Option<&BTreeMap<String, String>>,
) -> TaskConfig {
    let prefix = crate::plugin::CONNECTOR_CONFIG_PREFIX;
    if !factory.converts_records() || config.keys().any(|key| key.starts_with(prefix)) {
        return config;
    }
    for (key, value) in connector_opt.into_iter().flatten() {
        config.insert(format!("{prefix}{key}"), value.clone());
    }
    config
}

pub fn generate_task_configs(
    registry: &ConnectorRegistry,
    providers: &ConfigProviders,
    raw_config: &BTreeMap<String, String>,
) -> Result<Vec<TaskConfig>, ConnectorError> {
    let config = providers.resolve(raw_config)?;
    let redact = |error: ConnectorError| ConnectorError {
        kind: error.kind,
        message: redact_resolved(raw_config, &config, &error.message),
    };
    let class = config.get(keys::CONNECTOR_CLASS).map_or("", String::as_str);
    let factory = registry
        .find_for_config(&config)
        .ok_or_else(|| ConnectorError::user(format!("unknown connector class {class}")))
        .map_err(redact)?;
    let values = config_def_for(factory.as_ref(), &config)
        .parse(&config)
        .map_err(|errors| redact(ConnectorError::user(errors.join("; "))))?;
    let max_tasks =
        usize::try_from(values.long(keys::TASKS_MAX).map_err(redact)?.max(1)).unwrap_or(1);
    let mut task_configs = factory.task_configs(&values, max_tasks).map_err(redact)?;
    if task_configs.len() > max_tasks {
        return Err(ConnectorError::user(format!(
            "connector generated {} task configs but tasks.max is {max_tasks}",
            task_configs.len()
        )));
    }
    for task_config in &mut task_configs {
        // Every task config carries the class so a worker can start it on its own.
        task_config
            .entry(keys::CONNECTOR_CLASS.to_string())
            .or_insert_with(|| class.to_string());
        // ... and the Java task class, which a Kafka Connect worker on the same topics needs.
        if let Some(task_class) = factory.task_class() {
            task_config
                .entry(keys::TASK_CLASS.to_string())
                .or_insert_with(|| task_class.to_string());
        }
        restore_placeholders(raw_config, &config, task_config);
        // ... and the plugin version it selected (a built-in and a plugin may share the class).
        if let Some(version) = config.get(keys::CONNECTOR_PLUGIN_VERSION) {
            task_config
                .entry(keys::CONNECTOR_PLUGIN_VERSION.to_string())
                .or_insert_with(|| version.clone());
        }
    }
    Ok(task_configs)
}

/// Returns whether this worker may run what the latest assignment gives it: the assignment
/// names no lease incarnations (older versions, `ferry dev`), or names this worker's current
/// one. After a lapse of its lease a worker has a new incarnation, and its old tasks may have
/// moved in an assignment it has not read yet: it waits for a leader that read its new lease.
fn assignment_names_this_incarnation(
    snapshot: &ConfigSnapshot,
    node_id: &str,
    own_incarnation_opt: Option<u64>,
) -> bool {
    let Some(assignment) = &snapshot.assignment else {
        return true;
    };
    if assignment.leases.is_empty() {
        return true;
    }
    own_incarnation_opt.is_some() && assignment.leases.get(node_id).copied() == own_incarnation_opt
}

/// The tasks that should run here: the committed tasks of STARTED connectors that the latest
/// assignment gives to `node_id`.
fn desired_tasks(snapshot: &ConfigSnapshot, node_id: &str) -> BTreeMap<TaskKey, TaskConfig> {
    let mut desired = BTreeMap::new();
    let Some(assignment) = &snapshot.assignment else {
        return desired;
    };
    for (key, owner) in &assignment.tasks {
        let started =
            snapshot.contains(&key.0) && snapshot.target_state(&key.0) == TargetState::Started;
        if owner != node_id || !started {
            continue;
        }
        if let Some(config) = snapshot
            .tasks
            .get(&key.0)
            .and_then(|tasks| tasks.get(key.1 as usize))
        {
            desired.insert(key.clone(), config.clone());
        }
    }
    desired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_runs_only_from_an_assignment_that_names_its_incarnation() {
        let mut snapshot = ConfigSnapshot::default();
        assert!(assignment_names_this_incarnation(&snapshot, "w1", Some(5)));
        snapshot.assignment = Some(crate::leader::assignment::Assignment::default());
        assert!(
            assignment_names_this_incarnation(&snapshot, "w1", Some(5)),
            "an assignment of an older version names no incarnation"
        );
        snapshot.assignment = Some(crate::leader::assignment::Assignment {
            leases: BTreeMap::from([("w1".to_string(), 5), ("w2".to_string(), 9)]),
            ..Default::default()
        });
        assert!(assignment_names_this_incarnation(&snapshot, "w1", Some(5)));
        assert!(
            !assignment_names_this_incarnation(&snapshot, "w1", Some(6)),
            "lapsed and renewed: wait for a leader that read the new lease"
        );
        assert!(!assignment_names_this_incarnation(&snapshot, "w1", None));
        assert!(!assignment_names_this_incarnation(&snapshot, "w3", Some(1)));
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn task_configs_carry_the_java_task_class_as_kafka_connect_writes_it() {
        let registry = ferry_connectors::builtin_registry();
        let providers = ConfigProviders::default();
        let source = config(&[
            ("name", "src"),
            ("connector.class", "FileStreamSource"),
            ("file", "/tmp/in.txt"),
            ("topic", "lines"),
        ]);
        let tasks = generate_task_configs(&registry, &providers, &source).unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(
            tasks[0].get(keys::TASK_CLASS).map(String::as_str),
            Some("org.apache.kafka.connect.file.FileStreamSourceTask")
        );
        let sink = config(&[
            ("name", "snk"),
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
            ),
            ("file", "/tmp/out.txt"),
            ("topics", "lines"),
            ("tasks.max", "2"),
        ]);
        let tasks = generate_task_configs(&registry, &providers, &sink).unwrap();
        assert_eq!(tasks.len(), 2);
        for task in &tasks {
            assert_eq!(
                task.get(keys::TASK_CLASS).map(String::as_str),
                Some("org.apache.kafka.connect.file.FileStreamSinkTask")
            );
        }
    }
}
