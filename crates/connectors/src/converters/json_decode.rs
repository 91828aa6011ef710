//! JsonConverter decoding: `JsonConverter.toConnectData`, `asConnectSchema` and
//! `convertToConnect`, with Kafka Connect's error messages where it has them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::jackson::Node as Json;
use super::json::JsonConverterConfig;
use super::{java, json_parse};
use crate::sdk::data::logical;
use crate::sdk::{
    ConversionError, Decimal, Field, Schema, SchemaAndValue, SchemaType, Struct, Value,
};
use base64::engine::general_purpose::{STANDARD as BASE64, STANDARD_NO_PAD as BASE64_NO_PAD};
use base64::Engine as _;

/// The error for input without the `schema`/`payload` envelope, worded as Kafka Connect's.
pub(crate) const MISSING_ENVELOPE: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// Decodes message bytes; a null or empty payload is a null value without a schema.
pub(crate) fn decode(
    config: &JsonConverterConfig,
    bytes: Option<&[u8]>,
) -> Result<SchemaAndValue, ConversionError> {
    let Some(bytes) = bytes.filter(|bytes| !bytes.is_empty()) else {
        return Ok(SchemaAndValue::null());
    };
    let json = json_parse::parse(bytes).map_err(|error| {
        ConversionError(format!(
            "Converting byte[] to Kafka Connect data failed due to serialization error: {error}"
        ))
    })?;
    if !config.schemas_enable {
        return Ok(SchemaAndValue::schemaless(to_value(config, None, &json)?));
    }
    let (Json::Object(entries), Some(schema), Some(payload)) =
        (&json, get(&json, "schema"), get(&json, "payload"))
    else {
        return Err(ConversionError(MISSING_ENVELOPE.to_string()));
    };
    if entries.len() != 2 {
        return Err(ConversionError(MISSING_ENVELOPE.to_string()));
    }
    let schema = to_schema(config, schema)?.map(Arc::new);
    let value = to_value(config, schema.as_ref(), payload)?;
    Ok(SchemaAndValue { schema, value })
}

/// The Connect schemas of the envelopes decoded lately (`schemas.cache.size` of them), by the
/// JSON text of their `schema` member: a stream of records with one schema parses and converts
/// it once, as Kafka Connect's `toConnectSchemaCache` does. Most recently used first.
#[derive(Debug)]
pub(crate) struct DecodedSchemas {
    capacity: usize,
    entries: Mutex<VecDeque<DecodedSchema>>,
}

/// A schema member's JSON text and the schema it decodes to (`None` for JSON null).
type DecodedSchema = (Box<str>, Option<Arc<Schema>>);

impl Default for DecodedSchemas {
    fn default() -> Self {
        DecodedSchemas::new(super::json::DEFAULT_SCHEMAS_CACHE_SIZE)
    }
}

