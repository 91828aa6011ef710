//! Partitioners (the directory under `<topics.dir>/<topic>/` an object goes to) and timestamp
//! extractors, as Confluent's storage-common names and computes them.

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::joda::{instant_in, JodaPattern};
use crate::sdk::{SinkRecord, Value};

/// `io.confluent.connect.storage.partitioner.DefaultPartitioner`.
pub(crate) const DEFAULT_PARTITIONER: &str =
    "io.confluent.connect.storage.partitioner.DefaultPartitioner";
/// `io.confluent.connect.storage.partitioner.TimeBasedPartitioner`.
pub(crate) const TIME_BASED_PARTITIONER: &str =
    "io.confluent.connect.storage.partitioner.TimeBasedPartitioner";
/// `io.confluent.connect.storage.partitioner.HourlyPartitioner`.
pub(crate) const HOURLY_PARTITIONER: &str =
    "io.confluent.connect.storage.partitioner.HourlyPartitioner";
/// `io.confluent.connect.storage.partitioner.DailyPartitioner`.
pub(crate) const DAILY_PARTITIONER: &str =
    "io.confluent.connect.storage.partitioner.DailyPartitioner";

const HOURLY_PATH: &str = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";
const DAILY_PATH: &str = "'year'=YYYY/'month'=MM/'day'=dd";
const HOUR_MS: i64 = 3_600_000;

/// Which partitioner class a `partitioner.class` value names (full or simple name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionerKind {
    Default,
    TimeBased,
    Hourly,
    Daily,
}

impl PartitionerKind {
    /// Resolves a class name; `None` for classes Ferry does not have.
    pub(crate) fn from_class(class: &str) -> Option<Self> {
        let class = class.trim();
        let simple = class.rsplit('.').next().unwrap_or(class);
        let known = [
            (DEFAULT_PARTITIONER, PartitionerKind::Default),
            (TIME_BASED_PARTITIONER, PartitionerKind::TimeBased),
            (HOURLY_PARTITIONER, PartitionerKind::Hourly),
            (DAILY_PARTITIONER, PartitionerKind::Daily),
        ];
        known.into_iter().find_map(|(name, kind)| {
            let known_simple = name.rsplit('.').next().unwrap_or(name);
            (class == name || (class == simple && simple == known_simple)).then_some(kind)
        })
    }

    /// Every supported class, for error messages.
    pub(crate) fn class_list() -> String {
        [
            DEFAULT_PARTITIONER,
            TIME_BASED_PARTITIONER,
            HOURLY_PARTITIONER,
            DAILY_PARTITIONER,
        ]
        .join(", ")
    }
}

/// Where a record's time comes from (`timestamp.extractor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimestampExtractor {
    /// The worker's clock when the record is written.
    Wallclock,
    /// The Kafka record's timestamp.
    Record,
    /// A field of the value (`timestamp.field`, dots for nested fields).
    RecordField(Vec<String>),
}

impl TimestampExtractor {
    /// Builds an extractor from `timestamp.extractor` and `timestamp.field`.
    ///
    /// # Errors
    /// The reason, for an unknown extractor.
    pub(crate) fn from_config(extractor: &str, field: &str) -> Result<Self, String> {
        // `Record`, or Confluent's class `...TimeBasedPartitioner$RecordTimestampExtractor`.
        let simple = extractor
            .trim()
            .rsplit(['.', '$'])
            .next()
            .unwrap_or_default();
        let simple = simple.strip_suffix("TimestampExtractor").unwrap_or(simple);
        match simple.to_ascii_lowercase().as_str() {
            "wallclock" => Ok(TimestampExtractor::Wallclock),
            "record" => Ok(TimestampExtractor::Record),
            "recordfield" => Ok(TimestampExtractor::RecordField(
                field.split('.').map(str::to_string).collect(),
            )),
            _ => Err("must be Wallclock, Record or RecordField".to_string()),
        }
    }

    /// Returns true when the time depends on when the record is processed (not on the record).
    pub(crate) fn is_wallclock(&self) -> bool {
        matches!(self, TimestampExtractor::Wallclock)
    }

