//! Unit tests of the transforms (examples; the conformance test compares with Kafka Connect).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::registry::{find_plugin, PluginKind};
use super::TransformRecord;
use crate::sdk::{Field, Schema, SchemaAndValue, SchemaType, Struct, Value};

fn record_with_key(key: SchemaAndValue) -> TransformRecord {
    TransformRecord {
        topic: "orders".to_string(),
        kafka_partition: None,
        kafka_offset: None,
        timestamp: None,
        key,
        value: SchemaAndValue::null(),
        headers: Vec::new(),
    }
}

/// The minimal case `cast_matches_kafka_connect` shrank to when it failed: a float32 field cast
/// to string. Kafka Connect 4.3.1's Cast calls `Float.toString`, which prints
/// `(float) -2.5e15` (-2500000068141056) as `-2.5E15` on Java 19 and later and as
/// `-2.50000007E15` on Java 17 (the harness ran on 17). Ferry prints the shortest digits, as
/// Java 19+ does and as its converters do.
#[test]
fn cast_of_a_float32_field_to_string_prints_java_19_shortest_digits() {
    let schema = Arc::new(Schema {
        fields: vec![Field {
            name: "a".to_string(),
            schema: Arc::new(Schema::primitive(SchemaType::Float32)),
        }],
        ..Schema::primitive(SchemaType::Struct)
    });
    let key = SchemaAndValue {
        schema: Some(Arc::clone(&schema)),
        value: Value::Struct(Struct {
            schema,
            values: vec![Value::Float32(-2.5e15)],
        }),
    };
    let config: BTreeMap<String, String> = [("spec".to_string(), "a:string".to_string())].into();
    let cast = find_plugin(PluginKind::Transformation, "Cast$Key")
        .expect("Cast$Key is registered")
        .build_transform(&config)
        .expect("the spec is valid");
    let output = cast
        .apply(record_with_key(key))
        .expect("the cast succeeds")
        .expect("Cast keeps the record");
    let Value::Struct(cast_key) = &output.key.value else {
        panic!("the key stays a struct: {:?}", output.key.value);
    };
    assert_eq!(
        cast_key.get("a"),
        Some(&Value::String("-2.5E15".to_string()))
    );
    let key_schema = output.key.schema.expect("the key keeps a schema");
    assert_eq!(key_schema.fields[0].schema.schema_type, SchemaType::String);
}
