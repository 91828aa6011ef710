//! The pure pieces of the sink: index names, document ids, bulk actions and bodies, bulk
//! responses, and retry decisions. No I/O here.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::mapping::preprocessed_json;
use super::{NullValueBehavior, Settings, WriteMethod};
use crate::converters::{JsonConverter, JsonConverterConfig};
use crate::sdk::{Converter, SchemaAndValue, SchemaType, SinkRecord, Value};

/// Error types of bulk items that mean the document itself is bad (Confluent's list, plus
/// the names newer servers use for the same failures).
const MALFORMED_ERRORS: [&str; 5] = [
    "mapper_parsing_exception",
    "document_parsing_exception",
    "illegal_argument_exception",
    "action_request_validation_exception",
    "strict_dynamic_mapping_exception",
];

/// The longest wait between two attempts, whatever `retry.backoff.ms` and the attempt say.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where a record came from: what error messages and traces name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

impl Origin {
    /// Where `record` was read (before a transform routed it elsewhere).
    pub(crate) fn of(record: &SinkRecord) -> Self {
        Origin {
            topic: record.original_topic().to_string(),
            partition: record.original_kafka_partition(),
            offset: record.kafka_offset,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "topic {} partition {} offset {}",
            self.topic, self.partition, self.offset
        )
    }
}

/// A bulk operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `index`: create or replace the document.
    Index,
    /// `update` with `doc_as_upsert`: create, or merge the fields into the existing document.
    Upsert,
    /// `delete`.
    Delete,
}

/// One record turned into a bulk action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Action {
    pub(crate) operation: Operation,
    pub(crate) index: String,
    pub(crate) id: String,
    /// External version (the Kafka offset) when the id is the record key.
    pub(crate) version: Option<i64>,
    /// The JSON document (none for deletes).
    pub(crate) document: Option<Vec<u8>>,
    pub(crate) origin: Origin,
}

impl Action {
    /// Bytes this action adds to a bulk body, roughly.
    pub(crate) fn size(&self) -> usize {
        self.document.as_ref().map_or(0, Vec::len) + self.index.len() + self.id.len() + 64
    }
}

/// Why a record did not become an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordProblem {
    /// The record cannot become a document (no id, null value under `fail`, bad data):
    /// follows `errors.tolerance` / `drop.invalid.message`.
    Invalid(String),
    /// The document is not a JSON object, which no server accepts: handled like a document
    /// the server rejected (`behavior.on.malformed.documents`).
    Malformed(String),
}

/// Returns the index of `topic`: lower-cased, at most 255 bytes, without a leading `-` or `_`,
/// and never `.` or `..` (Elasticsearch's rules for index names).
pub(crate) fn index_name(topic: &str) -> String {
    let mut index = topic.to_lowercase();
    if index.len() > 255 {
        let mut end = 255;
        while !index.is_char_boundary(end) {
            end -= 1;
        }
        index.truncate(end);
    }
    if index.starts_with('-') || index.starts_with('_') {
        index.remove(0);
    }
    if index == "." || index == ".." {
        index = index.replace('.', "dot");
    }
    index
}

/// Returns the document id made from a record key: a string or an integer, as Confluent's
/// connector accepts.
pub(crate) fn key_as_id(key: &SchemaAndValue) -> Result<String, String> {
    let id = match &key.value {
        Value::Null => return Err("Key is used as document id and can not be null.".to_string()),
        Value::String(text) => text.clone(),
        Value::Int8(number) => number.to_string(),
        Value::Int16(number) => number.to_string(),
        Value::Int32(number) => number.to_string(),
        Value::Int64(number) => number.to_string(),
        other => {
            let type_name = key.schema.as_deref().map_or_else(
                || value_type_name(other),
                |s| schema_type_name(s.schema_type),
            );
            return Err(format!(
                "{type_name} is not supported as the document id (use a string or integer key, or set key.ignore=true)."
            ));
        }
    };
    if id.is_empty() {
        return Err("Key is used as document id and can not be empty.".to_string());
    }
    Ok(id)
}

/// Returns the document id of a record under `settings`.
pub(crate) fn document_id(settings: &Settings, record: &SinkRecord) -> Result<String, String> {
    if settings.ignores_key(&record.topic) {
        Ok(format!(
            "{}+{}+{}",
            record.topic, record.kafka_partition, record.kafka_offset
        ))
    } else {
        key_as_id(&record.key)
    }
}

/// Turns records into bulk actions.
pub(crate) struct ActionBuilder {
    /// Kafka Connect's JsonConverter without schemas: how Confluent writes documents.
    json: JsonConverter,
}

impl ActionBuilder {
    pub(crate) fn new() -> Self {
        ActionBuilder {
            json: JsonConverter::new(JsonConverterConfig {
                schemas_enable: false,
                ..JsonConverterConfig::default()
            }),
        }
    }

