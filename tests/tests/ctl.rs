//! `ferry ctl` as a script would run it: the real binary against a worker on the real broker —
//! its tables, its `-o json`, and the exit codes scripts rely on (0 ok, 1 server error, 2 usage
//! or unreadable file, 3 not found, 4 cannot connect).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_tests::{ferry_binary, free_local_addr, unique_name, wait_until, FerryProcess};
use serde_json::{json, Value as JsonValue};

const STATUS_TIMEOUT: Duration = Duration::from_secs(45);

/// What one `ferry ctl` invocation printed and how it exited.
#[derive(Debug)]
struct CtlRun {
    code: i32,
    stdout: String,
    stderr: String,
}

impl CtlRun {
    fn json(&self) -> JsonValue {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {self:?}"))
    }

    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

/// Runs `ferry ctl --server <addr> <args>`.
fn ctl(addr: SocketAddr, args: &[&str]) -> CtlRun {
    let server = addr.to_string();
    let mut all_args = vec!["ctl", "--server", server.as_str()];
    all_args.extend_from_slice(args);
    ctl_raw(&all_args)
}

/// Runs `ferry <args>` with no `FERRY_SERVER` from the environment.
fn ctl_raw(args: &[&str]) -> CtlRun {
    let output = Command::new(ferry_binary())
        .args(args)
        .env_remove("FERRY_SERVER")
        .stdin(Stdio::null())
        .output()
        .expect("the ferry binary runs");
    CtlRun {
        code: output.status.code().expect("ctl exits rather than dying"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn write_json(dir: &Path, file_name: &str, value: &JsonValue) -> PathBuf {
    let path = dir.join(file_name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

/// Polls `ctl -o json describe <name>` until `predicate` holds; returns that JSON.
async fn wait_described(
    addr: SocketAddr,
    name: &str,
    what: &str,
    predicate: impl Fn(&JsonValue) -> bool,
) -> JsonValue {
    wait_until(STATUS_TIMEOUT, what, || {
        let run = ctl(addr, &["-o", "json", "describe", name]);
        let described = (run.code == 0).then(|| run.json());
        let matched = described.filter(|described| predicate(described));
        async move { matched }
    })
    .await
    .unwrap_or_else(|error| {
        let last = ctl(addr, &["describe", name]);
        panic!("{error}; last describe: {last:?}")
    })
}

fn connector_and_tasks_in(described: &JsonValue, state: &str, task_count: usize) -> bool {
    let tasks = described["tasks"].as_array().cloned().unwrap_or_default();
    described["connector"]["state"] == state
        && tasks.len() == task_count
        && tasks.iter().all(|task| task["state"] == state)
}

#[tokio::test]
async fn ctl_manages_a_connector_on_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("ctl");
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let topic = format!("{prefix}-t");
    // Numbers in the config are fine: ctl turns them into strings.
    let config = json!({"connector.class": "Datagen", "kafka.topic": topic,
                        "quickstart": "sequence", "tasks.max": 2});
    let file = write_json(
        dir.path(),
        "gen.json",
        &json!({"name": "gen", "config": config}),
    );
    let file_arg = file.display().to_string();

    let created = ctl(addr, &["apply", "-f", &file_arg]);
    assert_eq!(created.assert_ok().stdout, "connector/gen created\n");
    let configured = ctl(addr, &["apply", "-f", &file_arg]);
    assert_eq!(configured.assert_ok().stdout, "connector/gen configured\n");

    let listed = ctl(addr, &["get", "connectors"]);
    let lines: Vec<&str> = listed.assert_ok().stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{listed:?}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("WORKERS"),
        "{listed:?}"
    );
    assert!(
        lines[1].starts_with("gen ") && lines[1].contains("source"),
        "{listed:?}"
    );

    wait_described(addr, "gen", "gen and its 2 tasks RUNNING", |described| {
        connector_and_tasks_in(described, "RUNNING", 2)
    })
    .await;
    let described = ctl(addr, &["describe", "gen"]);
    let text = &described.assert_ok().stdout;
    assert!(text.contains("Class:   Datagen"), "{text}");
    let task_rows: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("ID"))
        .skip(1)
        .collect();
    assert_eq!(task_rows.len(), 2, "{text}");
    assert!(
        task_rows.iter().all(|row| row.contains("RUNNING")),
        "{text}"
    );

    let listed_json = ctl(addr, &["-o", "json", "get", "connectors"]);
    let listed_json = listed_json.assert_ok().json();
    let connector = &listed_json["connectors"][0];
    assert_eq!(connector["name"], "gen", "{listed_json}");
    assert_eq!(connector["type"], "source", "{listed_json}");
    assert_eq!(connector["state"], "RUNNING", "{listed_json}");
    assert_eq!(connector["tasks_total"], 2, "{listed_json}");
    assert_eq!(connector["tasks_running"], 2, "{listed_json}");
    assert!(connector["workers"].is_array(), "{listed_json}");

    check_watch_streams_or_says_unimplemented(addr);

    let paused = ctl(addr, &["pause", "gen"]);
    assert_eq!(paused.assert_ok().stdout, "connector/gen paused\n");
    wait_described(addr, "gen", "gen PAUSED", |described| {
        connector_and_tasks_in(described, "PAUSED", 2)
    })
    .await;
    ctl(addr, &["resume", "gen"]).assert_ok();
    wait_described(addr, "gen", "gen RUNNING again", |described| {
        connector_and_tasks_in(described, "RUNNING", 2)
    })
    .await;

    let restarted = ctl(addr, &["restart", "gen", "--tasks"]);
    assert!(
        restarted.assert_ok().stdout.contains("plan:"),
        "{restarted:?}"
    );
    ctl(addr, &["offsets", "gen"]).assert_ok();
    let offsets = ctl(addr, &["-o", "json", "offsets", "gen"]);
    assert!(offsets.assert_ok().json()["offsets"].is_array());

    let cluster = ctl(addr, &["cluster"]);
    let text = &cluster.assert_ok().stdout;
    let member_rows: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty() && !line.starts_with("* leader"))
        .collect();
    assert_eq!(member_rows.len(), 1, "{text}");
    assert!(
        member_rows[0]
            .split_whitespace()
            .next()
            .unwrap()
            .ends_with('*'),
        "{text}"
    );
    assert!(text.contains("assignment epoch: "), "{text}");
    let cluster_json = ctl(addr, &["-o", "json", "cluster"]).json();
    assert_eq!(cluster_json["members"][0]["leader"], true, "{cluster_json}");

    let plugins = ctl(addr, &["plugins"]);
    assert!(
        plugins.assert_ok().stdout.contains("FileStreamSink"),
        "{plugins:?}"
    );

    let invalid = write_json(
        dir.path(),
        "invalid.json",
        &json!({"name": "bad", "config": {"connector.class": "Datagen", "kafka.topic": topic,
                                          "quickstart": "sequence", "tasks.max": "many"}}),
    );
    let rejected = ctl(addr, &["apply", "-f", &invalid.display().to_string()]);
    assert_eq!(rejected.code, 1, "{rejected:?}");
    assert!(
        rejected.stderr.starts_with("error: INVALID_ARGUMENT: "),
        "{rejected:?}"
    );
    assert!(rejected.stderr.contains("tasks.max"), "{rejected:?}");

    let deleted = ctl(addr, &["delete", "gen"]);
    assert_eq!(deleted.assert_ok().stdout, "connector/gen deleted\n");
    let missing = ctl(addr, &["describe", "gen"]);
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(
        missing.stderr.starts_with("error: NOT_FOUND: "),
        "{missing:?}"
    );
    let listed = ctl(addr, &["-o", "json", "get", "connectors"]);
    assert_eq!(listed.assert_ok().json(), json!({"connectors": []}));
}

/// `watch` either streams (the first event is the current status of `gen`) or, on a server
/// without Watch, exits 1 saying so.
fn check_watch_streams_or_says_unimplemented(addr: SocketAddr) {
    let server = addr.to_string();
    let mut child = Command::new(ferry_binary())
        .args([
            "ctl",
            "--server",
            &server,
            "-o",
            "json",
            "watch",
            "--connector",
            "gen",
        ])
        .env_remove("FERRY_SERVER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first_line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first_line);
        let _ = line_tx.send(first_line);
    });
    let first_line = line_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("watch prints an event or exits");
    assert!(!first_line.is_empty(), "watch printed an event");
    let event: JsonValue = serde_json::from_str(&first_line).unwrap();
    assert_eq!(event["type"], "connector_status", "{event}");
    assert_eq!(event["status"]["name"], "gen", "{event}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn ctl_exit_codes_without_a_server() {
    let started = Instant::now();
    let unreachable = ctl_raw(&["ctl", "--server", "127.0.0.1:1", "get", "connectors"]);
    assert_eq!(unreachable.code, 4, "{unreachable:?}");
    assert!(
        unreachable
            .stderr
            .contains("cannot connect to the server at 127.0.0.1:1"),
        "{unreachable:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connecting has a timeout"
    );

    let unreadable = ctl_raw(&["ctl", "apply", "-f", "/nonexistent"]);
    assert_eq!(unreadable.code, 2, "{unreadable:?}");
    assert!(unreadable.stderr.contains("/nonexistent"), "{unreadable:?}");

    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("gen.json");
    std::fs::write(&not_json, "{name: gen").unwrap();
    let invalid = ctl_raw(&["ctl", "apply", "-f", &not_json.display().to_string()]);
    assert_eq!(invalid.code, 2, "{invalid:?}");
    assert!(invalid.stderr.contains("not valid JSON"), "{invalid:?}");

    let usage = ctl_raw(&["ctl", "frobnicate"]);
    assert_eq!(usage.code, 2, "{usage:?}");
}

#[tokio::test]
async fn ctl_never_shows_a_secret_of_a_connector_config() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name("ctl-secret");
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir.path(), &prefix, addr, &[]).unwrap();
    worker.wait_healthy(Duration::from_secs(60)).await.unwrap();
    let secrets = [
        "ctl-connector-password-41",
        "ctl-jaas-password-42",
        "ctl-key-password-43",
        "ctl-oidc-secret-44",
    ];
    let config = json!({
        "connector.class": "FileStreamSource",
        "file": dir.path().join("input.txt"),
        "topic": format!("{prefix}-t"),
        "connection.password": secrets[0],
        "producer.override.sasl.jaas.config": format!("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"{}\";", secrets[1]),
        "producer.override.ssl.key.password": secrets[2],
        "consumer.override.sasl.oauthbearer.client.secret": secrets[3],
    });
    std::fs::write(dir.path().join("input.txt"), "one line\n").unwrap();
    let file = write_json(
        dir.path(),
        "secret.json",
        &json!({"name": "secret", "config": config}),
    );
    ctl(addr, &["apply", "-f", &file.display().to_string()]).assert_ok();
    wait_described(addr, "secret", "the connector RUNNING", |described| {
        described["connector"]["state"] == "RUNNING"
    })
    .await;
    let described = ctl(addr, &["-o", "json", "describe", "secret"]);
    let shown = described.assert_ok().json();
    for key in [
        "connection.password",
        "producer.override.sasl.jaas.config",
        "producer.override.ssl.key.password",
        "consumer.override.sasl.oauthbearer.client.secret",
    ] {
        assert_eq!(shown["config"][key], "[hidden]", "{key}: {shown}");
    }
    assert_eq!(shown["config"]["topic"], format!("{prefix}-t"), "{shown}");
    let views = [
        vec!["get", "connectors"],
        vec!["-o", "json", "get", "connectors"],
        vec!["describe", "secret"],
        vec!["-o", "json", "describe", "secret"],
        vec!["offsets", "secret"],
        vec!["-o", "json", "offsets", "secret"],
        vec!["restart", "secret"],
        vec!["apply", "-f", file.to_str().unwrap()],
        vec!["-o", "json", "apply", "-f", file.to_str().unwrap()],
        vec!["plugins"],
        vec!["cluster"],
    ];
    for args in views {
        let run = ctl(addr, &args);
        run.assert_ok();
        for secret in secrets {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "ctl {args:?} shows a secret: {run:?}"
            );
        }
    }
    // A refused update names the key, never its value.
    let invalid = write_json(
        dir.path(),
        "invalid.json",
        &json!({"name": "secret", "config": {
            "connector.class": "FileStreamSource", "topic": "t", "file": dir.path().join("input.txt"),
            "producer.override.sasl.jaas.config": format!("NoSuchLoginModule required password=\"{}\";", secrets[1]),
        }}),
    );
    let rejected = ctl(addr, &["apply", "-f", &invalid.display().to_string()]);
    assert_eq!(rejected.code, 1, "{rejected:?}");
    assert!(
        rejected
            .stderr
            .contains("producer.override.sasl.jaas.config"),
        "{rejected:?}"
    );
    assert!(!rejected.stderr.contains(secrets[1]), "{rejected:?}");
}
