//! Unit tests of the Elasticsearch sink's pure pieces (the server is exercised by
//! `tests/tests/elasticsearch_sink.rs`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::bulk::{
    backoff, bulk_body, classify_item, classify_status, document_id, index_name, key_as_id,
    parse_bulk_response, Action, ActionBuilder, ItemOutcome, Operation, Origin, RecordProblem,
    StatusClass,
};
use super::client::has_field_mappings;
use super::mapping::{index_mapping, preprocessed_json};
use super::*;
use crate::registry::builtin_registry;
use crate::sdk::{
    Decimal, NoOffsets, Schema, SchemaAndValue, SchemaType, SinkRecord, Struct, Value,
};
use crate::testing::props;
use crate::validation::{check_connector_config, InvalidConfig};

const CLASS: &str = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector";

fn errors_of(pairs: &[(&str, &str)]) -> Vec<String> {
    match check_connector_config(&builtin_registry(), &props(pairs)) {
        Ok(_) => Vec::new(),
        Err(InvalidConfig::Errors(errors)) => errors,
        Err(other) => panic!("unexpected {other}"),
    }
}

fn base(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut pairs = vec![
        ("connector.class", CLASS),
        ("name", "es"),
        ("topics", "t"),
        ("connection.url", "http://127.0.0.1:9200"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

fn settings(extra: &[(&'static str, &'static str)]) -> Settings {
    let config = ElasticsearchSinkFactory
        .config_def()
        .parse(&props(&base(extra)))
        .unwrap();
    Settings::from_config(&config).unwrap()
}

fn record(key: Value, value: SchemaAndValue) -> SinkRecord {
    SinkRecord {
        topic: "Orders".to_string(),
        kafka_partition: 2,
        kafka_offset: 41,
        timestamp: None,
        key: SchemaAndValue::schemaless(key),
        value,
        headers: Vec::new(),
        original_opt: None,
    }
}

fn map_value(pairs: &[(&str, Value)]) -> SchemaAndValue {
    SchemaAndValue::schemaless(Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::String((*k).to_string()), v.clone()))
            .collect(),
    ))
}

#[test]
fn the_seed_json_of_kafka_connect_users_is_valid_and_found_by_every_name() {
    let seed = [
        ("connector.class", CLASS),
        ("tasks.max", "1"),
        ("topics", "simple.elasticsearch.data"),
        ("name", "simple-elasticsearch-connector"),
        ("connection.url", "http://127.0.0.1:9200"),
        ("type.name", "_doc"),
    ];
    assert_eq!(errors_of(&seed), Vec::<String>::new());
    let registry = builtin_registry();
    for name in [CLASS, "ElasticsearchSinkConnector", "ElasticsearchSink"] {
        let factory = registry.find(name).unwrap();
        assert_eq!(factory.class_names()[0], CLASS, "{name}");
    }
}

#[test]
fn defaults_are_confluents() {
    let s = settings(&[]);
    assert!(!s.key_ignore && !s.schema_ignore && s.compact_map_entries);
    assert_eq!(s.null_values, NullValueBehavior::Fail);
    assert_eq!(s.malformed_documents, MalformedBehavior::Fail);
    assert_eq!(s.write_method, WriteMethod::Insert);
    assert_eq!(s.batch_size, 2000);
    assert_eq!(s.bulk_size_bytes, 5 * 1024 * 1024);
    assert_eq!(s.linger, Duration::from_millis(1));
    assert_eq!(s.max_in_flight, 5);
    assert_eq!(s.max_retries, 5);
    assert_eq!(s.retry_backoff, Duration::from_millis(100));
    assert_eq!(s.flush_timeout, Duration::from_millis(180_000));
    assert_eq!(s.connection_timeout, Duration::from_millis(1000));
    assert_eq!(s.read_timeout, Duration::from_millis(3000));
    assert!(s.credentials.is_none() && s.type_name.is_none() && !s.tolerate_all);
}

