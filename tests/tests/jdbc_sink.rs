//! The JDBC sink against a real PostgreSQL (`scripts/services.sh start postgres`, which
//! `scripts/test.sh` runs) and the real broker, through real `ferry worker` processes.
//!
//! The test that stops PostgreSQL takes a write lock that every other test here holds for
//! reading, so it never pulls the server from under them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ferry_tests::{
    all_running, create_topic, free_local_addr, services, test_bootstrap, unique_name, wait_until,
    Api, FerryProcess,
};
use nix::sys::signal::Signal;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use tokio::sync::RwLock;
use tokio_postgres::{Client, NoTls};

const PG_HOST: &str = "127.0.0.1";
const PG_PORT: u16 = 15432;
const RECORDS: i64 = 10_000;

/// Held for reading by every test, for writing by the one that stops the server.
static SERVER: RwLock<()> = RwLock::const_new(());

fn jdbc_url() -> String {
    format!("jdbc:postgresql://{PG_HOST}:{PG_PORT}/postgres")
}

/// Connects to the test PostgreSQL, or panics saying how to start it.
async fn pg() -> Client {
    let config =
        format!("host={PG_HOST} port={PG_PORT} user=postgres dbname=postgres connect_timeout=5");
    match tokio_postgres::connect(&config, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(error) => panic!(
            "PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} ({error}): start it with `scripts/services.sh start postgres` (scripts/test.sh does)"
        ),
    }
}

fn quoted(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

async fn row_count(client: &Client, table: &str) -> Option<i64> {
    let sql = format!("SELECT count(*) FROM {}", quoted(table));
    client.query_one(&sql, &[]).await.ok().map(|row| row.get(0))
}

async fn wait_for_rows(client: &Client, table: &str, count: i64, timeout: Duration) {
    let result = wait_until(timeout, &format!("{count} rows in {table}"), || async {
        (row_count(client, table).await == Some(count)).then_some(())
    })
    .await;
    if let Err(error) = result {
        panic!("{error}; rows now: {:?}", row_count(client, table).await);
    }
}

fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Java's `BigInteger.toByteArray()` of `unscaled`, base64: JsonConverter's Decimal payload.
fn decimal_payload(unscaled: i64) -> String {
    let bytes = unscaled.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    base64::engine::general_purpose::STANDARD.encode(&bytes[start..])
}

/// The value schema of the order records: every column type the sink maps.
fn order_schema() -> Value {
    json!({"type": "struct", "name": "order", "optional": false, "fields": [
        {"field": "id", "type": "int64", "optional": false},
        {"field": "name", "type": "string", "optional": true},
        {"field": "amount", "type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": {"scale": "2"}},
        {"field": "created", "type": "int64", "optional": false, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1},
        {"field": "day", "type": "int32", "optional": false, "name": "org.apache.kafka.connect.data.Date", "version": 1},
        {"field": "paid", "type": "boolean", "optional": false},
        {"field": "score", "type": "double", "optional": false},
        {"field": "qty", "type": "int16", "optional": false}
    ]})
}

/// The expected row of order `id`, as the check query renders it.
fn expected_row(id: i64) -> String {
    let name = if id % 7 == 0 {
        "NULL".to_string()
    } else {
        format!("name-{id}")
    };
    let amount = id * 101 - 5_000;
    let sign = if amount < 0 { "-" } else { "" };
    format!(
        "{id}|{name}|{sign}{}.{:02}|{}|{}|{}|{}|{}",
        amount.abs() / 100,
        amount.abs() % 100,
        1_700_000_000_000 + id * 1_001,
        19_000 + id % 365,
        id % 2 == 0,
        id as f64 / 4.0,
        id % 300
    )
}

fn order_value(id: i64) -> String {
    let name = if id % 7 == 0 {
        Value::Null
    } else {
        json!(format!("name-{id}"))
    };
    json!({"schema": order_schema(), "payload": {
        "id": id,
        "name": name,
        "amount": decimal_payload(id * 101 - 5_000),
        "created": 1_700_000_000_000 + id * 1_001,
        "day": 19_000 + id % 365,
        "paid": id % 2 == 0,
        "score": id as f64 / 4.0,
        "qty": id % 300
    }})
    .to_string()
}

fn int64_key(id: i64) -> String {
    json!({"schema": {"type": "int64", "optional": false}, "payload": id}).to_string()
}

/// Produces orders `ids` (key = id) and waits for every acknowledgement.
async fn produce_orders(producer: &FutureProducer, topic: &str, ids: std::ops::Range<i64>) {
    let mut deliveries = Vec::new();
    for id in ids {
        let key = int64_key(id);
        let value = order_value(id);
        let record = FutureRecord::to(topic).key(&key).payload(&value);
        deliveries.push(
            producer
                .send_result(record)
                .expect("producer queue has room"),
        );
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivery reported")
            .expect("record acknowledged");
    }
}

async fn produce_raw(
    producer: &FutureProducer,
    topic: &str,
    key_opt: Option<&str>,
    value_opt: Option<&str>,
) {
    let mut record: FutureRecord<'_, str, str> = FutureRecord::to(topic);
    if let Some(key) = key_opt {
        record = record.key(key);
    }
    if let Some(value) = value_opt {
        record = record.payload(value);
    }
    producer
        .send(record, Duration::from_secs(10))
        .await
        .expect("record acknowledged");
}

/// The sink config shared by the tests: JSON with schemas, upsert on the value's `id`.
fn upsert_config(topic: &str) -> Value {
    json!({
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "topics": topic,
        "tasks.max": "2",
        "connection.url": jdbc_url(),
        "connection.user": "postgres",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
        "insert.mode": "upsert",
        "pk.mode": "record_value",
        "pk.fields": "id",
        "auto.create": "true"
    })
}

/// Checks that `table` holds exactly orders `0..count` with the right content.
async fn assert_orders(client: &Client, table: &str, count: i64) {
    let sql = format!(
        "SELECT id, name, amount::text, (extract(epoch from created) * 1000)::bigint, \
         (day - date '1970-01-01'), paid, score, qty FROM {} ORDER BY id",
        quoted(table)
    );
    let rows = client
        .query(&sql, &[])
        .await
        .expect("the table is readable");
    assert_eq!(rows.len() as i64, count, "row count of {table}");
    for (index, row) in rows.iter().enumerate() {
        let name: Option<String> = row.get(1);
        let actual = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            row.get::<_, i64>(0),
            name.unwrap_or_else(|| "NULL".to_string()),
            row.get::<_, String>(2),
            row.get::<_, i64>(3),
            row.get::<_, i32>(4),
            row.get::<_, bool>(5),
            row.get::<_, f64>(6),
            row.get::<_, i16>(7)
        );
        assert_eq!(actual, expected_row(index as i64), "row {index} of {table}");
    }
}

