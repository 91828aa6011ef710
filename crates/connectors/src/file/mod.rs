//! FileStreamSource and FileStreamSink, with Kafka Connect's class names, keys and offsets.
//!
//! - The source tails one file and emits each line as a STRING value; its source partition is
//!   `{"filename": <file>}` and its offset `{"position": <byte after the line>}`, exactly Kafka
//!   Connect's keys, so stored offsets are interchangeable.
//! - The sink appends each record's value as a line (whole lines, under an exclusive `flock`)
//!   and fsyncs in `flush`; a torn last line a crash left is cut off when the file is opened.
//!
//! Differences from Kafka Connect (documented choices):
//! - `file` must be set: Ferry runs connectors inside a shared worker, so reading standard input
//!   or writing standard output is refused with a clear validation error on `file`.
//! - A missing source file is waited for (the task keeps polling and returns empty batches), as
//!   Kafka Connect does; it is not an error.
//! - A source file shorter than the stored position (truncated or replaced) is read again from
//!   the start, with a warning.

mod sink;
mod source;
#[cfg(test)]
mod tests;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, ConnectorError, ConnectorFactory,
    ConnectorType, Importance, SinkTask, SourceTask, TaskConfig, TaskContext, Validator,
};

pub(crate) use sink::FileStreamSinkTask;
pub(crate) use source::FileStreamSourceTask;

/// The `file` key: the path to read or write.
pub(crate) const FILE_CONFIG: &str = "file";
/// The source's `topic` key: the single topic to write lines to.
pub(crate) const TOPIC_CONFIG: &str = "topic";
/// The source's `batch.size` key: the most lines returned by one poll.
pub(crate) const BATCH_SIZE_CONFIG: &str = "batch.size";
/// Default of `batch.size`, as in Kafka Connect.
pub(crate) const DEFAULT_BATCH_SIZE: i64 = 2000;

/// Source partition key holding the file name (Kafka Connect's `FILENAME_FIELD`).
pub(crate) const FILENAME_FIELD: &str = "filename";
/// Source offset key holding the byte position (Kafka Connect's `POSITION_FIELD`).
pub(crate) const POSITION_FIELD: &str = "position";

const GROUP: &str = "File";

/// `org.apache.kafka.connect.file.FileStreamSourceConnector`.
pub struct FileStreamSourceFactory;
/// `org.apache.kafka.connect.file.FileStreamSinkConnector`.
pub struct FileStreamSinkFactory;

/// Checks Kafka Connect's rule that the source writes to exactly one, non-empty topic.
fn check_single_topic(raw: &str) -> Result<(), String> {
    let topic = raw.trim();
    if topic.is_empty() {
        return Err("String must be non-empty".to_string());
    }
    if topic.contains(',') {
        return Err(
            "'topic' in FileStreamSourceConnector configuration requires definition of a single topic"
                .to_string(),
        );
    }
    Ok(())
}

fn file_key(documentation: &str) -> ConfigKey {
    ConfigKey::new(
        FILE_CONFIG,
        ConfigType::String,
        Importance::High,
        documentation,
    )
    .default_null()
    .group(GROUP, 1)
    .display_name("File")
}

/// The `(key, message)` error when `file` is unset or blank (standard streams are refused).
fn require_file(config: &ConfigValues, stream: &str) -> Vec<(String, String)> {
    let set = config
        .get(FILE_CONFIG)
        .is_some_and(|file| !file.trim().is_empty());
    if set {
        Vec::new()
    } else {
        vec![(
            FILE_CONFIG.to_string(),
            format!(
                "Missing configuration \"{FILE_CONFIG}\": Ferry does not use the worker's {stream}; set \"{FILE_CONFIG}\" to a path"
            ),
        )]
    }
}

/// Returns the trimmed `file` value, or a user error when it is unset.
fn file_path(config: &ConfigValues) -> Result<String, ConnectorError> {
    match config.get(FILE_CONFIG).map(str::trim) {
        Some(file) if !file.is_empty() => Ok(file.to_string()),
        _ => Err(ConnectorError::user(format!(
            "Missing configuration \"{FILE_CONFIG}\": standard streams are not supported"
        ))),
    }
}

impl ConnectorFactory for FileStreamSourceFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["org.apache.kafka.connect.file.FileStreamSourceConnector"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["FileStreamSource"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn task_class(&self) -> Option<&'static str> {
        Some("org.apache.kafka.connect.file.FileStreamSourceTask")
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(file_key(
                "Source filename. If not specified, the standard input will be used (not supported by Ferry).",
            ))
            .define(
                ConfigKey::new(
                    TOPIC_CONFIG,
                    ConfigType::String,
                    Importance::High,
                    "The topic to publish data to",
                )
                .validator(Validator::Custom(check_single_topic))
                .group(GROUP, 2)
                .display_name("Topic"),
            )
            .define(
                ConfigKey::new(
                    BATCH_SIZE_CONFIG,
                    ConfigType::Int,
                    Importance::Low,
                    "The maximum number of records the source task can read from the file each time it is polled",
                )
                .default_value(&DEFAULT_BATCH_SIZE.to_string())
                .validator(Validator::AtLeast(1.0))
                .group(GROUP, 3)
                .display_name("Batch size"),
            )
    }

    /// As Kafka Connect's `FileStreamSourceConnector`: supported when reading a file (its
    /// offset is tracked; the file must only be appended to), not when reading stdin.
    fn exactly_once_support(
        &self,
        props: &std::collections::BTreeMap<String, String>,
    ) -> crate::sdk::framework::ExactlyOnceSupport {
        if props
            .get(FILE_CONFIG)
            .is_some_and(|file| !file.trim().is_empty())
        {
            crate::sdk::framework::ExactlyOnceSupport::Supported
        } else {
            crate::sdk::framework::ExactlyOnceSupport::Unsupported
        }
    }

    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        require_file(config, "standard input")
    }

    /// One task, whatever `tasks.max` says (a file is read sequentially), as Kafka Connect does.
    fn task_configs(
        &self,
        config: &ConfigValues,
        _max_tasks: usize,
    ) -> Result<Vec<TaskConfig>, ConnectorError> {
        Ok(vec![config.as_map().clone()])
    }

    fn create_source_task(
        &self,
        context: TaskContext,
    ) -> Result<Box<dyn SourceTask>, ConnectorError> {
        let config = self.parse_task_config(&context)?;
        let path = file_path(&config)?;
        let topic = config.string(TOPIC_CONFIG)?.trim().to_string();
        let batch_size = usize::try_from(config.long(BATCH_SIZE_CONFIG)?)
            .map_err(|_| ConnectorError::user("batch.size must be at least 1"))?
            .max(1);
        Ok(Box::new(FileStreamSourceTask::new(
            path, topic, batch_size, &context,
        )))
    }
}

impl ConnectorFactory for FileStreamSinkFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["org.apache.kafka.connect.file.FileStreamSinkConnector"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["FileStreamSink"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }

    fn task_class(&self) -> Option<&'static str> {
        Some("org.apache.kafka.connect.file.FileStreamSinkTask")
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(file_key(
            "Destination filename. If not specified, the standard output will be used (not supported by Ferry).",
        ))
    }

    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        require_file(config, "standard output")
    }

    /// `tasks.max` identical configs, as Kafka Connect does (every task appends to the file).
    fn create_sink_task(&self, context: TaskContext) -> Result<Box<dyn SinkTask>, ConnectorError> {
        let config = self.parse_task_config(&context)?;
        Ok(Box::new(FileStreamSinkTask::new(file_path(&config)?)))
    }
}
