//! Elasticsearch sink (`io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`), for
//! Elasticsearch 7+ and OpenSearch, with Confluent's config keys and defaults.
//!
//! - Index = topic name (lower-cased, as Confluent makes it a valid index name). The index is
//!   created on first use (`PUT /<index>`; an existing index is fine); with `schema.ignore=false`
//!   its mapping is derived from the first record's value schema when the index has none.
//! - Document id: `topic+partition+offset` with `key.ignore=true` (also per topic through
//!   `topic.key.ignore`), else the record key (a string or an integer; anything else is an error).
//!   Ids are deterministic, so records delivered again after a crash overwrite their documents.
//! - Writes go through `_bulk`: `index` for `write.method=insert` (with the Kafka offset as
//!   external version when the id is the key, as Confluent does; a version conflict means a
//!   newer write is already there and counts as success), `update` with `doc_as_upsert` for
//!   `upsert`, `delete` for null values with `behavior.on.null.values=delete`.
//! - Up to `max.in.flight.requests` bulk requests run at once. `flush` waits for all of them, so
//!   the runtime commits offsets only after Elasticsearch acknowledged every record before them.
//! - Connection errors, HTTP 429 and 5xx (of the request or of single items) are retried with
//!   exponential backoff and jitter (`retry.backoff.ms`, doubled per attempt, at most
//!   `max.retries` times); then the task fails with a retryable error and the worker restarts
//!   it, which delivers the records again from the last committed offset.
//! - Documents the server rejects as malformed (`mapper_parsing_exception` & co., one item of a
//!   bulk) follow `behavior.on.malformed.documents`: `fail` (the default) fails the task;
//!   `warn` and `ignore` skip the document and, as Confluent's sink does, report its record as
//!   errant when the connector has a dead-letter queue or `errors.log.enable`: under
//!   `errors.tolerance=all` it goes to the DLQ (the consumed bytes, with the `__connect.errors.*`
//!   headers) and its offset is committed once the DLQ acknowledged it; under `none` the
//!   report fails the task ("Tolerance exceeded"), as Kafka Connect's reporter does. Records
//!   that cannot become documents (null key as id,
//!   null value under `behavior.on.null.values=fail`, ...) follow `errors.tolerance` (or
//!   `drop.invalid.message`); a failing task's trace names the topic, partition and offset.
//!
//! Differences from Confluent's connector (documented choices):
//! - `type.name` is accepted and ignored (servers without mapping types), with one log line.
//! - Data streams, Kerberos, proxies, TLS key/trust stores (`elastic.https.*`) and
//!   `external.version.header` are not implemented: a config that turns one of them on is
//!   refused, naming the key. `https://` URLs work with the system's default roots (rustls,
//!   webpki roots).
//! - Index creation and mapping requests use a read timeout of at least 30 s (creating an index
//!   waits for its shards), bulk requests `read.timeout.ms`.
//! - `linger.ms` is applied when records arrive: a partial batch older than `linger.ms` is sent
//!   at the end of a `put`; everything else is sent by `flush`, which the runtime calls at least
//!   every `offset.flush.interval.ms` and 200 ms after records stop arriving.

mod bulk;
mod client;
mod mapping;
mod task;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::sdk::framework::keys;
use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, ConnectorError, ConnectorFactory,
    ConnectorType, Importance, SinkTask, TaskContext, Validator,
};

pub(crate) use task::ElasticsearchSinkTask;

