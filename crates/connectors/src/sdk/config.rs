//! Config declarations: one [`ConfigDef`] per connector (plus the framework's keys) drives
//! validation errors, `PUT /connector-plugins/{p}/config/validate` and
//! `GET /connector-plugins/{p}/config`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::ConnectorError;

/// Kafka Connect's config types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// How much a key matters (shown by the validate endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Importance {
    High,
    Medium,
    Low,
}

/// A key's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: the key must be set.
    Required,
    /// Defaults to null (unset).
    Null,
    /// Defaults to this value.
    Value(String),
}

/// Checks a value beyond its type.
#[derive(Debug, Clone)]
pub enum Validator {
    None,
    /// Integer or double at least `min`.
    AtLeast(f64),
    /// Integer or double within `[min, max]`.
    Between(f64, f64),
    /// One of these strings, case-insensitively.
    OneOf(Vec<&'static str>),
    /// A non-empty string.
    NonEmpty,
    /// Any other check; returns the reason a value is invalid.
    Custom(fn(&str) -> Result<(), String>),
}

/// One declared config key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub config_type: ConfigType,
    pub default: DefaultValue,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub display_name: String,
    pub validator: Validator,
}

impl ConfigKey {
    /// Declares a key with no default (required) and no validator.
    pub fn new(
        name: &str,
        config_type: ConfigType,
        importance: Importance,
        documentation: &str,
    ) -> Self {
        ConfigKey {
            name: name.to_string(),
            config_type,
            default: DefaultValue::Required,
            importance,
            documentation: documentation.to_string(),
            group: None,
            order: -1,
            display_name: name.to_string(),
            validator: Validator::None,
        }
    }

    /// Sets a default value.
    #[must_use]
    pub fn default_value(mut self, value: &str) -> Self {
        self.default = DefaultValue::Value(value.to_string());
        self
    }

    /// Makes the key optional with a null default.
    #[must_use]
    pub fn default_null(mut self) -> Self {
        self.default = DefaultValue::Null;
        self
    }

    /// Sets the validator.
    #[must_use]
    pub fn validator(mut self, validator: Validator) -> Self {
        self.validator = validator;
        self
    }

    /// Sets the group and the order within it.
    #[must_use]
    pub fn group(mut self, group: &str, order: i32) -> Self {
        self.group = Some(group.to_string());
        self.order = order;
        self
    }

    /// Sets the display name.
    #[must_use]
    pub fn display_name(mut self, display_name: &str) -> Self {
        self.display_name = display_name.to_string();
        self
    }

    /// Returns the default rendered as Kafka Connect's `default_value` (null when none).
    pub fn default_string(&self) -> Option<String> {
        match &self.default {
            DefaultValue::Value(value) => Some(value.clone()),
            DefaultValue::Required | DefaultValue::Null => None,
        }
    }

    /// Checks one raw value against the key's type and validator; returns Kafka Connect's
    /// error text when invalid.
    pub fn check(&self, raw: &str) -> Result<(), String> {
        let invalid = |reason: &str| {
            format!(
                "Invalid value {raw} for configuration {}: {reason}",
                self.name
            )
        };
        let trimmed = raw.trim();
        let number = match self.config_type {
            ConfigType::Boolean => {
                if !trimmed.eq_ignore_ascii_case("true") && !trimmed.eq_ignore_ascii_case("false") {
                    return Err(invalid("Expected value to be either true or false"));
                }
                None
            }
            ConfigType::Int => Some(
                parse_integer::<i32>(trimmed).ok_or_else(|| invalid("Not a number of type INT"))?,
            ),
            ConfigType::Short => Some(
                parse_integer::<i16>(trimmed)
                    .ok_or_else(|| invalid("Not a number of type SHORT"))?,
            ),
            ConfigType::Long => Some(
                parse_integer::<i64>(trimmed)
                    .ok_or_else(|| invalid("Not a number of type LONG"))?,
            ),
            ConfigType::Double => Some(
                trimmed
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| invalid("Not a number of type DOUBLE"))?,
            ),
            ConfigType::String | ConfigType::List | ConfigType::Class | ConfigType::Password => {
                None
            }
        };
        match (&self.validator, number) {
            (Validator::AtLeast(min), Some(value)) if value < *min => Err(invalid(&format!(
                "Value must be at least {}",
                render_number(*min)
            ))),
            (Validator::Between(min, max), Some(value)) if value < *min || value > *max => {
                Err(invalid(&format!(
                    "Value must be no less than {} and no more than {}",
                    render_number(*min),
                    render_number(*max)
                )))
            }
            (Validator::OneOf(allowed), _)
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(trimmed)) =>
            {
                Err(invalid(&format!(
                    "String must be one of: {}",
                    allowed.join(", ")
                )))
            }
            (Validator::NonEmpty, _) if trimmed.is_empty() => {
                Err(invalid("String must be non-empty"))
            }
            (Validator::Custom(check), _) => check(raw).map_err(|reason| invalid(&reason)),
            _ => Ok(()),
        }
    }
}

