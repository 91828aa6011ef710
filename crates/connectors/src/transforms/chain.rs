//! A connector's transformation chain, built from its config as Kafka Connect's
//! `ConnectorConfig.transformationStages()` builds it, and the enriched config definition
//! (`transforms.<alias>.*`, `predicates.<alias>.*`) the validate endpoint shows.

use std::collections::{BTreeMap, HashSet};

use crate::sdk::framework::keys;
use crate::sdk::{ConfigDef, ConfigKey, ConfigType, Importance};

use super::registry::{closest_plugin_names, find_plugin, PluginKind, TransformPlugin};
use super::{BuildError, Predicate, TransformError, TransformRecord, Transformation};

/// `transforms.<alias>.predicate`.
pub const PREDICATE: &str = "predicate";
/// `transforms.<alias>.negate`.
pub const NEGATE: &str = "negate";
/// `<prefix>.type`.
pub const TYPE: &str = "type";

/// ReplaceField keys that Kafka Connect 4.0 removed: refused rather than ignored.
const REMOVED_REPLACE_FIELD_KEYS: [(&str, &str); 2] =
    [("blacklist", "exclude"), ("whitelist", "include")];

struct Stage {
    alias: String,
    class: &'static str,
    transform: Box<dyn Transformation>,
    predicate_opt: Option<(Box<dyn Predicate>, bool)>,
}

/// The transforms of one connector, in order.
#[derive(Default)]
pub struct TransformChain {
    stages: Vec<Stage>,
}

impl std::fmt::Debug for TransformChain {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let aliases: Vec<&str> = self.stages.iter().map(|s| s.alias.as_str()).collect();
        formatter
            .debug_struct("TransformChain")
            .field("aliases", &aliases)
            .finish()
    }
}

/// A record failed in one transform of the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transform `{alias}` ({class}) failed: {error}")]
pub struct TransformChainError {
    pub alias: String,
    /// The transform's class name.
    pub class: String,
    pub error: TransformError,
}

impl TransformChain {
    /// Returns a chain that changes nothing.
    pub fn empty() -> Self {
        TransformChain::default()
    }

    /// Returns true when there is no transform.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Builds the chain of a connector config (`transforms`, `transforms.<alias>.*`,
    /// `predicates`, `predicates.<alias>.*`).
    ///
    /// # Errors
    /// Every config problem, each naming its key (the messages of the validate endpoint).
    pub fn from_connector_config(props: &BTreeMap<String, String>) -> Result<Self, Vec<String>> {
        let enriched = enrich(props);
        if !enriched.errors.is_empty() {
            return Err(enriched
                .errors
                .into_iter()
                .map(|(_, message)| message)
                .collect());
        }
        Ok(TransformChain {
            stages: enriched.stages,
        })
    }

    /// Applies every transform in order; `Ok(None)` when one dropped the record.
    ///
    /// # Errors
    /// The first transform that failed, with its alias.
    pub fn apply(
        &self,
        mut record: TransformRecord,
    ) -> Result<Option<TransformRecord>, TransformChainError> {
        for stage in &self.stages {
            if let Some((predicate, negate)) = &stage.predicate_opt {
                if predicate.test(&record) == *negate {
                    continue;
                }
            }
            match stage.transform.apply(record) {
                Ok(Some(next)) => record = next,
                Ok(None) => return Ok(None),
                Err(error) => {
                    return Err(TransformChainError {
                        alias: stage.alias.clone(),
                        class: stage.class.to_string(),
                        error,
                    })
                }
            }
        }
        Ok(Some(record))
    }
}

/// The enriched definition of a connector config's transforms and predicates, the errors of
/// their configs, and (when there is none) the built stages.
pub(crate) struct Enriched {
    pub(crate) def: ConfigDef,
    /// `(key, message)` pairs.
    pub(crate) errors: Vec<(String, String)>,
    stages: Vec<Stage>,
}