pub(crate) const CONNECTION_URL_CONFIG: &str = "connection.url";
pub(crate) const CONNECTION_USERNAME_CONFIG: &str = "connection.username";
pub(crate) const CONNECTION_PASSWORD_CONFIG: &str = "connection.password";
pub(crate) const CONNECTION_TIMEOUT_MS_CONFIG: &str = "connection.timeout.ms";
pub(crate) const READ_TIMEOUT_MS_CONFIG: &str = "read.timeout.ms";
pub(crate) const TYPE_NAME_CONFIG: &str = "type.name";
pub(crate) const KEY_IGNORE_CONFIG: &str = "key.ignore";
pub(crate) const SCHEMA_IGNORE_CONFIG: &str = "schema.ignore";
pub(crate) const TOPIC_KEY_IGNORE_CONFIG: &str = "topic.key.ignore";
pub(crate) const TOPIC_SCHEMA_IGNORE_CONFIG: &str = "topic.schema.ignore";
pub(crate) const COMPACT_MAP_ENTRIES_CONFIG: &str = "compact.map.entries";
pub(crate) const DROP_INVALID_MESSAGE_CONFIG: &str = "drop.invalid.message";
pub(crate) const BEHAVIOR_ON_NULL_VALUES_CONFIG: &str = "behavior.on.null.values";
pub(crate) const BEHAVIOR_ON_MALFORMED_DOCS_CONFIG: &str = "behavior.on.malformed.documents";
pub(crate) const WRITE_METHOD_CONFIG: &str = "write.method";
pub(crate) const BATCH_SIZE_CONFIG: &str = "batch.size";
pub(crate) const BULK_SIZE_BYTES_CONFIG: &str = "bulk.size.bytes";
pub(crate) const LINGER_MS_CONFIG: &str = "linger.ms";
pub(crate) const MAX_IN_FLIGHT_REQUESTS_CONFIG: &str = "max.in.flight.requests";
pub(crate) const MAX_BUFFERED_RECORDS_CONFIG: &str = "max.buffered.records";
pub(crate) const MAX_RETRIES_CONFIG: &str = "max.retries";
pub(crate) const RETRY_BACKOFF_MS_CONFIG: &str = "retry.backoff.ms";
pub(crate) const FLUSH_TIMEOUT_MS_CONFIG: &str = "flush.timeout.ms";

const GROUP_CONNECTOR: &str = "Connector";
const GROUP_DATA: &str = "Data Conversion";

/// `io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`.
pub struct ElasticsearchSinkFactory;

/// What to do with a record whose value is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NullValueBehavior {
    Ignore,
    Delete,
    Fail,
}

/// What to do with a document the server rejects as malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MalformedBehavior {
    Ignore,
    Warn,
    Fail,
}

/// How documents are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMethod {
    Insert,
    Upsert,
}

/// A task's parsed settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) urls: Vec<reqwest::Url>,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) connection_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) type_name: Option<String>,
    pub(crate) key_ignore: bool,
    pub(crate) schema_ignore: bool,
    pub(crate) topic_key_ignore: Vec<String>,
    pub(crate) topic_schema_ignore: Vec<String>,
    pub(crate) compact_map_entries: bool,
    pub(crate) drop_invalid_message: bool,
    pub(crate) null_values: NullValueBehavior,
    pub(crate) malformed_documents: MalformedBehavior,
    pub(crate) write_method: WriteMethod,
    pub(crate) batch_size: usize,
    pub(crate) bulk_size_bytes: usize,
    pub(crate) linger: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) flush_timeout: Duration,
    /// `errors.tolerance=all`: records that cannot become documents are skipped with a warning.
    pub(crate) tolerate_all: bool,
    /// A DLQ topic or `errors.log.enable`: when Kafka Connect gives a task its errant-record
    /// reporter, which Confluent's sink reports malformed documents to.
    pub(crate) reports_errant_records: bool,
}

impl Settings {
    /// Returns true when the document id of `topic`'s records is `topic+partition+offset`.
    pub(crate) fn ignores_key(&self, topic: &str) -> bool {
        self.key_ignore || self.topic_key_ignore.iter().any(|t| t == topic)
    }

    /// Returns true when `topic`'s value schemas are not used (no mapping, plain JSON).
    pub(crate) fn ignores_schema(&self, topic: &str) -> bool {
        self.schema_ignore || self.topic_schema_ignore.iter().any(|t| t == topic)
    }