    /// Returns the action for `record` (`None`: nothing to write, e.g. an ignored null value).
    pub(crate) fn action(
        &self,
        settings: &Settings,
        record: &SinkRecord,
        index: &str,
    ) -> Result<Option<Action>, RecordProblem> {
        let origin = Origin::of(record);
        let key_is_id = !settings.ignores_key(&record.topic);
        if record.value.value.is_null() {
            match settings.null_values {
                NullValueBehavior::Ignore => return Ok(None),
                NullValueBehavior::Fail => {
                    return Err(RecordProblem::Invalid(format!(
                        "The record from {origin} has a null value (to ignore records like this change the configuration property 'behavior.on.null.values' from 'fail' to 'ignore', or to 'delete' to delete the document)"
                    )))
                }
                NullValueBehavior::Delete => {}
            }
            if key_is_id && record.key.value.is_null() {
                // Nothing can be deleted without an id.
                return Ok(None);
            }
        }
        let id = document_id(settings, record).map_err(|reason| {
            RecordProblem::Invalid(format!(
                "The record from {origin} has no usable document id: {reason}"
            ))
        })?;
        if record.value.value.is_null() {
            return Ok(Some(Action {
                operation: Operation::Delete,
                index: index.to_string(),
                id,
                version: key_is_id.then_some(record.kafka_offset),
                document: None,
                origin,
            }));
        }
        let document = self.document(settings, record).map_err(|reason| {
            RecordProblem::Invalid(format!(
                "The value of the record from {origin} cannot be converted to JSON: {reason}"
            ))
        })?;
        if document.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(RecordProblem::Malformed(format!(
                "the value of the record from {origin} is not a JSON object, which Elasticsearch needs as a document"
            )));
        }
        let (operation, version) = match settings.write_method {
            WriteMethod::Upsert => (Operation::Upsert, None),
            WriteMethod::Insert => (Operation::Index, key_is_id.then_some(record.kafka_offset)),
        };
        Ok(Some(Action {
            operation,
            index: index.to_string(),
            id,
            version,
            document: Some(document),
            origin,
        }))
    }

    /// Returns the JSON document of a record's (non-null) value.
    pub(crate) fn document(
        &self,
        settings: &Settings,
        record: &SinkRecord,
    ) -> Result<Vec<u8>, String> {
        let schema = record.value.schema.as_deref();
        if settings.ignores_schema(&record.topic) || schema.is_none() {
            let bytes = self
                .json
                .from_connect_data(&record.topic, schema, &record.value.value)
                .map_err(|error| error.to_string())?;
            return Ok(bytes.unwrap_or_else(|| b"null".to_vec()));
        }
        let json = preprocessed_json(schema, &record.value.value, settings.compact_map_entries)?;
        serde_json::to_vec(&json).map_err(|error| error.to_string())
    }
}

pub(crate) fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Boolean(_) => "BOOLEAN",
        Value::Int8(_) => "INT8",
        Value::Int16(_) => "INT16",
        Value::Int32(_) | Value::Date(_) | Value::Time(_) => "INT32",
        Value::Int64(_) | Value::Timestamp(_) => "INT64",
        Value::Float32(_) => "FLOAT32",
        Value::Float64(_) => "FLOAT64",
        Value::String(_) => "STRING",
        Value::Bytes(_) | Value::Decimal(_) => "BYTES",
        Value::Array(_) => "ARRAY",
        Value::Map(_) => "MAP",
        Value::Struct(_) => "STRUCT",
    }
}

fn schema_type_name(schema_type: SchemaType) -> &'static str {
    match schema_type {
        SchemaType::Int8 => "INT8",
        SchemaType::Int16 => "INT16",
        SchemaType::Int32 => "INT32",
        SchemaType::Int64 => "INT64",
        SchemaType::Float32 => "FLOAT32",
        SchemaType::Float64 => "FLOAT64",
        SchemaType::Boolean => "BOOLEAN",
        SchemaType::String => "STRING",
        SchemaType::Bytes => "BYTES",
        SchemaType::Array => "ARRAY",
        SchemaType::Map => "MAP",
        SchemaType::Struct => "STRUCT",
    }
}

