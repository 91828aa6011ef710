//! Java client security keys (`security.protocol`, `sasl.*`, `ssl.*`) translated for librdkafka.
//!
//! Kafka Connect users write Java's keys; librdkafka knows other names for some of them, and no
//! key store formats but PEM and PKCS#12 files. Each Java key is either translated here, checked
//! and consumed (settings OpenSSL applies by itself), or refused with the reason; librdkafka's
//! own key names pass through untouched for people who know them.

use std::collections::BTreeMap;
use std::path::Path;

use ferry_connectors::sdk::Secret;

use super::jaas::{parse_jaas_config, JaasEntry};
use super::{ClientConfigError, Setting};
use crate::keystore::{self, StoreType};

const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
const OAUTHBEARER_LOGIN_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";
const KERBEROS_LOGIN_MODULE: &str = "com.sun.security.auth.module.Krb5LoginModule";

/// Java's login callback handler of the OIDC client-credentials flow (the second name is the
/// one Kafka 3.1 to 3.3 used).
const OIDC_LOGIN_CALLBACK_HANDLERS: [&str; 2] = [
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler",
];

const GSSAPI_NOT_BUILT: &str = "Kerberos (GSSAPI) needs librdkafka built with cyrus-sasl, which Ferry does not build; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER";

/// The keys that apply to every client when set without a prefix in `worker.properties`.
pub(crate) fn is_bare_client_key(key: &str) -> bool {
    key == "security.protocol"
        || key.starts_with("sasl.")
        || key.starts_with("ssl.")
        || key.starts_with("https.")
}

/// Returns whether a librdkafka key holds a secret: its value is never shown.
pub(crate) fn is_secret_key(key: &str) -> bool {
    key.contains("password")
        || key.contains("secret")
        || key.contains("jaas")
        || key.ends_with(".pem")
        || key == "sasl.oauthbearer.config"
        || key.starts_with("ssl.keystore.key")
}

/// Translates the Java security keys of `settings` in place into librdkafka's.
///
/// # Errors
/// A value that cannot be translated (naming the key as the user wrote it), or a store that
/// cannot be read.
pub(crate) fn translate_security(
    settings: &mut BTreeMap<String, Setting>,
) -> Result<(), ClientConfigError> {
    let protocol_opt = match settings.get("security.protocol") {
        Some(setting) => {
            let protocol = setting.value.trim().to_ascii_uppercase();
            if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&protocol.as_str()) {
                return Err(setting.invalid("expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"));
            }
            Some(protocol)
        }
        None => None,
    };
    let uses_sasl = protocol_opt
        .as_deref()
        .is_some_and(|p| p.starts_with("SASL_"));
    translate_mechanism(settings, uses_sasl)?;
    check_login_timing_keys(settings)?;
    translate_oidc_keys(settings)?;
    translate_jaas(settings)?;
    check_oidc_settings(settings)?;
    translate_trust_store(settings)?;
    translate_key_store(settings)?;
    translate_tls_settings(settings)?;
    Ok(())
}

/// A Java login key that librdkafka has no equivalent for and that only tunes timing: Ferry
/// checks its value as Java does and leaves the timing to librdkafka.
pub struct LoginTimingKey {
    /// The Java key (`sasl.login.connect.timeout.ms`).
    pub key: &'static str,
    /// What librdkafka does instead, for the start-up log and the README.
    pub librdkafka_behaviour: &'static str,
    range: ValueRange,
}

/// The values Java's `ConfigDef` accepts for a login timing key.
#[derive(Clone, Copy)]
enum ValueRange {
    /// An integer number of milliseconds or seconds within the bounds.
    Integer { min: i64, max: i64 },
    /// A fraction within the bounds.
    Fraction { min: f64, max: f64 },
}

const TOKEN_REQUEST_TIMEOUT: &str =
    "librdkafka gives each token request 20 s in all (connecting and reading), a fixed value";
