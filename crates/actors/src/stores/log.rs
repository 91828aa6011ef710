//! A Kafka topic read from the beginning into memory and kept up to date: the building block of
//! the config, offset and status stores (Kafka Connect's `KafkaBasedLog`).
//!
//! Every record of every partition is handed, in order per partition, to the store's `apply`
//! function. [`TopicLog::read_to_end`] waits until everything written before the call has been
//! applied; [`TopicLog::send`] waits until the write is acknowledged *and* applied locally, so a
//! caller reads its own writes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::error::StoreError;

/// How long metadata and watermark requests may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often waiters re-check positions even without new records (control records such as
/// transaction markers advance the position without producing a message).
const POSITION_RECHECK: Duration = Duration::from_millis(20);

/// One record as the store sees it.
pub struct LogRecord<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub partition: i32,
    pub offset: i64,
}

/// Applies records to a store's in-memory state.
pub type ApplyFn = Box<dyn FnMut(&LogRecord<'_>) + Send>;

/// Which records a [`TopicLog`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Committed records only; end offsets are the last stable offsets.
    ReadCommitted,
    /// Every record, also of open or aborted transactions; end offsets are high watermarks.
    ReadUncommitted,
}

/// A topic read into memory.
pub struct TopicLog {
    topic: String,
    /// The clients' settings (a read of the high watermarks creates one more client).
    client_config: ClientConfig,
    producer: FutureProducer,
    consumer: Arc<StreamConsumer>,
    partitions: Vec<i32>,
    waiters_tx: mpsc::UnboundedSender<Waiter>,
    stop: CancellationToken,
}

/// Someone waiting until the reader applied every record before these offsets.
struct Waiter {
    targets: BTreeMap<i32, i64>,
    done_tx: oneshot::Sender<()>,
}

impl TopicLog {
    /// Starts reading `topic` from the beginning of every partition.
    ///
    /// # Errors
    /// Fails when the clients cannot be created or the topic's metadata cannot be read.
    pub async fn start(
        client_config: &ClientConfig,
        topic: &str,
        apply: ApplyFn,
        stop: CancellationToken,
    ) -> Result<Self, StoreError> {
        Self::start_with_isolation(client_config, topic, apply, stop, Isolation::ReadCommitted)
            .await
    }

    /// Starts reading `topic` from the beginning of every partition, with `isolation`.
    ///
    /// # Errors
    /// Fails when the clients cannot be created or the topic's metadata cannot be read.
    pub async fn start_with_isolation(
        client_config: &ClientConfig,
        topic: &str,
        mut apply: ApplyFn,
        stop: CancellationToken,
        isolation: Isolation,
    ) -> Result<Self, StoreError> {
        let isolation_level = match isolation {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        };
        let producer: FutureProducer = client_config
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "1")
            .create()
            .map_err(|error| StoreError::kafka(topic, "create producer", &error))?;
        let consumer: StreamConsumer = client_config
            .clone()
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("isolation.level", isolation_level)
            // Stores are read-your-writes: a short fetch wait keeps writes visible quickly even
            // on brokers that do not wake a waiting fetch (the embedded mock cluster).
            .set("fetch.wait.max.ms", "100")
            .set("group.id", format!("ferry-store-reader-{topic}"))
            .create()
            .map_err(|error| StoreError::kafka(topic, "create consumer", &error))?;
        let consumer = Arc::new(consumer);
        let partitions = fetch_partitions(&consumer, topic).await?;
        tracing::debug!(
            topic,
            partitions = partitions.len(),
            "internal topic metadata read"
        );
        let mut assignment = TopicPartitionList::new();
        for partition in &partitions {
            assignment
                .add_partition_offset(topic, *partition, Offset::Beginning)
                .map_err(|error| StoreError::kafka(topic, "assign", &error))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|error| StoreError::kafka(topic, "assign", &error))?;

