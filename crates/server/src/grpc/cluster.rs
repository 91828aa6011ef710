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

/// Why the cluster view is not served yet: this worker has no gossip membership, leader election
/// or assignment yet, and answering with only itself would mislead.
const CLUSTER_VIEW_UNIMPLEMENTED: &str = "is not implemented yet: it needs the cluster view \
     (gossip membership, leader election and assignment), which this worker does not have yet";

fn cluster_view_unimplemented(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc} {CLUSTER_VIEW_UNIMPLEMENTED}"))
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
        Err(cluster_view_unimplemented("ListMembers"))
    }

    async fn get_assignment(
        &self,
        _request: Request<proto::GetAssignmentRequest>,
    ) -> Result<Response<proto::GetAssignmentResponse>, Status> {
        Err(cluster_view_unimplemented("GetAssignment"))
    }

    async fn watch(
        &self,
        _request: Request<proto::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented(
            "Watch is not implemented yet: it needs status-change events from the status store \
             and the cluster view (membership changes), which this worker does not have yet",
        ))
    }
}
