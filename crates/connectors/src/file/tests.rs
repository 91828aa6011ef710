//! Unit tests of FileStreamSource and FileStreamSink (no Kafka).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::registry::builtin_registry;
use crate::sdk::{
    NoOffsets, OffsetReader, Schema, SchemaAndValue, SchemaType, SinkRecord, SourceRecord, Struct,
    Value,
};
use crate::testing::{json_map, props, FixedOffsets};
use crate::validation::{check_connector_config, InvalidConfig};

fn errors_of(pairs: &[(&str, &str)]) -> Vec<String> {
    match check_connector_config(&builtin_registry(), &props(pairs)) {
        Ok(_) => Vec::new(),
        Err(InvalidConfig::Errors(errors)) => errors,
        Err(other) => panic!("unexpected {other}"),
    }
}

fn context(config: &[(&str, &str)], offsets: Arc<dyn OffsetReader>) -> TaskContext {
    TaskContext::new(
        "test".to_string(),
        0,
        ConfigValues::from_raw(props(config)),
        offsets,
    )
}

fn source_task(path: &str, batch: &str, offsets: Arc<dyn OffsetReader>) -> Box<dyn SourceTask> {
    FileStreamSourceFactory
        .create_source_task(context(
            &[("file", path), ("topic", "lines"), ("batch.size", batch)],
            offsets,
        ))
        .unwrap()
}

fn lines(records: &[SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|record| record.value.value.as_str().unwrap().to_string())
        .collect()
}

/// Polls until `count` records arrived or five seconds passed.
async fn poll_until(task: &mut dyn SourceTask, count: usize) -> Vec<SourceRecord> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut records = Vec::new();
    while records.len() < count && tokio::time::Instant::now() < deadline {
        records.extend(task.poll().await.unwrap());
    }
    records
}

fn append(path: &std::path::Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[test]
fn source_config_errors_name_the_key() {
    let base = [("name", "src"), ("connector.class", "FileStreamSource")];
    let errors = errors_of(&[base[0], base[1], ("file", "/tmp/x")]);
    assert!(
        errors.len() == 1 && errors[0].contains("\"topic\""),
        "{errors:?}"
    );
    let errors = errors_of(&[base[0], base[1], ("topic", "t")]);
    assert!(
        errors.len() == 1 && errors[0].contains("\"file\""),
        "{errors:?}"
    );
    let errors = errors_of(&[base[0], base[1], ("file", "/x"), ("topic", "a,b")]);
    assert!(
        errors.len() == 1 && errors[0].contains("single topic"),
        "{errors:?}"
    );
    let errors = errors_of(&[
        base[0],
        base[1],
        ("file", "/x"),
        ("topic", "t"),
        ("batch.size", "0"),
    ]);
    assert!(
        errors.len() == 1 && errors[0].contains("batch.size"),
        "{errors:?}"
    );
    assert!(errors_of(&[base[0], base[1], ("file", "/x"), ("topic", "t")]).is_empty());
}

#[test]
fn sink_config_requires_file_and_topics() {
    let errors = errors_of(&[
        ("name", "sink"),
        (
            "connector.class",
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
        ),
        ("topics", "t"),
    ]);
    assert!(
        errors.len() == 1 && errors[0].contains("\"file\""),
        "{errors:?}"
    );
    assert!(errors_of(&[
        ("name", "sink"),
        ("connector.class", "FileStreamSink"),
        ("topics", "t"),
        ("file", "/tmp/out"),
    ])
    .is_empty());
}

#[test]
fn task_configs_counts() {
    let values = ConfigValues::from_raw(props(&[("file", "/x"), ("topic", "t")]));
    let source = FileStreamSourceFactory.task_configs(&values, 4).unwrap();
    assert_eq!(source.len(), 1);
    assert_eq!(source[0].get("file").map(String::as_str), Some("/x"));
    let sink = FileStreamSinkFactory.task_configs(&values, 3).unwrap();
    assert_eq!(sink.len(), 3);
}

#[tokio::test]
async fn source_follows_a_growing_file_and_holds_back_partial_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "one\r\ntwo\nthr");
    let file = path.to_str().unwrap();
    let mut task = source_task(file, "100", Arc::new(NoOffsets));

    let records = poll_until(task.as_mut(), 2).await;
    assert_eq!(lines(&records), ["one", "two"]);
    assert_eq!(
        records[0].source_partition,
        json_map(json!({"filename": file}))
    );
    assert_eq!(records[0].source_offset, json_map(json!({"position": 5})));
    assert_eq!(records[1].source_offset, json_map(json!({"position": 9})));
    assert_eq!(records[0].topic, "lines");
    assert!(records[0].key.value.is_null());
    assert_eq!(
        records[0].value.schema.as_deref(),
        Some(&Schema::primitive(SchemaType::String))
    );
    // The partial line is not emitted: the next poll returns nothing.
    assert!(task.poll().await.unwrap().is_empty());

    append(&path, "ee\nfour\n");
    let records = poll_until(task.as_mut(), 2).await;
    assert_eq!(lines(&records), ["three", "four"]);
    assert_eq!(records[1].source_offset, json_map(json!({"position": 20})));
}

