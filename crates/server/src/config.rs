//! Worker configuration: a Kafka Connect–style properties file plus `--set KEY=VALUE` overrides.
//!
//! Known keys are validated here, at start-up, and a bad value is an error naming the key. Keys
//! Ferry does not know are kept verbatim (Kafka Connect passes them on to its clients, and so do
//! we: `producer.*`, `consumer.*`, `admin.*` and bare client keys).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use ferry_actors::worker::restart_policy::RestartPolicy;
use ferry_connectors::sdk::framework::ExactlyOnceSourceSupport;

use crate::security::listeners::{self, ListenerSpec, Scheme};
use crate::security::SecuritySettings;

/// Worker property keys, one constant each.
pub mod keys {
    pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
    pub const GROUP_ID: &str = "group.id";
    pub const LISTENERS: &str = "listeners";
    pub const REST_ADVERTISED_HOST_NAME: &str = "rest.advertised.host.name";
    pub const REST_ADVERTISED_PORT: &str = "rest.advertised.port";
    pub const CONFIG_STORAGE_TOPIC: &str = "config.storage.topic";
    pub const OFFSET_STORAGE_TOPIC: &str = "offset.storage.topic";
    pub const STATUS_STORAGE_TOPIC: &str = "status.storage.topic";
    pub const CONFIG_STORAGE_REPLICATION_FACTOR: &str = "config.storage.replication.factor";
    pub const OFFSET_STORAGE_REPLICATION_FACTOR: &str = "offset.storage.replication.factor";
    pub const STATUS_STORAGE_REPLICATION_FACTOR: &str = "status.storage.replication.factor";
    pub const OFFSET_STORAGE_PARTITIONS: &str = "offset.storage.partitions";
    pub const STATUS_STORAGE_PARTITIONS: &str = "status.storage.partitions";
    pub const OFFSET_FLUSH_INTERVAL_MS: &str = "offset.flush.interval.ms";
    pub const OFFSET_FLUSH_TIMEOUT_MS: &str = "offset.flush.timeout.ms";
    pub const TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS: &str = "task.shutdown.graceful.timeout.ms";
    pub const SCHEDULED_REBALANCE_MAX_DELAY_MS: &str = "scheduled.rebalance.max.delay.ms";
    pub const NODE_ID: &str = "node.id";
    pub const GOSSIP_LISTEN: &str = "gossip.listen";
    pub const GOSSIP_SEEDS: &str = "gossip.seeds";
    pub const CLUSTER_MEMBER_EXPIRY_MS: &str = "cluster.member.expiry.ms";
    pub const CLUSTER_FENCE_MARGIN_MS: &str = "cluster.fence.margin.ms";
    pub const CLUSTER_LEASE_MS: &str = "cluster.lease.ms";
    pub const TASK_RESTART_MAX_FAILURES: &str = "task.restart.max.failures";
    pub const TASK_RESTART_WINDOW_MS: &str = "task.restart.window.ms";
    pub const TASK_RESTART_INITIAL_BACKOFF_MS: &str = "task.restart.initial.backoff.ms";
    pub const TASK_RESTART_MAX_BACKOFF_MS: &str = "task.restart.max.backoff.ms";
}

const DEFAULT_BOOTSTRAP_SERVERS: &str = "localhost:9092";
const DEFAULT_GROUP_ID: &str = "ferry-cluster";
const DEFAULT_LISTENER: &str = "http://:8083";
const DEFAULT_CONFIG_TOPIC: &str = "ferry-configs";
const DEFAULT_OFFSET_TOPIC: &str = "ferry-offsets";
const DEFAULT_STATUS_TOPIC: &str = "ferry-status";

/// An invalid worker configuration: which key, and what is wrong with its value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value `{value}` for worker config `{key}`: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("cannot read worker properties file `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("invalid --set `{0}`: expected KEY=VALUE")]
    BadOverride(String),
    #[error(transparent)]
    Provider(#[from] ferry_actors::config_providers::ProviderConfigError),
}

