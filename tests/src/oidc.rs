//! A test-only OAuth 2 token endpoint for the client-credentials grant: it checks a client's id
//! and secret (HTTP Basic, as librdkafka and Kafka's Java client send them) and issues RS256
//! JWTs signed with the secured broker's test key (`certs/oauth-signing.key`, kid
//! `ferry-test`), which the broker's OAUTHBEARER listener validates against its JWKS.
//!
//! It serves plain HTTP ([`TokenEndpoint::start`]) or HTTPS with the secured broker's server
//! certificate (`certs/server.pem`, signed by the test CA `certs/ca.pem`, valid for 127.0.0.1;
//! [`TokenEndpoint::start_https`]). It runs on its own thread and runtime, so it answers
//! whatever the test's runtime is doing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use tokio_rustls::TlsAcceptor;

/// The key id of the broker's JWKS (`scripts/kafka.sh`).
const KEY_ID: &str = "ferry-test";
/// The audience and issuer the broker's listener expects.
const AUDIENCE: &str = "ferry-test-kafka";
const ISSUER: &str = "ferry-test-idp";
const TOKEN_LIFETIME_SECS: u64 = 3600;

#[derive(Default)]
struct Clients {
    /// client id → the secret the identity provider accepts.
    secrets: BTreeMap<String, String>,
    /// The client ids tokens were issued to, in order.
    issued: Vec<String>,
    /// How many requests were refused.
    refused_total: usize,
}

struct EndpointState {
    key: EncodingKey,
    clients: Mutex<Clients>,
    /// TLS connections accepted (a client that does not trust the certificate may close one
    /// after the handshake, without a request).
    tls_connections_total: AtomicUsize,
}

/// A running token endpoint; it stops with the test process.
pub struct TokenEndpoint {
    addr: SocketAddr,
    scheme: &'static str,
    state: Arc<EndpointState>,
}

impl TokenEndpoint {
    /// Starts an HTTP endpoint signing with the key in `certs` (the secured broker's folder).
    ///
    /// # Panics
    /// When the key cannot be read or no port is free.
    pub fn start(certs: &Path) -> Self {
        Self::start_with(certs, None)
    }

    /// Starts an HTTPS endpoint with the certificate the secured broker uses (signed by the test
    /// CA, `certs/ca.pem`, in `truststore.jks`; not by `untrusted-ca.pem`).
    ///
    /// # Panics
    /// When a key or the certificate cannot be read or no port is free.
    pub fn start_https(certs: &Path) -> Self {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(certs.join("server.pem"))
                .expect("the server certificate")
                .collect::<Result<_, _>>()
                .expect("PEM certificates");
        let key = PrivateKeyDer::from_pem_file(certs.join("server.key")).expect("the server key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the key matches the certificate");
        Self::start_with(certs, Some(TlsAcceptor::from(Arc::new(config))))
    }

    fn start_with(certs: &Path, tls_opt: Option<TlsAcceptor>) -> Self {
        let pem = std::fs::read(certs.join("oauth-signing.key")).expect("the JWT signing key");
        let key = EncodingKey::from_rsa_pem(&pem).expect("an RSA private key in PEM");
        let state = Arc::new(EndpointState {
            key,
            clients: Mutex::new(Clients::default()),
            tls_connections_total: AtomicUsize::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("bound");
        let app = Router::new()
            .route("/token", post(issue_token))
            .with_state(state.clone());
        let scheme = if tls_opt.is_some() { "https" } else { "http" };
        let serving_state = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                match tls_opt {
                    None => axum::serve(listener, app)
                        .await
                        .expect("the token endpoint serves"),
                    Some(acceptor) => serve_https(listener, acceptor, app, serving_state).await,
                }
            });
        });
        TokenEndpoint {
            addr,
            scheme,
            state,
        }
    }

    /// Returns the URL of the token endpoint.
    pub fn url(&self) -> String {
        format!("{}://{}/token", self.scheme, self.addr)
    }

    /// Returns how many TLS connections were accepted (always 0 over HTTP).
    pub fn tls_connections_total(&self) -> usize {
        self.state.tls_connections_total.load(Ordering::Relaxed)
    }

    /// Accepts `secret` for `client_id` from now on (registering or rotating a credential).
    pub fn register(&self, client_id: &str, secret: &str) {
        self.clients()
            .secrets
            .insert(client_id.to_string(), secret.to_string());
    }

    /// Returns the client ids tokens were issued to.
    pub fn issued_to(&self) -> Vec<String> {
        self.clients().issued.clone()
    }

    /// Returns how many requests were refused.
    pub fn refused_total(&self) -> usize {
        self.clients().refused_total
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, Clients> {
        self.state
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves each connection over TLS (HTTP/1.1, what librdkafka's libcurl speaks), counting them.
async fn serve_https(
    listener: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    state: Arc<EndpointState>,
) {
    loop {
        let Ok((tcp, _peer)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let state = state.clone();
        state.tls_connections_total.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                .await;
        });
    }
}

/// `Authorization: Basic base64(id:secret)` → (id, secret).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn oauth_error(status: StatusCode, error: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({ "error": error })))
}

async fn issue_token(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let mut clients = state.clients.lock().unwrap_or_else(PoisonError::into_inner);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        clients.refused_total += 1;
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some((client_id, secret)) = basic_credentials(&headers) else {
        clients.refused_total += 1;
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    if clients.secrets.get(&client_id) != Some(&secret) {
        clients.refused_total += 1;
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = json!({
        "sub": client_id,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECS,
        "scope": form.get("scope").cloned().unwrap_or_default(),
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_string());
    let token = jsonwebtoken::encode(&header, &claims, &state.key).expect("RS256 signing");
    clients.issued.push(client_id);
    (
        StatusCode::OK,
        Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME_SECS,
        })),
    )
}
