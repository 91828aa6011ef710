//! One plugin process: launched on first use, supervised while it runs, relaunched after it
//! died, stopped with Shutdown → SIGTERM → SIGKILL.
//!
//! Nothing outlives the worker: the process gets `PR_SET_PDEATHSIG=SIGKILL` (through util-linux
//! `setpriv --pdeathsig KILL`, so Ferry needs no `unsafe` `pre_exec`) from a launcher thread that
//! lives as long as the worker (the death signal follows the thread that forked), and it must
//! exit when its stdin — a pipe only the worker holds — reaches EOF.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::sync::{oneshot, watch};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::proto::plugin_client::PluginClient as GeneratedClient;
use crate::proto::{DescribeRequest, DescribeResponse, ShutdownRequest};
use crate::{logs, PROTOCOL_VERSION};

/// The metadata key carrying the per-launch token.
pub const TOKEN_METADATA: &str = "ferry-plugin-token";
/// The handshake line's first field.
const HANDSHAKE_PREFIX: &str = "FERRY-PLUGIN";
/// Largest gRPC message either way (a batch of records).
const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// A client of one running plugin process.
pub type PluginClient = GeneratedClient<InterceptedService<Channel, TokenInterceptor>>;

/// Why a plugin process is unusable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginHostError {
    #[error("failed to start plugin process `{name}`: {reason}")]
    Launch { name: String, reason: String },
    #[error("plugin process `{name}` is not answering: {reason}")]
    Unavailable { name: String, reason: String },
}

/// How to run and supervise one plugin process.
#[derive(Debug, Clone)]
pub struct PluginHostConfig {
    /// Names the process in logs (`jvm-host`, or a native plugin's name).
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Extra environment (on top of the protocol's FERRY_PLUGIN_* variables).
    pub env: Vec<(String, String)>,
    /// How long the process may take to print its handshake line.
    pub startup_timeout: Duration,
    /// How often its health is checked.
    pub health_interval: Duration,
    /// The deadline of one health check.
    pub health_timeout: Duration,
    /// Consecutive missed checks after which the process is killed.
    pub health_failures: u32,
    /// How long Shutdown and then SIGTERM may take before the next step.
    pub shutdown_grace: Duration,
    /// Whether the process runs a connector's converters, transforms, predicates and
    /// `errors.*` handling itself (the JVM host, with Kafka Connect's own classes); a native
    /// plugin does not, so connectors of it refuse those keys.
    pub runs_framework_stages: bool,
}

impl PluginHostConfig {
    /// A native plugin: `command` (its executable and arguments) speaks the protocol itself.
    pub fn native(name: &str, command: Vec<String>) -> Self {
        PluginHostConfig {
            name: name.to_string(),
            command,
            env: Vec::new(),
            startup_timeout: Duration::from_secs(60),
            health_interval: Duration::from_secs(1),
            health_timeout: Duration::from_secs(2),
            health_failures: 3,
            shutdown_grace: Duration::from_secs(5),
            runs_framework_stages: false,
        }
    }

