//! The JDBC sink's config keys (Confluent's `JdbcSinkConfig` names and defaults) and their
//! validated form.

use std::time::Duration;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, ConnectorError, Importance, Validator,
};

/// Config key names.
pub(crate) mod keys {
    pub(crate) const CONNECTION_URL: &str = "connection.url";
    pub(crate) const CONNECTION_USER: &str = "connection.user";
    pub(crate) const CONNECTION_PASSWORD: &str = "connection.password";
    pub(crate) const CONNECTION_ATTEMPTS: &str = "connection.attempts";
    pub(crate) const CONNECTION_BACKOFF_MS: &str = "connection.backoff.ms";
    pub(crate) const DIALECT_NAME: &str = "dialect.name";
    pub(crate) const INSERT_MODE: &str = "insert.mode";
    pub(crate) const BATCH_SIZE: &str = "batch.size";
    pub(crate) const DELETE_ENABLED: &str = "delete.enabled";
    pub(crate) const TABLE_NAME_FORMAT: &str = "table.name.format";
    pub(crate) const TABLE_TYPES: &str = "table.types";
    pub(crate) const PK_MODE: &str = "pk.mode";
    pub(crate) const PK_FIELDS: &str = "pk.fields";
    pub(crate) const FIELDS_WHITELIST: &str = "fields.whitelist";
    pub(crate) const DB_TIMEZONE: &str = "db.timezone";
    pub(crate) const AUTO_CREATE: &str = "auto.create";
    pub(crate) const AUTO_EVOLVE: &str = "auto.evolve";
    pub(crate) const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";
    pub(crate) const MAX_RETRIES: &str = "max.retries";
    pub(crate) const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
}

/// The placeholder `table.name.format` replaces with the record's topic.
pub(crate) const TOPIC_PLACEHOLDER: &str = "${topic}";
/// Column names of `pk.mode=kafka` when `pk.fields` is empty, as in Confluent's connector.
pub(crate) const DEFAULT_KAFKA_PK_NAMES: [&str; 3] =
    ["__connect_topic", "__connect_partition", "__connect_offset"];
/// The only dialect this connector speaks.
pub(crate) const POSTGRES_DIALECT: &str = "PostgreSqlDatabaseDialect";
const URL_PREFIX: &str = "jdbc:postgresql://";

const CONNECTION: &str = "Connection";
const WRITES: &str = "Writes";
const DATA_MAPPING: &str = "Data Mapping";
const DDL: &str = "DDL Support";
const RETRIES: &str = "Retries";

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertMode {
    Insert,
    Upsert,
    Update,
}

/// Where the primary key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

impl PkMode {
    /// Returns the name as users write it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PkMode::None => "none",
            PkMode::Kafka => "kafka",
            PkMode::RecordKey => "record_key",
            PkMode::RecordValue => "record_value",
        }
    }
}

/// The validated sink config.
#[derive(Debug, Clone)]
pub(crate) struct JdbcSinkConfig {
    pub(crate) connection: ConnectionTarget,
    pub(crate) connection_attempts: u32,
    pub(crate) connection_backoff: Duration,
    pub(crate) insert_mode: InsertMode,
    pub(crate) batch_size: usize,
    pub(crate) delete_enabled: bool,
    pub(crate) table_name_format: String,
    pub(crate) pk_mode: PkMode,
    pub(crate) pk_fields: Vec<String>,
    pub(crate) fields_whitelist: Vec<String>,
    pub(crate) auto_create: bool,
    pub(crate) auto_evolve: bool,
    pub(crate) quote_identifiers: bool,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    /// `errors.tolerance=all`: a record the database refuses is skipped (and logged).
    pub(crate) tolerate_bad_records: bool,
}

/// Where to connect, parsed from `jdbc:postgresql://host[:port][/database][?k=v&...]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ConnectionTarget {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
    pub(crate) user_opt: Option<String>,
    pub(crate) password_opt: Option<String>,
    /// `currentSchema` of the URL: the schema unqualified table names live in.
    pub(crate) schema_opt: Option<String>,
    pub(crate) application_name: String,
}

impl std::fmt::Debug for ConnectionTarget {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ConnectionTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user_opt", &self.user_opt)
            .field(
                "password_opt",
                &self.password_opt.as_ref().map(|_| "[hidden]"),
            )
            .field("schema_opt", &self.schema_opt)
            .finish()
    }
}

