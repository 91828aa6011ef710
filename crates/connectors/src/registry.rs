//! THE list of built-in connectors. Adding a connector is one folder plus one line here.

use std::sync::Arc;

use crate::sdk::ConnectorFactory;

/// Every connector factory Ferry ships with.
#[derive(Clone)]
pub struct ConnectorRegistry {
    factories: Vec<Arc<dyn ConnectorFactory>>,
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
            factories: Vec::new(),
        }
    }

    /// Adds a factory.
    pub fn add(&mut self, factory: impl ConnectorFactory) {
        self.factories.push(Arc::new(factory));
    }

    /// Returns every factory, in registration order.
    pub fn factories(&self) -> &[Arc<dyn ConnectorFactory>] {
        &self.factories
    }

    /// Finds the factory for a `connector.class` value: a Java class name, its simple name, the
    /// simple name without the `Connector` suffix, or an alias.
    pub fn find(&self, class: &str) -> Option<Arc<dyn ConnectorFactory>> {
        let class = class.trim();
        self.factories
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
        let Some(version) = config
            .get(crate::sdk::framework::keys::CONNECTOR_PLUGIN_VERSION)
            .map(|version| {
                version
                    .trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .trim()
            })
            .filter(|version| !version.is_empty())
        else {
            return self.find(class);
        };
        let class = class.trim();
        self.factories
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
            .factories
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
        names.push((*class).to_string());
        let simple = class.rsplit('.').next().unwrap_or(class);
        names.push(simple.to_string());
        if let Some(short) = simple.strip_suffix("Connector") {
            names.push(short.to_string());
        }
    }
    names.extend(factory.aliases().iter().map(|alias| (*alias).to_string()));
    names.dedup();
    names
}
