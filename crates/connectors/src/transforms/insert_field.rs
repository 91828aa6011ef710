//! `InsertField$Key` / `$Value`: adds the topic, partition, offset (sink records), timestamp or a
//! static string as fields (`name!` makes a field required, `name?` or a bare name optional).

use std::sync::Arc;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Schema, SchemaType, Value,
};

use super::values::{
    field_value, map_put, push_field, require_map_mut, require_struct, struct_builder_from,
};
use super::{
    flag, optional_string, replace_null_with_default_key, BuildError, Target, TransformError,
    TransformRecord, Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const TOPIC_FIELD: &str = "topic.field";
const PARTITION_FIELD: &str = "partition.field";
const OFFSET_FIELD: &str = "offset.field";
const TIMESTAMP_FIELD: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const OPTIONALITY_DOC: &str = "Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it optional (the default).";
const PURPOSE: &str = "field insertion";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    let key = |name: &str, doc: String| {
        ConfigKey::new(name, ConfigType::String, Importance::Medium, &doc).default_null()
    };
    ConfigDef::new()
        .define(key(TOPIC_FIELD, format!("Field name for Kafka topic. {OPTIONALITY_DOC}")))
        .define(key(PARTITION_FIELD, format!("Field name for Kafka partition. {OPTIONALITY_DOC}")))
        .define(key(
            OFFSET_FIELD,
            format!("Field name for Kafka offset - only applicable to sink connectors.<br/>{OPTIONALITY_DOC}"),
        ))
        .define(key(TIMESTAMP_FIELD, format!("Field name for record timestamp. {OPTIONALITY_DOC}")))
        .define(key(STATIC_FIELD, format!("Field name for static data field. {OPTIONALITY_DOC}")))
        .define(key(STATIC_VALUE, "Static field value, if field name configured.".to_string()))
        .define(replace_null_with_default_key())
}

#[derive(Debug, Clone)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

fn parse_spec(raw_opt: Option<String>) -> Option<InsertionSpec> {
    let raw = raw_opt?;
    if let Some(name) = raw.strip_suffix('?') {
        return Some(InsertionSpec {
            name: name.to_string(),
            optional: true,
        });
    }
    if let Some(name) = raw.strip_suffix('!') {
        return Some(InsertionSpec {
            name: name.to_string(),
            optional: false,
        });
    }
    Some(InsertionSpec {
        name: raw,
        optional: true,
    })
}

struct InsertField {
    target: Target,
    topic: Option<InsertionSpec>,
    partition: Option<InsertionSpec>,
    offset: Option<InsertionSpec>,
    timestamp: Option<InsertionSpec>,
    static_field: Option<InsertionSpec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
}

fn typed(schema: Schema, optional: bool) -> Arc<Schema> {
    Arc::new(if optional { schema.optional() } else { schema })
}

impl InsertField {
    fn offset_of(record: &TransformRecord) -> Result<i64, TransformError> {
        record.kafka_offset.ok_or_else(|| {
            TransformError::data(format!(
                "Only SinkRecord supported for [{PURPOSE}], found: org.apache.kafka.connect.source.SourceRecord"
            ))
        })
    }

    fn updated_schema(&self, schema: &Schema) -> Schema {
        let mut updated = struct_builder_from(schema);
        for field in &schema.fields {
            push_field(&mut updated, &field.name, Arc::clone(&field.schema));
        }
        let primitive = Schema::primitive;
        if let Some(spec) = &self.topic {
            push_field(
                &mut updated,
                &spec.name,
                typed(primitive(SchemaType::String), spec.optional),
            );
        }
        if let Some(spec) = &self.partition {
            push_field(
                &mut updated,
                &spec.name,
                typed(primitive(SchemaType::Int32), spec.optional),
            );
        }
        if let Some(spec) = &self.offset {
            push_field(
                &mut updated,
                &spec.name,
                typed(primitive(SchemaType::Int64), spec.optional),
            );
        }
        if let Some(spec) = &self.timestamp {
            push_field(
                &mut updated,
                &spec.name,
                typed(Schema::timestamp(), spec.optional),
            );
        }
        if let Some(spec) = &self.static_field {
            push_field(
                &mut updated,
                &spec.name,
                typed(primitive(SchemaType::String), spec.optional),
            );
        }
        updated
    }
}

/// Sets a field by name in a struct schema'd by `schema`: the last field with that name wins,
/// as `Struct.put` looks the field up by name (a name inserted twice is one field in Java's
/// `SchemaBuilder`, which throws on duplicates; see `updated_schema`).
fn set_named(names: &[String], values: &mut [Value], name: &str, value: Value) {
    if let Some(index) = names.iter().position(|existing| existing == name) {
        values[index] = value;
    }
}

