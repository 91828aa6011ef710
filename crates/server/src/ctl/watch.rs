//! `ferry ctl watch`: prints `ClusterService/Watch` events as they arrive, one line each (text) or
//! one JSON object per line (`-o json`).
//!
//! JSON lines, all with `"timestamp_ms"` and `"type"`:
//! - `{"type": "connector_status", "status": <status as in describe, without class/config>}`
//! - `{"type": "connector_deleted", "name": "..."}`
//! - `{"type": "members_changed", "leader_id": "..." | null, "members": [{"node_id",
//!   "address", "ready", "leader"}]}`
//! - `{"type": "unknown"}` for an event this client does not know (a newer server).

use serde::Serialize;
use tonic::Code;

use super::output::{format_timestamp, write_stdout};
use super::views::StatusView;
use super::{CtlError, OutputFormat, Session};
use crate::grpc::proto;
use crate::grpc::proto::watch_event::Event;

/// One event of the stream.
#[derive(Debug, Serialize)]
struct WatchEventView {
    timestamp_ms: i64,
    #[serde(flatten)]
    event: WatchEventKind,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WatchEventKind {
    ConnectorStatus {
        status: StatusView,
    },
    ConnectorDeleted {
        name: String,
    },
    MembersChanged {
        leader_id: Option<String>,
        members: Vec<WatchMemberView>,
    },
    Unknown,
}

#[derive(Debug, Serialize)]
struct WatchMemberView {
    node_id: String,
    address: String,
    ready: bool,
    leader: bool,
}

impl From<proto::WatchEvent> for WatchEventView {
    fn from(event: proto::WatchEvent) -> Self {
        let kind = match event.event {
            Some(Event::ConnectorStatus(status)) => WatchEventKind::ConnectorStatus {
                status: StatusView::from(status),
            },
            Some(Event::ConnectorDeleted(name)) => WatchEventKind::ConnectorDeleted { name },
            Some(Event::MembersChanged(membership)) => WatchEventKind::MembersChanged {
                leader_id: (!membership.leader_id.is_empty()).then_some(membership.leader_id),
                members: membership
                    .members
                    .into_iter()
                    .map(|member| WatchMemberView {
                        node_id: member.node_id,
                        address: member.advertise_addr,
                        ready: member.ready,
                        leader: member.leader,
                    })
                    .collect(),
            },
            None => WatchEventKind::Unknown,
        };
        WatchEventView {
            timestamp_ms: event.timestamp_ms,
            event: kind,
        }
    }
}

impl WatchEventView {
    /// One line for people, e.g.
    /// `2025-03-01T12:34:56.789Z gen RUNNING on w1; task 0 RUNNING on w1; task 1 FAILED on w2: boom`.
    fn to_line(&self) -> String {
        let time = format_timestamp(self.timestamp_ms);
        match &self.event {
            WatchEventKind::ConnectorStatus { status } => {
                let mut line = format!(
                    "{time} {} {}{}",
                    status.name,
                    status.connector.state,
                    on_worker(&status.connector.worker_id)
                );
                for task in &status.tasks {
                    line.push_str(&format!(
                        "; task {} {}{}",
                        task.id,
                        task.state,
                        on_worker(&task.worker_id)
                    ));
                    if let Some(trace) = &task.trace {
                        line.push_str(&format!(": {}", super::output::first_line(trace)));
                    }
                }
                line
            }
            WatchEventKind::ConnectorDeleted { name } => format!("{time} {name} DELETED"),
            WatchEventKind::MembersChanged { members, .. } => {
                let described: Vec<String> = members
                    .iter()
                    .map(|member| {
                        let leader_mark = if member.leader { "*" } else { "" };
                        let readiness = if member.ready { "ready" } else { "not ready" };
                        format!("{}{leader_mark} ({readiness})", member.node_id)
                    })
                    .collect();
                format!("{time} members: {}", described.join(", "))
            }
            WatchEventKind::Unknown => format!("{time} (an event this client does not know)"),
        }
    }
}

fn on_worker(worker_id: &str) -> String {
    if worker_id.is_empty() {
        String::new()
    } else {
        format!(" on {worker_id}")
    }
}

/// Streams events until the server ends the stream, stdout closes, or the process is interrupted.
pub(super) async fn watch(session: &Session, request: proto::WatchRequest) -> Result<(), CtlError> {
    // No call timeout: the stream is meant to stay open.
    let channel = session.connect(None).await?;
    let mut client = proto::cluster_service_client::ClusterServiceClient::new(channel);
    let mut stream = match client.watch(request).await {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == Code::Unimplemented => {
            return Err(CtlError::Server(tonic::Status::unimplemented(format!(
                "the server at {} cannot stream events yet (upgrade the worker): {}",
                session.server,
                status.message()
            ))));
        }
        Err(status) => return Err(status.into()),
    };
    while let Some(event) = stream.message().await? {
        let view = WatchEventView::from(event);
        let mut line = match session.output {
            OutputFormat::Table => view.to_line(),
            OutputFormat::Json => {
                serde_json::to_string(&view).expect("views are plain structs with string keys")
            }
        };
        line.push('\n');
        if !write_stdout(&line) {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_event() -> proto::WatchEvent {
        proto::WatchEvent {
            timestamp_ms: 0,
            event: Some(Event::ConnectorStatus(proto::ConnectorStatus {
                name: "gen".into(),
                connector: Some(proto::ConnectorState {
                    state: "RUNNING".into(),
                    worker_id: "w1".into(),
                    trace: None,
                    ..Default::default()
                }),
                tasks: vec![proto::TaskState {
                    id: 0,
                    state: "FAILED".into(),
                    worker_id: "w2".into(),
                    trace: Some("boom\n at x".into()),
                    ..Default::default()
                }],
                r#type: "source".into(),
            })),
        }
    }

    #[test]
    fn a_status_event_is_one_line() {
        let line = WatchEventView::from(status_event()).to_line();
        assert_eq!(
            line,
            "1970-01-01T00:00:00.000Z gen RUNNING on w1; task 0 FAILED on w2: boom"
        );
    }

    #[test]
    fn json_lines_are_tagged_by_type() {
        let json = serde_json::to_value(WatchEventView::from(status_event())).unwrap();
        assert_eq!(json["type"], "connector_status");
        assert_eq!(json["timestamp_ms"], 0);
        assert_eq!(json["status"]["tasks"][0]["state"], "FAILED");
        let deleted = proto::WatchEvent {
            timestamp_ms: 5,
            event: Some(Event::ConnectorDeleted("gen".into())),
        };
        let json = serde_json::to_value(WatchEventView::from(deleted)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"timestamp_ms": 5, "type": "connector_deleted", "name": "gen"})
        );
    }
}