const TOKEN_REQUEST_RETRIES: &str = "librdkafka retries a token request that failed with HTTP 408, 425, 429 or 5xx up to 4 times, 5 s more apart each time, then every 10 s";
const TOKEN_REFRESH_TIME: &str = "librdkafka refreshes a token once 80% of its remaining lifetime is over (Java's default window factor 0.8), with no jitter, minimum period or buffer";

/// Java's OAuth login timing keys (`SaslConfigs`), which librdkafka has no keys for: its token
/// requests and refreshes follow fixed rules. None of them changes what is authenticated or
/// how, so they are accepted (with their Java ranges checked) and logged at start-up.
pub const LOGIN_TIMING_KEYS: [LoginTimingKey; 8] = [
    LoginTimingKey {
        key: "sasl.login.connect.timeout.ms",
        librdkafka_behaviour: TOKEN_REQUEST_TIMEOUT,
        range: ValueRange::Integer {
            min: 0,
            max: i32::MAX as i64,
        },
    },
    LoginTimingKey {
        key: "sasl.login.read.timeout.ms",
        librdkafka_behaviour: TOKEN_REQUEST_TIMEOUT,
        range: ValueRange::Integer {
            min: 0,
            max: i32::MAX as i64,
        },
    },
    LoginTimingKey {
        key: "sasl.login.retry.backoff.ms",
        librdkafka_behaviour: TOKEN_REQUEST_RETRIES,
        range: ValueRange::Integer {
            min: 0,
            max: i64::MAX,
        },
    },
    LoginTimingKey {
        key: "sasl.login.retry.backoff.max.ms",
        librdkafka_behaviour: TOKEN_REQUEST_RETRIES,
        range: ValueRange::Integer {
            min: 0,
            max: i64::MAX,
        },
    },
    LoginTimingKey {
        key: "sasl.login.refresh.window.factor",
        librdkafka_behaviour: TOKEN_REFRESH_TIME,
        range: ValueRange::Fraction { min: 0.5, max: 1.0 },
    },
    LoginTimingKey {
        key: "sasl.login.refresh.window.jitter",
        librdkafka_behaviour: TOKEN_REFRESH_TIME,
        range: ValueRange::Fraction {
            min: 0.0,
            max: 0.25,
        },
    },
    LoginTimingKey {
        key: "sasl.login.refresh.min.period.seconds",
        librdkafka_behaviour: TOKEN_REFRESH_TIME,
        range: ValueRange::Integer { min: 0, max: 900 },
    },
    LoginTimingKey {
        key: "sasl.login.refresh.buffer.seconds",
        librdkafka_behaviour: TOKEN_REFRESH_TIME,
        range: ValueRange::Integer { min: 0, max: 3600 },
    },
];

/// Returns the login timing key a client key is, if it is one.
pub fn login_timing_key(client_key: &str) -> Option<&'static LoginTimingKey> {
    LOGIN_TIMING_KEYS
        .iter()
        .find(|timing| timing.key == client_key)
}

impl LoginTimingKey {
    fn check(&self, value: &str) -> Result<(), String> {
        let value = value.trim();
        match self.range {
            ValueRange::Integer { min, max } => match value.parse::<i64>() {
                Ok(number) if (min..=max).contains(&number) => Ok(()),
                Ok(_) => Err(format!("expected a value between {min} and {max}")),
                Err(_) => Err("expected an integer".to_string()),
            },
            ValueRange::Fraction { min, max } => match value.parse::<f64>() {
                Ok(number) if (min..=max).contains(&number) => Ok(()),
                Ok(_) => Err(format!("expected a value between {min} and {max}")),
                Err(_) => Err("expected a decimal number".to_string()),
            },
        }
    }
}

/// Checks and consumes Java's login timing keys: librdkafka does not know them.
fn check_login_timing_keys(
    settings: &mut BTreeMap<String, Setting>,
) -> Result<(), ClientConfigError> {
    for timing in &LOGIN_TIMING_KEYS {
        if let Some(setting) = settings.remove(timing.key) {
            timing
                .check(&setting.value)
                .map_err(|reason| setting.invalid(&reason))?;
        }
    }
    Ok(())
}

