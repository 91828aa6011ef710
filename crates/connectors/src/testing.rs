//! Helpers shared by the connectors' unit tests.

use std::collections::BTreeMap;

use crate::sdk::{OffsetReader, SourceOffset, SourcePartition};

/// Builds a config map from `(key, value)` pairs.
pub(crate) fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

/// Returns the object inside a JSON value (panics on anything else: test data only).
pub(crate) fn json_map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("expected a JSON object, got {other}"),
    }
}

/// Offsets known in advance, as the runtime's offset store would return them.
pub(crate) struct FixedOffsets(pub(crate) Vec<(SourcePartition, SourceOffset)>);

impl OffsetReader for FixedOffsets {
    fn offset(&self, partition: &SourcePartition) -> Option<SourceOffset> {
        self.0
            .iter()
            .find(|(known, _)| known == partition)
            .map(|(_, offset)| offset.clone())
    }
}
