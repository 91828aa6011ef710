//! The broker `scripts/test.sh` started is a real Kafka: produce and consume through rdkafka.

use std::time::Duration;

use ferry_tests::{test_bootstrap, unique_name};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

#[tokio::test]
async fn produces_and_consumes_through_the_real_broker() {
    let bootstrap = test_bootstrap();
    let topic = unique_name("roundtrip");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 3, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    assert!(
        created.iter().all(Result::is_ok),
        "CreateTopics works on a real broker: {created:?}"
    );

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .create()
        .unwrap();
    let count = 1_000;
    for index in 0..count {
        let key = format!("k{index}");
        let payload = format!("record {index}");
        producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", unique_name("roundtrip-group"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < count {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .expect("all records arrive within 60 s")
            .unwrap();
        let payload = std::str::from_utf8(message.payload().unwrap())
            .unwrap()
            .to_string();
        seen.insert(payload);
    }
    assert_eq!(seen.len(), count);
    assert!(seen.contains("record 0") && seen.contains(&format!("record {}", count - 1)));
}
