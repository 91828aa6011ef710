//! The quorum a node checks before it leads or runs tasks: the gossip view of the members
//! (see [`crate::membership::quorum`]), the workers' liveness leases and the leader lease read
//! from the lease topic (see [`crate::stores::lease`]).
//!
//! A counted member that gossip no longer shows alive stops counting once its Kafka lease has
//! expired on this node's clock (it cannot be running anything then), as a member that left
//! gracefully does; while it still renews its lease it keeps counting, so a node cut off from
//! the others' gossip never has a majority. A node whose own lease lapsed has no quorum.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::watch;

use crate::membership::{has_quorum, QuorumView};
use crate::stores::{LeaseGate, LeaseStore};

/// Reads the current quorum; cheap to clone.
#[derive(Clone)]
pub struct QuorumGate {
    view_rx: watch::Receiver<QuorumView>,
    /// `None` under `ferry dev` (a single node on the embedded cluster): no leases.
    leases_opt: Option<Arc<LeaseStore>>,
    /// The tasks' lease deadline (always open without leases).
    lease_gate: LeaseGate,
}

/// The quorum as a node sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuorumStatus {
    /// Whether this node may lead and run tasks.
    pub has_quorum: bool,
    /// Members alive in gossip (self included).
    pub live: usize,
    /// Members counted (seen alive within `cluster.member.expiry.ms`, not gone gracefully, and
    /// not vanished with an expired lease).
    pub known: usize,
    /// The node holding an unexpired leader lease, if any.
    pub lease_holder: Option<String>,
    /// Whether this node holds its own liveness lease in Kafka (always true without leases).
    pub lease_valid: bool,
    /// Members that vanished from gossip and whose lease expired on this node's clock: they no
    /// longer count, and their tasks may move.
    pub expired: Vec<String>,
}

impl QuorumGate {
    /// A gate over a membership's quorum view and, on a real Kafka, the lease store.
    pub fn new(view_rx: watch::Receiver<QuorumView>, leases_opt: Option<Arc<LeaseStore>>) -> Self {
        let lease_gate = leases_opt
            .as_ref()
            .map_or_else(LeaseGate::always_open, |leases| leases.gate().clone());
        QuorumGate {
            view_rx,
            leases_opt,
            lease_gate,
        }
    }

    /// Returns the gossip view with the vanished members whose lease expired taken out.
    pub fn view(&self) -> (QuorumView, BTreeSet<String>) {
        let mut view = self.view_rx.borrow().clone();
        let expired = match &self.leases_opt {
            Some(leases) => leases.expired(view.vanished.keys()),
            None => BTreeSet::new(),
        };
        for node_id in &expired {
            view.known.remove(node_id);
            view.vanished.remove(node_id);
        }
        (view, expired)
    }

    /// Returns this node's incarnation while it holds its lease (`Some(0)` without leases).
    pub fn own_incarnation(&self) -> Option<u64> {
        match &self.leases_opt {
            Some(leases) => leases.own_incarnation(),
            None => Some(0),
        }
    }

    /// Returns the tasks' lease deadline gate.
    pub fn lease_gate(&self) -> &LeaseGate {
        &self.lease_gate
    }

    /// Returns the lease store, when leases are on.
    pub fn leases(&self) -> Option<&Arc<LeaseStore>> {
        self.leases_opt.as_ref()
    }

    /// Returns the quorum now.
    pub fn status(&self) -> QuorumStatus {
        let (view, expired) = self.view();
        let lease_holder = self
            .leases_opt
            .as_ref()
            .and_then(|leases| leases.leader_lease())
            .as_ref()
            .and_then(|lease| lease.holder_at(Instant::now()))
            .map(str::to_string);
        let lease_valid = self.own_incarnation().is_some();
        QuorumStatus {
            has_quorum: lease_valid && has_quorum(&view, lease_holder.as_deref()),
            live: view.live.len(),
            known: view.known.len(),
            lease_holder,
            lease_valid,
            expired: expired.into_iter().collect(),
        }
    }

    /// Returns a receiver that changes with the gossip view (not with the leases: poll
    /// [`QuorumGate::status`] to see a lease expire).
    pub fn view_rx(&self) -> watch::Receiver<QuorumView> {
        self.view_rx.clone()
    }
}
