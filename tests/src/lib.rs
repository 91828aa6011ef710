//! Helpers for Ferry's cross-crate and multi-process tests: the broker under test, `ferry`
//! processes, free ports, and waiting for conditions with deadlines (never fixed sleeps).

use std::fs::File;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Returns the bootstrap servers of the real Kafka started by `scripts/test.sh`
/// (`FERRY_TEST_BOOTSTRAP`, default `127.0.0.1:9092`).
pub fn test_bootstrap() -> String {
    std::env::var("FERRY_TEST_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

/// Returns a loopback address with a port that was free a moment ago.
pub fn free_local_addr() -> SocketAddr {
    let listener =
        TcpListener::bind("127.0.0.1:0").expect("binding port 0 on loopback always works");
    listener
        .local_addr()
        .expect("a bound listener has an address")
}

/// Returns a name unique to this test run, for topics, connectors and groups.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock is after 1970")
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// Polls `condition` until it returns `Some`, or fails after `timeout` with `what`.
///
/// # Errors
/// Fails when the deadline passes first.
pub async fn wait_until<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut condition: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Path of the `ferry` binary: `FERRY_BIN`, or the one cargo built next to this test.
///
/// # Panics
/// Panics when the binary has not been built (`cargo build -p ferry-server` builds it).
pub fn ferry_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_BIN") {
        return PathBuf::from(path);
    }
    let test_exe = std::env::current_exe().expect("the test binary knows its own path");
    // target/<profile>/deps/<test> → target/<profile>/ferry
    let profile_dir = test_exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let binary = profile_dir.join("ferry");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p ferry-server` first (scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// A `ferry` process started by a test; killed (SIGKILL) when dropped if still running.
pub struct FerryProcess {
    child: Child,
    pub addr: SocketAddr,
    log_dir: tempfile::TempDir,
}

impl FerryProcess {
    /// Starts `ferry <args>`; the process's stdout and stderr go to files in a temporary folder.
    ///
    /// # Errors
    /// Fails when the process cannot be spawned.
    pub fn spawn(args: &[&str], addr: SocketAddr) -> anyhow::Result<Self> {
        let log_dir = tempfile::tempdir()?;
        let stdout = File::create(log_dir.path().join("stdout"))?;
        let stderr = File::create(log_dir.path().join("stderr"))?;
        let child = Command::new(ferry_binary())
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()?;
        Ok(FerryProcess {
            child,
            addr,
            log_dir,
        })
    }

    /// Starts `ferry dev --listen <free port>`.
    ///
    /// # Errors
    /// Fails when the process cannot be spawned.
    pub fn dev() -> anyhow::Result<Self> {
        let addr = free_local_addr();
        Self::spawn(&["dev", "--listen", &addr.to_string()], addr)
    }

    /// Returns `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns what the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.log_dir.path().join("stdout")).unwrap_or_default()
    }

    /// Returns what the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.log_dir.path().join("stderr")).unwrap_or_default()
    }

    /// Sends `signal` to the process.
    ///
    /// # Errors
    /// Fails when the process is gone.
    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = i32::try_from(self.child.id())?;
        kill(Pid::from_raw(pid), signal)?;
        Ok(())
    }

    /// Waits for the process to exit, up to `timeout`.
    ///
    /// # Errors
    /// Fails when it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let child = &mut self.child;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                anyhow::bail!("process still running after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `GET /health` answers 200.
    ///
    /// # Errors
    /// Fails after `timeout`, with the process's stderr in the message.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/health", self.url());
        let result = wait_until(timeout, "GET /health to answer 200", || {
            let client = client.clone();
            let url = url.clone();
            async move {
                let response = client.get(&url).send().await.ok()?;
                (response.status() == reqwest::StatusCode::OK).then_some(())
            }
        })
        .await;
        if let Err(error) = result {
            let exited = self.child.try_wait().ok().flatten();
            anyhow::bail!(
                "{error}; exit status: {exited:?}; stderr:\n{}",
                self.stderr()
            );
        }
        Ok(())
    }
}

impl Drop for FerryProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
