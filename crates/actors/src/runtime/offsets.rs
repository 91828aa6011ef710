//! Tracking which source offsets may be stored: a partition's offset is committable once Kafka
//! acknowledged that record and every earlier record of the same source partition.

use std::collections::{HashMap, VecDeque};

use ferry_connectors::sdk::{SourceOffset, SourcePartition};

struct PartitionTrack {
    partition: SourcePartition,
    /// Submitted records in order: (sequence number, offset, acknowledged).
    pending: VecDeque<(u64, SourceOffset, bool)>,
    committable_opt: Option<SourceOffset>,
    dirty: bool,
}

/// Submitted-but-unacknowledged records per source partition.
#[derive(Default)]
pub(crate) struct OffsetTracker {
    partitions: Vec<PartitionTrack>,
    index_of: HashMap<String, usize>,
    /// The partition (index) of every sequence number from `first_seq` on; `None` once
    /// acknowledged. Sequence numbers are dense, so this is a window, not a map.
    window: VecDeque<Option<usize>>,
    first_seq: u64,
    in_flight: usize,
    next_seq: u64,
    /// The partition of the previous record: most sources emit runs from one partition, and
    /// comparing a small map is far cheaper than serialising it for the lookup.
    last_index_opt: Option<usize>,
}

impl OffsetTracker {
    /// Records a submitted record; returns its sequence number (the delivery opaque).
    pub(crate) fn submit(&mut self, partition: &SourcePartition, offset: SourceOffset) -> u64 {
        let same_as_last = self
            .last_index_opt
            .filter(|index| self.partitions[*index].partition == *partition);
        let index = match same_as_last {
            Some(index) => index,
            None => self.index_for(partition),
        };
        self.last_index_opt = Some(index);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.partitions[index]
            .pending
            .push_back((seq, offset, false));
        self.window.push_back(Some(index));
        self.in_flight += 1;
        seq
    }

    fn index_for(&mut self, partition: &SourcePartition) -> usize {
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

    /// Records a record that was dropped before producing (a transform filtered it): its
    /// offset is committable once every earlier record of its partition is acknowledged.
    pub(crate) fn skip(&mut self, partition: &SourcePartition, offset: SourceOffset) {
        let seq = self.submit(partition, offset);
        self.ack(seq);
    }

    /// Marks a record acknowledged and advances its partition's committable offset.
    pub(crate) fn ack(&mut self, seq: u64) {
        let Some(index) = seq
            .checked_sub(self.first_seq)
            .and_then(|position| usize::try_from(position).ok())
            .and_then(|position| self.window.get_mut(position))
            .and_then(Option::take)
        else {
            return;
        };
        self.in_flight -= 1;
        while self.window.front().is_some_and(Option::is_none) {
            self.window.pop_front();
            self.first_seq += 1;
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
    }

    /// Returns the number of records awaiting acknowledgement.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Returns the committable offsets that changed since the last call.
    pub(crate) fn take_committable(&mut self) -> Vec<(SourcePartition, SourceOffset)> {
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
    pub(crate) fn restore(&mut self, entries: &[(SourcePartition, SourceOffset)]) {
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
        let first = tracker.submit(&partition("a"), offset(1));
        tracker.skip(&partition("a"), offset(2));
        assert!(
            tracker.take_committable().is_empty(),
            "record 1 is not acknowledged yet"
        );
        tracker.ack(first);
        assert_eq!(
            tracker.take_committable(),
            vec![(partition("a"), offset(2))]
        );
    }

    #[test]
    fn only_a_contiguous_acknowledged_prefix_is_committable() {
        let mut tracker = OffsetTracker::default();
        let first = tracker.submit(&partition("a"), offset(1));
        let second = tracker.submit(&partition("a"), offset(2));
        let other = tracker.submit(&partition("b"), offset(10));
        tracker.ack(second);
        tracker.ack(other);
        let committable = tracker.take_committable();
        assert_eq!(
            committable,
            vec![(partition("b"), offset(10))],
            "a's first record is not acked yet"
        );
        tracker.ack(first);
        assert_eq!(
            tracker.take_committable(),
            vec![(partition("a"), offset(2))]
        );
        assert!(tracker.take_committable().is_empty());
        assert_eq!(tracker.in_flight(), 0);
    }

    proptest! {
        #[test]
        fn in_flight_counts_unacknowledged_records_whatever_the_ack_order(
            order in Just((0..40u64).collect::<Vec<_>>()).prop_shuffle(),
            acked in 0..40usize,
        ) {
            let mut tracker = OffsetTracker::default();
            for i in 0..40u64 {
                let name = if i % 3 == 0 { "a" } else { "b" };
                prop_assert_eq!(tracker.submit(&partition(name), offset(i)), i);
            }
            for seq in &order[..acked] {
                tracker.ack(*seq);
                // A repeated or unknown acknowledgement changes nothing.
                tracker.ack(*seq);
                tracker.ack(1_000);
            }
            prop_assert_eq!(tracker.in_flight(), 40 - acked);
            for seq in &order[acked..] {
                tracker.ack(*seq);
            }
            prop_assert_eq!(tracker.in_flight(), 0);
            let mut committable = tracker.take_committable();
            committable.sort_by_key(|(partition, _)| serde_json::to_string(partition).unwrap_or_default());
            prop_assert_eq!(committable, vec![(partition("a"), offset(39)), (partition("b"), offset(38))]);
        }

        #[test]
        fn committable_offset_never_passes_an_unacknowledged_record(
            acks in proptest::collection::vec(any::<bool>(), 1..60),
        ) {
            let mut tracker = OffsetTracker::default();
            let seqs: Vec<u64> = (0..acks.len()).map(|i| tracker.submit(&partition("a"), offset(i as u64 + 1))).collect();
            for (seq, acked) in seqs.iter().zip(&acks) {
                if *acked {
                    tracker.ack(*seq);
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
