//! Exactly-once sources (KIP-618) against the real Kafka: a worker with
//! `exactly.once.source.support=enabled` commits each poll's records and their source offsets in
//! one transaction of the task's producer (`transactional.id` = `${group.id}-${connector}-${task}`),
//! so a `read_committed` consumer sees every record exactly once across a `kill -9` of the worker;
//! a second producer with the task's `transactional.id` fences it; a worker frozen (`SIGSTOP`)
//! while its task moves is fenced when it resumes; the connector keys are
//! validated as Kafka Connect does, and what Ferry does not implement yet is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_tests::{
    all_running, read_topic, start_worker, topic_record_count, unique_name, wait_until, Api,
    FerryProcess,
};
use nix::sys::signal::Signal;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;

const EOS_WORKER: &[(&str, &str)] = &[("exactly.once.source.support", "enabled")];

fn datagen_config(topic: &str, boundary: &str) -> serde_json::Value {
    json!({
        "connector.class": "Datagen",
        "kafka.topic": topic,
        "quickstart": "sequence",
        "tasks.max": "1",
        "max.interval": "2",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "exactly.once.support": "required",
        "transaction.boundary": boundary,
    })
}

/// Reads the committed records of `topic` (`read_committed`) and returns how many times each
/// sequence number of task 0 occurs.
fn committed_sequence(topic: &str) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for record in read_topic(topic) {
        let key = String::from_utf8(record.key.expect("every datagen record has a key")).unwrap();
        let seq: u64 = key
            .strip_prefix("0-")
            .and_then(|seq| seq.parse().ok())
            .unwrap_or_else(|| panic!("unexpected key {key}"));
        *seen.entry(seq).or_insert(0) += 1;
    }
    seen
}

/// Returns (missing, duplicated) sequence numbers below the highest one seen.
fn gaps_and_duplicates(seen: &BTreeMap<u64, usize>) -> (Vec<u64>, Vec<u64>) {
    let max = seen.keys().next_back().copied().unwrap_or(0);
    let missing = (0..=max).filter(|seq| !seen.contains_key(seq)).collect();
    let duplicated = seen
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(seq, _)| *seq)
        .collect();
    (missing, duplicated)
}

async fn wait_records(topic: &str, at_least: i64) {
    wait_until(
        Duration::from_secs(60),
        &format!("{at_least} records in {topic}"),
        || async move { (topic_record_count(topic) >= at_least).then_some(()) },
    )
    .await
    .unwrap();
}

/// Until `topic` holds `at_least` offsets, open transactions' records included.
async fn wait_log_end(topic: &str, at_least: i64) {
    wait_until(
        Duration::from_secs(60),
        &format!("{at_least} offsets in {topic}"),
        || async move { (ferry_tests::topic_log_end_count(topic) >= at_least).then_some(()) },
    )
    .await
    .unwrap();
}

async fn wait_running(api: &Api, name: &str) {
    api.wait_status(name, Duration::from_secs(60), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();
}

/// `own_offsets_topic`: the connector has its own offsets topic (`offsets.storage.topic`), in
/// which its transactions write the offsets.
async fn killed_twice_then_stopped(boundary: &str, own_offsets_topic: bool) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name(&format!("eos-{boundary}"));
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    let mut extra = EOS_WORKER.to_vec();
    extra.push(("offset.flush.interval.ms", "200"));
    let (mut worker, api) = start_worker(dir.path(), &prefix, &extra).await;
    let mut config = datagen_config(&topic, boundary);
    let own_topic = format!("{prefix}-own");
    if own_offsets_topic {
        config["offsets.storage.topic"] = json!(own_topic);
    }
    Api::create_connector(&api, &name, config).await.unwrap();
    wait_running(&api, &name).await;
    let mut target = 2_000;
    for _ in 0..2 {
        wait_records(&topic, target).await;
        // Killed mid-stream: its last transaction is open, with records and offsets in it.
        worker.signal(Signal::SIGKILL).unwrap();
        worker.wait_exit(Duration::from_secs(10)).await.unwrap();
        let (restarted, restarted_api) = start_worker(dir.path(), &prefix, &extra).await;
        worker = restarted;
        wait_running(&restarted_api, &name).await;
        target = topic_record_count(&topic) + 2_000;
    }
    wait_records(&topic, target).await;
    // A clean stop commits (or aborts) what is open, so the topic can be read to its end.
    worker.signal(Signal::SIGTERM).unwrap();
    worker.wait_exit(Duration::from_secs(60)).await.unwrap();
    let in_log = topic_record_count(&topic);
    let seen = committed_sequence(&topic);
    let (missing, duplicated) = gaps_and_duplicates(&seen);
    let committed: usize = seen.values().sum();
    println!(
        "{boundary}: {committed} committed records (sequence 0..={}), {in_log} offsets in the log (aborted records and transaction markers included), missing {}, duplicated {}",
        seen.keys().next_back().copied().unwrap_or(0),
        missing.len(),
        duplicated.len()
    );
    assert!(committed >= 4_000, "{committed} records");
    assert!(
        missing.is_empty(),
        "{} missing sequence numbers, from {:?}",
        missing.len(),
        missing.first()
    );
    assert!(
        duplicated.is_empty(),
        "{} duplicated sequence numbers, from {:?}",
        duplicated.len(),
        duplicated.first()
    );
    if own_offsets_topic {
        // The offsets are in the connector's topic (a restart read them there: nothing is
        // duplicated), committed, and copied to the worker's.
        assert!(
            ferry_tests::offset_in_topic(&own_topic, &name).is_some(),
            "no committed offset in {own_topic}"
        );
        assert!(
            ferry_tests::offset_in_topic(&format!("{prefix}-offsets"), &name).is_some(),
            "no copy of the offsets in the worker's topic"
        );
    }
}

