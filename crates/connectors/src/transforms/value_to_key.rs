//! `ValueToKey`: the key becomes a struct (or map) of the listed value fields.

use std::sync::Arc;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Schema, SchemaAndValue, Validator,
    Value,
};

use super::drop_headers::non_empty_list;
use super::values::{field_value_named, map_get, map_put, push_field, require_map, require_struct};
use super::{
    flag, list, replace_null_with_default_key, BuildError, TransformError, TransformRecord,
    Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const FIELDS: &str = "fields";
const PURPOSE: &str = "copying fields from value to key";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                FIELDS,
                ConfigType::List,
                Importance::High,
                "Field names on the record value to extract as the record key.",
            )
            .validator(Validator::Custom(non_empty_list)),
        )
        .define(replace_null_with_default_key())
}

struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

impl Transformation for ValueToKey {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        match &record.value.schema {
            None => {
                let entries = require_map(&record.value.value, PURPOSE)?;
                let mut key = Vec::with_capacity(self.fields.len());
                for field in &self.fields {
                    map_put(&mut key, field, map_get(entries, field));
                }
                record.key = SchemaAndValue::schemaless(Value::Map(key));
            }
            Some(_) => {
                let value = require_struct(&record.value.value, PURPOSE)?;
                let mut key_schema = Schema::structure(None, Vec::new());
                for field in &self.fields {
                    let Some(from_value) = value.schema.field(field) else {
                        return Err(TransformError::data(format!(
                            "Field does not exist: {field}"
                        )));
                    };
                    if key_schema.field(field).is_some() {
                        return Err(TransformError::data(format!(
                            "Cannot create field because of field name duplication {field}"
                        )));
                    }
                    push_field(&mut key_schema, field, Arc::clone(&from_value.schema));
                }
                let mut values = Vec::with_capacity(self.fields.len());
                for field in &self.fields {
                    values.push(
                        field_value_named(value, field, self.replace_null_with_default)
                            .unwrap_or(Value::Null),
                    );
                }
                let key_schema = Arc::new(key_schema);
                record.key = SchemaAndValue {
                    schema: Some(Arc::clone(&key_schema)),
                    value: super::values::checked_struct(key_schema, values)?,
                };
            }
        }
        Ok(Some(record))
    }
}

/// Builds the transform.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    Ok(Box::new(ValueToKey {
        fields: list(config, FIELDS),
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
