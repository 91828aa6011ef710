//! The `ferry` binary's library: worker configuration, the REST gateway and gRPC API on one
//! listener, telemetry and the ordered shutdown.
//!
//! ```text
//!  listeners (http / https, rustls) ──► credentials check ──► axum router ── REST resources ──┐
//!                       └─ content-type application/grpc ─► tonic routes ─┤
//!                                                                       ▼
//!                                                               ConnectService
//! ```
//! Security (TLS, credentials, session keys, config providers): see [`security`].

pub mod config;
pub mod ctl;
pub mod dev;
pub mod error;
pub mod grpc;
pub mod http;
mod kafka_probe;
mod lifecycle;
pub mod log_levels;
mod plugin_watch;
pub mod plugins;
pub mod security;
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
use crate::security::listeners::Scheme;
use crate::security::serve::{serve_all, BoundListener, ServeOptions};
use crate::security::WorkerSecurity;
use crate::service::{ConnectService, ServiceSecurity};

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
    /// A keystore, truststore, JAAS or credentials file cannot be used.
    #[error("{0}")]
    Security(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A worker whose listeners are bound but not yet serving.
pub struct Worker {
    config: WorkerConfig,
    listeners: Vec<BoundListener>,
    local_addrs: Vec<(Scheme, SocketAddr)>,
    local_addr: SocketAddr,
    security: WorkerSecurity,
    topic_creator_opt: Option<Arc<dyn TopicCreator>>,
}

impl Worker {
    /// Reads the TLS and credential files, and binds every listener.
    ///
    /// # Errors
    /// [`RunError::Security`] when a security file cannot be used; [`RunError::Bind`] when an
    /// address is in use or not available.
    pub async fn bind(config: WorkerConfig) -> Result<Self, RunError> {
        let security = WorkerSecurity::load(&config.security, config.advertised_scheme)
            .map_err(RunError::Security)?;
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        let mut local_addr_opt = None;
        for spec in &config.listeners {
            let addr = spec.addr;
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| RunError::Bind { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| RunError::Bind { addr, source })?;
            if local_addr_opt.is_none()
                && spec.scheme == config.advertised_scheme
                && addr == config.listen_addr
            {
                local_addr_opt = Some(bound);
            }
            local_addrs.push((spec.scheme, bound));
            listeners.push(BoundListener {
                scheme: spec.scheme,
                listener,
            });
        }
        let local_addr = local_addr_opt.unwrap_or(local_addrs[0].1);
        Ok(Worker {
            config,
            listeners,
            local_addrs,
            local_addr,
            security,
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

    /// Returns the address of the advertised listener.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Returns every listener's protocol and bound address.
    pub fn local_addrs(&self) -> &[(Scheme, SocketAddr)] {
        &self.local_addrs
    }

    /// Serves until `shutdown` resolves, then stops in order: health off, tasks flushed and
    /// committed, listener drained.
    ///
    /// # Errors
    /// Fails when the gRPC descriptors are corrupt, the worker cannot start, or the listener fails.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let worker_plugins = plugins::start_plugins(&self.config.properties).await?;
        let plugin_host_opt = worker_plugins.host_opt.clone();
        let registry = worker_plugins.registry.clone();
        let native_plugin_hosts = worker_plugins.native_hosts.clone();
        let (service, status) = ConnectService::new(worker_plugins.registry);
        service.set_extra_plugins(worker_plugins.other_plugins);
        let installed_hosts = plugin_watch::InstalledHosts::default();
        let plugin_watch_stop = CancellationToken::new();
        if let Some(watch) = worker_plugins.watch_opt {
            tokio::spawn(plugin_watch::run_plugin_watch(
                watch,
                registry,
                service.clone(),
                installed_hosts.clone(),
                plugin_watch_stop.clone(),
            ));
        }
        service.attach_security(ServiceSecurity {
            worker_client_tls_opt: match self.config.advertised_scheme {
                Scheme::Https => self.security.client_tls_opt.clone(),
                Scheme::Http => None,
            },
            session_keys: self.security.session_keys.clone(),
            config_providers: Arc::clone(&self.config.security.config_providers),
            exactly_once_source: self.config.exactly_once_source,
        });
        let (grpc_routes, grpc_health) = grpc::routes(service.clone())?;
        let app = http::app(
            http::router(service.clone()),
            grpc_routes,
            Arc::clone(&self.security.authenticator),
            self.security.connection_idle_timeout,
        );
        let listener_stop = CancellationToken::new();
        let worker_stop = CancellationToken::new();

        let options = ServeOptions {
            tls_opt: self.security.server_tls_opt.clone(),
            idle_timeout: self.security.connection_idle_timeout,
        };
        let server = tokio::spawn(serve_all(
            self.listeners,
            app,
            options,
            listener_stop.clone(),
        ));
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
        plugin_watch_stop.cancel();
        if let Some(host) = plugin_host_opt {
            host.shutdown().await;
        }
        installed_hosts.shutdown().await;
        for host in native_plugin_hosts {
            host.shutdown().await;
        }
        tracing::debug!("shutdown: stopping the listener");
        listener_stop.cancel();
        match tokio::time::timeout(HTTP_DRAIN_TIMEOUT, server).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "listener task failed"),
            Err(_) => tracing::info!("abandoned open connections at shutdown"),
        }
        match failure {
            Some(error) => Err(RunError::Other(error)),
            None => Ok(()),
        }
    }
}
