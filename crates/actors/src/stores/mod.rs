//! Kafka-backed stores: config, offsets and status on compacted topics, in Kafka Connect's
//! formats.

pub mod config;
pub mod lease;
pub mod log;
pub mod offsets;
pub mod session_key;
pub mod status;
pub mod topics;

pub use config::{ConfigSnapshot, ConfigStore, TargetState};
pub use lease::{lease_topic_name, LeaseGate, LeaseStore, TaskLease};
pub use offsets::{ConnectorOffsets, OffsetStore, OffsetStores};
pub use session_key::SessionKey;
pub use status::{State, Status, StatusSnapshot, StatusStore};
pub use topics::{AdminTopicCreator, TopicCreator, TopicSpec};
