//! What each command prints: plain structs that serialize to the documented, stable `-o json`
//! shapes, built by hand from the gRPC responses (prost types do not derive `Serialize`), and
//! rendered as text for people.
//!
//! Field names follow Kafka Connect's REST JSON where there is a counterpart (`name`, `type`,
//! `connector.state`, `worker_id`, `trace`); optional values are `null`, never missing.

use std::collections::{BTreeMap, BTreeSet};

use crate::grpc::convert::json_from_struct;
use serde::Serialize;
use serde_json::{Map as JsonMap, Value as JsonValue};

use super::output::{first_line, Table};
use crate::grpc::proto;

/// A command's result: JSON for scripts, text for people.
pub(super) trait View: Serialize {
    /// The text printed for `-o table`, ending in a newline.
    fn to_text(&self) -> String;
}

/// `apply`, `delete`, `pause`, `resume`, `stop`:
/// `{"name": "gen", "action": "created"}`.
#[derive(Debug, Serialize)]
pub(super) struct ActionView {
    pub(super) name: String,
    /// created | configured | deleted | paused | resumed | stopped
    pub(super) action: &'static str,
}

impl View for ActionView {
    fn to_text(&self) -> String {
        format!("connector/{} {}\n", self.name, self.action)
    }
}

/// `restart`: `{"name", "action": "restarted", "plan": <status> | null}`; the plan lists what
/// restarts (state RESTARTING) and is only returned when `--tasks` or `--failed` was given.
#[derive(Debug, Serialize)]
pub(super) struct RestartView {
    pub(super) name: String,
    pub(super) action: &'static str,
    pub(super) plan: Option<StatusView>,
}

impl View for RestartView {
    fn to_text(&self) -> String {
        let mut text = format!("connector/{} {}\n", self.name, self.action);
        if let Some(plan) = &self.plan {
            text.push_str(&format!("plan: connector {}\n", plan.connector.state));
            let mut table = Table::new(&["TASK", "STATE", "WORKER"]);
            for task in &plan.tasks {
                table.push_row(vec![
                    task.id.to_string(),
                    task.state.clone(),
                    task.worker_id.clone(),
                ]);
            }
            if !plan.tasks.is_empty() {
                text.push_str(&table.render());
            }
        }
        text
    }
}

/// The connector instance's state: `{"state", "worker_id", "trace"}`.
#[derive(Debug, Serialize)]
pub(super) struct ConnectorStateView {
    pub(super) state: String,
    pub(super) worker_id: String,
    pub(super) trace: Option<String>,
}

/// One task: `{"id", "state", "worker_id", "restarts", "trace", "last_error"}`.
#[derive(Debug, Serialize)]
pub(super) struct TaskView {
    pub(super) id: u32,
    pub(super) state: String,
    pub(super) worker_id: String,
    pub(super) restarts: u32,
    pub(super) trace: Option<String>,
    pub(super) last_error: Option<String>,
}

/// Kafka Connect's status JSON: `{"name", "type", "connector": {...}, "tasks": [...]}`.
#[derive(Debug, Serialize)]
pub(super) struct StatusView {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) connector_type: String,
    pub(super) connector: ConnectorStateView,
    pub(super) tasks: Vec<TaskView>,
}

impl From<proto::ConnectorStatus> for StatusView {
    fn from(status: proto::ConnectorStatus) -> Self {
        let connector = status.connector.unwrap_or_default();
        StatusView {
            name: status.name,
            connector_type: status.r#type,
            connector: ConnectorStateView {
                state: connector.state,
                worker_id: connector.worker_id,
                trace: connector.trace,
            },
            tasks: status
                .tasks
                .into_iter()
                .map(|task| TaskView {
                    id: task.id,
                    state: task.state,
                    worker_id: task.worker_id,
                    restarts: task.restarts,
                    trace: task.trace,
                    last_error: task.last_error,
                })
                .collect(),
        }
    }
}

/// `describe`: the status JSON plus `"class"` and `"config"` (a string map).
#[derive(Debug, Serialize)]
pub(super) struct DescribeView {
    #[serde(flatten)]
    pub(super) status: StatusView,
    pub(super) class: String,
    pub(super) config: BTreeMap<String, String>,
}

