//! `ferry.v1.ClusterService`.

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
    async fn get_server_info(
        &self,
        _request: Request<proto::GetServerInfoRequest>,
    ) -> Result<Response<proto::ServerInfo>, Status> {
        let info = self.service.server_info();
        Ok(Response::new(proto::ServerInfo {
            version: info.version,
            commit: info.commit,
            kafka_cluster_id: info.kafka_cluster_id.unwrap_or_default(),
        }))
    }
}
