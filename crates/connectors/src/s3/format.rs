//! Object formats (`format.class`): how a record's value becomes bytes in an object.

use crate::converters::{ByteArrayConverter, DecimalFormat, JsonConverter, JsonConverterConfig};
use crate::sdk::{Converter, SinkRecord};

/// `io.confluent.connect.s3.format.json.JsonFormat`.
pub(crate) const JSON_FORMAT: &str = "io.confluent.connect.s3.format.json.JsonFormat";
/// `io.confluent.connect.s3.format.bytearray.ByteArrayFormat`.
pub(crate) const BYTE_ARRAY_FORMAT: &str =
    "io.confluent.connect.s3.format.bytearray.ByteArrayFormat";

/// Which format class a `format.class` value names (full or simple name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormatKind {
    Json,
    ByteArray,
}

impl FormatKind {
    /// Resolves a class name; `None` for formats Ferry does not have (Avro, Parquet, ...).
    pub(crate) fn from_class(class: &str) -> Option<Self> {
        let class = class.trim();
        match class.rsplit('.').next().unwrap_or(class) {
            "JsonFormat" if class == "JsonFormat" || class == JSON_FORMAT => Some(FormatKind::Json),
            "ByteArrayFormat" if class == "ByteArrayFormat" || class == BYTE_ARRAY_FORMAT => {
                Some(FormatKind::ByteArray)
            }
            _ => None,
        }
    }
}

/// Encodes record values into object bytes.
#[derive(Debug, Clone)]
pub(crate) enum RecordFormat {
    /// One JSON document per line: the value as JsonConverter writes it with
    /// `schemas.enable=false`; extension `.json`.
    Json(JsonConverter),
    /// The raw bytes of each value followed by `separator`; extension from
    /// `format.bytearray.extension` (`.bin`).
    ByteArray {
        separator: Vec<u8>,
        extension: String,
    },
}

impl RecordFormat {
    /// JsonFormat, writing decimals as `json.decimal.format` says.
    pub(crate) fn json(decimal_format: DecimalFormat) -> Self {
        RecordFormat::Json(JsonConverter::new(JsonConverterConfig {
            schemas_enable: false,
            decimal_format,
            replace_null_with_default: true,
        }))
    }

    /// ByteArrayFormat; the separator's `\n`, `\r`, `\t` and `\\` escapes are decoded as
    /// Confluent's connector does.
    pub(crate) fn byte_array(separator_opt: Option<&str>, extension: &str) -> Self {
        let separator = separator_opt.map_or_else(|| b"\n".to_vec(), unescape);
        RecordFormat::ByteArray {
            separator,
            extension: extension.to_string(),
        }
    }

    /// Returns the object name extension, with its dot.
    pub(crate) fn extension(&self) -> &str {
        match self {
            RecordFormat::Json(_) => ".json",
            RecordFormat::ByteArray { extension, .. } => extension,
        }
    }

    /// Appends a record's (non-null) value and its separator to `out`.
    ///
    /// # Errors
    /// Why the value cannot be written in this format (the caller adds where the record is).
    pub(crate) fn append(&self, record: &SinkRecord, out: &mut Vec<u8>) -> Result<(), String> {
        let schema = record.value.schema.as_deref();
        let value = &record.value.value;
        match self {
            RecordFormat::Json(converter) => {
                let bytes = converter
                    .from_connect_data(&record.topic, schema, value)
                    .map_err(|error| error.0)?;
                out.extend_from_slice(bytes.as_deref().unwrap_or(b"null"));
                out.push(b'\n');
            }
            RecordFormat::ByteArray { separator, .. } => {
                let bytes = ByteArrayConverter
                    .from_connect_data(&record.topic, schema, value)
                    .map_err(|error| {
                        format!("{}; ByteArrayFormat needs value.converter=org.apache.kafka.connect.converters.ByteArrayConverter", error.0)
                    })?;
                out.extend_from_slice(bytes.as_deref().unwrap_or_default());
                out.extend_from_slice(separator);
            }
        }
        Ok(())
    }
}

/// Decodes `\n`, `\r`, `\t` and `\\` (other backslashes stay as they are).
fn unescape(raw: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(current) = chars.next() {
        if current != '\\' {
            out.push(current);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{Schema, SchemaAndValue, SchemaType, Struct, Value};
    use std::sync::Arc;

    fn record(value: SchemaAndValue) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 0,
            timestamp: None,
            key: SchemaAndValue::null(),
            value,
            headers: Vec::new(),
            original_opt: None,
        }
    }

    #[test]
    fn json_writes_one_schemaless_document_per_line() {
        let schema = Schema::structure(
            Some("row"),
            vec![
                ("id", Schema::primitive(SchemaType::Int32)),
                ("name", Schema::primitive(SchemaType::String)),
            ],
        );
        let row = Value::Struct(Struct {
            schema: Arc::new(schema.clone()),
            values: vec![Value::Int32(7), Value::String("x".into())],
        });
        let format = RecordFormat::json(DecimalFormat::Base64);
        let mut out = Vec::new();
        format
            .append(&record(SchemaAndValue::new(schema, row)), &mut out)
            .unwrap();
        format
            .append(
                &record(SchemaAndValue::schemaless(Value::Map(vec![(
                    Value::String("a".into()),
                    Value::Array(vec![Value::Boolean(true), Value::Null]),
                )]))),
                &mut out,
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":7,\"name\":\"x\"}\n{\"a\":[true,null]}\n"
        );
        assert_eq!(format.extension(), ".json");
    }

    #[test]
    fn byte_array_joins_raw_values_with_the_separator() {
        let format = RecordFormat::byte_array(None, ".bin");
        let mut out = Vec::new();
        for bytes in [&b"\x00\x01"[..], b"two"] {
            let value = SchemaAndValue::new(
                Schema::primitive(SchemaType::Bytes).optional(),
                Value::Bytes(bytes.to_vec()),
            );
            format.append(&record(value), &mut out).unwrap();
        }
        assert_eq!(out, b"\x00\x01\ntwo\n");
        let custom = RecordFormat::byte_array(Some("\\r\\n|"), ".raw");
        let mut out = Vec::new();
        custom
            .append(
                &record(SchemaAndValue::schemaless(Value::Bytes(b"a".to_vec()))),
                &mut out,
            )
            .unwrap();
        assert_eq!(out, b"a\r\n|");
        assert_eq!(custom.extension(), ".raw");
    }

    #[test]
    fn byte_array_rejects_values_that_are_not_bytes() {
        let format = RecordFormat::byte_array(None, ".bin");
        let error = format
            .append(
                &record(SchemaAndValue::schemaless(Value::String("text".into()))),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(error.contains("ByteArrayConverter"), "{error}");
    }

    #[test]
    fn format_classes() {
        assert_eq!(FormatKind::from_class(JSON_FORMAT), Some(FormatKind::Json));
        assert_eq!(
            FormatKind::from_class("ByteArrayFormat"),
            Some(FormatKind::ByteArray)
        );
        assert_eq!(
            FormatKind::from_class("io.confluent.connect.s3.format.avro.AvroFormat"),
            None
        );
        assert_eq!(FormatKind::from_class("com.example.JsonFormat"), None);
    }
}