async fn start_worker(dir: &Path, prefix: &str, addr: std::net::SocketAddr) -> FerryProcess {
    let mut worker = FerryProcess::worker(dir, prefix, addr, &[]).expect("ferry starts");
    worker
        .wait_healthy(Duration::from_secs(60))
        .await
        .expect("worker healthy");
    worker
}

async fn drop_table(client: &Client, table: &str) {
    let _ = client
        .batch_execute(&format!("DROP TABLE IF EXISTS {}", quoted(table)))
        .await;
}

#[tokio::test]
async fn ten_thousand_records_become_exactly_those_rows() {
    let _shared = SERVER.read().await;
    let client = pg().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("jdbc-rows");
    // A dot and dashes: the table name must be quoted.
    let topic = format!("{prefix}.orders");
    create_topic(&topic, 3).await;
    produce_orders(&producer(), &topic, 0..RECORDS).await;

    let addr = free_local_addr();
    let _worker = start_worker(dir.path(), &prefix, addr).await;
    let api = Api::new(addr);
    let connector = format!("{prefix}-sink");
    api.create_connector(&connector, upsert_config(&topic))
        .await
        .unwrap();
    wait_for_rows(&client, &topic, RECORDS, Duration::from_secs(120)).await;
    assert_orders(&client, &topic, RECORDS).await;

    // auto.create: required fields NOT NULL, optional NULL, the key as PRIMARY KEY.
    let columns = client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_name = $1 ORDER BY ordinal_position",
            &[&topic],
        )
        .await
        .unwrap();
    let described: Vec<String> = columns
        .iter()
        .map(|row| {
            format!(
                "{} {} {}",
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2)
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            "id bigint NO",
            "name text YES",
            "amount numeric NO",
            "created timestamp without time zone NO",
            "day date NO",
            "paid boolean NO",
            "score double precision NO",
            "qty smallint NO"
        ]
    );
    let key: String = client
        .query_one(
            "SELECT string_agg(a.attname::text, ',') FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
            &[&quoted(&topic)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(key, "id");

    // Offsets are committed once the rows are: the group reaches the end of every partition.
    wait_until(
        Duration::from_secs(30),
        "committed offsets at the end",
        || {
            let api = api.clone();
            let connector = connector.clone();
            async move {
                let (_, offsets) = api
                    .get(&format!("/connectors/{connector}/offsets"))
                    .await
                    .ok()?;
                let total: i64 = offsets["offsets"]
                    .as_array()?
                    .iter()
                    .filter_map(|entry| entry["offset"]["kafka_offset"].as_i64())
                    .sum();
                (total == RECORDS).then_some(())
            }
        },
    )
    .await
    .unwrap();
    drop_table(&client, &topic).await;
}

#[tokio::test]
async fn kill_9_mid_stream_and_restart_leaves_exactly_the_rows() {
    let _shared = SERVER.read().await;
    let client = pg().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("jdbc-kill");
    let topic = format!("{prefix}-orders");
    create_topic(&topic, 2).await;

    let addr = free_local_addr();
    let mut worker = start_worker(dir.path(), &prefix, addr).await;
    let api = Api::new(addr);
    api.create_connector(&format!("{prefix}-sink"), upsert_config(&topic))
        .await
        .unwrap();

    // Produce while the sink runs, 500 records every 100 ms, so the kill lands mid-stream.
    let produced = Arc::new(AtomicUsize::new(0));
    let producing = {
        let topic = topic.clone();
        let produced = Arc::clone(&produced);
        tokio::spawn(async move {
            let producer = producer();
            let mut pace = tokio::time::interval(Duration::from_millis(100));
            let mut next = 0;
            while next < RECORDS {
                pace.tick().await;
                let end = (next + 500).min(RECORDS);
                produce_orders(&producer, &topic, next..end).await;
                produced.store(usize::try_from(end).unwrap(), Ordering::SeqCst);
                next = end;
            }
        })
    };
    wait_until(Duration::from_secs(120), "the first 2000 rows", || async {
        (row_count(&client, &topic).await.unwrap_or(0) >= 2_000).then_some(())
    })
    .await
    .unwrap();
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    let rows_at_kill = row_count(&client, &topic).await.unwrap_or(0);
    let produced_at_kill = produced.load(Ordering::SeqCst);
    println!("kill -9 with {rows_at_kill} rows written and {produced_at_kill} of {RECORDS} records produced");

    let _restarted = start_worker(dir.path(), &prefix, addr).await;
    producing.await.unwrap();
    wait_for_rows(&client, &topic, RECORDS, Duration::from_secs(120)).await;
    assert_orders(&client, &topic, RECORDS).await;
    let status = api
        .wait_status(&format!("{prefix}-sink"), Duration::from_secs(30), |s| {
            all_running(s, 2)
        })
        .await
        .unwrap();
    assert!(all_running(&status, 2), "{status}");
    drop_table(&client, &topic).await;
}

/// Counts the sink's "retrying" log lines in the worker's output.
fn retries_logged(worker: &FerryProcess) -> usize {
    let output = format!("{}{}", worker.stdout(), worker.stderr());
    output.matches("JDBC sink write failed; retrying").count()
}

/// Counts the runtime's in-place retries of `connector` in the worker's log.
fn in_place_retries_logged(worker: &FerryProcess, connector: &str) -> usize {
    let output = format!("{}{}", worker.stdout(), worker.stderr());
    output
        .lines()
        .filter(|line| line.contains("retrying in place") && line.contains(connector))
        .count()
}

#[tokio::test]
async fn postgres_down_for_a_while_then_back_the_task_catches_up() {
    let _exclusive = SERVER.write().await;
    let client = pg().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("jdbc-down");
    let topic = format!("{prefix}-orders");
    create_topic(&topic, 1).await;
    let producer = producer();
    produce_orders(&producer, &topic, 0..3_000).await;

    let addr = free_local_addr();
    let worker = start_worker(dir.path(), &prefix, addr).await;
    let api = Api::new(addr);
    let connector = format!("{prefix}-sink");
    let mut config = upsert_config(&topic);
    // Up to 60 retries 1 s apart inside one put: an outage of up to a minute never even fails
    // the task (a longer one fails it; the worker then restarts it from the committed offset).
    config["max.retries"] = json!("60");
    config["retry.backoff.ms"] = json!("1000");
    config["connection.attempts"] = json!("1");
    api.create_connector(&connector, config).await.unwrap();
    // A second connector gives up on the put after one retry: the put fails with a retriable
    // error, which the runtime retries in place (backoff, then the records again from the last
    // durable offset) without a restart.
    let restarting = format!("{prefix}-restarting");
    let restarting_table = format!("{topic}-restarting");
    let mut config = upsert_config(&topic);
    config["tasks.max"] = json!("1");
    config["max.retries"] = json!("1");
    config["retry.backoff.ms"] = json!("300");
    config["connection.attempts"] = json!("1");
    config["table.name.format"] = json!("${topic}-restarting");
    api.create_connector(&restarting, config).await.unwrap();
    wait_for_rows(&client, &topic, 3_000, Duration::from_secs(60)).await;
    wait_for_rows(&client, &restarting_table, 3_000, Duration::from_secs(60)).await;
    drop(client);

    services("stop", "postgres");
    produce_orders(&producer, &topic, 3_000..6_000).await;
    // Down "for a while": until the first task has failed to write three times and the second
    // one was restarted by the worker.
    let waited = wait_until(
        Duration::from_secs(60),
        "three failed writes and an in-place retry",
        || async {
            let restarted = in_place_retries_logged(&worker, &restarting) >= 1;
            (retries_logged(&worker) >= 3 && restarted).then_some(())
        },
    )
    .await;
    services("start", "postgres");
    waited.unwrap();

    let client = pg().await;
    wait_for_rows(&client, &topic, 6_000, Duration::from_secs(90)).await;
    assert_orders(&client, &topic, 6_000).await;
    wait_for_rows(&client, &restarting_table, 6_000, Duration::from_secs(90)).await;
    assert_orders(&client, &restarting_table, 6_000).await;
    let (health, _) = api.get("/health").await.unwrap();
    assert_eq!(health, 200, "the worker stays healthy");
    let status = api
        .wait_status(&connector, Duration::from_secs(10), |s| all_running(s, 2))
        .await
        .unwrap();
    assert!(all_running(&status, 2), "{status}");
    let status = api
        .wait_status(&restarting, Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();
    assert!(all_running(&status, 1), "{status}");
    drop_table(&client, &topic).await;
    drop_table(&client, &restarting_table).await;
}

fn task_trace(status: &Value) -> Option<String> {
    status["tasks"]
        .as_array()?
        .iter()
        .find(|task| task["state"] == "FAILED")
        .and_then(|task| task["trace"].as_str())
        .map(str::to_string)
}

#[tokio::test]
async fn an_invalid_record_fails_its_task_with_its_position_and_others_keep_running() {
    let _shared = SERVER.read().await;
    let client = pg().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("jdbc-bad");
    let good_topic = format!("{prefix}-good");
    let bad_topic = format!("{prefix}-bad");
    let schemaless_topic = format!("{prefix}-schemaless");
    for topic in [&good_topic, &bad_topic, &schemaless_topic] {
        create_topic(topic, 1).await;
    }
    let producer = producer();
    // The bad topic: "note" is required in the first records (auto.create makes it NOT NULL),
    // then a record declares it optional and leaves it null.
    let note_record = |id: i64, optional: bool, note: Value| {
        json!({"schema": {"type": "struct", "optional": false, "fields": [
            {"field": "id", "type": "int64", "optional": false},
            {"field": "note", "type": "string", "optional": optional}]},
            "payload": {"id": id, "note": note}})
        .to_string()
    };
    for id in 0..5 {
        produce_raw(
            &producer,
            &bad_topic,
            None,
            Some(&note_record(id, false, json!("ok"))),
        )
        .await;
    }
    produce_raw(
        &producer,
        &bad_topic,
        None,
        Some(&note_record(5, true, Value::Null)),
    )
    .await;
    for id in 6..10 {
        produce_raw(
            &producer,
            &bad_topic,
            None,
            Some(&note_record(id, false, json!("ok"))),
        )
        .await;
    }
    produce_raw(
        &producer,
        &schemaless_topic,
        None,
        Some(r#"{"id": 1, "note": "x"}"#),
    )
    .await;
    produce_orders(&producer, &good_topic, 0..100).await;

    let addr = free_local_addr();
    let _worker = start_worker(dir.path(), &prefix, addr).await;
    let api = Api::new(addr);
    let mut good = upsert_config(&good_topic);
    good["tasks.max"] = json!("1");
    api.create_connector(&format!("{prefix}-good"), good)
        .await
        .unwrap();
    let mut bad = upsert_config(&bad_topic);
    bad["tasks.max"] = json!("1");
    api.create_connector(&format!("{prefix}-bad"), bad)
        .await
        .unwrap();
    // The same bad records with errors.tolerance=all: only the refused record is skipped.
    let tolerant_table = format!("{bad_topic}-tolerant");
    let mut tolerant = upsert_config(&bad_topic);
    tolerant["tasks.max"] = json!("1");
    tolerant["errors.tolerance"] = json!("all");
    tolerant["table.name.format"] = json!("${topic}-tolerant");
    // The record the database refuses reaches the DLQ through the errant-record reporter.
    let dlq = format!("{prefix}-dlq");
    tolerant["errors.deadletterqueue.topic.name"] = json!(dlq);
    tolerant["errors.deadletterqueue.topic.replication.factor"] = json!("1");
    tolerant["errors.deadletterqueue.context.headers.enable"] = json!("true");
    api.create_connector(&format!("{prefix}-tolerant"), tolerant)
        .await
        .unwrap();
    let mut schemaless = upsert_config(&schemaless_topic);
    schemaless["tasks.max"] = json!("1");
    schemaless["value.converter.schemas.enable"] = json!("false");
    api.create_connector(&format!("{prefix}-schemaless"), schemaless)
        .await
        .unwrap();

    let failed = api
        .wait_status(&format!("{prefix}-bad"), Duration::from_secs(60), |s| {
            task_trace(s).is_some()
        })
        .await
        .unwrap();
    let trace = task_trace(&failed).unwrap();
    println!("trace of the bad record: {trace}");
    assert!(
        trace.contains(&format!("topic {bad_topic} partition 0 offset 5"))
            && trace.contains("not-null")
            && trace.contains("note"),
        "{trace}"
    );
    let failed = api
        .wait_status(
            &format!("{prefix}-schemaless"),
            Duration::from_secs(60),
            |s| task_trace(s).is_some(),
        )
        .await
        .unwrap();
    let trace = task_trace(&failed).unwrap();
    println!("trace of the schemaless record: {trace}");
    assert!(
        trace.contains(&format!("topic {schemaless_topic} partition 0 offset 0"))
            && trace.contains("value.converter.schemas.enable=true"),
        "{trace}"
    );
    assert!(
        row_count(&client, &bad_topic).await.unwrap_or(0) < 10,
        "the bad record is not written"
    );

    // The other connector keeps running and keeps writing.
    wait_for_rows(&client, &good_topic, 100, Duration::from_secs(60)).await;
    produce_orders(&producer, &good_topic, 100..200).await;
    wait_for_rows(&client, &good_topic, 200, Duration::from_secs(60)).await;
    assert_orders(&client, &good_topic, 200).await;
    let status = api
        .get(&format!("/connectors/{prefix}-good/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
    let ids_sql = format!(
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM {}",
        quoted(&tolerant_table)
    );
    wait_until(
        Duration::from_secs(60),
        "every record but the bad one",
        || async {
            let row = client.query_one(&ids_sql, &[]).await.ok()?;
            (row.get::<_, Option<String>>(0).as_deref() == Some("0,1,2,3,4,6,7,8,9")).then_some(())
        },
    )
    .await
    .unwrap();
    let status = api
        .get(&format!("/connectors/{prefix}-tolerant/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
    let dead = ferry_tests::read_topic(&dlq);
    assert_eq!(dead.len(), 1, "only the refused record: {dead:?}");
    assert_eq!(
        dead[0].value.as_deref(),
        Some(note_record(5, true, Value::Null).as_bytes()),
        "the refused record byte for byte"
    );
    assert_eq!(
        dead[0].header("__connect.errors.stage").as_deref(),
        Some("TASK_PUT")
    );
    assert_eq!(
        dead[0].header("__connect.errors.offset").as_deref(),
        Some("5")
    );
    assert_eq!(
        dead[0].header("__connect.errors.topic"),
        Some(bad_topic.clone())
    );
    assert!(dead[0]
        .header("__connect.errors.exception.message")
        .is_some_and(|message| message.contains("not-null")));
    for table in [&good_topic, &bad_topic, &schemaless_topic, &tolerant_table] {
        drop_table(&client, table).await;
    }
}

#[tokio::test]
async fn record_key_tombstones_delete_and_new_optional_fields_evolve_the_table() {
    let _shared = SERVER.read().await;
    let client = pg().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("jdbc-evolve");
    let topic = format!("{prefix}-people");
    create_topic(&topic, 1).await;
    let producer = producer();
    let person = |id: i64, extra_opt: Option<&str>| {
        let mut fields = vec![json!({"field": "name", "type": "string", "optional": false})];
        let mut payload = json!({"name": format!("person-{id}")});
        if let Some(extra) = extra_opt {
            fields.push(json!({"field": "city", "type": "string", "optional": true}));
            payload["city"] = json!(extra);
        }
        json!({"schema": {"type": "struct", "optional": false, "fields": fields}, "payload": payload})
            .to_string()
    };
    for id in 0..5 {
        produce_raw(
            &producer,
            &topic,
            Some(&int64_key(id)),
            Some(&person(id, None)),
        )
        .await;
    }
    produce_raw(&producer, &topic, Some(&int64_key(2)), None).await;
    produce_raw(
        &producer,
        &topic,
        Some(&int64_key(3)),
        Some(&person(3, Some("Oslo"))),
    )
    .await;
    produce_raw(
        &producer,
        &topic,
        Some(&int64_key(5)),
        Some(&person(5, Some("Lima"))),
    )
    .await;

    let addr = free_local_addr();
    let _worker = start_worker(dir.path(), &prefix, addr).await;
    let api = Api::new(addr);
    let config = json!({
        "connector.class": "JdbcSink",
        "topics": topic,
        "connection.url": format!("{}?user=postgres", jdbc_url()),
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "insert.mode": "upsert",
        "pk.mode": "record_key",
        "pk.fields": "person_id",
        "delete.enabled": "true",
        "auto.create": "true",
        "auto.evolve": "true"
    });
    api.create_connector(&format!("{prefix}-sink"), config)
        .await
        .unwrap();
    let sql = format!(
        "SELECT person_id, name, coalesce(city, '-') FROM {} ORDER BY person_id",
        quoted(&topic)
    );
    let expected = "0 person-0 -;1 person-1 -;3 person-3 Oslo;4 person-4 -;5 person-5 Lima";
    let seen = wait_until(Duration::from_secs(60), "the final rows", || async {
        let rows = client.query(&sql, &[]).await.ok()?;
        let text: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{} {} {}",
                    row.get::<_, i64>(0),
                    row.get::<_, String>(1),
                    row.get::<_, String>(2)
                )
            })
            .collect();
        (text.join(";") == expected).then_some(())
    })
    .await;
    if let Err(error) = seen {
        let rows = client.query(&sql, &[]).await.map(|rows| rows.len());
        panic!("{error}; rows: {rows:?}");
    }
    let nullable: BTreeMap<String, String> = client
        .query(
            "SELECT column_name::text, is_nullable::text FROM information_schema.columns WHERE table_name = $1",
            &[&topic],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        nullable.get("city").map(String::as_str),
        Some("YES"),
        "{nullable:?}"
    );
    assert_eq!(
        nullable.get("person_id").map(String::as_str),
        Some("NO"),
        "{nullable:?}"
    );
    drop_table(&client, &topic).await;
}
