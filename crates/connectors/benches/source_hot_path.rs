//! Micro-benchmarks of the source hot path (not part of the test suite): ns and heap
//! allocations per record for the FileStreamSource poll and the String, ByteArray and JSON
//! converters' fromConnect direction (into one batch buffer, as the source runtime calls them).
//!
//! `cargo bench -p ferry-connectors --bench source_hot_path`; the allocations per record are
//! printed before the timings (a counting global allocator, `stats_alloc`).

use std::alloc::System;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write as _;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferry_connectors::converters::{
    ByteArrayConverter, JsonConverter, JsonConverterConfig, StringConverter,
};
use ferry_connectors::file::FileStreamSourceFactory;
use ferry_connectors::sdk::{
    ConfigValues, ConnectorFactory, Converter, NoOffsets, Schema, SchemaType, SourceBatch,
    SourceTask, TaskContext, Value,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

// Counts allocations (stats_alloc keeps the unsafe allocator code out of this crate).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const LINE: &str =
    "0000000042 the quick brown fox jumps over the lazy dog, a line of about one hundred bytes.";
const RECORDS: u64 = 10_000;

/// Heap allocations per call of `work`, in steady state (after a warm-up round).
fn allocations_per_call(calls: u64, mut work: impl FnMut()) -> f64 {
    work();
    let region = Region::new(GLOBAL);
    for _ in 0..calls {
        work();
    }
    let stats = region.change();
    #[allow(clippy::cast_precision_loss)]
    let per_call = (stats.allocations + stats.reallocations) as f64 / calls as f64;
    per_call
}

/// A converter under test: its name, the converter, the value's schema and the value.
type Case = (&'static str, Box<dyn Converter>, Option<Arc<Schema>>, Value);

fn converters() -> Vec<Case> {
    let string_schema = Some(Arc::new(Schema::primitive(SchemaType::String)));
    vec![
        (
            "string",
            Box::new(StringConverter),
            string_schema.clone(),
            Value::String(LINE.into()),
        ),
        (
            "bytearray",
            Box::new(ByteArrayConverter),
            None,
            Value::Bytes(LINE.as_bytes().to_vec()),
        ),
        (
            "json schemas.enable=true",
            Box::new(JsonConverter::new(JsonConverterConfig::default())),
            string_schema,
            Value::String(LINE.into()),
        ),
    ]
}

fn bench_converters(c: &mut Criterion) {
    let mut group = c.benchmark_group("fromConnect into a batch buffer");
    group.throughput(Throughput::Elements(RECORDS));
    for (name, converter, schema, value) in converters() {
        let mut buffer = Vec::with_capacity(1 << 20);
        let batch = |buffer: &mut Vec<u8>| {
            buffer.clear();
            for _ in 0..RECORDS {
                let written =
                    converter.from_connect_data_into("t", schema.as_deref(), &value, buffer);
                black_box(written.ok());
            }
        };
        let per_record = allocations_per_call(10, || batch(&mut buffer)) / RECORDS as f64;
        println!("allocations per record, {name} fromConnect (Value): {per_record:.4}");
        group.bench_function(format!("{name} (Value)"), |b| b.iter(|| batch(&mut buffer)));
        if let Value::String(_) = value {
            let lines = |buffer: &mut Vec<u8>| {
                buffer.clear();
                for _ in 0..RECORDS {
                    let written =
                        converter.from_connect_text_into("t", schema.as_deref(), LINE, buffer);
                    black_box(written.ok());
                }
            };
            let per_record = allocations_per_call(10, || lines(&mut buffer)) / RECORDS as f64;
            println!("allocations per record, {name} fromConnect (line text): {per_record:.4}");
            group.bench_function(format!("{name} (line text)"), |b| {
                b.iter(|| lines(&mut buffer))
            });
        }
    }
    group.finish();
}

fn bench_file_poll(c: &mut Criterion) {
    let lines_per_poll: u64 = 2000;
    let dir = std::env::temp_dir().join(format!("ferry-bench-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok();
    let path = dir.join("input.txt");
    {
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(&path).expect("create the input"));
        for _ in 0..200_000 {
            writeln!(file, "{LINE}").expect("write the input");
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let path_text = path.to_string_lossy().to_string();
    let new_task = || -> Box<dyn SourceTask> {
        let config = BTreeMap::from([
            ("file".to_string(), path_text.clone()),
            ("topic".to_string(), "lines".to_string()),
        ]);
        FileStreamSourceFactory
            .create_source_task(TaskContext::new(
                "bench".to_string(),
                0,
                ConfigValues::from_raw(config),
                Arc::new(NoOffsets),
            ))
            .expect("a FileStreamSource task")
    };
    // One poll of a full batch; a fresh task once the file is read.
    let mut task = new_task();
    let mut poll = || -> usize {
        let lines = match runtime.block_on(task.poll_batch()) {
            Ok(SourceBatch::Lines(lines)) => lines.len(),
            Ok(SourceBatch::Records(records)) => records.len(),
            Err(error) => panic!("poll failed: {error}"),
        };
        if lines < 2000 {
            task = new_task();
        }
        lines
    };
    let per_poll = allocations_per_call(50, || {
        black_box(poll());
    });
    println!(
        "allocations per record, FileStreamSource poll_batch: {:.4} ({per_poll:.1} per poll of {lines_per_poll} lines)",
        per_poll / lines_per_poll as f64
    );
    let mut group = c.benchmark_group("FileStreamSource");
    group.throughput(Throughput::Elements(lines_per_poll));
    group.bench_function("poll_batch (2000 lines of 100 B)", |b| {
        b.iter(|| black_box(poll()));
    });
    group.finish();
    drop(task);
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, bench_converters, bench_file_poll);
criterion_main!(benches);
