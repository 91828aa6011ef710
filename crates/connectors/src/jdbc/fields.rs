//! Which columns a record becomes, from `pk.mode`, `pk.fields`, `fields.whitelist` and the key
//! and value schemas (the rules of Confluent's `FieldsMetadata`).

use std::sync::Arc;

use super::config::{PkMode, DEFAULT_KAFKA_PK_NAMES};
use super::sql::{column_type, default_literal, ColumnDef};
use crate::sdk::{Schema, SchemaType};

/// Where a column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnSource {
    KafkaTopic,
    KafkaPartition,
    KafkaOffset,
    /// The whole (primitive) key.
    Key,
    /// The key struct's field at this index.
    KeyField(usize),
    /// The value struct's field at this index.
    ValueField(usize),
}

/// One column: its definition, its schema and where its value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub(crate) def: ColumnDef,
    pub(crate) schema: Arc<Schema>,
    pub(crate) source: ColumnSource,
}

/// The columns of records with one pair of key and value schemas: key columns in key order,
/// then the other value fields in value schema order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldsMetadata {
    pub(crate) pk: Vec<Column>,
    pub(crate) other: Vec<Column>,
    /// `pk` and `other` definitions, for the statement builders.
    pub(crate) pk_defs: Vec<ColumnDef>,
    pub(crate) other_defs: Vec<ColumnDef>,
}

/// What the extraction needs from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRules<'a> {
    pub(crate) pk_mode: PkMode,
    pub(crate) pk_fields: &'a [String],
    pub(crate) fields_whitelist: &'a [String],
}

fn column(name: &str, schema: Arc<Schema>, source: ColumnSource) -> Result<Column, String> {
    let sql_type = column_type(&schema)
        .map_err(|reason| format!("field {name:?} cannot be written: {reason}"))?;
    let def = ColumnDef {
        name: name.to_string(),
        sql_type,
        optional: schema.optional,
        default_opt: schema.default.as_ref().and_then(default_literal),
    };
    Ok(Column {
        def,
        schema,
        source,
    })
}

/// Works out the columns for one key schema and value schema (`None` for a tombstone).
///
/// # Errors
/// Why the schemas do not fit the primary key rules (the message names `pk.fields` or the
/// schema at fault).
pub(crate) fn extract_fields(
    rules: FieldRules<'_>,
    key_schema_opt: Option<&Arc<Schema>>,
    value_schema_opt: Option<&Arc<Schema>>,
) -> Result<FieldsMetadata, String> {
    if let Some(value_schema) = value_schema_opt {
        if value_schema.schema_type != SchemaType::Struct {
            return Err(format!(
                "the value schema must be a struct, but it is {}",
                value_schema.schema_type.json_name()
            ));
        }
    }
    let mut pk = Vec::new();
    match rules.pk_mode {
        PkMode::None => {}
        PkMode::Kafka => {
            let names: Vec<&str> = if rules.pk_fields.is_empty() {
                DEFAULT_KAFKA_PK_NAMES.to_vec()
            } else if rules.pk_fields.len() == 3 {
                rules.pk_fields.iter().map(String::as_str).collect()
            } else {
                return Err(format!(
                    "pk.mode=kafka needs no pk.fields or exactly three, got {:?}",
                    rules.pk_fields
                ));
            };
            let primitive = |schema_type| Arc::new(Schema::primitive(schema_type));
            pk.push(column(
                names[0],
                primitive(SchemaType::String),
                ColumnSource::KafkaTopic,
            )?);
            pk.push(column(
                names[1],
                primitive(SchemaType::Int32),
                ColumnSource::KafkaPartition,
            )?);
            pk.push(column(
                names[2],
                primitive(SchemaType::Int64),
                ColumnSource::KafkaOffset,
            )?);
        }
        PkMode::RecordKey => {
            let Some(key_schema) = key_schema_opt else {
                return Err("pk.mode=record_key, but the record key has no schema (enable key.converter.schemas.enable or use a converter with schemas)".to_string());
            };
            if key_schema.schema_type == SchemaType::Struct {
                let names: Vec<&str> = if rules.pk_fields.is_empty() {
                    key_schema.fields.iter().map(|f| f.name.as_str()).collect()
                } else {
                    rules.pk_fields.iter().map(String::as_str).collect()
                };
                for name in names {
                    let Some(index) = key_schema.fields.iter().position(|f| f.name == name) else {
                        return Err(format!(
                            "pk.fields names {name:?}, but the record key schema has no such field"
                        ));
                    };
                    let schema = Arc::clone(&key_schema.fields[index].schema);
                    pk.push(column(name, schema, ColumnSource::KeyField(index))?);
                }
            } else if matches!(key_schema.schema_type, SchemaType::Array | SchemaType::Map) {
                return Err(format!(
                    "pk.mode=record_key needs a struct or primitive key, but the key is {}",
                    key_schema.schema_type.json_name()
                ));
            } else {
                let [name] = rules.pk_fields else {
                    return Err(format!(
                        "the record key is a primitive ({}), so pk.fields must name exactly one column, got {:?}",
                        key_schema.schema_type.json_name(),
                        rules.pk_fields
                    ));
                };
                pk.push(column(name, Arc::clone(key_schema), ColumnSource::Key)?);
            }
        }
        PkMode::RecordValue => {
            let Some(value_schema) = value_schema_opt else {
                return Err("pk.mode=record_value, but the record value has no schema".to_string());
            };
            let names: Vec<&str> = if rules.pk_fields.is_empty() {
                value_schema
                    .fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect()
            } else {
                rules.pk_fields.iter().map(String::as_str).collect()
            };
            for name in names {
                let Some(index) = value_schema.fields.iter().position(|f| f.name == name) else {
                    return Err(format!(
                        "pk.fields names {name:?}, but the record value schema has no such field"
                    ));
                };
                let schema = Arc::clone(&value_schema.fields[index].schema);
                pk.push(column(name, schema, ColumnSource::ValueField(index))?);
            }
        }
    }
    let mut other = Vec::new();
    if let Some(value_schema) = value_schema_opt {
        for (index, field) in value_schema.fields.iter().enumerate() {
            let is_key = pk.iter().any(|column| column.def.name == field.name);
            let listed =
                rules.fields_whitelist.is_empty() || rules.fields_whitelist.contains(&field.name);
            if is_key || !listed {
                continue;
            }
            other.push(column(
                &field.name,
                Arc::clone(&field.schema),
                ColumnSource::ValueField(index),
            )?);
        }
    }
    if pk.is_empty() && other.is_empty() {
        return Err("no columns: the key and value schemas give no fields to write".to_string());
    }
    Ok(FieldsMetadata {
        pk_defs: pk.iter().map(|column| column.def.clone()).collect(),
        other_defs: other.iter().map(|column| column.def.clone()).collect(),
        pk,
        other,
    })
}
