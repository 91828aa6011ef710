//! Who may call the API: HTTP Basic credentials checked as Kafka Connect's
//! `BasicAuthSecurityRestExtension` with `PropertyFileLoginModule` checks them, and Ferry's bearer
//! tokens. One middleware guards REST and gRPC alike (gRPC reads the same `authorization`
//! metadata and gets `UNAUTHENTICATED`).
//!
//! Like Kafka Connect's filter, which skips its internal (signed) endpoints, worker-to-worker
//! calls (`ferry.v1.WorkerService`) are not checked here: they carry a session-key signature,
//! verified by the handler. Every other path, `/health` included, needs credentials: Kafka
//! Connect 4.3's `JaasBasicAuthFilter` exempts nothing else, so a probe that works against a
//! secured Kafka Connect (one that sends credentials) works against Ferry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::AuthSettings;
use crate::http::ApiError;

/// The JAAS entry Kafka Connect's extension reads.
const JAAS_ENTRY: &str = "KafkaConnect";
/// The only login module Ferry implements.
const PROPERTY_FILE_LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";
/// Kafka Connect's message for a request that fails authentication.
pub const UNAUTHORIZED_MESSAGE: &str = "User cannot access the resource.";
/// gRPC path prefix of worker-to-worker calls (authenticated by session-key signatures).
const INTERNAL_GRPC_PREFIX: &str = "/ferry.v1.WorkerService/";

/// Returns the `file=` option of the `PropertyFileLoginModule` in the JAAS file's `KafkaConnect`
/// entry.
///
/// # Errors
/// The file cannot be read, has no `KafkaConnect` entry, uses another login module, or the
/// module has no `file` option.
pub fn credentials_file_from_jaas(jaas_path: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(jaas_path)
        .map_err(|error| format!("cannot read the JAAS file {}: {error}", jaas_path.display()))?;
    let entries = parse_jaas(&text)
        .map_err(|reason| format!("JAAS file {}: {reason}", jaas_path.display()))?;
    let modules = entries.get(JAAS_ENTRY).ok_or_else(|| {
        format!(
            "JAAS file {} has no `{JAAS_ENTRY}` entry",
            jaas_path.display()
        )
    })?;
    let [module] = modules.as_slice() else {
        return Err(format!(
            "the `{JAAS_ENTRY}` entry of {} must hold exactly one login module ({PROPERTY_FILE_LOGIN_MODULE})",
            jaas_path.display()
        ));
    };
    if module.class != PROPERTY_FILE_LOGIN_MODULE {
        return Err(format!(
            "login module `{}` is not supported; Ferry has {PROPERTY_FILE_LOGIN_MODULE}",
            module.class
        ));
    }
    let file = module
        .options
        .get("file")
        .filter(|file| !file.trim().is_empty())
        .ok_or_else(|| "Property Credentials file must be specified (option `file`)".to_string())?;
    Ok(PathBuf::from(file))
}

/// One login module line of a JAAS entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoginModule {
    class: String,
    flag: String,
    options: BTreeMap<String, String>,
}

/// Parses a JAAS configuration file: `Name { class flag key="value" ...; ... };`, with `//` and
/// `/* */` comments.
fn parse_jaas(text: &str) -> Result<BTreeMap<String, Vec<LoginModule>>, String> {
    let tokens = jaas_tokens(text)?;
    let mut entries = BTreeMap::new();
    let mut index = 0;
    let next = |index: &mut usize| -> Option<String> {
        let token = tokens.get(*index).cloned();
        *index += 1;
        token
    };
    while index < tokens.len() {
        let name = next(&mut index).ok_or("unexpected end")?;
        if next(&mut index).as_deref() != Some("{") {
            return Err(format!("expected `{{` after `{name}`"));
        }
        let mut modules = Vec::new();
        loop {
            let token = next(&mut index).ok_or_else(|| format!("entry `{name}` is not closed"))?;
            if token == "}" {
                break;
            }
            let class = token;
            let flag = next(&mut index).ok_or_else(|| format!("`{class}` has no control flag"))?;
            if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
                return Err(format!(
                    "`{flag}` is not a JAAS control flag (after `{class}`)"
                ));
            }
            let mut options = BTreeMap::new();
            loop {
                let token =
                    next(&mut index).ok_or_else(|| format!("`{class}` is not ended by `;`"))?;
                if token == ";" {
                    break;
                }
                if next(&mut index).as_deref() != Some("=") {
                    return Err(format!("option `{token}` of `{class}` has no `=`"));
                }
                let value =
                    next(&mut index).ok_or_else(|| format!("option `{token}` has no value"))?;
                options.insert(token, value);
            }
            modules.push(LoginModule {
                class,
                flag,
                options,
            });
        }
        if tokens.get(index).map(String::as_str) == Some(";") {
            index += 1;
        }
        entries.insert(name, modules);
    }
    Ok(entries)
}

