//! Unit tests of the JDBC sink's pure parts: config, type mapping, statements, planning and
//! value encoding. Writes against a real PostgreSQL are in `tests/tests/jdbc_sink.rs`.

use std::sync::Arc;

use bytes::BytesMut;
use tokio_postgres::types::{ToSql, Type};

use super::config::{parse_connection_url, split_table_name_format, JdbcSinkConfig, PkMode};
use super::fields::{extract_fields, ColumnSource, FieldRules};
use super::plan::{
    plan_writes, statement_chunks, table_for_topic, Batch, Operation, RecordOrigin, Row,
};
use super::sql::{self, ColumnDef, Quoting, StatementColumns, TableId};
use super::task::{sqlstate_class, SqlStateClass};
use super::values::{to_sql_value, SqlValue};
use crate::registry::builtin_registry;
use crate::sdk::{
    ConfigValues, Decimal, Schema, SchemaAndValue, SchemaType, SinkRecord, Struct, Value,
};
use crate::testing::props;
use crate::validation::{check_connector_config, InvalidConfig};

const URL: &str = "jdbc:postgresql://127.0.0.1:15432/postgres";

fn errors_of(extra: &[(&str, &str)]) -> Vec<String> {
    let mut pairs = vec![
        ("name", "jdbc"),
        ("connector.class", "JdbcSink"),
        ("topics", "t"),
        ("connection.url", URL),
    ];
    pairs.extend_from_slice(extra);
    match check_connector_config(&builtin_registry(), &props(&pairs)) {
        Ok(_) => Vec::new(),
        Err(InvalidConfig::Errors(errors)) => errors,
        Err(other) => panic!("unexpected {other}"),
    }
}

fn sink_config(extra: &[(&str, &str)]) -> JdbcSinkConfig {
    let mut pairs = vec![("connection.url", URL)];
    pairs.extend_from_slice(extra);
    let values = super::config::config_def()
        .parse(&props(&pairs))
        .expect("valid test config");
    JdbcSinkConfig::from_values(&values).expect("valid test config")
}

#[test]
fn class_name_and_alias_resolve() {
    let registry = builtin_registry();
    for name in [
        "io.confluent.connect.jdbc.JdbcSinkConnector",
        "JdbcSinkConnector",
        "JdbcSink",
    ] {
        let factory = registry.find(name).expect(name);
        assert_eq!(factory.aliases(), &["JdbcSink"]);
    }
}

#[test]
fn defaults_follow_confluent() {
    let config = sink_config(&[]);
    assert_eq!(config.insert_mode, super::config::InsertMode::Insert);
    assert_eq!(config.pk_mode, PkMode::None);
    assert_eq!(config.batch_size, 3000);
    assert_eq!(config.max_retries, 10);
    assert_eq!(config.retry_backoff, std::time::Duration::from_millis(3000));
    assert_eq!(config.table_name_format, "${topic}");
    assert!(!config.auto_create && !config.auto_evolve && !config.delete_enabled);
    assert!(config.quote_identifiers);
    assert!(!config.tolerate_bad_records);
    assert!(errors_of(&[]).is_empty());
}

