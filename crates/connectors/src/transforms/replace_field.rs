//! `ReplaceField$Key` / `$Value`: keeps (`include`), drops (`exclude`) and renames (`renames`)
//! fields of a struct or map.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Validator, Value};

use super::values::{field_value_named, push_field, require_struct, struct_builder_from};
use super::{
    flag, list, replace_null_with_default_key, BuildError, Target, TransformError, TransformRecord,
    Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const EXCLUDE: &str = "exclude";
const INCLUDE: &str = "include";
const RENAMES: &str = "renames";
const PURPOSE: &str = "field replacement";

fn valid_renames(raw: &str) -> Result<(), String> {
    let items: Vec<String> = if raw.trim().is_empty() {
        Vec::new()
    } else {
        raw.split(',').map(|item| item.trim().to_string()).collect()
    };
    parse_renames(&items)
        .map(|_| ())
        .map_err(|error| error.reason)
}

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                EXCLUDE,
                ConfigType::List,
                Importance::Medium,
                "Fields to exclude. This takes precedence over the fields to include.",
            )
            .default_value(""),
        )
        .define(
            ConfigKey::new(
                INCLUDE,
                ConfigType::List,
                Importance::Medium,
                "Fields to include. If specified, only these fields will be used.",
            )
            .default_value(""),
        )
        .define(
            ConfigKey::new(
                RENAMES,
                ConfigType::List,
                Importance::Medium,
                "Field rename mappings.",
            )
            .default_value("")
            .validator(Validator::Custom(valid_renames)),
        )
        .define(replace_null_with_default_key())
}

fn parse_renames(mappings: &[String]) -> Result<HashMap<String, String>, BuildError> {
    let mut renames = HashMap::new();
    for mapping in mappings {
        let parts = java_split(mapping, ':');
        if parts.len() != 2 {
            return Err(BuildError::invalid(
                RENAMES,
                &format!("[{}]", mappings.join(", ")),
                &format!("Invalid rename mapping: {mapping}"),
            ));
        }
        renames.insert(parts[0].clone(), parts[1].clone());
    }
    Ok(renames)
}

/// Java's `String.split(regex)` on a single character: trailing empty strings are dropped.
pub(crate) fn java_split(text: &str, separator: char) -> Vec<String> {
    let mut parts: Vec<String> = text.split(separator).map(str::to_string).collect();
    while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() && !text.is_empty() {
        parts.clear();
    }
    parts
}

struct ReplaceField {
    target: Target,
    exclude: HashSet<String>,
    include: HashSet<String>,
    renames: HashMap<String, String>,
    reverse_renames: HashMap<String, String>,
    replace_null_with_default: bool,
}

impl ReplaceField {
    fn keep(&self, name: &str) -> bool {
        // Empty sets are not hashed into (most configs set only `renames`).
        let excluded = !self.exclude.is_empty() && self.exclude.contains(name);
        !excluded && (self.include.is_empty() || self.include.contains(name))
    }

    fn renamed<'n>(&'n self, name: &'n str) -> &'n str {
        self.renames.get(name).map_or(name, String::as_str)
    }
}

impl Transformation for ReplaceField {
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
                // The record owns its map: entries move into the new one, and only renamed
                // keys are new strings.
                let side = self.target.of_mut(&mut record);
                let entries =
                    std::mem::take(super::values::require_map_mut(&mut side.value, PURPOSE)?);
                let mut updated: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let Value::String(name) = key else {
                        continue;
                    };
                    if !self.keep(&name) {
                        continue;
                    }
                    let renamed_opt = if self.renames.is_empty() {
                        None
                    } else {
                        self.renames.get(&name)
                    };
                    match renamed_opt {
                        Some(renamed) => super::values::map_put(&mut updated, renamed, value),
                        None => super::values::map_put_owned(&mut updated, name, value),
                    }
                }
                side.value = Value::Map(updated);
            }
            Some(schema) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let mut updated_schema = struct_builder_from(&schema);
                for field in &schema.fields {
                    if self.keep(&field.name) {
                        let renamed = self.renamed(&field.name).to_string();
                        if updated_schema.field(&renamed).is_some() {
                            return Err(TransformError::data(format!(
                                "Cannot create field because of field name duplication {renamed}"
                            )));
                        }
                        push_field(&mut updated_schema, &renamed, Arc::clone(&field.schema));
                    }
                }
                let mut values = Vec::with_capacity(updated_schema.fields.len());
                for field in &updated_schema.fields {
                    let original = self
                        .reverse_renames
                        .get(&field.name)
                        .map_or(field.name.as_str(), String::as_str);
                    values.push(
                        field_value_named(value, original, self.replace_null_with_default)
                            .ok_or_else(|| {
                                TransformError::data(format!(
                                    "{original} is not a valid field name"
                                ))
                            })?,
                    );
                }
                let updated_schema = Arc::new(updated_schema);
                let side = self.target.of_mut(&mut record);
                side.schema = Some(Arc::clone(&updated_schema));
                side.value = super::values::checked_struct(updated_schema, values)?;
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
    let renames = parse_renames(&list(config, RENAMES))?;
    let reverse_renames = renames
        .iter()
        .map(|(from, to)| (to.clone(), from.clone()))
        .collect();
    Ok(Box::new(ReplaceField {
        target,
        exclude: list(config, EXCLUDE).into_iter().collect(),
        include: list(config, INCLUDE).into_iter().collect(),
        renames,
        reverse_renames,
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