        // The reader task answers waiters itself, between records: whatever the consumer's
        // position says was read has then also been applied (no window between the two).
        let (waiters_tx, mut waiters_rx) = mpsc::unbounded_channel::<Waiter>();
        let reader_consumer = Arc::clone(&consumer);
        let reader_stop = stop.clone();
        let reader_topic = topic.to_string();
        tokio::spawn(async move {
            let mut stream = reader_consumer.stream();
            let mut waiters: Vec<Waiter> = Vec::new();
            let mut recheck = tokio::time::interval(POSITION_RECHECK);
            loop {
                tokio::select! {
                    biased;
                    () = reader_stop.cancelled() => break,
                    Some(waiter) = waiters_rx.recv() => waiters.push(waiter),
                    next = stream.next() => match next {
                        Some(Ok(message)) => apply(&LogRecord {
                            key: message.key(),
                            value: message.payload(),
                            partition: message.partition(),
                            offset: message.offset(),
                        }),
                        Some(Err(error)) => {
                            tracing::warn!(topic = %reader_topic, %error, "error reading internal topic");
                        }
                        None => break,
                    },
                    _ = recheck.tick(), if !waiters.is_empty() => {}
                }
                if !waiters.is_empty() {
                    let positions_opt = reader_consumer.position().ok();
                    let mut still_waiting = Vec::with_capacity(waiters.len());
                    for waiter in waiters.drain(..) {
                        let done = positions_opt.as_ref().is_some_and(|positions| {
                            reached(positions, &reader_topic, &waiter.targets)
                        });
                        if done {
                            let _ = waiter.done_tx.send(());
                        } else {
                            still_waiting.push(waiter);
                        }
                    }
                    waiters = still_waiting;
                }
            }
        });
        Ok(TopicLog {
            topic: topic.to_string(),
            client_config: client_config.clone(),
            producer,
            consumer,
            partitions,
            waiters_tx,
            stop,
        })
    }

    /// Returns the topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes one record and waits until it is acknowledged and applied locally.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write in time.
    pub async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
        let (partition, offset) = self.send_no_wait(key, value).await?;
        self.wait_applied(&BTreeMap::from([(partition, offset + 1)]))
            .await
    }

    /// Writes one record and waits for the acknowledgement only; returns its partition and offset.
    ///
    /// # Errors
    /// Fails when Kafka does not acknowledge the write in time.
    pub async fn send_no_wait(
        &self,
        key: &str,
        value: Option<&[u8]>,
    ) -> Result<(i32, i64), StoreError> {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        let delivery = self
            .producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| StoreError::kafka(&self.topic, "write", &error))?;
        Ok((delivery.partition, delivery.offset))
    }

    /// Waits until every record written before this call has been applied.
    ///
    /// # Errors
    /// Fails when the watermarks cannot be read.
    pub async fn read_to_end(&self) -> Result<(), StoreError> {
        // Right after a topic is created its partitions may have no leader yet: retry a while.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let targets = loop {
            match self.end_offsets().await {
                Ok(targets) => break targets,
                Err(error)
                    if tokio::time::Instant::now() < deadline && !self.stop.is_cancelled() =>
                {
                    tracing::debug!(topic = %self.topic, %error, "end offsets not available yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => return Err(error),
            }
        };
        self.wait_applied(&targets).await
    }

    /// Waits until every record written before this call has been applied, and every
    /// transaction open below the partitions' high watermarks now has ended (committed or
    /// aborted). A `read_committed` reader's end is the last stable offset, the first record
    /// of the earliest open transaction; transactions that committed behind it (another task
    /// writing its offsets to the same partition) are not read before it ends. A task that
    /// takes over must see the offsets its fenced predecessor committed: this waits for them
    /// (at most as long as the other open transactions take, a transaction interval).
    ///
    /// # Errors
    /// Fails when the high watermarks cannot be read.
    pub async fn read_through_open_transactions(&self) -> Result<(), StoreError> {
        let consumer: rdkafka::consumer::BaseConsumer = self
            .client_config
            .clone()
            .set("isolation.level", "read_uncommitted")
            .create()
            .map_err(|error| StoreError::kafka(&self.topic, "create consumer", &error))?;
        let topic = self.topic.clone();
        let partitions = self.partitions.clone();
        let targets = tokio::task::spawn_blocking(move || {
            let mut targets = BTreeMap::new();
            for partition in partitions {
                let (_, high) = consumer.fetch_watermarks(&topic, partition, METADATA_TIMEOUT)?;
                targets.insert(partition, high);
            }
            Ok::<_, KafkaError>(targets)
        })
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))?
        .map_err(|error| StoreError::kafka(&self.topic, "read high watermarks", &error))?;
        self.wait_applied(&targets).await
    }

    /// Reads the end offset of every partition with one ListOffsets request.
    async fn end_offsets(&self) -> Result<BTreeMap<i32, i64>, StoreError> {
        let mut query = TopicPartitionList::new();
        for partition in &self.partitions {
            query
                .add_partition_offset(&self.topic, *partition, Offset::End)
                .map_err(|error| StoreError::kafka(&self.topic, "read end offsets", &error))?;
        }
        let consumer = Arc::clone(&self.consumer);
        let ends = tokio::task::spawn_blocking(move || {
            consumer.offsets_for_times(query, METADATA_TIMEOUT)
        })
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))?
        .map_err(|error| StoreError::kafka(&self.topic, "read end offsets", &error))?;
        let mut targets = BTreeMap::new();
        for element in ends.elements() {
            if let Err(error) = element.error() {
                return Err(StoreError::kafka(&self.topic, "read end offsets", &error));
            }
            match element.offset() {
                Offset::Offset(end) => {
                    targets.insert(element.partition(), end);
                }
                Offset::End => {}
                other => {
                    return Err(StoreError::Kafka {
                        topic: self.topic.clone(),
                        operation: "read end offsets".to_string(),
                        message: format!(
                            "unexpected end offset {other:?} for partition {}",
                            element.partition()
                        ),
                    })
                }
            }
        }
        Ok(targets)
    }

    /// Waits until the reader applied every record before each partition's target offset.
    pub(crate) async fn wait_applied(
        &self,
        targets: &BTreeMap<i32, i64>,
    ) -> Result<(), StoreError> {
        let (done_tx, done_rx) = oneshot::channel();
        self.waiters_tx
            .send(Waiter {
                targets: targets.clone(),
                done_tx,
            })
            .map_err(|_| StoreError::Stopped)?;
        tokio::select! {
            result = done_rx => result.map_err(|_| StoreError::Stopped),
            () = self.stop.cancelled() => Err(StoreError::Stopped),
        }
    }
}

