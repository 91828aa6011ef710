//! `ferry.v1.WorkerService`: worker-to-worker calls (leader-only operations forwarded here).

use std::time::Duration;

use tonic::{Request, Response, Status};

use super::proto;
use crate::security::session_keys;
use crate::service::ConnectService;

/// How long a forwarded request waits for this worker to read its first session key.
const FIRST_KEY_WAIT: Duration = Duration::from_secs(10);

pub(super) struct WorkerApi {
    service: ConnectService,
}

impl WorkerApi {
    pub(super) fn new(service: ConnectService) -> Self {
        WorkerApi { service }
    }
}

impl WorkerApi {
    /// Refuses a forwarded request that is not signed with the cluster's current session key.
    /// Right after a cluster starts, the leader that wrote the first key may not have read it
    /// back yet while the follower already signs with it: the check waits for it briefly.
    async fn verify_signature(
        &self,
        request: &Request<proto::ForwardConfigChangeRequest>,
    ) -> Result<(), Status> {
        let metadata = request.metadata();
        let header = |name: &str| metadata.get(name).and_then(|value| value.to_str().ok());
        let body = prost::Message::encode_to_vec(request.get_ref());
        let current_opt = self.service.first_session_key(FIRST_KEY_WAIT).await?;
        session_keys::verify(
            self.service.session_key_settings(),
            current_opt.as_ref(),
            header(session_keys::SIGNATURE_ALGORITHM_HEADER),
            header(session_keys::SIGNATURE_HEADER),
            &body,
        )
        .inspect_err(|error| tracing::warn!(%error, "refused a forwarded request"))?;
        Ok(())
    }
}

#[tonic::async_trait]
impl proto::worker_service_server::WorkerService for WorkerApi {
    async fn forward_config_change(
        &self,
        request: Request<proto::ForwardConfigChangeRequest>,
    ) -> Result<Response<proto::ForwardConfigChangeResponse>, Status> {
        let span = tracing::info_span!("forwarded_config_change");
        crate::trace_context::continue_trace(request.metadata(), &span);
        self.verify_signature(&request).await?;
        let request = request.into_inner();
        let work = async {
            tracing::info!(operation = %request.operation, connector = %request.connector, "running a forwarded operation");
            self.service
                .apply_forwarded(
                    &request.operation,
                    &request.connector,
                    &request.payload_json,
                )
                .await
        };
        let (info, created) = tracing::Instrument::instrument(work, span).await?;
        let result_json = match info {
            Some(info) => {
                serde_json::to_string(&info).map_err(|error| Status::internal(error.to_string()))?
            }
            None => String::new(),
        };
        Ok(Response::new(proto::ForwardConfigChangeResponse {
            result_json,
            created,
        }))
    }
}
