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
    key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.")
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
    translate_oidc_keys(settings)?;
    translate_jaas(settings)?;
    check_oidc_settings(settings)?;
    translate_trust_store(settings)?;
    translate_key_store(settings)?;
    translate_tls_settings(settings)?;
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
    for (name, value) in &entry.options {
        let key = match name.as_str() {
            "clientId" => "sasl.oauthbearer.client.id",
            "clientSecret" => "sasl.oauthbearer.client.secret",
            "scope" => "sasl.oauthbearer.scope",
            _ => {
                let Some(extension) = name.strip_prefix("extension_") else {
                    return Err(setting.invalid(&format!(
                        "OAuthBearerLoginModule option `{name}` is not one of the OIDC login callback handler's (clientId, clientSecret, scope, extension_<name>)"
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
