//! The one place that computes a Kafka client's effective configuration.
//!
//! Every client Ferry creates — the config, offset and status stores, the leader's fencing
//! producer, admin clients, task producers and consumers, DLQ producers, the REST offsets
//! endpoints and the start-up probe — gets its `ClientConfig` from
//! [`KafkaClients::client_config_for`]. The rules, later layers winning:
//!
//! 1. `bootstrap.servers` of the worker;
//! 2. Ferry's defaults for the role (producers: `partitioner=murmur2_random`, Java's placement of
//!    keyed records), then the caller's defaults (`client.id`, `acks`, ...);
//! 3. the worker's bare security keys (`security.protocol`, `sasl.*`, `ssl.*`): every client;
//! 4. for a connector's clients only: the worker's `producer.*` / `consumer.*` / `admin.*` keys,
//!    then the connector's `producer.override.*` / `consumer.override.*` / `admin.override.*`
//!    keys, which `connector.client.config.override.policy` (`All`, the default as in Kafka
//!    Connect 3.0+, `Principal` or `None`) must allow;
//! 5. the Java security keys translated for librdkafka ([`security`]): JAAS configs into
//!    `sasl.username`/`sasl.password`, JKS/PKCS12/PEM stores into in-memory PEM.
//!
//! ```text
//! let config = env.kafka.client_config_for(
//!     ClientRole::Producer,
//!     &[("client.id", &format!("connector-dlq-producer-{id}"))],
//!     Some(&spec.config),
//! )?;
//! ```
//! Errors name the key as the user wrote it and never show a secret value.

mod jaas;
pub mod security;

use std::collections::BTreeMap;

use rdkafka::config::ClientConfig;

use crate::keystore::KeystoreError;

/// The worker key choosing which connector overrides are allowed.
pub const OVERRIDE_POLICY_KEY: &str = "connector.client.config.override.policy";

/// Which kind of client a config is for: it picks the worker prefix (`producer.`, ...) and the
/// connector override prefix (`producer.override.`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Producer,
    Consumer,
    Admin,
}

impl ClientRole {
    /// Every role.
    pub const ALL: [ClientRole; 3] = [
        ClientRole::Producer,
        ClientRole::Consumer,
        ClientRole::Admin,
    ];

    /// Returns the worker prefix of the role (`producer.`, `consumer.`, `admin.`).
    pub fn worker_prefix(self) -> &'static str {
        match self {
            ClientRole::Producer => "producer.",
            ClientRole::Consumer => "consumer.",
            ClientRole::Admin => "admin.",
        }
    }

    /// Returns the connector override prefix of the role (`producer.override.`, ...).
    pub fn override_prefix(self) -> &'static str {
        match self {
            ClientRole::Producer => "producer.override.",
            ClientRole::Consumer => "consumer.override.",
            ClientRole::Admin => "admin.override.",
        }
    }

    fn ferry_defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            // Java's default partitioner: keyed records land where a Java producer puts them.
            ClientRole::Producer => &[("partitioner", "murmur2_random")],
            ClientRole::Consumer | ClientRole::Admin => &[],
        }
    }
}

/// `connector.client.config.override.policy` (KIP-458).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// No connector may override a client setting.
    None,
    /// Only `security.protocol`, `sasl.jaas.config` and `sasl.mechanism` (a per-connector
    /// principal).
    Principal,
    /// Every client setting.
    All,
}

impl OverridePolicy {
    /// Parses the alias or the Java class name of a built-in policy.
    ///
    /// # Errors
    /// Another policy (a custom class is not supported).
    pub fn parse(value: &str) -> Result<Self, ClientConfigError> {
        let name = value.trim();
        let short = name
            .strip_prefix("org.apache.kafka.connect.connector.policy.")
            .and_then(|class| class.strip_suffix("ConnectorClientConfigOverridePolicy"))
            .unwrap_or(name);
        match short {
            "None" => Ok(OverridePolicy::None),
            "Principal" => Ok(OverridePolicy::Principal),
            "All" => Ok(OverridePolicy::All),
            _ => Err(ClientConfigError::Invalid {
                key: OVERRIDE_POLICY_KEY.into(),
                reason: format!("unsupported policy `{name}` (expected None, Principal or All)"),
            }),
        }
    }