/// The validated worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub bootstrap_servers: String,
    pub group_id: String,
    /// The address of the advertised listener (the one other workers reach).
    pub listen_addr: SocketAddr,
    /// Every listener (`listeners`): http and https side by side.
    pub listeners: Vec<ListenerSpec>,
    /// Whether other workers reach this one over http or https (`rest.advertised.listener`).
    pub advertised_scheme: Scheme,
    /// TLS, authentication, session keys, config providers and connection limits.
    pub security: SecuritySettings,
    /// `host:port` other workers and status output use for this worker (Kafka Connect's worker id).
    pub advertised_addr: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    pub config_replication_factor: i32,
    pub offset_replication_factor: i32,
    pub status_replication_factor: i32,
    pub offset_partitions: i32,
    pub status_partitions: i32,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub task_shutdown_timeout: Duration,
    pub scheduled_rebalance_max_delay: Duration,
    /// Names the node in gossip and logs; defaults to the advertised address.
    pub node_id: String,
    /// UDP address gossip binds; defaults to the listener's address.
    pub gossip_listen: SocketAddr,
    pub gossip_seeds: Vec<String>,
    /// How long a node that stopped gossiping still counts as a member for the quorum.
    pub member_expiry: Duration,
    /// How long the tasks of a worker that vanished without a goodbye wait before they move (a
    /// cut-off worker stops them in the meantime).
    pub fence_margin: Duration,
    /// A worker's liveness lease in the lease topic: it stops its tasks when it cannot renew
    /// the lease for this long, and the others may take them over this long (plus the fence
    /// margin) after they last read a renewal.
    pub lease_period: Duration,
    /// The lease topic, `ferry-leases-<group.id>` (see `ferry_actors::stores::lease`).
    pub lease_topic: String,
    /// How a failing task is restarted in place before it is handed to another worker.
    pub restart_policy: RestartPolicy,
    /// `exactly.once.source.support`: whether source tasks produce in transactions (KIP-618).
    pub exactly_once_source: ExactlyOnceSourceSupport,
    /// Every key as given (known and unknown), for connector defaults and client pass-through.
    pub properties: BTreeMap<String, String>,
}

impl WorkerConfig {
    /// Reads a properties file (Java `.properties` syntax) and applies `KEY=VALUE` overrides.
    ///
    /// # Errors
    /// Fails when the file cannot be read or parsed, an override has no `=`, or a known key has an
    /// invalid value.
    pub fn load(path_opt: Option<&Path>, overrides: &[String]) -> Result<Self, ConfigError> {
        let mut properties = BTreeMap::new();
        if let Some(path) = path_opt {
            let file = std::fs::File::open(path).map_err(|error| ConfigError::Unreadable {
                path: path.display().to_string(),
                reason: error.to_string(),
            })?;
            let parsed = java_properties::read(std::io::BufReader::new(file)).map_err(|error| {
                ConfigError::Unreadable {
                    path: path.display().to_string(),
                    reason: error.to_string(),
                }
            })?;
            properties.extend(parsed);
        }
        for assignment in overrides {
            let (key, value) = assignment
                .split_once('=')
                .ok_or_else(|| ConfigError::BadOverride(assignment.clone()))?;
            properties.insert(key.trim().to_string(), value.trim().to_string());
        }
        Self::from_properties(properties)
    }

