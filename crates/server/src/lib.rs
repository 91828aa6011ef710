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
pub mod ctl;
pub mod dev;
pub mod error;
pub mod grpc;
pub mod http;
mod lifecycle;
pub mod log_levels;
pub mod plugins;
pub mod service;
pub mod shutdown;
pub mod telemetry;
mod trace_context;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use ferry_actors::stores::TopicCreator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::service::ConnectService;

/// How long the listener may take to finish in-flight requests at shutdown.
const HTTP_DRAIN_TIMEOUT: Duration = Duration::from_millis(800);

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
    topic_creator_opt: Option<Arc<dyn TopicCreator>>,
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
            topic_creator_opt: None,
        })
    }

    /// Uses `creator` for the internal topics instead of the AdminClient (the embedded mock
    /// cluster has no CreateTopics API).
    #[must_use]
    pub fn with_topic_creator(mut self, creator: Arc<dyn TopicCreator>) -> Self {
        self.topic_creator_opt = Some(creator);
        self
    }

    /// Returns the address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then stops in order: health off, tasks flushed and
    /// committed, listener drained.
    ///
    /// # Errors
    /// Fails when the gRPC descriptors are corrupt, the worker cannot start, or the listener fails.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let worker_plugins = plugins::start_plugins(&self.config.properties).await?;
        let plugin_host_opt = worker_plugins.host_opt.clone();
        let (service, status) = ConnectService::new(worker_plugins.registry);
        service.set_extra_plugins(worker_plugins.other_plugins);
        let (grpc_routes, grpc_health) = grpc::routes(service.clone())?;
        let app = http::app(http::router(service.clone()), grpc_routes);
        let listener_stop = CancellationToken::new();
        let worker_stop = CancellationToken::new();

        let serve_stop = listener_stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async move { serve_stop.cancelled().await })
                .await
        });
        grpc_health.set_serving().await;
        let shutdown_budget = self.config.task_shutdown_timeout + Duration::from_secs(3);
        let mut lifecycle = tokio::spawn(lifecycle::run(
            self.config,
            service,
            status,
            self.topic_creator_opt,
            worker_stop.clone(),
        ));

        let mut failure = None;
        tokio::select! {
            () = shutdown => {}
            joined = &mut lifecycle => {
                failure = Some(match joined {
                    Ok(Ok(())) => anyhow::anyhow!("worker stopped unexpectedly"),
                    Ok(Err(error)) => error,
                    Err(error) => anyhow::anyhow!("worker task failed: {error}"),
                });
            }
        }
        grpc_health.set_not_serving().await;
        worker_stop.cancel();
        if failure.is_none()
            && tokio::time::timeout(shutdown_budget, &mut lifecycle)
                .await
                .is_err()
        {
            tracing::warn!("worker did not stop in time; abandoning its tasks");
        }
        if let Some(host) = plugin_host_opt {
            host.shutdown().await;
        }
        tracing::debug!("shutdown: stopping the listener");
        listener_stop.cancel();
        match tokio::time::timeout(HTTP_DRAIN_TIMEOUT, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "listener stopped with an error"),
            Ok(Err(error)) => tracing::warn!(%error, "listener task failed"),
            Err(_) => tracing::info!("abandoned open connections at shutdown"),
        }
        match failure {
            Some(error) => Err(RunError::Other(error)),
            None => Ok(()),
        }
    }
}
