//! What goes into which object, and when an object is closed: one [`PartitionWriter`] per Kafka
//! partition. Pure: it returns [`UploadStep`]s and the task carries them out.
//!
//! Exactly-once rests on two rules. An object is named after the offset of its first record, and
//! its end is decided only by the records (their count, and with `Record`/`RecordField` time,
//! their timestamps). The runtime delivers a partition again from the last committed offset,
//! which is always the end of an uploaded object, so a replay forms the same objects under the
//! same names and overwrites them with the same bytes. `rotate.schedule.interval.ms` and the
//! `Wallclock` extractor depend on when records are processed, so with them a replay after a
//! crash may cut objects elsewhere and duplicate records (Confluent documents the same).

use std::collections::BTreeMap;

use chrono::Offset;
use chrono_tz::Tz;

const DAY_MS: i64 = 86_400_000;

/// When objects are closed.
#[derive(Debug, Clone)]
pub(crate) struct RotationPolicy {
    /// `flush.size`: records per object set.
    pub(crate) flush_size: u64,
    /// `rotate.interval.ms`: close when a record's time is this far past the first one's, or when
    /// its encoded partition differs from the previous record's.
    pub(crate) rotate_interval_ms: Option<i64>,
    /// `rotate.schedule.interval.ms`: close at wall-clock boundaries of this interval (aligned to
    /// the start of the day in `zone`).
    pub(crate) rotate_schedule_interval_ms: Option<i64>,
    pub(crate) zone: Tz,
    /// True with the `Wallclock` extractor: `rotate.interval.ms` then also fires without records.
    pub(crate) wallclock_time: bool,
}

/// How objects are named.
#[derive(Debug, Clone)]
pub(crate) struct ObjectNaming {
    pub(crate) topics_dir: String,
    pub(crate) directory_delim: String,
    pub(crate) file_delim: String,
    pub(crate) zero_pad_width: usize,
    pub(crate) extension: String,
}

impl ObjectNaming {
    /// Returns `<topics.dir>/<topic>/<encoded partition>/<topic>+<partition>+<start offset>.<ext>`,
    /// Confluent's object key.
    pub(crate) fn object_key(
        &self,
        topic: &str,
        encoded_partition: &str,
        kafka_partition: i32,
        start_offset: i64,
    ) -> String {
        let delim = &self.directory_delim;
        let file = &self.file_delim;
        let width = self.zero_pad_width;
        let name = format!(
            "{topic}{file}{kafka_partition}{file}{start_offset:0width$}{}",
            self.extension
        );
        let topics_dir = self.topics_dir.trim_end_matches(delim.as_str());
        if topics_dir.is_empty() {
            format!("{topic}{delim}{encoded_partition}{delim}{name}")
        } else {
            format!("{topics_dir}{delim}{topic}{delim}{encoded_partition}{delim}{name}")
        }
    }
}

/// Something the task must do against the store, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UploadStep {
    /// The next part of an object that is still open (starts a multipart upload if none).
    Part { key: String, bytes: Vec<u8> },
    /// The rest of an object, which is now complete (a plain PUT when no part went before).
    Finish { key: String, bytes: Vec<u8> },
}

#[derive(Debug)]
struct OpenObject {
    key: String,
    buffer: Vec<u8>,
}

/// The open objects of one Kafka partition.
#[derive(Debug)]
pub(crate) struct PartitionWriter {
    topic: String,
    partition: i32,
    /// Open objects by encoded partition.
    open: BTreeMap<String, OpenObject>,
    /// Records in the open objects.
    record_count: u64,
    current_encoded_opt: Option<String>,
    /// Time of the first record of the open objects (for `rotate.interval.ms`).
    base_time_opt: Option<i64>,
    next_scheduled_opt: Option<i64>,
    last_offset_opt: Option<i64>,
    /// The offset after the last record of the last closed object set.
    closed_end_opt: Option<i64>,
}

