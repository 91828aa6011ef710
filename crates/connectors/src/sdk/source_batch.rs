//! What a source task's `poll_batch` returns: records, or lines of text in one buffer.

use std::sync::Arc;

use serde_json::Value as JsonValue;

use super::data::{Schema, SchemaAndValue, Value};
use super::record::{SourceOffset, SourcePartition, SourceRecord};

/// The records of one `poll_batch`.
#[derive(Debug)]
pub enum SourceBatch {
    /// Records, each with its own partition, offset and topic.
    Records(Vec<SourceRecord>),
    /// Text lines of one source partition for one topic (a line-oriented source's batch).
    Lines(LineBatch),
}

impl SourceBatch {
    /// Returns the batch as records (a [`LineBatch`] builds one record per line).
    pub fn into_records(self) -> Vec<SourceRecord> {
        match self {
            SourceBatch::Records(records) => records,
            SourceBatch::Lines(lines) => lines.into_records(),
        }
    }
}

/// One line of a [`LineBatch`]: a range of its text and the line's source position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub start: usize,
    pub end: usize,
    /// The position to resume from after this line (the offset stored once it is in Kafka).
    pub position: u64,
}

/// Lines of text of one source partition for one topic, with a null key, no headers and no
/// timestamp: the lines' bytes are in one buffer and the partition, topic and value schema are
/// given once, where a record per line would carry its own. Each line's offset is
/// `{<offset_field>: <position>}`.
#[derive(Debug)]
pub struct LineBatch {
    pub partition: SourcePartition,
    pub topic: String,
    pub offset_field: &'static str,
    pub value_schema: Option<Arc<Schema>>,
    pub text: String,
    pub lines: Vec<Line>,
}

impl LineBatch {
    /// Returns an empty batch.
    pub fn new(
        partition: SourcePartition,
        topic: String,
        offset_field: &'static str,
        value_schema: Option<Arc<Schema>>,
    ) -> Self {
        LineBatch {
            partition,
            topic,
            offset_field,
            value_schema,
            text: String::new(),
            lines: Vec::new(),
        }
    }

    /// Appends a line ending at source position `position`.
    pub fn push(&mut self, line: &str, position: u64) {
        let start = self.text.len();
        self.text.push_str(line);
        self.lines.push(Line {
            start,
            end: self.text.len(),
            position,
        });
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Returns the text of line `index`.
    pub fn line(&self, index: usize) -> &str {
        let line = self.lines[index];
        &self.text[line.start..line.end]
    }

    /// Returns the source offset after line `index`.
    pub fn offset(&self, index: usize) -> SourceOffset {
        let mut offset = SourceOffset::new();
        offset.insert(
            self.offset_field.to_string(),
            JsonValue::from(self.lines[index].position),
        );
        offset
    }

    /// Returns line `index` as a record.
    pub fn record(&self, index: usize) -> SourceRecord {
        SourceRecord::new(
            self.partition.clone(),
            self.offset(index),
            self.topic.clone(),
            SchemaAndValue {
                schema: self.value_schema.clone(),
                value: Value::String(self.line(index).to_string()),
            },
        )
    }

    /// Returns one record per line.
    pub fn into_records(self) -> Vec<SourceRecord> {
        (0..self.len()).map(|index| self.record(index)).collect()
    }
}
