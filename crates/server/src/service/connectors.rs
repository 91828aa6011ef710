//! Connector operations of the facade.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use ferry_actors::kafka_client::{ClientRole, KafkaClients};
use ferry_actors::stores::{State, Status, TargetState};
use ferry_actors::worker::WorkerMsg;
use ferry_actors::StoreError;
use ferry_connectors::converters::converter_plugins;
use ferry_connectors::registry::names_of;
use ferry_connectors::sdk::framework::keys;
use ferry_connectors::validation::{
    full_config_def, undeclared_config_info, validate_connector_config, ConfigInfos, ConfigKeyInfo,
    InvalidConfig,
};

use super::types::{
    ConnectorInfo, ConnectorOffset, ConnectorOffsets, ConnectorStateInfo, CreateConnector,
    InstanceState, PluginInfo, TaskId, TaskInfo, TaskState,
};
use super::ConnectService;
use crate::error::ServiceError;

/// How long a request waits for Kafka before answering 500, as Kafka Connect does.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

async fn within_timeout<T>(
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, ServiceError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(StoreError::Stopped)) => Err(ServiceError::Unavailable(
            "Worker is shutting down".to_string(),
        )),
        Ok(Err(error)) => Err(ServiceError::Unavailable(error.to_string())),
        Err(_) => Err(ServiceError::Timeout("Request timed out".to_string())),
    }
}

fn not_found(name: &str) -> ServiceError {
    ServiceError::NotFound(format!("Connector {name} not found"))
}

/// Checks a connector name as Kafka Connect does, plus `/` (it would break the REST paths).
fn check_name(name: &str) -> Result<String, ServiceError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "Connector name is required and may not be empty".to_string(),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ServiceError::InvalidArgument(format!(
            "Connector name {trimmed:?} contains control characters"
        )));
    }
    if trimmed.contains('/') {
        return Err(ServiceError::InvalidArgument(format!(
            "Connector name {trimmed:?} may not contain '/'"
        )));
    }
    Ok(trimmed.to_string())
}

fn invalid_config(error: InvalidConfig) -> ServiceError {
    ServiceError::InvalidArgument(error.to_string())
}

