//! The S3 sink, with the class name and keys of Confluent's `io.confluent.connect.s3.S3SinkConnector`
//! (alias `S3Sink`), writing through the `object_store` crate's S3 client.
//!
//! - Objects are named as Confluent names them:
//!   `<topics.dir>/<topic>/<encoded partition>/<topic>+<partition>+<start offset, 10 digits>.<ext>`,
//!   where the encoded partition is `partition=<p>` (DefaultPartitioner) or a formatted time
//!   (TimeBasedPartitioner, HourlyPartitioner, DailyPartitioner).
//! - An object is closed after `flush.size` records, when a record's time passes
//!   `rotate.interval.ms` (or its time partition changes), or at wall-clock boundaries of
//!   `rotate.schedule.interval.ms`. Objects larger than `s3.part.size` go up as multipart uploads
//!   while records arrive.
//! - `pre_commit` offers only offsets of records in uploaded objects; buffered records are
//!   committed later or delivered again. With count- or record-time-based rotation a replay forms
//!   the same objects under the same names (exactly-once in S3; see `writer.rs`).
//! - Formats: JsonFormat (`.json`, one document per line) and ByteArrayFormat (`.bin`).
//! - Credentials: `aws.access.key.id`/`aws.secret.access.key`, else the usual `AWS_*`
//!   environment variables, web identity or instance metadata.
//!
//! Differences from Confluent's connector (documented choices):
//! - `rotate.interval.ms` uses `timestamp.extractor` with every partitioner (Confluent ignores it
//!   unless the partitioner is time-based).
//! - Scheduled rotation is also checked when the runtime asks for offsets to commit (at least
//!   every `offset.flush.interval.ms`), since Ferry does not call `put` with empty batches.
//! - Avro/Parquet formats, FieldPartitioner, compression, SSE and ACL keys are not supported:
//!   the first three are refused with a validation error naming the key.
//! - `path.format` names (months, weekdays, zones) are written in English only; another locale
//!   with such fields is refused.

mod format;
mod joda;
mod partitioner;
mod task;
#[cfg(test)]
mod tests;
mod writer;

use std::time::Duration;

use crate::converters::DecimalFormat;
use crate::sdk::framework::keys;
use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, ConnectorError, ConnectorFactory,
    ConnectorType, Importance, SinkTask, TaskContext, Validator,
};

use format::{FormatKind, RecordFormat};
use partitioner::{Partitioner, PartitionerKind, TimestampExtractor, DEFAULT_PARTITIONER};
use writer::{ObjectNaming, RotationPolicy};