#[tokio::test]
async fn source_resumes_from_the_stored_position_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let text: String = (0..10).map(|i| format!("line {i}\n")).collect();
    append(&path, &text);
    let file = path.to_str().unwrap();
    // "line 0\n" is 7 bytes: resume after three lines.
    let offsets = FixedOffsets(vec![(
        json_map(json!({"filename": file})),
        json_map(json!({"position": 21})),
    )]);
    let mut task = source_task(file, "4", Arc::new(offsets));
    let first = task.poll().await.unwrap();
    assert_eq!(lines(&first), ["line 3", "line 4", "line 5", "line 6"]);
    let rest = poll_until(task.as_mut(), 3).await;
    assert_eq!(lines(&rest), ["line 7", "line 8", "line 9"]);
    assert_eq!(
        rest.last().unwrap().source_offset,
        json_map(json!({"position": 70}))
    );
}

#[tokio::test]
async fn source_restarts_from_zero_when_the_file_is_shorter_than_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "a\nb\n");
    let file = path.to_str().unwrap();
    let offsets = FixedOffsets(vec![(
        json_map(json!({"filename": file})),
        json_map(json!({"position": 1000})),
    )]);
    let mut task = source_task(file, "10", Arc::new(offsets));
    assert_eq!(lines(&poll_until(task.as_mut(), 2).await), ["a", "b"]);
}

#[tokio::test]
async fn source_rereads_a_file_truncated_while_following() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    append(&path, "first long line\nsecond long line\n");
    let mut task = source_task(path.to_str().unwrap(), "10", Arc::new(NoOffsets));
    assert_eq!(poll_until(task.as_mut(), 2).await.len(), 2);
    std::fs::write(&path, "new\rlone\r\n").unwrap();
    let records = poll_until(task.as_mut(), 2).await;
    assert_eq!(lines(&records), ["new", "lone"]);
    assert_eq!(records[1].source_offset, json_map(json!({"position": 10})));
}

#[tokio::test]
async fn source_waits_for_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.txt");
    let mut task = source_task(path.to_str().unwrap(), "10", Arc::new(NoOffsets));
    let started = std::time::Instant::now();
    assert!(task.poll().await.unwrap().is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "no busy loop"
    );
    append(&path, "hello\n");
    assert_eq!(lines(&poll_until(task.as_mut(), 1).await), ["hello"]);
}

fn sink_record(offset: i64, value: Value) -> SinkRecord {
    SinkRecord {
        topic: "t".to_string(),
        kafka_partition: 0,
        kafka_offset: offset,
        timestamp: None,
        key: SchemaAndValue::null(),
        value: SchemaAndValue::schemaless(value),
        headers: Vec::new(),
        original_opt: None,
    }
}

