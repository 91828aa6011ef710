//! The S3 sink task: encodes records into per-partition objects ([`PartitionWriter`]) and carries
//! out the uploads they ask for.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    BackoffConfig, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use tokio::task::JoinHandle;

use super::writer::{PartitionWriter, UploadStep, WrittenRecord};
use super::S3SinkConfig;
use crate::sdk::{ConnectorError, SinkRecord, SinkTask, TopicPartition};

/// Part uploads of one object allowed in flight while records keep arriving.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Builds the S3 client: `AWS_*` environment variables first, then the connector's keys.
///
/// # Errors
/// A user error when the settings do not make a client (e.g. a malformed endpoint).
pub(crate) fn build_store(config: &S3SinkConfig) -> Result<Arc<dyn ObjectStore>, ConnectorError> {
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: config.retry_backoff,
            ..BackoffConfig::default()
        },
        max_retries: config.part_retries,
        ..RetryConfig::default()
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&config.bucket)
        .with_region(&config.region)
        .with_virtual_hosted_style_request(!config.path_style)
        .with_retry(retry);
    if let Some(endpoint) = &config.endpoint_opt {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some((id, secret)) = &config.access_key_opt {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(&secret.0);
    }
    let store = builder.build().map_err(|error| {
        ConnectorError::user(format!(
            "invalid S3 settings for bucket {}: {error}",
            config.bucket
        ))
    })?;
    Ok(Arc::new(store))
}

/// Returns the wall clock in milliseconds since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

struct OpenUpload {
    upload: Box<dyn MultipartUpload>,
    in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
}

/// Uploads objects: a PUT for an object that fits in one part, a multipart upload (started at
/// its first full part) for a bigger one.
struct Uploader {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    multipart: HashMap<String, OpenUpload>,
}

impl Uploader {
    fn error(&self, action: &str, key: &str, error: &dyn std::fmt::Display) -> ConnectorError {
        ConnectorError::external(format!(
            "failed to {action} s3://{}/{key}: {error}",
            self.bucket
        ))
    }

