//! The `session-key` record of the config topic (KIP-507), in Kafka Connect's format:
//! `{"key": "<base64>", "algorithm": "HmacSHA256", "creation-timestamp": <epoch ms>}`.
//! The leader writes a new key when there is none or the current one is older than
//! `inter.worker.key.ttl.ms`; every worker signs and verifies forwarded requests with it.

use base64::Engine;
use serde_json::json;

/// The config topic key of the session key record.
pub const SESSION_KEY_KEY: &str = "session-key";

/// A session key as read from (or written to) the config topic.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The raw key bytes (never logged: see the `Debug` impl).
    pub key: Vec<u8>,
    /// The JCA name of the key's algorithm (`HmacSHA256`).
    pub algorithm: String,
    /// When the leader created it, in milliseconds since the epoch.
    pub creation_timestamp_ms: i64,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SessionKey")
            .field("key", &"[hidden]")
            .field("algorithm", &self.algorithm)
            .field("creation_timestamp_ms", &self.creation_timestamp_ms)
            .finish()
    }
}

impl SessionKey {
    /// Returns the record value Kafka Connect writes.
    pub fn record_value(&self) -> serde_json::Value {
        json!({
            "key": base64::engine::general_purpose::STANDARD.encode(&self.key),
            "algorithm": self.algorithm,
            "creation-timestamp": self.creation_timestamp_ms,
        })
    }

    /// Parses a record value; `None` (with a warning) when a field is missing or malformed, as
    /// Kafka Connect ignores such a record.
    pub fn from_record_value(value: &serde_json::Value) -> Option<Self> {
        let parsed = (|| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(value.get("key")?.as_str()?)
                .ok()?;
            let algorithm = value.get("algorithm")?.as_str()?.to_string();
            let creation_timestamp_ms = value.get("creation-timestamp")?.as_i64()?;
            Some(SessionKey {
                key,
                algorithm,
                creation_timestamp_ms,
            })
        })();
        if parsed.is_none() {
            tracing::warn!("ignoring a malformed session key record");
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_kafka_connects_format() {
        let key = SessionKey {
            key: vec![1, 2, 3, 250],
            algorithm: "HmacSHA256".into(),
            creation_timestamp_ms: 1_700_000_000_000,
        };
        let value = key.record_value();
        assert_eq!(value["key"], "AQID+g==");
        assert_eq!(value["algorithm"], "HmacSHA256");
        assert_eq!(value["creation-timestamp"], 1_700_000_000_000_i64);
        assert_eq!(SessionKey::from_record_value(&value), Some(key.clone()));
        assert!(!format!("{key:?}").contains("250"));
        assert_eq!(
            SessionKey::from_record_value(
                &json!({"key": "!!", "algorithm": "x", "creation-timestamp": 1})
            ),
            None
        );
    }
}
