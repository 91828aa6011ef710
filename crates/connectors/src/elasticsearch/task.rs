//! The sink task: records → bulk actions → batches → up to `max.in.flight.requests` concurrent
//! `_bulk` requests; `flush` waits for all of them.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::task::JoinHandle;

use super::bulk::{index_name, Action, ActionBuilder, Origin, RecordProblem};
use super::client::{handle_malformed, EsClient};
use super::mapping::index_mapping;
use super::Settings;
use crate::sdk::{ConnectorError, SinkRecord, SinkTask, TaskContext};

type BulkResult = Result<(), ConnectorError>;

/// Writes records to Elasticsearch.
pub(crate) struct ElasticsearchSinkTask {
    settings: Settings,
    client: Arc<EsClient>,
    builder: ActionBuilder,
    /// Indices created (or found) by this task.
    indices: HashSet<String>,
    /// Indices whose mapping this task checked.
    mapped: HashSet<String>,
    batch: Vec<Action>,
    batch_bytes: usize,
    batch_started: Option<Instant>,
    /// Bulk requests in flight, oldest first.
    in_flight: VecDeque<JoinHandle<BulkResult>>,
    name: String,
    /// Receives the records skipped under `errors.tolerance=all` (logged, dead-lettered).
    errant_opt: Option<Arc<dyn crate::sdk::ErrantRecordReporter>>,
}

impl ElasticsearchSinkTask {
    /// Creates the task (no I/O).
    pub(crate) fn new(settings: Settings, context: &TaskContext) -> Result<Self, ConnectorError> {
        let name = format!("{}-{}", context.connector_name, context.task_index);
        if let Some(type_name) = &settings.type_name {
            tracing::info!(
                task = %name,
                type_name = %type_name,
                "type.name is ignored: Elasticsearch 7+ and OpenSearch have no mapping types"
            );
        }
        let errant_opt = context.errant_reporter();
        let malformed_reporter_opt = if settings.reports_errant_records {
            errant_opt.clone()
        } else {
            None
        };
        Ok(ElasticsearchSinkTask {
            client: Arc::new(
                EsClient::new(&settings)?.with_errant_reporter(malformed_reporter_opt),
            ),
            builder: ActionBuilder::new(),
            indices: HashSet::new(),
            mapped: HashSet::new(),
            batch: Vec::new(),
            batch_bytes: 0,
            batch_started: None,
            in_flight: VecDeque::new(),
            name,
            settings,
            errant_opt,
        })
    }

    /// Creates the record's index on first use and, with schemas, its mapping.
    async fn prepare_index(&mut self, record: &SinkRecord, index: &str) -> BulkResult {
        if !self.indices.contains(index) {
            self.client.ensure_index(index).await?;
            self.indices.insert(index.to_string());
        }
        if self.settings.ignores_schema(&record.topic) || self.mapped.contains(index) {
            return Ok(());
        }
        if record.value.value.is_null() {
            // A tombstone says nothing about the documents' shape.
            return Ok(());
        }
        let Some(schema) = record.value.schema.as_deref() else {
            return Err(ConnectorError::user(format!(
                "The record from {} has no value schema, which schema.ignore=false needs to create the mapping of index {index}; set schema.ignore=true for schemaless data (e.g. JsonConverter with schemas.enable=false)",
                Origin::of(record)
            )));
        };
        let mapping = index_mapping(schema).map_err(|reason| {
            ConnectorError::user(format!("The record from {}: {reason}", Origin::of(record)))
        })?;
        self.client.ensure_mapping(index, &mapping).await?;
        self.mapped.insert(index.to_string());
        Ok(())
    }

    /// Applies `errors.tolerance` / `drop.invalid.message` to a record that cannot be written.
    fn skip_or_fail(&self, record: &SinkRecord, message: String) -> BulkResult {
        if self.settings.tolerate_all || self.settings.drop_invalid_message {
            tracing::warn!(task = %self.name, "skipping a record: {message}");
            if self.settings.tolerate_all {
                if let Some(reporter) = &self.errant_opt {
                    reporter.report(crate::sdk::ErrantRecord::of(record, message));
                }
            }
            Ok(())
        } else {
            Err(ConnectorError::user(message))
        }
    }