pub(crate) const BUCKET_CONFIG: &str = "s3.bucket.name";
pub(crate) const REGION_CONFIG: &str = "s3.region";
pub(crate) const STORE_URL_CONFIG: &str = "store.url";
pub(crate) const PATH_STYLE_CONFIG: &str = "s3.path.style.access.enabled";
pub(crate) const ACCESS_KEY_ID_CONFIG: &str = "aws.access.key.id";
pub(crate) const SECRET_ACCESS_KEY_CONFIG: &str = "aws.secret.access.key";
pub(crate) const PART_SIZE_CONFIG: &str = "s3.part.size";
pub(crate) const PART_RETRIES_CONFIG: &str = "s3.part.retries";
pub(crate) const RETRY_BACKOFF_MS_CONFIG: &str = "s3.retry.backoff.ms";
pub(crate) const COMPRESSION_TYPE_CONFIG: &str = "s3.compression.type";
pub(crate) const STORAGE_CLASS_CONFIG: &str = "storage.class";
pub(crate) const TOPICS_DIR_CONFIG: &str = "topics.dir";
pub(crate) const DIRECTORY_DELIM_CONFIG: &str = "directory.delim";
pub(crate) const FILE_DELIM_CONFIG: &str = "file.delim";
pub(crate) const ZERO_PAD_WIDTH_CONFIG: &str = "filename.offset.zero.pad.width";
pub(crate) const FLUSH_SIZE_CONFIG: &str = "flush.size";
pub(crate) const ROTATE_INTERVAL_MS_CONFIG: &str = "rotate.interval.ms";
pub(crate) const ROTATE_SCHEDULE_INTERVAL_MS_CONFIG: &str = "rotate.schedule.interval.ms";
pub(crate) const FORMAT_CLASS_CONFIG: &str = "format.class";
pub(crate) const BYTEARRAY_SEPARATOR_CONFIG: &str = "format.bytearray.separator";
pub(crate) const BYTEARRAY_EXTENSION_CONFIG: &str = "format.bytearray.extension";
pub(crate) const JSON_DECIMAL_FORMAT_CONFIG: &str = "json.decimal.format";
pub(crate) const NULL_VALUES_CONFIG: &str = "behavior.on.null.values";
pub(crate) const PARTITIONER_CLASS_CONFIG: &str = "partitioner.class";
pub(crate) const PARTITION_DURATION_MS_CONFIG: &str = "partition.duration.ms";
pub(crate) const PATH_FORMAT_CONFIG: &str = "path.format";
pub(crate) const LOCALE_CONFIG: &str = "locale";
pub(crate) const TIMEZONE_CONFIG: &str = "timezone";
pub(crate) const TIMESTAMP_EXTRACTOR_CONFIG: &str = "timestamp.extractor";
pub(crate) const TIMESTAMP_FIELD_CONFIG: &str = "timestamp.field";

/// Confluent's only storage class for this connector.
const S3_STORAGE_CLASS: &str = "io.confluent.connect.s3.storage.S3Storage";
const DEFAULT_PART_SIZE: i64 = 25 * 1024 * 1024;
const MIN_PART_SIZE: i64 = 5 * 1024 * 1024;

const GROUP_S3: &str = "S3";
const GROUP_STORAGE: &str = "Storage";
const GROUP_FORMAT: &str = "Format";
const GROUP_PARTITIONER: &str = "Partitioner";

/// `io.confluent.connect.s3.S3SinkConnector`.
pub struct S3SinkFactory;

fn check_format_class(raw: &str) -> Result<(), String> {
    match FormatKind::from_class(raw) {
        Some(_) => Ok(()),
        None => Err(format!(
            "Ferry supports {} and {}",
            format::JSON_FORMAT,
            format::BYTE_ARRAY_FORMAT
        )),
    }
}

fn check_partitioner_class(raw: &str) -> Result<(), String> {
    match PartitionerKind::from_class(raw) {
        Some(_) => Ok(()),
        None => Err(format!("Ferry supports {}", PartitionerKind::class_list())),
    }
}

fn check_extractor(raw: &str) -> Result<(), String> {
    TimestampExtractor::from_config(raw, "timestamp").map(|_| ())
}

fn check_storage_class(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    if raw == S3_STORAGE_CLASS || raw == "S3Storage" {
        Ok(())
    } else {
        Err(format!("the only storage class is {S3_STORAGE_CLASS}"))
    }
}

fn check_store_url(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.starts_with("http://") || raw.starts_with("https://") {
        Ok(())
    } else {
        Err("must be an http:// or https:// URL".to_string())
    }
}

fn key(
    name: &str,
    config_type: ConfigType,
    importance: Importance,
    documentation: &str,
    group: (&str, i32),
) -> ConfigKey {
    ConfigKey::new(name, config_type, importance, documentation).group(group.0, group.1)
}

