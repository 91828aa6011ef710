//! Ferry's conformance connector jar (tests/plugins/conformance-connector, built by
//! scripts/fetch-test-plugins.sh) through the JVM plugin host, on the real broker: every Kafka
//! Connect context method a connector can call, each checked from what the connector journals
//! and from Kafka.
//!
//! Sink (ConformanceSinkTask): `RetriableException` after `context.timeout` redelivers the same
//! batch no sooner than the timeout; `context.offset` rewinds; `errantRecordReporter()` puts the
//! record, as consumed, into the DLQ with Kafka Connect's headers and its future completes;
//! `requestCommit` is followed by a commit; `pause` holds the partition back until `resume`.
//! Source (ConformanceSourceConnector/Task): `commitRecord(record, metadata)` carries the real
//! topic/partition/offset, `commit()` follows stored offsets, `requestTaskReconfiguration`
//! with a changed task count runs the new task, `raiseError` fails the connector; a
//! `RetriableException` from `poll` is retried in place (RUNNING, counted in the status, the
//! task never restarted) until the outage ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_tests::plugins::script_dir;
use ferry_tests::{
    all_running, create_topic, read_topic, start_worker, test_bootstrap, unique_name, wait_until,
    Api,
};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;

const STRINGS: &str = "org.apache.kafka.connect.storage.StringConverter";

/// The plugin host build and the test plugin.path, prepared once per test binary (the tests
/// run in parallel; the scripts are idempotent but need not run three times at once).
fn prepared() -> &'static (PathBuf, PathBuf) {
    static PREPARED: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    PREPARED.get_or_init(|| {
        (
            script_dir("build-plugin-host.sh"),
            script_dir("fetch-test-plugins.sh"),
        )
    })
}

async fn conformance_worker(dir: &Path, prefix: &str) -> (ferry_tests::FerryProcess, Api) {
    let (host_dir, plugin_path) = tokio::task::spawn_blocking(prepared).await.unwrap();
    start_worker(
        dir,
        prefix,
        &[
            ("plugin.path", plugin_path.to_str().unwrap()),
            ("plugin.host.dir", host_dir.to_str().unwrap()),
            ("offset.flush.interval.ms", "500"),
        ],
    )
    .await
}

/// Produces string values in order to partition 0 and waits for every ack.
async fn produce(topic: &str, values: &[&str]) {
    let topic = topic.to_string();
    let values: Vec<String> = values.iter().map(|value| (*value).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", test_bootstrap())
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()
            .unwrap();
        for value in &values {
            producer
                .send(
                    BaseRecord::<str, str>::to(&topic)
                        .partition(0)
                        .payload(value),
                )
                .unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    })
    .await
    .unwrap();
}

