//! Golden tests against bytes the real Kafka Connect 4.3.1 converters wrote
//! (`tests/golden/generator/`), plus error cases of the JsonConverter.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value as Json;

use super::string::java_to_string;
use super::*;
use crate::sdk::{Decimal, Schema, SchemaAndValue, SchemaType, Struct, Value};

const JSON_GOLDEN: &str = include_str!("../../tests/golden/json_converter.jsonl");
const HEADER_GOLDEN: &str = include_str!("../../tests/golden/simple_header_converter.jsonl");

fn golden_lines(text: &str) -> Vec<Json> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("golden line is JSON"))
        .collect()
}

fn field<'a>(line: &'a Json, key: &str) -> &'a str {
    line[key].as_str().unwrap_or_default()
}

fn primitive(schema_type: SchemaType) -> Schema {
    Schema::primitive(schema_type)
}

fn text(value: &str) -> Value {
    Value::String(value.to_string())
}

/// The schema and decoded value of each golden case (as GenerateGolden.java builds them).
fn expected(case: &str) -> (Schema, Value) {
    match case {
        "int8" => (primitive(SchemaType::Int8), Value::Int8(-8)),
        "int16" => (primitive(SchemaType::Int16), Value::Int16(1600)),
        "int32" => (primitive(SchemaType::Int32), Value::Int32(-320_000)),
        "int64" => (
            primitive(SchemaType::Int64),
            Value::Int64(6_400_000_000_000),
        ),
        "float32" => (primitive(SchemaType::Float32), Value::Float32(1.5)),
        "float32_small" => (primitive(SchemaType::Float32), Value::Float32(0.1)),
        "float64" => (primitive(SchemaType::Float64), Value::Float64(3.25)),
        "float64_big" => (primitive(SchemaType::Float64), Value::Float64(1.0e10)),
        "float64_tiny" => (primitive(SchemaType::Float64), Value::Float64(1.25e-5)),
        "float64_whole" => (primitive(SchemaType::Float64), Value::Float64(100.0)),
        "boolean" => (primitive(SchemaType::Boolean), Value::Boolean(true)),
        "string" => (primitive(SchemaType::String), text("hello")),
        "string_escapes" => (
            primitive(SchemaType::String),
            text("tab\there \"q\" back\\slash \u{1} \u{1f} café / \u{2028}"),
        ),
        "bytes" => (
            primitive(SchemaType::Bytes),
            Value::Bytes(vec![0, 1, 2, 0xff, 0xfe]),
        ),
        "array" => (
            Schema::array(primitive(SchemaType::Int32)),
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)]),
        ),
        "map_string_keys" => (
            Schema::map(primitive(SchemaType::String), primitive(SchemaType::Int32)),
            Value::Map(vec![
                (text("one"), Value::Int32(1)),
                (text("two"), Value::Int32(2)),
            ]),
        ),
        "map_int_keys" => (
            Schema::map(primitive(SchemaType::Int32), primitive(SchemaType::String)),
            Value::Map(vec![
                (Value::Int32(1), text("one")),
                (Value::Int32(-2), text("minus two")),
            ]),
        ),
        "struct" => expected_struct(),
        "decimal" => (
            Schema::decimal(2),
            Value::Decimal(Decimal {
                unscaled: 1_234_567,
                scale: 2,
            }),
        ),
        "decimal_negative" => (
            Schema::decimal(2),
            Value::Decimal(Decimal {
                unscaled: -128,
                scale: 2,
            }),
        ),
        "date" => (Schema::date(), Value::Date(19_000)),
        "time" => (Schema::time(), Value::Time(45_296_789)),
        "timestamp" => (Schema::timestamp(), Value::Timestamp(1_700_000_000_123)),
        "optional_null" => (primitive(SchemaType::String).optional(), Value::Null),
        "default_null" => {
            let mut schema = primitive(SchemaType::Int32).optional();
            schema.default = Some(Value::Int32(5));
            (schema, Value::Int32(5))
        }
        "parameters" => {
            let mut schema = primitive(SchemaType::String).named("com.example.Tagged");
            schema.parameters.insert("k".into(), "v".into());
            (schema, text("tagged"))
        }
        "all_schema_keys" | "all_schema_keys_null" => {
            let mut schema = primitive(SchemaType::String)
                .optional()
                .named("com.example.All");
            schema.version = Some(3);
            schema.doc = Some("all keys".into());
            schema.parameters.insert("a".into(), "1".into());
            schema.parameters.insert("b".into(), "2".into());
            schema.default = Some(text("dflt"));
            let value = if case == "all_schema_keys" {
                "x"
            } else {
                "dflt"
            };
            (schema, text(value))
        }
        other => panic!("golden case {other} has no expected value"),
    }
}

