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
    ConnectorError, LineBatch, Schema, SchemaType, SourceBatch, SourcePartition, SourceRecord,
    SourceTask, TaskContext,
};

/// How long an idle `poll` waits for new data before returning an empty batch.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// How often an idle `poll` looks for new data (or for the file to appear).
const RETRY_INTERVAL: Duration = Duration::from_millis(25);
/// How many bytes one read asks for: big reads, never one syscall per line.
const READ_CHUNK: usize = 1 << 20;
/// Lines reserved for a batch at most (a huge `batch.size` grows as lines come).
const MAX_RESERVED_LINES: usize = 16_384;

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
    /// The text size of the last batch, reserved for the next one.
    last_batch_bytes: usize,
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
            last_batch_bytes: 0,
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

    /// Moves every complete line of `pending` into `batch`, up to the batch size (its bytes
    /// are copied into the batch's text, one buffer for the batch).
    fn extract_lines(&mut self, batch: &mut LineBatch) {
        while batch.len() < self.batch_size {
            let rest = &self.pending[self.consumed..];
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                return;
            };
            let next = match rest[end] {
                b'\r' if end + 1 >= rest.len() => return, // `\r\n` or lone `\r`: wait and see
                b'\r' if rest[end + 1] == b'\n' => end + 2,
                _ => end + 1,
            };
            let position = self.pending_position + (self.consumed + next) as u64;
            match std::str::from_utf8(&rest[..end]) {
                Ok(line) => batch.push(line, position),
                Err(_) => batch.push(&String::from_utf8_lossy(&rest[..end]), position),
            }
            self.consumed += next;
        }
    }

    fn new_batch(&self) -> LineBatch {
        let mut batch = LineBatch::new(
            self.partition.clone(),
            self.topic.clone(),
            POSITION_FIELD,
            Some(Arc::clone(&self.schema)),
        );
        batch.text.reserve(self.last_batch_bytes);
        batch.lines.reserve(self.batch_size.min(MAX_RESERVED_LINES));
        batch
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
        Ok(self.poll_batch().await?.into_records())
    }

    /// [`FileStreamSourceTask::poll`] as one [`LineBatch`].
    ///
    /// # Cancel safety
    /// Not cancel-safe: lines taken from the read buffer before a cancelled read are lost (the
    /// runtime cancels a poll only to stop the task, and their offsets are not stored).
    async fn poll_batch(&mut self) -> Result<SourceBatch, ConnectorError> {
        let deadline = Instant::now() + IDLE_WAIT;
        while self.file.is_none() {
            if self.open().await? {
                break;
            }
            if Instant::now() >= deadline {
                return Ok(SourceBatch::Lines(self.new_batch()));
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
        let mut batch = self.new_batch();
        loop {
            self.extract_lines(&mut batch);
            if batch.len() >= self.batch_size {
                break;
            }
            if self.read_chunk().await? > 0 {
                continue;
            }
            if !batch.is_empty() || Instant::now() >= deadline {
                break;
            }
            self.restart_if_truncated().await?;
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
        self.compact();
        self.last_batch_bytes = batch.text.len();
        Ok(SourceBatch::Lines(batch))
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
