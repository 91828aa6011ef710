//! The sink loop's side of a task's consumer requests ([`ferry_connectors::sdk::SinkControl`]):
//! which partitions the task paused, which it rewound, and the records held back meanwhile.
//!
//! The consumer runs on its own thread ahead of the task, so when a task rewinds or pauses a
//! partition, records of it are already on their way. A rewind is numbered (its generation):
//! the consumer thread tags every batch with the generation of the last seek it applied, and
//! records of a rewound partition from a batch older than its rewind are dropped (the consumer
//! reads them again from the new position). Records of a paused partition that were already
//! fetched are held here, in order, and delivered first when the task resumes it: librdkafka
//! resumes fetching after the last record it returned, so dropping them would lose them.

use std::collections::{BTreeMap, BTreeSet};

use ferry_connectors::sdk::{SinkRequests, TopicPartition};
use rdkafka::message::{Message, OwnedMessage};

/// What the consumer thread must do for a task's requests.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ConsumerActions {
    /// Seek these partitions, then tag batches with `generation`.
    pub(crate) seek: BTreeMap<TopicPartition, i64>,
    pub(crate) generation: u64,
    pub(crate) pause: Vec<TopicPartition>,
    pub(crate) resume: Vec<TopicPartition>,
}

/// Pause, rewind and held records of one sink task.
#[derive(Default)]
pub(crate) struct PartitionControl {
    /// The generation of each partition's last rewind.
    rewound: BTreeMap<TopicPartition, u64>,
    generation: u64,
    paused: BTreeSet<TopicPartition>,
    /// Fetched records of paused partitions, in the order polled.
    held: Vec<OwnedMessage>,
}

/// Whether `message` is of `tp`, without allocating (it runs per record while a partition is
/// paused or rewound).
fn is_partition_of(tp: &TopicPartition, message: &OwnedMessage) -> bool {
    tp.partition == message.partition() && tp.topic == message.topic()
}

impl PartitionControl {
    /// Returns the records of `batch` (tagged with the consumer's `generation`) to deliver now:
    /// records fetched before their partition's last rewind are dropped, records of paused
    /// partitions are held.
    pub(crate) fn admit(&mut self, batch: Vec<OwnedMessage>, generation: u64) -> Vec<OwnedMessage> {
        // Batches arrive in the order polled: once one is tagged with a rewind's generation,
        // no batch fetched before that rewind is left, so its entry is done with.
        self.rewound.retain(|_, rewind| *rewind > generation);
        if self.rewound.is_empty() && self.paused.is_empty() {
            return batch;
        }
        let mut admitted = Vec::with_capacity(batch.len());
        for message in batch {
            if self.rewound.keys().any(|tp| is_partition_of(tp, &message)) {
                continue;
            }
            if self.paused.iter().any(|tp| is_partition_of(tp, &message)) {
                self.held.push(message);
            } else {
                admitted.push(message);
            }
        }
        admitted
    }

    /// Applies a task's requests: returns what the consumer must do and the held records to
    /// deliver now (of resumed partitions). `on_rewind` is told each rewound position.
    pub(crate) fn apply(
        &mut self,
        requests: SinkRequests,
        mut on_rewind: impl FnMut(&TopicPartition, i64),
    ) -> (ConsumerActions, Vec<OwnedMessage>) {
        let mut actions = ConsumerActions::default();
        if !requests.rewind.is_empty() {
            self.generation += 1;
            for (tp, offset) in &requests.rewind {
                self.rewound.insert(tp.clone(), self.generation);
                on_rewind(tp, *offset);
            }
            self.held.retain(|message| {
                !requests
                    .rewind
                    .keys()
                    .any(|tp| is_partition_of(tp, message))
            });
            actions.seek = requests.rewind;
            actions.generation = self.generation;
        }
        for tp in requests.pause {
            if self.paused.insert(tp.clone()) {
                actions.pause.push(tp);
            }
        }
        let mut released = Vec::new();
        for tp in requests.resume {
            if self.paused.remove(&tp) {
                actions.resume.push(tp);
            }
        }
        if !actions.resume.is_empty() {
            let (resumed, still_held): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
                .into_iter()
                .partition(|message| !self.paused.iter().any(|tp| is_partition_of(tp, message)));
            released = resumed;
            self.held = still_held;
        }
        (actions, released)
    }