fn expected_struct() -> (Schema, Value) {
    let inner = Schema::structure(
        Some("com.example.Inner"),
        vec![
            ("x", primitive(SchemaType::Int32)),
            ("label", primitive(SchemaType::String).optional()),
        ],
    );
    let maybe = Schema::structure(None, vec![("y", primitive(SchemaType::Boolean))]).optional();
    let mut outer = Schema::structure(
        Some("com.example.Outer"),
        vec![
            ("id", primitive(SchemaType::Int64)),
            ("name", primitive(SchemaType::String).optional()),
            ("inner", inner.clone()),
            ("maybe", maybe),
            ("tags", Schema::array(primitive(SchemaType::String))),
        ],
    );
    outer.version = Some(2);
    outer.doc = Some("outer doc".into());
    let inner_value = Value::Struct(Struct {
        schema: Arc::new(inner),
        values: vec![Value::Int32(7), Value::Null],
    });
    let value = Value::Struct(Struct {
        schema: Arc::new(outer.clone()),
        values: vec![
            Value::Int64(42),
            text("né\"q\""),
            inner_value,
            Value::Null,
            Value::Array(vec![text("a"), text("b")]),
        ],
    });
    (outer, value)
}

/// What the same bytes decode to without schemas: JSON's own types.
fn schemaless(value: &Value, format: DecimalFormat) -> Value {
    let double = |text: String| Value::Float64(text.parse().unwrap_or(f64::NAN));
    match value {
        Value::Int8(number) => Value::Int64(i64::from(*number)),
        Value::Int16(number) => Value::Int64(i64::from(*number)),
        Value::Int32(number) | Value::Date(number) | Value::Time(number) => {
            Value::Int64(i64::from(*number))
        }
        Value::Timestamp(number) => Value::Int64(*number),
        Value::Float32(number) => double(java::float_to_string(*number)),
        Value::Bytes(bytes) => Value::String(BASE64.encode(bytes)),
        Value::Decimal(decimal) => match format {
            DecimalFormat::Base64 => Value::String(BASE64.encode(decimal.unscaled_bytes())),
            DecimalFormat::Numeric => double(java::big_decimal_to_string(decimal)),
        },
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| schemaless(item, format)).collect())
        }
        Value::Map(entries)
            if entries
                .iter()
                .all(|(key, _)| matches!(key, Value::String(_))) =>
        {
            Value::Map(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), schemaless(item, format)))
                    .collect(),
            )
        }
        Value::Map(entries) => Value::Array(
            entries
                .iter()
                .map(|(key, item)| {
                    Value::Array(vec![schemaless(key, format), schemaless(item, format)])
                })
                .collect(),
        ),
        Value::Struct(record) => Value::Map(
            record
                .schema
                .fields
                .iter()
                .zip(&record.values)
                .map(|(field, item)| (text(&field.name), schemaless(item, format)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn json_converter_matches_kafka_connect_golden_bytes() {
    let lines = golden_lines(JSON_GOLDEN);
    assert!(lines.len() >= 60, "golden file has {} cases", lines.len());
    for line in lines {
        let case = field(&line, "case");
        let schemas_enable = line["schemas_enable"].as_bool().unwrap_or(true);
        let format = match field(&line, "decimal_format") {
            "NUMERIC" => DecimalFormat::Numeric,
            _ => DecimalFormat::Base64,
        };
        let converter = JsonConverter::new(JsonConverterConfig {
            schemas_enable,
            decimal_format: format,
            replace_null_with_default: true,
        });
        let label = format!("{case} (schemas.enable={schemas_enable}, {format:?})");
        let golden = field(&line, "bytes").as_bytes();
        let decoded = converter
            .to_connect_data("topic", Some(golden))
            .unwrap_or_else(|error| panic!("{label}: decoding failed: {error}"));
        let (schema, value) = expected(case);
        if schemas_enable {
            assert_eq!(decoded, SchemaAndValue::new(schema, value), "{label}");
        } else {
            let expected = SchemaAndValue::schemaless(schemaless(&value, format));
            assert_eq!(decoded, expected, "{label}");
        }
        let encoded = converter
            .from_connect_data("topic", decoded.schema.as_deref(), &decoded.value)
            .unwrap_or_else(|error| panic!("{label}: encoding failed: {error}"));
        // A schemaless null is a tombstone, in Kafka Connect too; everything else round-trips.
        let expected_bytes = (decoded != SchemaAndValue::null()).then_some(golden);
        assert_eq!(
            encoded.as_deref().map(String::from_utf8_lossy),
            expected_bytes.map(String::from_utf8_lossy),
            "{label}: re-encoding"
        );
        // Writing into a batch buffer gives the same bytes after what the buffer held.
        let mut buffer = b"before".to_vec();
        let non_null = converter
            .from_connect_data_into(
                "topic",
                decoded.schema.as_deref(),
                &decoded.value,
                &mut buffer,
            )
            .unwrap_or_else(|error| panic!("{label}: encoding into a buffer failed: {error}"));
        assert_eq!(non_null, expected_bytes.is_some(), "{label}: into, null");
        assert_eq!(
            String::from_utf8_lossy(&buffer),
            format!(
                "before{}",
                String::from_utf8_lossy(expected_bytes.unwrap_or_default())
            ),
            "{label}: into"
        );
    }
}

#[test]
fn text_into_a_buffer_matches_the_string_value_for_every_converter() {
    let texts = ["", "plain line", "quote \" back\\ tab\t ctl\u{1} é😀"];
    let string_schema = Arc::new(primitive(SchemaType::String).optional());
    let int_schema = primitive(SchemaType::Int32);
    let converters: Vec<(&str, Box<dyn Converter>)> = vec![
        ("string", Box::new(StringConverter)),
        ("bytearray", Box::new(ByteArrayConverter)),
        (
            "json",
            Box::new(JsonConverter::new(JsonConverterConfig::default())),
        ),
        (
            "json schemaless",
            Box::new(JsonConverter::new(JsonConverterConfig {
                schemas_enable: false,
                ..JsonConverterConfig::default()
            })),
        ),
    ];
    for (name, converter) in &converters {
        for schema in [None, Some(string_schema.as_ref()), Some(&int_schema)] {
            for text_value in texts {
                let label = format!("{name}, {schema:?}, {text_value:?}");
                let expected = converter.from_connect_data("t", schema, &text(text_value));
                let mut buffer = b"x".to_vec();
                let written =
                    converter.from_connect_text_into("t", schema, text_value, &mut buffer);
                match expected {
                    Ok(bytes_opt) => {
                        assert_eq!(written.ok(), Some(bytes_opt.is_some()), "{label}");
                        assert_eq!(
                            buffer,
                            [b"x".as_slice(), &bytes_opt.unwrap_or_default()].concat(),
                            "{label}"
                        );
                    }
                    Err(error) => assert_eq!(written.err(), Some(error), "{label}"),
                }
                let mut buffer = Vec::new();
                let written =
                    converter.from_connect_data_into("t", schema, &text(text_value), &mut buffer);
                let expected = converter.from_connect_data("t", schema, &text(text_value));
                assert_eq!(
                    written.map(|non_null| non_null.then_some(buffer)),
                    expected,
                    "{label}: data into"
                );
            }
        }
    }
}

#[test]
fn json_converter_encodes_connect_values_like_kafka_connect() {
    // Encoding the original values (not the decoded ones) must also give the golden bytes.
    for line in golden_lines(JSON_GOLDEN) {
        let case = field(&line, "case");
        let schemas_enable = line["schemas_enable"].as_bool().unwrap_or(true);
        let format = match field(&line, "decimal_format") {
            "NUMERIC" => DecimalFormat::Numeric,
            _ => DecimalFormat::Base64,
        };
        let converter = JsonConverter::new(JsonConverterConfig {
            schemas_enable,
            decimal_format: format,
            replace_null_with_default: true,
        });
        let (schema, mut value) = expected(case);
        if case.ends_with("_null") {
            value = Value::Null;
        }
        let encoded = converter.from_connect_data("topic", Some(&schema), &value);
        let golden = field(&line, "bytes").as_bytes().to_vec();
        assert_eq!(
            encoded,
            Ok(Some(golden)),
            "{case} schemas.enable={schemas_enable}"
        );
    }
}

/// Describes a parsed header the way GenerateGolden.java does (`type[:name][<...>] value`).
fn describe(parsed: &SchemaAndValue) -> String {
    let Some(schema) = &parsed.schema else {
        return if parsed.value.is_null() {
            "null".into()
        } else {
            format!("none {}", describe_value(&parsed.value))
        };
    };
    let type_name = |schema: Option<&Arc<Schema>>| match schema.map(|schema| schema.schema_type) {
        None => "none".to_string(),
        Some(SchemaType::Float32) => "float32".to_string(),
        Some(SchemaType::Float64) => "float64".to_string(),
        Some(other) => other.json_name().to_string(),
    };
    let mut out = type_name(parsed.schema.as_ref());
    if let Some(name) = &schema.name {
        out.push_str(&format!(":{name}"));
    }
    match schema.schema_type {
        SchemaType::Array => {
            out.push_str(&format!("<{}>", type_name(schema.value_schema.as_ref())))
        }
        SchemaType::Map => out.push_str(&format!(
            "<{},{}>",
            type_name(schema.key_schema.as_ref()),
            type_name(schema.value_schema.as_ref())
        )),
        _ => {}
    }
    format!("{out} {}", describe_value(&parsed.value))
}

/// Java's `String.valueOf` of the value (dates as epoch milliseconds).
fn describe_value(value: &Value) -> String {
    match value {
        Value::Date(days) => (i64::from(*days) * java::MILLIS_PER_DAY).to_string(),
        Value::Time(millis) => millis.to_string(),
        Value::Timestamp(millis) => millis.to_string(),
        other => java_to_string(other),
    }
}

#[test]
fn simple_header_converter_matches_kafka_connect_golden() {
    let converter = SimpleHeaderConverter;
    for line in golden_lines(HEADER_GOLDEN) {
        let case = field(&line, "case");
        let golden = line["bytes"].as_str().map(|text| text.as_bytes().to_vec());
        if field(&line, "kind") == "serialize" {
            let (schema, mut value) = expected(case);
            if case.ends_with("_null") {
                value = Value::Null;
            }
            let encoded = converter.from_connect_header("topic", "h", Some(&schema), &value);
            assert_eq!(
                encoded
                    .map(|bytes| bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())),
                Ok(golden.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())),
                "serialize {case}"
            );
        } else {
            let parsed = converter
                .to_connect_header("topic", "h", golden.as_deref())
                .unwrap_or_else(|error| panic!("parse {case}: {error}"));
            assert_eq!(describe(&parsed), field(&line, "parsed"), "parse {case:?}");
        }
    }
}
