//! TLS for https listeners and for calls to other workers, from Kafka Connect's keys:
//! `listeners.https.ssl.*` when any such key is set, otherwise the un-prefixed `ssl.*` (Kafka
//! Connect's "all or nothing" rule). Keystores: PEM (file, or inline `ssl.keystore.key` +
//! `ssl.keystore.certificate.chain`), PKCS12 and JKS. The server offers ALPN `h2` and
//! `http/1.1`, so REST and gRPC share the port.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_actors::config_providers::ConfigProviders;
use ferry_actors::keystore::{self, KeyPair, StoreType};
use ferry_connectors::sdk::Secret as SdkSecret;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{invalid, Secret};
use crate::config::ConfigError;

/// The prefix Kafka Connect gives https settings.
pub const HTTPS_PREFIX: &str = "listeners.https.";

/// The `ssl.*` keys Ferry reads (after the prefix).
pub mod ssl_keys {
    pub const KEYSTORE_TYPE: &str = "ssl.keystore.type";
    pub const KEYSTORE_LOCATION: &str = "ssl.keystore.location";
    pub const KEYSTORE_PASSWORD: &str = "ssl.keystore.password";
    pub const KEY_PASSWORD: &str = "ssl.key.password";
    pub const KEYSTORE_KEY: &str = "ssl.keystore.key";
    pub const KEYSTORE_CERTIFICATE_CHAIN: &str = "ssl.keystore.certificate.chain";
    pub const TRUSTSTORE_TYPE: &str = "ssl.truststore.type";
    pub const TRUSTSTORE_LOCATION: &str = "ssl.truststore.location";
    pub const TRUSTSTORE_PASSWORD: &str = "ssl.truststore.password";
    pub const TRUSTSTORE_CERTIFICATES: &str = "ssl.truststore.certificates";
    pub const CLIENT_AUTH: &str = "ssl.client.auth";
    pub const ENABLED_PROTOCOLS: &str = "ssl.enabled.protocols";
    pub const PROTOCOL: &str = "ssl.protocol";
    pub const ENDPOINT_IDENTIFICATION_ALGORITHM: &str = "ssl.endpoint.identification.algorithm";
    pub const KEYMANAGER_ALGORITHM: &str = "ssl.keymanager.algorithm";
    pub const TRUSTMANAGER_ALGORITHM: &str = "ssl.trustmanager.algorithm";
    /// Keys Ferry does not implement for the listener: refused when set.
    pub const REFUSED: &[&str] = &[
        "ssl.cipher.suites",
        "ssl.provider",
        "ssl.secure.random.implementation",
        "ssl.engine.factory.class",
    ];
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// The https settings, validated (files are read by [`load_material`]).
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// `listeners.https.` or empty: how the keys were written, for messages.
    pub prefix: &'static str,
    pub keystore_type: StoreType,
    pub keystore_location_opt: Option<PathBuf>,
    pub keystore_password_opt: Option<Secret>,
    pub key_password_opt: Option<Secret>,
    pub keystore_key_opt: Option<Secret>,
    pub keystore_certificate_chain_opt: Option<String>,
    pub truststore_type: StoreType,
    pub truststore_location_opt: Option<PathBuf>,
    pub truststore_password_opt: Option<Secret>,
    pub truststore_certificates_opt: Option<String>,
    pub client_auth: ClientAuth,
    pub protocols: Vec<&'static rustls::SupportedProtocolVersion>,
    /// Whether calls to other workers check the host name (`https`, the default) or not (empty).
    pub verify_hostname: bool,
}

