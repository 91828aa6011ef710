//! Tests of the S3 sink's factory and task (against object_store's in-memory store; the tests
//! against a real S3 server are in `tests/tests/s3_sink.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};

use super::task::S3SinkTask;
use super::*;
use crate::registry::builtin_registry;
use crate::sdk::{ErrorKind, SchemaAndValue, SinkRecord, TopicPartition, Value};
use crate::testing::props;

fn base_config() -> Vec<(&'static str, &'static str)> {
    vec![
        ("connector.class", "S3Sink"),
        ("topics", "orders"),
        ("s3.bucket.name", "bucket"),
        ("flush.size", "3"),
        (
            "format.class",
            "io.confluent.connect.s3.format.json.JsonFormat",
        ),
    ]
}

fn config_with(extra: &[(&'static str, &'static str)]) -> ConfigValues {
    let mut pairs = base_config();
    pairs.extend_from_slice(extra);
    ConfigValues::from_raw(props(&pairs))
}

fn problems(extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let config = config_with(extra);
    let factory = S3SinkFactory;
    let mut found: Vec<(String, String)> = factory
        .config_def()
        .validate(config.as_map())
        .into_iter()
        .flat_map(|value| {
            value
                .errors
                .into_iter()
                .map(move |error| (value.name.clone(), error))
        })
        .collect();
    found.extend(factory.validate(&config));
    found
}

fn parsed(extra: &[(&'static str, &'static str)]) -> S3SinkConfig {
    let values = S3SinkFactory
        .config_def()
        .parse(config_with(extra).as_map())
        .unwrap();
    S3SinkConfig::from_values(&values).unwrap()
}

#[test]
fn registry_finds_the_class_and_alias() {
    let registry = builtin_registry();
    for name in [
        "io.confluent.connect.s3.S3SinkConnector",
        "S3SinkConnector",
        "S3Sink",
    ] {
        let factory = registry.find(name).unwrap();
        assert_eq!(factory.connector_type(), ConnectorType::Sink, "{name}");
    }
}

#[test]
fn a_minimal_config_is_valid_and_gets_confluents_defaults() {
    assert_eq!(problems(&[]), Vec::<(String, String)>::new());
    let config = parsed(&[]);
    assert_eq!(config.region, "us-west-2");
    assert!(config.path_style);
    assert_eq!(config.part_size, 25 * 1024 * 1024);
    assert_eq!(config.naming.topics_dir, "topics");
    assert_eq!(config.naming.extension, ".json");
    assert_eq!(config.rotation.flush_size, 3);
    assert!(config.rotation.rotate_interval_ms.is_none());
    assert!(!config.ignore_null_values);
    assert!(matches!(
        config.partitioner,
        partitioner::Partitioner::Default
    ));
}

#[test]
fn required_and_invalid_keys_are_named() {
    let factory = S3SinkFactory;
    let empty = factory.config_def().validate(&BTreeMap::new());
    let missing: Vec<&str> = empty
        .iter()
        .filter(|value| !value.errors.is_empty())
        .map(|value| value.name.as_str())
        .collect();
    assert_eq!(
        missing,
        vec![BUCKET_CONFIG, FLUSH_SIZE_CONFIG, FORMAT_CLASS_CONFIG]
    );

    let cases: Vec<(&'static str, &'static str, &str)> = vec![
        (PART_SIZE_CONFIG, "1048576", "no less than 5242880"),
        (FLUSH_SIZE_CONFIG, "0", "at least 1"),
        (
            FORMAT_CLASS_CONFIG,
            "io.confluent.connect.s3.format.avro.AvroFormat",
            "JsonFormat",
        ),
        (
            PARTITIONER_CLASS_CONFIG,
            "io.confluent.connect.storage.partitioner.FieldPartitioner",
            "TimeBasedPartitioner",
        ),
        (
            TIMESTAMP_EXTRACTOR_CONFIG,
            "Sometimes",
            "Wallclock, Record or RecordField",
        ),
        (STORE_URL_CONFIG, "127.0.0.1:9000", "http://"),
        (COMPRESSION_TYPE_CONFIG, "gzip", "none"),
        (NULL_VALUES_CONFIG, "write", "ignore, fail"),
    ];
    for (key, value, expected) in cases {
        let found = problems(&[(key, value)]);
        assert!(
            found
                .iter()
                .any(|(name, error)| name == key && error.contains(expected)),
            "{key}={value}: {found:?}"
        );
    }
}

