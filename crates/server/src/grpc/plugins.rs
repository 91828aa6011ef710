//! `ferry.v1.PluginService`: connector plugins, their config keys and config validation.

use tonic::{Request, Response, Status};

use super::convert::config_from_proto;
use super::proto;
use crate::service::ConnectService;

pub(super) struct PluginApi {
    service: ConnectService,
}

impl PluginApi {
    pub(super) fn new(service: ConnectService) -> Self {
        PluginApi { service }
    }
}

#[tonic::async_trait]
impl proto::plugin_service_server::PluginService for PluginApi {
    async fn list_plugins(
        &self,
        request: Request<proto::ListPluginsRequest>,
    ) -> Result<Response<proto::ListPluginsResponse>, Status> {
        // Unset means connectors only, as REST's `connectorsOnly` defaults to true.
        let connectors_only = request.into_inner().connectors_only.unwrap_or(true);
        let plugins = self.service.plugins(connectors_only);
        Ok(Response::new(proto::ListPluginsResponse {
            plugins: plugins.into_iter().map(Into::into).collect(),
        }))
    }

    async fn get_plugin_config(
        &self,
        request: Request<proto::GetPluginConfigRequest>,
    ) -> Result<Response<proto::GetPluginConfigResponse>, Status> {
        let configs = self.service.plugin_config(&request.into_inner().plugin)?;
        Ok(Response::new(proto::GetPluginConfigResponse {
            configs: configs.into_iter().map(Into::into).collect(),
        }))
    }

    async fn validate_config(
        &self,
        request: Request<proto::ValidateConfigRequest>,
    ) -> Result<Response<proto::ValidateConfigResponse>, Status> {
        let request = request.into_inner();
        let infos = self
            .service
            .validate_config(&request.plugin, &config_from_proto(request.config))?;
        Ok(Response::new(infos.into()))
    }
}
