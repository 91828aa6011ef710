//! `ConnectService`: the one application facade. The REST gateway and the gRPC API both call it;
//! neither loops back through the other.

mod cluster;
mod connectors;
pub(crate) mod forward;
mod offsets;
mod secrets;
pub mod types;
#[path = "watch.rs"] // `watch` is taken by `tokio::sync::watch` below
pub mod watch_stream;

use std::sync::{Arc, OnceLock};

use ferry_actors::stores::{ConfigStore, OffsetStores, StatusStore};
use ferry_actors::worker::WorkerMsg;
use ferry_connectors::ConnectorRegistry;
use ractor::ActorRef;
use serde::Serialize;
use tokio::sync::watch;

use crate::error::ServiceError;

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

/// The parts of a started worker the facade drives.
pub struct Runtime {
    /// This node's id in gossip and assignments.
    pub node_id: String,
    pub worker_id: String,
    /// The worker's `group.id` (exactly-once tasks' transactional ids start with it).
    pub group_id: String,
    pub config_store: Arc<ConfigStore>,
    pub status_store: Arc<StatusStore>,
    /// The worker's offsets topic and the connectors' own (`offsets.storage.topic`).
    pub offset_stores: Arc<OffsetStores>,
    pub worker: ActorRef<WorkerMsg>,
    /// This node's leader actor (acts only while this node leads).
    pub leader: ActorRef<ferry_actors::leader::LeaderMsg>,
    /// The worker's Kafka client settings, for ad-hoc Kafka calls (sink offsets).
    pub kafka: Arc<ferry_actors::kafka_client::KafkaClients>,
    /// Gossip membership: the live members and what they run.
    pub membership: ferry_actors::membership::Membership,
    /// Whether this node sees a quorum of the cluster (without one it neither leads nor runs
    /// tasks).
    pub quorum: ferry_actors::leader::QuorumGate,
}

impl Runtime {
    /// The connector's stored config (empty when it has none).
    fn stored_config(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        self.config_store
            .snapshot()
            .connectors
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// Returns the config of an admin-side client for a connector (reading, altering or
    /// resetting a sink's group offsets): the worker's settings with the connector's
    /// `admin.*` / `admin.override.*` keys, as Kafka Connect's offsets endpoints use.
    ///
    /// # Errors
    /// `Unavailable` when the settings cannot be used (the error names the key).
    pub fn connector_admin_config(
        &self,
        name: &str,
    ) -> Result<rdkafka::config::ClientConfig, ServiceError> {
        let connector_config = self.stored_config(name);
        self.kafka
            .client_config_for(
                ferry_actors::kafka_client::ClientRole::Admin,
                &[],
                Some(&connector_config),
            )
            .map_err(|error| ServiceError::Unavailable(error.to_string()))
    }

    /// Returns a source connector's offsets: in its own offsets topic (`offsets.storage.topic`)
    /// first, else in the worker's.
    ///
    /// # Errors
    /// `Unavailable` when the connector's offsets topic can neither be created nor read.
    pub async fn source_offsets(
        &self,
        name: &str,
    ) -> Result<ferry_actors::stores::ConnectorOffsets, ServiceError> {
        let connector_config = self.stored_config(name);
        self.offset_stores
            .for_connector(name, &connector_config)
            .await
            .map_err(|error| ServiceError::Unavailable(error.to_string()))
    }
}

/// The application facade. Cheap to clone.
#[derive(Clone)]
pub struct ConnectService {
    inner: Arc<Inner>,
}

struct Inner {
    registry: ConnectorRegistry,
    /// Serialises config changes on this worker (the leader runs them all), so that a check such
    /// as "does this connector exist" and the write that follows are one step.
    config_writes: tokio::sync::Mutex<()>,
    health_rx: watch::Receiver<WorkerHealth>,
    cluster_id_rx: watch::Receiver<Option<String>>,
    runtime: OnceLock<Arc<Runtime>>,
    security: OnceLock<ServiceSecurity>,
    /// Converters, transforms and predicates plugin processes offer (`connectorsOnly=false`).
    extra_plugins: std::sync::RwLock<Vec<types::PluginInfo>>,
}

/// What the facade needs of the worker's security settings.
#[derive(Clone, Default)]
pub struct ServiceSecurity {
    /// TLS for calls to other workers, when they are reached over https.
    pub worker_client_tls_opt: Option<Arc<rustls::ClientConfig>>,
    pub session_keys: crate::security::SessionKeySettings,
    /// Resolves `${provider:...}` placeholders for validation (never for storage).
    pub config_providers: Arc<ferry_actors::config_providers::ConfigProviders>,
    /// The worker's `exactly.once.source.support` (connector validation depends on it).
    pub exactly_once_source: ferry_connectors::sdk::framework::ExactlyOnceSourceSupport,
}

/// The write side of the worker's health and identity, held by the worker's start-up code.
pub struct WorkerStatusHandle {
    pub health_tx: watch::Sender<WorkerHealth>,
    pub cluster_id_tx: watch::Sender<Option<String>>,
}

impl ConnectService {
    /// Creates the facade and the handle through which start-up reports progress.
    pub fn new(registry: ConnectorRegistry) -> (Self, WorkerStatusHandle) {
        let (health_tx, health_rx) = watch::channel(WorkerHealth::Starting(
            "Worker is connecting to Kafka.".into(),
        ));
        let (cluster_id_tx, cluster_id_rx) = watch::channel(None);
        let inner = Inner {
            registry,
            config_writes: tokio::sync::Mutex::new(()),
            health_rx,
            cluster_id_rx,
            runtime: OnceLock::new(),
            security: OnceLock::new(),
            extra_plugins: std::sync::RwLock::new(Vec::new()),
        };
        (
            ConnectService {
                inner: Arc::new(inner),
            },
            WorkerStatusHandle {
                health_tx,
                cluster_id_tx,
            },
        )
    }

