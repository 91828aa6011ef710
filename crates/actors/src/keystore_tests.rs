//! Stores made by `openssl` and `keytool` (as an operator makes them), read back and compared with
//! what `openssl` says they contain.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::*;

const STORE_PASSWORD: &str = "store-secret";
const KEY_PASSWORD: &str = "key-secret";
const TRUST_PASSWORD: &str = "trust-secret";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("fixture file exists")
    }
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a client certificate signed by it, and every store an operator would make of them.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let cwd = dir.path();
        let openssl = |args: &[&str]| run("openssl", args, cwd);
        let keytool = |args: &[&str]| run("keytool", args, cwd);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ferry-test-ca",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=ferry-test-client",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.pem",
            "-days",
            "2",
        ]);
        openssl(&["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
        openssl(&[
            "x509",
            "-in",
            "client.pem",
            "-outform",
            "DER",
            "-out",
            "client.der",
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "client.key",
            "-outform",
            "DER",
            "-out",
            "client.key.der",
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "client.key",
            "-passout",
            &format!("pass:{KEY_PASSWORD}"),
            "-out",
            "client.enc.key",
        ]);
        openssl(&[
            "pkcs12",
            "-export",
            "-in",
            "client.pem",
            "-inkey",
            "client.key",
            "-certfile",
            "ca.pem",
            "-name",
            "client",
            "-out",
            "client.p12",
            "-passout",
            &format!("pass:{STORE_PASSWORD}"),
        ]);
        keytool(&[
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            "client.p12",
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            STORE_PASSWORD,
            "-destkeystore",
            "client.jks",
            "-deststoretype",
            "JKS",
            "-deststorepass",
            STORE_PASSWORD,
            "-destkeypass",
            KEY_PASSWORD,
            "-srcalias",
            "client",
            "-destalias",
            "client",
        ]);
        for (file, store_type) in [("trust.jks", "JKS"), ("trust.p12", "PKCS12")] {
            keytool(&[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                file,
                "-storetype",
                store_type,
                "-storepass",
                TRUST_PASSWORD,
            ]);
        }
        let mut bundle = std::fs::read(cwd.join("client.enc.key")).expect("key");
        bundle.extend(std::fs::read(cwd.join("client.pem")).expect("cert"));
        bundle.extend(std::fs::read(cwd.join("ca.pem")).expect("ca"));
        std::fs::write(cwd.join("client-bundle.pem"), bundle).expect("write bundle");
        Fixture { dir }
    })
}

fn secret(value: &str) -> Secret<String> {
    Secret::new(value.to_string())
}

#[test]
fn store_type_names_are_javas() {
    assert_eq!(StoreType::parse("jks"), Ok(StoreType::Jks));
    assert_eq!(StoreType::parse("PKCS12"), Ok(StoreType::Pkcs12));
    assert_eq!(StoreType::parse(" pem "), Ok(StoreType::Pem));
    let error = StoreType::parse("BCFKS").expect_err("not supported");
    assert!(error.to_string().contains("BCFKS"), "{error}");
}

#[test]
fn reads_jks_pkcs12_and_pem_trust_stores() {
    let fixture = fixture();
    let ca = fixture.bytes("ca.der");
    let password = secret(TRUST_PASSWORD);
    let jks = read_trust_store(&fixture.bytes("trust.jks"), StoreType::Jks, Some(&password));
    assert_eq!(jks, Ok(vec![ca.clone()]));
    let pkcs12 = read_trust_store(
        &fixture.bytes("trust.p12"),
        StoreType::Pkcs12,
        Some(&password),
    );
    assert_eq!(pkcs12, Ok(vec![ca.clone()]));
    let pem = read_trust_store(&fixture.bytes("ca.pem"), StoreType::Pem, None);
    assert_eq!(pem, Ok(vec![ca]));
}

#[test]
fn a_wrong_trust_store_password_is_a_clear_error_without_the_password() {
    let fixture = fixture();
    let wrong = secret("not-the-password");
    for (file, store_type) in [
        ("trust.jks", StoreType::Jks),
        ("trust.p12", StoreType::Pkcs12),
    ] {
        let error = read_trust_store(&fixture.bytes(file), store_type, Some(&wrong))
            .expect_err("wrong password");
        let text = error.to_string();
        assert!(text.contains("password"), "{text}");
        assert!(!text.contains("not-the-password"), "{text}");
    }
}

