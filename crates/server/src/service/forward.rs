//! Leader-only operations (create, update, delete, stop) run on the leader: a worker that is not
//! the leader forwards them over the internal `ferry.v1.WorkerService`, keeping the caller's
//! deadline. While no leader is known it retries briefly, then answers 409 as Kafka Connect does.
//! The same call carries the task configs a plugin connector's instance generated on its worker
//! to the leader (operation `task_configs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_actors::leader::election::{elect_leader, Candidate};
use ferry_actors::leader::{LeaderMsg, TaskConfigsRefused};
use ferry_actors::plugin::task_config_reporter::TaskConfigSender;
use ferry_actors::stores::{SessionKey, TargetState};
use futures::future::BoxFuture;
use serde_json::json;

use super::types::{ConnectorInfo, CreateConnector};
use super::ConnectService;
use crate::error::ServiceError;
use crate::grpc::proto::worker_service_client::WorkerServiceClient;
use crate::grpc::proto::ForwardConfigChangeRequest;
use crate::security::session_keys;

/// How long a request waits for a leader to be known.
const LEADER_WAIT: Duration = Duration::from_secs(3);
/// The whole forwarded call, including the leader's Kafka writes.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(90);
const NO_LEADER: &str =
    "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.";

/// Where a leader-only operation runs.
enum Route {
    Here,
    Leader(String),
}

