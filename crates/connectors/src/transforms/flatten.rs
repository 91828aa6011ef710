//! `Flatten$Key` / `$Value`: nested structs (or maps) become top-level fields named
//! `outer<delimiter>inner`; arrays are left as they are.

use std::sync::Arc;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Schema, SchemaType, Struct, Value,
};

use super::values::{
    field_value, inferred_type, java_class_name, push_field, require_map, struct_builder_from,
};
use super::{BuildError, Target, TransformError, TransformRecord, Transformation};

const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            DELIMITER,
            ConfigType::String,
            Importance::Medium,
            "Delimiter to insert between field names from the input record when generating field names for the output record",
        )
        .default_value("."),
    )
}

struct Flatten {
    target: Target,
    delimiter: String,
}

fn schema_type_name(schema_type: SchemaType) -> &'static str {
    match schema_type {
        SchemaType::Map => "MAP",
        SchemaType::Struct => "STRUCT",
        SchemaType::Array => "ARRAY",
        _ => "PRIMITIVE",
    }
}

impl Flatten {
    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), TransformError> {
        for (key, value) in entries {
            let key_text = match key {
                Value::String(text) => text.clone(),
                other => {
                    return Err(TransformError::data(format!(
                        "Only String keys are supported in maps to flatten, found: {}",
                        java_class_name(other)
                    )))
                }
            };
            let name = self.name(prefix, &key_text);
            if value.is_null() {
                super::values::map_put(out, &name, Value::Null);
                continue;
            }
            match inferred_type(value) {
                None => {
                    return Err(TransformError::data(format!(
                        "Flatten transformation was passed a value of type class {} which is not supported by Connect's data API",
                        java_class_name(value)
                    )))
                }
                Some(SchemaType::Map) => {
                    let inner = require_map(value, PURPOSE)?;
                    self.flatten_map(inner, &name, out)?;
                }
                Some(SchemaType::Struct) => {
                    return Err(TransformError::data(format!(
                        "Flatten transformation does not support class org.apache.kafka.connect.data.Struct for record without schemas (for field {name})."
                    )))
                }
                Some(_) => super::values::map_put(out, &name, value.clone()),
            }
        }
        Ok(())
    }

    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        out: &mut Schema,
        optional: bool,
        parent_default_opt: Option<&Struct>,
    ) -> Result<(), TransformError> {
        for (index, field) in schema.fields.iter().enumerate() {
            let name = self.name(prefix, &field.name);
            let field_optional = optional || field.schema.optional;
            let default_opt = match (&field.schema.default, parent_default_opt) {
                (Some(default), _) => Some(default.clone()),
                (None, Some(parent)) => {
                    Some(field_value(parent, index, true)).filter(|v| !v.is_null())
                }
                (None, None) => None,
            };
            match field.schema.schema_type {
                SchemaType::Struct => {
                    let nested_default = match &default_opt {
                        Some(Value::Struct(nested)) => Some(nested.clone()),
                        _ => None,
                    };
                    self.flatten_schema(&field.schema, &name, out, field_optional, nested_default.as_ref())?;
                }
                SchemaType::Map => {
                    return Err(TransformError::data(format!(
                        "Flatten transformation does not support {} for record with schemas (for field {name}).",
                        schema_type_name(SchemaType::Map)
                    )))
                }
                _ => {
                    if out.field(&name).is_some() {
                        return Err(TransformError::data(format!(
                            "Cannot create field because of field name duplication {name}"
                        )));
                    }
                    let mut flattened = Schema {
                        name: field.schema.name.clone(),
                        version: field.schema.version,
                        doc: field.schema.doc.clone(),
                        parameters: field.schema.parameters.clone(),
                        value_schema: if field.schema.schema_type == SchemaType::Array {
                            field.schema.value_schema.clone()
                        } else {
                            None
                        },
                        ..Schema::primitive(field.schema.schema_type)
                    };
                    flattened.optional = field_optional;
                    flattened.default = default_opt;
                    push_field(out, &name, Arc::new(flattened));
                }
            }
        }
        Ok(())
    }

    fn flatten_struct(&self, value: &Struct, prefix: &str, out: &mut Struct) {
        for (index, field) in value.schema.fields.iter().enumerate() {
            let name = self.name(prefix, &field.name);
            let field_value_with_default = field_value(value, index, true);
            if field.schema.schema_type == SchemaType::Struct {
                if let Value::Struct(nested) = &field_value_with_default {
                    self.flatten_struct(nested, &name, out);
                }
            } else if let Some(position) = out.schema.fields.iter().position(|f| f.name == name) {
                out.values[position] = field_value_with_default;
            }
        }
    }
}

impl Transformation for Flatten {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operating = self.target.of(&record);
        if operating.value.is_null() {
            return Ok(Some(record));
        }
        match operating.schema.clone() {
            None => {
                let entries = require_map(&operating.value, PURPOSE)?;
                let mut out = Vec::new();
                self.flatten_map(entries, "", &mut out)?;
                self.target.of_mut(&mut record).value = Value::Map(out);
            }
            Some(schema) => {
                let mut updated = struct_builder_from(&schema);
                let default_opt = match &schema.default {
                    Some(Value::Struct(default)) => Some(default.clone()),
                    _ => None,
                };
                self.flatten_schema(
                    &schema,
                    "",
                    &mut updated,
                    schema.optional,
                    default_opt.as_ref(),
                )?;
                let updated = Arc::new(updated);
                let value = super::values::require_struct(&operating.value, PURPOSE)?;
                let mut out = super::values::empty_struct(Arc::clone(&updated));
                self.flatten_struct(value, "", &mut out);
                let side = self.target.of_mut(&mut record);
                side.schema = Some(updated);
                side.value = Value::Struct(out);
            }
        }
        Ok(Some(record))
    }
}

/// Builds the transform for the key or the value.
pub(crate) fn build(
    config: &ConfigValues,
    target: Target,
) -> Result<Box<dyn Transformation>, BuildError> {
    Ok(Box::new(Flatten {
        target,
        delimiter: config.get(DELIMITER).unwrap_or(".").to_string(),
    }))
}
