//! The connector SDK.
//!
//! # Contract (every connector MUST follow it)
//! - A connector is a [`ConnectorFactory`]: it declares its config keys in a [`ConfigDef`], lists
//!   the Java class names of the Kafka Connect connectors it replaces (so users' JSON works
//!   unchanged) plus short aliases, and splits its work into at most `tasks.max` task configs.
//! - `ConnectorFactory::validate` and `task_configs` MUST NOT do I/O.
//! - A [`SinkTask`] MUST make records durable in `flush` (or `pre_commit`) before returning: the
//!   runtime commits the consumer offsets it returns, and only those.
//! - A [`SourceTask`] returns records with their source partition and offset; the runtime stores
//!   an offset only after Kafka acknowledged every record up to it. On restart the task reads its
//!   position back through [`TaskContext::offset`].
//! - `SourceTask::poll` MAY be dropped mid-way when the task is stopped; the task instance is then
//!   discarded, and the next instance resumes from the last stored offset.
//! - Errors are typed ([`ErrorKind`]): `User` errors (bad config, bad data) are not retried.

pub mod config;
pub mod converter;
pub mod data;
pub mod errant;
pub mod error;
pub mod framework;
#[cfg(test)]
mod framework_audit;
pub mod record;
pub mod secret;
pub mod sink_context;
pub mod source_batch;
pub mod topic_creation;
pub mod unsupported;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

pub use config::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, DefaultValue, Importance, Validator,
};
pub use converter::{Converter, HeaderConverter};
pub use data::{Decimal, Field, Schema, SchemaAndValue, SchemaType, Struct, Value};
pub use errant::{ErrantRecord, ErrantRecordReporter};
pub use error::{ConnectorError, ConversionError, ErrorKind};
pub use record::{
    Header, SinkRecord, SourceOffset, SourcePartition, SourceRecord, TopicPartition,
    TransactionRequest,
};
pub use secret::{is_secret_config_key, Secret};
pub use sink_context::{SinkControl, SinkRequests};
pub use source_batch::{Line, LineBatch, SourceBatch};

/// Source or sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectorType {
    Source,
    Sink,
}

impl ConnectorType {
    /// Returns `source` or `sink`, as Kafka Connect's REST API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        }
    }
}

/// A task's configuration map (the connector's config plus task-specific keys).
pub type TaskConfig = BTreeMap<String, String>;

/// Reads the stored offset of a source partition.
pub trait OffsetReader: Send + Sync {
    /// Returns the last stored offset of `partition`, if any.
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset>;
}

/// What a task is given when it is created.
#[derive(Clone)]
pub struct TaskContext {
    pub connector_name: String,
    pub task_index: u32,
    pub config: ConfigValues,
    offset_reader: Arc<dyn OffsetReader>,
    errant_reporter_opt: Option<Arc<dyn ErrantRecordReporter>>,
    sink_control_opt: Option<Arc<SinkControl>>,
    retry_reporter_opt: Option<Arc<dyn RetryReporter>>,
}

/// Where a task that retries a retriable failure itself (a plugin's `RetriableException` from
/// `put`) tells the runtime, so that the task's status and metrics show it.
pub trait RetryReporter: Send + Sync {
    /// A retriable failure; returns the error that fails the task when retries are over
    /// (`errors.retry.timeout`).
    ///
    /// # Errors
    /// The failure as a `Fatal` error once `errors.retry.timeout` has passed.
    fn retrying(&self, error: &ConnectorError) -> Result<(), ConnectorError>;

    /// The call that failed before succeeded.
    fn recovered(&self);
}

impl TaskContext {
    /// Creates a context.
    pub fn new(
        connector_name: String,
        task_index: u32,
        config: ConfigValues,
        offset_reader: Arc<dyn OffsetReader>,
    ) -> Self {
        TaskContext {
            connector_name,
            task_index,
            config,
            offset_reader,
            errant_reporter_opt: None,
            sink_control_opt: None,
            retry_reporter_opt: None,
        }
    }

    /// Gives the task the runtime's retry reporter.
    #[must_use]
    pub fn with_retry_reporter(mut self, reporter: Arc<dyn RetryReporter>) -> Self {
        self.retry_reporter_opt = Some(reporter);
        self
    }

    /// Returns the retry reporter, if the runtime gave one (it does for every sink task).
    pub fn retry_reporter(&self) -> Option<Arc<dyn RetryReporter>> {
        self.retry_reporter_opt.clone()
    }

    /// Gives a sink task the runtime's consumer control (rewind, pause, resume, commit).
    #[must_use]
    pub fn with_sink_control(mut self, control: Arc<SinkControl>) -> Self {
        self.sink_control_opt = Some(control);
        self
    }

    /// Returns the sink control, if the runtime gave one (it does for every sink task).
    pub fn sink_control(&self) -> Option<&SinkControl> {
        self.sink_control_opt.as_deref()
    }

