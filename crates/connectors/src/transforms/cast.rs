//! `Cast$Key` / `$Value`: casts fields (`f:int32,g:string`) or the whole key/value (`int64`)
//! between int8/16/32/64, float32/64, boolean and string; bytes cast to base64 strings.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;

use crate::converters::java::{
    big_decimal_to_string, double_to_string, float_to_string, format_java_date, MILLIS_PER_DAY,
};
use crate::sdk::data::logical;
use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Schema, SchemaType, Validator,
    Value,
};

use super::replace_field::java_split;
use super::values::{
    field_value, inferred_type, java_class_name, map_get, map_put, push_field, require_map,
    require_struct, struct_builder_from,
};
use super::{
    flag, list, replace_null_with_default_key, BuildError, Target, TransformError, TransformRecord,
    Transformation, REPLACE_NULL_WITH_DEFAULT,
};

const SPEC: &str = "spec";
const PURPOSE: &str = "cast types";
const OUTPUT_TYPES: [SchemaType; 8] = [
    SchemaType::Int8,
    SchemaType::Int16,
    SchemaType::Int32,
    SchemaType::Int64,
    SchemaType::Float32,
    SchemaType::Float64,
    SchemaType::Boolean,
    SchemaType::String,
];

fn java_type_name(schema_type: SchemaType) -> &'static str {
    match schema_type {
        SchemaType::Int8 => "INT8",
        SchemaType::Int16 => "INT16",
        SchemaType::Int32 => "INT32",
        SchemaType::Int64 => "INT64",
        SchemaType::Float32 => "FLOAT32",
        SchemaType::Float64 => "FLOAT64",
        SchemaType::Boolean => "BOOLEAN",
        SchemaType::String => "STRING",
        SchemaType::Bytes => "BYTES",
        SchemaType::Array => "ARRAY",
        SchemaType::Map => "MAP",
        SchemaType::Struct => "STRUCT",
    }
}

fn parse_type(name: &str) -> Option<SchemaType> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "INT8" => SchemaType::Int8,
        "INT16" => SchemaType::Int16,
        "INT32" => SchemaType::Int32,
        "INT64" => SchemaType::Int64,
        "FLOAT32" => SchemaType::Float32,
        "FLOAT64" => SchemaType::Float64,
        "BOOLEAN" => SchemaType::Boolean,
        "STRING" => SchemaType::String,
        "BYTES" => SchemaType::Bytes,
        "ARRAY" => SchemaType::Array,
        "MAP" => SchemaType::Map,
        "STRUCT" => SchemaType::Struct,
        _ => return None,
    })
}

fn supported_list(types: &[SchemaType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| java_type_name(*t)).collect();
    format!("[{}]", names.join(", "))
}

/// The parsed spec: field casts, or one cast of the whole value (`None` key).
type Casts = HashMap<Option<String>, SchemaType>;

fn parse_spec(mappings: &[String]) -> Result<Casts, String> {
    if mappings.is_empty() {
        return Err("Must specify at least one field to cast.".to_string());
    }
    let mut casts = Casts::new();
    let mut whole_value = false;
    for mapping in mappings {
        let parts = java_split(mapping, ':');
        if parts.len() > 2 {
            return Err(format!("Invalid rename mapping: {mapping}"));
        }
        let (field_opt, type_name) = if parts.len() <= 1 {
            whole_value = true;
            (None, parts.first().cloned().unwrap_or_default())
        } else {
            (Some(parts[0].trim().to_string()), parts[1].clone())
        };
        let Some(target) = parse_type(&type_name) else {
            return Err(format!(
                "Invalid type found in casting spec: {}",
                type_name.trim()
            ));
        };
        if !OUTPUT_TYPES.contains(&target) {
            return Err(format!(
                "Cast transformation does not support casting to {}; supported types are {}",
                java_type_name(target),
                supported_list(&OUTPUT_TYPES)
            ));
        }
        casts.insert(field_opt, target);
    }
    if whole_value && mappings.len() > 1 {
        return Err("Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec".to_string());
    }
    Ok(casts)
}

