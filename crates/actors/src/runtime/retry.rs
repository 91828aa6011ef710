//! Retriable failures of a sink task, retried in place (Kafka Connect's `RetriableException`
//! from `put`): the task keeps its consumer and its assignment, waits a capped exponential
//! backoff, and is delivered again everything after what it made durable. Retries go on
//! indefinitely unless `errors.retry.timeout` is set to a positive value; then a failure that
//! lasts longer fails the task (a `Fatal` error), as Kafka Connect does. They are not counted
//! toward the worker's `task.restart.max.failures`: the task stays RUNNING, with the last error
//! as its `trace` and the number of retries in its status, and in `/metrics`
//! (`ferry_task_retries_total`, `ferry_task_retrying`).
//!
//! Only `External` errors are retried here; every other kind leaves the sink loop and goes to
//! the worker's supervisor ([`crate::worker`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::{ConnectorError, RetryReporter, TaskConfig, TopicPartition};
use tokio::time::Instant;

/// The first delay (Kafka Connect's `RETRIES_DELAY_MIN_MS`).
const INITIAL_DELAY: Duration = Duration::from_millis(300);
/// The longest delay (or `errors.retry.delay.max.ms` when smaller; its default of 60 s is in
/// every task config, so it cannot tell a user's choice): short, so that a pipeline resumes
/// within a few seconds of the server's return. Kafka Connect itself retries a put's
/// `RetriableException` at the next poll, or after `context.timeout`.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// How a task retries retriable failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `errors.retry.timeout` when positive; `None` retries forever (unset, 0 or -1).
    pub timeout_opt: Option<Duration>,
    /// 5 s, or `errors.retry.delay.max.ms` when smaller.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Reads the policy from a task config.
    ///
    /// # Errors
    /// A user error naming `errors.retry.timeout` or `errors.retry.delay.max.ms` when it is
    /// not a number.
    pub fn from_config(config: &TaskConfig) -> Result<Self, ConnectorError> {
        let long = |key: &str| -> Result<Option<i64>, ConnectorError> {
            match config.get(key).map(|value| value.trim()) {
                None | Some("") => Ok(None),
                Some(value) => value.parse::<i64>().map(Some).map_err(|_| {
                    ConnectorError::user(format!(
                        "Invalid value {value} for configuration {key}: Not a number of type LONG"
                    ))
                }),
            }
        };
        let timeout_opt = long(keys::ERRORS_RETRY_TIMEOUT)?
            .filter(|ms| *ms > 0)
            .map(|ms| Duration::from_millis(ms.unsigned_abs()));
        let max_delay = long(keys::ERRORS_RETRY_DELAY_MAX_MS)?
            .map_or(MAX_DELAY, |ms| Duration::from_millis(ms.unsigned_abs()))
            .clamp(Duration::from_millis(1), MAX_DELAY);
        Ok(RetryPolicy {
            timeout_opt,
            max_delay,
        })
    }

    /// Returns the delay before retry number `attempt` (1 for the first): 300 ms doubled per
    /// attempt, at most `max_delay`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(20);
        INITIAL_DELAY.saturating_mul(1 << shift).min(self.max_delay)
    }
}

/// A change the worker writes into the task's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryNotice {
    /// A retriable failure is being retried: RUNNING, `trace` = the error.
    Retrying { retries: u64, error: String },
    /// The retried call succeeded: RUNNING, no `trace`.
    Recovered { retries: u64 },
}

/// Where a task's [`RetryNotice`]s go (the worker actor).
pub type RetryNotifier = Arc<dyn Fn(RetryNotice) + Send + Sync>;

#[derive(Debug, Default)]
struct Outage {
    /// When the current run of failures began (`None`: not retrying).
    since_opt: Option<Instant>,
    /// Failures in the current run.
    attempts: u32,
    /// Retries since the task started.
    total: u64,
}

