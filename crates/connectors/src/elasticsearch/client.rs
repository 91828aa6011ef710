//! The HTTP side: index creation, mappings and `_bulk` requests, each retried with backoff on
//! connection errors, 429 and 5xx. Requests rotate over the `connection.url` entries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, Url};

use std::sync::Arc;

use super::bulk::{
    backoff, bulk_body, classify_status, parse_bulk_response, snippet, Action, ItemOutcome, Origin,
    StatusClass,
};
use super::{MalformedBehavior, Settings};
use crate::sdk::{ConnectorError, ErrantRecord, ErrantRecordReporter};

/// The least read timeout of index and mapping requests: creating an index waits for its
/// primary shards, which takes seconds on a busy node.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP answer.
struct Answer {
    status: u16,
    body: bytes::Bytes,
}

/// A client of one Elasticsearch/OpenSearch cluster.
pub(crate) struct EsClient {
    http: reqwest::Client,
    urls: Vec<Url>,
    next: AtomicUsize,
    credentials: Option<(String, String)>,
    read_timeout: Duration,
    max_retries: u32,
    retry_backoff: Duration,
    malformed: MalformedBehavior,
    retry_on_conflict: usize,
    /// Where skipped malformed documents are reported (see [`EsClient::with_errant_reporter`]).
    errant_opt: Option<Arc<dyn ErrantRecordReporter>>,
}