#[test]
fn reads_the_key_pair_of_jks_pkcs12_and_pem_key_stores() {
    let fixture = fixture();
    let expected_chain = vec![fixture.bytes("client.der"), fixture.bytes("ca.der")];
    let expected_key = fixture.bytes("client.key.der");
    let store_password = secret(STORE_PASSWORD);
    let key_password = secret(KEY_PASSWORD);

    let jks = read_key_store(
        &fixture.bytes("client.jks"),
        StoreType::Jks,
        Some(&store_password),
        Some(&key_password),
    )
    .expect("jks key store");
    let pkcs12 = read_key_store(
        &fixture.bytes("client.p12"),
        StoreType::Pkcs12,
        Some(&store_password),
        None,
    )
    .expect("pkcs12 key store");
    let pem = read_key_store(
        &fixture.bytes("client-bundle.pem"),
        StoreType::Pem,
        None,
        Some(&key_password),
    )
    .expect("pem key store");
    for (name, pair) in [("jks", &jks), ("pkcs12", &pkcs12), ("pem", &pem)] {
        assert_eq!(pair.certificate_chain, expected_chain, "{name} chain");
        assert_eq!(pair.private_key.expose(), &expected_key, "{name} key");
    }
}

#[test]
fn a_jks_key_needs_its_own_password_when_it_differs() {
    let fixture = fixture();
    let store_password = secret(STORE_PASSWORD);
    let error = read_key_store(
        &fixture.bytes("client.jks"),
        StoreType::Jks,
        Some(&store_password),
        None,
    )
    .expect_err("the key is protected by ssl.key.password");
    assert!(matches!(error, KeystoreError::Invalid { .. }), "{error}");
    assert!(!error.to_string().contains(STORE_PASSWORD), "{error}");
}

#[test]
fn an_encrypted_pem_key_without_or_with_a_wrong_password_is_refused() {
    let fixture = fixture();
    let bundle = fixture.bytes("client-bundle.pem");
    assert_eq!(
        read_key_store(&bundle, StoreType::Pem, None, None).expect_err("no password"),
        KeystoreError::PasswordRequired { store_type: "PEM" }
    );
    let wrong = secret("wrong");
    let error = read_key_store(&bundle, StoreType::Pem, None, Some(&wrong)).expect_err("wrong");
    assert!(error.to_string().contains("ssl.key.password"), "{error}");
}

#[test]
fn a_store_without_a_key_or_certificate_says_so() {
    let fixture = fixture();
    let password = secret(TRUST_PASSWORD);
    let error = read_key_store(
        &fixture.bytes("trust.jks"),
        StoreType::Jks,
        Some(&password),
        None,
    )
    .expect_err("a trust store has no key");
    assert_eq!(error, KeystoreError::NoPrivateKey { store_type: "JKS" });
    let error = read_trust_store(b"", StoreType::Pem, None).expect_err("empty");
    assert_eq!(error, KeystoreError::NoCertificate { store_type: "PEM" });
}

#[test]
fn pem_output_is_read_back_by_openssl() {
    let fixture = fixture();
    let pair = read_key_store(
        &fixture.bytes("client.p12"),
        StoreType::Pkcs12,
        Some(&secret(STORE_PASSWORD)),
        None,
    )
    .expect("pkcs12 key store");
    let out = tempfile::tempdir().expect("temp dir");
    std::fs::write(out.path().join("chain.pem"), pair.certificate_chain_pem()).expect("write");
    std::fs::write(out.path().join("key.pem"), pair.private_key_pem().expose()).expect("write");
    let public_key = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(out.path())
            .output()
            .expect("openssl runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let from_key = public_key(&["pkey", "-in", "key.pem", "-pubout"]);
    let from_certificate = public_key(&["x509", "-in", "chain.pem", "-noout", "-pubkey"]);
    assert!(!from_key.is_empty());
    assert_eq!(
        from_key, from_certificate,
        "the key matches the entity certificate"
    );
    let subject = public_key(&["x509", "-in", "chain.pem", "-noout", "-subject"]);
    assert!(String::from_utf8_lossy(&subject).contains("ferry-test-client"));
    let trusted = certificates_to_pem(&[fixture.bytes("ca.der")]);
    assert_eq!(
        trusted,
        std::fs::read_to_string(fixture.path("ca.pem")).expect("ca")
    );
}

#[test]
fn debug_output_hides_the_private_key() {
    let fixture = fixture();
    let pair = read_key_store(
        &fixture.bytes("client.p12"),
        StoreType::Pkcs12,
        Some(&secret(STORE_PASSWORD)),
        None,
    )
    .expect("pkcs12 key store");
    let shown = format!("{pair:?}");
    assert!(shown.contains("[hidden]"), "{shown}");
    assert!(!shown.contains("PRIVATE"), "{shown}");
    assert!(!format!("{:?}", pair.private_key_pem()).contains("PRIVATE"));
}