    /// Returns the record's time in milliseconds since the epoch.
    ///
    /// # Errors
    /// Why the record has no usable time (the caller adds where the record is).
    pub(crate) fn extract(&self, record: &SinkRecord, now_ms: i64) -> Result<i64, String> {
        match self {
            TimestampExtractor::Wallclock => Ok(now_ms),
            TimestampExtractor::Record => record.timestamp.ok_or_else(|| {
                "the record has no timestamp (timestamp.extractor=Record)".to_string()
            }),
            TimestampExtractor::RecordField(path) => {
                let mut value = &record.value.value;
                for name in path {
                    value = field_of(value, name).ok_or_else(|| {
                        format!(
                            "the value has no field \"{}\" (timestamp.field)",
                            path.join(".")
                        )
                    })?;
                }
                timestamp_of(value).ok_or_else(|| {
                    format!(
                        "field \"{}\" is not a timestamp: expected milliseconds, a Timestamp/Date or an ISO-8601 string",
                        path.join(".")
                    )
                })
            }
        }
    }
}

fn field_of<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Struct(fields) => fields.get(name),
        Value::Map(entries) => entries
            .iter()
            .find(|(key, _)| key.as_str() == Some(name))
            .map(|(_, item)| item),
        _ => None,
    }
}

fn timestamp_of(value: &Value) -> Option<i64> {
    match value {
        Value::Int8(number) => Some(i64::from(*number)),
        Value::Int16(number) => Some(i64::from(*number)),
        Value::Int32(number) => Some(i64::from(*number)),
        Value::Int64(number) | Value::Timestamp(number) => Some(*number),
        Value::Date(days) => Some(i64::from(*days) * 86_400_000),
        Value::String(text) => text.trim().parse::<i64>().ok().or_else(|| {
            DateTime::parse_from_rfc3339(text.trim())
                .ok()
                .map(|time| time.timestamp_millis())
        }),
        _ => None,
    }
}

/// Computes a record's encoded partition: the path under `<topics.dir>/<topic>/`.
#[derive(Debug, Clone)]
pub(crate) enum Partitioner {
    /// `partition=<kafka partition>`.
    Default,
    /// `path.format` of the start of the `partition.duration.ms` bucket holding the record's
    /// time, bucketed in local time of `zone` (as Confluent's TimeBasedPartitioner does).
    TimeBased {
        duration_ms: i64,
        pattern: JodaPattern,
        zone: Tz,
    },
}

impl Partitioner {
    /// Builds a time-based partitioner; Hourly and Daily fix the duration and path.
    ///
    /// # Errors
    /// `(key, message)` for the first invalid setting.
    pub(crate) fn time_based(
        kind: PartitionerKind,
        duration_ms: i64,
        path_format: &str,
        locale: &str,
        timezone: &str,
    ) -> Result<Self, (&'static str, String)> {
        let (duration_ms, path_format) = match kind {
            PartitionerKind::Hourly => (HOUR_MS, HOURLY_PATH),
            PartitionerKind::Daily => (24 * HOUR_MS, DAILY_PATH),
            PartitionerKind::TimeBased | PartitionerKind::Default => (duration_ms, path_format),
        };
        if duration_ms <= 0 {
            return Err((
                super::PARTITION_DURATION_MS_CONFIG,
                "Partition duration needs to be a positive number of milliseconds".to_string(),
            ));
        }
        if path_format.trim().is_empty() {
            return Err((
                super::PATH_FORMAT_CONFIG,
                "Path format cannot be empty".to_string(),
            ));
        }
        let pattern = JodaPattern::parse(path_format)
            .map_err(|reason| (super::PATH_FORMAT_CONFIG, reason))?;
        let locale = locale.trim();
        if locale.is_empty() {
            return Err((super::LOCALE_CONFIG, "Locale cannot be empty".to_string()));
        }
        let english = locale == "en" || locale.starts_with("en_") || locale.starts_with("en-");
        if pattern.has_text_fields() && !english {
            return Err((
                super::LOCALE_CONFIG,
                format!("path.format prints month, weekday or zone names, which Ferry writes only in English; use numeric fields or an English locale (not {locale})"),
            ));
        }
        let zone = parse_zone(timezone).map_err(|reason| (super::TIMEZONE_CONFIG, reason))?;
        Ok(Partitioner::TimeBased {
            duration_ms,
            pattern,
            zone,
        })
    }