    /// Validates a map of worker properties.
    ///
    /// # Errors
    /// Fails on the first known key whose value is invalid, naming the key.
    pub fn from_properties(properties: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let reader = PropertyReader {
            properties: &properties,
        };
        let bootstrap_servers =
            reader.non_empty(keys::BOOTSTRAP_SERVERS, DEFAULT_BOOTSTRAP_SERVERS)?;
        let group_id = reader.non_empty(keys::GROUP_ID, DEFAULT_GROUP_ID)?;
        let listeners =
            listeners::parse_listeners(&reader.string(keys::LISTENERS, DEFAULT_LISTENER))?;
        let advertised_listener = listeners::advertised_listener(
            &listeners,
            properties
                .get(listeners::REST_ADVERTISED_LISTENER)
                .map(String::as_str),
        )?;
        let listen_addr = advertised_listener.addr;
        let security = SecuritySettings::from_properties(&properties, &listeners)?;
        let advertised_host = match properties.get(keys::REST_ADVERTISED_HOST_NAME) {
            Some(host) if !host.trim().is_empty() => host.trim().to_string(),
            _ => default_advertised_host(listen_addr.ip()),
        };
        let advertised_port = reader.int_in_range(
            keys::REST_ADVERTISED_PORT,
            i64::from(listen_addr.port()),
            1,
            65_535,
        )?;
        let advertised_addr = format!("{advertised_host}:{advertised_port}");
        let gossip_listen = match properties.get(keys::GOSSIP_LISTEN) {
            Some(value) => resolve_socket_addr(keys::GOSSIP_LISTEN, value)?,
            None => listen_addr,
        };
        let gossip_seeds = properties
            .get(keys::GOSSIP_SEEDS)
            .map(|seeds| {
                seeds
                    .split(',')
                    .map(str::trim)
                    .filter(|seed| !seed.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for seed in &gossip_seeds {
            if !seed.contains(':') {
                return Err(invalid(
                    keys::GOSSIP_SEEDS,
                    seeds_raw(&properties),
                    "each seed must be HOST:PORT",
                ));
            }
        }
        let node_id = match properties.get(keys::NODE_ID) {
            Some(id) if id.trim().is_empty() => {
                return Err(invalid(keys::NODE_ID, id, "must not be empty"));
            }
            Some(id) => id.trim().to_string(),
            None => advertised_addr.clone(),
        };
        let lease_topic = ferry_actors::stores::lease_topic_name(&group_id);
        let exactly_once_source = match properties.get(ExactlyOnceSourceSupport::KEY) {
            Some(value) => ExactlyOnceSourceSupport::parse(value)
                .map_err(|reason| invalid(ExactlyOnceSourceSupport::KEY, value, &reason))?,
            None => ExactlyOnceSourceSupport::Disabled,
        };
        Ok(WorkerConfig {
            bootstrap_servers,
            group_id,
            listen_addr,
            listeners,
            advertised_scheme: advertised_listener.scheme,
            security,
            advertised_addr,
            config_topic: reader.non_empty(keys::CONFIG_STORAGE_TOPIC, DEFAULT_CONFIG_TOPIC)?,
            offset_topic: reader.non_empty(keys::OFFSET_STORAGE_TOPIC, DEFAULT_OFFSET_TOPIC)?,
            status_topic: reader.non_empty(keys::STATUS_STORAGE_TOPIC, DEFAULT_STATUS_TOPIC)?,
            config_replication_factor: reader
                .replication_factor(keys::CONFIG_STORAGE_REPLICATION_FACTOR)?,
            offset_replication_factor: reader
                .replication_factor(keys::OFFSET_STORAGE_REPLICATION_FACTOR)?,
            status_replication_factor: reader
                .replication_factor(keys::STATUS_STORAGE_REPLICATION_FACTOR)?,
            offset_partitions: reader.partitions(keys::OFFSET_STORAGE_PARTITIONS, 25)?,
            status_partitions: reader.partitions(keys::STATUS_STORAGE_PARTITIONS, 5)?,
            offset_flush_interval: reader.millis(keys::OFFSET_FLUSH_INTERVAL_MS, 60_000, 1)?,
            offset_flush_timeout: reader.millis(keys::OFFSET_FLUSH_TIMEOUT_MS, 5_000, 1)?,
            task_shutdown_timeout: reader.millis(
                keys::TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS,
                5_000,
                0,
            )?,
            scheduled_rebalance_max_delay: reader.millis(
                keys::SCHEDULED_REBALANCE_MAX_DELAY_MS,
                0,
                0,
            )?,
            node_id,
            gossip_listen,
            gossip_seeds,
            member_expiry: reader.millis(
                keys::CLUSTER_MEMBER_EXPIRY_MS,
                i64::try_from(ferry_actors::membership::quorum::DEFAULT_MEMBER_EXPIRY.as_millis())
                    .unwrap_or(30_000),
                1,
            )?,
            fence_margin: reader.millis(keys::CLUSTER_FENCE_MARGIN_MS, 1_000, 0)?,
            lease_period: reader.millis(
                keys::CLUSTER_LEASE_MS,
                i64::try_from(ferry_actors::stores::lease::DEFAULT_LEASE_PERIOD.as_millis())
                    .unwrap_or(4_000),
                1_000,
            )?,
            lease_topic,
            restart_policy: RestartPolicy {
                initial_backoff: reader.millis(keys::TASK_RESTART_INITIAL_BACKOFF_MS, 500, 1)?,
                max_backoff: reader.millis(keys::TASK_RESTART_MAX_BACKOFF_MS, 30_000, 1)?,
                max_failures: usize::try_from(reader.int_in_range(
                    keys::TASK_RESTART_MAX_FAILURES,
                    5,
                    1,
                    1_000,
                )?)
                .expect("range-checked to be positive"),
                window: reader.millis(keys::TASK_RESTART_WINDOW_MS, 300_000, 1)?,
            },
            exactly_once_source,
            properties,
        })
    }
}

fn seeds_raw(properties: &BTreeMap<String, String>) -> &str {
    properties
        .get(keys::GOSSIP_SEEDS)
        .map_or("", String::as_str)
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

struct PropertyReader<'a> {
    properties: &'a BTreeMap<String, String>,
}

impl PropertyReader<'_> {
    fn string(&self, key: &str, default: &str) -> String {
        self.properties
            .get(key)
            .map_or_else(|| default.to_string(), |value| value.trim().to_string())
    }

    fn non_empty(&self, key: &str, default: &str) -> Result<String, ConfigError> {
        let value = self.string(key, default);
        if value.is_empty() {
            return Err(invalid(key, &value, "must not be empty"));
        }
        Ok(value)
    }

    fn int_in_range(
        &self,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let Some(raw) = self.properties.get(key) else {
            return Ok(default);
        };
        let value: i64 = raw
            .trim()
            .parse()
            .map_err(|_| invalid(key, raw, "expected an integer"))?;
        if value < min || value > max {
            return Err(invalid(
                key,
                raw,
                &format!("must be between {min} and {max}"),
            ));
        }
        Ok(value)
    }

    fn replication_factor(&self, key: &str) -> Result<i32, ConfigError> {
        // -1 asks the broker for its default (KIP-464), which suits a single-broker test cluster
        // as well as a production one.
        let value = self.int_in_range(key, -1, -1, i64::from(i16::MAX))?;
        if value == 0 {
            let raw = self.properties.get(key).map_or("0", String::as_str);
            return Err(invalid(
                key,
                raw,
                "must be -1 (broker default) or at least 1",
            ));
        }
        Ok(i32::try_from(value).expect("range-checked to fit a short"))
    }

    fn partitions(&self, key: &str, default: i64) -> Result<i32, ConfigError> {
        let value = self.int_in_range(key, default, 1, i64::from(i32::MAX))?;
        Ok(i32::try_from(value).expect("range-checked to fit an int"))
    }

    fn millis(&self, key: &str, default: i64, min: i64) -> Result<Duration, ConfigError> {
        let value = self.int_in_range(key, default, min, i64::MAX)?;
        Ok(Duration::from_millis(
            u64::try_from(value).expect("range-checked to be non-negative"),
        ))
    }
}

fn resolve_socket_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    let trimmed = value.trim();
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        return Ok(addr);
    }
    trimmed
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| invalid(key, value, "expected HOST:PORT"))
}

