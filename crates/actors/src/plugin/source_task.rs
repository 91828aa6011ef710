//! A plugin's source task behind the SDK's `SourceTask`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_connectors::sdk::{
    ConnectorError, Header, RecordAck, SchemaAndValue, SourceRecord, SourceTask, TaskContext,
    TransactionRequest, Value,
};
use ferry_plugin::proto::{
    self, source_in, source_out, Credit, OffsetReply, OffsetsCommitted, SourceIn, StoredOffset,
    TaskStart, TaskStop,
};
use ferry_plugin::PluginHost;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use super::{converter_worker_props, plugin_error, split_task_config};

/// Records the plugin may hold unsent (its credit), replenished as batches are handed over.
const CREDIT_RECORDS: u32 = 20_000;
/// How long `poll` waits for a batch before returning an empty one (the runtime flushes offsets
/// in between).
const IDLE_POLL: Duration = Duration::from_secs(1);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

struct Stream {
    tx: mpsc::Sender<SourceIn>,
    inbound: Streaming<proto::SourceOut>,
}

/// A source task running in a plugin process.
pub(crate) struct PluginSourceTask {
    host: Arc<PluginHost>,
    class: String,
    context: TaskContext,
    worker_config: BTreeMap<String, String>,
    stream_opt: Option<Stream>,
    /// Records returned so far (the runtime's ack sequence numbers count the same records).
    returned: u64,
    /// Whether the plugin's last poll threw a `RetriableException` (until its next batch).
    retrying: bool,
}

impl PluginSourceTask {
    pub(crate) fn new(
        host: Arc<PluginHost>,
        class: String,
        context: TaskContext,
        worker_props: &BTreeMap<String, String>,
    ) -> Self {
        PluginSourceTask {
            host,
            class,
            context,
            worker_config: converter_worker_props(worker_props),
            stream_opt: None,
            returned: 0,
            retrying: false,
        }
    }

    fn lost(&self, what: &str) -> ConnectorError {
        ConnectorError::external(format!(
            "plugin process `{}` lost source task {}-{}: {what}",
            self.host.name(),
            self.context.connector_name,
            self.context.task_index
        ))
    }

    async fn send(&self, message: source_in::Message) -> Result<(), ConnectorError> {
        let Some(stream) = &self.stream_opt else {
            return Err(self.lost("not started"));
        };
        stream
            .tx
            .send(SourceIn {
                message: Some(message),
            })
            .await
            .map_err(|_| self.lost("its stream closed"))
    }

    /// Opens the stream and starts the task; answers offset reads made by `start()`.
    async fn start(&mut self) -> Result<(), ConnectorError> {
        let mut client = self
            .host
            .client()
            .await
            .map_err(|error| ConnectorError::external(error.to_string()))?;
        let (tx, rx) = mpsc::channel(64);
        let (task_config, connector_config) = split_task_config(self.context.config.as_map());
        let start = TaskStart {
            connector: self.context.connector_name.clone(),
            task_index: self.context.task_index,
            class_name: self.class.clone(),
            config: task_config.into_iter().collect(),
            worker_config: self.worker_config.clone().into_iter().collect(),
            connector_config: connector_config.into_iter().collect(),
        };
        let first = [
            source_in::Message::Start(start),
            source_in::Message::Credit(Credit {
                records: CREDIT_RECORDS,
            }),
        ];
        for message in first {
            let _ = tx
                .send(SourceIn {
                    message: Some(message),
                })
                .await;
        }
        let inbound = client
            .source_task(ReceiverStream::new(rx))
            .await
            .map_err(|status| self.lost(status.message()))?
            .into_inner();
        self.stream_opt = Some(Stream { tx, inbound });
        loop {
            match self.next_message().await? {
                source_out::Message::Started(_) => return Ok(()),
                source_out::Message::OffsetRead(read) => self.answer_offset_read(read).await?,
                source_out::Message::Error(error) => return Err(plugin_error(&error)),
                other => {
                    return Err(ConnectorError::internal(format!(
                        "plugin sent {other:?} before the task started"
                    )))
                }
            }
        }
    }

    async fn next_message(&mut self) -> Result<source_out::Message, ConnectorError> {
        let Some(stream) = self.stream_opt.as_mut() else {
            return Err(self.lost("not started"));
        };
        match stream.inbound.message().await {
            Ok(Some(proto::SourceOut {
                message: Some(message),
            })) => Ok(message),
            Ok(Some(_)) => Err(ConnectorError::internal("plugin sent an empty message")),
            Ok(None) => Err(self.lost("the stream ended")),
            Err(status) => Err(self.lost(status.message())),
        }
    }

    /// Answers `OffsetStorageReader` reads from Ferry's offset store.
    async fn answer_offset_read(&self, read: proto::OffsetRead) -> Result<(), ConnectorError> {
        let mut offsets = Vec::with_capacity(read.partitions_json.len());
        for partition_json in read.partitions_json {
            let partition = parse_object(&partition_json);
            let offset_json = self
                .context
                .offset(&partition)
                .map(|offset| serde_json::Value::Object(offset).to_string());
            offsets.push(StoredOffset {
                partition_json,
                offset_json,
            });
        }
        self.send(source_in::Message::OffsetReply(OffsetReply {
            request_id: read.request_id,
            offsets,
        }))
        .await
    }