fn journal(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn wait_for_line(path: &Path, line: &str, timeout: Duration) -> Vec<String> {
    wait_until(timeout, &format!("`{line}` in the journal"), || async {
        let lines = journal(path);
        lines.iter().any(|l| l == line).then_some(lines)
    })
    .await
    .unwrap_or_else(|error| panic!("{error}; journal: {:#?}", journal(path)))
}

fn position(lines: &[String], predicate: impl Fn(&str) -> bool) -> usize {
    lines
        .iter()
        .position(|line| predicate(line))
        .unwrap_or_else(|| panic!("no matching line in {lines:#?}"))
}

/// Committed sink offsets of a connector, summed over partitions.
async fn committed_total(api: &Api, name: &str) -> Option<u64> {
    let (_, offsets) = api.get(&format!("/connectors/{name}/offsets")).await.ok()?;
    Some(
        offsets["offsets"]
            .as_array()?
            .iter()
            .filter_map(|entry| entry["offset"]["kafka_offset"].as_u64())
            .sum(),
    )
}

#[tokio::test]
async fn a_jar_sink_task_uses_every_sink_task_context_method() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("conf-sink");
    let (_worker, api) = conformance_worker(dir.path(), &prefix).await;
    let topic = format!("{prefix}-in");
    let dlq = format!("{prefix}-dlq");
    let journal_path = dir.path().join("sink-journal.txt");
    create_topic(&topic, 1).await;
    // Offsets: a0=0 rewind=1 a1=2 retry=3 a2=4 errant=5 a3=6 commit=7 a4=8 pause=9 a5=10.
    let first = [
        "a0", "rewind", "a1", "retry", "a2", "errant", "a3", "commit", "a4", "pause", "a5",
    ];
    produce(&topic, &first).await;
    let name = format!("{prefix}-sink");
    api.create_connector(
        &name,
        json!({"connector.class": "dev.ferry.conformance.ConformanceSinkConnector",
               "topics": topic, "journal.file": journal_path, "retry.timeout.ms": "300",
               "pause.for.ms": "1500", "key.converter": STRINGS, "value.converter": STRINGS,
               "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
               "errors.deadletterqueue.topic.replication.factor": "1",
               "errors.deadletterqueue.context.headers.enable": "true"}),
    )
    .await
    .unwrap();
    wait_for_line(&journal_path, "PAUSE 0", Duration::from_secs(60)).await;
    // Produced while the partition is paused: nothing of it may be put before the resume.
    produce(&topic, &["b0", "b1", "b2", "b3", "b4"]).await;
    let lines = wait_for_line(&journal_path, "REC 0 15 b4", Duration::from_secs(30)).await;

    // Every record but the errant one was accepted exactly once, in order: the redelivery after
    // the retry and the rewind lost nothing and repeated nothing the task accepted.
    let accepted: Vec<String> = lines
        .iter()
        .filter(|line| line.starts_with("REC "))
        .cloned()
        .collect();
    let expected: Vec<String> = first
        .iter()
        .chain(["b0", "b1", "b2", "b3", "b4"].iter())
        .enumerate()
        .filter(|(_, value)| **value != "errant")
        .map(|(offset, value)| format!("REC 0 {offset} {value}"))
        .collect();
    assert_eq!(accepted, expected, "journal: {lines:#?}");

    // RetriableException: the same batch again, no sooner than context.timeout(300).
    let retry = position(&lines, |line| line == "RETRY 3");
    let redelivered = position(&lines, |line| line.starts_with("REDELIVERED 3 "));
    assert!(retry < redelivered);
    let waited: u64 = lines[redelivered]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(waited >= 300, "redelivered after {waited} ms: {lines:#?}");
    // ... counted as an in-place retry in the task's status (RUNNING throughout, the trace
    // cleared once the redelivered batch was accepted).
    let status = api
        .wait_status(&name, Duration::from_secs(30), |status| {
            status["tasks"][0]["state"] == "RUNNING"
                && status["tasks"][0]["retries"].as_u64() == Some(1)
                && status["tasks"][0]["trace"].is_null()
        })
        .await
        .unwrap();
    let last_error = status["tasks"][0]["last_error"].as_str().unwrap_or("");
    assert!(
        last_error.contains("RetriableException")
            && last_error.contains("conformance retry of offset 3"),
        "{status}"
    );

    // context.offset: the rewound record and those after it came again.
    let rewind = position(&lines, |line| line == "REWIND 1");
    assert!(rewind < position(&lines, |line| line == "REC 0 1 rewind"));

    // requestCommit: a preCommit follows the put that asked, before any other put.
    let requested = position(&lines, |line| line == "COMMIT-REQUESTED 7");
    let next_call = lines[requested..]
        .iter()
        .find(|line| line.starts_with("PUT ") || *line == "PRECOMMIT")
        .unwrap();
    assert_eq!(next_call, "PRECOMMIT", "journal: {lines:#?}");

    // pause/resume: no put of records between them, and the pause lasted its 1.5 s.
    let paused = position(&lines, |line| line == "PAUSE 0");
    let resumed = position(&lines, |line| line.starts_with("RESUME 0 "));
    assert!(paused < resumed);
    assert!(
        lines[paused..resumed]
            .iter()
            .all(|line| !line.starts_with("REC ")
                && (!line.starts_with("PUT ") || line == "PUT 0")),
        "records put while paused: {lines:#?}"
    );
    let paused_ms: u64 = lines[resumed].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(paused_ms >= 1500);
    assert!(resumed < position(&lines, |line| line == "REC 0 11 b0"));

    // The errant record: its future completed, it is in the DLQ as consumed with Kafka
    // Connect's headers, and the offsets past it are committed.
    wait_for_line(&journal_path, "ERRANT-HANDLED 5", Duration::from_secs(30)).await;
    wait_until(
        Duration::from_secs(30),
        "offsets committed to the end",
        || async { (committed_total(&api, &name).await == Some(16)).then_some(()) },
    )
    .await
    .unwrap();
    let dead = read_topic(&dlq);
    assert_eq!(dead.len(), 1, "{dead:?}");
    let record = &dead[0];
    assert_eq!(record.value.as_deref(), Some(&b"errant"[..]));
    assert_eq!(
        record.header("__connect.errors.topic").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(
        record.header("__connect.errors.partition").as_deref(),
        Some("0")
    );
    assert_eq!(
        record.header("__connect.errors.offset").as_deref(),
        Some("5")
    );
    assert_eq!(
        record.header("__connect.errors.connector.name").as_deref(),
        Some(name.as_str())
    );
    assert_eq!(
        record.header("__connect.errors.stage").as_deref(),
        Some("TASK_PUT")
    );
    assert!(record
        .header("__connect.errors.exception.message")
        .unwrap()
        .contains("conformance errant 5"));
}

#[tokio::test]
async fn a_jar_source_connector_uses_every_connector_and_source_task_context_method() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("conf-source");
    let (_worker, api) = conformance_worker(dir.path(), &prefix).await;
    let topic = format!("{prefix}-out");
    let control = dir.path().join("control.txt");
    let journal_path = dir.path().join("source-journal.txt");
    create_topic(&topic, 1).await;
    std::fs::write(&control, "1").unwrap();
    let name = format!("{prefix}-source");
    api.create_connector(
        &name,
        json!({"connector.class": "dev.ferry.conformance.ConformanceSourceConnector",
               "control.file": control, "topic": topic, "journal.file": journal_path,
               "records.per.task": "20", "tasks.max": "4",
               "key.converter": STRINGS, "value.converter": STRINGS}),
    )
    .await
    .unwrap();
    let lines = wait_for_line(&journal_path, "COMMIT 0", Duration::from_secs(60)).await;
    let lines = if lines.iter().any(|line| line.starts_with("ACK 0-19 ")) {
        lines
    } else {
        wait_until(Duration::from_secs(30), "ACK of 0-19", || async {
            let lines = journal(&journal_path);
            lines
                .iter()
                .any(|line| line.starts_with("ACK 0-19 "))
                .then_some(lines)
        })
        .await
        .unwrap()
    };

    // commitRecord(record, metadata): the metadata is where Kafka stored each record.
    let stored = read_topic(&topic);
    assert_eq!(stored.len(), 20);
    for (offset, record) in stored.iter().enumerate() {
        let value = String::from_utf8(record.value.clone().unwrap()).unwrap();
        let ack = format!("ACK {value} {topic} 0 {offset}");
        assert!(lines.contains(&ack), "no `{ack}` in {lines:#?}");
    }
    assert!(!lines.iter().any(|line| line.ends_with(" null")));

    // requestTaskReconfiguration with a changed task count: the second task runs and writes.
    std::fs::write(&control, "2").unwrap();
    api.wait_status(&name, Duration::from_secs(60), |status| {
        all_running(status, 2)
    })
    .await
    .unwrap();
    let lines = wait_until(Duration::from_secs(60), "ACK of 1-19", || async {
        let lines = journal(&journal_path);
        lines
            .iter()
            .any(|line| line.starts_with("ACK 1-19 "))
            .then_some(lines)
    })
    .await
    .unwrap();
    let (_, tasks) = api.get(&format!("/connectors/{name}/tasks")).await.unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), 2, "{tasks}");
    // Task 0 resumed after its stored offset when the tasks were restarted: nothing twice.
    let acks_of_task0 = lines
        .iter()
        .filter(|line| line.starts_with("ACK 0-"))
        .count();
    assert_eq!(acks_of_task0, 20, "{lines:#?}");
    assert_eq!(read_topic(&topic).len(), 40);

    // raiseError: the connector is FAILED with the raised error as its trace.
    std::fs::write(&control, "fail").unwrap();
    let status = api
        .wait_status(&name, Duration::from_secs(30), |status| {
            status["connector"]["state"] == "FAILED"
        })
        .await
        .unwrap();
    assert!(
        status["connector"]["trace"]
            .as_str()
            .unwrap_or_default()
            .contains("conformance raised an error"),
        "{status}"
    );
}

