//! Worker-to-worker authentication with KIP-507 session keys, as Kafka Connect does it: the leader
//! writes a random HMAC key to the config topic (`session-key`) and writes a new one when it is
//! older than `inter.worker.key.ttl.ms`; a worker forwarding a request to the leader signs the
//! request body with it (`X-Connect-Authorization: <base64 HMAC>`,
//! `X-Connect-Request-Signature-Algorithm: HmacSHA256`), and the leader verifies the signature
//! against the current key. A missing signature or an algorithm not in
//! `inter.worker.verification.algorithms` is a bad request; a wrong or stale signature (made with
//! an older key) is refused with Kafka Connect's "Internal request contained invalid signature.".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ferry_actors::stores::{ConfigStore, SessionKey};
use ring::rand::SecureRandom;
use tokio_util::sync::CancellationToken;

use super::invalid;
use crate::config::ConfigError;

/// Worker keys (Kafka Connect's `DistributedConfig`).
pub mod keys {
    pub const KEY_GENERATION_ALGORITHM: &str = "inter.worker.key.generation.algorithm";
    pub const KEY_SIZE: &str = "inter.worker.key.size";
    pub const KEY_TTL_MS: &str = "inter.worker.key.ttl.ms";
    pub const SIGNATURE_ALGORITHM: &str = "inter.worker.signature.algorithm";
    pub const VERIFICATION_ALGORITHMS: &str = "inter.worker.verification.algorithms";
}

/// gRPC metadata names (HTTP headers are case-insensitive; gRPC metadata is lowercase).
pub const SIGNATURE_HEADER: &str = "x-connect-authorization";
pub const SIGNATURE_ALGORITHM_HEADER: &str = "x-connect-request-signature-algorithm";
/// Kafka Connect's message for a bad signature.
pub const INVALID_SIGNATURE: &str = "Internal request contained invalid signature.";

/// How often the leader checks whether the key must be replaced.
const ROTATION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// An HMAC algorithm, by its JCA name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HmacAlgorithm {
    /// Parses a JCA name (`HmacSHA256`), case-insensitively as the JCA does.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "hmacsha256" => Some(HmacAlgorithm::Sha256),
            "hmacsha384" => Some(HmacAlgorithm::Sha384),
            "hmacsha512" => Some(HmacAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Returns the JCA name.
    pub fn java_name(self) -> &'static str {
        match self {
            HmacAlgorithm::Sha256 => "HmacSHA256",
            HmacAlgorithm::Sha384 => "HmacSHA384",
            HmacAlgorithm::Sha512 => "HmacSHA512",
        }
    }

    fn ring(self) -> ring::hmac::Algorithm {
        match self {
            HmacAlgorithm::Sha256 => ring::hmac::HMAC_SHA256,
            HmacAlgorithm::Sha384 => ring::hmac::HMAC_SHA384,
            HmacAlgorithm::Sha512 => ring::hmac::HMAC_SHA512,
        }
    }

    /// The JCA `KeyGenerator`'s default key size, in bits.
    fn default_key_bits(self) -> usize {
        match self {
            HmacAlgorithm::Sha256 => 256,
            HmacAlgorithm::Sha384 => 384,
            HmacAlgorithm::Sha512 => 512,
        }
    }
}

/// The `inter.worker.*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeySettings {
    pub key_generation_algorithm: HmacAlgorithm,
    pub key_size_bits: usize,
    pub key_ttl: Duration,
    pub signature_algorithm: HmacAlgorithm,
    pub verification_algorithms: Vec<HmacAlgorithm>,
}

impl Default for SessionKeySettings {
    fn default() -> Self {
        SessionKeySettings {
            key_generation_algorithm: HmacAlgorithm::Sha256,
            key_size_bits: 256,
            key_ttl: Duration::from_secs(3600),
            signature_algorithm: HmacAlgorithm::Sha256,
            verification_algorithms: vec![HmacAlgorithm::Sha256],
        }
    }
}

fn algorithm(key: &str, raw: &str) -> Result<HmacAlgorithm, ConfigError> {
    HmacAlgorithm::parse(raw).ok_or_else(|| {
        invalid(
            key,
            raw,
            "Ferry supports HmacSHA256, HmacSHA384 and HmacSHA512",
        )
    })
}