    /// Records non-connector plugins that plugin processes offer: at start-up, and for each
    /// plugin location installed while the worker runs.
    pub fn set_extra_plugins(&self, plugins: Vec<types::PluginInfo>) {
        self.inner
            .extra_plugins
            .write()
            .expect("extra plugins lock is never poisoned: no panics while held")
            .extend(plugins);
    }

    /// Returns the non-connector plugins that plugin processes offer.
    pub(crate) fn extra_plugins(&self) -> Vec<types::PluginInfo> {
        self.inner
            .extra_plugins
            .read()
            .expect("extra plugins lock is never poisoned: no panics while held")
            .clone()
    }

    /// Attaches the started worker; called once by start-up.
    pub fn attach_runtime(&self, runtime: Arc<Runtime>) {
        let _ = self.inner.runtime.set(runtime);
    }

    /// Attaches the worker's security settings; called once, before serving.
    pub fn attach_security(&self, security: ServiceSecurity) {
        let _ = self.inner.security.set(security);
    }

    /// The worker's `exactly.once.source.support`.
    pub(crate) fn exactly_once_source(
        &self,
    ) -> ferry_connectors::sdk::framework::ExactlyOnceSourceSupport {
        self.security().exactly_once_source
    }

    fn security(&self) -> &ServiceSecurity {
        static NONE: OnceLock<ServiceSecurity> = OnceLock::new();
        self.inner
            .security
            .get()
            .unwrap_or_else(|| NONE.get_or_init(ServiceSecurity::default))
    }

    /// TLS for calls to other workers (`None`: they listen on plain http).
    pub(crate) fn worker_client_tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.security().worker_client_tls_opt.clone()
    }

    /// The `inter.worker.*` settings.
    pub fn session_key_settings(&self) -> &crate::security::SessionKeySettings {
        &self.security().session_keys
    }

    /// The worker's config providers.
    pub fn config_providers(&self) -> &ferry_actors::config_providers::ConfigProviders {
        &self.security().config_providers
    }

    /// Returns the started worker, or `Unavailable` while it starts.
    fn runtime(&self) -> Result<&Arc<Runtime>, ServiceError> {
        self.inner.runtime.get().ok_or_else(|| {
            ServiceError::Unavailable(
                "Worker is still starting up; try again in a moment".to_string(),
            )
        })
    }

    /// Takes the config-change lock (see `Inner::config_writes`).
    pub(crate) async fn lock_config_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.config_writes.lock().await
    }

    /// Returns the connector registry.
    pub fn registry(&self) -> &ConnectorRegistry {
        &self.inner.registry
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