fn valid_spec(raw: &str) -> Result<(), String> {
    let items: Vec<String> = if raw.trim().is_empty() {
        Vec::new()
    } else {
        raw.split(',').map(|item| item.trim().to_string()).collect()
    };
    parse_spec(&items).map(|_| ())
}

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                SPEC,
                ConfigType::List,
                Importance::High,
                "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string.",
            )
            .validator(Validator::Custom(valid_spec)),
        )
        .define(replace_null_with_default_key())
}

/// A value in the shape Java's cast code sees it: a number, boolean, string, bytes or a
/// `java.util.Date` (milliseconds).
enum Castable {
    Long(i64),
    Float(f32),
    Double(f64),
    Decimal(crate::sdk::Decimal),
    Boolean(bool),
    Text(String),
    Bytes(Vec<u8>),
    Date(i64),
}

#[allow(clippy::cast_possible_truncation)]
fn cast_value(
    schema_opt: Option<&Schema>,
    value: &Value,
    target: SchemaType,
) -> Result<Value, TransformError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let input_type = match schema_opt {
        Some(schema) => Some(schema.schema_type),
        None => inferred_type(value),
    };
    let Some(input_type) = input_type else {
        return Err(TransformError::data(format!(
            "Cast transformation was passed a value of type class {} which is not supported by Connect's data API",
            java_class_name(value)
        )));
    };
    let input_types = [
        SchemaType::Int8,
        SchemaType::Int16,
        SchemaType::Int32,
        SchemaType::Int64,
        SchemaType::Float32,
        SchemaType::Float64,
        SchemaType::Boolean,
        SchemaType::String,
        SchemaType::Bytes,
    ];
    if !input_types.contains(&input_type) {
        return Err(TransformError::data(format!(
            "Cast transformation does not support casting from {}; supported types are {}",
            java_type_name(input_type),
            supported_list(&input_types)
        )));
    }
    let named = schema_opt.and_then(|schema| schema.name.as_deref());
    let castable = match value {
        Value::Int8(v) => Castable::Long(i64::from(*v)),
        Value::Int16(v) => Castable::Long(i64::from(*v)),
        Value::Int32(v) => Castable::Long(i64::from(*v)),
        Value::Int64(v) => Castable::Long(*v),
        Value::Float32(v) => Castable::Float(*v),
        Value::Float64(v) => Castable::Double(*v),
        Value::Boolean(v) => Castable::Boolean(*v),
        Value::String(v) => Castable::Text(v.clone()),
        Value::Bytes(v) => Castable::Bytes(v.clone()),
        Value::Decimal(v) => Castable::Decimal(*v),
        // Logical values are encoded to their number first, unless cast to a string.
        Value::Date(days) if target != SchemaType::String && named == Some(logical::DATE) => {
            Castable::Long(i64::from(*days))
        }
        Value::Time(millis) if target != SchemaType::String && named == Some(logical::TIME) => {
            Castable::Long(i64::from(*millis))
        }
        Value::Timestamp(millis)
            if target != SchemaType::String && named == Some(logical::TIMESTAMP) =>
        {
            Castable::Long(*millis)
        }
        Value::Date(days) => Castable::Date(i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(millis) => Castable::Date(i64::from(*millis)),
        Value::Timestamp(millis) => Castable::Date(*millis),
        other => {
            return Err(TransformError::data(format!(
                "Unexpected type in Cast transformation: class {}",
                java_class_name(other)
            )))
        }
    };
    let out_of_range = |text: &str| {
        TransformError::data(format!(
            "Value ({text}) was out of range for requested data type"
        ))
    };
    let unexpected = |castable: &Castable| {
        let class = match castable {
            Castable::Bytes(_) => "[B",
            Castable::Date(_) => "java.util.Date",
            _ => "java.lang.Object",
        };
        TransformError::data(format!(
            "Unexpected type in Cast transformation: class {class}"
        ))
    };
    Ok(match target {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => {
            let long = match &castable {
                Castable::Long(v) => *v,
                Castable::Float(v) => java_float_to_long(f64::from(*v), target),
                Castable::Double(v) => java_float_to_long(*v, target),
                Castable::Decimal(d) => decimal_to_long(d),
                Castable::Boolean(v) => i64::from(*v),
                Castable::Text(text) => {
                    parse_java_integer(text, target).ok_or_else(|| out_of_range(text))?
                }
                other => return Err(unexpected(other)),
            };
            match target {
                SchemaType::Int8 => Value::Int8(long as i8),
                SchemaType::Int16 => Value::Int16(long as i16),
                SchemaType::Int32 => Value::Int32(long as i32),
                _ => Value::Int64(long),
            }
        }
        SchemaType::Float32 => Value::Float32(match &castable {
            Castable::Long(v) => *v as f32,
            Castable::Float(v) => *v,
            Castable::Double(v) => *v as f32,
            Castable::Decimal(d) => d.to_string().parse::<f32>().unwrap_or(0.0),
            Castable::Boolean(v) => f32::from(u8::from(*v)),
            Castable::Text(text) => {
                parse_java_float(text).ok_or_else(|| out_of_range(text))? as f32
            }
            other => return Err(unexpected(other)),
        }),
        SchemaType::Float64 => Value::Float64(match &castable {
            #[allow(clippy::cast_precision_loss)]
            Castable::Long(v) => *v as f64,
            Castable::Float(v) => f64::from(*v),
            Castable::Double(v) => *v,
            Castable::Decimal(d) => d.to_string().parse::<f64>().unwrap_or(0.0),
            Castable::Boolean(v) => f64::from(u8::from(*v)),
            Castable::Text(text) => parse_java_float(text).ok_or_else(|| out_of_range(text))?,
            other => return Err(unexpected(other)),
        }),
        SchemaType::Boolean => Value::Boolean(match &castable {
            Castable::Long(v) => *v != 0,
            Castable::Float(v) => java_float_to_long(f64::from(*v), SchemaType::Int64) != 0,
            Castable::Double(v) => java_float_to_long(*v, SchemaType::Int64) != 0,
            Castable::Decimal(d) => decimal_to_long(d) != 0,
            Castable::Boolean(v) => *v,
            Castable::Text(text) => text.eq_ignore_ascii_case("true"),
            other => return Err(unexpected(other)),
        }),
        SchemaType::String => Value::String(match &castable {
            Castable::Long(v) => v.to_string(),
            Castable::Float(v) => float_to_string(*v),
            Castable::Double(v) => double_to_string(*v),
            Castable::Decimal(d) => big_decimal_to_string(d),
            Castable::Boolean(v) => v.to_string(),
            Castable::Text(text) => text.clone(),
            Castable::Bytes(bytes) => base64::engine::general_purpose::STANDARD.encode(bytes),
            Castable::Date(millis) => format_java_date(*millis),
        }),
        other => {
            return Err(TransformError::data(format!(
                "{} is not supported in the Cast transformation.",
                java_type_name(other)
            )))
        }
    })
}

