//! Membership tests on real UDP loopback sockets (failure detection, restart, leave, flapping
//! under CPU load) and on chitchat's in-memory `ChannelTransport` (published state).
//!
//! Timed scenarios print what they measure (run with `--nocapture`); the `#[ignore]`d ones are
//! the longer measurements quoted in the module docs:
//! `cargo test -p ferry-actors membership -- --ignored --nocapture --test-threads 1`.

use std::net::UdpSocket;
use std::time::Instant;

use chitchat::transport::{ChannelTransport, UdpTransport};
use futures::future::join_all;

use super::*;

const CLUSTER_ID: &str = "ferry-test";

/// Upper bound of any wait for the cluster to converge.
const CONVERGENCE_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns `count` distinct loopback addresses with ports that were free a moment ago.
fn free_udp_addrs(count: usize) -> Vec<SocketAddr> {
    let sockets: Vec<UdpSocket> = (0..count)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("loopback has free UDP ports"))
        .collect();
    sockets
        .iter()
        .map(|socket| socket.local_addr().expect("a bound socket has an address"))
        .collect()
}

fn node_config(node_id: &str, gossip_addr: SocketAddr, seeds: &[SocketAddr]) -> MembershipConfig {
    let mut config = MembershipConfig::new(
        node_id,
        CLUSTER_ID,
        gossip_addr,
        format!("{node_id}.test:8083"),
    );
    config.seeds = seeds
        .iter()
        .filter(|seed| **seed != gossip_addr)
        .map(SocketAddr::to_string)
        .collect();
    config
}

async fn start_node(config: MembershipConfig, transport: &dyn Transport) -> Membership {
    Membership::start(config, transport)
        .await
        .expect("membership starts")
}

/// Starts one node per id on UDP loopback, each seeded with all the others.
async fn start_udp_cluster(node_ids: &[&str]) -> Vec<Membership> {
    let addrs = free_udp_addrs(node_ids.len());
    let mut nodes = Vec::new();
    for (node_id, addr) in node_ids.iter().zip(&addrs) {
        nodes.push(start_node(node_config(node_id, *addr, &addrs), &UdpTransport).await);
    }
    nodes
}

/// Waits until `predicate` holds for the members map; returns whether it did before `timeout`.
async fn wait_for_members(
    membership: &Membership,
    timeout: Duration,
    predicate: impl FnMut(&Members) -> bool,
) -> bool {
    let mut members_rx = membership.members_rx();
    let outcome = tokio::time::timeout(timeout, members_rx.wait_for(predicate)).await;
    matches!(outcome, Ok(Ok(_)))
}

/// Waits until every node's members map holds exactly `node_ids`.
async fn wait_until_all_see(nodes: &[Membership], node_ids: &[&str]) {
    for node in nodes {
        let converged = wait_for_members(node, CONVERGENCE_TIMEOUT, |members| {
            members.len() == node_ids.len()
                && node_ids
                    .iter()
                    .all(|node_id| members.contains_key(*node_id))
        })
        .await;
        assert!(
            converged,
            "{} does not see {node_ids:?}",
            node.config().node_id
        );
    }
}

/// Returns the failure detection timeout `observer` currently applies to `observed`.
async fn failure_detection_timeout(
    observer: &Membership,
    observed: &Membership,
) -> Option<Duration> {
    let observed_id = observed.inner.chitchat_handle.chitchat_id().clone();
    observer
        .inner
        .chitchat_handle
        .with_chitchat(|chitchat| chitchat.failure_detection_timeout(&observed_id))
        .await
}

fn kill_all(nodes: &[Membership]) {
    for node in nodes {
        node.kill_for_test();
    }
}

