//! `ferry dev` as a user runs it: answers `GET /` and `/health`, stops cleanly on SIGINT/SIGTERM,
//! and refuses a port in use with one line and exit code 2.

use std::time::{Duration, Instant};

use ferry_tests::FerryProcess;
use nix::sys::signal::Signal;

#[tokio::test]
async fn dev_answers_root_and_health_then_stops_on_sigint() {
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();

    let root: serde_json::Value = reqwest::get(format!("{}/", dev.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        root["commit"]
            .as_str()
            .is_some_and(|commit| !commit.is_empty()),
        "{root}"
    );
    assert!(
        root["kafka_cluster_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "the embedded cluster reports an id: {root}"
    );

    let health = reqwest::get(format!("{}/health", dev.url())).await.unwrap();
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "healthy");
    assert!(health["message"].as_str().is_some_and(|m| !m.is_empty()));

    let stdout = dev.stdout();
    assert!(
        stdout.contains(&dev.url()),
        "prints its endpoints: {stdout}"
    );
    assert!(
        stdout.contains("curl"),
        "prints a first command to try: {stdout}"
    );

    let started = Instant::now();
    dev.signal(Signal::SIGINT).unwrap();
    let status = dev.wait_exit(Duration::from_secs(5)).await.unwrap();
    let took = started.elapsed();
    assert!(
        status.success(),
        "exit status {status:?}; stderr: {}",
        dev.stderr()
    );
    assert!(took < Duration::from_secs(2), "stopped in {took:?}");
    println!("ferry dev stopped {took:?} after SIGINT");
}

#[tokio::test]
async fn dev_stops_on_sigterm() {
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();
    let started = Instant::now();
    dev.signal(Signal::SIGTERM).unwrap();
    let status = dev.wait_exit(Duration::from_secs(5)).await.unwrap();
    assert!(
        status.success(),
        "exit status {status:?}; stderr: {}",
        dev.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_kafka_connect_error_bodies() {
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(20)).await.unwrap();
    let client = reqwest::Client::new();

    let missing = client
        .get(format!("{}/no/such/path", dev.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error_code"], 404);
    assert!(body["message"].is_string());

    let wrong_method = client
        .delete(format!("{}/health", dev.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error_code"], 405);
}

#[tokio::test]
async fn a_port_in_use_is_one_line_and_exit_code_2() {
    let mut first = FerryProcess::dev().unwrap();
    first.wait_healthy(Duration::from_secs(20)).await.unwrap();

    let mut second =
        FerryProcess::spawn(&["dev", "--listen", &first.addr.to_string()], first.addr).unwrap();
    let status = second.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert_eq!(status.code(), Some(2), "stderr: {}", second.stderr());
    let stderr = second.stderr();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line, no backtrace: {stderr}");
    assert!(
        lines[0].contains(&first.addr.to_string()),
        "names the address: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The first worker is unaffected.
    let health = reqwest::get(format!("{}/health", first.url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