    /// Returns the encoded partition of a record of Kafka partition `partition` whose time is
    /// `timestamp_ms`.
    ///
    /// # Errors
    /// When the time cannot be represented (out of chrono's range).
    pub(crate) fn encode(&self, partition: i32, timestamp_ms: i64) -> Result<String, String> {
        match self {
            Partitioner::Default => Ok(format!("partition={partition}")),
            Partitioner::TimeBased {
                duration_ms,
                pattern,
                zone,
            } => {
                let out_of_range = || format!("timestamp {timestamp_ms} is out of range");
                let instant = instant_in(*zone, timestamp_ms).ok_or_else(out_of_range)?;
                let offset_ms = i64::from(instant.offset().fix().local_minus_utc()) * 1000;
                let bucket_local =
                    (timestamp_ms + offset_ms).div_euclid(*duration_ms) * duration_ms;
                let naive = DateTime::from_timestamp_millis(bucket_local)
                    .ok_or_else(out_of_range)?
                    .naive_utc();
                let start = match zone.from_local_datetime(&naive).earliest() {
                    Some(start) => start,
                    // The bucket starts in a daylight-saving gap: use the offset before it, as
                    // Joda's lenient local-to-UTC conversion does.
                    None => {
                        zone.from_utc_datetime(&(naive - chrono::Duration::milliseconds(offset_ms)))
                    }
                };
                Ok(pattern.format(&start))
            }
        }
    }

    /// Returns true when the partitioner uses record times at all.
    pub(crate) fn is_time_based(&self) -> bool {
        matches!(self, Partitioner::TimeBased { .. })
    }
}

