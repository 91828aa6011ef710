//! The worker's plugins: Kafka Connect's `plugin.path`, served by the JVM plugin host.
//!
//! At start-up, when `plugin.path` names at least one plugin location, the worker launches its
//! plugin host (one process per worker), asks it what it offers, and adds a connector factory
//! for every connector class to the built-in registry (built-ins first: see
//! `ConnectorRegistry::find_for_config` for the precedence). Without `plugin.path` no host runs.
//!
//! A location holding a [`NATIVE_MANIFEST`] is a native plugin: its own executable, speaking
//! the same protocol, started once per worker (no JVM needed for it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use ferry_actors::plugin::plugin_registry;
use ferry_connectors::{builtin_registry, ConnectorRegistry};
use ferry_plugin::catalog::{plugin_entries, PluginEntry};
use ferry_plugin::proto::PluginType;
use ferry_plugin::{PluginHost, PluginHostConfig};

use crate::service::types::PluginInfo;

/// Worker keys for plugins.
pub mod keys {
    /// Kafka Connect's: a comma list of directories whose children are plugin locations.
    pub const PLUGIN_PATH: &str = "plugin.path";
    /// Kafka Connect's (KIP-898): only_scan, hybrid_warn (default), hybrid_fail, service_load.
    pub const PLUGIN_DISCOVERY: &str = "plugin.discovery";
    /// Ferry's: the directory `scripts/build-plugin-host.sh` printed.
    pub const PLUGIN_HOST_DIR: &str = "plugin.host.dir";
    /// Ferry's: the `java` (17+) that runs the plugin host.
    pub const PLUGIN_HOST_JAVA: &str = "plugin.host.java";
    /// Ferry's: extra JVM options for the plugin host, after its defaults.
    pub const PLUGIN_HOST_JVM_OPTIONS: &str = ferry_plugin::JVM_OPTIONS_KEY;
}

/// The manifest of a native plugin location: `{"name": "...", "command": ["./plugin", ...]}`
/// (a relative program is relative to the location).
pub const NATIVE_MANIFEST: &str = "ferry-plugin.json";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeManifest {
    name: String,
    command: Vec<String>,
}

const DISCOVERY_MODES: [&str; 4] = ["only_scan", "hybrid_warn", "hybrid_fail", "service_load"];
const HOST_DIR_ENV: &str = "FERRY_PLUGIN_HOST_DIR";

/// The registry to serve, and the plugin host behind its plugin connectors.
pub(crate) struct WorkerPlugins {
    pub(crate) registry: ConnectorRegistry,
    pub(crate) host_opt: Option<Arc<PluginHost>>,
    /// One process per native plugin location.
    pub(crate) native_hosts: Vec<Arc<PluginHost>>,
    /// Converters, transforms and predicates from `plugin.path`, for the plugin listing.
    pub(crate) other_plugins: Vec<PluginInfo>,
    /// What the watch for plugins installed later needs; `None` without `plugin.path`.
    pub(crate) watch_opt: Option<crate::plugin_watch::PluginWatch>,
}

