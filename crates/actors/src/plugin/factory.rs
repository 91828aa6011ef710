//! The `ConnectorFactory` of one plugin class.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferry_connectors::sdk::framework::PreflightAnswer;
use ferry_connectors::sdk::{
    ConfigDef, ConfigValues, ConnectorError, ConnectorFactory, ConnectorType, SinkTask, SourceTask,
    TaskConfig, TaskContext,
};
use ferry_connectors::validation::full_config_def;
use ferry_connectors::ConnectorRegistry;
use ferry_plugin::catalog::PluginEntry;
use ferry_plugin::proto::{PluginType, PreflightQuestion, SourcePreflightRequest, ValidateRequest};
use ferry_plugin::PluginHost;

use super::connector::{ConnectorInstance, Reported, ReportedTaskConfigs};
use super::sink_task::PluginSinkTask;
use super::source_task::PluginSourceTask;
use super::CONNECTOR_CONFIG_PREFIX;

/// Returns `builtins` plus a factory for every connector `entries` lists. Built-ins come first,
/// so a class name both answer to selects the built-in unless `connector.plugin.version` names
/// the plugin's version.
pub fn plugin_registry(
    builtins: ConnectorRegistry,
    host: &Arc<PluginHost>,
    entries: &[PluginEntry],
    worker_props: &BTreeMap<String, String>,
) -> ConnectorRegistry {
    let mut registry = builtins;
    for entry in entries {
        let connector_type = match entry.plugin_type {
            PluginType::Source => ConnectorType::Source,
            PluginType::Sink => ConnectorType::Sink,
            _ => continue,
        };
        registry.add(PluginConnectorFactory::new(
            Arc::clone(host),
            entry,
            connector_type,
            worker_props.clone(),
        ));
    }
    registry
}

/// One connector class a plugin process offers.
pub struct PluginConnectorFactory {
    /// The class name, leaked once per discovered plugin: the SDK hands out `&'static` names.
    class_names: &'static [&'static str],
    version: &'static str,
    connector_type: ConnectorType,
    config_def: ConfigDef,
    location: String,
    host: Arc<PluginHost>,
    worker_props: BTreeMap<String, String>,
    /// Connector instances running on this worker, by connector name.
    instances: Mutex<BTreeMap<String, ConnectorInstance>>,
    /// Task configs the instances on this worker generated, by connector name.
    reported: ReportedTaskConfigs,
}

impl PluginConnectorFactory {
    fn new(
        host: Arc<PluginHost>,
        entry: &PluginEntry,
        connector_type: ConnectorType,
        worker_props: BTreeMap<String, String>,
    ) -> Self {
        let class: &'static str = Box::leak(entry.class_name.clone().into_boxed_str());
        let class_names: &'static [&'static str] = Box::leak(vec![class].into_boxed_slice());
        PluginConnectorFactory {
            class_names,
            version: Box::leak(entry.version.clone().into_boxed_str()),
            connector_type,
            config_def: entry.config_def.clone(),
            location: entry.location.clone(),
            host,
            worker_props,
            instances: Mutex::new(BTreeMap::new()),
            reported: ReportedTaskConfigs::default(),
        }
    }

    /// Returns the plugin location the class was loaded from.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn class(&self) -> &'static str {
        self.class_names[0]
    }

    fn parse(&self, raw: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
        full_config_def(self)
            .parse(raw)
            .ok()
            .map(|values| values.as_map().clone())
    }
}