fn default_advertised_host(listen_ip: IpAddr) -> String {
    if !listen_ip.is_unspecified() {
        return listen_ip.to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_kafka_connect_where_it_has_them() {
        let config = WorkerConfig::from_properties(BTreeMap::new()).unwrap();
        assert_eq!(config.bootstrap_servers, "localhost:9092");
        assert_eq!(config.listen_addr.port(), 8083);
        assert!(config.listen_addr.ip().is_unspecified());
        assert_eq!(config.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(config.offset_partitions, 25);
        assert_eq!(config.status_partitions, 5);
        assert_eq!(config.scheduled_rebalance_max_delay, Duration::ZERO);
        assert_eq!(config.gossip_listen, config.listen_addr);
        assert_eq!(config.node_id, config.advertised_addr);
        assert_eq!(config.member_expiry, Duration::from_secs(30));
        assert_eq!(config.fence_margin, Duration::from_secs(1));
        assert_eq!(config.lease_period, Duration::from_secs(4));
    }

    #[test]
    fn reads_a_kafka_connect_properties_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.properties");
        std::fs::write(
            &path,
            "# sample\nbootstrap.servers=127.0.0.1:9092\ngroup.id=connect-cluster\n\
             listeners=HTTP://127.0.0.1:8085\nconfig.storage.topic=connect-configs\n\
             offset.storage.topic=connect-offsets\nstatus.storage.topic : connect-status\n\
             offset.flush.interval.ms=10000\nkey.converter=org.apache.kafka.connect.json.JsonConverter\n\
             consumer.max.poll.records=100\ngossip.seeds=127.0.0.1:8083, 127.0.0.1:8084\n",
        )
        .unwrap();
        let config = WorkerConfig::load(
            Some(&path),
            &["node.id=alpha".to_string(), "group.id=g2".to_string()],
        )
        .unwrap();
        assert_eq!(config.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(config.group_id, "g2", "--set overrides the file");
        assert_eq!(config.listen_addr, "127.0.0.1:8085".parse().unwrap());
        assert_eq!(config.advertised_addr, "127.0.0.1:8085");
        assert_eq!(config.config_topic, "connect-configs");
        assert_eq!(config.status_topic, "connect-status");
        assert_eq!(config.offset_flush_interval, Duration::from_secs(10));
        assert_eq!(config.node_id, "alpha");
        assert_eq!(
            config.gossip_seeds,
            vec!["127.0.0.1:8083", "127.0.0.1:8084"]
        );
        assert_eq!(
            config
                .properties
                .get("consumer.max.poll.records")
                .map(String::as_str),
            Some("100"),
            "unknown keys are kept"
        );
    }

    #[test]
    fn exactly_once_source_support_is_parsed_case_insensitively() {
        let default = WorkerConfig::from_properties(props(&[])).unwrap();
        assert_eq!(
            default.exactly_once_source,
            ExactlyOnceSourceSupport::Disabled
        );
        for (value, expected) in [
            ("disabled", ExactlyOnceSourceSupport::Disabled),
            ("Preparing", ExactlyOnceSourceSupport::Preparing),
            ("ENABLED", ExactlyOnceSourceSupport::Enabled),
        ] {
            let config =
                WorkerConfig::from_properties(props(&[("exactly.once.source.support", value)]))
                    .unwrap();
            assert_eq!(config.exactly_once_source, expected, "{value}");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("offset.flush.interval.ms", "soon"),
            ("offset.flush.interval.ms", "0"),
            ("offset.storage.partitions", "-3"),
            ("config.storage.replication.factor", "0"),
            ("listeners", "tcp://127.0.0.1:8083"),
            ("listeners", "http://127.0.0.1:http"),
            ("listeners", "127.0.0.1:8083"),
            ("rest.advertised.port", "70000"),
            ("bootstrap.servers", " "),
            ("gossip.listen", "nowhere"),
            ("gossip.seeds", "127.0.0.1"),
            ("node.id", ""),
            ("cluster.member.expiry.ms", "0"),
            ("cluster.fence.margin.ms", "-1"),
            ("exactly.once.source.support", "on"),
        ];
        for (key, value) in cases {
            let error = WorkerConfig::from_properties(props(&[(key, value)])).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(key),
                "error for {key}={value} does not name the key: {message}"
            );
        }
    }

    #[test]
    fn override_without_equals_is_rejected() {
        let error = WorkerConfig::load(None, &["group.id".to_string()]).unwrap_err();
        assert!(matches!(error, ConfigError::BadOverride(_)));
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let error =
            WorkerConfig::load(Some(Path::new("/nonexistent/worker.properties")), &[]).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/worker.properties"));
    }
}