fn translate_mechanism(
    settings: &mut BTreeMap<String, Setting>,
    uses_sasl: bool,
) -> Result<(), ClientConfigError> {
    for key in ["sasl.mechanism", "sasl.mechanisms"] {
        if let Some(setting) = settings.get(key) {
            let mechanism = setting.value.trim().to_ascii_uppercase();
            match mechanism.as_str() {
                "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER" => {}
                "GSSAPI" => return Err(setting.invalid(GSSAPI_NOT_BUILT)),
                _ => {
                    return Err(setting
                        .invalid("expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"))
                }
            }
        }
    }
    let has_mechanism =
        settings.contains_key("sasl.mechanism") || settings.contains_key("sasl.mechanisms");
    if uses_sasl && !has_mechanism {
        let protocol = &settings["security.protocol"];
        return Err(ClientConfigError::Invalid {
            key: protocol
                .origin
                .replace("security.protocol", "sasl.mechanism"),
            reason: format!(
                "not set, and Java's default GSSAPI is not available: {GSSAPI_NOT_BUILT}"
            ),
        });
    }
    Ok(())
}

fn translate_jaas(settings: &mut BTreeMap<String, Setting>) -> Result<(), ClientConfigError> {
    let Some(setting) = settings.remove("sasl.jaas.config") else {
        return Ok(());
    };
    let entry = parse_jaas_config(&setting.value).map_err(|reason| setting.invalid(&reason))?;
    match entry.login_module.as_str() {
        PLAIN_LOGIN_MODULE | SCRAM_LOGIN_MODULE => {
            if entry
                .options
                .get("tokenauth")
                .is_some_and(|value| value.expose().eq_ignore_ascii_case("true"))
            {
                return Err(setting.invalid(
                    "delegation-token authentication (tokenauth=true) is not supported",
                ));
            }
            let (Some(username), Some(password)) =
                (entry.options.get("username"), entry.options.get("password"))
            else {
                return Err(setting.invalid("the login module needs username and password"));
            };
            settings.insert(
                "sasl.username".into(),
                setting.derived(username.expose().clone()),
            );
            settings.insert(
                "sasl.password".into(),
                setting.derived(password.expose().clone()),
            );
        }
        OAUTHBEARER_LOGIN_MODULE => translate_oauthbearer_jaas(settings, &setting, &entry)?,
        KERBEROS_LOGIN_MODULE => return Err(setting.invalid(GSSAPI_NOT_BUILT)),
        other => {
            return Err(setting.invalid(&format!(
                "unsupported login module `{other}` (expected PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule)"
            )))
        }
    }
    Ok(())
}

/// `OAuthBearerLoginModule` options, in two flavours as in Java:
/// - with the OIDC login callback handler: the client credentials `clientId`, `clientSecret`,
///   `scope` (Java's names before Kafka 4.1's `sasl.oauthbearer.client.credentials.*` keys)
///   and SASL extensions `extension_<name>`;
/// - otherwise an unsecured JWT: `unsecuredLoginStringClaim_<principal claim>` (`sub` unless
///   `unsecuredLoginPrincipalClaimName` says otherwise), `unsecuredLoginLifetimeSeconds`,
///   `unsecuredLoginListClaim_<scope claim>`, `unsecuredLoginScopeClaimName` and
///   `unsecuredLoginExtension_<name>`, which librdkafka's unsecured token takes as well.
///
/// Any other option (a claim librdkafka cannot put in its token) is refused naming it.
fn translate_oauthbearer_jaas(
    settings: &mut BTreeMap<String, Setting>,
    setting: &Setting,
    entry: &JaasEntry,
) -> Result<(), ClientConfigError> {
    let uses_oidc = settings
        .get("sasl.oauthbearer.method")
        .is_some_and(|method| method.value.trim().eq_ignore_ascii_case("oidc"));
    if uses_oidc {
        translate_oidc_jaas(settings, setting, entry)
    } else {
        translate_unsecured_jwt_jaas(settings, setting, entry)
    }
}