    /// Parses validated config values (defaults applied).
    pub(crate) fn from_config(config: &ConfigValues) -> Result<Self, ConnectorError> {
        let urls = parse_urls(config.string(CONNECTION_URL_CONFIG)?).map_err(|reason| {
            ConnectorError::user(format!(
                "Invalid value for configuration {CONNECTION_URL_CONFIG}: {reason}"
            ))
        })?;
        let username = non_blank(config.get(CONNECTION_USERNAME_CONFIG));
        let password = non_blank(config.get(CONNECTION_PASSWORD_CONFIG));
        let credentials = match (username, password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => return Err(ConnectorError::user(credentials_message())),
        };
        Ok(Settings {
            urls,
            credentials,
            connection_timeout: millis(config, CONNECTION_TIMEOUT_MS_CONFIG)?,
            read_timeout: millis(config, READ_TIMEOUT_MS_CONFIG)?,
            type_name: non_blank(config.get(TYPE_NAME_CONFIG)),
            key_ignore: config.boolean(KEY_IGNORE_CONFIG)?,
            schema_ignore: config.boolean(SCHEMA_IGNORE_CONFIG)?,
            topic_key_ignore: config.list(TOPIC_KEY_IGNORE_CONFIG),
            topic_schema_ignore: config.list(TOPIC_SCHEMA_IGNORE_CONFIG),
            compact_map_entries: config.boolean(COMPACT_MAP_ENTRIES_CONFIG)?,
            drop_invalid_message: config.boolean(DROP_INVALID_MESSAGE_CONFIG)?,
            null_values: match lower(config, BEHAVIOR_ON_NULL_VALUES_CONFIG)?.as_str() {
                "ignore" => NullValueBehavior::Ignore,
                "delete" => NullValueBehavior::Delete,
                _ => NullValueBehavior::Fail,
            },
            malformed_documents: match lower(config, BEHAVIOR_ON_MALFORMED_DOCS_CONFIG)?.as_str() {
                "ignore" => MalformedBehavior::Ignore,
                "warn" => MalformedBehavior::Warn,
                _ => MalformedBehavior::Fail,
            },
            write_method: match lower(config, WRITE_METHOD_CONFIG)?.as_str() {
                "upsert" => WriteMethod::Upsert,
                _ => WriteMethod::Insert,
            },
            batch_size: positive(config, BATCH_SIZE_CONFIG)?,
            bulk_size_bytes: positive(config, BULK_SIZE_BYTES_CONFIG)?,
            linger: millis(config, LINGER_MS_CONFIG)?,
            max_in_flight: positive(config, MAX_IN_FLIGHT_REQUESTS_CONFIG)?,
            max_retries: u32::try_from(config.long(MAX_RETRIES_CONFIG)?).map_err(|_| {
                ConnectorError::user(format!("{MAX_RETRIES_CONFIG} must be between 0 and 2^31"))
            })?,
            retry_backoff: millis(config, RETRY_BACKOFF_MS_CONFIG)?,
            flush_timeout: millis(config, FLUSH_TIMEOUT_MS_CONFIG)?,
            tolerate_all: config
                .get(keys::ERRORS_TOLERANCE)
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("all")),
            reports_errant_records: non_blank(config.get(keys::DLQ_TOPIC_NAME)).is_some()
                || config
                    .get(keys::ERRORS_LOG_ENABLE)
                    .is_some_and(|value| value.trim().eq_ignore_ascii_case("true")),
        })
    }
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

fn lower(config: &ConfigValues, key: &str) -> Result<String, ConnectorError> {
    Ok(config.string(key)?.trim().to_ascii_lowercase())
}

fn millis(config: &ConfigValues, key: &str) -> Result<Duration, ConnectorError> {
    let value = config.long(key)?;
    u64::try_from(value)
        .map(Duration::from_millis)
        .map_err(|_| ConnectorError::user(format!("{key} must not be negative, got {value}")))
}

fn positive(config: &ConfigValues, key: &str) -> Result<usize, ConnectorError> {
    let value = config.long(key)?;
    usize::try_from(value)
        .ok()
        .filter(|value| *value >= 1)
        .ok_or_else(|| ConnectorError::user(format!("{key} must be at least 1, got {value}")))
}

/// Keys of Confluent's Elasticsearch sink that this sink does not implement, with the value
/// that means "feature off" (`None`: any non-blank value turns the feature on).
const UNSUPPORTED_KEYS: &[(&str, Option<&str>)] = &[
    ("data.stream.type", Some("none")),
    ("data.stream.dataset", None),
    ("data.stream.timestamp.field", None),
    ("elastic.security.protocol", Some("plaintext")),
    ("kerberos.user.principal", None),
    ("kerberos.keytab.path", None),
    ("proxy.host", None),
    ("proxy.port", Some("-1")),
    ("proxy.username", None),
    ("proxy.password", None),
    ("external.version.header", None),
];
/// Prefix of Confluent's TLS key/trust store keys (`elastic.https.ssl.keystore.location`, ...).
const UNSUPPORTED_PREFIX: &str = "elastic.https.";

