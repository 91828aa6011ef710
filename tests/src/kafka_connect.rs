//! Real Apache Kafka Connect 4.3.1 workers (`ConnectDistributed`) for the migration tests,
//! started and stopped through `scripts/kafka-connect.sh` (which fetches and caches the jars).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{repo_root, test_bootstrap};

/// One Kafka Connect worker started by a test; killed (SIGKILL, by its pid) when dropped while
/// still running.
pub struct KafkaConnectWorker {
    /// The worker's name (its files in `dir` are `<name>.properties`, `.log`, `.pid`).
    pub name: String,
    /// The REST port on 127.0.0.1 (the worker id is `127.0.0.1:<port>`).
    pub port: u16,
    dir: PathBuf,
    /// The JVM's pid while it runs (`None` once stopped).
    pid_opt: Option<i32>,
}

fn run_script(args: &[&str]) -> anyhow::Result<String> {
    let script = repo_root().join("scripts/kafka-connect.sh");
    let output = Command::new(&script)
        .args(args)
        .env("FERRY_BOOTSTRAP", test_bootstrap())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "scripts/kafka-connect.sh {} failed ({}):\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}

impl KafkaConnectWorker {
    /// Starts a worker of group `group` (storage topics `<group>-configs`, `-offsets`,
    /// `-status`) on `127.0.0.1:<port>` with the extra worker properties `props`, and waits until
    /// its REST API answers. Blocks for the JVM's start-up (about 10 s): call it from
    /// `spawn_blocking` to start several at once.
    ///
    /// # Errors
    /// Fails when the script fails (its stderr, with the log's tail, is in the message).
    pub fn start(
        dir: &Path,
        name: &str,
        port: u16,
        group: &str,
        props: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port_text = port.to_string();
        let dir_text = dir.display().to_string();
        let mut args = vec![
            "start", "--name", name, "--port", &port_text, "--group", group, "--dir", &dir_text,
        ];
        let pairs: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for pair in &pairs {
            args.push("--prop");
            args.push(pair);
        }
        run_script(&args)?;
        let pid_text = std::fs::read_to_string(dir.join(format!("{name}.pid")))?;
        Ok(KafkaConnectWorker {
            name: name.to_string(),
            port,
            dir: dir.to_path_buf(),
            pid_opt: Some(pid_text.trim().parse()?),
        })
    }

    /// Stops the worker gracefully (SIGTERM; its tasks commit their offsets) and waits until the
    /// process is gone.
    ///
    /// # Errors
    /// Fails when the script fails.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let dir_text = self.dir.display().to_string();
        run_script(&["stop", "--name", &self.name, "--dir", &dir_text])?;
        self.pid_opt = None;
        Ok(())
    }

    /// The worker id Kafka Connect shows in statuses.
    pub fn worker_id(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The worker's socket address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Everything the worker logged so far (all of its runs in `dir`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", self.name))).unwrap_or_default()
    }

    /// The worker properties file the script wrote, as key → value.
    ///
    /// # Errors
    /// Fails when the file cannot be read.
    pub fn properties(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let text = std::fs::read_to_string(self.dir.join(format!("{}.properties", self.name)))?;
        Ok(text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect())
    }
}

impl Drop for KafkaConnectWorker {
    fn drop(&mut self) {
        // Only the pid this test started, and only while it has not been stopped.
        if let Some(pid) = self.pid_opt {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// `scripts/kafka-connect.sh report --url <url>`: every connector of the cluster behind `url`
/// (Kafka Connect or Ferry) with its type, state, task states and stored offsets, by name.
///
/// # Errors
/// Fails when the script fails or prints something else than JSON lines.
pub fn report(url: &str) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let output = run_script(&["report", "--url", url])?;
    let mut connectors = BTreeMap::new();
    for line in output.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)?;
        let name = entry["connector"].as_str().unwrap_or_default().to_string();
        connectors.insert(name, entry);
    }
    Ok(connectors)
}