#[test]
fn config_errors_name_the_key() {
    let cases: [(&[(&str, &str)], &str); 9] = [
        (&[("delete.enabled", "true")], "delete.enabled"),
        (
            &[("delete.enabled", "true"), ("pk.mode", "record_value")],
            "delete.enabled",
        ),
        (&[("insert.mode", "upsert")], "pk.mode"),
        (&[("insert.mode", "UPDATE")], "pk.mode"),
        (&[("insert.mode", "merge")], "insert.mode"),
        (&[("pk.mode", "kafka"), ("pk.fields", "a,b")], "pk.fields"),
        (&[("connection.url", "jdbc:mysql://h/db")], "connection.url"),
        (&[("db.timezone", "Europe/Paris")], "db.timezone"),
        (
            &[("table.name.format", "a.b.${topic}")],
            "table.name.format",
        ),
    ];
    for (extra, key) in cases {
        let errors = errors_of(extra);
        assert!(
            errors.len() == 1 && errors[0].contains(key),
            "{extra:?}: {errors:?}"
        );
    }
    let errors = errors_of(&[("batch.size", "0"), ("max.retries", "-1")]);
    assert!(
        errors.len() == 2 && errors[0].contains("batch.size") && errors[1].contains("max.retries"),
        "{errors:?}"
    );
    let missing = match check_connector_config(
        &builtin_registry(),
        &props(&[
            ("name", "j"),
            ("connector.class", "JdbcSink"),
            ("topics", "t"),
        ]),
    ) {
        Err(InvalidConfig::Errors(errors)) => errors,
        other => panic!("expected errors, got {:?}", other.is_ok()),
    };
    assert!(
        missing.iter().any(|error| error.contains("connection.url")),
        "{missing:?}"
    );
    assert!(errors_of(&[
        ("insert.mode", "upsert"),
        ("pk.mode", "record_key"),
        ("delete.enabled", "true"),
        ("auto.create", "true"),
    ])
    .is_empty());
}

#[test]
fn connection_url_is_parsed_and_user_keys_win() {
    let target = parse_connection_url(
        "jdbc:postgresql://db.example:6543/shop?user=u&password=p%40ss&currentSchema=sales",
    )
    .unwrap();
    assert_eq!(
        (target.host.as_str(), target.port, target.database.as_str()),
        ("db.example", 6543, "shop")
    );
    assert_eq!(target.user_opt.as_deref(), Some("u"));
    assert_eq!(target.password_opt.as_deref(), Some("p@ss"));
    assert_eq!(target.schema_opt.as_deref(), Some("sales"));
    assert!(
        !format!("{target:?}").contains("p@ss"),
        "password is hidden"
    );
    let defaults = parse_connection_url("jdbc:postgresql://localhost").unwrap();
    assert_eq!(
        (defaults.port, defaults.database.as_str()),
        (5432, "postgres")
    );
    assert!(parse_connection_url("jdbc:postgresql://h/db?sslmode=require").is_err());
    assert!(parse_connection_url("jdbc:postgresql://:5432/db").is_err());
    assert!(parse_connection_url("jdbc:postgresql://h:x/db").is_err());

    let config = sink_config(&[
        ("connection.url", "jdbc:postgresql://h/db?user=url"),
        ("connection.user", "key"),
        ("connection.password", "secret"),
    ]);
    assert_eq!(config.connection.user_opt.as_deref(), Some("key"));
    assert_eq!(config.connection.password_opt.as_deref(), Some("secret"));
}

#[test]
fn table_names_keep_topic_dots_and_split_literal_ones() {
    assert_eq!(
        table_for_topic("${topic}", "orders.v1-eu"),
        TableId {
            schema_opt: None,
            name: "orders.v1-eu".to_string()
        }
    );
    assert_eq!(
        table_for_topic("kafka.sink_${topic}", "a.b"),
        TableId {
            schema_opt: Some("kafka".to_string()),
            name: "sink_a.b".to_string()
        }
    );
    assert!(split_table_name_format("a..b").is_err());
    assert!(split_table_name_format(" ").is_err());
    let quoting = Quoting { quote: true };
    assert_eq!(
        quoting.table(&table_for_topic("s.${topic}", "we\"ird.t")),
        "\"s\".\"we\"\"ird.t\""
    );
    assert_eq!(
        Quoting { quote: false }.table(&table_for_topic("${topic}", "plain")),
        "plain"
    );
}