impl S3SinkFactory {
    fn s3_keys(def: ConfigDef) -> ConfigDef {
        def.define(
            key(BUCKET_CONFIG, ConfigType::String, Importance::High, "The S3 Bucket.", (GROUP_S3, 1))
                .validator(Validator::NonEmpty)
                .display_name("S3 Bucket"),
        )
        .define(
            key(REGION_CONFIG, ConfigType::String, Importance::Medium, "The AWS region to be used the connector.", (GROUP_S3, 2))
                .default_value("us-west-2")
                .display_name("AWS region"),
        )
        .define(
            key(STORE_URL_CONFIG, ConfigType::String, Importance::High, "Store's connection URL, if applicable (an S3-compatible endpoint such as http://127.0.0.1:9000).", (GROUP_S3, 3))
                .default_null()
                .validator(Validator::Custom(check_store_url))
                .display_name("Store URL"),
        )
        .define(
            key(PATH_STYLE_CONFIG, ConfigType::Boolean, Importance::Low, "Specifies whether or not to enable path style access to the bucket used by the connector.", (GROUP_S3, 4))
                .default_value("true")
                .display_name("Enable Path Style Access to S3"),
        )
        .define(
            key(ACCESS_KEY_ID_CONFIG, ConfigType::String, Importance::High, "The AWS access key ID; when unset, the usual AWS environment variables, web identity or instance credentials are used.", (GROUP_S3, 5))
                .default_null()
                .display_name("AWS Access Key ID"),
        )
        .define(
            key(SECRET_ACCESS_KEY_CONFIG, ConfigType::Password, Importance::High, "The secret access key used to authorize requests to AWS.", (GROUP_S3, 6))
                .default_null()
                .display_name("AWS Secret Access Key"),
        )
        .define(
            key(PART_SIZE_CONFIG, ConfigType::Int, Importance::High, "The Part Size in S3 Multi-part Uploads.", (GROUP_S3, 7))
                .default_value(&DEFAULT_PART_SIZE.to_string())
                .validator(Validator::Between(MIN_PART_SIZE as f64, f64::from(i32::MAX)))
                .display_name("S3 Part Size"),
        )
        .define(
            key(PART_RETRIES_CONFIG, ConfigType::Int, Importance::Medium, "Maximum number of retry attempts for a failed request to S3, with exponential backoff; after them the task fails and is restarted by the worker.", (GROUP_S3, 8))
                .default_value("3")
                .validator(Validator::AtLeast(0.0))
                .display_name("S3 Part Upload Retries"),
        )
        .define(
            key(RETRY_BACKOFF_MS_CONFIG, ConfigType::Long, Importance::Low, "How long to wait in milliseconds before attempting the first retry of a failed S3 request (doubled on each retry).", (GROUP_S3, 9))
                .default_value("200")
                .validator(Validator::AtLeast(0.0))
                .display_name("Retry Backoff (ms)"),
        )
        .define(
            key(COMPRESSION_TYPE_CONFIG, ConfigType::String, Importance::Low, "Compression type for objects written to S3 (Ferry writes uncompressed objects only).", (GROUP_S3, 10))
                .default_value("none")
                .validator(Validator::OneOf(vec!["none"]))
                .display_name("Compression type"),
        )
    }

