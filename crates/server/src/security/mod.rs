//! A secured listener with Kafka Connect's settings: https listeners (rustls), the
//! `BasicAuthSecurityRestExtension` with its JAAS file, Ferry's bearer tokens, KIP-507 session
//! keys for worker-to-worker calls, config providers, and connection limits.
//!
//! ```text
//!  worker.properties ──► SecuritySettings (parsed, validated; no file read yet)
//!                            └─► WorkerSecurity::load (keystores, JAAS credentials, tokens)
//!                                  ├─ tls::server_config   → every https listener
//!                                  ├─ auth::Authenticator  → REST and gRPC middleware
//!                                  └─ tls::client_config   → forwarding to the leader, mTLS
//! ```

pub mod auth;
pub mod listeners;
pub mod serve;
pub mod session_keys;
pub mod tls;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_actors::config_providers::ConfigProviders;

use crate::config::ConfigError;
use listeners::{ListenerSpec, Scheme};
pub use session_keys::SessionKeySettings;
pub use tls::TlsSettings;

/// Worker keys of this module (Kafka Connect's, plus Ferry's `rest.auth.tokens.file` and
/// `rest.connection.idle.timeout.ms`).
pub mod keys {
    pub const REST_EXTENSION_CLASSES: &str = "rest.extension.classes";
    pub const BASIC_AUTH_EXTENSION: &str =
        "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
    pub const REST_AUTH_TOKENS_FILE: &str = "rest.auth.tokens.file";
    pub const REST_CONNECTION_IDLE_TIMEOUT_MS: &str = "rest.connection.idle.timeout.ms";
    /// Kafka Connect's separate admin listeners: not implemented, refused.
    pub const ADMIN_LISTENERS: &str = "admin.listeners";
    /// The environment variable Kafka Connect's start scripts pass JVM options in.
    pub const KAFKA_OPTS: &str = "KAFKA_OPTS";
    pub const JAAS_CONFIG_PROPERTY: &str = "-Djava.security.auth.login.config=";
}

/// Jetty's default idle timeout, which Kafka Connect keeps.
const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;

/// A secret read from the worker config: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[hidden]")
    }
}

/// Who may call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// The `user: password` file named by the JAAS `KafkaConnect` entry, when the BasicAuth
    /// extension is on.
    pub basic_credentials_file_opt: Option<PathBuf>,
    /// Ferry's bearer tokens (`principal=token` lines).
    pub tokens_file_opt: Option<PathBuf>,
}

impl AuthSettings {
    /// Returns true when requests must carry credentials.
    pub fn enabled(&self) -> bool {
        self.basic_credentials_file_opt.is_some() || self.tokens_file_opt.is_some()
    }
}

/// The security part of the worker config, validated at start-up.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// The https settings (`listeners.https.ssl.*`, or the un-prefixed `ssl.*`), when an https
    /// listener exists or the advertised listener is https.
    pub tls_opt: Option<TlsSettings>,
    pub auth: AuthSettings,
    pub session_keys: SessionKeySettings,
    pub config_providers: Arc<ConfigProviders>,
    /// Connections idle (or sending a request's headers) longer than this are closed.
    pub connection_idle_timeout: Duration,
}

impl SecuritySettings {
    /// Reads the security keys; the JAAS file is found through `KAFKA_OPTS`.
    ///
    /// # Errors
    /// The first invalid key, named.
    pub fn from_properties(
        properties: &BTreeMap<String, String>,
        listeners: &[ListenerSpec],
    ) -> Result<Self, ConfigError> {
        let kafka_opts = std::env::var(keys::KAFKA_OPTS).ok();
        Self::from_properties_with_env(properties, listeners, kafka_opts.as_deref())
    }

    /// Like [`SecuritySettings::from_properties`], with `KAFKA_OPTS` given.
    ///
    /// # Errors
    /// The first invalid key, named.
    pub fn from_properties_with_env(
        properties: &BTreeMap<String, String>,
        listeners: &[ListenerSpec],
        kafka_opts_opt: Option<&str>,
    ) -> Result<Self, ConfigError> {
        if let Some(raw) = properties.get(keys::ADMIN_LISTENERS) {
            return Err(invalid(
                keys::ADMIN_LISTENERS,
                raw,
                "Ferry serves /admin/loggers on the main listeners only; remove this key",
            ));
        }
        let config_providers = Arc::new(ConfigProviders::from_worker_properties(properties)?);
        let tls_opt = if listeners.iter().any(|spec| spec.scheme == Scheme::Https) {
            Some(TlsSettings::from_properties(properties, &config_providers)?)
        } else {
            None
        };
        let auth = auth_settings(properties, kafka_opts_opt)?;
        let session_keys = SessionKeySettings::from_properties(properties)?;
        let connection_idle_timeout = match properties.get(keys::REST_CONNECTION_IDLE_TIMEOUT_MS) {
            None => Duration::from_millis(DEFAULT_IDLE_TIMEOUT_MS),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(millis) if millis > 0 => Duration::from_millis(millis),
                _ => {
                    return Err(invalid(
                        keys::REST_CONNECTION_IDLE_TIMEOUT_MS,
                        raw,
                        "expected a positive number of milliseconds",
                    ))
                }
            },
        };
        Ok(SecuritySettings {
            tls_opt,
            auth,
            session_keys,
            config_providers,
            connection_idle_timeout,
        })
    }
}