#[test]
fn types_map_like_confluents_postgres_dialect() {
    let cases = [
        (Schema::primitive(SchemaType::Int8), "SMALLINT"),
        (Schema::primitive(SchemaType::Int16), "SMALLINT"),
        (Schema::primitive(SchemaType::Int32), "INT"),
        (Schema::primitive(SchemaType::Int64), "BIGINT"),
        (Schema::primitive(SchemaType::Float32), "REAL"),
        (Schema::primitive(SchemaType::Float64), "DOUBLE PRECISION"),
        (Schema::primitive(SchemaType::Boolean), "BOOLEAN"),
        (Schema::primitive(SchemaType::String), "TEXT"),
        (Schema::primitive(SchemaType::Bytes), "BYTEA"),
        (Schema::decimal(2), "DECIMAL"),
        (Schema::date(), "DATE"),
        (Schema::time(), "TIME"),
        (Schema::timestamp(), "TIMESTAMP"),
    ];
    for (schema, expected) in cases {
        assert_eq!(sql::column_type(&schema).unwrap(), expected, "{schema:?}");
    }
    let array = Schema::array(Schema::primitive(SchemaType::Int32));
    assert!(sql::column_type(&array).unwrap_err().contains("array"));
}

fn column(name: &str, sql_type: &'static str, optional: bool) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        sql_type,
        optional,
        default_opt: None,
    }
}

fn table() -> TableId {
    TableId {
        schema_opt: None,
        name: "my.topic".to_string(),
    }
}

const QUOTED: Quoting = Quoting { quote: true };

#[test]
fn write_statements_have_casts_and_key_clauses() {
    let pk = [column("id", "BIGINT", false)];
    let other = [
        column("name", "TEXT", true),
        column("price", "DECIMAL", false),
    ];
    let columns = StatementColumns {
        pk: &pk,
        other: &other,
    };
    assert_eq!(
        sql::insert_sql(QUOTED, &table(), columns, 2),
        "INSERT INTO \"my.topic\" (\"id\",\"name\",\"price\") VALUES \
         ($1::BIGINT,$2::TEXT,$3::DECIMAL),($4::BIGINT,$5::TEXT,$6::DECIMAL)"
    );
    assert_eq!(
        sql::upsert_sql(QUOTED, &table(), columns, 1),
        "INSERT INTO \"my.topic\" (\"id\",\"name\",\"price\") VALUES ($1::BIGINT,$2::TEXT,$3::DECIMAL) \
         ON CONFLICT (\"id\") DO UPDATE SET \"name\"=EXCLUDED.\"name\",\"price\"=EXCLUDED.\"price\""
    );
    let key_only = StatementColumns {
        pk: &pk,
        other: &[],
    };
    assert_eq!(
        sql::upsert_sql(QUOTED, &table(), key_only, 1),
        "INSERT INTO \"my.topic\" (\"id\") VALUES ($1::BIGINT) ON CONFLICT (\"id\") DO NOTHING"
    );
    assert_eq!(
        sql::update_sql(QUOTED, &table(), columns, 2).unwrap(),
        "UPDATE \"my.topic\" AS \"__ferry_target\" SET \"name\"=\"__ferry_values\".\"name\",\"price\"=\"__ferry_values\".\"price\" \
         FROM (VALUES ($1::BIGINT,$2::TEXT,$3::DECIMAL),($4::BIGINT,$5::TEXT,$6::DECIMAL)) \
         AS \"__ferry_values\" (\"id\",\"name\",\"price\") WHERE \"__ferry_target\".\"id\"=\"__ferry_values\".\"id\""
    );
    assert_eq!(sql::update_sql(QUOTED, &table(), key_only, 1), None);
    let composite = [column("a", "TEXT", false), column("b", "INT", false)];
    assert_eq!(
        sql::delete_sql(QUOTED, &table(), &composite, 2),
        "DELETE FROM \"my.topic\" WHERE (\"a\",\"b\") IN (VALUES ($1::TEXT,$2::INT),($3::TEXT,$4::INT))"
    );
}

