//! `Watch`: a stream of connector status changes and membership changes, as this worker sees
//! them.
//!
//! ```text
//!  status store ── broadcast StatusChange ─┐
//!  config store ── watch ConfigSnapshot ───┤  Watcher (one task per stream)
//!  membership ──── watch Members ──────────┤    └─ compares with what it last sent,
//!  worker health ─ watch WorkerHealth ─────┘       sends whole states on an mpsc
//! ```
//!
//! Every event carries a *whole* state, never a delta: a connector's status with all of its
//! tasks, or the members list with the leader. The watcher remembers what it last sent and only
//! sends what differs, so an event always means "this is now the state".
//!
//! # Lag
//! Status changes arrive on a bounded broadcast channel. A stream whose client reads too slowly
//! blocks its watcher, and the watcher may then miss status changes (`Lagged`). It does not end:
//! it resynchronises, re-reading every watched connector's current status and sending each one
//! that differs from what it last sent, and `connector_deleted` for those gone in between. The
//! client's view converges on the current state; only intermediate states are skipped.
//! Membership and config come through `watch` channels, which cannot lag (they keep the latest
//! value only).
//!
//! # End
//! The stream ends when the client goes away (the receiver is dropped), and with `UNAVAILABLE`
//! when the worker starts shutting down (at the moment its health turns unhealthy, so clients
//! reconnect to another worker while this one drains).

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_actors::leader::election::{elect_leader, Candidate};
use ferry_actors::membership::Members;
use ferry_actors::stores::status::StatusChange;
use ferry_actors::stores::ConfigSnapshot;
use futures::Stream;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::types::ConnectorStateInfo;
use super::{ConnectService, WorkerHealth};
use crate::error::ServiceError;

/// Events buffered for a client before the watcher waits for it to read.
const WATCH_BUFFER: usize = 64;

/// What to watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Only these connectors; every connector when empty.
    pub connectors: Vec<String>,
    /// Start with the current state (the watched connectors' statuses, and the members when
    /// `include_members`).
    pub include_initial: bool,
    /// Also stream membership and leader changes.
    pub include_members: bool,
}

/// One live member, as a watch reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchMember {
    pub id: String,
    /// `host:port` of the member's REST/gRPC listener (its `worker_id` in statuses).
    pub address: String,
    /// Start time of the node (ns since the epoch).
    pub generation: u64,
    pub ready: bool,
    pub version: String,
    pub is_leader: bool,
}

/// The members after a change, and the leader this worker elects among them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchMembers {
    pub members: Vec<WatchMember>,
    pub leader: Option<String>,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchChange {
    /// A connector or one of its tasks changed: its whole status after the change.
    ConnectorStatus(ConnectorStateInfo),
    /// The connector was deleted.
    ConnectorDeleted(String),
    /// Members joined, left, changed readiness, or the leader changed: the members after it.
    Members(WatchMembers),
}

/// One event of a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// When the change was observed (ms since the epoch).
    pub timestamp_ms: i64,
    pub change: WatchChange,
}

impl ConnectService {
    /// Streams the watched connectors' status changes and, when asked, membership changes (see
    /// the module docs). The stream ends when dropped, and with `Unavailable` when the worker
    /// shuts down.
    ///
    /// # Errors
    /// `Unavailable` while the worker starts or once it shuts down.
    pub fn watch(
        &self,
        options: WatchOptions,
    ) -> Result<impl Stream<Item = Result<WatchEvent, ServiceError>> + Send + 'static, ServiceError>
    {
        let runtime = Arc::clone(self.runtime()?);
        let mut health_rx = self.inner.health_rx.clone();
        if let WorkerHealth::Unhealthy(_) = &*health_rx.borrow_and_update() {
            return Err(shutting_down());
        }
        // Subscribe before reading the current state: nothing falls in between (a change seen
        // twice is harmless, the watcher only sends what differs).
        let mut config_rx = runtime.config_store.subscribe();
        config_rx.mark_unchanged();
        let mut members_rx = runtime.membership.members_rx();
        members_rx.mark_unchanged();
        let watcher = Watcher {
            service: self.clone(),
            filter: (!options.connectors.is_empty())
                .then(|| options.connectors.into_iter().collect()),
            include_initial: options.include_initial,
            include_members: options.include_members,
            status_rx: runtime.status_store.subscribe(),
            config_rx,
            members_rx,
            health_rx,
            sent_statuses: BTreeMap::new(),
            sent_members: None,
        };
        let (events_tx, events_rx) = mpsc::channel(WATCH_BUFFER);
        tokio::spawn(watcher.run(events_tx));
        Ok(ReceiverStream::new(events_rx))
    }
}