#[test]
fn cross_key_problems_name_their_key() {
    let time_based = ("partitioner.class", "TimeBasedPartitioner");
    let found = problems(&[time_based]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, PARTITION_DURATION_MS_CONFIG);
    let found = problems(&[
        time_based,
        ("partition.duration.ms", "3600000"),
        ("path.format", "'year'=YYYY"),
        ("locale", "en-US"),
    ]);
    assert_eq!(found[0].0, TIMEZONE_CONFIG, "{found:?}");
    let found = problems(&[("rotate.schedule.interval.ms", "60000")]);
    assert_eq!(found[0].0, TIMEZONE_CONFIG, "{found:?}");
    assert!(found[0].1.contains("scheduled file rotation"), "{found:?}");
    let with_keys = parsed(&[
        ("aws.access.key.id", "AKID"),
        ("aws.secret.access.key", "s3cr3t"),
    ]);
    assert!(
        !format!("{with_keys:?}").contains("s3cr3t"),
        "Debug shows no secret"
    );
    let found = problems(&[("aws.access.key.id", "AKID")]);
    assert_eq!(found[0].0, SECRET_ACCESS_KEY_CONFIG, "{found:?}");
    assert_eq!(
        problems(&[
            time_based,
            ("partition.duration.ms", "3600000"),
            ("path.format", "'year'=YYYY/'month'=MM"),
            ("locale", "en-US"),
            ("timezone", "UTC"),
            ("timestamp.extractor", "Record"),
        ]),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn an_invalid_config_fails_task_creation_with_a_user_error() {
    let factory = S3SinkFactory;
    let context = TaskContext::new(
        "c".into(),
        0,
        config_with(&[("flush.size", "none")]),
        Arc::new(crate::sdk::NoOffsets),
    );
    let error = factory.create_sink_task(context).err().unwrap();
    assert_eq!(error.kind, ErrorKind::User);
    assert!(error.message.contains("flush.size"), "{}", error.message);
}

fn record(partition: i32, offset: i64, value: Value) -> SinkRecord {
    SinkRecord {
        topic: "orders".into(),
        kafka_partition: partition,
        kafka_offset: offset,
        timestamp: Some(1_709_622_489_123),
        key: SchemaAndValue::null(),
        value: SchemaAndValue::schemaless(value),
        headers: Vec::new(),
        original_opt: None,
    }
}

fn id(number: i64) -> Value {
    Value::Map(vec![(Value::String("id".into()), Value::Int64(number))])
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition {
        topic: "orders".into(),
        partition,
    }
}

async fn objects(store: &InMemory) -> BTreeMap<String, String> {
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut found = BTreeMap::new();
    for meta in metas {
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        found.insert(
            meta.location.to_string(),
            String::from_utf8(bytes.to_vec()).unwrap(),
        );
    }
    found
}

#[tokio::test]
async fn objects_hold_flush_size_records_and_only_uploaded_offsets_are_committable() {
    let store = Arc::new(InMemory::new());
    let mut task = S3SinkTask::with_store(parsed(&[]), store.clone());
    task.open(&[tp(0), tp(1)]).await.unwrap();
    let records = (10..17)
        .map(|offset| record(0, offset, id(offset)))
        .chain([record(1, 0, id(100))]);
    task.put(records.collect()).await.unwrap();
    let found = objects(&store).await;
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        vec![
            "topics/orders/partition=0/orders+0+0000000010.json",
            "topics/orders/partition=0/orders+0+0000000013.json",
        ]
    );
    assert_eq!(
        found["topics/orders/partition=0/orders+0+0000000010.json"],
        "{\"id\":10}\n{\"id\":11}\n{\"id\":12}\n"
    );
    let current = BTreeMap::from([(tp(0), 17), (tp(1), 1)]);
    let committable = task.pre_commit(current).await.unwrap();
    // Partition 0: record 16 is buffered; partition 1: nothing uploaded yet.
    assert_eq!(committable, BTreeMap::from([(tp(0), 16)]));

    // A revoke drops the buffers; after re-assignment the replay from 16 forms the next object.
    task.close(&[tp(0)]).await.unwrap();
    task.open(&[tp(0)]).await.unwrap();
    task.put(
        (16..19)
            .map(|offset| record(0, offset, id(offset)))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(
        objects(&store).await["topics/orders/partition=0/orders+0+0000000016.json"],
        "{\"id\":16}\n{\"id\":17}\n{\"id\":18}\n"
    );
    let committable = task
        .pre_commit(BTreeMap::from([(tp(0), 19)]))
        .await
        .unwrap();
    assert_eq!(committable, BTreeMap::from([(tp(0), 19)]));
}

/// `record` as a router transform leaves it: written under `topic`, read from `orders`.
fn routed(topic: &str, partition: i32, offset: i64) -> SinkRecord {
    let mut routed = record(partition, offset, id(offset));
    routed.original_opt = Some(tp(partition));
    routed.topic = topic.to_string();
    routed
}

#[tokio::test]
async fn routed_records_are_named_after_their_topic_and_committed_for_the_consumed_one() {
    let store = Arc::new(InMemory::new());
    let mut task = S3SinkTask::with_store(parsed(&[]), store.clone());
    task.open(&[tp(0)]).await.unwrap();
    // One consumed partition routed to two topics (a TimestampRouter's days): 3 records close
    // an object of day1; day2 keeps 2 records (offsets 13 and 14) buffered.
    let records = vec![
        routed("orders-day1", 0, 10),
        routed("orders-day1", 0, 11),
        routed("orders-day2", 0, 13),
        routed("orders-day1", 0, 12),
        routed("orders-day2", 0, 14),
    ];
    task.put(records).await.unwrap();
    assert_eq!(
        objects(&store).await.keys().cloned().collect::<Vec<_>>(),
        vec!["topics/orders-day1/partition=0/orders-day1+0+0000000010.json"]
    );
    let committable = task
        .pre_commit(BTreeMap::from([(tp(0), 15)]))
        .await
        .unwrap();
    assert_eq!(
        committable,
        BTreeMap::new(),
        "offsets 13 and 14 wait in an open object of the other topic: nothing is durable past them"
    );
    task.put(vec![routed("orders-day2", 0, 15)]).await.unwrap();
    let committable = task
        .pre_commit(BTreeMap::from([(tp(0), 16)]))
        .await
        .unwrap();
    assert_eq!(committable, BTreeMap::from([(tp(0), 16)]));
}

#[tokio::test]
async fn a_null_value_fails_the_task_naming_the_record_unless_ignored_or_tolerated() {
    let store = Arc::new(InMemory::new());
    let mut task = S3SinkTask::with_store(parsed(&[]), store.clone());
    let error = task
        .put(vec![record(0, 0, id(0)), record(2, 41, Value::Null)])
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::User);
    assert!(
        error.message.contains("topic orders partition 2 offset 41"),
        "{}",
        error.message
    );

    for extra in [
        ("behavior.on.null.values", "ignore"),
        ("errors.tolerance", "all"),
    ] {
        let mut task = S3SinkTask::with_store(parsed(&[extra]), store.clone());
        let records = vec![
            record(3, 0, id(0)),
            record(3, 1, Value::Null),
            record(3, 2, id(2)),
            record(3, 3, id(3)),
        ];
        task.put(records).await.unwrap();
        assert_eq!(
            objects(&store).await["topics/orders/partition=3/orders+3+0000000000.json"],
            "{\"id\":0}\n{\"id\":2}\n{\"id\":3}\n",
            "{extra:?}"
        );
    }
}

#[tokio::test]
async fn large_objects_are_uploaded_in_parts() {
    let store = Arc::new(InMemory::new());
    let mut config = parsed(&[("flush.size", "1000")]);
    config.part_size = 100;
    let mut task = S3SinkTask::with_store(config, store.clone());
    let records: Vec<SinkRecord> = (0..1000)
        .map(|offset| record(0, offset, Value::String(format!("{offset:020}"))))
        .collect();
    task.put(records).await.unwrap();
    let found = objects(&store).await;
    let body = &found["topics/orders/partition=0/orders+0+0000000000.json"];
    assert_eq!(body.lines().count(), 1000);
    assert!(body.starts_with("\"00000000000000000000\"\n\"00000000000000000001\"\n"));
    assert!(body.ends_with("\"00000000000000000999\"\n"));
}

#[tokio::test]
async fn time_based_partitions_and_byte_array_format() {
    let store = Arc::new(InMemory::new());
    let config = parsed(&[
        ("format.class", "ByteArrayFormat"),
        (
            "partitioner.class",
            "io.confluent.connect.storage.partitioner.HourlyPartitioner",
        ),
        ("locale", "en-US"),
        ("timezone", "UTC"),
        ("timestamp.extractor", "Record"),
        ("topics.dir", "raw"),
        ("flush.size", "2"),
    ]);
    let mut task = S3SinkTask::with_store(config, store.clone());
    let mut first = record(0, 5, Value::Bytes(b"a".to_vec()));
    first.timestamp = Some(1_709_622_489_123); // 07:08 UTC
    let mut second = record(0, 6, Value::Bytes(b"b".to_vec()));
    second.timestamp = Some(1_709_626_089_123); // 08:08 UTC
    task.put(vec![first, second]).await.unwrap();
    let found = objects(&store).await;
    assert_eq!(
        found,
        BTreeMap::from([
            (
                "raw/orders/year=2024/month=03/day=05/hour=07/orders+0+0000000005.bin".to_string(),
                "a\n".to_string()
            ),
            (
                "raw/orders/year=2024/month=03/day=05/hour=08/orders+0+0000000006.bin".to_string(),
                "b\n".to_string()
            ),
        ])
    );
}
