//! FileStreamSource → Kafka → FileStreamSink on one worker against the real broker, including a
//! `kill -9` of the worker mid-stream.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ferry_tests::{all_running, free_local_addr, unique_name, Api, FerryProcess};
use nix::sys::signal::Signal;
use serde_json::json;

const LINES: usize = 100_000;

fn write_input(path: &Path) -> Vec<u8> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut bytes = Vec::new();
    for index in 0..LINES {
        let line = format!(
            "line {index:06} the quick brown fox jumps over the lazy dog {}\n",
            index * 7919 % 10007
        );
        bytes.extend_from_slice(line.as_bytes());
    }
    file.write_all(&bytes).unwrap();
    file.flush().unwrap();
    bytes
}

fn count_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|bytes| bytecount(&bytes))
        .unwrap_or(0)
}

fn bytecount(bytes: &[u8]) -> usize {
    bytes.iter().filter(|byte| **byte == b'\n').count()
}

async fn create_pipeline(api: &Api, prefix: &str, input: &Path, output: &Path) {
    let topic = format!("{prefix}-lines");
    api.create_connector(
        &format!("{prefix}-source"),
        json!({"connector.class": "FileStreamSource", "file": input, "topic": topic}),
    )
    .await
    .unwrap();
    api.create_connector(
        &format!("{prefix}-sink"),
        json!({"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "file": output, "topics": topic}),
    )
    .await
    .unwrap();
}

async fn wait_for_lines(output: &Path, at_least: usize, timeout: Duration) {
    ferry_tests::wait_until(
        timeout,
        &format!("{at_least} lines in the output"),
        || async { (count_lines(output) >= at_least).then_some(()) },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn file_to_kafka_to_file_is_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("fp");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);

    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    create_pipeline(&api, &prefix, &input, &output).await;
    api.wait_status(&format!("{prefix}-sink"), Duration::from_secs(30), |s| {
        all_running(s, 1)
    })
    .await
    .unwrap();

    wait_for_lines(&output, LINES, Duration::from_secs(180)).await;
    // Nothing more may arrive: wait for one more offset flush, then compare.
    let actual = std::fs::read(&output).unwrap();
    assert_eq!(actual.len(), expected.len(), "output size");
    assert!(actual == expected, "output differs from input");

    // The sink commits what it wrote: its group's offset reaches the end of the topic.
    let sink_offsets = ferry_tests::wait_until(
        Duration::from_secs(30),
        "the sink's committed offset",
        || {
            let api = api.clone();
            let prefix = prefix.clone();
            async move {
                let (_, offsets) = api
                    .get(&format!("/connectors/{prefix}-sink/offsets"))
                    .await
                    .ok()?;
                (offsets["offsets"][0]["offset"]["kafka_offset"] == LINES).then_some(offsets)
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sink_offsets["offsets"][0]["partition"]["kafka_topic"],
        format!("{prefix}-lines")
    );

    worker.signal(Signal::SIGTERM).unwrap();
    let status = worker.wait_exit(Duration::from_secs(20)).await.unwrap();
    assert!(status.success(), "stderr: {}", worker.stderr());
}

#[tokio::test]
async fn kill_9_mid_stream_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("kill");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    let expected = write_input(&input);
    let expected_lines: Vec<&[u8]> = expected
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .collect();

    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    create_pipeline(&api, &prefix, &input, &output).await;

    wait_for_lines(&output, LINES / 5, Duration::from_secs(120)).await;
    worker.signal(Signal::SIGKILL).unwrap();
    worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    let at_kill = count_lines(&output);
    println!("killed the worker with {at_kill} of {LINES} lines delivered");

    let mut restarted = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    restarted
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();
    ferry_tests::wait_until(
        Duration::from_secs(180),
        "every input line in the output",
        || async {
            let bytes = std::fs::read(&output).unwrap_or_default();
            let distinct: std::collections::HashSet<&[u8]> = bytes
                .split(|byte| *byte == b'\n')
                .filter(|line| !line.is_empty())
                .collect();
            (distinct.len() >= LINES).then_some(())
        },
    )
    .await
    .unwrap();

    let bytes = std::fs::read(&output).unwrap();
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for line in bytes
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        *counts.entry(line).or_default() += 1;
    }
    let missing = expected_lines
        .iter()
        .filter(|line| !counts.contains_key(*line))
        .count();
    let duplicates: usize = counts.values().map(|count| count - 1).sum();
    let expected_set: std::collections::HashSet<&[u8]> = expected_lines.iter().copied().collect();
    let unexpected = counts
        .keys()
        .filter(|line| !expected_set.contains(*line))
        .count();
    println!("after kill -9 and restart: missing {missing}, duplicates {duplicates}, unexpected {unexpected}");
    let mut duplicated: Vec<String> = counts
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(line, count)| format!("{}×{count}", String::from_utf8_lossy(line)))
        .collect();
    duplicated.sort();
    for line in duplicated.iter().take(20) {
        println!("  duplicate: {line}");
    }
    if duplicated.len() > 20 {
        println!("  ... and {} more duplicated lines", duplicated.len() - 20);
    }
    assert_eq!(missing, 0, "lines lost across kill -9");
    assert_eq!(unexpected, 0, "lines that were never in the input");
    let status = api
        .get(&format!("/connectors/{prefix}-sink/status"))
        .await
        .unwrap()
        .1;
    assert!(all_running(&status, 1), "{status}");
}

/// The offset `{"position": N}` FileStreamSource stored last in `offsets_topic`.
fn stored_position(offsets_topic: &str, connector: &str) -> Option<u64> {
    ferry_tests::offset_in_topic(offsets_topic, connector)
        .and_then(|offset| offset["position"].as_u64())
}

async fn wait_position(offsets_topic: &str, connector: &str, position: u64) {
    ferry_tests::wait_until(
        Duration::from_secs(60),
        &format!("position {position} of {connector} in {offsets_topic}"),
        || async move { (stored_position(offsets_topic, connector) == Some(position)).then_some(()) },
    )
    .await
    .unwrap();
}

async fn wait_records(topic: &str, count: i64) {
    ferry_tests::wait_until(
        Duration::from_secs(60),
        &format!("{count} records in {topic}"),
        || async move { (ferry_tests::topic_record_count(topic) >= count).then_some(()) },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_source_given_its_own_offsets_topic_continues_from_the_workers_and_resets_both() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("own-offsets");
    let (_worker, api) = ferry_tests::start_worker(dir.path(), &prefix, &[]).await;
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\nc\n").unwrap();
    let (topic, name) = (format!("{prefix}-lines"), format!("{prefix}-src"));
    let (worker_topic, own_topic) = (format!("{prefix}-offsets"), format!("{prefix}-own"));
    let mut config = json!({"connector.class": "FileStreamSource", "file": input, "topic": topic});
    api.create_connector(&name, config.clone()).await.unwrap();
    wait_records(&topic, 3).await;
    wait_position(&worker_topic, &name, 6).await;

    // Refused, naming the key; nothing stored.
    let config_path = format!("/connectors/{name}/config");
    for (value, override_opt, needle) in [
        ("own offsets", None, "is not a legal Kafka topic name"),
        (
            own_topic.as_str(),
            Some("127.0.0.1:1"),
            "with producer.override.bootstrap.servers is not supported yet",
        ),
    ] {
        let mut refused = config.clone();
        refused["offsets.storage.topic"] = json!(value);
        if let Some(servers) = override_opt {
            refused["producer.override.bootstrap.servers"] = json!(servers);
        }
        let (status, body) = api
            .call(reqwest::Method::PUT, &config_path, Some(&refused))
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("offsets.storage.topic") && message.contains(needle),
            "{message}"
        );
        let (_, stored) = api.get(&config_path).await.unwrap();
        assert!(stored.get("offsets.storage.topic").is_none(), "{stored}");
    }

    // Given its own topic, the source goes on from the position in the worker's topic: the
    // three lines are not sent again.
    config["offsets.storage.topic"] = json!(own_topic);
    let (status, body) = api
        .call(reqwest::Method::PUT, &config_path, Some(&config))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    // The restarted task creates the topic (the old one has stopped by then).
    ferry_tests::wait_until(
        Duration::from_secs(60),
        &format!("{own_topic} created"),
        || async { ferry_tests::debezium::topic_partitions(&own_topic).map(|_| ()) },
    )
    .await
    .unwrap();
    api.wait_status(&name, Duration::from_secs(60), |status| {
        all_running(status, 1)
    })
    .await
    .unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap()
        .write_all(b"d\ne\n")
        .unwrap();
    wait_position(&own_topic, &name, 10).await;
    wait_records(&topic, 5).await;
    assert_eq!(
        ferry_tests::topic_record_count(&topic),
        5,
        "lines sent again"
    );
    // A copy goes to the worker's topic, as Kafka Connect writes it.
    wait_position(&worker_topic, &name, 10).await;
    let (_, offsets) = api
        .get(&format!("/connectors/{name}/offsets"))
        .await
        .unwrap();
    assert_eq!(offsets["offsets"][0]["offset"]["position"], 10, "{offsets}");

    // A reset writes tombstones to both topics; resumed, the source reads the file again.
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            &format!("/connectors/{name}/stop"),
            None,
        )
        .await
        .unwrap();
    assert!(status == 202 || status == 204, "{status} {body}");
    api.wait_status(&name, Duration::from_secs(60), |status| {
        status["connector"]["state"] == "STOPPED"
    })
    .await
    .unwrap();
    let (status, body) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/connectors/{name}/offsets"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    for offsets_topic in [&own_topic, &worker_topic] {
        let records = ferry_tests::offset_records(offsets_topic, &name);
        assert_eq!(records.last(), Some(&None), "{offsets_topic}: {records:?}");
    }
    let (_, offsets) = api
        .get(&format!("/connectors/{name}/offsets"))
        .await
        .unwrap();
    assert_eq!(offsets["offsets"], json!([]), "{offsets}");
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            &format!("/connectors/{name}/resume"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{body}");
    wait_records(&topic, 10).await;
    wait_position(&own_topic, &name, 10).await;
}