fn parse_integer<T: TryFrom<i64>>(text: &str) -> Option<f64> {
    let value: i64 = text.parse().ok()?;
    T::try_from(value).ok()?;
    #[allow(clippy::cast_precision_loss)]
    Some(value as f64)
}

fn render_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        let integer = value as i64;
        integer.to_string()
    } else {
        value.to_string()
    }
}

/// The declared keys of a connector (or of the framework).
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

/// The outcome of validating one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue {
    pub name: String,
    pub value: Option<String>,
    pub errors: Vec<String>,
}

impl ConfigDef {
    /// Returns an empty definition.
    pub fn new() -> Self {
        ConfigDef::default()
    }

    /// Adds a key (a later key with the same name replaces an earlier one).
    #[must_use]
    pub fn define(mut self, key: ConfigKey) -> Self {
        self.keys.retain(|existing| existing.name != key.name);
        self.keys.push(key);
        self
    }

    /// Adds every key of `other`; on duplicate names `other` wins.
    #[must_use]
    pub fn merge(mut self, other: &ConfigDef) -> Self {
        for key in &other.keys {
            self = self.define(key.clone());
        }
        self
    }

    /// Returns the declared keys in declaration order.
    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    /// Returns the key named `name`.
    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|key| key.name == name)
    }

    /// Validates `props` against every declared key, in declaration order.
    pub fn validate(&self, props: &BTreeMap<String, String>) -> Vec<ConfigValue> {
        self.keys
            .iter()
            .map(|key| {
                let raw_opt = props.get(&key.name);
                let mut errors = Vec::new();
                match (raw_opt, &key.default) {
                    (None, DefaultValue::Required) => errors.push(format!(
                        "Missing required configuration \"{}\" which has no default value.",
                        key.name
                    )),
                    (Some(raw), _) => {
                        if let Err(error) = key.check(raw) {
                            errors.push(error);
                        }
                    }
                    (None, _) => {}
                }
                let value = raw_opt.cloned().or_else(|| key.default_string());
                ConfigValue {
                    name: key.name.clone(),
                    value,
                    errors,
                }
            })
            .collect()
    }

    /// Validates and returns the values with defaults applied.
    ///
    /// # Errors
    /// Returns every error message when any key is invalid.
    pub fn parse(&self, props: &BTreeMap<String, String>) -> Result<ConfigValues, Vec<String>> {
        let results = self.validate(props);
        let errors: Vec<String> = results
            .iter()
            .flat_map(|value| value.errors.iter().cloned())
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut values = props.clone();
        for result in results {
            if let Some(value) = result.value {
                values.entry(result.name).or_insert(value);
            }
        }
        Ok(ConfigValues { values })
    }
}

/// Validated config values with defaults applied, plus any undeclared keys as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigValues {
    values: BTreeMap<String, String>,
}

