//! Log levels changed at run time through `/admin/loggers` (Kafka Connect's `LoggingResource`).
//!
//! A logger name is a `tracing` target prefix (`ferry_actors::worker`, `rdkafka`, ...); `root`
//! is the default level. Setting a level rebuilds the subscriber's filter through a reload handle.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;
use tracing_subscriber::{reload, EnvFilter, Registry};

static LOG_LEVELS: OnceLock<LogLevels> = OnceLock::new();

/// The name of the default level.
pub const ROOT: &str = "root";

/// `{"level": "...", "last_modified": <epoch ms|null>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggerLevel {
    pub level: String,
    pub last_modified: Option<i64>,
}

/// Why a level change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LevelError {
    /// Not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF.
    InvalidLevel(String),
    /// The filter could not be rebuilt.
    Internal(String),
}

/// The run-time log levels.
pub struct LogLevels {
    handle: reload::Handle<EnvFilter, Registry>,
    /// Explicitly set loggers (root included), with when they were set.
    loggers: Mutex<BTreeMap<String, LoggerLevel>>,
}

/// Installs the process-wide levels; `root_level` is the initial default.
pub(crate) fn install(handle: reload::Handle<EnvFilter, Registry>, root_level: &str) {
    let loggers = BTreeMap::from([(
        ROOT.to_string(),
        LoggerLevel {
            level: root_level.to_ascii_uppercase(),
            last_modified: None,
        },
    )]);
    let _ = LOG_LEVELS.set(LogLevels {
        handle,
        loggers: Mutex::new(loggers),
    });
}

/// Returns the process-wide levels, once telemetry is initialised.
pub fn get() -> Option<&'static LogLevels> {
    LOG_LEVELS.get()
}

/// Maps Kafka Connect's level names to `tracing` directives.
fn directive_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

impl LogLevels {
    /// Returns every explicitly set logger, root included.
    pub fn all(&self) -> BTreeMap<String, LoggerLevel> {
        self.loggers
            .lock()
            .expect("levels lock is never poisoned")
            .clone()
    }

    /// Returns one logger's level: its own if set, else the closest set parent's (or root's).
    pub fn logger(&self, name: &str) -> Option<LoggerLevel> {
        let loggers = self.loggers.lock().expect("levels lock is never poisoned");
        if let Some(level) = loggers.get(name) {
            return Some(level.clone());
        }
        loggers
            .iter()
            .filter(|(logger, _)| logger.as_str() != ROOT && name.starts_with(logger.as_str()))
            .max_by_key(|(logger, _)| logger.len())
            .map(|(_, level)| level.clone())
    }

    /// Sets a logger's level; returns the affected logger names (it and its set children).
    ///
    /// # Errors
    /// [`LevelError::InvalidLevel`] for an unknown level name.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, LevelError> {
        if directive_level(level).is_none() {
            return Err(LevelError::InvalidLevel(level.to_string()));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        let mut loggers = self.loggers.lock().expect("levels lock is never poisoned");
        let mut affected = vec![name.to_string()];
        // As in Kafka Connect, setting a namespace also sets the loggers beneath it.
        for (logger, current) in loggers.iter_mut() {
            let beneath = name == ROOT
                || logger.starts_with(&format!("{name}::"))
                || logger.starts_with(&format!("{name}."));
            if logger != name && beneath && logger != ROOT {
                current.level = level.to_ascii_uppercase();
                current.last_modified = Some(now);
                affected.push(logger.clone());
            }
        }
        loggers.insert(
            name.to_string(),
            LoggerLevel {
                level: level.to_ascii_uppercase(),
                last_modified: Some(now),
            },
        );
        let mut directives = Vec::new();
        for (logger, setting) in loggers.iter() {
            let directive = directive_level(&setting.level).unwrap_or("info");
            if logger == ROOT {
                directives.insert(0, directive.to_string());
            } else {
                directives.push(format!("{logger}={directive}"));
            }
        }
        let filter = EnvFilter::try_new(directives.join(","))
            .map_err(|error| LevelError::Internal(error.to_string()))?;
        self.handle
            .reload(filter)
            .map_err(|error| LevelError::Internal(error.to_string()))?;
        affected.sort();
        affected.dedup();
        Ok(affected)
    }
}