#[test]
fn enums_are_case_insensitive_and_urls_are_a_list() {
    let s = settings(&[
        ("behavior.on.null.values", "DELETE"),
        ("behavior.on.malformed.documents", "Warn"),
        ("write.method", "UPSERT"),
        ("batch.size", "10"),
        ("errors.tolerance", "all"),
        ("connection.url", " http://a:9200 , https://b:9243/ "),
        ("connection.username", "elastic"),
        ("connection.password", "secret"),
    ]);
    assert_eq!(s.null_values, NullValueBehavior::Delete);
    assert_eq!(s.malformed_documents, MalformedBehavior::Warn);
    assert_eq!(s.write_method, WriteMethod::Upsert);
    assert_eq!(s.batch_size, 10);
    assert!(s.tolerate_all);
    assert_eq!(s.urls.len(), 2);
    assert_eq!(s.urls[1].as_str(), "https://b:9243/");
    assert_eq!(s.credentials, Some(("elastic".into(), "secret".into())));
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    let cases: [(&str, &str); 9] = [
        ("behavior.on.null.values", "drop"),
        ("behavior.on.malformed.documents", "explode"),
        ("write.method", "append"),
        ("batch.size", "0"),
        ("max.in.flight.requests", "many"),
        ("key.ignore", "yes"),
        ("connection.url", "elasticsearch:9200"),
        ("connection.url", "ftp://host:21"),
        ("connection.url", ""),
    ];
    for (key, value) in cases {
        let errors = errors_of(&base(&[(key, value)]));
        assert_eq!(errors.len(), 1, "{key}={value}: {errors:?}");
        assert!(errors[0].contains(key), "{key}={value}: {errors:?}");
    }
    let missing = errors_of(&[("connector.class", CLASS), ("name", "es"), ("topics", "t")]);
    assert!(
        missing.iter().any(|e| e.contains("connection.url")),
        "{missing:?}"
    );
    let half = errors_of(&base(&[("connection.username", "elastic")]));
    assert_eq!(half.len(), 1, "{half:?}");
    assert!(half[0].contains("connection.password"), "{half:?}");
}

#[test]
fn confluent_features_this_sink_lacks_are_refused_when_turned_on() {
    for (key, value) in [
        ("data.stream.type", "logs"),
        ("data.stream.dataset", "app"),
        ("elastic.security.protocol", "SSL"),
        ("kerberos.user.principal", "connect@EXAMPLE.COM"),
        ("proxy.host", "proxy.internal"),
        ("external.version.header", "version"),
        ("external.resource.usage", "ALIAS_INDEX"),
        ("topic.to.external.resource.mapping", "t:alias-t"),
        ("use.autogenerated.ids", "true"),
    ] {
        let errors = errors_of(&base(&[(key, value)]));
        assert_eq!(errors.len(), 1, "{key}={value}: {errors:?}");
        assert!(
            errors[0].contains(key) && errors[0].contains("not supported"),
            "{key}={value}: {errors:?}"
        );
    }
    // Their "off" values, as Confluent's docs and exported configs carry them, are accepted,
    // and so are keys that only tune a feature that is off (Confluent's sink ignores them).
    let off = errors_of(&base(&[
        ("data.stream.type", "NONE"),
        ("elastic.security.protocol", "PLAINTEXT"),
        (
            "elastic.https.ssl.truststore.location",
            "/etc/es/truststore.jks",
        ),
        ("proxy.port", "8080"),
        ("proxy.host", ""),
        ("external.resource.usage", "DISABLED"),
        ("use.autogenerated.ids", "false"),
    ]));
    assert!(off.is_empty(), "{off:?}");
}

#[test]
fn tasks_share_the_config_and_creating_one_does_no_io() {
    let config = crate::sdk::ConfigValues::from_raw(props(&base(&[])));
    let configs = ElasticsearchSinkFactory.task_configs(&config, 3).unwrap();
    assert_eq!(configs.len(), 3);
    let context = TaskContext::new("es".into(), 0, config, Arc::new(NoOffsets));
    assert!(ElasticsearchSinkFactory.create_sink_task(context).is_ok());
}

