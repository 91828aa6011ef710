//! `ferry.v1.ClusterService`.

use std::pin::Pin;

use futures::Stream;
use tonic::{Request, Response, Status};

use super::proto;
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
            .map(|member| proto::Member {
                node_id: member.id,
                advertise_addr: member.address,
                generation: i64::try_from(member.generation / 1_000_000).unwrap_or(i64::MAX),
                ready: member.ready,
                version: member.version,
                leader: member.is_leader,
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

    async fn watch(
        &self,
        _request: Request<proto::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented(
            "Watch is not implemented yet: it needs status-change events from the status store",
        ))
    }
}
