//! Helpers over the data model that mirror Kafka Connect's `Struct`, `SchemaBuilder`,
//! `SchemaUtil` and `Requirements`.

use std::sync::Arc;

use crate::sdk::{Field, Schema, SchemaType, Struct, Value};

use super::TransformError;

/// `Struct.get(field)` (default applied when the value is null) or `getWithoutDefault`.
pub(crate) fn field_value(value: &Struct, index: usize, with_default: bool) -> Value {
    let raw = value.values.get(index).cloned().unwrap_or(Value::Null);
    if with_default && raw.is_null() {
        if let Some(default) = value
            .schema
            .fields
            .get(index)
            .and_then(|field| field.schema.default.clone())
        {
            return default;
        }
    }
    raw
}

/// Returns the value of field `name`, or `None` when the struct has no such field.
pub(crate) fn field_value_named(value: &Struct, name: &str, with_default: bool) -> Option<Value> {
    let index = value.schema.fields.iter().position(|f| f.name == name)?;
    Some(field_value(value, index, with_default))
}

/// `SchemaUtil.copySchemaBasics(source, SchemaBuilder.struct())`: name, version, doc and
/// parameters of `source`, on a required struct without fields.
pub(crate) fn struct_builder_from(source: &Schema) -> Schema {
    Schema {
        name: source.name.clone(),
        version: source.version,
        doc: source.doc.clone(),
        parameters: source.parameters.clone(),
        ..Schema::primitive(SchemaType::Struct)
    }
}

/// Adds a field to a struct schema under construction.
pub(crate) fn push_field(schema: &mut Schema, name: &str, field_schema: Arc<Schema>) {
    schema.fields.push(Field {
        name: name.to_string(),
        schema: field_schema,
    });
}

/// A new struct of `schema` with every field null.
pub(crate) fn empty_struct(schema: Arc<Schema>) -> Struct {
    let values = vec![Value::Null; schema.fields.len()];
    Struct { schema, values }
}

/// Java's class name of a value, as `Requirements` error messages print it.
pub(crate) fn java_class_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
        Value::Decimal(_) => "java.math.BigDecimal",
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => "java.util.Date",
    }
}

/// `ConnectSchema.schemaType(value.getClass())`: the type of a schemaless value, `None` for
/// classes Connect's data API does not know (BigDecimal, java.util.Date).
pub(crate) fn inferred_type(value: &Value) -> Option<SchemaType> {
    Some(match value {
        Value::Boolean(_) => SchemaType::Boolean,
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        Value::String(_) => SchemaType::String,
        Value::Bytes(_) => SchemaType::Bytes,
        Value::Array(_) => SchemaType::Array,
        Value::Map(_) => SchemaType::Map,
        Value::Struct(_) => SchemaType::Struct,
        Value::Null | Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => {
            return None
        }
    })
}

/// `Requirements.requireMap`: the entries of a schemaless map.
///
/// # Errors
/// Kafka Connect's `DataException` when the value is not a map.
pub(crate) fn require_map<'v>(
    value: &'v Value,
    purpose: &str,
) -> Result<&'v Vec<(Value, Value)>, TransformError> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(TransformError::data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            java_class_name(other)
        ))),
    }
}

/// `Requirements.requireStruct`.
///
/// # Errors
/// Kafka Connect's `DataException` when the value is not a struct.
pub(crate) fn require_struct<'v>(value: &'v Value, purpose: &str) -> Result<&'v Struct, TransformError> {
    match value {
        Value::Struct(structure) => Ok(structure),
        other => Err(TransformError::data(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            java_class_name(other)
        ))),
    }
}

/// `Requirements.requireSchema`.
///
/// # Errors
/// Kafka Connect's `DataException` when there is no schema.
pub(crate) fn require_schema<'s>(
    schema_opt: Option<&'s Arc<Schema>>,
    purpose: &str,
) -> Result<&'s Arc<Schema>, TransformError> {
    schema_opt.ok_or_else(|| TransformError::data(format!("Schema required for [{purpose}]")))
}

/// A schemaless map keyed by strings: `HashMap<String, Object>` semantics (`put` replaces the
/// entry of an equal key, keeping its position).
pub(crate) fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(existing, _)| existing.as_str() == Some(key))
    {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_string()), value)),
    }
}

/// `map.get(key)` of a schemaless map (null when absent).
pub(crate) fn map_get(entries: &[(Value, Value)], key: &str) -> Value {
    entries
        .iter()
        .find(|(existing, _)| existing.as_str() == Some(key))
        .map_or(Value::Null, |(_, value)| value.clone())
}

/// `map.remove(key)` of a schemaless map.
pub(crate) fn map_remove(entries: &mut Vec<(Value, Value)>, key: &str) {
    entries.retain(|(existing, _)| existing.as_str() != Some(key));
}