#[test]
fn ddl_marks_required_columns_and_the_primary_key() {
    let pk = [column("id", "BIGINT", false)];
    let mut with_default = column("status", "TEXT", false);
    with_default.default_opt = Some("'new'".to_string());
    let other = [column("note", "TEXT", true), with_default.clone()];
    let target = TableId {
        schema_opt: Some("kafka".to_string()),
        name: "orders".to_string(),
    };
    assert_eq!(
        sql::create_table_sql(QUOTED, &target, &pk, &other),
        "CREATE TABLE IF NOT EXISTS \"kafka\".\"orders\" (\n\"id\" BIGINT NOT NULL,\n\"note\" TEXT NULL,\n\
         \"status\" TEXT DEFAULT 'new' NOT NULL,\nPRIMARY KEY(\"id\"))"
    );
    assert_eq!(
        sql::create_table_sql(QUOTED, &table(), &[], &other[..1]),
        "CREATE TABLE IF NOT EXISTS \"my.topic\" (\n\"note\" TEXT NULL)"
    );
    assert_eq!(
        sql::add_columns_sql(
            QUOTED,
            &target,
            &[column("note", "TEXT", true), with_default]
        ),
        "ALTER TABLE \"kafka\".\"orders\" ADD COLUMN IF NOT EXISTS \"note\" TEXT NULL, \
         ADD COLUMN IF NOT EXISTS \"status\" TEXT DEFAULT 'new' NOT NULL"
    );
    assert_eq!(
        sql::default_literal(&Value::String("it's".to_string())).as_deref(),
        Some("'it''s'")
    );
    assert_eq!(
        sql::default_literal(&Value::Boolean(true)).as_deref(),
        Some("TRUE")
    );
    assert_eq!(sql::default_literal(&Value::Bytes(vec![1])), None);
}

fn value_schema() -> Arc<Schema> {
    Arc::new(Schema::structure(
        Some("order"),
        vec![
            ("id", Schema::primitive(SchemaType::Int64)),
            ("name", Schema::primitive(SchemaType::String).optional()),
            ("price", Schema::decimal(2)),
        ],
    ))
}

fn order(id: i64, name: Option<&str>) -> Value {
    Value::Struct(Struct {
        schema: value_schema(),
        values: vec![
            Value::Int64(id),
            name.map_or(Value::Null, |name| Value::String(name.to_string())),
            Value::Decimal(Decimal {
                unscaled: i128::from(id) * 100 + 5,
                scale: 2,
            }),
        ],
    })
}

fn record(offset: i64, key: SchemaAndValue, value: SchemaAndValue) -> SinkRecord {
    SinkRecord {
        topic: "orders".to_string(),
        kafka_partition: 2,
        kafka_offset: offset,
        timestamp: None,
        key,
        value,
        headers: Vec::new(),
        original_opt: None,
    }
}

fn order_record(offset: i64, id: i64) -> SinkRecord {
    record(
        offset,
        SchemaAndValue::new(Schema::primitive(SchemaType::Int64), Value::Int64(id)),
        SchemaAndValue {
            schema: Some(value_schema()),
            value: order(id, Some("x")),
        },
    )
}

fn rules<'a>(pk_mode: PkMode, pk_fields: &'a [String], whitelist: &'a [String]) -> FieldRules<'a> {
    FieldRules {
        pk_mode,
        pk_fields,
        fields_whitelist: whitelist,
    }
}

fn names(columns: &[super::fields::Column]) -> Vec<&str> {
    columns
        .iter()
        .map(|column| column.def.name.as_str())
        .collect()
}

