//! `TopicNameMatches`: true for records whose whole topic matches `pattern`.

use regex::Regex;

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Validator};
use crate::transforms::{java_regex, BuildError, Predicate, TransformRecord};

const PATTERN: &str = "pattern";

fn valid_pattern(raw: &str) -> Result<(), String> {
    if raw.trim().is_empty() {
        return Err("String must be non-empty".to_string());
    }
    java_regex::compile(raw)
        .map(|_| ())
        .map_err(|error| format!("Invalid regex: {error}"))
}

/// Returns the config definition.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(
            PATTERN,
            ConfigType::String,
            Importance::Medium,
            "A Java regular expression for matching against the name of a record's topic.",
        )
        .validator(Validator::Custom(valid_pattern)),
    )
}

struct TopicNameMatches {
    whole: Regex,
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &TransformRecord) -> bool {
        self.whole.is_match(&record.topic)
    }
}

/// Builds the predicate.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Predicate>, BuildError> {
    let pattern = config.get(PATTERN).unwrap_or_default();
    let (whole, _) = java_regex::compile(pattern).map_err(|error| {
        BuildError::invalid(
            PATTERN,
            pattern,
            &format!("entry must be a Java-compatible regular expression: {error}"),
        )
    })?;
    Ok(Box::new(TopicNameMatches { whole }))
}