/// Produces a tombstone (null value) to partition 0 and waits for its ack.
async fn produce_tombstone(topic: &str) {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", test_bootstrap())
            .set("acks", "all")
            .create()
            .unwrap();
        producer
            .send(BaseRecord::<str, str>::to(&topic).partition(0).key("gone"))
            .unwrap();
        producer.flush(Duration::from_secs(30)).unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn transforms_and_predicates_of_jar_connectors_run_in_the_plugin_host() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("conf-smt");
    let (_worker, api) = conformance_worker(dir.path(), &prefix).await;
    let out = format!("{prefix}-out");
    let routed = format!("{prefix}-routed");
    let dropped_topic = format!("{prefix}-dropped");
    for topic in [&out, &routed, &dropped_topic] {
        create_topic(topic, 1).await;
    }
    let control = dir.path().join("control.txt");
    std::fs::write(&control, "1").unwrap();
    let source_journal = dir.path().join("source-journal.txt");
    let dropping_journal = dir.path().join("dropping-journal.txt");
    let sink_journal = dir.path().join("sink-journal.txt");

    // Source: poll → RegexRouter → InsertHeader (only where TopicNameMatches, after the route)
    // → convert.
    let source = format!("{prefix}-source");
    api.create_connector(
        &source,
        json!({"connector.class": "dev.ferry.conformance.ConformanceSourceConnector",
               "control.file": control, "topic": out, "journal.file": source_journal,
               "key.converter": STRINGS, "value.converter": STRINGS,
               "transforms": "route,mark",
               "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
               "transforms.route.regex": "(.*)-out", "transforms.route.replacement": "$1-routed",
               "transforms.mark.type": "org.apache.kafka.connect.transforms.InsertHeader",
               "transforms.mark.header": "conformance",
               "transforms.mark.value.literal": "transformed",
               "transforms.mark.predicate": "isRouted",
               "predicates": "isRouted",
               "predicates.isRouted.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
               "predicates.isRouted.pattern": ".*-routed"}),
    )
    .await
    .unwrap();
    // A source whose Filter drops everything: nothing written, every offset committed, and
    // commitRecord(record, null) for each record, as Kafka Connect does.
    let dropping = format!("{prefix}-dropping");
    api.create_connector(
        &dropping,
        json!({"connector.class": "dev.ferry.conformance.ConformanceSourceConnector",
               "control.file": control, "topic": dropped_topic, "journal.file": dropping_journal,
               "key.converter": STRINGS, "value.converter": STRINGS,
               "transforms": "drop",
               "transforms.drop.type": "org.apache.kafka.connect.transforms.Filter"}),
    )
    .await
    .unwrap();

    let lines = wait_until(Duration::from_secs(60), "20 routed acks", || async {
        let lines = journal(&source_journal);
        (lines.iter().filter(|line| line.starts_with("ACK ")).count() >= 20).then_some(lines)
    })
    .await
    .unwrap();
    let stored = read_topic(&routed);
    assert_eq!(stored.len(), 20);
    for (offset, record) in stored.iter().enumerate() {
        assert_eq!(record.header("conformance").as_deref(), Some("transformed"));
        let value = String::from_utf8(record.value.clone().unwrap()).unwrap();
        let ack = format!("ACK {value} {routed} 0 {offset}");
        assert!(lines.contains(&ack), "no `{ack}` in {lines:#?}");
    }
    assert_eq!(ferry_tests::topic_record_count(&out), 0);

    let lines = wait_until(Duration::from_secs(60), "20 dropped records", || async {
        let lines = journal(&dropping_journal);
        (lines.iter().filter(|line| line.ends_with(" null")).count() >= 20).then_some(lines)
    })
    .await
    .unwrap();
    assert!(lines.contains(&"ACK 0-19 null".to_string()), "{lines:#?}");
    wait_until(
        Duration::from_secs(30),
        "the dropped records' offsets",
        || async {
            let (_, offsets) = api
                .get(&format!("/connectors/{dropping}/offsets"))
                .await
                .ok()?;
            (offsets["offsets"][0]["offset"]["n"] == 19).then_some(())
        },
    )
    .await
    .unwrap();
    assert_eq!(ferry_tests::topic_record_count(&dropped_topic), 0);

    // Sink: convert → Filter (RecordIsTombstone) → HoistField → put.
    produce_tombstone(&routed).await;
    let sink = format!("{prefix}-sink");
    api.create_connector(
        &sink,
        json!({"connector.class": "dev.ferry.conformance.ConformanceSinkConnector",
               "topics": routed, "journal.file": sink_journal,
               "key.converter": STRINGS, "value.converter": STRINGS,
               "transforms": "dropTombstones,hoist",
               "transforms.dropTombstones.type": "org.apache.kafka.connect.transforms.Filter",
               "transforms.dropTombstones.predicate": "tombstone",
               "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
               "transforms.hoist.field": "v",
               "predicates": "tombstone",
               "predicates.tombstone.type": "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"}),
    )
    .await
    .unwrap();
    wait_until(
        Duration::from_secs(60),
        "sink offsets past the tombstone",
        || async { (committed_total(&api, &sink).await == Some(21)).then_some(()) },
    )
    .await
    .unwrap();
    let accepted: Vec<String> = journal(&sink_journal)
        .into_iter()
        .filter(|line| line.starts_with("REC "))
        .collect();
    let expected: Vec<String> = (0..20)
        .map(|offset| format!("REC 0 {offset} Struct{{v=0-{offset}}}"))
        .collect();
    assert_eq!(accepted, expected);
}

