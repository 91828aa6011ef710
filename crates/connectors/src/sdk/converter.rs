//! Converters turn Kafka bytes into [`SchemaAndValue`] and back, wire-compatible with Kafka
//! Connect's converters of the same class name.

use super::data::{Schema, SchemaAndValue, Value};
use super::error::ConversionError;

/// A key or value converter (Kafka Connect's `org.apache.kafka.connect.storage.Converter`).
// Method names follow Kafka Connect's so connector authors recognise them.
#[allow(clippy::wrong_self_convention)]
pub trait Converter: Send + Sync {
    /// Serialises a value for `topic`; `Ok(None)` writes a null (tombstone) payload.
    ///
    /// # Errors
    /// Fails when the value does not match the schema or the format cannot represent it.
    fn from_connect_data(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError>;

    /// Deserialises bytes read from `topic`; `None` (a null payload) gives a null value.
    ///
    /// # Errors
    /// Fails when the bytes are not in the converter's format.
    fn to_connect_data(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConversionError>;
}

/// A header converter (Kafka Connect's `org.apache.kafka.connect.storage.HeaderConverter`).
#[allow(clippy::wrong_self_convention)]
pub trait HeaderConverter: Send + Sync {
    /// Serialises one header value; `Ok(None)` writes a null header value.
    ///
    /// # Errors
    /// Fails when the value cannot be represented.
    fn from_connect_header(
        &self,
        topic: &str,
        header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConversionError>;

    /// Deserialises one header value.
    ///
    /// # Errors
    /// Fails when the bytes are not in the converter's format.
    fn to_connect_header(
        &self,
        topic: &str,
        header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConversionError>;
}
