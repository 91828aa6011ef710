//! `org.apache.kafka.connect.storage.SimpleHeaderConverter`: header values as their string form
//! (Kafka Connect's `Values.convertToString`), parsed back with type inference
//! (`Values.parseString`).
//!
//! Known gaps against Kafka Connect: the parser is a fresh recursive-descent one, so exotic
//! inputs (unbalanced quotes inside containers, trailing text after a top-level array) may
//! fall back to a string where Java would do something else; integral numbers outside the
//! int64 range with a non-zero scale (`1.0E30`) parse as floats, where Java truncates.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::java;
use crate::sdk::{ConversionError, HeaderConverter, Schema, SchemaAndValue, SchemaType, Value};

/// The Java class name of [`SimpleHeaderConverter`].
pub const SIMPLE_HEADER_CONVERTER_CLASS: &str =
    "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Kafka Connect's default header converter.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleHeaderConverter;

impl HeaderConverter for SimpleHeaderConverter {
    fn from_connect_header(
        &self,
        _topic: &str,
        _header_key: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError> {
        if value.is_null() {
            return Ok(None);
        }
        let mut out = String::new();
        append(&mut out, value, false);
        Ok(Some(out.into_bytes()))
    }

    /// Never fails: text that is not a recognisable literal is a string, as in Kafka Connect.
    fn to_connect_header(
        &self,
        _topic: &str,
        _header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConversionError> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        Ok(parse_string(&String::from_utf8_lossy(bytes)))
    }
}

/// Appends a value as `Values.append` does: strings raw at the top level and quoted (with `\`
/// and `"` escaped) inside containers; structs and maps as `{k:v,...}`, arrays as `[a,b]`.
pub(crate) fn append(out: &mut String, value: &Value, embedded: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Int8(number) => out.push_str(&number.to_string()),
        Value::Int16(number) => out.push_str(&number.to_string()),
        Value::Int32(number) => out.push_str(&number.to_string()),
        Value::Int64(number) => out.push_str(&number.to_string()),
        Value::Float32(number) => out.push_str(&java::float_to_string(*number)),
        Value::Float64(number) => out.push_str(&java::double_to_string(*number)),
        Value::Decimal(decimal) => out.push_str(&java::big_decimal_to_string(decimal)),
        Value::String(text) => push_text(out, text, embedded),
        Value::Bytes(bytes) => push_text(out, &BASE64.encode(bytes), embedded),
        Value::Date(days) => {
            out.push_str(&java::format_java_date(
                i64::from(*days) * java::MILLIS_PER_DAY,
            ));
        }
        Value::Time(millis) => out.push_str(&java::format_java_date(i64::from(*millis))),
        Value::Timestamp(millis) => out.push_str(&java::format_java_date(*millis)),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                append(out, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                append(out, key, true);
                out.push(':');
                append(out, item, true);
            }
            out.push('}');
        }
        Value::Struct(record) => {
            out.push('{');
            for (index, (field, item)) in
                record.schema.fields.iter().zip(&record.values).enumerate()
            {
                if index > 0 {
                    out.push(',');
                }
                push_text(out, &field.name, true);
                out.push(':');
                let item = match (&field.schema.default, item) {
                    (Some(default), Value::Null) => default,
                    _ => item,
                };
                append(out, item, true);
            }
            out.push('}');
        }
    }
}