fn translate_oidc_jaas(
    settings: &mut BTreeMap<String, Setting>,
    setting: &Setting,
    entry: &JaasEntry,
) -> Result<(), ClientConfigError> {
    let mut extensions = Vec::new();
    let mut tls_options = BTreeMap::new();
    for (name, value) in &entry.options {
        let key = match name.as_str() {
            "clientId" => "sasl.oauthbearer.client.id",
            "clientSecret" => "sasl.oauthbearer.client.secret",
            "scope" => "sasl.oauthbearer.scope",
            _ if name.starts_with("ssl.") => {
                tls_options.insert(name.clone(), Setting::new(value.expose(), name));
                continue;
            }
            _ => {
                let Some(extension) = name.strip_prefix("extension_") else {
                    return Err(setting.invalid(&format!(
                        "OAuthBearerLoginModule option `{name}` is not one of the OIDC login callback handler's (clientId, clientSecret, scope, extension_<name>, ssl.*)"
                    )));
                };
                extensions.push(format!("{extension}={}", value.expose()));
                continue;
            }
        };
        // A `sasl.oauthbearer.*` key set beside the JAAS option wins, as in Java.
        if !settings.contains_key(key) {
            settings.insert(key.into(), setting.derived(value.expose().clone()));
        }
    }
    if !extensions.is_empty() {
        settings.insert(
            "sasl.oauthbearer.extensions".into(),
            setting.derived(extensions.join(",")),
        );
    }
    translate_token_endpoint_tls(settings, setting, tls_options)
}

/// Java's client TLS keys (`ConfigDef.withClientSslSupport`), which the OIDC login handler
/// reads from the JAAS options for the token endpoint.
const JAVA_CLIENT_TLS_KEYS: [&str; 19] = [
    "ssl.protocol",
    "ssl.provider",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.endpoint.identification.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
];

/// The token endpoint's TLS, as Java's OIDC login handler sets it up: from the `ssl.*` options
/// of the `OAuthBearerLoginModule` JAAS entry (`JaasOptionsUtils.createSSLSocketFactory`), not
/// from the client's own `ssl.*` keys; without them, the JVM's default truststore. The
/// truststore becomes librdkafka's `https.ca.pem` (in memory, like the broker's); without one,
/// librdkafka checks the endpoint against the system's CAs. Java reads the options only for an
/// `https://` endpoint, and so does Ferry.
///
/// Java's `HttpsURLConnection` checks the endpoint's host name whatever
/// `ssl.endpoint.identification.algorithm` says, as librdkafka's libcurl does; a client
/// certificate (`ssl.keystore.*`) or cipher suites cannot be given to librdkafka's HTTP client
/// and are refused, naming the option.
fn translate_token_endpoint_tls(
    settings: &mut BTreeMap<String, Setting>,
    jaas: &Setting,
    mut tls_options: BTreeMap<String, Setting>,
) -> Result<(), ClientConfigError> {
    for name in tls_options.keys() {
        if !JAVA_CLIENT_TLS_KEYS.contains(&name.as_str()) {
            return Err(jaas.invalid(&format!(
                "OAuthBearerLoginModule option `{name}` is not one of Java's client TLS settings"
            )));
        }
    }
    let uses_https = settings
        .get("sasl.oauthbearer.token.endpoint.url")
        .is_some_and(|url| {
            url.value
                .trim()
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        });
    if !uses_https || tls_options.is_empty() {
        return Ok(());
    }
    let option_error = |error: ClientConfigError| match error {
        ClientConfigError::Invalid { key, reason } => ClientConfigError::Invalid {
            key: jaas.origin.clone(),
            reason: format!(
                "OAuthBearerLoginModule option `{key}` (the token endpoint's TLS): {reason}"
            ),
        },
        ClientConfigError::Store { source, .. } => ClientConfigError::Store {
            key: jaas.origin.clone(),
            source,
        },
        refused @ ClientConfigError::OverrideRefused { .. } => refused,
    };
    for (name, reason) in [
        (
            "ssl.keystore.location",
            "librdkafka's HTTP client sends no client certificate to the token endpoint",
        ),
        (
            "ssl.keystore.key",
            "librdkafka's HTTP client sends no client certificate to the token endpoint",
        ),
        (
            "ssl.cipher.suites",
            "librdkafka's HTTP client takes OpenSSL's default cipher suites",
        ),
    ] {
        if let Some(option) = tls_options.get(name) {
            if !option.value.trim().is_empty() {
                return Err(option_error(option.invalid(reason)));
            }
            tls_options.remove(name);
        }
    }
    if let Some(option) = tls_options.remove("ssl.endpoint.identification.algorithm") {
        let algorithm = option.value.trim();
        if !algorithm.is_empty() && !algorithm.eq_ignore_ascii_case("https") {
            return Err(option_error(option.invalid(
                "expected `https` or empty (the token endpoint's host name is checked either way, as by Java's HttpsURLConnection)",
            )));
        }
    }
    translate_trust_store(&mut tls_options).map_err(option_error)?;
    translate_key_store(&mut tls_options).map_err(option_error)?;
    translate_tls_settings(&mut tls_options).map_err(option_error)?;
    if let Some(ca_pem) = tls_options.remove("ssl.ca.pem") {
        for key in ["https.ca.location", "https.ca.pem"] {
            if let Some(other) = settings.get(key) {
                return Err(jaas.invalid(&format!(
                    "its ssl.truststore.* options and `{}` both set the token endpoint's CAs",
                    other.origin
                )));
            }
        }
        settings.insert("https.ca.pem".into(), jaas.derived(ca_pem.value));
    }
    Ok(())
}

