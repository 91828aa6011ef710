//! What a sink task may ask of the runtime's consumer (Kafka Connect's `SinkTaskContext`):
//! rewind partitions (`offset`), `pause` and `resume` them, and `requestCommit`.
//!
//! A task records its requests on the [`SinkControl`] its [`super::TaskContext`] carries, from
//! any call (`open`, `put`, `pre_commit`); the runtime acts on them when that call returns, as
//! Kafka Connect's `WorkerSinkTask` does:
//! - a rewind makes the consumer read the partition again from the given offset; records of it
//!   that were already fetched are dropped, and the partition's committable position becomes
//!   that offset;
//! - a paused partition gets no more records in `put` (not even those already fetched, which
//!   the runtime holds back) until the task resumes it; it stays paused across flushes and is
//!   forgotten when the partition is revoked;
//! - a commit request makes the runtime flush and commit right after the call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::TopicPartition;

/// The requests a sink task made since the runtime last looked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkRequests {
    /// The next offset to read, per partition to rewind (or move forward).
    pub rewind: BTreeMap<TopicPartition, i64>,
    pub pause: BTreeSet<TopicPartition>,
    pub resume: BTreeSet<TopicPartition>,
    pub request_commit: bool,
}

impl SinkRequests {
    /// Returns true when the task asked for nothing.
    pub fn is_empty(&self) -> bool {
        self.rewind.is_empty()
            && self.pause.is_empty()
            && self.resume.is_empty()
            && !self.request_commit
    }
}

/// A sink task's handle on the runtime's consumer. Cheap, never blocks for long, never fails.
#[derive(Debug, Default)]
pub struct SinkControl {
    requests: Mutex<SinkRequests>,
}

impl SinkControl {
    fn update(&self, change: impl FnOnce(&mut SinkRequests)) {
        change(
            &mut self
                .requests
                .lock()
                .expect("sink control lock is never poisoned"),
        );
    }

    /// Rewinds (or moves) `partition` so that the next record delivered is at `offset`.
    pub fn offset(&self, partition: TopicPartition, offset: i64) {
        self.update(|requests| {
            requests.rewind.insert(partition, offset);
        });
    }

    /// Stops delivering records of `partitions` until [`SinkControl::resume`].
    pub fn pause(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.update(|requests| {
            for partition in partitions {
                requests.resume.remove(&partition);
                requests.pause.insert(partition);
            }
        });
    }

    /// Delivers records of `partitions` again.
    pub fn resume(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.update(|requests| {
            for partition in partitions {
                requests.pause.remove(&partition);
                requests.resume.insert(partition);
            }
        });
    }

    /// Asks the runtime to flush and commit as soon as the current call returns.
    pub fn request_commit(&self) {
        self.update(|requests| requests.request_commit = true);
    }

    /// Returns and clears the pending requests (the runtime's side).
    pub fn take(&self) -> SinkRequests {
        std::mem::take(
            &mut *self
                .requests
                .lock()
                .expect("sink control lock is never poisoned"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".to_string(),
            partition,
        }
    }

    #[test]
    fn the_last_of_pause_and_resume_wins_and_take_clears() {
        let control = SinkControl::default();
        control.pause([tp(0), tp(1)]);
        control.resume([tp(1)]);
        control.offset(tp(0), 5);
        control.offset(tp(0), 3);
        let requests = control.take();
        assert_eq!(requests.pause, BTreeSet::from([tp(0)]));
        assert_eq!(requests.resume, BTreeSet::from([tp(1)]));
        assert_eq!(requests.rewind, BTreeMap::from([(tp(0), 3)]));
        assert!(!requests.request_commit);
        assert!(control.take().is_empty());
    }
}
