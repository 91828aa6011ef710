//! Connector-defined transactions (`transaction.boundary=connector`, KIP-618) against the real
//! Kafka: the conformance jar's `BoundarySourceConnector` ends its transactions through Kafka
//! Connect's `TransactionContext`, on Ferry across a `kill -9` and on Kafka Connect 4.3.1, and a
//! `read_committed` consumer sees exactly the numbers of the committed transactions, once each.
//! A binary of its own: its plugin host and Kafka Connect JVMs would load the other
//! exactly-once tests' machine.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_tests::{all_running, read_topic, start_worker, unique_name, wait_until, Api};
use nix::sys::signal::Signal;
use serde_json::json;

async fn wait_running(api: &Api, name: &str) {
    api.wait_status(name, Duration::from_secs(60), |status| {
        all_running(status, 1)
    })
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

/// The conformance jar's source that ends its own transactions (tests/plugins/
/// conformance-connector, `BoundarySourceConnector`): transaction k holds the numbers
/// `(k-1)*size+1 ..= k*size` and is aborted when k is divisible by 3, with each of
/// `TransactionContext`'s four calls in turn.
const BOUNDARY_SOURCE: &str = "dev.ferry.conformance.BoundarySourceConnector";
const BOUNDARY_SIZE: u64 = 100;

/// Whether the boundary source aborts the transaction of `number`.
fn in_aborted_transaction(number: u64) -> bool {
    number.div_ceil(BOUNDARY_SIZE).is_multiple_of(3)
}

fn boundary_config(topic: &str, max: u64) -> serde_json::Value {
    json!({
        "connector.class": BOUNDARY_SOURCE,
        "topic": topic,
        "max.messages": max.to_string(),
        "transaction.size": BOUNDARY_SIZE.to_string(),
        "poll.delay.ms": "20",
        "tasks.max": "1",
        "key.converter": ferry_tests::plugins::STRING_CONVERTER,
        "value.converter": ferry_tests::plugins::STRING_CONVERTER,
        "exactly.once.support": "required",
        "transaction.boundary": "connector",
    })
}

/// Waits until the source's stored offset is `max` (its last transaction ended) in
/// `offsets_topic`.
async fn wait_boundary_source_done(offsets_topic: &str, name: &str, max: u64) {
    wait_until(
        Duration::from_secs(120),
        &format!("offset {max} of {name} in {offsets_topic}"),
        || async {
            ferry_tests::offset_in_topic(offsets_topic, name)
                .is_some_and(|offset| offset["last"] == max)
                .then_some(())
        },
    )
    .await
    .unwrap();
}

/// Checks what `topic` holds after a run of the boundary source up to `max`: committed, every
/// number of a committed transaction once and nothing of an aborted one; in the log, aborted
/// records too (the connector's aborts were transactions that Kafka aborted, not records never
/// sent). Returns (committed, log offsets).
fn check_connector_defined_transactions(topic: &str, max: u64) -> (usize, i64) {
    let mut seen = BTreeMap::new();
    for record in read_topic(topic) {
        let number: u64 = String::from_utf8(record.value.unwrap())
            .unwrap()
            .parse()
            .unwrap();
        *seen.entry(number).or_insert(0_usize) += 1;
    }
    let expected: Vec<u64> = (1..=max)
        .filter(|number| !in_aborted_transaction(*number))
        .collect();
    let duplicated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(duplicated.is_empty(), "written twice: {duplicated:?}");
    let committed: Vec<u64> = seen.keys().copied().collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|number| !seen.contains_key(number))
        .collect();
    let unexpected: Vec<_> = committed
        .iter()
        .filter(|number| expected.binary_search(number).is_err())
        .collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{} missing (from {:?}), {} from aborted transactions (from {:?})",
        missing.len(),
        missing.first(),
        unexpected.len(),
        unexpected.first()
    );
    let aborted_in_log = ferry_tests::read_topic_uncommitted(topic)
        .into_iter()
        .filter(|record| {
            let number: u64 = String::from_utf8(record.value.clone().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            in_aborted_transaction(number)
        })
        .count();
    assert!(
        aborted_in_log > 0,
        "no aborted record in the log of {topic}"
    );
    (committed.len(), ferry_tests::topic_log_end_count(topic))
}

#[tokio::test]
async fn a_jar_source_defines_its_own_transactions_across_kill_9() {
    // The last transaction (210, aborted by its batch) ends at the last number: the stored
    // offset reaches it only through the commit of the aborted transaction's offsets.
    const MAX: u64 = 21_000;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-boundary");
    let mut props = ferry_tests::plugins::plugin_properties();
    props.push(("exactly.once.source.support".into(), "enabled".into()));
    let props = ferry_tests::as_refs(&props);
    let (mut worker, api) = start_worker(dir.path(), &prefix, &props).await;
    let topic = format!("{prefix}-numbers");
    let name = format!("{prefix}-src");
    Api::create_connector(&api, &name, boundary_config(&topic, MAX))
        .await
        .unwrap();
    wait_running(&api, &name).await;
    // Killed mid-stream, with a transaction open.
    wait_log_end(&topic, 5_000).await;
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    let in_log_at_kill = ferry_tests::topic_log_end_count(&topic);
    let (mut worker, api) = start_worker(dir.path(), &prefix, &props).await;
    wait_running(&api, &name).await;
    wait_boundary_source_done(&format!("{prefix}-offsets"), &name, MAX).await;
    worker.signal(Signal::SIGTERM).unwrap();
    worker.wait_exit(Duration::from_secs(60)).await.unwrap();
    let (committed, in_log) = check_connector_defined_transactions(&topic, MAX);
    println!(
        "connector-defined transactions: {committed} committed of {MAX}, {in_log} offsets in the log ({in_log_at_kill} at the kill)"
    );
    assert!(
        in_log_at_kill < in_log,
        "the kill came after the last record"
    );
}

#[tokio::test]
async fn kafka_connect_commits_the_same_numbers_of_connector_defined_transactions() {
    // The same connector on Kafka Connect 4.3.1: the rule the Ferry test checks is its
    // behaviour too.
    const MAX: u64 = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("eos-boundary-kc");
    let plugin_path = ferry_tests::plugins::plugin_properties()
        .into_iter()
        .find(|(key, _)| key == "plugin.path")
        .map(|(_, value)| value)
        .unwrap();
    let port = ferry_tests::free_local_addr().port();
    let group = prefix.clone();
    let kc_dir = dir.path().to_path_buf();
    let mut connect = tokio::task::spawn_blocking(move || {
        ferry_tests::kafka_connect::KafkaConnectWorker::start(
            &kc_dir,
            "kc",
            port,
            &group,
            &[
                ("plugin.path", plugin_path.as_str()),
                ("exactly.once.source.support", "enabled"),
            ],
        )
    })
    .await
    .unwrap()
    .unwrap();
    let api = Api::new(connect.addr());
    let topic = format!("{prefix}-numbers");
    let name = format!("{prefix}-src");
    Api::create_connector(&api, &name, boundary_config(&topic, MAX))
        .await
        .unwrap();
    wait_boundary_source_done(&format!("{prefix}-offsets"), &name, MAX).await;
    tokio::task::spawn_blocking(move || connect.stop())
        .await
        .unwrap()
        .unwrap();
    let (committed, in_log) = check_connector_defined_transactions(&topic, MAX);
    println!("Kafka Connect, connector-defined transactions: {committed} committed of {MAX}, {in_log} offsets in the log");
}