    /// The JVM plugin host built by `scripts/build-plugin-host.sh` in `host_dir`, serving the
    /// plugin locations of `plugin_path` (Kafka Connect's meaning) found with `discovery`.
    /// `jvm_options` (the worker's `plugin.host.jvm.options`, checked with
    /// [`parse_jvm_options`]) come after [`JVM_DEFAULT_OPTIONS`], so they win over them.
    pub fn jvm(
        host_dir: &Path,
        java: &str,
        plugin_path: &str,
        discovery: &str,
        jvm_options: &[String],
    ) -> Self {
        let classpath = format!(
            "{}:{}",
            host_dir.join("ferry-plugin-host.jar").display(),
            host_dir.join("lib").join("*").display()
        );
        let mut command = vec![java.to_string()];
        command.extend(
            JVM_DEFAULT_OPTIONS
                .iter()
                .map(|option| (*option).to_string()),
        );
        command.extend(jvm_options.iter().cloned());
        command.extend([
            "-cp".to_string(),
            classpath,
            "dev.ferry.pluginhost.Main".to_string(),
        ]);
        PluginHostConfig {
            env: vec![
                ("FERRY_PLUGIN_PATH".to_string(), plugin_path.to_string()),
                ("FERRY_PLUGIN_DISCOVERY".to_string(), discovery.to_string()),
            ],
            startup_timeout: Duration::from_secs(180),
            runs_framework_stages: true,
            ..PluginHostConfig::native("jvm-host", command)
        }
    }
}

/// The JVM flags the plugin host runs with before the worker's `plugin.host.jvm.options`.
///
/// Measured idle with the connect-file jar (host VmRSS after Describe, 24 GiB machine):
/// - `-Xms16m`: the default initial heap is 1/64 of RAM (384 MB on 24 GiB), and Serial GC's
///   young generation is sized from it, so start-up garbage touched ~100 MB of eden that stayed
///   resident (idle host about 168 MB); with a small initial heap the heap grows only as far as
///   the live data needs (idle host about 103 MB).
/// - Serial GC: one GC thread, no concurrent-GC data structures; its pauses on a heap this
///   small are a few milliseconds.
/// - No `-XX:TieredStopAtLevel=1`: C1-only code made the sink task thread (convert + put) about
///   1.8x slower per record; C2 compiles only hot code, so idle memory is about the same.
/// - `-Xss512k`: the host's threads (gRPC, Netty, one per task) need far less than 1 MB.
pub const JVM_DEFAULT_OPTIONS: &[&str] = &["-XX:+UseSerialGC", "-Xms16m", "-Xss512k"];

/// The worker key with extra JVM options for the plugin host.
pub const JVM_OPTIONS_KEY: &str = "plugin.host.jvm.options";

/// Splits the worker's `plugin.host.jvm.options` (whitespace-separated JVM options, e.g.
/// `-Xmx512m -XX:+UseG1GC`) into arguments.
///
/// # Errors
/// An argument that is not an option (no leading `-`), or one that would replace the host's
/// class path or main class (`-cp`, `-classpath`, `--class-path`, `-jar`, `--module`, `-m`),
/// named with the key.
pub fn parse_jvm_options(value: &str) -> Result<Vec<String>, String> {
    const REFUSED: [&str; 7] = [
        "-cp",
        "-classpath",
        "--class-path",
        "-jar",
        "--module",
        "-m",
        "--source",
    ];
    let mut options = Vec::new();
    for option in value.split_whitespace() {
        let name = option.split('=').next().unwrap_or(option);
        if !option.starts_with('-') || option == "-" {
            return Err(format!(
                "invalid value `{value}` for worker config `{JVM_OPTIONS_KEY}`: `{option}` is not a JVM option (options start with `-`; separate them with spaces)"
            ));
        }
        if REFUSED.contains(&name) {
            return Err(format!(
                "invalid value `{value}` for worker config `{JVM_OPTIONS_KEY}`: `{option}` would replace the plugin host's class path or main class"
            ));
        }
        options.push(option.to_string());
    }
    Ok(options)
}

/// Adds the per-launch token to every call.
#[derive(Clone)]
pub struct TokenInterceptor {
    token: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl tonic::service::Interceptor for TokenInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert(TOKEN_METADATA, self.token.clone());
        Ok(request)
    }
}

/// One running process.
struct Running {
    pid: i32,
    client: PluginClient,
    health: HealthClient<InterceptedService<Channel, TokenInterceptor>>,
    exited_rx: watch::Receiver<bool>,
    /// Dropping it closes the process's stdin: it exits.
    stdin: Mutex<Option<ChildStdin>>,
    _socket_dir: tempfile::TempDir,
}