impl ConfigValues {
    /// Wraps raw values without validation (for tests and already-validated task configs).
    pub fn from_raw(values: BTreeMap<String, String>) -> Self {
        ConfigValues { values }
    }

    /// Returns every value.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Returns the raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Returns the value of a key that must be present.
    ///
    /// # Errors
    /// A user error naming the key when it is missing.
    pub fn string(&self, key: &str) -> Result<&str, ConnectorError> {
        self.get(key).ok_or_else(|| {
            ConnectorError::user(format!("Missing required configuration \"{key}\""))
        })
    }

    /// Parses an integer value.
    ///
    /// # Errors
    /// A user error naming the key when it is missing or not an integer.
    pub fn long(&self, key: &str) -> Result<i64, ConnectorError> {
        let raw = self.string(key)?;
        raw.trim().parse().map_err(|_| {
            ConnectorError::user(format!(
                "Invalid value {raw} for configuration {key}: Not a number"
            ))
        })
    }

    /// Parses a boolean value.
    ///
    /// # Errors
    /// A user error naming the key when it is missing or not a boolean.
    pub fn boolean(&self, key: &str) -> Result<bool, ConnectorError> {
        let raw = self.string(key)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConnectorError::user(format!(
                "Invalid value {raw} for configuration {key}: Expected value to be either true or false"
            ))),
        }
    }

    /// Splits a LIST value on commas, trimming items and dropping empty ones.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Returns the display name of a type (`INT`, `PASSWORD`, ...).
pub fn type_name(config_type: ConfigType) -> &'static str {
    config_type.name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new(
                "file",
                ConfigType::String,
                Importance::High,
                "path",
            ))
            .define(
                ConfigKey::new("tasks.max", ConfigType::Int, Importance::High, "tasks")
                    .default_value("1")
                    .validator(Validator::AtLeast(1.0)),
            )
            .define(
                ConfigKey::new("mode", ConfigType::String, Importance::Low, "mode")
                    .default_value("insert")
                    .validator(Validator::OneOf(vec!["insert", "upsert"])),
            )
            .define(
                ConfigKey::new("flag", ConfigType::Boolean, Importance::Low, "flag")
                    .default_value("false"),
            )
    }

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn missing_required_key_uses_kafka_connect_wording() {
        let errors = def().parse(&props(&[])).unwrap_err();
        assert_eq!(
            errors,
            vec!["Missing required configuration \"file\" which has no default value."]
        );
    }

    #[test]
    fn wrong_type_and_range_errors_name_the_key() {
        let errors = def()
            .parse(&props(&[
                ("file", "x"),
                ("tasks.max", "abc"),
                ("flag", "maybe"),
                ("mode", "merge"),
            ]))
            .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("tasks.max") && errors[0].contains("INT"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("mode") && errors[1].contains("insert, upsert"),
            "{errors:?}"
        );
        assert!(
            errors[2].contains("flag") && errors[2].contains("true or false"),
            "{errors:?}"
        );
        let errors = def()
            .parse(&props(&[("file", "x"), ("tasks.max", "0")]))
            .unwrap_err();
        assert_eq!(
            errors,
            vec!["Invalid value 0 for configuration tasks.max: Value must be at least 1"]
        );
    }

    #[test]
    fn defaults_are_applied_and_unknown_keys_kept() {
        let values = def()
            .parse(&props(&[
                ("file", "/tmp/x"),
                ("extra", "kept"),
                ("mode", "UPSERT"),
            ]))
            .unwrap();
        assert_eq!(values.long("tasks.max").unwrap(), 1);
        assert!(!values.boolean("flag").unwrap());
        assert_eq!(values.get("extra"), Some("kept"));
    }

    #[test]
    fn int_overflow_is_a_type_error() {
        let errors = def()
            .parse(&props(&[("file", "x"), ("tasks.max", "3000000000")]))
            .unwrap_err();
        assert!(errors[0].contains("Not a number of type INT"), "{errors:?}");
    }
}