    /// Gives a sink task the runtime's errant-record reporter.
    #[must_use]
    pub fn with_errant_reporter(mut self, reporter: Arc<dyn ErrantRecordReporter>) -> Self {
        self.errant_reporter_opt = Some(reporter);
        self
    }

    /// Reports a record the sink skips (`errors.tolerance=all`) so that the runtime logs it and
    /// writes it to the dead-letter queue; does nothing when the runtime gave no reporter.
    pub fn report_errant(&self, topic: &str, partition: i32, offset: i64, error: &str) {
        if let Some(reporter) = &self.errant_reporter_opt {
            reporter.report(ErrantRecord {
                topic: topic.to_string(),
                partition,
                offset,
                error: error.to_string(),
            });
        }
    }

    /// Returns the errant-record reporter, if the runtime gave one.
    pub fn errant_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        self.errant_reporter_opt.clone()
    }

    /// Returns the stored offset of a source partition (source tasks resume from it).
    pub fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.offset_reader.offset(partition)
    }
}

/// An offset reader that knows no offsets (sink tasks, tests).
pub struct NoOffsets;

impl OffsetReader for NoOffsets {
    fn offset(&self, _partition: &SourcePartition) -> Option<SourceOffset> {
        None
    }
}

/// A source task: reads records from an external system.
#[async_trait]
pub trait SourceTask: Send {
    /// Returns the next records; an empty batch when there is nothing new. It should return within
    /// about a second when idle so that the runtime can flush offsets.
    ///
    /// # Errors
    /// A `User` error fails the task; others are retried by the supervisor.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectorError>;

    /// [`SourceTask::poll`] as a [`SourceBatch`]: the runtime calls this one. The default
    /// wraps `poll`; a line-oriented task returns [`SourceBatch::Lines`], which the runtime
    /// converts from its text without a record per line (when no transformation is set).
    ///
    /// # Errors
    /// As [`SourceTask::poll`].
    async fn poll_batch(&mut self) -> Result<SourceBatch, ConnectorError> {
        Ok(SourceBatch::Records(self.poll().await?))
    }

    /// Returns true when the task wants [`SourceTask::acknowledged`] calls (Kafka Connect's
    /// `commitRecord(record, metadata)`); the runtime then keeps each record's Kafka metadata.
    fn wants_acknowledgements(&self) -> bool {
        false
    }

    /// Kafka acknowledged these records (in acknowledgement order, which is per partition the
    /// produce order). `seq` counts the records this task instance returned from `poll`, from 0.
    ///
    /// # Errors
    /// Fails the task.
    async fn acknowledged(&mut self, _acks: Vec<RecordAck>) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Called after offsets were stored (every record up to them is in Kafka).
    ///
    /// # Errors
    /// Logged; does not fail the task.
    async fn commit(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Releases resources; called once, after the last `poll`.
    async fn stop(&mut self) {}
}

/// What Kafka returned for one produced record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAck {
    /// The record's position among those the task instance returned from `poll`, from 0.
    pub seq: u64,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when Kafka returned none.
    pub timestamp: i64,
}

/// A sink task: writes records to an external system.
#[async_trait]
pub trait SinkTask: Send {
    /// Called when partitions are assigned to this task.
    ///
    /// # Errors
    /// Fails the task.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Writes (or buffers) records.
    ///
    /// # Errors
    /// A `User` error fails the task; others are retried by the supervisor (the records are
    /// delivered again from the last committed offset).
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError>;

    /// Makes everything `put` so far durable.
    ///
    /// # Errors
    /// Nothing is committed; the error is handled like a `put` error.
    async fn flush(&mut self) -> Result<(), ConnectorError>;

