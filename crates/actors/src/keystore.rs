//! Trust stores and key stores as Java reads them (`ssl.truststore.*`, `ssl.keystore.*`):
//! JKS, PKCS12 and PEM, decoded in memory into DER certificates and a PKCS#8 private key.
//!
//! Nothing here knows a TLS library: the Kafka clients hand the material to librdkafka as PEM
//! (`ssl.ca.pem`, `ssl.certificate.pem`, `ssl.key.pem`) with the `*_pem` helpers, and a rustls
//! listener can take the DER bytes as they are. Nothing is written to disk, and no error names a
//! password or shows key material.
//!
//! - JKS is read by the `jks` crate (Sun's key protector for private keys, SHA-1 integrity check).
//! - PKCS12 by `p12-keystore` (PBES1 and PBES2 bags, the MAC checked with the store password).
//! - PEM by `pem`; an `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) is opened with `pkcs8`.

use std::path::Path;

use ferry_connectors::sdk::Secret;
use pkcs8::der::Decode;

/// A store format, named as Java's `ssl.truststore.type` / `ssl.keystore.type` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Jks,
    Pkcs12,
    Pem,
}

impl StoreType {
    /// Parses `JKS`, `PKCS12` or `PEM` (case-insensitive, as Java's `KeyStore.getInstance`).
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(name: &str) -> Result<Self, KeystoreError> {
        match name.trim().to_ascii_uppercase().as_str() {
            "JKS" => Ok(StoreType::Jks),
            "PKCS12" => Ok(StoreType::Pkcs12),
            "PEM" => Ok(StoreType::Pem),
            _ => Err(KeystoreError::UnsupportedType(name.to_string())),
        }
    }

    /// Returns the Java name of the format.
    pub fn name(self) -> &'static str {
        match self {
            StoreType::Jks => "JKS",
            StoreType::Pkcs12 => "PKCS12",
            StoreType::Pem => "PEM",
        }
    }
}

/// Why a store could not be read. The text never contains a password or key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    #[error("unsupported store type `{0}` (expected JKS, PKCS12 or PEM)")]
    UnsupportedType(String),
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("cannot open the {store_type} store: {reason}")]
    Invalid {
        store_type: &'static str,
        reason: String,
    },
    #[error("the {store_type} store holds no certificate")]
    NoCertificate { store_type: &'static str },
    #[error("the {store_type} store holds no private key")]
    NoPrivateKey { store_type: &'static str },
    #[error("a {store_type} store needs a password")]
    PasswordRequired { store_type: &'static str },
}

/// A private key with its certificate chain (the entity certificate first), as a client presents
/// it for mutual TLS.
#[derive(Clone)]
pub struct KeyPair {
    /// DER certificates, the entity certificate first.
    pub certificate_chain: Vec<Vec<u8>>,
    /// The private key as PKCS#8 DER.
    pub private_key: Secret<Vec<u8>>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KeyPair")
            .field("certificates", &self.certificate_chain.len())
            .field("private_key", &self.private_key)
            .finish()
    }
}

impl KeyPair {
    /// Returns the certificate chain as concatenated PEM `CERTIFICATE` blocks.
    pub fn certificate_chain_pem(&self) -> String {
        certificates_to_pem(&self.certificate_chain)
    }

    /// Returns the private key as a PEM `PRIVATE KEY` (PKCS#8) block.
    pub fn private_key_pem(&self) -> Secret<String> {
        let block = pem::Pem::new("PRIVATE KEY", self.private_key.expose().clone());
        Secret::new(pem::encode_config(&block, pem_lines()))
    }
}

/// Returns DER certificates as concatenated PEM `CERTIFICATE` blocks.
pub fn certificates_to_pem(certificates: &[Vec<u8>]) -> String {
    let blocks: Vec<pem::Pem> = certificates
        .iter()
        .map(|der| pem::Pem::new("CERTIFICATE", der.clone()))
        .collect();
    pem::encode_many_config(&blocks, pem_lines())
}

/// PEM with `\n` line ends, as `openssl` writes it.
fn pem_lines() -> pem::EncodeConfig {
    pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF)
}

