//! Outages of the servers under the built-in sinks ride out without FAILED tasks (issue 17):
//! one worker with default settings runs a JDBC sink on PostgreSQL, an S3 sink on moto and an
//! Elasticsearch sink on OpenSearch; each server is stopped for a minute while records flow,
//! then started again. During the outage every task stays RUNNING with a growing retry count
//! (status `retries`, `/metrics` `ferry_task_retries_total` and `ferry_task_retrying`);
//! afterwards every record is there.
//!
//! The servers are PRIVATE instances started by `scripts/services.sh` with their own
//! `FERRY_SERVICES_DIR` and ports (the shared ones on 15432, 9000 and 9200 are never touched).
//! The three outages run at once to keep the test short. `FERRY_OUTAGE_SECS` shortens the
//! outage for local runs (default 60; the JDBC sink's own retries, `max.retries` 10 x
//! `retry.backoff.ms` 3 s, hide an outage shorter than about 40 s from the runtime);
//! `FERRY_OUTAGES=postgres,s3,es` picks the servers.
//!
//! Duplicates: all three sinks here are idempotent (JDBC upsert on `id`, S3 objects named by
//! their first offset, Elasticsearch documents keyed by the record key), so a redelivered
//! record overwrites itself; the checks below demand exactly one row / line / document each.
//! moto keeps everything in memory, so a stopped moto loses its objects: the test reads every
//! object just before the outage (after the sink committed all of them) and re-creates the
//! bucket when moto is back; records are checked over both reads.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_tests::{
    create_topic, free_local_addr, repo_root, start_worker, unique_name, wait_until, Api,
};
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ObjectStore, ObjectStoreExt};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{json, Value};

const BEFORE: i64 = 1_000;
/// Records produced during the outage, in [`CHUNKS`] chunks spread over it.
const DURING: i64 = 3_000;
const CHUNKS: i64 = 6;
const AFTER: i64 = 1_000;
const TOTAL: i64 = BEFORE + DURING + AFTER;

fn outage_length() -> Duration {
    let secs = std::env::var("FERRY_OUTAGE_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// A private instance of one of `scripts/services.sh`'s services, in its own state dir and on
/// its own ports. Stopped (and its dir removed) when dropped.
struct PrivateService {
    service: &'static str,
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl PrivateService {
    /// Starts `service` on free ports; `ports` names the port variables to set.
    fn start(service: &'static str, ports: &[&'static str]) -> (Self, Vec<u16>) {
        let dir = tempfile::Builder::new()
            .prefix("ferry-outage-")
            .tempdir()
            .unwrap();
        let mut env = Vec::new();
        let mut numbers = Vec::new();
        for variable in ports {
            let port = free_local_addr().port();
            env.push((*variable, port.to_string()));
            numbers.push(port);
        }
        let service = PrivateService { service, dir, env };
        service.run("start");
        (service, numbers)
    }

    fn run(&self, action: &str) {
        run_services(action, self.service, self.dir.path(), &self.env);
    }

    async fn stop(&self) {
        let this = (
            self.service,
            self.dir.path().to_path_buf(),
            self.env.clone(),
        );
        tokio::task::spawn_blocking(move || run_services("stop", this.0, &this.1, &this.2))
            .await
            .unwrap();
    }

    async fn restart(&self) {
        let this = (
            self.service,
            self.dir.path().to_path_buf(),
            self.env.clone(),
        );
        tokio::task::spawn_blocking(move || run_services("start", this.0, &this.1, &this.2))
            .await
            .unwrap();
    }
}

fn run_services(action: &str, service: &str, dir: &Path, env: &[(&'static str, String)]) {
    let script = repo_root().join("scripts/services.sh");
    let output = Command::new(&script)
        .args([action, service])
        .env("FERRY_SERVICES_DIR", dir)
        .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));
    assert!(
        output.status.success(),
        "scripts/services.sh {action} {service} (private) failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Drop for PrivateService {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/services.sh"))
            .args(["stop", self.service])
            .env("FERRY_SERVICES_DIR", self.dir.path())
            .envs(self.env.iter().map(|(key, value)| (*key, value.as_str())))
            .output();
    }
}

