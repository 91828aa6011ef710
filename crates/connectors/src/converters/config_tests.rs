//! Tests of `build_converters` precedence and of converter error cases.

use std::collections::BTreeMap;

use super::json_decode::MISSING_ENVELOPE;
use super::*;
use crate::sdk::{ErrorKind, Schema, SchemaAndValue, SchemaType, Value};

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

/// Encodes an int32 with the converter, as text, to tell converters apart by behaviour.
fn encode_int(converter: &dyn Converter) -> Option<String> {
    let schema = Schema::primitive(SchemaType::Int32);
    let encoded = converter.from_connect_data("t", Some(&schema), &Value::Int32(5));
    encoded
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn encode_header(converter: &dyn HeaderConverter) -> Option<String> {
    let schema = Schema::primitive(SchemaType::Int32);
    let encoded = converter.from_connect_header("t", "h", Some(&schema), &Value::Int32(5));
    encoded
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

const ENVELOPE: &str = r#"{"schema":{"type":"int32","optional":false},"payload":5}"#;

fn build(worker: &[(&str, &str)], connector: &[(&str, &str)]) -> Converters {
    build_converters(&props(worker), &props(connector))
        .unwrap_or_else(|error| panic!("build_converters failed: {error}"))
}

#[test]
fn defaults_are_json_with_schemas_and_simple_headers() {
    let converters = build(&[], &[]);
    assert_eq!(
        encode_int(converters.key.as_ref()).as_deref(),
        Some(ENVELOPE)
    );
    assert_eq!(
        encode_int(converters.value.as_ref()).as_deref(),
        Some(ENVELOPE)
    );
    assert_eq!(
        encode_header(converters.header.as_ref()).as_deref(),
        Some("5")
    );
    assert!(!converters.key_passthrough && !converters.value_passthrough);
}

#[test]
fn connector_classes_override_the_workers() {
    let worker = [
        (
            "key.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        ("value.converter", "JsonConverter"),
        ("header.converter", "JsonConverter"),
    ];
    let converters = build(&worker, &[]);
    assert_eq!(encode_int(converters.key.as_ref()).as_deref(), Some("5"));
    assert_eq!(
        encode_int(converters.value.as_ref()).as_deref(),
        Some(ENVELOPE)
    );
    assert_eq!(
        encode_header(converters.header.as_ref()).as_deref(),
        Some(ENVELOPE)
    );

    let connector = [
        ("value.converter", "ByteArray"),
        ("header.converter", "SimpleHeaderConverter"),
    ];
    let converters = build(&worker, &connector);
    assert_eq!(encode_int(converters.key.as_ref()).as_deref(), Some("5"));
    assert!(converters.value_passthrough && !converters.key_passthrough);
    let raw = converters
        .value
        .from_connect_data("t", None, &Value::Bytes(b"raw".to_vec()));
    assert_eq!(raw, Ok(Some(b"raw".to_vec())));
    assert_eq!(
        encode_header(converters.header.as_ref()).as_deref(),
        Some("5")
    );
}

#[test]
fn sub_keys_come_from_the_level_that_chose_the_class() {
    let worker = [
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("value.converter.schemas.enable", "false"),
    ];
    // The worker's class and sub-keys.
    let converters = build(&worker, &[]);
    assert_eq!(encode_int(converters.value.as_ref()).as_deref(), Some("5"));
    // Connector sub-keys without a connector class are ignored, as in Kafka Connect.
    let converters = build(&worker, &[("value.converter.schemas.enable", "true")]);
    assert_eq!(encode_int(converters.value.as_ref()).as_deref(), Some("5"));
    // Same class at the connector level: worker sub-keys apply, connector ones override.
    let converters = build(&worker, &[("value.converter", "JsonConverter")]);
    assert_eq!(encode_int(converters.value.as_ref()).as_deref(), Some("5"));
    let connector = [
        ("value.converter", "Json"),
        ("value.converter.schemas.enable", "TRUE"),
    ];
    let converters = build(&worker, &connector);
    assert_eq!(
        encode_int(converters.value.as_ref()).as_deref(),
        Some(ENVELOPE)
    );
    // The worker's implicit default class counts as its class too.
    let worker = [("key.converter.schemas.enable", "false")];
    let converters = build(&worker, &[("key.converter", "JsonConverter")]);
    assert_eq!(encode_int(converters.key.as_ref()).as_deref(), Some("5"));
    // A different class at the connector level starts from the connector's sub-keys only.
    let worker = [
        ("value.converter", "StringConverter"),
        ("value.converter.converter.encoding", "UTF8"),
    ];
    let converters = build(&worker, &[("value.converter", "JsonConverter")]);
    assert_eq!(
        encode_int(converters.value.as_ref()).as_deref(),
        Some(ENVELOPE)
    );
}

#[test]
fn aliases_resolve_to_java_classes() {
    for (alias, class) in [
        ("JsonConverter", JSON_CONVERTER_CLASS),
        ("Json", JSON_CONVERTER_CLASS),
        ("StringConverter", STRING_CONVERTER_CLASS),
        ("String", STRING_CONVERTER_CLASS),
        ("ByteArrayConverter", BYTE_ARRAY_CONVERTER_CLASS),
        ("ByteArray", BYTE_ARRAY_CONVERTER_CLASS),
        ("SimpleHeaderConverter", SIMPLE_HEADER_CONVERTER_CLASS),
        ("SimpleHeader", SIMPLE_HEADER_CONVERTER_CLASS),
        (JSON_CONVERTER_CLASS, JSON_CONVERTER_CLASS),
    ] {
        assert_eq!(resolve_converter_class(alias), Some(class), "{alias}");
    }
    assert_eq!(
        resolve_converter_class("io.confluent.connect.avro.AvroConverter"),
        None
    );
    assert!(is_byte_array("ByteArrayConverter"));
    assert!(!is_byte_array("JsonConverter"));
    let plugins = converter_plugins();
    assert!(plugins.contains(&(JSON_CONVERTER_CLASS, "converter")));
    assert!(plugins.contains(&(SIMPLE_HEADER_CONVERTER_CLASS, "header_converter")));
}

fn build_error(worker: &[(&str, &str)], connector: &[(&str, &str)]) -> crate::sdk::ConnectorError {
    match build_converters(&props(worker), &props(connector)) {
        Ok(_) => panic!("expected an error"),
        Err(error) => error,
    }
}

#[test]
fn bad_classes_and_sub_keys_are_user_errors_naming_the_key() {
    let error = build_error(
        &[],
        &[("value.converter", "io.confluent.connect.avro.AvroConverter")],
    );
    assert_eq!(error.kind, ErrorKind::User);
    assert!(
        error.message.contains("value.converter"),
        "{}",
        error.message
    );
    assert!(error
        .message
        .contains("io.confluent.connect.avro.AvroConverter"));
    let error = build_error(&[("key.converter", "Nope")], &[]);
    assert!(error.message.contains("key.converter") && error.message.contains("Nope"));
    let error = build_error(&[], &[("header.converter", "Avro")]);
    assert!(
        error.message.contains("header.converter"),
        "{}",
        error.message
    );
    let error = build_error(&[], &[("value.converter", "SimpleHeaderConverter")]);
    assert!(
        error.message.contains("value.converter"),
        "{}",
        error.message
    );
    let error = build_error(&[("value.converter.schemas.enable", "maybe")], &[]);
    assert!(
        error.message.contains("schemas.enable"),
        "{}",
        error.message
    );
    let error = build_error(
        &[],
        &[
            ("key.converter", "Json"),
            ("key.converter.decimal.format", "HEX"),
        ],
    );
    assert!(
        error.message.contains("decimal.format"),
        "{}",
        error.message
    );
}

fn json(config: JsonConverterConfig) -> JsonConverter {
    JsonConverter::new(config)
}

fn decode_error(converter: &JsonConverter, input: &str) -> String {
    match converter.to_connect_data("t", Some(input.as_bytes())) {
        Ok(decoded) => panic!("{input} decoded to {decoded:?}"),
        Err(error) => error.0,
    }
}

#[test]
fn json_decoding_errors_are_clear() {
    let converter = JsonConverter::default();
    assert!(decode_error(&converter, "{not json").contains("serialization error"));
    for plain in [
        r#"{"a":1}"#,
        "42",
        r#"{"schema":null,"payload":1,"extra":2}"#,
    ] {
        assert_eq!(decode_error(&converter, plain), MISSING_ENVELOPE, "{plain}");
    }
    let required_null = r#"{"schema":{"type":"int32","optional":false},"payload":null}"#;
    assert_eq!(
        decode_error(&converter, required_null),
        "Invalid null value for required INT32 field"
    );
    let unknown = r#"{"schema":{"type":"uint8"},"payload":1}"#;
    assert_eq!(
        decode_error(&converter, unknown),
        "Unknown schema type: uint8"
    );
    let out_of_range = r#"{"schema":{"type":"int8"},"payload":300}"#;
    assert!(decode_error(&converter, out_of_range).contains("out of range"));
    let wrong_type = r#"{"schema":{"type":"string"},"payload":1}"#;
    assert!(decode_error(&converter, wrong_type).contains("expected a string"));
    // Null and empty payloads are null values.
    assert_eq!(
        converter.to_connect_data("t", None),
        Ok(SchemaAndValue::null())
    );
    assert_eq!(
        converter.to_connect_data("t", Some(b"")),
        Ok(SchemaAndValue::null())
    );
}

#[test]
fn schemaless_json_decodes_to_plain_values() {
    let converter = json(JsonConverterConfig {
        schemas_enable: false,
        ..JsonConverterConfig::default()
    });
    let decoded = converter.to_connect_data("t", Some(br#"{"b":[1.5,"x",null,true],"a":-3}"#));
    let expected = Value::Map(vec![
        (
            Value::String("b".into()),
            Value::Array(vec![
                Value::Float64(1.5),
                Value::String("x".into()),
                Value::Null,
                Value::Boolean(true),
            ]),
        ),
        (Value::String("a".into()), Value::Int64(-3)),
    ]);
    assert_eq!(decoded, Ok(SchemaAndValue::schemaless(expected.clone())));
    let encoded = converter.from_connect_data("t", None, &expected);
    assert_eq!(
        encoded,
        Ok(Some(br#"{"b":[1.5,"x",null,true],"a":-3}"#.to_vec()))
    );
    // An envelope is just data here.
    let decoded = converter.to_connect_data("t", Some(br#"{"schema":null,"payload":1}"#));
    assert!(matches!(
        decoded,
        Ok(SchemaAndValue {
            schema: None,
            value: Value::Map(_)
        })
    ));
}

#[test]
fn json_encoding_errors_and_null_defaults() {
    let converter = JsonConverter::default();
    let required = Schema::primitive(SchemaType::Int32);
    let error = converter.from_connect_data("t", Some(&required), &Value::Null);
    assert!(error.is_err_and(|error| error.0.contains("null value for field that is required")));
    let error = converter.from_connect_data("t", Some(&required), &Value::String("x".into()));
    assert!(error.is_err_and(|error| error.0.contains("does not match the schema")));
    let mut with_default = Schema::primitive(SchemaType::Int32).optional();
    with_default.default = Some(Value::Int32(7));
    let keep_null = json(JsonConverterConfig {
        replace_null_with_default: false,
        ..JsonConverterConfig::default()
    });
    let encoded = keep_null.from_connect_data("t", Some(&with_default), &Value::Null);
    let expected = r#"{"schema":{"type":"int32","optional":true,"default":7},"payload":null}"#;
    assert_eq!(encoded, Ok(Some(expected.as_bytes().to_vec())));
    assert_eq!(
        keep_null
            .to_connect_data("t", Some(expected.as_bytes()))
            .map(|decoded| decoded.value),
        Ok(Value::Null)
    );
    assert_eq!(
        converter
            .to_connect_data("t", Some(expected.as_bytes()))
            .map(|decoded| decoded.value),
        Ok(Value::Int32(7))
    );
    // As a header converter, JsonConverter writes the same envelope.
    let header = HeaderConverter::from_connect_header(
        &AsHeaderConverter(Arc::new(converter)),
        "t",
        "h",
        Some(&required),
        &Value::Int32(5),
    );
    assert_eq!(header, Ok(Some(ENVELOPE.as_bytes().to_vec())));
}

#[test]
fn numbers_keep_full_precision() {
    // serde_json's default float parsing gets this double wrong; our parser must not.
    let converter = JsonConverter::default();
    let schema = Schema::primitive(SchemaType::Float64);
    let value = Value::Float64(-4.129_646_532_195_996_5e-97);
    let encoded = converter
        .from_connect_data("t", Some(&schema), &value)
        .ok()
        .flatten();
    let decoded = converter
        .to_connect_data("t", encoded.as_deref())
        .map(|decoded| decoded.value);
    assert_eq!(decoded, Ok(value));
    // NUMERIC decimals keep all 38 digits.
    let numeric = json(JsonConverterConfig {
        decimal_format: DecimalFormat::Numeric,
        ..JsonConverterConfig::default()
    });
    let decimal = Value::Decimal(crate::sdk::Decimal {
        unscaled: 12_345_678_901_234_567_890_123_456_789_012_345_678,
        scale: 3,
    });
    let schema = Schema::decimal(3);
    let encoded = numeric
        .from_connect_data("t", Some(&schema), &decimal)
        .ok()
        .flatten();
    let text = encoded
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned();
    assert!(
        text.ends_with(r#""payload":12345678901234567890123456789012345.678}"#),
        "{text}"
    );
    let decoded = numeric
        .to_connect_data("t", encoded.as_deref())
        .map(|decoded| decoded.value);
    assert_eq!(decoded, Ok(decimal));
}