#[test]
fn pk_modes_pick_key_columns() {
    let value = value_schema();
    let none = extract_fields(rules(PkMode::None, &[], &[]), None, Some(&value)).unwrap();
    assert!(none.pk.is_empty());
    assert_eq!(names(&none.other), ["id", "name", "price"]);

    let kafka = extract_fields(rules(PkMode::Kafka, &[], &[]), None, Some(&value)).unwrap();
    assert_eq!(
        names(&kafka.pk),
        ["__connect_topic", "__connect_partition", "__connect_offset"]
    );
    assert_eq!(
        kafka.pk_defs.iter().map(|c| c.sql_type).collect::<Vec<_>>(),
        ["TEXT", "INT", "BIGINT"]
    );
    assert_eq!(kafka.pk[2].source, ColumnSource::KafkaOffset);

    let id = vec!["id".to_string()];
    let by_value =
        extract_fields(rules(PkMode::RecordValue, &id, &[]), None, Some(&value)).unwrap();
    assert_eq!(
        (names(&by_value.pk), names(&by_value.other)),
        (vec!["id"], vec!["name", "price"])
    );
    let all_value =
        extract_fields(rules(PkMode::RecordValue, &[], &[]), None, Some(&value)).unwrap();
    assert_eq!(names(&all_value.pk), ["id", "name", "price"]);
    assert!(all_value.other.is_empty());
    let missing = vec!["nope".to_string()];
    let error = extract_fields(
        rules(PkMode::RecordValue, &missing, &[]),
        None,
        Some(&value),
    )
    .unwrap_err();
    assert!(
        error.contains("\"nope\"") && error.contains("pk.fields"),
        "{error}"
    );

    let primitive_key = Arc::new(Schema::primitive(SchemaType::Int64));
    let by_key = extract_fields(
        rules(PkMode::RecordKey, &id, &[]),
        Some(&primitive_key),
        Some(&value),
    )
    .unwrap();
    assert_eq!(by_key.pk[0].source, ColumnSource::Key);
    assert_eq!(
        names(&by_key.other),
        ["name", "price"],
        "the id field is the key column"
    );
    let error = extract_fields(
        rules(PkMode::RecordKey, &[], &[]),
        Some(&primitive_key),
        Some(&value),
    )
    .unwrap_err();
    assert!(error.contains("exactly one"), "{error}");
    let struct_key = Arc::new(Schema::structure(
        None,
        vec![
            ("region", Schema::primitive(SchemaType::String)),
            ("id", Schema::primitive(SchemaType::Int64)),
        ],
    ));
    let by_struct = extract_fields(
        rules(PkMode::RecordKey, &[], &[]),
        Some(&struct_key),
        Some(&value),
    )
    .unwrap();
    assert_eq!(names(&by_struct.pk), ["region", "id"]);
    assert_eq!(by_struct.pk[1].source, ColumnSource::KeyField(1));

    let whitelist = vec!["price".to_string()];
    let listed = extract_fields(
        rules(PkMode::RecordValue, &id, &whitelist),
        None,
        Some(&value),
    )
    .unwrap();
    assert_eq!(
        (names(&listed.pk), names(&listed.other)),
        (vec!["id"], vec!["price"])
    );
    let not_struct = Arc::new(Schema::primitive(SchemaType::String));
    assert!(
        extract_fields(rules(PkMode::None, &[], &[]), None, Some(&not_struct))
            .unwrap_err()
            .contains("struct")
    );
}

#[test]
fn plan_groups_rows_and_names_bad_records() {
    let config = sink_config(&[
        ("insert.mode", "upsert"),
        ("pk.mode", "record_key"),
        ("pk.fields", "id"),
        ("delete.enabled", "true"),
    ]);
    let schemaless = record(
        12,
        SchemaAndValue::new(Schema::primitive(SchemaType::Int64), Value::Int64(9)),
        SchemaAndValue::schemaless(Value::String("{}".to_string())),
    );
    let tombstone = record(
        13,
        SchemaAndValue::new(Schema::primitive(SchemaType::Int64), Value::Int64(1)),
        SchemaAndValue::null(),
    );
    let keyless = record(14, SchemaAndValue::null(), order_record(0, 3).value);
    let records = vec![
        order_record(10, 1),
        order_record(11, 2),
        schemaless,
        tombstone,
        keyless,
        order_record(15, 1),
    ];
    let (batches, bad) = plan_writes(&config, &records);
    let shapes: Vec<(Operation, usize)> = batches
        .iter()
        .map(|b| (b.operation, b.rows.len()))
        .collect();
    assert_eq!(
        shapes,
        [
            (Operation::Upsert, 2),
            (Operation::Delete, 1),
            (Operation::Upsert, 1)
        ]
    );
    assert_eq!(batches[0].table.name, "orders");
    assert_eq!(
        batches[0].rows[1].values,
        [
            SqlValue::BigInt(2),
            SqlValue::Text("x".to_string()),
            SqlValue::Decimal("2.05".to_string())
        ]
    );
    assert_eq!(batches[1].rows[0].values, [SqlValue::BigInt(1)]);
    assert_eq!(bad.len(), 2);
    let message = bad[0].to_string();
    assert!(
        message.contains("topic orders partition 2 offset 12")
            && message.contains("value.converter.schemas.enable=true"),
        "{message}"
    );
    assert!(
        bad[1].to_string().contains("offset 14") && bad[1].reason.contains("key"),
        "{bad:?}"
    );
}

