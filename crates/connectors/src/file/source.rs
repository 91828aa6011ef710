//! The FileStreamSource task: tails one file, one record per line.

use std::io::{ErrorKind as IoErrorKind, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as JsonValue;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::time::Instant;

use super::{FILENAME_FIELD, POSITION_FIELD};
use crate::sdk::{
    ConnectorError, Schema, SchemaAndValue, SchemaType, SourceOffset, SourcePartition,
    SourceRecord, SourceTask, TaskContext, Value,
};

/// How long an idle `poll` waits for new data before returning an empty batch.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// How often an idle `poll` looks for new data (or for the file to appear).
const RETRY_INTERVAL: Duration = Duration::from_millis(25);
/// How many bytes one read asks for: big reads, never one syscall per line.
const READ_CHUNK: usize = 1 << 20;

/// Reads lines from `path` starting at the stored position, following the file as it grows.
///
/// Lines end with `\n`, `\r\n` or a lone `\r` (Kafka Connect's `FileStreamSourceTask` rules) and
/// are emitted without their terminator, decoded as UTF-8 (invalid bytes become U+FFFD). A last
/// line without its terminator is held back until the terminator arrives; a `\r` at the end of
/// the data read so far is held back too, until the next byte tells whether it starts `\r\n`.
pub(crate) struct FileStreamSourceTask {
    path: String,
    topic: String,
    batch_size: usize,
    partition: SourcePartition,
    schema: Arc<Schema>,
    /// The stored position to resume from when the file is first opened.
    start_position: u64,
    file: Option<File>,
    /// Bytes read from the file and not yet emitted; `pending[consumed..]` is still to parse.
    pending: Vec<u8>,
    consumed: usize,
    /// File position of `pending[0]`.
    pending_position: u64,
    warned_missing: bool,
}

impl FileStreamSourceTask {
    /// Creates the task, reading its stored offset (the file is opened on the first `poll`).
    pub(crate) fn new(
        path: String,
        topic: String,
        batch_size: usize,
        context: &TaskContext,
    ) -> Self {
        let partition = source_partition(&path);
        let start_position = context
            .offset(&partition)
            .and_then(|offset| offset.get(POSITION_FIELD).and_then(json_position))
            .unwrap_or(0);
        FileStreamSourceTask {
            path,
            topic,
            batch_size,
            partition,
            schema: Arc::new(Schema::primitive(SchemaType::String)),
            start_position,
            file: None,
            pending: Vec::new(),
            consumed: 0,
            pending_position: 0,
            warned_missing: false,
        }
    }

    /// Opens the file and seeks to the stored position; `false` when it does not exist yet.
    async fn open(&mut self) -> Result<bool, ConnectorError> {
        let mut file = match File::open(&self.path).await {
            Ok(file) => file,
            Err(error) if error.kind() == IoErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::warn!(file = %self.path, "couldn't find file for FileStreamSource, waiting for it to be created");
                    self.warned_missing = true;
                }
                return Ok(false);
            }
            Err(error) => return Err(self.io_error("open", &error)),
        };
        let length = file
            .metadata()
            .await
            .map_err(|error| self.io_error("stat", &error))?
            .len();
        let mut position = self.start_position;
        if length < position {
            tracing::warn!(file = %self.path, position, length, "file is shorter than the stored position (truncated?), reading it from the start");
            position = 0;
        }
        file.seek(SeekFrom::Start(position))
            .await
            .map_err(|error| self.io_error("seek", &error))?;
        tracing::debug!(file = %self.path, position, "FileStreamSource reading");
        self.file = Some(file);
        self.pending.clear();
        self.consumed = 0;
        self.pending_position = position;
        Ok(true)
    }

    /// Reads the next chunk into `pending`; returns how many bytes were read (0 at end of file).
    async fn read_chunk(&mut self) -> Result<usize, ConnectorError> {
        self.compact();
        self.pending.reserve(READ_CHUNK);
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        match file.read_buf(&mut self.pending).await {
            Ok(read) => Ok(read),
            Err(error) => {
                // Reopen at the last emitted position on the next poll.
                self.start_position = self.pending_position;
                self.file = None;
                Err(self.io_error("read", &error))
            }
        }
    }

    /// Starts over from position 0 when the file shrank below what was read (truncation).
    async fn restart_if_truncated(&mut self) -> Result<(), ConnectorError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let read_up_to = self.pending_position + self.pending.len() as u64;
        let length = match file.metadata().await {
            Ok(metadata) => metadata.len(),
            Err(error) => return Err(self.io_error("stat", &error)),
        };
        if length < read_up_to {
            tracing::warn!(file = %self.path, position = read_up_to, length, "file was truncated, reading it from the start");
            self.start_position = 0;
            self.open().await?;
        }
        Ok(())
    }

    /// Drops the emitted bytes from the front of `pending`.
    fn compact(&mut self) {
        if self.consumed > 0 {
            self.pending.drain(..self.consumed);
            self.pending_position += self.consumed as u64;
            self.consumed = 0;
        }
    }

    /// Moves every complete line of `pending` into `records`, up to the batch size.
    fn extract_lines(&mut self, records: &mut Vec<SourceRecord>) {
        while records.len() < self.batch_size {
            let rest = &self.pending[self.consumed..];
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                return;
            };
            let next = match rest[end] {
                b'\r' if end + 1 >= rest.len() => return, // `\r\n` or lone `\r`: wait and see
                b'\r' if rest[end + 1] == b'\n' => end + 2,
                _ => end + 1,
            };
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            self.consumed += next;
            let position = self.pending_position + self.consumed as u64;
            records.push(self.record(line, position));
        }
    }

    fn record(&self, line: String, position: u64) -> SourceRecord {
        let mut offset = SourceOffset::new();
        offset.insert(POSITION_FIELD.to_string(), JsonValue::from(position));
        SourceRecord::new(
            self.partition.clone(),
            offset,
            self.topic.clone(),
            SchemaAndValue {
                schema: Some(Arc::clone(&self.schema)),
                value: Value::String(line),
            },
        )
    }

    fn io_error(&self, operation: &str, error: &std::io::Error) -> ConnectorError {
        // A local file: a full disk or a missing directory is this node's failure.
        ConnectorError::local(format!(
            "FileStreamSource could not {operation} {}: {error}",
            self.path
        ))
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    /// Returns up to `batch.size` complete lines; when there are none, waits up to 200 ms for
    /// more (checking every 25 ms) and then returns an empty batch.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectorError> {
        let deadline = Instant::now() + IDLE_WAIT;
        while self.file.is_none() {
            if self.open().await? {
                break;
            }
            if Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
        let mut records = Vec::new();
        loop {
            self.extract_lines(&mut records);
            if records.len() >= self.batch_size {
                break;
            }
            if self.read_chunk().await? > 0 {
                continue;
            }
            if !records.is_empty() || Instant::now() >= deadline {
                break;
            }
            self.restart_if_truncated().await?;
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
        self.compact();
        Ok(records)
    }

    async fn stop(&mut self) {
        self.file = None;
    }
}

/// Returns the source partition of `path`: `{"filename": path}`, as Kafka Connect writes it.
pub(crate) fn source_partition(path: &str) -> SourcePartition {
    let mut partition = SourcePartition::new();
    partition.insert(FILENAME_FIELD.to_string(), JsonValue::from(path));
    partition
}

/// Reads a stored position: a JSON integer (Kafka Connect stores a Java `Long`).
fn json_position(value: &JsonValue) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| {
            value
                .as_i64()
                .map(|position| position.max(0).unsigned_abs())
        })
        .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
}
