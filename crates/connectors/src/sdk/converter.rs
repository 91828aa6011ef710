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

    /// Serialises a value for `topic`, appending its bytes to `out`; returns `false` for a null
    /// (tombstone) payload, which appends nothing. The source runtime calls this with one buffer
    /// per batch, so a converter that overrides it writes without a buffer of its own; the
    /// default calls [`Converter::from_connect_data`]. On an error, `out` may hold part of the
    /// value: the caller truncates it.
    ///
    /// # Errors
    /// As [`Converter::from_connect_data`].
    fn from_connect_data_into(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        match self.from_connect_data(topic, schema, value)? {
            Some(bytes) => {
                out.extend_from_slice(&bytes);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// [`Converter::from_connect_data_into`] for a string value given as `&str` (a line-oriented
    /// source keeps its lines in one buffer, not one `String` each). The default builds the
    /// `Value::String`; the String and JSON converters write the text directly.
    ///
    /// # Errors
    /// As [`Converter::from_connect_data`].
    fn from_connect_text_into(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        text: &str,
        out: &mut Vec<u8>,
    ) -> Result<bool, ConversionError> {
        self.from_connect_data_into(topic, schema, &Value::String(text.to_string()), out)
    }

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
