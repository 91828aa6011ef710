//! A connector jar built against an older connect-api runs on the 4.3.1 API in Ferry's plugin
//! host: Apache Kafka's `connect-file` 2.8.2 (from Maven Central, compiled against connect-api
//! 2.8.2), alone in a plugin.path of its own (scripts/fetch-test-plugins.sh fetches it into
//! `plugins-old-api` beside the shared test plugin.path), selected over the built-in FileStream
//! connectors by `connector.plugin.version`, moves lines byte for byte through the real broker.
//!
//! Its `version()` is kafka-clients' version, i.e. the host's 4.3.1 (as in Kafka Connect): the
//! only jar in that plugin.path is the one that can answer to it.

use std::io::Write;
use std::time::Duration;

use ferry_tests::plugins::script_dir;
use ferry_tests::{all_running, start_worker, unique_name, wait_until};
use serde_json::json;

/// What the 2.8.2 jar's `version()` returns on the 4.3.1 API (AppInfoParser's version).
const REPORTED_VERSION: &str = "4.3.1";
const LINES: usize = 2_000;

#[tokio::test]
async fn connect_file_built_on_connect_api_2_8_runs_on_the_4_3_api() {
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = script_dir("fetch-test-plugins.sh")
        .parent()
        .unwrap()
        .join("plugins-old-api");
    assert!(plugin_path
        .join("connect-file-2.8.2/connect-file-2.8.2.jar")
        .is_file());
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("old-api");
    let (worker, api) = start_worker(
        dir.path(),
        &prefix,
        &[
            ("plugin.path", plugin_path.to_str().unwrap()),
            ("plugin.host.dir", host_dir.to_str().unwrap()),
        ],
    )
    .await;

    // The jar's connectors are listed beside the built-ins.
    let (_, plugins) = api.get("/connector-plugins").await.unwrap();
    for class in [
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
    ] {
        assert!(
            plugins
                .as_array()
                .unwrap()
                .iter()
                .any(|plugin| plugin["class"] == class && plugin["version"] == REPORTED_VERSION),
            "{class} {REPORTED_VERSION} missing from {plugins}"
        );
    }

    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let mut expected = Vec::new();
    for index in 0..LINES {
        expected.extend_from_slice(format!("old api line {index:05} ü\n").as_bytes());
    }
    std::fs::File::create(&input)
        .unwrap()
        .write_all(&expected)
        .unwrap();
    let topic = format!("{prefix}-lines");
    let strings = "org.apache.kafka.connect.storage.StringConverter";
    let source = format!("{prefix}-source");
    let sink = format!("{prefix}-sink");
    api.create_connector(
        &source,
        json!({"connector.class": "FileStreamSource", "connector.plugin.version": REPORTED_VERSION,
               "file": input, "topic": topic, "key.converter": strings, "value.converter": strings}),
    )
    .await
    .unwrap();
    api.create_connector(
        &sink,
        json!({"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
               "connector.plugin.version": REPORTED_VERSION, "file": output, "topics": topic,
               "key.converter": strings, "value.converter": strings}),
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
    wait_until(
        Duration::from_secs(60),
        "every line in the output",
        || async {
            let bytes = std::fs::read(&output).ok()?;
            (bytes.len() >= expected.len()).then_some(())
        },
    )
    .await
    .unwrap_or_else(|error| {
        let stderr = worker.stderr();
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        panic!("{error}; worker log (last lines, newest first): {tail:#?}")
    });
    assert!(
        std::fs::read(&output).unwrap() == expected,
        "output differs"
    );
}
