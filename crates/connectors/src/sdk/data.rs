//! Kafka Connect's data model: schemas and values.
//!
//! A [`Schema`] describes a value the way Kafka Connect's `org.apache.kafka.connect.data.Schema`
//! does: a physical type, optionality, an optional name/version/doc/default, parameters, and the
//! nested schemas of arrays, maps and structs. Logical types (Decimal, Date, Time, Timestamp) are
//! named schemas over a physical type, exactly as in Kafka Connect; their values get their own
//! [`Value`] variants so connectors need not decode them again.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Logical type names, as Kafka Connect writes them in schemas.
pub mod logical {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
    /// Schema parameter holding a Decimal's scale.
    pub const DECIMAL_SCALE_PARAM: &str = "scale";
}

/// The physical type of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// Returns the name Kafka Connect's JsonConverter uses (`int8`, `float`, `double`, ...).
    pub fn json_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses a JsonConverter type name.
    pub fn from_json_name(name: &str) -> Option<Self> {
        Some(match name {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Arc<Schema>,
}

/// A Kafka Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub default: Option<Value>,
    pub parameters: BTreeMap<String, String>,
    /// Key schema of a map.
    pub key_schema: Option<Arc<Schema>>,
    /// Element schema of an array, value schema of a map.
    pub value_schema: Option<Arc<Schema>>,
    /// Fields of a struct, in order.
    pub fields: Vec<Field>,
}

impl Schema {
    /// Returns a required schema of a primitive type.
    pub fn primitive(schema_type: SchemaType) -> Self {
        Schema {
            schema_type,
            optional: false,
            name: None,
            version: None,
            doc: None,
            default: None,
            parameters: BTreeMap::new(),
            key_schema: None,
            value_schema: None,
            fields: Vec::new(),
        }
    }

    /// Returns the same schema, optional.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Returns the same schema with a name.
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Returns an array schema.
    pub fn array(element: Schema) -> Self {
        Schema {
            value_schema: Some(Arc::new(element)),
            ..Schema::primitive(SchemaType::Array)
        }
    }

    /// Returns a map schema.
    pub fn map(key: Schema, value: Schema) -> Self {
        Schema {
            key_schema: Some(Arc::new(key)),
            value_schema: Some(Arc::new(value)),
            ..Schema::primitive(SchemaType::Map)
        }
    }

    /// Returns a struct schema with the given fields.
    pub fn structure(name_opt: Option<&str>, fields: Vec<(&str, Schema)>) -> Self {
        Schema {
            name: name_opt.map(str::to_string),
            fields: fields
                .into_iter()
                .map(|(name, schema)| Field {
                    name: name.to_string(),
                    schema: Arc::new(schema),
                })
                .collect(),
            ..Schema::primitive(SchemaType::Struct)
        }
    }

    /// Returns a Decimal schema (bytes holding the unscaled value) with `scale`.
    pub fn decimal(scale: i32) -> Self {
        let mut schema = Schema::primitive(SchemaType::Bytes).named(logical::DECIMAL);
        schema.version = Some(1);
        schema
            .parameters
            .insert(logical::DECIMAL_SCALE_PARAM.to_string(), scale.to_string());
        schema
    }

    /// Returns a Date schema (int32 days since the epoch).
    pub fn date() -> Self {
        let mut schema = Schema::primitive(SchemaType::Int32).named(logical::DATE);
        schema.version = Some(1);
        schema
    }

    /// Returns a Time schema (int32 milliseconds since midnight).
    pub fn time() -> Self {
        let mut schema = Schema::primitive(SchemaType::Int32).named(logical::TIME);
        schema.version = Some(1);
        schema
    }

    /// Returns a Timestamp schema (int64 milliseconds since the epoch).
    pub fn timestamp() -> Self {
        let mut schema = Schema::primitive(SchemaType::Int64).named(logical::TIMESTAMP);
        schema.version = Some(1);
        schema
    }

    /// Returns the Decimal scale when this is a Decimal schema.
    pub fn decimal_scale(&self) -> Option<i32> {
        if self.name.as_deref() != Some(logical::DECIMAL) {
            return None;
        }
        self.parameters
            .get(logical::DECIMAL_SCALE_PARAM)
            .and_then(|scale| scale.parse().ok())
    }

    /// Returns the field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// A decimal number: `unscaled × 10^-scale`, as Java's `BigDecimal` (values up to 38 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    pub unscaled: i128,
    pub scale: i32,
}

impl Decimal {
    /// Returns the unscaled value as Java's `BigInteger.toByteArray()` writes it: minimal
    /// big-endian two's complement.
    pub fn unscaled_bytes(&self) -> Vec<u8> {
        let bytes = self.unscaled.to_be_bytes();
        let mut start = 0;
        while start < bytes.len() - 1 {
            let byte = bytes[start];
            let next_high_bit = bytes[start + 1] & 0x80;
            if (byte == 0x00 && next_high_bit == 0) || (byte == 0xff && next_high_bit != 0) {
                start += 1;
            } else {
                break;
            }
        }
        bytes[start..].to_vec()
    }

    /// Reads a big-endian two's complement unscaled value (at most 16 bytes).
    pub fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > 16 {
            return None;
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut buffer = [fill; 16];
        buffer[16 - bytes.len()..].copy_from_slice(bytes);
        Some(Decimal {
            unscaled: i128::from_be_bytes(buffer),
            scale,
        })
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.scale <= 0 {
            let zeros = "0".repeat(usize::try_from(-self.scale).unwrap_or(0));
            return write!(formatter, "{}{zeros}", self.unscaled);
        }
        let scale = usize::try_from(self.scale).unwrap_or(0);
        let digits = self.unscaled.unsigned_abs().to_string();
        let sign = if self.unscaled < 0 { "-" } else { "" };
        if digits.len() > scale {
            let (int_part, frac_part) = digits.split_at(digits.len() - scale);
            write!(formatter, "{sign}{int_part}.{frac_part}")
        } else {
            write!(
                formatter,
                "{sign}0.{}{digits}",
                "0".repeat(scale - digits.len())
            )
        }
    }
}

/// A struct value: field values in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: Arc<Schema>,
    pub values: Vec<Value>,
}