    /// Sends the current batch as one bulk request, waiting first for a free slot.
    async fn dispatch(&mut self) -> BulkResult {
        if self.batch.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= self.settings.max_in_flight {
            if let Some(oldest) = self.in_flight.pop_front() {
                self.await_request(oldest).await?;
            }
        }
        let actions = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.batch_started = None;
        let client = Arc::clone(&self.client);
        self.in_flight
            .push_back(tokio::spawn(async move { client.bulk(actions).await }));
        Ok(())
    }

    /// Waits for one bulk request, within `flush.timeout.ms`.
    async fn await_request(&mut self, handle: JoinHandle<BulkResult>) -> BulkResult {
        match tokio::time::timeout(self.settings.flush_timeout, handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(ConnectorError::internal(format!(
                "a bulk request task ended abnormally: {join_error}"
            ))),
            Err(_) => Err(ConnectorError::external(format!(
                "a bulk request did not complete within flush.timeout.ms ({} ms)",
                self.settings.flush_timeout.as_millis()
            ))),
        }
    }

    /// Collects the requests that already finished, surfacing their errors early.
    async fn reap_finished(&mut self) -> BulkResult {
        while self.in_flight.front().is_some_and(JoinHandle::is_finished) {
            if let Some(done) = self.in_flight.pop_front() {
                self.await_request(done).await?;
            }
        }
        Ok(())
    }

    fn abort_all(&mut self) {
        for handle in self.in_flight.drain(..) {
            handle.abort();
        }
        self.batch.clear();
        self.batch_bytes = 0;
        self.batch_started = None;
    }
}

#[async_trait]
impl SinkTask for ElasticsearchSinkTask {
    async fn put(&mut self, records: Vec<SinkRecord>) -> BulkResult {
        let result = async {
            self.reap_finished().await?;
            for record in &records {
                let index = index_name(&record.topic);
                self.prepare_index(record, &index).await?;
                match self.builder.action(&self.settings, record, &index) {
                    Ok(Some(action)) => {
                        self.batch_bytes += action.size();
                        self.batch.push(action);
                        self.batch_started.get_or_insert_with(Instant::now);
                    }
                    Ok(None) => {}
                    Err(RecordProblem::Invalid(message)) => self.skip_or_fail(record, message)?,
                    Err(RecordProblem::Malformed(reason)) => handle_malformed(
                        self.settings.malformed_documents,
                        self.client.errant_reporter(),
                        &Origin::of(record),
                        &index,
                        &reason,
                    )?,
                }
                if self.batch.len() >= self.settings.batch_size
                    || self.batch_bytes >= self.settings.bulk_size_bytes
                {
                    self.dispatch().await?;
                }
            }
            if self
                .batch_started
                .is_some_and(|started| started.elapsed() >= self.settings.linger)
            {
                self.dispatch().await?;
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            self.abort_all();
        }
        result
    }

    /// Sends what is buffered and returns once the server acknowledged every bulk request.
    async fn flush(&mut self) -> BulkResult {
        let result = async {
            self.dispatch().await?;
            let deadline = tokio::time::Instant::now() + self.settings.flush_timeout;
            while let Some(handle) = self.in_flight.pop_front() {
                match tokio::time::timeout_at(deadline, handle).await {
                    Ok(Ok(result)) => result?,
                    Ok(Err(join_error)) => {
                        return Err(ConnectorError::internal(format!(
                            "a bulk request task ended abnormally: {join_error}"
                        )))
                    }
                    Err(_) => {
                        return Err(ConnectorError::external(format!(
                            "flush did not complete within flush.timeout.ms ({} ms)",
                            self.settings.flush_timeout.as_millis()
                        )))
                    }
                }
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            self.abort_all();
        }
        result
    }

    async fn stop(&mut self) {
        // Unflushed records are not committed: the next owner writes them again.
        self.abort_all();
    }
}
