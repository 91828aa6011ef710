//! THE list of transformations and predicates. Adding one is one module plus one line here.

use crate::sdk::{ConfigDef, ConfigValues};

use super::{
    cast, drop_headers, extract_field, filter, flatten, header_from, hoist_field, insert_field,
    insert_header, mask_field, predicates, regex_router, replace_field, set_schema_metadata,
    timestamp_converter, timestamp_router, value_to_key, BuildError, BuildPredicate,
    BuildTransform, Predicate, Target, Transformation,
};

/// A transformation or a predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Transformation,
    Predicate,
}

impl PluginKind {
    /// Returns `transformation` or `predicate`, as `GET /connector-plugins` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Transformation => "transformation",
            PluginKind::Predicate => "predicate",
        }
    }
}

/// Builds a `$Key`/`$Value` transform for the given side.
type BuildTargeted = fn(&ConfigValues, Target) -> Result<Box<dyn Transformation>, BuildError>;

#[derive(Clone, Copy)]
enum Builder {
    Transform(BuildTransform),
    /// A `$Key`/`$Value` transform: one builder, told which side.
    Targeted(BuildTargeted, Target),
    Predicate(BuildPredicate),
}

/// One transformation or predicate class.
#[derive(Clone, Copy)]
pub struct TransformPlugin {
    /// The Java class name (`org.apache.kafka.connect.transforms.Cast$Value`).
    pub class: &'static str,
    pub kind: PluginKind,
    config_def: fn() -> ConfigDef,
    builder: Builder,
}

