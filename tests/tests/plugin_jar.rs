//! Apache Kafka's own `connect-file` 4.3.1 jar (from Maven Central, fetched by
//! scripts/fetch-test-plugins.sh) running through Ferry's JVM plugin host (built by
//! scripts/build-plugin-host.sh), selected over the built-in FileStream connectors by
//! `connector.plugin.version`, against the real broker.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ferry_tests::plugins::{
    children_running, create_jar_pipeline, process_exists, script_dir, HOST_MAIN_CLASS, JAR_VERSION,
};
use ferry_tests::{all_running, start_worker, unique_name};
use nix::sys::signal::Signal;
use serde_json::json;

const LINES: usize = 100_000;

fn write_input(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for index in 0..LINES {
        bytes.extend_from_slice(
            format!("jar line {index:06} {} ünïcödé\n", index * 7919 % 10007).as_bytes(),
        );
    }
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&bytes).unwrap();
    bytes
}

fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|bytes| bytes.iter().filter(|byte| **byte == b'\n').count())
        .unwrap_or(0)
}

#[tokio::test]
async fn connect_file_jar_moves_100k_lines_byte_for_byte_and_dies_with_its_worker() {
    let host_dir = script_dir("build-plugin-host.sh");
    let plugin_path = script_dir("fetch-test-plugins.sh");
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("jar");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);

    let (mut worker, api) = start_worker(
        dir.path(),
        &prefix,
        &[
            ("plugin.path", plugin_path.to_str().unwrap()),
            ("plugin.host.dir", host_dir.to_str().unwrap()),
        ],
    )
    .await;

    // The jar's connectors are listed with their real class, type and version.
    let (code, plugins) = api.get("/connector-plugins").await.unwrap();
    assert_eq!(code, 200);
    let listed = plugins.as_array().unwrap();
    for (class, plugin_type) in [
        (
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "source",
        ),
        (
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "sink",
        ),
    ] {
        assert!(
            listed.iter().any(|plugin| plugin["class"] == class
                && plugin["type"] == plugin_type
                && plugin["version"] == JAR_VERSION),
            "{class} {JAR_VERSION} missing from {plugins}"
        );
    }
    // Validation answers from the jar's ConfigDef when the version selects it.
    let (code, validated) = api
        .call(
            reqwest::Method::PUT,
            "/connector-plugins/FileStreamSourceConnector/config/validate",
            Some(&json!({"connector.class": "FileStreamSource", "connector.plugin.version": JAR_VERSION,
                        "name": "v", "file": "/tmp/x", "batch.size": "not-a-number"})),
        )
        .await
        .unwrap();
    assert_eq!(code, 200, "{validated}");
    assert!(
        validated["error_count"].as_u64().unwrap() >= 1,
        "{validated}"
    );
    let batch = validated["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|config| config["definition"]["name"] == "batch.size")
        .expect("the jar's batch.size key");
    assert!(
        !batch["value"]["errors"].as_array().unwrap().is_empty(),
        "{batch}"
    );
    // An unknown version is refused by name.
    let (code, refused) = api
        .call(
            reqwest::Method::POST,
            "/connectors",
            Some(&json!({"name": format!("{prefix}-bad"), "config": {"connector.class": "FileStreamSource",
                        "connector.plugin.version": "9.9.9", "file": "/tmp/x", "topic": "t"}})),
        )
        .await
        .unwrap();
    assert_eq!(code, 400, "{refused}");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("connector.plugin.version"));
    // The host does not dead-letter a jar source's records: a source DLQ is refused by name.
    let (code, refused) = api
        .call(
            reqwest::Method::POST,
            "/connectors",
            Some(&json!({"name": format!("{prefix}-dlq"), "config": {"connector.class": "FileStreamSource",
                        "connector.plugin.version": JAR_VERSION, "file": "/tmp/x", "topic": "t",
                        "errors.deadletterqueue.topic.name": "dlq"}})),
        )
        .await
        .unwrap();
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("errors.deadletterqueue.topic.name"),
        "{refused}"
    );

    create_jar_pipeline(&api, &prefix, &input, &output).await;
    api.wait_status(
        &format!("{prefix}-sink"),
        Duration::from_secs(60),
        |status| all_running(status, 1),
    )
    .await
    .unwrap();
    ferry_tests::wait_until(
        Duration::from_secs(240),
        "every line in the output",
        || async { (count_lines(&output) >= LINES).then_some(()) },
    )
    .await
    .unwrap();
    let actual = std::fs::read(&output).unwrap();
    assert_eq!(actual.len(), expected.len(), "output size");
    assert!(actual == expected, "output differs from input");

    // The source's offsets are in Ferry's offset store in Kafka Connect's format.
    let (_, offsets) = api
        .get(&format!("/connectors/{prefix}-source/offsets"))
        .await
        .unwrap();
    assert_eq!(
        offsets["offsets"][0]["partition"]["filename"],
        input.to_str().unwrap(),
        "{offsets}"
    );

    // kill -9 of the worker leaves no plugin host behind.
    let hosts = children_running(worker.pid(), HOST_MAIN_CLASS);
    assert_eq!(hosts.len(), 1, "one plugin host per worker: {hosts:?}");
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    ferry_tests::wait_until(
        Duration::from_secs(10),
        "the plugin host to exit",
        || async { (!process_exists(hosts[0])).then_some(()) },
    )
    .await
    .unwrap();
}
