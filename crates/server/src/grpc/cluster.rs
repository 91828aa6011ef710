//! `ferry.v1.ClusterService`.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::proto;
use crate::service::watch_stream::{WatchChange, WatchEvent, WatchMembers, WatchOptions};
use crate::service::ConnectService;

pub(super) struct ClusterApi {
    service: ConnectService,
}

impl ClusterApi {
    pub(super) fn new(service: ConnectService) -> Self {
        ClusterApi { service }
    }
}

#[tonic::async_trait]
impl proto::cluster_service_server::ClusterService for ClusterApi {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<proto::WatchEvent, Status>> + Send>>;

    async fn get_server_info(
        &self,
        _request: Request<proto::GetServerInfoRequest>,
    ) -> Result<Response<proto::ServerInfo>, Status> {
        Ok(Response::new(self.service.server_info().into()))
    }

    async fn list_members(
        &self,
        _request: Request<proto::ListMembersRequest>,
    ) -> Result<Response<proto::ListMembersResponse>, Status> {
        let view = self.service.cluster_view()?;
        let members = view
            .members
            .into_iter()
            .map(|member| {
                member_to_proto(crate::service::watch_stream::WatchMember {
                    id: member.id,
                    address: member.address,
                    generation: member.generation,
                    ready: member.ready,
                    version: member.version,
                    is_leader: member.is_leader,
                })
            })
            .collect();
        Ok(Response::new(proto::ListMembersResponse {
            members,
            leader_id: view.leader.unwrap_or_default(),
        }))
    }

    async fn get_assignment(
        &self,
        request: Request<proto::GetAssignmentRequest>,
    ) -> Result<Response<proto::GetAssignmentResponse>, Status> {
        let only = request.into_inner().worker_id;
        let assignment = self.service.assignment()?;
        let view = self.service.cluster_view()?;
        let mut workers: std::collections::BTreeMap<String, proto::WorkerAssignment> =
            std::collections::BTreeMap::new();
        for (connector, worker) in &assignment.connectors {
            workers
                .entry(worker.clone())
                .or_insert_with(|| proto::WorkerAssignment {
                    worker_id: worker.clone(),
                    ..Default::default()
                })
                .connectors
                .push(connector.clone());
        }
        for ((connector, task), worker) in &assignment.tasks {
            workers
                .entry(worker.clone())
                .or_insert_with(|| proto::WorkerAssignment {
                    worker_id: worker.clone(),
                    ..Default::default()
                })
                .tasks
                .push(proto::TaskId {
                    connector: connector.clone(),
                    task: *task,
                });
        }
        let workers = workers
            .into_values()
            .filter(|worker| only.is_empty() || worker.worker_id == only)
            .collect();
        Ok(Response::new(proto::GetAssignmentResponse {
            leader_epoch: i64::try_from(assignment.epoch).unwrap_or(i64::MAX),
            leader_id: view.leader.unwrap_or_default(),
            workers,
        }))
    }

    /// Streams status and membership changes until the client goes away or the worker shuts
    /// down (then the stream ends with `UNAVAILABLE`).
    async fn watch(
        &self,
        request: Request<proto::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let request = request.into_inner();
        let events = self.service.watch(WatchOptions {
            connectors: request.connectors,
            include_initial: request.include_initial,
            include_members: request.include_members,
        })?;
        let stream = events.map(|item| item.map(Into::into).map_err(Into::into));
        Ok(Response::new(Box::pin(stream)))
    }
}

fn member_to_proto(member: crate::service::watch_stream::WatchMember) -> proto::Member {
    proto::Member {
        node_id: member.id,
        advertise_addr: member.address,
        generation: i64::try_from(member.generation / 1_000_000).unwrap_or(i64::MAX),
        ready: member.ready,
        version: member.version,
        leader: member.is_leader,
    }
}

impl From<WatchMembers> for proto::ListMembersResponse {
    fn from(view: WatchMembers) -> Self {
        proto::ListMembersResponse {
            members: view.members.into_iter().map(member_to_proto).collect(),
            leader_id: view.leader.unwrap_or_default(),
        }
    }
}

impl From<WatchEvent> for proto::WatchEvent {
    fn from(event: WatchEvent) -> Self {
        let event_opt = Some(match event.change {
            WatchChange::ConnectorStatus(status) => {
                proto::watch_event::Event::ConnectorStatus(status.into())
            }
            WatchChange::ConnectorDeleted(name) => {
                proto::watch_event::Event::ConnectorDeleted(name)
            }
            WatchChange::Members(members) => {
                proto::watch_event::Event::MembersChanged(members.into())
            }
        });
        proto::WatchEvent {
            timestamp_ms: event.timestamp_ms,
            event: event_opt,
        }
    }
}
