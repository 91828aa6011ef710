//! Tracking which source offsets may be stored: a partition's offset is committable once Kafka
//! acknowledged that record and every earlier record of the same source partition.
//!
//! The unit of tracking is a *unit*: a run of consecutive records of one source partition
//! (within one poll batch, for the source loop), submitted with the offset of its last record
//! and the number of its records awaiting acknowledgement. A unit is acknowledged as a whole, so
//! the cost is per batch, not per record.

use std::collections::{HashMap, VecDeque};

use ferry_connectors::sdk::{SourceOffset, SourcePartition};

/// Up to this many source partitions, a partition's index is found by comparing maps.
const LINEAR_LOOKUP_MAX: usize = 8;

struct PartitionTrack {
    partition: SourcePartition,
    /// Submitted units in order: (sequence number, offset, acknowledged).
    pending: VecDeque<(u64, SourceOffset, bool)>,
    committable_opt: Option<SourceOffset>,
    dirty: bool,
}

/// One submitted unit, in the window of unacknowledged ones.
struct WindowEntry {
    seq: u64,
    /// The unit's partition (index); `None` once acknowledged.
    partition_opt: Option<usize>,
    records: usize,
}

/// Submitted-but-unacknowledged units per source partition.
#[derive(Default)]
pub struct OffsetTracker {
    partitions: Vec<PartitionTrack>,
    index_of: HashMap<String, usize>,
    /// Units in submission order (increasing sequence numbers) from the oldest unacknowledged.
    window: VecDeque<WindowEntry>,
    in_flight: usize,
    /// The partition of the previous unit: most sources emit runs from one partition, and
    /// comparing a small map is far cheaper than serialising it for the lookup.
    last_index_opt: Option<usize>,
}

impl OffsetTracker {
    /// Records a submitted unit: `records` records up to `offset`, the unit's sequence number
    /// `seq` above every earlier one. A unit of no records is done at once (its records were
    /// dropped before producing); it is still committable only after the units before it.
    pub fn submit(
        &mut self,
        partition: &SourcePartition,
        offset: SourceOffset,
        seq: u64,
        records: usize,
    ) {
        let same_as_last = self
            .last_index_opt
            .filter(|index| self.partitions[*index].partition == *partition);
        let index = match same_as_last {
            Some(index) => index,
            None => self.index_for(partition),
        };
        self.last_index_opt = Some(index);
        debug_assert!(self.window.back().is_none_or(|entry| entry.seq < seq));
        self.partitions[index]
            .pending
            .push_back((seq, offset, false));
        self.window.push_back(WindowEntry {
            seq,
            partition_opt: Some(index),
            records,
        });
        self.in_flight += records;
        if records == 0 {
            self.ack(seq);
        }
    }

    fn index_for(&mut self, partition: &SourcePartition) -> usize {
        // A task with a few source partitions interleaving them: comparing the maps finds the
        // partition without building its serialised key (no allocation per unit).
        if self.partitions.len() <= LINEAR_LOOKUP_MAX {
            if let Some(index) = self
                .partitions
                .iter()
                .position(|track| track.partition == *partition)
            {
                return index;
            }
        }
        let key = serde_json::to_string(partition).unwrap_or_default();
        match self.index_of.get(&key) {
            Some(index) => *index,
            None => {
                self.partitions.push(PartitionTrack {
                    partition: partition.clone(),
                    pending: VecDeque::new(),
                    committable_opt: None,
                    dirty: false,
                });
                self.index_of.insert(key, self.partitions.len() - 1);
                self.partitions.len() - 1
            }
        }
    }

    /// Marks a unit acknowledged and advances its partition's committable offset; returns how
    /// many records it held (0 for an unknown or repeated acknowledgement).
    pub fn ack(&mut self, seq: u64) -> usize {
        let Ok(position) = self.window.binary_search_by_key(&seq, |entry| entry.seq) else {
            return 0;
        };
        let entry = &mut self.window[position];
        let Some(index) = entry.partition_opt.take() else {
            return 0;
        };
        let records = entry.records;
        self.in_flight -= records;
        while self
            .window
            .front()
            .is_some_and(|entry| entry.partition_opt.is_none())
        {
            self.window.pop_front();
        }
        let track = &mut self.partitions[index];
        if let Ok(position) = track
            .pending
            .binary_search_by_key(&seq, |(pending_seq, _, _)| *pending_seq)
        {
            track.pending[position].2 = true;
        }
        while track.pending.front().is_some_and(|(_, _, acked)| *acked) {
            if let Some((_, offset, _)) = track.pending.pop_front() {
                track.committable_opt = Some(offset);
                track.dirty = true;
            }
        }
        records
    }