/// The retries of one task: the policy, the current outage, its metrics and status notices.
pub struct TaskRetries {
    policy: RetryPolicy,
    outage: Mutex<Outage>,
    retries_total: metrics::Counter,
    retrying: metrics::Gauge,
    notify: RetryNotifier,
}

impl TaskRetries {
    /// The retries of task `<connector>-<index>`.
    pub fn new(policy: RetryPolicy, connector: &str, index: u32, notify: RetryNotifier) -> Self {
        let labels = [
            ("connector", connector.to_string()),
            ("task", index.to_string()),
        ];
        TaskRetries {
            policy,
            outage: Mutex::new(Outage::default()),
            retries_total: metrics::counter!(crate::metric_names::TASK_RETRIES_TOTAL, &labels),
            retrying: metrics::gauge!(crate::metric_names::TASK_RETRYING, &labels),
            notify,
        }
    }

    /// The retries of the task `spec`, with its `errors.retry.*` policy, reporting to the worker.
    ///
    /// # Errors
    /// A user error naming an `errors.retry.*` key that is not a number.
    pub(crate) fn for_task(spec: &super::TaskSpec) -> Result<Self, ConnectorError> {
        Ok(TaskRetries::new(
            RetryPolicy::from_config(&spec.config)?,
            &spec.connector,
            spec.index,
            Arc::clone(&spec.retry_notifier),
        ))
    }

    /// Returns the policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Takes a failure: returns how long to wait before the next attempt.
    ///
    /// # Errors
    /// The error itself when it is not retriable here (not `External`); a `Fatal` error when
    /// the failures have lasted longer than `errors.retry.timeout`.
    pub fn absorb(&self, error: ConnectorError) -> Result<Duration, ConnectorError> {
        if !error.is_retriable_external() {
            return Err(error);
        }
        let (delay, total) = {
            let mut outage = self.outage.lock().expect("retry lock is never poisoned");
            let now = Instant::now();
            let since = *outage.since_opt.get_or_insert(now);
            if let Some(timeout) = self.policy.timeout_opt {
                if now.saturating_duration_since(since) >= timeout {
                    let attempts = outage.attempts;
                    *outage = Outage {
                        total: outage.total,
                        ..Outage::default()
                    };
                    self.retrying.set(0.0);
                    return Err(ConnectorError::fatal(format!(
                        "retries stopped after {} ms (errors.retry.timeout) and {attempts} attempts: {}",
                        timeout.as_millis(),
                        error.message
                    )));
                }
            }
            outage.attempts = outage.attempts.saturating_add(1);
            outage.total += 1;
            (self.policy.delay(outage.attempts), outage.total)
        };
        self.retries_total.increment(1);
        self.retrying.set(1.0);
        tracing::warn!(retries = total, delay_ms = delay.as_millis(), error = %error.message, "retriable failure; retrying in place");
        (self.notify)(RetryNotice::Retrying {
            retries: total,
            error: format!("{:?} error: {}", error.kind, error.message),
        });
        Ok(delay)
    }

    /// The sink made new records durable (or, for a task retrying by itself, the call that
    /// failed succeeded): the outage is over (cheap when there was none).
    pub fn succeeded(&self) {
        let total = {
            let mut outage = self.outage.lock().expect("retry lock is never poisoned");
            let Some(since) = outage.since_opt.take() else {
                return;
            };
            tracing::info!(
                retries = outage.attempts,
                outage_ms = since.elapsed().as_millis(),
                "recovered from a retriable failure"
            );
            outage.attempts = 0;
            outage.total
        };
        self.retrying.set(0.0);
        (self.notify)(RetryNotice::Recovered { retries: total });
    }
}

/// A plugin task retries its own `RetriableException`s (same batch again); it reports them here.
impl RetryReporter for TaskRetries {
    fn retrying(&self, error: &ConnectorError) -> Result<(), ConnectorError> {
        self.absorb(error.clone()).map(|_| ())
    }