impl View for DescribeView {
    fn to_text(&self) -> String {
        let connector = &self.status.connector;
        let mut text = format!(
            "Name:    {}\nType:    {}\nClass:   {}\nState:   {}\nWorker:  {}\n",
            self.status.name,
            self.status.connector_type,
            self.class,
            connector.state,
            connector.worker_id
        );
        if let Some(trace) = &connector.trace {
            text.push_str(&format!("Trace:   {}\n", first_line(trace)));
        }
        text.push('\n');
        let mut table = Table::new(&["ID", "STATE", "WORKER", "RESTARTS", "LAST-ERROR"]);
        for task in &self.status.tasks {
            let error = task.trace.as_ref().or(task.last_error.as_ref());
            table.push_row(vec![
                task.id.to_string(),
                task.state.clone(),
                task.worker_id.clone(),
                task.restarts.to_string(),
                error.map(|error| first_line(error)).unwrap_or_default(),
            ]);
        }
        text.push_str(&table.render());
        text
    }
}

/// One row of `get connectors`.
#[derive(Debug, Serialize)]
pub(super) struct ConnectorSummaryView {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) connector_type: String,
    pub(super) state: String,
    pub(super) worker_id: String,
    pub(super) tasks_running: usize,
    pub(super) tasks_total: usize,
    /// Sorted, distinct workers of the tasks (of the connector when it has no tasks).
    pub(super) workers: Vec<String>,
}

impl From<proto::ConnectorStatus> for ConnectorSummaryView {
    fn from(status: proto::ConnectorStatus) -> Self {
        let connector = status.connector.unwrap_or_default();
        let running_state = "RUNNING";
        let tasks_running = status
            .tasks
            .iter()
            .filter(|task| task.state == running_state)
            .count();
        let mut workers: BTreeSet<String> = status
            .tasks
            .iter()
            .map(|task| task.worker_id.clone())
            .filter(|worker| !worker.is_empty())
            .collect();
        if workers.is_empty() && !connector.worker_id.is_empty() {
            workers.insert(connector.worker_id.clone());
        }
        ConnectorSummaryView {
            name: status.name,
            connector_type: status.r#type,
            state: connector.state,
            worker_id: connector.worker_id,
            tasks_running,
            tasks_total: status.tasks.len(),
            workers: workers.into_iter().collect(),
        }
    }
}

/// `get connectors`: `{"connectors": [{"name", "type", "state", "worker_id", "tasks_running",
/// "tasks_total", "workers"}]}`, sorted by name.
#[derive(Debug, Serialize)]
pub(super) struct ConnectorListView {
    pub(super) connectors: Vec<ConnectorSummaryView>,
}

impl View for ConnectorListView {
    fn to_text(&self) -> String {
        let mut table = Table::new(&["NAME", "TYPE", "STATE", "TASKS", "WORKERS"]);
        for connector in &self.connectors {
            table.push_row(vec![
                connector.name.clone(),
                connector.connector_type.clone(),
                connector.state.clone(),
                format!("{}/{}", connector.tasks_running, connector.tasks_total),
                connector.workers.join(","),
            ]);
        }
        table.render()
    }
}

/// One committed offset: `{"partition": {...}, "offset": {...} | null}`.
#[derive(Debug, Serialize)]
pub(super) struct OffsetView {
    pub(super) partition: JsonMap<String, JsonValue>,
    pub(super) offset: Option<JsonMap<String, JsonValue>>,
}

/// `offsets`: Kafka Connect's `{"offsets": [{"partition", "offset"}]}`.
#[derive(Debug, Serialize)]
pub(super) struct OffsetsView {
    pub(super) offsets: Vec<OffsetView>,
}

impl From<proto::ConnectorOffsets> for OffsetsView {
    fn from(offsets: proto::ConnectorOffsets) -> Self {
        let offsets = offsets
            .offsets
            .into_iter()
            .map(|entry| OffsetView {
                partition: entry.partition.map(json_from_struct).unwrap_or_default(),
                offset: entry.offset.map(json_from_struct),
            })
            .collect();
        OffsetsView { offsets }
    }
}

impl View for OffsetsView {
    fn to_text(&self) -> String {
        let mut table = Table::new(&["PARTITION", "OFFSET"]);
        for entry in &self.offsets {
            let offset = entry.offset.as_ref().map_or_else(
                || "null".to_string(),
                |offset| JsonValue::Object(offset.clone()).to_string(),
            );
            table.push_row(vec![
                JsonValue::Object(entry.partition.clone()).to_string(),
                offset,
            ]);
        }
        table.render()
    }
}

