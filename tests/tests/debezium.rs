//! Debezium's own jars, unchanged, through Ferry's JVM plugin host: the PostgreSQL source
//! (`io.debezium:debezium-connector-postgres:3.6.1.Final`) against the real PostgreSQL of
//! `scripts/services.sh` (`wal_level=logical`, `plugin.name=pgoutput`), with
//! `ExtractNewRecordState` from its own jar, `topic.creation.default.*`, heartbeats and the
//! offset contract across a `kill -9` of the worker; then the Debezium JDBC sink
//! (`io.debezium:debezium-connector-jdbc:3.5.0.Final`, the newest whose dependency tree the
//! project's Maven mirror serves) and Ferry's built-in JDBC sink draining the same topic into
//! two more databases, which must end up identical. Jars from `scripts/fetch-test-plugins.sh
//! debezium`, the host from `scripts/build-plugin-host.sh`, the `ferry` binary from
//! target/debug, the real broker.
//!
//! Both sinks read the flattened records (`ExtractNewRecordState` with
//! `delete.tombstone.handling.mode=rewrite-with-tombstone` and `add.fields=op`): Ferry's JDBC
//! sink writes a record's fields as columns and does not read Debezium's envelope.
//!
//! The 10k test kills the worker during the initial snapshot (Debezium redoes it) and again
//! mid-stream (no second snapshot). The migration test runs the same jar in Apache Kafka
//! Connect 4.3.1 (`scripts/kafka-connect.sh`), hands over to Ferry on Kafka Connect's group and
//! topics mid-stream, and back.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_tests::debezium::{
    create_items, debezium_plugin_path, debezium_source_config, insert_range, offset_in_topic, pg,
    plugin_props, record_lsns, spawn_writer, stored_flushable_lsn, topic_partitions, uncommitted,
    Changes, Databases, JSON_CONVERTER, PG_HOST, PG_PORT,
};
use ferry_tests::plugins::script_dir;
use ferry_tests::{all_running, as_refs, unique_name, wait_until, Api, FerryProcess};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use tokio_postgres::Client;

const SNAPSHOT_ROWS: i64 = 1_000;
const STREAMED_INSERTS: i64 = 2_000;

/// The source offset Ferry stored for the connector (`{"lsn": .., "lsn_commit": .., ...}`).
async fn stored_offset(api: &Api, connector: &str) -> Option<Value> {
    let (code, body) = api
        .get(&format!("/connectors/{connector}/offsets"))
        .await
        .ok()?;
    if code != 200 {
        return None;
    }
    body["offsets"]
        .as_array()?
        .first()
        .map(|entry| entry["offset"].clone())
}