impl DecodedSchemas {
    pub(crate) fn new(capacity: usize) -> Self {
        DecodedSchemas {
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Returns the schema decoded from `text`, decoding it with `decode` when it is not cached.
    fn get_or_decode(
        &self,
        text: &str,
        decode: impl FnOnce() -> Option<Option<Arc<Schema>>>,
    ) -> Option<Option<Arc<Schema>>> {
        if self.capacity == 0 {
            return decode();
        }
        {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(index) = entries.iter().position(|(cached, _)| **cached == *text) {
                let schema = entries[index].1.clone();
                if index != 0 {
                    if let Some(entry) = entries.remove(index) {
                        entries.push_front(entry);
                    }
                }
                return Some(schema);
            }
        }
        let schema = decode()?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push_front((Box::from(text), schema.clone()));
        entries.truncate(self.capacity);
        Some(schema)
    }
}

/// [`decode`] without its intermediate tree where it can: schemaless documents are parsed
/// straight into values; envelopes are checked and split without building their tree, the
/// schema member is looked up by its text in `schemas`, and only the payload is parsed. Anything the fast path does not take (and every error) goes through
/// [`decode`], so results and error messages are the same.
pub(crate) fn decode_cached(
    config: &JsonConverterConfig,
    schemas: &DecodedSchemas,
    bytes: Option<&[u8]>,
) -> Result<SchemaAndValue, ConversionError> {
    if let Some(bytes) = bytes.filter(|bytes| !bytes.is_empty()) {
        let decoded_opt = if config.schemas_enable {
            decode_envelope(config, schemas, bytes)
        } else {
            json_parse::parse_schemaless(bytes).map(SchemaAndValue::schemaless)
        };
        if let Some(decoded) = decoded_opt {
            return Ok(decoded);
        }
    }
    decode(config, bytes)
}

fn decode_envelope(
    config: &JsonConverterConfig,
    schemas: &DecodedSchemas,
    bytes: &[u8],
) -> Option<SchemaAndValue> {
    let parts = json_parse::split_envelope(bytes)?;
    let schema = schemas.get_or_decode(parts.schema, || {
        let node = json_parse::parse(parts.schema.as_bytes()).ok()?;
        Some(to_schema(config, &node).ok()?.map(Arc::new))
    })?;
    let payload = json_parse::parse(parts.payload.as_bytes()).ok()?;
    let value = match (&schema, payload) {
        // The text moves into the value instead of being copied (what `to_value` gives).
        (Some(string), Json::Text(text)) if string.schema_type == SchemaType::String => {
            Value::String(text)
        }
        (_, payload) => to_value(config, schema.as_ref(), &payload).ok()?,
    };
    Some(SchemaAndValue { schema, value })
}

/// Jackson's node type name, for error messages.
fn node_type(json: &Json) -> &'static str {
    match json {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Number(_) | Json::Integer(_) | Json::Float(_) | Json::Double(_) => "NUMBER",
        Json::Text(_) => "STRING",
        Json::Array(_) => "ARRAY",
        Json::Object(_) => "OBJECT",
    }
}

/// Parses the JSON form of a schema; JSON null means "no schema".
pub(crate) fn to_schema(
    config: &JsonConverterConfig,
    json: &Json,
) -> Result<Option<Schema>, ConversionError> {
    if *json == Json::Null {
        return Ok(None);
    }
    let error = |message: &str| ConversionError(message.to_string());
    let type_name = get(json, "type")
        .and_then(as_str)
        .ok_or_else(|| error("Schema must contain 'type' field"))?;
    let schema_type = SchemaType::from_json_name(type_name)
        .ok_or_else(|| ConversionError(format!("Unknown schema type: {type_name}")))?;
    let mut schema = Schema::primitive(schema_type);
    let nested = |key: &str, message: &str| -> Result<Arc<Schema>, ConversionError> {
        let node = get(json, key).unwrap_or(&Json::Null);
        to_schema(config, node)?
            .map(Arc::new)
            .ok_or_else(|| error(message))
    };
    match schema_type {
        SchemaType::Array => {
            schema.value_schema = Some(nested(
                "items",
                "Array schema did not specify the element type",
            )?);
        }
        SchemaType::Map => {
            schema.key_schema = Some(nested("keys", "Map schema did not specify the key type")?);
            schema.value_schema = Some(nested(
                "values",
                "Map schema did not specify the value type",
            )?);
        }
        SchemaType::Struct => {
            let fields = get(json, "fields")
                .and_then(as_array)
                .ok_or_else(|| error("Struct schema's \"fields\" argument is not an array."))?;
            for field in fields {
                let name = get(field, "field")
                    .and_then(as_str)
                    .ok_or_else(|| error("Struct schema's field name not specified properly"))?;
                let field_schema = to_schema(config, field)?
                    .ok_or_else(|| error("Struct schema's field schema is null"))?;
                schema.fields.push(Field {
                    name: name.to_string(),
                    schema: Arc::new(field_schema),
                });
            }
        }
        _ => {}
    }
    schema.optional = get(json, "optional").and_then(as_bool).unwrap_or(false);
    schema.name = get(json, "name").and_then(as_str).map(str::to_string);
    schema.version = get(json, "version")
        .and_then(as_i64)
        .and_then(|version| i32::try_from(version).ok());
    schema.doc = get(json, "doc").and_then(as_str).map(str::to_string);
    if let Some(parameters) = get(json, "parameters") {
        let Json::Object(parameters) = parameters else {
            return Err(error("Schema parameters must be a JSON object"));
        };
        for (key, value) in parameters {
            let value =
                as_str(value).ok_or_else(|| error("Schema parameters must have string values."))?;
            schema.parameters.insert(key.clone(), value.to_string());
        }
    }
    if let Some(default) = get(json, "default").filter(|default| **default != Json::Null) {
        let shape = Arc::new(schema.clone());
        schema.default = Some(to_value(config, Some(&shape), default)?);
    }
    Ok(Some(schema))
}

/// Converts a JSON payload to a value of `schema`, or infers the value without a schema.
pub(crate) fn to_value(
    config: &JsonConverterConfig,
    schema: Option<&Arc<Schema>>,
    json: &Json,
) -> Result<Value, ConversionError> {
    let Some(schema) = schema else {
        return schemaless(json);
    };
    if *json == Json::Null {
        if config.replace_null_with_default {
            if let Some(default) = &schema.default {
                return Ok(default.clone());
            }
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(ConversionError(format!(
            "Invalid null value for required {} field",
            schema.schema_type.json_name().to_uppercase()
        )));
    }
    let invalid = |expected: &str| {
        ConversionError(format!(
            "Invalid value for {} field: expected {expected} but found {}",
            schema.schema_type.json_name(),
            node_type(json)
        ))
    };
    let integer = |expected: &str| as_i64(json).ok_or_else(|| invalid(expected));
    match schema.name.as_deref() {
        Some(logical::DECIMAL) if schema.schema_type == SchemaType::Bytes => {
            return decimal(schema, json).map(Value::Decimal);
        }
        Some(logical::DATE) if schema.schema_type == SchemaType::Int32 => {
            let days = integer("an integer").map_err(|_| logical_error("Date", json))?;
            return Ok(Value::Date(narrow(days, json)?));
        }
        Some(logical::TIME) if schema.schema_type == SchemaType::Int32 => {
            let millis = integer("an integer").map_err(|_| logical_error("Time", json))?;
            return Ok(Value::Time(narrow(millis, json)?));
        }
        Some(logical::TIMESTAMP) if schema.schema_type == SchemaType::Int64 => {
            let millis = integer("an integer").map_err(|_| logical_error("Timestamp", json))?;
            return Ok(Value::Timestamp(millis));
        }
        _ => {}
    }
    Ok(match schema.schema_type {
        SchemaType::Boolean => Value::Boolean(as_bool(json).ok_or_else(|| invalid("a boolean"))?),
        SchemaType::Int8 => Value::Int8(narrow(integer("an integer")?, json)?),
        SchemaType::Int16 => Value::Int16(narrow(integer("an integer")?, json)?),
        SchemaType::Int32 => Value::Int32(narrow(integer("an integer")?, json)?),
        SchemaType::Int64 => Value::Int64(integer("an integer")?),
        #[allow(clippy::cast_possible_truncation)] // Java's floatValue() narrows the same way.
        SchemaType::Float32 => {
            Value::Float32(as_f64(json).ok_or_else(|| invalid("a number"))? as f32)
        }
        SchemaType::Float64 => Value::Float64(as_f64(json).ok_or_else(|| invalid("a number"))?),
        SchemaType::String => {
            Value::String(as_str(json).ok_or_else(|| invalid("a string"))?.to_string())
        }
        SchemaType::Bytes => Value::Bytes(
            base64(json).ok_or_else(|| ConversionError("Invalid bytes field".to_string()))?,
        ),
        SchemaType::Array => {
            let items = as_array(json).ok_or_else(|| invalid("an array"))?;
            let element = schema.value_schema.as_ref();
            Value::Array(
                items
                    .iter()
                    .map(|item| to_value(config, element, item))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => map(config, schema, json)?,
        SchemaType::Struct => {
            let Json::Object(_) = json else {
                return Err(ConversionError(format!(
                    "Structs should be encoded as JSON objects, but found {}",
                    node_type(json)
                )));
            };
            let values = schema
                .fields
                .iter()
                .map(|field| {
                    let node = get(json, &field.name).unwrap_or(&Json::Null);
                    to_value(config, Some(&field.schema), node)
                })
                .collect::<Result<_, _>>()?;
            Value::Struct(Struct {
                schema: Arc::clone(schema),
                values,
            })
        }
    })
}

/// Decodes a map: a JSON object for string keys, else an array of `[key, value]` pairs.
fn map(
    config: &JsonConverterConfig,
    schema: &Arc<Schema>,
    json: &Json,
) -> Result<Value, ConversionError> {
    let key_schema = schema.key_schema.as_ref();
    let value_schema = schema.value_schema.as_ref();
    if key_schema.is_none_or(|key| key.schema_type == SchemaType::String) {
        let Json::Object(object) = json else {
            return Err(ConversionError(format!(
                "Maps with string fields should be encoded as JSON objects, but found {}",
                node_type(json)
            )));
        };
        let mut entries = Vec::with_capacity(object.len());
        for (key, item) in object {
            entries.push((
                Value::String(key.clone()),
                to_value(config, value_schema, item)?,
            ));
        }
        return Ok(Value::Map(entries));
    }
    let Json::Array(pairs) = json else {
        return Err(ConversionError(format!(
            "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
            node_type(json)
        )));
    };
    let mut entries = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let Json::Array(pair) = pair else {
            return Err(ConversionError(format!(
                "Found invalid map entry instead of array tuple: {}",
                node_type(pair)
            )));
        };
        let [key, item] = pair.as_slice() else {
            return Err(ConversionError(format!(
                "Found invalid map entry, expected length 2 but found :{}",
                pair.len()
            )));
        };
        entries.push((
            to_value(config, key_schema, key)?,
            to_value(config, value_schema, item)?,
        ));
    }
    Ok(Value::Map(entries))
}

/// Decodes a Decimal from base64 bytes or (with `decimal.format=NUMERIC`) a JSON number,
/// rescaled to the schema's scale when that is exact.
fn decimal(schema: &Schema, json: &Json) -> Result<Decimal, ConversionError> {
    let scale = schema
        .decimal_scale()
        .ok_or_else(|| ConversionError("Invalid Decimal schema: scale parameter missing".into()))?;
    match json {
        Json::Number(number) => {
            let parsed = java::parse_big_decimal(number).ok_or_else(|| {
                ConversionError(format!("Invalid Decimal value {number}: more than 38 digits"))
            })?;
            Ok(java::rescale(parsed, scale).unwrap_or(parsed))
        }
        Json::Text(_) => {
            let bytes = base64(json).ok_or_else(|| ConversionError("Invalid bytes field".to_string()))?;
            Decimal::from_unscaled_bytes(&bytes, scale).ok_or_else(|| {
                ConversionError("Invalid Decimal value: empty or wider than 128 bits".to_string())
            })
        }
        _ => Err(ConversionError(format!(
            "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
            node_type(json)
        ))),
    }
}

fn logical_error(name: &str, json: &Json) -> ConversionError {
    ConversionError(format!(
        "Invalid type for {name}, underlying representation should be integer but was {}",
        node_type(json)
    ))
}

/// Narrows an integer to a smaller type, failing (unlike Java, which truncates) when it does
/// not fit.
fn narrow<T: TryFrom<i64>>(number: i64, json: &Json) -> Result<T, ConversionError> {
    T::try_from(number).map_err(|_| {
        ConversionError(format!(
            "Numeric value {} out of range for the field's type",
            String::from_utf8_lossy(&json.to_bytes())
        ))
    })
}

/// Decodes a base64 string (padding optional, as Jackson accepts).
fn base64(json: &Json) -> Option<Vec<u8>> {
    let text = as_str(json)?;
    BASE64
        .decode(text)
        .or_else(|_| BASE64_NO_PAD.decode(text))
        .ok()
}

/// Infers a value without a schema: objects become string-keyed maps, integers Int64,
/// other numbers Float64.
fn schemaless(json: &Json) -> Result<Value, ConversionError> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(flag) => Value::Boolean(*flag),
        Json::Number(number) => match (as_i64(json), is_integral(number)) {
            (Some(integer), _) => Value::Int64(integer),
            (None, true) => {
                return Err(ConversionError(format!(
                    "Integer {number} does not fit in an int64"
                )))
            }
            (None, false) => Value::Float64(as_f64(json).unwrap_or(f64::NAN)),
        },
        Json::Text(text) => Value::String(text.clone()),
        Json::Integer(_) | Json::Float(_) | Json::Double(_) => Value::Null,
        Json::Array(items) => Value::Array(items.iter().map(schemaless).collect::<Result<_, _>>()?),
        Json::Object(object) => Value::Map(
            object
                .iter()
                .map(|(key, item)| Ok((Value::String(key.clone()), schemaless(item)?)))
                .collect::<Result<_, ConversionError>>()?,
        ),
    })
}

