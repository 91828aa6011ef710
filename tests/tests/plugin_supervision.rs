//! Supervision of the JVM plugin host under a running jar pipeline (Apache's `connect-file`
//! 4.3.1 source and sink) against the real broker: a host killed with `kill -9`, or frozen
//! with `kill -STOP` (caught by its health deadline), fails only its tasks; the worker stays
//! healthy, launches a new host, and the tasks restart from their stored offsets with no line
//! missing.

use std::time::Duration;

use ferry_tests::plugins::{
    append_lines, children_running, create_jar_pipeline, distinct_lines, plugin_properties,
    process_exists, wait_for_lines, HOST_MAIN_CLASS,
};
use ferry_tests::{all_running, start_worker, unique_name, Api, FerryProcess};
use nix::sys::signal::Signal;

struct Pipeline {
    worker: FerryProcess,
    api: Api,
    prefix: String,
    input: std::path::PathBuf,
    output: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts a worker with the test jars and a jar source → topic → jar sink pipeline, and waits
/// until the first `lines` lines are through.
async fn start_pipeline(tag: &str, lines: usize) -> Pipeline {
    let plugins = plugin_properties();
    let extra: Vec<(&str, &str)> = plugins
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique_name(tag);
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    append_lines(&input, "first", 0, lines);
    let (worker, api) = start_worker(dir.path(), &prefix, &extra).await;
    create_jar_pipeline(&api, &prefix, &input, &output).await;
    let pipeline = Pipeline {
        worker,
        api,
        prefix,
        input,
        output,
        _dir: dir,
    };
    pipeline.wait_running().await;
    pipeline.wait_every_line(Duration::from_secs(60)).await;
    pipeline
}

impl Pipeline {
    async fn wait_running(&self) {
        for name in [
            format!("{}-source", self.prefix),
            format!("{}-sink", self.prefix),
        ] {
            self.api
                .wait_status(&name, Duration::from_secs(60), |status| {
                    all_running(status, 1)
                })
                .await
                .unwrap();
        }
    }

    async fn wait_every_line(&self, within: Duration) {
        let expected = distinct_lines(&self.input);
        wait_for_lines(&self.output, &expected, within).await;
    }

    /// The worker's one plugin host.
    fn host_pid(&self) -> u32 {
        let hosts = children_running(self.worker.pid(), HOST_MAIN_CLASS);
        assert_eq!(hosts.len(), 1, "one plugin host per worker: {hosts:?}");
        hosts[0]
    }

    /// Waits until `old` is gone and a new host serves the worker; returns the new pid.
    async fn wait_for_new_host(&self, old: u32, within: Duration) -> u32 {
        let worker_pid = self.worker.pid();
        ferry_tests::wait_until(within, "a new plugin host", || async move {
            let hosts = children_running(worker_pid, HOST_MAIN_CLASS);
            (!process_exists(old) && hosts.len() == 1 && hosts[0] != old).then(|| hosts[0])
        })
        .await
        .unwrap()
    }

    /// Waits until a task of the pipeline is reported not RUNNING (it failed with its host)
    /// or restarted (a non-zero restart count).
    async fn wait_for_a_task_restart(&self) {
        let api = self.api.clone();
        let prefix = self.prefix.clone();
        ferry_tests::wait_until(
            Duration::from_secs(30),
            "a task to notice its host died",
            || {
                let api = api.clone();
                let prefix = prefix.clone();
                async move {
                    for name in [format!("{prefix}-source"), format!("{prefix}-sink")] {
                        let (_, status) =
                            api.get(&format!("/connectors/{name}/status")).await.ok()?;
                        let task = &status["tasks"][0];
                        if task["state"] != "RUNNING" || task["restarts"].as_u64().unwrap_or(0) > 0
                        {
                            return Some(());
                        }
                    }
                    None
                }
            },
        )
        .await
        .unwrap();
    }

    async fn assert_worker_healthy(&self) {
        let (code, body) = self.api.get("/health").await.unwrap();
        assert_eq!(code, 200, "worker health: {body}");
    }
}

#[tokio::test]
async fn kill_9_of_the_plugin_host_mid_stream_restarts_its_tasks_from_stored_offsets() {
    let pipeline = start_pipeline("hostkill", 1_000).await;
    let first_host = pipeline.host_pid();
    // More lines, and the host dies while they stream.
    append_lines(&pipeline.input, "during", 1_000, 4_000);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(first_host).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    let lines_at_kill = distinct_lines(&pipeline.output).len();
    println!("killed plugin host {first_host} with {lines_at_kill} of 5000 lines out");
    pipeline.wait_for_a_task_restart().await;
    let second_host = pipeline
        .wait_for_new_host(first_host, Duration::from_secs(60))
        .await;
    pipeline.assert_worker_healthy().await;
    pipeline.wait_running().await;
    append_lines(&pipeline.input, "after", 5_000, 500);
    pipeline.wait_every_line(Duration::from_secs(90)).await;
    assert_eq!(distinct_lines(&pipeline.output).len(), 5_500);
    println!("new plugin host {second_host}; every line arrived");
}

#[tokio::test]
async fn a_frozen_plugin_host_is_killed_at_its_health_deadline_and_replaced() {
    let pipeline = start_pipeline("hoststop", 500).await;
    let frozen_host = pipeline.host_pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(frozen_host).unwrap()),
        Signal::SIGSTOP,
    )
    .unwrap();
    append_lines(&pipeline.input, "while-frozen", 500, 1_000);
    // Missed health checks (1 s apart, 2 s deadline, 3 in a row) get the host killed.
    let replacement = pipeline
        .wait_for_new_host(frozen_host, Duration::from_secs(45))
        .await;
    pipeline.assert_worker_healthy().await;
    pipeline.wait_for_a_task_restart().await;
    pipeline.wait_running().await;
    pipeline.wait_every_line(Duration::from_secs(90)).await;
    assert_eq!(distinct_lines(&pipeline.output).len(), 1_500);
    println!("frozen host {frozen_host} replaced by {replacement}; every line arrived");
}