impl PartitionWriter {
    /// A writer with no open object.
    pub(crate) fn new(topic: &str, partition: i32) -> Self {
        PartitionWriter {
            topic: topic.to_string(),
            partition,
            open: BTreeMap::new(),
            record_count: 0,
            current_encoded_opt: None,
            base_time_opt: None,
            next_scheduled_opt: None,
            last_offset_opt: None,
            closed_end_opt: None,
        }
    }

    /// Adds one encoded record at `offset`, closing objects before it (time) or after it (size)
    /// as the policy says. `time_ms` is the record's time from the timestamp extractor.
    pub(crate) fn write(
        &mut self,
        policy: &RotationPolicy,
        naming: &ObjectNaming,
        part_size: usize,
        record: WrittenRecord<'_>,
        steps: &mut Vec<UploadStep>,
    ) {
        if self.time_rotation_due(
            policy,
            Some(record.encoded_partition),
            record.time_ms,
            record.now_ms,
        ) {
            self.close_all(steps);
        }
        if self.record_count == 0 {
            self.base_time_opt = Some(record.time_ms);
            self.next_scheduled_opt = policy
                .rotate_schedule_interval_ms
                .map(|interval| next_scheduled_rotation(record.now_ms, interval, policy.zone));
        }
        let object = self
            .open
            .entry(record.encoded_partition.to_string())
            .or_insert_with(|| OpenObject {
                key: naming.object_key(
                    &self.topic,
                    record.encoded_partition,
                    self.partition,
                    record.offset,
                ),
                buffer: Vec::new(),
            });
        object.buffer.extend_from_slice(record.bytes);
        if object.buffer.len() >= part_size {
            steps.push(UploadStep::Part {
                key: object.key.clone(),
                bytes: std::mem::take(&mut object.buffer),
            });
        }
        self.record_count += 1;
        self.last_offset_opt = Some(record.offset);
        self.current_encoded_opt = Some(record.encoded_partition.to_string());
        if self.record_count >= policy.flush_size {
            self.close_all(steps);
        }
    }

    /// Closes the open objects when a wall-clock rotation is due (no record needed).
    pub(crate) fn rotate_if_due(
        &mut self,
        policy: &RotationPolicy,
        now_ms: i64,
        steps: &mut Vec<UploadStep>,
    ) {
        let record_time_rotation =
            policy.wallclock_time && self.time_rotation_due(policy, None, now_ms, now_ms);
        let scheduled = self.scheduled_rotation_due(now_ms);
        if self.record_count > 0 && (record_time_rotation || scheduled) {
            self.close_all(steps);
        }
    }

    /// Returns the offset that may be committed once every step returned so far is done:
    /// `current` (the runtime's position) when no record is waiting in an open object, else the
    /// end of the last closed object set, if any.
    pub(crate) fn committable(&self, current: i64) -> Option<i64> {
        if self.record_count == 0 {
            Some(current)
        } else {
            self.closed_end_opt
        }
    }

    /// Returns the keys of the open objects (to abort their multipart uploads).
    pub(crate) fn open_keys(&self) -> Vec<String> {
        self.open
            .values()
            .map(|object| object.key.clone())
            .collect()
    }

    fn time_rotation_due(
        &self,
        policy: &RotationPolicy,
        encoded_opt: Option<&str>,
        time_ms: i64,
        now_ms: i64,
    ) -> bool {
        if self.record_count == 0 {
            return false;
        }
        let periodic = match (policy.rotate_interval_ms, self.base_time_opt) {
            (Some(interval), Some(base)) => {
                let partition_changed = encoded_opt
                    .is_some_and(|encoded| self.current_encoded_opt.as_deref() != Some(encoded));
                time_ms.saturating_sub(base) >= interval || partition_changed
            }
            _ => false,
        };
        periodic || self.scheduled_rotation_due(now_ms)
    }

    fn scheduled_rotation_due(&self, now_ms: i64) -> bool {
        self.next_scheduled_opt.is_some_and(|next| now_ms >= next)
    }