impl Running {
    fn has_exited(&self) -> bool {
        *self.exited_rx.borrow()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stdin.lock().map(|mut stdin| stdin.take()));
        if !self.has_exited() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

type LaunchRequest = (Command, oneshot::Sender<std::io::Result<Child>>);

/// A supervised plugin process (launched on first use, relaunched after it died).
pub struct PluginHost {
    config: PluginHostConfig,
    current: tokio::sync::Mutex<Option<Arc<Running>>>,
    launcher_tx: std::sync::mpsc::Sender<LaunchRequest>,
    launches: std::sync::atomic::AtomicU64,
}

impl PluginHost {
    /// Returns a host that launches `config`'s process when first used.
    ///
    /// # Errors
    /// The launcher thread could not be started.
    pub fn new(config: PluginHostConfig) -> std::io::Result<Arc<Self>> {
        let (launcher_tx, launcher_rx) = std::sync::mpsc::channel::<LaunchRequest>();
        // Forks from this thread only: it lives as long as the worker, so the parent-death
        // signal fires when the worker dies, not when some pool thread retires.
        std::thread::Builder::new()
            .name(format!("ferry-launch-{}", config.name))
            .spawn(move || {
                for (mut command, reply_tx) in launcher_rx {
                    let _ = reply_tx.send(command.spawn());
                }
            })?;
        Ok(Arc::new(PluginHost {
            config,
            current: tokio::sync::Mutex::new(None),
            launcher_tx,
            launches: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Returns the process's name in logs.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// See [`PluginHostConfig::runs_framework_stages`].
    pub fn runs_framework_stages(&self) -> bool {
        self.config.runs_framework_stages
    }

    /// Returns the pid of the running process, if one runs.
    pub async fn pid(&self) -> Option<i32> {
        let current = self.current.lock().await;
        current
            .as_ref()
            .filter(|running| !running.has_exited())
            .map(|running| running.pid)
    }

    /// Returns how many times the process was launched.
    pub fn launches(&self) -> u64 {
        self.launches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns a client of the running process, launching it first when none runs.
    ///
    /// # Errors
    /// The process could not be started or did not complete its handshake and health check.
    pub async fn client(self: &Arc<Self>) -> Result<PluginClient, PluginHostError> {
        let mut current = self.current.lock().await;
        if let Some(running) = current.as_ref().filter(|running| !running.has_exited()) {
            return Ok(running.client.clone());
        }
        *current = None;
        let running = Arc::new(self.launch().await?);
        self.launches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(watch_health(Arc::downgrade(&running), self.config.clone()));
        let client = running.client.clone();
        *current = Some(running);
        Ok(client)
    }

    /// Calls Describe on the process (launching it when needed).
    ///
    /// # Errors
    /// The process is unavailable or refused the call.
    pub async fn describe(self: &Arc<Self>) -> Result<DescribeResponse, PluginHostError> {
        let mut client = self.client().await?;
        let response = client
            .describe(DescribeRequest {})
            .await
            .map_err(|status| self.unavailable(status.message()))?
            .into_inner();
        if response.protocol_version != PROTOCOL_VERSION {
            return Err(self.unavailable(&format!(
                "it speaks protocol version {} but Ferry speaks {PROTOCOL_VERSION}",
                response.protocol_version
            )));
        }
        Ok(response)
    }

    /// Returns an `Unavailable` error naming this process.
    pub fn unavailable(&self, reason: &str) -> PluginHostError {
        PluginHostError::Unavailable {
            name: self.config.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// Stops the process: Shutdown, then SIGTERM, then SIGKILL, each after the grace period.
    pub async fn shutdown(&self) {
        let Some(running) = self.current.lock().await.take() else {
            return;
        };
        if running.has_exited() {
            return;
        }
        let grace = self.config.shutdown_grace;
        let mut client = running.client.clone();
        let _ = tokio::time::timeout(grace, client.shutdown(ShutdownRequest {})).await;
        let mut exited_rx = running.exited_rx.clone();
        if tokio::time::timeout(grace, exited_rx.wait_for(|exited| *exited))
            .await
            .is_err()
        {
            tracing::warn!(plugin = %self.config.name, "plugin process ignored Shutdown; sending SIGTERM");
            let _ = kill(Pid::from_raw(running.pid), Signal::SIGTERM);
            if tokio::time::timeout(grace, exited_rx.wait_for(|exited| *exited))
                .await
                .is_err()
            {
                tracing::warn!(plugin = %self.config.name, "plugin process ignored SIGTERM; sending SIGKILL");
                let _ = kill(Pid::from_raw(running.pid), Signal::SIGKILL);
            }
        }
        tracing::info!(plugin = %self.config.name, pid = running.pid, "plugin process stopped");
    }

    async fn launch(&self) -> Result<Running, PluginHostError> {
        let name = self.config.name.clone();
        let launch_error = |reason: String| PluginHostError::Launch {
            name: name.clone(),
            reason,
        };
        let socket_dir = tempfile::Builder::new()
            .prefix("ferry-plugin-")
            .tempdir()
            .map_err(|error| {
                launch_error(format!("cannot create its socket directory: {error}"))
            })?;
        let socket = socket_dir.path().join("plugin.sock");
        let token = random_token();
        let command = self.command(&socket, &token);
        let (reply_tx, reply_rx) = oneshot::channel();
        self.launcher_tx
            .send((command, reply_tx))
            .map_err(|_| launch_error("the launcher thread is gone".to_string()))?;
        let mut child = reply_rx
            .await
            .map_err(|_| launch_error("the launcher thread is gone".to_string()))?
            .map_err(|error| {
                launch_error(format!("{error} (command {:?})", self.config.command))
            })?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        tracing::info!(plugin = %name, pid, "plugin process started");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (exited_tx, exited_rx) = watch::channel(false);
        let (handshake_tx, handshake_rx) = oneshot::channel::<String>();
        spawn_reader(&name, "stdout", stdout, Some(handshake_tx));
        spawn_reader(&name, "stderr", stderr, None);
        let waiter_name = name.clone();
        std::thread::Builder::new()
            .name(format!("ferry-wait-{name}"))
            .spawn(move || {
                let status = child.wait();
                match status {
                    Ok(status) => tracing::warn!(plugin = %waiter_name, pid, %status, "plugin process exited"),
                    Err(error) => tracing::warn!(plugin = %waiter_name, pid, %error, "lost track of plugin process"),
                }
                let _ = exited_tx.send(true);
            })
            .map_err(|error| launch_error(error.to_string()))?;
        let running_guard = KillOnDrop(pid, exited_rx.clone());

        let mut exited_wait = exited_rx.clone();
        let line = tokio::select! {
            line = handshake_rx => line.map_err(|_| launch_error("it closed stdout before its handshake line".to_string()))?,
            _ = exited_wait.wait_for(|exited| *exited) => return Err(launch_error("it exited before its handshake line".to_string())),
            () = tokio::time::sleep(self.config.startup_timeout) => return Err(launch_error(format!("no handshake line within {:?}", self.config.startup_timeout))),
        };
        let served = parse_handshake(&line).map_err(launch_error)?;
        if served != socket {
            return Err(launch_error(format!(
                "it serves {} instead of the socket it was given",
                served.display()
            )));
        }
        let channel = connect_unix(&served)
            .await
            .map_err(|error| launch_error(format!("cannot connect to its socket: {error}")))?;
        let token_value = token
            .parse()
            .map_err(|_| launch_error("invalid token".to_string()))?;
        let interceptor = TokenInterceptor { token: token_value };
        let health = HealthClient::with_interceptor(channel.clone(), interceptor.clone());
        // The first answer is part of start-up: a JVM that just printed its handshake may still
        // be loading the classes of its first call (seconds on a loaded machine), so it gets the
        // start-up deadline; later checks get `health_timeout`.
        check_health(health.clone(), self.config.startup_timeout)
            .await
            .map_err(launch_error)?;
        let client = GeneratedClient::with_interceptor(channel, interceptor)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        std::mem::forget(running_guard);
        tracing::info!(plugin = %name, pid, socket = %served.display(), "plugin process is serving");
        Ok(Running {
            pid,
            client,
            health,
            exited_rx,
            stdin: Mutex::new(stdin),
            _socket_dir: socket_dir,
        })
    }

    fn command(&self, socket: &Path, token: &str) -> Command {
        let (program, args) = self
            .config
            .command
            .split_first()
            .map_or(("", &[][..]), |(program, args)| (program.as_str(), args));
        let mut command = if Path::new(SETPRIV).exists() {
            let mut command = Command::new(SETPRIV);
            command.args(["--pdeathsig", "KILL", "--", program]);
            command
        } else {
            tracing::warn!(plugin = %self.config.name, "setpriv not found: the plugin process relies on stdin EOF alone to die with the worker");
            Command::new(program)
        };
        command
            .args(args)
            .envs(self.config.env.iter().map(|(key, value)| (key, value)))
            .env("FERRY_PLUGIN_PROTOCOL", PROTOCOL_VERSION.to_string())
            .env("FERRY_PLUGIN_TOKEN", token)
            .env("FERRY_PLUGIN_SOCKET", socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// util-linux's setpriv, which sets the parent-death signal and execs the plugin.
const SETPRIV: &str = "/usr/bin/setpriv";

/// Kills a half-launched process when the launch fails.
struct KillOnDrop(i32, watch::Receiver<bool>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !*self.1.borrow() {
            let _ = kill(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parses `FERRY-PLUGIN|<version>|unix|<socket>|grpc` into the socket path.
fn parse_handshake(line: &str) -> Result<PathBuf, String> {
    let fields: Vec<&str> = line.trim().split('|').collect();
    let [prefix, version, network, address, protocol] = fields.as_slice() else {
        return Err(format!("malformed handshake line `{line}`"));
    };
    if *prefix != HANDSHAKE_PREFIX {
        return Err(format!("malformed handshake line `{line}`"));
    }
    if version.parse::<u32>().ok() != Some(PROTOCOL_VERSION) {
        return Err(format!(
            "it speaks protocol version {version}, Ferry speaks {PROTOCOL_VERSION}"
        ));
    }
    if *network != "unix" || *protocol != "grpc" {
        return Err(format!(
            "unsupported transport `{network}|{protocol}` (expected unix|grpc)"
        ));
    }
    Ok(PathBuf::from(address))
}

async fn connect_unix(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    // The URI is required by the API but unused: every connection goes to the socket.
    Endpoint::from_static("http://plugin.invalid")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}

async fn check_health(
    mut health: HealthClient<InterceptedService<Channel, TokenInterceptor>>,
    deadline: Duration,
) -> Result<(), String> {
    let call = health.check(HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(deadline, call).await {
        Err(_) => Err(format!("health check missed its {deadline:?} deadline")),
        Ok(Err(status)) => Err(format!("health check failed: {}", status.message())),
        Ok(Ok(response)) if response.get_ref().status == ServingStatus::Serving as i32 => Ok(()),
        Ok(Ok(response)) => Err(format!(
            "health status is {:?}",
            ServingStatus::try_from(response.get_ref().status).unwrap_or(ServingStatus::Unknown)
        )),
    }
}

/// Checks the process's health until it exits; kills it after `health_failures` misses in a
/// row (a hung or stopped process), so its streams fail and its tasks restart.
async fn watch_health(running: std::sync::Weak<Running>, config: PluginHostConfig) {
    let mut misses = 0;
    let mut tick = tokio::time::interval(config.health_interval);
    loop {
        tick.tick().await;
        let Some(current) = running.upgrade() else {
            return;
        };
        if current.has_exited() {
            return;
        }
        let health = current.health.clone();
        let pid = current.pid;
        drop(current);
        if check_health(health, config.health_timeout).await.is_ok() {
            misses = 0;
            continue;
        }
        misses += 1;
        tracing::warn!(plugin = %config.name, pid, misses, "plugin process missed a health check");
        if misses >= config.health_failures {
            tracing::error!(plugin = %config.name, pid, "plugin process is not healthy; killing it (its tasks restart)");
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            return;
        }
    }
}

/// Forwards a stream of the process to the worker's log; the first handshake line on stdout
/// goes to `handshake_tx`.
fn spawn_reader(
    name: &str,
    stream: &'static str,
    source: Option<impl std::io::Read + Send + 'static>,
    mut handshake_tx: Option<oneshot::Sender<String>>,
) {
    let Some(source) = source else { return };
    let plugin = name.to_string();
    let spawned = std::thread::Builder::new()
        .name(format!("ferry-{stream}-{name}"))
        .spawn(move || {
            let name = plugin;
            for line in BufReader::new(source).lines() {
                let Ok(line) = line else { break };
                if line.starts_with(HANDSHAKE_PREFIX) {
                    if let Some(tx) = handshake_tx.take() {
                        let _ = tx.send(line);
                        continue;
                    }
                }
                logs::emit(&name, stream, &line);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(plugin = %name, %error, "cannot read the plugin process output");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jvm_options_follow_the_defaults_and_precede_the_class_path() {
        let options = parse_jvm_options("-Xmx1g -XX:+UseG1GC").unwrap();
        let config = PluginHostConfig::jvm(
            Path::new("/host"),
            "java",
            "/plugins",
            "hybrid_warn",
            &options,
        );
        let command = &config.command;
        let defaults = JVM_DEFAULT_OPTIONS.len();
        assert_eq!(command[0], "java");
        assert_eq!(&command[1..=defaults], JVM_DEFAULT_OPTIONS);
        assert_eq!(
            &command[defaults + 1..defaults + 3],
            ["-Xmx1g", "-XX:+UseG1GC"]
        );
        assert_eq!(command[defaults + 3], "-cp");
        assert_eq!(command.last().unwrap(), "dev.ferry.pluginhost.Main");
    }

    #[test]
    fn bad_jvm_options_name_the_key_and_the_option() {
        let error = parse_jvm_options("-Xmx1g G1").unwrap_err();
        assert!(
            error.contains(JVM_OPTIONS_KEY) && error.contains("`G1`"),
            "{error}"
        );
        let error = parse_jvm_options("-classpath /x").unwrap_err();
        assert!(error.contains("class path"), "{error}");
        assert!(parse_jvm_options("-").is_err());
    }

    #[test]
    fn handshake_lines_are_parsed_and_checked() {
        assert_eq!(
            parse_handshake("FERRY-PLUGIN|1|unix|/tmp/x/plugin.sock|grpc\n"),
            Ok(PathBuf::from("/tmp/x/plugin.sock"))
        );
        assert!(parse_handshake("FERRY-PLUGIN|2|unix|/tmp/s|grpc")
            .unwrap_err()
            .contains("protocol version 2"));
        assert!(parse_handshake("FERRY-PLUGIN|1|tcp|127.0.0.1:1|grpc")
            .unwrap_err()
            .contains("unsupported transport"));
        assert!(parse_handshake("hello").unwrap_err().contains("malformed"));
    }

    #[test]
    fn tokens_are_random_and_hex() {
        let first = random_token();
        assert_eq!(first.len(), 48);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(first, random_token());
    }
}