fn translate_unsecured_jwt_jaas(
    settings: &mut BTreeMap<String, Setting>,
    setting: &Setting,
    entry: &JaasEntry,
) -> Result<(), ClientConfigError> {
    let option = |name: &str| entry.options.get(name).map(|value| value.expose().as_str());
    let principal_claim = option("unsecuredLoginPrincipalClaimName").unwrap_or("sub");
    let scope_claim = option("unsecuredLoginScopeClaimName").unwrap_or("scope");
    let principal_option = format!("unsecuredLoginStringClaim_{principal_claim}");
    let scope_option = format!("unsecuredLoginListClaim_{scope_claim}");
    let Some(principal) = option(&principal_option) else {
        return Err(setting.invalid(&format!(
            "OAuthBearerLoginModule needs {principal_option} (an unsecured JWT), or sasl.login.callback.handler.class={} with a token endpoint (OIDC)",
            OIDC_LOGIN_CALLBACK_HANDLERS[0]
        )));
    };
    let mut config = vec![format!("principal={principal}")];
    if principal_claim != "sub" {
        config.push(format!("principalClaimName={principal_claim}"));
    }
    if scope_claim != "scope" {
        config.push(format!("scopeClaimName={scope_claim}"));
    }
    for (name, value) in &entry.options {
        let value = value.expose();
        if name == "clientId" || name == "clientSecret" {
            return Err(setting.invalid(&format!(
                "option `{name}` belongs to the OIDC client-credentials flow, which needs sasl.login.callback.handler.class={}",
                OIDC_LOGIN_CALLBACK_HANDLERS[0]
            )));
        } else if *name == principal_option
            || name == "unsecuredLoginPrincipalClaimName"
            || name == "unsecuredLoginScopeClaimName"
        {
            // Taken above.
        } else if *name == scope_option {
            config.push(format!("scope={value}"));
        } else if name == "unsecuredLoginLifetimeSeconds" {
            config.push(format!("lifeSeconds={value}"));
        } else if let Some(extension) = name.strip_prefix("unsecuredLoginExtension_") {
            config.push(format!("extension_{extension}={value}"));
        } else {
            return Err(setting.invalid(&format!(
                "OAuthBearerLoginModule option `{name}`: librdkafka's unsecured JWT has only the principal, scope and lifetime claims and extensions"
            )));
        }
    }
    settings.insert(
        "enable.sasl.oauthbearer.unsecure.jwt".into(),
        setting.derived("true".into()),
    );
    settings.insert(
        "sasl.oauthbearer.config".into(),
        setting.derived(config.join(" ")),
    );
    Ok(())
}

