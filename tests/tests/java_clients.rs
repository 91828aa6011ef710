//! Ferry next to Kafka's Java client on the shared broker: keyed records from a Ferry source land
//! on the partition a Java producer picks for the same key bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_tests::secure::run_java_client;
use ferry_tests::{create_topic, start_worker, test_bootstrap, unique_name};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 100;

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Reads `count` records of every partition of `topic`: key (hex) → partition.
fn read_placement(topic: &str, count: usize) -> BTreeMap<String, i32> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("group.id", format!("{topic}-reader"))
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut placement = BTreeMap::new();
    while placement.len() < count && std::time::Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let key = message.key().expect("keyed records");
            placement.insert(to_hex(key), message.partition());
        }
    }
    placement
}

#[tokio::test]
async fn keyed_records_land_where_the_java_producer_puts_them() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("java-place");
    let ferry_topic = format!("{prefix}-ferry");
    let java_topic = format!("{prefix}-java");
    create_topic(&ferry_topic, PARTITIONS).await;
    create_topic(&java_topic, PARTITIONS).await;
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    api.create_connector(
        &format!("{prefix}-gen"),
        json!({
            "connector.class": "Datagen", "kafka.topic": ferry_topic, "quickstart": "sequence",
            "tasks.max": 2, "iterations": RECORDS / 2, "max.interval": 1,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        }),
    )
    .await
    .unwrap();
    let ferry_topic_for_read = ferry_topic.clone();
    let ferry = tokio::task::spawn_blocking(move || read_placement(&ferry_topic_for_read, RECORDS))
        .await
        .unwrap();
    assert_eq!(ferry.len(), RECORDS, "every keyed record read back");
    let used: std::collections::BTreeSet<i32> = ferry.values().copied().collect();
    assert!(
        used.len() > 1,
        "keys spread over several partitions: {used:?}"
    );

    let keys: String = ferry.keys().map(|key| format!("{key}\n")).collect();
    let output = run_java_client(&["place", &test_bootstrap(), &java_topic], &keys);
    let java: BTreeMap<String, i32> = output
        .lines()
        .map(|line| {
            let (key, partition) = line.split_once(' ').expect("<hex> <partition>");
            (
                key.to_string(),
                partition.parse().expect("a partition number"),
            )
        })
        .collect();
    assert_eq!(java.len(), RECORDS);
    assert_eq!(ferry, java, "Ferry's placement equals the Java producer's");
}

const CODECS: [&str; 4] = ["gzip", "snappy", "lz4", "zstd"];
const CODEC_RECORDS: usize = 50;

#[tokio::test]
async fn every_codec_works_both_ways_with_the_java_clients() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("java-codec");
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let string = "org.apache.kafka.connect.storage.StringConverter";
    let expected: String = (0..CODEC_RECORDS).map(|i| format!("value-{i}\n")).collect();
    for codec in CODECS {
        // Java → Ferry: a topic written by the Java producer with the codec, read by a sink.
        let java_topic = format!("{prefix}-java-{codec}");
        create_topic(&java_topic, 1).await;
        run_java_client(
            &[
                "produce",
                &test_bootstrap(),
                &java_topic,
                codec,
                &CODEC_RECORDS.to_string(),
            ],
            "",
        );
        let output = dir.path().join(format!("{codec}.out"));
        api.create_connector(
            &format!("{prefix}-sink-{codec}"),
            json!({"connector.class": "FileStreamSink", "file": output, "topics": java_topic,
                   "value.converter": string, "key.converter": string}),
        )
        .await
        .unwrap();
        // Ferry → Java: a source writing with the codec, read by the Java consumer.
        let input = dir.path().join(format!("{codec}.in"));
        std::fs::write(&input, &expected).unwrap();
        let ferry_topic = format!("{prefix}-ferry-{codec}");
        create_topic(&ferry_topic, 1).await;
        api.create_connector(
            &format!("{prefix}-source-{codec}"),
            json!({"connector.class": "FileStreamSource", "file": input, "topic": ferry_topic,
                   "value.converter": string, "producer.override.compression.type": codec}),
        )
        .await
        .unwrap();
    }
    for codec in CODECS {
        let output = dir.path().join(format!("{codec}.out"));
        ferry_tests::wait_until(
            Duration::from_secs(60),
            &format!("the sink's file of the {codec} topic"),
            || async {
                (std::fs::read_to_string(&output).unwrap_or_default() == expected).then_some(())
            },
        )
        .await
        .unwrap();
        let ferry_topic = format!("{prefix}-ferry-{codec}");
        let read = run_java_client(
            &[
                "consume",
                &test_bootstrap(),
                &ferry_topic,
                &CODEC_RECORDS.to_string(),
                "60000",
            ],
            "",
        );
        let read: String = read.lines().map(|line| format!("{line}\n")).collect();
        assert_eq!(
            read, expected,
            "the Java consumer reads Ferry's {codec} batches"
        );
    }
}