fn shutting_down() -> ServiceError {
    ServiceError::Unavailable("Worker is shutting down; watch another worker".to_string())
}

/// Why a watcher stopped before its client went away.
type Ended = Option<ServiceError>;

/// The task behind one watch stream.
struct Watcher {
    service: ConnectService,
    /// Watched connector names; `None` for every connector.
    filter: Option<BTreeSet<String>>,
    include_initial: bool,
    include_members: bool,
    status_rx: broadcast::Receiver<StatusChange>,
    config_rx: watch::Receiver<Arc<ConfigSnapshot>>,
    members_rx: watch::Receiver<Members>,
    health_rx: watch::Receiver<WorkerHealth>,
    /// The last status sent of each connector; a connector is known to the client while here.
    sent_statuses: BTreeMap<String, ConnectorStateInfo>,
    sent_members: Option<WatchMembers>,
}

type EventSender = mpsc::Sender<Result<WatchEvent, ServiceError>>;

impl Watcher {
    async fn run(mut self, events_tx: EventSender) {
        let Err(ended) = self.serve(&events_tx).await;
        if let Some(error) = ended {
            tracing::debug!(%error, "watch stream ends");
            let _ = events_tx.send(Err(error)).await;
        }
    }

    /// Sends events until the client goes away (`None`) or the watch must end (the error).
    async fn serve(&mut self, events_tx: &EventSender) -> Result<Infallible, Ended> {
        let emit = self.include_initial;
        if self.include_members {
            self.sync_members(events_tx, emit).await?;
        }
        let names = self.watched_names();
        self.sync_connectors(events_tx, names, emit).await?;
        loop {
            tokio::select! {
                () = events_tx.closed() => return Err(None),
                changed = self.health_rx.changed() => {
                    if changed.is_err()
                        || matches!(&*self.health_rx.borrow_and_update(), WorkerHealth::Unhealthy(_))
                    {
                        return Err(Some(shutting_down()));
                    }
                }
                received = self.status_rx.recv() => {
                    let names = match received {
                        Ok(change) => self.drain_status_changes(change),
                        Err(RecvError::Lagged(missed)) => {
                            tracing::info!(missed, "watch stream lagged; resynchronising");
                            Some(self.watched_names())
                        }
                        Err(RecvError::Closed) => None,
                    };
                    let Some(names) = names else {
                        return Err(Some(ServiceError::Unavailable("The status store stopped".into())));
                    };
                    self.sync_connectors(events_tx, names, true).await?;
                }
                changed = self.config_rx.changed() => {
                    if changed.is_err() {
                        return Err(Some(ServiceError::Unavailable("The config store stopped".into())));
                    }
                    self.config_rx.borrow_and_update();
                    let names = self.watched_names();
                    self.sync_connectors(events_tx, names, true).await?;
                }
                changed = self.members_rx.changed(), if self.include_members => {
                    if changed.is_err() {
                        return Err(Some(ServiceError::Unavailable("Membership stopped".into())));
                    }
                    self.sync_members(events_tx, true).await?;
                }
            }
        }
    }

    /// Returns the watched connectors that `first` and the changes already queued behind it
    /// touch (so that a burst yields one event per connector), every watched connector if the
    /// receiver lagged meanwhile, or `None` if the status store stopped.
    fn drain_status_changes(&mut self, first: StatusChange) -> Option<BTreeSet<String>> {
        let mut names = BTreeSet::from([first.connector]);
        loop {
            match self.status_rx.try_recv() {
                Ok(change) => {
                    names.insert(change.connector);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(missed)) => {
                    tracing::info!(missed, "watch stream lagged; resynchronising");
                    return Some(self.watched_names());
                }
                Err(TryRecvError::Closed) => return None,
            }
        }
        names.retain(|name| self.is_watched(name));
        Some(names)
    }