impl EsClient {
    /// Creates a client (no I/O).
    pub(crate) fn new(settings: &Settings) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connection_timeout.max(Duration::from_millis(1)))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| {
                ConnectorError::internal(format!("cannot create the HTTP client: {error}"))
            })?;
        Ok(EsClient {
            http,
            urls: settings.urls.clone(),
            next: AtomicUsize::new(0),
            credentials: settings.credentials.clone(),
            read_timeout: settings.read_timeout,
            max_retries: settings.max_retries,
            retry_backoff: settings.retry_backoff,
            malformed: settings.malformed_documents,
            retry_on_conflict: settings.max_in_flight.min(5),
            errant_opt: None,
        })
    }

    /// Returns the reporter of skipped malformed documents, if any.
    pub(crate) fn errant_reporter(&self) -> Option<&dyn ErrantRecordReporter> {
        self.errant_opt.as_deref()
    }

    /// Reports the records of malformed documents that `behavior.on.malformed.documents`
    /// skips to `reporter` (the runtime then applies `errors.tolerance` and the DLQ).
    #[must_use]
    pub(crate) fn with_errant_reporter(
        mut self,
        reporter_opt: Option<Arc<dyn ErrantRecordReporter>>,
    ) -> Self {
        self.errant_opt = reporter_opt;
        self
    }

    /// Returns the next base URL (round robin) joined with `path`.
    fn url(&self, path: &str) -> String {
        let base = &self.urls[self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len()];
        format!("{}{path}", base.as_str().trim_end_matches('/'))
    }

    /// Sends one request; `Err` is a transport failure (connect, timeout, broken connection).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let url = self.url(path);
        let mut request = self.http.request(method.clone(), &url);
        if !timeout.is_zero() {
            request = request.timeout(timeout);
        }
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            let content_type = if path.ends_with("_bulk") {
                "application/x-ndjson"
            } else {
                "application/json"
            };
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("{method} {url}: {}", error_chain(&error)))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|error| {
            format!(
                "{method} {url}: reading the answer: {}",
                error_chain(&error)
            )
        })?;
        Ok(Answer { status, body })
    }

    /// Waits before retry `attempt`, or returns the final error when retries are used up.
    async fn pause_or_give_up(
        &self,
        attempt: u32,
        what: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        if attempt >= self.max_retries {
            return Err(ConnectorError::external(format!(
                "{what} failed after {} attempt(s) (max.retries={}): {reason}",
                attempt + 1,
                self.max_retries
            )));
        }
        let delay = backoff(attempt, self.retry_backoff, rand::random::<f64>());
        tracing::warn!(
            attempt = attempt + 1,
            max_retries = self.max_retries,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "{what} failed, retrying: {reason}"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Sends a small admin request with retries; returns the first non-retryable answer.
    async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        what: &str,
    ) -> Result<Answer, ConnectorError> {
        let timeout = self.read_timeout.max(ADMIN_TIMEOUT);
        let mut attempt = 0;
        loop {
            let reason = match self
                .send(method.clone(), path, body.map(<[u8]>::to_vec), timeout)
                .await
            {
                Ok(answer) => match classify_status(answer.status) {
                    StatusClass::Retry => {
                        format!("HTTP {}: {}", answer.status, snippet(&answer.body))
                    }
                    StatusClass::Unauthorized => {
                        return Err(unauthorized(what, &answer));
                    }
                    StatusClass::Success | StatusClass::Fail => return Ok(answer),
                },
                Err(transport) => transport,
            };
            self.pause_or_give_up(attempt, what, &reason).await?;
            attempt += 1;
        }
    }

    /// Creates `index` unless it exists.
    pub(crate) async fn ensure_index(&self, index: &str) -> Result<(), ConnectorError> {
        let what = format!("checking index {index}");
        let exists = self
            .admin(Method::HEAD, &format!("/{index}"), None, &what)
            .await?;
        if exists.status == 200 {
            return Ok(());
        }
        let what = format!("creating index {index}");
        let created = self
            .admin(Method::PUT, &format!("/{index}"), None, &what)
            .await?;
        let already = created.status == 400
            && String::from_utf8_lossy(&created.body).contains("resource_already_exists_exception");
        if created.status == 200 || already {
            if !already {
                tracing::info!(index, "created index");
            }
            return Ok(());
        }
        Err(ConnectorError::user(format!(
            "{what}: HTTP {}: {}",
            created.status,
            snippet(&created.body)
        )))
    }

    /// Puts `mapping` on `index` unless the index already has field mappings.
    pub(crate) async fn ensure_mapping(
        &self,
        index: &str,
        mapping: &serde_json::Value,
    ) -> Result<(), ConnectorError> {
        let what = format!("reading the mapping of index {index}");
        let current = self
            .admin(Method::GET, &format!("/{index}/_mapping"), None, &what)
            .await?;
        if current.status != 200 {
            return Err(ConnectorError::user(format!(
                "{what}: HTTP {}: {}",
                current.status,
                snippet(&current.body)
            )));
        }
        if has_field_mappings(&current.body) {
            return Ok(());
        }
        let what = format!("putting the mapping of index {index}");
        let body = serde_json::to_vec(mapping)
            .map_err(|error| ConnectorError::internal(format!("{what}: {error}")))?;
        let answer = self
            .admin(
                Method::PUT,
                &format!("/{index}/_mapping"),
                Some(&body),
                &what,
            )
            .await?;
        if answer.status == 200 {
            tracing::info!(index, "created the index mapping from the record schema");
            return Ok(());
        }
        Err(ConnectorError::user(format!(
            "{what}: HTTP {}: {}",
            answer.status,
            snippet(&answer.body)
        )))
    }

    /// Writes `actions` with `_bulk`, retrying the whole request or the items that failed with
    /// 429/5xx. Returns once every action is written or deliberately skipped.
    ///
    /// # Errors
    /// External after the retries are used up or on an unexpected failure; User for a document
    /// rejected as malformed under `behavior.on.malformed.documents=fail` or bad credentials.
    pub(crate) async fn bulk(&self, actions: Vec<Action>) -> Result<(), ConnectorError> {
        let mut pending = actions;
        let mut attempt = 0;
        loop {
            let what = format!("bulk request of {} action(s)", pending.len());
            let body = bulk_body(&pending, self.retry_on_conflict);
            let reason = match self
                .send(Method::POST, "/_bulk", Some(body), self.read_timeout)
                .await
            {
                Err(transport) => transport,
                Ok(answer) => match classify_status(answer.status) {
                    StatusClass::Success => {
                        let outcomes =
                            parse_bulk_response(&answer.body, pending.len()).map_err(|reason| {
                                ConnectorError::external(format!("{what}: {reason}"))
                            })?;
                        let retry = self.settle(pending, outcomes)?;
                        if retry.is_empty() {
                            return Ok(());
                        }
                        let reason = retry[0].1.clone();
                        pending = retry.into_iter().map(|(action, _)| action).collect();
                        format!("{} item(s) not written: {reason}", pending.len())
                    }
                    StatusClass::Retry => {
                        format!("HTTP {}: {}", answer.status, snippet(&answer.body))
                    }
                    StatusClass::Unauthorized => return Err(unauthorized(&what, &answer)),
                    StatusClass::Fail => {
                        return Err(ConnectorError::external(format!(
                            "{what} was refused: HTTP {}: {}",
                            answer.status,
                            snippet(&answer.body)
                        )))
                    }
                },
            };
            self.pause_or_give_up(attempt, &what, &reason).await?;
            attempt += 1;
        }
    }

    /// Handles per-item outcomes; returns the actions to retry with their reasons.
    fn settle(
        &self,
        actions: Vec<Action>,
        outcomes: Vec<ItemOutcome>,
    ) -> Result<Vec<(Action, String)>, ConnectorError> {
        let mut retry = Vec::new();
        for (action, outcome) in actions.into_iter().zip(outcomes) {
            match outcome {
                ItemOutcome::Done => {}
                ItemOutcome::VersionConflict => tracing::debug!(
                    origin = %action.origin,
                    id = %action.id,
                    "the index already holds this or a newer version of the document"
                ),
                ItemOutcome::Malformed(reason) => handle_malformed(
                    self.malformed,
                    self.errant_opt.as_deref(),
                    &action.origin,
                    &action.index,
                    &reason,
                )?,
                ItemOutcome::Retry(reason) => retry.push((action, reason)),
                ItemOutcome::Failed(reason) => {
                    return Err(ConnectorError::external(format!(
                        "Elasticsearch refused the document of the record from {} (index {}, id {}): {reason}",
                        action.origin, action.index, action.id
                    )))
                }
            }
        }
        Ok(retry)
    }
}

