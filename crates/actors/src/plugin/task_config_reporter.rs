//! Sends the task configs of the plugin connectors whose instance runs here to the leader, which
//! stores them (Kafka Connect's `PUT /connectors/{name}/tasks` path between workers).
//!
//! The reporter compares, for every connector assigned to this worker whose factory plans on
//! the assigned worker, the task configs its instance generated (see [`super::connector`]) with
//! those stored in the config topic, and sends them to the leader while they differ. It checks
//! on every config change and every [`CHECK_INTERVAL`]: a new instance's first task configs, a
//! `requestTaskReconfiguration()`, a report a leader lost before writing it, or a new leader
//! after a failover are all caught by the same comparison. The leader writes only what changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_connectors::sdk::TaskConfig;
use ferry_connectors::ConnectorRegistry;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config_providers::ConfigProviders;
use crate::stores::{ConfigSnapshot, ConfigStore, TargetState};
use crate::worker::generate_task_configs;

/// How often the reporter compares generated and stored task configs without an event (an
/// instance reporting new task configs does not change the config topic).
pub const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// How long one delivery may take (the leader's fenced write included).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Delivers a connector's task configs to the leader (the server implements it over the
/// internal `ferry.v1.WorkerService`, or calls the local leader).
pub trait TaskConfigSender: Send + Sync {
    /// Sends the task configs `tasks` that connector `connector`'s instance generated for its
    /// stored config `for_config`; resolves once the leader stored them (or found them
    /// unchanged).
    ///
    /// # Errors
    /// A message when no leader is known, the leader is unreachable or refuses (its config
    /// differs: it has not read the newest one yet).
    fn send_task_configs(
        &self,
        connector: String,
        for_config: BTreeMap<String, String>,
        tasks: Vec<TaskConfig>,
    ) -> BoxFuture<'static, Result<(), String>>;
}

/// A task config report due for the leader.
#[derive(Debug, Clone, PartialEq)]
pub struct DueReport {
    pub connector: String,
    pub for_config: BTreeMap<String, String>,
    pub tasks: Vec<TaskConfig>,
}

/// Returns the reports due from `node_id`: connectors assigned to it, not stopped, planned on
/// the assigned worker, whose generated task configs differ from the stored ones.
pub fn due_reports(
    registry: &ConnectorRegistry,
    providers: &ConfigProviders,
    snapshot: &ConfigSnapshot,
    node_id: &str,
) -> Vec<DueReport> {
    let Some(assignment) = &snapshot.assignment else {
        return Vec::new();
    };
    let mut due = Vec::new();
    for (name, config) in &snapshot.connectors {
        let assigned_here = assignment
            .connectors
            .get(name)
            .is_some_and(|owner| owner == node_id);
        if !assigned_here || snapshot.target_state(name) == TargetState::Stopped {
            continue;
        }
        let planned_here = registry
            .find_for_config(config)
            .is_some_and(|factory| factory.plans_tasks_on_assigned_worker());
        if !planned_here {
            continue;
        }
        // Not yet reported by the instance (retryable), or failed (the worker reports the
        // connector FAILED in its status, as Kafka Connect's worker does on `raiseError`).
        let Ok(tasks) = generate_task_configs(registry, providers, config) else {
            continue;
        };
        if snapshot.tasks.get(name) != Some(&tasks) {
            due.push(DueReport {
                connector: name.clone(),
                for_config: config.clone(),
                tasks,
            });
        }
    }
    due
}

