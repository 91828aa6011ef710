//! A value that must never be shown: passwords, JAAS configs, private keys.

use std::fmt;

/// Wraps a secret so that `Debug` and `Display` print `[hidden]`; only [`Secret::expose`] reads
/// it, which makes every place that handles the clear value easy to find.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

/// What `Debug` and `Display` print instead of a secret.
pub const HIDDEN: &str = "[hidden]";

/// Returns whether a connector config key holds a secret by its name: passwords, secrets,
/// JAAS configs, private keys and credentials (`connection.password`,
/// `producer.override.sasl.jaas.config`, `aws.secret.access.key`, `ssl.keystore.key`, ...).
/// Views made for people (`ferry ctl`) show such a value as [`HIDDEN`].
pub fn is_secret_config_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "jaas",
        "credential",
        "token",
        "user.info",
    ]
    .iter()
    .any(|word| key.contains(word))
        || key.ends_with(".pem")
        || key.ends_with("keystore.key")
        || key.ends_with("private.key")
}

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Returns the clear value; call it only where the value is handed to the one thing that
    /// needs it (a TLS library, a client config).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the clear value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(HIDDEN)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(HIDDEN)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_config_keys_are_told_by_name() {
        for key in [
            "connection.password",
            "producer.override.sasl.jaas.config",
            "consumer.override.ssl.key.password",
            "aws.secret.access.key",
            "ssl.keystore.key",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
            "schema.registry.basic.auth.user.info",
        ] {
            assert!(super::is_secret_config_key(key), "{key}");
        }
        for key in [
            "connection.user",
            "topics",
            "tasks.max",
            "ssl.truststore.location",
        ] {
            assert!(!super::is_secret_config_key(key), "{key}");
        }
    }

    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("hunter2".to_string());
        assert_eq!(format!("{secret:?}"), "[hidden]");
        assert_eq!(format!("{secret}"), "[hidden]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([hidden])");
        assert_eq!(secret.expose(), "hunter2");
    }
}