#[tokio::test]
async fn poll_boundary_records_and_offsets_are_atomic_across_kill_9() {
    killed_twice_then_stopped("poll", false).await;
}

#[tokio::test]
async fn interval_boundary_records_and_offsets_in_the_connectors_own_topic_are_atomic_across_kill_9(
) {
    killed_twice_then_stopped("interval", true).await;
}

#[tokio::test]
async fn a_producer_with_the_tasks_transactional_id_fences_it_and_is_fenced_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-zombie");
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    let (mut worker, api) = start_worker(dir.path(), &prefix, EOS_WORKER).await;
    Api::create_connector(&api, &name, datagen_config(&topic, "poll"))
        .await
        .unwrap();
    wait_running(&api, &name).await;
    wait_records(&topic, 500).await;
    // Kafka Connect's transactional id: ${group.id}-${connector}-${task}; the worker's group.id
    // is the prefix (see ferry_tests::worker_args).
    let transactional_id = format!("{prefix}-{name}-0");
    let intruder: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", ferry_tests::test_bootstrap())
        .set("transactional.id", &transactional_id)
        .create()
        .unwrap();
    let intruder = tokio::task::spawn_blocking(move || {
        intruder.init_transactions(Duration::from_secs(30)).unwrap();
        intruder
    })
    .await
    .unwrap();
    // The task's producer is fenced: its next transaction fails, the task restarts, and its new
    // producer fences the intruder in turn. Records keep flowing, each once.
    let before = topic_record_count(&topic);
    wait_records(&topic, before + 1_000).await;
    let intruder_topic = topic.clone();
    let intruder_result = tokio::task::spawn_blocking(move || {
        intruder.begin_transaction()?;
        intruder
            .send(
                BaseRecord::<str, str>::to(&intruder_topic)
                    .key("intruder")
                    .payload("x"),
            )
            .map_err(|(error, _)| error)?;
        intruder.commit_transaction(Duration::from_secs(30))
    })
    .await
    .unwrap();
    let error = intruder_result.expect_err("the intruder was fenced by the restarted task");
    assert!(
        error.to_string().to_lowercase().contains("fenced"),
        "{error}"
    );
    let log = worker.stderr() + &worker.stdout();
    // The old producer's writes were refused by the broker (librdkafka's words), and the task
    // started again with a new producer that fenced the intruder.
    assert!(
        log.contains("fenced by a newer instance") || log.contains("fenced by newer producer"),
        "the task's producer was fenced; the worker's warnings:\n{}",
        warnings(&log)
    );
    assert!(
        log.matches("exactly-once source task: zombies fenced")
            .count()
            >= 2,
        "the task restarted with a new transactional producer"
    );
    worker.signal(Signal::SIGTERM).unwrap();
    worker.wait_exit(Duration::from_secs(60)).await.unwrap();
    let seen = committed_sequence_without_intruder(&topic);
    let (missing, duplicated) = gaps_and_duplicates(&seen);
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
}