/// Runs the reporter until `cancel` fires.
pub async fn run_task_config_reporter(
    registry: ConnectorRegistry,
    providers: Arc<ConfigProviders>,
    config_store: Arc<ConfigStore>,
    node_id: String,
    sender: Arc<dyn TaskConfigSender>,
    cancel: CancellationToken,
) {
    let mut config_rx = config_store.subscribe();
    let mut check = tokio::time::interval(CHECK_INTERVAL);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            changed = config_rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = check.tick() => {}
        }
        let snapshot = config_store.snapshot();
        for report in due_reports(&registry, &providers, &snapshot, &node_id) {
            let connector = report.connector.clone();
            let tasks = report.tasks.len();
            let sent = tokio::time::timeout(
                SEND_TIMEOUT,
                sender.send_task_configs(report.connector, report.for_config, report.tasks),
            )
            .await;
            match sent {
                Ok(Ok(())) => {
                    tracing::info!(connector = %connector, tasks, "task configs sent to the leader");
                }
                Ok(Err(message)) => {
                    tracing::info!(connector = %connector, %message, "task configs not stored yet; sending them again shortly");
                }
                Err(_) => {
                    tracing::warn!(connector = %connector, "the leader did not answer a task config report in time; sending it again");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ferry_connectors::sdk::{
        ConfigDef, ConfigValues, ConnectorError, ConnectorFactory, ConnectorType,
    };

    use super::*;
    use crate::leader::assignment::Assignment;

    /// A plugin-like factory: its task configs are whatever its "instance" reported.
    struct ReportingFactory {
        reported: Arc<Mutex<Option<Vec<TaskConfig>>>>,
    }

    impl ConnectorFactory for ReportingFactory {
        fn class_names(&self) -> &'static [&'static str] {
            &["com.example.JarSourceConnector"]
        }
        fn connector_type(&self) -> ConnectorType {
            ConnectorType::Source
        }
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new()
        }
        fn task_configs(
            &self,
            _config: &ConfigValues,
            _max_tasks: usize,
        ) -> Result<Vec<TaskConfig>, ConnectorError> {
            self.reported
                .lock()
                .unwrap()
                .clone()
                .ok_or_else(|| ConnectorError::external("not reported yet"))
        }
        fn plans_tasks_on_assigned_worker(&self) -> bool {
            true
        }
    }

    fn config(class: &str) -> BTreeMap<String, String> {
        [
            ("connector.class", class),
            ("name", "c"),
            ("tasks.max", "2"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
    }

    #[test]
    fn reports_are_due_from_the_assigned_worker_while_stored_task_configs_differ() {
        let reported = Arc::new(Mutex::new(None));
        let mut registry = ferry_connectors::builtin_registry();
        registry.add(ReportingFactory {
            reported: Arc::clone(&reported),
        });
        let providers = ConfigProviders::default();
        let mut snapshot = ConfigSnapshot::default();
        snapshot
            .connectors
            .insert("jar".to_string(), config("JarSource"));
        snapshot
            .connectors
            .insert("builtin".to_string(), config("FileStreamSource"));
        snapshot.assignment = Some(Assignment {
            epoch: 1,
            connectors: [
                ("jar".to_string(), "w1".to_string()),
                ("builtin".to_string(), "w1".to_string()),
            ]
            .into(),
            tasks: BTreeMap::new(),
            ..Assignment::default()
        });

        // Nothing reported by the instance yet: nothing to send.
        assert!(due_reports(&registry, &providers, &snapshot, "w1").is_empty());

        let task: TaskConfig = [("task.key".to_string(), "a".to_string())].into();
        *reported.lock().unwrap() = Some(vec![task.clone()]);
        let due = due_reports(&registry, &providers, &snapshot, "w1");
        assert_eq!(
            due.len(),
            1,
            "only the plugin connector is reported: {due:?}"
        );
        assert_eq!(due[0].connector, "jar");
        assert_eq!(due[0].for_config, snapshot.connectors["jar"]);
        assert_eq!(due[0].tasks[0]["task.key"], "a");
        assert_eq!(
            due[0].tasks[0]["connector.class"], "JarSource",
            "task configs carry the class"
        );
        // Another worker does not report it.
        assert!(due_reports(&registry, &providers, &snapshot, "w2").is_empty());

        // Once stored, nothing is due; a reconfiguration makes it due again.
        snapshot
            .tasks
            .insert("jar".to_string(), due[0].tasks.clone());
        assert!(due_reports(&registry, &providers, &snapshot, "w1").is_empty());
        let changed: TaskConfig = [("task.key".to_string(), "b".to_string())].into();
        *reported.lock().unwrap() = Some(vec![task, changed]);
        let due = due_reports(&registry, &providers, &snapshot, "w1");
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].tasks.len(), 2);

        // A stopped connector is not reported.
        snapshot
            .target_states
            .insert("jar".to_string(), TargetState::Stopped);
        assert!(due_reports(&registry, &providers, &snapshot, "w1").is_empty());
    }
}
