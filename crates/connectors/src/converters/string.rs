//! `org.apache.kafka.connect.storage.StringConverter`: UTF-8 text.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::java;
use crate::sdk::{ConnectorError, ConversionError, Converter, Schema, SchemaAndValue, Value};

/// The Java class name of [`StringConverter`].
pub const STRING_CONVERTER_CLASS: &str = "org.apache.kafka.connect.storage.StringConverter";

/// Kafka Connect's StringConverter: decodes to an optional string; encodes any value by its
/// string form (Java's `toString`). Also usable as a header converter.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringConverter;

impl StringConverter {
    /// Reads the settings: `converter.encoding` may only name UTF-8; other keys are ignored.
    ///
    /// # Errors
    /// A user error when `converter.encoding` names another charset.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self, ConnectorError> {
        if let Some(encoding) = props.get("converter.encoding") {
            let normalised = encoding.trim().replace(['-', '_'], "").to_ascii_uppercase();
            if normalised != "UTF8" {
                return Err(ConnectorError::user(format!(
                    "Invalid value {encoding} for configuration converter.encoding: only UTF8 is supported"
                )));
            }
        }
        Ok(StringConverter)
    }
}

/// Returns Java's `toString` of a Connect value (lists `[a, b]`, maps `{k=v}`,
/// structs `Struct{f=v}`); bytes are written as base64 and logical dates in ISO-8601.
pub(crate) fn java_to_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Boolean(flag) => flag.to_string(),
        Value::Int8(number) => number.to_string(),
        Value::Int16(number) => number.to_string(),
        Value::Int32(number) => number.to_string(),
        Value::Int64(number) => number.to_string(),
        Value::Float32(number) => java::float_to_string(*number),
        Value::Float64(number) => java::double_to_string(*number),
        Value::String(text) => text.clone(),
        Value::Bytes(bytes) => BASE64.encode(bytes),
        Value::Decimal(decimal) => java::big_decimal_to_string(decimal),
        Value::Date(days) => java::format_java_date(i64::from(*days) * java::MILLIS_PER_DAY),
        Value::Time(millis) => java::format_java_date(i64::from(*millis)),
        Value::Timestamp(millis) => java::format_java_date(*millis),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(java_to_string).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, item)| format!("{}={}", java_to_string(key), java_to_string(item)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Struct(record) => {
            let fields: Vec<String> = record
                .schema
                .fields
                .iter()
                .zip(&record.values)
                .filter(|(_, item)| !item.is_null())
                .map(|(field, item)| format!("{}={}", field.name, java_to_string(item)))
                .collect();
            format!("Struct{{{}}}", fields.join(","))
        }
    }
}

impl Converter for StringConverter {
    fn from_connect_data(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError> {
        Ok(match value {
            Value::Null => None,
            other => Some(java_to_string(other).into_bytes()),
        })
    }

    fn from_connect_data_into(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        match value {
            Value::Null => return Ok(false),
            Value::String(text) => out.extend_from_slice(text.as_bytes()),
            other => out.extend_from_slice(java_to_string(other).as_bytes()),
        }
        Ok(true)
    }

    fn from_connect_text_into(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        text: &str,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        out.extend_from_slice(text.as_bytes());
        Ok(true)
    }

    /// Decodes UTF-8; invalid sequences become U+FFFD, as Java's `new String(bytes, UTF_8)`.
    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConversionError> {
        let value = bytes.map_or(Value::Null, |bytes| {
            Value::String(String::from_utf8_lossy(bytes).into_owned())
        });
        Ok(SchemaAndValue {
            schema: Some(super::optional_string_schema()),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::SchemaType;

    #[test]
    fn round_trips_text_and_stringifies_values() {
        let converter = StringConverter;
        let decoded = converter
            .to_connect_data("t", Some("héllo".as_bytes()))
            .ok();
        assert_eq!(
            decoded,
            Some(SchemaAndValue::new(
                Schema::primitive(SchemaType::String).optional(),
                Value::String("héllo".into())
            ))
        );
        let null = converter
            .to_connect_data("t", None)
            .ok()
            .map(|decoded| decoded.value);
        assert_eq!(null, Some(Value::Null));
        let encode = |value: Value| converter.from_connect_data("t", None, &value);
        assert_eq!(encode(Value::String("x".into())), Ok(Some(b"x".to_vec())));
        assert_eq!(encode(Value::Int32(-5)), Ok(Some(b"-5".to_vec())));
        assert_eq!(encode(Value::Float64(1.0e10)), Ok(Some(b"1.0E10".to_vec())));
        assert_eq!(encode(Value::Boolean(true)), Ok(Some(b"true".to_vec())));
        assert_eq!(encode(Value::Null), Ok(None));
        let list = Value::Array(vec![Value::Int8(1), Value::Int8(2)]);
        assert_eq!(encode(list), Ok(Some(b"[1, 2]".to_vec())));
    }

    #[test]
    fn only_utf8_is_supported() {
        let props = |encoding: &str| {
            BTreeMap::from([("converter.encoding".to_string(), encoding.to_string())])
        };
        assert!(StringConverter::from_props(&props("UTF-8")).is_ok());
        assert!(StringConverter::from_props(&props("utf8")).is_ok());
        let error = StringConverter::from_props(&props("ISO-8859-1")).err();
        assert!(error.is_some_and(|error| error.message.contains("converter.encoding")));
    }
}