/// Refuses the Confluent keys this sink does not implement, when they turn a feature on: data
/// streams, Kerberos, proxies, TLS stores and external versions would change what is written
/// or how the server is reached, so accepting them silently is not an option.
fn unsupported_keys(config: &ConfigValues) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for (key, value) in config.as_map() {
        let Some(value) = non_blank(Some(value)) else {
            continue;
        };
        let off = if key.starts_with(UNSUPPORTED_PREFIX) {
            None
        } else if let Some((_, off)) = UNSUPPORTED_KEYS.iter().find(|(name, _)| name == key) {
            *off
        } else {
            continue;
        };
        if off.is_some_and(|off| value.eq_ignore_ascii_case(off)) {
            continue;
        }
        errors.push((
            key.clone(),
            format!("{key} is not supported by Ferry's Elasticsearch sink yet; remove it (https:// URLs use the system's trusted roots)"),
        ));
    }
    errors
}

fn credentials_message() -> String {
    format!(
        "{CONNECTION_USERNAME_CONFIG} and {CONNECTION_PASSWORD_CONFIG} must be set together (basic authentication) or both left unset"
    )
}

/// Parses `connection.url`: a comma-separated list of `http://` or `https://` URLs.
pub(crate) fn parse_urls(raw: &str) -> Result<Vec<reqwest::Url>, String> {
    let mut urls = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let url = reqwest::Url::parse(entry)
            .map_err(|error| format!("'{entry}' is not a valid URL: {error}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!(
                "'{entry}' must start with http:// or https:// (scheme '{}' is not supported)",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("'{entry}' has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("'{entry}' must not have a query or fragment"));
        }
        urls.push(url);
    }
    if urls.is_empty() {
        return Err("at least one URL is required".to_string());
    }
    Ok(urls)
}

fn check_urls(raw: &str) -> Result<(), String> {
    parse_urls(raw).map(|_| ())
}

fn key(name: &str, config_type: ConfigType, importance: Importance, doc: &str) -> ConfigKey {
    ConfigKey::new(name, config_type, importance, doc)
}

impl ConnectorFactory for ElasticsearchSinkFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["ElasticsearchSink"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }

    fn task_class(&self) -> Option<&'static str> {
        Some("io.confluent.connect.elasticsearch.ElasticsearchSinkTask")
    }

    #[allow(clippy::too_many_lines)]
    fn config_def(&self) -> ConfigDef {
        use ConfigType::{Boolean, Int, List, Long, Password, String as Str};
        use Importance::{High, Low, Medium};
        ConfigDef::new()
            .define(
                key(CONNECTION_URL_CONFIG, List, High, "The comma-separated list of one or more Elasticsearch URLs, such as ``http://eshost1:9200,http://eshost2:9200``.")
                    .validator(Validator::Custom(check_urls))
                    .group(GROUP_CONNECTOR, 1)
                    .display_name("Connection URLs"),
            )
            .define(
                key(CONNECTION_USERNAME_CONFIG, Str, Medium, "The username used to authenticate with Elasticsearch. The default is the null, and authentication will only be performed if both the username and password are non-null.")
                    .default_null()
                    .group(GROUP_CONNECTOR, 2)
                    .display_name("Connection Username"),
            )
            .define(
                key(CONNECTION_PASSWORD_CONFIG, Password, Medium, "The password used to authenticate with Elasticsearch. The default is the null, and authentication will only be performed if both the username and password are non-null.")
                    .default_null()
                    .group(GROUP_CONNECTOR, 3)
                    .display_name("Connection Password"),
            )
            .define(
                key(BATCH_SIZE_CONFIG, Int, Medium, "The number of records to process as a batch when writing to Elasticsearch.")
                    .default_value("2000")
                    .validator(Validator::Between(1.0, 1_000_000.0))
                    .group(GROUP_CONNECTOR, 4)
                    .display_name("Batch Size"),
            )
            .define(
                key(BULK_SIZE_BYTES_CONFIG, Long, Low, "The maximum size (in bytes) to be processed as a batch when writing records to Elasticsearch.")
                    .default_value("5242880")
                    .validator(Validator::Between(1.0, 2_147_483_647.0))
                    .group(GROUP_CONNECTOR, 5)
                    .display_name("Bulk Size (bytes)"),
            )
            .define(
                key(MAX_IN_FLIGHT_REQUESTS_CONFIG, Int, Medium, "The maximum number of indexing requests that can be in-flight to Elasticsearch before blocking further requests.")
                    .default_value("5")
                    .validator(Validator::Between(1.0, 1000.0))
                    .group(GROUP_CONNECTOR, 6)
                    .display_name("Max In-flight Requests"),
            )
            .define(
                key(MAX_BUFFERED_RECORDS_CONFIG, Int, Low, "The maximum number of records each task will buffer before blocking acceptance of more records (accepted; Ferry bounds buffering by batch.size and max.in.flight.requests).")
                    .default_value("20000")
                    .validator(Validator::AtLeast(1.0))
                    .group(GROUP_CONNECTOR, 7)
                    .display_name("Max Buffered Records"),
            )
            .define(
                key(LINGER_MS_CONFIG, Long, Low, "Linger time in milliseconds for batching: a partial batch older than this is sent without waiting for more records.")
                    .default_value("1")
                    .validator(Validator::Between(0.0, 604_800_000.0))
                    .group(GROUP_CONNECTOR, 8)
                    .display_name("Linger (ms)"),
            )
            .define(
                key(FLUSH_TIMEOUT_MS_CONFIG, Long, Low, "The timeout in milliseconds to use for periodic flushing, and when waiting for buffer space to be made available by completed requests as records are added. If this timeout is exceeded the task will fail.")
                    .default_value("180000")
                    .validator(Validator::Between(1000.0, 604_800_000.0))
                    .group(GROUP_CONNECTOR, 9)
                    .display_name("Flush Timeout (ms)"),
            )
            .define(
                key(MAX_RETRIES_CONFIG, Int, Low, "The maximum number of retries that are allowed for failed indexing requests. If the retry attempts are exhausted the task will fail.")
                    .default_value("5")
                    .validator(Validator::AtLeast(0.0))
                    .group(GROUP_CONNECTOR, 10)
                    .display_name("Max Retries"),
            )
            .define(
                key(RETRY_BACKOFF_MS_CONFIG, Long, Low, "How long to wait in milliseconds before attempting the first retry of a failed indexing request. Upon a failure, this connector may wait up to twice as long as the previous wait, up to the maximum number of retries.")
                    .default_value("100")
                    .validator(Validator::AtLeast(0.0))
                    .group(GROUP_CONNECTOR, 11)
                    .display_name("Retry Backoff (ms)"),
            )
            .define(
                key(CONNECTION_TIMEOUT_MS_CONFIG, Int, Low, "How long to wait in milliseconds when establishing a connection to the Elasticsearch server.")
                    .default_value("1000")
                    .validator(Validator::AtLeast(0.0))
                    .group(GROUP_CONNECTOR, 12)
                    .display_name("Connection Timeout"),
            )
            .define(
                key(READ_TIMEOUT_MS_CONFIG, Int, Low, "How long to wait in milliseconds for the Elasticsearch server to send a response.")
                    .default_value("3000")
                    .validator(Validator::AtLeast(0.0))
                    .group(GROUP_CONNECTOR, 13)
                    .display_name("Read Timeout"),
            )
            .define(
                key(TYPE_NAME_CONFIG, Str, Low, "The Elasticsearch type name to use when indexing. Accepted for compatibility and ignored: Elasticsearch 7+ and OpenSearch have no mapping types.")
                    .default_value("")
                    .group(GROUP_DATA, 1)
                    .display_name("Type Name"),
            )
            .define(
                key(KEY_IGNORE_CONFIG, Boolean, High, "Whether to ignore the record key for the purpose of forming the Elasticsearch document ID. When this is set to ``true``, document IDs will be generated as the record's ``topic+partition+offset``.")
                    .default_value("false")
                    .group(GROUP_DATA, 2)
                    .display_name("Ignore Key mode"),
            )
            .define(
                key(SCHEMA_IGNORE_CONFIG, Boolean, Low, "Whether to ignore schemas during indexing. When this is set to ``true``, the record schema will be ignored for the purpose of registering an Elasticsearch mapping.")
                    .default_value("false")
                    .group(GROUP_DATA, 3)
                    .display_name("Ignore Schema mode"),
            )
            .define(
                key(COMPACT_MAP_ENTRIES_CONFIG, Boolean, Low, "Defines how map entries with string keys within record values should be written to JSON. When true, entries are written as ``\"entryKey\": \"entryValue\"``; otherwise as nested documents ``{\"key\": \"entryKey\", \"value\": \"entryValue\"}``.")
                    .default_value("true")
                    .group(GROUP_DATA, 4)
                    .display_name("Compact Map Entries"),
            )
            .define(
                key(TOPIC_KEY_IGNORE_CONFIG, List, Low, "List of topics for which ``key.ignore`` should be ``true``.")
                    .default_value("")
                    .group(GROUP_DATA, 5)
                    .display_name("Topics for 'Ignore Key' mode"),
            )
            .define(
                key(TOPIC_SCHEMA_IGNORE_CONFIG, List, Low, "List of topics for which ``schema.ignore`` should be ``true``.")
                    .default_value("")
                    .group(GROUP_DATA, 6)
                    .display_name("Topics for 'Ignore Schema' mode"),
            )
            .define(
                key(DROP_INVALID_MESSAGE_CONFIG, Boolean, Low, "Whether to drop kafka message when it cannot be converted to output message.")
                    .default_value("false")
                    .group(GROUP_DATA, 7)
                    .display_name("Drop invalid messages"),
            )
            .define(
                key(BEHAVIOR_ON_NULL_VALUES_CONFIG, Str, Low, "How to handle records with a non-null key and a null value (i.e. Kafka tombstone records). Valid options are 'ignore', 'delete', and 'fail'.")
                    .default_value("fail")
                    .validator(Validator::OneOf(vec!["ignore", "delete", "fail"]))
                    .group(GROUP_DATA, 8)
                    .display_name("Behavior for null-valued records"),
            )
            .define(
                key(BEHAVIOR_ON_MALFORMED_DOCS_CONFIG, Str, Low, "How to handle records that Elasticsearch rejects due to some malformation of the document itself, such as an index mapping conflict or a field name containing illegal characters. Valid options are 'ignore', 'warn', and 'fail'.")
                    .default_value("fail")
                    .validator(Validator::OneOf(vec!["ignore", "warn", "fail"]))
                    .group(GROUP_DATA, 9)
                    .display_name("Behavior on malformed documents"),
            )
            .define(
                key(WRITE_METHOD_CONFIG, Str, Low, "Method used for writing data to Elasticsearch, and one of 'insert' or 'upsert'. The default method is 'insert', in which the connector constructs a document from the record value and inserts that document into Elasticsearch, completely replacing any existing document with the same ID; this matches previous behavior. The 'upsert' method will create a new document if one with the specified ID does not yet exist, or will update an existing document with the same ID by adding/replacing only those fields present in the record value.")
                    .default_value("insert")
                    .validator(Validator::OneOf(vec!["insert", "upsert"]))
                    .group(GROUP_DATA, 10)
                    .display_name("Write Method"),
            )
    }

    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        let mut errors = unsupported_keys(config);
        let username = non_blank(config.get(CONNECTION_USERNAME_CONFIG));
        let password = non_blank(config.get(CONNECTION_PASSWORD_CONFIG));
        errors.extend(match (username, password) {
            (Some(_), None) => vec![(
                CONNECTION_PASSWORD_CONFIG.to_string(),
                credentials_message(),
            )],
            (None, Some(_)) => vec![(
                CONNECTION_USERNAME_CONFIG.to_string(),
                credentials_message(),
            )],
            _ => Vec::new(),
        });
        errors
    }

    /// `tasks.max` identical configs: the runtime's consumer group spreads the partitions.
    fn create_sink_task(&self, context: TaskContext) -> Result<Box<dyn SinkTask>, ConnectorError> {
        let config = self.parse_task_config(&context)?;
        let settings = Settings::from_config(&config)?;
        Ok(Box::new(ElasticsearchSinkTask::new(settings, &context)?))
    }
}
