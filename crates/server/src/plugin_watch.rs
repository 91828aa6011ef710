//! Plugins installed while the worker runs: a new plugin location in a `plugin.path` directory
//! is usable within seconds, without a restart (Kafka Connect needs a rolling restart).
//!
//! The watch rescans the `plugin.path` directories every [`RESCAN_INTERVAL`]. A new location
//! is installed once its contents stayed the same over one interval (a jar still being copied
//! is not loaded half-written): a classloader cannot be extended, so the location gets a plugin
//! host process of its own, whose plugin path is a private directory holding one symlink to the
//! location (Kafka Connect follows symlinks); a native plugin location (one with a
//! `ferry-plugin.json` manifest) runs its own executable. Its connectors join the worker's registry after
//! the built-ins and the plugins already there, so the precedence stays the same: a built-in
//! (or an earlier plugin) answers its class name unless `connector.plugin.version` names the
//! new plugin's version. A class and version the registry already has is not added again. The
//! worker then gossips the new classes, so the leader can place work there.
//!
//! A location removed or changed after it was installed stays loaded until the worker restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ferry_actors::plugin::plugin_registry;
use ferry_connectors::ConnectorRegistry;
use ferry_plugin::catalog::plugin_entries;
use ferry_plugin::proto::PluginType;
use ferry_plugin::{PluginHost, PluginHostConfig};
use tokio_util::sync::CancellationToken;

use crate::plugins::{
    native_host_config, other_plugin_infos, plugin_host_dir, plugin_locations, NATIVE_MANIFEST,
};
use crate::service::ConnectService;

/// How often the `plugin.path` directories are rescanned.
pub(crate) const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// What the watch needs, from the worker's properties.
pub(crate) struct PluginWatch {
    pub(crate) plugin_path: String,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) java: String,
    pub(crate) discovery: String,
    /// `plugin.host.jvm.options`, checked.
    pub(crate) jvm_options: Vec<String>,
    /// Locations already served (by the start-up host).
    pub(crate) known: BTreeSet<PathBuf>,
}

/// The plugin hosts started for installed locations, for an orderly shutdown.
#[derive(Clone, Default)]
pub(crate) struct InstalledHosts(Arc<Mutex<Vec<InstalledHost>>>);

/// A host started for an installed location, and the private plugin path it serves (a JVM
/// host's; a native plugin runs from its own directory).
type InstalledHost = (Arc<PluginHost>, Option<tempfile::TempDir>);

impl InstalledHosts {
    fn push(&self, host: Arc<PluginHost>, dir: Option<tempfile::TempDir>) {
        self.lock().push((host, dir));
    }