/// Starts 3 nodes, kills `c` `kill_after_convergence` after all see each other, and returns
/// how long `a` and `b` took to drop it from their members map.
async fn measure_detection_time(kill_after_convergence: Duration) -> Vec<Duration> {
    let nodes = start_udp_cluster(&["a", "b", "c"]).await;
    wait_until_all_see(&nodes, &["a", "b", "c"]).await;
    // Part of the scenario (how long the node lived), not synchronisation.
    tokio::time::sleep(kill_after_convergence).await;
    let timeouts = join_all(
        nodes[..2]
            .iter()
            .map(|observer| failure_detection_timeout(observer, &nodes[2])),
    )
    .await;

    let killed_at = Instant::now();
    nodes[2].kill_for_test();
    let detection_times = join_all(nodes[..2].iter().map(|observer| async move {
        let dropped = wait_for_members(observer, CONVERGENCE_TIMEOUT, |members| {
            !members.contains_key("c")
        })
        .await;
        assert!(
            dropped,
            "{} still lists the killed node",
            observer.config().node_id
        );
        killed_at.elapsed()
    }))
    .await;
    println!(
        "killed {kill_after_convergence:?} after convergence: detection timeouts before the kill \
         {timeouts:?}, dropped after {detection_times:?} (dead_after {:?})",
        nodes[0].dead_after()
    );
    kill_all(&nodes);
    detection_times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_is_dropped_by_peers_within_seconds() {
    let detection_times = measure_detection_time(Duration::from_secs(2)).await;
    for detection_time in detection_times {
        assert!(
            detection_time < Duration::from_secs(5),
            "{detection_time:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_killed_right_after_joining_is_dropped_within_seconds() {
    let detection_times = measure_detection_time(Duration::ZERO).await;
    for detection_time in detection_times {
        assert!(
            detection_time < Duration::from_secs(5),
            "{detection_time:?}"
        );
    }
}

fn summarize(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{label}: median {median:?}, min {:?}, max {:?} over {} observations",
        samples[0],
        samples[samples.len() - 1],
        samples.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow measurement (~1 min); run with --ignored --nocapture"]
async fn detection_time_over_several_runs() {
    const RUNS: usize = 7;
    let mut steady = Vec::new();
    let mut just_joined = Vec::new();
    for _ in 0..RUNS {
        steady.extend(measure_detection_time(Duration::from_secs(5)).await);
        just_joined.extend(measure_detection_time(Duration::ZERO).await);
    }
    summarize("killed 5 s after convergence", steady.clone());
    summarize("killed right after convergence", just_joined.clone());
    for detection_time in steady.into_iter().chain(just_joined) {
        assert!(
            detection_time < Duration::from_secs(5),
            "{detection_time:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow measurement; run with --ignored --nocapture"]
async fn detection_timeout_by_cluster_size() {
    for cluster_size in [3, 5, 8] {
        let node_ids: Vec<String> = (0..cluster_size).map(|index| format!("n{index}")).collect();
        let node_id_refs: Vec<&str> = node_ids.iter().map(String::as_str).collect();
        let nodes = start_udp_cluster(&node_id_refs).await;
        wait_until_all_see(&nodes, &node_id_refs).await;
        // Part of the scenario: let the detector collect steady-state samples.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut timeouts = Vec::new();
        for observer in &nodes {
            for observed in &nodes {
                if let Some(timeout) = failure_detection_timeout(observer, observed).await {
                    timeouts.push(timeout);
                }
            }
        }
        summarize(
            &format!("{cluster_size} nodes, detection timeout"),
            timeouts,
        );
        kill_all(&nodes);
    }
}

/// Spins one OS thread per core (at least 2) until `duration` has passed.
fn spawn_cpu_burners(duration: Duration) -> Vec<std::thread::JoinHandle<u64>> {
    let burner_count = std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2));
    (0..burner_count)
        .map(|_| {
            std::thread::spawn(move || {
                let deadline = Instant::now() + duration;
                let mut spins = 0u64;
                while Instant::now() < deadline {
                    spins = std::hint::black_box(spins.wrapping_add(1));
                }
                spins
            })
        })
        .collect()
}

/// Runs 3 nodes for `duration` while every core is busy and asserts that no member ever left.
async fn assert_no_flap_under_cpu_load(duration: Duration) {
    let node_ids = ["a", "b", "c"];
    let nodes = start_udp_cluster(&node_ids).await;
    wait_until_all_see(&nodes, &node_ids).await;
    for node in &nodes {
        node.set_ready(true).await;
    }
    let mut changes_rxs: Vec<_> = nodes.iter().map(Membership::subscribe_changes).collect();

    let burners = spawn_cpu_burners(duration);
    let started_at = Instant::now();
    let mut min_member_count = usize::MAX;
    let mut max_member_count = 0;
    let mut min_timeout = Duration::MAX;
    let mut max_timeout = Duration::ZERO;
    while started_at.elapsed() < duration {
        for observer in &nodes {
            let member_count = observer.members_rx().borrow().len();
            min_member_count = min_member_count.min(member_count);
            max_member_count = max_member_count.max(member_count);
            for observed in &nodes {
                if let Some(timeout) = failure_detection_timeout(observer, observed).await {
                    min_timeout = min_timeout.min(timeout);
                    max_timeout = max_timeout.max(timeout);
                }
            }
        }
        // A sampling period inside a bounded measurement loop.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for burner in burners {
        let spins = tokio::task::spawn_blocking(move || burner.join())
            .await
            .expect("the join task runs")
            .expect("a burner does not panic");
        assert!(spins > 0);
    }

    let mut left_count = 0;
    for changes_rx in &mut changes_rxs {
        while let Ok(change) = changes_rx.try_recv() {
            if let ClusterChange::Left(node_id) = change {
                println!("flap: {node_id} left");
                left_count += 1;
            }
        }
    }
    println!(
        "{duration:?} under CPU load: members per node min {min_member_count} max \
         {max_member_count}; detection timeouts min {min_timeout:?} max {max_timeout:?}; \
         {left_count} Left events"
    );
    assert_eq!(left_count, 0);
    assert_eq!(min_member_count, node_ids.len());
    kill_all(&nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_member_flaps_under_cpu_load() {
    assert_no_flap_under_cpu_load(Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow measurement (10 s of full CPU load); run with --ignored --nocapture"]
async fn no_member_flaps_under_cpu_load_for_10s() {
    assert_no_flap_under_cpu_load(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_replaces_its_old_incarnation() {
    let addrs = free_udp_addrs(3);
    let node_a = start_node(node_config("a", addrs[0], &addrs[..1]), &UdpTransport).await;
    let old_b = start_node(node_config("b", addrs[1], &addrs[..1]), &UdpTransport).await;
    wait_until_all_see(&[node_a.clone(), old_b.clone()], &["a", "b"]).await;
    let (_, mut a_changes_rx) = node_a.snapshot_and_subscribe();

    old_b.kill_for_test();
    let mut new_b_config = node_config("b", addrs[2], &addrs[..1]);
    new_b_config.generation = old_b.config().generation + 1;
    let new_generation = new_b_config.generation;
    let restarted_at = Instant::now();
    let new_b = start_node(new_b_config, &UdpTransport).await;
    let replaced = wait_for_members(&node_a, CONVERGENCE_TIMEOUT, |members| {
        members.get("b").map(|member| member.generation) == Some(new_generation)
    })
    .await;
    let replaced_after = restarted_at.elapsed();
    println!("restarted node replaced its old incarnation after {replaced_after:?}");
    assert!(replaced);
    assert!(replaced_after < node_a.dead_after(), "{replaced_after:?}");

    // The old incarnation's death later on must not remove the new one.
    let old_b_id = old_b.inner.chitchat_handle.chitchat_id().clone();
    let deadline = Instant::now() + CONVERGENCE_TIMEOUT;
    loop {
        let old_is_dead = node_a
            .inner
            .chitchat_handle
            .with_chitchat(|chitchat| chitchat.dead_nodes().any(|dead| *dead == old_b_id))
            .await;
        if old_is_dead {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "old incarnation never declared dead"
        );
        // A polling period inside a bounded wait loop.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let members = node_a.members_rx().borrow().clone();
    assert_eq!(
        members.get("b").map(|member| member.generation),
        Some(new_generation)
    );

    let mut changes = Vec::new();
    while let Ok(change) = a_changes_rx.try_recv() {
        changes.push(change);
    }
    assert!(
        matches!(
            changes.as_slice(),
            [ClusterChange::Left(left), ClusterChange::Joined(joined)]
                if left == "b" && joined.generation == new_generation
        ),
        "{changes:?}"
    );
    kill_all(&[node_a, new_b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_node_disappears_from_peers_before_a_crash_would_be_detected() {
    let node_ids = ["a", "b", "c"];
    let nodes = start_udp_cluster(&node_ids).await;
    wait_until_all_see(&nodes, &node_ids).await;
    let (_, mut a_changes_rx) = nodes[0].snapshot_and_subscribe();

    let leave_started_at = Instant::now();
    let leaving_node = nodes[2].clone();
    let leave_task = tokio::spawn(async move { leaving_node.leave().await });
    let dropped_after = join_all(nodes[..2].iter().map(|observer| async move {
        let dropped = wait_for_members(observer, CONVERGENCE_TIMEOUT, |members| {
            !members.contains_key("c")
        })
        .await;
        assert!(
            dropped,
            "{} still lists the node that left",
            observer.config().node_id
        );
        leave_started_at.elapsed()
    }))
    .await;
    leave_task.await.expect("leave does not panic");
    println!(
        "left node dropped by peers after {dropped_after:?}; leave() took {:?}",
        leave_started_at.elapsed()
    );
    for elapsed in dropped_after {
        assert!(elapsed < nodes[0].dead_after(), "{elapsed:?}");
    }
    let change = a_changes_rx.recv().await.expect("a change is broadcast");
    assert_eq!(change, ClusterChange::Left("c".to_string()));
    // A second leave is a no-op.
    nodes[2].leave().await;
    kill_all(&nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_see_readiness_tasks_and_epoch() {
    let transport = ChannelTransport::default();
    let addrs: Vec<SocketAddr> = (1..=3)
        .map(|port| SocketAddr::from(([127, 0, 0, 1], 10_000 + port)))
        .collect();
    let mut nodes = Vec::new();
    for (node_id, addr) in ["a", "b", "c"].iter().zip(&addrs) {
        nodes.push(start_node(node_config(node_id, *addr, &addrs), &transport).await);
    }
    let (a_snapshot, mut a_changes_rx) = nodes[0].snapshot_and_subscribe();
    wait_until_all_see(&nodes, &["a", "b", "c"]).await;
    let members = nodes[0].members_rx().borrow().clone();
    let b_member = members.get("b").expect("a sees b").clone();
    assert_eq!(b_member.advertise_addr, "b.test:8083");
    assert_eq!(b_member.version, env!("CARGO_PKG_VERSION"));
    assert!(!b_member.ready, "nodes start not ready");

    let running_tasks = vec![
        ("conn-a".to_string(), 0),
        ("conn-a".to_string(), 1),
        ("conn-b".to_string(), 0),
    ];
    nodes[1].set_running_tasks(&running_tasks).await;
    nodes[1].set_assignment_epoch(7).await;
    nodes[1].set_ready(true).await;
    let expected_b = Member {
        ready: true,
        running_tasks: running_tasks.clone(),
        gave_up_tasks: Vec::new(),
        assignment_epoch: 7,
        ..b_member
    };
    for node in &nodes {
        let published = wait_for_members(node, CONVERGENCE_TIMEOUT, |members| {
            members.get("b") == Some(&expected_b)
        })
        .await;
        assert!(
            published,
            "{} does not see b's state",
            node.config().node_id
        );
    }

    let mut joined: Vec<String> = a_snapshot.into_keys().collect();
    let mut last_update_of_b = None;
    while let Ok(change) = a_changes_rx.try_recv() {
        match change {
            ClusterChange::Joined(member) => joined.push(member.node_id),
            ClusterChange::Updated(member) if member.node_id == "b" => {
                last_update_of_b = Some(member);
            }
            other => panic!("unexpected change {other:?}"),
        }
    }
    joined.sort();
    assert_eq!(joined, ["a", "b", "c"]);
    assert_eq!(last_update_of_b, Some(expected_b));
    kill_all(&nodes);
}

#[tokio::test]
async fn start_rejects_unusable_configs() {
    let addr = free_udp_addrs(1)[0];
    let mut empty_node_id = node_config("a", addr, &[]);
    empty_node_id.node_id.clear();
    let mut unspecified_advertise = node_config("a", addr, &[]);
    unspecified_advertise.gossip_advertise = SocketAddr::from(([0, 0, 0, 0], addr.port()));
    let mut zero_phi = node_config("a", addr, &[]);
    zero_phi.failure_detector.phi_threshold = 0.0;
    for config in [empty_node_id, unspecified_advertise, zero_phi] {
        let result = Membership::start(config, &UdpTransport).await;
        assert!(
            matches!(result, Err(MembershipError::InvalidConfig(_))),
            "{:?}",
            result.err()
        );
    }

    let taken = UdpSocket::bind("127.0.0.1:0").expect("loopback has free UDP ports");
    let taken_addr = taken.local_addr().expect("a bound socket has an address");
    let result = Membership::start(node_config("a", taken_addr, &[]), &UdpTransport).await;
    assert!(
        matches!(result, Err(MembershipError::Start { .. })),
        "{:?}",
        result.err()
    );
}

#[test]
fn dead_after_follows_the_tuning() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 7_000));
    let mut config = MembershipConfig::new("a", CLUSTER_ID, addr, "a:8083");
    assert_eq!(
        config.dead_after(),
        Duration::from_millis(16 * 100 + 2 * 200)
    );
    config.failure_detector.initial_interval = Some(Duration::from_secs(1));
    config.failure_detector.phi_threshold = 8.0;
    assert_eq!(config.dead_after(), Duration::from_millis(8_000 + 2 * 200));
}