fn producer() -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", ferry_tests::test_bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

/// Produces `ids` to partition 0 of `topic`, keyed by id, with `value(id)`.
fn produce(topic: &str, ids: std::ops::Range<i64>, value: &dyn Fn(i64) -> String) {
    let producer = producer();
    for id in ids {
        let key = id.to_string();
        let payload = value(id);
        let mut record = BaseRecord::<String, String>::to(topic)
            .key(&key)
            .payload(&payload)
            .partition(0);
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

async fn produce_async(topic: String, ids: std::ops::Range<i64>, value: fn(i64) -> String) {
    tokio::task::spawn_blocking(move || produce(&topic, ids, &value))
        .await
        .unwrap();
}

/// Reads `GET /metrics` and returns the value of `metric` for connector `name`, task 0.
async fn metric(worker_url: &str, metric: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{worker_url}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let label = format!("connector=\"{name}\"");
    text.lines()
        .filter(|line| line.starts_with(metric) && line.contains(&label))
        .filter(|line| line.contains("task=\"0\""))
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

/// What one outage measured.
#[derive(Debug)]
struct Figures {
    sink: &'static str,
    outage: Duration,
    polls: usize,
    retries_during: u64,
    /// From the server answering again to the first record written after the outage.
    first_record_after: Duration,
    /// From the server answering again to every record written.
    all_records_after: Duration,
}

/// Stops the server for [`outage_length`] while records keep coming, polling the status: the
/// task must be RUNNING at every poll and its retry count must grow. Returns the outage length,
/// the number of polls and the retries seen.
async fn ride_out(
    api: &Api,
    worker_url: &str,
    name: &str,
    topic: &str,
    value: fn(i64) -> String,
    server: &PrivateService,
) -> (Duration, usize, u64) {
    server.stop().await;
    let stopped = Instant::now();
    let length = outage_length();
    let mut polls = 0;
    let mut first_retries_opt = None;
    let mut last_retries = 0;
    let mut saw_trace = false;
    let mut saw_retrying_gauge = false;
    let mut chunks_sent = 0;
    while stopped.elapsed() < length {
        let due = (stopped.elapsed().as_secs_f64() / length.as_secs_f64() * CHUNKS as f64) as i64;
        while chunks_sent <= due.min(CHUNKS - 1) {
            let size = DURING / CHUNKS;
            let from = BEFORE + chunks_sent * size;
            produce_async(topic.to_string(), from..from + size, value).await;
            chunks_sent += 1;
        }
        let (code, status) = api
            .get(&format!("/connectors/{name}/status"))
            .await
            .unwrap();
        assert_eq!(code, 200, "{status}");
        polls += 1;
        let task = &status["tasks"][0];
        assert_eq!(
            status["connector"]["state"], "RUNNING",
            "connector {name} during the outage: {status}"
        );
        assert_eq!(
            task["state"],
            "RUNNING",
            "task of {name} during the outage ({:?} in): {status}",
            stopped.elapsed()
        );
        let retries = task["retries"].as_u64().unwrap_or(0);
        if retries > 0 {
            first_retries_opt.get_or_insert(retries);
        }
        last_retries = retries;
        saw_trace |= task["trace"]
            .as_str()
            .is_some_and(|trace| !trace.is_empty());
        if metric(worker_url, "ferry_task_retrying", name).await == Some(1.0) {
            saw_retrying_gauge = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(chunks_sent, CHUNKS);
    let first = first_retries_opt
        .unwrap_or_else(|| panic!("{name}: no retry seen in the status during the outage"));
    assert!(
        last_retries > first,
        "{name}: the retry count did not grow during the outage ({first} -> {last_retries})"
    );
    assert!(
        saw_trace,
        "{name}: the status never showed the error as trace"
    );
    assert!(
        saw_retrying_gauge,
        "{name}: /metrics never showed ferry_task_retrying 1"
    );
    let counted = metric(worker_url, "ferry_task_retries_total", name)
        .await
        .unwrap_or(0.0);
    assert!(counted >= 1.0, "{name}: ferry_task_retries_total {counted}");
    println!("{name}: status at the end of the outage: retries {last_retries}, {polls} polls");
    (stopped.elapsed(), polls, last_retries)
}

/// After the outage: the status is RUNNING again without a trace, and the gauge is back at 0.
async fn check_recovered(api: &Api, worker_url: &str, name: &str) {
    api.wait_status(name, Duration::from_secs(60), |status| {
        status["tasks"][0]["state"] == "RUNNING" && status["tasks"][0]["trace"].is_null()
    })
    .await
    .unwrap();
    wait_until(Duration::from_secs(30), "ferry_task_retrying 0", || async {
        (metric(worker_url, "ferry_task_retrying", name).await == Some(0.0)).then_some(())
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL under the JDBC sink

fn jdbc_value(id: i64) -> String {
    json!({
        "schema": {"type": "struct", "optional": false, "fields": [
            {"field": "id", "type": "int64", "optional": false},
            {"field": "name", "type": "string", "optional": false}
        ]},
        "payload": {"id": id, "name": format!("order {id}")}
    })
    .to_string()
}

async fn pg_rows(port: u16, table: &str) -> Option<(i64, i64, i64, i64)> {
    let config =
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=3");
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    let sql = format!(
        "SELECT count(*), count(DISTINCT id), coalesce(min(id), -1), coalesce(max(id), -1) FROM \"{table}\" WHERE name = 'order ' || id"
    );
    let row = client.query_one(&sql, &[]).await.ok()?;
    Some((row.get(0), row.get(1), row.get(2), row.get(3)))
}

async fn jdbc_outage(api: Api, worker_url: String) -> Figures {
    let (server, ports) = PrivateService::start("postgres", &["FERRY_PG_PORT"]);
    let port = ports[0];
    let topic = unique_name("outage-pg");
    create_topic(&topic, 1).await;
    let name = format!("{topic}-sink");
    api.create_connector(
        &name,
        json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics": topic,
            "tasks.max": "1",
            "connection.url": format!("jdbc:postgresql://127.0.0.1:{port}/postgres"),
            "connection.user": "postgres",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true",
            "insert.mode": "upsert",
            "pk.mode": "record_value",
            "pk.fields": "id",
            "auto.create": "true"
        }),
    )
    .await
    .unwrap();
    produce_async(topic.clone(), 0..BEFORE, jdbc_value).await;
    let full = |count: i64| {
        move |rows: Option<(i64, i64, i64, i64)>| rows == Some((count, count, 0, count - 1))
    };
    wait_until(
        Duration::from_secs(120),
        "rows before the outage",
        || async { full(BEFORE)(pg_rows(port, &topic).await).then_some(()) },
    )
    .await
    .unwrap();

    let (outage, polls, retries_during) =
        ride_out(&api, &worker_url, &name, &topic, jdbc_value, &server).await;
    server.restart().await;
    let back = Instant::now();
    produce_async(topic.clone(), BEFORE + DURING..TOTAL, jdbc_value).await;
    let first_record_after = wait_until(
        Duration::from_secs(180),
        "a row after the outage",
        || async {
            let (count, ..) = pg_rows(port, &topic).await?;
            (count > BEFORE).then(|| back.elapsed())
        },
    )
    .await
    .unwrap();
    let last = std::sync::Mutex::new(None);
    let waited = wait_until(Duration::from_secs(300), "every row", || async {
        let rows = pg_rows(port, &topic).await;
        *last.lock().unwrap() = rows;
        full(TOTAL)(rows).then(|| back.elapsed())
    })
    .await;
    let all_records_after = waited.unwrap_or_else(|error| {
        panic!(
            "{error}; last (count, distinct, min, max): {:?}",
            last.lock().unwrap()
        )
    });
    check_recovered(&api, &worker_url, &name).await;
    drop(server);
    Figures {
        sink: "jdbc (PostgreSQL)",
        outage,
        polls,
        retries_during,
        first_record_after,
        all_records_after,
    }
}

// ---------------------------------------------------------------------------------------------
// moto under the S3 sink

fn s3_value(id: i64) -> String {
    json!({"id": id, "name": format!("record {id}")}).to_string()
}

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
        .with_region("us-east-1")
        .with_access_key_id("ferry")
        .with_secret_access_key("ferrysecret")
        .build()
        .unwrap()
}

/// The ids in every object of `topic`, by object key (`None` while S3 cannot be read).
async fn s3_ids(url: &str, bucket: &str, topic: &str) -> Option<BTreeMap<String, Vec<i64>>> {
    let store = store(url, bucket);
    let prefix = object_store::path::Path::from(format!("topics/{topic}"));
    let metas: Vec<_> = store.list(Some(&prefix)).try_collect().await.ok()?;
    let mut objects = BTreeMap::new();
    for meta in metas {
        let bytes = store.get(&meta.location).await.ok()?.bytes().await.ok()?;
        let ids = String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        objects.insert(meta.location.to_string(), ids);
    }
    Some(objects)
}

fn line_count(objects: &BTreeMap<String, Vec<i64>>) -> usize {
    objects.values().map(Vec::len).sum()
}

async fn committed(api: &Api, name: &str) -> Option<i64> {
    let (_, body) = api.get(&format!("/connectors/{name}/offsets")).await.ok()?;
    body["offsets"].as_array()?.iter().find_map(|entry| {
        (entry["partition"]["kafka_partition"] == 0)
            .then(|| entry["offset"]["kafka_offset"].as_i64())?
    })
}

async fn s3_outage(api: Api, worker_url: String) -> Figures {
    let (server, ports) = PrivateService::start("s3", &["FERRY_S3_PORT"]);
    let url = format!("http://127.0.0.1:{}", ports[0]);
    let bucket = unique_name("ferry-outage").replace('_', "-");
    create_bucket(&url, &bucket).await;
    let topic = unique_name("outage-s3");
    create_topic(&topic, 1).await;
    let name = format!("{topic}-sink");
    api.create_connector(
        &name,
        json!({
            "connector.class": "io.confluent.connect.s3.S3SinkConnector",
            "topics": topic,
            "tasks.max": "1",
            "s3.bucket.name": bucket,
            "s3.region": "us-east-1",
            "store.url": url,
            "aws.access.key.id": "ferry",
            "aws.secret.access.key": "ferrysecret",
            "storage.class": "io.confluent.connect.s3.storage.S3Storage",
            "format.class": "io.confluent.connect.s3.format.json.JsonFormat",
            "flush.size": "100",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        }),
    )
    .await
    .unwrap();
    produce_async(topic.clone(), 0..BEFORE, s3_value).await;
    // Everything before the outage is uploaded and committed, then read: moto forgets it.
    wait_until(
        Duration::from_secs(120),
        "offsets committed before the outage",
        || async { (committed(&api, &name).await == Some(BEFORE)).then_some(()) },
    )
    .await
    .unwrap();
    let before = s3_ids(&url, &bucket, &topic).await.unwrap();
    assert_eq!(line_count(&before), BEFORE as usize);

    let (outage, polls, retries_during) =
        ride_out(&api, &worker_url, &name, &topic, s3_value, &server).await;
    server.restart().await;
    let back = Instant::now();
    create_bucket(&url, &bucket).await;
    produce_async(topic.clone(), BEFORE + DURING..TOTAL, s3_value).await;
    let first_record_after = wait_until(
        Duration::from_secs(180),
        "an object after the outage",
        || async {
            let objects = s3_ids(&url, &bucket, &topic).await?;
            (line_count(&objects) > 0).then(|| back.elapsed())
        },
    )
    .await
    .unwrap();
    let all_records_after = wait_until(Duration::from_secs(300), "every record in S3", || async {
        (committed(&api, &name).await == Some(TOTAL)).then(|| back.elapsed())
    })
    .await
    .unwrap();
    let after = s3_ids(&url, &bucket, &topic).await.unwrap();
    let mut ids: Vec<i64> = before
        .values()
        .chain(after.values())
        .flatten()
        .copied()
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..TOTAL).collect::<Vec<i64>>(),
        "every record exactly once (objects before the outage and after it)"
    );
    check_recovered(&api, &worker_url, &name).await;
    drop(server);
    Figures {
        sink: "s3 (moto)",
        outage,
        polls,
        retries_during,
        first_record_after,
        all_records_after,
    }
}

// ---------------------------------------------------------------------------------------------
// OpenSearch under the Elasticsearch sink

fn es_value(id: i64) -> String {
    json!({"id": id, "name": format!("doc {id}")}).to_string()
}

async fn es_ids(url: &str, index: &str) -> Option<BTreeSet<i64>> {
    let http = reqwest::Client::new();
    let refresh = http
        .post(format!("{url}/{index}/_refresh"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if refresh.status() == 404 {
        return Some(BTreeSet::new());
    }
    let body: Value = http
        .post(format!("{url}/{index}/_search"))
        .json(&json!({"size": 10_000, "_source": ["id"], "query": {"match_all": {}}}))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let hits = body["hits"]["hits"].as_array()?;
    let mut ids = BTreeSet::new();
    for hit in hits {
        let id = hit["_source"]["id"].as_i64()?;
        assert_eq!(hit["_id"], id.to_string(), "document id is the record key");
        ids.insert(id);
    }
    assert_eq!(ids.len(), hits.len(), "one document per id");
    Some(ids)
}

async fn es_outage(api: Api, worker_url: String) -> Figures {
    let (server, ports) = PrivateService::start(
        "elasticsearch",
        &["FERRY_ES_PORT", "FERRY_ES_TRANSPORT_PORT"],
    );
    let url = format!("http://127.0.0.1:{}", ports[0]);
    let topic = unique_name("outage-es");
    create_topic(&topic, 1).await;
    let name = format!("{topic}-sink");
    api.create_connector(
        &name,
        json!({
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": url,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "schema.ignore": "true",
        }),
    )
    .await
    .unwrap();
    produce_async(topic.clone(), 0..BEFORE, es_value).await;
    wait_until(
        Duration::from_secs(180),
        "documents before the outage",
        || async { (es_ids(&url, &topic).await?.len() == BEFORE as usize).then_some(()) },
    )
    .await
    .unwrap();

    let (outage, polls, retries_during) =
        ride_out(&api, &worker_url, &name, &topic, es_value, &server).await;
    server.restart().await;
    let back = Instant::now();
    produce_async(topic.clone(), BEFORE + DURING..TOTAL, es_value).await;
    let first_record_after = wait_until(
        Duration::from_secs(180),
        "a document after the outage",
        || async { (es_ids(&url, &topic).await?.len() > BEFORE as usize).then(|| back.elapsed()) },
    )
    .await
    .unwrap();
    let all_records_after = wait_until(Duration::from_secs(300), "every document", || async {
        let ids = es_ids(&url, &topic).await?;
        (ids == (0..TOTAL).collect()).then(|| back.elapsed())
    })
    .await
    .unwrap();
    check_recovered(&api, &worker_url, &name).await;
    drop(server);
    Figures {
        sink: "elasticsearch (OpenSearch)",
        outage,
        polls,
        retries_during,
        first_record_after,
        all_records_after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_down_for_a_minute_leave_sink_tasks_running_and_lose_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("outages");
    // One worker, default settings: nowhere to move a task, no restart budget raised.
    let (worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let url = worker.url();
    let address: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let only_text = std::env::var("FERRY_OUTAGES").unwrap_or_else(|_| "postgres,s3,es".to_string());
    let only: BTreeSet<&str> = only_text.split(',').map(str::trim).collect();
    let mut runs = Vec::new();
    if only.contains("postgres") {
        runs.push(tokio::spawn(jdbc_outage(Api::new(address), url.clone())));
    }
    if only.contains("s3") {
        runs.push(tokio::spawn(s3_outage(Api::new(address), url.clone())));
    }
    if only.contains("es") {
        runs.push(tokio::spawn(es_outage(Api::new(address), url.clone())));
    }
    let mut failures = Vec::new();
    for run in runs {
        match run.await {
            Ok(figures) => println!(
                "OUTAGE {}: down {:.1} s ({} status polls, all RUNNING, {} retries); first record {:.1} s and all {} records {:.1} s after the server answered again",
                figures.sink,
                figures.outage.as_secs_f64(),
                figures.polls,
                figures.retries_during,
                figures.first_record_after.as_secs_f64(),
                TOTAL,
                figures.all_records_after.as_secs_f64()
            ),
            Err(error) => failures.push(error.to_string()),
        }
    }
    let (health, _) = api.get("/health").await.unwrap();
    assert_eq!(health, 200, "the worker stays healthy");
    if !failures.is_empty() {
        println!("worker stderr tail:\n{}", tail(&worker.stderr(), 60));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `errors.retry.timeout` bounds the retries: past it the task FAILS (as Kafka Connect's does),
/// with the timeout named in its trace; the same sink without it keeps retrying, RUNNING. Both
/// point at a port nothing listens on.
#[tokio::test]
async fn errors_retry_timeout_fails_the_task_once_it_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("retry-timeout");
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let topic = format!("{prefix}-in");
    create_topic(&topic, 1).await;
    let nowhere = format!("http://{}", free_local_addr());
    let config = |extra: &[(&str, &str)]| {
        let mut config = json!({
            "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": nowhere,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "schema.ignore": "true",
            "max.retries": "1",
        });
        for (key, value) in extra {
            config[*key] = json!(value);
        }
        config
    };
    let bounded = format!("{prefix}-bounded");
    let unbounded = format!("{prefix}-unbounded");
    api.create_connector(&bounded, config(&[("errors.retry.timeout", "3000")]))
        .await
        .unwrap();
    api.create_connector(&unbounded, config(&[])).await.unwrap();
    produce_async(topic.clone(), 0..10, es_value).await;

    let failed = api
        .wait_status(&bounded, Duration::from_secs(120), |status| {
            status["tasks"][0]["state"] == "FAILED"
        })
        .await
        .unwrap();
    let trace = failed["tasks"][0]["trace"].as_str().unwrap_or("");
    assert!(
        trace.starts_with("Fatal error: retries stopped after 3000 ms (errors.retry.timeout)"),
        "{failed}"
    );
    assert!(
        failed["tasks"][0]["retries"].as_u64().unwrap_or(0) >= 1,
        "{failed}"
    );
    // The unbounded one has been failing as long, and still runs (and retries).
    let running = api
        .wait_status(&unbounded, Duration::from_secs(30), |status| {
            status["tasks"][0]["retries"].as_u64().unwrap_or(0) >= 2
        })
        .await
        .unwrap();
    assert_eq!(running["tasks"][0]["state"], "RUNNING", "{running}");
    assert_eq!(
        running["tasks"][0]["restarts"].as_u64().unwrap_or(0),
        0,
        "{running}"
    );
}
