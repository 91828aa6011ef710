//! Every metric name, in one place (Prometheus text on `GET /metrics`).

/// Records a task moved: label `direction` is `in` (sink: put into the external system) or `out`
/// (source: acknowledged by Kafka); labels `connector`, `task`.
pub const TASK_RECORDS_TOTAL: &str = "ferry_task_records_total";
/// Seconds a sink's `put` of one batch took; labels `connector`, `task`.
pub const TASK_BATCH_SECONDS: &str = "ferry_task_batch_seconds";
/// Restarts after failures; labels `connector`, `task`.
pub const TASK_RESTARTS_TOTAL: &str = "ferry_task_restarts_total";
/// Retriable failures a task retried in place (not restarts); labels `connector`, `task`.
pub const TASK_RETRIES_TOTAL: &str = "ferry_task_retries_total";
/// 1 while a task retries a retriable failure (its external system is down), else 0; labels
/// `connector`, `task`.
pub const TASK_RETRYING: &str = "ferry_task_retrying";
/// Records produced but not yet acknowledged by Kafka (source) ; labels `connector`, `task`.
pub const TASK_IN_FLIGHT: &str = "ferry_task_in_flight_records";
/// API requests served; labels `api` (`rest`|`grpc`), `method`, `status`.
pub const API_REQUESTS_TOTAL: &str = "ferry_api_requests_total";
/// API request latency in seconds; labels `api`, `method`.
pub const API_REQUEST_SECONDS: &str = "ferry_api_request_seconds";
/// Records a sink's consumer is behind the end of each partition; labels `connector`, `task`,
/// `topic`, `partition`.
pub const TASK_CONSUMER_LAG: &str = "ferry_task_consumer_lag";
/// Records skipped under `errors.tolerance=all` (and dead-lettered when a DLQ is set); labels
/// `connector`, `task`.
pub const TASK_RECORDS_SKIPPED_TOTAL: &str = "ferry_task_records_skipped_total";
/// Records written to a connector's dead-letter queue and acknowledged; labels `connector`,
/// `task`.
pub const TASK_DLQ_RECORDS_TOTAL: &str = "ferry_task_dlq_records_total";
