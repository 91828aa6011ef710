//! `HoistField$Key` / `$Value`: wraps the key or value into a struct (or map) of one field.

use std::sync::Arc;

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Schema, Value};

use super::values::push_field;
use super::{BuildError, Target, TransformError, TransformRecord, Transformation};

const FIELD: &str = "field";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new().define(ConfigKey::new(
        FIELD,
        ConfigType::String,
        Importance::Medium,
        "Field name for the single field that will be created in the resulting Struct or Map.",
    ))
}

struct HoistField {
    target: Target,
    field: String,
}

impl Transformation for HoistField {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let side = self.target.of_mut(&mut record);
        let value = std::mem::replace(&mut side.value, Value::Null);
        match side.schema.take() {
            None => {
                side.value = Value::Map(vec![(Value::String(self.field.clone()), value)]);
            }
            Some(schema) => {
                let mut updated = Schema::structure(None, Vec::new());
                push_field(&mut updated, &self.field, schema);
                let updated = Arc::new(updated);
                side.schema = Some(Arc::clone(&updated));
                side.value = super::values::checked_struct(updated, vec![value])?;
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
    Ok(Box::new(HoistField {
        target,
        field: config.get(FIELD).unwrap_or_default().to_string(),
    }))
}
