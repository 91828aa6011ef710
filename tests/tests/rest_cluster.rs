//! The REST gateway walked endpoint by endpoint through a worker that is not the leader of a
//! three-worker cluster, and a config submitted once over gRPC on one worker seen running over
//! REST on the others.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferry_tests::{all_running, unique_name, Api};
use reqwest::Method;
use serde_json::json;

#[allow(unreachable_pub, dead_code, clippy::all, clippy::pedantic)]
mod proto {
    tonic::include_proto!("ferry.v1");
}

async fn expect(
    api: &Api,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    status: u16,
) -> serde_json::Value {
    let (actual, response) = api.call(method.clone(), path, body.as_ref()).await.unwrap();
    assert_eq!(actual, status, "{method} {path}: {response}");
    if actual >= 400 {
        assert_eq!(
            response["error_code"], status,
            "{method} {path}: error body {response}"
        );
        assert!(
            response["message"].is_string(),
            "{method} {path}: {response}"
        );
    }
    response
}

#[tokio::test]
async fn every_endpoint_through_a_follower_and_a_config_submitted_once_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("walk");
    let (addrs, _workers) = ferry_tests::start_cluster(dir.path(), &prefix, 3, &[])
        .await
        .unwrap();
    let first = Api::new(addrs[0]);
    let view = ferry_tests::wait_until(
        Duration::from_secs(30),
        "three ready members and a leader",
        || {
            let api = first.clone();
            async move {
                let (_, view) = api.get("/cluster").await.ok()?;
                let ready = view["members"]
                    .as_array()?
                    .iter()
                    .filter(|m| m["ready"] == true)
                    .count();
                (ready == 3 && view["leader"].is_string()).then_some(view)
            }
        },
    )
    .await
    .unwrap();
    let leader = view["leader"].as_str().unwrap().to_string();
    let followers: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|addr| format!("node-{}", addr.port()) != leader)
        .collect();

    // Submitted once, over gRPC, on a follower: visible and running over REST on the others.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", followers[0]))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut connectors = proto::connector_service_client::ConnectorServiceClient::new(channel);
    let config: HashMap<String, String> = [
        ("connector.class", "Datagen"),
        ("kafka.topic", &format!("{prefix}-once")),
        ("quickstart", "sequence"),
        ("tasks.max", "3"),
        ("max.interval", "100"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .collect();
    connectors
        .create_connector(proto::CreateConnectorRequest {
            name: "once".into(),
            config,
            initial_state: String::new(),
        })
        .await
        .unwrap();
    for addr in &addrs {
        Api::new(*addr)
            .wait_status("once", Duration::from_secs(30), |s| all_running(s, 3))
            .await
            .unwrap();
    }

    // The walk, through the other follower.
    let api = Api::new(followers[1]);
    let root = expect(&api, Method::GET, "/", None, 200).await;
    assert!(root["kafka_cluster_id"].is_string(), "{root}");
    expect(&api, Method::GET, "/health", None, 200).await;
    let file = dir.path().join("walk.txt");
    std::fs::write(&file, "one\ntwo\n").unwrap();
    let created = expect(
        &api,
        Method::POST,
        "/connectors",
        Some(json!({"name": "walk", "config": {"connector.class": "FileStreamSource", "file": file, "topic": format!("{prefix}-walk")}, "initial_state": "PAUSED"})),
        201,
    )
    .await;
    assert_eq!(created["name"], "walk");
    assert_eq!(created["type"], "source");
    expect(&api, Method::POST, "/connectors", Some(json!({"name": "walk", "config": {"connector.class": "FileStreamSource", "file": file, "topic": "t"}})), 409).await;
    api.wait_status("walk", Duration::from_secs(30), |s| {
        s["connector"]["state"] == "PAUSED"
    })
    .await
    .unwrap();
    let names = expect(&api, Method::GET, "/connectors", None, 200).await;
    assert!(
        names.as_array().unwrap().contains(&json!("walk")),
        "{names}"
    );
    let expanded = expect(
        &api,
        Method::GET,
        "/connectors?expand=status&expand=info",
        None,
        200,
    )
    .await;
    assert!(
        expanded["walk"]["status"]["connector"]["state"].is_string()
            && expanded["walk"]["info"]["config"].is_object(),
        "{expanded}"
    );
    expect(&api, Method::PUT, "/connectors/walk/resume", None, 202).await;
    api.wait_status("walk", Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();
    let info = expect(&api, Method::GET, "/connectors/walk", None, 200).await;
    assert_eq!(info["tasks"], json!([{"connector": "walk", "task": 0}]));
    let config = expect(&api, Method::GET, "/connectors/walk/config", None, 200).await;
    assert_eq!(config["name"], "walk");
    let mut updated = config.clone();
    updated["batch.size"] = json!("50");
    expect(
        &api,
        Method::PUT,
        "/connectors/walk/config",
        Some(updated),
        200,
    )
    .await;
    let patched = expect(
        &api,
        Method::PATCH,
        "/connectors/walk/config",
        Some(json!({"batch.size": null})),
        200,
    )
    .await;
    assert!(
        patched["config"].get("batch.size").is_none(),
        "PATCH null deletes: {patched}"
    );
    expect(
        &api,
        Method::PUT,
        "/connectors/walk2/config",
        Some(json!({"connector.class": "FileStreamSource", "file": file, "topic": "t2"})),
        201,
    )
    .await;
    let tasks = expect(&api, Method::GET, "/connectors/walk/tasks", None, 200).await;
    assert_eq!(tasks[0]["id"], json!({"connector": "walk", "task": 0}));
    api.wait_status("walk", Duration::from_secs(30), |s| all_running(s, 1))
        .await
        .unwrap();
    let task = expect(
        &api,
        Method::GET,
        "/connectors/walk/tasks/0/status",
        None,
        200,
    )
    .await;
    assert_eq!(task["id"], 0);
    expect(
        &api,
        Method::GET,
        "/connectors/walk/tasks/9/status",
        None,
        404,
    )
    .await;
    expect(
        &api,
        Method::POST,
        "/connectors/walk/tasks/0/restart",
        None,
        204,
    )
    .await;
    expect(&api, Method::POST, "/connectors/walk/restart", None, 204).await;
    let plan = expect(
        &api,
        Method::POST,
        "/connectors/walk/restart?includeTasks=true",
        None,
        202,
    )
    .await;
    assert_eq!(plan["tasks"][0]["state"], "RESTARTING", "{plan}");
    let topics = ferry_tests::wait_until(Duration::from_secs(20), "the source's topic", || {
        let api = api.clone();
        async move {
            let (_, body) = api.get("/connectors/walk/topics").await.ok()?;
            (!body["walk"]["topics"].as_array()?.is_empty()).then_some(body)
        }
    })
    .await
    .unwrap();
    assert_eq!(topics["walk"]["topics"][0], format!("{prefix}-walk"));
    expect(
        &api,
        Method::PUT,
        "/connectors/walk/topics/reset",
        None,
        202,
    )
    .await;
    expect(&api, Method::GET, "/connectors/walk/offsets", None, 200).await;
    expect(&api, Method::DELETE, "/connectors/walk/offsets", None, 400).await;
    expect(&api, Method::PUT, "/connectors/walk/stop", None, 204).await;
    api.wait_status("walk", Duration::from_secs(30), |s| {
        s["connector"]["state"] == "STOPPED"
    })
    .await
    .unwrap();
    let reset = expect(&api, Method::DELETE, "/connectors/walk/offsets", None, 200).await;
    assert!(
        reset["message"].as_str().unwrap().contains("reset"),
        "{reset}"
    );
    let plugins = expect(&api, Method::GET, "/connector-plugins", None, 200).await;
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["class"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"),
        "{plugins}"
    );
    let all_plugins = expect(
        &api,
        Method::GET,
        "/connector-plugins?connectorsOnly=false",
        None,
        200,
    )
    .await;
    assert!(
        all_plugins.as_array().unwrap().len() > plugins.as_array().unwrap().len(),
        "converters too: {all_plugins}"
    );
    let keys = expect(
        &api,
        Method::GET,
        "/connector-plugins/FileStreamSink/config",
        None,
        200,
    )
    .await;
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|key| key["name"] == "file"),
        "{keys}"
    );
    let validated = expect(
        &api,
        Method::PUT,
        "/connector-plugins/FileStreamSink/config/validate",
        Some(json!({"connector.class": "FileStreamSink", "tasks.max": "zero"})),
        200,
    )
    .await;
    assert!(
        validated["error_count"].as_u64().unwrap() >= 2,
        "{validated}"
    );
    expect(
        &api,
        Method::GET,
        "/connector-plugins/Nope/config",
        None,
        404,
    )
    .await;
    expect(&api, Method::GET, "/admin/loggers", None, 200).await;
    expect(
        &api,
        Method::PUT,
        "/admin/loggers/ferry_server",
        Some(json!({"level": "INFO"})),
        200,
    )
    .await;
    expect(&api, Method::GET, "/cluster", None, 200).await;
    expect(&api, Method::DELETE, "/connectors/walk", None, 204).await;
    expect(&api, Method::DELETE, "/connectors/walk2", None, 204).await;
    expect(&api, Method::GET, "/connectors/walk", None, 404).await;
    expect(&api, Method::DELETE, "/connectors/walk", None, 404).await;
    expect(&api, Method::GET, "/nowhere", None, 404).await;
    expect(&api, Method::DELETE, "/health", None, 405).await;
    // Gone on the leader too.
    let leader_addr = addrs
        .iter()
        .find(|addr| format!("node-{}", addr.port()) == leader)
        .unwrap();
    expect(
        &Api::new(*leader_addr),
        Method::GET,
        "/connectors/walk",
        None,
        404,
    )
    .await;
}
