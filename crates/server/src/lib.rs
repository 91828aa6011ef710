//! The `ferry` binary's library: worker configuration, the REST gateway and gRPC API on one
//! listener, telemetry and the ordered shutdown.
//!
//! ```text
//!  TCP listener ──► axum router ── REST resources ──┐
//!                       └─ content-type application/grpc ─► tonic routes ─┤
//!                                                                       ▼
//!                                                               ConnectService
//! ```
//! Non-goals: no TLS or authentication on the listener yet.

pub mod config;
pub mod dev;
pub mod error;
pub mod grpc;
pub mod http;
pub mod service;
pub mod shutdown;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::service::{ConnectService, WorkerHealth, WorkerStatusHandle};

/// How long the listener may take to finish in-flight requests at shutdown.
const HTTP_DRAIN_TIMEOUT: Duration = Duration::from_millis(800);
/// Pause between attempts to reach Kafka at start-up.
const KAFKA_RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Why the worker could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A worker whose listener is bound but not yet serving.
pub struct Worker {
    config: WorkerConfig,
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl Worker {
    /// Binds the worker's listener.
    ///
    /// # Errors
    /// [`RunError::Bind`] when the address is in use or not available.
    pub async fn bind(config: WorkerConfig) -> Result<Self, RunError> {
        let addr = config.listen_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| RunError::Bind { addr, source })?;
        Ok(Worker {
            config,
            listener,
            local_addr,
        })
    }

    /// Returns the address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then stops in order: health off, listener drained.
    ///
    /// # Errors
    /// Fails when the gRPC descriptors are corrupt or the listener fails.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let (service, status) = ConnectService::new();
        let (grpc_routes, grpc_health) = grpc::routes(service.clone())?;
        let app = http::app(http::router(service.clone()), grpc_routes);
        let stop = CancellationToken::new();

        let serve_stop = stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async move { serve_stop.cancelled().await })
                .await
        });
        grpc_health.set_serving().await;
        let startup = tokio::spawn(start_worker(self.config.clone(), status, stop.clone()));

        tokio::select! {
            () = shutdown => {}
            joined = startup => {
                if let Ok(Err(error)) = joined {
                    return Err(RunError::Other(error));
                }
                stop.cancelled().await;
            }
        }
        stop.cancel();
        tracing::debug!("shutdown: stopping the listener");
        grpc_health.set_not_serving().await;
        match tokio::time::timeout(HTTP_DRAIN_TIMEOUT, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "listener stopped with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "listener task failed"),
            Err(_) => tracing::info!("abandoned open connections at shutdown"),
        }
        tracing::debug!("shutdown: listener stopped");
        Ok(())
    }
}

/// Connects to Kafka, then marks the worker healthy. Retries until it succeeds or `stop` fires.
async fn start_worker(
    config: WorkerConfig,
    status: WorkerStatusHandle,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut attempt: u32 = 0;
    let cluster_id = loop {
        attempt += 1;
        let bootstrap = config.bootstrap_servers.clone();
        let probe = tokio::task::spawn_blocking(move || fetch_kafka_cluster_id(&bootstrap));
        let result = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            result = probe => result?,
        };
        match result {
            Ok(cluster_id) => break cluster_id,
            Err(error) => {
                tracing::warn!(attempt, bootstrap = %config.bootstrap_servers, %error, "cannot reach kafka yet");
                status
                    .health_tx
                    .send_replace(WorkerHealth::Starting(format!(
                        "Worker is connecting to Kafka at {} (attempt {attempt}: {error}).",
                        config.bootstrap_servers
                    )));
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(KAFKA_RETRY_BACKOFF) => {}
        }
    };
    tracing::info!(kafka_cluster_id = %cluster_id, node_id = %config.node_id, "worker connected to kafka");
    status.cluster_id_tx.send_replace(Some(cluster_id));
    status.health_tx.send_replace(WorkerHealth::Healthy);
    stop.cancelled().await;
    status
        .health_tx
        .send_replace(WorkerHealth::Unhealthy("Worker is shutting down.".into()));
    Ok(())
}

fn fetch_kafka_cluster_id(bootstrap_servers: &str) -> anyhow::Result<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("client.id", "ferry-worker-probe")
        .create()?;
    consumer.fetch_metadata(None, Duration::from_secs(5))?;
    consumer
        .client()
        .fetch_cluster_id(Duration::from_secs(5))
        .ok_or_else(|| anyhow::anyhow!("broker did not report a cluster id"))
}
