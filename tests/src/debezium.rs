//! Debezium PostgreSQL helpers shared by the Debezium and migration tests: the real PostgreSQL
//! of `scripts/services.sh`, a database (and replication slot) per test, the connector's config,
//! and reading what Debezium wrote (change records, stored offsets, sink lag).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_postgres::{Client, NoTls};

pub use crate::offset_in_topic;
use crate::{read_topic, TopicRecord};

pub const PG_HOST: &str = "127.0.0.1";

pub const PG_PORT: u16 = 15432;

pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

pub async fn pg(dbname: &str) -> Client {
    let config =
        format!("host={PG_HOST} port={PG_PORT} user=postgres dbname={dbname} connect_timeout=5");
    match tokio_postgres::connect(&config, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(error) => panic!(
            "PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} ({error}): start it with `scripts/services.sh start postgres`"
        ),
    }
}

/// A database of its own for one test, dropped (with the test's slot) at the end.
pub struct Databases {
    pub admin: Client,
    pub names: Vec<String>,
    pub slot: String,
    /// More slots to drop at the end (the benchmark's).
    pub extra_slots: Vec<String>,
}

impl Databases {
    pub async fn create(prefix: &str, suffixes: &[&str]) -> Self {
        let admin = pg("postgres").await;
        let wal_level: String = admin.query_one("SHOW wal_level", &[]).await.unwrap().get(0);
        assert_eq!(
            wal_level, "logical",
            "Debezium needs wal_level=logical (scripts/services.sh configures it)"
        );
        let mut names = Vec::new();
        for suffix in suffixes {
            let name = format!("{prefix}_{suffix}");
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            names.push(name);
        }
        Databases {
            admin,
            names,
            slot: format!("{prefix}_slot"),
            extra_slots: Vec::new(),
        }
    }

    /// The slot's `confirmed_flush_lsn` as a number (`None` before the slot exists).
    pub async fn confirmed_flush_lsn(&self) -> Option<i64> {
        self.admin
            .query_opt(
                "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot],
            )
            .await
            .unwrap()
            .and_then(|row| row.get::<_, Option<i64>>(0))
    }

    pub async fn slot_active(&self) -> bool {
        self.admin
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot],
            )
            .await
            .unwrap()
            .is_some_and(|row| row.get::<_, bool>(0))
    }
}

/// Drops the test's slot (an inactive slot left behind would keep the shared server's WAL
/// forever) and databases, also when the test failed; the worker is gone by then (it is
/// declared later, so dropped first), and its host lets go of the slot within seconds.
impl Drop for Databases {
    fn drop(&mut self) {
        let psql = |sql: &str| {
            std::process::Command::new("psql")
                .args(["-h", PG_HOST, "-p", &PG_PORT.to_string(), "-U", "postgres"])
                .args(["-d", "postgres", "-Atqc", sql])
                .output()
                .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
                .unwrap_or_default()
        };
        // The server polls (up to 30 s) until the slot is released, then drops it.
        for slot in std::iter::once(&self.slot).chain(&self.extra_slots) {
            psql(&format!(
                "DO $$ BEGIN FOR i IN 1..150 LOOP \
                   IF NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}' AND active) THEN \
                     PERFORM pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}'; \
                     RETURN; \
                   END IF; \
                   PERFORM pg_sleep(0.2); \
                 END LOOP; END $$"
            ));
        }
        for name in &self.names {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

pub fn plugin_props(host_dir: &Path, plugin_path: &Path) -> Vec<(String, String)> {
    vec![
        ("plugin.path".into(), plugin_path.display().to_string()),
        ("plugin.host.dir".into(), host_dir.display().to_string()),
        ("plugin.discovery".into(), "service_load".into()),
    ]
}

/// The Debezium PostgreSQL connector's config, exactly as the README shows it.
pub fn debezium_source_config(dbname: &str, prefix: &str, slot: &str) -> Value {
    json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": PG_HOST,
        "database.port": PG_PORT.to_string(),
        "database.user": "postgres",
        "database.password": "",
        "database.dbname": dbname,
        "topic.prefix": prefix,
        "plugin.name": "pgoutput",
        "slot.name": slot,
        "publication.name": format!("{slot}_pub"),
        "publication.autocreate.mode": "filtered",
        "table.include.list": "public.items",
        "heartbeat.interval.ms": "1000",
        "topic.creation.default.partitions": "3",
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.compression.type": "lz4",
        "key.converter": JSON_CONVERTER,
        "value.converter": JSON_CONVERTER,
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "rewrite-with-tombstone",
        "transforms.unwrap.add.fields": "op"
    })
}

pub fn value_json(record: &TopicRecord) -> Option<Value> {
    record
        .value
        .as_ref()
        .map(|bytes| serde_json::from_slice(bytes).expect("JsonConverter output is JSON"))
}

pub fn key_id(record: &TopicRecord) -> i64 {
    let key: Value =
        serde_json::from_slice(record.key.as_ref().expect("Debezium keys rows")).expect("JSON key");
    key["payload"]["id"].as_i64().expect("the key's id")
}

/// What the topic says: `op` of every change record (id → ops in order), and tombstone ids.
#[derive(Default, Debug)]
pub struct Changes {
    pub ops: BTreeMap<i64, Vec<String>>,
    pub tombstones: Vec<i64>,
}

impl Changes {
    pub fn read(topic: &str) -> Self {
        let mut changes = Changes::default();
        for record in read_topic(topic) {
            let id = key_id(&record);
            match value_json(&record) {
                Some(value) => {
                    let op = value["payload"]["__op"]
                        .as_str()
                        .expect("add.fields=op gives __op")
                        .to_string();
                    changes.ops.entry(id).or_default().push(op);
                }
                None => changes.tombstones.push(id),
            }
        }
        changes
    }

