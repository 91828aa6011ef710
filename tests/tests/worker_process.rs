//! `ferry worker` against the real broker, and its start-up errors.

use std::time::Duration;

use ferry_tests::{free_local_addr, test_bootstrap, FerryProcess};
use nix::sys::signal::Signal;

#[tokio::test]
async fn worker_reports_the_real_cluster_id_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_local_addr();
    let properties = dir.path().join("worker.properties");
    std::fs::write(
        &properties,
        format!(
            "bootstrap.servers={}\ngroup.id=ferry-test\nlisteners=http://{addr}\n\
             offset.flush.interval.ms=1000\nsome.client.setting=kept\n",
            test_bootstrap()
        ),
    )
    .unwrap();
    let mut worker = FerryProcess::spawn(&["worker", properties.to_str().unwrap()], addr).unwrap();
    worker.wait_healthy(Duration::from_secs(30)).await.unwrap();

    let root: serde_json::Value = reqwest::get(format!("{}/", worker.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cluster_id = root["kafka_cluster_id"].as_str().unwrap_or_default();
    assert!(!cluster_id.is_empty(), "{root}");
    assert!(
        !cluster_id.starts_with("mockCluster"),
        "a real broker's id: {root}"
    );

    worker.signal(Signal::SIGTERM).unwrap();
    let status = worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert!(status.success(), "stderr: {}", worker.stderr());
}

#[tokio::test]
async fn worker_with_an_invalid_value_names_the_key_and_exits_2() {
    let addr = free_local_addr();
    let mut worker = FerryProcess::spawn(
        &[
            "worker",
            "--set",
            "offset.flush.interval.ms=often",
            "--set",
            &format!("listeners=http://{addr}"),
        ],
        addr,
    )
    .unwrap();
    let status = worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert_eq!(status.code(), Some(2));
    let stderr = worker.stderr();
    assert!(stderr.contains("offset.flush.interval.ms"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn worker_health_says_starting_while_kafka_is_unreachable() {
    let addr = free_local_addr();
    let unreachable = free_local_addr();
    let mut worker = FerryProcess::spawn(
        &[
            "worker",
            "--set",
            &format!("bootstrap.servers={unreachable}"),
            "--set",
            &format!("listeners=http://{addr}"),
        ],
        addr,
    )
    .unwrap();
    let client = reqwest::Client::new();
    let body = ferry_tests::wait_until(Duration::from_secs(15), "a 503 starting answer", || {
        let client = client.clone();
        async move {
            let response = client
                .get(format!("http://{addr}/health"))
                .send()
                .await
                .ok()?;
            if response.status() != 503 {
                return None;
            }
            response.json::<serde_json::Value>().await.ok()
        }
    })
    .await
    .unwrap();
    assert_eq!(body["status"], "starting");
    worker.signal(Signal::SIGINT).unwrap();
    let status = worker.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert!(status.success(), "stderr: {}", worker.stderr());
}