/// Starts the plugin host when `plugin.path` has plugin locations, and builds the registry.
///
/// # Errors
/// A bad plugin key (named), a missing plugin host build, or a host that does not start.
pub(crate) async fn start_plugins(
    properties: &BTreeMap<String, String>,
) -> anyhow::Result<WorkerPlugins> {
    let locations = plugin_locations(properties.get(keys::PLUGIN_PATH).map_or("", String::as_str));
    let discovery = properties
        .get(keys::PLUGIN_DISCOVERY)
        .map_or("hybrid_warn", |value| value.trim());
    let discovery = discovery.to_ascii_lowercase();
    if !DISCOVERY_MODES.contains(&discovery.as_str()) {
        anyhow::bail!(
            "invalid value `{discovery}` for worker config `{}`: expected one of {}",
            keys::PLUGIN_DISCOVERY,
            DISCOVERY_MODES.join(", ")
        );
    }
    let java = properties
        .get(keys::PLUGIN_HOST_JAVA)
        .map_or_else(default_java, |java| java.trim().to_string());
    let jvm_options = ferry_plugin::parse_jvm_options(
        properties
            .get(keys::PLUGIN_HOST_JVM_OPTIONS)
            .map_or("", String::as_str),
    )
    .map_err(anyhow::Error::msg)?;
    let plugin_path = properties
        .get(keys::PLUGIN_PATH)
        .map_or("", String::as_str)
        .to_string();
    let watch_opt = (!plugin_path.trim().is_empty()).then(|| crate::plugin_watch::PluginWatch {
        plugin_path: plugin_path.clone(),
        properties: properties.clone(),
        java: java.clone(),
        discovery: discovery.clone(),
        jvm_options: jvm_options.clone(),
        known: locations.iter().cloned().collect(),
    });
    let (native, jars): (Vec<PathBuf>, Vec<PathBuf>) = locations
        .into_iter()
        .partition(|location| location.join(NATIVE_MANIFEST).is_file());
    let mut plugins = WorkerPlugins {
        registry: builtin_registry(),
        host_opt: None,
        native_hosts: Vec::new(),
        other_plugins: Vec::new(),
        watch_opt,
    };
    for location in &native {
        let host = PluginHost::new(native_host_config(location)?)
            .context("failed to start the plugin launcher thread")?;
        let entries = plugin_entries(&host.describe().await?);
        for entry in &entries {
            tracing::info!(class = %entry.class_name, r#type = entry.type_name(), version = %entry.version, location = %location.display(), "native plugin found");
        }
        plugins.registry = plugin_registry(plugins.registry, &host, &entries, properties);
        plugins.other_plugins.extend(other_plugin_infos(&entries));
        plugins.native_hosts.push(host);
    }
    if jars.is_empty() {
        return Ok(plugins);
    }
    let host_dir = plugin_host_dir(properties)?;
    tracing::info!(plugin_path = %plugin_path, locations = jars.len(), host = %host_dir.display(), "starting the plugin host");
    let host = PluginHost::new(PluginHostConfig::jvm(
        &host_dir,
        &java,
        &plugin_path,
        &discovery,
        &jvm_options,
    ))
    .context("failed to start the plugin launcher thread")?;
    let described = host.describe().await?;
    let entries = plugin_entries(&described);
    for entry in &entries {
        tracing::info!(class = %entry.class_name, r#type = entry.type_name(), version = %entry.version, location = %entry.location, "plugin found");
    }
    plugins.registry = plugin_registry(plugins.registry, &host, &entries, properties);
    plugins.other_plugins.extend(other_plugin_infos(&entries));
    plugins.host_opt = Some(host);
    Ok(plugins)
}

/// How to run the native plugin in `location`, from its manifest.
pub(crate) fn native_host_config(location: &Path) -> anyhow::Result<PluginHostConfig> {
    let path = location.join(NATIVE_MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let manifest: NativeManifest = serde_json::from_str(&text)
        .with_context(|| format!("invalid native plugin manifest {}", path.display()))?;
    let Some(program) = manifest.command.first() else {
        anyhow::bail!(
            "native plugin manifest {}: `command` is empty",
            path.display()
        );
    };
    let program_path = Path::new(program);
    let program = if program_path.is_relative() && program.contains('/') {
        location.join(program_path).display().to_string()
    } else {
        program.clone()
    };
    let mut command = vec![program];
    command.extend(manifest.command.iter().skip(1).cloned());
    Ok(PluginHostConfig::native(&manifest.name, command))
}

pub(crate) fn other_plugin_infos(entries: &[PluginEntry]) -> Vec<PluginInfo> {
    entries
        .iter()
        .filter(|entry| !matches!(entry.plugin_type, PluginType::Source | PluginType::Sink))
        .map(|entry| PluginInfo {
            class: entry.class_name.clone(),
            plugin_type: entry.type_name().to_string(),
            version: Some(entry.version.clone()),
        })
        .collect()
}

/// The plugin locations of a `plugin.path` value: every child of every listed directory
/// (Kafka Connect's meaning). A directory that cannot be read is logged and skipped, as Kafka
/// Connect does.
pub(crate) fn plugin_locations(plugin_path: &str) -> Vec<PathBuf> {
    let mut locations = Vec::new();
    for dir in plugin_path
        .split(',')
        .map(str::trim)
        .filter(|dir| !dir.is_empty())
    {
        match std::fs::read_dir(dir) {
            Ok(children) => {
                for child in children.flatten() {
                    let is_hidden = child.file_name().to_string_lossy().starts_with('.');
                    if !is_hidden {
                        locations.push(child.path());
                    }
                }
            }
            Err(error) => {
                tracing::warn!(dir, %error, "skipping a plugin.path directory that cannot be read");
            }
        }
    }
    locations.sort();
    locations
}

pub(crate) fn plugin_host_dir(properties: &BTreeMap<String, String>) -> anyhow::Result<PathBuf> {
    let configured = properties
        .get(keys::PLUGIN_HOST_DIR)
        .map(|dir| PathBuf::from(dir.trim()))
        .or_else(|| std::env::var_os(HOST_DIR_ENV).map(PathBuf::from));
    let dir = configured.unwrap_or_else(default_host_dir);
    if !dir.join("ferry-plugin-host.jar").is_file() {
        anyhow::bail!(
            "`{}` is set but the plugin host is not built at {}: run scripts/build-plugin-host.sh, or set `{}` to the directory it prints",
            keys::PLUGIN_PATH,
            dir.display(),
            keys::PLUGIN_HOST_DIR
        );
    }
    Ok(dir)
}

fn default_host_dir() -> PathBuf {
    let cache = std::env::var_os("FERRY_CACHE_DIR").map_or_else(
        || {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
                .join(".cache/ferry")
        },
        PathBuf::from,
    );
    cache.join("plugin-host").join("current")
}

fn default_java() -> String {
    std::env::var_os("JAVA_HOME")
        .map(|home| Path::new(&home).join("bin/java"))
        .filter(|java| java.is_file())
        .map_or_else(|| "java".to_string(), |java| java.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_path_children_are_the_locations() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("connect-file")).unwrap();
        std::fs::write(root.path().join("uber.jar"), b"").unwrap();
        std::fs::write(root.path().join(".complete"), b"").unwrap();
        let path = format!("{}, /nonexistent/ferry-plugins", root.path().display());
        let locations = plugin_locations(&path);
        assert_eq!(
            locations,
            vec![
                root.path().join("connect-file"),
                root.path().join("uber.jar")
            ]
        );
        assert!(plugin_locations("").is_empty());
    }

    #[tokio::test]
    async fn a_bad_discovery_mode_is_refused_by_name() {
        let properties: BTreeMap<String, String> =
            [(keys::PLUGIN_DISCOVERY.to_string(), "scan_all".to_string())].into();
        let Err(error) = start_plugins(&properties).await else {
            panic!("scan_all must be refused");
        };
        assert!(error.to_string().contains("plugin.discovery"), "{error}");
    }

    #[tokio::test]
    async fn bad_jvm_options_are_refused_by_name() {
        for (value, why) in [
            ("-Xmx512m Xms16m", "is not a JVM option"),
            ("-cp /tmp/other.jar", "class path or main class"),
            ("-jar x.jar", "class path or main class"),
        ] {
            let properties: BTreeMap<String, String> =
                [(keys::PLUGIN_HOST_JVM_OPTIONS.to_string(), value.to_string())].into();
            let Err(error) = start_plugins(&properties).await else {
                panic!("`{value}` must be refused");
            };
            let message = error.to_string();
            assert!(message.contains("plugin.host.jvm.options"), "{message}");
            assert!(message.contains(why), "{message}");
        }
        assert_eq!(
            ferry_plugin::parse_jvm_options("  -Xmx512m\t-XX:+UseG1GC -Dkey=a=b ").unwrap(),
            vec!["-Xmx512m", "-XX:+UseG1GC", "-Dkey=a=b"]
        );
        assert!(ferry_plugin::parse_jvm_options("").unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_missing_host_build_is_a_clear_error() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("some-plugin")).unwrap();
        let properties: BTreeMap<String, String> = [
            (
                keys::PLUGIN_PATH.to_string(),
                root.path().display().to_string(),
            ),
            (
                keys::PLUGIN_HOST_DIR.to_string(),
                "/nonexistent/ferry-host".to_string(),
            ),
        ]
        .into();
        let Err(error) = start_plugins(&properties).await else {
            panic!("a missing host must be refused");
        };
        assert!(
            error.to_string().contains("build-plugin-host.sh"),
            "{error}"
        );
    }
}
