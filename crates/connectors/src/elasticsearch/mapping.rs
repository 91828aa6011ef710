//! With `schema.ignore=false`: the index mapping derived from a Connect schema, and documents
//! written the way Confluent's connector writes them then (decimals as doubles, maps with
//! non-string keys — or all maps with `compact.map.entries=false` — as arrays of
//! `{"key", "value"}` objects).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

use crate::sdk::data::logical;
use crate::sdk::{Schema, SchemaType, Value};

/// Returns the mapping (`{"properties": {...}}`) of an index whose documents have `schema`.
///
/// # Errors
/// When the schema is not a struct or map (a document must be a JSON object).
pub(crate) fn index_mapping(schema: &Schema) -> Result<Json, String> {
    match schema.schema_type {
        SchemaType::Struct | SchemaType::Map if logical_type(schema).is_none() => {
            Ok(field_mapping(schema))
        }
        other => Err(format!(
            "a {} value schema cannot be mapped to an index: documents must be structs or maps (set schema.ignore=true to index such values without a mapping)",
            other.json_name()
        )),
    }
}

fn logical_type(schema: &Schema) -> Option<&'static str> {
    match schema.name.as_deref()? {
        logical::DATE | logical::TIME | logical::TIMESTAMP => Some("date"),
        logical::DECIMAL => Some("double"),
        _ => None,
    }
}

fn field_mapping(schema: &Schema) -> Json {
    if let Some(es_type) = logical_type(schema) {
        return json!({ "type": es_type });
    }
    match schema.schema_type {
        SchemaType::Array => match schema.value_schema.as_deref() {
            // Elasticsearch fields hold any number of values: an array maps like its elements.
            Some(element) => field_mapping(element),
            None => json!({ "type": "object" }),
        },
        SchemaType::Map => {
            let mut properties = Map::new();
            if let Some(key) = schema.key_schema.as_deref() {
                properties.insert("key".into(), field_mapping(key));
            }
            if let Some(value) = schema.value_schema.as_deref() {
                properties.insert("value".into(), field_mapping(value));
            }
            json!({ "properties": properties })
        }
        SchemaType::Struct => {
            let mut properties = Map::new();
            for field in &schema.fields {
                properties.insert(field.name.clone(), field_mapping(&field.schema));
            }
            json!({ "properties": properties })
        }
        SchemaType::Boolean => json!({ "type": "boolean" }),
        SchemaType::Int8 => json!({ "type": "byte" }),
        SchemaType::Int16 => json!({ "type": "short" }),
        SchemaType::Int32 => json!({ "type": "integer" }),
        SchemaType::Int64 => json!({ "type": "long" }),
        SchemaType::Float32 => json!({ "type": "float" }),
        SchemaType::Float64 => json!({ "type": "double" }),
        SchemaType::Bytes => json!({ "type": "binary" }),
        SchemaType::String => json!({
            "type": "text",
            "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } }
        }),
    }
}

/// Returns the JSON document of `value` under `schema` (`None`: inferred from the value).
///
/// # Errors
/// When the value does not match its schema, or a required field is null without a default.
pub(crate) fn preprocessed_json(
    schema: Option<&Schema>,
    value: &Value,
    compact_maps: bool,
) -> Result<Json, String> {
    let Some(schema) = schema else {
        return schemaless_json(value, compact_maps);
    };
    if value.is_null() {
        if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null()) {
            return preprocessed_json(Some(schema), default, compact_maps);
        }
        if schema.optional {
            return Ok(Json::Null);
        }
        return Err(format!(
            "null value for a required {} field without a default value",
            schema.schema_type.json_name()
        ));
    }
    let mismatch = || {
        format!(
            "a {} value does not match its {} schema",
            super::bulk::value_type_name(value).to_ascii_lowercase(),
            schema.schema_type.json_name()
        )
    };
    Ok(match value {
        Value::Array(items) => {
            let element = schema.value_schema.as_deref();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(preprocessed_json(element, item, compact_maps)?);
            }
            Json::Array(out)
        }
        Value::Map(entries) => {
            if schema.schema_type != SchemaType::Map {
                return Err(mismatch());
            }
            map_json(
                entries,
                schema.key_schema.as_deref(),
                schema.value_schema.as_deref(),
                compact_maps,
            )?
        }
        Value::Struct(record) => {
            let mut object = Map::new();
            for (field, item) in record.schema.fields.iter().zip(&record.values) {
                object.insert(
                    field.name.clone(),
                    preprocessed_json(Some(&field.schema), item, compact_maps)?,
                );
            }
            Json::Object(object)
        }
        other => schemaless_json(other, compact_maps)?,
    })
}

fn map_json(
    entries: &[(Value, Value)],
    key_schema: Option<&Schema>,
    value_schema: Option<&Schema>,
    compact_maps: bool,
) -> Result<Json, String> {
    let string_keys = match key_schema {
        Some(schema) => schema.schema_type == SchemaType::String,
        None => entries
            .iter()
            .all(|(key, _)| matches!(key, Value::String(_))),
    };
    if compact_maps && string_keys {
        let mut object = Map::new();
        for (key, item) in entries {
            let Value::String(key) = key else {
                return Err("a map key does not match its string schema".to_string());
            };
            object.insert(
                key.clone(),
                preprocessed_json(value_schema, item, compact_maps)?,
            );
        }
        return Ok(Json::Object(object));
    }
    let mut pairs = Vec::with_capacity(entries.len());
    for (key, item) in entries {
        pairs.push(json!({
            "key": preprocessed_json(key_schema, key, compact_maps)?,
            "value": preprocessed_json(value_schema, item, compact_maps)?,
        }));
    }
    Ok(Json::Array(pairs))
}

fn schemaless_json(value: &Value, compact_maps: bool) -> Result<Json, String> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Boolean(flag) => Json::Bool(*flag),
        Value::Int8(number) => json!(number),
        Value::Int16(number) => json!(number),
        Value::Int32(number) | Value::Date(number) | Value::Time(number) => json!(number),
        Value::Int64(number) | Value::Timestamp(number) => json!(number),
        Value::Float32(number) => float(f64::from(*number))?,
        Value::Float64(number) => float(*number)?,
        Value::String(text) => Json::String(text.clone()),
        Value::Bytes(bytes) => Json::String(BASE64.encode(bytes)),
        Value::Decimal(decimal) => {
            let number: f64 = decimal
                .to_string()
                .parse()
                .map_err(|_| format!("decimal {decimal} is not a number"))?;
            float(number)?
        }
        Value::Array(items) => Json::Array(
            items
                .iter()
                .map(|item| schemaless_json(item, compact_maps))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => map_json(entries, None, None, compact_maps)?,
        Value::Struct(record) => preprocessed_json(Some(&record.schema), value, compact_maps)?,
    })
}

fn float(number: f64) -> Result<Json, String> {
    serde_json::Number::from_f64(number)
        .map(Json::Number)
        .ok_or_else(|| format!("{number} cannot be written as a JSON number"))
}