fn push_text(out: &mut String, text: &str, embedded: bool) {
    if embedded {
        out.push('"');
        out.push_str(&text.replace('\\', "\\\\").replace('"', "\\\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Parses a header string as `Values.parseString` does.
pub(crate) fn parse_string(text: &str) -> SchemaAndValue {
    let string = || {
        SchemaAndValue::new(
            Schema::primitive(SchemaType::String),
            Value::String(text.to_string()),
        )
    };
    let token = text.trim();
    match token {
        "" => return string(),
        "null" => return SchemaAndValue::null(),
        "true" => {
            return SchemaAndValue::new(
                Schema::primitive(SchemaType::Boolean),
                Value::Boolean(true),
            )
        }
        "false" => {
            return SchemaAndValue::new(
                Schema::primitive(SchemaType::Boolean),
                Value::Boolean(false),
            )
        }
        _ => {}
    }
    if token.starts_with(['[', '{']) {
        let mut parser = Parser {
            chars: token.chars().collect(),
            position: 0,
        };
        if let Some((schema, value)) = parser.value() {
            parser.skip_whitespace();
            if parser.at_end() {
                return SchemaAndValue {
                    schema: schema.map(Arc::new),
                    value,
                };
            }
        }
        return string();
    }
    match parse_scalar(token) {
        Some((schema, value)) => SchemaAndValue::new(schema, value),
        None => string(),
    }
}

/// Parses a temporal or numeric literal.
fn parse_scalar(token: &str) -> Option<(Schema, Value)> {
    let first = token.chars().next()?;
    if first.is_ascii_digit() {
        if let Some(parsed) = parse_temporal(token) {
            return Some(parsed);
        }
    }
    if first.is_ascii_digit() || first == '+' || first == '-' {
        return parse_number(token);
    }
    None
}

/// Parses `yyyy-MM-dd`, `HH:mm:ss.SSS'Z'` or `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
fn parse_temporal(token: &str) -> Option<(Schema, Value)> {
    fn digits(text: &str) -> Option<i64> {
        text.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse().ok())
            .flatten()
    }
    let date = |text: &str| -> Option<i64> {
        let (year, rest) = text.split_once('-')?;
        let (month, day) = rest.split_once('-')?;
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        let (month, day) = (
            u32::try_from(digits(month)?).ok()?,
            u32::try_from(digits(day)?).ok()?,
        );
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        Some(java::days_from_civil(digits(year)?, month, day))
    };
    let time = |text: &str| -> Option<i64> {
        let text = text.strip_suffix('Z')?;
        let (hms, millis) = text.split_once('.')?;
        let parts: Vec<&str> = hms.split(':').collect();
        let [hours, minutes, seconds] = parts.as_slice() else {
            return None;
        };
        if [hours, minutes, seconds].iter().any(|part| part.len() != 2) || millis.len() != 3 {
            return None;
        }
        let (hours, minutes, seconds) = (digits(hours)?, digits(minutes)?, digits(seconds)?);
        if hours > 23 || minutes > 59 || seconds > 59 {
            return None;
        }
        Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + digits(millis)?)
    };
    if let Some((day_part, time_part)) = token.split_once('T') {
        let millis = date(day_part)? * java::MILLIS_PER_DAY + time(time_part)?;
        return Some((Schema::timestamp(), Value::Timestamp(millis)));
    }
    if let Some(days) = date(token) {
        return Some((Schema::date(), Value::Date(i32::try_from(days).ok()?)));
    }
    let millis = time(token)?;
    Some((Schema::time(), Value::Time(i32::try_from(millis).ok()?)))
}

/// Parses a number into the narrowest integer type, else float32, float64 or Decimal.
fn parse_number(token: &str) -> Option<(Schema, Value)> {
    let decimal = java::parse_big_decimal(token)?;
    if let Some(integral) = java::rescale(decimal, 0) {
        let number = integral.unscaled;
        if let Ok(number) = i8::try_from(number) {
            return Some((Schema::primitive(SchemaType::Int8), Value::Int8(number)));
        }
        if let Ok(number) = i16::try_from(number) {
            return Some((Schema::primitive(SchemaType::Int16), Value::Int16(number)));
        }
        if let Ok(number) = i32::try_from(number) {
            return Some((Schema::primitive(SchemaType::Int32), Value::Int32(number)));
        }
        if let Ok(number) = i64::try_from(number) {
            return Some((Schema::primitive(SchemaType::Int64), Value::Int64(number)));
        }
    }
    if decimal.scale != 0 {
        if let Some(float) = token.parse::<f32>().ok().filter(|float| float.is_finite()) {
            return Some((
                Schema::primitive(SchemaType::Float32),
                Value::Float32(float),
            ));
        }
        if let Some(double) = token
            .parse::<f64>()
            .ok()
            .filter(|double| double.is_finite())
        {
            return Some((
                Schema::primitive(SchemaType::Float64),
                Value::Float64(double),
            ));
        }
    }
    Some((Schema::decimal(decimal.scale), Value::Decimal(decimal)))
}

/// Recursive-descent parser for the embedded values of arrays and maps.
struct Parser {
    chars: Vec<char>,
    position: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.position >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_whitespace();
        let found = self.peek() == Some(expected);
        if found {
            self.position += 1;
        }
        found
    }

    /// Parses one embedded value; `None` schema means null or no common schema.
    fn value(&mut self) -> Option<(Option<Schema>, Value)> {
        self.skip_whitespace();
        match self.peek()? {
            '[' => self.array(),
            '{' => self.map(),
            '"' => self.quoted(),
            _ => {
                let start = self.position;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | ']' | '}' | ':'))
                {
                    self.position += 1;
                }
                let token: String = self.chars[start..self.position].iter().collect();
                match token.trim() {
                    "null" => Some((None, Value::Null)),
                    "true" => Some((
                        Some(Schema::primitive(SchemaType::Boolean)),
                        Value::Boolean(true),
                    )),
                    "false" => Some((
                        Some(Schema::primitive(SchemaType::Boolean)),
                        Value::Boolean(false),
                    )),
                    other => parse_scalar(other).map(|(schema, value)| (Some(schema), value)),
                }
            }
        }
    }

    fn quoted(&mut self) -> Option<(Option<Schema>, Value)> {
        self.position += 1;
        let mut text = String::new();
        loop {
            match self.peek()? {
                '"' => break,
                '\\' => {
                    self.position += 1;
                    text.push(self.peek()?);
                }
                other => text.push(other),
            }
            self.position += 1;
        }
        self.position += 1;
        Some((
            Some(Schema::primitive(SchemaType::String)),
            Value::String(text),
        ))
    }

    /// Parses `open value (, value)* close`, calling `item` for each element.
    fn list(&mut self, close: char, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.position += 1;
        if self.eat(close) {
            return Some(());
        }
        loop {
            item(self)?;
            if self.eat(close) {
                return Some(());
            }
            if !self.eat(',') {
                return None;
            }
        }
    }

    fn array(&mut self) -> Option<(Option<Schema>, Value)> {
        let mut items = Vec::new();
        let mut common = Common::default();
        self.list(']', |parser| {
            let (schema, value) = parser.value()?;
            common.add(schema.as_ref());
            items.push(value);
            Some(())
        })?;
        let element = common.finish(&mut items);
        let schema = Schema {
            value_schema: element.map(Arc::new),
            ..Schema::primitive(SchemaType::Array)
        };
        Some((Some(schema), Value::Array(items)))
    }

    fn map(&mut self) -> Option<(Option<Schema>, Value)> {
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        let (mut key_common, mut value_common) = (Common::default(), Common::default());
        self.list('}', |parser| {
            let (key_schema, key) = parser.value()?;
            if !parser.eat(':') {
                return None;
            }
            let (value_schema, value) = parser.value()?;
            key_common.add(key_schema.as_ref());
            value_common.add(value_schema.as_ref());
            keys.push(key);
            values.push(value);
            Some(())
        })?;
        let schema = Schema {
            key_schema: key_common.finish(&mut keys).map(Arc::new),
            value_schema: value_common.finish(&mut values).map(Arc::new),
            ..Schema::primitive(SchemaType::Map)
        };
        Some((
            Some(schema),
            Value::Map(keys.into_iter().zip(values).collect()),
        ))
    }
}

