//! Property test: JsonConverter encode → decode gives back the schema and value.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::sdk::{Decimal, Schema, SchemaAndValue, SchemaType, Struct, Value};

fn leaf_schema() -> impl Strategy<Value = Schema> {
    let types = prop_oneof![
        Just(Schema::primitive(SchemaType::Int8)),
        Just(Schema::primitive(SchemaType::Int16)),
        Just(Schema::primitive(SchemaType::Int32)),
        Just(Schema::primitive(SchemaType::Int64)),
        Just(Schema::primitive(SchemaType::Float32)),
        Just(Schema::primitive(SchemaType::Float64)),
        Just(Schema::primitive(SchemaType::Boolean)),
        Just(Schema::primitive(SchemaType::String)),
        Just(Schema::primitive(SchemaType::Bytes)),
        (0..6i32).prop_map(Schema::decimal),
        Just(Schema::date()),
        Just(Schema::time()),
        Just(Schema::timestamp()),
    ];
    (types, any::<bool>()).prop_map(|(schema, optional)| Schema { optional, ..schema })
}

fn schema() -> impl Strategy<Value = Schema> {
    leaf_schema().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Schema::array),
            (
                prop_oneof![Just(SchemaType::String), Just(SchemaType::Int32)],
                inner.clone()
            )
                .prop_map(|(key, value)| Schema::map(Schema::primitive(key), value)),
            proptest::collection::vec(inner, 1..4).prop_map(|fields| {
                let named: Vec<(String, Schema)> = fields
                    .into_iter()
                    .enumerate()
                    .map(|(index, schema)| (format!("f{index}"), schema))
                    .collect();
                Schema::structure(
                    Some("com.example.Generated"),
                    named
                        .iter()
                        .map(|(name, schema)| (name.as_str(), schema.clone()))
                        .collect(),
                )
            }),
        ]
    })
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |value| value.is_finite())
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("finite", |value| value.is_finite())
}

fn value_for(schema: &Schema) -> BoxedStrategy<Value> {
    let present = present_value_for(schema);
    if schema.optional {
        prop_oneof![1 => Just(Value::Null), 4 => present].boxed()
    } else {
        present
    }
}

fn present_value_for(schema: &Schema) -> BoxedStrategy<Value> {
    match (schema.name.as_deref(), schema.schema_type) {
        (Some(_), SchemaType::Bytes) => {
            let scale = schema.decimal_scale().unwrap_or(0);
            any::<i64>()
                .prop_map(move |unscaled| {
                    Value::Decimal(Decimal {
                        unscaled: i128::from(unscaled),
                        scale,
                    })
                })
                .boxed()
        }
        (Some(name), SchemaType::Int32) if name.ends_with("Date") => {
            any::<i32>().prop_map(Value::Date).boxed()
        }
        (Some(_), SchemaType::Int32) => (0..86_400_000i32).prop_map(Value::Time).boxed(),
        (Some(_), SchemaType::Int64) => any::<i64>().prop_map(Value::Timestamp).boxed(),
        (_, SchemaType::Int8) => any::<i8>().prop_map(Value::Int8).boxed(),
        (_, SchemaType::Int16) => any::<i16>().prop_map(Value::Int16).boxed(),
        (_, SchemaType::Int32) => any::<i32>().prop_map(Value::Int32).boxed(),
        (_, SchemaType::Int64) => any::<i64>().prop_map(Value::Int64).boxed(),
        (_, SchemaType::Float32) => finite_f32().prop_map(Value::Float32).boxed(),
        (_, SchemaType::Float64) => finite_f64().prop_map(Value::Float64).boxed(),
        (_, SchemaType::Boolean) => any::<bool>().prop_map(Value::Boolean).boxed(),
        (_, SchemaType::String) => any::<String>().prop_map(Value::String).boxed(),
        (_, SchemaType::Bytes) => proptest::collection::vec(any::<u8>(), 0..8)
            .prop_map(Value::Bytes)
            .boxed(),
        (_, SchemaType::Array) => {
            let element = schema
                .value_schema
                .as_deref()
                .cloned()
                .unwrap_or(Schema::primitive(SchemaType::Int8));
            proptest::collection::vec(value_for(&element), 0..4)
                .prop_map(Value::Array)
                .boxed()
        }
        (_, SchemaType::Map) => {
            let value_schema = schema
                .value_schema
                .as_deref()
                .cloned()
                .unwrap_or(Schema::primitive(SchemaType::Int8));
            let values = value_for(&value_schema);
            if schema
                .key_schema
                .as_ref()
                .is_some_and(|key| key.schema_type == SchemaType::String)
            {
                proptest::collection::btree_map(any::<String>(), values, 0..4)
                    .prop_map(|entries| {
                        Value::Map(
                            entries
                                .into_iter()
                                .map(|(key, value)| (Value::String(key), value))
                                .collect(),
                        )
                    })
                    .boxed()
            } else {
                proptest::collection::vec((any::<i32>().prop_map(Value::Int32), values), 0..4)
                    .prop_map(Value::Map)
                    .boxed()
            }
        }
        (_, SchemaType::Struct) => {
            let shared = Arc::new(schema.clone());
            let fields: Vec<BoxedStrategy<Value>> = schema
                .fields
                .iter()
                .map(|field| value_for(&field.schema))
                .collect();
            fields
                .prop_map(move |values| {
                    Value::Struct(Struct {
                        schema: Arc::clone(&shared),
                        values,
                    })
                })
                .boxed()
        }
    }
}

fn schema_and_value() -> impl Strategy<Value = (Schema, Value)> {
    schema().prop_flat_map(|schema| {
        let values = value_for(&schema);
        (Just(schema), values)
    })
}

proptest! {
    // No regression files: they would land outside the converters directory.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trips_with_schemas((schema, value) in schema_and_value(), numeric in any::<bool>()) {
        let converter = JsonConverter::new(JsonConverterConfig {
            decimal_format: if numeric { DecimalFormat::Numeric } else { DecimalFormat::Base64 },
            ..JsonConverterConfig::default()
        });
        let encoded = converter.from_connect_data("t", Some(&schema), &value);
        prop_assert!(encoded.is_ok(), "encoding failed: {:?}", encoded);
        let encoded = encoded.ok().flatten();
        let decoded = converter.to_connect_data("t", encoded.as_deref());
        let expected = SchemaAndValue::new(schema, value);
        prop_assert_eq!(decoded.as_ref().ok(), Some(&expected));
        // And re-encoding the decoded value gives the same bytes.
        let decoded = decoded.unwrap_or_else(|_| SchemaAndValue::null());
        let again = converter.from_connect_data("t", decoded.schema.as_deref(), &decoded.value);
        prop_assert_eq!(again, Ok(encoded));
    }
}
