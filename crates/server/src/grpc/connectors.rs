//! `ferry.v1.ConnectorService`: connectors and tasks, through the facade.

use ferry_actors::stores::TargetState;
use tonic::{Request, Response, Status};

use super::convert::{config_from_proto, config_patch_from_proto};
use super::proto;
use crate::service::types::CreateConnector;
use crate::service::ConnectService;

pub(super) struct ConnectorApi {
    service: ConnectService,
}

impl ConnectorApi {
    pub(super) fn new(service: ConnectService) -> Self {
        ConnectorApi { service }
    }

    /// `ListConnectors` with `expand_status`/`expand_info`: like REST, a connector deleted while
    /// the list is built is left out.
    fn expanded_connectors(
        &self,
        names: &[String],
        with_status: bool,
        with_info: bool,
    ) -> Vec<proto::ExpandedConnector> {
        let mut expanded = Vec::with_capacity(names.len());
        for name in names {
            let status_opt = if with_status {
                match self.service.connector_status(name) {
                    Ok(status) => Some(status.into()),
                    Err(_) => continue,
                }
            } else {
                None
            };
            let info_opt = if with_info {
                match self.service.connector_info(name) {
                    Ok(info) => Some(info.into()),
                    Err(_) => continue,
                }
            } else {
                None
            };
            expanded.push(proto::ExpandedConnector {
                name: name.clone(),
                status: status_opt,
                info: info_opt,
            });
        }
        expanded
    }
}

#[tonic::async_trait]
impl proto::connector_service_server::ConnectorService for ConnectorApi {
    async fn create_connector(
        &self,
        request: Request<proto::CreateConnectorRequest>,
    ) -> Result<Response<proto::ConnectorInfo>, Status> {
        let create = CreateConnector::try_from(request.into_inner())?;
        let info = self.service.create_connector(create).await?;
        Ok(Response::new(info.into()))
    }

    async fn get_connector(
        &self,
        request: Request<proto::GetConnectorRequest>,
    ) -> Result<Response<proto::ConnectorInfo>, Status> {
        let info = self.service.connector_info(&request.into_inner().name)?;
        Ok(Response::new(info.into()))
    }

    async fn list_connectors(
        &self,
        request: Request<proto::ListConnectorsRequest>,
    ) -> Result<Response<proto::ListConnectorsResponse>, Status> {
        let request = request.into_inner();
        let names = self.service.list_connectors()?;
        let connectors = if request.expand_status || request.expand_info {
            self.expanded_connectors(&names, request.expand_status, request.expand_info)
        } else {
            Vec::new()
        };
        Ok(Response::new(proto::ListConnectorsResponse {
            names,
            connectors,
        }))
    }

    async fn put_connector_config(
        &self,
        request: Request<proto::PutConnectorConfigRequest>,
    ) -> Result<Response<proto::PutConnectorConfigResponse>, Status> {
        let request = request.into_inner();
        let (created, info) = self
            .service
            .put_connector_config(&request.name, config_from_proto(request.config))
            .await?;
        Ok(Response::new(proto::PutConnectorConfigResponse {
            created,
            info: Some(info.into()),
        }))
    }

    async fn patch_connector_config(
        &self,
        request: Request<proto::PatchConnectorConfigRequest>,
    ) -> Result<Response<proto::ConnectorInfo>, Status> {
        let request = request.into_inner();
        let patch = config_patch_from_proto(request.set, request.delete_keys)?;
        let info = self
            .service
            .patch_connector_config(&request.name, patch)
            .await?;
        Ok(Response::new(info.into()))
    }

    async fn delete_connector(
        &self,
        request: Request<proto::DeleteConnectorRequest>,
    ) -> Result<Response<proto::DeleteConnectorResponse>, Status> {
        self.service
            .delete_connector(&request.into_inner().name)
            .await?;
        Ok(Response::new(proto::DeleteConnectorResponse {}))
    }

    async fn pause_connector(
        &self,
        request: Request<proto::PauseConnectorRequest>,
    ) -> Result<Response<proto::PauseConnectorResponse>, Status> {
        self.service
            .set_target_state(&request.into_inner().name, TargetState::Paused)
            .await?;
        Ok(Response::new(proto::PauseConnectorResponse {}))
    }

