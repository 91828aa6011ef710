//! A plugin connector's `Connector` instance, on the worker the connector is assigned to: it
//! starts the instance in the plugin process, asks for task configs (again whenever the
//! instance calls `requestTaskReconfiguration()`), and records what it got for the leader.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_plugin::proto::{
    connector_in, connector_out, ConnectorIn, ConnectorStart, ConnectorStop, TaskConfigsRequest,
};
use ferry_plugin::PluginHost;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use ferry_connectors::sdk::TaskConfig;

/// How long a stopping instance may take before it is abandoned.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_INITIAL: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// What an instance reported for one connector config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reported {
    TaskConfigs {
        for_config: BTreeMap<String, String>,
        max_tasks: usize,
        tasks: Vec<TaskConfig>,
    },
    /// `start` threw, or the instance called `raiseError`: the connector is FAILED.
    Failed {
        for_config: BTreeMap<String, String>,
        message: String,
    },
}

/// Reports by connector name, shared by a factory and its instances.
#[derive(Clone, Default)]
pub(crate) struct ReportedTaskConfigs(Arc<Mutex<BTreeMap<String, Reported>>>);

impl ReportedTaskConfigs {
    pub(crate) fn get(&self, name: &str) -> Option<Reported> {
        self.lock().get(name).cloned()
    }

    pub(crate) fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    fn put(&self, name: &str, reported: Reported) {
        self.lock().insert(name.to_string(), reported);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Reported>> {
        self.0
            .lock()
            .expect("reported task configs lock is never poisoned: no panics while held")
    }
}

/// A running connector instance (a tokio task holding its stream).
pub(crate) struct ConnectorInstance {
    values: BTreeMap<String, String>,
    cancel: CancellationToken,
}

impl ConnectorInstance {
    /// Starts the instance of connector `name` with its config `values` (defaults applied).
    pub(crate) fn start(
        host: Arc<PluginHost>,
        class: String,
        name: String,
        values: BTreeMap<String, String>,
        reported: ReportedTaskConfigs,
    ) -> Self {
        let cancel = CancellationToken::new();
        let run = InstanceRun {
            host,
            class,
            name,
            values: values.clone(),
            reported,
            cancel: cancel.clone(),
        };
        tokio::spawn(run.run_until_stopped());
        ConnectorInstance { values, cancel }
    }

    pub(crate) fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Stops the instance (in the background).
    pub(crate) fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Drop for ConnectorInstance {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct InstanceRun {
    host: Arc<PluginHost>,
    class: String,
    name: String,
    values: BTreeMap<String, String>,
    reported: ReportedTaskConfigs,
    cancel: CancellationToken,
}

impl InstanceRun {
    fn max_tasks(&self) -> usize {
        self.values
            .get("tasks.max")
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1)
    }

    async fn run_until_stopped(self) {
        let mut delay = RETRY_INITIAL;
        loop {
            match self.run_once().await {
                Ok(()) => return,
                Err(message) => {
                    tracing::warn!(connector = %self.name, %message, "connector instance lost; starting it again");
                }
            }
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }

    /// Runs one instance until it is stopped (`Ok`) or its stream broke (`Err`).
    async fn run_once(&self) -> Result<(), String> {
        let mut client = self
            .host
            .client()
            .await
            .map_err(|error| error.to_string())?;
        let (tx, rx) = mpsc::channel(8);
        let max_tasks = self.max_tasks();
        let send = |message| ConnectorIn {
            message: Some(message),
        };
        let _ = tx
            .send(send(connector_in::Message::Start(ConnectorStart {
                connector: self.name.clone(),
                class_name: self.class.clone(),
                config: self.values.clone().into_iter().collect(),
            })))
            .await;
        let _ = tx
            .send(send(connector_in::Message::TaskConfigs(
                TaskConfigsRequest {
                    max_tasks: u32::try_from(max_tasks).unwrap_or(u32::MAX),
                },
            )))
            .await;
        let mut inbound = client
            .connector(ReceiverStream::new(rx))
            .await
            .map_err(|status| status.message().to_string())?
            .into_inner();
        loop {
            let message = tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    let _ = tx.send(send(connector_in::Message::Stop(ConnectorStop {}))).await;
                    let drained = tokio::time::timeout(STOP_TIMEOUT, async {
                        while let Ok(Some(out)) = inbound.message().await {
                            if matches!(out.message, Some(connector_out::Message::Stopped(_))) {
                                break;
                            }
                        }
                    }).await;
                    if drained.is_err() {
                        tracing::warn!(connector = %self.name, "connector instance did not stop within 10 s");
                    }
                    tracing::info!(connector = %self.name, "connector instance stopped");
                    return Ok(());
                }
                message = inbound.message() => message,
            };
            let message = match message {
                Ok(Some(out)) => out.message,
                Ok(None) => return Err("the plugin process closed the connector stream".into()),
                Err(status) => return Err(status.message().to_string()),
            };
            match message {
                Some(connector_out::Message::Started(_)) => {
                    tracing::info!(connector = %self.name, class = %self.class, "connector instance started");
                }
                Some(connector_out::Message::TaskConfigs(configs)) => {
                    let tasks: Vec<TaskConfig> = configs
                        .tasks
                        .into_iter()
                        .map(|task| task.config.into_iter().collect())
                        .collect();
                    tracing::info!(connector = %self.name, tasks = tasks.len(), "connector instance generated task configs");
                    self.reported.put(
                        &self.name,
                        Reported::TaskConfigs {
                            for_config: self.values.clone(),
                            max_tasks,
                            tasks,
                        },
                    );
                }
                Some(connector_out::Message::ReconfigurationRequested(_)) => {
                    tracing::info!(connector = %self.name, "connector requested task reconfiguration");
                    let _ = tx
                        .send(send(connector_in::Message::TaskConfigs(
                            TaskConfigsRequest {
                                max_tasks: u32::try_from(max_tasks).unwrap_or(u32::MAX),
                            },
                        )))
                        .await;
                }
                Some(connector_out::Message::RaisedError(error)) => {
                    tracing::warn!(connector = %self.name, message = %error.message, "connector failed");
                    self.reported.put(
                        &self.name,
                        Reported::Failed {
                            for_config: self.values.clone(),
                            message: error.message,
                        },
                    );
                }
                Some(connector_out::Message::Stopped(_)) => {
                    return Err("the connector instance stopped by itself".into())
                }
                None => {}
            }
        }
    }
}
