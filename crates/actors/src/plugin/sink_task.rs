//! A plugin's sink task behind the SDK's `SinkTask`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_connectors::sdk::{
    ConnectorError, SinkRecord, SinkTask, TaskContext, TopicPartition, Value,
};
use ferry_plugin::proto::{
    self, sink_in, sink_out, PreCommit, SinkBatch, SinkContextRequests, SinkIn, TaskStart,
    TaskStop, TopicPartitionOffset,
};
use ferry_plugin::PluginHost;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use super::{converter_worker_props, plugin_error, split_task_config};

const STOP_TIMEOUT: Duration = Duration::from_secs(30);

struct Stream {
    tx: mpsc::Sender<SinkIn>,
    inbound: Streaming<proto::SinkOut>,
    /// Errant records the plugin reported in this stream, and how many of them it was told
    /// are handled.
    errant_reported: u64,
    errant_told: u64,
}

/// A sink task running in a plugin process.
pub(crate) struct PluginSinkTask {
    host: Arc<PluginHost>,
    class: String,
    context: TaskContext,
    worker_config: BTreeMap<String, String>,
    stream_opt: Option<Stream>,
}

impl PluginSinkTask {
    pub(crate) fn new(
        host: Arc<PluginHost>,
        class: String,
        context: TaskContext,
        worker_props: &BTreeMap<String, String>,
    ) -> Self {
        PluginSinkTask {
            host,
            class,
            context,
            worker_config: converter_worker_props(worker_props),
            stream_opt: None,
        }
    }

    fn lost(&self, what: &str) -> ConnectorError {
        ConnectorError::external(format!(
            "plugin process `{}` lost sink task {}-{}: {what}",
            self.host.name(),
            self.context.connector_name,
            self.context.task_index
        ))
    }

    async fn ensure_started(&mut self) -> Result<(), ConnectorError> {
        if self.stream_opt.is_some() {
            return Ok(());
        }
        let mut client = self
            .host
            .client()
            .await
            .map_err(|error| ConnectorError::external(error.to_string()))?;
        let (tx, rx) = mpsc::channel(16);
        let (task_config, connector_config) = split_task_config(self.context.config.as_map());
        let start = TaskStart {
            connector: self.context.connector_name.clone(),
            task_index: self.context.task_index,
            class_name: self.class.clone(),
            config: task_config.into_iter().collect(),
            worker_config: self.worker_config.clone().into_iter().collect(),
            connector_config: connector_config.into_iter().collect(),
        };
        let _ = tx
            .send(SinkIn {
                message: Some(sink_in::Message::Start(start)),
            })
            .await;
        let inbound = client
            .sink_task(ReceiverStream::new(rx))
            .await
            .map_err(|status| self.lost(status.message()))?
            .into_inner();
        self.stream_opt = Some(Stream {
            tx,
            inbound,
            errant_reported: 0,
            errant_told: 0,
        });
        match self.next_message().await? {
            sink_out::Message::Started(_) => Ok(()),
            sink_out::Message::Error(error) => Err(plugin_error(&error)),
            other => Err(ConnectorError::internal(format!(
                "plugin sent {other:?} before the task started"
            ))),
        }
    }

    /// Returns the plugin's next answer; errant-record reports that come before it go to the
    /// runtime's reporter.
    async fn next_message(&mut self) -> Result<sink_out::Message, ConnectorError> {
        loop {
            let Some(stream) = self.stream_opt.as_mut() else {
                return Err(self.lost("not started"));
            };
            let message = match stream.inbound.message().await {
                Ok(Some(proto::SinkOut {
                    message: Some(message),
                })) => message,
                Ok(Some(_)) => {
                    return Err(ConnectorError::internal("plugin sent an empty message"))
                }
                Ok(None) => return Err(self.lost("the stream ended")),
                Err(status) => return Err(self.lost(status.message())),
            };
            let sink_out::Message::Errant(errant) = message else {
                return Ok(message);
            };
            stream.errant_reported += 1;
            if self.context.errant_reporter().is_none() {
                return Err(ConnectorError::internal(
                    "plugin reported an errant record but the runtime gave no reporter",
                ));
            }
            self.context.report_errant(
                &errant.topic,
                errant.partition,
                errant.offset,
                &errant.error,
            );
        }
    }

