//! The data path: one tokio task per connector task, running a source or sink loop.

pub mod dlq;
pub mod errors;
// Public (hidden) only for crates/actors/benches/offset_tracker.rs.
#[doc(hidden)]
pub mod offsets;
pub mod retry;
pub mod sink;
pub mod sink_errors;
mod sink_partitions;
pub mod source;
pub mod source_errors;
mod source_producer;
pub mod topic_creation;
mod transform;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_connectors::converters::{build_converters, Converters};
use ferry_connectors::sdk::{
    ConfigValues, ConnectorError, ConnectorFactory, ConnectorType, SinkControl, TaskConfig,
    TaskContext,
};
use rdkafka::config::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::config_providers::{redact_resolved, ConfigProviders};
use crate::kafka_client::{ClientConfigError, ClientRole, KafkaClients};
use crate::stores::{OffsetStores, StatusStore};

/// What every task on this worker shares.
#[derive(Clone)]
pub struct TaskEnv {
    /// The worker's Kafka client settings: every client a task creates takes its config from
    /// [`TaskEnv::client_config_for`].
    pub kafka: Arc<KafkaClients>,
    /// The worker's properties (converter defaults, `producer.*`, `consumer.*`).
    pub worker_props: BTreeMap<String, String>,
    /// The worker's offsets topic and the connectors' own (`offsets.storage.topic`).
    pub offset_stores: Arc<OffsetStores>,
    /// Where tasks record the topics they use (`GET /connectors/{c}/topics`).
    pub status_store: Arc<StatusStore>,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    /// Resolves `${provider:path:key}` placeholders when a task starts (never stored resolved).
    pub config_providers: Arc<ConfigProviders>,
    /// The worker's `group.id` (the prefix of a source task's `transactional.id`).
    pub group_id: String,
    /// The worker's `exactly.once.source.support`: `Enabled` makes source tasks transactional.
    pub exactly_once_source: ferry_connectors::sdk::framework::ExactlyOnceSourceSupport,
    /// The task's right to act, bounded by the worker's lease: checked before each delivery
    /// and commit (the worker sets it when it starts the task).
    pub lease: crate::stores::TaskLease,
}

/// One task to run.
#[derive(Clone)]
pub struct TaskSpec {
    pub connector: String,
    pub index: u32,
    pub config: TaskConfig,
    pub factory: Arc<dyn ConnectorFactory>,
    /// Where the task's in-place retries are reported (the worker writes them into the status).
    pub retry_notifier: retry::RetryNotifier,
}

impl TaskSpec {
    /// Returns `<connector>-<index>`, Kafka Connect's task id.
    pub fn id(&self) -> String {
        format!("{}-{}", self.connector, self.index)
    }
}

/// Runs a task until `cancel` fires (`Ok`) or it fails.
///
/// # Errors
/// The task's error; `ErrorKind::User` errors must not be retried.
pub async fn run_task(
    env: TaskEnv,
    spec: TaskSpec,
    cancel: CancellationToken,
) -> Result<(), ConnectorError> {
    // Secrets are resolved here, before the source or sink loop starts, and live only in this
    // task's copy of its config. An error the task reports (it becomes the status `trace` and a
    // log line) has every resolved value replaced with `[hidden]`.
    let raw_config = spec.config.clone();
    let resolved = env.config_providers.resolve(&spec.config)?;
    if env.config_providers.is_empty() || resolved == raw_config {
        return run_resolved_task(env, spec, cancel).await;
    }
    let spec = TaskSpec {
        config: resolved.clone(),
        ..spec
    };
    run_resolved_task(env, spec, cancel)
        .await
        .map_err(|error| ConnectorError {
            kind: error.kind,
            message: redact_resolved(&raw_config, &resolved, &error.message),
        })
}

