//! `org.apache.kafka.connect.json.JsonConverter`: JSON with an optional schema envelope,
//! byte-compatible with Kafka Connect 4.x (see `tests/golden/` for the proof).
//!
//! Encoding mirrors `JsonConverter.asJsonSchema` / `convertToJson`: schema keys in the order
//! `type`, `items` | `keys`,`values` | `fields`, `optional`, `name`, `version`, `doc`,
//! `parameters`, `default` (and `field` last inside struct fields); decoding lives in
//! [`super::json_decode`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::jackson::{self, Node};
use super::{java, json_decode, parse_bool};
use crate::sdk::data::logical;
use crate::sdk::{
    ConnectorError, ConversionError, Converter, Schema, SchemaAndValue, SchemaType, Value,
};

/// The Java class name of [`JsonConverter`].
pub const JSON_CONVERTER_CLASS: &str = "org.apache.kafka.connect.json.JsonConverter";

/// How Decimal values are written (`decimal.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Base64 of the unscaled two's-complement bytes (Kafka Connect's default).
    Base64,
    /// A plain JSON number.
    Numeric,
}

/// JsonConverter settings (the `*.converter.` sub-keys, prefix removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonConverterConfig {
    /// `schemas.enable` (default true): wrap every message in a `schema`/`payload` envelope.
    pub schemas_enable: bool,
    /// `decimal.format` (default BASE64).
    pub decimal_format: DecimalFormat,
    /// `replace.null.with.default` (default true): write a field's default instead of null.
    pub replace_null_with_default: bool,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        JsonConverterConfig {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        }
    }
}

impl JsonConverterConfig {
    /// Reads the settings (`schemas.cache.size` is read by [`schemas_cache_size`]); other keys
    /// are ignored as Kafka Connect ignores them.
    ///
    /// # Errors
    /// A user error naming the key when a value is invalid or a key is unknown.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self, ConnectorError> {
        let decimal_format = match props.get("decimal.format") {
            None => DecimalFormat::Base64,
            Some(text) if text.eq_ignore_ascii_case("BASE64") => DecimalFormat::Base64,
            Some(text) if text.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
            Some(text) => {
                return Err(ConnectorError::user(format!(
                "Invalid value {text} for configuration decimal.format: must be BASE64 or NUMERIC"
            )))
            }
        };
        schemas_cache_size(props)?;
        Ok(JsonConverterConfig {
            schemas_enable: parse_bool(props, "schemas.enable", true)?,
            decimal_format,
            replace_null_with_default: parse_bool(props, "replace.null.with.default", true)?,
        })
    }
}

/// Kafka Connect's default `schemas.cache.size`.
pub const DEFAULT_SCHEMAS_CACHE_SIZE: usize = 1000;

/// Reads `schemas.cache.size` (default 1000): how many schemas a JsonConverter keeps encoded.
/// 0 (or a negative value) keeps none.
///
/// # Errors
/// A user error naming the key when the value is not a number.
pub fn schemas_cache_size(props: &BTreeMap<String, String>) -> Result<usize, ConnectorError> {
    let Some(size) = props.get("schemas.cache.size") else {
        return Ok(DEFAULT_SCHEMAS_CACHE_SIZE);
    };
    let parsed = size.trim().parse::<i32>().map_err(|_| {
        ConnectorError::user(format!(
            "Invalid value {size} for configuration schemas.cache.size: not a number"
        ))
    })?;
    Ok(usize::try_from(parsed).unwrap_or(0))
}

/// Kafka Connect's JsonConverter; also usable as a header converter.
#[derive(Debug, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
    schemas: SchemaCache,
    decoded: json_decode::DecodedSchemas,
}

impl Clone for JsonConverter {
    /// A converter with the same settings and an empty schema cache.
    fn clone(&self) -> Self {
        JsonConverter {
            config: self.config,
            schemas: SchemaCache::new(self.schemas.capacity),
            decoded: json_decode::DecodedSchemas::new(self.schemas.capacity),
        }
    }
}

/// The JSON of the schemas a converter wrote lately (`schemas.cache.size` of them), so a stream
/// of records with one schema encodes it once rather than once per record. Looked up by
/// equality, most recently used first.
#[derive(Debug)]
struct SchemaCache {
    capacity: usize,
    entries: Mutex<VecDeque<(Schema, Arc<str>)>>,
}