/// Rows of `table` as JSON objects, ordered by `id`, with only `columns`.
async fn table_rows(client: &Client, table: &str, columns: &[&str]) -> Vec<Value> {
    let sql = format!(
        "SELECT to_jsonb(t)::text FROM (SELECT {} FROM {table}) t ORDER BY t.id",
        columns.join(", ")
    );
    match client.query(&sql, &[]).await {
        Ok(rows) => rows
            .iter()
            .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn debezium_postgres_snapshot_stream_kill_9_and_two_jdbc_sinks_agree() {
    let _slot = ferry_tests::debezium::debezium_slot().await;
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = debezium_plugin_path();
    let prefix = unique_name("dbz").replace('-', "_");
    let dbs = Databases::create(&prefix, &["src", "dbzsink", "ferrysink"]).await;
    let (source_db, dbz_db, ferry_db) = (
        dbs.names[0].clone(),
        dbs.names[1].clone(),
        dbs.names[2].clone(),
    );
    let source = pg(&source_db).await;
    create_items(&source, SNAPSHOT_ROWS).await;

    let dir = tempfile::tempdir().unwrap();
    let props = plugin_props(&host_dir, &plugin_path);
    let worker_addr = ferry_tests::free_local_addr();
    let mut worker =
        FerryProcess::worker(dir.path(), &prefix, worker_addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let api = Api::new(worker_addr);

    // Ferry lists the jars' connectors and Debezium's own transforms.
    let (code, plugins) = api
        .get("/connector-plugins?connectorsOnly=false")
        .await
        .unwrap();
    assert_eq!(code, 200);
    for class in [
        "io.debezium.connector.postgresql.PostgresConnector",
        "io.debezium.connector.jdbc.JdbcSinkConnector",
        "io.debezium.transforms.ExtractNewRecordState",
    ] {
        assert!(
            plugins
                .as_array()
                .unwrap()
                .iter()
                .any(|plugin| plugin["class"] == class),
            "{class} missing from {plugins}"
        );
    }

    let connector = format!("{prefix}-pg");
    let topic_prefix = format!("{prefix}_cdc");
    let topic = format!("{topic_prefix}.public.items");
    let heartbeat_topic = format!("__debezium-heartbeat.{topic_prefix}");
    let config = debezium_source_config(&source_db, &topic_prefix, &dbs.slot);
    // validate() answers from the jar, with its ConfigDef's groups, and the host checks the
    // jar's transform.
    let mut named = config.clone();
    named["name"] = json!(connector);
    let validate_path =
        "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";
    let (code, validated) = api
        .call(reqwest::Method::PUT, validate_path, Some(&named))
        .await
        .unwrap();
    assert_eq!(code, 200, "{validated}");
    let errors = |validated: &Value| -> Vec<Value> {
        validated["configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|config| {
                !config["value"]["errors"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
            })
            .map(|config| config["value"].clone())
            .collect()
    };
    assert_eq!(validated["error_count"], 0, "{:?}", errors(&validated));
    let groups = validated["groups"].as_array().unwrap();
    assert!(groups.iter().any(|group| group == "Postgres"), "{groups:?}");
    let mut broken = named.clone();
    broken["transforms.unwrap.type"] = json!("io.debezium.transforms.NoSuchTransform");
    let (_, refused) = api
        .call(reqwest::Method::PUT, validate_path, Some(&broken))
        .await
        .unwrap();
    let refused_errors = errors(&refused);
    assert!(
        refused_errors
            .iter()
            .any(|value| value["name"] == "transforms.unwrap.type"),
        "{refused_errors:?}"
    );
    let started = Instant::now();
    api.create_connector(&connector, config).await.unwrap();
    api.wait_status(&connector, Duration::from_secs(120), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();

    // The initial snapshot: every row once, as op=r, in a topic Ferry created with
    // topic.creation.default.partitions.
    let snapshot = wait_until(
        Duration::from_secs(180),
        "the snapshot in the topic",
        || {
            let topic = topic.clone();
            async move {
                topic_partitions(&topic)?;
                let changes = Changes::read(&topic);
                (changes.count("r") >= usize::try_from(SNAPSHOT_ROWS).unwrap()).then_some(changes)
            }
        },
    )
    .await
    .unwrap();
    println!(
        "snapshot of {SNAPSHOT_ROWS} rows in the topic {:?} after the connector was created",
        started.elapsed()
    );
    assert_eq!(
        snapshot.ids_with("r"),
        (1..=SNAPSHOT_ROWS).collect::<BTreeSet<_>>()
    );
    assert_eq!(topic_partitions(&topic), Some(3));
    // Heartbeats reach their topic, which Ferry also created.
    wait_until(Duration::from_secs(60), "heartbeat records", || {
        let heartbeat_topic = heartbeat_topic.clone();
        async move { (ferry_tests::topic_record_count(&heartbeat_topic) > 0).then_some(()) }
    })
    .await
    .unwrap();
    assert_eq!(topic_partitions(&heartbeat_topic), Some(3));

    // Streaming: the slot's confirmed_flush_lsn advances once Ferry stored the offsets, and is
    // never ahead of what Ferry stored.
    let lsn_before = dbs.confirmed_flush_lsn().await.expect("the slot exists");
    let half = STREAMED_INSERTS / 2;
    insert_range(&source, SNAPSHOT_ROWS + 1, half, 10).await;
    let mut checks = 0;
    wait_until(
        Duration::from_secs(120),
        "confirmed_flush_lsn to advance after the streamed inserts",
        || {
            let (api, dbs, connector) = (&api, &dbs, &connector);
            async move {
                let confirmed = dbs.confirmed_flush_lsn().await?;
                // Read after the slot: the stored offset only grows.
                let offset = stored_offset(api, connector).await?;
                let stored = stored_flushable_lsn(&offset)?;
                assert!(
                    confirmed <= stored,
                    "confirmed_flush_lsn {confirmed} is ahead of the stored offset {offset}"
                );
                (confirmed > lsn_before).then_some(())
            }
        },
    )
    .await
    .unwrap();
    checks += 1;

    // kill -9 of the worker mid-stream (the plugin host dies with it), then a restart on the
    // same topics: the stream continues from the stored offset, with no second snapshot.
    let writer = {
        let source = pg(&source_db).await;
        tokio::spawn(async move {
            insert_range(&source, SNAPSHOT_ROWS + half + 1, half, 5).await;
        })
    };
    wait_until(
        Duration::from_secs(60),
        "some of the second half streamed",
        || {
            let topic = topic.clone();
            async move {
                let changes = Changes::read(&topic);
                (changes.count("c") > usize::try_from(half).unwrap()).then_some(())
            }
        },
    )
    .await
    .unwrap();
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    writer.await.unwrap();
    // PostgreSQL allows one consumer per slot: the dead worker's host must have let go of it.
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
    let mut worker =
        FerryProcess::worker(dir.path(), &prefix, worker_addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    api.wait_status(&connector, Duration::from_secs(120), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();

    // Updates and deletes after the restart: an update event, and a delete event plus a
    // tombstone (tombstones.on.delete defaults to true; rewrite-with-tombstone keeps both).
    source
        .batch_execute(
            "UPDATE items SET qty = qty + 100, name = name || ' (updated)' WHERE id % 3 = 0;
             DELETE FROM items WHERE id % 5 = 0;",
        )
        .await
        .unwrap();
    let total = SNAPSHOT_ROWS + STREAMED_INSERTS;
    let updated: BTreeSet<i64> = (1..=total).filter(|id| id % 3 == 0).collect();
    let deleted: BTreeSet<i64> = (1..=total).filter(|id| id % 5 == 0).collect();
    let changes = wait_until(
        Duration::from_secs(120),
        "every change in the topic",
        || {
            let (topic, deleted, updated) = (topic.clone(), deleted.clone(), updated.clone());
            async move {
                let changes = Changes::read(&topic);
                let tombstoned: BTreeSet<i64> = changes.tombstones.iter().copied().collect();
                (tombstoned.is_superset(&deleted) && changes.ids_with("u").is_superset(&updated))
                    .then_some(changes)
            }
        },
    )
    .await
    .unwrap();
    // No change lost: every inserted id, update and delete is in the topic.
    let all_ids: BTreeSet<i64> = (1..=total).collect();
    assert_eq!(
        changes.ops.keys().copied().collect::<BTreeSet<_>>(),
        all_ids
    );
    assert_eq!(
        changes.ids_with("c"),
        (SNAPSHOT_ROWS + 1..=total).collect::<BTreeSet<_>>(),
        "every streamed insert is in the topic"
    );
    assert!(changes.ids_with("u").is_superset(&updated));
    assert_eq!(changes.ids_with("d"), deleted);
    // No second snapshot: each snapshot row was read exactly once.
    assert_eq!(
        changes.count("r"),
        usize::try_from(SNAPSHOT_ROWS).unwrap(),
        "the restart re-snapshotted"
    );
    let duplicates = changes.count("c") - usize::try_from(STREAMED_INSERTS).unwrap();
    println!("after kill -9: {duplicates} insert events emitted twice (at least once delivery)");

    // The offset contract once more after the restart.
    let lsn_after_restart = dbs.confirmed_flush_lsn().await.unwrap();
    source
        .batch_execute(&format!(
            "INSERT INTO items VALUES ({}, 'last', 1)",
            total + 1
        ))
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(120),
        "confirmed_flush_lsn to advance after the restart",
        || {
            let (api, dbs, connector) = (&api, &dbs, &connector);
            async move {
                let confirmed = dbs.confirmed_flush_lsn().await?;
                let offset = stored_offset(api, connector).await?;
                let stored = stored_flushable_lsn(&offset)?;
                assert!(
                    confirmed <= stored,
                    "confirmed_flush_lsn {confirmed} is ahead of the stored offset {offset}"
                );
                (confirmed > lsn_after_restart).then_some(())
            }
        },
    )
    .await
    .unwrap();
    checks += 1;
    assert_eq!(checks, 2);

    // Two sinks on the same topic: Debezium's JDBC sink and Ferry's built-in one.
    start_two_sinks(&api, &prefix, &topic, &dbz_db, &ferry_db).await;
    let expected = table_rows(&source, "items", &["id", "name", "qty"]).await;
    assert_eq!(
        expected.len(),
        usize::try_from(total + 1).unwrap() - deleted.len()
    );
    let (dbz_sink, ferry_sink) = assert_two_sinks_match(
        &api, &worker, &prefix, &topic, &expected, &dbz_db, &ferry_db,
    )
    .await;

    worker.signal(Signal::SIGTERM).unwrap();
    let _ = worker.wait_exit(Duration::from_secs(60)).await;
    drop((source, dbz_sink, ferry_sink));
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
}

/// Debezium's JDBC sink (`<prefix>-dbz-sink`, into `dbz_db`) and Ferry's built-in JDBC sink
/// (`<prefix>-ferry-sink`, into `ferry_db`), both draining the flattened `topic` into `items`.
async fn start_two_sinks(api: &Api, prefix: &str, topic: &str, dbz_db: &str, ferry_db: &str) {
    api.create_connector(
        &format!("{prefix}-dbz-sink"),
        json!({
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": format!("jdbc:postgresql://{PG_HOST}:{PG_PORT}/{dbz_db}"),
            "connection.username": "postgres",
            "connection.password": "",
            "insert.mode": "upsert",
            "delete.enabled": "true",
            "primary.key.mode": "record_key",
            "schema.evolution": "basic",
            "collection.name.format": "items",
            "key.converter": JSON_CONVERTER,
            "value.converter": JSON_CONVERTER
        }),
    )
    .await
    .unwrap();
    api.create_connector(
        &format!("{prefix}-ferry-sink"),
        json!({
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": format!("jdbc:postgresql://{PG_HOST}:{PG_PORT}/{ferry_db}"),
            "connection.user": "postgres",
            "insert.mode": "upsert",
            "delete.enabled": "true",
            "pk.mode": "record_key",
            "auto.create": "true",
            "auto.evolve": "true",
            "table.name.format": "items",
            "key.converter": JSON_CONVERTER,
            "value.converter": JSON_CONVERTER
        }),
    )
    .await
    .unwrap();
}

/// Waits until both sinks' `items` equal `expected` on (id, name, qty), then checks that the
/// two tables are the same on every column (`__op` and `__deleted` included). Returns the
/// clients of the two sink databases.
async fn assert_two_sinks_match(
    api: &Api,
    worker: &FerryProcess,
    prefix: &str,
    topic: &str,
    expected: &[Value],
    dbz_db: &str,
    ferry_db: &str,
) -> (Client, Client) {
    let columns = ["id", "name", "qty"];
    let dbz_sink = pg(dbz_db).await;
    let ferry_sink = pg(ferry_db).await;
    for (name, client) in [
        ("Debezium JDBC sink", &dbz_sink),
        ("Ferry JDBC sink", &ferry_sink),
    ] {
        let result = wait_until(
            Duration::from_secs(180),
            &format!("the {name}'s table to match the source"),
            || async { (table_rows(client, "items", &columns).await == expected).then_some(()) },
        )
        .await;
        if let Err(error) = result {
            let rows = table_rows(client, "items", &columns).await;
            let mut statuses = Vec::new();
            for sink in ["dbz-sink", "ferry-sink"] {
                statuses.push(
                    api.get(&format!("/connectors/{prefix}-{sink}/status"))
                        .await
                        .ok(),
                );
            }
            // How far each sink's group got: consumed-and-committed vs the topic's end.
            let positions: Vec<(i64, i64)> = ["dbz-sink", "ferry-sink"]
                .iter()
                .map(|sink| ferry_tests::sink_group_position(topic, &format!("{prefix}-{sink}")))
                .collect();
            let log = worker.stdout() + &worker.stderr();
            // The last warnings and errors: the first ones are the plugins' start-up notices.
            let mut errors: Vec<&str> = log
                .lines()
                .filter(|line| line.contains("ERROR") || line.contains("WARN"))
                .collect();
            errors.drain(..errors.len().saturating_sub(60));
            panic!(
                "{error}: {} rows, source {}; statuses {statuses:?}; sink groups (committed, end) {positions:?}; log:\n{}",
                rows.len(),
                expected.len(),
                errors.join("\n")
            );
        }
    }
    let all_columns = ["id", "name", "qty", "__op", "__deleted"];
    assert_eq!(
        table_rows(&dbz_sink, "items", &all_columns).await,
        table_rows(&ferry_sink, "items", &all_columns).await
    );
    (dbz_sink, ferry_sink)
}

/// Resident memory of a process in KiB (`VmRSS`), 0 when it is gone.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Creates the Debezium connector (raw envelope, no transforms) through the REST API at
/// `api` and returns how long it took until `rows` snapshot records were in the topic.
async fn timed_snapshot(
    api: &Api,
    name: &str,
    dbname: &str,
    topic_prefix: &str,
    slot: &str,
    rows: i64,
) -> Duration {
    let mut config = debezium_source_config(dbname, topic_prefix, slot);
    let object = config.as_object_mut().unwrap();
    for key in [
        "transforms",
        "transforms.unwrap.type",
        "transforms.unwrap.delete.tombstone.handling.mode",
        "transforms.unwrap.add.fields",
    ] {
        object.remove(key);
    }
    object.insert("snapshot.fetch.size".into(), json!("10240"));
    let topic = format!("{topic_prefix}.public.items");
    let started = Instant::now();
    api.create_connector(name, config).await.unwrap();
    wait_until(
        Duration::from_secs(900),
        "the whole snapshot in the topic",
        || {
            let topic = topic.clone();
            async move { (ferry_tests::topic_record_count(&topic) >= rows).then_some(()) }
        },
    )
    .await
    .unwrap();
    started.elapsed()
}

/// Snapshot throughput of the same Debezium jar in Ferry and in Kafka Connect 4.3.1, same
/// table, same broker: `cargo test -p ferry-tests --test debezium -- --ignored --nocapture`
/// (`FERRY_DEBEZIUM_BENCH_ROWS`, default 100000). The time runs from the connector's
/// creation to the last snapshot record in Kafka, task start-up included.
#[tokio::test]
#[ignore = "benchmark: run on demand"]
async fn bench_debezium_snapshot_ferry_vs_kafka_connect() {
    let rows: i64 = std::env::var("FERRY_DEBEZIUM_BENCH_ROWS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(100_000);
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = debezium_plugin_path();
    let prefix = unique_name("dbzb").replace('-', "_");
    let mut dbs = Databases::create(&prefix, &["src"]).await;
    let source = pg(&dbs.names[0]).await;
    source
        .batch_execute(&format!(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
             INSERT INTO items SELECT g, 'snapshot row ' || g || repeat('x', 64), (g % 10)::int FROM generate_series(1, {rows}) g;"
        ))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ferry_slot, connect_slot) = (format!("{prefix}_ferry"), format!("{prefix}_kc"));
    dbs.extra_slots
        .extend([ferry_slot.clone(), connect_slot.clone()]);

    // Ferry.
    let props = plugin_props(&host_dir, &plugin_path);
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let api = Api::new(addr);
    let ferry_time = timed_snapshot(
        &api,
        &format!("{prefix}-ferry"),
        &dbs.names[0],
        &format!("{prefix}_f"),
        &ferry_slot,
        rows,
    )
    .await;
    let host_pids =
        ferry_tests::plugins::children_running(worker.pid(), ferry_tests::plugins::HOST_MAIN_CLASS);
    let ferry_rss = rss_kib(worker.pid()) + host_pids.iter().map(|pid| rss_kib(*pid)).sum::<u64>();
    worker.signal(Signal::SIGTERM).unwrap();
    let _ = worker.wait_exit(Duration::from_secs(60)).await;
    drop(worker);

    // Kafka Connect 4.3.1, the same plugin.path.
    let connect_dir = dir.path().join("connect");
    std::fs::create_dir_all(&connect_dir).unwrap();
    let port = ferry_tests::free_local_addr().port();
    let plugin_path_text = plugin_path.display().to_string();
    let group = format!("{prefix}-kc");
    let connect = tokio::task::spawn_blocking({
        let connect_dir = connect_dir.clone();
        move || {
            ferry_tests::kafka_connect::KafkaConnectWorker::start(
                &connect_dir,
                "kc",
                port,
                &group,
                &[
                    ("plugin.path", plugin_path_text.as_str()),
                    ("offset.flush.interval.ms", "1000"),
                ],
            )
        }
    })
    .await
    .unwrap()
    .unwrap();
    let connect_api = Api::new(connect.addr());
    let connect_time = timed_snapshot(
        &connect_api,
        &format!("{prefix}-kc"),
        &dbs.names[0],
        &format!("{prefix}_k"),
        &connect_slot,
        rows,
    )
    .await;
    let connect_pid = std::fs::read_to_string(connect_dir.join("kc.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let connect_rss = rss_kib(connect_pid);
    tokio::task::spawn_blocking(move || {
        let mut connect = connect;
        connect.stop()
    })
    .await
    .unwrap()
    .unwrap();

    #[allow(clippy::cast_precision_loss)]
    let rate = |time: Duration| rows as f64 / time.as_secs_f64();
    println!(
        "debezium snapshot of {rows} rows: ferry {:.2} s ({:.0} records/s, RSS worker+host {} MiB); kafka connect 4.3.1 {:.2} s ({:.0} records/s, RSS {} MiB)",
        ferry_time.as_secs_f64(),
        rate(ferry_time),
        ferry_rss / 1024,
        connect_time.as_secs_f64(),
        rate(connect_time),
        connect_rss / 1024
    );
}

const BIG_SNAPSHOT_ROWS: i64 = 10_000;
/// The streamed changes of the 10k test: inserts, then updates, then deletes (10,000 in all).
const BIG_INSERTS: i64 = 5_000;
const BIG_UPDATES: i64 = 3_000;
const BIG_DELETES: i64 = 2_000;

/// Reads the slot, then the stored offset, and fails if `confirmed_flush_lsn` is ahead of it.
/// Returns `confirmed_flush_lsn` (`None` while either is not there yet).
async fn checked_confirmed_lsn(api: &Api, dbs: &Databases, connector: &str) -> Option<i64> {
    let confirmed = dbs.confirmed_flush_lsn().await?;
    // Read after the slot: the stored offset only grows.
    let offset = stored_offset(api, connector).await?;
    let stored = stored_flushable_lsn(&offset)?;
    assert!(
        confirmed <= stored,
        "confirmed_flush_lsn {confirmed} is ahead of the stored offset {offset}"
    );
    Some(confirmed)
}

/// `kill -9` of the worker (its plugin host dies with it), and waits until PostgreSQL let go
/// of the slot.
async fn kill_9(worker: &mut FerryProcess, dbs: &Databases) {
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
}

/// Issue 14's full Debezium scenario at 10k: `kill -9` during the initial snapshot (Debezium
/// redoes an interrupted initial snapshot), then 10,000 streamed changes with another
/// `kill -9` mid-stream (no second snapshot once streaming started), `confirmed_flush_lsn`
/// never ahead of the stored offset, and both JDBC sinks end with exactly the source table.
#[tokio::test]
async fn debezium_kill_9_during_snapshot_and_streaming_10k_two_jdbc_sinks_agree() {
    let _slot = ferry_tests::debezium::debezium_slot().await;
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = debezium_plugin_path();
    let prefix = unique_name("dbzk").replace('-', "_");
    let dbs = Databases::create(&prefix, &["src", "dbzsink", "ferrysink"]).await;
    let (source_db, dbz_db, ferry_db) = (
        dbs.names[0].clone(),
        dbs.names[1].clone(),
        dbs.names[2].clone(),
    );
    let source = pg(&source_db).await;
    // ~1 KiB a row, so that the snapshot lasts long enough to be interrupted.
    source
        .batch_execute(&format!(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
             ALTER TABLE items REPLICA IDENTITY FULL;
             INSERT INTO items SELECT g, 'snapshot ' || g || ' ' || repeat('x', 1000), (g % 10)::int
               FROM generate_series(1, {BIG_SNAPSHOT_ROWS}) g;"
        ))
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let props = plugin_props(&host_dir, &plugin_path);
    let addr = ferry_tests::free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let api = Api::new(addr);

    let connector = format!("{prefix}-pg");
    let topic_prefix = format!("{prefix}_cdc");
    let topic = format!("{topic_prefix}.public.items");
    let mut config = debezium_source_config(&source_db, &topic_prefix, &dbs.slot);
    // Small batches: the snapshot reaches Kafka in many steps.
    config["max.batch.size"] = json!("64");
    config["max.queue.size"] = json!("256");
    let started = Instant::now();
    api.create_connector(&connector, config).await.unwrap();

    // kill -9 as soon as the first snapshot records are in Kafka.
    wait_until(
        Duration::from_secs(180),
        "the first snapshot records",
        || {
            let topic = topic.clone();
            async move { (ferry_tests::topic_record_count(&topic) > 0).then_some(()) }
        },
    )
    .await
    .unwrap();
    kill_9(&mut worker, &dbs).await;
    // Counted before the restart: what the killed worker got into Kafka.
    let at_kill = usize::try_from(ferry_tests::topic_record_count(&topic)).unwrap();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let snapshot_rows = usize::try_from(BIG_SNAPSHOT_ROWS).unwrap();
    println!(
        "kill -9 during the snapshot: {at_kill} of {BIG_SNAPSHOT_ROWS} snapshot records in Kafka, {:?} after the connector was created",
        started.elapsed()
    );
    assert!(
        at_kill > 0 && at_kill < snapshot_rows,
        "the kill -9 was meant to land during the snapshot, but {at_kill} records were in the topic"
    );

    // Debezium redoes an interrupted initial snapshot: every row again as op=r.
    let all_snapshot: BTreeSet<i64> = (1..=BIG_SNAPSHOT_ROWS).collect();
    let snapshot = wait_until(
        Duration::from_secs(180),
        "the redone snapshot in the topic",
        || {
            let topic = topic.clone();
            async move {
                (ferry_tests::topic_record_count(&topic)
                    >= i64::try_from(at_kill).unwrap() + BIG_SNAPSHOT_ROWS)
                    .then(|| Changes::read(&topic))
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(snapshot.ids_with("r"), all_snapshot);
    let snapshot_records = snapshot.count("r");
    assert_eq!(
        snapshot_records,
        at_kill + snapshot_rows,
        "the interrupted snapshot is redone from the start, and once"
    );
    // Streaming started: the stored offset is a streaming one (heartbeats move it) and the
    // slot is never ahead of it.
    wait_until(
        Duration::from_secs(120),
        "a streaming offset stored after the snapshot",
        || {
            let (api, dbs, connector) = (&api, &dbs, &connector);
            async move {
                checked_confirmed_lsn(api, dbs, connector).await?;
                let offset = stored_offset(api, connector).await?;
                offset["snapshot"].is_null().then_some(())
            }
        },
    )
    .await
    .unwrap();
    println!(
        "snapshot done after the kill -9: {snapshot_records} op=r records ({at_kill} of them before the kill), {:?} after create",
        started.elapsed()
    );

    // 10,000 streamed changes, with a kill -9 in the middle.
    let lsn_before = dbs.confirmed_flush_lsn().await.expect("the slot exists");
    let first_insert = BIG_SNAPSHOT_ROWS + 1;
    let last_insert = BIG_SNAPSHOT_ROWS + BIG_INSERTS;
    let writer = {
        let source = pg(&source_db).await;
        tokio::spawn(async move {
            insert_range(&source, first_insert, BIG_INSERTS, 10).await;
            for low in (1..=BIG_UPDATES).step_by(100) {
                source
                    .execute(
                        "UPDATE items SET qty = qty + 100, name = name || ' (updated)' WHERE id BETWEEN $1 AND $2",
                        &[&low, &(low + 99)],
                    )
                    .await
                    .unwrap();
            }
            let first_delete = BIG_UPDATES + 1;
            for low in (first_delete..first_delete + BIG_DELETES).step_by(100) {
                source
                    .execute(
                        "DELETE FROM items WHERE id BETWEEN $1 AND $2",
                        &[&low, &(low + 99)],
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let streamed_before_kill = i64::try_from(snapshot_records).unwrap() + BIG_INSERTS / 2;
    // The slot's confirmed_flush_lsn moves only at the source task's commit() after an offset
    // flush, so it is part of the condition, not asserted the moment the records are in Kafka.
    wait_until(
        Duration::from_secs(120),
        "half of the streamed inserts in Kafka and confirmed_flush_lsn advanced while streaming",
        || {
            let (api, dbs, connector, topic) = (&api, &dbs, &connector, topic.clone());
            async move {
                let confirmed = checked_confirmed_lsn(api, dbs, connector).await?;
                (confirmed > lsn_before
                    && ferry_tests::topic_record_count(&topic) >= streamed_before_kill)
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    kill_9(&mut worker, &dbs).await;
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    writer.await.unwrap();
    let updated: BTreeSet<i64> = (1..=BIG_UPDATES).collect();
    let deleted: BTreeSet<i64> = (BIG_UPDATES + 1..=BIG_UPDATES + BIG_DELETES).collect();
    let changes = wait_until(
        Duration::from_secs(180),
        "every streamed change in the topic",
        || {
            let (api, dbs, connector) = (&api, &dbs, &connector);
            let (topic, deleted, updated) = (topic.clone(), deleted.clone(), updated.clone());
            async move {
                checked_confirmed_lsn(api, dbs, connector).await?;
                let changes = Changes::read(&topic);
                let tombstoned: BTreeSet<i64> = changes.tombstones.iter().copied().collect();
                (tombstoned.is_superset(&deleted) && changes.ids_with("u").is_superset(&updated))
                    .then_some(changes)
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        changes.ids_with("c"),
        (first_insert..=last_insert).collect::<BTreeSet<_>>(),
        "every streamed insert is in the topic"
    );
    assert_eq!(changes.ids_with("d"), deleted);
    assert_eq!(
        changes.count("r"),
        snapshot_records,
        "no second snapshot after streaming started"
    );
    let duplicates = (changes.count("c") + changes.count("u") + changes.count("d"))
        - usize::try_from(BIG_INSERTS + BIG_UPDATES + BIG_DELETES).unwrap();
    println!(
        "after the kill -9 mid-stream: {duplicates} change events emitted twice (at least once delivery), {:?} after create",
        started.elapsed()
    );
    api.wait_status(&connector, Duration::from_secs(60), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();

    start_two_sinks(&api, &prefix, &topic, &dbz_db, &ferry_db).await;
    let expected = table_rows(&source, "items", &["id", "name", "qty"]).await;
    assert_eq!(
        expected.len(),
        usize::try_from(BIG_SNAPSHOT_ROWS + BIG_INSERTS - BIG_DELETES).unwrap()
    );
    let (dbz_sink, ferry_sink) = assert_two_sinks_match(
        &api, &worker, &prefix, &topic, &expected, &dbz_db, &ferry_db,
    )
    .await;
    println!(
        "both sinks equal the source, {:?} after create",
        started.elapsed()
    );

    worker.signal(Signal::SIGTERM).unwrap();
    let _ = worker.wait_exit(Duration::from_secs(60)).await;
    drop((source, dbz_sink, ferry_sink));
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
}

fn count_file_lines(path: &Path) -> i64 {
    let text = std::fs::read(path).unwrap_or_default();
    i64::try_from(text.iter().filter(|b| **b == b'\n').count()).unwrap()
}

/// Kafka Connect 4.3.1 runs the Debezium PostgreSQL source (the same plugin.path) and a
/// FileStreamSink on its topic; it is stopped mid-stream and a Ferry worker starts on its
/// group and topics: Debezium continues from Kafka Connect's stored offset (no re-snapshot),
/// nothing is missing, and the duplicates are at most what Kafka Connect had not committed.
/// Then Ferry is stopped and Kafka Connect starts again: it continues too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debezium_kafka_connect_to_ferry_and_back_continues_without_resnapshot() {
    let _slot = ferry_tests::debezium::debezium_slot().await;
    const ROWS: i64 = 2_000;
    const PER_LEG: i64 = 2_000;
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = debezium_plugin_path();
    let prefix = unique_name("dbzm").replace('-', "_");
    let dbs = Databases::create(&prefix, &["src"]).await;
    let source = pg(&dbs.names[0]).await;
    create_items(&source, ROWS).await;
    let dir = tempfile::tempdir().unwrap();
    let group = format!("{prefix}-kc");
    let offsets_topic = format!("{group}-offsets");
    let connector = format!("{prefix}-pg");
    let sink = format!("{prefix}-file");
    let topic_prefix = format!("{prefix}_cdc");
    let topic = format!("{topic_prefix}.public.items");
    let output = dir.path().join("sink.txt");
    let plugin_path_text = plugin_path.display().to_string();
    let start_kafka_connect = |port: u16| {
        let (dir, group, plugin_path_text) = (
            dir.path().to_path_buf(),
            group.clone(),
            plugin_path_text.clone(),
        );
        tokio::task::spawn_blocking(move || {
            ferry_tests::kafka_connect::KafkaConnectWorker::start(
                &dir,
                "kc",
                port,
                &group,
                &[
                    ("plugin.path", plugin_path_text.as_str()),
                    ("offset.flush.interval.ms", "5000"),
                    ("scheduled.rebalance.max.delay.ms", "0"),
                ],
            )
        })
    };
    let all_inserts = |count: i64| (ROWS + 1..=ROWS + count).collect::<BTreeSet<i64>>();
    let wait_inserts = |count: i64| {
        let topic = topic.clone();
        let want = all_inserts(count);
        async move {
            wait_until(
                Duration::from_secs(180),
                "every insert in the topic",
                || {
                    let (topic, want) = (topic.clone(), want.clone());
                    async move {
                        let changes = Changes::read(&topic);
                        changes.ids_with("c").is_superset(&want).then_some(changes)
                    }
                },
            )
            .await
            .unwrap()
        }
    };

    // Kafka Connect 4.3.1: the snapshot, then streaming; stopped mid-stream.
    let port = ferry_tests::free_local_addr().port();
    let kc = start_kafka_connect(port).await.unwrap().unwrap();
    let kc_api = Api::new(kc.addr());
    let mut config = debezium_source_config(&dbs.names[0], &topic_prefix, &dbs.slot);
    config["transforms.unwrap.add.fields"] = json!("op,lsn");
    kc_api.create_connector(&connector, config).await.unwrap();
    kc_api
        .create_connector(
            &sink,
            json!({"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                   "file": output, "topics": topic, "tasks.max": "1",
                   "key.converter": JSON_CONVERTER, "value.converter": JSON_CONVERTER}),
        )
        .await
        .unwrap();
    wait_until(Duration::from_secs(180), "Kafka Connect's snapshot", || {
        let topic = topic.clone();
        async move {
            topic_partitions(&topic)?;
            (Changes::read(&topic).count("r") >= usize::try_from(ROWS).unwrap()).then_some(())
        }
    })
    .await
    .unwrap();
    let rows = usize::try_from(ROWS).unwrap();
    let insert_writer = spawn_writer(&dbs.names[0], ROWS + 1, PER_LEG).await;
    wait_until(Duration::from_secs(120), "Kafka Connect streaming", || {
        let topic = topic.clone();
        async move { (ferry_tests::topic_record_count(&topic) > ROWS + PER_LEG / 3).then_some(()) }
    })
    .await
    .unwrap();
    let kc = tokio::task::spawn_blocking(move || {
        let mut kc = kc;
        kc.stop().map(|()| kc)
    })
    .await
    .unwrap()
    .unwrap();
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
    let (source_left, sink_left) = uncommitted(&offsets_topic, &connector, &topic, &sink);
    let topic_at_stop = ferry_tests::topic_record_count(&topic);
    println!("Kafka Connect stopped: {topic_at_stop} records, {source_left} past its stored source offset, sink lag {sink_left}");

    // Ferry on Kafka Connect's properties, group and topics, with the plugin host.
    let addr = ferry_tests::free_local_addr();
    let mut props = kc.properties().unwrap();
    for key in [
        "listeners",
        "rest.advertised.host.name",
        "rest.advertised.port",
    ] {
        props.remove(key);
    }
    props.insert("listeners".into(), format!("http://{addr}"));
    for (key, value) in plugin_props(&host_dir, &plugin_path) {
        props.insert(key, value);
    }
    let properties = dir.path().join("ferry.properties");
    std::fs::write(
        &properties,
        props
            .iter()
            .map(|(key, value)| format!("{key}={value}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let mut ferry =
        FerryProcess::spawn(&["worker", &properties.display().to_string()], addr).unwrap();
    ferry.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let api = Api::new(addr);
    for name in [&connector, &sink] {
        api.wait_status(name, Duration::from_secs(120), |status| {
            all_running(status, 1)
        })
        .await
        .unwrap();
    }
    insert_writer.await.unwrap();
    let changes = wait_inserts(PER_LEG).await;
    assert_eq!(changes.count("r"), rows, "Ferry re-snapshotted");
    let duplicates = changes.count("c") - usize::try_from(PER_LEG).unwrap();
    println!("Ferry continued: {duplicates} insert events twice (Kafka Connect left {source_left} uncommitted)");
    assert!(
        duplicates <= source_left,
        "{duplicates} duplicates, but only {source_left} were past Kafka Connect's stored offset"
    );
    let records = ferry_tests::topic_record_count(&topic);
    wait_until(
        Duration::from_secs(120),
        "the sink file to have every record",
        || async { (count_file_lines(&output) >= records).then_some(()) },
    )
    .await
    .unwrap();
    let sink_duplicates = count_file_lines(&output) - records;
    println!("sink: {sink_duplicates} lines twice (Kafka Connect's sink lag was {sink_left})");
    assert!(sink_duplicates <= sink_left);
    // Ferry's offsets, in Kafka Connect's topic.
    wait_until(
        Duration::from_secs(60),
        "Ferry's offsets past the inserts",
        || {
            let (offsets_topic, connector, topic) =
                (offsets_topic.clone(), connector.clone(), topic.clone());
            async move {
                let stored = stored_flushable_lsn(&offset_in_topic(&offsets_topic, &connector)?)?;
                let last = record_lsns(&topic).into_iter().max()?;
                (stored >= last).then_some(())
            }
        },
    )
    .await
    .unwrap();

    // Back to Kafka Connect: Ferry is stopped mid-stream, then Kafka Connect starts on the
    // same topics.
    let before_back = Changes::read(&topic);
    let more_writer = spawn_writer(&dbs.names[0], ROWS + PER_LEG + 1, PER_LEG).await;
    let mid = ferry_tests::topic_record_count(&topic) + PER_LEG / 3;
    wait_until(Duration::from_secs(120), "Ferry streaming more", || {
        let topic = topic.clone();
        async move { (ferry_tests::topic_record_count(&topic) > mid).then_some(()) }
    })
    .await
    .unwrap();
    ferry.signal(Signal::SIGTERM).unwrap();
    ferry.wait_exit(Duration::from_secs(60)).await.unwrap();
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
    let (ferry_source_left, ferry_sink_left) =
        uncommitted(&offsets_topic, &connector, &topic, &sink);
    println!(
        "Ferry stopped: {} records, {ferry_source_left} past its stored source offset, sink lag {ferry_sink_left}",
        ferry_tests::topic_record_count(&topic)
    );
    let mut kc = start_kafka_connect(port).await.unwrap().unwrap();
    for name in [&connector, &sink] {
        kc_api
            .wait_status(name, Duration::from_secs(120), |status| {
                all_running(status, 1)
            })
            .await
            .unwrap();
    }
    more_writer.await.unwrap();
    let changes = wait_inserts(2 * PER_LEG).await;
    assert_eq!(
        changes.count("r"),
        rows,
        "Kafka Connect re-snapshotted after Ferry"
    );
    let back_duplicates =
        (changes.count("c") - before_back.count("c")) - usize::try_from(PER_LEG).unwrap();
    println!("Kafka Connect continued after Ferry: {back_duplicates} insert events twice (Ferry left {ferry_source_left} uncommitted)");
    assert!(back_duplicates <= ferry_source_left);
    let records = ferry_tests::topic_record_count(&topic);
    wait_until(
        Duration::from_secs(120),
        "the sink file to have every record again",
        || async { (count_file_lines(&output) >= records).then_some(()) },
    )
    .await
    .unwrap();
    let back_sink_duplicates = count_file_lines(&output) - records - sink_duplicates;
    println!("sink after the way back: {back_sink_duplicates} lines twice (Ferry's sink lag was {ferry_sink_left})");
    assert!(back_sink_duplicates <= ferry_sink_left);
    tokio::task::spawn_blocking(move || kc.stop())
        .await
        .unwrap()
        .unwrap();
    drop(source);
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
}

/// Debezium's PostgreSQL source under exactly-once (KIP-618): on a worker with
/// `exactly.once.source.support=enabled` the jar declares support itself (`exactlyOnceSupport`
/// in the plugin host), so `exactly.once.support=required` is accepted; its change events and
/// offsets are committed in the task's transactions, and across a `kill -9` of the worker
/// mid-stream a `read_committed` reader sees every streamed insert exactly once (the same kill
/// without exactly-once re-emits hundreds: see the test above), with no second snapshot.
#[tokio::test]
async fn debezium_exactly_once_kill_9_mid_stream_emits_each_change_once() {
    let _slot = ferry_tests::debezium::debezium_slot().await;
    const SNAPSHOT: i64 = 200;
    const INSERTS: i64 = 2_000;
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = debezium_plugin_path();
    let prefix = unique_name("dbzeos").replace('-', "_");
    let dbs = Databases::create(&prefix, &["src"]).await;
    let source_db = dbs.names[0].clone();
    let source = pg(&source_db).await;
    create_items(&source, SNAPSHOT).await;
    let dir = tempfile::tempdir().unwrap();
    let mut props = plugin_props(&host_dir, &plugin_path);
    props.push(("exactly.once.source.support".into(), "enabled".into()));
    let worker_addr = ferry_tests::free_local_addr();
    let mut worker =
        FerryProcess::worker(dir.path(), &prefix, worker_addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let api = Api::new(worker_addr);

    let connector = format!("{prefix}-pg");
    let topic_prefix = format!("{prefix}_cdc");
    let topic = format!("{topic_prefix}.public.items");
    let mut config = debezium_source_config(&source_db, &topic_prefix, &dbs.slot);
    config["exactly.once.support"] = json!("required");
    api.create_connector(&connector, config).await.unwrap();
    api.wait_status(&connector, Duration::from_secs(120), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();
    wait_until(Duration::from_secs(180), "the snapshot committed", || {
        let topic = topic.clone();
        async move {
            topic_partitions(&topic)?;
            (Changes::read(&topic).count("r") >= usize::try_from(SNAPSHOT).unwrap()).then_some(())
        }
    })
    .await
    .unwrap();

    // A writer streams inserts in small transactions; the worker is killed mid-stream.
    let writer = spawn_writer(&source_db, SNAPSHOT + 1, INSERTS).await;
    wait_until(
        Duration::from_secs(120),
        "a third of the inserts committed",
        || {
            let topic = topic.clone();
            async move {
                (Changes::read(&topic).count("c") > usize::try_from(INSERTS / 3).unwrap())
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    kill_9(&mut worker, &dbs).await;
    let uncommitted_at_kill =
        ferry_tests::topic_log_end_count(&topic) - ferry_tests::topic_record_count(&topic);
    writer.await.unwrap();
    let mut worker =
        FerryProcess::worker(dir.path(), &prefix, worker_addr, &as_refs(&props)).unwrap();
    worker.wait_healthy(Duration::from_secs(90)).await.unwrap();
    let changes = wait_until(Duration::from_secs(180), "every insert committed", || {
        let topic = topic.clone();
        async move {
            let changes = Changes::read(&topic);
            (changes.ids_with("c").len() >= usize::try_from(INSERTS).unwrap()).then_some(changes)
        }
    })
    .await
    .unwrap();
    println!(
        "exactly-once Debezium: {} inserts committed after a kill -9 mid-stream ({uncommitted_at_kill} offsets past the last stable offset at the kill)",
        changes.count("c")
    );
    assert_eq!(
        changes.ids_with("c"),
        (SNAPSHOT + 1..=SNAPSHOT + INSERTS).collect::<BTreeSet<_>>(),
        "every streamed insert"
    );
    assert_eq!(
        changes.count("c"),
        usize::try_from(INSERTS).unwrap(),
        "an insert committed twice"
    );
    assert_eq!(
        changes.count("r"),
        usize::try_from(SNAPSHOT).unwrap(),
        "the restart re-snapshotted"
    );
    worker.signal(Signal::SIGTERM).unwrap();
    let _ = worker.wait_exit(Duration::from_secs(60)).await;
    drop(source);
    wait_until(
        Duration::from_secs(30),
        "the slot to be released",
        || async { (!dbs.slot_active().await).then_some(()) },
    )
    .await
    .unwrap();
}
