//! `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes pass through untouched.

use super::json::value_type_name;
use crate::sdk::{ConversionError, Converter, Schema, SchemaAndValue, SchemaType, Value};

/// The Java class name of [`ByteArrayConverter`].
pub const BYTE_ARRAY_CONVERTER_CLASS: &str =
    "org.apache.kafka.connect.converters.ByteArrayConverter";

/// Kafka Connect's ByteArrayConverter: values are `Value::Bytes` with an optional bytes schema,
/// and no decoding happens at all. Also usable as a header converter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteArrayConverter;

fn check_bytes_schema(schema: Option<&Schema>) -> Result<(), ConversionError> {
    match schema.filter(|schema| schema.schema_type != SchemaType::Bytes) {
        Some(schema) => Err(ConversionError(format!(
            "Invalid schema type for ByteArrayConverter: {}",
            schema.schema_type.json_name().to_uppercase()
        ))),
        None => Ok(()),
    }
}

fn not_compatible(value: &Value) -> ConversionError {
    ConversionError(format!(
        "ByteArrayConverter is not compatible with objects of type {}",
        value_type_name(value)
    ))
}

impl Converter for ByteArrayConverter {
    fn from_connect_data(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError> {
        check_bytes_schema(schema)?;
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes.clone())),
            other => Err(not_compatible(other)),
        }
    }

    fn from_connect_data_into(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        check_bytes_schema(schema)?;
        match value {
            Value::Null => Ok(false),
            Value::Bytes(bytes) => {
                out.extend_from_slice(bytes);
                Ok(true)
            }
            other => Err(not_compatible(other)),
        }
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConversionError> {
        Ok(SchemaAndValue {
            schema: Some(super::optional_bytes_schema()),
            value: bytes.map_or(Value::Null, |bytes| Value::Bytes(bytes.to_vec())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_bytes_through_and_rejects_other_types() {
        let converter = ByteArrayConverter;
        let decoded = converter.to_connect_data("t", Some(b"\x00\xffraw")).ok();
        assert_eq!(
            decoded.map(|decoded| decoded.value),
            Some(Value::Bytes(b"\x00\xffraw".to_vec()))
        );
        let encoded = converter.from_connect_data("t", None, &Value::Bytes(vec![1, 2]));
        assert_eq!(encoded, Ok(Some(vec![1, 2])));
        assert_eq!(
            converter.from_connect_data("t", None, &Value::Null),
            Ok(None)
        );
        let error = converter
            .from_connect_data("t", None, &Value::String("text".into()))
            .err()
            .map(|error| error.0);
        assert_eq!(
            error.as_deref(),
            Some("ByteArrayConverter is not compatible with objects of type string")
        );
        let schema = Schema::primitive(SchemaType::String);
        let error = converter.from_connect_data("t", Some(&schema), &Value::Bytes(vec![]));
        assert!(error.is_err_and(|error| error.0.contains("Invalid schema type")));
    }
}