impl Default for SchemaCache {
    fn default() -> Self {
        SchemaCache::new(DEFAULT_SCHEMAS_CACHE_SIZE)
    }
}

impl SchemaCache {
    fn new(capacity: usize) -> Self {
        SchemaCache {
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Returns the JSON of `schema`, encoding it with `encode` when it is not cached.
    fn get_or_encode(
        &self,
        schema: &Schema,
        encode: impl FnOnce() -> Result<String, ConversionError>,
    ) -> Result<Arc<str>, ConversionError> {
        if self.capacity == 0 {
            return encode().map(Arc::from);
        }
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(index) = entries.iter().position(|(cached, _)| cached == schema) {
                let json = Arc::clone(&entries[index].1);
                if index != 0 {
                    if let Some(entry) = entries.remove(index) {
                        entries.push_front(entry);
                    }
                }
                return Ok(json);
            }
        }
        let json: Arc<str> = Arc::from(encode()?);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push_front((schema.clone(), Arc::clone(&json)));
        entries.truncate(self.capacity);
        Ok(json)
    }
}

impl JsonConverter {
    /// Returns a converter with `config` and Kafka Connect's default schema cache size.
    pub fn new(config: JsonConverterConfig) -> Self {
        JsonConverter::with_schemas_cache_size(config, DEFAULT_SCHEMAS_CACHE_SIZE)
    }

    /// Returns a converter with `config` that keeps the JSON of up to `size` schemas.
    pub fn with_schemas_cache_size(config: JsonConverterConfig, size: usize) -> Self {
        JsonConverter {
            config,
            schemas: SchemaCache::new(size),
            decoded: json_decode::DecodedSchemas::new(size),
        }
    }

    /// Returns the converter's settings.
    pub fn config(&self) -> &JsonConverterConfig {
        &self.config
    }

    /// Returns the JSON form of a schema, as `JsonConverter.asJsonSchema` builds it.
    pub(crate) fn schema_to_node(&self, schema: &Schema) -> Result<Node, ConversionError> {
        let mut entries = vec![(
            "type".to_string(),
            Node::Text(schema.schema_type.json_name().to_string()),
        )];
        match schema.schema_type {
            SchemaType::Array => {
                let items = schema.value_schema.as_deref().ok_or_else(|| {
                    ConversionError("array schema has no element schema".to_string())
                })?;
                entries.push(("items".to_string(), self.schema_to_node(items)?));
            }
            SchemaType::Map => {
                let (Some(keys), Some(values)) =
                    (schema.key_schema.as_deref(), schema.value_schema.as_deref())
                else {
                    return Err(ConversionError(
                        "map schema has no key or value schema".to_string(),
                    ));
                };
                entries.push(("keys".to_string(), self.schema_to_node(keys)?));
                entries.push(("values".to_string(), self.schema_to_node(values)?));
            }
            SchemaType::Struct => {
                let mut fields = Vec::with_capacity(schema.fields.len());
                for field in &schema.fields {
                    let mut node = self.schema_to_node(&field.schema)?;
                    if let Node::Object(field_entries) = &mut node {
                        field_entries.push(("field".to_string(), Node::Text(field.name.clone())));
                    }
                    fields.push(node);
                }
                entries.push(("fields".to_string(), Node::Array(fields)));
            }
            _ => {}
        }
        entries.push(("optional".to_string(), Node::Bool(schema.optional)));
        if let Some(name) = &schema.name {
            entries.push(("name".to_string(), Node::Text(name.clone())));
        }
        if let Some(version) = schema.version {
            entries.push(("version".to_string(), Node::Integer(i128::from(version))));
        }
        if let Some(doc) = &schema.doc {
            entries.push(("doc".to_string(), Node::Text(doc.clone())));
        }
        if !schema.parameters.is_empty() {
            let parameters = schema
                .parameters
                .iter()
                .map(|(key, value)| (key.clone(), Node::Text(value.clone())))
                .collect();
            entries.push(("parameters".to_string(), Node::Object(parameters)));
        }
        if let Some(default) = schema.default.as_ref().filter(|value| !value.is_null()) {
            entries.push((
                "default".to_string(),
                self.value_to_node(Some(schema), default)?,
            ));
        }
        Ok(Node::Object(entries))
    }

