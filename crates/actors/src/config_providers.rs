//! Config providers (KIP-297, KIP-421): `${provider:[path:]key}` placeholders in connector configs,
//! resolved only when a connector is planned or a task starts, with Kafka Connect's worker keys
//! and class names:
//!
//! ```text
//! config.providers=file,dir,env
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.file.param.allowed.paths=/etc/secrets
//! config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.env.param.allowlist.pattern=^DB_.*
//! ```
//!
//! The config topic and every API answer keep the placeholders (KAFKA-5117); resolved values live
//! only in the memory of the task that uses them. A placeholder naming a provider that is not
//! configured stays as it is (as in Kafka Connect: it may be literal text); one naming a
//! configured provider whose file, directory entry or variable is missing fails with an error
//! that names the config key and the placeholder, never the value.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

/// Worker keys of the providers.
pub mod keys {
    /// `config.providers`: the comma-separated provider names.
    pub const CONFIG_PROVIDERS: &str = "config.providers";
    /// `config.providers.<name>.class` and `config.providers.<name>.param.<param>`.
    pub const PREFIX: &str = "config.providers.";
    pub const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
    pub const DIRECTORY_CLASS: &str =
        "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
    pub const ENV_VAR_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
    /// File and directory providers: comma-separated directories the paths must lie in.
    pub const ALLOWED_PATHS: &str = "allowed.paths";
    /// Env var provider: a regular expression every variable name must match.
    pub const ALLOWLIST_PATTERN: &str = "allowlist.pattern";
}

/// A worker's provider settings are invalid (a startup error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value `{value}` for worker config `{key}`: {reason}")]
pub struct ProviderConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

/// A placeholder could not be resolved. The message names the config key and the placeholder,
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve `{placeholder}` in config `{key}`: {reason}")]
pub struct ResolveError {
    pub key: String,
    pub placeholder: String,
    pub reason: String,
    /// True when the file could not be read (it may appear later); false for a config mistake.
    pub retryable: bool,
}

impl From<ResolveError> for ferry_connectors::sdk::ConnectorError {
    fn from(error: ResolveError) -> Self {
        if error.retryable {
            ferry_connectors::sdk::ConnectorError::external(error.to_string())
        } else {
            ferry_connectors::sdk::ConnectorError::user(error.to_string())
        }
    }
}

#[derive(Debug, Clone)]
enum Provider {
    File { allowed_paths: Option<Vec<PathBuf>> },
    Directory { allowed_paths: Option<Vec<PathBuf>> },
    EnvVar { allowlist: Regex },
}

/// The providers a worker configured (none by default).
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
}