    async fn resume_connector(
        &self,
        request: Request<proto::ResumeConnectorRequest>,
    ) -> Result<Response<proto::ResumeConnectorResponse>, Status> {
        self.service
            .set_target_state(&request.into_inner().name, TargetState::Started)
            .await?;
        Ok(Response::new(proto::ResumeConnectorResponse {}))
    }

    async fn stop_connector(
        &self,
        request: Request<proto::StopConnectorRequest>,
    ) -> Result<Response<proto::StopConnectorResponse>, Status> {
        self.service
            .set_target_state(&request.into_inner().name, TargetState::Stopped)
            .await?;
        Ok(Response::new(proto::StopConnectorResponse {}))
    }

    async fn fence_connector(
        &self,
        request: Request<proto::FenceConnectorRequest>,
    ) -> Result<Response<proto::FenceConnectorResponse>, Status> {
        self.service
            .fence_connector(&request.into_inner().name)
            .await?;
        Ok(Response::new(proto::FenceConnectorResponse {}))
    }

    async fn restart_connector(
        &self,
        request: Request<proto::RestartConnectorRequest>,
    ) -> Result<Response<proto::RestartConnectorResponse>, Status> {
        let request = request.into_inner();
        let plan_opt = self
            .service
            .restart_connector(&request.name, request.include_tasks, request.only_failed)
            .await?;
        Ok(Response::new(proto::RestartConnectorResponse {
            plan: plan_opt.map(Into::into),
        }))
    }

    async fn restart_task(
        &self,
        request: Request<proto::RestartTaskRequest>,
    ) -> Result<Response<proto::RestartTaskResponse>, Status> {
        let request = request.into_inner();
        self.service
            .restart_task(&request.name, request.task)
            .await?;
        Ok(Response::new(proto::RestartTaskResponse {}))
    }

    async fn get_connector_status(
        &self,
        request: Request<proto::GetConnectorStatusRequest>,
    ) -> Result<Response<proto::ConnectorStatus>, Status> {
        let status = self.service.connector_status(&request.into_inner().name)?;
        Ok(Response::new(status.into()))
    }

    async fn get_task_status(
        &self,
        request: Request<proto::GetTaskStatusRequest>,
    ) -> Result<Response<proto::TaskState>, Status> {
        let request = request.into_inner();
        let state = self.service.task_status(&request.name, request.task)?;
        Ok(Response::new(state.into()))
    }

    async fn list_tasks(
        &self,
        request: Request<proto::ListTasksRequest>,
    ) -> Result<Response<proto::ListTasksResponse>, Status> {
        let tasks = self.service.connector_tasks(&request.into_inner().name)?;
        Ok(Response::new(proto::ListTasksResponse {
            tasks: tasks.into_iter().map(Into::into).collect(),
        }))
    }

    async fn get_offsets(
        &self,
        request: Request<proto::GetOffsetsRequest>,
    ) -> Result<Response<proto::ConnectorOffsets>, Status> {
        let offsets = self
            .service
            .connector_offsets(&request.into_inner().name)
            .await?;
        Ok(Response::new(offsets.into()))
    }

    async fn alter_offsets(
        &self,
        request: Request<proto::AlterOffsetsRequest>,
    ) -> Result<Response<proto::AlterOffsetsResponse>, Status> {
        let request = request.into_inner();
        let offsets = request
            .offsets
            .into_iter()
            .map(|entry| crate::service::types::ConnectorOffset {
                partition: entry
                    .partition
                    .map(super::convert::json_from_struct)
                    .unwrap_or_default(),
                offset: entry.offset.map(super::convert::json_from_struct),
            })
            .collect();
        let message = self.service.alter_offsets(&request.name, offsets).await?;
        Ok(Response::new(proto::AlterOffsetsResponse { message }))
    }

    async fn reset_offsets(
        &self,
        request: Request<proto::ResetOffsetsRequest>,
    ) -> Result<Response<proto::ResetOffsetsResponse>, Status> {
        let message = self
            .service
            .reset_offsets(&request.into_inner().name)
            .await?;
        Ok(Response::new(proto::ResetOffsetsResponse { message }))
    }
}
