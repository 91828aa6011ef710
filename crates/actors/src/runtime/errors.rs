//! Error handling as Kafka Connect defines it (KIP-298): `errors.tolerance`, retries of
//! retriable failures (`errors.retry.timeout`, `errors.retry.delay.max.ms`) and the log
//! reporter (`errors.log.enable`, `errors.log.include.messages`). The dead-letter queue is in
//! [`super::dlq`].
//!
//! [`ErrorHandler::execute`] runs one stage of one record (a conversion, a transformation) the
//! way Kafka Connect's `RetryWithToleranceOperator` does:
//! - a retriable failure (an `External` error) is retried with exponential backoff from 300 ms,
//!   each delay at most `errors.retry.delay.max.ms`, until `errors.retry.timeout` has passed
//!   (0: no retry, -1: forever);
//! - converter and transformation stages tolerate any failure, other stages only retriable ones;
//! - a tolerated failure under `errors.tolerance=all` is reported (logged when
//!   `errors.log.enable`) and handed back so the caller skips the record and dead-letters it;
//!   under `none`, or for a failure the stage does not tolerate, it fails the task.
//!
//! Log lines carry the stage, the executing class and (with `errors.log.include.messages`) where
//! the record came from; never a connector's config, so no secret reaches the log.

use std::time::Duration;

use tokio::time::Instant;

use ferry_connectors::sdk::framework::keys;
use ferry_connectors::sdk::{ConnectorError, ErrorKind, SourceRecord, TaskConfig};
use rand::Rng;

/// The first retry delay (Kafka Connect's `RETRIES_DELAY_MIN_MS`).
const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

/// Where in the pipeline an operation runs (Kafka Connect's `Stage`; its name goes into the
/// `__connect.errors.stage` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    TaskPoll,
    TaskPut,
    Transformation,
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    /// Returns Kafka Connect's name of the stage (`VALUE_CONVERTER`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Stage::TaskPoll => "TASK_POLL",
            Stage::TaskPut => "TASK_PUT",
            Stage::Transformation => "TRANSFORMATION",
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }

    /// Converters and transformations tolerate every failure; other stages only retriable ones.
    fn tolerates_every_failure(self) -> bool {
        matches!(
            self,
            Stage::Transformation
                | Stage::KeyConverter
                | Stage::ValueConverter
                | Stage::HeaderConverter
        )
    }
}

