//! The sink hot path as the runtime runs it, minus Kafka: convert (key, value) → transforms →
//! `FileStreamSink::put` (to `/dev/null`), per batch of [`BATCH`] records like the ones
//! `scripts/bench.sh` produces. Prints heap allocations per record (a counting allocator)
//! before timing. `cargo bench -p ferry-connectors --bench sink_path`.

use std::alloc::System;
use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferry_connectors::builtin_registry;
use ferry_connectors::converters::build_converters;
use ferry_connectors::sdk::{ConfigValues, NoOffsets, SinkRecord, SinkTask, TaskContext};
use ferry_connectors::transforms::{TransformChain, TransformRecord};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Records per `put`, as the sink runtime's largest batch.
const BATCH: usize = 2_000;
/// Payload size, as `scripts/bench.sh`.
const RECORD_BYTES: usize = 100;
const TOPIC: &str = "bench-json-objects";

fn filler(text: &mut Vec<u8>, until: usize) {
    while text.len() < until {
        text.push(b'a' + u8::try_from(text.len() % 26).unwrap_or(0));
    }
}

/// A line as `ferry-bench write-lines` writes it.
fn line(index: usize) -> Vec<u8> {
    let mut text = format!("record-{index:09} ").into_bytes();
    filler(&mut text, RECORD_BYTES);
    text
}

/// A JSON object as `ferry-bench produce-json` writes it.
fn json_object(index: usize) -> Vec<u8> {
    let mut text =
        format!("{{\"id\":{index},\"name\":\"record-{index:09}\",\"payload\":\"").into_bytes();
    filler(&mut text, RECORD_BYTES - 2);
    text.extend_from_slice(b"\"}");
    text
}

/// A line in JsonConverter's envelope, as the JSON source row writes it.
fn json_envelope(index: usize) -> Vec<u8> {
    let line = String::from_utf8(line(index)).expect("lines are ASCII");
    format!(r#"{{"schema":{{"type":"string","optional":false}},"payload":"{line}"}}"#).into_bytes()
}

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// One pipeline: its converters' and transforms' config and its input records.
struct Case {
    name: &'static str,
    config: BTreeMap<String, String>,
    payloads: Vec<Vec<u8>>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "string",
            config: props(&[("key.converter", STRING), ("value.converter", STRING)]),
            payloads: (0..BATCH).map(line).collect(),
        },
        Case {
            name: "json_schemas",
            config: props(&[
                ("key.converter", JSON),
                ("value.converter", JSON),
                ("key.converter.schemas.enable", "true"),
                ("value.converter.schemas.enable", "true"),
            ]),
            payloads: (0..BATCH).map(json_envelope).collect(),
        },
        Case {
            name: "json_3_transforms",
            // scripts/bench/bench.py TRANSFORM_CHAIN
            config: props(&[
                ("key.converter", STRING),
                ("value.converter", JSON),
                ("value.converter.schemas.enable", "false"),
                ("transforms", "insert,replace,route"),
                (
                    "transforms.insert.type",
                    "org.apache.kafka.connect.transforms.InsertField$Value",
                ),
                ("transforms.insert.static.field", "pipeline"),
                ("transforms.insert.static.value", "bench"),
                (
                    "transforms.replace.type",
                    "org.apache.kafka.connect.transforms.ReplaceField$Value",
                ),
                ("transforms.replace.renames", "name:label"),
                (
                    "transforms.route.type",
                    "org.apache.kafka.connect.transforms.TimestampRouter",
                ),
                ("transforms.route.topic.format", "${topic}-${timestamp}"),
                ("transforms.route.timestamp.format", "yyyyMMdd"),
            ]),
            payloads: (0..BATCH).map(json_object).collect(),
        },
    ]
}

/// What the sink runtime does per batch: convert each record, transform it, put the batch.
struct Pipeline {
    converters: ferry_connectors::converters::Converters,
    chain: TransformChain,
    task: Box<dyn SinkTask>,
    runtime: tokio::runtime::Runtime,
}

impl Pipeline {
    fn new(config: &BTreeMap<String, String>) -> Self {
        let converters = build_converters(&BTreeMap::new(), config).expect("valid converters");
        let chain = TransformChain::from_connector_config(config).expect("valid transforms");
        let mut task_config = config.clone();
        task_config.insert("file".to_string(), "/dev/null".to_string());
        task_config.insert("topics".to_string(), TOPIC.to_string());
        let factory = builtin_registry()
            .find("FileStreamSink")
            .expect("FileStreamSink is built in");
        let context = TaskContext::new(
            "bench".to_string(),
            0,
            ConfigValues::from_raw(task_config),
            Arc::new(NoOffsets),
        );
        let task = factory.create_sink_task(context).expect("sink task");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Pipeline {
            converters,
            chain,
            task,
            runtime,
        }
    }

    fn run_batch(&mut self, payloads: &[Vec<u8>]) {
        let mut records = Vec::with_capacity(payloads.len());
        for (offset, payload) in payloads.iter().enumerate() {
            let key = self
                .converters
                .key
                .to_connect_data(TOPIC, None)
                .expect("key converts");
            let value = self
                .converters
                .value
                .to_connect_data(TOPIC, Some(payload))
                .expect("value converts");
            let record = SinkRecord {
                topic: TOPIC.to_string(),
                kafka_partition: 0,
                kafka_offset: i64::try_from(offset).unwrap_or(0),
                timestamp: Some(1_764_700_000_000),
                key,
                value,
                headers: Vec::new(),
                original_opt: None,
            };
            if self.chain.is_empty() {
                records.push(record);
                continue;
            }
            let input = TransformRecord {
                topic: record.topic,
                kafka_partition: Some(record.kafka_partition),
                kafka_offset: Some(record.kafka_offset),
                timestamp: record.timestamp,
                key: record.key,
                value: record.value,
                headers: record.headers,
            };
            if let Some(output) = self.chain.apply(input).expect("transforms apply") {
                records.push(SinkRecord {
                    topic: output.topic,
                    kafka_partition: output.kafka_partition.unwrap_or(0),
                    kafka_offset: record.kafka_offset,
                    timestamp: output.timestamp,
                    key: output.key,
                    value: output.value,
                    headers: output.headers,
                    original_opt: None,
                });
            }
        }
        let task = &mut self.task;
        self.runtime
            .block_on(task.put(records))
            .expect("put succeeds");
    }
}

fn sink_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("sink_path");
    group.throughput(Throughput::Elements(BATCH as u64));
    for case in cases() {
        let mut pipeline = Pipeline::new(&case.config);
        pipeline.run_batch(&case.payloads);
        let region = Region::new(GLOBAL);
        pipeline.run_batch(&case.payloads);
        let stats = region.change();
        #[allow(clippy::cast_precision_loss)]
        let per_record = stats.allocations as f64 / BATCH as f64;
        eprintln!(
            "sink_path/{}: {per_record:.2} allocations per record ({} bytes per record)",
            case.name,
            stats.bytes_allocated / BATCH
        );
        group.bench_function(case.name, |bencher| {
            bencher.iter_batched(
                || (),
                |()| pipeline.run_batch(&case.payloads),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, sink_path);
criterion_main!(benches);