fn placeholder_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    // Kafka Connect's ConfigTransformer pattern: ${provider:[path:]key}.
    PATTERN.get_or_init(|| {
        Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("a valid constant pattern")
    })
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ProviderConfigError {
    ProviderConfigError {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl ConfigProviders {
    /// Reads `config.providers` and `config.providers.<name>.*` from the worker's properties.
    ///
    /// # Errors
    /// An unknown provider class, a provider without a class, an unknown parameter, a bad
    /// `allowed.paths` or `allowlist.pattern`, or `config.providers.*` keys of a provider that
    /// `config.providers` does not list.
    pub fn from_worker_properties(
        properties: &BTreeMap<String, String>,
    ) -> Result<Self, ProviderConfigError> {
        let names: Vec<String> = properties
            .get(keys::CONFIG_PROVIDERS)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut providers = BTreeMap::new();
        for name in &names {
            let class_key = format!("{}{name}.class", keys::PREFIX);
            let Some(class) = properties.get(&class_key).map(|class| class.trim()) else {
                return Err(invalid(
                    keys::CONFIG_PROVIDERS,
                    properties
                        .get(keys::CONFIG_PROVIDERS)
                        .map_or("", String::as_str),
                    format!("provider `{name}` has no `{class_key}`"),
                ));
            };
            let param_prefix = format!("{}{name}.param.", keys::PREFIX);
            let params: BTreeMap<&str, &str> = properties
                .iter()
                .filter_map(|(key, value)| {
                    key.strip_prefix(&param_prefix)
                        .map(|param| (param, value.as_str()))
                })
                .collect();
            let provider = build_provider(&class_key, class, &param_prefix, &params)?;
            providers.insert(name.clone(), provider);
        }
        for key in properties.keys() {
            let Some(rest) = key.strip_prefix(keys::PREFIX) else {
                continue;
            };
            let listed = names.iter().any(|name| {
                rest.strip_prefix(name.as_str())
                    .is_some_and(|tail| tail.starts_with('.'))
            });
            if !listed {
                return Err(invalid(
                    key,
                    properties.get(key).map_or("", String::as_str),
                    format!("its provider is not listed in `{}`", keys::CONFIG_PROVIDERS),
                ));
            }
        }
        Ok(ConfigProviders { providers })
    }

    /// Returns true when no provider is configured.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Returns true when `value` holds a placeholder of a configured provider.
    pub fn has_placeholder(&self, value: &str) -> bool {
        placeholder_pattern()
            .captures_iter(value)
            .any(|captures| self.providers.contains_key(&captures[1]))
    }

    /// Resolves every placeholder of a configured provider in `config`.
    ///
    /// # Errors
    /// The first placeholder that cannot be resolved, naming its key.
    pub fn resolve(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ResolveError> {
        if self.providers.is_empty() {
            return Ok(config.clone());
        }
        let mut resolved = BTreeMap::new();
        for (key, value) in config {
            resolved.insert(key.clone(), self.resolve_value(key, value)?);
        }
        Ok(resolved)
    }

    fn resolve_value(&self, key: &str, value: &str) -> Result<String, ResolveError> {
        let mut output = String::with_capacity(value.len());
        let mut last_end = 0;
        for captures in placeholder_pattern().captures_iter(value) {
            let whole = captures.get(0).expect("group 0 always matches");
            let Some(provider) = self.providers.get(&captures[1]) else {
                continue;
            };
            let path = captures.get(2).map(|path| path.as_str());
            let variable = &captures[3];
            let fail = |reason: String, retryable: bool| ResolveError {
                key: key.to_string(),
                placeholder: whole.as_str().to_string(),
                reason,
                retryable,
            };
            let secret = provider
                .lookup(path, variable)
                .map_err(|(reason, retryable)| fail(reason, retryable))?;
            output.push_str(&value[last_end..whole.start()]);
            output.push_str(&secret);
            last_end = whole.end();
        }
        output.push_str(&value[last_end..]);
        Ok(output)
    }
}

fn build_provider(
    class_key: &str,
    class: &str,
    param_prefix: &str,
    params: &BTreeMap<&str, &str>,
) -> Result<Provider, ProviderConfigError> {
    let allowed_params: &[&str] = match class {
        keys::FILE_CLASS | keys::DIRECTORY_CLASS => &[keys::ALLOWED_PATHS],
        keys::ENV_VAR_CLASS => &[keys::ALLOWLIST_PATTERN],
        _ => {
            return Err(invalid(
                class_key,
                class,
                format!(
                    "unknown config provider class; Ferry has {}, {} and {}",
                    keys::FILE_CLASS,
                    keys::DIRECTORY_CLASS,
                    keys::ENV_VAR_CLASS
                ),
            ))
        }
    };
    for (param, value) in params {
        if !allowed_params.contains(param) {
            return Err(invalid(
                &format!("{param_prefix}{param}"),
                value,
                format!("unknown parameter of {class}"),
            ));
        }
    }
    let allowed_paths = || -> Result<Option<Vec<PathBuf>>, ProviderConfigError> {
        let Some(raw) = params.get(keys::ALLOWED_PATHS) else {
            return Ok(None);
        };
        let key = format!("{param_prefix}{}", keys::ALLOWED_PATHS);
        let mut paths = Vec::new();
        for item in raw
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let path = Path::new(item);
            if !path.is_absolute() {
                return Err(invalid(
                    &key,
                    raw,
                    format!("`{item}` is not an absolute path"),
                ));
            }
            paths.push(normalize(path));
        }
        Ok(Some(paths))
    };
    Ok(match class {
        keys::FILE_CLASS => Provider::File {
            allowed_paths: allowed_paths()?,
        },
        keys::DIRECTORY_CLASS => Provider::Directory {
            allowed_paths: allowed_paths()?,
        },
        _ => {
            let raw = params.get(keys::ALLOWLIST_PATTERN).copied().unwrap_or(".*");
            // Java's Matcher.matches(): the whole name must match.
            let allowlist = Regex::new(&format!("^(?:{raw})$")).map_err(|error| {
                invalid(
                    &format!("{param_prefix}{}", keys::ALLOWLIST_PATTERN),
                    raw,
                    format!("not a regular expression: {error}"),
                )
            })?;
            Provider::EnvVar { allowlist }
        }
    })
}

/// Removes `.` and resolves `..` lexically (as Java's `Path.normalize`), so that
/// `/allowed/../etc/passwd` is not taken for a path under `/allowed`.
fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                normalized.pop();
            }
            Component::CurDir => {}
            other => normalized.push(other.as_os_str()),
        }
    }
    normalized
}