#[test]
fn plan_refuses_nulls_for_required_columns_and_handles_tombstones_by_mode() {
    let config = sink_config(&[("pk.mode", "record_value"), ("pk.fields", "id")]);
    let mut null_price = order_record(5, 7);
    if let Value::Struct(fields) = &mut null_price.value.value {
        fields.values[2] = Value::Null;
    }
    let (_, bad) = plan_writes(&config, &[null_price]);
    assert!(
        bad[0].reason.contains("\"price\"") && bad[0].reason.contains("NOT NULL"),
        "{bad:?}"
    );

    let tombstone = record(6, SchemaAndValue::null(), SchemaAndValue::null());
    let (batches, bad) = plan_writes(&config, std::slice::from_ref(&tombstone));
    assert!(batches.is_empty());
    assert!(bad[0].reason.contains("tombstone"), "{bad:?}");

    let kafka = sink_config(&[("pk.mode", "kafka")]);
    let (batches, bad) = plan_writes(&kafka, &[tombstone, order_record(7, 1)]);
    assert!(
        bad.is_empty(),
        "tombstones are skipped without delete.enabled"
    );
    assert_eq!(
        batches[0].rows[0].values[..3],
        [
            SqlValue::Text("orders".to_string()),
            SqlValue::Int(2),
            SqlValue::BigInt(7)
        ]
    );
}

#[test]
fn values_must_match_their_schema() {
    let int64 = Schema::primitive(SchemaType::Int64);
    assert_eq!(
        to_sql_value(&int64, &Value::Int64(5)),
        Ok(SqlValue::BigInt(5))
    );
    assert_eq!(to_sql_value(&int64, &Value::Null), Ok(SqlValue::Null));
    assert!(to_sql_value(&int64, &Value::String("5".to_string()))
        .unwrap_err()
        .contains("int64"));
    assert_eq!(
        to_sql_value(&Schema::primitive(SchemaType::Int8), &Value::Int8(-3)),
        Ok(SqlValue::SmallInt(-3))
    );
    assert_eq!(
        to_sql_value(&Schema::date(), &Value::Date(1)),
        Ok(SqlValue::Date(1))
    );
    assert!(to_sql_value(&Schema::decimal(2), &Value::Int64(1)).is_err());
}