/// The common schema of a container's elements: equal schemas, or the widest of unnamed
/// numeric types; any other mix has no common schema.
#[derive(Default)]
struct Common {
    schema: Option<Schema>,
    incompatible: bool,
}

const NUMERIC: [SchemaType; 6] = [
    SchemaType::Int8,
    SchemaType::Int16,
    SchemaType::Int32,
    SchemaType::Int64,
    SchemaType::Float32,
    SchemaType::Float64,
];

fn numeric_rank(schema: &Schema) -> Option<usize> {
    if schema.name.is_some() {
        return None;
    }
    NUMERIC
        .iter()
        .position(|numeric| *numeric == schema.schema_type)
}

impl Common {
    fn add(&mut self, latest: Option<&Schema>) {
        let Some(latest) = latest else { return };
        match &self.schema {
            None if !self.incompatible => self.schema = Some(latest.clone()),
            Some(previous) if previous == latest => {}
            Some(previous) => match (numeric_rank(previous), numeric_rank(latest)) {
                (Some(old), Some(new)) if new > old => self.schema = Some(latest.clone()),
                (Some(_), Some(_)) => {}
                _ => {
                    self.schema = None;
                    self.incompatible = true;
                }
            },
            None => {}
        }
    }

    /// Returns the common schema, widening numeric values to it.
    fn finish(self, values: &mut [Value]) -> Option<Schema> {
        let schema = self.schema?;
        if numeric_rank(&schema).is_some() {
            for value in values.iter_mut() {
                *value = widen(value, schema.schema_type);
            }
        }
        Some(schema)
    }
}

/// Widens an integer or float value to `target` (already known to be at least as wide).
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn widen(value: &Value, target: SchemaType) -> Value {
    let integer = match value {
        Value::Int8(number) => i64::from(*number),
        Value::Int16(number) => i64::from(*number),
        Value::Int32(number) => i64::from(*number),
        Value::Int64(number) => *number,
        Value::Float32(number) if target == SchemaType::Float64 => {
            return Value::Float64(f64::from(*number));
        }
        other => return other.clone(),
    };
    match target {
        SchemaType::Int16 => i16::try_from(integer).map_or_else(|_| value.clone(), Value::Int16),
        SchemaType::Int32 => i32::try_from(integer).map_or_else(|_| value.clone(), Value::Int32),
        SchemaType::Int64 => Value::Int64(integer),
        SchemaType::Float32 => Value::Float32(integer as f32),
        SchemaType::Float64 => Value::Float64(integer as f64),
        _ => value.clone(),
    }
}