/// Java's keys of the OIDC client-credentials flow: the login callback handler becomes
/// librdkafka's `sasl.oauthbearer.method=oidc`; the claim names and the header encoding are
/// accepted with Java's defaults (what librdkafka does), refused otherwise.
fn translate_oidc_keys(settings: &mut BTreeMap<String, Setting>) -> Result<(), ClientConfigError> {
    if let Some(setting) = settings.remove("sasl.login.callback.handler.class") {
        if !OIDC_LOGIN_CALLBACK_HANDLERS.contains(&setting.value.trim()) {
            return Err(setting.invalid(&format!(
                "only Kafka's OIDC handler {} is supported (librdkafka runs no Java callback)",
                OIDC_LOGIN_CALLBACK_HANDLERS[0]
            )));
        }
        settings.insert(
            "sasl.oauthbearer.method".into(),
            setting.derived("oidc".into()),
        );
    }
    // Kafka 4.1's names of the client credentials; librdkafka knows them as aliases, renamed here
    // so that they win over the JAAS options as in Java.
    for (java, librdkafka) in [
        (
            "sasl.oauthbearer.client.credentials.client.id",
            "sasl.oauthbearer.client.id",
        ),
        (
            "sasl.oauthbearer.client.credentials.client.secret",
            "sasl.oauthbearer.client.secret",
        ),
    ] {
        if let Some(setting) = settings.remove(java) {
            settings.insert(librdkafka.into(), setting);
        }
    }
    for (key, java_default) in [
        ("sasl.oauthbearer.sub.claim.name", "sub"),
        ("sasl.oauthbearer.scope.claim.name", "scope"),
        ("sasl.oauthbearer.header.urlencode", "false"),
    ] {
        if let Some(setting) = settings.remove(key) {
            if !setting.value.trim().eq_ignore_ascii_case(java_default) {
                return Err(setting.invalid(&format!(
                    "librdkafka supports only Java's default `{java_default}`"
                )));
            }
        }
    }
    if let Some(setting) = settings.get("sasl.oauthbearer.jwt.retriever.class") {
        let class = setting.value.trim();
        if class != "org.apache.kafka.common.security.oauthbearer.ClientCredentialsJwtRetriever" {
            return Err(setting.invalid(
                "only Kafka's ClientCredentialsJwtRetriever (the OIDC client-credentials flow) is supported",
            ));
        }
        settings.remove("sasl.oauthbearer.jwt.retriever.class");
    }
    Ok(())
}

/// The OIDC flow needs a token endpoint that librdkafka can call (HTTP or HTTPS; Java's `file:`
/// token is not supported), a client id and a client secret: each missing one is named.
fn check_oidc_settings(settings: &BTreeMap<String, Setting>) -> Result<(), ClientConfigError> {
    let Some(method) = settings.get("sasl.oauthbearer.method") else {
        return Ok(());
    };
    if !method.value.trim().eq_ignore_ascii_case("oidc") {
        return Ok(());
    }
    let Some(url) = settings.get("sasl.oauthbearer.token.endpoint.url") else {
        return Err(ClientConfigError::Invalid {
            key: "sasl.oauthbearer.token.endpoint.url".into(),
            reason: format!("not set, and `{}` asks for the OIDC flow", method.origin),
        });
    };
    let scheme = url.value.trim().split(':').next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(url.invalid(
            "expected an http:// or https:// token endpoint (librdkafka cannot read a token from a file)",
        ));
    }
    for (key, java_option) in [
        ("sasl.oauthbearer.client.id", "clientId"),
        ("sasl.oauthbearer.client.secret", "clientSecret"),
    ] {
        if !settings.contains_key(key) {
            return Err(ClientConfigError::Invalid {
                key: key.replace("sasl.oauthbearer.", "sasl.oauthbearer.client.credentials."),
                reason: format!(
                    "not set (nor the `{java_option}` option of sasl.jaas.config), and the OIDC flow needs it"
                ),
            });
        }
    }
    Ok(())
}

