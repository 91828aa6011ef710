//! `MaskField$Key` / `$Value`: replaces the listed fields with their type's "zero" (0, false,
//! "", empty list/map, epoch) or with `replacement` converted to the field's type.

use std::collections::HashSet;

use crate::converters::header::parse_string;
use crate::converters::java::parse_big_decimal;
use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Decimal, Importance, Validator, Value,
};

use super::drop_headers::non_empty_list;
use super::values::{field_value, java_class_name, map_get, map_put, require_map, require_struct};
use super::{
    flag, list, optional_string, replace_null_with_default_key, BuildError, Target, TransformError,
    TransformRecord, Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const FIELDS: &str = "fields";
const REPLACEMENT: &str = "replacement";
const PURPOSE: &str = "mask fields";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELDS, ConfigType::List, Importance::High, "Names of fields to mask.")
                .validator(Validator::Custom(non_empty_list)),
        )
        .define(
            ConfigKey::new(
                REPLACEMENT,
                ConfigType::String,
                Importance::Low,
                "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only).",
            )
            .default_null()
            .validator(Validator::NonEmpty),
        )
        .define(replace_null_with_default_key())
}

struct MaskField {
    target: Target,
    fields: HashSet<String>,
    /// In `fields` order, for schemaless maps (Java iterates a `HashSet`; order only matters
    /// for keys that are absent, which are then added).
    ordered_fields: Vec<String>,
    replacement_opt: Option<String>,
    replace_null_with_default: bool,
}

fn zero_of(value: &Value) -> Result<Value, TransformError> {
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::Decimal(_) => Value::Decimal(Decimal {
            unscaled: 0,
            scale: 0,
        }),
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::String(_) => Value::String(String::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => {
            return Err(TransformError::data(format!(
                "Cannot mask value of type: class {}",
                java_class_name(other)
            )))
        }
    })
}

/// `Values.convertToLong(null, text)` and friends: the number `parseString` reads.
fn parsed_number(replacement: &str) -> Result<Value, TransformError> {
    let parsed = parse_string(replacement);
    match parsed.value {
        number @ (Value::Int8(_)
        | Value::Int16(_)
        | Value::Int32(_)
        | Value::Int64(_)
        | Value::Float32(_)
        | Value::Float64(_)
        | Value::Decimal(_)) => Ok(number),
        _ => Err(TransformError::data(format!(
            "Unable to convert {replacement} (class java.lang.String) to number"
        ))),
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn as_long(number: &Value) -> i64 {
    match number {
        Value::Int8(v) => i64::from(*v),
        Value::Int16(v) => i64::from(*v),
        Value::Int32(v) => i64::from(*v),
        Value::Int64(v) => *v,
        Value::Float32(v) => *v as i64,
        Value::Float64(v) => *v as i64,
        Value::Decimal(d) => {
            let mut unscaled = d.unscaled;
            for _ in 0..d.scale.max(0) {
                unscaled /= 10;
            }
            unscaled as i64
        }
        _ => 0,
    }
}

#[allow(clippy::cast_precision_loss)]
fn as_double(number: &Value) -> f64 {
    match number {
        Value::Float32(v) => f64::from(*v),
        Value::Float64(v) => *v,
        Value::Decimal(d) => d.to_string().parse().unwrap_or(0.0),
        other => as_long(other) as f64,
    }
}

#[allow(clippy::cast_possible_truncation)]
fn with_replacement(value: &Value, replacement: &str) -> Result<Value, TransformError> {
    Ok(match value {
        Value::Int8(_) => Value::Int8(as_long(&parsed_number(replacement)?) as i8),
        Value::Int16(_) => Value::Int16(as_long(&parsed_number(replacement)?) as i16),
        Value::Int32(_) => Value::Int32(as_long(&parsed_number(replacement)?) as i32),
        Value::Int64(_) => Value::Int64(as_long(&parsed_number(replacement)?)),
        Value::Float32(_) => Value::Float32(as_double(&parsed_number(replacement)?) as f32),
        Value::Float64(_) => Value::Float64(as_double(&parsed_number(replacement)?)),
        Value::String(_) => Value::String(replacement.to_string()),
        Value::Decimal(_) => Value::Decimal(parse_big_decimal(replacement).ok_or_else(|| {
            TransformError::data(format!(
                "Unable to convert {replacement} (class java.lang.String) to number"
            ))
        })?),
        other => {
            return Err(TransformError::data(format!(
                "Cannot mask value of type class {} with custom replacement.",
                java_class_name(other)
            )))
        }
    })
}

impl MaskField {
    fn masked(&self, value: &Value) -> Result<Value, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement_opt {
            None => zero_of(value),
            Some(replacement) => with_replacement(value, replacement),
        }
    }
}

impl Transformation for MaskField {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operating = self.target.of(&record);
        let updated = match &operating.schema {
            None => {
                let entries = require_map(&operating.value, PURPOSE)?;
                let mut updated = entries.clone();
                for field in &self.ordered_fields {
                    let masked = self.masked(&map_get(entries, field))?;
                    map_put(&mut updated, field, masked);
                }
                Value::Map(updated)
            }
            Some(_) => {
                let value = require_struct(&operating.value, PURPOSE)?;
                let mut values = Vec::with_capacity(value.values.len());
                for (index, field) in value.schema.fields.iter().enumerate() {
                    let original = field_value(value, index, self.replace_null_with_default);
                    values.push(if self.fields.contains(&field.name) {
                        self.masked(&original)?
                    } else {
                        original
                    });
                }
                super::values::checked_struct(value.schema.clone(), values)?
            }
        };
        self.target.of_mut(&mut record).value = updated;
        Ok(Some(record))
    }
}

/// Builds the transform for the key or the value.
pub(crate) fn build(
    config: &ConfigValues,
    target: Target,
) -> Result<Box<dyn Transformation>, BuildError> {
    let ordered = list(config, FIELDS);
    let mut seen = HashSet::new();
    let ordered_fields: Vec<String> = ordered
        .into_iter()
        .filter(|f| seen.insert(f.clone()))
        .collect();
    Ok(Box::new(MaskField {
        target,
        fields: ordered_fields.iter().cloned().collect(),
        ordered_fields,
        replacement_opt: optional_string(config, REPLACEMENT),
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