impl Enriched {
    /// No transform keys and no errors: for a connector whose plugin runs its chain.
    pub(crate) fn empty() -> Self {
        Enriched {
            def: ConfigDef::new(),
            errors: Vec::new(),
            stages: Vec::new(),
        }
    }
}

/// Returns the transform and predicate keys of `props` (groups `Transforms: <alias>` and
/// `Predicates: <alias>`) with the errors of their values, as Kafka Connect's
/// `ConnectorConfig.enrich` plus the checks its `configure` calls make.
pub(crate) fn enrich(props: &BTreeMap<String, String>) -> Enriched {
    let mut def = ConfigDef::new();
    let mut errors = Vec::new();
    let transform_aliases = aliases(props, keys::TRANSFORMS, &mut errors);
    let predicate_aliases = aliases(props, keys::PREDICATES, &mut errors);

    let mut predicates: BTreeMap<String, (TransformPlugin, BTreeMap<String, String>)> =
        BTreeMap::new();
    for alias in &predicate_aliases {
        let prefix = format!("{}.{alias}.", keys::PREDICATES);
        let group = format!("Predicates: {alias}");
        let type_key = format!("{prefix}{TYPE}");
        def = def.define(
            ConfigKey::new(
                &type_key,
                ConfigType::Class,
                Importance::High,
                &format!("Class for the '{alias}' predicate."),
            )
            .group(&group, 0)
            .display_name(&format!("Predicate type for {alias}")),
        );
        let Some(plugin) = resolve(props, &type_key, PluginKind::Predicate, &mut errors) else {
            continue;
        };
        def = embed(def, &prefix, &group, 1, &plugin.config_def());
        let sub = sub_config(props, &prefix);
        check_plugin_keys(&plugin, &sub, &prefix, &mut errors);
        predicates.insert(alias.clone(), (plugin, sub));
    }

    let mut stages = Vec::new();
    for alias in &transform_aliases {
        let prefix = format!("{}.{alias}.", keys::TRANSFORMS);
        let group = format!("Transforms: {alias}");
        let type_key = format!("{prefix}{TYPE}");
        def = def
            .define(
                ConfigKey::new(
                    &type_key,
                    ConfigType::Class,
                    Importance::High,
                    &format!("Class for the '{alias}' transformation."),
                )
                .group(&group, 0)
                .display_name(&format!("Transformation type for {alias}")),
            )
            .define(
                ConfigKey::new(
                    &format!("{prefix}{PREDICATE}"),
                    ConfigType::String,
                    Importance::Medium,
                    "The alias of a predicate used to determine whether to apply this transformation.",
                )
                .default_null()
                .group(&group, 1),
            )
            .define(
                ConfigKey::new(
                    &format!("{prefix}{NEGATE}"),
                    ConfigType::Boolean,
                    Importance::Medium,
                    "Whether the configured predicate should be negated.",
                )
                .default_value("false")
                .group(&group, 2),
            );
        let negate_key = format!("{prefix}{NEGATE}");
        let predicate_key = format!("{prefix}{PREDICATE}");
        if props.contains_key(&negate_key) && !props.contains_key(&predicate_key) {
            errors.push((
                negate_key.clone(),
                format!("Config '{negate_key}' was provided but there is no config '{predicate_key}' defining a predicate to be negated."),
            ));
        }
        let predicate_alias_opt = props
            .get(&predicate_key)
            .map(|value| value.trim().to_string());
        if let Some(predicate_alias) = &predicate_alias_opt {
            if !predicate_aliases.contains(predicate_alias) {
                errors.push((
                    predicate_key.clone(),
                    format!(
                        "Invalid value {predicate_alias} for configuration {predicate_key}: no predicate with this alias is listed in '{}'",
                        keys::PREDICATES
                    ),
                ));
            }
        }
        let Some(plugin) = resolve(props, &type_key, PluginKind::Transformation, &mut errors)
        else {
            continue;
        };
        let transform_def = plugin.config_def();
        let mut embedded = ConfigDef::new();
        for key in transform_def.keys() {
            if key.name != PREDICATE && key.name != NEGATE {
                embedded = embedded.define(key.clone());
            }
        }
        def = embed(def, &prefix, &group, 3, &embedded);
        let mut sub = sub_config(props, &prefix);
        sub.remove(PREDICATE);
        sub.remove(NEGATE);
        if plugin.simple_name().starts_with("ReplaceField$") {
            for (removed, replacement) in REMOVED_REPLACE_FIELD_KEYS {
                if sub.contains_key(removed) {
                    errors.push((
                        format!("{prefix}{removed}"),
                        format!("Config '{prefix}{removed}' is not supported: Kafka Connect 4.0 removed it from ReplaceField; use '{prefix}{replacement}'"),
                    ));
                }
            }
        }
        if !check_plugin_keys(&plugin, &sub, &prefix, &mut errors) {
            continue;
        }
        let transform = match plugin.build_transform(&sub) {
            Ok(transform) => transform,
            Err(build_errors) => {
                push_build_errors(&build_errors, &prefix, &type_key, &mut errors);
                continue;
            }
        };
        let negate = props
            .get(&negate_key)
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let mut predicate_opt = None;
        if let Some(predicate_alias) = &predicate_alias_opt {
            if let Some((predicate_plugin, predicate_props)) = predicates.get(predicate_alias) {
                let predicate_prefix = format!("{}.{predicate_alias}.", keys::PREDICATES);
                match predicate_plugin.build_predicate(predicate_props) {
                    Ok(predicate) => predicate_opt = Some((predicate, negate)),
                    Err(build_errors) => {
                        let predicate_type = format!("{predicate_prefix}{TYPE}");
                        push_build_errors(
                            &build_errors,
                            &predicate_prefix,
                            &predicate_type,
                            &mut errors,
                        );
                        continue;
                    }
                }
            }
        }
        stages.push(Stage {
            alias: alias.clone(),
            class: plugin.class,
            transform,
            predicate_opt,
        });
    }
    let mut seen = HashSet::new();
    errors.retain(|(key, message)| seen.insert((key.clone(), message.clone())));
    Enriched {
        def,
        errors,
        stages,
    }
}