    /// Returns the policy's alias.
    pub fn name(self) -> &'static str {
        match self {
            OverridePolicy::None => "None",
            OverridePolicy::Principal => "Principal",
            OverridePolicy::All => "All",
        }
    }

    fn allows(self, client_key: &str) -> bool {
        match self {
            OverridePolicy::None => false,
            OverridePolicy::Principal => {
                ["security.protocol", "sasl.jaas.config", "sasl.mechanism"].contains(&client_key)
            }
            OverridePolicy::All => true,
        }
    }
}

/// A Kafka client setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientConfigError {
    /// A value that is wrong or cannot be translated: fixing the config is the only way out.
    #[error("invalid Kafka client config `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    /// A trust or key store that cannot be read (it may be fixed on disk: worth retrying).
    #[error("cannot use the store of `{key}`: {source}")]
    Store {
        key: String,
        #[source]
        source: KeystoreError,
    },
    /// A connector override the worker's policy refuses.
    #[error(
        "connector config `{key}` is not allowed: the worker's {OVERRIDE_POLICY_KEY} is {policy}"
    )]
    OverrideRefused { key: String, policy: &'static str },
}

impl ClientConfigError {
    /// Returns the key the error is about, as the user wrote it.
    pub fn key(&self) -> &str {
        match self {
            ClientConfigError::Invalid { key, .. }
            | ClientConfigError::Store { key, .. }
            | ClientConfigError::OverrideRefused { key, .. } => key,
        }
    }
}

/// A client setting and the key it came from (`consumer.override.sasl.jaas.config`), so that an
/// error names what the user wrote.
#[derive(Clone)]
pub(crate) struct Setting {
    pub(crate) value: String,
    pub(crate) origin: String,
}

impl Setting {
    fn new(value: &str, origin: &str) -> Self {
        Setting {
            value: value.to_string(),
            origin: origin.to_string(),
        }
    }

    pub(crate) fn derived(&self, value: String) -> Self {
        Setting {
            value,
            origin: self.origin.clone(),
        }
    }

    pub(crate) fn derived_from(origin: &str, value: String) -> Self {
        Setting {
            value,
            origin: origin.to_string(),
        }
    }