impl SessionKeySettings {
    /// Reads the `inter.worker.*` keys (Kafka Connect's defaults: HmacSHA256, the algorithm's
    /// default key size, one hour).
    ///
    /// # Errors
    /// An unsupported algorithm, a key size that is not a positive multiple of 8, a TTL below 1 ms,
    /// or a signature algorithm missing from the verification algorithms.
    pub fn from_properties(properties: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut settings = SessionKeySettings::default();
        if let Some(raw) = properties.get(keys::KEY_GENERATION_ALGORITHM) {
            settings.key_generation_algorithm = algorithm(keys::KEY_GENERATION_ALGORITHM, raw)?;
        }
        settings.key_size_bits = settings.key_generation_algorithm.default_key_bits();
        if let Some(raw) = properties
            .get(keys::KEY_SIZE)
            .filter(|raw| !raw.trim().is_empty())
        {
            settings.key_size_bits = match raw.trim().parse::<usize>() {
                Ok(bits) if bits > 0 && bits % 8 == 0 && bits <= 8192 => bits,
                _ => {
                    return Err(invalid(
                        keys::KEY_SIZE,
                        raw,
                        "expected a positive number of bits, a multiple of 8 up to 8192",
                    ))
                }
            };
        }
        if let Some(raw) = properties.get(keys::KEY_TTL_MS) {
            settings.key_ttl = match raw.trim().parse::<u64>() {
                Ok(millis) if millis > 0 => Duration::from_millis(millis),
                _ => {
                    return Err(invalid(
                        keys::KEY_TTL_MS,
                        raw,
                        "expected a positive number of milliseconds",
                    ))
                }
            };
        }
        if let Some(raw) = properties.get(keys::SIGNATURE_ALGORITHM) {
            settings.signature_algorithm = algorithm(keys::SIGNATURE_ALGORITHM, raw)?;
        }
        if let Some(raw) = properties.get(keys::VERIFICATION_ALGORITHMS) {
            let mut algorithms = Vec::new();
            for name in raw
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
            {
                algorithms.push(algorithm(keys::VERIFICATION_ALGORITHMS, name)?);
            }
            settings.verification_algorithms = algorithms;
        }
        if !settings
            .verification_algorithms
            .contains(&settings.signature_algorithm)
        {
            return Err(invalid(
                keys::SIGNATURE_ALGORITHM,
                settings.signature_algorithm.java_name(),
                &format!("must be one of {}", keys::VERIFICATION_ALGORITHMS),
            ));
        }
        Ok(settings)
    }
}

/// Returns a new random key, created `now_ms`.
///
/// # Panics
/// When the operating system's random source fails (nothing sensible can continue then).
pub fn generate_key(settings: &SessionKeySettings, now_ms: i64) -> SessionKey {
    let mut key = vec![0u8; settings.key_size_bits / 8];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .expect("the operating system's random source works");
    SessionKey {
        key,
        algorithm: settings.key_generation_algorithm.java_name().to_string(),
        creation_timestamp_ms: now_ms,
    }
}

/// Returns true when the leader must write a new key: none yet, or the current one expired.
pub fn needs_new_key(
    current_opt: Option<&SessionKey>,
    settings: &SessionKeySettings,
    now_ms: i64,
) -> bool {
    let ttl_ms = i64::try_from(settings.key_ttl.as_millis()).unwrap_or(i64::MAX);
    match current_opt {
        None => true,
        Some(current) => current.creation_timestamp_ms.saturating_add(ttl_ms) <= now_ms,
    }
}

/// Signs `body`: returns the two metadata values (signature, algorithm).
pub fn sign(key: &SessionKey, algorithm: HmacAlgorithm, body: &[u8]) -> (String, &'static str) {
    let signing_key = ring::hmac::Key::new(algorithm.ring(), &key.key);
    let tag = ring::hmac::sign(&signing_key, body);
    (
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref()),
        algorithm.java_name(),
    )
}

/// Why a forwarded request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// 400: no signature headers.
    #[error("Internal request missing required signature")]
    Missing,
    /// 400: an algorithm this worker does not accept, or a signature that is not base64.
    #[error("{0}")]
    BadRequest(String),
    /// 503: this worker has not read a session key yet.
    #[error("This worker is still starting up and has not been able to read a session key from the config topic yet")]
    NoKeyYet,
    /// 403: a wrong signature, or one made with another (older) key.
    #[error("{INVALID_SIGNATURE}")]
    Invalid,
}

impl From<SignatureError> for tonic::Status {
    fn from(error: SignatureError) -> Self {
        let message = error.to_string();
        match error {
            SignatureError::Missing | SignatureError::BadRequest(_) => {
                tonic::Status::invalid_argument(message)
            }
            SignatureError::NoKeyYet => tonic::Status::unavailable(message),
            SignatureError::Invalid => tonic::Status::permission_denied(message),
        }
    }
}

/// Verifies a forwarded request's signature against the current key.
///
/// # Errors
/// See [`SignatureError`].
pub fn verify(
    settings: &SessionKeySettings,
    current_opt: Option<&SessionKey>,
    algorithm_header_opt: Option<&str>,
    signature_header_opt: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let (Some(algorithm_name), Some(encoded)) = (algorithm_header_opt, signature_header_opt) else {
        return Err(SignatureError::Missing);
    };
    let algorithm = HmacAlgorithm::parse(algorithm_name)
        .filter(|algorithm| settings.verification_algorithms.contains(algorithm))
        .ok_or_else(|| {
            let allowed: Vec<&str> = settings
                .verification_algorithms
                .iter()
                .map(|algorithm| algorithm.java_name())
                .collect();
            SignatureError::BadRequest(format!(
                "This worker does not support the '{algorithm_name}' key signing algorithm used by other workers. This worker is currently configured to use: [{}]. Check that all workers' configuration files permit the same set of signature algorithms, and correct any misconfigured worker and restart it.",
                allowed.join(", ")
            ))
        })?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|error| {
            SignatureError::BadRequest(format!("Invalid request signature: {error}"))
        })?;
    let current = current_opt.ok_or(SignatureError::NoKeyYet)?;
    let verifying_key = ring::hmac::Key::new(algorithm.ring(), &current.key);
    ring::hmac::verify(&verifying_key, body, &signature).map_err(|_| SignatureError::Invalid)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// While this node leads (`is_leader`), writes a session key when there is none or the current
