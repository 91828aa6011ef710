//! `HasHeaderKey`: true for records with at least one header named `name`.

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Validator};
use crate::transforms::{BuildError, Predicate, TransformRecord};

const NAME: &str = "name";

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            NAME,
            ConfigType::String,
            Importance::Medium,
            "The header name.",
        )
        .validator(Validator::NonEmpty),
    )
}

struct HasHeaderKey {
    name: String,
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &TransformRecord) -> bool {
        record.headers.iter().any(|header| header.key == self.name)
    }
}

/// Builds the predicate.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Predicate>, BuildError> {
    Ok(Box::new(HasHeaderKey {
        name: config.get(NAME).unwrap_or_default().to_string(),
    }))
}