    /// Tells the plugin how many of its errant records are handled, when that changed.
    async fn tell_errant_handled(&mut self) -> Result<(), ConnectorError> {
        let Some(reporter) = self.context.errant_reporter() else {
            return Ok(());
        };
        let Some(stream) = self.stream_opt.as_mut() else {
            return Ok(());
        };
        // The reporter counts every record of this task run, all from this stream.
        let handled = reporter.handled().min(stream.errant_reported);
        if handled <= stream.errant_told {
            return Ok(());
        }
        stream.errant_told = handled;
        self.send(sink_in::Message::ErrantHandled(proto::ErrantHandled {
            handled,
        }))
        .await
    }

    async fn send(&self, message: sink_in::Message) -> Result<(), ConnectorError> {
        let Some(stream) = &self.stream_opt else {
            return Err(self.lost("not started"));
        };
        stream
            .tx
            .send(SinkIn {
                message: Some(message),
            })
            .await
            .map_err(|_| self.lost("its stream closed"))
    }

    /// Sends one call and waits for its `Done` (or `Retry`, returned as
    /// `Ok(Some((delay, message)))`).
    async fn call(
        &mut self,
        message: sink_in::Message,
    ) -> Result<Option<(Duration, String)>, ConnectorError> {
        self.ensure_started().await?;
        self.tell_errant_handled().await?;
        self.send(message).await?;
        match self.next_message().await? {
            sink_out::Message::Done(done) => {
                self.apply_context(done.context.unwrap_or_default())?;
                Ok(None)
            }
            sink_out::Message::Retry(retry) => Ok(Some((
                Duration::from_millis(u64::try_from(retry.timeout_ms).unwrap_or(0)),
                retry.message,
            ))),
            sink_out::Message::Error(error) => Err(plugin_error(&error)),
            other => Err(ConnectorError::internal(format!(
                "plugin sent {other:?} instead of an answer"
            ))),
        }
    }

    /// Hands the SinkTaskContext calls made during the last call to the runtime's consumer.
    fn apply_context(&self, requests: SinkContextRequests) -> Result<(), ConnectorError> {
        let asked = !requests.rewind.is_empty()
            || !requests.pause.is_empty()
            || !requests.resume.is_empty()
            || requests.request_commit;
        if !asked {
            return Ok(());
        }
        let Some(control) = self.context.sink_control() else {
            return Err(ConnectorError::internal(
                "the runtime gave this sink task no consumer control",
            ));
        };
        for rewind in requests.rewind {
            control.offset(
                TopicPartition {
                    topic: rewind.topic,
                    partition: rewind.partition,
                },
                rewind.offset,
            );
        }
        let topic_partitions = |list: Vec<proto::TopicPartition>| {
            list.into_iter()
                .map(|tp| TopicPartition {
                    topic: tp.topic,
                    partition: tp.partition,
                })
                .collect::<Vec<_>>()
        };
        // In the order Kafka Connect's context keeps them: a set of paused partitions.
        control.pause(topic_partitions(requests.pause));
        control.resume(topic_partitions(requests.resume));
        if requests.request_commit {
            control.request_commit();
        }
        Ok(())
    }
}

fn partitions(partitions: &[TopicPartition]) -> proto::Partitions {
    proto::Partitions {
        partitions: partitions
            .iter()
            .map(|tp| proto::TopicPartition {
                topic: tp.topic.clone(),
                partition: tp.partition,
            })
            .collect(),
    }
}

/// The bytes the runtime's ByteArrayConverter produced (`None` for a null).
fn raw_bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::Bytes(bytes) => Some(bytes),
        _ => None,
    }
}

#[async_trait]
impl SinkTask for PluginSinkTask {
    async fn open(&mut self, assigned: &[TopicPartition]) -> Result<(), ConnectorError> {
        self.call(sink_in::Message::Open(partitions(assigned)))
            .await
            .map(|_| ())
    }

