//! The FileStreamSink task: appends each record's value to a file, one line per record.
//!
//! A crash (`kill -9`, a power cut) in the middle of a write can leave the file ending in part
//! of a line: the kernel stops a write of several pages at a page boundary when the process is
//! killed. That write came from a `put` or `flush` that never returned, so none of its records
//! were committed and all of them come again; the task therefore cuts such a torn last line off
//! when it opens the file, before it appends. Every write (and that repair) holds an exclusive
//! `flock` on the file, so tasks appending to the same file never see each other's write half
//! done: a line without its newline at the end of the file, under the lock, is always torn.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use nix::fcntl::{Flock, FlockArg};

use crate::sdk::{ConnectorError, SinkRecord, SinkTask, Value};

/// Bytes buffered before they are written within one put: records go out in big chunks (and
/// at the end of each put), not one syscall per line. Chunks hold whole lines only, each is one
/// `O_APPEND` write under the file's lock, so tasks appending to the same file (one per
/// `tasks.max`) never interleave inside a line.
const WRITE_BUFFER: usize = 1 << 20;
/// How much of the file's end is read at a time when looking for the last newline.
const TAIL_CHUNK: u64 = 64 * 1024;

/// Appends lines to a file (created when missing, never truncated but for a torn last line);
/// `flush` fsyncs.
pub(crate) struct FileStreamSinkTask {
    path: String,
    file: Option<Arc<File>>,
    /// Complete lines not yet written (values are formatted straight into it).
    buffer: String,
}

/// Holds the exclusive `flock` of `file` (through a duplicate of its descriptor, which shares
/// the lock) until dropped.
fn lock(file: &File) -> std::io::Result<Flock<File>> {
    Flock::lock(file.try_clone()?, FlockArg::LockExclusive)
        .map_err(|(_, errno)| std::io::Error::from(errno))
}

/// Opens `path` for appending and cuts off a torn last line (see the module doc); returns the
/// file and how many bytes were cut.
fn open_repaired(path: &str) -> std::io::Result<(File, u64)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let _lock = lock(&file)?;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut last = [0u8; 1];
    if len > 0 {
        file.read_exact_at(&mut last, len - 1)?;
    }
    if len == 0 || last[0] == b'\n' {
        return Ok((file, 0));
    }
    // Where the last complete line ends (0 when there is none).
    let mut chunk = vec![0u8; TAIL_CHUNK as usize];
    let keep = loop {
        let start = end.saturating_sub(TAIL_CHUNK);
        let window = &mut chunk[..usize::try_from(end - start).unwrap_or(0)];
        file.read_exact_at(window, start)?;
        if let Some(index) = window.iter().rposition(|byte| *byte == b'\n') {
            break start + index as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    file.set_len(keep)?;
    Ok((file, len - keep))
}

/// Appends `bytes` to `file` under its lock.
fn append_locked(file: &File, bytes: &[u8]) -> std::io::Result<()> {
    let _lock = lock(file)?;
    let mut writer = file;
    writer.write_all(bytes)?;
    writer.flush()
}

impl FileStreamSinkTask {
    /// Creates the task; the file is opened on first use.
    pub(crate) fn new(path: String) -> Self {
        FileStreamSinkTask {
            path,
            file: None,
            buffer: String::with_capacity(WRITE_BUFFER),
        }
    }

    /// Writes the buffered lines to the file (opening it in append mode when needed).
    async fn write_out(&mut self) -> Result<(), ConnectorError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let file = match &self.file {
            Some(file) => Arc::clone(file),
            None => {
                let path = self.path.clone();
                let opened = tokio::task::spawn_blocking(move || open_repaired(&path))
                    .await
                    .map_err(|error| {
                        ConnectorError::internal(format!("FileStreamSink open panicked: {error}"))
                    })?;
                let (file, cut) = opened.map_err(|error| self.io_error("open", &error))?;
                if cut > 0 {
                    tracing::warn!(
                        file = %self.path,
                        bytes = cut,
                        "FileStreamSink cut off a torn last line (a crash interrupted a write; its records are delivered again)"
                    );
                }
                let file = Arc::new(file);
                self.file = Some(Arc::clone(&file));
                file
            }
        };
        let buffer = std::mem::take(&mut self.buffer);
        let written = tokio::task::spawn_blocking(move || {
            let result = append_locked(&file, buffer.as_bytes());
            (result, buffer)
        })
        .await
        .map_err(|error| {
            ConnectorError::internal(format!("FileStreamSink write panicked: {error}"))
        })?;
        let (result, mut buffer) = written;
        // Written or not, these lines are done with: after an error the runtime delivers the
        // records again from the last committed offset.
        buffer.clear();
        self.buffer = buffer;
        result.map_err(|error| {
            self.file = None;
            self.io_error("write", &error)
        })
    }

    /// Writes everything buffered and syncs the file's data to disk.
    async fn flush_and_sync(&mut self) -> Result<(), ConnectorError> {
        self.write_out().await?;
        let Some(file) = self.file.clone() else {
            return Ok(());
        };
        let synced = tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|error| {
                ConnectorError::internal(format!("FileStreamSink sync panicked: {error}"))
            })?;
        synced.map_err(|error| {
            self.file = None;
            self.io_error("sync", &error)
        })
    }

    fn io_error(&self, operation: &str, error: &std::io::Error) -> ConnectorError {
        // A local file: a full disk or a missing directory is this node's failure.
        ConnectorError::local(format!(
            "FileStreamSink could not {operation} {}: {error}",
            self.path
        ))
    }
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        for record in &records {
            write_value(&mut self.buffer, &record.value.value);
            self.buffer.push('\n');
            if self.buffer.len() >= WRITE_BUFFER {
                self.write_out().await?;
            }
        }
        // What a put received is in the file when it returns (one write per batch), as Kafka
        // Connect's FileStreamSink prints each record at once: a slow stream's lines must not
        // wait for the next commit. `flush` still fsyncs before offsets are committed.
        self.write_out().await
    }

    async fn flush(&mut self) -> Result<(), ConnectorError> {
        self.flush_and_sync().await
    }

    async fn stop(&mut self) {
        if let Err(error) = self.flush_and_sync().await {
            tracing::warn!(%error, "FileStreamSink could not flush on stop");
        }
        self.file = None;
    }
}

