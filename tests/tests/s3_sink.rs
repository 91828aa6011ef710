//! The S3 sink against a real S3 server (moto_server from `scripts/services.sh start s3`, on
//! http://127.0.0.1:9000 unless `FERRY_TEST_S3_URL` says otherwise) and the real broker: exact
//! contents, `kill -9` of the worker, a server that goes away and comes back, a bad record.
//!
//! Every test creates its own bucket and topics. The outage test runs its own moto_server on a
//! free port (killing the shared one would wipe other tests' buckets: moto keeps everything in
//! memory).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_tests::{
    all_running, create_topic, free_local_addr, start_worker, test_bootstrap, unique_name, Api,
};
use futures::TryStreamExt;
use nix::sys::signal::Signal;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ObjectStore, ObjectStoreExt};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{json, Value};

const ACCESS_KEY: &str = "ferry";
const SECRET_KEY: &str = "ferrysecret";
const REGION: &str = "us-east-1";
const RECORDS: i64 = 10_000;

fn s3_url() -> String {
    std::env::var("FERRY_TEST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:9000".to_string())
}

/// Fails the test with the command to run when no S3 server answers at `url`.
async fn require_s3(url: &str) {
    if let Err(error) = reqwest::get(format!("{url}/")).await {
        panic!(
            "no S3 server answers at {url} ({error}): start it with `scripts/services.sh start s3`"
        );
    }
}

