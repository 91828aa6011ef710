//! Topic creation for source connectors (KIP-158) on the real Kafka, and the refusal of
//! framework keys Ferry does not implement yet (REST create and `config/validate`).

use std::time::Duration;

use ferry_tests::{start_worker, test_bootstrap, unique_name, wait_until, Api};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;

/// Returns (partitions, replicas of partition 0) of `topic`, once it exists.
fn topic_layout(topic: &str) -> Option<(usize, usize)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()?;
    let described = metadata.topics().first()?;
    if described.error().is_some() || described.partitions().is_empty() {
        return None;
    }
    Some((
        described.partitions().len(),
        described.partitions()[0].replicas().len(),
    ))
}

async fn topic_config(topic: &str, key: &str) -> Option<String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .create()
        .unwrap();
    let results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .ok()?;
    let resource = results.into_iter().next()?.ok()?;
    resource.get(key).and_then(|entry| entry.value.clone())
}

fn source_config(
    input: &std::path::Path,
    topic: &str,
    groups: &[(&str, &str)],
) -> serde_json::Value {
    let mut config = json!({
        "connector.class": "FileStreamSource",
        "file": input.display().to_string(),
        "topic": topic,
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "2",
    });
    for (key, value) in groups {
        config[*key] = json!(value);
    }
    config
}

#[tokio::test]
async fn source_topics_are_created_with_the_first_matching_group_before_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("tcreate");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\nc\n").unwrap();
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let groups = [
        ("topic.creation.groups", "orders,wide"),
        (
            "topic.creation.orders.include",
            &format!("{prefix}-orders.*") as &str,
        ),
        (
            "topic.creation.orders.exclude",
            &format!("{prefix}-orders-raw") as &str,
        ),
        ("topic.creation.orders.partitions", "3"),
        ("topic.creation.orders.max.message.bytes", "2000000"),
        (
            "topic.creation.wide.include",
            &format!("{prefix}-orders-raw,{prefix}-wide") as &str,
        ),
        ("topic.creation.wide.partitions", "5"),
        ("topic.creation.wide.retention.ms", "3600000"),
    ];
    let cases = [
        ("orders-eu", 3, Some(("max.message.bytes", "2000000"))),
        ("orders-raw", 5, Some(("retention.ms", "3600000"))),
        ("other", 2, None),
    ];
    for (suffix, _, _) in &cases {
        let topic = format!("{prefix}-{suffix}");
        api.create_connector(
            &format!("{prefix}-{suffix}-source"),
            source_config(&input, &topic, &groups),
        )
        .await
        .unwrap();
    }
    for (suffix, partitions, config_opt) in cases {
        let topic = format!("{prefix}-{suffix}");
        let layout = wait_until(
            Duration::from_secs(60),
            &format!("{topic} created"),
            || async { topic_layout(&topic) },
        )
        .await
        .unwrap();
        assert_eq!(layout, (partitions, 1), "{topic}: partitions and replicas");
        if let Some((key, value)) = config_opt {
            assert_eq!(
                topic_config(&topic, key).await.as_deref(),
                Some(value),
                "{topic}: {key}"
            );
        }
        // Only the first matching group's settings apply.
        if suffix == "orders-raw" {
            assert_ne!(
                topic_config(&topic, "max.message.bytes").await.as_deref(),
                Some("2000000")
            );
        }
        let lines = wait_until(
            Duration::from_secs(60),
            &format!("records in {topic}"),
            || async {
                let keys = ferry_tests::topic_record_count(&topic);
                (keys >= 3).then_some(keys)
            },
        )
        .await
        .unwrap();
        assert_eq!(lines, 3, "{topic}");
    }
}

#[tokio::test]
async fn framework_keys_ferry_does_not_implement_yet_are_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("refuse");
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let name = format!("{prefix}-source");
    // Each refused with an error naming the key, on create and in validate. One is not
    // implemented yet; transaction.boundary=connector is refused with Kafka Connect's own reason
    // (no FileStreamSource can define its own transactions).
    for (key, value, reason) in [
        (
            "key.converter.plugin.version",
            "4.3.1",
            "key.converter.plugin.version is not supported yet",
        ),
        (
            "transaction.boundary",
            "connector",
            "transaction.boundary=connector: The connector does not support connector-defined transaction boundaries",
        ),
    ] {
        let mut config = json!({
            "connector.class": "FileStreamSource",
            "file": input.display().to_string(),
            "topic": format!("{prefix}-t"),
        });
        config[key] = json!(value);
        let body = json!({"name": name, "config": config});
        let (status, error) = api
            .call(reqwest::Method::POST, "/connectors", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 400, "{key}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(reason), "{key}: {message}");
        let (status, validated) = api
            .call(
                reqwest::Method::PUT,
                "/connector-plugins/FileStreamSource/config/validate",
                Some(&config),
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        let entry = validated["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["definition"]["name"] == key)
            .unwrap_or_else(|| panic!("{key} in the validate answer"));
        assert!(
            entry["value"]["errors"][0]
                .as_str()
                .unwrap()
                .contains(reason),
            "{entry}"
        );
    }
    let (status, _) = api.get(&format!("/connectors/{name}")).await.unwrap();
    assert_eq!(status, 404, "nothing was stored");
    // The keys at Kafka Connect's defaults are what Ferry does: accepted.
    let mut config = json!({
        "connector.class": "FileStreamSource",
        "file": input.display().to_string(),
        "topic": format!("{prefix}-t"),
        "exactly.once.support": "requested",
    });
    config["transaction.boundary"] = json!("poll");
    Api::create_connector(&api, &name, config).await.unwrap();
}
