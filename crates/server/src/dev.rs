//! `ferry dev`'s embedded Kafka: librdkafka's in-process mock cluster.
//!
//! The mock cluster is not `Send`, so it lives on a thread of its own and is reached through a
//! channel. It is not durable, has no CreateTopics API (topics are created through the mock's own
//! call) and no compaction; it is for trying Ferry, never for tests of Ferry's guarantees.

use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::Context;
use async_trait::async_trait;
use ferry_actors::stores::{TopicCreator, TopicSpec};
use ferry_actors::StoreError;
use rdkafka::mocking::MockCluster;

enum MockCommand {
    CreateTopic {
        name: String,
        partitions: i32,
        reply_tx: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    Stop,
}

/// A running mock cluster; stopped when dropped.
pub struct EmbeddedKafka {
    bootstrap_servers: String,
    command_tx: mpsc::Sender<MockCommand>,
    thread_opt: Option<JoinHandle<()>>,
}

/// Creates topics on the embedded cluster (the mock has no CreateTopics API).
#[derive(Clone)]
pub struct MockTopicCreator {
    command_tx: mpsc::Sender<MockCommand>,
}

impl MockTopicCreator {
    /// Creates `name` with `partitions` partitions; an existing topic is not an error.
    ///
    /// # Errors
    /// Fails when the mock cluster is gone or refuses the topic.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), String> {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        self.command_tx
            .send(MockCommand::CreateTopic {
                name: name.to_string(),
                partitions,
                reply_tx,
            })
            .map_err(|_| "embedded Kafka is stopped".to_string())?;
        reply_rx
            .await
            .map_err(|_| "embedded Kafka is stopped".to_string())?
    }
}

#[async_trait]
impl TopicCreator for MockTopicCreator {
    async fn create_compacted(&self, spec: &TopicSpec) -> Result<(), StoreError> {
        tracing::info!(topic = %spec.name, "embedded kafka: creating topic without compaction (the mock cluster has none)");
        self.create_topic(&spec.name, spec.partitions)
            .await
            .map_err(|message| StoreError::Kafka {
                topic: spec.name.clone(),
                operation: "create topic".to_string(),
                message,
            })
    }
}

impl EmbeddedKafka {
    /// Starts a mock cluster of `brokers` brokers on loopback.
    ///
    /// # Errors
    /// Fails when librdkafka cannot create the mock cluster.
    pub fn start(brokers: i32) -> anyhow::Result<Self> {
        let (command_tx, command_rx) = mpsc::channel::<MockCommand>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let thread = std::thread::Builder::new()
            .name("embedded-kafka".into())
            .spawn(move || run_mock_cluster(brokers, &ready_tx, &command_rx))
            .context("failed to start the embedded Kafka thread")?;
        let bootstrap_servers = ready_rx
            .recv()
            .context("embedded Kafka thread exited during start-up")?
            .map_err(|error| anyhow::anyhow!("failed to start the embedded Kafka: {error}"))?;
        Ok(EmbeddedKafka {
            bootstrap_servers,
            command_tx,
            thread_opt: Some(thread),
        })
    }

    /// Returns the `bootstrap.servers` of the mock cluster.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// Returns a handle that creates topics on the mock cluster.
    pub fn topic_creator(&self) -> MockTopicCreator {
        MockTopicCreator {
            command_tx: self.command_tx.clone(),
        }
    }
}

impl EmbeddedKafka {
    /// Leaves the mock cluster to the process exit instead of tearing down librdkafka's broker
    /// threads one by one; the data is in memory only, so there is nothing to flush. Used when the
    /// process is about to exit.
    pub fn stop_without_waiting(mut self) {
        self.thread_opt.take();
        std::mem::forget(self);
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        let _ = self.command_tx.send(MockCommand::Stop);
        if let Some(thread) = self.thread_opt.take() {
            let _ = thread.join();
        }
    }
}

fn run_mock_cluster(
    brokers: i32,
    ready_tx: &mpsc::Sender<Result<String, String>>,
    command_rx: &mpsc::Receiver<MockCommand>,
) {
    let cluster = match MockCluster::new(brokers) {
        Ok(cluster) => cluster,
        Err(error) => {
            let _ = ready_tx.send(Err(error.to_string()));
            return;
        }
    };
    let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
    while let Ok(command) = command_rx.recv() {
        match command {
            MockCommand::CreateTopic {
                name,
                partitions,
                reply_tx,
            } => {
                let replication = brokers.min(3);
                let result = cluster
                    .create_topic(&name, partitions, replication)
                    .map_err(|e| e.to_string());
                let _ = reply_tx.send(result);
            }
            MockCommand::Stop => break,
        }
    }
}
