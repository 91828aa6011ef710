//! Ferry's connector SDK, record model, converters, built-in connectors and their registry.
//!
//! Non-goals: no actors and no Kafka clients here — the runtime in `ferry-actors` drives
//! connectors; this crate only defines and implements them (connectors talk to their own
//! external systems, e.g. Elasticsearch over HTTP).
//!
//! ```text
//!  registry::builtin_registry() ── ConnectorFactory (file, datagen, elasticsearch, ...)
//!        │                               ├─ config_def()      → validation, validate endpoint
//!        │                               ├─ task_configs()    → task configs in the config topic
//!        │                               └─ create_*_task()   → SourceTask / SinkTask
//!  converters::build_converters() ── Converter / HeaderConverter (JSON, String, ByteArray, Simple)
//! ```

pub mod converters;
pub mod datagen;
pub mod elasticsearch;
pub mod file;
pub mod jdbc;
pub mod registry;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sdk;
#[cfg(test)]
mod testing;
pub mod transforms;
pub mod validation;

pub use registry::{builtin_registry, ConnectorRegistry};
