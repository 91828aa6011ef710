//! `ferry.v1.ClusterService/Watch` against workers on the real broker: the initial snapshot,
//! the filter, a deletion and the end of the stream at shutdown on one worker; a member leaving
//! and its task moving on a three-worker cluster after kill -9.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferry_tests::{all_running, free_local_addr, unique_name, Api, FerryProcess};
use nix::sys::signal::Signal;
use serde_json::json;
use tonic::transport::Channel;
use tonic::Streaming;

#[allow(unreachable_pub, dead_code, clippy::all, clippy::pedantic)]
mod proto {
    tonic::include_proto!("ferry.v1");
}

use proto::cluster_service_client::ClusterServiceClient;
use proto::watch_event::Event;

async fn cluster_client(addr: SocketAddr) -> ClusterServiceClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ClusterServiceClient::new(channel)
}

async fn open_watch(addr: SocketAddr, connectors: &[&str]) -> Streaming<proto::WatchEvent> {
    let mut client = cluster_client(addr).await;
    client
        .watch(proto::WatchRequest {
            connectors: connectors.iter().map(ToString::to_string).collect(),
            include_initial: true,
            include_members: true,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Reads events until `done` returns true for one, or fails at `deadline`; returns every event
/// read, the matching one last.
async fn read_until(
    stream: &mut Streaming<proto::WatchEvent>,
    deadline: Instant,
    what: &str,
    mut done: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout_at(deadline.into(), stream.message()).await;
        let event = match next {
            Ok(Ok(Some(message))) => message.event.expect("every watch event has a payload"),
            Ok(Ok(None)) => {
                panic!("the watch stream ended while waiting for {what}; saw {seen:#?}")
            }
            Ok(Err(status)) => {
                panic!("the watch stream failed while waiting for {what}: {status}; saw {seen:#?}")
            }
            Err(_) => panic!("timed out waiting for {what}; saw {seen:#?}"),
        };
        let matched = done(&event);
        seen.push(event);
        if matched {
            return seen;
        }
    }
}

fn task_states(status: &proto::ConnectorStatus) -> BTreeMap<u32, (String, String)> {
    status
        .tasks
        .iter()
        .map(|task| (task.id, (task.state.clone(), task.worker_id.clone())))
        .collect()
}

fn connector_running_with_tasks(status: &proto::ConnectorStatus, count: usize) -> bool {
    status
        .connector
        .as_ref()
        .is_some_and(|state| state.state == "RUNNING")
        && status.tasks.len() == count
        && status.tasks.iter().all(|task| task.state == "RUNNING")
}

#[tokio::test]
async fn watch_starts_with_the_current_state_then_follows_changes_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("watch-one");
    let addr = free_local_addr();
    let mut worker = FerryProcess::cluster_worker(dir.path(), &prefix, addr, &[], &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    api.create_connector(
        "gen",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence", "tasks.max": 2, "max.interval": 100}),
    )
    .await
    .unwrap();
    api.create_connector(
        "other",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-other"), "quickstart": "sequence", "tasks.max": 1, "max.interval": 100}),
    )
    .await
    .unwrap();
    for name in ["gen", "other"] {
        api.wait_status(name, Duration::from_secs(60), |s| all_running(s, 1))
            .await
            .unwrap();
    }
    api.wait_status("gen", Duration::from_secs(30), |s| all_running(s, 2))
        .await
        .unwrap();

    // The initial snapshot: the members (this worker, leading) and gen's RUNNING tasks, without
    // waiting for any change; `other` is filtered out.
    let mut stream = open_watch(addr, &["gen"]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut members_seen = false;
    let mut gen_seen = false;
    let seen = read_until(&mut stream, deadline, "the initial snapshot", |event| {
        match event {
            Event::MembersChanged(members) => {
                assert_eq!(members.leader_id, ferry_tests::node_id_of(addr));
                assert_eq!(members.members.len(), 1);
                assert!(members.members[0].leader && members.members[0].ready);
                assert_eq!(members.members[0].advertise_addr, addr.to_string());
                members_seen = true;
            }
            Event::ConnectorStatus(status) => {
                assert_eq!(status.name, "gen", "the filter keeps other connectors out");
                assert!(
                    connector_running_with_tasks(status, 2),
                    "initial status: {status:?}"
                );
                assert!(status
                    .tasks
                    .iter()
                    .all(|task| task.worker_id == addr.to_string()));
                gen_seen = true;
            }
            Event::ConnectorDeleted(name) => panic!("unexpected deletion of {name}"),
        }
        members_seen && gen_seen
    })
    .await;
    assert_eq!(seen.len(), 2, "one event each: {seen:#?}");

    // A change: pausing gen streams PAUSED; deleting it streams its deletion.
    let (code, _) = api
        .call(reqwest::Method::PUT, "/connectors/gen/pause", None)
        .await
        .unwrap();
    assert_eq!(code, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    read_until(&mut stream, deadline, "gen PAUSED", |event| {
        matches!(event, Event::ConnectorStatus(status)
            if status.tasks.len() == 2 && status.tasks.iter().all(|task| task.state == "PAUSED"))
    })
    .await;
    let (code, _) = api
        .call(reqwest::Method::DELETE, "/connectors/gen", None)
        .await
        .unwrap();
    assert_eq!(code, 204);
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = read_until(
        &mut stream,
        deadline,
        "gen deleted",
        |event| matches!(event, Event::ConnectorDeleted(name) if name == "gen"),
    )
    .await;
    assert!(
        seen.iter().all(|event| match event {
            Event::ConnectorStatus(status) => status.name == "gen",
            _ => true,
        }),
        "the filter keeps other connectors out: {seen:#?}"
    );

    // Shutdown ends the stream (UNAVAILABLE), before the worker is gone.
    worker.signal(Signal::SIGTERM).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(status) => return Some(status.code()),
            }
        }
    })
    .await
    .expect("the watch stream ends when the worker shuts down");
    assert_eq!(ended, Some(tonic::Code::Unavailable));
    let exit = worker.wait_exit(Duration::from_secs(20)).await.unwrap();
    assert!(exit.success(), "{}", worker.stderr());
}