    /// Delivers the batch; on `RetriableException` delivers the same batch again after the
    /// task's timeout, as Kafka Connect's WorkerSinkTask does.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        let batch = SinkBatch {
            records: records
                .into_iter()
                .map(|record| proto::SinkRecord {
                    topic: record.topic,
                    partition: record.kafka_partition,
                    offset: record.kafka_offset,
                    timestamp_type: i32::from(record.timestamp.is_some()),
                    timestamp: record.timestamp,
                    key: raw_bytes(record.key.value).map(Into::into),
                    value: raw_bytes(record.value.value).map(Into::into),
                    headers: record
                        .headers
                        .into_iter()
                        .map(|header| proto::Header {
                            key: header.key,
                            value: raw_bytes(header.value.value),
                        })
                        .collect(),
                })
                .collect(),
        };
        // Cloned for each attempt: the topics are copied, the record bytes (`Bytes`) shared.
        let reporter_opt = self.context.retry_reporter();
        let mut retried = false;
        loop {
            match self.call(sink_in::Message::Put(batch.clone())).await? {
                None => {
                    if let (true, Some(reporter)) = (retried, &reporter_opt) {
                        reporter.recovered();
                    }
                    return Ok(());
                }
                Some((delay, message)) => {
                    tracing::info!(connector = %self.context.connector_name, task = self.context.task_index, ?delay, "sink task asked for redelivery");
                    if let Some(reporter) = &reporter_opt {
                        // Counted and shown in the status; fails the task past
                        // errors.retry.timeout.
                        reporter.retrying(&ConnectorError::external(format!(
                            "put threw RetriableException: {message}"
                        )))?;
                    }
                    retried = true;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// The plugin's task ends with its error: the worker restarts it. A `RetriableException`
    /// from `put` is retried above, with the same batch, as Kafka Connect does.
    fn retries_in_place(&self) -> bool {
        false
    }

    async fn flush(&mut self) -> Result<(), ConnectorError> {
        self.pre_commit(BTreeMap::new()).await.map(|_| ())
    }

    async fn pre_commit(
        &mut self,
        current: BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, i64>, ConnectorError> {
        self.ensure_started().await?;
        self.tell_errant_handled().await?;
        let current = current
            .into_iter()
            .map(|(tp, offset)| TopicPartitionOffset {
                topic: tp.topic,
                partition: tp.partition,
                offset,
            })
            .collect();
        self.send(sink_in::Message::PreCommit(PreCommit { current }))
            .await?;
        match self.next_message().await? {
            sink_out::Message::Committable(committable) => {
                self.apply_context(committable.context.unwrap_or_default())?;
                Ok(committable
                    .offsets
                    .into_iter()
                    .map(|offset| {
                        (
                            TopicPartition {
                                topic: offset.topic,
                                partition: offset.partition,
                            },
                            offset.offset,
                        )
                    })
                    .collect())
            }
            sink_out::Message::Error(error) => Err(plugin_error(&error)),
            other => Err(ConnectorError::internal(format!(
                "plugin sent {other:?} instead of committable offsets"
            ))),
        }
    }

    async fn close(&mut self, revoked: &[TopicPartition]) -> Result<(), ConnectorError> {
        if self.stream_opt.is_none() {
            return Ok(());
        }
        self.call(sink_in::Message::Close(partitions(revoked)))
            .await
            .map(|_| ())
    }

    async fn stop(&mut self) {
        if self.stream_opt.is_none() {
            return;
        }
        if self
            .send(sink_in::Message::Stop(TaskStop {}))
            .await
            .is_err()
        {
            return;
        }
        let drained = tokio::time::timeout(STOP_TIMEOUT, async {
            loop {
                match self.next_message().await {
                    Ok(sink_out::Message::Stopped(_)) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(connector = %self.context.connector_name, task = self.context.task_index, "plugin sink task did not stop within 30 s");
        }
        self.stream_opt = None;
    }
}