fn check_allowed(allowed_opt: Option<&Vec<PathBuf>>, path: &Path) -> Result<PathBuf, String> {
    if !path.is_absolute() {
        return Err(format!("`{}` is not an absolute path", path.display()));
    }
    let normalized = normalize(path);
    if let Some(allowed) = allowed_opt {
        if !allowed.iter().any(|root| normalized.starts_with(root)) {
            return Err(format!(
                "`{}` is not in the provider's allowed.paths",
                path.display()
            ));
        }
    }
    Ok(normalized)
}

impl Provider {
    /// Looks one value up; the error says why (without the value) and whether to retry.
    fn lookup(&self, path_opt: Option<&str>, variable: &str) -> Result<String, (String, bool)> {
        match self {
            Provider::File { allowed_paths } => {
                let path =
                    path_opt.ok_or_else(|| ("expected ${file:<path>:<key>}".to_string(), false))?;
                let path = check_allowed(allowed_paths.as_ref(), Path::new(path))
                    .map_err(|reason| (reason, false))?;
                let file = std::fs::File::open(&path).map_err(|error| {
                    (format!("cannot read `{}`: {error}", path.display()), true)
                })?;
                let properties =
                    java_properties::read(std::io::BufReader::new(file)).map_err(|error| {
                        (format!("cannot parse `{}`: {error}", path.display()), false)
                    })?;
                properties.get(variable).cloned().ok_or_else(|| {
                    (
                        format!("`{}` has no key `{variable}`", path.display()),
                        false,
                    )
                })
            }
            Provider::Directory { allowed_paths } => {
                let directory = path_opt
                    .ok_or_else(|| ("expected ${dir:<directory>:<file>}".to_string(), false))?;
                if variable.contains('/') || variable == ".." || variable == "." {
                    return Err((format!("`{variable}` is not a file name"), false));
                }
                let directory = check_allowed(allowed_paths.as_ref(), Path::new(directory))
                    .map_err(|reason| (reason, false))?;
                let path = directory.join(variable);
                if !path.is_file() {
                    return Err((format!("`{}` is not a regular file", path.display()), true));
                }
                std::fs::read_to_string(&path)
                    .map_err(|error| (format!("cannot read `{}`: {error}", path.display()), true))
            }
            Provider::EnvVar { allowlist } => {
                if path_opt.is_some_and(|path| !path.is_empty()) {
                    return Err(("expected ${env:<VARIABLE>}".to_string(), false));
                }
                if !allowlist.is_match(variable) {
                    return Err((
                        format!("`{variable}` does not match the provider's allowlist.pattern"),
                        false,
                    ));
                }
                std::env::var(variable).map_err(|_| {
                    (
                        format!("environment variable `{variable}` is not set"),
                        false,
                    )
                })
            }
        }
    }
}