/// one expired. Runs until `stop` fires.
pub async fn run_key_rotation(
    config_store: Arc<ConfigStore>,
    settings: SessionKeySettings,
    is_leader: impl Fn() -> bool + Send + 'static,
    stop: CancellationToken,
) {
    let mut key_rx = config_store.session_key();
    loop {
        if is_leader() {
            let current_opt = key_rx.borrow().clone();
            if needs_new_key(current_opt.as_ref(), &settings, now_ms()) {
                let key = generate_key(&settings, now_ms());
                match config_store.put_session_key(&key).await {
                    Ok(()) => tracing::info!(
                        algorithm = %key.algorithm,
                        ttl_ms = settings.key_ttl.as_millis(),
                        "wrote a new session key for worker-to-worker requests"
                    ),
                    Err(error) => tracing::warn!(%error, "failed to write a new session key"),
                }
            }
        }
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = key_rx.changed() => {}
            () = tokio::time::sleep(ROTATION_CHECK_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kafka_connects() {
        let settings = SessionKeySettings::from_properties(&BTreeMap::new()).unwrap();
        assert_eq!(settings, SessionKeySettings::default());
        let key = generate_key(&settings, 5);
        assert_eq!(key.key.len(), 32);
        assert_eq!(key.algorithm, "HmacSHA256");
    }

    #[test]
    fn bad_settings_name_the_key() {
        for (key, value) in [
            (keys::KEY_GENERATION_ALGORITHM, "HmacMD5"),
            (keys::KEY_SIZE, "12"),
            (keys::KEY_TTL_MS, "0"),
            (keys::SIGNATURE_ALGORITHM, "HmacSHA512"),
            (keys::VERIFICATION_ALGORITHMS, "HmacSHA256,Foo"),
        ] {
            let error = SessionKeySettings::from_properties(&props(&[(key, value)])).unwrap_err();
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
        let settings = SessionKeySettings::from_properties(&props(&[
            (keys::SIGNATURE_ALGORITHM, "HmacSHA512"),
            (keys::VERIFICATION_ALGORITHMS, "HmacSHA256, HmacSHA512"),
            (keys::KEY_SIZE, "128"),
        ]))
        .unwrap();
        assert_eq!(settings.signature_algorithm, HmacAlgorithm::Sha512);
        assert_eq!(settings.key_size_bits, 128);
    }

    #[test]
    fn signatures_verify_only_with_the_current_key() {
        let settings = SessionKeySettings::default();
        let old = generate_key(&settings, 1);
        let current = generate_key(&settings, 2);
        let body = b"create connector x";
        let (signature, algorithm) = sign(&current, HmacAlgorithm::Sha256, body);
        assert_eq!(algorithm, "HmacSHA256");
        verify(
            &settings,
            Some(&current),
            Some(algorithm),
            Some(&signature),
            body,
        )
        .unwrap();
        assert_eq!(
            verify(
                &settings,
                Some(&current),
                Some(algorithm),
                Some(&signature),
                b"tampered"
            ),
            Err(SignatureError::Invalid)
        );
        let (stale, _) = sign(&old, HmacAlgorithm::Sha256, body);
        assert_eq!(
            verify(
                &settings,
                Some(&current),
                Some(algorithm),
                Some(&stale),
                body
            ),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&settings, Some(&current), None, Some(&signature), body),
            Err(SignatureError::Missing)
        );
        assert!(matches!(
            verify(
                &settings,
                Some(&current),
                Some("HmacSHA512"),
                Some(&signature),
                body
            ),
            Err(SignatureError::BadRequest(_))
        ));
        assert!(matches!(
            verify(
                &settings,
                Some(&current),
                Some(algorithm),
                Some("***"),
                body
            ),
            Err(SignatureError::BadRequest(_))
        ));
        assert_eq!(
            verify(&settings, None, Some(algorithm), Some(&signature), body),
            Err(SignatureError::NoKeyYet)
        );
    }

    #[test]
    fn keys_are_replaced_when_they_expire() {
        let settings = SessionKeySettings {
            key_ttl: Duration::from_millis(100),
            ..SessionKeySettings::default()
        };
        let key = generate_key(&settings, 1_000);
        assert!(needs_new_key(None, &settings, 0));
        assert!(!needs_new_key(Some(&key), &settings, 1_099));
        assert!(needs_new_key(Some(&key), &settings, 1_100));
    }
}
