//! PostgreSQL text: identifier quoting, Kafka Connect type → column type, and the statements the
//! sink runs (multi-row INSERT / upsert / UPDATE / DELETE, CREATE TABLE, ALTER TABLE ADD COLUMN).
//! Pure functions, so every statement shape is unit-tested.
//!
//! Every parameter carries an explicit cast to the column type of its schema (`$1::BIGINT`): the
//! server then knows each parameter's type without looking at the table, and assignment casts
//! convert it to the column's actual type (e.g. INTEGER into a BIGINT column), as a JDBC driver's
//! typed `setInt` would.

use std::fmt::Write as _;

use crate::sdk::data::logical;
use crate::sdk::{Schema, SchemaType, Value};

/// A table: optional schema and name, unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TableId {
    pub(crate) schema_opt: Option<String>,
    pub(crate) name: String,
}

impl std::fmt::Display for TableId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema_opt {
            Some(schema) => write!(formatter, "{schema}.{}", self.name),
            None => formatter.write_str(&self.name),
        }
    }
}

/// How identifiers are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quoting {
    pub(crate) quote: bool,
}

impl Quoting {
    /// Returns `name` as an identifier: `"na""me"` when quoting, as it is otherwise.
    pub(crate) fn identifier(self, name: &str) -> String {
        if self.quote {
            format!("\"{}\"", name.replace('"', "\"\""))
        } else {
            name.to_string()
        }
    }

    /// Returns the table as `"schema"."name"` or `"name"`.
    pub(crate) fn table(self, table: &TableId) -> String {
        match &table.schema_opt {
            Some(schema) => format!(
                "{}.{}",
                self.identifier(schema),
                self.identifier(&table.name)
            ),
            None => self.identifier(&table.name),
        }
    }
}

/// Returns the PostgreSQL column type of a Kafka Connect schema (Confluent's PostgreSQL dialect
/// mapping), or why it has none.
///
/// # Errors
/// Arrays, maps and structs have no column type here.
pub(crate) fn column_type(schema: &Schema) -> Result<&'static str, String> {
    match schema.name.as_deref() {
        Some(logical::DECIMAL) => return Ok("DECIMAL"),
        Some(logical::DATE) => return Ok("DATE"),
        Some(logical::TIME) => return Ok("TIME"),
        Some(logical::TIMESTAMP) => return Ok("TIMESTAMP"),
        _ => {}
    }
    Ok(match schema.schema_type {
        SchemaType::Int8 | SchemaType::Int16 => "SMALLINT",
        SchemaType::Int32 => "INT",
        SchemaType::Int64 => "BIGINT",
        SchemaType::Float32 => "REAL",
        SchemaType::Float64 => "DOUBLE PRECISION",
        SchemaType::Boolean => "BOOLEAN",
        SchemaType::String => "TEXT",
        SchemaType::Bytes => "BYTEA",
        SchemaType::Array | SchemaType::Map | SchemaType::Struct => {
            return Err(format!(
                "{} fields cannot be written to a PostgreSQL column (flatten them first, e.g. with the Flatten transform)",
                schema.schema_type.json_name()
            ))
        }
    })
}

/// A column the sink writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnDef {
    pub(crate) name: String,
    /// From [`column_type`].
    pub(crate) sql_type: &'static str,
    pub(crate) optional: bool,
    /// A SQL literal, when the field's schema has a default.
    pub(crate) default_opt: Option<String>,
}

/// Renders a schema default as a SQL literal (only for types with an obvious literal).
pub(crate) fn default_literal(value: &Value) -> Option<String> {
    Some(match value {
        Value::Boolean(flag) => flag.to_string().to_ascii_uppercase(),
        Value::Int8(number) => number.to_string(),
        Value::Int16(number) => number.to_string(),
        Value::Int32(number) => number.to_string(),
        Value::Int64(number) => number.to_string(),
        Value::Float32(number) if number.is_finite() => number.to_string(),
        Value::Float64(number) if number.is_finite() => number.to_string(),
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        Value::Decimal(decimal) => decimal.to_string(),
        _ => return None,
    })
}

fn column_definition(quoting: Quoting, column: &ColumnDef, is_pk: bool) -> String {
    let mut text = format!("{} {}", quoting.identifier(&column.name), column.sql_type);
    if let Some(default) = &column.default_opt {
        let _ = write!(text, " DEFAULT {default}");
    }
    text.push_str(if column.optional && !is_pk {
        " NULL"
    } else {
        " NOT NULL"
    });
    text
}

/// `CREATE TABLE IF NOT EXISTS t (... , PRIMARY KEY(...))`: NOT NULL for required fields and
/// primary key columns (listed first).
pub(crate) fn create_table_sql(
    quoting: Quoting,
    table: &TableId,
    pk_columns: &[ColumnDef],
    other_columns: &[ColumnDef],
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for column in pk_columns {
        lines.push(column_definition(quoting, column, true));
    }
    for column in other_columns {
        lines.push(column_definition(quoting, column, false));
    }
    if !pk_columns.is_empty() {
        lines.push(format!(
            "PRIMARY KEY({})",
            identifier_list(quoting, pk_columns.iter().map(|c| c.name.as_str()))
        ));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{})",
        quoting.table(table),
        lines.join(",\n")
    )
}