async fn run_resolved_task(
    env: TaskEnv,
    spec: TaskSpec,
    cancel: CancellationToken,
) -> Result<(), ConnectorError> {
    let converters = if spec.factory.converts_records() {
        Converters::raw_bytes()
    } else {
        build_converters(&env.worker_props, &spec.config)?
    };
    let values = ConfigValues::from_raw(spec.config.clone());
    let spec = runtime_view(spec);
    let context_with =
        |reader| TaskContext::new(spec.connector.clone(), spec.index, values, reader);
    match spec.factory.connector_type() {
        ConnectorType::Source => {
            // The connector's own offsets topic (`offsets.storage.topic`) or the worker's.
            let offsets = env
                .offset_stores
                .for_connector(&spec.connector, &spec.config)
                .await
                .map_err(|error| {
                    ConnectorError::external(format!(
                        "failed to read the connector's offsets topic: {error}"
                    ))
                })?;
            let context = context_with(offsets.reader());
            // The task is created once the runtime is ready for it: an exactly-once task first
            // fences its zombies and reads the offsets they committed.
            let factory = Arc::clone(&spec.factory);
            // A task that retries its own retriable failures (a jar's poll) reports them here.
            let context =
                context.with_retry_reporter(Arc::new(retry::TaskRetries::for_task(&spec)?));
            let create_task = move || factory.create_source_task(context);
            source::run_source_task(&env, &spec, offsets, converters, create_task, cancel).await
        }
        ConnectorType::Sink => {
            let context = context_with(env.offset_stores.global().reader(&spec.connector));
            let errors = sink_errors::SinkErrors::create(&env, &spec).await?;
            let control = Arc::new(SinkControl::default());
            let task = spec.factory.create_sink_task(
                context
                    .with_errant_reporter(errors.reporter())
                    .with_retry_reporter(errors.retry_reporter())
                    .with_sink_control(Arc::clone(&control)),
            )?;
            sink::run_sink_task(&env, &spec, converters, errors, task, control, cancel).await
        }
    }
}

/// The config the runtime itself acts on. A plugin connector's task config is what its
/// connector generated (often only the task's own keys); the framework keys — `topics`,
/// `errors.*`, client overrides, topic creation — are connector-level, as in Kafka Connect,
/// and come with the task under [`crate::plugin::CONNECTOR_CONFIG_PREFIX`]. The task itself
/// still gets its own config (through its context).
fn runtime_view(spec: TaskSpec) -> TaskSpec {
    if !spec.factory.converts_records() {
        return spec;
    }
    let (task, connector) = crate::plugin::split_task_config(&spec.config);
    if connector.is_empty() {
        return spec;
    }
    let mut config = connector;
    for (key, value) in task {
        config.entry(key).or_insert(value);
    }
    TaskSpec { config, ..spec }
}

impl TaskEnv {
    /// Returns the effective config of a client of a connector's task (producer, consumer,
    /// admin, DLQ producer): `defaults` are Ferry's settings for it, which the worker's
    /// `producer.*`/`consumer.*`/`admin.*` keys and the connector's `*.override.*` keys override
    /// (see [`crate::kafka_client`]).
    ///
    /// # Errors
    /// A user error naming the key (a refused override, an untranslatable value), or an external
    /// one when a trust or key store cannot be read (it may be fixed on disk: retried).
    pub fn client_config_for(
        &self,
        role: ClientRole,
        defaults: &[(&str, &str)],
        connector_config: &BTreeMap<String, String>,
    ) -> Result<ClientConfig, ConnectorError> {
        self.kafka
            .client_config_for(role, defaults, Some(connector_config))
            .map_err(|error| match error {
                ClientConfigError::Store { .. } => ConnectorError::external(error.to_string()),
                ClientConfigError::Invalid { .. } | ClientConfigError::OverrideRefused { .. } => {
                    ConnectorError::user(error.to_string())
                }
            })
    }
}

/// Records the topics a task uses, once per topic per task run, in the status topic.
pub(crate) struct TopicTracker {
    seen: std::collections::HashSet<String>,
    status_store: Arc<StatusStore>,
    connector: String,
    task: u32,
}

impl TopicTracker {
    pub(crate) fn new(env: &TaskEnv, spec: &TaskSpec) -> Self {
        TopicTracker {
            seen: std::collections::HashSet::new(),
            status_store: Arc::clone(&env.status_store),
            connector: spec.connector.clone(),
            task: spec.index,
        }
    }

    /// Notes a topic; the first time, records it (in the background: it is informational).
    pub(crate) fn observe(&mut self, topic: &str) {
        if self.seen.contains(topic) {
            return;
        }
        self.seen.insert(topic.to_string());
        let store = Arc::clone(&self.status_store);
        let (connector, topic, task) = (self.connector.clone(), topic.to_string(), self.task);
        tokio::spawn(async move {
            if let Err(error) = store.put_topic(&connector, &topic, task).await {
                tracing::warn!(%connector, %topic, %error, "failed to record an active topic");
            }
        });
    }
}
