//! Topic creation for source tasks (KIP-158): before a task first produces to a topic, the
//! topic is created with the settings of the first `topic.creation.groups` group that matches
//! it (else the default group), unless it exists. On when the worker's `topic.creation.enable`
//! is true (the default) and the connector sets `topic.creation.*` keys, as in Kafka Connect.

use std::collections::HashSet;

use ferry_connectors::sdk::topic_creation::{parse_topic_creation, TopicCreationPlan};
use ferry_connectors::sdk::ConnectorError;
use rdkafka::admin::{AdminClient, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

use super::dlq::{connector_admin_config, create_topic_unless_exists};
use super::{TaskEnv, TaskSpec};

/// The worker key that turns topic creation off for every connector.
pub const TOPIC_CREATION_ENABLE: &str = "topic.creation.enable";

/// Creates a source task's topics on first use.
pub(crate) struct SourceTopicCreation {
    plan: TopicCreationPlan,
    admin: AdminClient<DefaultClientContext>,
    known: HashSet<String>,
}

/// Returns the worker's `topic.creation.enable` (default true).
pub(crate) fn worker_enables_topic_creation(env: &TaskEnv) -> bool {
    env.worker_props
        .get(TOPIC_CREATION_ENABLE)
        .is_none_or(|value| !value.trim().eq_ignore_ascii_case("false"))
}

impl SourceTopicCreation {
    /// Returns the task's topic creation, or `None` when the worker or the connector does not
    /// use it.
    ///
    /// # Errors
    /// A user error for invalid `topic.creation.*` keys; an external error when the admin client
    /// cannot be created.
    pub(crate) fn create(env: &TaskEnv, spec: &TaskSpec) -> Result<Option<Self>, ConnectorError> {
        let Some(plan) = parse_topic_creation(&spec.config).map_err(ConnectorError::user)? else {
            return Ok(None);
        };
        if !worker_enables_topic_creation(env) {
            tracing::info!(task = %spec.id(), "the worker has topic.creation.enable=false: the connector's topic.creation.* keys are not used");
            return Ok(None);
        }
        let admin = connector_admin_config(env, spec)
            .create()
            .map_err(|error| {
                ConnectorError::external(format!("failed to create admin client: {error}"))
            })?;
        Ok(Some(SourceTopicCreation {
            plan,
            admin,
            known: HashSet::new(),
        }))
    }

    /// Creates `topic` unless this task already saw it or it exists.
    ///
    /// # Errors
    /// An external error when the topic neither exists nor can be created.
    pub(crate) async fn ensure_topic(&mut self, topic: &str) -> Result<(), ConnectorError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let group = self.plan.group_for(topic);
        let mut new_topic = NewTopic::new(
            topic,
            group.partitions,
            TopicReplication::Fixed(i32::from(group.replication_factor)),
        );
        for (key, value) in &group.topic_configs {
            new_topic = new_topic.set(key, value);
        }
        let created = create_topic_unless_exists(&self.admin, new_topic)
            .await
            .map_err(|error| {
                ConnectorError::external(format!(
                    "Task failed to create new topic {topic}. Ensure that the task is authorized to create topics or that the topic exists and restart the task: {error}"
                ))
            })?;
        if created {
            tracing::info!(%topic, group = %group.name, partitions = group.partitions, replication_factor = group.replication_factor, "created topic for a source connector");
        }
        self.known.insert(topic.to_string());
        Ok(())
    }
}