#[tokio::test]
async fn watch_shows_a_killed_member_leave_and_its_task_move() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("watch-three");
    let (addrs, mut workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, &[])
        .await
        .unwrap();
    let worker_a = addrs[0];
    let api = Api::new(worker_a);
    api.create_connector(
        "gen",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence", "tasks.max": 3, "max.interval": 100}),
    )
    .await
    .unwrap();
    api.wait_status("gen", Duration::from_secs(60), |s| {
        let workers: BTreeSet<&str> = s["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|task| task["worker_id"].as_str())
            .collect();
        all_running(s, 3) && workers.len() == 3
    })
    .await
    .unwrap();

    // Watch on A; its initial snapshot shows three members and the tasks spread over them.
    let mut stream = open_watch(worker_a, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut members_opt: Option<proto::ListMembersResponse> = None;
    let mut status_opt: Option<proto::ConnectorStatus> = None;
    read_until(&mut stream, deadline, "the initial snapshot", |event| {
        match event {
            Event::MembersChanged(members) => members_opt = Some(members.clone()),
            Event::ConnectorStatus(status) if status.name == "gen" => {
                status_opt = Some(status.clone());
            }
            _ => {}
        }
        members_opt
            .as_ref()
            .is_some_and(|members| members.members.len() == 3)
            && status_opt
                .as_ref()
                .is_some_and(|status| connector_running_with_tasks(status, 3))
    })
    .await;
    let members = members_opt.unwrap();
    let status = status_opt.unwrap();

    // C: a worker other than A, not the leader when there is a choice, running a task of gen.
    let leader_id = members.leader_id.clone();
    let mut candidates: Vec<usize> = (1..3).collect();
    candidates.sort_by_key(|index| ferry_tests::node_id_of(addrs[*index]) == leader_id);
    let victim = candidates[0];
    let victim_addr = addrs[victim].to_string();
    let victim_tasks: Vec<u32> = status
        .tasks
        .iter()
        .filter(|task| task.worker_id == victim_addr)
        .map(|task| task.id)
        .collect();
    assert!(
        !victim_tasks.is_empty(),
        "C runs a task: {:?}",
        task_states(&status)
    );

    workers[victim].signal(Signal::SIGKILL).unwrap();
    let killed_at = Instant::now();
    workers[victim]
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap();

    let deadline = killed_at + Duration::from_secs(20);
    let mut member_left_after = None;
    let mut task_moved_after = None;
    let victim_node = ferry_tests::node_id_of(addrs[victim]);
    read_until(
        &mut stream,
        deadline,
        "C leaving and its task RUNNING elsewhere",
        |event| {
            match event {
                Event::MembersChanged(members)
                    if members.members.len() == 2
                        && members
                            .members
                            .iter()
                            .all(|member| member.node_id != victim_node) =>
                {
                    assert!(!members.leader_id.is_empty(), "a leader remains");
                    member_left_after.get_or_insert_with(|| killed_at.elapsed());
                }
                Event::ConnectorStatus(status) if status.name == "gen" => {
                    let moved = victim_tasks.iter().all(|id| {
                        status.tasks.iter().any(|task| {
                            task.id == *id
                                && task.state == "RUNNING"
                                && !task.worker_id.is_empty()
                                && task.worker_id != victim_addr
                        })
                    });
                    if moved && task_moved_after.is_none() {
                        task_moved_after = Some(killed_at.elapsed());
                    }
                }
                _ => {}
            }
            member_left_after.is_some() && task_moved_after.is_some()
        },
    )
    .await;
    println!(
        "after kill -9: member left in the watch after {member_left_after:?}, \
         its tasks {victim_tasks:?} RUNNING elsewhere after {task_moved_after:?}"
    );
}