impl PluginConnectorFactory {
    /// Refuses, naming them, the framework keys nothing would act on for this plugin: the
    /// runtime leaves converters, transforms and `errors.*` of a plugin connector to the plugin
    /// process, which a native plugin does not run, and the JVM host does not dead-letter the
    /// records of a source.
    fn framework_keys_not_run(&self, config: &ConfigValues) -> Vec<(String, String)> {
        use ferry_connectors::sdk::framework::keys;
        let set = |key: &str| {
            config
                .get(key)
                .is_some_and(|value| !value.trim().is_empty())
        };
        let mut refused: Vec<(&str, &str)> = Vec::new();
        if !self.host.runs_framework_stages() {
            let native = "is not supported for connectors of a native plugin (the plugin converts and handles its records itself)";
            for key in [
                keys::TRANSFORMS,
                keys::PREDICATES,
                keys::KEY_CONVERTER,
                keys::VALUE_CONVERTER,
                keys::HEADER_CONVERTER,
                keys::DLQ_TOPIC_NAME,
            ] {
                if set(key) {
                    refused.push((key, native));
                }
            }
            if config
                .get(keys::ERRORS_TOLERANCE)
                .is_some_and(|value| !value.trim().eq_ignore_ascii_case("none"))
            {
                refused.push((keys::ERRORS_TOLERANCE, native));
            }
            if config
                .get(keys::ERRORS_LOG_ENABLE)
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
            {
                refused.push((keys::ERRORS_LOG_ENABLE, native));
            }
        } else if self.connector_type == ConnectorType::Source && set(keys::DLQ_TOPIC_NAME) {
            refused.push((
                keys::DLQ_TOPIC_NAME,
                "a dead-letter queue is not supported yet for source connectors from plugin.path (records a jar's transforms or converters fail on are skipped under errors.tolerance=all and logged)",
            ));
        }
        refused
            .into_iter()
            .map(|(key, reason)| (key.to_string(), format!("{key} {reason}")))
            .collect()
    }
}

impl PluginConnectorFactory {
    /// Makes one call to the plugin process and waits for its answer: validation is
    /// synchronous (Kafka Connect's `Connector.validate()` and the preflight questions may do
    /// I/O in the plugin). Only on a multi-threaded tokio runtime (the worker's); elsewhere
    /// `None`, and nothing is asked.
    fn call_host<T, F, Fut>(&self, call: F) -> Option<Result<T, tonic::Status>>
    where
        F: FnOnce(ferry_plugin::host::PluginClient) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return None;
        }
        let host = Arc::clone(&self.host);
        Some(tokio::task::block_in_place(|| {
            handle.block_on(async move {
                let client = host
                    .client()
                    .await
                    .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
                call(client).await.map(tonic::Response::into_inner)
            })
        }))
    }

    /// Asks the plugin process one exactly-once preflight question about `props`. A plugin
    /// without the call (UNIMPLEMENTED) gives `unimplemented`; off the worker's runtime the
    /// answer is `Undeclared`.
    fn preflight(
        &self,
        props: &BTreeMap<String, String>,
        question: PreflightQuestion,
        unimplemented: PreflightAnswer,
    ) -> PreflightAnswer {
        use ferry_plugin::proto::PreflightAnswer as Answer;
        let request = SourcePreflightRequest {
            class_name: self.class().to_string(),
            config: props.clone().into_iter().collect(),
            question: question.into(),
        };
        match self.call_host(|mut client| async move { client.source_preflight(request).await }) {
            None => PreflightAnswer::Undeclared,
            Some(Ok(response)) => match response.answer() {
                Answer::Supported => PreflightAnswer::Supported,
                Answer::Unsupported => PreflightAnswer::Unsupported,
                Answer::Undeclared => PreflightAnswer::Undeclared,
                Answer::Failed => PreflightAnswer::Failed(response.error),
            },
            Some(Err(status)) if status.code() == tonic::Code::Unimplemented => unimplemented,
            Some(Err(status)) => PreflightAnswer::Failed(format!(
                "the plugin could not be asked: {}",
                status.message()
            )),
        }
    }
}