/// Returns the member `key` of an object node.
fn get<'a>(json: &'a Json, key: &str) -> Option<&'a Json> {
    match json {
        Json::Object(entries) => entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value),
        _ => None,
    }
}

fn as_str(json: &Json) -> Option<&str> {
    match json {
        Json::Text(text) => Some(text),
        _ => None,
    }
}

fn as_bool(json: &Json) -> Option<bool> {
    match json {
        Json::Bool(flag) => Some(*flag),
        _ => None,
    }
}

fn as_array(json: &Json) -> Option<&Vec<Json>> {
    match json {
        Json::Array(items) => Some(items),
        _ => None,
    }
}

/// Returns true when number text has no fraction or exponent (Jackson's integral nodes).
fn is_integral(number: &str) -> bool {
    !number.contains(['.', 'e', 'E'])
}

/// Returns an integral number that fits in an i64.
fn as_i64(json: &Json) -> Option<i64> {
    match json {
        Json::Number(number) if is_integral(number) => number.parse().ok(),
        _ => None,
    }
}

/// Returns any number as the nearest double.
fn as_f64(json: &Json) -> Option<f64> {
    match json {
        Json::Number(number) => number.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod fast_path_tests {
    use proptest::prelude::*;

    use super::*;

    fn config(schemas_enable: bool) -> JsonConverterConfig {
        JsonConverterConfig {
            schemas_enable,
            ..JsonConverterConfig::default()
        }
    }

    /// The fast paths give exactly what the tree path gives, errors included.
    fn assert_same(schemas_enable: bool, cache_size: usize, document: &str) {
        let config = config(schemas_enable);
        let schemas = DecodedSchemas::new(cache_size);
        let expected = decode(&config, Some(document.as_bytes()));
        // Twice: the second time from the schema cache.
        for round in 0..2 {
            let actual = decode_cached(&config, &schemas, Some(document.as_bytes()));
            assert_eq!(actual, expected, "{document} (round {round})");
        }
    }

    const DOCUMENTS: [&str; 22] = [
        r#"{"id":1,"name":"record-000000001","payload":"abc"}"#,
        r#" { "a" : [1, -2.50e3, true, false, null, {"b": {}}, []] , "s":"x\u00e9\ud83d\ude00\n" } "#,
        r#"{"a":1,"a":2,"b":3}"#,
        r#"{"big":123456789012345678901234567890}"#,
        r#"{"neg":-9223372036854775808,"f":1.0,"e":1E400}"#,
        r#"[1,"two",[3]]"#,
        r#""just a string""#,
        "42",
        "null",
        "{",
        "[1,]",
        r#"{"a":01}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":1} trailing"#,
        r#"{"schema":{"type":"string","optional":false},"payload":"record-000000001 aaaa"}"#,
        r#"{"payload":"p","schema":{"type":"string","optional":true,"name":"n"}}"#,
        r#"{"schema":null,"payload":{"x":[1,2.5]}}"#,
        r#"{"schema":{"type":"int32","optional":true},"payload":null}"#,
        r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"string","optional":true,"default":"d","field":"s"}],"optional":false,"name":"r"},"payload":{"id":7,"s":null}}"#,
        r#"{"schema":{"type":"int8","optional":false},"payload":300}"#,
        r#"{"schema":{"type":"nope"},"payload":1}"#,
        r#"{"schema":{"type":"string"},"payload":"p","extra":1}"#,
    ];

    #[test]
    fn fast_paths_decode_exactly_as_the_tree_path() {
        for document in DOCUMENTS {
            for schemas_enable in [false, true] {
                for cache_size in [0, 1, 1000] {
                    assert_same(schemas_enable, cache_size, document);
                }
            }
        }
        assert_same(
            true,
            1000,
            r#"{"schema":{"type":"string"},"schema":{"type":"int64","optional":false},"payload":5}"#,
        );
        assert_same(
            true,
            1000,
            r#"{"sch\u0065ma":{"type":"string"},"payload":"p"}"#,
        );
    }

    #[test]
    fn the_schema_cache_keeps_the_most_recent_schemas() {
        let config = config(true);
        let schemas = DecodedSchemas::new(2);
        let envelope = |schema_type: &str, payload: &str| {
            format!(
                r#"{{"schema":{{"type":"{schema_type}","optional":false}},"payload":{payload}}}"#
            )
        };
        for (schema_type, payload) in [
            ("string", "\"a\""),
            ("int64", "1"),
            ("boolean", "true"),
            ("string", "\"b\""),
        ] {
            let document = envelope(schema_type, payload);
            let decoded = decode_cached(&config, &schemas, Some(document.as_bytes()));
            assert_eq!(decoded, decode(&config, Some(document.as_bytes())));
        }
        let cached: Vec<String> = schemas
            .entries
            .lock()
            .unwrap()
            .iter()
            .map(|(text, _)| text.to_string())
            .collect();
        assert_eq!(
            cached,
            vec![
                r#"{"type":"string","optional":false}"#.to_string(),
                r#"{"type":"boolean","optional":false}"#.to_string()
            ]
        );
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |number| number.is_finite())
                .prop_map(serde_json::Value::from),
            "[a-z\u{e9}\"\\\\\n]{0,8}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..4).prop_map(|entries| {
                    serde_json::Value::Object(entries.into_iter().collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn schemaless_documents_decode_as_the_tree_path(value in json_value()) {
            let document = value.to_string();
            assert_same(false, 1000, &document);
        }

        #[test]
        fn envelopes_decode_as_the_tree_path(value in json_value(), schema_index in 0usize..5) {
            let schemas = [
                "null",
                r#"{"type":"string","optional":true}"#,
                r#"{"type":"int64","optional":false}"#,
                r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int64","optional":true},"optional":true}"#,
                r#"{"type":"array","items":{"type":"double","optional":true},"optional":false}"#,
            ];
            let document = format!(r#"{{"schema":{},"payload":{value}}}"#, schemas[schema_index]);
            assert_same(true, 1000, &document);
            assert_same(true, 0, &document);
        }
    }
}