    /// Forgets revoked partitions (their new owner reads from the committed offset).
    pub(crate) fn revoke(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.rewound.remove(tp);
            self.paused.remove(tp);
        }
        self.held
            .retain(|message| !partitions.iter().any(|tp| is_partition_of(tp, message)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Timestamp;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".to_string(),
            partition,
        }
    }

    fn message(partition: i32, offset: i64) -> OwnedMessage {
        OwnedMessage::new(
            None,
            None,
            "t".to_string(),
            Timestamp::NotAvailable,
            partition,
            offset,
            None,
        )
    }

    fn offsets(messages: &[OwnedMessage]) -> Vec<(i32, i64)> {
        messages
            .iter()
            .map(|m| (m.partition(), m.offset()))
            .collect()
    }

    #[test]
    fn records_fetched_before_a_rewind_are_dropped_and_later_ones_kept() {
        let mut control = PartitionControl::default();
        let requests = SinkRequests {
            rewind: BTreeMap::from([(tp(0), 3)]),
            ..SinkRequests::default()
        };
        let mut positions = Vec::new();
        let (actions, released) = control.apply(requests, |tp, offset| {
            positions.push((tp.partition, offset))
        });
        assert_eq!(actions.generation, 1);
        assert_eq!(actions.seek, BTreeMap::from([(tp(0), 3)]));
        assert!(released.is_empty());
        assert_eq!(positions, vec![(0, 3)]);
        // A batch polled before the seek: partition 0 dropped, partition 1 kept.
        let admitted = control.admit(vec![message(0, 7), message(1, 2)], 0);
        assert_eq!(offsets(&admitted), vec![(1, 2)]);
        // After the seek.
        let admitted = control.admit(vec![message(0, 3)], 1);
        assert_eq!(offsets(&admitted), vec![(0, 3)]);
        // The rewind is done with: later batches take the fast path.
        assert!(control.rewound.is_empty());
    }

    #[test]
    fn paused_records_are_held_in_order_and_released_on_resume() {
        let mut control = PartitionControl::default();
        let (actions, _) = control.apply(
            SinkRequests {
                pause: BTreeSet::from([tp(0)]),
                ..SinkRequests::default()
            },
            |_, _| {},
        );
        assert_eq!(actions.pause, vec![tp(0)]);
        let admitted = control.admit(vec![message(0, 1), message(1, 1), message(0, 2)], 0);
        assert_eq!(offsets(&admitted), vec![(1, 1)]);
        let (actions, released) = control.apply(
            SinkRequests {
                resume: BTreeSet::from([tp(0)]),
                ..SinkRequests::default()
            },
            |_, _| {},
        );
        assert_eq!(actions.resume, vec![tp(0)]);
        assert_eq!(offsets(&released), vec![(0, 1), (0, 2)]);
        // Resuming a partition that is not paused does nothing.
        let (actions, released) = control.apply(
            SinkRequests {
                resume: BTreeSet::from([tp(0)]),
                ..SinkRequests::default()
            },
            |_, _| {},
        );
        assert!(actions.resume.is_empty() && released.is_empty());
    }

    #[test]
    fn revoked_partitions_are_forgotten() {
        let mut control = PartitionControl::default();
        control.apply(
            SinkRequests {
                pause: BTreeSet::from([tp(0)]),
                ..SinkRequests::default()
            },
            |_, _| {},
        );
        control.admit(vec![message(0, 1)], 0);
        control.revoke(&[tp(0)]);
        let admitted = control.admit(vec![message(0, 5)], 0);
        assert_eq!(offsets(&admitted), vec![(0, 5)]);
    }
}
