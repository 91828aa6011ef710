//! `SetSchemaMetadata$Key` / `$Value`: sets the schema name and/or version (a struct value is
//! re-created with the new schema).

use std::sync::Arc;

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Value};

use super::values::{field_value, require_schema};
use super::{
    flag, optional_string, replace_null_with_default_key, BuildError, Target, TransformError,
    TransformRecord, Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                SCHEMA_NAME,
                ConfigType::String,
                Importance::High,
                "Schema name to set.",
            )
            .default_null(),
        )
        .define(
            ConfigKey::new(
                SCHEMA_VERSION,
                ConfigType::Int,
                Importance::High,
                "Schema version to set.",
            )
            .default_null(),
        )
        .define(replace_null_with_default_key())
}

struct SetSchemaMetadata {
    target: Target,
    name_opt: Option<String>,
    version_opt: Option<i32>,
    replace_null_with_default: bool,
}

impl Transformation for SetSchemaMetadata {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operating = self.target.of(&record);
        if operating.value.is_null() && operating.schema.is_none() {
            return Ok(Some(record));
        }
        let schema = require_schema(operating.schema.as_ref(), "updating schema metadata")?;
        if schema.schema_type != crate::sdk::SchemaType::Struct {
            // Kafka Connect 4.3.1 copies `schema.fields()`, which throws for any other type.
            return Err(TransformError::data(
                "Cannot list fields on non-struct type",
            ));
        }
        let mut updated = (**schema).clone();
        if let Some(name) = &self.name_opt {
            updated.name = Some(name.clone());
        }
        if let Some(version) = self.version_opt {
            updated.version = Some(version);
        }
        let updated = Arc::new(updated);
        let value = match &operating.value {
            Value::Struct(structure) => {
                let values = (0..structure.values.len())
                    .map(|index| field_value(structure, index, self.replace_null_with_default))
                    .collect();
                super::values::checked_struct(Arc::clone(&updated), values)?
            }
            other => other.clone(),
        };
        let side = self.target.of_mut(&mut record);
        side.schema = Some(updated);
        side.value = value;
        Ok(Some(record))
    }
}

/// Builds the transform for the key or the value.
pub(crate) fn build(
    config: &ConfigValues,
    target: Target,
) -> Result<Box<dyn Transformation>, BuildError> {
    let name_opt = optional_string(config, SCHEMA_NAME);
    let version_opt = config
        .get(SCHEMA_VERSION)
        .and_then(|raw| raw.trim().parse().ok());
    if name_opt.is_none() && version_opt.is_none() {
        return Err(BuildError::general(
            "Neither schema name nor version configured",
        ));
    }
    Ok(Box::new(SetSchemaMetadata {
        target,
        name_opt,
        version_opt,
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
