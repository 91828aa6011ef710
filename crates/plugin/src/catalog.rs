//! What a plugin process offers, in the SDK's terms: each plugin's class, type, version,
//! location and config definition (from the plugin's own `ConfigDef`).

use ferry_connectors::sdk::{ConfigDef, ConfigKey, ConfigType, DefaultValue, Importance};

use crate::proto::{ConfigKeyDef, DescribeResponse, PluginType};

/// One plugin a plugin process offers.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    pub class_name: String,
    pub plugin_type: PluginType,
    pub version: String,
    /// The plugin location (a child of a `plugin.path` directory) it was loaded from.
    pub location: String,
    pub config_def: ConfigDef,
}

impl PluginEntry {
    /// Returns Kafka Connect's name of the plugin's type (`source`, `sink`, `converter`,
    /// `header_converter`, `transformation`, `predicate`).
    pub fn type_name(&self) -> &'static str {
        match self.plugin_type {
            PluginType::Source => "source",
            PluginType::Sink => "sink",
            PluginType::Converter => "converter",
            PluginType::HeaderConverter => "header_converter",
            PluginType::Transformation => "transformation",
            PluginType::Predicate => "predicate",
            PluginType::Unspecified => "unknown",
        }
    }
}

/// Returns every plugin of a Describe answer.
pub fn plugin_entries(response: &DescribeResponse) -> Vec<PluginEntry> {
    response
        .plugins
        .iter()
        .map(|plugin| PluginEntry {
            class_name: plugin.class_name.clone(),
            plugin_type: plugin.r#type(),
            version: plugin.version.clone(),
            location: plugin.location.clone(),
            config_def: config_def_from_proto(&plugin.config_keys),
        })
        .collect()
}

/// Converts a plugin's ConfigDef keys into the SDK's.
pub fn config_def_from_proto(keys: &[ConfigKeyDef]) -> ConfigDef {
    let mut def = ConfigDef::new();
    for key in keys {
        let config_type = match key.r#type.as_str() {
            "BOOLEAN" => ConfigType::Boolean,
            "INT" => ConfigType::Int,
            "SHORT" => ConfigType::Short,
            "LONG" => ConfigType::Long,
            "DOUBLE" => ConfigType::Double,
            "LIST" => ConfigType::List,
            "CLASS" => ConfigType::Class,
            "PASSWORD" => ConfigType::Password,
            _ => ConfigType::String,
        };
        let importance = match key.importance.as_str() {
            "HIGH" => Importance::High,
            "MEDIUM" => Importance::Medium,
            _ => Importance::Low,
        };
        let mut sdk_key = ConfigKey::new(&key.name, config_type, importance, &key.documentation)
            .display_name(&key.display_name);
        sdk_key.default = match (&key.has_default, &key.default_value) {
            (false, _) => DefaultValue::Required,
            (true, None) => DefaultValue::Null,
            (true, Some(value)) => DefaultValue::Value(value.clone()),
        };
        if let Some(group) = &key.group {
            sdk_key = sdk_key.group(group, key.order_in_group);
        }
        def = def.define(sdk_key);
    }
    def
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_keep_type_default_importance_and_group() {
        let keys = vec![
            ConfigKeyDef {
                name: "file".into(),
                r#type: "STRING".into(),
                has_default: true,
                default_value: None,
                importance: "HIGH".into(),
                documentation: "Source filename.".into(),
                group: None,
                order_in_group: -1,
                width: "NONE".into(),
                display_name: "file".into(),
                dependents: vec![],
            },
            ConfigKeyDef {
                name: "batch.size".into(),
                r#type: "INT".into(),
                has_default: true,
                default_value: Some("2000".into()),
                importance: "LOW".into(),
                documentation: "Records per poll.".into(),
                group: Some("Source".into()),
                order_in_group: 2,
                width: "NONE".into(),
                display_name: "Batch size".into(),
                dependents: vec![],
            },
            ConfigKeyDef {
                name: "topic".into(),
                r#type: "LIST".into(),
                has_default: false,
                default_value: None,
                importance: "MEDIUM".into(),
                ..Default::default()
            },
        ];
        let def = config_def_from_proto(&keys);
        let file = def.key("file").unwrap();
        assert_eq!(file.default, DefaultValue::Null);
        assert_eq!(file.importance, Importance::High);
        let batch = def.key("batch.size").unwrap();
        assert_eq!(batch.config_type, ConfigType::Int);
        assert_eq!(batch.default, DefaultValue::Value("2000".into()));
        assert_eq!((batch.group.as_deref(), batch.order), (Some("Source"), 2));
        assert_eq!(def.key("topic").unwrap().default, DefaultValue::Required);
        assert!(def.validate(&Default::default())[2].errors[0].contains("topic"));
    }
}
