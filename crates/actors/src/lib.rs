//! Ferry's actors and runtime: the Kafka-backed stores, the task runtime (source and sink loops)
//! and the worker that reconciles what runs here with what the config topic asks for.
//!
//! ```text
//!  ConfigStore ──snapshot──► WorkerActor ── start/stop ──► task supervisors (tokio tasks)
//!                                │                             ├─ source loop: poll → convert → produce → ack → OffsetStore
//!                                └── StatusStore ◄── state ────└─ sink loop:   consume → convert → put → flush → commit
//! ```
//! Records never pass through actor mailboxes: the data path is tokio tasks with bounded channels.

pub mod config_providers;
pub mod error;
pub mod keystore;
pub mod leader;
pub mod membership;
pub mod metric_names;
pub mod runtime;
pub mod stores;
pub mod worker;

pub use error::StoreError;
