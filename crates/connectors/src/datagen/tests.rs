//! Unit tests of Datagen (no Kafka).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::registry::builtin_registry;
use crate::sdk::{NoOffsets, OffsetReader, SourceRecord, Struct, Value};
use crate::testing::{json_map, props, FixedOffsets};
use crate::validation::{check_connector_config, InvalidConfig};

fn errors_of(extra: &[(&str, &str)]) -> Vec<String> {
    let mut all = props(&[("name", "gen"), ("connector.class", "Datagen")]);
    all.extend(props(extra));
    match check_connector_config(&builtin_registry(), &all) {
        Ok(_) => Vec::new(),
        Err(InvalidConfig::Errors(errors)) => errors,
        Err(other) => panic!("unexpected {other}"),
    }
}

/// Creates the task of `task_config` (as `task_configs` produced it).
fn task(task_config: TaskConfig, offsets: Arc<dyn OffsetReader>) -> Box<dyn SourceTask> {
    let context = TaskContext::new(
        "gen".to_string(),
        0,
        ConfigValues::from_raw(task_config),
        offsets,
    );
    DatagenFactory.create_source_task(context).unwrap()
}

fn sequence_configs(tasks: usize, iterations: &str) -> Vec<TaskConfig> {
    let config = ConfigValues::from_raw(props(&[
        ("kafka.topic", "seq"),
        ("quickstart", "sequence"),
        ("max.interval", "0"),
        ("iterations", iterations),
    ]));
    DatagenFactory.task_configs(&config, tasks).unwrap()
}

/// Polls until `count` records arrived or five seconds passed.
async fn poll_until(task: &mut dyn SourceTask, count: usize) -> Vec<SourceRecord> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut records = Vec::new();
    while records.len() < count && tokio::time::Instant::now() < deadline {
        records.extend(task.poll().await.unwrap());
    }
    records
}

fn field<'a>(record: &'a SourceRecord, name: &str) -> &'a Value {
    match &record.value.value {
        Value::Struct(value) => value.get(name).unwrap(),
        other => panic!("not a struct: {other:?}"),
    }
}

#[test]
fn config_errors_name_the_key() {
    let errors = errors_of(&[("quickstart", "users")]);
    assert!(
        errors.len() == 1 && errors[0].contains("\"kafka.topic\""),
        "{errors:?}"
    );
    let errors = errors_of(&[("kafka.topic", "t"), ("quickstart", "weather")]);
    assert!(
        errors.len() == 1 && errors[0].contains("quickstart") && errors[0].contains("orders"),
        "{errors:?}"
    );
    let errors = errors_of(&[("kafka.topic", "t")]);
    assert!(
        errors.len() == 1 && errors[0].contains("\"quickstart\""),
        "{errors:?}"
    );
    let errors = errors_of(&[
        ("kafka.topic", "t"),
        ("quickstart", "users"),
        ("schema.string", "{}"),
    ]);
    assert!(
        errors.len() == 1 && errors[0].contains("schema.string"),
        "{errors:?}"
    );
    let errors = errors_of(&[
        ("kafka.topic", "t"),
        ("quickstart", "users"),
        ("iterations", "0"),
        ("max.interval", "-5"),
    ]);
    assert!(
        errors.len() == 2
            && errors.iter().any(|error| error.contains("iterations"))
            && errors.iter().any(|error| error.contains("max.interval")),
        "{errors:?}"
    );
    assert!(errors_of(&[
        ("kafka.topic", "t"),
        ("quickstart", "ORDERS"),
        ("iterations", "-1"),
        ("random.seed", "42"),
    ])
    .is_empty());
}

#[test]
fn task_configs_have_one_task_id_each() {
    let configs = sequence_configs(3, "10");
    let ids: Vec<&str> = configs
        .iter()
        .map(|config| config["task.id"].as_str())
        .collect();
    assert_eq!(ids, ["0", "1", "2"]);
    assert!(configs.iter().all(|config| config["kafka.topic"] == "seq"));
}

#[tokio::test]
async fn sequence_emits_every_number_per_task_then_stops() {
    for config in sequence_configs(2, "1200") {
        let task_id: i32 = config["task.id"].parse().unwrap();
        let mut task = task(config, Arc::new(NoOffsets));
        let records = poll_until(task.as_mut(), 1200).await;
        assert_eq!(records.len(), 1200);
        for (index, record) in records.iter().enumerate() {
            let seq = i64::try_from(index).unwrap();
            assert_eq!(record.topic, "seq");
            assert_eq!(field(record, "task"), &Value::Int32(task_id));
            assert_eq!(field(record, "seq"), &Value::Int64(seq));
            assert_eq!(record.key.value, Value::String(format!("{task_id}-{seq}")));
            assert_eq!(record.source_partition, json_map(json!({"task": task_id})));
            assert_eq!(record.source_offset, json_map(json!({"seq": seq})));
        }
        let started = std::time::Instant::now();
        assert!(task.poll().await.unwrap().is_empty(), "iterations reached");
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "no busy loop"
        );
    }
}