/// Applies `behavior.on.malformed.documents` to a document that cannot be written; a skipped
/// one is reported to `reporter_opt` (the errant-record path: DLQ or task failure, as
/// `errors.tolerance` says).
pub(crate) fn handle_malformed(
    behavior: MalformedBehavior,
    reporter_opt: Option<&dyn ErrantRecordReporter>,
    origin: &Origin,
    index: &str,
    reason: &str,
) -> Result<(), ConnectorError> {
    let report = || {
        if let Some(reporter) = reporter_opt {
            reporter.report(ErrantRecord {
                topic: origin.topic.clone(),
                partition: origin.partition,
                offset: origin.offset,
                error: format!("Indexing failed (index {index}): {reason}"),
            });
        }
    };
    let origin = origin.to_string();
    let origin = origin.as_str();
    match behavior {
        MalformedBehavior::Ignore => {
            tracing::debug!(origin, index, reason, "ignoring a malformed document");
            report();
            Ok(())
        }
        MalformedBehavior::Warn => {
            tracing::warn!(origin, index, reason, "skipping a malformed document (behavior.on.malformed.documents=warn)");
            report();
            Ok(())
        }
        MalformedBehavior::Fail => Err(ConnectorError::user(format!(
            "Elasticsearch rejected the document of the record from {origin} (index {index}) as malformed: {reason}; set behavior.on.malformed.documents to 'warn' or 'ignore' to skip such records"
        ))),
    }
}

fn unauthorized(what: &str, answer: &Answer) -> ConnectorError {
    ConnectorError::user(format!(
        "{what}: HTTP {} (check connection.username / connection.password and the user's privileges): {}",
        answer.status,
        snippet(&answer.body)
    ))
}

/// Returns true when a `GET /<index>/_mapping` answer shows field mappings.
pub(crate) fn has_field_mappings(body: &[u8]) -> bool {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    json.as_object()
        .into_iter()
        .flat_map(|indices| indices.values())
        .any(|index| {
            index["mappings"]["properties"]
                .as_object()
                .is_some_and(|properties| !properties.is_empty())
        })
}

/// An error with its sources, e.g. "error sending request: connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