#[tokio::test]
async fn sink_lines_are_in_the_file_when_put_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let file = path.to_str().unwrap();
    let mut task = FileStreamSinkFactory
        .create_sink_task(context(&[("file", file)], Arc::new(NoOffsets)))
        .unwrap();
    task.put(vec![sink_record(0, Value::String("first".to_string()))])
        .await
        .unwrap();
    // No flush: a slow stream's lines must not wait for the next commit.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
    task.stop().await;
}

#[tokio::test]
async fn sink_appends_lines_and_flush_makes_them_visible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    std::fs::write(&path, "existing\n").unwrap();
    let file = path.to_str().unwrap();
    let mut task = FileStreamSinkFactory
        .create_sink_task(context(&[("file", file)], Arc::new(NoOffsets)))
        .unwrap();
    let schema = Arc::new(Schema::structure(
        Some("s"),
        vec![
            ("a", Schema::primitive(SchemaType::Int32)),
            ("b", Schema::primitive(SchemaType::String).optional()),
            ("c", Schema::primitive(SchemaType::Float64)),
        ],
    ));
    let structure = Value::Struct(Struct {
        schema,
        values: vec![Value::Int32(1), Value::Null, Value::Float64(2.0)],
    });
    task.put(vec![
        sink_record(0, Value::String("hello".to_string())),
        sink_record(1, Value::Null),
        sink_record(2, structure),
        sink_record(3, Value::Array(vec![Value::Int64(1), Value::Boolean(true)])),
    ])
    .await
    .unwrap();
    task.flush().await.unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        written,
        "existing\nhello\nnull\nStruct{a=1,c=2.0}\n[1, true]\n"
    );
    task.stop().await;

    // A new task appends rather than truncates.
    let mut task = FileStreamSinkFactory
        .create_sink_task(context(&[("file", file)], Arc::new(NoOffsets)))
        .unwrap();
    task.put(vec![sink_record(4, Value::String("more".to_string()))])
        .await
        .unwrap();
    let current = BTreeMap::from([(
        crate::sdk::TopicPartition {
            topic: "t".to_string(),
            partition: 0,
        },
        5,
    )]);
    assert_eq!(task.pre_commit(current.clone()).await.unwrap(), current);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.ends_with("[1, true]\nmore\n"), "{written}");
}

#[test]
fn sink_formats_logical_values_readably() {
    let mut out = String::new();
    sink::write_value(&mut out, &Value::Timestamp(1_700_000_000_123));
    assert_eq!(out, "2023-11-14T22:13:20.123Z");
    out.clear();
    sink::write_value(&mut out, &Value::Date(-1));
    assert_eq!(out, "1969-12-31");
    out.clear();
    sink::write_value(
        &mut out,
        &Value::Map(vec![(Value::String("k".to_string()), Value::Int8(3))]),
    );
    assert_eq!(out, "{k=3}");
}

/// A crash mid-write leaves part of a line at the end of the file (the kernel stops a killed
/// writer's write at a page boundary); its records were never committed and come again, so the
/// next task cuts the fragment off before appending rather than gluing a line onto it.
#[tokio::test]
async fn sink_cuts_off_a_torn_last_line_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let file = path.to_str().unwrap();
    // Longer than the chunk the tail is searched in.
    let fragment = format!("good-{}", "7".repeat(100_000));
    let cases = [
        (
            format!("good-1\ngood-2\n{fragment}"),
            "good-1\ngood-2\ngood-3\n",
        ),
        (fragment.clone(), "good-3\n"),
        ("good-1\ngo".to_string(), "good-1\ngood-3\n"),
        ("good-1\n".to_string(), "good-1\ngood-3\n"),
    ];
    for (before, after) in cases {
        std::fs::write(&path, &before).unwrap();
        let mut task = FileStreamSinkFactory
            .create_sink_task(context(&[("file", file)], Arc::new(NoOffsets)))
            .unwrap();
        task.put(vec![sink_record(3, Value::String("good-3".to_string()))])
            .await
            .unwrap();
        task.flush().await.unwrap();
        task.stop().await;
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            after,
            "{before:.20}"
        );
    }
}
