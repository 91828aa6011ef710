//! Datagen: a source of generated records (`io.confluent.kafka.connect.datagen.DatagenConnector`).
//!
//! Keys follow Confluent's connector: `kafka.topic`, `max.interval`, `iterations`, `quickstart`,
//! `random.seed`. Quickstarts: `users`, `orders`, `pageviews` (modelled on Confluent's) and
//! `sequence` (Ferry's: gap-free per-task sequence numbers, for tests).
//!
//! Each task `N` (key `task.id`) has the source partition `{"task": N}`; each record's offset is
//! `{"seq": I}`, its sequence number, and a restarted task resumes at the stored `seq + 1`.
//!
//! Differences from Confluent's connector (documented choices):
//! - `schema.string` and `schema.filename` (custom Avro schemas) are refused: quickstarts only.
//! - After `iterations` records a task stays running and idle (empty polls) instead of failing
//!   with "Stopping connector: generated the configured N number of messages".
//! - `iterations` counts the records of all instances of a task, because it resumes from the
//!   stored sequence number; `-1` means no limit.
//! - With `random.seed` every record is a function of (seed, task, seq), so a resumed task
//!   produces the same records it would have without the restart.

mod quickstart;
mod task;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::sdk::{
    ConfigDef, ConfigKey, ConfigType, ConfigValues, ConnectorError, ConnectorFactory,
    ConnectorType, Importance, SourceTask, TaskConfig, TaskContext, Validator,
};

pub(crate) use quickstart::Quickstart;
pub(crate) use task::{DatagenSettings, DatagenTask};

/// The topic to write to.
pub(crate) const KAFKA_TOPIC_CONFIG: &str = "kafka.topic";
/// The most milliseconds between two records of one task.
pub(crate) const MAX_INTERVAL_CONFIG: &str = "max.interval";
/// Records per task (`-1`: no limit).
pub(crate) const ITERATIONS_CONFIG: &str = "iterations";
/// The quickstart to generate.
pub(crate) const QUICKSTART_CONFIG: &str = "quickstart";
/// The random seed (optional).
pub(crate) const RANDOM_SEED_CONFIG: &str = "random.seed";
/// Confluent's custom schema keys, refused by Ferry.
pub(crate) const SCHEMA_STRING_CONFIG: &str = "schema.string";
pub(crate) const SCHEMA_FILENAME_CONFIG: &str = "schema.filename";
/// The task-specific key holding the task's number.
pub(crate) const TASK_ID_CONFIG: &str = "task.id";

const GROUP: &str = "Datagen";

/// `io.confluent.kafka.connect.datagen.DatagenConnector`.
pub struct DatagenFactory;

fn check_iterations(raw: &str) -> Result<(), String> {
    match raw.trim().parse::<i64>() {
        Ok(value) if value == -1 || value >= 1 => Ok(()),
        _ => Err("Value must be at least 1, or -1 for no limit".to_string()),
    }
}

fn long_key(name: &str, documentation: &str, order: i32) -> ConfigKey {
    ConfigKey::new(name, ConfigType::Long, Importance::Low, documentation).group(GROUP, order)
}

fn string_key(name: &str, documentation: &str, order: i32) -> ConfigKey {
    ConfigKey::new(name, ConfigType::String, Importance::Low, documentation)
        .default_null()
        .group(GROUP, order)
}

