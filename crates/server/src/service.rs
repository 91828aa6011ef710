//! `ConnectService`: the one application facade both the REST gateway and the gRPC API call.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

/// Version of this build, as `GET /` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git commit of this build (`unknown` when built outside a git checkout).
pub const COMMIT: &str = env!("FERRY_GIT_COMMIT");

/// Where the worker is in its life, as `GET /health` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerHealth {
    /// Still connecting to Kafka or reading its topics; the text says which stage.
    Starting(String),
    /// Ready to handle requests.
    Healthy,
    /// Shutting down or broken; the text says why.
    Unhealthy(String),
}

/// `GET /`: `{"version","commit","kafka_cluster_id"}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: Option<String>,
}

/// The application facade. Cheap to clone.
#[derive(Clone)]
pub struct ConnectService {
    inner: Arc<Inner>,
}

struct Inner {
    health_rx: watch::Receiver<WorkerHealth>,
    cluster_id_rx: watch::Receiver<Option<String>>,
}

/// The write side of the worker's health and identity, held by the worker's start-up code.
pub struct WorkerStatusHandle {
    pub health_tx: watch::Sender<WorkerHealth>,
    pub cluster_id_tx: watch::Sender<Option<String>>,
}

impl ConnectService {
    /// Creates the facade and the handle through which start-up reports progress.
    pub fn new() -> (Self, WorkerStatusHandle) {
        let (health_tx, health_rx) = watch::channel(WorkerHealth::Starting(
            "Worker is connecting to Kafka.".into(),
        ));
        let (cluster_id_tx, cluster_id_rx) = watch::channel(None);
        let service = ConnectService {
            inner: Arc::new(Inner {
                health_rx,
                cluster_id_rx,
            }),
        };
        (
            service,
            WorkerStatusHandle {
                health_tx,
                cluster_id_tx,
            },
        )
    }

    /// Returns version, commit and the Kafka cluster id (once known).
    pub fn server_info(&self) -> ServerInfo {
        ServerInfo {
            version: VERSION.to_string(),
            commit: COMMIT.to_string(),
            kafka_cluster_id: self.inner.cluster_id_rx.borrow().clone(),
        }
    }

    /// Returns the worker's current health.
    pub fn health(&self) -> WorkerHealth {
        self.inner.health_rx.borrow().clone()
    }
}
