//! The JDBC sink task: each `put` is one PostgreSQL transaction, so when `put` returns the rows
//! are committed and the runtime may commit the records' offsets.
//!
//! Errors:
//! - a record the plan refuses (no schema, null key, wrong types) fails the task with its topic,
//!   partition and offset, or is skipped with `errors.tolerance=all`;
//! - a connection or server-side transient error (SQLSTATE classes 08, 40, 53, 55, 57, 58, XX,
//!   or no SQLSTATE at all) is retried `max.retries` times, `retry.backoff.ms` apart, on a new
//!   connection; then the task fails with a retriable error and the worker restarts it, which
//!   delivers the records again from the last committed offset;
//! - a data error (any other SQLSTATE, e.g. 23502 NOT NULL violation) rolls the transaction
//!   back and writes the same records again, one statement per row inside a savepoint each, in
//!   one transaction: the row that fails names its record (the task fails), or with
//!   `errors.tolerance=all` it is rolled back to its savepoint, logged and skipped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::config::JdbcSinkConfig;
use super::plan::{plan_writes, statement_chunks, Batch, Operation, RecordOrigin, Row};
use super::sql::{self, ColumnDef, Quoting, StatementColumns, TableId};
use crate::sdk::{ConnectorError, SinkRecord, SinkTask};

/// PostgreSQL accepts at most this many parameters in one statement.
const MAX_PARAMETERS: usize = 65_535;
/// Prepared statements kept per connection.
const STATEMENT_CACHE_SIZE: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a write attempt failed.
#[derive(Debug)]
enum WriteError {
    /// Worth retrying on a new connection.
    Transient(String),
    /// The data (or the table) refused a statement: locate the record.
    Data(String),
    /// A record the database refused, found by the row-by-row pass.
    Record {
        origin: RecordOrigin,
        message: String,
    },
    /// Not worth retrying (configuration, DDL rules).
    User(String),
}

/// What retrying can do about an SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlStateClass {
    /// Connection trouble, server shutting down, serialization failures, locks, resources.
    Transient,
    /// Authentication failures and a missing database: the configuration is wrong.
    User,
    /// Everything else: constraint violations, bad values, type mismatches.
    Data,
}

/// Classifies an SQLSTATE code.
pub(crate) fn sqlstate_class(code: &str) -> SqlStateClass {
    match code.get(..2).unwrap_or_default() {
        "08" | "40" | "53" | "55" | "57" | "58" | "XX" => SqlStateClass::Transient,
        "28" | "3D" => SqlStateClass::User,
        // The table or a column vanished since it was checked (dropped by someone else):
        // retrying checks (and with auto.create / auto.evolve recreates) it.
        _ if code == "42P01" || code == "42703" => SqlStateClass::Transient,
        _ => SqlStateClass::Data,
    }
}

