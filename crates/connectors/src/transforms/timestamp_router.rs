//! `TimestampRouter`: the topic becomes `topic.format` with `${topic}` and `${timestamp}`
//! (the record timestamp in `timestamp.format`, UTC) replaced.

use std::sync::Mutex;

use crate::converters::java::MILLIS_PER_DAY;
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
    /// The last routed topic, for a format whose text changes once a day at most: a stream's
    /// records of one day and topic share it instead of formatting the date per record.
    last_route_opt: Option<Mutex<Option<Route>>>,
}

/// A topic routed for every instant of one UTC day.
struct Route {
    day: i64,
    topic: String,
    routed: String,
}

impl TimestampRouter {
    /// Kafka Connect's `topicFormat.replace("${topic}", topic).replace("${timestamp}", ts)`.
    fn route(&self, topic: &str, timestamp: i64) -> String {
        let formatted = self.timestamp_format.format(timestamp);
        let with_topic = self.topic_format.replace("${topic}", topic);
        with_topic.replace("${timestamp}", &formatted)
    }
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
        let Some(last_route) = &self.last_route_opt else {
            record.topic = self.route(&record.topic, timestamp);
            return Ok(Some(record));
        };
        let day = timestamp.div_euclid(MILLIS_PER_DAY);
        let mut last = last_route.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_mut() {
            Some(route) if route.day == day && route.topic == record.topic => {
                record.topic.clone_from(&route.routed);
            }
            _ => {
                let routed = self.route(&record.topic, timestamp);
                let topic = std::mem::replace(&mut record.topic, routed.clone());
                *last = Some(Route { day, topic, routed });
            }
        }
        Ok(Some(record))
    }
}

/// Builds the transform.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    let pattern = config.get(TIMESTAMP_FORMAT).unwrap_or("yyyyMMdd");
    let timestamp_format = JavaDateFormat::new(pattern)
        .map_err(|error| BuildError::invalid(TIMESTAMP_FORMAT, pattern, &error))?;
    let last_route_opt = timestamp_format.is_day_granular().then(|| Mutex::new(None));
    Ok(Box::new(TimestampRouter {
        last_route_opt,
        topic_format: config
            .get(TOPIC_FORMAT)
            .unwrap_or("${topic}-${timestamp}")
            .to_string(),
        timestamp_format,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sdk::SchemaAndValue;

    fn router(timestamp_format: &str) -> Box<dyn Transformation> {
        let config: BTreeMap<String, String> = [
            (TOPIC_FORMAT, "${topic}-${timestamp}"),
            (TIMESTAMP_FORMAT, timestamp_format),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        build(&ConfigValues::from_raw(config)).unwrap()
    }

    fn routed(router: &dyn Transformation, topic: &str, timestamp: i64) -> String {
        let record = TransformRecord {
            topic: topic.to_string(),
            kafka_partition: Some(0),
            kafka_offset: Some(0),
            timestamp: Some(timestamp),
            key: SchemaAndValue::null(),
            value: SchemaAndValue::null(),
            headers: Vec::new(),
        };
        router.apply(record).unwrap().unwrap().topic
    }

    #[test]
    fn the_cached_day_follows_the_record_timestamp_and_topic() {
        let daily = router("yyyyMMdd");
        let hourly = router("yyyyMMdd-HH");
        // 2026-12-02T23:59:59.999Z, then the next millisecond, then back (out of order).
        let last_millisecond = 1_796_255_999_999;
        let cases = [
            (
                "orders",
                last_millisecond,
                "orders-20261202",
                "orders-20261202-23",
            ),
            (
                "orders",
                last_millisecond + 1,
                "orders-20261203",
                "orders-20261203-00",
            ),
            (
                "users",
                last_millisecond + 1,
                "users-20261203",
                "users-20261203-00",
            ),
            (
                "orders",
                last_millisecond - 3_600_000,
                "orders-20261202",
                "orders-20261202-22",
            ),
            ("orders", -1, "orders-19691231", "orders-19691231-23"),
        ];
        for (topic, timestamp, day_topic, hour_topic) in cases {
            assert_eq!(routed(&*daily, topic, timestamp), day_topic);
            assert_eq!(routed(&*hourly, topic, timestamp), hour_topic);
        }
    }

    #[test]
    fn only_formats_without_time_of_day_fields_are_day_granular() {
        for (pattern, daily) in [
            ("yyyyMMdd", true),
            ("yyyy-MM-dd'T'Z EEE G D", true),
            ("yyyyMMdd-HH", false),
            ("a", false),
            ("'HH'", true),
            ("SSS", false),
        ] {
            let format = JavaDateFormat::new(pattern).unwrap();
            assert_eq!(format.is_day_granular(), daily, "{pattern}");
        }
    }
}