impl Transformation for InsertField {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operating = self.target.of(&record);
        if operating.value.is_null() {
            return Ok(Some(record));
        }
        let partition_opt = record.kafka_partition;
        let timestamp_opt = record.timestamp;
        let offset_opt = match &self.offset {
            Some(_) => Some(Self::offset_of(&record)?),
            None => None,
        };
        match operating.schema.clone() {
            None => {
                // The map is updated in place: the record owns it (Kafka Connect copies it
                // into a new HashMap, which is the same value).
                let topic_opt = self.topic.as_ref().map(|_| record.topic.clone());
                let entries = require_map_mut(&mut self.target.of_mut(&mut record).value, PURPOSE)?;
                if let (Some(spec), Some(topic)) = (&self.topic, topic_opt) {
                    map_put(entries, &spec.name, Value::String(topic));
                }
                if let (Some(spec), Some(partition)) = (&self.partition, partition_opt) {
                    map_put(entries, &spec.name, Value::Int32(partition));
                }
                if let (Some(spec), Some(offset)) = (&self.offset, offset_opt) {
                    map_put(entries, &spec.name, Value::Int64(offset));
                }
                if let (Some(spec), Some(timestamp)) = (&self.timestamp, timestamp_opt) {
                    map_put(entries, &spec.name, Value::Int64(timestamp));
                }
                if let (Some(spec), Some(value)) = (&self.static_field, &self.static_value) {
                    map_put(entries, &spec.name, Value::String(value.clone()));
                }
            }
            Some(schema) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let updated_schema = self.updated_schema(&schema);
                let names: Vec<String> = updated_schema
                    .fields
                    .iter()
                    .map(|f| f.name.clone())
                    .collect();
                if has_duplicates(&names) {
                    return Err(TransformError::data(format!(
                        "Cannot create field because of field name duplication {}",
                        first_duplicate(&names)
                    )));
                }
                let mut values = vec![Value::Null; names.len()];
                for (index, field) in value.schema.fields.iter().enumerate() {
                    set_named(
                        &names,
                        &mut values,
                        &field.name,
                        field_value(value, index, self.replace_null_with_default),
                    );
                }
                if let Some(spec) = &self.topic {
                    let topic = Value::String(record.topic.clone());
                    set_named(&names, &mut values, &spec.name, topic);
                }
                if let (Some(spec), Some(partition)) = (&self.partition, partition_opt) {
                    set_named(&names, &mut values, &spec.name, Value::Int32(partition));
                }
                if let (Some(spec), Some(offset)) = (&self.offset, offset_opt) {
                    set_named(&names, &mut values, &spec.name, Value::Int64(offset));
                }
                if let (Some(spec), Some(timestamp)) = (&self.timestamp, timestamp_opt) {
                    set_named(&names, &mut values, &spec.name, Value::Timestamp(timestamp));
                }
                if let (Some(spec), Some(static_value)) = (&self.static_field, &self.static_value) {
                    set_named(
                        &names,
                        &mut values,
                        &spec.name,
                        Value::String(static_value.clone()),
                    );
                }
                let updated_schema = Arc::new(updated_schema);
                let side = self.target.of_mut(&mut record);
                side.schema = Some(Arc::clone(&updated_schema));
                side.value = Value::Struct(crate::sdk::Struct {
                    schema: updated_schema,
                    values,
                });
            }
        }
        Ok(Some(record))
    }
}

fn has_duplicates(names: &[String]) -> bool {
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    unique.len() < names.len()
}

fn first_duplicate(names: &[String]) -> String {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .find(|name| !seen.insert(*name))
        .cloned()
        .unwrap_or_default()
}

/// Builds the transform for the key or the value.
pub(crate) fn build(
    config: &ConfigValues,
    target: Target,
) -> Result<Box<dyn Transformation>, BuildError> {
    let transform = InsertField {
        target,
        topic: parse_spec(optional_string(config, TOPIC_FIELD)),
        partition: parse_spec(optional_string(config, PARTITION_FIELD)),
        offset: parse_spec(optional_string(config, OFFSET_FIELD)),
        timestamp: parse_spec(optional_string(config, TIMESTAMP_FIELD)),
        static_field: parse_spec(optional_string(config, STATIC_FIELD)),
        static_value: optional_string(config, STATIC_VALUE),
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    };
    if transform.topic.is_none()
        && transform.partition.is_none()
        && transform.offset.is_none()
        && transform.timestamp.is_none()
        && transform.static_field.is_none()
    {
        return Err(BuildError::general("No field insertion configured"));
    }
    if let (Some(spec), None) = (&transform.static_field, &transform.static_value) {
        return Err(BuildError {
            key_opt: Some(STATIC_VALUE.to_string()),
            value_opt: Some("null".to_string()),
            reason: format!("No value specified for static field: {}", spec.name),
        });
    }
    Ok(Box::new(transform))
}