    pub fn count(&self, op: &str) -> usize {
        self.ops
            .values()
            .map(|ops| ops.iter().filter(|o| *o == op).count())
            .sum()
    }

    pub fn ids_with(&self, op: &str) -> BTreeSet<i64> {
        self.ops
            .iter()
            .filter(|(_, ops)| ops.iter().any(|o| o == op))
            .map(|(id, _)| *id)
            .collect()
    }
}

pub fn topic_partitions(topic: &str) -> Option<usize> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", crate::test_bootstrap())
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()?;
    let described = metadata.topics().first()?;
    if described.error().is_some() || described.partitions().is_empty() {
        return None;
    }
    Some(described.partitions().len())
}

/// The LSN up to which the stored offset lets PostgreSQL forget: Debezium flushes
/// `lsn_commit` when the offset has one, else `lsn`.
pub fn stored_flushable_lsn(offset: &Value) -> Option<i64> {
    offset["lsn_commit"]
        .as_i64()
        .or_else(|| offset["lsn"].as_i64())
}

pub async fn insert_range(client: &Client, first: i64, count: i64, per_transaction: i64) {
    let mut id = first;
    while id < first + count {
        let last = (id + per_transaction).min(first + count);
        client
            .execute(
                "INSERT INTO items SELECT g, 'streamed ' || g, (g % 7)::int FROM generate_series($1::bigint, $2::bigint - 1) g",
                &[&id, &last],
            )
            .await
            .unwrap();
        id = last;
    }
}

pub fn debezium_plugin_path() -> std::path::PathBuf {
    let output =
        std::process::Command::new(crate::repo_root().join("scripts/fetch-test-plugins.sh"))
            .arg("debezium")
            .output()
            .expect("fetch-test-plugins.sh runs");
    assert!(
        output.status.success(),
        "fetch-test-plugins.sh debezium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::path::PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// `__lsn` of every change record in the topic (`add.fields=op,lsn`).
pub fn record_lsns(topic: &str) -> Vec<i64> {
    read_topic(topic)
        .iter()
        .filter_map(value_json)
        .filter_map(|value| value["payload"]["__lsn"].as_i64())
        .collect()
}

/// Records in `topic` beyond what the group `connect-<sink>` committed.
pub fn sink_lag(topic: &str, sink: &str) -> i64 {
    let (committed, end) = crate::sink_group_position(topic, sink);
    end - committed
}

/// What a stopped system left uncommitted: change records in the topic past the stored
/// source offset (Debezium sends them again), and records past the sink group's offsets.
pub fn uncommitted(offsets_topic: &str, connector: &str, topic: &str, sink: &str) -> (usize, i64) {
    let offset = offset_in_topic(offsets_topic, connector).expect("a stored source offset");
    let stored = stored_flushable_lsn(&offset).expect("the offset has an lsn");
    let source = record_lsns(topic)
        .iter()
        .filter(|lsn| **lsn > stored)
        .count();
    (source, sink_lag(topic, sink))
}

/// Inserts `count` rows from id `first` on, five a transaction, from a task of its own.
/// Creates the source table `items` (`REPLICA IDENTITY FULL`, so updates and deletes carry
/// the old row) with `rows` snapshot rows `(g, 'snapshot g', g % 10)`.
pub async fn create_items(client: &Client, rows: i64) {
    client
        .batch_execute(&format!(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
             ALTER TABLE items REPLICA IDENTITY FULL;
             INSERT INTO items SELECT g, 'snapshot ' || g, (g % 10)::int FROM generate_series(1, {rows}) g;"
        ))
        .await
        .unwrap();
}

pub async fn spawn_writer(dbname: &str, first: i64, count: i64) -> tokio::task::JoinHandle<()> {
    let client = pg(dbname).await;
    tokio::spawn(async move { insert_range(&client, first, count, 5).await })
}

/// A permit to run one Debezium test: at most two at once in a test binary. Each runs a worker
/// with a JVM plugin host (one of them Kafka Connect's JVM too) against one PostgreSQL, and on a
/// two-core machine three or four at once load it enough that a deadline can pass (suspected in
/// one CI run, where a JDBC sink had copied 909 of 13,000 rows after 180 s).
pub async fn debezium_slot() -> tokio::sync::SemaphorePermit<'static> {
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed")
}