/// Returns the connector's config keys.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(keys::CONNECTION_URL, ConfigType::String, Importance::High,
                "JDBC connection URL: jdbc:postgresql://host[:port][/database][?user=..&password=..&currentSchema=..]")
                .validator(Validator::Custom(check_url))
                .group(CONNECTION, 1)
                .display_name("JDBC URL"),
        )
        .define(
            ConfigKey::new(keys::CONNECTION_USER, ConfigType::String, Importance::High, "JDBC connection user.")
                .default_null()
                .group(CONNECTION, 2)
                .display_name("JDBC User"),
        )
        .define(
            ConfigKey::new(keys::CONNECTION_PASSWORD, ConfigType::Password, Importance::High, "JDBC connection password.")
                .default_null()
                .group(CONNECTION, 3)
                .display_name("JDBC Password"),
        )
        .define(
            ConfigKey::new(keys::CONNECTION_ATTEMPTS, ConfigType::Int, Importance::Low, "Maximum number of attempts to open a connection before the write counts as failed.")
                .default_value("3")
                .validator(Validator::AtLeast(1.0))
                .group(CONNECTION, 4)
                .display_name("JDBC connection attempts"),
        )
        .define(
            ConfigKey::new(keys::CONNECTION_BACKOFF_MS, ConfigType::Long, Importance::Low, "Backoff time in milliseconds between connection attempts.")
                .default_value("10000")
                .validator(Validator::AtLeast(0.0))
                .group(CONNECTION, 5)
                .display_name("JDBC connection backoff in milliseconds"),
        )
        .define(
            ConfigKey::new(keys::DIALECT_NAME, ConfigType::String, Importance::Low, "The database dialect; empty means from the URL. Only PostgreSqlDatabaseDialect is supported.")
                .default_value("")
                .validator(Validator::Custom(check_dialect))
                .group(CONNECTION, 6)
                .display_name("Database Dialect"),
        )
        .define(
            ConfigKey::new(keys::INSERT_MODE, ConfigType::String, Importance::High, "insert: plain INSERT; upsert: INSERT .. ON CONFLICT (pk) DO UPDATE; update: UPDATE .. WHERE pk.")
                .default_value("insert")
                .validator(Validator::OneOf(vec!["insert", "upsert", "update"]))
                .group(WRITES, 1)
                .display_name("Insert Mode"),
        )
        .define(
            ConfigKey::new(keys::BATCH_SIZE, ConfigType::Int, Importance::Medium, "The most records written by one statement.")
                .default_value("3000")
                .validator(Validator::AtLeast(1.0))
                .group(WRITES, 2)
                .display_name("Batch Size"),
        )
        .define(
            ConfigKey::new(keys::DELETE_ENABLED, ConfigType::Boolean, Importance::Medium, "Whether a tombstone (null value) deletes the row with the record key's primary key; needs pk.mode=record_key.")
                .default_value("false")
                .group(WRITES, 3)
                .display_name("Enable deletes"),
        )
        .define(
            ConfigKey::new(keys::TABLE_NAME_FORMAT, ConfigType::String, Importance::Medium,
                "Destination table name; ${topic} is replaced by the record's topic. A literal dot outside ${topic} separates a schema name (myschema.${topic}); dots inside the topic stay in the table name.")
                .default_value(TOPIC_PLACEHOLDER)
                .validator(Validator::Custom(check_table_name_format))
                .group(DATA_MAPPING, 1)
                .display_name("Table Name Format"),
        )
        .define(
            ConfigKey::new(keys::TABLE_TYPES, ConfigType::List, Importance::Low, "Kinds of tables written to; only TABLE is supported.")
                .default_value("TABLE")
                .group(DATA_MAPPING, 2)
                .display_name("Table Types"),
        )
        .define(
            ConfigKey::new(keys::PK_MODE, ConfigType::String, Importance::High,
                "Where the primary key comes from: none, kafka (__connect_topic, __connect_partition, __connect_offset), record_key or record_value.")
                .default_value("none")
                .validator(Validator::OneOf(vec!["none", "kafka", "record_key", "record_value"]))
                .group(DATA_MAPPING, 3)
                .display_name("Primary Key Mode"),
        )
        .define(
            ConfigKey::new(keys::PK_FIELDS, ConfigType::List, Importance::Medium,
                "Primary key field names: for kafka three column names; for record_key one column name for a primitive key, or fields of a struct key (empty: all); for record_value fields of the value (empty: all).")
                .default_value("")
                .group(DATA_MAPPING, 4)
                .display_name("Primary Key Fields"),
        )
        .define(
            ConfigKey::new(keys::FIELDS_WHITELIST, ConfigType::List, Importance::Medium, "Value fields written as columns (empty: all). Primary key fields are always written.")
                .default_value("")
                .group(DATA_MAPPING, 5)
                .display_name("Fields Whitelist"),
        )
        .define(
            ConfigKey::new(keys::DB_TIMEZONE, ConfigType::String, Importance::Medium, "Time zone of TIMESTAMP columns; only UTC is supported.")
                .default_value("UTC")
                .validator(Validator::Custom(check_timezone))
                .group(DATA_MAPPING, 6)
                .display_name("DB Time Zone"),
        )
        .define(
            ConfigKey::new(keys::AUTO_CREATE, ConfigType::Boolean, Importance::Medium, "Whether to CREATE TABLE from the record schema when the table is missing.")
                .default_value("false")
                .group(DDL, 1)
                .display_name("Auto-Create"),
        )
        .define(
            ConfigKey::new(keys::AUTO_EVOLVE, ConfigType::Boolean, Importance::Medium, "Whether to ALTER TABLE ADD COLUMN for record fields the table lacks.")
                .default_value("false")
                .group(DDL, 2)
                .display_name("Auto-Evolve"),
        )
        .define(
            ConfigKey::new(keys::QUOTE_SQL_IDENTIFIERS, ConfigType::String, Importance::Medium, "Whether to quote table and column names: always or never.")
                .default_value("always")
                .validator(Validator::OneOf(vec!["always", "never"]))
                .group(DDL, 3)
                .display_name("Quote Identifiers"),
        )
        .define(
            ConfigKey::new(keys::MAX_RETRIES, ConfigType::Int, Importance::Medium, "How many times a failed write is retried before the task fails (and is restarted by the worker).")
                .default_value("10")
                .validator(Validator::AtLeast(0.0))
                .group(RETRIES, 1)
                .display_name("Maximum Retries"),
        )
        .define(
            ConfigKey::new(keys::RETRY_BACKOFF_MS, ConfigType::Int, Importance::Medium, "Milliseconds to wait before retrying a failed write.")
                .default_value("3000")
                .validator(Validator::AtLeast(0.0))
                .group(RETRIES, 2)
                .display_name("Retry Backoff (millis)"),
        )
}

