//! `ExtractField$Key` / `$Value`: replaces the key or value with one of its fields (a nested
//! path with `field.syntax.version=V2`).

use std::sync::Arc;

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Value};

use super::field_path::{field_syntax_version_key, SingleFieldPath, FIELD_SYNTAX_VERSION};
use super::values::require_map;
use super::{
    flag, replace_null_with_default_key, BuildError, Target, TransformError, TransformRecord,
    Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const FIELD: &str = "field";
const PURPOSE: &str = "field extraction";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(ConfigKey::new(
            FIELD,
            ConfigType::String,
            Importance::Medium,
            "Field name to extract.",
        ))
        .define(replace_null_with_default_key())
        .define(field_syntax_version_key())
}

struct ExtractField {
    target: Target,
    original_path: String,
    path: SingleFieldPath,
    replace_null_with_default: bool,
}

impl Transformation for ExtractField {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operating = self.target.of(&record);
        match operating.schema.clone() {
            None => {
                let extracted = match &operating.value {
                    Value::Null => Value::Null,
                    other => self.path.value_from_map(require_map(other, PURPOSE)?)?,
                };
                let side = self.target.of_mut(&mut record);
                side.value = extracted;
            }
            Some(schema) => {
                let structure = match &operating.value {
                    Value::Null => None,
                    other => Some(super::values::require_struct(other, PURPOSE)?.clone()),
                };
                let Some(field) = self.path.field_from(&schema) else {
                    return Err(TransformError::illegal_argument(format!(
                        "Unknown field: {}",
                        self.original_path
                    )));
                };
                let field_schema = Arc::clone(&field.schema);
                let extracted = match structure {
                    None => Value::Null,
                    Some(structure) => self
                        .path
                        .value_from_struct(&structure, self.replace_null_with_default)?,
                };
                let side = self.target.of_mut(&mut record);
                side.schema = Some(field_schema);
                side.value = extracted;
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
    let original_path = config.get(FIELD).unwrap_or_default().to_string();
    let version = config.get(FIELD_SYNTAX_VERSION).unwrap_or("V1");
    Ok(Box::new(ExtractField {
        target,
        path: SingleFieldPath::parse(&original_path, version)?,
        original_path,
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