pub(crate) fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn auth_settings(
    properties: &BTreeMap<String, String>,
    kafka_opts_opt: Option<&str>,
) -> Result<AuthSettings, ConfigError> {
    let mut settings = AuthSettings::default();
    if let Some(raw) = properties.get(keys::REST_EXTENSION_CLASSES) {
        for class in raw
            .split(',')
            .map(str::trim)
            .filter(|class| !class.is_empty())
        {
            if class != keys::BASIC_AUTH_EXTENSION {
                return Err(invalid(
                    keys::REST_EXTENSION_CLASSES,
                    raw,
                    &format!(
                        "`{class}` is not a REST extension Ferry has; it has {}",
                        keys::BASIC_AUTH_EXTENSION
                    ),
                ));
            }
            let jaas_path = jaas_path_from_kafka_opts(kafka_opts_opt).ok_or_else(|| {
                invalid(
                    keys::REST_EXTENSION_CLASSES,
                    raw,
                    &format!(
                        "the BasicAuth extension needs a JAAS file: set {}=\"{}/path/to/connect_jaas.conf\"",
                        keys::KAFKA_OPTS,
                        keys::JAAS_CONFIG_PROPERTY
                    ),
                )
            })?;
            let file = auth::credentials_file_from_jaas(&jaas_path)
                .map_err(|reason| invalid(keys::REST_EXTENSION_CLASSES, raw, &reason))?;
            settings.basic_credentials_file_opt = Some(file);
        }
    }
    if let Some(raw) = properties.get(keys::REST_AUTH_TOKENS_FILE) {
        if raw.trim().is_empty() {
            return Err(invalid(
                keys::REST_AUTH_TOKENS_FILE,
                raw,
                "must not be empty",
            ));
        }
        settings.tokens_file_opt = Some(PathBuf::from(raw.trim()));
    }
    Ok(settings)
}

/// Finds `-Djava.security.auth.login.config=PATH` in `KAFKA_OPTS` (quotes allowed).
fn jaas_path_from_kafka_opts(kafka_opts_opt: Option<&str>) -> Option<PathBuf> {
    let kafka_opts = kafka_opts_opt?;
    let start = kafka_opts.find(keys::JAAS_CONFIG_PROPERTY)? + keys::JAAS_CONFIG_PROPERTY.len();
    let rest = &kafka_opts[start..];
    let path = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next()?,
        _ => rest.split_whitespace().next()?,
    };
    // `-Djava.security.auth.login.config==/path` means "only this file" to the JVM.
    let path = path.strip_prefix('=').unwrap_or(path);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// What [`WorkerSecurity::load`] builds from the settings: ready for the listeners and clients.
pub struct WorkerSecurity {
    /// For every https listener.
    pub server_tls_opt: Option<Arc<rustls::ServerConfig>>,
    /// For calls to other workers (and the listener's scheme they use).
    pub client_tls_opt: Option<Arc<rustls::ClientConfig>>,
    pub advertised_scheme: Scheme,
    pub authenticator: Arc<auth::Authenticator>,
    pub session_keys: SessionKeySettings,
    pub connection_idle_timeout: Duration,
}

impl WorkerSecurity {
    /// Reads the keystores, truststores, credentials and token files.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, named with the key that points to it.
    pub fn load(settings: &SecuritySettings, advertised_scheme: Scheme) -> Result<Self, String> {
        let (server_tls_opt, client_tls_opt) = match &settings.tls_opt {
            Some(tls) => {
                let material = tls::load_material(tls)?;
                (
                    Some(Arc::new(tls::server_config(tls, &material)?)),
                    Some(Arc::new(tls::client_config(tls, &material)?)),
                )
            }
            None => (None, None),
        };
        let authenticator = Arc::new(auth::Authenticator::load(&settings.auth)?);
        Ok(WorkerSecurity {
            server_tls_opt,
            client_tls_opt,
            advertised_scheme,
            authenticator,
            session_keys: settings.session_keys.clone(),
            connection_idle_timeout: settings.connection_idle_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_jaas_file_in_kafka_opts() {
        let cases = [
            (
                "-Xmx1g -Djava.security.auth.login.config=/etc/c.conf -Dx=y",
                Some("/etc/c.conf"),
            ),
            (
                "-Djava.security.auth.login.config=\"/a b/c.conf\"",
                Some("/a b/c.conf"),
            ),
            (
                "-Djava.security.auth.login.config==/only.conf",
                Some("/only.conf"),
            ),
            ("-Xmx1g", None),
        ];
        for (opts, expected) in cases {
            assert_eq!(
                jaas_path_from_kafka_opts(Some(opts)),
                expected.map(PathBuf::from),
                "{opts}"
            );
        }
    }

    #[test]
    fn an_unknown_rest_extension_is_refused_by_name() {
        let properties = BTreeMap::from([(
            keys::REST_EXTENSION_CLASSES.to_string(),
            "com.acme.OidcExtension".to_string(),
        )]);
        let error = SecuritySettings::from_properties_with_env(&properties, &[], None).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("rest.extension.classes"), "{message}");
        assert!(message.contains("com.acme.OidcExtension"), "{message}");
    }

    #[test]
    fn basic_auth_without_a_jaas_file_is_a_startup_error() {
        let properties = BTreeMap::from([(
            keys::REST_EXTENSION_CLASSES.to_string(),
            keys::BASIC_AUTH_EXTENSION.to_string(),
        )]);
        let error = SecuritySettings::from_properties_with_env(&properties, &[], Some("-Xmx1g"))
            .unwrap_err();
        assert!(error.to_string().contains("KAFKA_OPTS"), "{error}");
    }

    #[test]
    fn admin_listeners_are_refused_by_name() {
        let properties = BTreeMap::from([(keys::ADMIN_LISTENERS.to_string(), String::new())]);
        let error = SecuritySettings::from_properties_with_env(&properties, &[], None).unwrap_err();
        assert!(error.to_string().contains("admin.listeners"), "{error}");
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "[hidden]");
    }
}
