//! Pure planning for the leader: who leads, and which worker runs what.
//!
//! - [`election::elect_leader`] picks, from the gossip snapshot of live members, the ready node
//!   with the oldest generation (ties by node id). Every node computes it; only the winner runs
//!   the `LeaderActor`, which then confirms leadership in Kafka (fenced transactional producer and
//!   a lease record) because gossip is not consensus.
//! - [`assignment::compute_assignment`] maps `(workers, connectors with task counts, previous
//!   assignment)` to the next [`assignment::Assignment`]: balanced within ±1 per worker, sticky
//!   (only what must move, moves) and deterministic. The leader publishes it with a bumped epoch
//!   to the config topic; [`assignment::moved_tasks`] lists the moves to perform as
//!   revoke-then-assign.
//!
//! - [`placement::plugin_eligibility`] lists, for every connector that needs a plugin, the
//!   workers that gossip it; the assignment places such a connector and its tasks only there.
//! - [`quorum_gate::QuorumGate`] tells whether this node sees a quorum of the cluster (pure
//!   rule in [`crate::membership::quorum`]): without one it neither leads nor runs tasks.
//!
//! Both are pure functions of snapshots with no I/O, so they are tested with examples and
//! `proptest`; the actor that feeds them and publishes their results lives elsewhere.

pub mod assignment;
pub mod election;
pub mod leader_actor;
pub mod placement;
pub mod quorum_gate;

pub use leader_actor::{
    EosSourceFencing, LeaderActor, LeaderDeps, LeaderMsg, LeaderSnapshot, TaskConfigsRefused,
};
pub use quorum_gate::{QuorumGate, QuorumStatus};