#[tokio::test]
async fn sequence_resumes_after_the_stored_offset() {
    let config = sequence_configs(2, "10").remove(1);
    let offsets = FixedOffsets(vec![(
        json_map(json!({"task": 1})),
        json_map(json!({"seq": 6})),
    )]);
    let mut task = task(config, Arc::new(offsets));
    let records = poll_until(task.as_mut(), 3).await;
    let seqs: Vec<&Value> = records.iter().map(|record| field(record, "seq")).collect();
    assert_eq!(seqs, [&Value::Int64(7), &Value::Int64(8), &Value::Int64(9)]);
    assert!(task.poll().await.unwrap().is_empty());
}

fn seeded_config(quickstart: &str) -> TaskConfig {
    let config = ConfigValues::from_raw(props(&[
        ("kafka.topic", "t"),
        ("quickstart", quickstart),
        ("max.interval", "0"),
        ("random.seed", "7"),
    ]));
    DatagenFactory.task_configs(&config, 1).unwrap().remove(0)
}

#[tokio::test]
async fn users_and_orders_are_deterministic_with_a_seed() {
    for quickstart in ["users", "orders", "pageviews"] {
        let first = poll_until(
            task(seeded_config(quickstart), Arc::new(NoOffsets)).as_mut(),
            50,
        )
        .await;
        let again = poll_until(
            task(seeded_config(quickstart), Arc::new(NoOffsets)).as_mut(),
            50,
        )
        .await;
        assert!(first.len() >= 50);
        assert_eq!(first[..50], again[..50], "{quickstart}");
    }
    let users = poll_until(
        task(seeded_config("users"), Arc::new(NoOffsets)).as_mut(),
        20,
    )
    .await;
    for user in &users {
        let Value::String(userid) = field(user, "userid") else {
            panic!("userid not a string");
        };
        assert!(userid.starts_with("User_"), "{userid}");
        assert_eq!(user.key.value, Value::String(userid.clone()));
        assert!(matches!(field(user, "registertime"), Value::Int64(_)));
        assert!(
            matches!(field(user, "gender"), Value::String(g) if ["MALE", "FEMALE", "OTHER"].contains(&g.as_str()))
        );
    }
    let distinct: std::collections::BTreeSet<String> = users
        .iter()
        .map(|user| format!("{:?}", field(user, "registertime")))
        .collect();
    assert!(distinct.len() > 10, "values vary between records");

    let orders = poll_until(
        task(seeded_config("orders"), Arc::new(NoOffsets)).as_mut(),
        5,
    )
    .await;
    for (index, order) in orders.iter().take(5).enumerate() {
        let orderid = i32::try_from(index).unwrap();
        assert_eq!(field(order, "orderid"), &Value::Int32(orderid));
        assert_eq!(order.key.value, Value::Int32(orderid));
        let Value::Struct(Struct { values, .. }) = field(order, "address") else {
            panic!("address not a struct");
        };
        assert!(matches!(&values[2], Value::Int64(zip) if (10_000..=99_999).contains(zip)));
        assert!(
            matches!(field(order, "orderunits"), Value::Float64(units) if (0.1..10.0).contains(units))
        );
    }
}

#[tokio::test]
async fn a_resumed_seeded_task_continues_the_same_stream() {
    let all = poll_until(
        task(seeded_config("orders"), Arc::new(NoOffsets)).as_mut(),
        20,
    )
    .await;
    let offsets = FixedOffsets(vec![(
        json_map(json!({"task": 0})),
        json_map(json!({"seq": 9})),
    )]);
    let resumed = poll_until(
        task(seeded_config("orders"), Arc::new(offsets)).as_mut(),
        10,
    )
    .await;
    assert_eq!(all[10..20], resumed[..10]);
}

#[tokio::test]
async fn max_interval_paces_records() {
    let config = ConfigValues::from_raw(props(&[
        ("kafka.topic", "t"),
        ("quickstart", "sequence"),
        ("max.interval", "40"),
    ]));
    let mut task = task(
        DatagenFactory.task_configs(&config, 1).unwrap().remove(0),
        Arc::new(NoOffsets),
    );
    let started = std::time::Instant::now();
    let records = poll_until(task.as_mut(), 5).await;
    assert!(records.len() >= 5);
    // Five records at random delays of at most 40 ms: well under a second, never a burst of 500.
    assert!(records.len() < 50, "{}", records.len());
    assert!(started.elapsed() < Duration::from_secs(2));
}
