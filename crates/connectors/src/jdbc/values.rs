//! Connect values as statement parameters: each value is checked against its column's schema
//! and sent in PostgreSQL's binary format (DECIMAL as text, which the server parses exactly).

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{Format, IsNull, ToSql, Type};

use crate::sdk::data::logical;
use crate::sdk::{Schema, SchemaType, Value};

/// Days from 1970-01-01 (Connect's epoch) to 2000-01-01 (PostgreSQL's).
const PG_EPOCH_DAYS: i64 = 10_957;
/// Milliseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MILLIS: i64 = PG_EPOCH_DAYS * 86_400_000;

/// One parameter value; its variant matches the cast [`super::sql::column_type`] writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    Null,
    SmallInt(i16),
    Int(i32),
    BigInt(i64),
    Real(f32),
    Double(f64),
    Boolean(bool),
    Text(String),
    Bytea(Vec<u8>),
    /// Plain decimal notation.
    Decimal(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since midnight.
    Time(i32),
    /// Milliseconds since 1970-01-01 UTC.
    Timestamp(i64),
}

impl SqlValue {
    /// Returns a text usable as a hash key of key columns (distinct values, distinct texts).
    pub(crate) fn key_text(values: &[SqlValue]) -> String {
        format!("{values:?}")
    }
}

/// Converts `value` for a column of `schema`.
///
/// # Errors
/// When the value does not match the schema (or a required value is null).
pub(crate) fn to_sql_value(schema: &Schema, value: &Value) -> Result<SqlValue, String> {
    let mismatch = || {
        format!(
            "value {value:?} does not match its schema type {}{}",
            schema.schema_type.json_name(),
            schema
                .name
                .as_deref()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default()
        )
    };
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    match schema.name.as_deref() {
        Some(logical::DECIMAL) => {
            return match value {
                Value::Decimal(decimal) => Ok(SqlValue::Decimal(decimal.to_string())),
                _ => Err(mismatch()),
            }
        }
        Some(logical::DATE) => {
            return match value {
                Value::Date(days) | Value::Int32(days) => Ok(SqlValue::Date(*days)),
                _ => Err(mismatch()),
            }
        }
        Some(logical::TIME) => {
            return match value {
                Value::Time(millis) | Value::Int32(millis) => Ok(SqlValue::Time(*millis)),
                _ => Err(mismatch()),
            }
        }
        Some(logical::TIMESTAMP) => {
            return match value {
                Value::Timestamp(millis) | Value::Int64(millis) => Ok(SqlValue::Timestamp(*millis)),
                _ => Err(mismatch()),
            }
        }
        _ => {}
    }
    let converted = match (schema.schema_type, value) {
        (SchemaType::Int8, Value::Int8(number)) => SqlValue::SmallInt(i16::from(*number)),
        (SchemaType::Int16, Value::Int16(number)) => SqlValue::SmallInt(*number),
        (SchemaType::Int32, Value::Int32(number)) => SqlValue::Int(*number),
        (SchemaType::Int64, Value::Int64(number)) => SqlValue::BigInt(*number),
        (SchemaType::Float32, Value::Float32(number)) => SqlValue::Real(*number),
        (SchemaType::Float64, Value::Float64(number)) => SqlValue::Double(*number),
        (SchemaType::Boolean, Value::Boolean(flag)) => SqlValue::Boolean(*flag),
        (SchemaType::String, Value::String(text)) => SqlValue::Text(text.clone()),
        (SchemaType::Bytes, Value::Bytes(bytes)) => SqlValue::Bytea(bytes.clone()),
        _ => return Err(mismatch()),
    };
    Ok(converted)
}

fn out_of_range(what: &str) -> Box<dyn std::error::Error + Sync + Send> {
    format!("{what} out of PostgreSQL's range").into()
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Null => return Ok(IsNull::Yes),
            SqlValue::SmallInt(number) => out.put_i16(*number),
            SqlValue::Int(number) => out.put_i32(*number),
            SqlValue::BigInt(number) => out.put_i64(*number),
            SqlValue::Real(number) => out.put_f32(*number),
            SqlValue::Double(number) => out.put_f64(*number),
            SqlValue::Boolean(flag) => out.put_u8(u8::from(*flag)),
            SqlValue::Text(text) | SqlValue::Decimal(text) => out.put_slice(text.as_bytes()),
            SqlValue::Bytea(bytes) => out.put_slice(bytes),
            SqlValue::Date(days) => {
                let shifted = i32::try_from(i64::from(*days) - PG_EPOCH_DAYS)
                    .map_err(|_| out_of_range("date"))?;
                out.put_i32(shifted);
            }
            SqlValue::Time(millis) => out.put_i64(i64::from(*millis) * 1000),
            SqlValue::Timestamp(millis) => {
                let micros = millis
                    .checked_sub(PG_EPOCH_MILLIS)
                    .and_then(|shifted| shifted.checked_mul(1000))
                    .ok_or_else(|| out_of_range("timestamp"))?;
                out.put_i64(micros);
            }
        }
        Ok(IsNull::No)
    }

    /// Every statement casts its parameters to the types the values were converted for.
    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        match self {
            SqlValue::Decimal(_) => Format::Text,
            _ => Format::Binary,
        }
    }

    tokio_postgres::types::to_sql_checked!();
}
