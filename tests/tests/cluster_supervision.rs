//! Supervision across workers and data safety through kills, with three `ferry worker` processes
//! on the real broker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use ferry_tests::{all_running, test_bootstrap, unique_name, Api, FerryProcess};
use nix::sys::signal::Signal;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

const FAST_RESTARTS: [(&str, &str); 3] = [
    ("task.restart.max.failures", "2"),
    ("task.restart.initial.backoff.ms", "100"),
    ("task.restart.max.backoff.ms", "200"),
];

#[tokio::test]
async fn a_task_failing_everywhere_is_tried_on_other_workers_then_failed_while_others_run() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("supervise");
    let topic = format!("{prefix}-in");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .create()
        .unwrap();
    for index in 0..10 {
        let payload = json!({"schema": {"type": "string", "optional": false}, "payload": format!("line {index}")}).to_string();
        producer
            .send(
                FutureRecord::<str, str>::to(&topic).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let (addrs, _workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, &FAST_RESTARTS)
        .await
        .unwrap();
    let api = Api::new(addrs[0]);
    api.create_connector(
        "healthy",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence", "tasks.max": 3, "max.interval": 100}),
    )
    .await
    .unwrap();
    // Every write fails: the file's folder does not exist.
    api.create_connector(
        "doomed",
        json!({"connector.class": "FileStreamSink", "file": "/nonexistent-ferry-dir/out.txt", "topics": topic}),
    )
    .await
    .unwrap();

    let mut workers_seen = BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let final_status = loop {
        let (_, status) = api.get("/connectors/doomed/status").await.unwrap();
        let task = &status["tasks"][0];
        if let Some(worker) = task["worker_id"].as_str() {
            if task["state"] == "RUNNING" || task["state"] == "FAILED" {
                workers_seen.insert(worker.to_string());
            }
        }
        if task["state"] == "FAILED" && workers_seen.len() == 3 {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not FAILED on every worker in time; seen {workers_seen:?}, last {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("doomed task ran on {workers_seen:?} before ending FAILED");
    let trace = final_status["tasks"][0]["trace"]
        .as_str()
        .unwrap_or_default();
    assert!(
        trace.contains("/nonexistent-ferry-dir/out.txt"),
        "trace names the cause: {trace}"
    );
    // It stays FAILED (every worker gave up), and the other connector keeps running.
    let healthy = api
        .wait_status("healthy", Duration::from_secs(30), |s| all_running(s, 3))
        .await
        .unwrap();
    assert!(all_running(&healthy, 3), "{healthy}");
    let (_, again) = api.get("/connectors/doomed/status").await.unwrap();
    assert_eq!(again["tasks"][0]["state"], "FAILED", "{again}");
}

#[tokio::test]
async fn a_sequence_pipeline_through_two_kills_misses_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("seq");
    let output = dir.path().join("sequence.txt");
    let (addrs, mut workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, &FAST_RESTARTS)
        .await
        .unwrap();
    let api = Api::new(addrs[0]);
    let per_task = 400u64;
    api.create_connector(
        "sequence",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-seq"), "quickstart": "sequence",
               "tasks.max": 3, "max.interval": 40, "iterations": per_task}),
    )
    .await
    .unwrap();
    api.create_connector(
        "sink",
        json!({"connector.class": "FileStreamSink", "file": output, "topics": format!("{prefix}-seq"), "tasks.max": 2}),
    )
    .await
    .unwrap();

    for (round, victim) in [1usize, 2].into_iter().enumerate() {
        let before = count_lines(&output);
        ferry_tests::wait_until(
            Duration::from_secs(60),
            "more output before the kill",
            // While records flow, or (on a fast machine) once the generators are done.
            || async {
                let lines = count_lines(&output);
                (lines > before + 50 || lines as u64 >= 3 * per_task).then_some(())
            },
        )
        .await
        .unwrap();
        workers[victim].signal(Signal::SIGKILL).unwrap();
        workers[victim]
            .wait_exit(Duration::from_secs(5))
            .await
            .unwrap();
        println!(
            "kill {} of worker {victim} with {} lines out",
            round + 1,
            count_lines(&output)
        );
        let survivor = Api::new(addrs[0]);
        survivor
            .wait_status("sequence", Duration::from_secs(30), |s| all_running(s, 3))
            .await
            .unwrap();
        workers[victim] = FerryProcess::cluster_worker(
            dir.path(),
            &prefix,
            addrs[victim],
            &addrs,
            &FAST_RESTARTS,
        )
        .unwrap();
        workers[victim]
            .wait_healthy(Duration::from_secs(60))
            .await
            .unwrap();
    }

    let seen = ferry_tests::wait_until(
        Duration::from_secs(120),
        "every sequence number in the output",
        || async {
            let text = std::fs::read_to_string(&output).unwrap_or_default();
            let seen: BTreeSet<(u64, u64)> = text.lines().filter_map(sequence_of).collect();
            (seen.len() as u64 >= 3 * per_task).then_some(seen)
        },
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&output).unwrap();
    let mut counts: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for pair in text.lines().filter_map(sequence_of) {
        *counts.entry(pair).or_default() += 1;
    }
    let mut missing = Vec::new();
    for task in 0..3 {
        for seq in 0..per_task {
            if !seen.contains(&(task, seq)) {
                missing.push((task, seq));
            }
        }
    }
    let duplicates: usize = counts.values().map(|count| count - 1).sum();
    println!(
        "sequence through two kills: {} numbers, missing {}, duplicates {duplicates}",
        seen.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "missing sequence numbers: {missing:?}");
}

/// A sink task that moves to a worker joining the cluster while records flow (a graceful
/// handover: both workers run throughout) loses nothing: every number arrives and the group
/// commits all there is. `offset.flush.interval.ms` is Kafka Connect's default of 60 s, so
/// before the move only the handover's own commit stores the sink's progress. What the sink
/// writes twice is measured, not asserted (README, "Known limit"): the moving task's final
/// commit can fail in the rebalance (`Specified group generation id is not valid`), and under
/// load a worker whose lease renewal is not acknowledged in time stops its tasks without
/// committing; the next owner then writes again what they had written since their last commit.
#[tokio::test]
async fn a_sink_task_handed_to_a_joining_worker_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("handover");
    let topic = format!("{prefix}-seq");
    let output = dir.path().join("sequence.txt");
    ferry_tests::create_topic(&topic, 2).await;
    let addrs = [
        ferry_tests::free_local_addr(),
        ferry_tests::free_local_addr(),
    ];
    let mut first =
        FerryProcess::cluster_worker(dir.path(), &prefix, addrs[0], &addrs[..1], &[]).unwrap();
    first.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addrs[0]);
    let per_task = 6_000u64;
    api.create_connector(
        "sequence",
        json!({"connector.class": "Datagen", "kafka.topic": topic, "quickstart": "sequence",
               "tasks.max": 2, "max.interval": 3, "iterations": per_task}),
    )
    .await
    .unwrap();
    api.create_connector(
        "sink",
        json!({"connector.class": "FileStreamSink", "file": output, "topics": topic, "tasks.max": 2}),
    )
    .await
    .unwrap();
    api.wait_status("sink", Duration::from_secs(60), |s| all_running(s, 2))
        .await
        .unwrap();
    ferry_tests::wait_until(
        Duration::from_secs(60),
        "output before the join",
        || async { (count_lines(&output) > 500).then_some(()) },
    )
    .await
    .unwrap();
    let mut second =
        FerryProcess::cluster_worker(dir.path(), &prefix, addrs[1], &addrs, &[]).unwrap();
    second.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let spread = api
        .wait_status("sink", Duration::from_secs(60), |s| {
            all_running(s, 2) && ferry_tests::tasks_per_worker(s).len() == 2
        })
        .await
        .unwrap();
    let lines_at_move = count_lines(&output);
    println!("sink tasks spread over both workers with {lines_at_move} lines out: {spread}");
    // Every number in, and the group has committed all there is: nothing left to read. The
    // topic may hold a number twice (the Datagen tasks move too, and a source is at least
    // once); the sink writes each record of the topic once.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let (numbers, lines, records) = loop {
        let (committed, end) = ferry_tests::sink_group_position(&topic, "sink");
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        let numbers: BTreeSet<(u64, u64)> = text.lines().filter_map(sequence_of).collect();
        if numbers.len() as u64 == 2 * per_task && committed == end {
            break (numbers.len(), text.lines().count(), end);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every record written and committed in time: {} numbers out, group at \
             {committed} of {end}; worker logs:\n{}\n{}",
            numbers.len(),
            warnings(&first.stderr()),
            warnings(&second.stderr())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lines = i64::try_from(lines).unwrap();
    println!(
        "handover: {numbers} numbers in {records} records, {lines} lines out ({} written twice); \
         worker logs:\n{}\n{}",
        lines - records,
        warnings(&first.stderr()),
        warnings(&second.stderr())
    );
    // Each record of the topic is in the file at least as often as in the topic.
    let text = std::fs::read_to_string(&output).unwrap();
    let mut written: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for pair in text.lines().filter_map(sequence_of) {
        *written.entry(pair).or_default() += 1;
    }
    let mut in_topic: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for record in ferry_tests::read_topic(&topic) {
        let value: serde_json::Value =
            serde_json::from_slice(&record.value.expect("a Datagen record has a value")).unwrap();
        let number = |field: &str| value["payload"][field].as_u64().expect("task and seq");
        *in_topic.entry((number("task"), number("seq"))).or_default() += 1;
    }
    let short: Vec<_> = in_topic
        .iter()
        .filter(|(pair, count)| written.get(*pair).copied().unwrap_or(0) < **count)
        .take(5)
        .collect();
    assert!(
        short.is_empty(),
        "records of the topic missing from the file: {short:?}"
    );
}

/// The number of lines in the file at `path` (0 while it does not exist).
fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// `(task, seq)` of a Datagen `sequence` line.
fn sequence_of(line: &str) -> Option<(u64, u64)> {
    let number = |key: &str| -> Option<u64> {
        line.split(key)
            .nth(1)?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((number("task=")?, number("seq=")?))
}

/// A worker log's WARN and ERROR lines.
fn warnings(log: &str) -> String {
    log.lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}
