//! `RecordIsTombstone`: true for records with a null value.

use crate::sdk::{ConfigDef, ConfigValues};
use crate::transforms::{BuildError, Predicate, TransformRecord};

/// Returns the (empty) config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
}

struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &TransformRecord) -> bool {
        record.value.value.is_null()
    }
}

/// Builds the predicate.
pub(crate) fn build(_config: &ConfigValues) -> Result<Box<dyn Predicate>, BuildError> {
    Ok(Box::new(RecordIsTombstone))
}