/// Writes a value the way Kafka Connect's `FileStreamSinkTask` prints it (Java's `toString`):
/// strings as they are, `null` for null, `Struct{a=1,b=x}` (null fields skipped), `[a, b]` for
/// arrays and `{k=v, k2=v2}` for maps. Where Java's form is useless or locale-bound Ferry writes
/// a readable one instead: bytes as base64, dates as `YYYY-MM-DD`, times as `HH:MM:SS.mmm`,
/// timestamps as ISO 8601 UTC, decimals in plain notation.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(flag) => push_display(out, flag),
        Value::Int8(number) => push_display(out, number),
        Value::Int16(number) => push_display(out, number),
        Value::Int32(number) => push_display(out, number),
        Value::Int64(number) => push_display(out, number),
        Value::Float32(number) => push_float(out, f64::from(*number)),
        Value::Float64(number) => push_float(out, *number),
        Value::String(text) => out.push_str(text),
        Value::Bytes(bytes) => {
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_value(out, key);
                out.push('=');
                write_value(out, item);
            }
            out.push('}');
        }
        Value::Struct(fields) => {
            out.push_str("Struct{");
            let mut first = true;
            for (field, item) in fields.schema.fields.iter().zip(&fields.values) {
                if item.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&field.name);
                out.push('=');
                write_value(out, item);
            }
            out.push('}');
        }
        Value::Decimal(decimal) => push_display(out, decimal),
        Value::Date(days) => {
            let (year, month, day) = civil_from_days(i64::from(*days));
            let _ = write!(out, "{year:04}-{month:02}-{day:02}");
        }
        Value::Time(millis) => push_time(out, i64::from(*millis)),
        Value::Timestamp(millis) => {
            let (year, month, day) = civil_from_days(millis.div_euclid(86_400_000));
            let _ = write!(out, "{year:04}-{month:02}-{day:02}T");
            push_time(out, millis.rem_euclid(86_400_000));
            out.push('Z');
        }
    }
}

fn push_display(out: &mut String, value: &impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

/// Java prints integral doubles with a trailing `.0` (`1.0`), Rust does not.
fn push_float(out: &mut String, number: f64) {
    if number.is_finite() && number.fract() == 0.0 && number.abs() < 1e7 {
        let _ = write!(out, "{number:.1}");
    } else if number.is_nan() {
        out.push_str("NaN");
    } else if number.is_infinite() {
        out.push_str(if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
    } else {
        push_display(out, &number);
    }
}

fn push_time(out: &mut String, millis: i64) {
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    let _ = write!(out, "{hours:02}:{minutes:02}:{seconds:02}.{millis:03}");
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}