impl Struct {
    /// Returns the value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let index = self
            .schema
            .fields
            .iter()
            .position(|field| field.name == name)?;
        self.values.get(index)
    }
}

/// A Kafka Connect value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in insertion order (keys may be any value, as in Kafka Connect).
    Map(Vec<(Value, Value)>),
    Struct(Struct),
    Decimal(Decimal),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since midnight.
    Time(i32),
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    /// Returns true for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Returns the string when this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

/// A value with its (optional) schema: what converters produce and consume.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Option<Arc<Schema>>,
    pub value: Value,
}

impl SchemaAndValue {
    /// Returns a null value without a schema.
    pub fn null() -> Self {
        SchemaAndValue {
            schema: None,
            value: Value::Null,
        }
    }

    /// Returns a value with a schema.
    pub fn new(schema: Schema, value: Value) -> Self {
        SchemaAndValue {
            schema: Some(Arc::new(schema)),
            value,
        }
    }

    /// Returns a value without a schema.
    pub fn schemaless(value: Value) -> Self {
        SchemaAndValue {
            schema: None,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_match_java_big_integer() {
        let cases: [(i128, &[u8]); 6] = [
            (0, &[0x00]),
            (1, &[0x01]),
            (-1, &[0xff]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (-129, &[0xff, 0x7f]),
        ];
        for (unscaled, expected) in cases {
            let decimal = Decimal { unscaled, scale: 2 };
            assert_eq!(decimal.unscaled_bytes(), expected, "{unscaled}");
            assert_eq!(Decimal::from_unscaled_bytes(expected, 2), Some(decimal));
        }
    }

    #[test]
    fn decimal_displays_like_big_decimal_to_plain_string() {
        assert_eq!(
            Decimal {
                unscaled: 12345,
                scale: 2
            }
            .to_string(),
            "123.45"
        );
        assert_eq!(
            Decimal {
                unscaled: -5,
                scale: 3
            }
            .to_string(),
            "-0.005"
        );
        assert_eq!(
            Decimal {
                unscaled: 7,
                scale: 0
            }
            .to_string(),
            "7"
        );
        assert_eq!(
            Decimal {
                unscaled: 7,
                scale: -2
            }
            .to_string(),
            "700"
        );
    }
}