fn classify(error: &tokio_postgres::Error, context: &str) -> WriteError {
    let message = match error.as_db_error() {
        Some(db) => format!(
            "{context}: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        ),
        None => format!("{context}: {error}"),
    };
    let Some(code) = error.code() else {
        if error.to_string().starts_with("error serializing parameter") {
            return WriteError::Data(message);
        }
        // No SQLSTATE: an I/O error, a closed connection, a timeout.
        return WriteError::Transient(message);
    };
    match sqlstate_class(code.code()) {
        SqlStateClass::Transient => WriteError::Transient(message),
        SqlStateClass::User => WriteError::User(message),
        SqlStateClass::Data => WriteError::Data(message),
    }
}

/// Writes records to PostgreSQL.
pub(crate) struct JdbcSinkTask {
    config: JdbcSinkConfig,
    quoting: Quoting,
    client_opt: Option<Client>,
    statements: HashMap<String, Statement>,
    /// Columns known to exist, per table (cleared on any failure).
    tables: HashMap<TableId, HashSet<String>>,
    /// Receives the records skipped under `errors.tolerance=all` (logged, dead-lettered).
    pub(crate) errant_opt: Option<std::sync::Arc<dyn crate::sdk::ErrantRecordReporter>>,
    /// Told about each transient failure this task retries itself (`max.retries`), so that a
    /// database outage shows in the task's status and metrics while `put` is still retrying.
    pub(crate) retry_opt: Option<std::sync::Arc<dyn crate::sdk::RetryReporter>>,
}

impl JdbcSinkTask {
    fn report_errant(&self, origin: &super::plan::RecordOrigin, error: &str) {
        if let Some(reporter) = &self.errant_opt {
            reporter.report(crate::sdk::ErrantRecord {
                topic: origin.topic.clone(),
                partition: origin.partition,
                offset: origin.offset,
                error: error.to_string(),
            });
        }
    }

    /// Creates the task; it connects on the first `put`.
    pub(crate) fn new(config: JdbcSinkConfig) -> Self {
        let quoting = Quoting {
            quote: config.quote_identifiers,
        };
        JdbcSinkTask {
            config,
            quoting,
            client_opt: None,
            statements: HashMap::new(),
            tables: HashMap::new(),
            errant_opt: None,
            retry_opt: None,
        }
    }

    fn disconnect(&mut self) {
        self.client_opt = None;
        self.statements.clear();
        self.tables.clear();
    }

    async fn connect(&mut self) -> Result<(), WriteError> {
        if self
            .client_opt
            .as_ref()
            .is_some_and(|client| !client.is_closed())
        {
            return Ok(());
        }
        self.disconnect();
        let target = &self.config.connection;
        let mut pg_config = tokio_postgres::Config::new();
        pg_config
            .host(&target.host)
            .port(target.port)
            .dbname(&target.database)
            .user(target.user_opt.as_deref().unwrap_or("postgres"))
            .application_name(&target.application_name)
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives(true);
        if let Some(password) = &target.password_opt {
            pg_config.password(password);
        }
        if let Some(schema) = &target.schema_opt {
            pg_config.options(format!("-c search_path={schema}"));
        }
        let attempts = self.config.connection_attempts;
        let mut attempt = 1;
        loop {
            match pg_config.connect(NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "postgres connection closed");
                        }
                    });
                    self.client_opt = Some(client);
                    return Ok(());
                }
                Err(error) => {
                    let context = format!(
                        "failed to connect to PostgreSQL at {}:{}/{}",
                        target.host, target.port, target.database
                    );
                    let classified = classify(&error, &context);
                    if !matches!(classified, WriteError::Transient(_)) || attempt >= attempts {
                        return Err(classified);
                    }
                    tracing::warn!(attempt, attempts, %error, "could not connect to PostgreSQL; trying again");
                    attempt += 1;
                    tokio::time::sleep(self.config.connection_backoff).await;
                }
            }
        }
    }

    fn client(&self) -> Result<&Client, WriteError> {
        self.client_opt
            .as_ref()
            .ok_or_else(|| WriteError::Transient("not connected".to_string()))
    }

    async fn query_columns(&self, table: &TableId) -> Result<HashSet<String>, WriteError> {
        let client = self.client()?;
        let rows = client
            .query(
                sql::TABLE_COLUMNS_SQL,
                &[
                    &table
                        .schema_opt
                        .as_deref()
                        .map(|schema| self.catalog_name(schema)),
                    &self.catalog_name(&table.name),
                ],
            )
            .await
            .map_err(|error| classify(&error, &format!("failed to read the columns of {table}")))?;
        let mut columns = HashSet::new();
        for row in rows {
            let name: String = row
                .try_get(0)
                .map_err(|error| WriteError::Transient(format!("bad catalog row: {error}")))?;
            columns.insert(name);
        }
        Ok(columns)
    }

    async fn run_ddl(&self, statement: &str, table: &TableId) -> Result<(), WriteError> {
        tracing::info!(%table, sql = statement, "changing the table");
        let Err(error) = self.client()?.batch_execute(statement).await else {
            return Ok(());
        };
        // Tasks of one connector may create or alter the same table at once; IF NOT EXISTS
        // does not make that safe in PostgreSQL (unique violation in the catalog, duplicate
        // table or column): retrying finds the table as the other task left it.
        let concurrent = error
            .code()
            .is_some_and(|code| ["23505", "42P07", "42701"].contains(&code.code()));
        match classify(&error, &format!("failed to create or alter {table}")) {
            WriteError::Data(message) if concurrent => Err(WriteError::Transient(message)),
            WriteError::Data(message) => Err(WriteError::User(message)),
            other => Err(other),
        }
    }

    /// Returns `name` as the catalog stores it: PostgreSQL folds unquoted identifiers to
    /// lower case.
    fn catalog_name(&self, name: &str) -> String {
        if self.quoting.quote {
            name.to_string()
        } else {
            name.to_lowercase()
        }
    }

    /// Makes sure `batch.table` has every column of the batch: creates or alters it when
    /// `auto.create` / `auto.evolve` allow, fails with a clear message otherwise.
    async fn ensure_table(&mut self, batch: &Batch) -> Result<(), WriteError> {
        let table = &batch.table;
        let needed: Vec<&ColumnDef> = batch
            .fields
            .pk_defs
            .iter()
            .chain(batch.fields.other_defs.iter())
            .collect();
        if let Some(known) = self.tables.get(table) {
            if needed
                .iter()
                .all(|column| known.contains(&self.catalog_name(&column.name)))
            {
                return Ok(());
            }
        }
        let first = &batch.rows[0].origin;
        let mut existing = self.query_columns(table).await?;
        if existing.is_empty() {
            if !self.config.auto_create {
                return Err(WriteError::User(format!(
                    "table {table} does not exist and auto.create is false: create the table or set auto.create=true (record at {first})"
                )));
            }
            let statement = sql::create_table_sql(
                self.quoting,
                table,
                &batch.fields.pk_defs,
                &batch.fields.other_defs,
            );
            self.run_ddl(&statement, table).await?;
            existing = self.query_columns(table).await?;
        }
        let missing: Vec<ColumnDef> = needed
            .iter()
            .filter(|column| !existing.contains(&self.catalog_name(&column.name)))
            .map(|column| (*column).clone())
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
            if !self.config.auto_evolve {
                return Err(WriteError::User(format!(
                    "table {table} has no column(s) {names:?} for the record fields and auto.evolve is false: add the columns or set auto.evolve=true (record at {first})"
                )));
            }
            if let Some(required) = missing
                .iter()
                .find(|column| !column.optional && column.default_opt.is_none())
            {
                return Err(WriteError::User(format!(
                    "cannot add column {:?} to table {table}: the field is not optional and has no default value, so existing rows would break NOT NULL (record at {first})",
                    required.name
                )));
            }
            let statement = sql::add_columns_sql(self.quoting, table, &missing);
            self.run_ddl(&statement, table).await?;
            existing = self.query_columns(table).await?;
            if let Some(column) = missing
                .iter()
                .find(|c| !existing.contains(&self.catalog_name(&c.name)))
            {
                return Err(WriteError::User(format!(
                    "column {:?} is still missing in {table} after ALTER TABLE",
                    column.name
                )));
            }
        }
        self.tables.insert(table.clone(), existing);
        Ok(())
    }

    async fn statement(&mut self, text: &str) -> Result<Statement, WriteError> {
        if let Some(statement) = self.statements.get(text) {
            return Ok(statement.clone());
        }
        let statement = self
            .client()?
            .prepare(text)
            .await
            .map_err(|error| classify(&error, "failed to prepare a statement"))?;
        if self.statements.len() >= STATEMENT_CACHE_SIZE {
            self.statements.clear();
        }
        self.statements.insert(text.to_string(), statement.clone());
        Ok(statement)
    }

    /// Returns the SQL for `rows` rows of `batch`, or `None` when there is nothing to run.
    fn batch_sql(&self, batch: &Batch, rows: usize) -> Option<String> {
        let columns = StatementColumns {
            pk: &batch.fields.pk_defs,
            other: &batch.fields.other_defs,
        };
        let table = &batch.table;
        match batch.operation {
            Operation::Insert => Some(sql::insert_sql(self.quoting, table, columns, rows)),
            Operation::Upsert => Some(sql::upsert_sql(self.quoting, table, columns, rows)),
            Operation::Update => sql::update_sql(self.quoting, table, columns, rows),
            Operation::Delete => Some(sql::delete_sql(
                self.quoting,
                table,
                &batch.fields.pk_defs,
                rows,
            )),
        }
    }

    async fn prepare_tables(&mut self, plan: &[Batch]) -> Result<(), WriteError> {
        self.connect().await?;
        for batch in plan {
            self.ensure_table(batch).await?;
        }
        Ok(())
    }

    async fn begin(&self) -> Result<(), WriteError> {
        self.client()?
            .batch_execute("BEGIN")
            .await
            .map_err(|error| classify(&error, "failed to begin a transaction"))
    }

    async fn finish(&self, sql_text: &str) -> Result<(), WriteError> {
        self.client()?
            .batch_execute(sql_text)
            .await
            .map_err(|error| classify(&error, &format!("failed to {sql_text}")))
    }

    /// Writes the whole plan in one transaction, with multi-row statements.
    async fn write_batched(&mut self, plan: &[Batch]) -> Result<(), WriteError> {
        self.prepare_tables(plan).await?;
        self.begin().await?;
        for batch in plan {
            let width = batch.rows[0].values.len().max(1);
            let rows_per_statement = self.config.batch_size.min(MAX_PARAMETERS / width).max(1);
            for chunk in statement_chunks(batch, rows_per_statement) {
                let Some(text) = self.batch_sql(batch, chunk.len()) else {
                    continue;
                };
                let statement = self.statement(&text).await?;
                if let Err(error) = execute(self.client()?, &statement, &chunk).await {
                    return Err(classify(
                        &error,
                        &format!("failed to write to {}", batch.table),
                    ));
                }
            }
        }
        self.finish("COMMIT").await
    }

    /// Writes the plan one row per statement, each in a savepoint, in one transaction: finds
    /// the record the database refuses (or, tolerating errors, skips it).
    async fn write_row_by_row(&mut self, plan: &[Batch]) -> Result<(), WriteError> {
        self.prepare_tables(plan).await?;
        self.begin().await?;
        for batch in plan {
            let Some(text) = self.batch_sql(batch, 1) else {
                continue;
            };
            let statement = self.statement(&text).await?;
            for row in &batch.rows {
                self.finish("SAVEPOINT ferry_row").await?;
                match execute(self.client()?, &statement, &[row]).await {
                    Ok(_) => self.finish("RELEASE SAVEPOINT ferry_row").await?,
                    Err(error) => {
                        match classify(&error, &format!("failed to write to {}", batch.table)) {
                            WriteError::Data(message) if self.config.tolerate_bad_records => {
                                tracing::warn!(origin = %row.origin, error = %message, "skipping a record the database refused (errors.tolerance=all)");
                                self.report_errant(&row.origin, &message);
                                self.finish("ROLLBACK TO SAVEPOINT ferry_row").await?;
                            }
                            WriteError::Data(message) => {
                                let _ = self.finish("ROLLBACK").await;
                                return Err(WriteError::Record {
                                    origin: row.origin.clone(),
                                    message,
                                });
                            }
                            other => return Err(other),
                        }
                    }
                }
            }
        }
        self.finish("COMMIT").await
    }
}

