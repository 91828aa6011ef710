//! `TimestampRouter`: the topic becomes `topic.format` with `${topic}` and `${timestamp}`
//! (the record timestamp in `timestamp.format`, UTC) replaced.

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance};

use super::java_date::JavaDateFormat;
use super::{BuildError, TransformError, TransformRecord, Transformation};

const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                TOPIC_FORMAT,
                ConfigType::String,
                Importance::High,
                "Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively.",
            )
            .default_value("${topic}-${timestamp}"),
        )
        .define(
            ConfigKey::new(
                TIMESTAMP_FORMAT,
                ConfigType::String,
                Importance::High,
                "Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>.",
            )
            .default_value("yyyyMMdd"),
        )
}

struct TimestampRouter {
    topic_format: String,
    timestamp_format: JavaDateFormat,
}

impl Transformation for TimestampRouter {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let Some(timestamp) = record.timestamp else {
            return Err(TransformError::data(format!(
                "Timestamp missing on record: topic {} partition {:?}",
                record.topic, record.kafka_partition
            )));
        };
        let formatted = self.timestamp_format.format(timestamp);
        let with_topic = self.topic_format.replace("${topic}", &record.topic);
        record.topic = with_topic.replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}

/// Builds the transform.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    let pattern = config.get(TIMESTAMP_FORMAT).unwrap_or("yyyyMMdd");
    let timestamp_format = JavaDateFormat::new(pattern)
        .map_err(|error| BuildError::invalid(TIMESTAMP_FORMAT, pattern, &error))?;
    Ok(Box::new(TimestampRouter {
        topic_format: config
            .get(TOPIC_FORMAT)
            .unwrap_or("${topic}-${timestamp}")
            .to_string(),
        timestamp_format,
    }))
}