/// Reads a file of a store.
///
/// # Errors
/// The file cannot be read.
pub fn read_store_file(path: &Path) -> Result<Vec<u8>, KeystoreError> {
    std::fs::read(path).map_err(|error| KeystoreError::Unreadable {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

/// Reads the trusted certificates of a trust store.
///
/// JKS and PKCS12 stores are checked with `password`; a PEM store takes none (as in Java).
///
/// # Errors
/// A wrong password, a damaged store, or a store without certificates.
pub fn read_trust_store(
    bytes: &[u8],
    store_type: StoreType,
    password_opt: Option<&Secret<String>>,
) -> Result<Vec<Vec<u8>>, KeystoreError> {
    let certificates = match store_type {
        StoreType::Jks => {
            let store = load_jks(bytes, password_opt)?;
            let mut certificates = Vec::new();
            for alias in sorted_aliases(&store) {
                if let Ok(entry) = store.get_trusted_certificate_entry(&alias) {
                    certificates.push(entry.certificate.content);
                } else if let Ok(chain) = store.get_private_key_entry_certificate_chain(&alias) {
                    certificates.extend(chain.into_iter().map(|certificate| certificate.content));
                }
            }
            certificates
        }
        StoreType::Pkcs12 => {
            let store = load_pkcs12(bytes, password_opt)?;
            let mut certificates = Vec::new();
            for (_alias, entry) in store.entries() {
                match entry {
                    p12_keystore::KeyStoreEntry::Certificate(certificate) => {
                        certificates.push(certificate.as_der().to_vec());
                    }
                    p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) => {
                        certificates.extend(chain.certs().iter().map(|c| c.as_der().to_vec()));
                    }
                    p12_keystore::KeyStoreEntry::Secret(_) => {}
                }
            }
            certificates
        }
        StoreType::Pem => pem_blocks(bytes)?
            .into_iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(pem::Pem::into_contents)
            .collect(),
    };
    if certificates.is_empty() {
        return Err(KeystoreError::NoCertificate {
            store_type: store_type.name(),
        });
    }
    Ok(certificates)
}

/// Reads the private key and its certificate chain from a key store.
///
/// The key is opened with `key_password_opt`, or else with the store password (Java's rule for
/// `ssl.key.password`). A PEM store holds a `PRIVATE KEY` or, with `ssl.key.password`, an
/// `ENCRYPTED PRIVATE KEY` block followed by its certificates. With several keys, the first alias
/// in alphabetical order is used.
///
/// # Errors
/// A wrong password, a damaged store, or a store without a private key or certificate.
pub fn read_key_store(
    bytes: &[u8],
    store_type: StoreType,
    store_password_opt: Option<&Secret<String>>,
    key_password_opt: Option<&Secret<String>>,
) -> Result<KeyPair, KeystoreError> {
    let name = store_type.name();
    let key_pair = match store_type {
        StoreType::Jks => {
            let store = load_jks(bytes, store_password_opt)?;
            let key_password = key_password_opt
                .or(store_password_opt)
                .ok_or(KeystoreError::PasswordRequired { store_type: name })?;
            let alias = sorted_aliases(&store)
                .into_iter()
                .find(|alias| store.is_private_key_entry(alias))
                .ok_or(KeystoreError::NoPrivateKey { store_type: name })?;
            let entry = store
                .get_private_key_entry(&alias, key_password.expose().as_bytes())
                .map_err(|error| invalid(name, &jks_reason(&error)))?;
            KeyPair {
                certificate_chain: entry
                    .certificate_chain
                    .into_iter()
                    .map(|certificate| certificate.content)
                    .collect(),
                private_key: Secret::new(entry.private_key),
            }
        }
        StoreType::Pkcs12 => {
            let store = load_pkcs12(bytes, store_password_opt)?;
            let (_alias, chain) = store
                .private_key_chain()
                .ok_or(KeystoreError::NoPrivateKey { store_type: name })?;
            KeyPair {
                certificate_chain: chain.certs().iter().map(|c| c.as_der().to_vec()).collect(),
                private_key: Secret::new(chain.key().as_der().to_vec()),
            }
        }
        StoreType::Pem => read_pem_key_pair(bytes, key_password_opt)?,
    };
    if key_pair.certificate_chain.is_empty() {
        return Err(KeystoreError::NoCertificate { store_type: name });
    }
    Ok(key_pair)
}

/// Reads a PEM private key (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with `key_password_opt`)
/// and the `CERTIFICATE` blocks, from one text or from two (Java's `ssl.keystore.key` and
/// `ssl.keystore.certificate.chain` can be given separately: concatenate them).
///
/// # Errors
/// No key, a key in another format than PKCS#8, or an encrypted key without its password.
pub fn read_pem_key_pair(
    bytes: &[u8],
    key_password_opt: Option<&Secret<String>>,
) -> Result<KeyPair, KeystoreError> {
    let name = StoreType::Pem.name();
    let mut private_key_opt = None;
    let mut certificate_chain = Vec::new();
    for block in pem_blocks(bytes)? {
        match block.tag() {
            "CERTIFICATE" => certificate_chain.push(block.into_contents()),
            "PRIVATE KEY" if private_key_opt.is_none() => {
                private_key_opt = Some(block.into_contents());
            }
            "ENCRYPTED PRIVATE KEY" if private_key_opt.is_none() => {
                let password =
                    key_password_opt.ok_or(KeystoreError::PasswordRequired { store_type: name })?;
                let encrypted = pkcs8::EncryptedPrivateKeyInfoOwned::from_der(block.contents())
                    .map_err(|error| {
                        invalid(name, &format!("bad encrypted private key: {error}"))
                    })?;
                let document = encrypted
                    .decrypt(password.expose().as_bytes())
                    .map_err(|_| {
                        invalid(
                            name,
                            "cannot decrypt the private key (wrong ssl.key.password?)",
                        )
                    })?;
                private_key_opt = Some(document.as_bytes().to_vec());
            }
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "DSA PRIVATE KEY" => {
                return Err(invalid(
                    name,
                    &format!(
                        "a `{}` block is not PKCS#8; convert it with `openssl pkcs8 -topk8`",
                        block.tag()
                    ),
                ));
            }
            _ => {}
        }
    }
    let private_key = private_key_opt.ok_or(KeystoreError::NoPrivateKey { store_type: name })?;
    Ok(KeyPair {
        certificate_chain,
        private_key: Secret::new(private_key),
    })
}

fn invalid(store_type: &'static str, reason: &str) -> KeystoreError {
    KeystoreError::Invalid {
        store_type,
        reason: reason.to_string(),
    }
}

fn pem_blocks(bytes: &[u8]) -> Result<Vec<pem::Pem>, KeystoreError> {
    pem::parse_many(bytes).map_err(|error| invalid("PEM", &error.to_string()))
}

fn load_jks(
    bytes: &[u8],
    password_opt: Option<&Secret<String>>,
) -> Result<jks::KeyStore, KeystoreError> {
    let name = StoreType::Jks.name();
    let password = password_opt.ok_or(KeystoreError::PasswordRequired { store_type: name })?;
    let mut store = jks::KeyStore::new();
    store
        .load(bytes, password.expose().as_bytes())
        .map_err(|error| invalid(name, &jks_reason(&error)))?;
    Ok(store)
}

fn jks_reason(error: &jks::KeyStoreError) -> String {
    match error {
        jks::KeyStoreError::InvalidDigest => {
            "keystore was tampered with, or password was incorrect".to_string()
        }
        jks::KeyStoreError::InvalidMagic => "not a JKS store".to_string(),
        other => other.to_string(),
    }
}

fn sorted_aliases(store: &jks::KeyStore) -> Vec<String> {
    let mut aliases = store.aliases();
    aliases.sort();
    aliases
}

fn load_pkcs12(
    bytes: &[u8],
    password_opt: Option<&Secret<String>>,
) -> Result<p12_keystore::KeyStore, KeystoreError> {
    let name = StoreType::Pkcs12.name();
    let password = password_opt.map_or("", |password| password.expose().as_str());
    p12_keystore::KeyStore::from_pkcs12(bytes, password, p12_keystore::Pkcs12ImportPolicy::Strict)
        .map_err(|error| {
            let reason = match error {
                p12_keystore::error::Error::MacError(_) => {
                    "keystore password was incorrect".to_string()
                }
                other => other.to_string(),
            };
            invalid(name, &reason)
        })
}

#[cfg(test)]
#[path = "keystore_tests.rs"]
mod tests;