fn jaas_tokens(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let current = chars[index];
        if current.is_whitespace() {
            index += 1;
        } else if current == '/' && chars.get(index + 1) == Some(&'/') {
            while index < chars.len() && chars[index] != '\n' {
                index += 1;
            }
        } else if current == '/' && chars.get(index + 1) == Some(&'*') {
            index += 2;
            while index + 1 < chars.len() && !(chars[index] == '*' && chars[index + 1] == '/') {
                index += 1;
            }
            index += 2;
        } else if matches!(current, '{' | '}' | ';' | '=') {
            tokens.push(current.to_string());
            index += 1;
        } else if current == '"' {
            let mut value = String::new();
            index += 1;
            loop {
                match chars.get(index) {
                    None => return Err("unterminated quoted value".into()),
                    Some('"') => break,
                    Some('\\') if chars.get(index + 1).is_some() => {
                        value.push(chars[index + 1]);
                        index += 2;
                        continue;
                    }
                    Some(other) => value.push(*other),
                }
                index += 1;
            }
            index += 1;
            tokens.push(value);
        } else {
            let start = index;
            while index < chars.len()
                && !chars[index].is_whitespace()
                && !matches!(chars[index], '{' | '}' | ';' | '=' | '"')
            {
                index += 1;
            }
            tokens.push(chars[start..index].iter().collect());
        }
    }
    Ok(tokens)
}

/// Checks credentials. Built once at start-up (Kafka Connect too reads its credentials file
/// once).
#[derive(Default)]
pub struct Authenticator {
    /// `user -> password`, when the BasicAuth extension is on.
    basic_opt: Option<BTreeMap<String, String>>,
    /// `token -> principal`.
    tokens: Vec<(String, String)>,
    enabled: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("basic_users", &self.basic_opt.as_ref().map(BTreeMap::len))
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl Authenticator {
    /// Reads the credentials and token files.
    ///
    /// # Errors
    /// A file that cannot be read or parsed.
    pub fn load(settings: &AuthSettings) -> Result<Self, String> {
        let basic_opt = match &settings.basic_credentials_file_opt {
            Some(path) => {
                let users = read_properties(path).map_err(|reason| {
                    format!("Error loading Property Credentials file: {reason}")
                })?;
                if users.is_empty() {
                    // Kafka Connect's PropertyFileLoginModule permits every request then.
                    tracing::warn!(file = %path.display(), "credential properties file is empty; all requests will be permitted");
                }
                Some(users)
            }
            None => None,
        };
        let mut tokens = Vec::new();
        if let Some(path) = &settings.tokens_file_opt {
            let entries = read_properties(path).map_err(|reason| {
                format!(
                    "cannot load `{}`: {reason}",
                    super::keys::REST_AUTH_TOKENS_FILE
                )
            })?;
            for (principal, token) in entries {
                if token.trim().is_empty() {
                    return Err(format!(
                        "`{}` {}: the token of `{principal}` is empty",
                        super::keys::REST_AUTH_TOKENS_FILE,
                        path.display()
                    ));
                }
                tokens.push((token.trim().to_string(), principal));
            }
        }
        Ok(Authenticator {
            basic_opt,
            tokens,
            enabled: settings.enabled(),
        })
    }

    /// Returns true when requests must carry credentials.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Returns the principal the `authorization` header proves, or `None`.
    pub fn authenticate(&self, authorization_opt: Option<&str>) -> Option<String> {
        if !self.enabled {
            return Some(String::new());
        }
        if self.basic_opt.as_ref().is_some_and(BTreeMap::is_empty) {
            return Some(String::new());
        }
        let authorization = authorization_opt?.trim();
        let (scheme, credentials) = authorization.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("basic") {
            let users = self.basic_opt.as_ref()?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials.trim())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':')?;
            if user.is_empty() {
                return None;
            }
            let expected = users.get(user)?;
            return constant_time_eq(expected.as_bytes(), password.as_bytes())
                .then(|| user.to_string());
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            let presented = credentials.trim();
            let mut found = None;
            for (token, principal) in &self.tokens {
                if constant_time_eq(token.as_bytes(), presented.as_bytes()) {
                    found = Some(principal.clone());
                }
            }
            return found;
        }
        None
    }
}

fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let file = std::fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let properties = java_properties::read(std::io::BufReader::new(file))
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(properties.into_iter().collect())
}

/// Compares without an early exit, so the time taken does not tell how much of a secret matched.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// Axum middleware: refuses requests without valid credentials (401 with Kafka Connect's message
/// in the error body on REST; `UNAUTHENTICATED` on gRPC).
pub async fn require_credentials(
    State(authenticator): State<Arc<Authenticator>>,
    request: Request,
    next: Next,
) -> Response {
    if !authenticator.enabled() || request.uri().path().starts_with(INTERNAL_GRPC_PREFIX) {
        return next.run(request).await;
    }
    let authorization_opt = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if authenticator.authenticate(authorization_opt).is_some() {
        return next.run(request).await;
    }
    // Debug, not warn: a mistyped password is not the operator's problem (Kafka Connect too).
    tracing::debug!(path = %request.uri().path(), "request failed authentication");
    if crate::http::is_grpc(&request) {
        return tonic::Status::unauthenticated(UNAUTHORIZED_MESSAGE)
            .into_http::<axum::body::Body>()
            .into_response();
    }
    ApiError::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED_MESSAGE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAAS: &str = r#"
        // Kafka Connect's sample
        KafkaConnect {
            org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
            file="/mnt/secret/credentials.properties";
        };
        /* another application */
        KafkaServer { org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b"; };
    "#;

    #[test]
    fn reads_kafka_connects_jaas_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect_jaas.conf");
        std::fs::write(&path, JAAS).unwrap();
        assert_eq!(
            credentials_file_from_jaas(&path).unwrap(),
            PathBuf::from("/mnt/secret/credentials.properties")
        );
        let entries = parse_jaas(JAAS).unwrap();
        assert_eq!(entries["KafkaServer"][0].options["password"], "b");
        assert_eq!(entries["KafkaConnect"][0].flag, "required");
    }

    #[test]
    fn other_login_modules_and_missing_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jaas.conf");
        std::fs::write(
            &path,
            "KafkaConnect { com.acme.LdapLoginModule required url=\"x\"; };",
        )
        .unwrap();
        let error = credentials_file_from_jaas(&path).unwrap_err();
        assert!(error.contains("com.acme.LdapLoginModule"), "{error}");
        std::fs::write(&path, "Other { a required; };").unwrap();
        assert!(credentials_file_from_jaas(&path)
            .unwrap_err()
            .contains("KafkaConnect"));
        std::fs::write(&path, "KafkaConnect { a required").unwrap();
        assert!(credentials_file_from_jaas(&path).is_err());
    }

    fn authenticator(users: &str, tokens: &str) -> Authenticator {
        let dir = tempfile::tempdir().unwrap();
        let users_path = dir.path().join("users.properties");
        let tokens_path = dir.path().join("tokens.properties");
        std::fs::write(&users_path, users).unwrap();
        std::fs::write(&tokens_path, tokens).unwrap();
        Authenticator::load(&AuthSettings {
            basic_credentials_file_opt: Some(users_path),
            tokens_file_opt: (!tokens.is_empty()).then_some(tokens_path),
        })
        .unwrap()
    }

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn checks_basic_credentials_and_tokens() {
        let auth = authenticator("alice: wonder:land\nbob=builder\n", "ci-robot=t0ken-1\n");
        assert_eq!(
            auth.authenticate(Some(&basic("alice", "wonder:land")))
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            auth.authenticate(Some(&basic("bob", "builder"))).as_deref(),
            Some("bob")
        );
        assert_eq!(
            auth.authenticate(Some("basic Ym9iOmJ1aWxkZXI=")).as_deref(),
            Some("bob")
        );
        assert_eq!(
            auth.authenticate(Some("Bearer t0ken-1")).as_deref(),
            Some("ci-robot")
        );
        for bad in [
            None,
            Some(basic("bob", "wrong")),
            Some(basic("carol", "builder")),
            Some(basic("", "builder")),
            Some("Basic !!!".to_string()),
            Some("Bearer nope".to_string()),
            Some("Digest x".to_string()),
            Some("Basic".to_string()),
        ] {
            assert_eq!(auth.authenticate(bad.as_deref()), None, "{bad:?}");
        }
    }

    #[test]
    fn an_empty_credentials_file_permits_everything_as_in_kafka_connect() {
        let auth = authenticator("", "");
        assert!(auth.authenticate(None).is_some());
    }
}