fn store_type(
    settings: &mut BTreeMap<String, Setting>,
    key: &str,
) -> Result<StoreType, ClientConfigError> {
    match settings.remove(key) {
        Some(setting) => {
            StoreType::parse(&setting.value).map_err(|error| setting.invalid(&error.to_string()))
        }
        None => Ok(StoreType::Jks),
    }
}

/// Java reads a JKS or PKCS12 store whatever its declared default type (`keystore.type.compat`):
/// without `ssl.*store.type`, the format is taken from the content.
fn detect_store_type(bytes: &[u8]) -> StoreType {
    if bytes.starts_with(&[0xfe, 0xed, 0xfe, 0xed]) {
        StoreType::Jks
    } else if bytes.starts_with(b"-----BEGIN") || bytes.starts_with(b"\n-----BEGIN") {
        StoreType::Pem
    } else {
        StoreType::Pkcs12
    }
}

fn secret_opt(settings: &mut BTreeMap<String, Setting>, key: &str) -> Option<Secret<String>> {
    settings
        .remove(key)
        .map(|setting| Secret::new(setting.value))
        .filter(|password| !password.expose().is_empty())
}

fn translate_trust_store(
    settings: &mut BTreeMap<String, Setting>,
) -> Result<(), ClientConfigError> {
    let has_store = settings.contains_key("ssl.truststore.location")
        || settings.contains_key("ssl.truststore.certificates");
    if !has_store {
        for key in ["ssl.truststore.type", "ssl.truststore.password"] {
            if let Some(setting) = settings.get(key) {
                return Err(setting.invalid("set without ssl.truststore.location"));
            }
        }
        return Ok(());
    }
    let explicit_type = settings.contains_key("ssl.truststore.type");
    let mut store_type = store_type(settings, "ssl.truststore.type")?;
    let password_opt = secret_opt(settings, "ssl.truststore.password");
    let certificates = if let Some(setting) = settings.remove("ssl.truststore.certificates") {
        if explicit_type && store_type != StoreType::Pem {
            return Err(setting.invalid("inline certificates need ssl.truststore.type=PEM"));
        }
        keystore::read_trust_store(setting.value.as_bytes(), StoreType::Pem, None)
            .map_err(|error| setting.store_error(error))?
    } else {
        let setting = settings
            .remove("ssl.truststore.location")
            .expect("checked above: one of the two keys is set");
        let bytes = keystore::read_store_file(Path::new(setting.value.trim()))
            .map_err(|error| setting.store_error(error))?;
        if !explicit_type {
            store_type = detect_store_type(&bytes);
        }
        keystore::read_trust_store(&bytes, store_type, password_opt.as_ref())
            .map_err(|error| setting.store_error(error))?
    };
    settings.insert(
        "ssl.ca.pem".into(),
        Setting::derived_from(
            "ssl.truststore.location",
            keystore::certificates_to_pem(&certificates),
        ),
    );
    Ok(())
}

