//! Turns the records of one `put` into batches of rows, before any I/O: consecutive records for
//! the same table, operation and schemas form one batch. Every record is checked here (schemas,
//! key rules, value types), so a bad record is named with its topic, partition and offset
//! without touching the database.

use std::collections::HashMap;
use std::sync::Arc;

use super::config::{InsertMode, JdbcSinkConfig, PkMode, TOPIC_PLACEHOLDER};
use super::fields::{extract_fields, ColumnSource, FieldRules, FieldsMetadata};
use super::sql::TableId;
use super::values::{to_sql_value, SqlValue};
use crate::sdk::{Schema, SinkRecord, Value};

/// What a batch does to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Insert,
    Upsert,
    Update,
    Delete,
}

/// Where a row came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordOrigin {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

impl std::fmt::Display for RecordOrigin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "topic {} partition {} offset {}",
            self.topic, self.partition, self.offset
        )
    }
}

/// One row: key column values then other column values (deletes: key values only).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) values: Vec<SqlValue>,
    pub(crate) origin: RecordOrigin,
}

/// Consecutive rows for one table, operation and set of columns.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) table: TableId,
    pub(crate) operation: Operation,
    pub(crate) fields: Arc<FieldsMetadata>,
    pub(crate) rows: Vec<Row>,
}

/// A record the plan refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRecord {
    pub(crate) origin: RecordOrigin,
    pub(crate) reason: String,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "JDBC sink cannot write the record at {}: {}",
            self.origin, self.reason
        )
    }
}

/// Returns the table for `topic` from `table.name.format`.
pub(crate) fn table_for_topic(format: &str, topic: &str) -> TableId {
    let (schema_opt, name) =
        super::config::split_table_name_format(format).unwrap_or((None, format.to_string()));
    TableId {
        schema_opt: schema_opt.map(|schema| schema.replace(TOPIC_PLACEHOLDER, topic)),
        name: name.replace(TOPIC_PLACEHOLDER, topic),
    }
}

/// Key schema, value schema, and their columns.
type CachedFields = (
    Option<Arc<Schema>>,
    Option<Arc<Schema>>,
    Arc<FieldsMetadata>,
);

/// The last schemas seen and their columns: records of one topic usually share schemas, so
/// the columns are worked out once per run of equal schemas.
#[derive(Default)]
struct FieldsCache {
    last_opt: Option<CachedFields>,
}

fn same_schema(left: Option<&Arc<Schema>>, right: Option<&Arc<Schema>>) -> bool {
    match (left, right) {
        (None, None) => true,
        (Some(left), Some(right)) => Arc::ptr_eq(left, right) || left == right,
        _ => false,
    }
}

impl FieldsCache {
    fn fields(
        &mut self,
        rules: FieldRules<'_>,
        key_schema_opt: Option<&Arc<Schema>>,
        value_schema_opt: Option<&Arc<Schema>>,
    ) -> Result<Arc<FieldsMetadata>, String> {
        if let Some((key, value, fields)) = &self.last_opt {
            if same_schema(key.as_ref(), key_schema_opt)
                && same_schema(value.as_ref(), value_schema_opt)
            {
                return Ok(Arc::clone(fields));
            }
        }
        let fields = Arc::new(extract_fields(rules, key_schema_opt, value_schema_opt)?);
        self.last_opt = Some((
            key_schema_opt.cloned(),
            value_schema_opt.cloned(),
            Arc::clone(&fields),
        ));
        Ok(fields)
    }
}

/// Plans the writes of `records`. Records refused by the rules are returned apart (the caller
/// fails the task or, with `errors.tolerance=all`, logs and skips them); tombstones are skipped
/// unless `delete.enabled`.
pub(crate) fn plan_writes(
    config: &JdbcSinkConfig,
    records: &[SinkRecord],
) -> (Vec<Batch>, Vec<BadRecord>) {
    let rules = FieldRules {
        pk_mode: config.pk_mode,
        pk_fields: &config.pk_fields,
        fields_whitelist: &config.fields_whitelist,
    };
    let mut batches: Vec<Batch> = Vec::new();
    let mut bad = Vec::new();
    let mut cache = FieldsCache::default();
    for record in records {
        // Where the record was read (not where a transform routed it): what errant reports
        // and error messages name.
        let origin = RecordOrigin {
            topic: record.original_topic().to_string(),
            partition: record.original_kafka_partition(),
            offset: record.kafka_offset,
        };
        let planned = match plan_record(config, rules, &mut cache, record) {
            Ok(Some(planned)) => planned,
            Ok(None) => continue,
            Err(reason) => {
                bad.push(BadRecord { origin, reason });
                continue;
            }
        };
        let (operation, fields, values) = planned;
        let table = table_for_topic(&config.table_name_format, &record.topic);
        let row = Row { values, origin };
        match batches.last_mut() {
            Some(last)
                if last.table == table
                    && last.operation == operation
                    && Arc::ptr_eq(&last.fields, &fields) =>
            {
                last.rows.push(row);
            }
            _ => batches.push(Batch {
                table,
                operation,
                fields,
                rows: vec![row],
            }),
        }
    }
    (batches, bad)
}

