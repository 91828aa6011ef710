//! The facade's data shapes. They serialise exactly as Kafka Connect's REST entities
//! (`rest/entities/*`), so the REST gateway returns them as they are.

use std::collections::BTreeMap;

use serde::Serialize;

/// `{"connector": "<name>", "task": <n>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

/// `ConnectorInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub connector_type: String,
}

/// The state of a connector or task instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceState {
    pub state: String,
    pub worker_id: String,
    /// The plugin version the instance runs (Kafka Connect 4.x, KIP-891); absent while unassigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// A task's state, with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskState {
    pub id: u32,
    pub state: String,
    pub worker_id: String,
    /// The plugin version the task runs (Kafka Connect 4.x); absent while unassigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Ferry: how often the task was restarted after failures.
    #[serde(skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// Ferry: how many retriable failures (its external system down) the task retried in
    /// place; while it retries one it is RUNNING with the error as `trace`.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub retries: u64,
    /// Ferry: the last error, kept after a successful restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(value: &u32) -> bool {
    *value == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// `ConnectorStateInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: InstanceState,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub connector_type: String,
}

/// `TaskInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: BTreeMap<String, String>,
}

/// `PluginInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    pub class: String,
    #[serde(rename = "type")]
    pub plugin_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One entry of `ConnectorOffsets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorOffset {
    pub partition: serde_json::Map<String, serde_json::Value>,
    pub offset: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `ConnectorOffsets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// What `POST /connectors` asks for.
#[derive(Debug, Clone)]
pub struct CreateConnector {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub initial_state: Option<String>,
}

/// One member in `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterMember {
    pub id: String,
    pub address: String,
    pub generation: u64,
    pub ready: bool,
    pub is_leader: bool,
    /// Tasks the member reports running (gossip).
    pub task_count: usize,
    /// Tasks the latest assignment gives it.
    pub assigned_tasks: usize,
    pub version: String,
}

/// `GET /cluster`: Ferry's own view of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    pub leader: Option<String>,
    pub assignment_epoch: u64,
    pub members: Vec<ClusterMember>,
    /// This node's quorum: without one it neither leads nor runs tasks.
    pub quorum: ferry_actors::leader::QuorumStatus,
}
