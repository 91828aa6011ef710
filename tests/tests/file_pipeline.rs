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