    pub(crate) fn invalid(&self, reason: &str) -> ClientConfigError {
        ClientConfigError::Invalid {
            key: self.origin.clone(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn store_error(&self, source: KeystoreError) -> ClientConfigError {
        ClientConfigError::Store {
            key: self.origin.clone(),
            source,
        }
    }
}

/// The worker's Kafka client settings, from which every client's config is computed.
#[derive(Clone)]
pub struct KafkaClients {
    bootstrap_servers: String,
    worker_props: BTreeMap<String, String>,
    policy: OverridePolicy,
}

impl std::fmt::Debug for KafkaClients {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KafkaClients")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KafkaClients {
    /// Reads the client settings of a worker's properties (`bootstrap.servers` given apart, as
    /// the worker validated it).
    ///
    /// # Errors
    /// An unknown `connector.client.config.override.policy`.
    pub fn from_worker_properties(
        bootstrap_servers: &str,
        worker_props: &BTreeMap<String, String>,
    ) -> Result<Self, ClientConfigError> {
        let policy = match worker_props.get(OVERRIDE_POLICY_KEY) {
            Some(value) => OverridePolicy::parse(value)?,
            None => OverridePolicy::All,
        };
        Ok(KafkaClients {
            bootstrap_servers: bootstrap_servers.to_string(),
            worker_props: worker_props.clone(),
            policy,
        })
    }

    /// Client settings for tests: `bootstrap.servers` only.
    pub fn plaintext_for_test(bootstrap_servers: &str) -> Self {
        KafkaClients {
            bootstrap_servers: bootstrap_servers.to_string(),
            worker_props: BTreeMap::new(),
            policy: OverridePolicy::All,
        }
    }

    /// Returns the override policy.
    pub fn policy(&self) -> OverridePolicy {
        self.policy
    }

    /// Computes the config of one client: `defaults` are Ferry's settings for it (a user's key
    /// wins over them); `connector_props_opt` is the connector's config for a connector's
    /// client, `None` for the worker's own clients (stores, leader, probe).
    ///
    /// # Errors
    /// A refused override, a value that cannot be translated, an unreadable store, or a key or
    /// value librdkafka rejects; the error names the key as written and never shows a secret.
    pub fn client_config_for(
        &self,
        role: ClientRole,
        defaults: &[(&str, &str)],
        connector_props_opt: Option<&BTreeMap<String, String>>,
    ) -> Result<ClientConfig, ClientConfigError> {
        let settings = self.effective_settings(role, defaults, connector_props_opt)?;
        let mut config = ClientConfig::new();
        for (key, setting) in &settings {
            config.set(key, &setting.value);
        }
        check_with_librdkafka(&config, &settings)?;
        Ok(config)
    }

    /// Checks a connector's client overrides against the policy and translates them, so a
    /// create or update that would fail its clients is refused (a 400) before it is stored.
    ///
    /// # Errors
    /// The first refused or invalid override, naming it.
    pub fn validate_connector_overrides(
        &self,
        connector_props: &BTreeMap<String, String>,
    ) -> Result<(), ClientConfigError> {
        for role in ClientRole::ALL {
            let has_override = connector_props
                .keys()
                .any(|key| key.starts_with(role.override_prefix()));
            if has_override {
                self.client_config_for(role, &[], Some(connector_props))?;
            }
        }
        Ok(())
    }

    /// Checks every connector client override (`producer.override.*`, ...) for the validate
    /// endpoint: each override key, in order, with the reasons it is refused (none when it is
    /// allowed). The policy's refusal reads as Kafka Connect's; a value the policy allows but
    /// that cannot be used (an untranslatable JAAS config, a key librdkafka does not know) is
    /// reported on its key too, since creating the connector would refuse it.
    pub fn connector_override_errors(
        &self,
        connector_props: &BTreeMap<String, String>,
    ) -> Vec<(String, Vec<String>)> {
        let mut checked = Vec::new();
        for role in ClientRole::ALL {
            let first = checked.len();
            let mut any_refused = false;
            for key in connector_props.keys() {
                let Some(client_key) = key.strip_prefix(role.override_prefix()) else {
                    continue;
                };
                let mut errors = Vec::new();
                if !self.policy.allows(client_key) {
                    any_refused = true;
                    errors.push(format!(
                        "The '{}' policy does not allow '{client_key}' to be overridden in the connector configuration.",
                        self.policy.name()
                    ));
                }
                checked.push((key.clone(), errors));
            }
            if any_refused || checked.len() == first {
                continue;
            }
            if let Err(error) = self.client_config_for(role, &[], Some(connector_props)) {
                let reported = checked[first..]
                    .iter_mut()
                    .find(|(key, _)| key == error.key());
                if let Some((_, errors)) = reported {
                    errors.push(error.to_string());
                }
            }
        }
        checked
    }

    /// Checks the worker's own settings for every role at start-up (stores are read too).
    ///
    /// # Errors
    /// The first invalid key.
    pub fn validate_worker_settings(&self) -> Result<(), ClientConfigError> {
        let no_connector = BTreeMap::new();
        for role in ClientRole::ALL {
            self.client_config_for(role, &[], None)?;
            self.client_config_for(role, &[], Some(&no_connector))?;
        }
        Ok(())
    }

    /// Returns the worker's Java login timing keys (bare or with a role prefix, as written) that
    /// librdkafka has no equivalent for, with what librdkafka does instead: the worker logs them
    /// once at start-up.
    pub fn login_timing_keys_left_to_librdkafka(
        &self,
    ) -> Vec<(String, &'static security::LoginTimingKey)> {
        let mut found = Vec::new();
        for key in self.worker_props.keys() {
            let client_key = ClientRole::ALL
                .iter()
                .find_map(|role| client_key_of(key, role.worker_prefix()))
                .unwrap_or(key);
            if let Some(timing) = security::login_timing_key(client_key) {
                found.push((key.clone(), timing));
            }
        }
        found
    }

    fn effective_settings(
        &self,
        role: ClientRole,
        defaults: &[(&str, &str)],
        connector_props_opt: Option<&BTreeMap<String, String>>,
    ) -> Result<BTreeMap<String, Setting>, ClientConfigError> {
        let mut settings = BTreeMap::new();
        settings.insert(
            "bootstrap.servers".to_string(),
            Setting::new(&self.bootstrap_servers, "bootstrap.servers"),
        );
        for (key, value) in role.ferry_defaults().iter().chain(defaults) {
            settings.insert((*key).to_string(), Setting::new(value, key));
        }
        for (key, value) in &self.worker_props {
            if security::is_bare_client_key(key) {
                settings.insert(key.clone(), Setting::new(value, key));
            }
        }
        if let Some(connector_props) = connector_props_opt {
            for (key, value) in &self.worker_props {
                if let Some(client_key) = client_key_of(key, role.worker_prefix()) {
                    settings.insert(client_key.to_string(), Setting::new(value, key));
                }
            }
            for (key, value) in connector_props {
                let Some(client_key) = key.strip_prefix(role.override_prefix()) else {
                    continue;
                };
                if !self.policy.allows(client_key) {
                    return Err(ClientConfigError::OverrideRefused {
                        key: key.clone(),
                        policy: self.policy.name(),
                    });
                }
                settings.insert(client_key.to_string(), Setting::new(value, key));
            }
        }
        security::translate_security(&mut settings)?;
        rename_java_keys(&mut settings);
        Ok(settings)
    }
}

/// Strips a worker prefix; `producer.override.x` in a worker file is not a producer key.
fn client_key_of<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let client_key = key.strip_prefix(prefix)?;
    (!client_key.starts_with("override.")).then_some(client_key)
}

/// Java client keys that librdkafka knows under another name.
fn rename_java_keys(settings: &mut BTreeMap<String, Setting>) {
    for (java, librdkafka) in [
        ("max.request.size", "message.max.bytes"),
        ("send.buffer.bytes", "socket.send.buffer.bytes"),
        ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ] {
        if let Some(mut setting) = settings.remove(java) {
            if setting.value.trim() == "-1" {
                // Java's "operating system default" is librdkafka's 0.
                setting.value = "0".into();
            }
            settings.insert(librdkafka.to_string(), setting);
        }
    }
}

/// Lets librdkafka check every key and value now (no connection is made), and turns its answer
/// into an error naming the user's key, without the value of a secret.
fn check_with_librdkafka(
    config: &ClientConfig,
    settings: &BTreeMap<String, Setting>,
) -> Result<(), ClientConfigError> {
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(rdkafka::error::KafkaError::ClientConfig(_, description, key, _value)) => {
            let origin = settings
                .get(&key)
                .map_or_else(|| key.clone(), |setting| setting.origin.clone());
            let reason = if security::is_secret_key(&key) {
                "librdkafka rejected the value".to_string()
            } else {
                description
            };
            Err(ClientConfigError::Invalid {
                key: origin,
                reason,
            })
        }
        Err(other) => Err(ClientConfigError::Invalid {
            key: "(client config)".into(),
            reason: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests;