/// Puts the raw placeholder values back into task configs generated from a resolved connector
/// config (Kafka Connect's reverse transform): a task config key whose value equals the resolved
/// value of a connector key that held a placeholder gets the placeholder back, so generated task
/// configs are written to the config topic unresolved. A plugin task config's copy of its
/// connector's config (under [`crate::plugin::CONNECTOR_CONFIG_PREFIX`]) gets them back too.
pub fn restore_placeholders(
    raw: &BTreeMap<String, String>,
    resolved: &BTreeMap<String, String>,
    task_config: &mut BTreeMap<String, String>,
) {
    for (key, raw_value) in raw {
        if resolved.get(key) == Some(raw_value) {
            continue;
        }
        let embedded = format!("{}{key}", crate::plugin::CONNECTOR_CONFIG_PREFIX);
        for task_key in [key, &embedded] {
            if let Some(value) = task_config.get_mut(task_key) {
                value.clone_from(raw_value);
            }
        }
    }
}

/// Replaces every resolved secret (values that came from a placeholder) in `text` with
/// `[hidden]`, for error messages built from resolved configs.
pub fn redact_resolved(
    raw: &BTreeMap<String, String>,
    resolved: &BTreeMap<String, String>,
    text: &str,
) -> String {
    let mut redacted = text.to_string();
    for (key, resolved_value) in resolved {
        if raw.get(key) == Some(resolved_value) || resolved_value.is_empty() {
            continue;
        }
        redacted = redacted.replace(resolved_value.as_str(), "[hidden]");
    }
    redacted
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

    fn providers(pairs: &[(&str, &str)]) -> ConfigProviders {
        ConfigProviders::from_worker_properties(&props(pairs)).unwrap()
    }

    #[test]
    fn file_provider_reads_a_properties_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.properties");
        std::fs::write(&file, "db.password=s3cret\nuser = admin\n").unwrap();
        let providers = providers(&[
            ("config.providers", "file"),
            ("config.providers.file.class", keys::FILE_CLASS),
        ]);
        let config = props(&[
            (
                "connection.password",
                &format!("${{file:{}:db.password}}", file.display()),
            ),
            (
                "connection.url",
                &format!("jdbc://${{file:{}:user}}@db", file.display()),
            ),
            ("plain", "no placeholder"),
            ("other", "${vault:secret/x:y}"),
        ]);
        let resolved = providers.resolve(&config).unwrap();
        assert_eq!(resolved["connection.password"], "s3cret");
        assert_eq!(resolved["connection.url"], "jdbc://admin@db");
        assert_eq!(resolved["plain"], "no placeholder");
        assert_eq!(
            resolved["other"], "${vault:secret/x:y}",
            "an unconfigured provider stays"
        );
        assert!(providers.has_placeholder(&config["connection.password"]));
        assert!(!providers.has_placeholder(&config["other"]));
    }

    #[test]
    fn a_missing_key_names_the_config_key_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.properties");
        std::fs::write(&file, "db.password=s3cret\n").unwrap();
        let providers = providers(&[
            ("config.providers", "file"),
            ("config.providers.file.class", keys::FILE_CLASS),
        ]);
        let config = props(&[(
            "connection.password",
            &format!("${{file:{}:nope}}", file.display()),
        )]);
        let error = providers.resolve(&config).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("connection.password"), "{message}");
        assert!(message.contains("nope"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn allowed_paths_refuse_paths_outside_even_through_dot_dot() {
        let allowed = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("s.properties");
        std::fs::write(&secret, "k=v\n").unwrap();
        std::fs::write(allowed.path().join("ok.properties"), "k=fine\n").unwrap();
        let providers = providers(&[
            ("config.providers", "file"),
            ("config.providers.file.class", keys::FILE_CLASS),
            (
                "config.providers.file.param.allowed.paths",
                allowed.path().to_str().unwrap(),
            ),
        ]);
        let sneaky = format!("{}/../{}", allowed.path().display(), secret.display());
        for path in [secret.display().to_string(), sneaky] {
            let error = providers
                .resolve(&props(&[("x", &format!("${{file:{path}:k}}"))]))
                .unwrap_err();
            assert!(error.reason.contains("allowed.paths"), "{error}");
        }
        let ok = providers
            .resolve(&props(&[(
                "x",
                &format!("${{file:{}/ok.properties:k}}", allowed.path().display()),
            )]))
            .unwrap();
        assert_eq!(ok["x"], "fine");
    }

    #[test]
    fn directory_provider_reads_one_file_per_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), "p4ss").unwrap();
        let providers = providers(&[
            ("config.providers", "dir"),
            ("config.providers.dir.class", keys::DIRECTORY_CLASS),
        ]);
        let value = format!("${{dir:{}:password}}", dir.path().display());
        let resolved = providers.resolve(&props(&[("pw", &value)])).unwrap();
        assert_eq!(resolved["pw"], "p4ss");
        let escape = format!("${{dir:{}:../etc}}", dir.path().display());
        assert!(providers.resolve(&props(&[("pw", &escape)])).is_err());
    }

    #[test]
    fn env_provider_honours_the_allowlist() {
        let providers = providers(&[
            ("config.providers", "env"),
            ("config.providers.env.class", keys::ENV_VAR_CLASS),
            ("config.providers.env.param.allowlist.pattern", "PATH|HOME"),
        ]);
        let resolved = providers.resolve(&props(&[("p", "${env:PATH}")])).unwrap();
        assert_eq!(resolved["p"], std::env::var("PATH").unwrap());
        let error = providers
            .resolve(&props(&[("p", "${env:CARGO_PKG_NAME}")]))
            .unwrap_err();
        assert!(error.reason.contains("allowlist.pattern"), "{error}");
        // The pattern matches whole names only, as Java's Matcher.matches().
        assert!(providers.resolve(&props(&[("p", "${env:PATHX}")])).is_err());
    }

    #[test]
    fn bad_provider_settings_name_the_key() {
        let cases = [
            (
                vec![
                    ("config.providers", "x"),
                    ("config.providers.x.class", "com.acme.Vault"),
                ],
                "config.providers.x.class",
            ),
            (vec![("config.providers", "x")], "config.providers"),
            (
                vec![
                    ("config.providers", "env"),
                    ("config.providers.env.class", keys::ENV_VAR_CLASS),
                    ("config.providers.env.param.allowed.paths", "/tmp"),
                ],
                "config.providers.env.param.allowed.paths",
            ),
            (
                vec![("config.providers.file.class", keys::FILE_CLASS)],
                "config.providers.file.class",
            ),
            (
                vec![
                    ("config.providers", "file"),
                    ("config.providers.file.class", keys::FILE_CLASS),
                    ("config.providers.file.param.allowed.paths", "relative/dir"),
                ],
                "config.providers.file.param.allowed.paths",
            ),
            (
                vec![
                    ("config.providers", "env"),
                    ("config.providers.env.class", keys::ENV_VAR_CLASS),
                    ("config.providers.env.param.allowlist.pattern", "(unclosed"),
                ],
                "config.providers.env.param.allowlist.pattern",
            ),
        ];
        for (pairs, key) in cases {
            let error = ConfigProviders::from_worker_properties(&props(&pairs)).unwrap_err();
            assert_eq!(error.key, key, "{error}");
            assert!(error.to_string().contains(key), "{error}");
        }
        let error = ConfigProviders::from_worker_properties(&props(&[
            ("config.providers", "x"),
            ("config.providers.x.class", "com.acme.Vault"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("com.acme.Vault"), "{error}");
    }

    #[test]
    fn restore_and_redact_put_placeholders_back() {
        let raw = props(&[("password", "${env:PW}"), ("topic", "t")]);
        let resolved = props(&[("password", "hunter2"), ("topic", "t")]);
        let mut task = props(&[
            ("password", "hunter2"),
            ("topic", "t"),
            ("task.id", "0"),
            ("ferry.connector.password", "hunter2"),
            ("ferry.connector.topic", "t"),
        ]);
        restore_placeholders(&raw, &resolved, &mut task);
        assert_eq!(task["password"], "${env:PW}");
        assert_eq!(task["topic"], "t");
        // A plugin task's copy of its connector config is written unresolved as well.
        assert_eq!(task["ferry.connector.password"], "${env:PW}");
        assert_eq!(task["ferry.connector.topic"], "t");
        assert_eq!(
            redact_resolved(&raw, &resolved, "bad value hunter2 for password"),
            "bad value [hidden] for password"
        );
    }
}