    fn storage_keys(def: ConfigDef) -> ConfigDef {
        def.define(
            key(STORAGE_CLASS_CONFIG, ConfigType::Class, Importance::High, "The underlying storage layer.", (GROUP_STORAGE, 1))
                .default_value(S3_STORAGE_CLASS)
                .validator(Validator::Custom(check_storage_class))
                .display_name("Storage Class"),
        )
        .define(
            key(TOPICS_DIR_CONFIG, ConfigType::String, Importance::High, "Top level directory to store the data ingested from Kafka.", (GROUP_STORAGE, 2))
                .default_value("topics")
                .display_name("Topics directory"),
        )
        .define(
            key(DIRECTORY_DELIM_CONFIG, ConfigType::String, Importance::Medium, "Directory delimiter pattern", (GROUP_STORAGE, 3))
                .default_value("/")
                .validator(Validator::NonEmpty)
                .display_name("Directory Delimiter"),
        )
        .define(
            key(FILE_DELIM_CONFIG, ConfigType::String, Importance::Medium, "File delimiter pattern", (GROUP_STORAGE, 4))
                .default_value("+")
                .validator(Validator::NonEmpty)
                .display_name("File Delimiter"),
        )
        .define(
            key(ZERO_PAD_WIDTH_CONFIG, ConfigType::Int, Importance::Low, "Width to zero-pad offsets in store's filenames if offsets are too short in order to provide fixed-width filenames that can be ordered by simple lexicographic sorting.", (GROUP_STORAGE, 5))
                .default_value("10")
                .validator(Validator::Between(0.0, 20.0))
                .display_name("Filename Offset Zero Pad Width"),
        )
        .define(
            key(FLUSH_SIZE_CONFIG, ConfigType::Int, Importance::High, "Number of records written to store before invoking file commits.", (GROUP_STORAGE, 6))
                .validator(Validator::AtLeast(1.0))
                .display_name("Flush Size"),
        )
        .define(
            key(ROTATE_INTERVAL_MS_CONFIG, ConfigType::Long, Importance::High, "The time interval in milliseconds to invoke file commits, measured with timestamp.extractor from the first record of the open file.", (GROUP_STORAGE, 7))
                .default_value("-1")
                .display_name("Rotate Interval (ms)"),
        )
        .define(
            key(ROTATE_SCHEDULE_INTERVAL_MS_CONFIG, ConfigType::Long, Importance::Medium, "The time interval in milliseconds to periodically invoke file commits, on the wall clock (in timezone). Breaks exactly-once delivery.", (GROUP_STORAGE, 8))
                .default_value("-1")
                .display_name("Rotate Schedule Interval (ms)"),
        )
    }

    fn format_keys(def: ConfigDef) -> ConfigDef {
        def.define(
            key(FORMAT_CLASS_CONFIG, ConfigType::Class, Importance::High, "The format class to use when writing data to the store.", (GROUP_FORMAT, 1))
                .validator(Validator::Custom(check_format_class))
                .display_name("Format class"),
        )
        .define(
            key(BYTEARRAY_SEPARATOR_CONFIG, ConfigType::String, Importance::Low, "String inserted between records with ByteArrayFormat. Defaults to a line separator; \\n, \\r, \\t and \\\\ escapes are decoded.", (GROUP_FORMAT, 2))
                .default_null()
                .display_name("Line separator ByteArrayFormat"),
        )
        .define(
            key(BYTEARRAY_EXTENSION_CONFIG, ConfigType::String, Importance::Low, "Output file extension for ByteArrayFormat.", (GROUP_FORMAT, 3))
                .default_value(".bin")
                .display_name("Output extension for ByteArrayFormat"),
        )
        .define(
            key(JSON_DECIMAL_FORMAT_CONFIG, ConfigType::String, Importance::Low, "How JsonFormat writes decimals: BASE64 or NUMERIC.", (GROUP_FORMAT, 4))
                .default_value("BASE64")
                .validator(Validator::OneOf(vec!["BASE64", "NUMERIC"]))
                .display_name("Decimal Format"),
        )
        .define(
            key(NULL_VALUES_CONFIG, ConfigType::String, Importance::Low, "How to handle records with a null value (tombstones): ignore them, or fail the task.", (GROUP_FORMAT, 5))
                .default_value("fail")
                .validator(Validator::OneOf(vec!["ignore", "fail"]))
                .display_name("Behavior for null-valued records"),
        )
    }