impl ConnectService {
    async fn route_to_leader(&self) -> Result<Route, ServiceError> {
        let runtime = self.runtime()?;
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let members = runtime.membership.members_rx().borrow().clone();
            let candidates: Vec<Candidate> = members
                .values()
                .map(|m| Candidate {
                    node_id: m.node_id.clone(),
                    generation: m.generation,
                    ready: m.ready,
                })
                .collect();
            match elect_leader(&candidates) {
                Some(leader) if leader == runtime.node_id => return Ok(Route::Here),
                Some(leader) => {
                    if let Some(member) = members.get(&leader) {
                        return Ok(Route::Leader(member.advertise_addr.clone()));
                    }
                }
                None => {}
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::Rebalancing(NO_LEADER.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tracing::instrument(name = "forward_to_leader", skip(self, payload), fields(leader = %leader_addr))]
    async fn forward(
        &self,
        leader_addr: &str,
        operation: &str,
        connector: &str,
        payload: serde_json::Value,
    ) -> Result<(Option<ConnectorInfo>, bool), ServiceError> {
        tracing::info!(operation, connector, leader = %leader_addr, "forwarding to the leader");
        let message = ForwardConfigChangeRequest {
            operation: operation.to_string(),
            connector: connector.to_string(),
            payload_json: payload.to_string(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let key = self.current_session_key().await?;
            match self.send_forwarded(leader_addr, &message, &key).await {
                // The leader may have rotated the key a moment ago: read the config topic to the
                // end and sign once more with the newest key.
                Err(status) if attempt == 1 && status.code() == tonic::Code::PermissionDenied => {
                    tracing::info!("leader refused the session key signature; re-reading the key");
                    let runtime = self.runtime()?;
                    runtime
                        .config_store
                        .refresh()
                        .await
                        .map_err(|error| ServiceError::Internal(error.to_string()))?;
                }
                Err(status) => return Err(status_to_error(&status)),
                Ok(response) => {
                    let info = if response.result_json.is_empty() {
                        None
                    } else {
                        Some(
                            serde_json::from_str(&response.result_json)
                                .map_err(|error| ServiceError::Internal(error.to_string()))?,
                        )
                    };
                    return Ok((info, response.created));
                }
            }
        }
    }

    /// Returns the session key, waiting briefly for the first one (a new cluster's leader writes
    /// it within a second of starting).
    async fn current_session_key(&self) -> Result<SessionKey, ServiceError> {
        self.first_session_key(LEADER_WAIT).await?.ok_or_else(|| {
            ServiceError::Rebalancing(format!(
                "{NO_LEADER} (no session key in the config topic yet)"
            ))
        })
    }

    /// Returns the current session key, waiting up to `wait` while there is none yet (`None`
    /// when none came). A leader checks forwarded requests with it: a follower signs with a
    /// key it read from the config topic, which the leader that wrote it reads back soon.
    pub async fn first_session_key(
        &self,
        wait: Duration,
    ) -> Result<Option<SessionKey>, ServiceError> {
        let mut key_rx = self.runtime()?.config_store.session_key();
        let waited = tokio::time::timeout(wait, key_rx.wait_for(Option::is_some)).await;
        Ok(waited.ok().and_then(|key| key.ok()?.clone()))
    }

    async fn send_forwarded(
        &self,
        leader_addr: &str,
        message: &ForwardConfigChangeRequest,
        key: &SessionKey,
    ) -> Result<crate::grpc::proto::ForwardConfigChangeResponse, tonic::Status> {
        let unreachable = |error: &dyn std::fmt::Display| {
            tonic::Status::unavailable(format!(
                "{NO_LEADER} (leader {leader_addr} unreachable: {error})"
            ))
        };
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{leader_addr}"))
            .map_err(|error| tonic::Status::internal(error.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(FORWARD_TIMEOUT);
        let channel = match self.worker_client_tls() {
            Some(tls) => endpoint
                .connect_with_connector(crate::security::tls::tls_connector(tls))
                .await
                .map_err(|error| unreachable(&crate::ctl::error_chain(&error)))?,
            None => endpoint
                .connect()
                .await
                .map_err(|error| unreachable(&crate::ctl::error_chain(&error)))?,
        };
        let body = prost::Message::encode_to_vec(message);
        let (signature, algorithm) =
            session_keys::sign(key, self.session_key_settings().signature_algorithm, &body);
        let mut request = tonic::Request::new(message.clone());
        request.set_timeout(FORWARD_TIMEOUT);
        let metadata = request.metadata_mut();
        for (name, value) in [
            (session_keys::SIGNATURE_HEADER, signature.as_str()),
            (session_keys::SIGNATURE_ALGORITHM_HEADER, algorithm),
        ] {
            let value = value
                .parse()
                .map_err(|_| tonic::Status::internal("signature is not valid metadata"))?;
            metadata.insert(name, value);
        }
        crate::trace_context::inject_current(request.metadata_mut());
        Ok(WorkerServiceClient::new(channel)
            .forward_config_change(request)
            .await?
            .into_inner())
    }

    /// Runs a forwarded operation on this worker (the leader): returns the result JSON and
    /// whether a connector was created.
    ///
    /// # Errors
    /// The operation's error, or `InvalidArgument` for an unknown operation or bad payload.
    pub async fn apply_forwarded(
        &self,
        operation: &str,
        connector: &str,
        payload_json: &str,
    ) -> Result<(Option<ConnectorInfo>, bool), ServiceError> {
        let payload: serde_json::Value = if payload_json.is_empty() {
            json!({})
        } else {
            serde_json::from_str(payload_json)
                .map_err(|error| ServiceError::InvalidArgument(error.to_string()))?
        };
        let config = || -> Result<BTreeMap<String, String>, ServiceError> {
            serde_json::from_value(payload["config"].clone())
                .map_err(|error| ServiceError::InvalidArgument(error.to_string()))
        };
        match operation {
            "create" => {
                let initial_state = payload["initial_state"].as_str().map(str::to_string);
                let request = CreateConnector {
                    name: connector.to_string(),
                    config: config()?,
                    initial_state,
                };
                Ok((Some(self.create_connector_local(request).await?), true))
            }
            "put_config" => {
                let (created, info) = self
                    .put_connector_config_local(connector, config()?)
                    .await?;
                Ok((Some(info), created))
            }
            "patch_config" => {
                let patch: BTreeMap<String, Option<String>> =
                    serde_json::from_value(payload["patch"].clone())
                        .map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
                Ok((
                    Some(self.patch_connector_config_local(connector, patch).await?),
                    false,
                ))
            }
            "delete" => self
                .delete_connector_local(connector)
                .await
                .map(|()| (None, false)),
            "stop" => self
                .set_target_state_local(connector, TargetState::Stopped)
                .await
                .map(|()| (None, false)),
            "task_configs" => {
                let for_config: BTreeMap<String, String> =
                    serde_json::from_value(payload["for_config"].clone())
                        .map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
                let tasks: Vec<BTreeMap<String, String>> =
                    serde_json::from_value(payload["tasks"].clone())
                        .map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
                self.put_task_configs_local(connector, for_config, tasks)
                    .await
                    .map(|_| (None, false))
            }
            other => Err(ServiceError::InvalidArgument(format!(
                "unknown forwarded operation {other}"
            ))),
        }
    }

    /// Creates a connector (on the leader); answers once its config is durable.
    ///
    /// # Errors
    /// `InvalidArgument`, `AlreadyExists`, or `Rebalancing` (409) when no leader is known.
    pub async fn create_connector(
        &self,
        request: CreateConnector,
    ) -> Result<ConnectorInfo, ServiceError> {
        match self.route_to_leader().await? {
            Route::Here => self.create_connector_local(request).await,
            Route::Leader(addr) => {
                let payload =
                    json!({"config": request.config, "initial_state": request.initial_state});
                let (info, _) = self
                    .forward(&addr, "create", &request.name, payload)
                    .await?;
                info.ok_or_else(|| {
                    ServiceError::Internal("leader returned no connector info".to_string())
                })
            }
        }
    }

    /// Creates or replaces a connector's config (on the leader); returns whether it was created.
    ///
    /// # Errors
    /// `InvalidArgument`, or `Rebalancing` (409) when no leader is known.
    pub async fn put_connector_config(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), ServiceError> {
        match self.route_to_leader().await? {
            Route::Here => self.put_connector_config_local(name, config).await,
            Route::Leader(addr) => {
                let (info, created) = self
                    .forward(&addr, "put_config", name, json!({"config": config}))
                    .await?;
                let info = info.ok_or_else(|| {
                    ServiceError::Internal("leader returned no connector info".to_string())
                })?;
                Ok((created, info))
            }
        }
    }

    /// Applies a partial config (`None` deletes a key), on the leader.
    ///
    /// # Errors
    /// `NotFound`, `InvalidArgument`, or `Rebalancing` (409) when no leader is known.
    pub async fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, ServiceError> {
        match self.route_to_leader().await? {
            Route::Here => self.patch_connector_config_local(name, patch).await,
            Route::Leader(addr) => {
                let (info, _) = self
                    .forward(&addr, "patch_config", name, json!({"patch": patch}))
                    .await?;
                info.ok_or_else(|| {
                    ServiceError::Internal("leader returned no connector info".to_string())
                })
            }
        }
    }

    /// Deletes a connector (on the leader).
    ///
    /// # Errors
    /// `NotFound`, or `Rebalancing` (409) when no leader is known.
    pub async fn delete_connector(&self, name: &str) -> Result<(), ServiceError> {
        match self.route_to_leader().await? {
            Route::Here => self.delete_connector_local(name).await,
            Route::Leader(addr) => self
                .forward(&addr, "delete", name, json!({}))
                .await
                .map(|_| ()),
        }
    }

    /// Sets a connector's target state. Stop runs on the leader; pause and resume are written by
    /// any worker, as in Kafka Connect.
    ///
    /// # Errors
    /// `NotFound`, or `Rebalancing` (409) when a stop finds no leader.
    pub async fn set_target_state(
        &self,
        name: &str,
        state: TargetState,
    ) -> Result<(), ServiceError> {
        if state != TargetState::Stopped {
            return self.set_target_state_local(name, state).await;
        }
        match self.route_to_leader().await? {
            Route::Here => self.set_target_state_local(name, state).await,
            Route::Leader(addr) => self
                .forward(&addr, "stop", name, json!({}))
                .await
                .map(|_| ()),
        }
    }
}

impl ConnectService {
    /// Sends the task configs a plugin connector's instance generated on this worker to the
    /// leader (Kafka Connect's `PUT /connectors/{name}/tasks` between workers), which stores
    /// them when they changed.
    ///
    /// # Errors
    /// `Rebalancing` while no leader is known or the leader refuses (it has not read the config
    /// the tasks were generated for yet), or the leader's error.
    pub async fn report_task_configs(
        &self,
        connector: &str,
        for_config: BTreeMap<String, String>,
        tasks: Vec<BTreeMap<String, String>>,
    ) -> Result<(), ServiceError> {
        match self.route_to_leader().await? {
            Route::Here => self
                .put_task_configs_local(connector, for_config, tasks)
                .await
                .map(|_| ()),
            Route::Leader(addr) => self
                .forward(
                    &addr,
                    "task_configs",
                    connector,
                    json!({"for_config": for_config, "tasks": tasks}),
                )
                .await
                .map(|_| ()),
        }
    }

    /// Stores reported task configs through this node's leader actor; returns whether they
    /// were written (false: unchanged).
    async fn put_task_configs_local(
        &self,
        connector: &str,
        for_config: BTreeMap<String, String>,
        tasks: Vec<BTreeMap<String, String>>,
    ) -> Result<bool, ServiceError> {
        let runtime = self.runtime()?;
        let call = runtime
            .leader
            .call(
                |reply| LeaderMsg::PutTaskConfigs {
                    connector: connector.to_string(),
                    for_config,
                    tasks,
                    reply,
                },
                Some(FORWARD_TIMEOUT),
            )
            .await;
        match call {
            Ok(ractor::rpc::CallResult::Success(Ok(written))) => Ok(written),
            Ok(ractor::rpc::CallResult::Success(Err(refused))) => match refused {
                TaskConfigsRefused::Write(_) => Err(ServiceError::Unavailable(refused.to_string())),
                TaskConfigsRefused::NotLeader | TaskConfigsRefused::StaleConfig(_) => {
                    Err(ServiceError::Rebalancing(refused.to_string()))
                }
            },
            Ok(ractor::rpc::CallResult::Timeout) => Err(ServiceError::Timeout(
                "the leader did not store the task configs in time".to_string(),
            )),
            Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(ServiceError::Rebalancing(
                "the leader actor is not running".to_string(),
            )),
        }
    }
}

/// The worker's [`TaskConfigSender`]: reports go to the leader through the service.
pub(crate) struct ServiceTaskConfigSender(pub(crate) ConnectService);

impl TaskConfigSender for ServiceTaskConfigSender {
    fn send_task_configs(
        &self,
        connector: String,
        for_config: BTreeMap<String, String>,
        tasks: Vec<BTreeMap<String, String>>,
    ) -> BoxFuture<'static, Result<(), String>> {
        let service = self.0.clone();
        Box::pin(async move {
            service
                .report_task_configs(&connector, for_config, tasks)
                .await
                .map_err(|error| error.to_string())
        })
    }
}

/// Maps the leader's gRPC status back to the error it came from.
fn status_to_error(status: &tonic::Status) -> ServiceError {
    let message = status.message().to_string();
    match status.code() {
        tonic::Code::InvalidArgument => ServiceError::InvalidArgument(message),
        tonic::Code::NotFound => ServiceError::NotFound(message),
        tonic::Code::AlreadyExists => ServiceError::AlreadyExists(message),
        tonic::Code::FailedPrecondition => ServiceError::FailedPrecondition(message),
        tonic::Code::Unavailable => ServiceError::Rebalancing(message),
        tonic::Code::DeadlineExceeded => ServiceError::Timeout(message),
        // A worker of this cluster whose signature the leader refused: a misconfiguration
        // (different verification algorithms) or a key rotation it could not catch up with.
        tonic::Code::PermissionDenied => ServiceError::Rebalancing(message),
        _ => ServiceError::Internal(message),
    }
}