/// Creates a bucket. moto does not check signatures, so a plain PUT is enough.
async fn create_bucket(url: &str, bucket: &str) {
    let response = reqwest::Client::new()
        .put(format!("{url}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "create bucket {bucket}: {}",
        response.status()
    );
}

fn store(url: &str, bucket: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(url)
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_region(REGION)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap()
}

/// One object the sink wrote, with its key parsed.
#[derive(Debug, Clone)]
struct SinkObject {
    key: String,
    partition: i32,
    start_offset: i64,
    last_modified: std::time::SystemTime,
    e_tag: String,
    lines: Vec<Value>,
}

/// Lists and reads every object under `topics/<topic>/`; `None` while the server is unreachable.
async fn read_objects(store: &AmazonS3, topic: &str) -> Option<Vec<SinkObject>> {
    let prefix = object_store::path::Path::from(format!("topics/{topic}"));
    let metas: Vec<_> = store.list(Some(&prefix)).try_collect().await.ok()?;
    let mut objects = Vec::new();
    for meta in metas {
        let key = meta.location.to_string();
        let name = key.rsplit('/').next().unwrap_or_default().to_string();
        let parts: Vec<&str> = name.trim_end_matches(".json").split('+').collect();
        assert_eq!(parts.len(), 3, "object name {key}");
        assert_eq!(parts[0], topic, "object name {key}");
        let partition: i32 = parts[1].parse().unwrap();
        assert_eq!(
            parts[2].len(),
            10,
            "offset zero-padded to 10 digits in {key}"
        );
        assert_eq!(
            key,
            format!("topics/{topic}/partition={partition}/{name}"),
            "Confluent's layout"
        );
        let bytes = store.get(&meta.location).await.ok()?.bytes().await.ok()?;
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let lines = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        objects.push(SinkObject {
            key,
            partition,
            start_offset: parts[2].parse().unwrap(),
            last_modified: meta.last_modified.into(),
            e_tag: meta.e_tag.clone().unwrap_or_default(),
            lines,
        });
    }
    objects.sort_by_key(|object| (object.partition, object.start_offset));
    Some(objects)
}

fn line_count(objects: &[SinkObject]) -> usize {
    objects.iter().map(|object| object.lines.len()).sum()
}

async fn wait_for_lines(
    store: &AmazonS3,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Vec<SinkObject> {
    let mut last = 0;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(objects) = read_objects(store, topic).await {
            last = line_count(&objects);
            if last >= count {
                return objects;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {count} lines in s3 objects of {topic}; last count {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn producer() -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

fn record_json(id: i64) -> String {
    json!({"id": id, "name": format!("record {id}"), "amount": id % 97}).to_string()
}

/// Produces records with ids `ids` to `partition` (or id % partitions when `None`); `None` in
/// `tombstone_at` means every record has a value.
fn produce(topic: &str, ids: std::ops::Range<i64>, partitions: i32, tombstone_at: Option<i64>) {
    let producer = producer();
    for id in ids {
        let key = id.to_string();
        let partition = i32::try_from(id % i64::from(partitions)).unwrap();
        let payload = record_json(id);
        let mut record = BaseRecord::<String, String>::to(topic)
            .key(&key)
            .partition(partition);
        if tombstone_at != Some(id) {
            record = record.payload(&payload);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

fn sink_config(topic: &str, bucket: &str, url: &str, flush_size: u32) -> Value {
    json!({
        "connector.class": "io.confluent.connect.s3.S3SinkConnector",
        "topics": topic,
        "s3.bucket.name": bucket,
        "s3.region": REGION,
        "store.url": url,
        "aws.access.key.id": ACCESS_KEY,
        "aws.secret.access.key": SECRET_KEY,
        "storage.class": "io.confluent.connect.s3.storage.S3Storage",
        "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
        "flush.size": flush_size.to_string(),
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    })
}

/// The committed offsets of a sink connector, by partition.
async fn committed_offsets(api: &Api, connector: &str) -> BTreeMap<i64, i64> {
    let Ok((200, body)) = api.get(&format!("/connectors/{connector}/offsets")).await else {
        return BTreeMap::new();
    };
    body["offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            Some((
                entry["partition"]["kafka_partition"].as_i64()?,
                entry["offset"]["kafka_offset"].as_i64()?,
            ))
        })
        .collect()
}

async fn wait_committed(
    api: &Api,
    connector: &str,
    expected: &BTreeMap<i64, i64>,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let committed = committed_offsets(api, connector).await;
        if &committed == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for committed offsets {expected:?}; last {committed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks that each object's lines are exactly the records from its start offset on, given
/// where record `id` lives (`locate(id) = (partition, offset)`), and returns every id seen.
fn check_objects(objects: &[SinkObject], locate: impl Fn(i64) -> (i32, i64)) -> Vec<i64> {
    let mut ids = Vec::new();
    for object in objects {
        for (index, line) in object.lines.iter().enumerate() {
            let id = line["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{}: {line}", object.key));
            assert_eq!(
                line,
                &serde_json::from_str::<Value>(&record_json(id)).unwrap()
            );
            let expected = (
                object.partition,
                object.start_offset + i64::try_from(index).unwrap(),
            );
            assert_eq!(locate(id), expected, "record {id} in {}", object.key);
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn ten_thousand_records_land_in_objects_named_by_offset() {
    let url = s3_url();
    require_s3(&url).await;
    let prefix = unique_name("s3ok");
    let bucket = unique_name("ferry-ok").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let topic = format!("{prefix}-orders");
    create_topic(&topic, 2).await;
    produce(&topic, 0..RECORDS, 2, None);

    let dir = tempfile::tempdir().unwrap();
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let connector = format!("{prefix}-s3");
    api.create_connector(&connector, sink_config(&topic, &bucket, &url, 500))
        .await
        .unwrap();
    let store = store(&url, &bucket);
    let objects = wait_for_lines(&store, &topic, 10_000, Duration::from_secs(120)).await;

    // Record `id` is at offset id / 2 of partition id % 2; 5,000 per partition in objects of 500.
    let ids = check_objects(&objects, |id| (i32::try_from(id % 2).unwrap(), id / 2));
    assert_eq!(ids.len(), 10_000);
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct, (0..RECORDS).collect::<BTreeSet<i64>>());
    let names: Vec<String> = objects.iter().map(|object| object.key.clone()).collect();
    let expected_names: Vec<String> = (0..2)
        .flat_map(|partition| {
            let topic = topic.clone();
            (0..10).map(move |index| {
                format!(
                    "topics/{topic}/partition={partition}/{topic}+{partition}+{:010}.json",
                    index * 500
                )
            })
        })
        .collect();
    assert_eq!(names, expected_names);
    wait_committed(
        &api,
        &connector,
        &BTreeMap::from([(0, 5_000), (1, 5_000)]),
        Duration::from_secs(30),
    )
    .await;
    let status = api
        .get(&format!("/connectors/{connector}/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
}

#[tokio::test]
async fn an_object_bigger_than_a_part_goes_up_as_a_multipart_upload() {
    let url = s3_url();
    require_s3(&url).await;
    let prefix = unique_name("s3big");
    let bucket = unique_name("ferry-big").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let topic = format!("{prefix}-orders");
    create_topic(&topic, 1).await;
    // ~46 bytes a line: 130,000 records make one object of ~6 MB, more than the 5 MiB part.
    let count = 130_000;
    produce(&topic, 0..count, 1, None);

    let dir = tempfile::tempdir().unwrap();
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let connector = format!("{prefix}-s3");
    let mut config = sink_config(&topic, &bucket, &url, 130_000);
    config["s3.part.size"] = json!("5242880");
    api.create_connector(&connector, config).await.unwrap();
    let store = store(&url, &bucket);
    let objects = wait_for_lines(&store, &topic, 130_000, Duration::from_secs(180)).await;
    assert_eq!(objects.len(), 1);
    assert_eq!(
        check_objects(&objects, |id| (0, id)),
        (0..count).collect::<Vec<i64>>()
    );
    // S3 (and moto) give a multipart object the ETag `<md5 of the part md5s>-<parts>`.
    assert!(
        objects[0].e_tag.trim_matches('"').ends_with("-2"),
        "ETag {}",
        objects[0].e_tag
    );
    wait_committed(
        &api,
        &connector,
        &BTreeMap::from([(0, count)]),
        Duration::from_secs(30),
    )
    .await;
}

#[tokio::test]
async fn kill_9_mid_stream_keeps_exactly_ten_thousand_records() {
    let url = s3_url();
    require_s3(&url).await;
    let prefix = unique_name("s3kill");
    let bucket = unique_name("ferry-kill").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let topic = format!("{prefix}-orders");
    create_topic(&topic, 1).await;

    let dir = tempfile::tempdir().unwrap();
    // Offsets are committed when the stream pauses or every offset.flush.interval.ms: a long
    // interval leaves uploaded objects uncommitted at the kill, so the restarted task must
    // write them again under the same names (it usually does; the test prints how many).
    let (mut worker, api) = start_worker(
        dir.path(),
        &prefix,
        &[("offset.flush.interval.ms", "60000")],
    )
    .await;
    let connector = format!("{prefix}-s3");
    api.create_connector(&connector, sink_config(&topic, &bucket, &url, 100))
        .await
        .unwrap();
    api.wait_status(&connector, Duration::from_secs(30), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();

    // Records keep arriving in chunks while the worker is killed.
    let producing = {
        let topic = topic.clone();
        std::thread::spawn(move || {
            for chunk in 0..100 {
                produce(&topic, chunk * 100..(chunk + 1) * 100, 1, None);
            }
        })
    };
    let store = store(&url, &bucket);
    let at_kill = wait_for_lines(&store, &topic, 1_000, Duration::from_secs(120)).await;
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    let committed_at_kill = committed_offsets_from_kafka(&format!("connect-{connector}"), &topic);
    println!(
        "killed the worker with {} objects uploaded ({} lines); producer finished: {}; committed then: {committed_at_kill:?}",
        at_kill.len(),
        line_count(&at_kill),
        producing.is_finished()
    );
    producing.join().unwrap();

    let (_restarted, api) = start_worker(dir.path(), &prefix, &[]).await;
    let objects = wait_for_lines(&store, &topic, 10_000, Duration::from_secs(180)).await;
    wait_committed(
        &api,
        &connector,
        &BTreeMap::from([(0, RECORDS)]),
        Duration::from_secs(60),
    )
    .await;
    let objects = read_objects(&store, &topic).await.unwrap_or(objects);

    let ids = check_objects(&objects, |id| (0, id));
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        10_000,
        "lines in objects (duplicates would make more)"
    );
    assert_eq!(distinct, (0..RECORDS).collect::<BTreeSet<i64>>());
    assert_eq!(objects.len(), 100, "objects of 100 records");
    let rewritten = at_kill
        .iter()
        .filter(|before| {
            objects
                .iter()
                .any(|after| after.key == before.key && after.last_modified != before.last_modified)
        })
        .count();
    println!("objects uploaded before the kill and written again after it: {rewritten}");
    let status = api
        .get(&format!("/connectors/{connector}/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
}

/// Reads a sink's committed offsets straight from the broker (when its worker is gone).
fn committed_offsets_from_kafka(group: &str, topic: &str) -> BTreeMap<i64, i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            rdkafka::Offset::Offset(offset) => Some((i64::from(element.partition()), offset)),
            _ => None,
        })
        .collect()
}

/// A moto_server of this test's own, so it can be stopped without touching the shared one.
struct PrivateS3 {
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
}

fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("FERRY_CACHE_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ferry"),
        PathBuf::from,
    );
    let binary = cache.join("venv-moto/bin/moto_server");
    assert!(
        binary.exists(),
        "{} is missing: run `scripts/services.sh start s3` once (it installs moto_server)",
        binary.display()
    );
    binary
}

impl PrivateS3 {
    async fn start(addr: SocketAddr, log: PathBuf) -> Self {
        let mut server = PrivateS3 {
            child: None,
            addr,
            log,
        };
        server.restart().await;
        server
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let url = self.url();
        ferry_tests::wait_until(
            Duration::from_secs(60),
            "the private moto_server to answer",
            || {
                let url = url.clone();
                async move { reqwest::get(format!("{url}/")).await.ok().map(|_| ()) }
            },
        )
        .await
        .unwrap_or_else(|error| {
            panic!(
                "{error}; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        });
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn s3_down_for_a_while_then_back_the_task_retries_and_catches_up() {
    // Make sure moto is installed (and say how) before anything else.
    let _ = moto_binary();
    let dir = tempfile::tempdir().unwrap();
    let mut server = PrivateS3::start(free_local_addr(), dir.path().join("moto.log")).await;
    let url = server.url();
    let prefix = unique_name("s3down");
    let bucket = unique_name("ferry-down").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let topic = format!("{prefix}-orders");
    create_topic(&topic, 1).await;

    // Default settings: a retriable S3 failure is retried in place for as long as the server
    // is away; the task stays RUNNING (tests/tests/outages.rs holds it down for a minute).
    let (worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let connector = format!("{prefix}-s3");
    api.create_connector(&connector, sink_config(&topic, &bucket, &url, 100))
        .await
        .unwrap();
    produce(&topic, 0..1_000, 1, None);
    let store_before = store(&url, &bucket);
    wait_for_lines(&store_before, &topic, 1_000, Duration::from_secs(120)).await;
    wait_committed(
        &api,
        &connector,
        &BTreeMap::from([(0, 1_000)]),
        Duration::from_secs(60),
    )
    .await;

    // The server goes away (with everything it stored: moto is in memory) while records arrive.
    server.kill();
    produce(&topic, 1_000..2_000, 1, None);
    let failing = api
        .wait_status(&connector, Duration::from_secs(120), |status| {
            status["tasks"][0]["state"] == "RUNNING"
                && status["tasks"][0]["retries"].as_u64().unwrap_or(0) >= 1
        })
        .await
        .unwrap();
    let last_error = failing["tasks"][0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("task status while S3 is down: {failing}");
    assert!(last_error.contains("External"), "{last_error}");
    assert!(last_error.contains(&bucket), "{last_error}");

    // Back, empty: re-create the bucket; the task uploads everything not committed yet.
    server.restart().await;
    create_bucket(&url, &bucket).await;
    let store_after = store(&url, &bucket);
    let objects = wait_for_lines(&store_after, &topic, 1_000, Duration::from_secs(180)).await;
    wait_committed(
        &api,
        &connector,
        &BTreeMap::from([(0, 2_000)]),
        Duration::from_secs(60),
    )
    .await;
    let objects = read_objects(&store_after, &topic).await.unwrap_or(objects);
    // Offsets below 1,000 were committed before the outage: they are not written again, and
    // 1,000..2,000 are there exactly once, in objects named after their first offset.
    let ids = check_objects(&objects, |id| (0, id));
    assert_eq!(ids, (1_000..2_000).collect::<Vec<i64>>());
    assert_eq!(
        objects.first().map(|object| object.start_offset),
        Some(1_000)
    );
    let status = api
        .get(&format!("/connectors/{connector}/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
    let (health, _) = api.get("/health").await.unwrap();
    assert_eq!(health, 200);
    drop(worker);
}

#[tokio::test]
async fn a_bad_record_fails_the_task_naming_it_and_other_connectors_keep_running() {
    let url = s3_url();
    require_s3(&url).await;
    let prefix = unique_name("s3bad");
    let bucket = unique_name("ferry-bad").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let bad_topic = format!("{prefix}-bad");
    let good_topic = format!("{prefix}-good");
    create_topic(&bad_topic, 1).await;
    create_topic(&good_topic, 1).await;
    // Offset 1 is a tombstone: JsonFormat cannot write a null value under the default
    // behavior.on.null.values=fail.
    produce(&bad_topic, 0..3, 1, Some(1));

    let dir = tempfile::tempdir().unwrap();
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let bad = format!("{prefix}-bad-s3");
    let good = format!("{prefix}-good-s3");
    api.create_connector(&bad, sink_config(&bad_topic, &bucket, &url, 1))
        .await
        .unwrap();
    api.create_connector(&good, sink_config(&good_topic, &bucket, &url, 10))
        .await
        .unwrap();
    let failed = api
        .wait_status(&bad, Duration::from_secs(60), |status| {
            status["tasks"][0]["state"] == "FAILED"
        })
        .await
        .unwrap();
    let trace = failed["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains(&format!("topic {bad_topic} partition 0 offset 1")),
        "{trace}"
    );
    assert!(trace.contains("behavior.on.null.values"), "{trace}");
    assert_eq!(
        failed["tasks"][0]["restarts"].as_u64().unwrap_or(0),
        0,
        "a user error is not retried"
    );

    // The record before the bad one was written; nothing after it.
    let store = store(&url, &bucket);
    let bad_objects = read_objects(&store, &bad_topic).await.unwrap();
    assert_eq!(check_objects(&bad_objects, |id| (0, id)), vec![0]);

    // The other connector on the same worker keeps working.
    produce(&good_topic, 0..50, 1, None);
    let objects = wait_for_lines(&store, &good_topic, 50, Duration::from_secs(60)).await;
    assert_eq!(
        check_objects(&objects, |id| (0, id)),
        (0..50).collect::<Vec<i64>>()
    );
    let status = api
        .get(&format!("/connectors/{good}/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
    let (health, _) = api.get("/health").await.unwrap();
    assert_eq!(health, 200);
}

#[tokio::test]
async fn after_a_regex_router_offsets_are_committed_for_the_consumed_topic_once_uploaded() {
    let url = s3_url();
    require_s3(&url).await;
    let prefix = unique_name("s3route");
    let bucket = unique_name("ferry-route").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let topic = format!("{prefix}-orders");
    let routed = format!("{prefix}-routed");
    create_topic(&topic, 1).await;
    produce(&topic, 0..1_000, 1, None);

    let dir = tempfile::tempdir().unwrap();
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let connector = format!("{prefix}-s3");
    let mut config = sink_config(&topic, &bucket, &url, 300);
    config["transforms"] = json!("route");
    config["transforms.route.type"] = json!("org.apache.kafka.connect.transforms.RegexRouter");
    config["transforms.route.regex"] = json!("(.*)-orders");
    config["transforms.route.replacement"] = json!("$1-routed");
    api.create_connector(&connector, config).await.unwrap();
    let store = store(&url, &bucket);
    let group = format!("connect-{connector}");

    // Objects of 300 records are named after the routed topic; the last 100 records wait in an
    // open object, so the consumed topic's committed offset stops at 900, never past the
    // records in S3 (offsets are read before the objects, which only grow).
    let check_committed_within_uploaded = |expected: i64| {
        let store = &store;
        let routed = &routed;
        let group = &group;
        let topic = &topic;
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let committed = committed_offsets_from_kafka(group, topic);
                let uploaded = read_objects(store, routed).await.map(|o| line_count(&o));
                if let (Some(&offset), Some(lines)) = (committed.get(&0), uploaded) {
                    assert!(
                        offset <= i64::try_from(lines).unwrap(),
                        "committed {offset} with only {lines} records in S3"
                    );
                    if offset == expected {
                        return;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for committed offset {expected} of {topic}; last {committed:?}, {uploaded:?} records uploaded"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    check_committed_within_uploaded(900).await;
    let objects = read_objects(&store, &routed).await.unwrap();
    assert_eq!(
        check_objects(&objects, |id| (0, id)),
        (0..900).collect::<Vec<_>>()
    );
    assert!(read_objects(&store, &topic).await.unwrap().is_empty());

    // 200 more records close the open object: the offset advances to the end.
    produce(&topic, 1_000..1_200, 1, None);
    check_committed_within_uploaded(1_200).await;
    let objects = read_objects(&store, &routed).await.unwrap();
    assert_eq!(
        check_objects(&objects, |id| (0, id)),
        (0..1_200).collect::<Vec<_>>()
    );
}
