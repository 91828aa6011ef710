//! The connector REST API on a worker against the real broker: bad input stores nothing, configs,
//! target states and offsets survive a restart, and a record that cannot be converted fails only
//! its own task.

use std::time::Duration;

use ferry_tests::{all_running, free_local_addr, test_bootstrap, unique_name, Api, FerryProcess};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

#[tokio::test]
async fn bad_configs_get_400_naming_the_key_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("bad");
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    let file = dir.path().join("x.txt");

    let cases = [
        (
            json!({"connector.class": "FileStreamSinkk", "file": file, "topics": "t"}),
            "FileStreamSinkk",
        ),
        (
            json!({"connector.class": "FileStreamSink", "topics": "t"}),
            "file",
        ),
        (
            json!({"connector.class": "FileStreamSink", "file": file, "topics": "t", "tasks.max": "many"}),
            "tasks.max",
        ),
        (
            json!({"connector.class": "FileStreamSink", "file": file, "topics": "t", "tasks.max": 0}),
            "tasks.max",
        ),
        (
            json!({"connector.class": "FileStreamSource", "file": file}),
            "topic",
        ),
        (
            json!({"connector.class": "Datagen", "kafka.topic": "t", "quickstart": "nope"}),
            "quickstart",
        ),
        (
            json!({"connector.class": "FileStreamSink", "file": file}),
            "topics",
        ),
    ];
    for (index, (config, named)) in cases.iter().enumerate() {
        let name = format!("bad-{index}");
        let body = json!({"name": name, "config": config});
        let (status, response) = api
            .call(reqwest::Method::POST, "/connectors", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 400, "{config}: {response}");
        assert_eq!(response["error_code"], 400, "{response}");
        let message = response["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(named),
            "message for {config} should name `{named}`: {message}"
        );
    }
    // Malformed JSON and a missing name.
    let malformed = reqwest::Client::new()
        .post(format!("http://{addr}/connectors"))
        .header("content-type", "application/json")
        .body("{\"name\": \"x\", \"config\": {")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["error_code"], 400);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/connectors",
            Some(&json!({"config": {"connector.class": "FileStreamSink"}})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);

    let (status, names) = api.get("/connectors").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(names, json!([]), "nothing was created");
    let keys = ferry_tests::topic_keys(&format!("{prefix}-configs"));
    assert!(
        keys.iter().all(|key| !key.starts_with("connector-bad")),
        "nothing written: {keys:?}"
    );

    // The worker still serves.
    assert_eq!(api.get("/health").await.unwrap().0, 200);
}

