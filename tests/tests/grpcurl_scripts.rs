//! `scripts/grpc/*.sh` and plain grpcurl against `ferry dev`: server reflection lists the services,
//! health answers SERVING, and the scripts create, list, inspect, pause, resume, restart and delete
//! a connector from a Kafka Connect JSON file.
//!
//! grpcurl comes from `$GRPCURL`, `PATH` or `$HOME/go/bin`; when it is missing the test installs it
//! with `scripts/install-grpcurl.sh` (a few minutes: `go install`), which `scripts/test.sh` can run
//! up front.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use ferry_tests::{repo_root, wait_until, FerryProcess};
use serde_json::Value as JsonValue;

/// Returns the path of grpcurl, installing it with `scripts/install-grpcurl.sh` when missing.
fn grpcurl() -> PathBuf {
    if let Some(path) = std::env::var_os("GRPCURL") {
        return PathBuf::from(path);
    }
    let output = Command::new(repo_root().join("scripts/install-grpcurl.sh"))
        .output()
        .expect("scripts/install-grpcurl.sh runs");
    assert!(
        output.status.success(),
        "installing grpcurl failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .last()
        .expect("the install script prints grpcurl's path")
        .trim();
    PathBuf::from(path)
}

struct Scripts {
    grpcurl: PathBuf,
    server: String,
}

impl Scripts {
    fn run(&self, script: &str, args: &[&str]) -> Output {
        Command::new(repo_root().join("scripts/grpc").join(script))
            .args(args)
            .env("FERRY_GRPC", &self.server)
            .env("GRPCURL", &self.grpcurl)
            .output()
            .unwrap_or_else(|error| panic!("{script} runs: {error}"))
    }

    /// Runs a script that must succeed and print JSON; returns that JSON.
    fn json(&self, script: &str, args: &[&str]) -> JsonValue {
        let output = self.run(script, args);
        assert!(
            output.status.success(),
            "{script} {args:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "{script} {args:?} printed no JSON ({error}):\n{}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Runs a script that must fail; returns its stderr.
    fn failure(&self, script: &str, args: &[&str]) -> String {
        let output = self.run(script, args);
        assert!(
            !output.status.success(),
            "{script} {args:?} should fail: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).to_string()
    }

    /// Runs `watch.sh NAME` until its output contains `needle`, then stops it (its whole process
    /// group: the script and the grpcurl it started); returns the output so far.
    fn watch_until(&self, name: &str, needle: &str, timeout: Duration) -> String {
        use std::io::Read;
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(repo_root().join("scripts/grpc/watch.sh"))
            .arg(name)
            .env("FERRY_GRPC", &self.server)
            .env("GRPCURL", &self.grpcurl)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("watch.sh runs");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let (chunk_tx, chunk_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stdout.read(&mut buffer) {
                if read == 0 || chunk_tx.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + timeout;
        let mut output = String::new();
        while !output.contains(needle) && std::time::Instant::now() < deadline {
            if let Ok(chunk) = chunk_rx.recv_timeout(Duration::from_millis(100)) {
                output.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
        let _ = child.wait();
        assert!(
            output.contains(needle),
            "watch.sh {name} did not show {needle} in {timeout:?}: {output}"
        );
        output
    }

    async fn wait_connector_state(&self, name: &str, state: &str) -> JsonValue {
        wait_until(
            Duration::from_secs(30),
            &format!("{name} {state} in status.sh"),
            || async {
                let status = self.json("status.sh", &[name]);
                let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
                let reached = status["connector"]["state"] == state
                    && !tasks.is_empty()
                    && tasks.iter().all(|task| task["state"] == state);
                reached.then_some(status)
            },
        )
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn grpcurl_and_the_scripts_drive_ferry_dev() {
    let grpcurl = grpcurl();
    let mut dev = FerryProcess::dev().unwrap();
    dev.wait_healthy(Duration::from_secs(30)).await.unwrap();
    let server = dev.addr.to_string();

    // Reflection lists every service.
    let listed = Command::new(&grpcurl)
        .args(["-plaintext", &server, "list"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let services = String::from_utf8_lossy(&listed.stdout);
    for service in [
        "ferry.v1.ClusterService",
        "ferry.v1.ConnectorService",
        "ferry.v1.PluginService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            services.lines().any(|line| line.trim() == service),
            "{service} missing from:\n{services}"
        );
    }
    let described = Command::new(&grpcurl)
        .args([
            "-plaintext",
            &server,
            "describe",
            "ferry.v1.ConnectorService",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&described.stdout).contains("rpc CreateConnector"));
    for service in ["ferry.v1.ConnectorService", "ferry.v1.PluginService", ""] {
        let health = Command::new(&grpcurl)
            .args([
                "-plaintext",
                "-d",
                &format!("{{\"service\": \"{service}\"}}"),
                &server,
                "grpc.health.v1.Health/Check",
            ])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&health.stdout).contains("SERVING"),
            "health of {service:?}: {}{}",
            String::from_utf8_lossy(&health.stdout),
            String::from_utf8_lossy(&health.stderr)
        );
    }

    let scripts = Scripts { grpcurl, server };
    let dir = tempfile::tempdir().unwrap();

    // create.sh takes a Kafka Connect connector file as it is.
    let file = dir.path().join("gen.json");
    std::fs::write(
        &file,
        r#"{
  "name": "gen",
  "config": {
    "connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
    "kafka.topic": "gen-topic",
    "quickstart": "sequence",
    "max.interval": "50",
    "tasks.max": "1"
  }
}"#,
    )
    .unwrap();
    let created = scripts.json("create.sh", &[&file.display().to_string()]);
    assert_eq!(created["name"], "gen", "{created}");
    assert_eq!(created["config"]["kafka.topic"], "gen-topic", "{created}");
    assert_eq!(created["type"], "source", "{created}");

    let listed = scripts.json("list.sh", &[]);
    assert_eq!(listed["names"], serde_json::json!(["gen"]), "{listed}");
    let running = scripts.wait_connector_state("gen", "RUNNING").await;
    assert_eq!(
        running["tasks"][0]["id"], 0,
        "-emit-defaults shows task 0: {running}"
    );
    let expanded = scripts.json("list.sh", &["--status"]);
    assert_eq!(expanded["connectors"][0]["name"], "gen", "{expanded}");

    scripts.json("pause.sh", &["gen"]);
    scripts.wait_connector_state("gen", "PAUSED").await;
    scripts.json("resume.sh", &["gen"]);
    scripts.wait_connector_state("gen", "RUNNING").await;

    let restarted = scripts.json("restart.sh", &["gen", "--tasks"]);
    assert_eq!(
        restarted["plan"]["tasks"][0]["state"], "RESTARTING",
        "{restarted}"
    );
    let only_failed = scripts.json("restart.sh", &["gen", "--tasks", "--failed"]);
    assert_eq!(
        only_failed["plan"]["tasks"][0]["state"], "RUNNING",
        "nothing failed: {only_failed}"
    );
    scripts.wait_connector_state("gen", "RUNNING").await;

    // Errors come back as gRPC codes on stderr with a failing exit status.
    let bad_file = dir.path().join("bad.json");
    std::fs::write(
        &bad_file,
        r#"{"name": "bad", "config": {"connector.class": "Datagen", "kafka.topic": "t", "quickstart": "nope"}}"#,
    )
    .unwrap();
    let invalid = scripts.failure("create.sh", &[&bad_file.display().to_string()]);
    assert!(invalid.contains("InvalidArgument"), "{invalid}");
    assert!(invalid.contains("quickstart"), "{invalid}");
    let duplicate = scripts.failure("create.sh", &[&file.display().to_string()]);
    assert!(duplicate.contains("AlreadyExists"), "{duplicate}");
    let unknown = scripts.failure("status.sh", &["nope"]);
    assert!(unknown.contains("NotFound"), "{unknown}");
    let usage = scripts.failure("status.sh", &[]);
    assert!(usage.contains("usage"), "{usage}");
    let watched = scripts.watch_until("gen", "RUNNING", Duration::from_secs(20));
    assert!(watched.contains("\"gen\""), "{watched}");

    scripts.json("delete.sh", &["gen"]);
    let listed = scripts.json("list.sh", &[]);
    assert_eq!(listed["names"], serde_json::json!([]), "{listed}");
    let gone = scripts.failure("status.sh", &["gen"]);
    assert!(gone.contains("NotFound"), "{gone}");
}