    /// Returns the number of records awaiting acknowledgement.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Returns the committable offsets that changed since the last call.
    pub fn take_committable(&mut self) -> Vec<(SourcePartition, SourceOffset)> {
        let mut changed = Vec::new();
        for track in &mut self.partitions {
            if track.dirty {
                if let Some(offset) = &track.committable_opt {
                    changed.push((track.partition.clone(), offset.clone()));
                }
                track.dirty = false;
            }
        }
        changed
    }

    /// Marks offsets as not yet stored again (their write failed).
    pub fn restore(&mut self, entries: &[(SourcePartition, SourceOffset)]) {
        for (partition, _) in entries {
            let key = serde_json::to_string(partition).unwrap_or_default();
            if let Some(index) = self.index_of.get(&key) {
                self.partitions[*index].dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn partition(name: &str) -> SourcePartition {
        json!({ "p": name }).as_object().unwrap().clone()
    }

    fn offset(position: u64) -> SourceOffset {
        json!({ "position": position }).as_object().unwrap().clone()
    }

    #[test]
    fn a_dropped_record_is_committable_after_the_records_before_it() {
        let mut tracker = OffsetTracker::default();
        tracker.submit(&partition("a"), offset(1), 0, 1);
        tracker.submit(&partition("a"), offset(2), 1, 0);
        assert!(
            tracker.take_committable().is_empty(),
            "record 1 is not acknowledged yet"
        );
        assert_eq!(tracker.ack(0), 1);
        assert_eq!(
            tracker.take_committable(),
            vec![(partition("a"), offset(2))]
        );
    }

    #[test]
    fn only_a_contiguous_acknowledged_prefix_is_committable() {
        let mut tracker = OffsetTracker::default();
        tracker.submit(&partition("a"), offset(1), 0, 1);
        tracker.submit(&partition("a"), offset(3), 1, 2);
        tracker.submit(&partition("b"), offset(10), 3, 5);
        assert_eq!(tracker.in_flight(), 8);
        assert_eq!(tracker.ack(1), 2);
        assert_eq!(tracker.ack(3), 5);
        assert_eq!(
            tracker.take_committable(),
            vec![(partition("b"), offset(10))],
            "a's first unit is not acked yet"
        );
        assert_eq!(tracker.ack(0), 1);
        assert_eq!(
            tracker.take_committable(),
            vec![(partition("a"), offset(3))]
        );
        assert!(tracker.take_committable().is_empty());
        assert_eq!(tracker.in_flight(), 0);
        assert_eq!(
            tracker.ack(0),
            0,
            "a repeated acknowledgement counts nothing"
        );
    }

    proptest! {
        #[test]
        fn in_flight_counts_unacknowledged_records_whatever_the_ack_order(
            order in Just((0..40u64).collect::<Vec<_>>()).prop_shuffle(),
            acked in 0..40usize,
        ) {
            // Unit i holds i % 4 records (some none) and starts at record 10 * i.
            let mut tracker = OffsetTracker::default();
            let records = |unit: u64| usize::try_from(unit % 4).unwrap_or(0);
            for i in 0..40u64 {
                let name = if i % 3 == 0 { "a" } else { "b" };
                tracker.submit(&partition(name), offset(i), 10 * i, records(i));
            }
            let total: usize = (0..40).map(records).sum();
            let mut counted = 0;
            for unit in &order[..acked] {
                counted += tracker.ack(10 * unit);
                // A repeated or unknown acknowledgement changes nothing.
                prop_assert_eq!(tracker.ack(10 * unit), 0);
                prop_assert_eq!(tracker.ack(10 * unit + 1), 0);
            }
            prop_assert_eq!(tracker.in_flight(), total - counted);
            for unit in &order[acked..] {
                tracker.ack(10 * unit);
            }
            prop_assert_eq!(tracker.in_flight(), 0);
            let mut committable = tracker.take_committable();
            committable.sort_by_key(|(partition, _)| serde_json::to_string(partition).unwrap_or_default());
            prop_assert_eq!(committable, vec![(partition("a"), offset(39)), (partition("b"), offset(38))]);
        }

        #[test]
        fn committable_offset_never_passes_an_unacknowledged_unit(
            acks in proptest::collection::vec(any::<bool>(), 1..60),
        ) {
            let mut tracker = OffsetTracker::default();
            for i in 0..acks.len() {
                tracker.submit(&partition("a"), offset(i as u64 + 1), i as u64 * 3, 3);
            }
            for (i, acked) in acks.iter().enumerate() {
                if *acked {
                    prop_assert_eq!(tracker.ack(i as u64 * 3), 3);
                }
            }
            let prefix = acks.iter().take_while(|acked| **acked).count() as u64;
            let committable = tracker.take_committable();
            if prefix == 0 {
                prop_assert!(committable.is_empty());
            } else {
                prop_assert_eq!(committable, vec![(partition("a"), offset(prefix))]);
            }
        }
    }
}