/// `ALTER TABLE t ADD COLUMN IF NOT EXISTS ..., ADD COLUMN IF NOT EXISTS ...`.
pub(crate) fn add_columns_sql(quoting: Quoting, table: &TableId, columns: &[ColumnDef]) -> String {
    let additions: Vec<String> = columns
        .iter()
        .map(|column| {
            format!(
                "ADD COLUMN IF NOT EXISTS {}",
                column_definition(quoting, column, false)
            )
        })
        .collect();
    format!(
        "ALTER TABLE {} {}",
        quoting.table(table),
        additions.join(", ")
    )
}

fn identifier_list<'a>(quoting: Quoting, names: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.map(|name| quoting.identifier(name)).collect();
    quoted.join(",")
}

/// Writes `($1::T1,$2::T2),($3::T1,$4::T2)...` for `rows` rows of `types`.
fn values_rows(out: &mut String, types: &[&str], rows: usize) {
    let mut parameter = 1;
    for row in 0..rows {
        if row > 0 {
            out.push(',');
        }
        out.push('(');
        for (index, sql_type) in types.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "${parameter}::{sql_type}");
            parameter += 1;
        }
        out.push(')');
    }
}

/// Columns of a write statement: primary key columns first, then the others; the parameters of
/// each row follow that order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatementColumns<'a> {
    pub(crate) pk: &'a [ColumnDef],
    pub(crate) other: &'a [ColumnDef],
}

impl StatementColumns<'_> {
    fn all(&self) -> impl Iterator<Item = &ColumnDef> {
        self.pk.iter().chain(self.other.iter())
    }

    fn types(&self) -> Vec<&str> {
        self.all().map(|column| column.sql_type).collect()
    }
}

/// `INSERT INTO t (cols) VALUES (...),(...)`.
pub(crate) fn insert_sql(
    quoting: Quoting,
    table: &TableId,
    columns: StatementColumns<'_>,
    rows: usize,
) -> String {
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        quoting.table(table),
        identifier_list(quoting, columns.all().map(|c| c.name.as_str()))
    );
    values_rows(&mut sql, &columns.types(), rows);
    sql
}

/// `INSERT ... ON CONFLICT (pk) DO UPDATE SET c=EXCLUDED.c` (`DO NOTHING` when every column is
/// part of the key). The rows of one statement must have distinct keys.
pub(crate) fn upsert_sql(
    quoting: Quoting,
    table: &TableId,
    columns: StatementColumns<'_>,
    rows: usize,
) -> String {
    let mut sql = insert_sql(quoting, table, columns, rows);
    let _ = write!(
        sql,
        " ON CONFLICT ({}) ",
        identifier_list(quoting, columns.pk.iter().map(|c| c.name.as_str()))
    );
    if columns.other.is_empty() {
        sql.push_str("DO NOTHING");
    } else {
        let assignments: Vec<String> = columns
            .other
            .iter()
            .map(|column| {
                let name = quoting.identifier(&column.name);
                format!("{name}=EXCLUDED.{name}")
            })
            .collect();
        let _ = write!(sql, "DO UPDATE SET {}", assignments.join(","));
    }
    sql
}

const TARGET_ALIAS: &str = "\"__ferry_target\"";
const VALUES_ALIAS: &str = "\"__ferry_values\"";

fn key_match(quoting: Quoting, pk: &[ColumnDef]) -> String {
    let conditions: Vec<String> = pk
        .iter()
        .map(|column| {
            let name = quoting.identifier(&column.name);
            format!("{TARGET_ALIAS}.{name}={VALUES_ALIAS}.{name}")
        })
        .collect();
    conditions.join(" AND ")
}

/// `UPDATE t SET c=v.c FROM (VALUES ...) AS v(pk, c) WHERE t.pk=v.pk`; `None` when there is no
/// non-key column to set. The rows of one statement must have distinct keys.
pub(crate) fn update_sql(
    quoting: Quoting,
    table: &TableId,
    columns: StatementColumns<'_>,
    rows: usize,
) -> Option<String> {
    if columns.other.is_empty() {
        return None;
    }
    let assignments: Vec<String> = columns
        .other
        .iter()
        .map(|column| {
            let name = quoting.identifier(&column.name);
            format!("{name}={VALUES_ALIAS}.{name}")
        })
        .collect();
    let mut sql = format!(
        "UPDATE {} AS {TARGET_ALIAS} SET {} FROM (VALUES ",
        quoting.table(table),
        assignments.join(",")
    );
    values_rows(&mut sql, &columns.types(), rows);
    let _ = write!(
        sql,
        ") AS {VALUES_ALIAS} ({}) WHERE {}",
        identifier_list(quoting, columns.all().map(|c| c.name.as_str())),
        key_match(quoting, columns.pk)
    );
    Some(sql)
}

/// `DELETE FROM t WHERE (pk1,pk2) IN (VALUES (...),(...))`.
pub(crate) fn delete_sql(
    quoting: Quoting,
    table: &TableId,
    pk_columns: &[ColumnDef],
    rows: usize,
) -> String {
    let mut sql = format!(
        "DELETE FROM {} WHERE ({}) IN (VALUES ",
        quoting.table(table),
        identifier_list(quoting, pk_columns.iter().map(|c| c.name.as_str()))
    );
    let types: Vec<&str> = pk_columns.iter().map(|column| column.sql_type).collect();
    values_rows(&mut sql, &types, rows);
    sql.push(')');
    sql
}

/// The query listing a table's columns: parameters are the schema (NULL for the current one)
/// and the table name; no row means no such table.
pub(crate) const TABLE_COLUMNS_SQL: &str =
    "SELECT column_name::text FROM information_schema.columns \
     WHERE table_schema = COALESCE($1::text, current_schema()::text) AND table_name = $2::text";