    /// Returns the offsets (next offset to read, per partition) that may be committed, given the
    /// offsets of everything `put` so far. The default flushes and returns `current`; a sink that
    /// writes in its own units (e.g. objects) returns less.
    ///
    /// # Errors
    /// Nothing is committed; the error is handled like a `put` error.
    async fn pre_commit(
        &mut self,
        current: BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, i64>, ConnectorError> {
        self.flush().await?;
        Ok(current)
    }

    /// Called when partitions are taken away (after their offsets were committed).
    ///
    /// # Errors
    /// Logged.
    async fn close(&mut self, _partitions: &[TopicPartition]) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Releases resources; called once, at the end.
    async fn stop(&mut self) {}

    /// Whether the task is still usable after an `External` error from `put`, `flush`,
    /// `pre_commit` or `open`: then the runtime retries in place (backoff, `close` + `open`,
    /// redelivery from the last durable offsets). A task that cannot go on after an error
    /// (a plugin whose task ended) returns false and is restarted by the worker instead.
    fn retries_in_place(&self) -> bool {
        true
    }
}

/// A connector plugin: its identity, its config keys, how it splits work, and its tasks.
pub trait ConnectorFactory: Send + Sync + 'static {
    /// Java class names this connector answers to; the first is the one plugin listings show.
    fn class_names(&self) -> &'static [&'static str];

    /// Short aliases (`FileStreamSink`, ...), in addition to the simple class names.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// Source or sink.
    fn connector_type(&self) -> ConnectorType;

    /// The Java class of the Kafka Connect task this connector's tasks replace, when there is
    /// one. The runtime writes it into every task config as `task.class`, as Kafka Connect does:
    /// a Kafka Connect worker reading the same config topic (a cluster rolled back from Ferry)
    /// needs it to start the task.
    fn task_class(&self) -> Option<&'static str> {
        None
    }

    /// The plugin version shown by `GET /connector-plugins`.
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// Returns true when the connector's tasks apply its converters themselves (connectors run
    /// by a plugin process): the runtime then hands them Kafka's bytes as `Value::Bytes` and
    /// produces the bytes they return, without converting.
    fn converts_records(&self) -> bool {
        false
    }

    /// The connector's own config keys (the framework's are added by the runtime).
    fn config_def(&self) -> ConfigDef;

    /// Whether the connector's tasks can give exactly-once delivery with `props` (Kafka
    /// Connect's `SourceConnector.exactlyOnceSupport`): their offsets must let a restarted task
    /// resume exactly after the last committed record. Checked against
    /// `exactly.once.support=required` when the worker enables exactly-once sources. No I/O.
    fn exactly_once_support(
        &self,
        _props: &std::collections::BTreeMap<String, String>,
    ) -> framework::ExactlyOnceSupport {
        framework::ExactlyOnceSupport::Unsupported
    }

    /// The answer validation gets when `exactly.once.support=required`: by default
    /// [`Self::exactly_once_support`]; a plugin asks its process (which may do I/O, as Kafka
    /// Connect's `SourceConnector.exactlyOnceSupport` may).
    fn exactly_once_preflight(
        &self,
        props: &std::collections::BTreeMap<String, String>,
    ) -> framework::PreflightAnswer {
        self.exactly_once_support(props).into()
    }

    /// Whether the connector can define its own transaction boundaries with `props` (Kafka
    /// Connect's `SourceConnector.canDefineTransactionBoundaries`), asked when
    /// `transaction.boundary=connector`. No built-in source can.
    fn transaction_boundaries_preflight(
        &self,
        _props: &std::collections::BTreeMap<String, String>,
    ) -> framework::PreflightAnswer {
        framework::PreflightAnswer::Unsupported
    }

    /// Cross-key checks beyond each key's type and validator, as `(key, message)`. No I/O.
    fn validate(&self, _config: &ConfigValues) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Splits the work into at most `max_tasks` task configs. No I/O. The default gives each of
    /// `max_tasks` tasks the connector's config, which is what a sink wants: its tasks share the
    /// topics' partitions through the consumer group.
    ///
    /// # Errors
    /// A user error when the config cannot be split.
    fn task_configs(
        &self,
        config: &ConfigValues,
        max_tasks: usize,
    ) -> Result<Vec<TaskConfig>, ConnectorError> {
        Ok(vec![config.as_map().clone(); max_tasks])
    }

    /// Parses a task's config with `config_def`, applying defaults.
    ///
    /// # Errors
    /// A user error listing every invalid key.
    fn parse_task_config(&self, context: &TaskContext) -> Result<ConfigValues, ConnectorError> {
        self.config_def()
            .parse(context.config.as_map())
            .map_err(|errors| ConnectorError::user(errors.join("; ")))
    }

    /// Tells the factory which connectors of its class are assigned to this worker and not
    /// stopped (name → config as stored), every time the worker reconciles; an empty map means
    /// none. A connector whose instance does I/O (a plugin connector) starts and stops that
    /// instance here; built-ins plan on the leader and ignore it.
    fn assign_connectors(&self, _connectors: &BTreeMap<String, BTreeMap<String, String>>) {}

    /// Returns true when the connector's task configs come from its instance on the worker the
    /// connector is assigned to (a plugin connector), which sends them to the leader; false when
    /// the leader plans them itself (a built-in, whose `task_configs` does no I/O).
    fn plans_tasks_on_assigned_worker(&self) -> bool {
        false
    }

    /// Creates a source task (source connectors only).
    ///
    /// # Errors
    /// A user error for a bad task config.
    fn create_source_task(
        &self,
        _context: TaskContext,
    ) -> Result<Box<dyn SourceTask>, ConnectorError> {
        Err(ConnectorError::internal("not a source connector"))
    }

    /// Creates a sink task (sink connectors only).
    ///
    /// # Errors
    /// A user error for a bad task config.
    fn create_sink_task(&self, _context: TaskContext) -> Result<Box<dyn SinkTask>, ConnectorError> {
        Err(ConnectorError::internal("not a sink connector"))
    }
}
