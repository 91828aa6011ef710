//! The cluster view of the facade (`GET /cluster`).

use ferry_actors::leader::election::{elect_leader, Candidate};

use super::types::{ClusterMember, ClusterView};
use super::ConnectService;
use crate::error::ServiceError;

impl ConnectService {
    /// Returns the live members as this node sees them, the leader, and the assignment epoch.
    ///
    /// # Errors
    /// `Unavailable` while the worker starts.
    pub fn cluster_view(&self) -> Result<ClusterView, ServiceError> {
        let runtime = self.runtime()?;
        let members = runtime.membership.members_rx().borrow().clone();
        let candidates: Vec<Candidate> = members
            .values()
            .map(|member| Candidate {
                node_id: member.node_id.clone(),
                generation: member.generation,
                ready: member.ready,
            })
            .collect();
        let leader = elect_leader(&candidates);
        let snapshot = runtime.config_store.snapshot();
        let assignment_epoch = snapshot
            .assignment
            .as_ref()
            .map_or(0, |assignment| assignment.epoch);
        let members = members
            .values()
            .map(|member| ClusterMember {
                id: member.node_id.clone(),
                address: member.advertise_addr.clone(),
                generation: member.generation,
                ready: member.ready,
                is_leader: leader.as_deref() == Some(member.node_id.as_str()),
                // This worker's tasks past its lease deadline deliver and commit nothing
                // (they wait to be stopped): none of them counts as running.
                task_count: if member.node_id == runtime.node_id
                    && !runtime.quorum.lease_gate().running_tasks_may_act()
                {
                    0
                } else {
                    member.running_tasks.len()
                },
                assigned_tasks: snapshot
                    .assignment
                    .as_ref()
                    .map_or(0, |assignment| assignment.tasks_of(&member.node_id).len()),
                version: member.version.clone(),
            })
            .collect();
        Ok(ClusterView {
            leader,
            assignment_epoch,
            members,
            quorum: runtime.quorum.status(),
        })
    }
}

impl ConnectService {
    /// Returns the latest published assignment (empty before the first one).
    ///
    /// # Errors
    /// `Unavailable` while the worker starts.
    pub fn assignment(&self) -> Result<ferry_actors::leader::assignment::Assignment, ServiceError> {
        Ok(self
            .runtime()?
            .config_store
            .snapshot()
            .assignment
            .clone()
            .unwrap_or_default())
    }
}
