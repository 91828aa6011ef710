//! `Filter`: drops every record (used with a predicate).

use crate::sdk::{ConfigDef, ConfigValues};

use super::{BuildError, TransformError, TransformRecord, Transformation};

/// Returns the (empty) config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
}

struct Filter;

impl Transformation for Filter {
    fn apply(&self, _record: TransformRecord) -> Result<Option<TransformRecord>, TransformError> {
        Ok(None)
    }
}

/// Builds the transform.
pub(crate) fn build(_config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    Ok(Box::new(Filter))
}
