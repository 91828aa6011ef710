//! Micro-benchmark of the source offset tracker (`runtime/offsets.rs`; not part of the test
//! suite): ns and heap allocations per record for submit + acknowledge, as the source loop calls
//! them (one unit per poll batch of one source partition, acknowledged when Kafka confirms the
//! batch's records, a window of units in flight).
//!
//! `cargo bench -p ferry-actors --bench offset_tracker`; the allocations per record are printed
//! before the timings (a counting global allocator, `stats_alloc`). The offsets submitted are
//! built before the measured region: they are the task's, moved into the tracker.

use std::alloc::System;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferry_actors::runtime::offsets::OffsetTracker;
use ferry_connectors::sdk::{SourceOffset, SourcePartition};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

// Counts allocations (stats_alloc keeps the unsafe allocator code out of this crate).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Units per measured round.
const UNITS: usize = 1000;
/// Units in flight: the acknowledgement of unit n arrives after unit n + LAG is submitted.
const LAG: u64 = 16;

fn partition(name: &str) -> SourcePartition {
    json!({ "filename": name })
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn offsets(start: u64) -> Vec<SourceOffset> {
    (start..start + UNITS as u64)
        .map(|position| {
            json!({ "position": position })
                .as_object()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// The tracker in steady state: units submitted and acknowledged `LAG` behind.
struct Case {
    tracker: OffsetTracker,
    partitions: Vec<SourcePartition>,
    records_per_unit: usize,
    seq: u64,
}

impl Case {
    fn new(partitions: usize, records_per_unit: usize) -> Self {
        let mut case = Self {
            tracker: OffsetTracker::default(),
            partitions: (0..partitions)
                .map(|p| partition(&format!("/data/input-{p}.txt")))
                .collect(),
            records_per_unit,
            seq: 0,
        };
        // warm-up: the window and the partitions' queues reach their steady capacity
        let warm = offsets(0);
        case.round(warm);
        case
    }

    /// Submits `UNITS` units (round-robin over the partitions) and acknowledges each `LAG` units
    /// later; one offset flush (take_committable) per round, as the periodic flush does.
    fn round(&mut self, offsets: Vec<SourceOffset>) -> usize {
        let mut acked = 0;
        for (i, offset) in offsets.into_iter().enumerate() {
            let partition = &self.partitions[i % self.partitions.len()];
            self.tracker
                .submit(partition, offset, self.seq, self.records_per_unit);
            if self.seq >= LAG {
                acked += self.tracker.ack(self.seq - LAG);
            }
            self.seq += 1;
        }
        black_box(self.tracker.take_committable());
        acked
    }
}

fn bench_tracker(c: &mut Criterion) {
    let mut group = c.benchmark_group("offset tracker submit + ack");
    for (name, partitions, records_per_unit) in [
        ("1 partition, 2000 records per unit", 1, 2000),
        ("1 partition, 1 record per unit", 1, 1),
        ("4 partitions round-robin, 1 record per unit", 4, 1),
    ] {
        let mut case = Case::new(partitions, records_per_unit);
        let records = (UNITS * records_per_unit) as u64;
        // allocations in the measured region, 10 rounds after the warm-up
        let mut counted = 0u64;
        for _ in 0..10 {
            let input = offsets(case.seq);
            let region = Region::new(GLOBAL);
            black_box(case.round(input));
            let stats = region.change();
            counted += (stats.allocations + stats.reallocations) as u64;
        }
        #[allow(clippy::cast_precision_loss)]
        let (per_record, per_unit) = (
            counted as f64 / (10 * records) as f64,
            counted as f64 / (10 * UNITS) as f64,
        );
        println!(
            "allocations, {name}: {per_record:.4} per record, {per_unit:.4} per unit \
             (one offset flush per {UNITS} units included)"
        );
        group.throughput(Throughput::Elements(records));
        group.bench_function(name, |b| {
            b.iter_batched(
                || offsets(0),
                |input| case.round(input),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_tracker);
criterion_main!(benches);
