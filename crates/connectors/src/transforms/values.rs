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

/// [`require_map`] for a value the transform updates in place.
///
/// # Errors
/// As [`require_map`].
pub(crate) fn require_map_mut<'v>(
    value: &'v mut Value,
    purpose: &str,
) -> Result<&'v mut Vec<(Value, Value)>, TransformError> {
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
pub(crate) fn require_struct<'v>(
    value: &'v Value,
    purpose: &str,
) -> Result<&'v Struct, TransformError> {
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

/// [`map_put`] with a key the caller already owns.
pub(crate) fn map_put_owned(entries: &mut Vec<(Value, Value)>, key: String, value: Value) {
    match entries
        .iter_mut()
        .find(|(existing, _)| existing.as_str() == Some(key.as_str()))
    {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key), value)),
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

/// `ConnectSchema.validateValue`, as `Struct.put` calls it: a null needs an optional schema,
/// the value's type must be the schema's (logical values their logical schema), a struct
/// must have exactly the field's schema; arrays and maps are checked element by element.
///
/// # Errors
/// Kafka Connect's `DataException` message.
pub(crate) fn validate_value(
    field: &str,
    schema: &Schema,
    value: &Value,
) -> Result<(), TransformError> {
    let logical = schema.name.as_deref();
    let matches = match value {
        Value::Null => {
            if schema.optional {
                return Ok(());
            }
            return Err(TransformError::data(format!(
                "Invalid value: null used for required field: \"{field}\", schema type: {:?}",
                schema.schema_type
            )));
        }
        Value::Boolean(_) => schema.schema_type == SchemaType::Boolean,
        Value::Int8(_) => schema.schema_type == SchemaType::Int8,
        Value::Int16(_) => schema.schema_type == SchemaType::Int16,
        Value::Int32(_) => schema.schema_type == SchemaType::Int32 && !is_date_like(logical),
        Value::Int64(_) => {
            schema.schema_type == SchemaType::Int64
                && logical != Some(crate::sdk::data::logical::TIMESTAMP)
        }
        Value::Float32(_) => schema.schema_type == SchemaType::Float32,
        Value::Float64(_) => schema.schema_type == SchemaType::Float64,
        Value::String(_) => schema.schema_type == SchemaType::String,
        Value::Bytes(_) => {
            schema.schema_type == SchemaType::Bytes
                && logical != Some(crate::sdk::data::logical::DECIMAL)
        }
        Value::Decimal(_) => logical == Some(crate::sdk::data::logical::DECIMAL),
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => {
            is_date_like(logical) || logical == Some(crate::sdk::data::logical::TIMESTAMP)
        }
        Value::Array(items) => {
            if schema.schema_type != SchemaType::Array {
                false
            } else {
                if let Some(element) = &schema.value_schema {
                    for item in items {
                        validate_value(field, element, item)?;
                    }
                }
                true
            }
        }
        Value::Map(entries) => {
            if schema.schema_type != SchemaType::Map {
                false
            } else {
                if let (Some(key_schema), Some(value_schema)) =
                    (&schema.key_schema, &schema.value_schema)
                {
                    for (key, entry) in entries {
                        validate_value(field, key_schema, key)?;
                        validate_value(field, value_schema, entry)?;
                    }
                }
                true
            }
        }
        Value::Struct(structure) => {
            if schema.schema_type != SchemaType::Struct {
                false
            } else if !same_schema(&structure.schema, schema) {
                return Err(TransformError::data("Struct schemas do not match."));
            } else {
                true
            }
        }
    };
    if matches {
        Ok(())
    } else {
        Err(TransformError::data(format!(
            "Invalid Java object for schema with type {:?}: class {} for field: \"{field}\"",
            schema.schema_type,
            java_class_name(value)
        )))
    }
}

fn is_date_like(logical: Option<&str>) -> bool {
    matches!(
        logical,
        Some(crate::sdk::data::logical::DATE | crate::sdk::data::logical::TIME)
    )
}

/// Validates every value of a struct built by a transform (each `Struct.put` in Java).
///
/// # Errors
/// The first invalid value.
pub(crate) fn validate_struct(value: &Struct) -> Result<(), TransformError> {
    for (field, item) in value.schema.fields.iter().zip(&value.values) {
        validate_value(&field.name, &field.schema, item)?;
    }
    Ok(())
}

/// `new Struct(schema)` plus a `put` of every value, validated as Kafka Connect validates.
///
/// # Errors
/// The first value its field's schema does not accept.
pub(crate) fn checked_struct(
    schema: Arc<Schema>,
    values: Vec<Value>,
) -> Result<Value, TransformError> {
    let structure = Struct { schema, values };
    validate_struct(&structure)?;
    Ok(Value::Struct(structure))
}

/// `ConnectSchema.equals`: deep equality where NaN equals NaN (Java's `Double.equals`).
pub(crate) fn same_schema(left: &Schema, right: &Schema) -> bool {
    if std::ptr::eq(left, right) {
        return true;
    }
    let same_opt = |a: &Option<Arc<Schema>>, b: &Option<Arc<Schema>>| match (a, b) {
        (Some(a), Some(b)) => same_schema(a, b),
        (None, None) => true,
        _ => false,
    };
    let same_default = match (&left.default, &right.default) {
        (Some(a), Some(b)) => same_value(a, b),
        (None, None) => true,
        _ => false,
    };
    left.schema_type == right.schema_type
        && left.optional == right.optional
        && left.name == right.name
        && left.version == right.version
        && left.doc == right.doc
        && left.parameters == right.parameters
        && same_default
        && same_opt(&left.key_schema, &right.key_schema)
        && same_opt(&left.value_schema, &right.value_schema)
        && left.fields.len() == right.fields.len()
        && left
            .fields
            .iter()
            .zip(&right.fields)
            .all(|(a, b)| a.name == b.name && same_schema(&a.schema, &b.schema))
}

fn same_value(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Float32(a), Value::Float32(b)) => {
            (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
        }
        (Value::Float64(a), Value::Float64(b)) => {
            (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((k1, v1), (k2, v2))| same_value(k1, k2) && same_value(v1, v2))
        }
        (Value::Struct(a), Value::Struct(b)) => {
            same_schema(&a.schema, &b.schema)
                && a.values
                    .iter()
                    .zip(&b.values)
                    .all(|(x, y)| same_value(x, y))
        }
        _ => left == right,
    }
}