#[tokio::test]
async fn a_jar_source_poll_retriable_exception_is_retried_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("conf-retry");
    let (_worker, api) = conformance_worker(dir.path(), &prefix).await;
    let topic = format!("{prefix}-out");
    let control = dir.path().join("control.txt");
    let journal_path = dir.path().join("source-journal.txt");
    let outage = dir.path().join("outage");
    create_topic(&topic, 1).await;
    std::fs::write(&control, "1").unwrap();
    std::fs::write(&outage, "").unwrap();
    let name = format!("{prefix}-source");
    api.create_connector(
        &name,
        json!({"connector.class": "dev.ferry.conformance.ConformanceSourceConnector",
               "control.file": control, "topic": topic, "journal.file": journal_path,
               "records.per.task": "20", "poll.retriable.while.file": outage,
               "key.converter": STRINGS, "value.converter": STRINGS}),
    )
    .await
    .unwrap();
    // During the outage: RUNNING, the retries counted and the error shown, nothing written.
    let status = api
        .wait_status(&name, Duration::from_secs(60), |status| {
            status["tasks"][0]["state"] == "RUNNING"
                && status["tasks"][0]["retries"].as_u64() >= Some(3)
        })
        .await
        .unwrap();
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.contains("RetriableException") && trace.contains("conformance outage of task 0"),
        "{status}"
    );
    assert_eq!(ferry_tests::topic_record_count(&topic), 0);
    // The outage ends: the same task instance writes every record, and the trace is cleared.
    std::fs::remove_file(&outage).unwrap();
    wait_until(Duration::from_secs(60), "every record written", || async {
        (ferry_tests::topic_record_count(&topic) >= 20).then_some(())
    })
    .await
    .unwrap();
    let status = api
        .wait_status(&name, Duration::from_secs(30), |status| {
            status["tasks"][0]["state"] == "RUNNING" && status["tasks"][0]["trace"].is_null()
        })
        .await
        .unwrap();
    let stored = read_topic(&topic);
    let values: Vec<String> = stored
        .iter()
        .map(|record| String::from_utf8(record.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        values,
        (0..20).map(|n| format!("0-{n}")).collect::<Vec<_>>(),
        "{status}"
    );
    let lines = journal(&journal_path);
    let starts = lines
        .iter()
        .filter(|line| line.starts_with("START "))
        .count();
    let retried = lines.iter().filter(|line| *line == "RETRIABLE 0").count();
    assert_eq!(starts, 1, "the task was restarted: {lines:#?}");
    assert!(retried >= 3, "{lines:#?}");
    println!("poll retried in place {retried} times; status {status}");
}