fn state_name(state: State) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl ConnectService {
    fn connector_type(&self, config: &BTreeMap<String, String>) -> String {
        config
            .get(keys::CONNECTOR_CLASS)
            .and_then(|class| self.registry().find(class))
            .map_or_else(
                || "unknown".to_string(),
                |factory| factory.connector_type().as_str().to_string(),
            )
    }

    /// Returns the names of all connectors, sorted.
    ///
    /// # Errors
    /// `Unavailable` while the worker starts.
    pub fn list_connectors(&self) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .runtime()?
            .config_store
            .snapshot()
            .connectors
            .keys()
            .cloned()
            .collect())
    }

    /// Creates a connector; answers once its config is durable in the config topic.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad name, config or initial state; `AlreadyExists`.
    pub(crate) async fn create_connector_local(
        &self,
        request: CreateConnector,
    ) -> Result<ConnectorInfo, ServiceError> {
        let name = check_name(&request.name)?;
        let mut config = request.config;
        match config.get(keys::NAME) {
            Some(config_name) if config_name.trim() != name => {
                return Err(ServiceError::InvalidArgument(format!(
                    "Connector name configuration ({config_name}) doesn't match connector name in the URL ({name})"
                )));
            }
            _ => {
                config.insert(keys::NAME.to_string(), name.clone());
            }
        }
        let initial_state = match request.initial_state.as_deref() {
            None => None,
            Some(text) => Some(TargetState::parse(text).ok_or_else(|| {
                ServiceError::InvalidArgument(format!(
                    "Invalid initial_state {text}: must be one of RUNNING, PAUSED, STOPPED"
                ))
            })?),
        };
        self.check_config_resolved(&config)?;
        let runtime = self.runtime()?;
        check_client_overrides(runtime, &config)?;
        let _config_writes = self.lock_config_writes().await;
        let snapshot = within_timeout(runtime.config_store.refresh()).await?;
        if snapshot.contains(&name) {
            return Err(ServiceError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        if let Some(state) = initial_state.filter(|state| *state != TargetState::Started) {
            within_timeout(runtime.config_store.put_target_state(&name, state)).await?;
        }
        within_timeout(runtime.config_store.put_connector_config(&name, &config)).await?;
        tracing::info!(connector = %name, "connector created");
        let connector_type = self.connector_type(&config);
        Ok(ConnectorInfo {
            name,
            config,
            tasks: Vec::new(),
            connector_type,
        })
    }

    /// Creates or replaces a connector's config; returns whether it was created.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad name or config.
    pub(crate) async fn put_connector_config_local(
        &self,
        name: &str,
        mut config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), ServiceError> {
        let name = check_name(name)?;
        match config.get(keys::NAME) {
            Some(config_name) if config_name.trim() != name => {
                return Err(ServiceError::InvalidArgument(format!(
                    "Connector name configuration ({config_name}) doesn't match connector name in the URL ({name})"
                )));
            }
            _ => {
                config.insert(keys::NAME.to_string(), name.clone());
            }
        }
        self.check_config_resolved(&config)?;
        let runtime = self.runtime()?;
        check_client_overrides(runtime, &config)?;
        let _config_writes = self.lock_config_writes().await;
        let snapshot = within_timeout(runtime.config_store.refresh()).await?;
        let created = !snapshot.contains(&name);
        within_timeout(runtime.config_store.put_connector_config(&name, &config)).await?;
        let info = self.connector_info(&name)?;
        Ok((created, info))
    }

    /// Applies a partial config (`None` deletes a key) to an existing connector.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` when the result is invalid.
    pub(crate) async fn patch_connector_config_local(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, ServiceError> {
        let runtime = self.runtime()?;
        let snapshot = within_timeout(runtime.config_store.refresh()).await?;
        let mut config = snapshot
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))?;
        for (key, value) in patch {
            match value {
                Some(value) => config.insert(key, value),
                None => config.remove(&key),
            };
        }
        let (_, info) = self.put_connector_config_local(name, config).await?;
        Ok(info)
    }

    /// Returns a connector's config and task ids.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn connector_info(&self, name: &str) -> Result<ConnectorInfo, ServiceError> {
        let snapshot = self.runtime()?.config_store.snapshot();
        let config = snapshot
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))?;
        let tasks = (0..u32::try_from(snapshot.task_count(name)).unwrap_or(0))
            .map(|task| TaskId {
                connector: name.to_string(),
                task,
            })
            .collect();
        let connector_type = self.connector_type(&config);
        Ok(ConnectorInfo {
            name: name.to_string(),
            config,
            tasks,
            connector_type,
        })
    }

    /// Returns a connector's config as stored.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn connector_config(&self, name: &str) -> Result<BTreeMap<String, String>, ServiceError> {
        Ok(self.connector_info(name)?.config)
    }

    /// Returns a connector's task configs.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn connector_tasks(&self, name: &str) -> Result<Vec<TaskInfo>, ServiceError> {
        let snapshot = self.runtime()?.config_store.snapshot();
        if !snapshot.contains(name) {
            return Err(not_found(name));
        }
        Ok(snapshot
            .tasks
            .get(name)
            .map(|tasks| {
                tasks
                    .iter()
                    .enumerate()
                    .map(|(index, config)| TaskInfo {
                        id: TaskId {
                            connector: name.to_string(),
                            task: u32::try_from(index).unwrap_or(u32::MAX),
                        },
                        config: config.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Kafka Connect's `PUT /connectors/{name}/fence` (KIP-618): fences every transactional
    /// producer of the connector's source tasks, `${group.id}-${connector}-${task}` for each of
    /// its current tasks, by initialising transactions with each id (the broker bumps the
    /// producer epoch and aborts the open transaction). A producer still using one of those ids
    /// (a running task or a zombie) fails its next transactional call; a running task restarts
    /// with a new producer, as in Kafka Connect.
    ///
    /// # Errors
    /// `NotFound`; `InvalidArgument` for a sink connector (Kafka Connect's message) or when the
    /// worker's `exactly.once.source.support` is not `enabled`; `Unavailable` when Kafka does not
    /// answer.
    pub async fn fence_connector(&self, name: &str) -> Result<(), ServiceError> {
        use ferry_connectors::sdk::framework::ExactlyOnceSourceSupport;

        let runtime = self.runtime()?;
        let snapshot = runtime.config_store.snapshot();
        let config = snapshot
            .connectors
            .get(name)
            .ok_or_else(|| not_found(name))?;
        if self.connector_type(config) != "source" {
            return Err(ServiceError::InvalidArgument(format!(
                "Connector {name} is not a source connector"
            )));
        }
        if self.exactly_once_source() != ExactlyOnceSourceSupport::Enabled {
            return Err(ServiceError::InvalidArgument(format!(
                "Zombie fencing of connector {name} needs exactly.once.source.support=enabled on the worker: its source tasks do not use transactional producers"
            )));
        }
        let task_count = snapshot.tasks.get(name).map_or(0, Vec::len);
        let client_config = runtime
            .kafka
            .client_config_for(
                ClientRole::Producer,
                &[("client.id", &format!("connector-fencer-{name}"))],
                Some(config),
            )
            .map_err(|error| ServiceError::InvalidArgument(error.to_string()))?;
        let transactional_ids: Vec<String> = (0..task_count)
            .map(|task| {
                ferry_actors::runtime::source::transactional_id(&runtime.group_id, name, task)
            })
            .collect();
        tokio::task::spawn_blocking(move || fence_producers(&client_config, &transactional_ids))
            .await
            .map_err(|error| ServiceError::Internal(error.to_string()))??;
        tracing::info!(connector = %name, tasks = task_count, "zombie fencing: every task's transactional producer fenced");
        Ok(())
    }

    /// Returns a connector's state and its tasks' states.
    ///
    /// # Errors
    /// `NotFound` when there is no such connector.
    pub fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, ServiceError> {
        let runtime = self.runtime()?;
        let snapshot = runtime.config_store.snapshot();
        let config = snapshot.connectors.get(name).ok_or_else(|| {
            ServiceError::NotFound(format!("No status found for connector {name}"))
        })?;
        // The version the config selects (a plugin's, when `connector.plugin.version` names
        // it); none when this worker does not have the connector's plugin.
        let version_opt = self
            .registry()
            .find_for_config(config)
            .map(|factory| factory.version().to_string());
        let connector = match runtime.status_store.connector(name) {
            Some(status) => InstanceState {
                state: state_name(status.state),
                worker_id: status.worker_id,
                version: version_opt.clone(),
                trace: status.trace,
            },
            None => InstanceState {
                state: "UNASSIGNED".to_string(),
                worker_id: runtime.worker_id.clone(),
                version: None,
                trace: None,
            },
        };
        let task_count = u32::try_from(snapshot.task_count(name)).unwrap_or(0);
        let statuses: BTreeMap<u32, Status> =
            runtime.status_store.tasks(name).into_iter().collect();
        let tasks = (0..task_count)
            .map(|id| match statuses.get(&id) {
                Some(status) => TaskState {
                    id,
                    state: state_name(status.state),
                    worker_id: status.worker_id.clone(),
                    version: version_opt.clone(),
                    trace: status.trace.clone(),
                    restarts: status.restarts,
                    retries: status.retries,
                    last_error: status.last_error.clone(),
                },
                None => TaskState {
                    id,
                    state: "UNASSIGNED".to_string(),
                    worker_id: runtime.worker_id.clone(),
                    version: None,
                    trace: None,
                    restarts: 0,
                    retries: 0,
                    last_error: None,
                },
            })
            .collect();
        Ok(ConnectorStateInfo {
            name: name.to_string(),
            connector,
            tasks,
            connector_type: self.connector_type(config),
        })
    }

    /// Returns one task's state.
    ///
    /// # Errors
    /// `NotFound` for an unknown connector or task.
    pub fn task_status(&self, name: &str, task: u32) -> Result<TaskState, ServiceError> {
        self.connector_status(name)?
            .tasks
            .into_iter()
            .find(|state| state.id == task)
            .ok_or_else(|| {
                ServiceError::NotFound(format!("No status found for task {name}-{task}"))
            })
    }

    /// Deletes a connector; its tasks stop.
    ///
    /// # Errors
    /// `NotFound`.
    pub(crate) async fn delete_connector_local(&self, name: &str) -> Result<(), ServiceError> {
        let _config_writes = self.lock_config_writes().await;
        let runtime = self.runtime()?;
        let snapshot = within_timeout(runtime.config_store.refresh()).await?;
        if !snapshot.contains(name) {
            return Err(not_found(name));
        }
        within_timeout(runtime.config_store.delete_connector(name)).await?;
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// Sets a connector's target state (pause, resume, stop).
    ///
    /// # Errors
    /// `NotFound`.
    pub(crate) async fn set_target_state_local(
        &self,
        name: &str,
        state: TargetState,
    ) -> Result<(), ServiceError> {
        let _config_writes = self.lock_config_writes().await;
        let runtime = self.runtime()?;
        let snapshot = within_timeout(runtime.config_store.refresh()).await?;
        if !snapshot.contains(name) {
            return Err(not_found(name));
        }
        within_timeout(runtime.config_store.put_target_state(name, state)).await?;
        if state == TargetState::Stopped && snapshot.task_count(name) > 0 {
            // A stopped connector has no tasks (Kafka Connect writes an empty task set); written
            // here too so that the stop is complete when the request returns.
            within_timeout(runtime.config_store.put_task_configs(name, &[])).await?;
        }
        Ok(())
    }

    /// Restarts one task.
    ///
    /// # Errors
    /// `NotFound` for an unknown connector or task.
    pub async fn restart_task(&self, name: &str, task: u32) -> Result<(), ServiceError> {
        let runtime = self.runtime()?;
        if !runtime.config_store.snapshot().contains(name) {
            return Err(not_found(name));
        }
        let result = runtime
            .worker
            .call(
                |reply| WorkerMsg::RestartTask {
                    key: (name.to_string(), task),
                    reply,
                },
                Some(REQUEST_TIMEOUT),
            )
            .await
            .map_err(|error| ServiceError::Internal(error.to_string()))?;
        match result {
            ractor::rpc::CallResult::Success(Ok(())) => Ok(()),
            ractor::rpc::CallResult::Success(Err(message)) => Err(ServiceError::NotFound(message)),
            ractor::rpc::CallResult::Timeout => {
                Err(ServiceError::Timeout("Request timed out".to_string()))
            }
            ractor::rpc::CallResult::SenderError => {
                Err(ServiceError::Internal("worker actor is gone".to_string()))
            }
        }
    }

    /// Restarts a connector: without flags nothing but the connector; with `include_tasks` its
    /// tasks (all, or only failed ones). Returns the restart plan when flags were given.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, ServiceError> {
        let mut plan = self.connector_status(name)?;
        if !include_tasks && !only_failed {
            return Ok(None);
        }
        let restart_connector = !only_failed || plan.connector.state == "FAILED";
        if restart_connector {
            plan.connector.state = "RESTARTING".to_string();
        }
        if include_tasks {
            for task in &mut plan.tasks {
                if !only_failed || task.state == "FAILED" {
                    task.state = "RESTARTING".to_string();
                }
            }
            let runtime = self.runtime()?;
            let connector = name.to_string();
            runtime
                .worker
                .cast(WorkerMsg::RestartConnectorTasks {
                    connector,
                    only_failed,
                    reply: ractor::concurrency::oneshot().0.into(),
                })
                .map_err(|error| ServiceError::Internal(error.to_string()))?;
        }
        Ok(Some(plan))
    }

    /// Returns a connector's offsets: for a source, from its offsets topic (its own, then the
    /// worker's); for a sink, the
    /// committed offsets of its consumer group `connect-<name>` in Kafka Connect's
    /// `kafka_topic`/`kafka_partition`/`kafka_offset` form.
    ///
    /// # Errors
    /// `NotFound`; `Unavailable` when Kafka cannot be asked.
    pub async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets, ServiceError> {
        let runtime = self.runtime()?;
        let snapshot = runtime.config_store.snapshot();
        let config = snapshot
            .connectors
            .get(name)
            .ok_or_else(|| not_found(name))?;
        if self.connector_type(config) == "sink" {
            let topics: Vec<String> = config
                .get(keys::TOPICS)
                .map(|raw| {
                    raw.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let client_config = runtime.connector_admin_config(name)?;
            let group = format!("connect-{name}");
            let offsets =
                tokio::task::spawn_blocking(move || sink_offsets(&client_config, &group, &topics))
                    .await
                    .map_err(|error| ServiceError::Internal(error.to_string()))?
                    .map_err(ServiceError::Unavailable)?;
            return Ok(ConnectorOffsets { offsets });
        }
        let offsets = runtime
            .source_offsets(name)
            .await?
            .all()
            .into_iter()
            .map(|(partition, offset)| ConnectorOffset {
                partition,
                offset: Some(offset),
            })
            .collect();
        Ok(ConnectorOffsets { offsets })
    }

    /// Returns the topics a connector used since the last reset (`{"<name>": {"topics": [...]}}`).
    ///
    /// # Errors
    /// `NotFound`.
    pub fn connector_topics(&self, name: &str) -> Result<Vec<String>, ServiceError> {
        let runtime = self.runtime()?;
        if !runtime.config_store.snapshot().contains(name) {
            return Err(not_found(name));
        }
        Ok(runtime.status_store.topics(name))
    }

    /// Forgets the topics a connector used.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn reset_connector_topics(&self, name: &str) -> Result<(), ServiceError> {
        let runtime = self.runtime()?;
        if !runtime.config_store.snapshot().contains(name) {
            return Err(not_found(name));
        }
        within_timeout(runtime.status_store.reset_topics(name)).await
    }

    /// Lists the plugins; with `connectors_only=false` the converters too.
    pub fn plugins(&self, connectors_only: bool) -> Vec<PluginInfo> {
        let mut plugins: Vec<PluginInfo> = self
            .registry()
            .factories()
            .iter()
            .map(|factory| PluginInfo {
                class: factory.class_names()[0].to_string(),
                plugin_type: factory.connector_type().as_str().to_string(),
                version: Some(factory.version().to_string()),
            })
            .collect();
        if !connectors_only {
            plugins.extend(converter_plugins().into_iter().map(|(class, plugin_type)| {
                PluginInfo {
                    class: class.to_string(),
                    plugin_type: plugin_type.to_string(),
                    version: Some(super::VERSION.to_string()),
                }
            }));
            plugins.extend(
                ferry_connectors::transforms::registry::transform_plugins()
                    .into_iter()
                    .map(|plugin| PluginInfo {
                        class: plugin.class.to_string(),
                        plugin_type: plugin.kind.as_str().to_string(),
                        version: Some(super::VERSION.to_string()),
                    }),
            );
            plugins.extend(self.extra_plugins());
        }
        plugins
    }

    /// Returns a connector plugin's config keys (framework keys included).
    ///
    /// # Errors
    /// `NotFound` for an unknown plugin.
    pub fn plugin_config(&self, plugin: &str) -> Result<Vec<ConfigKeyInfo>, ServiceError> {
        if self.registry().find(plugin).is_none() {
            if let Some(transform) = ferry_connectors::transforms::registry::find_any_plugin(plugin)
            {
                return Ok(transform
                    .config_def()
                    .keys()
                    .iter()
                    .map(ferry_connectors::validation::key_info)
                    .collect());
            }
        }
        let factory = self
            .registry()
            .find(plugin)
            .ok_or_else(|| ServiceError::NotFound(format!("Unknown plugin {plugin}.")))?;
        let mut props = BTreeMap::new();
        props.insert(
            keys::CONNECTOR_CLASS.to_string(),
            factory.class_names()[0].to_string(),
        );
        let infos = validate_connector_config(self.registry(), &props).map_err(invalid_config)?;
        debug_assert_eq!(
            infos.configs.len(),
            full_config_def(factory.as_ref()).keys().len()
        );
        Ok(infos
            .configs
            .into_iter()
            .map(|config| config.definition)
            .collect())
    }

    /// Validates a config against a plugin (the answer holds the errors).
    ///
    /// # Errors
    /// `InvalidArgument` when the class does not match the path or is unknown.
    pub fn validate_config(
        &self,
        plugin: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<ConfigInfos, ServiceError> {
        let class = config.get(keys::CONNECTOR_CLASS).map_or("", String::as_str);
        let factory = self
            .registry()
            .find(plugin)
            .ok_or_else(|| ServiceError::NotFound(format!("Unknown plugin {plugin}.")))?;
        let matches =
            class.is_empty() || names_of(factory.as_ref()).iter().any(|name| name == class);
        if !matches {
            return Err(ServiceError::InvalidArgument(
                "Connector class in the configuration does not match the plugin in the URL"
                    .to_string(),
            ));
        }
        let mut config = config.clone();
        config
            .entry(keys::CONNECTOR_CLASS.to_string())
            .or_insert_with(|| factory.class_names()[0].to_string());
        let mut infos = self.validate_config_resolved(&config)?;
        let has_overrides = config.keys().any(|key| {
            ClientRole::ALL
                .iter()
                .any(|role| key.starts_with(role.override_prefix()))
        });
        if has_overrides {
            let runtime = self.runtime()?;
            add_client_override_infos(&mut infos, &runtime.kafka, &config);
        }
        Ok(infos)
    }
}

/// Adds one entry per connector client override to a validate answer, with the policy's
/// refusal as its error, as Kafka Connect's validate does (its definition is a plain string
/// key: Ferry has no Java client config definitions).
fn add_client_override_infos(
    infos: &mut ConfigInfos,
    kafka: &KafkaClients,
    config: &BTreeMap<String, String>,
) {
    for (key, errors) in kafka.connector_override_errors(config) {
        // A key the connector declares itself is replaced, so each key is listed once.
        infos.configs.retain(|info| info.value.name != key);
        infos.configs.push(undeclared_config_info(
            &key,
            config.get(&key).map(String::as_str),
            "A setting of this connector's Kafka clients, subject to the worker's connector.client.config.override.policy.",
            errors,
        ));
    }
    infos.error_count = infos
        .configs
        .iter()
        .filter(|info| !info.value.errors.is_empty())
        .count();
}

/// Refuses (a 400, nothing stored) a connector whose `*.override.*` client keys the worker's
/// `connector.client.config.override.policy` does not allow or that cannot be used.
fn check_client_overrides(
    runtime: &super::Runtime,
    config: &BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    runtime
        .kafka
        .validate_connector_overrides(config)
        .map_err(|error| ServiceError::InvalidArgument(error.to_string()))
}

/// Fences each transactional id (see [`ferry_actors::runtime::source::fence_transactional_ids`]).
fn fence_producers(
    client_config: &rdkafka::config::ClientConfig,
    transactional_ids: &[String],
) -> Result<(), ServiceError> {
    ferry_actors::runtime::source::fence_transactional_ids(client_config, transactional_ids)
        .map_err(ServiceError::Unavailable)
}

/// Reads the committed offsets of a sink's consumer group for its topics.
fn sink_offsets(
    client_config: &rdkafka::config::ClientConfig,
    group: &str,
    topics: &[String],
) -> Result<Vec<ConnectorOffset>, String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let timeout = Duration::from_secs(10);
    let consumer: BaseConsumer = client_config
        .clone()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|error| error.to_string())?;
    let mut list = rdkafka::TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(|error| error.to_string())?;
        for entry in metadata.topics() {
            for partition in entry.partitions() {
                list.add_partition(topic, partition.id());
            }
        }
    }
    let committed = consumer
        .committed_offsets(list, timeout)
        .map_err(|error| error.to_string())?;
    let mut offsets = Vec::new();
    for element in committed.elements() {
        if let rdkafka::Offset::Offset(offset) = element.offset() {
            let partition = serde_json::json!({"kafka_topic": element.topic(), "kafka_partition": element.partition()});
            let offset_value = serde_json::json!({"kafka_offset": offset});
            if let (Some(partition), Some(offset_value)) =
                (partition.as_object(), offset_value.as_object())
            {
                offsets.push(ConnectorOffset {
                    partition: partition.clone(),
                    offset: Some(offset_value.clone()),
                });
            }
        }
    }
    Ok(offsets)
}