impl TlsSettings {
    /// Reads the https keys.
    ///
    /// # Errors
    /// The first invalid or unsupported key, named with its prefix.
    pub fn from_properties(
        properties: &BTreeMap<String, String>,
        providers: &ConfigProviders,
    ) -> Result<Self, ConfigError> {
        let prefixed = properties.keys().any(|key| key.starts_with(HTTPS_PREFIX));
        let prefix = if prefixed { HTTPS_PREFIX } else { "" };
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        for (key, value) in properties {
            let Some(name) = key.strip_prefix(prefix) else {
                continue;
            };
            if !name.starts_with("ssl.") {
                continue;
            }
            // Worker configs may use config providers too (`${file:...}` for passwords).
            let resolved = providers
                .resolve(&BTreeMap::from([(key.clone(), value.clone())]))
                .map_err(|error| invalid(key, value, &error.reason))?;
            values.insert(name, resolved.into_values().next().unwrap_or_default());
        }
        let full = |name: &str| format!("{prefix}{name}");
        let get = |name: &str| values.get(name).map(|value| value.trim().to_string());
        for refused in ssl_keys::REFUSED {
            if let Some(value) = get(refused).filter(|value| !value.is_empty()) {
                return Err(invalid(
                    &full(refused),
                    &value,
                    "not supported on Ferry's https listener (rustls picks safe cipher suites)",
                ));
            }
        }
        for (name, accepted) in [
            (ssl_keys::KEYMANAGER_ALGORITHM, &["SunX509", "PKIX"][..]),
            (ssl_keys::TRUSTMANAGER_ALGORITHM, &["PKIX", "SunX509"][..]),
            (ssl_keys::PROTOCOL, &["TLS", "TLSv1.2", "TLSv1.3"][..]),
        ] {
            if let Some(value) = get(name) {
                if !accepted.contains(&value.as_str()) {
                    return Err(invalid(
                        &full(name),
                        &value,
                        &format!("Ferry supports {}", accepted.join(", ")),
                    ));
                }
            }
        }
        let store_type = |name: &str| -> Result<StoreType, ConfigError> {
            match get(name) {
                None => Ok(StoreType::Jks),
                Some(raw) => StoreType::parse(&raw)
                    .map_err(|_| invalid(&full(name), &raw, "expected JKS, PKCS12 or PEM")),
            }
        };
        let keystore_type = store_type(ssl_keys::KEYSTORE_TYPE)?;
        let truststore_type = store_type(ssl_keys::TRUSTSTORE_TYPE)?;
        let secret = |name: &str| values.get(name).map(|value| Secret(value.clone()));
        let keystore_location_opt = get(ssl_keys::KEYSTORE_LOCATION)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from);
        let keystore_key_opt = secret(ssl_keys::KEYSTORE_KEY);
        let keystore_certificate_chain_opt =
            values.get(ssl_keys::KEYSTORE_CERTIFICATE_CHAIN).cloned();
        if keystore_location_opt.is_none() && keystore_key_opt.is_none() {
            return Err(invalid(
                &full(ssl_keys::KEYSTORE_LOCATION),
                "",
                "an https listener needs a keystore (or ssl.keystore.key and ssl.keystore.certificate.chain)",
            ));
        }
        if keystore_key_opt.is_some() != keystore_certificate_chain_opt.is_some() {
            return Err(invalid(
                &full(ssl_keys::KEYSTORE_KEY),
                "",
                "ssl.keystore.key and ssl.keystore.certificate.chain go together",
            ));
        }
        let client_auth = match get(ssl_keys::CLIENT_AUTH).as_deref() {
            None | Some("none") => ClientAuth::None,
            Some("requested") => ClientAuth::Requested,
            Some("required") => ClientAuth::Required,
            Some(other) => {
                return Err(invalid(
                    &full(ssl_keys::CLIENT_AUTH),
                    other,
                    "expected required, requested or none",
                ))
            }
        };
        let truststore_location_opt = get(ssl_keys::TRUSTSTORE_LOCATION)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from);
        let truststore_certificates_opt = values.get(ssl_keys::TRUSTSTORE_CERTIFICATES).cloned();
        if client_auth != ClientAuth::None
            && truststore_location_opt.is_none()
            && truststore_certificates_opt.is_none()
        {
            return Err(invalid(
                &full(ssl_keys::CLIENT_AUTH),
                &get(ssl_keys::CLIENT_AUTH).unwrap_or_default(),
                "client authentication needs a truststore (ssl.truststore.location)",
            ));
        }
        let mut protocols = Vec::new();
        let raw_protocols =
            get(ssl_keys::ENABLED_PROTOCOLS).unwrap_or_else(|| "TLSv1.2,TLSv1.3".into());
        for protocol in raw_protocols
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            match protocol {
                "TLSv1.2" => protocols.push(&rustls::version::TLS12),
                "TLSv1.3" => protocols.push(&rustls::version::TLS13),
                other => {
                    return Err(invalid(
                        &full(ssl_keys::ENABLED_PROTOCOLS),
                        &raw_protocols,
                        &format!("`{other}` is not supported; Ferry has TLSv1.2 and TLSv1.3"),
                    ))
                }
            }
        }
        if protocols.is_empty() {
            return Err(invalid(
                &full(ssl_keys::ENABLED_PROTOCOLS),
                &raw_protocols,
                "must not be empty",
            ));
        }
        let verify_hostname = match get(ssl_keys::ENDPOINT_IDENTIFICATION_ALGORITHM).as_deref() {
            None => true,
            Some("") => false,
            Some(value) if value.eq_ignore_ascii_case("https") => true,
            Some(other) => {
                return Err(invalid(
                    &full(ssl_keys::ENDPOINT_IDENTIFICATION_ALGORITHM),
                    other,
                    "expected https or an empty value",
                ))
            }
        };
        Ok(TlsSettings {
            prefix,
            keystore_type,
            keystore_location_opt,
            keystore_password_opt: secret(ssl_keys::KEYSTORE_PASSWORD),
            key_password_opt: secret(ssl_keys::KEY_PASSWORD),
            keystore_key_opt,
            keystore_certificate_chain_opt,
            truststore_type,
            truststore_location_opt,
            truststore_password_opt: secret(ssl_keys::TRUSTSTORE_PASSWORD),
            truststore_certificates_opt,
            client_auth,
            protocols,
            verify_hostname,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// The certificates and key read from the keystore and truststore.
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub trusted: Vec<CertificateDer<'static>>,
}

/// Reads the keystore and truststore (with the keystore reader the Kafka clients use too).
///
/// # Errors
/// A store that cannot be read or holds no key/certificate, named by its key.
pub fn load_material(settings: &TlsSettings) -> Result<KeyMaterial, String> {
    let secret = |value: &Option<Secret>| {
        value
            .as_ref()
            .map(|secret| SdkSecret::new(secret.0.clone()))
    };
    let key_password = secret(&settings.key_password_opt);
    let store_password = secret(&settings.keystore_password_opt);
    let key_pair = match (
        &settings.keystore_key_opt,
        &settings.keystore_certificate_chain_opt,
    ) {
        (Some(key), Some(chain)) => {
            let pem = format!("{}\n{chain}", key.0);
            keystore::read_pem_key_pair(pem.as_bytes(), key_password.as_ref())
                .map_err(|error| format!("`{}`: {error}", settings.key(ssl_keys::KEYSTORE_KEY)))?
        }
        _ => {
            let location_key = settings.key(ssl_keys::KEYSTORE_LOCATION);
            let path = settings
                .keystore_location_opt
                .as_ref()
                .ok_or_else(|| format!("`{location_key}` is required"))?;
            let bytes = keystore::read_store_file(path)
                .map_err(|error| format!("`{location_key}`: {error}"))?;
            keystore::read_key_store(
                &bytes,
                settings.keystore_type,
                store_password.as_ref(),
                key_password.as_ref(),
            )
            .map_err(|error| format!("`{location_key}` {}: {error}", path.display()))?
        }
    };
    let (chain, key) = rustls_identity(&key_pair)?;
    let mut trusted = Vec::new();
    if let Some(certificates) = &settings.truststore_certificates_opt {
        trusted = pem_certificates(certificates.as_bytes()).map_err(|reason| {
            format!(
                "`{}`: {reason}",
                settings.key(ssl_keys::TRUSTSTORE_CERTIFICATES)
            )
        })?;
    } else if let Some(path) = &settings.truststore_location_opt {
        let location_key = settings.key(ssl_keys::TRUSTSTORE_LOCATION);
        let bytes = keystore::read_store_file(path)
            .map_err(|error| format!("`{location_key}`: {error}"))?;
        trusted = keystore::read_trust_store(
            &bytes,
            settings.truststore_type,
            secret(&settings.truststore_password_opt).as_ref(),
        )
        .map_err(|error| format!("`{location_key}` {}: {error}", path.display()))?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    }
    Ok(KeyMaterial {
        chain,
        key,
        trusted,
    })
}

fn rustls_identity(
    key_pair: &KeyPair,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = key_pair
        .certificate_chain
        .iter()
        .cloned()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::try_from(key_pair.private_key.expose().clone())
        .map_err(|reason| format!("unusable private key: {reason}"))?;
    Ok((chain, key))
}

/// Parses every certificate of a PEM text.
///
/// # Errors
/// No certificate, or a malformed one.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    Ok(keystore::read_trust_store(pem, StoreType::Pem, None)
        .map_err(|error| error.to_string())?
        .into_iter()
        .map(CertificateDer::from)
        .collect())
}

fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the https listener's TLS config (ALPN h2 and http/1.1; client certificates per
/// `ssl.client.auth`).
///
/// # Errors
/// A key that does not match its certificate, or an unusable truststore.
pub fn server_config(
    settings: &TlsSettings,
    material: &KeyMaterial,
) -> Result<rustls::ServerConfig, String> {
    let provider = crypto_provider();
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&settings.protocols)
        .map_err(|error| format!("TLS protocol versions: {error}"))?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        mode => {
            let mut roots = RootCertStore::empty();
            for certificate in &material.trusted {
                roots
                    .add(certificate.clone())
                    .map_err(|error| format!("truststore certificate: {error}"))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = if mode == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|error| format!("client certificate verifier: {error}"))?,
            )
        }
    };
    let mut config = builder
        .with_single_cert(material.chain.clone(), material.key.clone_key())
        .map_err(|error| format!("`{}`: {error}", settings.key(ssl_keys::KEYSTORE_LOCATION)))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Builds the TLS config for calls to other workers: trusts the truststore (or the public web
/// roots without one) and presents the keystore's certificate (for `ssl.client.auth=required`).
///
/// # Errors
/// An unusable certificate or key.
pub fn client_config(
    settings: &TlsSettings,
    material: &KeyMaterial,
) -> Result<rustls::ClientConfig, String> {
    let roots = root_store(&material.trusted)?;
    let verifier = server_verifier(roots, settings.verify_hostname)?;
    let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&settings.protocols)
        .map_err(|error| format!("TLS protocol versions: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(material.chain.clone(), material.key.clone_key())
        .map_err(|error| format!("client certificate: {error}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Builds a client TLS config that trusts `trusted` (or the public web roots when empty), with an
/// optional client identity: what `ferry ctl --cacert/--cert/--key` uses.
///
/// # Errors
/// An unusable certificate or key.
pub fn ctl_client_config(
    trusted: &[CertificateDer<'static>],
    identity_opt: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<rustls::ClientConfig, String> {
    let verifier = server_verifier(root_store(trusted)?, true)?;
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS protocol versions: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity_opt {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|error| format!("client certificate: {error}"))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Reads a PEM certificate chain and key (for `ferry ctl --cert/--key`).
///
/// # Errors
/// No certificate or no usable key.
pub fn pem_identity(
    certificate_pem: &[u8],
    key_pem: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let mut pem = key_pem.to_vec();
    pem.push(b'\n');
    pem.extend_from_slice(certificate_pem);
    let key_pair = keystore::read_pem_key_pair(&pem, None).map_err(|error| error.to_string())?;
    rustls_identity(&key_pair)
}

fn root_store(trusted: &[CertificateDer<'static>]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    if trusted.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for certificate in trusted {
        roots
            .add(certificate.clone())
            .map_err(|error| format!("truststore certificate: {error}"))?;
    }
    Ok(roots)
}

fn server_verifier(
    roots: RootCertStore,
    verify_hostname: bool,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        crypto_provider(),
    )
    .build()
    .map_err(|error| format!("server certificate verifier: {error}"))?;
    Ok(Arc::new(WorkerServerVerifier {
        inner,
        verify_hostname,
    }))
}

/// The web PKI verifier, with host name checks off when `ssl.endpoint.identification.algorithm`
/// is empty (as Kafka Connect allows): the chain must still lead to a trusted certificate.
#[derive(Debug)]
struct WorkerServerVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    verify_hostname: bool,
}

impl ServerCertVerifier for WorkerServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) if !self.verify_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A connector for tonic channels that speaks TLS (h2 over rustls) to `http://host:port` URIs.
pub fn tls_connector(
    config: Arc<rustls::ClientConfig>,
) -> impl tower::Service<
    axum::http::Uri,
    Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    Error = std::io::Error,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(move |uri: axum::http::Uri| {
        let config = Arc::clone(&config);
        async move {
            let host = uri
                .host()
                .ok_or_else(|| std::io::Error::other("the address has no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let server_name = ServerName::try_from(host)
                .map_err(|error| std::io::Error::other(format!("bad server name: {error}")))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, tcp)
                .await?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        }
    })
}