fn aliases(
    props: &BTreeMap<String, String>,
    key: &str,
    errors: &mut Vec<(String, String)>,
) -> Vec<String> {
    let Some(raw) = props.get(key) else {
        return Vec::new();
    };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    let list: Vec<String> = trimmed.split(',').map(|a| a.trim().to_string()).collect();
    let unique: HashSet<&String> = list.iter().collect();
    if unique.len() < list.len() {
        errors.push((
            key.to_string(),
            format!("Invalid value {raw} for configuration {key}: Duplicate alias provided."),
        ));
    }
    let mut seen = HashSet::new();
    list.into_iter()
        .filter(|alias| seen.insert(alias.clone()))
        .collect()
}

fn resolve(
    props: &BTreeMap<String, String>,
    type_key: &str,
    kind: PluginKind,
    errors: &mut Vec<(String, String)>,
) -> Option<TransformPlugin> {
    let Some(class) = props
        .get(type_key)
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    else {
        // The ConfigDef reports the missing required key.
        return None;
    };
    if let Some(plugin) = find_plugin(kind, class) {
        return Some(plugin);
    }
    let other = match kind {
        PluginKind::Transformation => PluginKind::Predicate,
        PluginKind::Predicate => PluginKind::Transformation,
    };
    let message = if find_plugin(other, class).is_some() {
        let wanted = match kind {
            PluginKind::Transformation => "Transformation",
            PluginKind::Predicate => "Predicate",
        };
        format!("Invalid value {class} for configuration {type_key}: Not a {wanted}")
    } else {
        format!(
            "Invalid value {class} for configuration {type_key}: Class {class} could not be found. Closest known: {}",
            closest_plugin_names(kind, class, 3).join(", ")
        )
    };
    errors.push((type_key.to_string(), message));
    None
}

fn sub_config(props: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, String> {
    props
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix(prefix)
                .map(|rest| (rest.to_string(), value.clone()))
        })
        .collect()
}