impl ConnectorFactory for DatagenFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["io.confluent.kafka.connect.datagen.DatagenConnector"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["Datagen"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn task_class(&self) -> Option<&'static str> {
        Some("io.confluent.kafka.connect.datagen.DatagenTask")
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(
                    KAFKA_TOPIC_CONFIG,
                    ConfigType::String,
                    Importance::High,
                    "Topic to write to",
                )
                .validator(Validator::NonEmpty)
                .group(GROUP, 1),
            )
            .define(
                long_key(MAX_INTERVAL_CONFIG, "Max interval between messages (ms)", 2)
                    .default_value("500")
                    .validator(Validator::AtLeast(0.0)),
            )
            .define(
                long_key(
                    ITERATIONS_CONFIG,
                    "Number of messages to send from each task, or -1 for no limit",
                    3,
                )
                .default_value("1000000")
                .validator(Validator::Custom(check_iterations)),
            )
            .define(
                string_key(
                    QUICKSTART_CONFIG,
                    "Name of the quickstart to generate: sequence, users, orders or pageviews",
                    4,
                )
                .validator(Validator::OneOf(Quickstart::NAMES.to_vec())),
            )
            .define(
                long_key(
                    RANDOM_SEED_CONFIG,
                    "Seed for random number generation (records are reproducible with it)",
                    5,
                )
                .default_null(),
            )
            .define(string_key(
                SCHEMA_STRING_CONFIG,
                "Custom Avro schema (not supported by Ferry: use quickstart)",
                6,
            ))
            .define(string_key(
                SCHEMA_FILENAME_CONFIG,
                "Custom Avro schema file (not supported by Ferry: use quickstart)",
                7,
            ))
    }

    /// Supported: each task resumes after the sequence number its stored offset holds, and
    /// its records are a function of that number.
    fn exactly_once_support(
        &self,
        _props: &std::collections::BTreeMap<String, String>,
    ) -> crate::sdk::framework::ExactlyOnceSupport {
        crate::sdk::framework::ExactlyOnceSupport::Supported
    }

    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        for key in [SCHEMA_STRING_CONFIG, SCHEMA_FILENAME_CONFIG] {
            if config
                .get(key)
                .is_some_and(|value| !value.trim().is_empty())
            {
                errors.push((
                    key.to_string(),
                    format!("\"{key}\" is not supported by Ferry's Datagen; use \"{QUICKSTART_CONFIG}\""),
                ));
            }
        }
        if config.get(QUICKSTART_CONFIG).is_none() {
            errors.push((
                QUICKSTART_CONFIG.to_string(),
                format!(
                    "Missing configuration \"{QUICKSTART_CONFIG}\": set one of {}",
                    Quickstart::NAMES.join(", ")
                ),
            ));
        }
        errors
    }

    /// `tasks.max` configs, each with its `task.id` (`"0"` .. `"n-1"`).
    fn task_configs(
        &self,
        config: &ConfigValues,
        max_tasks: usize,
    ) -> Result<Vec<TaskConfig>, ConnectorError> {
        Ok((0..max_tasks)
            .map(|task| {
                let mut task_config = config.as_map().clone();
                task_config.insert(TASK_ID_CONFIG.to_string(), task.to_string());
                task_config
            })
            .collect())
    }

    fn create_source_task(
        &self,
        context: TaskContext,
    ) -> Result<Box<dyn SourceTask>, ConnectorError> {
        let config = self.parse_task_config(&context)?;
        let quickstart_name = config.string(QUICKSTART_CONFIG)?;
        let quickstart = Quickstart::parse(quickstart_name).ok_or_else(|| {
            ConnectorError::user(format!(
                "Invalid value {quickstart_name} for configuration {QUICKSTART_CONFIG}"
            ))
        })?;
        let max_interval = u64::try_from(config.long(MAX_INTERVAL_CONFIG)?).unwrap_or(0);
        let iterations = u64::try_from(config.long(ITERATIONS_CONFIG)?).ok();
        let seed = match config.get(RANDOM_SEED_CONFIG) {
            Some(_) => Some(config.long(RANDOM_SEED_CONFIG)?.cast_unsigned()),
            None => None,
        };
        let task_id = match config.get(TASK_ID_CONFIG) {
            Some(raw) => raw.trim().parse().map_err(|_| {
                ConnectorError::user(format!(
                    "Invalid value {raw} for configuration {TASK_ID_CONFIG}"
                ))
            })?,
            None => context.task_index,
        };
        let settings = DatagenSettings {
            topic: config.string(KAFKA_TOPIC_CONFIG)?.trim().to_string(),
            quickstart,
            max_interval: Duration::from_millis(max_interval),
            iterations,
            seed,
        };
        Ok(Box::new(DatagenTask::new(settings, task_id, &context)))
    }
}