impl std::fmt::Debug for TransformPlugin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TransformPlugin")
            .field("class", &self.class)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl TransformPlugin {
    /// Returns the plugin's config keys (Kafka Connect's `config()`).
    pub fn config_def(&self) -> ConfigDef {
        (self.config_def)()
    }

    /// Returns the simple name (`Cast$Value`), also accepted as the class.
    pub fn simple_name(&self) -> &'static str {
        self.class.rsplit('.').next().unwrap_or(self.class)
    }

    /// Validates `props` (unprefixed keys) and builds the transform.
    ///
    /// # Errors
    /// Every config error, each with Kafka Connect's message.
    pub fn build_transform(
        &self,
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<Box<dyn Transformation>, Vec<BuildError>> {
        let values = self.parse(props)?;
        match self.builder {
            Builder::Transform(build) => build(&values).map_err(|error| vec![error]),
            Builder::Targeted(build, target) => build(&values, target).map_err(|error| vec![error]),
            Builder::Predicate(_) => Err(vec![BuildError::general(format!(
                "{} is a predicate, not a transformation",
                self.class
            ))]),
        }
    }

    /// Validates `props` (unprefixed keys) and builds the predicate.
    ///
    /// # Errors
    /// Every config error, each with Kafka Connect's message.
    pub fn build_predicate(
        &self,
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<Box<dyn Predicate>, Vec<BuildError>> {
        let values = self.parse(props)?;
        match self.builder {
            Builder::Predicate(build) => build(&values).map_err(|error| vec![error]),
            Builder::Transform(_) | Builder::Targeted(..) => Err(vec![BuildError::general(
                format!("{} is a transformation, not a predicate", self.class),
            )]),
        }
    }

    fn parse(
        &self,
        props: &std::collections::BTreeMap<String, String>,
    ) -> Result<ConfigValues, Vec<BuildError>> {
        let def = self.config_def();
        let results = def.validate(props);
        let mut errors = Vec::new();
        for result in &results {
            for message in &result.errors {
                errors.push(BuildError::general(message.clone()));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        def.parse(props).map_err(|messages| {
            messages
                .into_iter()
                .map(BuildError::general)
                .collect::<Vec<_>>()
        })
    }
}

macro_rules! targeted {
    ($plugins:ident, $name:literal, $module:ident) => {
        $plugins.push(TransformPlugin {
            class: concat!("org.apache.kafka.connect.transforms.", $name, "$Key"),
            kind: PluginKind::Transformation,
            config_def: $module::config_def,
            builder: Builder::Targeted($module::build, Target::Key),
        });
        $plugins.push(TransformPlugin {
            class: concat!("org.apache.kafka.connect.transforms.", $name, "$Value"),
            kind: PluginKind::Transformation,
            config_def: $module::config_def,
            builder: Builder::Targeted($module::build, Target::Value),
        });
    };
}

fn single(
    class: &'static str,
    config_def: fn() -> ConfigDef,
    build: BuildTransform,
) -> TransformPlugin {
    TransformPlugin {
        class,
        kind: PluginKind::Transformation,
        config_def,
        builder: Builder::Transform(build),
    }
}

fn predicate(
    class: &'static str,
    config_def: fn() -> ConfigDef,
    build: BuildPredicate,
) -> TransformPlugin {
    TransformPlugin {
        class,
        kind: PluginKind::Predicate,
        config_def,
        builder: Builder::Predicate(build),
    }
}

/// Returns every transformation and predicate, in the order `GET /connector-plugins` lists them.
#[allow(clippy::vec_init_then_push)]
pub fn transform_plugins() -> Vec<TransformPlugin> {
    let mut plugins = Vec::new();
    targeted!(plugins, "Cast", cast);
    plugins.push(single(
        "org.apache.kafka.connect.transforms.DropHeaders",
        drop_headers::config_def,
        drop_headers::build,
    ));
    targeted!(plugins, "ExtractField", extract_field);
    plugins.push(single(
        "org.apache.kafka.connect.transforms.Filter",
        filter::config_def,
        filter::build,
    ));
    targeted!(plugins, "Flatten", flatten);
    targeted!(plugins, "HeaderFrom", header_from);
    targeted!(plugins, "HoistField", hoist_field);
    targeted!(plugins, "InsertField", insert_field);
    plugins.push(single(
        "org.apache.kafka.connect.transforms.InsertHeader",
        insert_header::config_def,
        insert_header::build,
    ));
    targeted!(plugins, "MaskField", mask_field);
    plugins.push(single(
        "org.apache.kafka.connect.transforms.RegexRouter",
        regex_router::config_def,
        regex_router::build,
    ));
    targeted!(plugins, "ReplaceField", replace_field);
    targeted!(plugins, "SetSchemaMetadata", set_schema_metadata);
    targeted!(plugins, "TimestampConverter", timestamp_converter);
    plugins.push(single(
        "org.apache.kafka.connect.transforms.TimestampRouter",
        timestamp_router::config_def,
        timestamp_router::build,
    ));
    plugins.push(single(
        "org.apache.kafka.connect.transforms.ValueToKey",
        value_to_key::config_def,
        value_to_key::build,
    ));
    plugins.push(predicate(
        "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        predicates::has_header_key::config_def,
        predicates::has_header_key::build,
    ));
    plugins.push(predicate(
        "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        predicates::record_is_tombstone::config_def,
        predicates::record_is_tombstone::build,
    ));
    plugins.push(predicate(
        "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        predicates::topic_name_matches::config_def,
        predicates::topic_name_matches::build,
    ));
    plugins
}

/// Finds a plugin of `kind` by its class name or simple name (`RegexRouter`, `Cast$Value`).
pub fn find_plugin(kind: PluginKind, class: &str) -> Option<TransformPlugin> {
    let class = class.trim();
    transform_plugins()
        .into_iter()
        .filter(|plugin| plugin.kind == kind)
        .find(|plugin| plugin.class == class || plugin.simple_name() == class)
}

/// Finds any transformation or predicate by class or simple name.
pub fn find_any_plugin(class: &str) -> Option<TransformPlugin> {
    find_plugin(PluginKind::Transformation, class)
        .or_else(|| find_plugin(PluginKind::Predicate, class))
}

/// Returns up to `limit` class names of `kind` closest to `class` ("did you mean").
pub fn closest_plugin_names(kind: PluginKind, class: &str, limit: usize) -> Vec<String> {
    let wanted = class.trim().to_ascii_lowercase();
    let wanted_simple = wanted.rsplit('.').next().unwrap_or(&wanted).to_string();
    let mut scored: Vec<(f64, &'static str)> = transform_plugins()
        .into_iter()
        .filter(|plugin| plugin.kind == kind)
        .map(|plugin| {
            let full = strsim::jaro_winkler(&wanted, &plugin.class.to_ascii_lowercase());
            let simple =
                strsim::jaro_winkler(&wanted_simple, &plugin.simple_name().to_ascii_lowercase());
            (full.max(simple), plugin.class)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(limit)
        .map(|(_, class)| class.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGE: &str = "org.apache.kafka.connect.transforms.";

    #[test]
    fn registry_lists_every_kafka_connect_4_3_1_transform_and_predicate() {
        let plugins = transform_plugins();
        let transforms = plugins
            .iter()
            .filter(|p| p.kind == PluginKind::Transformation)
            .count();
        let predicates = plugins
            .iter()
            .filter(|p| p.kind == PluginKind::Predicate)
            .count();
        // 10 with $Key/$Value variants (20 classes) + 6 single classes.
        assert_eq!(transforms, 26);
        assert_eq!(predicates, 3);
        assert!(plugins.iter().all(|p| p.class.starts_with(PACKAGE)));
        assert!(find_plugin(PluginKind::Transformation, "RegexRouter").is_some());
        assert!(find_plugin(PluginKind::Transformation, "Cast$Value").is_some());
        assert!(find_plugin(PluginKind::Predicate, "RegexRouter").is_none());
        assert_eq!(
            closest_plugin_names(PluginKind::Transformation, "RegexRoutr", 1),
            vec!["org.apache.kafka.connect.transforms.RegexRouter"]
        );
    }
}