/// Validates the plugin's own keys; returns true when they are valid.
fn check_plugin_keys(
    plugin: &TransformPlugin,
    sub: &BTreeMap<String, String>,
    prefix: &str,
    errors: &mut Vec<(String, String)>,
) -> bool {
    let mut valid = true;
    let mut prefixed = plugin.config_def();
    prefixed = embed(ConfigDef::new(), prefix, "", 0, &prefixed);
    let full: BTreeMap<String, String> = sub
        .iter()
        .map(|(key, value)| (format!("{prefix}{key}"), value.clone()))
        .collect();
    for result in prefixed.validate(&full) {
        for message in result.errors {
            valid = false;
            errors.push((result.name.clone(), message));
        }
    }
    valid
}

fn push_build_errors(
    build_errors: &[BuildError],
    prefix: &str,
    type_key: &str,
    errors: &mut Vec<(String, String)>,
) {
    for error in build_errors {
        let key = error
            .key_opt
            .as_ref()
            .map_or_else(|| type_key.to_string(), |key| format!("{prefix}{key}"));
        errors.push((key, error.render(prefix)));
    }
}

/// `ConfigDef.embed`: every key of `child` under `prefix`, in `group` from `start_order`.
fn embed(
    mut def: ConfigDef,
    prefix: &str,
    group: &str,
    start_order: i32,
    child: &ConfigDef,
) -> ConfigDef {
    for (order, key) in (start_order..).zip(child.keys()) {
        let mut prefixed = key.clone();
        prefixed.name = format!("{prefix}{}", key.name);
        if prefixed.display_name == key.name {
            prefixed.display_name = prefixed.name.clone();
        }
        if !group.is_empty() {
            prefixed.group = Some(group.to_string());
            prefixed.order = order;
        }
        def = def.define(prefixed);
    }
    def
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{SchemaAndValue, Value};

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn record(topic: &str) -> TransformRecord {
        TransformRecord {
            topic: topic.to_string(),
            kafka_partition: Some(0),
            kafka_offset: Some(7),
            timestamp: Some(0),
            key: SchemaAndValue::null(),
            value: SchemaAndValue::schemaless(Value::String("v".to_string())),
            headers: Vec::new(),
        }
    }

    #[test]
    fn predicate_and_negate_gate_a_transform() {
        let base = [
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "eu"),
            ("predicates", "eu"),
            ("predicates.eu.type", "TopicNameMatches"),
            ("predicates.eu.pattern", ".*-eu"),
        ];
        let chain = TransformChain::from_connector_config(&props(&base)).unwrap();
        assert_eq!(chain.apply(record("orders-eu")).unwrap(), None);
        assert!(chain.apply(record("orders-us")).unwrap().is_some());
        let mut negated = base.to_vec();
        negated.push(("transforms.drop.negate", "true"));
        let chain = TransformChain::from_connector_config(&props(&negated)).unwrap();
        assert!(chain.apply(record("orders-eu")).unwrap().is_some());
        assert_eq!(chain.apply(record("orders-us")).unwrap(), None);
    }

    #[test]
    fn config_errors_name_the_prefixed_key() {
        let errors = TransformChain::from_connector_config(&props(&[
            ("transforms", "a,b,c"),
            ("transforms.a.type", "InsertFeild$Value"),
            ("transforms.b.type", "InsertField$Value"),
            ("transforms.c.type", "Filter"),
            ("transforms.c.negate", "true"),
        ]))
        .unwrap_err();
        assert!(
            errors[0].contains("transforms.a.type") && errors[0].contains("InsertField$Value"),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e == "No field insertion configured"),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("transforms.c.negate")),
            "{errors:?}"
        );
        let duplicate = TransformChain::from_connector_config(&props(&[
            ("transforms", "a,a"),
            ("transforms.a.type", "Filter"),
        ]))
        .unwrap_err();
        assert!(
            duplicate[0].contains("Duplicate alias provided."),
            "{duplicate:?}"
        );
    }
}
