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

pub mod debezium;
pub mod kafka_connect;
pub mod oidc;
pub mod plugins;
pub mod secure;

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

/// Borrows owned `(key, value)` properties as the `&str` pairs worker helpers take.
pub fn as_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect()
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
        Self::spawn_with_env(args, addr, &[])
    }

    /// Like [`FerryProcess::spawn`], with extra environment variables.
    ///
    /// # Errors
    /// Fails when the process cannot be spawned.
    pub fn spawn_with_env(
        args: &[&str],
        addr: SocketAddr,
        envs: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let log_dir = tempfile::tempdir()?;
        let stdout = File::create(log_dir.path().join("stdout"))?;
        let stderr = File::create(log_dir.path().join("stderr"))?;
        let child = Command::new(ferry_binary())
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(envs.iter().copied())
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

/// Writes a worker properties file for the test broker with topics and group unique to `prefix`,
/// and returns the `ferry worker` arguments that use it.
///
/// # Errors
/// Fails when the file cannot be written.
pub fn worker_args(
    dir: &Path,
    prefix: &str,
    addr: SocketAddr,
    extra: &[(&str, &str)],
) -> anyhow::Result<Vec<String>> {
    let mut properties = format!(
        "bootstrap.servers={}\ngroup.id={prefix}\nlisteners=http://{addr}\n\
         config.storage.topic={prefix}-configs\noffset.storage.topic={prefix}-offsets\n\
         status.storage.topic={prefix}-status\noffset.storage.partitions=5\nstatus.storage.partitions=2\n\
         offset.flush.interval.ms=1000\n",
        test_bootstrap()
    );
    for (key, value) in extra {
        properties.push_str(&format!("{key}={value}\n"));
    }
    let path = dir.join(format!("worker-{}.properties", addr.port()));
    std::fs::write(&path, properties)?;
    Ok(vec!["worker".to_string(), path.display().to_string()])
}

impl FerryProcess {
    /// Starts `ferry worker` on `addr` against the test broker with topics unique to `prefix`.
    ///
    /// # Errors
    /// Fails when the process cannot be spawned.
    pub fn worker(
        dir: &Path,
        prefix: &str,
        addr: SocketAddr,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let args = worker_args(dir, prefix, addr, extra)?;
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::spawn(&refs, addr)
    }
}

/// A small REST client for Ferry's Kafka Connect API.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// A client for `http://<addr>`.
    pub fn new(addr: SocketAddr) -> Self {
        Api {
            client: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    /// Sends `method path` with an optional JSON body; returns status and JSON body (Null if none).
    ///
    /// # Errors
    /// Fails when the request cannot be sent.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body_opt: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body_opt {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text)?
        };
        Ok((status, json))
    }

    /// `GET path`.
    ///
    /// # Errors
    /// Fails when the request cannot be sent.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// `POST /connectors` with `{"name", "config"}`; asserts 201.
    ///
    /// # Errors
    /// Fails when the request fails or does not answer 201.
    pub async fn create_connector(
        &self,
        name: &str,
        config: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let body = serde_json::json!({ "name": name, "config": config });
        let (status, response) = self
            .call(reqwest::Method::POST, "/connectors", Some(&body))
            .await?;
        anyhow::ensure!(status == 201, "create {name}: {status} {response}");
        Ok(response)
    }

    /// Waits until the connector's status satisfies `predicate`; returns that status.
    ///
    /// # Errors
    /// Fails after `timeout`, with the last status seen.
    pub async fn wait_status(
        &self,
        name: &str,
        timeout: Duration,
        predicate: impl Fn(&serde_json::Value) -> bool,
    ) -> anyhow::Result<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        let mut last = serde_json::Value::Null;
        loop {
            if let Ok((200, status)) = self.get(&format!("/connectors/{name}/status")).await {
                if predicate(&status) {
                    return Ok(status);
                }
                last = status;
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "timed out after {timeout:?} waiting for the status of {name}; last: {last}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Returns true when the connector and all of its (at least `min_tasks`) tasks are RUNNING.
pub fn all_running(status: &serde_json::Value, min_tasks: usize) -> bool {
    let tasks = status["tasks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    status["connector"]["state"] == "RUNNING"
        && tasks.len() >= min_tasks
        && tasks.iter().all(|task| task["state"] == "RUNNING")
}

/// The node id cluster tests give the worker listening on `addr`.
pub fn node_id_of(addr: SocketAddr) -> String {
    format!("node-{}", addr.port())
}

impl FerryProcess {
    /// Starts a worker that joins the cluster of `seeds` (gossip on the same port numbers as the
    /// listeners), with node id `node-<port>` and topics unique to `prefix`.
    ///
    /// # Errors
    /// Fails when the process cannot be spawned.
    pub fn cluster_worker(
        dir: &Path,
        prefix: &str,
        addr: SocketAddr,
        seeds: &[SocketAddr],
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let seeds: Vec<String> = seeds.iter().map(ToString::to_string).collect();
        let seeds = seeds.join(",");
        let node_id = node_id_of(addr);
        let mut properties = vec![
            ("gossip.seeds", seeds.as_str()),
            ("node.id", node_id.as_str()),
        ];
        properties.extend_from_slice(extra);
        Self::worker(dir, prefix, addr, &properties)
    }
}

/// Starts `count` workers forming one cluster and waits until each is healthy and the first sees
/// all of them ready.
///
/// # Errors
/// Fails when a worker cannot start or the cluster does not form within the deadlines.
pub async fn start_cluster(
    dir: &Path,
    prefix: &str,
    count: usize,
    extra: &[(&str, &str)],
) -> anyhow::Result<(Vec<SocketAddr>, Vec<FerryProcess>)> {
    let addrs: Vec<SocketAddr> = (0..count).map(|_| free_local_addr()).collect();
    let mut workers = Vec::new();
    for addr in &addrs {
        workers.push(FerryProcess::cluster_worker(
            dir, prefix, *addr, &addrs, extra,
        )?);
    }
    for worker in &mut workers {
        worker.wait_healthy(Duration::from_secs(60)).await?;
    }
    let api = Api::new(addrs[0]);
    wait_until(Duration::from_secs(30), "every member ready", || {
        let api = api.clone();
        async move {
            let (_, view) = api.get("/cluster").await.ok()?;
            let ready = view["members"]
                .as_array()?
                .iter()
                .filter(|member| member["ready"] == true)
                .count();
            (ready == count && view["leader"].is_string()).then_some(())
        }
    })
    .await?;
    Ok((addrs, workers))
}

/// Counts a connector status's RUNNING tasks per worker id.
pub fn tasks_per_worker(status: &serde_json::Value) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for task in status["tasks"].as_array().into_iter().flatten() {
        if task["state"] == "RUNNING" {
            *counts
                .entry(task["worker_id"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    counts
}

/// Reads every key of partition 0 of `topic` (the config topic has one partition) from the test
/// broker, to the end.
///
/// # Panics
/// Panics when the topic cannot be read to its end within 20 s.
pub fn topic_keys(topic: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("group.id", unique_name("inspect"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer of the test broker can be created");
    let (_, high) = retry_kafka(&format!("watermarks of {topic}/0"), || {
        consumer.fetch_watermarks(topic, 0, Duration::from_secs(10))
    });
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .expect("partition 0 can be assigned");
    consumer.assign(&list).expect("partition 0 can be assigned");
    let mut keys = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut position = 0;
    while position < high && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            position = message.offset() + 1;
            keys.push(String::from_utf8_lossy(message.key().unwrap_or_default()).to_string());
        }
    }
    assert!(
        position >= high,
        "read {topic} to its end ({position} of {high})"
    );
    keys
}

/// Returns how many records every partition of `topic` holds (0 when it does not exist).
pub fn topic_record_count(topic: &str) -> i64 {
    topic_offset_count(topic, "read_committed")
}

/// The number of offsets in `topic` up to each partition's high watermark: open transactions'
/// records too ([`topic_record_count`] stops at the last stable offset, librdkafka's
/// `read_committed` default).
pub fn topic_log_end_count(topic: &str) -> i64 {
    topic_offset_count(topic, "read_uncommitted")
}

fn topic_offset_count(topic: &str, isolation_level: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("isolation.level", isolation_level)
        .create()
        .expect("a consumer of the test broker can be created");
    let metadata = retry_kafka(&format!("metadata of {topic}"), || {
        consumer.fetch_metadata(Some(topic), Duration::from_secs(10))
    });
    let mut total = 0;
    for described in metadata.topics() {
        if described.error().is_some() {
            // Not there (yet): no records.
            continue;
        }
        for partition in described.partitions() {
            let (low, high) =
                retry_kafka(&format!("watermarks of {topic}/{}", partition.id()), || {
                    consumer.fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
                });
            total += high - low;
        }
    }
    total
}

/// Where the sink connector `sink`'s consumer group (`connect-<sink>`) is on `topic`: the sum of
/// its committed offsets over the topic's partitions (0 for a partition with none) and the sum of
/// the partitions' end offsets. `end - committed` is what the group would read again.
///
/// # Panics
/// Panics when the broker cannot be asked.
pub fn sink_group_position(topic: &str, sink: &str) -> (i64, i64) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("group.id", format!("connect-{sink}"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = retry_kafka(&format!("metadata of {topic}"), || {
        consumer.fetch_metadata(Some(topic), Duration::from_secs(10))
    });
    let mut list = rdkafka::TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        list.add_partition(topic, partition.id());
    }
    let committed = retry_kafka(&format!("committed offsets of connect-{sink}"), || {
        consumer.committed_offsets(list.clone(), Duration::from_secs(10))
    });
    let (mut committed_total, mut end_total) = (0, 0);
    for element in committed.elements() {
        let (_, high) = retry_kafka(
            &format!("watermarks of {topic}/{}", element.partition()),
            || consumer.fetch_watermarks(topic, element.partition(), Duration::from_secs(10)),
        );
        end_total += high;
        committed_total += element
            .offset()
            .to_raw()
            .filter(|raw| *raw >= 0)
            .unwrap_or(0);
    }
    (committed_total, end_total)
}

/// One record as read from Kafka (key, value, headers and timestamp as bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

impl TopicRecord {
    /// Returns the first header named `key`, as text.
    pub fn header(&self, key: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(name, _)| name == key)
            .and_then(|(_, value)| value.as_ref())
            .map(|value| String::from_utf8_lossy(value).to_string())
    }
}

/// Every offset record of source connector `connector` in the offsets topic `offsets_topic`
/// (Kafka Connect's format: key `["<connector>", {<partition>}]`), in the order of the topic's
/// partitions (each source partition's records in the order written); `None` is a tombstone
/// (a reset).
pub fn offset_records(offsets_topic: &str, connector: &str) -> Vec<Option<serde_json::Value>> {
    read_topic(offsets_topic)
        .into_iter()
        .filter(|record| {
            record.key.as_deref().is_some_and(|key| {
                serde_json::from_slice::<serde_json::Value>(key)
                    .is_ok_and(|key| key[0] == connector)
            })
        })
        .map(|record| {
            record
                .value
                .as_deref()
                .map(|value| serde_json::from_slice(value).unwrap())
        })
        .collect()
}

/// The last offset of source connector `connector` in the offsets topic `offsets_topic`, as
/// Kafka Connect or Ferry stored it (`None`: none, or reset).
pub fn offset_in_topic(offsets_topic: &str, connector: &str) -> Option<serde_json::Value> {
    offset_records(offsets_topic, connector).pop().flatten()
}

/// Reads every partition of `topic` to its end (the topic must exist), as a `read_committed`
/// consumer.
///
/// # Panics
/// Panics when the topic cannot be read.
pub fn read_topic(topic: &str) -> Vec<TopicRecord> {
    // librdkafka's default, said out loud: records of open or aborted transactions are never
    // returned.
    read_topic_isolated(topic, "read_committed")
}

/// Reads every partition of `topic` to its end as a `read_uncommitted` consumer: the records of
/// aborted (and open) transactions too.
///
/// # Panics
/// Panics when the topic cannot be read.
pub fn read_topic_uncommitted(topic: &str) -> Vec<TopicRecord> {
    read_topic_isolated(topic, "read_uncommitted")
}

/// Runs the blocking broker request `request` again while it times out, for up to a minute: on
/// a loaded two-core machine a single metadata or list-offsets request can miss its 10 s
/// timeout. Any other error is not retried (each attempt that times out took 10 s already).
///
/// # Panics
/// Panics with the error when it is not a timeout, or when the minute passes.
fn retry_kafka<T>(what: &str, mut request: impl FnMut() -> rdkafka::error::KafkaResult<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match request() {
            Ok(value) => return value,
            Err(error)
                if error.rdkafka_error_code()
                    == Some(rdkafka::types::RDKafkaErrorCode::OperationTimedOut)
                    && std::time::Instant::now() < deadline =>
            {
                eprintln!("{what}: {error}; retrying");
            }
            Err(error) => panic!("{what}: {error}"),
        }
    }
}

fn read_topic_isolated(topic: &str, isolation_level: &str) -> Vec<TopicRecord> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .set("group.id", unique_name("inspect"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation_level)
        .create()
        .unwrap();
    let metadata = retry_kafka(&format!("metadata of {topic}"), || {
        consumer.fetch_metadata(Some(topic), Duration::from_secs(10))
    });
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut out = Vec::new();
    for partition in partitions {
        let (low, high) = retry_kafka(&format!("watermarks of {topic}/{partition}"), || {
            consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))
        });
        if high <= low {
            continue;
        }
        let mut list = rdkafka::TopicPartitionList::new();
        list.add_partition_offset(topic, partition, rdkafka::Offset::Beginning)
            .unwrap();
        consumer.assign(&list).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut position = low;
        while position < high && std::time::Instant::now() < deadline {
            let polled = consumer.poll(Duration::from_millis(200));
            // A topic may end with a transaction marker, which is never handed out as a
            // message: the consumer's position moves past it.
            if let Ok(positions) = consumer.position() {
                if let Some(rdkafka::Offset::Offset(next)) = positions
                    .find_partition(topic, partition)
                    .map(|element| element.offset())
                {
                    position = position.max(next);
                }
            }
            if let Some(Ok(message)) = polled {
                position = position.max(message.offset() + 1);
                let mut headers = Vec::new();
                if let Some(raw) = message.headers() {
                    for header in raw.iter() {
                        headers.push((header.key.to_string(), header.value.map(<[u8]>::to_vec)));
                    }
                }
                out.push(TopicRecord {
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
                    headers,
                    timestamp: message.timestamp().to_millis(),
                });
            }
        }
        assert!(position >= high, "read {topic}/{partition} to its end");
    }
    out
}

/// The repository's root folder (scripts live in `scripts/`).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository")
}

/// Runs `scripts/services.sh <action> <service>` and panics when it fails.
pub fn services(action: &str, service: &str) {
    let script = repo_root().join("scripts/services.sh");
    let status = Command::new(&script)
        .args([action, service])
        .status()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));
    assert!(
        status.success(),
        "scripts/services.sh {action} {service} failed: {status}"
    );
}

/// Creates `topic` on the test broker; a topic of that name deleted a moment ago may still be
/// "marked for deletion", so creation is retried until it succeeds (60 s at most).
pub async fn create_topic(topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", test_bootstrap())
        .create()
        .expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    wait_until(
        Duration::from_secs(60),
        &format!("topic {topic} created"),
        || {
            let admin = &admin;
            let options = &options;
            async move {
                let created = admin
                    .create_topics(
                        &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                        options,
                    )
                    .await
                    .ok()?;
                created.iter().all(Result::is_ok).then_some(())
            }
        },
    )
    .await
    .expect("topic created");
}

/// Starts a single `ferry worker` on a free port (`extra`: worker properties) and waits until it
/// is healthy.
pub async fn start_worker(dir: &Path, prefix: &str, extra: &[(&str, &str)]) -> (FerryProcess, Api) {
    let addr = free_local_addr();
    let mut worker = FerryProcess::worker(dir, prefix, addr, extra).expect("worker starts");
    worker
        .wait_healthy(Duration::from_secs(60))
        .await
        .expect("worker healthy");
    (worker, Api::new(addr))
}
