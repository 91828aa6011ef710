//! Creation of the internal topics (compacted), through the AdminClient on a real broker or a
//! [`TopicCreator`] supplied by the caller (the embedded mock cluster has no CreateTopics API).

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::StoreError;

/// One internal topic to create if missing.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// -1 for the broker's default.
    pub replication_factor: i32,
}

/// Creates topics; implemented with the AdminClient, or with the mock cluster's own call.
#[async_trait]
pub trait TopicCreator: Send + Sync {
    /// Creates `spec` with `cleanup.policy=compact` unless it exists.
    ///
    /// # Errors
    /// Fails when the topic neither exists nor can be created.
    async fn create_compacted(&self, spec: &TopicSpec) -> Result<(), StoreError>;
}

/// Creates topics with Kafka's AdminClient.
pub struct AdminTopicCreator {
    admin: AdminClient<DefaultClientContext>,
}

impl AdminTopicCreator {
    /// Creates an AdminClient from the worker's client config.
    ///
    /// # Errors
    /// Fails when the client cannot be created.
    pub fn new(client_config: &ClientConfig) -> Result<Self, StoreError> {
        let admin = client_config
            .create()
            .map_err(|error| StoreError::kafka("(admin)", "create admin client", &error))?;
        Ok(AdminTopicCreator { admin })
    }
}

#[async_trait]
impl TopicCreator for AdminTopicCreator {
    async fn create_compacted(&self, spec: &TopicSpec) -> Result<(), StoreError> {
        let topic = NewTopic::new(
            &spec.name,
            spec.partitions,
            TopicReplication::Fixed(spec.replication_factor),
        )
        .set("cleanup.policy", "compact");
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .admin
            .create_topics(&[topic], &options)
            .await
            .map_err(|error| StoreError::kafka(&spec.name, "create topic", &error))?;
        for result in results {
            match result {
                Ok(_) => {
                    tracing::info!(topic = %spec.name, partitions = spec.partitions, "created internal topic")
                }
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(StoreError::Kafka {
                        topic: spec.name.clone(),
                        operation: "create topic".to_string(),
                        message: code.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}