/// Returns true when the position of each partition reached its target offset.
fn reached(positions: &TopicPartitionList, topic: &str, targets: &BTreeMap<i32, i64>) -> bool {
    targets.iter().all(|(partition, target)| {
        if *target <= 0 {
            return true;
        }
        match positions
            .find_partition(topic, *partition)
            .map(|entry| entry.offset())
        {
            Some(Offset::Offset(position)) => position >= *target,
            _ => false,
        }
    })
}

/// Reads the topic's partitions, retrying for a while: a topic created a moment ago may not be in
/// the metadata yet.
async fn fetch_partitions(
    consumer: &Arc<StreamConsumer>,
    topic: &str,
) -> Result<Vec<i32>, StoreError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let consumer = Arc::clone(consumer);
        let topic_name = topic.to_string();
        let metadata = tokio::task::spawn_blocking(move || {
            consumer.fetch_metadata(Some(&topic_name), METADATA_TIMEOUT)
        })
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))?
        .map_err(|error: KafkaError| StoreError::kafka(topic, "read metadata", &error))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|entry| entry.name() == topic && entry.error().is_none())
            .flat_map(|entry| {
                entry
                    .partitions()
                    .iter()
                    .map(rdkafka::metadata::MetadataPartition::id)
            })
            .collect();
        if !partitions.is_empty() {
            return Ok(partitions);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Kafka {
                topic: topic.to_string(),
                operation: "read metadata".to_string(),
                message: "topic has no partitions after 30 s (does it exist?)".to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
