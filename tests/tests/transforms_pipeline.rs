//! Transforms and predicates on the real broker: a FileStreamSource with HoistField,
//! InsertField, InsertHeader and RegexRouter; FileStreamSinks with TimestampRouter and
//! InsertField, and Filter gated by each predicate with and without `negate`. Plus the 400
//! answers for an unknown transform class and a bad transform config.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_tests::{all_running, create_topic, start_worker, test_bootstrap, unique_name, Api};
use serde_json::{json, Value};

const LINES: usize = 200;
const TOMBSTONES: usize = 5;

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

async fn wait_committed(api: &Api, sink: &str, offset: usize) {
    ferry_tests::wait_until(
        Duration::from_secs(120),
        &format!("{sink} committed offset {offset}"),
        || async move {
            let (_, offsets) = api.get(&format!("/connectors/{sink}/offsets")).await.ok()?;
            (offsets["offsets"][0]["offset"]["kafka_offset"] == offset).then_some(())
        },
    )
    .await
    .unwrap();
}

async fn produce_tombstones(topic: &str) {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .create()
        .unwrap();
    for index in 0..TOMBSTONES {
        let key = format!("gone-{index}");
        producer
            .send(
                FutureRecord::<str, [u8]>::to(topic).key(&key),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

/// The current UTC year (TimestampRouter formats the record timestamp, stamped at produce).
fn current_year() -> i64 {
    let days = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
        / 86_400;
    // Civil year from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

fn json_value_converter() -> Value {
    json!({
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    })
}

fn merged(base: Value, extra: Value) -> Value {
    let mut object = base.as_object().unwrap().clone();
    object.extend(extra.as_object().unwrap().clone());
    Value::Object(object)
}

#[tokio::test]
async fn source_and_sink_chains_route_insert_and_filter_by_each_predicate() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("smt");
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let raw = format!("{prefix}-raw");
    let routed = format!("{prefix}-routed");
    create_topic(&raw, 1).await;
    create_topic(&routed, 1).await;

    let input = dir.path().join("input.txt");
    let text: String = (0..LINES).map(|index| format!("line-{index}\n")).collect();
    std::fs::write(&input, text).unwrap();

    // Source: poll → HoistField → InsertField → InsertHeader → RegexRouter → convert → produce.
    api.create_connector(
        &format!("{prefix}-source"),
        merged(
            json!({
                "connector.class": "FileStreamSource",
                "file": input,
                "topic": raw,
                "transforms": "hoist,insert,mark,route",
                "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
                "transforms.hoist.field": "line",
                "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
                "transforms.insert.topic.field": "src_topic",
                "transforms.mark.type": "InsertHeader",
                "transforms.mark.header": "marker",
                "transforms.mark.value.literal": "yes",
                "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
                "transforms.route.regex": "(.*)-raw",
                "transforms.route.replacement": "$1-routed",
            }),
            json_value_converter(),
        ),
    )
    .await
    .unwrap();

    // Sinks: each Filter gated by one predicate, with and without negate.
    let sinks: Vec<(&str, Value)> = vec![
        (
            "all",
            json!({
                "transforms": "day,tag,keep",
                "transforms.day.type": "org.apache.kafka.connect.transforms.TimestampRouter",
                "transforms.day.topic.format": "${topic}-${timestamp}",
                "transforms.day.timestamp.format": "yyyy",
                "transforms.tag.type": "org.apache.kafka.connect.transforms.InsertField$Value",
                "transforms.tag.topic.field": "sink_topic",
                "transforms.keep.type": "org.apache.kafka.connect.transforms.Filter",
                "transforms.keep.predicate": "ours",
                "transforms.keep.negate": "true",
                "predicates": "ours",
                "predicates.ours.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                // Filter runs after TimestampRouter renamed the topic to `<topic>-<year>`.
                "predicates.ours.pattern": ".*-routed-[0-9]{4}",
            }),
        ),
        (
            "none",
            json!({
                "transforms": "drop",
                "transforms.drop.type": "Filter",
                "transforms.drop.predicate": "ours",
                "predicates": "ours",
                "predicates.ours.type": "TopicNameMatches",
                "predicates.ours.pattern": ".*-routed",
            }),
        ),
        (
            "unmarked",
            json!({
                "transforms": "drop",
                "transforms.drop.type": "Filter",
                "transforms.drop.predicate": "marked",
                "predicates": "marked",
                "predicates.marked.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
                "predicates.marked.name": "marker",
            }),
        ),
        (
            "marked",
            json!({
                "transforms": "drop",
                "transforms.drop.type": "Filter",
                "transforms.drop.predicate": "marked",
                "transforms.drop.negate": "true",
                "predicates": "marked",
                "predicates.marked.type": "HasHeaderKey",
                "predicates.marked.name": "marker",
            }),
        ),
        (
            "live",
            json!({
                "transforms": "drop",
                "transforms.drop.type": "Filter",
                "transforms.drop.predicate": "tomb",
                "predicates": "tomb",
                "predicates.tomb.type": "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            }),
        ),
        (
            "tombs",
            json!({
                "transforms": "drop",
                "transforms.drop.type": "Filter",
                "transforms.drop.predicate": "tomb",
                "transforms.drop.negate": "true",
                "predicates": "tomb",
                "predicates.tomb.type": "RecordIsTombstone",
            }),
        ),
    ];
    for (suffix, transforms) in &sinks {
        let output = dir.path().join(format!("{suffix}.txt"));
        let config = merged(
            merged(
                json!({
                    "connector.class": "FileStreamSink",
                    "file": output,
                    "topics": routed,
                    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                }),
                json_value_converter(),
            ),
            transforms.clone(),
        );
        api.create_connector(&format!("{prefix}-{suffix}"), config)
            .await
            .unwrap();
    }
    api.wait_status(&format!("{prefix}-source"), Duration::from_secs(60), |s| {
        all_running(s, 1)
    })
    .await
    .unwrap();
    for (suffix, _) in &sinks {
        api.wait_status(
            &format!("{prefix}-{suffix}"),
            Duration::from_secs(60),
            |s| all_running(s, 1),
        )
        .await
        .unwrap();
    }

    // The source's records land in the routed topic only; then a few tombstones follow.
    let all_output = dir.path().join("all.txt");
    ferry_tests::wait_until(
        Duration::from_secs(120),
        "the source's records in the sink",
        || async { (lines_of(&all_output).len() >= LINES).then_some(()) },
    )
    .await
    .unwrap_or_else(|error| {
        panic!(
            "{error}; output so far: {:?}",
            lines_of(&all_output).first()
        )
    });
    produce_tombstones(&routed).await;
    let total = LINES + TOMBSTONES;
    for (suffix, _) in &sinks {
        wait_committed(&api, &format!("{prefix}-{suffix}"), total).await;
    }

    let year = current_year();
    let mut expected_all: Vec<String> = (0..LINES)
        .map(|index| format!("{{line=line-{index}, src_topic={raw}, sink_topic={routed}-{year}}}"))
        .collect();
    expected_all.extend(std::iter::repeat_n("null".to_string(), TOMBSTONES));
    let file = |suffix: &str| lines_of(&dir.path().join(format!("{suffix}.txt")));
    assert_eq!(
        file("all"),
        expected_all,
        "negated TopicNameMatches keeps everything"
    );
    assert!(
        file("none").is_empty(),
        "TopicNameMatches drops everything: {:?}",
        file("none")
    );
    let plain: Vec<String> = (0..LINES)
        .map(|index| format!("{{line=line-{index}, src_topic={raw}}}"))
        .collect();
    let nulls = vec!["null".to_string(); TOMBSTONES];
    assert_eq!(
        file("unmarked"),
        nulls,
        "HasHeaderKey drops the marked records"
    );
    assert_eq!(
        file("marked"),
        plain,
        "negated HasHeaderKey keeps only them"
    );
    assert_eq!(
        file("live"),
        plain,
        "RecordIsTombstone drops the tombstones"
    );
    assert_eq!(
        file("tombs"),
        nulls,
        "negated RecordIsTombstone keeps only them"
    );

    // The routed topic got every record; the raw topic none (RegexRouter renamed them).
    let (_, topics) = api
        .get(&format!("/connectors/{prefix}-source/topics"))
        .await
        .unwrap();
    assert_eq!(
        topics[format!("{prefix}-source")]["topics"],
        json!([routed]),
        "{topics}"
    );
}

#[tokio::test]
async fn unknown_or_misconfigured_transforms_are_refused_with_400() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("smt-bad");
    let (_worker, api) = start_worker(dir.path(), &prefix, &[]).await;
    let base = json!({
        "connector.class": "FileStreamSink",
        "file": dir.path().join("out.txt"),
        "topics": format!("{prefix}-t"),
        "transforms": "r",
    });
    let create = |extra: Value| {
        let api = api.clone();
        let body = json!({"name": format!("{prefix}-c"), "config": merged(base.clone(), extra)});
        async move {
            api.call(reqwest::Method::POST, "/connectors", Some(&body))
                .await
                .unwrap()
        }
    };

    let (status, body) =
        create(json!({"transforms.r.type": "org.apache.kafka.connect.transforms.RegexRoutr"}))
            .await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("transforms.r.type")
            && message.contains("org.apache.kafka.connect.transforms.RegexRouter"),
        "{message}"
    );

    let (status, body) = create(json!({
        "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.r.regex": "(unclosed",
        "transforms.r.replacement": "x",
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(
            "Invalid value (unclosed for configuration transforms.r.regex: Invalid regex"
        ),
        "{body}"
    );

    let (status, body) = create(json!({
        "transforms.r.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
        "transforms.r.blacklist": "a",
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("transforms.r.blacklist"),
        "{body}"
    );

    // Nothing was stored.
    let (status, _) = api.get(&format!("/connectors/{prefix}-c")).await.unwrap();
    assert_eq!(status, 404);

    // The validate endpoint shows the transform's group and keys, with the error inside.
    let (status, infos) = api
        .call(
            reqwest::Method::PUT,
            "/connector-plugins/FileStreamSink/config/validate",
            Some(&merged(base.clone(), json!({"name": "v", "transforms.r.type": "Cast$Value", "transforms.r.spec": "a:money"}))),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{infos}");
    assert!(
        infos["groups"]
            .as_array()
            .unwrap()
            .contains(&json!("Transforms: r")),
        "{infos}"
    );
    let spec = infos["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "transforms.r.spec")
        .expect("transforms.r.spec is listed");
    assert!(
        spec["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("Invalid type found in casting spec: money"),
        "{spec}"
    );
    assert_eq!(infos["error_count"], 1, "{infos}");

    // Plugins: every transformation and predicate is listed, with a config endpoint.
    let (_, plugins) = api
        .get("/connector-plugins?connectorsOnly=false")
        .await
        .unwrap();
    let plugins = plugins.as_array().unwrap();
    let count = |kind: &str| plugins.iter().filter(|p| p["type"] == kind).count();
    assert_eq!(count("transformation"), 26);
    assert_eq!(count("predicate"), 3);
    let (status, keys) = api
        .get("/connector-plugins/org.apache.kafka.connect.transforms.TimestampRouter/config")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(keys[0]["name"], "topic.format");
    assert_eq!(keys[0]["default_value"], "${topic}-${timestamp}");
}
