//! The quorum a node checks before it leads or runs tasks: the gossip view of the members
//! (see [`crate::membership::quorum`]) and the leader lease read from the config topic.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::watch;

use crate::membership::{has_quorum, QuorumView};
use crate::stores::ConfigStore;

/// Reads the current quorum; cheap to clone.
#[derive(Clone)]
pub struct QuorumGate {
    view_rx: watch::Receiver<QuorumView>,
    config_store: Arc<ConfigStore>,
}

/// The quorum as a node sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuorumStatus {
    /// Whether this node may lead and run tasks.
    pub has_quorum: bool,
    /// Members alive in gossip (self included).
    pub live: usize,
    /// Members counted (seen alive within `cluster.member.expiry.ms`, not gone gracefully).
    pub known: usize,
    /// The node holding an unexpired leader lease, if any.
    pub lease_holder: Option<String>,
}

impl QuorumGate {
    /// A gate over a membership's quorum view and the config store's lease.
    pub fn new(view_rx: watch::Receiver<QuorumView>, config_store: Arc<ConfigStore>) -> Self {
        QuorumGate {
            view_rx,
            config_store,
        }
    }

    /// Returns the quorum now.
    pub fn status(&self) -> QuorumStatus {
        let view = self.view_rx.borrow().clone();
        let lease_opt = self.config_store.lease();
        let lease_holder = lease_opt
            .as_ref()
            .and_then(|lease| lease.holder_at(Instant::now()))
            .map(str::to_string);
        QuorumStatus {
            has_quorum: has_quorum(&view, lease_holder.as_deref()),
            live: view.live.len(),
            known: view.known.len(),
            lease_holder,
        }
    }

    /// Returns a receiver that changes with the gossip view (not with the lease: poll
    /// [`QuorumGate::status`] to see a lease expire).
    pub fn view_rx(&self) -> watch::Receiver<QuorumView> {
        self.view_rx.clone()
    }
}