    async fn part(&mut self, key: String, bytes: Vec<u8>) -> Result<(), ConnectorError> {
        if !self.multipart.contains_key(&key) {
            let upload = self
                .store
                .put_multipart(&Path::from(key.as_str()))
                .await
                .map_err(|error| self.error("start a multipart upload of", &key, &error))?;
            self.multipart.insert(
                key.clone(),
                OpenUpload {
                    upload,
                    in_flight: VecDeque::new(),
                },
            );
        }
        let Some(open) = self.multipart.get_mut(&key) else {
            return Err(ConnectorError::internal(
                "multipart upload missing after start",
            ));
        };
        let part = open.upload.put_part(PutPayload::from(bytes));
        open.in_flight.push_back(tokio::spawn(part));
        if open.in_flight.len() > MAX_PARTS_IN_FLIGHT {
            if let Some(oldest) = open.in_flight.pop_front() {
                if let Err(error) = wait_part(oldest).await {
                    let error = self.error("upload a part of", &key, &error);
                    self.abort(&key).await;
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    async fn finish(&mut self, key: String, bytes: Vec<u8>) -> Result<(), ConnectorError> {
        let Some(mut open) = self.multipart.remove(&key) else {
            return self
                .store
                .put(&Path::from(key.as_str()), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|error| self.error("upload", &key, &error));
        };
        if !bytes.is_empty() {
            open.in_flight
                .push_back(tokio::spawn(open.upload.put_part(PutPayload::from(bytes))));
        }
        let mut outcome = Ok(());
        while let Some(part) = open.in_flight.pop_front() {
            if let Err(error) = wait_part(part).await {
                outcome = Err(self.error("upload a part of", &key, &error));
                break;
            }
        }
        if outcome.is_ok() {
            outcome = open
                .upload
                .complete()
                .await
                .map(|_| ())
                .map_err(|error| self.error("complete the multipart upload of", &key, &error));
        }
        if outcome.is_err() {
            abort_upload(open, &key).await;
        }
        outcome
    }

    /// Abandons the multipart upload of `key`, if any (best effort: S3 lifecycle rules clean up
    /// what a crash leaves behind).
    async fn abort(&mut self, key: &str) {
        if let Some(open) = self.multipart.remove(key) {
            abort_upload(open, key).await;
        }
    }
}

async fn wait_part(part: JoinHandle<object_store::Result<()>>) -> Result<(), String> {
    match part.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(join_error) => Err(join_error.to_string()),
    }
}

async fn abort_upload(mut open: OpenUpload, key: &str) {
    for part in open.in_flight.drain(..) {
        part.abort();
    }
    if let Err(error) = open.upload.abort().await {
        tracing::warn!(key, %error, "could not abort a multipart upload");
    }
}

/// Which writer a record goes to: the partition it was read from (whose offsets the writer's
/// uploads make committable) and the topic partition its objects are named after. The two
/// differ when a transformation routed the record (KIP-793): a `TimestampRouter` sends one
/// consumed partition to a topic per day, a `RegexRouter` may merge topics into one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WriterKey {
    written: TopicPartition,
    /// Where the record was read, when a transformation routed it elsewhere (`None`: it was
    /// read from `written`, and nothing more is allocated per record).
    routed_from: Option<TopicPartition>,
}

impl WriterKey {
    /// The partition whose offsets this writer's uploads make committable.
    fn consumed(&self) -> &TopicPartition {
        self.routed_from.as_ref().unwrap_or(&self.written)
    }
}

/// Writes records of the partitions assigned to this task into S3 objects.
pub(crate) struct S3SinkTask {
    config: S3SinkConfig,
    uploader: Uploader,
    writers: HashMap<WriterKey, PartitionWriter>,
    /// Reused encoding buffer.
    encoded: Vec<u8>,
    steps: Vec<UploadStep>,
    /// Receives the records skipped under `errors.tolerance=all` (logged, dead-lettered).
    pub(crate) errant_opt: Option<Arc<dyn crate::sdk::ErrantRecordReporter>>,
}

impl S3SinkTask {
    /// Creates the task and its S3 client (no request is sent yet).
    ///
    /// # Errors
    /// A user error when the S3 settings do not make a client.
    pub(crate) fn new(config: S3SinkConfig) -> Result<Self, ConnectorError> {
        let store = build_store(&config)?;
        Ok(Self::with_store(config, store))
    }

    /// Creates the task on a given store (tests use an in-memory one).
    pub(crate) fn with_store(config: S3SinkConfig, store: Arc<dyn ObjectStore>) -> Self {
        let bucket = config.bucket.clone();
        S3SinkTask {
            config,
            uploader: Uploader {
                store,
                bucket,
                multipart: HashMap::new(),
            },
            writers: HashMap::new(),
            encoded: Vec::new(),
            steps: Vec::new(),
            errant_opt: None,
        }
    }

    /// Carries out the pending upload steps, in order.
    async fn run_steps(&mut self) -> Result<(), ConnectorError> {
        let steps = std::mem::take(&mut self.steps);
        for step in steps {
            match step {
                UploadStep::Part { key, bytes } => self.uploader.part(key, bytes).await?,
                UploadStep::Finish { key, bytes } => {
                    let size = bytes.len();
                    self.uploader.finish(key.clone(), bytes).await?;
                    tracing::debug!(bucket = %self.config.bucket, key, size, "uploaded object");
                }
            }
        }
        Ok(())
    }

    /// Encodes one record and hands it to its partition's writer. `Ok(false)` when the record
    /// is not written (an ignored null value).
    fn write_record(&mut self, record: &SinkRecord, now_ms: i64) -> Result<bool, String> {
        if record.value.value.is_null() {
            if self.config.ignore_null_values {
                return Ok(false);
            }
            return Err(
                "null (tombstone) values are not writeable with behavior.on.null.values=fail"
                    .to_string(),
            );
        }
        let time_ms = if self.config.needs_record_time() {
            self.config.extractor.extract(record, now_ms)?
        } else {
            now_ms
        };
        let encoded_partition = self
            .config
            .partitioner
            .encode(record.kafka_partition, time_ms)?;
        self.encoded.clear();
        self.config.format.append(record, &mut self.encoded)?;
        let key = WriterKey {
            written: TopicPartition {
                topic: record.topic.clone(),
                partition: record.kafka_partition,
            },
            routed_from: record.original_opt.clone(),
        };
        let writer = self
            .writers
            .entry(key)
            .or_insert_with(|| PartitionWriter::new(&record.topic, record.kafka_partition));
        writer.write(
            &self.config.rotation,
            &self.config.naming,
            self.config.part_size,
            WrittenRecord {
                encoded_partition: &encoded_partition,
                offset: record.kafka_offset,
                time_ms,
                now_ms,
                bytes: &self.encoded,
            },
            &mut self.steps,
        );
        Ok(true)
    }

    /// Drops the open objects of the records read from `partitions` (they will be delivered
    /// again).
    async fn forget(&mut self, partitions: &[TopicPartition]) {
        let forgotten: Vec<WriterKey> = self
            .writers
            .keys()
            .filter(|key| partitions.contains(key.consumed()))
            .cloned()
            .collect();
        for writer_key in forgotten {
            if let Some(writer) = self.writers.remove(&writer_key) {
                for key in writer.open_keys() {
                    self.uploader.abort(&key).await;
                }
            }
        }
    }
}

#[async_trait]
impl SinkTask for S3SinkTask {
    /// Starts every assigned partition with no open object: its first record (at the committed
    /// offset) starts the next object.
    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectorError> {
        self.forget(partitions).await;
        Ok(())
    }

    /// Adds records to their objects and uploads every object that closes.
    ///
    /// # Errors
    /// A user error naming the topic, partition and offset of a record that cannot be written
    /// (unless `errors.tolerance=all`, which skips it); an external error when S3 still fails
    /// after `s3.part.retries` retries.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        let now_ms = now_ms();
        for record in &records {
            if let Err(reason) = self.write_record(record, now_ms) {
                let message = format!(
                    "S3 sink cannot write the record at topic {} partition {} offset {}: {reason}",
                    record.original_topic(),
                    record.original_kafka_partition(),
                    record.kafka_offset
                );
                if !self.config.tolerate_bad_records {
                    return Err(ConnectorError::user(message));
                }
                tracing::warn!(error = %message, "skipping a record (errors.tolerance=all)");
                if let Some(reporter) = &self.errant_opt {
                    reporter.report(crate::sdk::ErrantRecord::of(record, message.clone()));
                }
            }
            if !self.steps.is_empty() {
                self.run_steps().await?;
            }
        }
        Ok(())
    }

    /// Uploads nothing: objects are cut by the rotation settings alone, so that a replay forms
    /// the same objects. [`SinkTask::pre_commit`] reports what is durable.
    async fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Closes objects whose wall-clock rotation is due, then returns per consumed partition the
    /// offset after the last record of its last uploaded object (or `current` when nothing
    /// waits); with records of one partition routed to several topics, the least of them.
    async fn pre_commit(
        &mut self,
        current: BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, i64>, ConnectorError> {
        let now_ms = now_ms();
        for writer in self.writers.values_mut() {
            writer.rotate_if_due(&self.config.rotation, now_ms, &mut self.steps);
        }
        self.run_steps().await?;
        let mut committable = BTreeMap::new();
        for (topic_partition, offset) in current {
            let mut offset_opt = Some(offset);
            for (key, writer) in &self.writers {
                if *key.consumed() != topic_partition {
                    continue;
                }
                offset_opt = match (offset_opt, writer.committable(offset)) {
                    (Some(so_far), Some(durable)) => Some(so_far.min(durable)),
                    _ => None,
                };
            }
            if let Some(offset) = offset_opt {
                committable.insert(topic_partition, offset);
            }
        }
        Ok(committable)
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectorError> {
        self.forget(partitions).await;
        Ok(())
    }

    async fn stop(&mut self) {
        let partitions: Vec<TopicPartition> = self
            .writers
            .keys()
            .map(|key| key.consumed().clone())
            .collect();
        self.forget(&partitions).await;
    }
}