    fn partitioner_keys(def: ConfigDef) -> ConfigDef {
        def.define(
            key(PARTITIONER_CLASS_CONFIG, ConfigType::Class, Importance::High, "The partitioner to use when writing data to the store.", (GROUP_PARTITIONER, 1))
                .default_value(DEFAULT_PARTITIONER)
                .validator(Validator::Custom(check_partitioner_class))
                .display_name("Partitioner Class"),
        )
        .define(
            key(PARTITION_DURATION_MS_CONFIG, ConfigType::Long, Importance::Medium, "The duration of a partition milliseconds used by TimeBasedPartitioner.", (GROUP_PARTITIONER, 2))
                .default_value("-1")
                .display_name("Partition Duration (ms)"),
        )
        .define(
            key(PATH_FORMAT_CONFIG, ConfigType::String, Importance::Medium, "This configuration is used to set the format of the data directories when partitioning with TimeBasedPartitioner, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH (Joda-Time pattern).", (GROUP_PARTITIONER, 3))
                .default_value("")
                .display_name("Path Format"),
        )
        .define(
            key(LOCALE_CONFIG, ConfigType::String, Importance::Medium, "The locale to use when partitioning with TimeBasedPartitioner.", (GROUP_PARTITIONER, 4))
                .default_value("")
                .display_name("Locale"),
        )
        .define(
            key(TIMEZONE_CONFIG, ConfigType::String, Importance::Medium, "The timezone to use when partitioning with TimeBasedPartitioner (an IANA id).", (GROUP_PARTITIONER, 5))
                .default_value("")
                .display_name("Timezone"),
        )
        .define(
            key(TIMESTAMP_EXTRACTOR_CONFIG, ConfigType::String, Importance::Medium, "The extractor that gets the timestamp for records: Wallclock, Record or RecordField.", (GROUP_PARTITIONER, 6))
                .default_value("Wallclock")
                .validator(Validator::Custom(check_extractor))
                .display_name("Timestamp Extractor"),
        )
        .define(
            key(TIMESTAMP_FIELD_CONFIG, ConfigType::String, Importance::Medium, "The record field to be used as timestamp by the timestamp extractor (dots for nested fields).", (GROUP_PARTITIONER, 7))
                .default_value("timestamp")
                .display_name("Record Field for Timestamp Extractor"),
        )
    }
}

/// A secret value: `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[hidden]")
    }
}

/// A validated S3 sink configuration.
#[derive(Debug, Clone)]
pub(crate) struct S3SinkConfig {
    pub(crate) bucket: String,
    pub(crate) region: String,
    pub(crate) endpoint_opt: Option<String>,
    pub(crate) path_style: bool,
    /// `aws.access.key.id` and `aws.secret.access.key`.
    pub(crate) access_key_opt: Option<(String, Secret)>,
    pub(crate) part_size: usize,
    pub(crate) part_retries: usize,
    pub(crate) retry_backoff: Duration,
    pub(crate) naming: ObjectNaming,
    pub(crate) rotation: RotationPolicy,
    pub(crate) format: RecordFormat,
    pub(crate) partitioner: Partitioner,
    pub(crate) extractor: TimestampExtractor,
    pub(crate) ignore_null_values: bool,
    /// `errors.tolerance=all`: records that cannot be written are skipped with a warning.
    pub(crate) tolerate_bad_records: bool,
}

/// An invalid setting: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidConfig {
    pub(crate) key: String,
    pub(crate) message: String,
}

impl InvalidConfig {
    fn new(key: &str, message: impl Into<String>) -> Self {
        InvalidConfig {
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Wraps a getter's error (it already names the key).
    fn from_getter(key: &str, error: ConnectorError) -> Self {
        InvalidConfig {
            key: key.to_string(),
            message: error.message,
        }
    }
}

impl From<InvalidConfig> for ConnectorError {
    fn from(invalid: InvalidConfig) -> Self {
        ConnectorError::user(format!(
            "Invalid configuration {}: {}",
            invalid.key, invalid.message
        ))
    }
}

/// Typed reads of values already checked against the factory's ConfigDef.
struct Reader<'a>(&'a ConfigValues);

impl Reader<'_> {
    fn string(&self, key: &str) -> Result<&str, InvalidConfig> {
        self.0
            .string(key)
            .map_err(|error| InvalidConfig::from_getter(key, error))
    }

    fn text(&self, key: &str) -> &str {
        self.0.get(key).unwrap_or_default()
    }

    fn optional(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    }

    fn long(&self, key: &str) -> Result<i64, InvalidConfig> {
        self.0
            .long(key)
            .map_err(|error| InvalidConfig::from_getter(key, error))
    }

    fn positive(&self, key: &str) -> Result<Option<i64>, InvalidConfig> {
        Ok(Some(self.long(key)?).filter(|value| *value > 0))
    }