/// Java's `Number.byteValue()`/`shortValue()`/`intValue()`/`longValue()` of a float/double:
/// narrowing to `int` (saturating) first for the types narrower than `long`.
#[allow(clippy::cast_possible_truncation)]
fn java_float_to_long(value: f64, target: SchemaType) -> i64 {
    if target == SchemaType::Int64 {
        value as i64
    } else {
        i64::from(value as i32)
    }
}

#[allow(clippy::cast_possible_truncation)]
fn decimal_to_long(decimal: &crate::sdk::Decimal) -> i64 {
    let mut unscaled = decimal.unscaled;
    if decimal.scale >= 0 {
        for _ in 0..decimal.scale {
            unscaled /= 10;
        }
    } else {
        for _ in 0..(-decimal.scale) {
            unscaled = unscaled.wrapping_mul(10);
        }
    }
    unscaled as i64
}

/// `Byte.parseByte` and friends: optional sign, ASCII digits, in range.
fn parse_java_integer(text: &str, target: SchemaType) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let value: i64 = text.parse().ok()?;
    let (min, max) = match target {
        SchemaType::Int8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
        SchemaType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        SchemaType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    (min..=max).contains(&value).then_some(value)
}

/// `Double.parseDouble`: surrounding whitespace, an optional `f`/`d` suffix, `NaN`, `Infinity`.
fn parse_java_float(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    match unsigned {
        "NaN" => return Some(f64::NAN),
        "Infinity" => {
            return Some(if trimmed.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        _ => {}
    }
    let body = trimmed
        .strip_suffix(['f', 'F', 'd', 'D'])
        .unwrap_or(trimmed);
    let check = body.strip_prefix(['+', '-']).unwrap_or(body);
    if check.is_empty()
        || !check
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    body.parse().ok()
}

/// A fresh schema of a cast's target type.
fn target_schema(target: SchemaType) -> Schema {
    Schema::primitive(target)
}

struct Cast {
    target: Target,
    casts: Casts,
    whole_value_opt: Option<SchemaType>,
    replace_null_with_default: bool,
}

impl Cast {
    fn updated_schema(&self, schema: &Schema) -> Result<Schema, TransformError> {
        let mut updated = match self.whole_value_opt {
            Some(target) => Schema {
                name: schema.name.clone(),
                version: schema.version,
                doc: schema.doc.clone(),
                parameters: schema.parameters.clone(),
                ..target_schema(target)
            },
            None => {
                let mut updated = struct_builder_from(schema);
                for field in &schema.fields {
                    match self.casts.get(&Some(field.name.clone())) {
                        Some(target) => {
                            let mut cast_schema = target_schema(*target);
                            cast_schema.optional = field.schema.optional;
                            if let Some(default) = &field.schema.default {
                                cast_schema.default =
                                    Some(cast_value(Some(&field.schema), default, *target)?);
                            }
                            push_field(&mut updated, &field.name, Arc::new(cast_schema));
                        }
                        None => push_field(&mut updated, &field.name, Arc::clone(&field.schema)),
                    }
                }
                updated
            }
        };
        if schema.optional {
            updated.optional = true;
        }
        if let Some(default) = &schema.default {
            updated.default = Some(cast_value(Some(schema), default, updated.schema_type)?);
        }
        Ok(updated)
    }
}

impl Transformation for Cast {
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
                let updated = match self.whole_value_opt {
                    Some(target) => cast_value(None, &operating.value, target)?,
                    None => {
                        let entries = require_map(&operating.value, PURPOSE)?;
                        let mut updated = entries.clone();
                        for (field_opt, target) in &self.casts {
                            let Some(field) = field_opt else { continue };
                            let cast = cast_value(None, &map_get(entries, field), *target)?;
                            map_put(&mut updated, field, cast);
                        }
                        Value::Map(updated)
                    }
                };
                self.target.of_mut(&mut record).value = updated;
            }
            Some(schema) => {
                let updated_schema = Arc::new(self.updated_schema(&schema)?);
                let updated = match self.whole_value_opt {
                    Some(target) => cast_value(Some(&schema), &operating.value, target)?,
                    None => {
                        let value = require_struct(&operating.value, PURPOSE)?;
                        let mut values = Vec::with_capacity(value.values.len());
                        for (index, field) in value.schema.fields.iter().enumerate() {
                            let original =
                                field_value(value, index, self.replace_null_with_default);
                            values.push(match self.casts.get(&Some(field.name.clone())) {
                                Some(target) => {
                                    cast_value(Some(&field.schema), &original, *target)?
                                }
                                None => original,
                            });
                        }
                        super::values::checked_struct(Arc::clone(&updated_schema), values)?
                    }
                };
                let side = self.target.of_mut(&mut record);
                side.schema = Some(updated_schema);
                side.value = updated;
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
    let casts = parse_spec(&list(config, SPEC)).map_err(BuildError::general)?;
    Ok(Box::new(Cast {
        target,
        whole_value_opt: casts.get(&None).copied(),
        casts,
        replace_null_with_default: flag(config, REPLACE_NULL_WITH_DEFAULT),
    }))
}