/// Parses an IANA zone id (`UTC`, `Europe/Paris`, ...).
///
/// # Errors
/// The reason, for an empty or unknown id.
pub(crate) fn parse_zone(timezone: &str) -> Result<Tz, String> {
    let timezone = timezone.trim();
    if timezone.is_empty() {
        return Err("Timezone cannot be empty".to_string());
    }
    timezone.parse::<Tz>().map_err(|_| {
        format!("unknown time zone \"{timezone}\": use an IANA id such as UTC or Europe/Paris")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{Schema, SchemaAndValue};

    fn record(timestamp: Option<i64>, value: Value) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 3,
            kafka_offset: 42,
            timestamp,
            key: SchemaAndValue::null(),
            value: SchemaAndValue::schemaless(value),
            headers: Vec::new(),
            original_opt: None,
        }
    }

    fn hourly(zone: &str) -> Partitioner {
        Partitioner::time_based(PartitionerKind::Hourly, 0, "", "en-US", zone).unwrap()
    }

    #[test]
    fn default_partitioner_names_the_kafka_partition() {
        assert_eq!(Partitioner::Default.encode(7, 0).unwrap(), "partition=7");
    }

    #[test]
    fn hourly_buckets_in_local_time() {
        // 2024-03-05T07:59:59.999Z and 08:00:00Z.
        let before = 1_709_625_599_999;
        assert_eq!(
            hourly("UTC").encode(0, before).unwrap(),
            "year=2024/month=03/day=05/hour=07"
        );
        assert_eq!(
            hourly("UTC").encode(0, before + 1).unwrap(),
            "year=2024/month=03/day=05/hour=08"
        );
        // India is UTC+05:30: the hour bucket follows local hours, not UTC ones.
        assert_eq!(
            hourly("Asia/Kolkata").encode(0, before).unwrap(),
            "year=2024/month=03/day=05/hour=13"
        );
    }

    #[test]
    fn custom_duration_and_format() {
        let partitioner = Partitioner::time_based(
            PartitionerKind::TimeBased,
            15 * 60 * 1000,
            "'dt'=YYYY-MM-dd/'t'=HHmm",
            "en",
            "America/New_York",
        )
        .unwrap();
        // 2024-07-01T12:44:00Z = 08:44 EDT → bucket 08:30.
        assert_eq!(
            partitioner.encode(0, 1_719_837_840_000).unwrap(),
            "dt=2024-07-01/t=0830"
        );
    }

    #[test]
    fn daily_in_a_zone_uses_the_local_date() {
        // 2024-03-05T23:30:00Z is already March 6th in Tokyo.
        let daily =
            Partitioner::time_based(PartitionerKind::Daily, 0, "", "ja_JP", "Asia/Tokyo").unwrap();
        assert_eq!(
            daily.encode(0, 1_709_681_400_000).unwrap(),
            "year=2024/month=03/day=06"
        );
    }

    #[test]
    fn time_based_settings_are_checked() {
        let check = |duration: i64, path: &str, locale: &str, zone: &str| {
            Partitioner::time_based(PartitionerKind::TimeBased, duration, path, locale, zone)
                .unwrap_err()
                .0
        };
        assert_eq!(check(-1, "YYYY", "en", "UTC"), "partition.duration.ms");
        assert_eq!(check(1000, "", "en", "UTC"), "path.format");
        assert_eq!(check(1000, "YYYY/qq", "en", "UTC"), "path.format");
        assert_eq!(check(1000, "YYYY", "", "UTC"), "locale");
        assert_eq!(check(1000, "MMMM", "fr_FR", "UTC"), "locale");
        assert_eq!(check(1000, "YYYY", "en", ""), "timezone");
        assert_eq!(check(1000, "YYYY", "en", "Mars/Olympus"), "timezone");
    }

    #[test]
    fn classes_resolve_by_full_or_simple_name() {
        assert_eq!(
            PartitionerKind::from_class(DEFAULT_PARTITIONER),
            Some(PartitionerKind::Default)
        );
        assert_eq!(
            PartitionerKind::from_class("TimeBasedPartitioner"),
            Some(PartitionerKind::TimeBased)
        );
        assert_eq!(
            PartitionerKind::from_class(
                "io.confluent.connect.storage.partitioner.FieldPartitioner"
            ),
            None
        );
    }

    #[test]
    fn extractors() {
        let now = 1_000;
        let plain = record(Some(5), Value::Null);
        assert_eq!(TimestampExtractor::Wallclock.extract(&plain, now), Ok(now));
        assert_eq!(TimestampExtractor::Record.extract(&plain, now), Ok(5));
        assert!(TimestampExtractor::Record
            .extract(&record(None, Value::Null), now)
            .unwrap_err()
            .contains("no timestamp"));

        let field = TimestampExtractor::from_config("RecordField", "meta.ts").unwrap();
        let nested = |ts: Value| {
            Value::Map(vec![(
                Value::String("meta".into()),
                Value::Map(vec![(Value::String("ts".into()), ts)]),
            )])
        };
        assert_eq!(
            field.extract(&record(None, nested(Value::Int64(77))), now),
            Ok(77)
        );
        assert_eq!(
            field.extract(
                &record(
                    None,
                    nested(Value::String("2024-03-05T07:08:09.123Z".into()))
                ),
                now
            ),
            Ok(1_709_622_489_123)
        );
        assert!(field
            .extract(&record(None, nested(Value::Boolean(true))), now)
            .unwrap_err()
            .contains("not a timestamp"));
        assert!(field
            .extract(&record(None, Value::Null), now)
            .unwrap_err()
            .contains("no field \"meta.ts\""));

        let schema = Schema::structure(None, vec![("ts", Schema::timestamp())]);
        let structure = Value::Struct(crate::sdk::Struct {
            schema: std::sync::Arc::new(schema),
            values: vec![Value::Timestamp(9)],
        });
        let top = TimestampExtractor::from_config(
            "io.confluent.connect.storage.partitioner.TimeBasedPartitioner$RecordFieldTimestampExtractor",
            "ts",
        );
        assert_eq!(top.unwrap().extract(&record(None, structure), now), Ok(9));
        assert!(TimestampExtractor::from_config("Bogus", "ts").is_err());
    }
}