#[test]
fn index_names_follow_elasticsearch_rules() {
    assert_eq!(index_name("Orders.V1"), "orders.v1");
    assert_eq!(index_name("_private"), "private");
    assert_eq!(index_name("-dash"), "dash");
    assert_eq!(index_name("."), "dot");
    assert_eq!(index_name(".."), "dotdot");
    assert_eq!(index_name(&"x".repeat(300)).len(), 255);
}

#[test]
fn ids_are_the_key_or_topic_partition_offset() {
    assert_eq!(
        key_as_id(&SchemaAndValue::schemaless(Value::String("k-1".into()))),
        Ok("k-1".into())
    );
    assert_eq!(
        key_as_id(&SchemaAndValue::schemaless(Value::Int64(-7))),
        Ok("-7".into())
    );
    assert_eq!(
        key_as_id(&SchemaAndValue::new(
            Schema::primitive(SchemaType::Int32),
            Value::Int32(5)
        )),
        Ok("5".into())
    );
    let null = key_as_id(&SchemaAndValue::null()).unwrap_err();
    assert!(null.contains("can not be null"), "{null}");
    let empty = key_as_id(&SchemaAndValue::schemaless(Value::String(String::new()))).unwrap_err();
    assert!(empty.contains("can not be empty"), "{empty}");
    let schema = Schema::structure(
        Some("Key"),
        vec![("id", Schema::primitive(SchemaType::Int32))],
    );
    let structure = Value::Struct(Struct {
        schema: Arc::new(schema.clone()),
        values: vec![Value::Int32(1)],
    });
    let error = key_as_id(&SchemaAndValue::new(schema, structure)).unwrap_err();
    assert!(
        error.starts_with("STRUCT is not supported as the document id"),
        "{error}"
    );
    let map = key_as_id(&SchemaAndValue::schemaless(Value::Map(Vec::new()))).unwrap_err();
    assert!(map.starts_with("MAP"), "{map}");

    let keyed = record(Value::String("k".into()), map_value(&[]));
    assert_eq!(document_id(&settings(&[]), &keyed), Ok("k".into()));
    assert_eq!(
        document_id(&settings(&[("key.ignore", "true")]), &keyed),
        Ok("Orders+2+41".into())
    );
    assert_eq!(
        document_id(&settings(&[("topic.key.ignore", "Other, Orders")]), &keyed),
        Ok("Orders+2+41".into())
    );
}

