//! `TimestampConverter$Key` / `$Value`: converts a field (or the whole key/value) between
//! `string` (a `SimpleDateFormat` pattern, UTC), `unix` (a long in `unix.precision`), and the
//! `Date`, `Time` and `Timestamp` logical types.

use std::sync::Arc;

use crate::converters::java::MILLIS_PER_DAY;
use crate::sdk::data::logical;
use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Schema, SchemaType, Struct,
    Validator, Value,
};

use super::java_date::JavaDateFormat;
use super::values::{
    field_value, java_class_name, map_get, map_put, push_field, require_map, struct_builder_from,
};
use super::{
    flag, replace_null_with_default_key, BuildError, Target, TransformError, TransformRecord,
    Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const FIELD: &str = "field";
const TARGET_TYPE: &str = "target.type";
const FORMAT: &str = "format";
const UNIX_PRECISION: &str = "unix.precision";
const PURPOSE: &str = "converting timestamp formats";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FIELD, ConfigType::String, Importance::High, "The field containing the timestamp, or empty if the entire value is a timestamp")
                .default_value(""),
        )
        .define(
            ConfigKey::new(TARGET_TYPE, ConfigType::String, Importance::High, "The desired timestamp representation: string, unix, Date, Time, or Timestamp")
                .validator(Validator::Custom(|raw| one_of_exact(raw, &["string", "unix", "Date", "Time", "Timestamp"]))),
        )
        .define(
            ConfigKey::new(
                FORMAT,
                ConfigType::String,
                Importance::Medium,
                "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string.",
            )
            .default_value(""),
        )
        .define(
            ConfigKey::new(
                UNIX_PRECISION,
                ConfigType::String,
                Importance::Low,
                "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long.Note: This SMT will cause precision loss during conversions from, and to, values with sub-millisecond components.",
            )
            .default_value("milliseconds")
            .validator(Validator::Custom(|raw| one_of_exact(raw, &["nanoseconds", "microseconds", "milliseconds", "seconds"]))),
        )
        .define(replace_null_with_default_key())
}