    fn close_all(&mut self, steps: &mut Vec<UploadStep>) {
        for (_, object) in std::mem::take(&mut self.open) {
            steps.push(UploadStep::Finish {
                key: object.key,
                bytes: object.buffer,
            });
        }
        self.record_count = 0;
        self.base_time_opt = None;
        self.next_scheduled_opt = None;
        self.current_encoded_opt = None;
        if let Some(last) = self.last_offset_opt {
            self.closed_end_opt = Some(last + 1);
        }
    }
}

/// One record as the writer sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WrittenRecord<'a> {
    pub(crate) encoded_partition: &'a str,
    pub(crate) offset: i64,
    pub(crate) time_ms: i64,
    pub(crate) now_ms: i64,
    pub(crate) bytes: &'a [u8],
}

/// Returns the first boundary of `interval_ms` after `now_ms`, counting from the start of the
/// day in `zone`.
pub(crate) fn next_scheduled_rotation(now_ms: i64, interval_ms: i64, zone: Tz) -> i64 {
    use chrono::TimeZone;
    let offset_ms = zone
        .timestamp_millis_opt(now_ms)
        .single()
        .map_or(0, |time| {
            i64::from(time.offset().fix().local_minus_utc()) * 1000
        });
    let local = now_ms + offset_ms;
    let day_start = local - local.rem_euclid(DAY_MS);
    let steps = (local - day_start) / interval_ms + 1;
    day_start + steps * interval_ms - offset_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> ObjectNaming {
        ObjectNaming {
            topics_dir: "topics".into(),
            directory_delim: "/".into(),
            file_delim: "+".into(),
            zero_pad_width: 10,
            extension: ".json".into(),
        }
    }

    fn policy(flush_size: u64) -> RotationPolicy {
        RotationPolicy {
            flush_size,
            rotate_interval_ms: None,
            rotate_schedule_interval_ms: None,
            zone: chrono_tz::UTC,
            wallclock_time: false,
        }
    }

    fn record(offset: i64, time_ms: i64) -> WrittenRecord<'static> {
        WrittenRecord {
            encoded_partition: "partition=2",
            offset,
            time_ms,
            now_ms: 0,
            bytes: b"{}\n",
        }
    }

    fn finished(steps: &[UploadStep]) -> Vec<(String, usize)> {
        steps
            .iter()
            .filter_map(|step| match step {
                UploadStep::Finish { key, bytes } => Some((key.clone(), bytes.len() / 3)),
                UploadStep::Part { .. } => None,
            })
            .collect()
    }

    #[test]
    fn object_keys_follow_confluents_layout() {
        assert_eq!(
            naming().object_key("orders", "partition=3", 3, 4_200),
            "topics/orders/partition=3/orders+3+0000004200.json"
        );
        let custom = ObjectNaming {
            topics_dir: "".into(),
            directory_delim: "/".into(),
            file_delim: "_".into(),
            zero_pad_width: 0,
            extension: ".bin".into(),
        };
        assert_eq!(
            custom.object_key("t", "year=2024", 0, 7),
            "t/year=2024/t_0_7.bin"
        );
        assert_eq!(
            ObjectNaming {
                topics_dir: "data/kafka/".into(),
                ..naming()
            }
            .object_key("t", "partition=0", 0, 12_345_678_901),
            "data/kafka/t/partition=0/t+0+12345678901.json"
        );
    }

    #[test]
    fn flush_size_cuts_objects_at_deterministic_offsets() {
        let mut writer = PartitionWriter::new("t", 2);
        let mut steps = Vec::new();
        for offset in 100..107 {
            writer.write(
                &policy(3),
                &naming(),
                usize::MAX,
                record(offset, 0),
                &mut steps,
            );
        }
        assert_eq!(
            finished(&steps),
            vec![
                ("topics/t/partition=2/t+2+0000000100.json".to_string(), 3),
                ("topics/t/partition=2/t+2+0000000103.json".to_string(), 3),
            ]
        );
        // Record 106 waits in an open object: only the end of the last object may be committed.
        assert_eq!(writer.committable(107), Some(106));
        assert_eq!(
            writer.open_keys(),
            vec!["topics/t/partition=2/t+2+0000000106.json"]
        );
    }

    #[test]
    fn nothing_is_committable_before_the_first_object_is_closed() {
        let mut writer = PartitionWriter::new("t", 2);
        let mut steps = Vec::new();
        writer.write(&policy(10), &naming(), usize::MAX, record(5, 0), &mut steps);
        assert!(steps.is_empty());
        assert_eq!(writer.committable(6), None);
        // With nothing open, the runtime's position is committable (e.g. skipped records).
        assert_eq!(PartitionWriter::new("t", 2).committable(9), Some(9));
    }

    #[test]
    fn big_objects_go_out_in_parts_then_finish() {
        let mut writer = PartitionWriter::new("t", 2);
        let mut steps = Vec::new();
        for offset in 0..5 {
            writer.write(&policy(5), &naming(), 6, record(offset, 0), &mut steps);
        }
        let kinds: Vec<(bool, usize)> = steps
            .iter()
            .map(|step| match step {
                UploadStep::Part { bytes, .. } => (true, bytes.len()),
                UploadStep::Finish { bytes, .. } => (false, bytes.len()),
            })
            .collect();
        assert_eq!(kinds, vec![(true, 6), (true, 6), (false, 3)]);
    }

    #[test]
    fn record_time_rotation_happens_before_the_late_record() {
        let mut rotating = policy(100);
        rotating.rotate_interval_ms = Some(1_000);
        let mut writer = PartitionWriter::new("t", 2);
        let mut steps = Vec::new();
        for (offset, time) in [
            (0, 10_000),
            (1, 10_500),
            (2, 10_999),
            (3, 11_000),
            (4, 11_100),
        ] {
            writer.write(
                &rotating,
                &naming(),
                usize::MAX,
                record(offset, time),
                &mut steps,
            );
        }
        assert_eq!(
            finished(&steps),
            vec![("topics/t/partition=2/t+2+0000000000.json".to_string(), 3)]
        );
        assert_eq!(writer.committable(5), Some(3));
        // Record time does not move without records: no rotation on an idle partition.
        writer.rotate_if_due(&rotating, i64::MAX, &mut steps);
        assert_eq!(finished(&steps).len(), 1);
    }

    #[test]
    fn with_rotate_interval_a_new_encoded_partition_closes_the_objects() {
        let mut rotating = policy(100);
        rotating.rotate_interval_ms = Some(3_600_000);
        let mut writer = PartitionWriter::new("t", 0);
        let mut steps = Vec::new();
        for (offset, hour) in [(0, "hour=01"), (1, "hour=01"), (2, "hour=02")] {
            let mut item = record(offset, 0);
            item.encoded_partition = hour;
            writer.write(&rotating, &naming(), usize::MAX, item, &mut steps);
        }
        assert_eq!(
            finished(&steps),
            vec![("topics/t/hour=01/t+0+0000000000.json".to_string(), 2)]
        );
    }

    #[test]
    fn without_rotate_interval_several_encoded_partitions_stay_open_until_flush_size() {
        let mut writer = PartitionWriter::new("t", 0);
        let mut steps = Vec::new();
        for (offset, hour) in [(0, "hour=01"), (1, "hour=02"), (2, "hour=01")] {
            let mut item = record(offset, 0);
            item.encoded_partition = hour;
            writer.write(&policy(3), &naming(), usize::MAX, item, &mut steps);
        }
        assert_eq!(
            finished(&steps),
            vec![
                ("topics/t/hour=01/t+0+0000000000.json".to_string(), 2),
                ("topics/t/hour=02/t+0+0000000001.json".to_string(), 1),
            ]
        );
        assert_eq!(writer.committable(3), Some(3));
    }

    #[test]
    fn scheduled_rotation_closes_idle_objects_at_the_boundary() {
        let mut scheduled = policy(100);
        scheduled.rotate_schedule_interval_ms = Some(60_000);
        let mut writer = PartitionWriter::new("t", 2);
        let mut steps = Vec::new();
        let mut first = record(0, 0);
        first.now_ms = 1_709_622_489_123; // 07:08:09.123 → boundary 07:09:00
        writer.write(&scheduled, &naming(), usize::MAX, first, &mut steps);
        writer.rotate_if_due(&scheduled, 1_709_622_539_999, &mut steps);
        assert!(steps.is_empty());
        writer.rotate_if_due(&scheduled, 1_709_622_540_000, &mut steps);
        assert_eq!(finished(&steps).len(), 1);
        assert_eq!(writer.committable(1), Some(1));
    }

    #[test]
    fn scheduled_boundaries_are_aligned_to_the_local_day() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        // 2024-03-05T07:08:09Z = 12:38:09 IST; with 1 h intervals the next boundary is 13:00 IST.
        assert_eq!(
            next_scheduled_rotation(1_709_622_489_000, 3_600_000, kolkata),
            1_709_623_800_000
        );
        assert_eq!(
            next_scheduled_rotation(1_709_622_489_000, 3_600_000, chrono_tz::UTC),
            1_709_625_600_000
        );
    }

    #[test]
    fn wallclock_rotation_fires_on_an_idle_partition() {
        let mut rotating = policy(100);
        rotating.rotate_interval_ms = Some(1_000);
        rotating.wallclock_time = true;
        let mut writer = PartitionWriter::new("t", 2);
        let mut steps = Vec::new();
        writer.write(
            &rotating,
            &naming(),
            usize::MAX,
            record(0, 5_000),
            &mut steps,
        );
        writer.rotate_if_due(&rotating, 5_999, &mut steps);
        assert!(steps.is_empty());
        writer.rotate_if_due(&rotating, 6_000, &mut steps);
        assert_eq!(finished(&steps).len(), 1);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Replaying from any committed offset forms the same objects as the first run did from
        /// that offset on: the exactly-once property of flush.size rotation.
        #[test]
        fn replay_from_the_committed_offset_rewrites_the_same_objects(
            flush_size in 1u64..20,
            count in 1i64..200,
            crash_at in 0i64..200,
        ) {
            let naming = ObjectNaming {
                topics_dir: "topics".into(),
                directory_delim: "/".into(),
                file_delim: "+".into(),
                zero_pad_width: 10,
                extension: ".json".into(),
            };
            let policy = RotationPolicy {
                flush_size,
                rotate_interval_ms: None,
                rotate_schedule_interval_ms: None,
                zone: chrono_tz::UTC,
                wallclock_time: false,
            };
            let run = |from: i64, to: i64| {
                let mut writer = PartitionWriter::new("t", 0);
                let mut steps = Vec::new();
                for offset in from..to {
                    let bytes = format!("{offset}\n");
                    let record = WrittenRecord {
                        encoded_partition: "partition=0",
                        offset,
                        time_ms: 0,
                        now_ms: 0,
                        bytes: bytes.as_bytes(),
                    };
                    writer.write(&policy, &naming, usize::MAX, record, &mut steps);
                }
                (steps, writer.committable(to))
            };
            let crash_at = crash_at.min(count);
            let (first_steps, committed) = run(0, crash_at);
            let committed = committed.unwrap_or(0);
            let (replayed, _) = run(committed, count);
            let (whole, _) = run(0, count);
            let mut combined: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            for step in first_steps.into_iter().chain(replayed) {
                if let UploadStep::Finish { key, bytes } = step {
                    combined.insert(key, bytes);
                }
            }
            let expected: BTreeMap<String, Vec<u8>> = whole
                .into_iter()
                .filter_map(|step| match step {
                    UploadStep::Finish { key, bytes } => Some((key, bytes)),
                    UploadStep::Part { .. } => None,
                })
                .collect();
            prop_assert_eq!(combined, expected);
        }
    }
}