    fn size(&self, key: &str) -> Result<usize, InvalidConfig> {
        usize::try_from(self.long(key)?)
            .map_err(|_| InvalidConfig::new(key, "must not be negative"))
    }

    fn boolean(&self, key: &str) -> Result<bool, InvalidConfig> {
        self.0
            .boolean(key)
            .map_err(|error| InvalidConfig::from_getter(key, error))
    }

    fn is(&self, key: &str, expected: &str) -> bool {
        self.0
            .get(key)
            .is_some_and(|value| value.trim().eq_ignore_ascii_case(expected))
    }
}

impl S3SinkConfig {
    /// Builds the configuration from values already checked against the factory's ConfigDef.
    ///
    /// # Errors
    /// The key of the first invalid combination, and why.
    pub(crate) fn from_values(config: &ConfigValues) -> Result<Self, InvalidConfig> {
        let read = Reader(config);
        let partitioner_class = read.string(PARTITIONER_CLASS_CONFIG)?;
        let kind = PartitionerKind::from_class(partitioner_class).ok_or_else(|| {
            InvalidConfig::new(
                PARTITIONER_CLASS_CONFIG,
                format!("Ferry supports {}", PartitionerKind::class_list()),
            )
        })?;
        let timezone = read.text(TIMEZONE_CONFIG);
        let partitioner = if kind == PartitionerKind::Default {
            Partitioner::Default
        } else {
            Partitioner::time_based(
                kind,
                read.long(PARTITION_DURATION_MS_CONFIG)?,
                read.text(PATH_FORMAT_CONFIG),
                read.text(LOCALE_CONFIG),
                timezone,
            )
            .map_err(|(key, reason)| InvalidConfig::new(key, reason))?
        };
        let rotate_schedule_interval_ms = read.positive(ROTATE_SCHEDULE_INTERVAL_MS_CONFIG)?;
        let zone = if timezone.trim().is_empty() && rotate_schedule_interval_ms.is_none() {
            chrono_tz::UTC
        } else {
            partitioner::parse_zone(timezone).map_err(|reason| {
                let reason = if timezone.trim().is_empty() {
                    format!("{reason} when using scheduled file rotation ({ROTATE_SCHEDULE_INTERVAL_MS_CONFIG})")
                } else {
                    reason
                };
                InvalidConfig::new(TIMEZONE_CONFIG, reason)
            })?
        };
        let extractor = TimestampExtractor::from_config(
            read.string(TIMESTAMP_EXTRACTOR_CONFIG)?,
            read.string(TIMESTAMP_FIELD_CONFIG)?,
        )
        .map_err(|reason| InvalidConfig::new(TIMESTAMP_EXTRACTOR_CONFIG, reason))?;
        let format = match FormatKind::from_class(read.string(FORMAT_CLASS_CONFIG)?) {
            Some(FormatKind::Json) => {
                RecordFormat::json(if read.is(JSON_DECIMAL_FORMAT_CONFIG, "NUMERIC") {
                    DecimalFormat::Numeric
                } else {
                    DecimalFormat::Base64
                })
            }
            Some(FormatKind::ByteArray) => RecordFormat::byte_array(
                config.get(BYTEARRAY_SEPARATOR_CONFIG),
                config.get(BYTEARRAY_EXTENSION_CONFIG).unwrap_or(".bin"),
            ),
            None => {
                return Err(InvalidConfig::new(
                    FORMAT_CLASS_CONFIG,
                    format!(
                        "Ferry supports {} and {}",
                        format::JSON_FORMAT,
                        format::BYTE_ARRAY_FORMAT
                    ),
                ))
            }
        };
        let flush_size = u64::try_from(read.long(FLUSH_SIZE_CONFIG)?)
            .ok()
            .filter(|size| *size >= 1)
            .ok_or_else(|| InvalidConfig::new(FLUSH_SIZE_CONFIG, "must be at least 1"))?;
        let access_key_opt = match (
            read.optional(ACCESS_KEY_ID_CONFIG),
            read.optional(SECRET_ACCESS_KEY_CONFIG),
        ) {
            (Some(id), Some(secret)) => Some((id, Secret(secret))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(InvalidConfig::new(
                    SECRET_ACCESS_KEY_CONFIG,
                    format!("must be set together with {ACCESS_KEY_ID_CONFIG}"),
                ))
            }
            (None, Some(_)) => {
                return Err(InvalidConfig::new(
                    ACCESS_KEY_ID_CONFIG,
                    format!("must be set together with {SECRET_ACCESS_KEY_CONFIG}"),
                ))
            }
        };
        let retry_backoff_ms = u64::try_from(read.long(RETRY_BACKOFF_MS_CONFIG)?).unwrap_or(0);
        Ok(S3SinkConfig {
            bucket: read.string(BUCKET_CONFIG)?.trim().to_string(),
            region: read.string(REGION_CONFIG)?.trim().to_string(),
            endpoint_opt: read.optional(STORE_URL_CONFIG),
            path_style: read.boolean(PATH_STYLE_CONFIG)?,
            access_key_opt,
            part_size: read.size(PART_SIZE_CONFIG)?,
            part_retries: read.size(PART_RETRIES_CONFIG)?,
            retry_backoff: Duration::from_millis(retry_backoff_ms),
            naming: ObjectNaming {
                topics_dir: read.text(TOPICS_DIR_CONFIG).trim().to_string(),
                directory_delim: read.string(DIRECTORY_DELIM_CONFIG)?.to_string(),
                file_delim: read.string(FILE_DELIM_CONFIG)?.to_string(),
                zero_pad_width: read.size(ZERO_PAD_WIDTH_CONFIG)?,
                extension: format.extension().to_string(),
            },
            rotation: RotationPolicy {
                flush_size,
                rotate_interval_ms: read.positive(ROTATE_INTERVAL_MS_CONFIG)?,
                rotate_schedule_interval_ms,
                zone,
                wallclock_time: extractor.is_wallclock(),
            },
            format,
            partitioner,
            extractor,
            ignore_null_values: read.is(NULL_VALUES_CONFIG, "ignore"),
            tolerate_bad_records: read.is(keys::ERRORS_TOLERANCE, "all"),
        })
    }