    fn recovered(&self) {
        self.succeeded();
    }
}

/// Per partition, where a redelivery starts: the offset after what the task made durable (what
/// `pre_commit` returned), or the first offset it was handed since the partition was assigned
/// or rewound. A retriable failure rewinds every partition here, so nothing past the durable
/// point is ever skipped.
#[derive(Debug, Default)]
pub(crate) struct ReplayPoints {
    from: BTreeMap<TopicPartition, i64>,
}

impl ReplayPoints {
    /// Notes a batch about to be put: `(topic, partition, offset)` in the order polled. Touches
    /// the records only when a partition is new (once per assignment or rewind).
    pub(crate) fn note_batch<'m>(
        &mut self,
        partitions: impl Iterator<Item = &'m TopicPartition>,
        mut records: impl FnMut() -> Vec<(TopicPartition, i64)>,
    ) {
        let mut new = false;
        for tp in partitions {
            new |= !self.from.contains_key(tp);
        }
        if !new {
            return;
        }
        for (tp, offset) in records() {
            self.from.entry(tp).or_insert(offset);
        }
    }

    /// Notes what the task made durable; returns true when a partition got further than
    /// before (records became durable: the sink works again).
    pub(crate) fn note_durable(&mut self, committable: &BTreeMap<TopicPartition, i64>) -> bool {
        let mut advanced = false;
        for (tp, offset) in committable {
            match self.from.get_mut(tp) {
                Some(from) if *from >= *offset => {}
                Some(from) => {
                    *from = *offset;
                    advanced = true;
                }
                None => {
                    self.from.insert(tp.clone(), *offset);
                    advanced = true;
                }
            }
        }
        advanced
    }

    /// Notes a rewind: the partition goes on from `offset`.
    pub(crate) fn rewound(&mut self, tp: &TopicPartition, offset: i64) {
        self.from.insert(tp.clone(), offset);
    }

    /// Forgets revoked partitions.
    pub(crate) fn forget(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.from.remove(tp);
        }
    }

    /// Returns where each partition's redelivery starts.
    pub(crate) fn points(&self) -> &BTreeMap<TopicPartition, i64> {
        &self.from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> TaskConfig {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect()
    }

    fn retries(pairs: &[(&str, &str)]) -> (TaskRetries, Arc<Mutex<Vec<RetryNotice>>>) {
        let notices = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&notices);
        let notify: RetryNotifier = Arc::new(move |notice| sink.lock().unwrap().push(notice));
        let policy = RetryPolicy::from_config(&config(pairs)).unwrap();
        (TaskRetries::new(policy, "c", 0, notify), notices)
    }

    #[test]
    fn by_default_retries_never_stop_and_back_off_to_five_seconds() {
        let policy = RetryPolicy::from_config(&config(&[])).unwrap();
        assert_eq!(policy.timeout_opt, None);
        assert_eq!(policy.delay(1), Duration::from_millis(300));
        assert_eq!(policy.delay(2), Duration::from_millis(600));
        assert_eq!(policy.delay(5), Duration::from_millis(4_800));
        assert_eq!(policy.delay(6), Duration::from_secs(5));
        assert_eq!(policy.delay(1_000), Duration::from_secs(5));
        // The framework's default (60 s) is in every task config: still 5 s.
        let policy =
            RetryPolicy::from_config(&config(&[("errors.retry.delay.max.ms", "60000")])).unwrap();
        assert_eq!(policy.delay(100), Duration::from_secs(5));
        for unbounded in ["0", "-1"] {
            let policy =
                RetryPolicy::from_config(&config(&[("errors.retry.timeout", unbounded)])).unwrap();
            assert_eq!(policy.timeout_opt, None, "{unbounded}");
        }
        let policy = RetryPolicy::from_config(&config(&[
            ("errors.retry.timeout", "30000"),
            ("errors.retry.delay.max.ms", "1000"),
        ]))
        .unwrap();
        assert_eq!(policy.timeout_opt, Some(Duration::from_secs(30)));
        assert_eq!(policy.delay(10), Duration::from_secs(1));
    }

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".to_string(),
            partition,
        }
    }

    #[test]
    fn replay_starts_after_the_durable_point_or_at_the_first_record_handed() {
        let mut replay = ReplayPoints::default();
        let batch = vec![(tp(0), 10), (tp(0), 11), (tp(1), 4)];
        let parts = [tp(0), tp(1)];
        replay.note_batch(parts.iter(), || batch.clone());
        assert_eq!(replay.points()[&tp(0)], 10);
        assert_eq!(replay.points()[&tp(1)], 4);
        // Known partitions: the records are not looked at.
        replay.note_batch(parts.iter(), || panic!("records read for known partitions"));
        assert!(replay.note_durable(&BTreeMap::from([(tp(0), 12)])));
        assert_eq!(replay.points()[&tp(0)], 12);
        // A sink that made less (or nothing more) durable never moves the point back, and that
        // is no sign of recovery.
        assert!(!replay.note_durable(&BTreeMap::from([(tp(0), 11)])));
        assert!(!replay.note_durable(&BTreeMap::from([(tp(0), 12), (tp(1), 4)])));
        assert_eq!(replay.points()[&tp(0)], 12);
        replay.rewound(&tp(1), 2);
        assert_eq!(replay.points()[&tp(1)], 2);
        replay.forget(&[tp(0)]);
        assert!(!replay.points().contains_key(&tp(0)));
    }

    #[test]
    fn a_bad_number_names_the_key() {
        let error =
            RetryPolicy::from_config(&config(&[("errors.retry.timeout", "soon")])).unwrap_err();
        assert!(error.message.contains("errors.retry.timeout"), "{error}");
    }

    #[tokio::test]
    async fn only_external_errors_are_absorbed_and_each_is_reported() {
        let (retries, notices) = retries(&[]);
        let user = retries.absorb(ConnectorError::user("bad")).unwrap_err();
        assert_eq!(user.message, "bad");
        let local = retries
            .absorb(ConnectorError::local("disk full"))
            .unwrap_err();
        assert_eq!(local.message, "disk full");
        assert_eq!(
            retries.absorb(ConnectorError::external("down")).unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(
            retries.absorb(ConnectorError::external("down")).unwrap(),
            Duration::from_millis(600)
        );
        retries.succeeded();
        retries.succeeded();
        assert_eq!(
            retries
                .absorb(ConnectorError::external("down again"))
                .unwrap(),
            Duration::from_millis(300),
            "a new outage starts from the first delay"
        );
        let notices = notices.lock().unwrap().clone();
        assert_eq!(
            notices,
            vec![
                RetryNotice::Retrying {
                    retries: 1,
                    error: "External error: down".to_string()
                },
                RetryNotice::Retrying {
                    retries: 2,
                    error: "External error: down".to_string()
                },
                RetryNotice::Recovered { retries: 2 },
                RetryNotice::Retrying {
                    retries: 3,
                    error: "External error: down again".to_string()
                },
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn errors_retry_timeout_ends_an_outage_with_a_fatal_error() {
        let (retries, _) = retries(&[("errors.retry.timeout", "2000")]);
        retries.absorb(ConnectorError::external("down")).unwrap();
        tokio::time::advance(Duration::from_millis(1_500)).await;
        retries.absorb(ConnectorError::external("down")).unwrap();
        tokio::time::advance(Duration::from_millis(600)).await;
        let error = retries
            .absorb(ConnectorError::external("down"))
            .unwrap_err();
        assert_eq!(error.kind, ferry_connectors::sdk::ErrorKind::Fatal);
        assert!(
            error.message.contains("errors.retry.timeout") && error.message.contains("down"),
            "{error}"
        );
    }
}