#[test]
fn records_become_index_update_or_delete_actions() {
    let builder = ActionBuilder::new();
    let value = map_value(&[("n", Value::Int64(1)), ("s", Value::String("x".into()))]);
    let keyed = record(Value::String("k".into()), value.clone());

    let insert = builder
        .action(&settings(&[]), &keyed, "orders")
        .unwrap()
        .unwrap();
    assert_eq!(insert.operation, Operation::Index);
    assert_eq!(insert.id, "k");
    assert_eq!(
        insert.version,
        Some(41),
        "the key as id uses the offset as external version"
    );
    assert_eq!(
        insert.document.as_deref(),
        Some(br#"{"n":1,"s":"x"}"#.as_slice())
    );

    let ignored_key = builder
        .action(&settings(&[("key.ignore", "true")]), &keyed, "orders")
        .unwrap()
        .unwrap();
    assert_eq!(
        (ignored_key.id.as_str(), ignored_key.version),
        ("Orders+2+41", None)
    );

    let upsert = builder
        .action(&settings(&[("write.method", "upsert")]), &keyed, "orders")
        .unwrap()
        .unwrap();
    assert_eq!(
        (upsert.operation, upsert.version),
        (Operation::Upsert, None)
    );

    let tombstone = record(Value::String("k".into()), SchemaAndValue::null());
    match builder.action(&settings(&[]), &tombstone, "orders") {
        Err(RecordProblem::Invalid(message)) => {
            assert!(
                message.contains("topic Orders partition 2 offset 41"),
                "{message}"
            );
            assert!(message.contains("behavior.on.null.values"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        builder.action(
            &settings(&[("behavior.on.null.values", "ignore")]),
            &tombstone,
            "orders"
        ),
        Ok(None)
    );
    let delete = builder
        .action(
            &settings(&[("behavior.on.null.values", "delete")]),
            &tombstone,
            "orders",
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (delete.operation, delete.document),
        (Operation::Delete, None)
    );
    let keyless_tombstone = record(Value::Null, SchemaAndValue::null());
    assert_eq!(
        builder.action(
            &settings(&[("behavior.on.null.values", "delete")]),
            &keyless_tombstone,
            "orders"
        ),
        Ok(None)
    );

    let keyless = record(Value::Null, value);
    match builder.action(&settings(&[]), &keyless, "orders") {
        Err(RecordProblem::Invalid(message)) => {
            assert!(
                message.contains("topic Orders partition 2 offset 41"),
                "{message}"
            );
            assert!(message.contains("can not be null"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let text = record(
        Value::String("k".into()),
        SchemaAndValue::schemaless(Value::String("plain".into())),
    );
    assert!(matches!(
        builder.action(&settings(&[]), &text, "orders"),
        Err(RecordProblem::Malformed(_))
    ));
}

#[test]
fn bulk_bodies_are_ndjson_with_one_metadata_line_per_action() {
    let origin = Origin {
        topic: "t".into(),
        partition: 0,
        offset: 7,
    };
    let actions = vec![
        Action {
            operation: Operation::Index,
            index: "t".into(),
            id: "t+0+7".into(),
            version: None,
            document: Some(br#"{"a":1}"#.to_vec()),
            origin: origin.clone(),
        },
        Action {
            operation: Operation::Index,
            index: "t".into(),
            id: "k\"q".into(),
            version: Some(7),
            document: Some(br#"{"a":2}"#.to_vec()),
            origin: origin.clone(),
        },
        Action {
            operation: Operation::Upsert,
            index: "t".into(),
            id: "k".into(),
            version: None,
            document: Some(br#"{"a":3}"#.to_vec()),
            origin: origin.clone(),
        },
        Action {
            operation: Operation::Delete,
            index: "t".into(),
            id: "k".into(),
            version: Some(8),
            document: None,
            origin,
        },
    ];
    let body = String::from_utf8(bulk_body(&actions, 5)).unwrap();
    let expected = concat!(
        r#"{"index":{"_index":"t","_id":"t+0+7"}}"#,
        "\n",
        r#"{"a":1}"#,
        "\n",
        r#"{"index":{"_index":"t","_id":"k\"q","version":7,"version_type":"external"}}"#,
        "\n",
        r#"{"a":2}"#,
        "\n",
        r#"{"update":{"_index":"t","_id":"k","retry_on_conflict":5}}"#,
        "\n",
        r#"{"doc":{"a":3},"doc_as_upsert":true}"#,
        "\n",
        r#"{"delete":{"_index":"t","_id":"k","version":8,"version_type":"external"}}"#,
        "\n",
    );
    assert_eq!(body, expected);
}

#[test]
fn bulk_responses_are_judged_item_by_item() {
    let ok = json!({"took": 3, "errors": false, "items": [
        {"index": {"_index": "t", "_id": "1", "status": 201}},
        {"index": {"_index": "t", "_id": "2", "status": 200}}
    ]});
    assert_eq!(
        parse_bulk_response(ok.to_string().as_bytes(), 2),
        Ok(vec![ItemOutcome::Done, ItemOutcome::Done])
    );
    assert!(parse_bulk_response(ok.to_string().as_bytes(), 3)
        .unwrap_err()
        .contains("2 items for 3"));
    assert!(parse_bulk_response(b"<html>", 1).is_err());

    let mixed = json!({"took": 3, "errors": true, "items": [
        {"index": {"status": 201}},
        {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "[k]: version conflict"}}},
        {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [n] of type [long]",
            "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"abc\""}}}},
        {"index": {"status": 400, "error": {"type": "document_parsing_exception", "reason": "bad"}}},
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
        {"index": {"status": 503, "error": {"type": "unavailable_shards_exception", "reason": "primary shard is not active"}}},
        {"delete": {"status": 404, "result": "not_found"}},
        {"index": {"status": 404, "error": {"type": "index_not_found_exception", "reason": "no such index [t]"}}}
    ]});
    let outcomes = parse_bulk_response(mixed.to_string().as_bytes(), 8).unwrap();
    assert_eq!(outcomes[0], ItemOutcome::Done);
    assert_eq!(outcomes[1], ItemOutcome::VersionConflict);
    assert_eq!(
        outcomes[2],
        ItemOutcome::Malformed("mapper_parsing_exception: failed to parse field [n] of type [long] (caused by illegal_argument_exception: For input string: \"abc\")".into())
    );
    assert!(matches!(outcomes[3], ItemOutcome::Malformed(_)));
    assert!(matches!(&outcomes[4], ItemOutcome::Retry(r) if r.contains("queue full")));
    assert!(matches!(outcomes[5], ItemOutcome::Retry(_)));
    assert_eq!(outcomes[6], ItemOutcome::Done);
    assert!(
        matches!(&outcomes[7], ItemOutcome::Failed(r) if r.starts_with("index_not_found_exception"))
    );
    assert_eq!(
        classify_item(500, None),
        ItemOutcome::Retry("HTTP 500".into())
    );
}

#[test]
fn retry_decisions_and_backoff() {
    assert_eq!(classify_status(200), StatusClass::Success);
    assert_eq!(classify_status(429), StatusClass::Retry);
    assert_eq!(classify_status(502), StatusClass::Retry);
    assert_eq!(classify_status(503), StatusClass::Retry);
    assert_eq!(classify_status(401), StatusClass::Unauthorized);
    assert_eq!(classify_status(403), StatusClass::Unauthorized);
    assert_eq!(classify_status(400), StatusClass::Fail);
    assert_eq!(classify_status(413), StatusClass::Fail);

    let base = Duration::from_millis(100);
    for attempt in 0..8 {
        let ceiling = base * 2u32.pow(attempt);
        let low = backoff(attempt, base, 0.0);
        let high = backoff(attempt, base, 0.999_999);
        assert_eq!(low, ceiling / 2, "attempt {attempt}");
        assert!(
            high <= ceiling && high > ceiling * 99 / 100,
            "attempt {attempt}: {high:?}"
        );
    }
    assert_eq!(
        backoff(40, base, 1.0),
        Duration::from_secs(60),
        "capped at a minute"
    );
    assert_eq!(backoff(3, Duration::ZERO, 0.5), Duration::ZERO);
}

#[test]
fn mappings_follow_the_value_schema() {
    let schema = Schema::structure(
        Some("Order"),
        vec![
            ("id", Schema::primitive(SchemaType::Int64)),
            ("name", Schema::primitive(SchemaType::String).optional()),
            ("price", Schema::decimal(2)),
            ("at", Schema::timestamp()),
            ("tags", Schema::array(Schema::primitive(SchemaType::String))),
            ("ok", Schema::primitive(SchemaType::Boolean)),
            ("n8", Schema::primitive(SchemaType::Int8)),
            ("f", Schema::primitive(SchemaType::Float32)),
            ("raw", Schema::primitive(SchemaType::Bytes)),
        ],
    );
    let text =
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}});
    assert_eq!(
        index_mapping(&schema).unwrap(),
        json!({"properties": {
            "id": {"type": "long"}, "name": text, "price": {"type": "double"}, "at": {"type": "date"},
            "tags": text, "ok": {"type": "boolean"}, "n8": {"type": "byte"}, "f": {"type": "float"},
            "raw": {"type": "binary"}
        }})
    );
    let error = index_mapping(&Schema::primitive(SchemaType::String)).unwrap_err();
    assert!(error.contains("schema.ignore=true"), "{error}");

    assert!(has_field_mappings(
        br#"{"t":{"mappings":{"properties":{"a":{"type":"long"}}}}}"#
    ));
    assert!(!has_field_mappings(br#"{"t":{"mappings":{}}}"#));
    assert!(!has_field_mappings(b"not json"));
}

#[test]
fn documents_with_schemas_are_written_as_confluent_writes_them() {
    let map_schema = Schema::map(
        Schema::primitive(SchemaType::Int32),
        Schema::primitive(SchemaType::String),
    );
    let schema = Arc::new(Schema::structure(
        Some("Order"),
        vec![
            ("price", Schema::decimal(2)),
            ("labels", map_schema),
            ("note", Schema::primitive(SchemaType::String).optional()),
        ],
    ));
    let value = Value::Struct(Struct {
        schema: Arc::clone(&schema),
        values: vec![
            Value::Decimal(Decimal {
                unscaled: 12345,
                scale: 2,
            }),
            Value::Map(vec![(Value::Int32(1), Value::String("one".into()))]),
            Value::Null,
        ],
    });
    assert_eq!(
        preprocessed_json(Some(&schema), &value, true).unwrap(),
        json!({"price": 123.45, "labels": [{"key": 1, "value": "one"}], "note": null})
    );
    let string_map = Value::Map(vec![(Value::String("a".into()), Value::Int32(1))]);
    let string_map_schema = Schema::map(
        Schema::primitive(SchemaType::String),
        Schema::primitive(SchemaType::Int32),
    );
    assert_eq!(
        preprocessed_json(Some(&string_map_schema), &string_map, true).unwrap(),
        json!({"a": 1})
    );
    assert_eq!(
        preprocessed_json(Some(&string_map_schema), &string_map, false).unwrap(),
        json!([{"key": "a", "value": 1}])
    );
    let required = Schema::structure(None, vec![("id", Schema::primitive(SchemaType::Int32))]);
    let missing = Value::Struct(Struct {
        schema: Arc::new(required.clone()),
        values: vec![Value::Null],
    });
    assert!(preprocessed_json(Some(&required), &missing, true)
        .unwrap_err()
        .contains("required"));

    // Through the action builder: the schema is used unless schema.ignore=true.
    let builder = ActionBuilder::new();
    let keyed = record(
        Value::String("k".into()),
        SchemaAndValue {
            schema: Some(Arc::clone(&schema)),
            value,
        },
    );
    let with_schema = builder
        .action(&settings(&[]), &keyed, "orders")
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(with_schema.document.as_deref().unwrap())
            .unwrap()["price"],
        json!(123.45)
    );
    let ignored = builder
        .action(&settings(&[("schema.ignore", "true")]), &keyed, "orders")
        .unwrap()
        .unwrap();
    let ignored: serde_json::Value =
        serde_json::from_slice(ignored.document.as_deref().unwrap()).unwrap();
    assert_eq!(
        ignored["price"],
        json!("MDk="),
        "JsonConverter's default decimal.format is base64"
    );
}

/// A scripted HTTP/1.1 server: answers requests in order with the given `(status, body)` pairs
/// and records each request as `"METHOD /path\n<body>"`.
struct ScriptedServer {
    url: String,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ScriptedServer {
    async fn start(answers: Vec<(u16, String)>) -> ScriptedServer {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answers = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
            answers,
        )));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = Arc::clone(&seen);
                let answers = Arc::clone(&answers);
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut request_line = String::new();
                        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let mut length = 0;
                        loop {
                            let mut header = String::new();
                            stream.read_line(&mut header).await.unwrap();
                            if header.trim().is_empty() {
                                break;
                            }
                            if let Some((name, value)) = header.split_once(':') {
                                if name.eq_ignore_ascii_case("content-length") {
                                    length = value.trim().parse().unwrap();
                                }
                            }
                        }
                        let mut body = vec![0; length];
                        stream.read_exact(&mut body).await.unwrap();
                        let mut parts = request_line.split_whitespace();
                        let (method, path) =
                            (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                        seen.lock().unwrap().push(format!(
                            "{method} {path}\n{}",
                            String::from_utf8_lossy(&body)
                        ));
                        let (status, answer) = answers
                            .lock()
                            .unwrap()
                            .pop_front()
                            .unwrap_or((500, "script ended".into()));
                        let response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                        stream
                            .get_mut()
                            .write_all(response.as_bytes())
                            .await
                            .unwrap();
                    }
                });
            }
        });
        ScriptedServer { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn scripted_task(url: &str, extra: &[(&str, &str)]) -> Box<dyn crate::sdk::SinkTask> {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("connector.class", CLASS),
        ("topics", "t"),
        ("connection.url", url),
        ("key.ignore", "true"),
        ("schema.ignore", "true"),
        ("retry.backoff.ms", "1"),
    ];
    pairs.extend_from_slice(extra);
    let context = TaskContext::new(
        "es".into(),
        0,
        crate::sdk::ConfigValues::from_raw(props(&pairs)),
        Arc::new(NoOffsets),
    );
    ElasticsearchSinkFactory.create_sink_task(context).unwrap()
}