fn check_url(raw: &str) -> Result<(), String> {
    parse_connection_url(raw).map(|_| ())
}

fn check_dialect(raw: &str) -> Result<(), String> {
    let dialect = raw.trim();
    if dialect.is_empty() || dialect == POSTGRES_DIALECT {
        Ok(())
    } else {
        Err(format!(
            "only {POSTGRES_DIALECT} is supported (or leave it empty)"
        ))
    }
}

fn check_timezone(raw: &str) -> Result<(), String> {
    match raw.trim() {
        "UTC" | "Z" | "GMT" | "Etc/UTC" => Ok(()),
        _ => Err("only UTC is supported".to_string()),
    }
}

fn check_table_name_format(raw: &str) -> Result<(), String> {
    split_table_name_format(raw).map(|_| ())
}

/// Splits `table.name.format` into an optional schema part and the table part, on literal dots
/// outside `${topic}` (dots of a topic name stay in the table name).
///
/// # Errors
/// When the format is empty or has more than one literal dot.
pub(crate) fn split_table_name_format(raw: &str) -> Result<(Option<String>, String), String> {
    let format = raw.trim();
    if format.is_empty() {
        return Err("String must be non-empty".to_string());
    }
    let mut parts = vec![String::new()];
    let mut rest = format;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(TOPIC_PLACEHOLDER) {
            parts
                .last_mut()
                .expect("parts always has a last element")
                .push_str(TOPIC_PLACEHOLDER);
            rest = after;
            continue;
        }
        let mut chars = rest.chars();
        let next = chars.next().expect("rest is not empty");
        if next == '.' {
            parts.push(String::new());
        } else {
            parts
                .last_mut()
                .expect("parts always has a last element")
                .push(next);
        }
        rest = chars.as_str();
    }
    if parts.iter().any(String::is_empty) {
        return Err("empty schema or table name around a dot".to_string());
    }
    match parts.len() {
        1 => Ok((None, parts.remove(0))),
        2 => {
            let table = parts.remove(1);
            Ok((Some(parts.remove(0)), table))
        }
        _ => Err("expected [schema.]table (at most one dot outside ${topic})".to_string()),
    }
}

