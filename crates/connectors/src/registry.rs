//! THE list of built-in connectors. Adding a connector is one folder plus one line here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::sdk::ConnectorFactory;

/// Every connector factory a worker offers: the built-ins, then its plugins' connectors.
///
/// Clones share one list, so a plugin installed while the worker runs (a new location in
/// `plugin.path`) becomes visible to every holder at once; factories are only ever added.
#[derive(Clone)]
pub struct ConnectorRegistry {
    shared: Arc<SharedFactories>,
}

struct SharedFactories {
    factories: RwLock<Vec<Arc<dyn ConnectorFactory>>>,
    /// Bumped by every addition, so holders can notice (e.g. to gossip the new plugins).
    generation: AtomicU64,
}

/// Returns the registry of built-in connectors.
pub fn builtin_registry() -> ConnectorRegistry {
    let mut registry = ConnectorRegistry::empty();
    registry.add(crate::file::FileStreamSourceFactory);
    registry.add(crate::file::FileStreamSinkFactory);
    registry.add(crate::datagen::DatagenFactory);
    registry.add(crate::elasticsearch::ElasticsearchSinkFactory);
    registry.add(crate::jdbc::JdbcSinkFactory);
    #[cfg(feature = "s3")]
    registry.add(crate::s3::S3SinkFactory);
    registry
}

impl ConnectorRegistry {
    /// Returns a registry with no connectors.
    pub fn empty() -> Self {
        ConnectorRegistry {
            shared: Arc::new(SharedFactories {
                factories: RwLock::new(Vec::new()),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// Adds a factory (after every factory already there: earlier ones win a shared name).
    pub fn add(&mut self, factory: impl ConnectorFactory) {
        self.add_shared(Arc::new(factory));
    }

    /// Adds a factory to this registry and every clone of it.
    pub fn add_shared(&self, factory: Arc<dyn ConnectorFactory>) {
        self.write().push(factory);
        self.shared.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns how many additions the registry has seen.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Relaxed)
    }

    /// Returns every factory, in registration order.
    pub fn factories(&self) -> Vec<Arc<dyn ConnectorFactory>> {
        self.read().clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<dyn ConnectorFactory>>> {
        self.shared
            .factories
            .read()
            .expect("registry lock is never poisoned: no panics while held")
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<dyn ConnectorFactory>>> {
        self.shared
            .factories
            .write()
            .expect("registry lock is never poisoned: no panics while held")
    }

    /// Finds the factory for a `connector.class` value: a Java class name, its simple name, the
    /// simple name without the `Connector` suffix, or an alias.
    pub fn find(&self, class: &str) -> Option<Arc<dyn ConnectorFactory>> {
        let class = class.trim();
        self.read()
            .iter()
            .find(|factory| names_of(factory.as_ref()).iter().any(|name| name == class))
            .cloned()
    }

    /// Finds the factory a connector config selects: its `connector.class`, and when
    /// `connector.plugin.version` is set, the factory of that exact version (KIP-891; a range
    /// `[1.0]` is read as its single version). Without a version the first registered factory
    /// wins, so a built-in takes precedence over a plugin of the same class name.
    pub fn find_for_config(
        &self,
        config: &std::collections::BTreeMap<String, String>,
    ) -> Option<Arc<dyn ConnectorFactory>> {
        let class = config.get(crate::sdk::framework::keys::CONNECTOR_CLASS)?;
        let Some(version) = requested_plugin_version(config) else {
            return self.find(class);
        };
        let class = class.trim();
        self.read()
            .iter()
            .find(|factory| {
                factory.version() == version
                    && names_of(factory.as_ref()).iter().any(|name| name == class)
            })
            .cloned()
    }

    /// Returns up to `limit` known names closest to `class` (for "did you mean" messages).
    pub fn closest_names(&self, class: &str, limit: usize) -> Vec<String> {
        let wanted = class.trim().to_ascii_lowercase();
        let mut scored: Vec<(f64, String)> = self
            .read()
            .iter()
            .flat_map(|factory| names_of(factory.as_ref()))
            .map(|name| {
                (
                    strsim::jaro_winkler(&wanted, &name.to_ascii_lowercase()),
                    name,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.dedup_by(|a, b| a.1 == b.1);
        scored
            .into_iter()
            .take(limit)
            .map(|(_, name)| name)
            .collect()
    }
}

/// Every name a factory answers to.
pub fn names_of(factory: &dyn ConnectorFactory) -> Vec<String> {
    let mut names = Vec::new();
    for class in factory.class_names() {
        names.extend(class_name_forms(class).into_iter().map(str::to_string));
    }
    names.extend(factory.aliases().iter().map(|alias| (*alias).to_string()));
    names.dedup();
    names
}

/// The names a connector class answers to, as Kafka Connect resolves `connector.class`: the
/// full class name, the simple name, and the simple name without its `Connector` suffix.
pub fn class_name_forms(class: &str) -> Vec<&str> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    let mut forms = vec![class, simple];
    forms.extend(simple.strip_suffix("Connector"));
    forms.dedup();
    forms
}

/// The plugin version a connector config selects (`connector.plugin.version`, KIP-891; a range
/// `[1.0]` is read as its single version), if any.
pub fn requested_plugin_version(
    config: &std::collections::BTreeMap<String, String>,
) -> Option<&str> {
    config
        .get(crate::sdk::framework::keys::CONNECTOR_PLUGIN_VERSION)
        .map(|version| {
            version
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
        })
        .filter(|version| !version.is_empty())
}