/// `ConfigDef.ValidString.in(...)`: case-sensitive.
fn one_of_exact(raw: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&raw) {
        Ok(())
    } else {
        Err(format!("String must be one of: {}", allowed.join(", ")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::Text,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }

    fn schema(self, optional: bool) -> Schema {
        let schema = match self {
            Kind::Text => Schema::primitive(SchemaType::String),
            Kind::Unix => Schema::primitive(SchemaType::Int64),
            Kind::Date => Schema::date(),
            Kind::Time => Schema::time(),
            Kind::Timestamp => Schema::timestamp(),
        };
        if optional {
            schema.optional()
        } else {
            schema
        }
    }

    /// `timestampTypeFromSchema`.
    fn from_schema(schema: &Schema) -> Result<Kind, TransformError> {
        match schema.name.as_deref() {
            Some(logical::TIMESTAMP) => return Ok(Kind::Timestamp),
            Some(logical::DATE) => return Ok(Kind::Date),
            Some(logical::TIME) => return Ok(Kind::Time),
            _ => {}
        }
        match schema.schema_type {
            SchemaType::String => Ok(Kind::Text),
            SchemaType::Int64 => Ok(Kind::Unix),
            _ => Err(TransformError::connect(format!(
                "Schema {:?} does not correspond to a known timestamp type format",
                schema.schema_type
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

struct TimestampConverter {
    target: Target,
    field: String,
    kind: Kind,
    format_opt: Option<JavaDateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
}

/// Milliseconds of a `java.util.Date`-like value.
fn millis_of(value: &Value) -> Option<i64> {
    match value {
        Value::Date(days) => Some(i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(millis) => Some(i64::from(*millis)),
        Value::Timestamp(millis) => Some(*millis),
        _ => None,
    }
}

impl TimestampConverter {
    fn to_raw(&self, value: &Value, kind: Kind) -> Result<i64, TransformError> {
        match kind {
            Kind::Text => {
                let Value::String(text) = value else {
                    return Err(TransformError::data(format!(
                        "Expected string timestamp to be a String, but found class {}",
                        java_class_name(value)
                    )));
                };
                let format = self.format_opt.as_ref().ok_or_else(|| {
                    TransformError::data("TimestampConverter requires format option to be specified when using string timestamps")
                })?;
                format.parse(text).map_err(|_| {
                    TransformError::data(format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            Kind::Unix => {
                let Value::Int64(unix) = value else {
                    return Err(TransformError::data(format!(
                        "Expected Unix timestamp to be a Long, but found class {}",
                        java_class_name(value)
                    )));
                };
                Ok(match self.precision {
                    Precision::Seconds => unix.saturating_mul(1000),
                    Precision::Millis => *unix,
                    Precision::Micros => unix / 1000,
                    Precision::Nanos => unix / 1_000_000,
                })
            }
            Kind::Date | Kind::Time | Kind::Timestamp => millis_of(value).ok_or_else(|| {
                let name = match kind {
                    Kind::Date => "Date",
                    Kind::Time => "Time",
                    _ => "Timestamp",
                };
                TransformError::data(format!(
                    "Expected {name} to be a java.util.Date, but found class {}",
                    java_class_name(value)
                ))
            }),
        }
    }

    fn to_type(&self, millis: i64) -> Value {
        match self.kind {
            Kind::Text => Value::String(
                self.format_opt
                    .as_ref()
                    .map(|format| format.format(millis))
                    .unwrap_or_default(),
            ),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => millis / 1000,
                Precision::Millis => millis,
                Precision::Micros => millis.saturating_mul(1000),
                Precision::Nanos => millis.saturating_mul(1_000_000),
            }),
            #[allow(clippy::cast_possible_truncation)]
            Kind::Date => Value::Date(millis.div_euclid(MILLIS_PER_DAY) as i32),
            #[allow(clippy::cast_possible_truncation)]
            Kind::Time => Value::Time(millis.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Timestamp(millis),
        }
    }

    /// `convertTimestamp(value, format)`; `kind_opt` `None` infers it from the value.
    fn convert(&self, value: &Value, kind_opt: Option<Kind>) -> Result<Value, TransformError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind_opt {
            Some(kind) => kind,
            None => match value {
                Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => Kind::Timestamp,
                Value::Int64(_) => Kind::Unix,
                Value::String(_) => Kind::Text,
                other => {
                    return Err(TransformError::data(format!(
                        "TimestampConverter does not support class {} objects as timestamps",
                        java_class_name(other)
                    )))
                }
            },
        };
        Ok(self.to_type(self.to_raw(value, kind)?))
    }

    fn convert_struct(
        &self,
        value: &Struct,
        updated: &Arc<Schema>,
    ) -> Result<Struct, TransformError> {
        let mut values = Vec::with_capacity(value.values.len());
        for (index, field) in value.schema.fields.iter().enumerate() {
            let original = field_value(value, index, self.replace_null_with_default);
            values.push(if field.name == self.field {
                self.convert(&original, Some(Kind::from_schema(&field.schema)?))?
            } else {
                original
            });
        }
        let converted = Struct {
            schema: Arc::clone(updated),
            values,
        };
        super::values::validate_struct(&converted)?;
        Ok(converted)
    }
}

impl Transformation for TimestampConverter {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let operating = self.target.of(&record).clone();
        match &operating.schema {
            None => {
                let updated = if operating.value.is_null() || self.field.is_empty() {
                    self.convert(&operating.value, None)?
                } else {
                    let entries = require_map(&operating.value, PURPOSE)?;
                    let mut updated = entries.clone();
                    let converted = self.convert(&map_get(entries, &self.field), None)?;
                    map_put(&mut updated, &self.field, converted);
                    Value::Map(updated)
                };
                self.target.of_mut(&mut record).value = updated;
            }
            Some(schema) => {
                if self.field.is_empty() {
                    let updated_schema = Arc::new(self.kind.schema(schema.optional));
                    let converted =
                        self.convert(&operating.value, Some(Kind::from_schema(schema)?))?;
                    let side = self.target.of_mut(&mut record);
                    side.schema = Some(updated_schema);
                    side.value = converted;
                } else {
                    let structure = match &operating.value {
                        Value::Null => None,
                        other => Some(super::values::require_struct(other, PURPOSE)?.clone()),
                    };
                    let mut updated_schema = struct_builder_from(schema);
                    for field in &schema.fields {
                        if field.name == self.field {
                            push_field(
                                &mut updated_schema,
                                &field.name,
                                Arc::new(self.kind.schema(field.schema.optional)),
                            );
                        } else {
                            push_field(&mut updated_schema, &field.name, Arc::clone(&field.schema));
                        }
                    }
                    if schema.optional {
                        updated_schema.optional = true;
                    }
                    if let Some(Value::Struct(default)) = &schema.default {
                        let provisional = Arc::new(updated_schema.clone());
                        let converted_default = self.convert_struct(default, &provisional)?;
                        updated_schema.default = Some(Value::Struct(converted_default));
                    }
                    let updated_schema = Arc::new(updated_schema);
                    let converted = match structure {
                        None => Value::Null,
                        Some(structure) => {
                            Value::Struct(self.convert_struct(&structure, &updated_schema)?)
                        }
                    };
                    let side = self.target.of_mut(&mut record);
                    side.schema = Some(updated_schema);
                    side.value = converted;
                }
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
    let type_name = config.get(TARGET_TYPE).unwrap_or_default();
    let kind = Kind::parse(type_name)
        .ok_or_else(|| BuildError::invalid(TARGET_TYPE, type_name, "Unknown timestamp type"))?;
    let pattern = config.get(FORMAT).unwrap_or_default();
    if kind == Kind::Text && pattern.trim().is_empty() {
        return Err(BuildError::general(
            "TimestampConverter requires format option to be specified when using string timestamps",
        ));
    }
    let format_opt = if pattern.trim().is_empty() {
        None
    } else {
        Some(JavaDateFormat::new(pattern).map_err(|error| {
            BuildError::general(format!(
                "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {pattern} ({error})"
            ))
        })?)
    };
    let precision = match config.get(UNIX_PRECISION).unwrap_or("milliseconds") {
        "seconds" => Precision::Seconds,
        "microseconds" => Precision::Micros,
        "nanoseconds" => Precision::Nanos,
        _ => Precision::Millis,
    };
    Ok(Box::new(TimestampConverter {
        target,
        field: config.get(FIELD).unwrap_or_default().to_string(),
        kind,
        format_opt,
        precision,
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