/// Parses `jdbc:postgresql://host[:port][/database][?key=value&...]`.
///
/// # Errors
/// The reason the URL is not one this connector can use.
pub(crate) fn parse_connection_url(raw: &str) -> Result<ConnectionTarget, String> {
    let url = raw.trim();
    let Some(rest) = url.strip_prefix(URL_PREFIX) else {
        return Err(format!(
            "expected a PostgreSQL URL starting with {URL_PREFIX} (only PostgreSQL is supported)"
        ));
    };
    let (address_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (address, database) = address_and_path
        .split_once('/')
        .unwrap_or((address_and_path, ""));
    if address.contains(',') {
        return Err("several hosts are not supported".to_string());
    }
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || address.starts_with('[') => {
            let port: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
            (host.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => (address, 5432),
    };
    if host.is_empty() {
        return Err("missing host".to_string());
    }
    let mut target = ConnectionTarget {
        host: host.to_string(),
        port,
        database: if database.is_empty() {
            "postgres".to_string()
        } else {
            database.to_string()
        },
        user_opt: None,
        password_opt: None,
        schema_opt: None,
        application_name: "ferry-jdbc-sink".to_string(),
    };
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "user" => target.user_opt = Some(value),
            "password" => target.password_opt = Some(value),
            "currentSchema" => target.schema_opt = Some(value),
            "ApplicationName" => target.application_name = value,
            "sslmode" if value != "disable" && value != "prefer" && value != "allow" => {
                return Err(format!("sslmode={value} is not supported (no TLS)"));
            }
            "ssl" if value == "true" => {
                return Err("ssl=true is not supported (no TLS)".to_string());
            }
            // Driver tuning knobs (reWriteBatchedInserts, connectTimeout, ...) do not apply.
            _ => {}
        }
    }
    Ok(target)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Cross-key checks, as `(key, message)`.
pub(crate) fn cross_key_errors(config: &ConfigValues) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let pk_mode = config.get(keys::PK_MODE).map(parse_pk_mode);
    let insert_mode = config.get(keys::INSERT_MODE).map(parse_insert_mode);
    let delete_enabled = config
        .get(keys::DELETE_ENABLED)
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    if delete_enabled && pk_mode != Some(Some(PkMode::RecordKey)) {
        errors.push((
            keys::DELETE_ENABLED.to_string(),
            format!(
                "Invalid value true for configuration {}: deletes need pk.mode=record_key (the key of a tombstone names the row), but pk.mode is {}",
                keys::DELETE_ENABLED,
                config.get(keys::PK_MODE).unwrap_or("none")
            ),
        ));
    }
    if let (Some(Some(mode)), Some(Some(PkMode::None))) = (insert_mode, pk_mode) {
        if mode != InsertMode::Insert {
            errors.push((
                keys::PK_MODE.to_string(),
                format!(
                    "Invalid value none for configuration {}: insert.mode={} needs a primary key; set pk.mode to kafka, record_key or record_value",
                    keys::PK_MODE,
                    config.get(keys::INSERT_MODE).unwrap_or_default().trim().to_ascii_lowercase()
                ),
            ));
        }
    }
    let pk_fields = config.list(keys::PK_FIELDS);
    if pk_mode == Some(Some(PkMode::Kafka)) && !pk_fields.is_empty() && pk_fields.len() != 3 {
        errors.push((
            keys::PK_FIELDS.to_string(),
            format!(
                "Invalid value {} for configuration {}: pk.mode=kafka needs no field names (defaults {}) or exactly three (topic, partition and offset columns)",
                pk_fields.join(","),
                keys::PK_FIELDS,
                DEFAULT_KAFKA_PK_NAMES.join(",")
            ),
        ));
    }
    let table_types = config.list(keys::TABLE_TYPES);
    if table_types
        .iter()
        .any(|kind| !kind.eq_ignore_ascii_case("TABLE"))
    {
        errors.push((
            keys::TABLE_TYPES.to_string(),
            format!(
                "Invalid value {} for configuration {}: only TABLE is supported",
                table_types.join(","),
                keys::TABLE_TYPES
            ),
        ));
    }
    errors
}