impl ConnectorFactory for PluginConnectorFactory {
    fn class_names(&self) -> &'static [&'static str] {
        self.class_names
    }

    fn connector_type(&self) -> ConnectorType {
        self.connector_type
    }

    fn version(&self) -> &'static str {
        self.version
    }

    fn converts_records(&self) -> bool {
        true
    }

    fn config_def(&self) -> ConfigDef {
        self.config_def.clone()
    }

    /// The connector's own `exactlyOnceSupport(config)`, asked in the plugin process (only for
    /// sources: `check_exactly_once` asks nothing else).
    fn exactly_once_preflight(&self, props: &BTreeMap<String, String>) -> PreflightAnswer {
        self.preflight(
            props,
            PreflightQuestion::ExactlyOnceSupport,
            PreflightAnswer::Undeclared,
        )
    }

    /// The connector's own `canDefineTransactionBoundaries(config)`, asked in the plugin process.
    fn transaction_boundaries_preflight(
        &self,
        props: &BTreeMap<String, String>,
    ) -> PreflightAnswer {
        self.preflight(
            props,
            PreflightQuestion::TransactionBoundaries,
            PreflightAnswer::Unsupported,
        )
    }

    /// Asks the plugin's `Connector.validate()` (Kafka Connect's answer, including the
    /// connector's own cross-key checks). Runs only on a multi-threaded tokio runtime (the
    /// worker's); elsewhere only the ConfigDef checks apply.
    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        let mut errors = self.framework_keys_not_run(config);
        let request = ValidateRequest {
            class_name: self.class().to_string(),
            config: config.as_map().clone().into_iter().collect(),
        };
        let Some(answer) =
            self.call_host(|mut client| async move { client.validate(request).await })
        else {
            return errors;
        };
        errors.extend(match answer {
            Ok(response) => response
                .values
                .into_iter()
                .flat_map(|value| {
                    let name = value.name;
                    value
                        .errors
                        .into_iter()
                        .map(move |error| (name.clone(), error))
                })
                .collect(),
            Err(status) => vec![(
                ferry_connectors::sdk::framework::keys::CONNECTOR_CLASS.to_string(),
                format!(
                    "the plugin could not validate the config: {}",
                    status.message()
                ),
            )],
        });
        errors
    }

    /// Answers from what the connector instance (on the worker the connector is assigned to)
    /// reported for this exact config; until then a retryable error, which the leader and the
    /// worker wait out.
    fn task_configs(
        &self,
        config: &ConfigValues,
        max_tasks: usize,
    ) -> Result<Vec<TaskConfig>, ConnectorError> {
        let name = config.get("name").unwrap_or_default().to_string();
        let reported = self.reported.get(&name);
        let tasks = match reported {
            Some(Reported::TaskConfigs {
                for_config,
                max_tasks: reported_max,
                tasks,
            }) if &for_config == config.as_map() && reported_max == max_tasks => tasks,
            Some(Reported::Failed {
                for_config,
                message,
            }) if &for_config == config.as_map() => {
                return Err(ConnectorError::user(message));
            }
            _ => {
                return Err(ConnectorError::external(format!(
                    "waiting for connector {name}'s instance to report its task configs"
                )))
            }
        };
        let sink = self.connector_type == ConnectorType::Sink;
        Ok(tasks
            .into_iter()
            .map(|mut task| {
                if sink {
                    // As Kafka Connect's worker: every sink task config names the topics.
                    for key in ["topics", "topics.regex"] {
                        if let Some(value) = config.get(key) {
                            task.insert(key.to_string(), value.to_string());
                        }
                    }
                }
                for (key, value) in config.as_map() {
                    task.insert(format!("{CONNECTOR_CONFIG_PREFIX}{key}"), value.clone());
                }
                task
            })
            .collect())
    }

    fn plans_tasks_on_assigned_worker(&self) -> bool {
        true
    }

    fn assign_connectors(&self, connectors: &BTreeMap<String, BTreeMap<String, String>>) {
        let mut instances = self
            .instances
            .lock()
            .expect("plugin connector instances lock is never poisoned: no panics while held");
        let wanted: BTreeMap<String, BTreeMap<String, String>> = connectors
            .iter()
            .filter_map(|(name, raw)| self.parse(raw).map(|values| (name.clone(), values)))
            .collect();
        instances.retain(|name, instance| {
            let keep = wanted.get(name) == Some(instance.values());
            if !keep {
                instance.stop();
                self.reported.remove(name);
            }
            keep
        });
        for (name, values) in wanted {
            if instances.contains_key(&name) {
                continue;
            }
            let instance = ConnectorInstance::start(
                Arc::clone(&self.host),
                self.class().to_string(),
                name.clone(),
                values,
                self.reported.clone(),
            );
            instances.insert(name, instance);
        }
    }

    fn create_source_task(
        &self,
        context: TaskContext,
    ) -> Result<Box<dyn SourceTask>, ConnectorError> {
        Ok(Box::new(PluginSourceTask::new(
            Arc::clone(&self.host),
            self.class().to_string(),
            context,
            &self.worker_props,
        )))
    }

    fn create_sink_task(&self, context: TaskContext) -> Result<Box<dyn SinkTask>, ConnectorError> {
        Ok(Box::new(PluginSinkTask::new(
            Arc::clone(&self.host),
            self.class().to_string(),
            context,
            &self.worker_props,
        )))
    }
}
