//! The JDBC sink for PostgreSQL: Confluent's `io.confluent.connect.jdbc.JdbcSinkConnector`
//! (alias `JdbcSink`), with its config keys and defaults.
//!
//! - Records need schemas (JsonConverter with `schemas.enable=true`, or any converter with
//!   schemas); the value is a struct whose fields become columns. The key columns follow
//!   `pk.mode` (`none`, `kafka`, `record_key`, `record_value`) and `pk.fields`;
//!   `fields.whitelist` limits the other value columns.
//! - `insert.mode`: `insert` (INSERT), `upsert` (INSERT .. ON CONFLICT (pk) DO UPDATE, or DO
//!   NOTHING when every column is a key column) or `update` (UPDATE .. WHERE pk). With
//!   `delete.enabled` (needs `pk.mode=record_key`) a tombstone deletes its row.
//! - `auto.create` creates a missing table from the schema (NOT NULL for required fields,
//!   PRIMARY KEY from the key columns); `auto.evolve` adds optional fields (or fields with a
//!   default) the table lacks.
//! - Each `put` is one transaction with multi-row statements of up to `batch.size` rows; it
//!   returns once PostgreSQL committed, so offsets are committed only for committed rows.
//!   Transient failures are retried (`max.retries`, `retry.backoff.ms`); see [`task`] for the
//!   error policy.
//!
//! Differences from Confluent's connector (documented choices):
//! - only PostgreSQL (`jdbc:postgresql://`), without TLS; only `db.timezone=UTC`;
//! - `table.name.format`: a literal dot outside `${topic}` separates the schema
//!   (`kafka.${topic}`), while dots inside a topic name stay part of the table name (Confluent
//!   would read `a.b` as schema `a`, table `b`);
//! - array, map and struct fields are refused with a message naming the field;
//! - a tombstone with `delete.enabled=false` is skipped with `pk.mode` kafka or record_key
//!   (and is a bad record with `none` or `record_value`, which need a value).

mod config;
mod fields;
mod plan;
mod sql;
mod task;
#[cfg(test)]
mod tests;
mod values;

use crate::sdk::{
    ConfigDef, ConfigValues, ConnectorError, ConnectorFactory, ConnectorType, SinkTask, TaskContext,
};

/// `io.confluent.connect.jdbc.JdbcSinkConnector` for PostgreSQL.
pub struct JdbcSinkFactory;

impl ConnectorFactory for JdbcSinkFactory {
    fn class_names(&self) -> &'static [&'static str] {
        &["io.confluent.connect.jdbc.JdbcSinkConnector"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["JdbcSink"]
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }

    fn task_class(&self) -> Option<&'static str> {
        Some("io.confluent.connect.jdbc.sink.JdbcSinkTask")
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, config: &ConfigValues) -> Vec<(String, String)> {
        config::cross_key_errors(config)
    }

    /// `tasks.max` identical configs: the consumer group spreads the partitions over them.
    fn create_sink_task(&self, context: TaskContext) -> Result<Box<dyn SinkTask>, ConnectorError> {
        let values = self.parse_task_config(&context)?;
        let config = config::JdbcSinkConfig::from_values(&values)?;
        let mut task = task::JdbcSinkTask::new(config);
        task.errant_opt = context.errant_reporter();
        task.retry_opt = context.retry_reporter();
        Ok(Box::new(task))
    }
}