fn parse_pk_mode(raw: &str) -> Option<PkMode> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "none" => Some(PkMode::None),
        "kafka" => Some(PkMode::Kafka),
        "record_key" => Some(PkMode::RecordKey),
        "record_value" => Some(PkMode::RecordValue),
        _ => None,
    }
}

fn parse_insert_mode(raw: &str) -> Option<InsertMode> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "insert" => Some(InsertMode::Insert),
        "upsert" => Some(InsertMode::Upsert),
        "update" => Some(InsertMode::Update),
        _ => None,
    }
}

fn non_negative(config: &ConfigValues, key: &str) -> Result<u64, ConnectorError> {
    let value = config.long(key)?;
    u64::try_from(value).map_err(|_| {
        ConnectorError::user(format!(
            "Invalid value {value} for configuration {key}: Value must be at least 0"
        ))
    })
}

impl JdbcSinkConfig {
    /// Builds the validated config from a task's values (defaults applied).
    ///
    /// # Errors
    /// A user error naming the first invalid key.
    pub(crate) fn from_values(config: &ConfigValues) -> Result<Self, ConnectorError> {
        if let Some((_, message)) = cross_key_errors(config).into_iter().next() {
            return Err(ConnectorError::user(message));
        }
        let url = config.string(keys::CONNECTION_URL)?;
        let mut connection = parse_connection_url(url).map_err(|reason| {
            ConnectorError::user(format!(
                "Invalid value for configuration {}: {reason}",
                keys::CONNECTION_URL
            ))
        })?;
        if let Some(user) = config.get(keys::CONNECTION_USER) {
            connection.user_opt = Some(user.to_string());
        }
        if let Some(password) = config.get(keys::CONNECTION_PASSWORD) {
            connection.password_opt = Some(password.to_string());
        }
        let invalid = |key: &str| {
            ConnectorError::user(format!(
                "Invalid value {} for configuration {key}",
                config.get(key).unwrap_or_default()
            ))
        };
        let insert_mode = parse_insert_mode(config.string(keys::INSERT_MODE)?)
            .ok_or_else(|| invalid(keys::INSERT_MODE))?;
        let pk_mode =
            parse_pk_mode(config.string(keys::PK_MODE)?).ok_or_else(|| invalid(keys::PK_MODE))?;
        let table_name_format = config.string(keys::TABLE_NAME_FORMAT)?.trim().to_string();
        split_table_name_format(&table_name_format).map_err(|reason| {
            ConnectorError::user(format!(
                "Invalid value {table_name_format} for configuration {}: {reason}",
                keys::TABLE_NAME_FORMAT
            ))
        })?;
        let tolerance = config
            .get(crate::sdk::framework::keys::ERRORS_TOLERANCE)
            .unwrap_or("none");
        Ok(JdbcSinkConfig {
            connection,
            connection_attempts: u32::try_from(non_negative(config, keys::CONNECTION_ATTEMPTS)?)
                .unwrap_or(u32::MAX)
                .max(1),
            connection_backoff: Duration::from_millis(non_negative(
                config,
                keys::CONNECTION_BACKOFF_MS,
            )?),
            insert_mode,
            batch_size: usize::try_from(non_negative(config, keys::BATCH_SIZE)?)
                .unwrap_or(usize::MAX)
                .max(1),
            delete_enabled: config.boolean(keys::DELETE_ENABLED)?,
            table_name_format,
            pk_mode,
            pk_fields: config.list(keys::PK_FIELDS),
            fields_whitelist: config.list(keys::FIELDS_WHITELIST),
            auto_create: config.boolean(keys::AUTO_CREATE)?,
            auto_evolve: config.boolean(keys::AUTO_EVOLVE)?,
            quote_identifiers: config
                .get(keys::QUOTE_SQL_IDENTIFIERS)
                .is_none_or(|value| !value.trim().eq_ignore_ascii_case("never")),
            max_retries: u32::try_from(non_negative(config, keys::MAX_RETRIES)?)
                .unwrap_or(u32::MAX),
            retry_backoff: Duration::from_millis(non_negative(config, keys::RETRY_BACKOFF_MS)?),
            tolerate_bad_records: tolerance.trim().eq_ignore_ascii_case("all"),
        })
    }
}