fn numbered(topic: &str, count: i64) -> Vec<SinkRecord> {
    (0..count)
        .map(|offset| SinkRecord {
            topic: topic.to_string(),
            kafka_partition: 0,
            kafka_offset: offset,
            timestamp: None,
            key: SchemaAndValue::null(),
            value: map_value(&[("n", Value::Int64(offset))]),
            headers: Vec::new(),
            original_opt: None,
        })
        .collect()
}

fn bulk_answer(items: &[serde_json::Value]) -> (u16, String) {
    (
        200,
        json!({"took": 1, "errors": true, "items": items}).to_string(),
    )
}

#[tokio::test]
async fn items_refused_with_429_are_sent_again_alone_and_flush_waits_for_them() {
    let server = ScriptedServer::start(vec![
        (404, "{}".into()),
        (200, r#"{"acknowledged":true}"#.into()),
        bulk_answer(&[
            json!({"index": {"status": 201}}),
            json!({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}}),
        ]),
        bulk_answer(&[json!({"index": {"status": 201}})]),
    ])
    .await;
    let mut task = scripted_task(&server.url, &[]);
    task.put(numbered("t", 2)).await.unwrap();
    task.flush().await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    assert!(requests[0].starts_with("HEAD /t\n"), "{requests:#?}");
    assert!(requests[1].starts_with("PUT /t\n"), "{requests:#?}");
    assert!(
        requests[2].contains("t+0+0") && requests[2].contains("t+0+1"),
        "{requests:#?}"
    );
    assert!(requests[3].starts_with("POST /_bulk\n"), "{requests:#?}");
    assert!(
        !requests[3].contains("t+0+0") && requests[3].contains("t+0+1"),
        "only the refused item again: {requests:#?}"
    );
}

