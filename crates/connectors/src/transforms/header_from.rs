//! `HeaderFrom$Key` / `$Value`: copies or moves fields into headers.

use std::sync::Arc;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Header, Importance, SchemaAndValue, Validator,
    Value,
};

use super::drop_headers::non_empty_list;
use super::values::{
    field_value, field_value_named, map_get, map_remove, push_field, require_map, require_struct,
    struct_builder_from,
};
use super::{
    flag, list, replace_null_with_default_key, BuildError, Target, TransformError, TransformRecord,
    Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const FIELDS: &str = "fields";
const HEADERS: &str = "headers";
const OPERATION: &str = "operation";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELDS, ConfigType::List, Importance::High, "Field names in the record whose values are to be copied or moved to headers.")
                .validator(Validator::Custom(non_empty_list)),
        )
        .define(
            ConfigKey::new(HEADERS, ConfigType::List, Importance::High, "Header names, in the same order as the field names listed in the fields configuration property.")
                .validator(Validator::Custom(non_empty_list)),
        )
        .define(
            ConfigKey::new(
                OPERATION,
                ConfigType::String,
                Importance::High,
                "Either <code>move</code> if the fields are to be moved to the headers (removed from the key/value), or <code>copy</code> if the fields are to be copied to the headers (retained in the key/value).",
            )
            .validator(Validator::Custom(|raw| {
                if raw == "move" || raw == "copy" {
                    Ok(())
                } else {
                    Err("String must be one of: move, copy".to_string())
                }
            })),
        )
        .define(replace_null_with_default_key())
}

struct HeaderFrom {
    target: Target,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    replace_null_with_default: bool,
}

impl Transformation for HeaderFrom {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operation = if self.moving { "move" } else { "copy" };
        let purpose = format!("header {operation}");
        let operating = self.target.of(&record).clone();
        let mut new_headers = Vec::with_capacity(self.fields.len());
        let updated = match &operating.schema {
            None => {
                let entries = require_map(&operating.value, &purpose)?;
                let mut updated = entries.clone();
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let value = map_get(entries, field);
                    if self.moving {
                        map_remove(&mut updated, field);
                    }
                    new_headers.push(Header {
                        key: header.clone(),
                        value: SchemaAndValue::schemaless(value),
                    });
                }
                SchemaAndValue::schemaless(Value::Map(updated))
            }
            Some(schema) => {
                let value = require_struct(&operating.value, &purpose)?;
                let updated = if self.moving {
                    let mut moved = struct_builder_from(schema);
                    for field in &schema.fields {
                        if !self.fields.contains(&field.name) {
                            push_field(&mut moved, &field.name, Arc::clone(&field.schema));
                        }
                    }
                    let moved = Arc::new(moved);
                    let values = moved
                        .fields
                        .iter()
                        .map(|field| {
                            field_value_named(value, &field.name, self.replace_null_with_default)
                                .unwrap_or(Value::Null)
                        })
                        .collect();
                    SchemaAndValue {
                        schema: Some(Arc::clone(&moved)),
                        value: super::values::checked_struct(moved, values)?,
                    }
                } else {
                    operating.clone()
                };
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let Some(index) = schema.fields.iter().position(|f| &f.name == field) else {
                        return Err(TransformError::data(format!(
                            "Cannot invoke \"org.apache.kafka.connect.data.Field.schema()\" because the return value of \"org.apache.kafka.connect.data.Schema.field(String)\" is null (field {field})"
                        )));
                    };
                    let field_schema = Arc::clone(&schema.fields[index].schema);
                    let field_data = field_value(value, index, self.replace_null_with_default);
                    new_headers.push(Header {
                        key: header.clone(),
                        value: SchemaAndValue {
                            schema: Some(field_schema),
                            value: field_data,
                        },
                    });
                }
                updated
            }
        };
        *self.target.of_mut(&mut record) = updated;
        record.headers.extend(new_headers);
        Ok(Some(record))
    }
}

/// Builds the transform for the key or the value.
pub(crate) fn build(
    config: &ConfigValues,
    target: Target,
) -> Result<Box<dyn Transformation>, BuildError> {
    let fields = list(config, FIELDS);
    let headers = list(config, HEADERS);
    if fields.len() != headers.len() {
        return Err(BuildError::general(
            "'fields' config must have the same number of elements as 'headers' config.",
        ));
    }
    Ok(Box::new(HeaderFrom {
        target,
        fields,
        headers,
        moving: config.get(OPERATION) == Some("move"),
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