    /// Stops every installed host (Shutdown → SIGTERM → SIGKILL).
    pub(crate) async fn shutdown(&self) {
        let hosts: Vec<Arc<PluginHost>> = self
            .lock()
            .iter()
            .map(|(host, _)| Arc::clone(host))
            .collect();
        for host in hosts {
            host.shutdown().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<InstalledHost>> {
        self.0
            .lock()
            .expect("installed hosts lock is never poisoned: no panics while held")
    }
}

/// A location's contents: every file under it with its size and modification time.
type Fingerprint = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

fn fingerprint(location: &Path) -> Fingerprint {
    let mut files = BTreeMap::new();
    let mut pending = vec![location.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(children) = std::fs::read_dir(&path) {
                pending.extend(children.flatten().map(|child| child.path()));
            }
        } else {
            files.insert(path, (metadata.len(), metadata.modified().ok()));
        }
    }
    files
}

/// Watches `plugin.path` until `cancel` fires, installing new locations into `registry` and
/// the listing of `service`.
pub(crate) async fn run_plugin_watch(
    mut watch: PluginWatch,
    registry: ConnectorRegistry,
    service: ConnectService,
    hosts: InstalledHosts,
    cancel: CancellationToken,
) {
    let mut settling: BTreeMap<PathBuf, Fingerprint> = BTreeMap::new();
    // Locations that failed to install, with their contents then: tried again only once they
    // change (a broken jar must not relaunch a JVM every few seconds).
    let mut failed: BTreeMap<PathBuf, Fingerprint> = BTreeMap::new();
    let mut interval = tokio::time::interval(RESCAN_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        let path = watch.plugin_path.clone();
        let known = watch.known.clone();
        // Only new locations are read file by file: installed ones are never reloaded.
        let locations = tokio::task::spawn_blocking(move || {
            plugin_locations(&path)
                .into_iter()
                .filter(|location| !known.contains(location))
                .map(|location| {
                    let print = fingerprint(&location);
                    (location, print)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let present: BTreeSet<PathBuf> = locations.iter().map(|(path, _)| path.clone()).collect();
        settling.retain(|location, _| present.contains(location));
        failed.retain(|location, _| present.contains(location));
        for (location, print) in locations {
            if failed.get(&location) == Some(&print) {
                continue;
            }
            let settled = settling.get(&location) == Some(&print) && !print.is_empty();
            if !settled {
                settling.insert(location, print);
                continue;
            }
            settling.remove(&location);
            match install_location(&watch, &location, &registry, &service, &hosts).await {
                Ok(added) => {
                    tracing::info!(location = %location.display(), connectors = added, "plugin location installed without a restart");
                    watch.known.insert(location);
                }
                Err(error) => {
                    tracing::warn!(location = %location.display(), error = %format!("{error:#}"), "failed to install a plugin location; trying again when it changes");
                    failed.insert(location, print);
                }
            }
        }
    }
}

/// Starts a host for `location` and adds what it offers; returns how many connector classes
/// were added.
async fn install_location(
    watch: &PluginWatch,
    location: &Path,
    registry: &ConnectorRegistry,
    service: &ConnectService,
    hosts: &InstalledHosts,
) -> anyhow::Result<usize> {
    use anyhow::Context as _;
    let (config, private_path_opt) = if location.join(NATIVE_MANIFEST).is_file() {
        (native_host_config(location)?, None)
    } else {
        let host_dir = plugin_host_dir(&watch.properties)?;
        let name = location.file_name().map_or_else(
            || "plugin".to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let private_path = tempfile::Builder::new()
            .prefix("ferry-plugin-path-")
            .tempdir()
            .context("failed to create a private plugin path")?;
        std::os::unix::fs::symlink(location, private_path.path().join(&name))
            .context("failed to link the plugin location")?;
        let mut config = PluginHostConfig::jvm(
            &host_dir,
            &watch.java,
            &private_path.path().display().to_string(),
            &watch.discovery,
            &watch.jvm_options,
        );
        config.name = format!("jvm-host-{name}");
        (config, Some(private_path))
    };
    tracing::info!(location = %location.display(), host = %config.name, "starting a plugin host for a new plugin location");
    let host = PluginHost::new(config).context("failed to start the plugin launcher thread")?;
    let described = match host.describe().await {
        Ok(described) => described,
        Err(error) => {
            host.shutdown().await;
            return Err(error.into());
        }
    };
    let known: BTreeSet<(String, String)> = registry
        .factories()
        .iter()
        .flat_map(|factory| {
            factory
                .class_names()
                .iter()
                .map(|class| ((*class).to_string(), factory.version().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let entries: Vec<_> = plugin_entries(&described)
        .into_iter()
        .filter(|entry| !known.contains(&(entry.class_name.clone(), entry.version.clone())))
        .collect();
    for entry in &entries {
        tracing::info!(class = %entry.class_name, r#type = entry.type_name(), version = %entry.version, location = %entry.location, "plugin found");
    }
    let listed: BTreeSet<(String, String)> = service
        .extra_plugins()
        .into_iter()
        .map(|info| (info.class, info.version.unwrap_or_default()))
        .collect();
    let others: Vec<_> = other_plugin_infos(&entries)
        .into_iter()
        .filter(|info| {
            !listed.contains(&(info.class.clone(), info.version.clone().unwrap_or_default()))
        })
        .collect();
    if others.is_empty()
        && !entries
            .iter()
            .any(|entry| matches!(entry.plugin_type, PluginType::Source | PluginType::Sink))
    {
        // Nothing new (no plugins, or only classes the worker already has): no idle host.
        tracing::info!(location = %location.display(), "the new plugin location offers nothing new");
        host.shutdown().await;
        return Ok(0);
    }
    let before = registry.factories().len();
    let _ = plugin_registry(registry.clone(), &host, &entries, &watch.properties);
    let added = registry.factories().len() - before;
    service.set_extra_plugins(others);
    hosts.push(host, private_path_opt);
    Ok(added)
}