/// `PUT /connectors/{name}/fence`: the status and the body.
async fn fence(api: &Api, connector: &str) -> (u16, serde_json::Value) {
    api.call(
        reqwest::Method::PUT,
        &format!("/connectors/{connector}/fence"),
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_fence_endpoint_fences_the_tasks_producers_as_kafka_connect_does() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-fence");
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    let (mut worker, api) = start_worker(dir.path(), &prefix, EOS_WORKER).await;
    Api::create_connector(&api, &name, datagen_config(&topic, "poll"))
        .await
        .unwrap();
    wait_running(&api, &name).await;
    wait_records(&topic, 500).await;
    let (status, body) = fence(&api, &name).await;
    assert_eq!(status, 204, "{body}");
    // The running task's producer had the fenced transactional id: the broker refuses its next
    // transaction (librdkafka's words), and the task starts again with a new producer.
    let log_of = |worker: &FerryProcess| worker.stderr() + &worker.stdout();
    wait_until(
        Duration::from_secs(60),
        "the task's producer fenced and the task restarted",
        || {
            let log = log_of(&worker);
            async move {
                ((log.contains("fenced by a newer instance")
                    || log.contains("fenced by newer producer"))
                    && log
                        .matches("exactly-once source task: zombies fenced")
                        .count()
                        >= 2)
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    assert!(
        log_of(&worker).contains("zombie fencing: every task's transactional producer fenced"),
        "the worker logs the fencing"
    );
    let before = topic_record_count(&topic);
    wait_records(&topic, before + 500).await;
    wait_running(&api, &name).await;
    // Kafka Connect's answers: 404 for an unknown connector, 400 for a sink.
    let (status, body) = fence(&api, &format!("{prefix}-no-such-connector")).await;
    assert_eq!(status, 404, "{body}");
    let sink = format!("{prefix}-sink");
    Api::create_connector(
        &api,
        &sink,
        json!({
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": dir.path().join("sink.txt").display().to_string(),
        }),
    )
    .await
    .unwrap();
    let (status, body) = fence(&api, &sink).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"].as_str().unwrap(),
        format!("Connector {sink} is not a source connector"),
        "{body}"
    );
    worker.signal(Signal::SIGTERM).unwrap();
    worker.wait_exit(Duration::from_secs(60)).await.unwrap();
    let seen = committed_sequence(&topic);
    let (missing, duplicated) = gaps_and_duplicates(&seen);
    assert!(seen.len() >= 500, "{} records", seen.len());
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
}

#[tokio::test]
async fn the_fence_endpoint_is_refused_on_a_worker_without_exactly_once_sources() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-fence-off");
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let name = format!("{prefix}-gen");
    let mut config = datagen_config(&format!("{prefix}-seq"), "poll");
    config
        .as_object_mut()
        .unwrap()
        .remove("exactly.once.support");
    config
        .as_object_mut()
        .unwrap()
        .remove("transaction.boundary");
    Api::create_connector(&api, &name, config).await.unwrap();
    let (status, body) = fence(&api, &name).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("exactly.once.source.support=enabled"),
        "{body}"
    );
    // `exactly.once.support=required` needs the worker's support, as in Kafka Connect.
    refused(
        &api,
        datagen_config(&format!("{prefix}-seq2"), "poll"),
        "exactly.once.support",
        "This worker does not have exactly-once source support enabled.",
    )
    .await;
}

/// A jar source answers Kafka Connect's preflight questions itself, in the plugin host:
/// Apache's `connect-file` 4.3.1 `FileStreamSourceConnector` declares exactly-once support for a
/// file (accepted, and its lines are committed exactly once) and not for stdin (refused), and
/// cannot define transaction boundaries; the same connector built on connect-api 2.8.2 predates
/// the API (its `null` is refused with Kafka Connect's message).
#[tokio::test]
async fn jar_sources_answer_the_exactly_once_preflight_questions() {
    const LINES: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-jar");
    let mut props = ferry_tests::plugins::plugin_properties();
    props.push(("exactly.once.source.support".into(), "enabled".into()));
    let (_worker, api) = start_worker(dir.path(), &prefix, &ferry_tests::as_refs(&props)).await;
    let topic = format!("{prefix}-lines");
    let input = dir.path().join("in.txt");
    let lines: Vec<String> = (0..LINES).map(|index| format!("line-{index}")).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let jar_source = |extra: &[(&str, &str)]| {
        let mut config = json!({
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "connector.plugin.version": ferry_tests::plugins::JAR_VERSION,
            "topic": topic,
            "key.converter": ferry_tests::plugins::STRING_CONVERTER,
            "value.converter": ferry_tests::plugins::STRING_CONVERTER,
            "exactly.once.support": "required",
        });
        for (key, value) in extra {
            config[*key] = json!(value);
        }
        config
    };
    let file = input.display().to_string();
    refused(
        &api,
        jar_source(&[]),
        "exactly.once.support",
        "The connector does not support exactly-once semantics with the provided configuration.",
    )
    .await;
    refused(
        &api,
        jar_source(&[("file", &file), ("transaction.boundary", "connector")]),
        "transaction.boundary",
        "The connector does not support connector-defined transaction boundaries",
    )
    .await;
    let name = format!("{prefix}-src");
    Api::create_connector(&api, &name, jar_source(&[("file", &file)]))
        .await
        .unwrap();
    let count = wait_until(Duration::from_secs(120), "every line committed", || async {
        let count = topic_record_count(&topic);
        (usize::try_from(count).unwrap() >= LINES).then_some(count)
    })
    .await
    .unwrap();
    let records = read_topic(&topic);
    let mut values: Vec<String> = records
        .iter()
        .map(|record| String::from_utf8(record.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(
        values.len(),
        LINES,
        "{count} offsets, transaction markers included"
    );
    values.sort_by_key(|value| value[5..].parse::<usize>().unwrap());
    assert_eq!(values, lines, "each line committed once, none missing");

    // connect-file 2.8.2 has no exactlyOnceSupport (Kafka Connect's API answers null for it).
    let old_api = ferry_tests::plugins::script_dir("fetch-test-plugins.sh")
        .parent()
        .unwrap()
        .join("plugins-old-api");
    let old_dir = tempfile::tempdir().unwrap();
    let host_dir = ferry_tests::plugins::script_dir("build-plugin-host.sh");
    let (_old_worker, old_api_worker) = start_worker(
        old_dir.path(),
        &format!("{prefix}-old"),
        &[
            ("plugin.path", old_api.to_str().unwrap()),
            ("plugin.host.dir", host_dir.to_str().unwrap()),
            ("exactly.once.source.support", "enabled"),
        ],
    )
    .await;
    refused(
        &old_api_worker,
        jar_source(&[("file", &file)]),
        "exactly.once.support",
        "The connector does not implement the API required for preflight validation of exactly-once source support.",
    )
    .await;
}

fn committed_sequence_without_intruder(topic: &str) -> BTreeMap<u64, usize> {
    let records = read_topic(topic);
    assert!(
        records
            .iter()
            .all(|record| record.key.as_deref() != Some(b"intruder".as_slice())),
        "the fenced intruder's record is not committed"
    );
    committed_sequence(topic)
}

async fn refused(api: &Api, config: serde_json::Value, key: &str, needle: &str) {
    let name = unique_name("eos-refused");
    let body = json!({"name": name, "config": config});
    let (status, error) = api
        .call(reqwest::Method::POST, "/connectors", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 400, "{key}: {error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(key) && message.contains(needle),
        "{key}: {message}"
    );
}

#[tokio::test]
async fn exactly_once_keys_are_validated_as_kafka_connect_does() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-validate");
    let (_worker, api) = start_worker(dir.path(), &prefix, EOS_WORKER).await;
    let topic = format!("{prefix}-t");
    let with = |key: &str, value: &str| {
        let mut config = datagen_config(&topic, "poll");
        config[key] = json!(value);
        config
    };
    refused(
        &api,
        with("exactly.once.support", "maybe"),
        "exactly.once.support",
        "requested",
    )
    .await;
    refused(
        &api,
        with("transaction.boundary", "sometimes"),
        "transaction.boundary",
        "poll",
    )
    .await;
    refused(
        &api,
        with("transaction.boundary", "connector"),
        "transaction.boundary",
        "does not support connector-defined transaction boundaries",
    )
    .await;
    refused(
        &api,
        with("offsets.storage.topic", "no/slashes"),
        "offsets.storage.topic",
        "is not a legal Kafka topic name",
    )
    .await;
    refused(
        &api,
        with("errors.deadletterqueue.topic.name", "dlq"),
        "errors.deadletterqueue.topic.name",
        "not supported yet",
    )
    .await;
    // FileStreamSource reading stdin (no `file`) tracks no offset: it does not declare
    // exactly-once support, so `required` is refused; with a file it is accepted.
    let stdin_source = json!({
        "connector.class": "FileStreamSource",
        "topic": topic,
        "exactly.once.support": "required",
    });
    refused(
        &api,
        stdin_source,
        "exactly.once.support",
        "does not support exactly-once",
    )
    .await;
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let file_source = json!({
        "connector.class": "FileStreamSource",
        "topic": topic,
        "file": input.display().to_string(),
        "exactly.once.support": "required",
    });
    Api::create_connector(&api, &unique_name("eos-file"), file_source)
        .await
        .unwrap();
    // The interval boundary with its interval is accepted.
    let mut interval = datagen_config(&topic, "interval");
    interval["transaction.boundary.interval.ms"] = json!("500");
    let interval_name = unique_name("eos-interval");
    Api::create_connector(&api, &interval_name, interval)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_worker_with_a_bad_exactly_once_source_support_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-badworker");
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(
        dir.path(),
        &prefix,
        addr,
        &[("exactly.once.source.support", "on")],
    )
    .unwrap();
    let status = worker.wait_exit(Duration::from_secs(30)).await.unwrap();
    assert!(!status.success());
    let log = worker.stderr();
    assert!(log.contains("exactly.once.source.support"), "{log}");
}

/// The worker log's WARN and ERROR lines, for a failure message.
fn warnings(log: &str) -> String {
    log.lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads the committed records of `topic` and counts each `(task, sequence number)`.
fn committed_per_task(topic: &str) -> BTreeMap<u32, BTreeMap<u64, usize>> {
    let mut seen: BTreeMap<u32, BTreeMap<u64, usize>> = BTreeMap::new();
    for record in read_topic(topic) {
        let key = String::from_utf8(record.key.expect("every datagen record has a key")).unwrap();
        let (task, seq) = key
            .split_once('-')
            .and_then(|(task, seq)| Some((task.parse().ok()?, seq.parse().ok()?)))
            .unwrap_or_else(|| panic!("unexpected key {key}"));
        *seen.entry(task).or_default().entry(seq).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn a_task_moved_off_a_killed_worker_resumes_exactly_once_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-move");
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    let (addrs, mut workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, EOS_WORKER)
        .await
        .unwrap();
    let api = Api::new(addrs[0]);
    let mut config = datagen_config(&topic, "poll");
    config["tasks.max"] = json!("2");
    Api::create_connector(&api, &name, config).await.unwrap();
    let status = api
        .wait_status(&name, Duration::from_secs(60), |status| {
            all_running(status, 2)
        })
        .await
        .unwrap();
    wait_records(&topic, 2_000).await;
    // Kill the worker running task 0 (not the one the test talks to, when it can choose).
    let owner = status["tasks"][0]["worker_id"]
        .as_str()
        .unwrap()
        .to_string();
    let victim = addrs
        .iter()
        .position(|addr| owner.ends_with(&format!(":{}", addr.port())))
        .expect("task 0 runs on a worker of the cluster");
    workers[victim].signal(Signal::SIGKILL).unwrap();
    workers[victim]
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap();
    let survivor = Api::new(addrs[(victim + 1) % 3]);
    survivor
        .wait_status(&name, Duration::from_secs(90), |status| {
            all_running(status, 2)
                && status["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|task| task["worker_id"] != owner.as_str())
        })
        .await
        .unwrap();
    let target = topic_record_count(&topic) + 2_000;
    wait_records(&topic, target).await;
    for (index, worker) in workers.iter_mut().enumerate() {
        if index != victim {
            worker.signal(Signal::SIGTERM).unwrap();
        }
    }
    for (index, worker) in workers.iter_mut().enumerate() {
        if index != victim {
            worker.wait_exit(Duration::from_secs(60)).await.unwrap();
        }
    }
    let per_task = committed_per_task(&topic);
    assert_eq!(per_task.len(), 2, "both tasks produced");
    for (task, seen) in &per_task {
        let (missing, duplicated) = gaps_and_duplicates(seen);
        println!(
            "task {task}: {} committed, missing {}, duplicated {}",
            seen.values().sum::<usize>(),
            missing.len(),
            duplicated.len()
        );
        assert!(missing.is_empty(), "task {task}: {} missing", missing.len());
        assert!(
            duplicated.is_empty(),
            "task {task}: {} duplicated",
            duplicated.len()
        );
    }
}

/// Until task 0 has written `more` records to `topic` (open transactions included) after the
/// call.
async fn task_0_writes(topic: &str, more: usize) {
    let task_0_in_log = || {
        ferry_tests::read_topic_uncommitted(topic)
            .iter()
            .filter(|record| {
                record
                    .key
                    .as_deref()
                    .is_some_and(|key| key.starts_with(b"0-"))
            })
            .count()
    };
    let at_least = task_0_in_log() + more;
    wait_until(
        Duration::from_secs(60),
        &format!("{at_least} records of task 0 in {topic}"),
        || async move { (task_0_in_log() >= at_least).then_some(()) },
    )
    .await
    .unwrap();
}

/// A zombie: the worker running task 0 is frozen (`kill -STOP`, as a long GC pause or a stalled
/// VM would) with a transaction open (`interval` boundary, an interval longer than the test),
/// the task moves to another worker, whose producer fences the task's `transactional.id`
/// (`init_transactions` bumps the producer epoch and aborts the frozen producer's transaction);
/// then the frozen worker resumes (`SIGCONT`) with its records in flight. It commits nothing: a
/// `read_committed` read shows each task's sequence once and without gaps (a commit by the
/// zombie would duplicate the records the new owner produced again from the last committed
/// offsets), and the frozen producer's records are in the log, aborted.
#[tokio::test]
async fn a_frozen_worker_resumed_after_its_task_moved_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-frozen");
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    let (addrs, mut workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, EOS_WORKER)
        .await
        .unwrap();
    let api = Api::new(addrs[0]);
    let mut config = datagen_config(&topic, "interval");
    config["tasks.max"] = json!("2");
    // Longer than the run up to the freeze (and below the producers' transaction.timeout.ms,
    // 60 s): the frozen task's first transaction is still open when it is frozen.
    config["transaction.boundary.interval.ms"] = json!("50000");
    Api::create_connector(&api, &name, config).await.unwrap();
    let status = api
        .wait_status(&name, Duration::from_secs(60), |status| {
            all_running(status, 2)
        })
        .await
        .unwrap();
    wait_log_end(&topic, 2_000).await;
    let owner = status["tasks"][0]["worker_id"]
        .as_str()
        .unwrap()
        .to_string();
    let frozen = addrs
        .iter()
        .position(|addr| owner.ends_with(&format!(":{}", addr.port())))
        .expect("task 0 runs on a worker of the cluster");
    let survivor = Api::new(addrs[(frozen + 1) % 3]);
    workers[frozen].signal(Signal::SIGSTOP).unwrap();
    survivor
        .wait_status(&name, Duration::from_secs(90), |status| {
            all_running(status, 2)
                && status["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|task| task["worker_id"] != owner.as_str())
        })
        .await
        .unwrap();
    // The new owner fenced the frozen producer (its `init_transactions` returns once the
    // broker aborted the open transaction) and goes on from the last committed offsets.
    task_0_writes(&topic, 500).await;
    workers[frozen].signal(Signal::SIGCONT).unwrap();
    // The resumed worker stops the task it ran (its lease deadline passed while it was frozen,
    // and the cluster moved the task), and the cluster settles with both tasks running.
    let log_of = |worker: &FerryProcess| worker.stderr() + &worker.stdout();
    wait_until(
        Duration::from_secs(60),
        "the resumed worker stopped its task",
        || {
            let log = log_of(&workers[frozen]);
            async move { log.contains("task stopped").then_some(()) }
        },
    )
    .await
    .unwrap();
    survivor
        .wait_status(&name, Duration::from_secs(60), |status| {
            all_running(status, 2)
        })
        .await
        .unwrap();
    task_0_writes(&topic, 500).await;
    for worker in &mut workers {
        worker.signal(Signal::SIGTERM).unwrap();
    }
    for worker in &mut workers {
        worker.wait_exit(Duration::from_secs(60)).await.unwrap();
    }
    let zombie_log = log_of(&workers[frozen]);
    let per_task = committed_per_task(&topic);
    assert_eq!(per_task.len(), 2, "both tasks produced");
    let mut committed = 0;
    for (task, seen) in &per_task {
        let (missing, duplicated) = gaps_and_duplicates(seen);
        committed += seen.values().sum::<usize>();
        println!(
            "task {task}: {} committed, missing {}, duplicated {}",
            seen.values().sum::<usize>(),
            missing.len(),
            duplicated.len()
        );
        assert!(
            missing.is_empty(),
            "task {task}: {} missing, from {:?}",
            missing.len(),
            missing.first()
        );
        assert!(
            duplicated.is_empty(),
            "task {task}: {} duplicated, from {:?}",
            duplicated.len(),
            duplicated.first()
        );
    }
    let in_log = ferry_tests::read_topic_uncommitted(&topic).len();
    println!("{committed} records committed, {in_log} in the log (aborted ones included)");
    assert!(
        in_log > committed,
        "the frozen producer's open transaction left aborted records in the log"
    );
    let fencing: Vec<&str> = zombie_log
        .lines()
        .filter(|line| {
            line.contains("not committing source offsets")
                || line.contains("fenced by newer producer")
                || line.contains("fenced by a newer instance")
                || line.contains("task stopped (fenced)")
        })
        .collect();
    println!(
        "the resumed worker's fencing lines:\n{}",
        fencing.join("\n")
    );
    assert!(
        !fencing.is_empty(),
        "the resumed worker logs why its task did not commit"
    );
}

/// The `{"task-count": N}` values of the `tasks-fencing-<connector>` records in the config
/// topic, in order.
fn task_count_records(config_topic: &str, connector: &str) -> Vec<serde_json::Value> {
    let key = format!("tasks-fencing-{connector}");
    read_topic(config_topic)
        .into_iter()
        .filter(|record| record.key.as_deref() == Some(key.as_bytes()))
        .map(|record| serde_json::from_slice(&record.value.unwrap_or_default()).unwrap())
        .collect()
}

#[tokio::test]
async fn lowering_tasks_max_fences_the_removed_tasks_of_the_previous_generation() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-count");
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    let (addrs, mut workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, EOS_WORKER)
        .await
        .unwrap();
    let mut config = datagen_config(&topic, "interval");
    config["tasks.max"] = json!("3");
    // Each task has a transaction open nearly all the time (records come every 2 ms).
    config["transaction.boundary.interval.ms"] = json!("2000");
    Api::create_connector(&Api::new(addrs[0]), &name, config.clone())
        .await
        .unwrap();
    let status = Api::new(addrs[0])
        .wait_status(&name, Duration::from_secs(60), |status| {
            all_running(status, 3)
        })
        .await
        .unwrap();
    wait_records(&topic, 3_000).await;
    // Every task has committed a transaction (a task that started late might not have yet: the
    // frozen one's records would then all be aborted).
    let topic_ref = &topic;
    wait_until(
        Duration::from_secs(30),
        "each task's records committed",
        || async move { (committed_per_task(topic_ref).len() == 3).then_some(()) },
    )
    .await
    .unwrap();
    let config_topic = format!("{prefix}-configs");
    assert_eq!(
        task_count_records(&config_topic, &name),
        [json!({"task-count": 3})],
        "the first generation's task count is recorded"
    );
    // Freeze the worker of task 2 (or 1, when task 2 runs on the leader, which the config change
    // needs): a zombie with a transaction open, which nobody takes over once tasks.max goes down
    // to 1.
    let (_, view) = Api::new(addrs[0]).get("/cluster").await.unwrap();
    let leader_id = view["leader"].as_str().unwrap().to_string();
    let worker_of = |task: usize| {
        let owner = status["tasks"][task]["worker_id"].as_str().unwrap();
        addrs
            .iter()
            .position(|addr| owner.ends_with(&format!(":{}", addr.port())))
            .expect("the task runs on a worker of the cluster")
    };
    let is_leader = |index: usize| format!("node-{}", addrs[index].port()) == leader_id;
    let frozen = [2, 1]
        .into_iter()
        .map(worker_of)
        .find(|index| !is_leader(*index))
        .expect("task 1 or 2 runs on a worker that does not lead");
    let survivor_index = (0..3).find(|index| is_leader(*index)).unwrap();
    let survivor = Api::new(addrs[survivor_index]);
    workers[frozen].signal(Signal::SIGSTOP).unwrap();
    // The frozen transaction holds back the last stable offset: read_committed readers see
    // nothing newer until it ends.
    let stuck_at = topic_record_count(&topic);
    config["tasks.max"] = json!("1");
    let (code, body) = survivor
        .call(
            reqwest::Method::PUT,
            &format!("/connectors/{name}/config"),
            Some(&config),
        )
        .await
        .unwrap();
    assert!(code == 200 || code == 201, "{code} {body}");
    // The leader fenced transactional ids 1 and 2 before it wrote the new task configs, which
    // aborted the frozen transaction: read_committed readers get task 0's new records well
    // before the frozen transaction's timeout (transaction.timeout.ms, 60 s) would end it.
    let changed_at = std::time::Instant::now();
    wait_until(
        Duration::from_secs(30),
        "committed records past the frozen transaction",
        || async { (topic_record_count(&topic) >= stuck_at + 1_000).then_some(()) },
    )
    .await
    .unwrap();
    println!(
        "read_committed moved on {:?} after the change (stuck at {stuck_at})",
        changed_at.elapsed()
    );
    // The leader writes the new task configs and the task-count record once it has fenced.
    let config_topic_ref = &config_topic;
    let name_ref = &name;
    wait_until(
        Duration::from_secs(30),
        "the new generation's task count recorded",
        || async move { (task_count_records(config_topic_ref, name_ref).len() >= 2).then_some(()) },
    )
    .await
    .unwrap();
    assert_eq!(
        task_count_records(&config_topic, &name),
        [json!({"task-count": 3}), json!({"task-count": 1})],
        "the new generation's task count is recorded after the fencing"
    );
    let log_of = |worker: &FerryProcess| worker.stderr() + &worker.stdout();
    let fencing_line = workers
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != frozen)
        .flat_map(|(_, worker)| {
            log_of(worker)
                .lines()
                .filter(|line| {
                    line.contains("the previous task generation's producers are fenced")
                        && line.contains(&format!("{prefix}-{name}-2"))
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .next()
        .unwrap_or_else(|| {
            let logs: String = workers.iter().map(log_of).collect();
            let lines: Vec<&str> = logs
                .lines()
                .filter(|line| line.contains("zombie fencing"))
                .collect();
            panic!("the leader logs the fencing of the removed tasks' producers: {lines:#?}")
        });
    for task in 1..3 {
        assert!(
            fencing_line.contains(&format!("{prefix}-{name}-{task}")),
            "{fencing_line}"
        );
    }
    // Resumed, the worker stops its removed task (its producer is fenced, and its lease may
    // have run out meanwhile); the cluster runs the one task of the new generation.
    workers[frozen].signal(Signal::SIGCONT).unwrap();
    survivor
        .wait_status(&name, Duration::from_secs(60), |status| {
            all_running(status, 1) && status["tasks"].as_array().unwrap().len() == 1
        })
        .await
        .unwrap();
    let before = topic_record_count(&topic);
    wait_records(&topic, before + 500).await;
    for worker in &mut workers {
        worker.signal(Signal::SIGTERM).unwrap();
    }
    for worker in &mut workers {
        worker.wait_exit(Duration::from_secs(60)).await.unwrap();
    }
    let per_task = committed_per_task(&topic);
    assert_eq!(
        per_task.keys().collect::<Vec<_>>(),
        [&0, &1, &2],
        "the three tasks produced"
    );
    for (task, seen) in &per_task {
        let (missing, duplicated) = gaps_and_duplicates(seen);
        println!(
            "task {task}: {} committed, missing {}, duplicated {}",
            seen.values().sum::<usize>(),
            missing.len(),
            duplicated.len()
        );
        assert!(missing.is_empty(), "task {task}: {} missing", missing.len());
        assert!(
            duplicated.is_empty(),
            "task {task}: {} duplicated",
            duplicated.len()
        );
    }
}

/// A restarted task reads the offsets its predecessor committed even while another task keeps
/// a transaction open in the same offsets partition. A `read_committed` reader stops at that
/// transaction's first record (the last stable offset), and everything committed behind it,
/// this task's latest offsets included, is hidden until it ends. One offsets partition and a
/// 20 s `interval` boundary for the other connector make that certain: the restarted task must
/// wait for it, not start from older offsets and write its records again.
#[tokio::test]
async fn a_restarted_task_sees_offsets_committed_behind_another_tasks_open_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-lso");
    let worker_props = [
        ("exactly.once.source.support", "enabled"),
        ("offset.storage.partitions", "1"),
    ];
    let (_worker, api) = start_worker(dir.path(), &prefix, &worker_props).await;
    let topic = format!("{prefix}-seq");
    let name = format!("{prefix}-gen");
    api.create_connector(&name, datagen_config(&topic, "poll"))
        .await
        .unwrap();
    wait_running(&api, &name).await;
    wait_records(&topic, 300).await;
    // (A task's start waits for the transactions open in the offsets topic: the holder starts
    // after the task, or the task's own start would wait for the holder's commit.)
    let holder_topic = format!("{prefix}-holder");
    let mut holder = datagen_config(&holder_topic, "interval");
    holder["transaction.boundary.interval.ms"] = json!("20000");
    holder["max.interval"] = json!("50");
    let holder_name = format!("{prefix}-holder");
    api.create_connector(&holder_name, holder).await.unwrap();
    wait_running(&api, &holder_name).await;
    // The holder's first transaction is open (its records are in the log, none committed), and
    // the task commits more behind it.
    wait_log_end(&holder_topic, 5).await;
    let behind = topic_record_count(&topic);
    wait_records(&topic, behind + 300).await;
    assert_eq!(
        topic_record_count(&holder_topic),
        0,
        "the holder's transaction is still open when the task restarts ({} in its log)",
        ferry_tests::topic_log_end_count(&holder_topic)
    );
    let (code, body) = api
        .call(
            reqwest::Method::POST,
            &format!("/connectors/{name}/tasks/0/restart"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(code, 204, "{body}");
    let before = topic_record_count(&topic);
    // Past the holder's commit (20 s after its first record) the restarted task runs again.
    wait_records(&topic, before + 500).await;
    let seen = committed_sequence(&topic);
    let (missing, duplicated) = gaps_and_duplicates(&seen);
    println!(
        "restart behind an open transaction: {} numbers, missing {}, duplicated {}",
        seen.len(),
        missing.len(),
        duplicated.len()
    );
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(
        duplicated.is_empty(),
        "written twice ({}), from {:?}",
        duplicated.len(),
        duplicated.first()
    );
}