/// A connector's `errors.*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPolicy {
    /// `errors.tolerance=all`.
    pub tolerate_all: bool,
    /// `errors.retry.timeout`; `None` retries forever (-1).
    pub retry_timeout_opt: Option<Duration>,
    /// `errors.retry.delay.max.ms`.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub log_enable: bool,
    /// `errors.log.include.messages`.
    pub log_include_messages: bool,
    /// `errors.deadletterqueue.topic.name` (trimmed; `None` when empty).
    pub dlq_topic_opt: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor`.
    pub dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dlq_context_headers: bool,
}

impl ErrorPolicy {
    /// Reads the policy from a (validated) task config; unset keys take Kafka Connect's defaults.
    ///
    /// # Errors
    /// A user error naming a key whose value is not valid.
    pub fn from_config(config: &TaskConfig) -> Result<Self, ConnectorError> {
        let text = |key: &str| config.get(key).map(|value| value.trim());
        let boolean = |key: &str| -> Result<bool, ConnectorError> {
            match text(key) {
                None => Ok(false),
                Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
                Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
                Some(value) => Err(ConnectorError::user(format!(
                    "Invalid value {value} for configuration {key}: Expected value to be either true or false"
                ))),
            }
        };
        let long = |key: &str, default: i64| -> Result<i64, ConnectorError> {
            match text(key) {
                None => Ok(default),
                Some(value) => value.parse::<i64>().map_err(|_| {
                    ConnectorError::user(format!(
                        "Invalid value {value} for configuration {key}: Not a number of type LONG"
                    ))
                }),
            }
        };
        let tolerate_all = match text(keys::ERRORS_TOLERANCE) {
            None => false,
            Some(value) if value.eq_ignore_ascii_case("none") => false,
            Some(value) if value.eq_ignore_ascii_case("all") => true,
            Some(value) => {
                return Err(ConnectorError::user(format!(
                    "Invalid value {value} for configuration {}: String must be one of: none, all",
                    keys::ERRORS_TOLERANCE
                )))
            }
        };
        let retry_timeout_ms = long(keys::ERRORS_RETRY_TIMEOUT, 0)?;
        let retry_timeout_opt = if retry_timeout_ms < 0 {
            None
        } else {
            Some(Duration::from_millis(retry_timeout_ms.unsigned_abs()))
        };
        let retry_delay_max =
            Duration::from_millis(long(keys::ERRORS_RETRY_DELAY_MAX_MS, 60_000)?.unsigned_abs());
        let dlq_topic_opt = text(keys::DLQ_TOPIC_NAME)
            .filter(|topic| !topic.is_empty())
            .map(str::to_string);
        let replication = long(keys::DLQ_REPLICATION_FACTOR, 3)?;
        let dlq_replication_factor = i16::try_from(replication).map_err(|_| {
            ConnectorError::user(format!(
                "Invalid value {replication} for configuration {}: Not a number of type SHORT",
                keys::DLQ_REPLICATION_FACTOR
            ))
        })?;
        Ok(ErrorPolicy {
            tolerate_all,
            retry_timeout_opt,
            retry_delay_max,
            log_enable: boolean(keys::ERRORS_LOG_ENABLE)?,
            log_include_messages: boolean(keys::ERRORS_LOG_INCLUDE_MESSAGES)?,
            dlq_topic_opt,
            dlq_replication_factor,
            dlq_context_headers: boolean(keys::DLQ_CONTEXT_HEADERS_ENABLE)?,
        })
    }
}

/// The record an operation works on, for error context.
#[derive(Debug, Clone, Copy)]
pub enum RecordRef<'a> {
    /// A record a sink read from Kafka.
    Consumed {
        topic: &'a str,
        partition: i32,
        offset: i64,
        timestamp_opt: Option<i64>,
    },
    /// A record a source task returned (before transformations).
    Source(&'a SourceRecord),
}

impl RecordRef<'_> {
    /// Returns Kafka Connect's description of the record for the error log.
    fn describe(&self) -> String {
        match self {
            RecordRef::Consumed {
                topic,
                partition,
                offset,
                timestamp_opt,
            } => {
                let mut text =
                    format!("{{topic='{topic}', partition={partition}, offset={offset}");
                if let Some(timestamp) = timestamp_opt {
                    text.push_str(&format!(", timestamp={timestamp}, timestampType=CreateTime"));
                }
                text.push('}');
                format!(", where consumed record is {text}")
            }
            RecordRef::Source(record) => format!(
                ", where source record is = SourceRecord{{sourcePartition={}, sourceOffset={}}} ConnectRecord{{topic='{}', kafkaPartition={}, key={:?}, value={:?}, timestamp={}}}",
                serde_json::Value::Object(record.source_partition.clone()),
                serde_json::Value::Object(record.source_offset.clone()),
                record.topic,
                record.kafka_partition.map_or("null".to_string(), |p| p.to_string()),
                record.key.value,
                record.value.value,
                record.timestamp.map_or("null".to_string(), |t| t.to_string()),
            ),
        }
    }
}

/// A failure the policy tolerated: the caller skips the record and dead-letters it.
#[derive(Debug, Clone)]
pub struct ToleratedFailure {
    pub stage: Stage,
    /// The class that failed (a converter's or transformation's Java class name, or the task's).
    pub executing_class: String,
    pub error: ConnectorError,
    /// Attempts made, retries included.
    pub attempts: u32,
}

/// How an operation failed.
#[derive(Debug, Clone)]
pub enum StageFailure {
    /// Tolerated (`errors.tolerance=all`): skip the record and dead-letter it.
    Tolerated(ToleratedFailure),
    /// A tolerable failure under `errors.tolerance=none`: `error` fails the task; `failure`
    /// describes it for the dead-letter queue.
    ToleranceExceeded {
        failure: ToleratedFailure,
        error: ConnectorError,
    },
    /// A failure the stage never tolerates (a non-retriable put-time error).
    Unhandled(ConnectorError),
}

/// The error that fails a task when `errors.tolerance=none` meets a failure: Kafka Connect's
/// "Tolerance exceeded in error handler", plus the stage and class (the log line's words), so
/// the task's trace says where the record failed.
pub fn tolerance_exceeded(
    stage: Stage,
    executing_class: &str,
    error: &ConnectorError,
) -> ConnectorError {
    ConnectorError {
        kind: error.kind,
        message: format!(
            "Tolerance exceeded in error handler (stage '{}', class '{executing_class}'): {}",
            stage.name(),
            error.message
        ),
    }
}

/// Applies a connector's [`ErrorPolicy`] to the operations of one task.
pub struct ErrorHandler {
    policy: ErrorPolicy,
    task_id: String,
    skipped: metrics::Counter,
}

impl ErrorHandler {
    /// A handler for task `<connector>-<index>`.
    pub fn new(policy: ErrorPolicy, connector: &str, index: u32) -> Self {
        ErrorHandler {
            policy,
            task_id: format!("{connector}-{index}"),
            skipped: metrics::counter!(
                crate::metric_names::TASK_RECORDS_SKIPPED_TOTAL,
                "connector" => connector.to_string(),
                "task" => index.to_string()
            ),
        }
    }

    /// Returns the policy.
    pub fn policy(&self) -> &ErrorPolicy {
        &self.policy
    }

    /// Runs `operation` for `record` at `stage`, retrying retriable failures; returns its value,
    /// or the tolerated failure (the record is to be skipped and dead-lettered).
    ///
    /// # Errors
    /// The failure, when the policy does not tolerate it (`errors.tolerance=none`, or a
    /// non-retriable failure outside the converter and transformation stages). Its message is
    /// the operation's, which names the record's topic, partition and offset.
    pub async fn execute<T>(
        &self,
        stage: Stage,
        executing_class: &str,
        record: RecordRef<'_>,
        operation: impl FnMut() -> Result<T, ConnectorError>,
    ) -> Result<Result<T, ToleratedFailure>, ConnectorError> {
        match self
            .execute_classified(stage, executing_class, record, operation)
            .await
        {
            Ok(value) => Ok(Ok(value)),
            Err(StageFailure::Tolerated(failure)) => Ok(Err(failure)),
            Err(StageFailure::ToleranceExceeded { error, .. } | StageFailure::Unhandled(error)) => {
                Err(error)
            }
        }
    }

    /// [`ErrorHandler::execute`], telling apart a failure that exceeded `errors.tolerance=none`
    /// (which a sink still dead-letters before failing, as Kafka Connect does).
    ///
    /// # Errors
    /// Every failure, classified.
    pub async fn execute_classified<T>(
        &self,
        stage: Stage,
        executing_class: &str,
        record: RecordRef<'_>,
        mut operation: impl FnMut() -> Result<T, ConnectorError>,
    ) -> Result<T, StageFailure> {
        // Read the clock only once something failed: this runs for every record's key, value
        // and headers. The retry timeout counts from the first failure (Kafka Connect's from
        // the first attempt; an attempt that fails takes microseconds here).
        let mut started_opt: Option<Instant> = None;
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let error = match operation() {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let started = *started_opt.get_or_insert_with(Instant::now);
            if error.kind == ErrorKind::External {
                if let Some(delay) = self.next_retry_delay(attempts, started) {
                    tracing::debug!(task = %self.task_id, stage = stage.name(), attempts, "retrying a retriable failure");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            if !stage.tolerates_every_failure() && error.kind != ErrorKind::External {
                self.log(stage, executing_class, record, &error);
                return Err(StageFailure::Unhandled(error));
            }
            let failure = ToleratedFailure {
                stage,
                executing_class: executing_class.to_string(),
                error: error.clone(),
                attempts,
            };
            return match self.execute_failed(stage, executing_class, record, error, attempts) {
                Ok(tolerated) => Err(StageFailure::Tolerated(tolerated)),
                Err(exceeded) => Err(StageFailure::ToleranceExceeded {
                    failure,
                    error: exceeded,
                }),
            };
        }
    }

    /// Applies the tolerance to a failure (Kafka Connect's `executeFailed`, also the path of an
    /// errant record a sink reported): logs it and returns it when `errors.tolerance=all`.
    ///
    /// # Errors
    /// The failure, under `errors.tolerance=none`.
    pub fn execute_failed(
        &self,
        stage: Stage,
        executing_class: &str,
        record: RecordRef<'_>,
        error: ConnectorError,
        attempts: u32,
    ) -> Result<ToleratedFailure, ConnectorError> {
        self.log(stage, executing_class, record, &error);
        if !self.policy.tolerate_all {
            return Err(tolerance_exceeded(stage, executing_class, &error));
        }
        self.skipped.increment(1);
        if !self.policy.log_enable {
            tracing::debug!(task = %self.task_id, stage = stage.name(), "skipping a record (errors.tolerance=all)");
        }
        Ok(ToleratedFailure {
            stage,
            executing_class: executing_class.to_string(),
            error,
            attempts,
        })
    }

    /// Kafka Connect's `LogReporter`: one error line per failure when `errors.log.enable`.
    fn log(
        &self,
        stage: Stage,
        executing_class: &str,
        record: RecordRef<'_>,
        error: &ConnectorError,
    ) {
        if !self.policy.log_enable {
            return;
        }
        let where_from = if self.policy.log_include_messages {
            record.describe()
        } else {
            String::new()
        };
        tracing::error!(
            task = %self.task_id,
            error = %error,
            "Error encountered in task {}. Executing stage '{}' with class '{executing_class}'{where_from}.",
            self.task_id,
            stage.name()
        );
    }

    /// Returns how long to wait before the next attempt, or `None` when retries are over
    /// (Kafka Connect's backoff: 300 ms doubled per attempt; past the maximum, a random delay
    /// below it; never past the deadline).
    fn next_retry_delay(&self, attempts: u32, started: Instant) -> Option<Duration> {
        let elapsed = started.elapsed();
        let remaining_opt = match self.policy.retry_timeout_opt {
            None => None,
            Some(timeout) if elapsed >= timeout => return None,
            Some(timeout) => Some(timeout - elapsed),
        };
        let shift = attempts.saturating_sub(1).min(20);
        let mut delay = RETRY_DELAY_MIN.saturating_mul(1 << shift);
        if delay > self.policy.retry_delay_max {
            let max_ms = u64::try_from(self.policy.retry_delay_max.as_millis()).unwrap_or(u64::MAX);
            delay = Duration::from_millis(rand::rng().random_range(0..max_ms.max(1)));
        }
        if let Some(remaining) = remaining_opt {
            delay = delay.min(remaining);
        }
        Some(delay)
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

    fn handler(pairs: &[(&str, &str)]) -> ErrorHandler {
        ErrorHandler::new(ErrorPolicy::from_config(&config(pairs)).unwrap(), "c", 0)
    }

    const RECORD: RecordRef<'static> = RecordRef::Consumed {
        topic: "t",
        partition: 2,
        offset: 7,
        timestamp_opt: Some(1),
    };

    #[test]
    fn the_policy_takes_kafka_connects_defaults() {
        let policy = ErrorPolicy::from_config(&config(&[])).unwrap();
        assert!(!policy.tolerate_all && !policy.log_enable && !policy.dlq_context_headers);
        assert_eq!(policy.retry_timeout_opt, Some(Duration::ZERO));
        assert_eq!(policy.retry_delay_max, Duration::from_secs(60));
        assert_eq!(policy.dlq_topic_opt, None);
        assert_eq!(policy.dlq_replication_factor, 3);
        let forever = ErrorPolicy::from_config(&config(&[("errors.retry.timeout", "-1")])).unwrap();
        assert_eq!(forever.retry_timeout_opt, None);
    }

    #[tokio::test]
    async fn tolerance_none_fails_on_the_first_conversion_error_with_its_message() {
        let handler = handler(&[]);
        let error = handler
            .execute(Stage::ValueConverter, "JsonConverter", RECORD, || {
                Err::<(), _>(ConnectorError::user(
                    "bad record at topic t partition 2 offset 7",
                ))
            })
            .await
            .unwrap_err();
        assert_eq!(
            error.message,
            "Tolerance exceeded in error handler (stage 'VALUE_CONVERTER', class 'JsonConverter'): bad record at topic t partition 2 offset 7"
        );
    }

    #[tokio::test]
    async fn tolerance_all_hands_back_the_failure_of_a_converter() {
        let handler = handler(&[("errors.tolerance", "all")]);
        let failure = handler
            .execute(Stage::KeyConverter, "K", RECORD, || {
                Err::<(), _>(ConnectorError::user("bad"))
            })
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!((failure.stage, failure.attempts), (Stage::KeyConverter, 1));
        assert_eq!(failure.executing_class, "K");
    }

    #[tokio::test]
    async fn a_non_retriable_put_failure_is_not_tolerated_even_under_all() {
        let handler = handler(&[("errors.tolerance", "all")]);
        let error = handler
            .execute(Stage::TaskPut, "T", RECORD, || {
                Err::<(), _>(ConnectorError::user("refused"))
            })
            .await
            .unwrap_err();
        assert_eq!(error.message, "refused");
        let reported = handler
            .execute_failed(
                Stage::TaskPut,
                "T",
                RECORD,
                ConnectorError::user("refused"),
                1,
            )
            .unwrap();
        assert_eq!(reported.stage, Stage::TaskPut);
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_failures_are_retried_until_the_timeout() {
        let handler = handler(&[
            ("errors.retry.timeout", "2000"),
            ("errors.retry.delay.max.ms", "500"),
        ]);
        let mut calls = 0;
        let value = handler
            .execute(Stage::Transformation, "X", RECORD, || {
                calls += 1;
                if calls < 3 {
                    Err(ConnectorError::external("busy"))
                } else {
                    Ok(calls)
                }
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value, 3);

        let started = tokio::time::Instant::now();
        let mut attempts = 0;
        let error = handler
            .execute(Stage::Transformation, "X", RECORD, || {
                attempts += 1;
                Err::<(), _>(ConnectorError::external("always busy"))
            })
            .await
            .unwrap_err();
        assert!(error.message.contains("always busy"));
        assert!(attempts > 2, "{attempts} attempts");
        assert!(started.elapsed() >= Duration::from_secs(2));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn without_a_retry_timeout_a_retriable_failure_is_not_retried() {
        let handler = handler(&[("errors.tolerance", "all")]);
        let mut attempts = 0;
        let failure = handler
            .execute(Stage::ValueConverter, "X", RECORD, || {
                attempts += 1;
                Err::<(), _>(ConnectorError::external("busy"))
            })
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!((attempts, failure.attempts), (1, 1));
    }
}
