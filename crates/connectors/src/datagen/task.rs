//! The Datagen source task: paced generation with resumable, gap-free sequence numbers.

use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as JsonValue;
use tokio::time::Instant;

use super::quickstart::{Generator, Quickstart};
use crate::sdk::{SourceOffset, SourcePartition, SourceRecord, SourceTask, TaskContext};

/// Source partition key holding the task id.
pub(crate) const TASK_FIELD: &str = "task";
/// Source offset key holding the sequence number of the last record produced.
pub(crate) const SEQ_FIELD: &str = "seq";

/// The most records one poll returns.
const MAX_BATCH: usize = 500;
/// The longest a poll waits before returning an empty batch (so offsets get flushed).
const MAX_POLL_WAIT: Duration = Duration::from_secs(1);
/// How long a finished task waits in each poll before returning an empty batch.
const FINISHED_WAIT: Duration = Duration::from_millis(200);
/// How far behind schedule a slow consumer of this task may let it fall before it stops
/// catching up in bursts.
const MAX_LAG: Duration = Duration::from_secs(1);

/// What a Datagen task is configured to do.
#[derive(Debug, Clone)]
pub(crate) struct DatagenSettings {
    pub(crate) topic: String,
    pub(crate) quickstart: Quickstart,
    /// Each record waits a random time in `[0, max_interval]` (Confluent's pacing).
    pub(crate) max_interval: Duration,
    /// Records per task; `None` for no limit.
    pub(crate) iterations: Option<u64>,
    /// `random.seed`; `None` draws a seed per task instance.
    pub(crate) seed: Option<u64>,
}

/// Produces records `seq = next_seq, next_seq + 1, ...` for one task.
pub(crate) struct DatagenTask {
    settings: DatagenSettings,
    task_id: u32,
    generator: Generator,
    partition: SourcePartition,
    next_seq: u64,
    next_due: Instant,
    delays: SmallRng,
    logged_finished: bool,
}

impl DatagenTask {
    /// Creates task `task_id`, resuming after the stored offset's `seq` when there is one.
    pub(crate) fn new(settings: DatagenSettings, task_id: u32, context: &TaskContext) -> Self {
        let partition = source_partition(task_id);
        let next_seq = context
            .offset(&partition)
            .and_then(|offset| offset.get(SEQ_FIELD).and_then(JsonValue::as_u64))
            .map_or(0, |last| last.saturating_add(1));
        if next_seq > 0 {
            tracing::debug!(task = task_id, next_seq, "Datagen resuming");
        }
        let seed = settings.seed.unwrap_or_else(rand::random);
        let mut delays = SmallRng::seed_from_u64(seed ^ u64::from(task_id) ^ next_seq);
        let first_delay = random_delay(&mut delays, settings.max_interval);
        DatagenTask {
            generator: Generator::new(settings.quickstart, seed, task_id),
            settings,
            task_id,
            partition,
            next_seq,
            next_due: Instant::now() + first_delay,
            delays,
            logged_finished: false,
        }
    }

    fn finished(&self) -> bool {
        self.settings
            .iterations
            .is_some_and(|limit| self.next_seq >= limit)
    }

    fn next_record(&mut self) -> SourceRecord {
        let seq = self.next_seq;
        self.next_seq += 1;
        let (key, value) = self.generator.record(seq);
        let mut offset = SourceOffset::new();
        offset.insert(SEQ_FIELD.to_string(), JsonValue::from(seq));
        let mut record = SourceRecord::new(
            self.partition.clone(),
            offset,
            self.settings.topic.clone(),
            value,
        );
        record.key = key;
        record
    }
}

#[async_trait]
impl SourceTask for DatagenTask {
    /// Returns every record that is due (up to 500), waiting for the next one for at most a
    /// second; once `iterations` records were produced, waits 200 ms and returns nothing.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, crate::sdk::ConnectorError> {
        let started = Instant::now();
        let poll_deadline = started + MAX_POLL_WAIT;
        if let Some(earliest) = started.checked_sub(MAX_LAG) {
            self.next_due = self.next_due.max(earliest);
        }
        let mut records = Vec::new();
        loop {
            if self.finished() {
                if records.is_empty() {
                    if !self.logged_finished {
                        tracing::info!(
                            task = self.task_id,
                            records = self.next_seq,
                            "Datagen generated the configured number of records; idling"
                        );
                        self.logged_finished = true;
                    }
                    tokio::time::sleep(FINISHED_WAIT).await;
                }
                return Ok(records);
            }
            let now = Instant::now();
            while records.len() < MAX_BATCH && !self.finished() && self.next_due <= now {
                records.push(self.next_record());
                self.next_due += random_delay(&mut self.delays, self.settings.max_interval);
            }
            if !records.is_empty() || now >= poll_deadline {
                return Ok(records);
            }
            tokio::time::sleep_until(self.next_due.min(poll_deadline)).await;
        }
    }
}

/// Returns the source partition of task `task_id`: `{"task": task_id}`.
pub(crate) fn source_partition(task_id: u32) -> SourcePartition {
    let mut partition = SourcePartition::new();
    partition.insert(TASK_FIELD.to_string(), JsonValue::from(task_id));
    partition
}

fn random_delay(rng: &mut SmallRng, max_interval: Duration) -> Duration {
    if max_interval.is_zero() {
        Duration::ZERO
    } else {
        rng.random_range(Duration::ZERO..=max_interval)
    }
}