    /// Returns the JSON form of a value, as `JsonConverter.convertToJson` builds it.
    pub(crate) fn value_to_node(
        &self,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Node, ConversionError> {
        let Some(schema) = schema else {
            return self.schemaless_to_node(value);
        };
        if value.is_null() {
            if self.config.replace_null_with_default {
                if let Some(default) = schema.default.as_ref().filter(|value| !value.is_null()) {
                    return self.value_to_node(Some(schema), default);
                }
            }
            if schema.optional {
                return Ok(Node::Null);
            }
            return Err(ConversionError(
                "Conversion error: null value for field that is required and has no default value"
                    .to_string(),
            ));
        }
        let mismatch = || {
            ConversionError(format!(
                "Invalid type for {}: {} value does not match the schema",
                schema
                    .name
                    .as_deref()
                    .unwrap_or(schema.schema_type.json_name()),
                value_type_name(value)
            ))
        };
        Ok(match (schema.schema_type, value) {
            (SchemaType::Bytes, Value::Decimal(decimal))
                if is_logical(schema, logical::DECIMAL) =>
            {
                match self.config.decimal_format {
                    DecimalFormat::Numeric => Node::Number(java::big_decimal_to_string(decimal)),
                    DecimalFormat::Base64 => {
                        let scale = schema.decimal_scale().ok_or_else(|| {
                            ConversionError(
                                "Invalid Decimal schema: scale parameter missing".into(),
                            )
                        })?;
                        let rescaled = java::rescale(*decimal, scale).ok_or_else(|| {
                            ConversionError(
                                "BigDecimal has mismatching scale value for given Decimal schema"
                                    .to_string(),
                            )
                        })?;
                        Node::Text(BASE64.encode(rescaled.unscaled_bytes()))
                    }
                }
            }
            (SchemaType::Int32, Value::Date(days)) if is_logical(schema, logical::DATE) => {
                Node::Integer(i128::from(*days))
            }
            (SchemaType::Int32, Value::Time(millis)) if is_logical(schema, logical::TIME) => {
                Node::Integer(i128::from(*millis))
            }
            (SchemaType::Int64, Value::Timestamp(millis))
                if is_logical(schema, logical::TIMESTAMP) =>
            {
                Node::Integer(i128::from(*millis))
            }
            (SchemaType::Boolean, Value::Boolean(flag)) => Node::Bool(*flag),
            (SchemaType::Int8, Value::Int8(number)) => Node::Integer(i128::from(*number)),
            (SchemaType::Int16, Value::Int16(number)) => Node::Integer(i128::from(*number)),
            (SchemaType::Int32, Value::Int32(number)) => Node::Integer(i128::from(*number)),
            (SchemaType::Int64, Value::Int64(number)) => Node::Integer(i128::from(*number)),
            (SchemaType::Float32, Value::Float32(number)) => Node::Float(*number),
            (SchemaType::Float64, Value::Float64(number)) => Node::Double(*number),
            (SchemaType::String, Value::String(text)) => Node::Text(text.clone()),
            (SchemaType::Bytes, Value::Bytes(bytes)) => Node::Text(BASE64.encode(bytes)),
            (SchemaType::Array, Value::Array(items)) => {
                let element = schema.value_schema.as_deref();
                Node::Array(
                    items
                        .iter()
                        .map(|item| self.value_to_node(element, item))
                        .collect::<Result<_, _>>()?,
                )
            }
            (SchemaType::Map, Value::Map(entries)) => {
                let key_schema = schema.key_schema.as_deref();
                let value_schema = schema.value_schema.as_deref();
                if key_schema.is_some_and(|key| key.schema_type == SchemaType::String) {
                    let mut object = Vec::with_capacity(entries.len());
                    for (key, item) in entries {
                        let Value::String(key) = key else {
                            return Err(mismatch());
                        };
                        object.push((key.clone(), self.value_to_node(value_schema, item)?));
                    }
                    Node::Object(object)
                } else {
                    let mut pairs = Vec::with_capacity(entries.len());
                    for (key, item) in entries {
                        pairs.push(Node::Array(vec![
                            self.value_to_node(key_schema, key)?,
                            self.value_to_node(value_schema, item)?,
                        ]));
                    }
                    Node::Array(pairs)
                }
            }
            (SchemaType::Struct, Value::Struct(record)) => {
                if record.schema.as_ref() != schema {
                    return Err(ConversionError("Mismatching schema.".to_string()));
                }
                let mut object = Vec::with_capacity(schema.fields.len());
                for (field, item) in schema.fields.iter().zip(&record.values) {
                    object.push((
                        field.name.clone(),
                        self.value_to_node(Some(&field.schema), item)?,
                    ));
                }
                Node::Object(object)
            }
            _ => return Err(mismatch()),
        })
    }

    /// Converts a value without a schema, inferring the JSON type from the value.
    fn schemaless_to_node(&self, value: &Value) -> Result<Node, ConversionError> {
        Ok(match value {
            Value::Null => Node::Null,
            Value::Boolean(flag) => Node::Bool(*flag),
            Value::Int8(number) => Node::Integer(i128::from(*number)),
            Value::Int16(number) => Node::Integer(i128::from(*number)),
            Value::Int32(number) | Value::Date(number) | Value::Time(number) => {
                Node::Integer(i128::from(*number))
            }
            Value::Int64(number) | Value::Timestamp(number) => Node::Integer(i128::from(*number)),
            Value::Float32(number) => Node::Float(*number),
            Value::Float64(number) => Node::Double(*number),
            Value::String(text) => Node::Text(text.clone()),
            Value::Bytes(bytes) => Node::Text(BASE64.encode(bytes)),
            Value::Decimal(decimal) => Node::Number(java::big_decimal_to_string(decimal)),
            Value::Array(items) => Node::Array(
                items
                    .iter()
                    .map(|item| self.schemaless_to_node(item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(entries) => {
                if entries
                    .iter()
                    .all(|(key, _)| matches!(key, Value::String(_)))
                {
                    let mut object = Vec::with_capacity(entries.len());
                    for (key, item) in entries {
                        let key = key.as_str().unwrap_or_default().to_string();
                        object.push((key, self.schemaless_to_node(item)?));
                    }
                    Node::Object(object)
                } else {
                    let mut pairs = Vec::with_capacity(entries.len());
                    for (key, item) in entries {
                        pairs.push(Node::Array(vec![
                            self.schemaless_to_node(key)?,
                            self.schemaless_to_node(item)?,
                        ]));
                    }
                    Node::Array(pairs)
                }
            }
            Value::Struct(record) => self.value_to_node(Some(&record.schema), value)?,
        })
    }
}

/// Returns true when `schema` carries the logical type `name`.
fn is_logical(schema: &Schema, name: &str) -> bool {
    schema.name.as_deref() == Some(name)
}

/// Returns a short name of a value's variant for error messages.
pub(crate) fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float32",
        Value::Float64(_) => "float64",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
        Value::Decimal(_) => "Decimal",
        Value::Date(_) => "Date",
        Value::Time(_) => "Time",
        Value::Timestamp(_) => "Timestamp",
    }
}

impl Converter for JsonConverter {
    fn from_connect_data(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let payload = self.value_to_node(schema, value)?;
        if !self.config.schemas_enable {
            return Ok(Some(payload.to_bytes()));
        }
        // `{"schema":<schema>,"payload":<payload>}`, the schema's JSON from the cache.
        let mut out = String::with_capacity(64);
        out.push_str("{\"schema\":");
        match schema {
            Some(schema) => {
                let json = self
                    .schemas
                    .get_or_encode(schema, || Ok(self.schema_to_node(schema)?.to_json_string()))?;
                out.push_str(&json);
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"payload\":");
        payload.write(&mut out);
        out.push('}');
        Ok(Some(out.into_bytes()))
    }

    /// Writes the envelope (or the bare payload) straight into `out`; a string is written from
    /// the value without a node.
    fn from_connect_data_into(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        if schema.is_none() && value.is_null() {
            return Ok(false);
        }
        if let (true, Value::String(text)) = (is_string_schema(schema), value) {
            self.write_envelope(schema, out, |out| jackson::write_string_bytes(text, out))?;
            return Ok(true);
        }
        let payload = self.value_to_node(schema, value)?;
        self.write_envelope(schema, out, |out| {
            let mut text = String::new();
            payload.write(&mut text);
            out.extend_from_slice(text.as_bytes());
        })?;
        Ok(true)
    }

    fn from_connect_text_into(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        text: &str,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        if !is_string_schema(schema) {
            return self.from_connect_data_into(
                topic,
                schema,
                &Value::String(text.to_string()),
                out,
            );
        }
        self.write_envelope(schema, out, |out| jackson::write_string_bytes(text, out))?;
        Ok(true)
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConversionError> {
        json_decode::decode_cached(&self.config, &self.decoded, bytes)
    }
}

/// True when a string value is written as a plain JSON string under `schema` (no schema, or a
/// string schema).
fn is_string_schema(schema: Option<&Schema>) -> bool {
    schema.is_none_or(|schema| schema.schema_type == SchemaType::String)
}

impl JsonConverter {
    /// Appends `{"schema":<schema>,"payload":<payload>}` (the schema's JSON from the cache), or
    /// only the payload when schemas are disabled; `payload` writes the payload.
    fn write_envelope(
        &self,
        schema: Option<&Schema>,
        out: &mut Vec<u8>,
        payload: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), ConversionError> {
        if !self.config.schemas_enable {
            payload(out);
            return Ok(());
        }
        out.extend_from_slice(b"{\"schema\":");
        match schema {
            Some(schema) => {
                let json = self
                    .schemas
                    .get_or_encode(schema, || Ok(self.schema_to_node(schema)?.to_json_string()))?;
                out.extend_from_slice(json.as_bytes());
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"payload\":");
        payload(out);
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::sdk::data::Struct;

    fn encode_uncached(converter: &JsonConverter, schema: &Schema, value: &Value) -> Vec<u8> {
        Node::Object(vec![
            (
                "schema".to_string(),
                converter.schema_to_node(schema).expect("schema encodes"),
            ),
            (
                "payload".to_string(),
                converter
                    .value_to_node(Some(schema), value)
                    .expect("value encodes"),
            ),
        ])
        .to_bytes()
    }

    #[test]
    fn cached_schemas_encode_exactly_as_uncached_ones_also_after_eviction() {
        let person = Schema::structure(
            Some("person"),
            vec![
                ("name", Schema::primitive(SchemaType::String)),
                ("age", Schema::primitive(SchemaType::Int32).optional()),
            ],
        );
        let text = Schema::primitive(SchemaType::String).named("label");
        let cases = [
            (
                person.clone(),
                Value::Struct(Struct {
                    schema: Arc::new(person),
                    values: vec![Value::String("ada".into()), Value::Int32(36)],
                }),
            ),
            (text, Value::String("x".into())),
        ];
        for size in [0, 1, 1000] {
            let converter =
                JsonConverter::with_schemas_cache_size(JsonConverterConfig::default(), size);
            // Alternating schemas: with room for one, every lookup misses and evicts.
            for round in 0..3 {
                for (schema, value) in &cases {
                    let cached = converter
                        .from_connect_data("t", Some(schema), value)
                        .expect("encodes")
                        .expect("not null");
                    assert_eq!(
                        cached,
                        encode_uncached(&converter, schema, value),
                        "cache size {size}, round {round}"
                    );
                }
            }
            let entries = converter.schemas.entries.lock().expect("lock").len();
            assert_eq!(entries, size.min(cases.len()), "cache size {size}");
        }
    }

    #[test]
    fn schemas_cache_size_is_read_and_validated() {
        let props = |value: &str| {
            [("schemas.cache.size".to_string(), value.to_string())]
                .into_iter()
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            schemas_cache_size(&BTreeMap::new()).ok(),
            Some(DEFAULT_SCHEMAS_CACHE_SIZE)
        );
        assert_eq!(schemas_cache_size(&props("5")).ok(), Some(5));
        assert_eq!(schemas_cache_size(&props("-1")).ok(), Some(0));
        let error = schemas_cache_size(&props("many")).expect_err("not a number");
        assert!(error.message.contains("schemas.cache.size"), "{error:?}");
    }
}