    fn is_watched(&self, name: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| filter.contains(name))
    }

    /// Returns the watched connectors that exist now or that the client was last told about.
    fn watched_names(&self) -> BTreeSet<String> {
        let snapshot = self.config_rx.borrow().clone();
        snapshot
            .connectors
            .keys()
            .chain(self.sent_statuses.keys())
            .filter(|name| self.is_watched(name))
            .cloned()
            .collect()
    }

    /// Sends the status of each of `names` that differs from what was last sent, or
    /// `connector_deleted` if it no longer exists; with `emit` false, only records them.
    async fn sync_connectors(
        &mut self,
        events_tx: &EventSender,
        names: BTreeSet<String>,
        emit: bool,
    ) -> Result<(), Ended> {
        for name in names {
            let change = match self.service.connector_status(&name) {
                Ok(status) => {
                    if self.sent_statuses.get(&name) == Some(&status) {
                        continue;
                    }
                    self.sent_statuses.insert(name, status.clone());
                    WatchChange::ConnectorStatus(status)
                }
                Err(ServiceError::NotFound(_)) => {
                    if self.sent_statuses.remove(&name).is_none() {
                        continue;
                    }
                    WatchChange::ConnectorDeleted(name)
                }
                Err(error) => return Err(Some(error)),
            };
            if emit {
                send(events_tx, change).await?;
            }
        }
        Ok(())
    }

    /// Sends the members and leader if they differ from what was last sent; with `emit` false,
    /// only records them.
    async fn sync_members(&mut self, events_tx: &EventSender, emit: bool) -> Result<(), Ended> {
        let members = watch_members(&self.members_rx.borrow_and_update());
        if self.sent_members.as_ref() == Some(&members) {
            return Ok(());
        }
        self.sent_members = Some(members.clone());
        if emit {
            send(events_tx, WatchChange::Members(members)).await?;
        }
        Ok(())
    }
}

/// Sends one event; `Err(None)` when the client went away.
async fn send(events_tx: &EventSender, change: WatchChange) -> Result<(), Ended> {
    let event = WatchEvent {
        timestamp_ms: now_ms(),
        change,
    };
    events_tx.send(Ok(event)).await.map_err(|_| None)
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Projects the members map on what a watch reports, with the leader elected among it.
fn watch_members(members: &Members) -> WatchMembers {
    let candidates: Vec<Candidate> = members
        .values()
        .map(|member| Candidate {
            node_id: member.node_id.clone(),
            generation: member.generation,
            ready: member.ready,
        })
        .collect();
    let leader = elect_leader(&candidates);
    let members = members
        .values()
        .map(|member| WatchMember {
            id: member.node_id.clone(),
            address: member.advertise_addr.clone(),
            generation: member.generation,
            ready: member.ready,
            version: member.version.clone(),
            is_leader: leader.as_deref() == Some(member.node_id.as_str()),
        })
        .collect();
    WatchMembers { members, leader }
}

#[cfg(test)]
mod tests {
    use ferry_actors::membership::Member;

    use super::*;

    fn member(node_id: &str, generation: u64, ready: bool) -> Member {
        Member {
            node_id: node_id.to_string(),
            generation,
            advertise_addr: format!("{node_id}:8083"),
            version: "0.1.0".to_string(),
            ready,
            running_tasks: Vec::new(),
            gave_up_tasks: Vec::new(),
            assignment_epoch: 0,
            plugins: Vec::new(),
        }
    }

    #[test]
    fn members_carry_the_elected_leader_and_ignore_running_tasks() {
        let mut members = Members::new();
        members.insert("a".into(), member("a", 20, true));
        members.insert("b".into(), member("b", 10, false));
        members.insert("c".into(), member("c", 15, true));
        let view = watch_members(&members);
        assert_eq!(view.leader.as_deref(), Some("c"));
        let leaders: Vec<&str> = view
            .members
            .iter()
            .filter(|m| m.is_leader)
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(leaders, vec!["c"]);
        // What a member runs changes often; it is not part of a watch's members event.
        members.get_mut("a").unwrap().running_tasks = vec![("x".into(), 0)];
        assert_eq!(watch_members(&members), view);
        // The leader leaving yields a new leader.
        members.remove("c");
        assert_eq!(watch_members(&members).leader.as_deref(), Some("a"));
    }
}
