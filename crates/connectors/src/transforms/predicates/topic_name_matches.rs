//! `TopicNameMatches`: true for records whose whole topic matches `pattern`.

use crate::sdk::{ConfigDef, ConfigKey, ConfigType, ConfigValues, Importance, Validator};
use crate::transforms::java_regex::{self, JavaRegex};
use crate::transforms::{BuildError, Predicate, TransformRecord};

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
    regex: JavaRegex,
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &TransformRecord) -> bool {
        match self.regex.matches(&record.topic) {
            Ok(matches) => matches,
            Err(error) => {
                // Only a pathological backtracking pattern gets here (see `java_regex`).
                tracing::warn!(topic = %record.topic, %error, "TopicNameMatches gave up matching; the predicate is false");
                false
            }
        }
    }
}

/// Builds the predicate.
pub(crate) fn build(config: &ConfigValues) -> Result<Box<dyn Predicate>, BuildError> {
    let pattern = config.get(PATTERN).unwrap_or_default();
    let regex = java_regex::compile(pattern).map_err(|error| {
        BuildError::invalid(
            PATTERN,
            pattern,
            &format!("entry must be a Java-compatible regular expression: {error}"),
        )
    })?;
    Ok(Box::new(TopicNameMatches { regex }))
}