type PlannedRecord = (Operation, Arc<FieldsMetadata>, Vec<SqlValue>);

fn plan_record(
    config: &JdbcSinkConfig,
    rules: FieldRules<'_>,
    cache: &mut FieldsCache,
    record: &SinkRecord,
) -> Result<Option<PlannedRecord>, String> {
    let key_needed = config.pk_mode == PkMode::RecordKey || config.delete_enabled;
    if key_needed && (record.key.value.is_null() || record.key.schema.is_none()) {
        return Err(format!(
            "pk.mode={} and delete.enabled={} need a non-null record key with a schema, but the key is {}",
            config.pk_mode.as_str(),
            config.delete_enabled,
            if record.key.value.is_null() { "null" } else { "schemaless" }
        ));
    }
    if record.value.value.is_null() {
        if config.delete_enabled {
            let fields = cache.fields(rules, record.key.schema.as_ref(), None)?;
            let values = row_values(&fields, record, true)?;
            return Ok(Some((Operation::Delete, fields, values)));
        }
        if matches!(config.pk_mode, PkMode::None | PkMode::RecordValue) {
            return Err(format!(
                "pk.mode={} needs a non-null struct value, but the value is null (a tombstone; set pk.mode=record_key and delete.enabled=true to delete rows)",
                config.pk_mode.as_str()
            ));
        }
        tracing::debug!(topic = %record.topic, partition = record.kafka_partition, offset = record.kafka_offset, "skipping a tombstone: delete.enabled is false");
        return Ok(None);
    }
    let Some(value_schema) = record.value.schema.as_ref() else {
        return Err("the value has no schema; the JDBC sink needs a struct with a schema: use JsonConverter with value.converter.schemas.enable=true (records as {\"schema\":..,\"payload\":..}) or a converter with schemas".to_string());
    };
    let fields = cache.fields(rules, record.key.schema.as_ref(), Some(value_schema))?;
    let values = row_values(&fields, record, false)?;
    let operation = match config.insert_mode {
        InsertMode::Insert => Operation::Insert,
        InsertMode::Upsert => Operation::Upsert,
        InsertMode::Update => Operation::Update,
    };
    Ok(Some((operation, fields, values)))
}

fn struct_field<'a>(value: &'a Value, index: usize, what: &str) -> Result<&'a Value, String> {
    match value {
        Value::Struct(fields) => fields
            .values
            .get(index)
            .ok_or_else(|| format!("the {what} struct lacks field #{index} of its schema")),
        other => Err(format!("the {what} is not a struct: {other:?}")),
    }
}

/// Reads the column values of `record` (key columns only for a delete).
fn row_values(
    fields: &FieldsMetadata,
    record: &SinkRecord,
    key_only: bool,
) -> Result<Vec<SqlValue>, String> {
    let columns = fields
        .pk
        .iter()
        .chain(fields.other.iter().filter(|_| !key_only));
    let mut values = Vec::with_capacity(fields.pk.len() + fields.other.len());
    for column in columns {
        let value = match column.source {
            ColumnSource::KafkaTopic => SqlValue::Text(record.topic.clone()),
            ColumnSource::KafkaPartition => SqlValue::Int(record.kafka_partition),
            ColumnSource::KafkaOffset => SqlValue::BigInt(record.kafka_offset),
            ColumnSource::Key => to_sql_value(&column.schema, &record.key.value)?,
            ColumnSource::KeyField(index) => to_sql_value(
                &column.schema,
                struct_field(&record.key.value, index, "key")?,
            )?,
            ColumnSource::ValueField(index) => to_sql_value(
                &column.schema,
                struct_field(&record.value.value, index, "value")?,
            )?,
        };
        let is_key = fields.pk.iter().any(|pk| std::ptr::eq(pk, column));
        if value == SqlValue::Null && (is_key || !column.def.optional) {
            return Err(format!(
                "column {:?} is {} but the record has no value for it",
                column.def.name,
                if is_key {
                    "part of the primary key"
                } else {
                    "required (NOT NULL)"
                }
            ));
        }
        values.push(value);
    }
    Ok(values)
}

/// Splits a batch into statement-sized chunks. For upserts and updates a key appears at most
/// once per chunk (a later row replaces an earlier one: the same final state, and PostgreSQL
/// refuses to touch a row twice in one statement).
pub(crate) fn statement_chunks(batch: &Batch, rows_per_statement: usize) -> Vec<Vec<&Row>> {
    let dedupe = matches!(batch.operation, Operation::Upsert | Operation::Update);
    let key_width = batch.fields.pk_defs.len();
    let mut chunks = Vec::new();
    let mut chunk: Vec<&Row> = Vec::new();
    let mut positions: HashMap<String, usize> = HashMap::new();
    for row in &batch.rows {
        if dedupe {
            let key = SqlValue::key_text(&row.values[..key_width]);
            if let Some(position) = positions.get(&key) {
                chunk[*position] = row;
                continue;
            }
            positions.insert(key, chunk.len());
        }
        chunk.push(row);
        if chunk.len() >= rows_per_statement {
            chunks.push(std::mem::take(&mut chunk));
            positions.clear();
        }
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}