async fn execute(
    client: &Client,
    statement: &Statement,
    rows: &[&Row],
) -> Result<u64, tokio_postgres::Error> {
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    for row in rows {
        for value in &row.values {
            params.push(value);
        }
    }
    client.execute(statement, &params).await
}

#[async_trait]
impl SinkTask for JdbcSinkTask {
    /// Writes `records` in one transaction, retrying transient failures.
    ///
    /// # Cancel safety
    /// Cancel-safe in effect: a put dropped midway leaves an open transaction on a connection
    /// that is dropped with the task, so the server rolls it back and nothing is committed.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectorError> {
        let (plan, bad) = plan_writes(&self.config, &records);
        if let Some(first) = bad.first() {
            if !self.config.tolerate_bad_records {
                return Err(ConnectorError::user(first.to_string()));
            }
            for record in &bad {
                tracing::warn!(error = %record, "skipping a record (errors.tolerance=all)");
                self.report_errant(&record.origin, &record.to_string());
            }
        }
        if plan.is_empty() {
            return Ok(());
        }
        let mut retries = 0;
        let mut row_by_row = false;
        loop {
            let result = if row_by_row {
                self.write_row_by_row(&plan).await
            } else {
                self.write_batched(&plan).await
            };
            let error = match result {
                Ok(()) => {
                    if let (true, Some(reporter)) = (retries > 0, &self.retry_opt) {
                        reporter.recovered();
                    }
                    return Ok(());
                }
                Err(error) => error,
            };
            match error {
                WriteError::Data(message) if !row_by_row => {
                    tracing::info!(error = %message, "a batch failed on its data; writing it row by row to find the record");
                    // The failed transaction is aborted: roll it back before the next one.
                    if self.finish("ROLLBACK").await.is_err() {
                        self.disconnect();
                    }
                    row_by_row = true;
                }
                WriteError::Data(message) => {
                    self.disconnect();
                    return Err(ConnectorError::user(format!(
                        "JDBC sink write failed: {message}"
                    )));
                }
                WriteError::Record { origin, message } => {
                    self.disconnect();
                    return Err(ConnectorError::user(format!(
                        "JDBC sink cannot write the record at {origin}: {message}"
                    )));
                }
                WriteError::User(message) => {
                    self.disconnect();
                    return Err(ConnectorError::user(format!("JDBC sink: {message}")));
                }
                WriteError::Transient(message) => {
                    self.disconnect();
                    if retries >= self.config.max_retries {
                        return Err(ConnectorError::external(format!(
                            "JDBC sink write failed after {retries} retries: {message}"
                        )));
                    }
                    retries += 1;
                    tracing::warn!(retry = retries, max_retries = self.config.max_retries, error = %message, "JDBC sink write failed; retrying");
                    if let Some(reporter) = &self.retry_opt {
                        // Fails the put (Fatal) once errors.retry.timeout has passed.
                        reporter.retrying(&ConnectorError::external(format!(
                            "JDBC sink write failed (retry {retries} of max.retries {}): {message}",
                            self.config.max_retries
                        )))?;
                    }
                    tokio::time::sleep(self.config.retry_backoff).await;
                }
            }
        }
    }

    /// Nothing to do: every `put` committed its transaction.
    async fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn stop(&mut self) {
        self.disconnect();
    }
}
