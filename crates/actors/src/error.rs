//! Errors of the actors crate.

/// A store (config, offset or status topic) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("failed to {operation} on topic `{topic}`: {message}")]
    Kafka {
        topic: String,
        operation: String,
        message: String,
    },
    #[error("worker is shutting down")]
    Stopped,
    /// A newer leader initialised the same transactional id: this node must stop leading.
    #[error("fenced by a newer leader: {0}")]
    Fenced(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    pub(crate) fn kafka(topic: &str, operation: &str, error: &rdkafka::error::KafkaError) -> Self {
        StoreError::Kafka {
            topic: topic.to_string(),
            operation: operation.to_string(),
            message: error.to_string(),
        }
    }
}
