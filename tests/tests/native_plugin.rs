//! A native plugin in another language: examples/python-plugin (Python, grpcio, in a venv that
//! scripts/setup-python-plugin.sh prepares outside the repository), discovered through
//! `plugin.path` by its manifest like a jar, runs a source and a sink through Ferry's plugin
//! protocol on the real broker.

use std::time::Duration;

use ferry_tests::plugins::script_dir;
use ferry_tests::{all_running, create_topic, repo_root, start_worker, unique_name, wait_until};
use serde_json::json;

const RECORDS: usize = 500;

#[tokio::test]
async fn a_python_plugin_runs_a_source_and_a_sink_through_the_protocol() {
    let python_dir = script_dir("setup-python-plugin.sh");
    assert!(python_dir.join("venv/bin/python").is_file());
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("native");
    let examples = repo_root().join("examples");
    let (_worker, api) = start_worker(
        dir.path(),
        &prefix,
        &[("plugin.path", examples.to_str().unwrap())],
    )
    .await;

    let (_, plugins) = api.get("/connector-plugins").await.unwrap();
    for (class, plugin_type) in [
        ("dev.ferry.examples.CounterSource", "source"),
        ("dev.ferry.examples.FileSink", "sink"),
    ] {
        assert!(
            plugins
                .as_array()
                .unwrap()
                .iter()
                .any(|plugin| plugin["class"] == class
                    && plugin["type"] == plugin_type
                    && plugin["version"] == "0.1.0"),
            "{class} missing from {plugins}"
        );
    }
    // Validation answers from the plugin's own config definition.
    let (code, validated) = api
        .call(
            reqwest::Method::PUT,
            "/connector-plugins/dev.ferry.examples.CounterSource/config/validate",
            Some(
                &json!({"connector.class": "dev.ferry.examples.CounterSource", "name": "v",
                        "count": "many"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(code, 200, "{validated}");
    assert!(
        validated["error_count"].as_u64().unwrap() >= 2,
        "{validated}"
    );

    // A native plugin converts and handles its records itself: framework keys the runtime
    // would leave to it are refused, naming them, and nothing is stored.
    let refused = format!("{prefix}-refused");
    for (key, value) in [
        ("transforms", "route"),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("errors.tolerance", "all"),
    ] {
        let (code, body) = api
            .call(
                reqwest::Method::POST,
                "/connectors",
                Some(&json!({"name": refused, "config": {
                    "connector.class": "dev.ferry.examples.CounterSource", "topic": "t",
                    "count": "1", key: value}})),
            )
            .await
            .unwrap();
        assert_eq!(code, 400, "{key}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(key),
            "{key}: {body}"
        );
    }
    let (code, _) = api.get(&format!("/connectors/{refused}")).await.unwrap();
    assert_eq!(code, 404);

    let topic = format!("{prefix}-numbers");
    create_topic(&topic, 1).await;
    let output = dir.path().join("numbers.txt");
    let source = format!("{prefix}-source");
    let sink = format!("{prefix}-sink");
    api.create_connector(
        &source,
        json!({"connector.class": "dev.ferry.examples.CounterSource", "topic": topic,
               "count": RECORDS.to_string()}),
    )
    .await
    .unwrap();
    api.create_connector(
        &sink,
        json!({"connector.class": "dev.ferry.examples.FileSink", "topics": topic,
               "file": output}),
    )
    .await
    .unwrap();
    for name in [&source, &sink] {
        api.wait_status(name, Duration::from_secs(60), |status| {
            all_running(status, 1)
        })
        .await
        .unwrap();
    }
    let expected: String = (0..RECORDS).map(|n| format!("{n}\n")).collect();
    wait_until(
        Duration::from_secs(60),
        "every number in the file",
        || async {
            let text = std::fs::read_to_string(&output).ok()?;
            (text.len() >= expected.len()).then_some(())
        },
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read_to_string(&output).unwrap(), expected);
    // The source's offsets are stored in Kafka Connect's format.
    wait_until(
        Duration::from_secs(30),
        "the source's stored offset",
        || async {
            let (_, offsets) = api
                .get(&format!("/connectors/{source}/offsets"))
                .await
                .ok()?;
            (offsets["offsets"][0]["offset"]["n"] == RECORDS - 1).then_some(())
        },
    )
    .await
    .unwrap();
}
