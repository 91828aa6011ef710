//! Three `ferry worker` processes on the real broker: tasks spread evenly, a killed worker's tasks
//! run elsewhere within seconds, a restarted worker gets its share back, and killing the leader
//! elects a new one that accepts configs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferry_tests::{all_running, tasks_per_worker, unique_name, Api, FerryProcess};
use nix::sys::signal::Signal;
use serde_json::json;

#[tokio::test]
async fn tasks_spread_fail_over_and_rebalance_across_three_workers() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("cluster");
    let (addrs, started) = ferry_tests::start_cluster(dir.path(), &prefix, 3, &[])
        .await
        .unwrap();
    let mut workers: Vec<Option<FerryProcess>> = started.into_iter().map(Some).collect();
    let api = Api::new(addrs[0]);

    // Submit through a worker that is not the leader: it forwards to the leader.
    let (_, view) = api.get("/cluster").await.unwrap();
    let leader_id = view["leader"].as_str().unwrap().to_string();
    let followers: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|addr| format!("node-{}", addr.port()) != leader_id)
        .collect();
    let api = Api::new(followers[0]);
    let created_at = Instant::now();
    api.create_connector(
        "gen",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence", "tasks.max": 6, "max.interval": 100}),
    )
    .await
    .unwrap();
    // (a) 2/2/2, and the status reads the same on every node.
    let status = api
        .wait_status("gen", Duration::from_secs(60), |s| {
            all_running(s, 6)
                && tasks_per_worker(s).values().all(|count| *count == 2)
                && tasks_per_worker(s).len() == 3
        })
        .await
        .unwrap();
    println!(
        "config POST to all 6 tasks RUNNING on 3 workers: {:?}",
        created_at.elapsed()
    );
    for addr in &addrs {
        Api::new(*addr)
            .wait_status("gen", Duration::from_secs(5), |s| {
                tasks_per_worker(s) == tasks_per_worker(&status)
            })
            .await
            .unwrap();
    }

    // Creates go through the leader, so the same name sent to two followers at once is created once.
    let body = json!({"name": "dup", "config": {"connector.class": "Datagen", "kafka.topic": format!("{prefix}-dup"), "quickstart": "sequence"}});
    let (first_api, second_api) = (Api::new(followers[0]), Api::new(followers[1]));
    let (first, second) = tokio::join!(
        first_api.call(reqwest::Method::POST, "/connectors", Some(&body)),
        second_api.call(reqwest::Method::POST, "/connectors", Some(&body)),
    );
    let mut codes = vec![first.unwrap().0, second.unwrap().0];
    codes.sort_unstable();
    assert_eq!(
        codes,
        vec![201, 409],
        "one create wins, the other is told it exists"
    );
    let (status, _) = api
        .call(reqwest::Method::DELETE, "/connectors/dup", None)
        .await
        .unwrap();
    assert_eq!(status, 204);

    // (b) kill -9 a worker: its tasks run elsewhere within 10 s.
    let victim = addrs.iter().position(|addr| *addr == followers[1]).unwrap();
    let victim_id = addrs[victim].to_string();
    workers[victim]
        .as_ref()
        .unwrap()
        .signal(Signal::SIGKILL)
        .unwrap();
    let killed_at = Instant::now();
    workers[victim]
        .as_mut()
        .unwrap()
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap();
    let after_kill = api
        .wait_status("gen", Duration::from_secs(20), |s| {
            all_running(s, 6) && !tasks_per_worker(s).contains_key(&victim_id)
        })
        .await
        .unwrap();
    let failover = killed_at.elapsed();
    println!(
        "failover after kill -9: {failover:?}; tasks now {:?}",
        tasks_per_worker(&after_kill)
    );
    assert!(
        failover < Duration::from_secs(10),
        "failover took {failover:?}"
    );
    assert!(tasks_per_worker(&after_kill)
        .values()
        .all(|count| *count == 3));

    // (c) the worker comes back: 2/2/2 again.
    workers[victim] = Some(
        FerryProcess::cluster_worker(dir.path(), &prefix, addrs[victim], &addrs, &[]).unwrap(),
    );
    workers[victim]
        .as_mut()
        .unwrap()
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();
    api.wait_status("gen", Duration::from_secs(30), |s| {
        all_running(s, 6)
            && tasks_per_worker(s).len() == 3
            && tasks_per_worker(s).values().all(|count| *count == 2)
    })
    .await
    .unwrap();

    // (d) kill -9 the leader: a new one is elected, and a config created through a survivor runs.
    let (_, view) = api.get("/cluster").await.unwrap();
    let leader_id = view["leader"].as_str().unwrap().to_string();
    let leader_index = addrs
        .iter()
        .position(|addr| format!("node-{}", addr.port()) == leader_id)
        .unwrap();
    workers[leader_index]
        .as_ref()
        .unwrap()
        .signal(Signal::SIGKILL)
        .unwrap();
    workers[leader_index]
        .as_mut()
        .unwrap()
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap();
    let survivor = Api::new(addrs[(leader_index + 1) % 3]);
    ferry_tests::wait_until(Duration::from_secs(20), "a new leader", || {
        let survivor = survivor.clone();
        let leader_id = leader_id.clone();
        async move {
            let (_, view) = survivor.get("/cluster").await.ok()?;
            let leader = view["leader"].as_str()?;
            (leader != leader_id).then_some(())
        }
    })
    .await
    .unwrap();
    survivor
        .create_connector(
            "after-leader-death",
            json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-late"), "quickstart": "sequence", "tasks.max": 2, "max.interval": 100}),
        )
        .await
        .unwrap();
    survivor
        .wait_status("after-leader-death", Duration::from_secs(30), |s| {
            all_running(s, 2)
        })
        .await
        .unwrap();
    survivor
        .wait_status("gen", Duration::from_secs(30), |s| all_running(s, 6))
        .await
        .unwrap();
}

#[tokio::test]
async fn sigterm_hands_tasks_over_before_the_worker_exits() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("leave");
    let (addrs, mut workers) = ferry_tests::start_cluster(dir.path(), &prefix, 2, &[])
        .await
        .unwrap();
    let api = Api::new(addrs[0]);
    api.create_connector(
        "gen",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence", "tasks.max": 4, "max.interval": 50}),
    )
    .await
    .unwrap();
    api.wait_status("gen", Duration::from_secs(60), |s| {
        all_running(s, 4) && tasks_per_worker(s).len() == 2
    })
    .await
    .unwrap();

    let leaving = addrs[1].to_string();
    let started = Instant::now();
    workers[1].signal(Signal::SIGTERM).unwrap();
    let status = workers[1].wait_exit(Duration::from_secs(20)).await.unwrap();
    assert!(
        status.success(),
        "a SIGTERM stop exits 0: {}",
        workers[1].stderr()
    );
    let moved = api
        .wait_status("gen", Duration::from_secs(10), |s| {
            all_running(s, 4) && !tasks_per_worker(s).contains_key(&leaving)
        })
        .await
        .unwrap();
    println!(
        "graceful leave: tasks on the remaining worker {:?} after {:?}",
        tasks_per_worker(&moved),
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "handover took {:?}",
        started.elapsed()
    );
}