    fn convert_batch(&mut self, batch: proto::SourceBatch) -> Vec<SourceRecord> {
        let mut records = Vec::with_capacity(batch.records.len());
        for record in batch.records {
            debug_assert_eq!(
                record.seq, self.returned,
                "the plugin numbers records in order"
            );
            self.returned += 1;
            records.push(SourceRecord {
                source_partition: parse_object(&record.source_partition_json),
                source_offset: parse_object(&record.source_offset_json),
                topic: record.topic,
                kafka_partition: record.partition,
                key: bytes_value(record.key),
                value: bytes_value(record.value),
                headers: record
                    .headers
                    .into_iter()
                    .map(|header| Header {
                        key: header.key,
                        value: bytes_value(header.value),
                    })
                    .collect(),
                timestamp: record.timestamp,
                dropped: record.dropped,
                transaction: match proto::TransactionRequest::try_from(record.transaction) {
                    Ok(proto::TransactionRequest::Commit) => TransactionRequest::Commit,
                    Ok(proto::TransactionRequest::Abort) => TransactionRequest::Abort,
                    Ok(proto::TransactionRequest::None) | Err(_) => TransactionRequest::None,
                },
            });
        }
        records
    }
}

/// Kafka-ready bytes as the runtime's ByteArrayConverter takes them (`None` is a null).
fn bytes_value(bytes_opt: Option<Vec<u8>>) -> SchemaAndValue {
    match bytes_opt {
        Some(bytes) => SchemaAndValue {
            schema: None,
            value: Value::Bytes(bytes),
        },
        None => SchemaAndValue::null(),
    }
}

/// A JSON object of the offsets topic's format; a null partition or offset is an empty one.
fn parse_object(json: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

#[async_trait]
impl SourceTask for PluginSourceTask {
    /// # Cancel safety
    /// Not cancel safe: a batch being received when the future is dropped is lost with the
    /// task instance (the next instance resumes from the stored offsets, as the SDK requires).
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectorError> {
        if self.stream_opt.is_none() {
            self.start().await?;
        }
        let deadline = tokio::time::Instant::now() + IDLE_POLL;
        loop {
            let next = tokio::time::timeout_at(deadline, self.next_message()).await;
            let Ok(message) = next else {
                return Ok(Vec::new());
            };
            match message? {
                source_out::Message::Batch(batch) => {
                    if std::mem::take(&mut self.retrying) {
                        if let Some(reporter) = self.context.retry_reporter() {
                            reporter.recovered();
                        }
                    }
                    let count = u32::try_from(batch.records.len()).unwrap_or(u32::MAX);
                    let records = self.convert_batch(batch);
                    if count > 0 {
                        self.send(source_in::Message::Credit(Credit { records: count }))
                            .await?;
                    }
                    return Ok(records);
                }
                source_out::Message::OffsetRead(read) => self.answer_offset_read(read).await?,
                source_out::Message::Error(error) => return Err(plugin_error(&error)),
                source_out::Message::PollRetrying(retrying) => {
                    // Kafka Connect polls again after a RetriableException; the plugin does, and
                    // the retry shows in the status (and fails the task past
                    // errors.retry.timeout).
                    let error = retrying.error.unwrap_or_default();
                    self.retrying = true;
                    if let Some(reporter) = self.context.retry_reporter() {
                        reporter.retrying(&ConnectorError::external(format!(
                            "poll threw RetriableException: {}",
                            error.message
                        )))?;
                    }
                }
                source_out::Message::Stopped(_) => {
                    return Err(self.lost("the task stopped by itself"))
                }
                source_out::Message::Started(_) => {}
            }
        }
    }

    fn wants_acknowledgements(&self) -> bool {
        true
    }

    async fn acknowledged(&mut self, acks: Vec<RecordAck>) -> Result<(), ConnectorError> {
        if acks.is_empty() || self.stream_opt.is_none() {
            return Ok(());
        }
        let acks = acks
            .into_iter()
            .map(|ack| proto::RecordAck {
                seq: ack.seq,
                topic: ack.topic,
                partition: ack.partition,
                offset: ack.offset,
                timestamp: ack.timestamp,
            })
            .collect();
        self.send(source_in::Message::Acks(proto::Acks { acks }))
            .await
    }

    async fn commit(&mut self) -> Result<(), ConnectorError> {
        if self.stream_opt.is_none() {
            return Ok(());
        }
        self.send(source_in::Message::OffsetsCommitted(OffsetsCommitted {}))
            .await
    }

    async fn stop(&mut self) {
        if self.stream_opt.is_none() {
            return;
        }
        if self
            .send(source_in::Message::Stop(TaskStop {}))
            .await
            .is_err()
        {
            return;
        }
        let drained = tokio::time::timeout(STOP_TIMEOUT, async {
            loop {
                match self.next_message().await {
                    Ok(source_out::Message::Stopped(_)) | Err(_) => return,
                    // Records polled after the stop are dropped: their offsets were never stored.
                    Ok(_) => {}
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(connector = %self.context.connector_name, task = self.context.task_index, "plugin source task did not stop within 30 s");
        }
        self.stream_opt = None;
    }
}