#[tokio::test]
async fn a_server_answering_503_fails_the_flush_after_max_retries_with_a_retryable_error() {
    let mut answers = vec![(200, "{}".to_string())];
    answers.extend((0..3).map(|_| (503, r#"{"error":"unavailable"}"#.to_string())));
    let server = ScriptedServer::start(answers).await;
    let mut task = scripted_task(&server.url, &[("max.retries", "2")]);
    task.put(numbered("t", 1)).await.unwrap();
    let error = task.flush().await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert!(
        error
            .message
            .contains("failed after 3 attempt(s) (max.retries=2)"),
        "{}",
        error.message
    );
    assert!(error.message.contains("HTTP 503"), "{}", error.message);
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn malformed_documents_fail_or_are_skipped_as_configured() {
    let malformed = json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [n]"}}});
    let server = ScriptedServer::start(vec![
        (200, "{}".into()),
        bulk_answer(&[json!({"index": {"status": 201}}), malformed.clone()]),
    ])
    .await;
    let mut task = scripted_task(&server.url, &[]);
    task.put(numbered("t", 2)).await.unwrap();
    let error = task.flush().await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(
        error.message.contains("topic t partition 0 offset 1"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("mapper_parsing_exception"),
        "{}",
        error.message
    );

    let server = ScriptedServer::start(vec![
        (200, "{}".into()),
        bulk_answer(&[json!({"index": {"status": 201}}), malformed]),
    ])
    .await;
    let mut task = scripted_task(&server.url, &[("behavior.on.malformed.documents", "warn")]);
    task.put(numbered("t", 2)).await.unwrap();
    task.flush().await.unwrap();
}

#[derive(Default)]
struct CollectingReporter {
    reports: std::sync::Mutex<Vec<crate::sdk::ErrantRecord>>,
}

impl crate::sdk::ErrantRecordReporter for CollectingReporter {
    fn report(&self, record: crate::sdk::ErrantRecord) {
        self.reports.lock().unwrap().push(record);
    }
}

#[tokio::test]
async fn skipped_malformed_documents_are_reported_by_their_consumed_partition_with_a_dlq() {
    let malformed = json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [n]"}}});
    for (extra, reported) in [
        (vec![("behavior.on.malformed.documents", "warn")], false),
        (
            vec![
                ("behavior.on.malformed.documents", "ignore"),
                ("errors.deadletterqueue.topic.name", "dlq"),
            ],
            true,
        ),
        (
            vec![
                ("behavior.on.malformed.documents", "warn"),
                ("errors.log.enable", "true"),
            ],
            true,
        ),
    ] {
        let server = ScriptedServer::start(vec![
            (200, "{}".into()),
            bulk_answer(&[json!({"index": {"status": 201}}), malformed.clone()]),
        ])
        .await;
        let mut pairs: Vec<(&str, &str)> = vec![
            ("connector.class", CLASS),
            ("topics", "t"),
            ("connection.url", &server.url),
            ("key.ignore", "true"),
            ("schema.ignore", "true"),
        ];
        pairs.extend_from_slice(&extra);
        let reporter = Arc::new(CollectingReporter::default());
        let context = TaskContext::new(
            "es".into(),
            0,
            crate::sdk::ConfigValues::from_raw(props(&pairs)),
            Arc::new(NoOffsets),
        )
        .with_errant_reporter(reporter.clone());
        let mut task = ElasticsearchSinkFactory.create_sink_task(context).unwrap();
        // A router sent the records of `t` to `routed`: the report names `t`.
        let mut records = numbered("routed", 2);
        for record in &mut records {
            record.original_opt = Some(crate::sdk::TopicPartition {
                topic: "t".into(),
                partition: 0,
            });
        }
        task.put(records).await.unwrap();
        task.flush().await.unwrap();
        let reports = reporter.reports.lock().unwrap().clone();
        if !reported {
            assert!(reports.is_empty(), "{extra:?}: {reports:?}");
            continue;
        }
        assert_eq!(reports.len(), 1, "{extra:?}: {reports:?}");
        assert_eq!(
            (
                reports[0].topic.as_str(),
                reports[0].partition,
                reports[0].offset
            ),
            ("t", 0, 1)
        );
        assert!(
            reports[0].error.contains("mapper_parsing_exception"),
            "{}",
            reports[0].error
        );
    }
}

#[tokio::test]
async fn bad_credentials_are_a_user_error() {
    let server = ScriptedServer::start(vec![(401, r#"{"error":"unauthorized"}"#.into())]).await;
    let mut task = scripted_task(
        &server.url,
        &[("connection.username", "u"), ("connection.password", "p")],
    );
    let error = task.put(numbered("t", 1)).await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(
        error.message.contains("connection.username"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn records_that_cannot_be_documents_follow_errors_tolerance() {
    let keyed = |topic: &str| {
        let mut records = numbered(topic, 1);
        records[0].key = SchemaAndValue::null();
        records
    };
    let server = ScriptedServer::start(vec![(200, "{}".into())]).await;
    let mut strict = scripted_task(&server.url, &[("key.ignore", "false")]);
    let error = strict.put(keyed("t")).await.unwrap_err();
    assert!(
        !error.is_retryable() && error.message.contains("offset 0"),
        "{error:?}"
    );

    let server = ScriptedServer::start(vec![(200, "{}".into())]).await;
    let mut tolerant = scripted_task(
        &server.url,
        &[("key.ignore", "false"), ("errors.tolerance", "all")],
    );
    tolerant.put(keyed("t")).await.unwrap();
    tolerant.flush().await.unwrap();
    assert_eq!(
        server.requests().len(),
        1,
        "only the index check, no bulk request"
    );
}