/// One plugin: `{"class", "type", "version"}` (Kafka Connect's PluginInfo).
#[derive(Debug, Serialize)]
pub(super) struct PluginView {
    pub(super) class: String,
    #[serde(rename = "type")]
    pub(super) plugin_type: String,
    pub(super) version: Option<String>,
}

/// `plugins`: `{"plugins": [...]}`.
#[derive(Debug, Serialize)]
pub(super) struct PluginsView {
    pub(super) plugins: Vec<PluginView>,
}

impl From<proto::ListPluginsResponse> for PluginsView {
    fn from(response: proto::ListPluginsResponse) -> Self {
        let plugins = response
            .plugins
            .into_iter()
            .map(|plugin| PluginView {
                class: plugin.class,
                plugin_type: plugin.r#type,
                version: plugin.version,
            })
            .collect();
        PluginsView { plugins }
    }
}

impl View for PluginsView {
    fn to_text(&self) -> String {
        let mut table = Table::new(&["CLASS", "TYPE", "VERSION"]);
        for plugin in &self.plugins {
            table.push_row(vec![
                plugin.class.clone(),
                plugin.plugin_type.clone(),
                plugin.version.clone().unwrap_or_default(),
            ]);
        }
        table.render()
    }
}

/// One worker of `cluster`: gossip's view plus what the leader assigned to it.
#[derive(Debug, Serialize)]
pub(super) struct MemberView {
    pub(super) node_id: String,
    pub(super) address: String,
    pub(super) ready: bool,
    pub(super) leader: bool,
    pub(super) version: String,
    /// Start time of the node (ms since the epoch).
    pub(super) generation: i64,
    /// Connectors assigned to this worker, sorted.
    pub(super) connectors: Vec<String>,
    /// Tasks assigned to this worker as `"<connector>/<task>"`, sorted.
    pub(super) tasks: Vec<String>,
}

/// `cluster`: `{"leader_id": "..." | null, "assignment_epoch": n, "members": [...]}`.
#[derive(Debug, Serialize)]
pub(super) struct ClusterView {
    pub(super) leader_id: Option<String>,
    pub(super) assignment_epoch: i64,
    pub(super) members: Vec<MemberView>,
}

impl ClusterView {
    pub(super) fn new(
        membership: proto::ListMembersResponse,
        assignment: proto::GetAssignmentResponse,
    ) -> Self {
        let leader_id = (!membership.leader_id.is_empty()).then_some(membership.leader_id);
        let mut by_worker: BTreeMap<String, proto::WorkerAssignment> = assignment
            .workers
            .into_iter()
            .map(|worker| (worker.worker_id.clone(), worker))
            .collect();
        let members = membership
            .members
            .into_iter()
            .map(|member| {
                // Assignments name a worker by node id; older workers used the address.
                let assigned = by_worker
                    .remove(&member.node_id)
                    .or_else(|| by_worker.remove(&member.advertise_addr))
                    .unwrap_or_default();
                let mut connectors = assigned.connectors;
                connectors.sort();
                let mut tasks: Vec<String> = assigned
                    .tasks
                    .iter()
                    .map(|task| format!("{}/{}", task.connector, task.task))
                    .collect();
                tasks.sort();
                MemberView {
                    node_id: member.node_id,
                    address: member.advertise_addr,
                    ready: member.ready,
                    leader: member.leader,
                    version: member.version,
                    generation: member.generation,
                    connectors,
                    tasks,
                }
            })
            .collect();
        ClusterView {
            leader_id,
            assignment_epoch: assignment.leader_epoch,
            members,
        }
    }
}

impl View for ClusterView {
    fn to_text(&self) -> String {
        let mut table = Table::new(&["NODE", "ADDRESS", "READY", "TASKS"]);
        for member in &self.members {
            let leader_mark = if member.leader { "*" } else { "" };
            table.push_row(vec![
                format!("{}{leader_mark}", member.node_id),
                member.address.clone(),
                if member.ready { "yes" } else { "no" }.to_string(),
                member.tasks.len().to_string(),
            ]);
        }
        let leader = self.leader_id.as_deref().unwrap_or("none elected");
        format!(
            "{}\n* leader: {leader}\nassignment epoch: {}\n",
            table.render().trim_end(),
            self.assignment_epoch
        )
    }
}