#[tokio::test]
async fn configs_target_states_and_offsets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("survive");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\nc\n").unwrap();
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);

    api.create_connector("src", json!({"connector.class": "FileStreamSource", "file": input, "topic": format!("{prefix}-t")}))
        .await
        .unwrap();
    let body = json!({"name": "paused", "config": {"connector.class": "Datagen", "kafka.topic": format!("{prefix}-g"), "quickstart": "sequence"}, "initial_state": "PAUSED"});
    let (status, _) = api
        .call(reqwest::Method::POST, "/connectors", Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 201);
    api.wait_status("src", Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();
    api.wait_status("paused", Duration::from_secs(30), |s| {
        s["connector"]["state"] == "PAUSED"
    })
    .await
    .unwrap();
    let offsets = ferry_tests::wait_until(
        Duration::from_secs(30),
        "the source offset of all three lines",
        || {
            let api = api.clone();
            async move {
                let (_, offsets) = api.get("/connectors/src/offsets").await.ok()?;
                (offsets["offsets"][0]["offset"]["position"] == 6).then_some(offsets)
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        offsets["offsets"][0]["partition"]["filename"],
        input.display().to_string()
    );

    worker.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(worker
        .wait_exit(Duration::from_secs(20))
        .await
        .unwrap()
        .success());
    let mut restarted = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    restarted
        .wait_healthy(Duration::from_secs(60))
        .await
        .unwrap();

    let (_, mut names) = api.get("/connectors").await.unwrap();
    names
        .as_array_mut()
        .unwrap()
        .sort_by_key(|name| name.as_str().unwrap_or_default().to_string());
    assert_eq!(names, json!(["paused", "src"]));
    let (_, config) = api.get("/connectors/src/config").await.unwrap();
    assert_eq!(config["file"], input.display().to_string());
    api.wait_status("paused", Duration::from_secs(30), |s| {
        s["connector"]["state"] == "PAUSED"
    })
    .await
    .unwrap();
    let (_, after) = api.get("/connectors/src/offsets").await.unwrap();
    assert_eq!(
        after, offsets,
        "source offsets read back from the offsets topic"
    );
}

#[tokio::test]
async fn an_undecodable_record_fails_its_task_with_topic_partition_offset_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("poison");
    let topic = format!("{prefix}-in");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::<str, str>::to(&topic).payload("this is not json"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    api.create_connector(
        "healthy",
        json!({"connector.class": "Datagen", "kafka.topic": format!("{prefix}-gen"), "quickstart": "sequence", "max.interval": 50}),
    )
    .await
    .unwrap();
    api.create_connector("poisoned", json!({"connector.class": "FileStreamSink", "file": dir.path().join("out.txt"), "topics": topic}))
        .await
        .unwrap();
    let failed = api
        .wait_status("poisoned", Duration::from_secs(60), |s| {
            s["tasks"][0]["state"] == "FAILED"
        })
        .await
        .unwrap();
    let trace = failed["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains(&topic) && trace.contains("partition 0") && trace.contains("offset 0"),
        "trace: {trace}"
    );
    api.wait_status("healthy", Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();
    assert_eq!(
        api.get("/health").await.unwrap().0,
        200,
        "the worker keeps running"
    );
}

#[tokio::test]
async fn offsets_change_only_when_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("offsets");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\n").unwrap();
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    api.create_connector("src", json!({"connector.class": "FileStreamSource", "file": input, "topic": format!("{prefix}-t")}))
        .await
        .unwrap();
    api.wait_status("src", Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();

    let partition = json!({"filename": input.display().to_string()});
    let patch = json!({"offsets": [{"partition": partition, "offset": {"position": 2}}]});
    let (status, body) = api
        .call(
            reqwest::Method::PATCH,
            "/connectors/src/offsets",
            Some(&patch),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("STOPPED"),
        "{body}"
    );

    let (status, _) = api
        .call(reqwest::Method::PUT, "/connectors/src/stop", None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    api.wait_status("src", Duration::from_secs(30), |s| {
        s["connector"]["state"] == "STOPPED" && s["tasks"] == json!([])
    })
    .await
    .unwrap();
    let (status, body) = api
        .call(
            reqwest::Method::PATCH,
            "/connectors/src/offsets",
            Some(&patch),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "The offsets for this connector have been altered successfully"
    );
    let (_, offsets) = api.get("/connectors/src/offsets").await.unwrap();
    assert_eq!(
        offsets["offsets"],
        json!([{"partition": partition, "offset": {"position": 2}}])
    );

    let empty = json!({"offsets": []});
    let (status, _) = api
        .call(
            reqwest::Method::PATCH,
            "/connectors/src/offsets",
            Some(&empty),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "an empty list is refused");

    let (status, body) = api
        .call(reqwest::Method::DELETE, "/connectors/src/offsets", None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "The offsets for this connector have been reset successfully"
    );
    let (_, offsets) = api.get("/connectors/src/offsets").await.unwrap();
    assert_eq!(offsets["offsets"], json!([]));

    // Resumed, the source starts again from the beginning of the file.
    let (status, _) = api
        .call(reqwest::Method::PUT, "/connectors/src/resume", None)
        .await
        .unwrap();
    assert_eq!(status, 202);
    api.wait_status("src", Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn active_topics_are_tracked_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("topics");
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let api = Api::new(addr);
    let topic = format!("{prefix}-gen");
    api.create_connector("gen", json!({"connector.class": "Datagen", "kafka.topic": topic, "quickstart": "sequence", "max.interval": 20}))
        .await
        .unwrap();
    let topics = ferry_tests::wait_until(Duration::from_secs(30), "the active topic", || {
        let api = api.clone();
        async move {
            let (_, body) = api.get("/connectors/gen/topics").await.ok()?;
            (body["gen"]["topics"]
                .as_array()
                .is_some_and(|topics| !topics.is_empty()))
            .then_some(body)
        }
    })
    .await
    .unwrap();
    assert_eq!(topics, json!({"gen": {"topics": [topic]}}));
    let (status, _) = api
        .call(reqwest::Method::PUT, "/connectors/gen/topics/reset", None)
        .await
        .unwrap();
    assert_eq!(status, 202);
    let (_, after) = api.get("/connectors/gen/topics").await.unwrap();
    assert_eq!(after, json!({"gen": {"topics": []}}));
    let (status, _) = api.get("/connectors/nope/topics").await.unwrap();
    assert_eq!(status, 404);
}
