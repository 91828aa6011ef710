//! `DropHeaders`: removes the headers with the configured names.

use std::collections::HashSet;

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Validator};

use super::{list, BuildError, TransformError, TransformRecord, Transformation};

const HEADERS: &str = "headers";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            HEADERS,
            ConfigType::List,
            Importance::High,
            "The name of the headers to be removed.",
        )
        .validator(Validator::Custom(non_empty_list)),
    )
}

/// `NonEmptyListValidator`.
pub(crate) fn non_empty_list(raw: &str) -> Result<(), String> {
    if raw.trim().is_empty() {
        Err("Empty list".to_string())
    } else {
        Ok(())
    }
}

struct DropHeaders {
    headers: HashSet<String>,
}

impl Transformation for DropHeaders {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        record
            .headers
            .retain(|header| !self.headers.contains(&header.key));
        Ok(Some(record))
    }
}

/// Builds the transform.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    Ok(Box::new(DropHeaders {
        headers: list(config, HEADERS).into_iter().collect(),
    }))
}
