//! `RegexRouter`: renames the topic when the whole topic matches `regex`.

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Validator};

use super::java_regex::{self, JavaRegex};
use super::{BuildError, TransformError, TransformRecord, Transformation};

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

/// `RegexValidator`.
pub(crate) fn valid_regex(raw: &str) -> Result<(), String> {
    java_regex::compile(raw)
        .map(|_| ())
        .map_err(|error| format!("Invalid regex: {error}"))
}

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(
                REGEX,
                ConfigType::String,
                Importance::High,
                "Regular expression to use for matching.",
            )
            .validator(Validator::Custom(valid_regex)),
        )
        .define(ConfigKey::new(
            REPLACEMENT,
            ConfigType::String,
            Importance::High,
            "Replacement string.",
        ))
}

struct RegexRouter {
    regex: JavaRegex,
    replacement: String,
}

impl Transformation for RegexRouter {
    fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformError> {
        let matches = self
            .regex
            .matches(&record.topic)
            .map_err(TransformError::illegal_argument)?;
        if matches {
            record.topic = self
                .regex
                .replace_first(&record.topic, &self.replacement)
                .map_err(TransformError::illegal_argument)?;
        }
        Ok(Some(record))
    }
}

/// Builds the transform.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Transformation>, BuildError> {
    let pattern = config.get(REGEX).unwrap_or_default();
    let regex = java_regex::compile(pattern)
        .map_err(|error| BuildError::invalid(REGEX, pattern, &format!("Invalid regex: {error}")))?;
    Ok(Box::new(RegexRouter {
        regex,
        replacement: config.get(REPLACEMENT).unwrap_or_default().to_string(),
    }))
}