    /// Returns true when records' times are needed (time partitions or time rotation).
    pub(crate) fn needs_record_time(&self) -> bool {
        self.partitioner.is_time_based() || self.rotation.rotate_interval_ms.is_some()
    }
}

impl ConnectorFactory for S3SinkFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["io.confluent.connect.s3.S3SinkConnector"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["S3Sink"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }

    fn task_class(&self) -> Option<&'static str> {
        Some("io.confluent.connect.s3.S3SinkTask")
    }

    fn config_def(&self) -> ConfigDef {
        let def = Self::s3_keys(ConfigDef::new());
        let def = Self::storage_keys(def);
        let def = Self::format_keys(def);
        Self::partitioner_keys(def)
    }

    /// Checks the combinations one key's validator cannot see (time-based partitioner settings,
    /// credentials in pairs, a time zone for scheduled rotation). Only runs once every key is
    /// individually valid.
    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        let Ok(values) = self.config_def().parse(config.as_map()) else {
            return Vec::new();
        };
        match S3SinkConfig::from_values(&values) {
            Ok(_) => Vec::new(),
            Err(invalid) => vec![(invalid.key, invalid.message)],
        }
    }

    /// `tasks.max` identical configs: the consumer group spreads the partitions over them.
    fn create_sink_task(&self, context: TaskContext) -> Result<Box<dyn SinkTask>, ConnectorError> {
        let values = self.parse_task_config(&context)?;
        let config = S3SinkConfig::from_values(&values)?;
        let mut task = task::S3SinkTask::new(config)?;
        task.errant_opt = context.errant_reporter();
        Ok(Box::new(task))
    }
}
