//! JKS and PKCS12 keystores for the https listener. This is the seam where the shared keystore
//! reader of `ferry-actors` plugs in (it also serves the Kafka clients' `ssl.*` keys).

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::tls::StoreType;

/// Reads the private key entry of a JKS or PKCS12 keystore: its certificate chain and PKCS#8 key.
///
/// # Errors
/// A wrong password, a store without a key entry, or a format that cannot be read.
pub(super) fn read_key_entry(
    kind: StoreType,
    bytes: &[u8],
    store_password_opt: Option<&str>,
    key_password_opt: Option<&str>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let _ = (bytes, store_password_opt, key_password_opt);
    Err(format!(
        "{kind:?} keystores are not readable yet; use ssl.keystore.type=PEM"
    ))
}

/// Reads the trusted certificates of a JKS or PKCS12 truststore.
///
/// # Errors
/// A wrong password, no certificate, or a format that cannot be read.
pub(super) fn read_trusted_certificates(
    kind: StoreType,
    bytes: &[u8],
    store_password_opt: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let _ = (bytes, store_password_opt);
    Err(format!(
        "{kind:?} truststores are not readable yet; use ssl.truststore.type=PEM"
    ))
}