fn translate_key_store(settings: &mut BTreeMap<String, Setting>) -> Result<(), ClientConfigError> {
    let has_store =
        settings.contains_key("ssl.keystore.location") || settings.contains_key("ssl.keystore.key");
    if !has_store {
        for key in [
            "ssl.keystore.type",
            "ssl.keystore.password",
            "ssl.keystore.certificate.chain",
        ] {
            if let Some(setting) = settings.get(key) {
                return Err(setting.invalid("set without ssl.keystore.location"));
            }
        }
        // `ssl.key.password` alone is librdkafka's password of `ssl.key.location`.
        return Ok(());
    }
    let explicit_type = settings.contains_key("ssl.keystore.type");
    let mut store_type = store_type(settings, "ssl.keystore.type")?;
    let store_password_opt = secret_opt(settings, "ssl.keystore.password");
    let key_password_opt = secret_opt(settings, "ssl.key.password");
    let key_pair = if let Some(key) = settings.remove("ssl.keystore.key") {
        if explicit_type && store_type != StoreType::Pem {
            return Err(key.invalid("an inline key needs ssl.keystore.type=PEM"));
        }
        let mut text = key.value.clone();
        if let Some(chain) = settings.remove("ssl.keystore.certificate.chain") {
            text.push('\n');
            text.push_str(&chain.value);
        }
        keystore::read_pem_key_pair(text.as_bytes(), key_password_opt.as_ref())
            .map_err(|error| key.store_error(error))?
    } else {
        let setting = settings
            .remove("ssl.keystore.location")
            .expect("checked above: one of the two keys is set");
        let bytes = keystore::read_store_file(Path::new(setting.value.trim()))
            .map_err(|error| setting.store_error(error))?;
        if !explicit_type {
            store_type = detect_store_type(&bytes);
        }
        keystore::read_key_store(
            &bytes,
            store_type,
            store_password_opt.as_ref(),
            key_password_opt.as_ref(),
        )
        .map_err(|error| setting.store_error(error))?
    };
    if key_pair.certificate_chain.is_empty() {
        return Err(ClientConfigError::Invalid {
            key: "ssl.keystore.certificate.chain".into(),
            reason: "the key store holds no certificate".into(),
        });
    }
    settings.insert(
        "ssl.certificate.pem".into(),
        Setting::derived_from("ssl.keystore.location", key_pair.certificate_chain_pem()),
    );
    settings.insert(
        "ssl.key.pem".into(),
        Setting::derived_from(
            "ssl.keystore.location",
            key_pair.private_key_pem().into_inner(),
        ),
    );
    Ok(())
}

/// TLS settings Java applies in its JSSE engine: the defaults are what OpenSSL does anyway, so
/// they are accepted; anything else cannot be honoured and is refused.
fn translate_tls_settings(
    settings: &mut BTreeMap<String, Setting>,
) -> Result<(), ClientConfigError> {
    if let Some(setting) = settings.get_mut("ssl.endpoint.identification.algorithm") {
        let algorithm = setting.value.trim().to_ascii_lowercase();
        setting.value = match algorithm.as_str() {
            "" | "none" => "none".into(),
            "https" => "https".into(),
            _ => {
                return Err(
                    setting.invalid("expected `https`, or empty to disable host-name checks")
                )
            }
        };
    }
    for key in ["ssl.protocol", "ssl.enabled.protocols"] {
        if let Some(setting) = settings.remove(key) {
            let all_supported = setting
                .value
                .split(',')
                .map(str::trim)
                .filter(|protocol| !protocol.is_empty())
                .all(|protocol| ["TLS", "TLSv1.2", "TLSv1.3"].contains(&protocol));
            if !all_supported {
                return Err(setting.invalid(
                    "Ferry's OpenSSL negotiates TLSv1.2 or TLSv1.3; other protocols are not supported",
                ));
            }
        }
    }
    for (key, java_defaults) in [
        ("ssl.keymanager.algorithm", &["SunX509", "PKIX"][..]),
        ("ssl.trustmanager.algorithm", &["PKIX", "SunX509"][..]),
        ("ssl.secure.random.implementation", &[][..]),
        ("ssl.provider", &[][..]),
        ("ssl.engine.factory.class", &[][..]),
    ] {
        if let Some(setting) = settings.remove(key) {
            let value = setting.value.trim();
            if !value.is_empty() && !java_defaults.contains(&value) {
                return Err(setting.invalid(
                    "a JVM security provider setting that OpenSSL cannot honour; only Java's default is accepted",
                ));
            }
        }
    }
    // A server-side setting that Java's clients do not act on. As an un-prefixed worker key it is
    // the REST listener's fallback for `listeners.https.ssl.client.auth`, read there.
    settings.remove("ssl.client.auth");
    Ok(())
}
