//! `/admin/loggers`, `/metrics` and Kafka Connect's error bodies for malformed requests, on
//! `ferry dev`.

use std::time::Duration;

use ferry_tests::{Api, FerryProcess};
use serde_json::json;

#[tokio::test]
async fn log_levels_change_at_run_time() {
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();
    let api = Api::new(dev.addr);

    let (status, loggers) = api.get("/admin/loggers").await.unwrap();
    assert_eq!(status, 200);
    assert!(loggers["root"]["level"].is_string(), "{loggers}");

    let body = json!({"level": "debug"});
    let (status, affected) = api
        .call(
            reqwest::Method::PUT,
            "/admin/loggers/ferry_actors",
            Some(&body),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{affected}");
    assert_eq!(affected, json!(["ferry_actors"]));
    let (status, level) = api
        .get("/admin/loggers/ferry_actors::worker")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        level["level"], "DEBUG",
        "a child logger follows its namespace"
    );
    assert!(level["last_modified"].is_i64(), "{level}");

    let (status, error) = api
        .call(
            reqwest::Method::PUT,
            "/admin/loggers/x",
            Some(&json!({"level": "LOUD"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_eq!(error["error_code"], 404);
    let (status, error) = api
        .call(reqwest::Method::PUT, "/admin/loggers/x", Some(&json!({})))
        .await
        .unwrap();
    assert_eq!(status, 400, "{error}");
}

#[tokio::test]
async fn metrics_count_records_and_requests() {
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();
    let api = Api::new(dev.addr);
    api.create_connector("gen", json!({"connector.class": "Datagen", "kafka.topic": "numbers", "quickstart": "sequence", "max.interval": 10}))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", dev.url());
    let text = ferry_tests::wait_until(
        Duration::from_secs(30),
        "records counted in /metrics",
        || {
            let client = client.clone();
            let url = url.clone();
            async move {
                let text = client.get(&url).send().await.ok()?.text().await.ok()?;
                let line = text.lines().find(|line| {
                    line.starts_with("ferry_task_records_total{")
                        && line.contains("connector=\"gen\"")
                })?;
                let value: f64 = line.rsplit(' ').next()?.parse().ok()?;
                (value > 0.0).then_some(text)
            }
        },
    )
    .await
    .unwrap();
    assert!(
        text.contains("ferry_api_requests_total{api=\"rest\",method=\"POST\",status=\"201\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_requests_get_kafka_connect_error_bodies() {
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();
    let client = reqwest::Client::new();
    let base = dev.url();

    let wrong_type = client
        .post(format!("{base}/connectors"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);
    let body: serde_json::Value = wrong_type.json().await.unwrap();
    assert_eq!(body["error_code"], 415);

    let huge = format!(
        "{{\"name\":\"x\",\"config\":{{\"pad\":\"{}\"}}}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let too_big = client
        .post(format!("{base}/connectors"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let body: serde_json::Value = too_big.json().await.unwrap();
    assert_eq!(body["error_code"], 413);

    let api = Api::new(dev.addr);
    let (status, names) = api.get("/connectors").await.unwrap();
    assert_eq!((status, names), (200, json!([])), "nothing stored");
}