fn encoded(value: &SqlValue) -> Vec<u8> {
    let mut out = BytesMut::new();
    value.to_sql_checked(&Type::UNKNOWN, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn binary_encoding_uses_postgres_epochs() {
    // 2000-01-01 is PostgreSQL's day 0 and Connect's day 10957.
    assert_eq!(encoded(&SqlValue::Date(10_957)), 0i32.to_be_bytes());
    assert_eq!(encoded(&SqlValue::Date(0)), (-10_957i32).to_be_bytes());
    assert_eq!(
        encoded(&SqlValue::Timestamp(946_684_800_001)),
        1000i64.to_be_bytes()
    );
    assert_eq!(encoded(&SqlValue::Time(1500)), 1_500_000i64.to_be_bytes());
    assert_eq!(encoded(&SqlValue::SmallInt(-2)), (-2i16).to_be_bytes());
    assert_eq!(encoded(&SqlValue::Boolean(true)), [1]);
    assert_eq!(encoded(&SqlValue::Decimal("-0.50".to_string())), b"-0.50");
    let mut out = BytesMut::new();
    assert!(SqlValue::Timestamp(i64::MAX)
        .to_sql_checked(&Type::UNKNOWN, &mut out)
        .is_err());
}

#[test]
fn sqlstate_classes_decide_retries() {
    assert_eq!(sqlstate_class("57P01"), SqlStateClass::Transient);
    assert_eq!(sqlstate_class("08006"), SqlStateClass::Transient);
    assert_eq!(sqlstate_class("40001"), SqlStateClass::Transient);
    assert_eq!(sqlstate_class("42P01"), SqlStateClass::Transient);
    assert_eq!(sqlstate_class("23502"), SqlStateClass::Data);
    assert_eq!(sqlstate_class("22003"), SqlStateClass::Data);
    assert_eq!(sqlstate_class("42804"), SqlStateClass::Data);
    assert_eq!(sqlstate_class("28P01"), SqlStateClass::User);
    assert_eq!(sqlstate_class("3D000"), SqlStateClass::User);
}

#[test]
fn task_creation_checks_the_config() {
    use crate::sdk::{ConnectorFactory, NoOffsets, TaskContext};
    let context = |pairs: &[(&str, &str)]| {
        TaskContext::new(
            "jdbc".to_string(),
            0,
            ConfigValues::from_raw(props(pairs)),
            Arc::new(NoOffsets),
        )
    };
    assert!(super::JdbcSinkFactory
        .create_sink_task(context(&[("connection.url", URL)]))
        .is_ok());
    let error = super::JdbcSinkFactory
        .create_sink_task(context(&[
            ("connection.url", URL),
            ("insert.mode", "upsert"),
        ]))
        .err()
        .expect("upsert without a key is refused");
    assert!(error.message.contains("pk.mode"), "{error}");
}

fn batch(operation: Operation, keys: &[i64]) -> Batch {
    let schema = Arc::new(Schema::structure(
        None,
        vec![
            ("id", Schema::primitive(SchemaType::Int64)),
            ("n", Schema::primitive(SchemaType::Int64)),
        ],
    ));
    let pk = vec!["id".to_string()];
    let rules = FieldRules {
        pk_mode: PkMode::RecordValue,
        pk_fields: &pk,
        fields_whitelist: &[],
    };
    let fields = Arc::new(extract_fields(rules, None, Some(&schema)).unwrap());
    let rows = keys
        .iter()
        .enumerate()
        .map(|(index, key)| Row {
            values: vec![SqlValue::BigInt(*key), SqlValue::BigInt(index as i64)],
            origin: RecordOrigin {
                topic: "t".to_string(),
                partition: 0,
                offset: index as i64,
            },
        })
        .collect();
    Batch {
        table: TableId {
            schema_opt: None,
            name: "t".to_string(),
        },
        operation,
        fields,
        rows,
    }
}

fn offsets(chunks: &[Vec<&Row>]) -> Vec<Vec<i64>> {
    chunks
        .iter()
        .map(|chunk| chunk.iter().map(|row| row.origin.offset).collect())
        .collect()
}

#[test]
fn upsert_chunks_keep_the_last_row_per_key() {
    let upserts = batch(Operation::Upsert, &[1, 2, 1, 3, 2, 4]);
    assert_eq!(
        offsets(&statement_chunks(&upserts, 3)),
        [vec![2, 1, 3], vec![4, 5]]
    );
    assert_eq!(
        offsets(&statement_chunks(&upserts, 100)),
        [vec![2, 4, 3, 5]]
    );
    let inserts = batch(Operation::Insert, &[1, 1, 1]);
    assert_eq!(
        offsets(&statement_chunks(&inserts, 2)),
        [vec![0, 1], vec![2]]
    );
}
