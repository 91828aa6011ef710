//! Single Message Transforms and predicates: Kafka Connect's `connect-transforms` 4.3.1 set,
//! with the same class names, config keys, defaults and behaviour.
//!
//! ```text
//!  connector config ── chain::TransformChain::from_connector_config (once per task)
//!        transforms=a,b   transforms.a.type=…RegexRouter  transforms.a.predicate=p  …negate
//!        predicates=p     predicates.p.type=…TopicNameMatches
//!  per record: TransformRecord ─► [a] ─► [b] ─► Some(record) | None (dropped) | TransformError
//! ```
//!
//! Each transform is one module with its `ConfigDef` and a `build` function (Kafka Connect's
//! `configure`); [`registry`] lists them, as the connector registry lists connectors. Schema'd
//! values (structs) and schemaless values (maps) are handled as Kafka Connect handles each.

pub mod chain;
mod field_path;
pub mod java_date;
pub(crate) mod java_regex;
pub mod predicates;
pub mod registry;
mod values;

mod cast;
mod drop_headers;
mod extract_field;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod timestamp_converter;
mod timestamp_router;
mod value_to_key;

#[cfg(test)]
mod tests;

use crate::sdk::{ConfigValues, Header, SchemaAndValue};

pub use chain::{TransformChain, TransformChainError};
pub use registry::{PluginKind, TransformPlugin};

/// A record as transforms see it: Kafka Connect's `ConnectRecord` (source or sink).
#[derive(Debug, Clone, PartialEq)]
pub struct TransformRecord {
    pub topic: String,
    pub kafka_partition: Option<i32>,
    /// The Kafka offset; only sink records have one (`InsertField`'s `offset.field` needs it).
    pub kafka_offset: Option<i64>,
    pub timestamp: Option<i64>,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
    pub headers: Vec<Header>,
}

/// Java exception classes a transform failure maps to (for error reports and DLQ headers).
pub mod exception {
    pub const DATA: &str = "org.apache.kafka.connect.errors.DataException";
    pub const CONNECT: &str = "org.apache.kafka.connect.errors.ConnectException";
    pub const ILLEGAL_ARGUMENT: &str = "java.lang.IllegalArgumentException";
}

/// A transform failed on a record (Kafka Connect's `DataException` and friends).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransformError {
    /// The Java exception class Kafka Connect throws in the same case.
    pub exception_class: &'static str,
    pub message: String,
}

impl TransformError {
    /// A `DataException`.
    pub fn data(message: impl Into<String>) -> Self {
        TransformError {
            exception_class: exception::DATA,
            message: message.into(),
        }
    }

    /// A `ConnectException`.
    pub fn connect(message: impl Into<String>) -> Self {
        TransformError {
            exception_class: exception::CONNECT,
            message: message.into(),
        }
    }

    /// An `IllegalArgumentException`.
    pub fn illegal_argument(message: impl Into<String>) -> Self {
        TransformError {
            exception_class: exception::ILLEGAL_ARGUMENT,
            message: message.into(),
        }
    }
}

/// A configured transformation.
pub trait Transformation: Send + Sync {
    /// Applies the transform; `Ok(None)` drops the record.
    ///
    /// # Errors
    /// The record cannot be transformed (Kafka Connect throws a `DataException`).
    fn apply(&self, record: TransformRecord) -> Result<Option<TransformRecord>, TransformError>;
}

/// A configured predicate.
pub trait Predicate: Send + Sync {
    /// Returns whether the record matches.
    fn test(&self, record: &TransformRecord) -> bool;
}

/// A config error of a transform or predicate (Kafka Connect's `ConfigException`): the key
/// (unprefixed) and value when it names one, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub key_opt: Option<String>,
    pub value_opt: Option<String>,
    pub reason: String,
}

impl BuildError {
    /// An error about a key (`ConfigException(name, value, message)`).
    pub fn invalid(key: &str, value: &str, reason: &str) -> Self {
        BuildError {
            key_opt: Some(key.to_string()),
            value_opt: Some(value.to_string()),
            reason: reason.to_string(),
        }
    }

    /// An error about the whole config (`ConfigException(message)`).
    pub fn general(reason: impl Into<String>) -> Self {
        BuildError {
            key_opt: None,
            value_opt: None,
            reason: reason.into(),
        }
    }

    /// Renders Kafka Connect's message, the key prefixed with `prefix` (`transforms.a.`).
    pub fn render(&self, prefix: &str) -> String {
        match (&self.key_opt, &self.value_opt) {
            (Some(key), Some(value)) => format!(
                "Invalid value {value} for configuration {prefix}{key}: {}",
                self.reason
            ),
            _ => self.reason.clone(),
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.render(""))
    }
}

/// Which part of the record a `$Key`/`$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Key,
    Value,
}

impl Target {
    /// Returns the key or value of the record.
    pub fn of(self, record: &TransformRecord) -> &SchemaAndValue {
        match self {
            Target::Key => &record.key,
            Target::Value => &record.value,
        }
    }

    /// Returns the key or value of the record, mutably.
    pub fn of_mut(self, record: &mut TransformRecord) -> &mut SchemaAndValue {
        match self {
            Target::Key => &mut record.key,
            Target::Value => &mut record.value,
        }
    }
}

/// Builds a configured transform from its validated config (defaults applied).
pub type BuildTransform = fn(&ConfigValues) -> Result<Box<dyn Transformation>, BuildError>;
/// Builds a configured predicate from its validated config (defaults applied).
pub type BuildPredicate = fn(&ConfigValues) -> Result<Box<dyn Predicate>, BuildError>;

/// The doc of `replace.null.with.default`, shared by most field transforms.
pub(crate) const REPLACE_NULL_WITH_DEFAULT_DOC: &str = "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.";
/// `replace.null.with.default`.
pub(crate) const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// Returns the `replace.null.with.default` key (BOOLEAN, default true).
pub(crate) fn replace_null_with_default_key() -> crate::sdk::ConfigKey {
    crate::sdk::ConfigKey::new(
        REPLACE_NULL_WITH_DEFAULT,
        crate::sdk::ConfigType::Boolean,
        crate::sdk::Importance::Medium,
        REPLACE_NULL_WITH_DEFAULT_DOC,
    )
    .default_value("true")
}

/// Reads a boolean that the ConfigDef already validated.
pub(crate) fn flag(config: &ConfigValues, key: &str) -> bool {
    config
        .get(key)
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

/// Reads an optional string (a null default is absent).
pub(crate) fn optional_string(config: &ConfigValues, key: &str) -> Option<String> {
    config.get(key).map(str::to_string)
}

/// Splits a LIST value as Kafka Connect does (commas, items trimmed, empty value = empty list).
pub(crate) fn list(config: &ConfigValues, key: &str) -> Vec<String> {
    match config.get(key) {
        None => Vec::new(),
        Some(raw) if raw.trim().is_empty() => Vec::new(),
        Some(raw) => raw.split(',').map(|item| item.trim().to_string()).collect(),
    }
}