/// Appends one action (its metadata line, and its document line unless it deletes) to a
/// `_bulk` body in NDJSON.
pub(crate) fn append_action(body: &mut Vec<u8>, action: &Action, retry_on_conflict: usize) {
    let mut meta = serde_json::Map::new();
    meta.insert("_index".into(), action.index.clone().into());
    meta.insert("_id".into(), action.id.clone().into());
    if let Some(version) = action.version {
        meta.insert("version".into(), version.into());
        meta.insert("version_type".into(), "external".into());
    }
    let name = match action.operation {
        Operation::Index => "index",
        Operation::Upsert => {
            meta.insert("retry_on_conflict".into(), retry_on_conflict.into());
            "update"
        }
        Operation::Delete => "delete",
    };
    let mut line = serde_json::Map::new();
    line.insert(name.into(), serde_json::Value::Object(meta));
    // Serialising a map of strings and numbers cannot fail.
    let _ = serde_json::to_writer(&mut *body, &serde_json::Value::Object(line));
    body.push(b'\n');
    if let Some(document) = &action.document {
        match action.operation {
            Operation::Upsert => {
                body.extend_from_slice(b"{\"doc\":");
                body.extend_from_slice(document);
                body.extend_from_slice(b",\"doc_as_upsert\":true}");
            }
            Operation::Index | Operation::Delete => body.extend_from_slice(document),
        }
        body.push(b'\n');
    }
}

/// Builds a `_bulk` body from actions.
pub(crate) fn bulk_body<'a>(
    actions: impl IntoIterator<Item = &'a Action>,
    retry_on_conflict: usize,
) -> Vec<u8> {
    let mut body = Vec::new();
    for action in actions {
        append_action(&mut body, action, retry_on_conflict);
    }
    body
}

/// What became of one bulk item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemOutcome {
    /// Written (or deleted, or already gone).
    Done,
    /// The server holds the same or a newer version of the document: nothing to do.
    VersionConflict,
    /// The document is bad: `behavior.on.malformed.documents` decides.
    Malformed(String),
    /// Worth another attempt (HTTP 429, 5xx).
    Retry(String),
    /// Any other failure.
    Failed(String),
}

#[derive(Deserialize)]
struct BulkResponse {
    #[serde(default)]
    errors: bool,
    items: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Classifies one item of a bulk response from its HTTP status and error.
pub(crate) fn classify_item(status: u16, error: Option<&serde_json::Value>) -> ItemOutcome {
    let Some(error) = error.filter(|e| !e.is_null()) else {
        return if (200..300).contains(&status) || status == 404 {
            // A delete of a missing document answers 404 without an error: already gone.
            ItemOutcome::Done
        } else if status == 429 || status >= 500 {
            ItemOutcome::Retry(format!("HTTP {status}"))
        } else {
            ItemOutcome::Failed(format!("HTTP {status}"))
        };
    };
    let error_type = error["type"].as_str().unwrap_or("");
    let mut reason = format!("{error_type}: {}", error["reason"].as_str().unwrap_or(""));
    if let Some(cause) = error.get("caused_by").filter(|c| c.is_object()) {
        reason.push_str(&format!(
            " (caused by {}: {})",
            cause["type"].as_str().unwrap_or(""),
            cause["reason"].as_str().unwrap_or("")
        ));
    }
    if error_type == "version_conflict_engine_exception" || status == 409 {
        ItemOutcome::VersionConflict
    } else if MALFORMED_ERRORS.contains(&error_type) {
        ItemOutcome::Malformed(reason)
    } else if status == 429 || status >= 500 {
        ItemOutcome::Retry(reason)
    } else {
        ItemOutcome::Failed(reason)
    }
}

/// Parses a `_bulk` response body into one outcome per action sent, in order.
pub(crate) fn parse_bulk_response(body: &[u8], sent: usize) -> Result<Vec<ItemOutcome>, String> {
    let response: BulkResponse = serde_json::from_slice(body)
        .map_err(|error| format!("unexpected bulk response ({error}): {}", snippet(body)))?;
    if response.items.len() != sent {
        return Err(format!(
            "the bulk response has {} items for {sent} actions",
            response.items.len()
        ));
    }
    if !response.errors {
        return Ok(vec![ItemOutcome::Done; sent]);
    }
    let mut outcomes = Vec::with_capacity(sent);
    for item in &response.items {
        let Some(result) = item.values().next() else {
            return Err("a bulk response item is empty".to_string());
        };
        let status = result["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0);
        outcomes.push(classify_item(status, result.get("error")));
    }
    Ok(outcomes)
}

/// The start of a response body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(500);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// What a whole HTTP answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    Success,
    /// 429 and 5xx: the server is busy or unwell; try again.
    Retry,
    /// 401/403: credentials are wrong or lack privileges.
    Unauthorized,
    /// Any other status.
    Fail,
}

/// Classifies an HTTP status.
pub(crate) fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 | 403 => StatusClass::Unauthorized,
        408 | 429 | 500..=599 => StatusClass::Retry,
        _ => StatusClass::Fail,
    }
}

/// The wait before retry number `attempt` (0 for the first retry): `base × 2^attempt`, capped
/// at a minute, then scaled by `jitter` (in `[0, 1)`) into its upper half, so that tasks
/// retrying together spread out.
pub(crate) fn backoff(attempt: u32, base: Duration, jitter: f64) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
        .max(base.min(MAX_BACKOFF));
    ceiling.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}
