//! Topic creation for source connectors (Kafka Connect's KIP-158): the `topic.creation.*` keys
//! of a source connector, their validation (the same keys, defaults and messages as Kafka
//! Connect's `TopicCreationConfig`) and the groups they describe.
//!
//! A connector opts in by setting any `topic.creation.` key; then
//! `topic.creation.default.replication.factor` and `topic.creation.default.partitions` are
//! required. `topic.creation.groups` lists further groups, each with `include`/`exclude` regex
//! lists, optional `replication.factor`/`partitions` (the default group's when unset) and any
//! topic-level config. A topic is created with the first listed group that matches it (included
//! and not excluded), else with the default group; `-1` leaves the number to the broker.

use std::collections::BTreeMap;

use regex::Regex;

use super::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator};

pub const TOPIC_CREATION_PREFIX: &str = "topic.creation.";
pub const TOPIC_CREATION_GROUPS: &str = "topic.creation.groups";
pub const DEFAULT_GROUP: &str = "default";
pub const INCLUDE: &str = "include";
pub const EXCLUDE: &str = "exclude";
pub const REPLICATION_FACTOR: &str = "replication.factor";
pub const PARTITIONS: &str = "partitions";
const GROUP_DISPLAY: &str = "Topic Creation";

/// One group of topic settings.
#[derive(Debug, Clone)]
pub struct TopicCreationGroup {
    pub name: String,
    include: Regex,
    exclude: Regex,
    /// -1: the broker's default.
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i16,
    /// Topic-level configs (`cleanup.policy`, `retention.ms`, ...).
    pub topic_configs: BTreeMap<String, String>,
}

impl TopicCreationGroup {
    /// Returns true when `topic` matches an include pattern and no exclude pattern (whole-name
    /// matches, as Java's `Matcher.matches`).
    pub fn matches(&self, topic: &str) -> bool {
        !self.exclude.is_match(topic) && self.include.is_match(topic)
    }
}

/// The groups of a connector with topic creation enabled.
#[derive(Debug, Clone)]
pub struct TopicCreationPlan {
    /// The groups of `topic.creation.groups`, in order (without `default`).
    pub groups: Vec<TopicCreationGroup>,
    pub default_group: TopicCreationGroup,
}

impl TopicCreationPlan {
    /// Returns the group whose settings create `topic`: the first listed group that matches,
    /// else the default group.
    pub fn group_for(&self, topic: &str) -> &TopicCreationGroup {
        self.groups
            .iter()
            .find(|group| group.matches(topic))
            .unwrap_or(&self.default_group)
    }
}

/// Returns true when the config sets any `topic.creation.` key (Kafka Connect's
/// `usesTopicCreation`). An empty `topic.creation.groups` does not count: it is the default that
/// validated task configs carry.
pub fn uses_topic_creation(props: &BTreeMap<String, String>) -> bool {
    props.iter().any(|(key, value)| {
        key.starts_with(TOPIC_CREATION_PREFIX)
            && !(key == TOPIC_CREATION_GROUPS && value.trim().is_empty())
    })
}

/// Returns the group aliases of `topic.creation.groups` (without `default`, deduplicated).
pub fn group_aliases(props: &BTreeMap<String, String>) -> Vec<String> {
    let mut aliases: Vec<String> = Vec::new();
    for alias in split_list(props.get(TOPIC_CREATION_GROUPS).map_or("", String::as_str)) {
        if alias != DEFAULT_GROUP && !aliases.contains(&alias) {
            aliases.push(alias);
        }
    }
    aliases
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn check_unique_groups(raw: &str) -> Result<(), String> {
    let aliases = split_list(raw);
    let mut seen = std::collections::BTreeSet::new();
    if aliases.iter().any(|alias| !seen.insert(alias.as_str())) {
        return Err("Duplicate alias provided.".to_string());
    }
    Ok(())
}

fn check_regex_list(raw: &str) -> Result<(), String> {
    for pattern in split_list(raw) {
        if let Err(error) = Regex::new(&pattern) {
            return Err(format!("Syntax error in regular expression: {error}"));
        }
    }
    Ok(())
}

fn check_partitions(raw: &str) -> Result<(), String> {
    match raw.trim().parse::<i32>() {
        Ok(value) if value != -1 && value < 1 => Err(
            "Number of partitions must be positive, or -1 to use the broker's default".to_string(),
        ),
        _ => Ok(()),
    }
}

fn check_replication_factor(raw: &str) -> Result<(), String> {
    match raw.trim().parse::<i16>() {
        Ok(value) if value != -1 && value < 1 => Err("Replication factor must be positive and not larger than the number of brokers in the Kafka cluster, or -1 to use the broker's default".to_string()),
        _ => Ok(()),
    }
}

/// Returns the `topic.creation.groups` key every source connector has.
pub fn groups_key() -> ConfigKey {
    ConfigKey::new(
        TOPIC_CREATION_GROUPS,
        ConfigType::List,
        Importance::Low,
        "Groups of configurations for topics created by source connectors",
    )
    .default_value("")
    .validator(Validator::Custom(check_unique_groups))
    .group(GROUP_DISPLAY, 1)
    .display_name("Topic Creation Groups")
}

/// Returns the keys that a source config using topic creation adds (Kafka Connect's
/// `SourceConnectorConfig.enrich`): the default group's (replication factor and partitions
/// required) and each listed group's (defaulting to the default group's values).
pub fn topic_creation_config_def(props: &BTreeMap<String, String>) -> ConfigDef {
    let mut def = ConfigDef::new();
    let default_prefix = format!("{TOPIC_CREATION_PREFIX}{DEFAULT_GROUP}.");
    def = def
        .define(
            ConfigKey::new(&format!("{default_prefix}{REPLICATION_FACTOR}"), ConfigType::Short, Importance::Low,
                "The replication factor for new topics created for this connector using this group; -1 for the broker's default. Required for the default group.")
                .validator(Validator::Custom(check_replication_factor))
                .group(DEFAULT_GROUP, 3)
                .display_name("Replication Factor for Topics in default"),
        )
        .define(
            ConfigKey::new(&format!("{default_prefix}{PARTITIONS}"), ConfigType::Int, Importance::Low,
                "The number of partitions new topics created for this connector; -1 for the broker's default. Required for the default group.")
                .validator(Validator::Custom(check_partitions))
                .group(DEFAULT_GROUP, 4)
                .display_name("Partition Count for Topics in default"),
        );
    let default_replication = props
        .get(&format!("{default_prefix}{REPLICATION_FACTOR}"))
        .map(|value| value.trim().to_string());
    let default_partitions = props
        .get(&format!("{default_prefix}{PARTITIONS}"))
        .map(|value| value.trim().to_string());
    for alias in group_aliases(props) {
        let prefix = format!("{TOPIC_CREATION_PREFIX}{alias}.");
        let group = format!("{GROUP_DISPLAY}: {alias}");
        let mut replication = ConfigKey::new(
            &format!("{prefix}{REPLICATION_FACTOR}"),
            ConfigType::Short,
            Importance::Low,
            "The replication factor for new topics of this group; the default group's when unset.",
        )
        .validator(Validator::Custom(check_replication_factor))
        .group(&group, 3)
        .display_name(&format!("Replication Factor for Topics in {group}"));
        let mut partitions = ConfigKey::new(
            &format!("{prefix}{PARTITIONS}"),
            ConfigType::Int,
            Importance::Low,
            "The number of partitions for new topics of this group; the default group's when unset.",
        )
        .validator(Validator::Custom(check_partitions))
        .group(&group, 4)
        .display_name(&format!("Partition Count for Topics in {group}"));
        // Without a valid default-group value the group key has none either: the error is
        // reported once, on the default group's key.
        replication = match &default_replication {
            Some(value) => replication.default_value(value),
            None => replication.default_null(),
        };
        partitions = match &default_partitions {
            Some(value) => partitions.default_value(value),
            None => partitions.default_null(),
        };
        def = def
            .define(
                ConfigKey::new(&format!("{prefix}{INCLUDE}"), ConfigType::List, Importance::Low,
                    "A list of regular expression literals used to match the topic names used by the source connector. This list is used to include topics that should be created using the topic settings defined by this group.")
                    .default_value("")
                    .validator(Validator::Custom(check_regex_list))
                    .group(&group, 1)
                    .display_name(&format!("Inclusion Topic Pattern for {group}")),
            )
            .define(
                ConfigKey::new(&format!("{prefix}{EXCLUDE}"), ConfigType::List, Importance::Low,
                    "A list of regular expression literals used to match the topic names used by the source connector. This list is used to exclude topics from being created with the topic settings defined by this group. Note that exclusion rules have precedent and override any inclusion rules for the topics.")
                    .default_value("")
                    .validator(Validator::Custom(check_regex_list))
                    .group(&group, 2)
                    .display_name(&format!("Exclusion Topic Pattern for {group}")),
            )
            .define(replication)
            .define(partitions);
    }
    def
}

fn whole_name_pattern(patterns: &[String]) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{})$", patterns.join("|")))
        .map_err(|error| format!("Syntax error in regular expression: {error}"))
}

fn build_group(
    name: &str,
    props: &BTreeMap<String, String>,
    default_values_opt: Option<(i16, i32)>,
) -> Result<TopicCreationGroup, String> {
    let prefix = format!("{TOPIC_CREATION_PREFIX}{name}.");
    let get = |suffix: &str| props.get(&format!("{prefix}{suffix}")).map(|v| v.trim());
    let (include, exclude) = if name == DEFAULT_GROUP {
        // The default group takes every topic no other group took; its include/exclude
        // are ignored, as in Kafka Connect.
        (vec![".*".to_string()], Vec::new())
    } else {
        (
            split_list(get(INCLUDE).unwrap_or("")),
            split_list(get(EXCLUDE).unwrap_or("")),
        )
    };
    let replication_factor = match (get(REPLICATION_FACTOR), default_values_opt) {
        (Some(raw), _) => raw
            .parse::<i16>()
            .map_err(|_| format!("{prefix}{REPLICATION_FACTOR} is not a number"))?,
        (None, Some((replication, _))) => replication,
        (None, None) => {
            return Err(format!(
                "Missing required configuration \"{prefix}{REPLICATION_FACTOR}\" which has no default value."
            ))
        }
    };
    let partitions = match (get(PARTITIONS), default_values_opt) {
        (Some(raw), _) => raw
            .parse::<i32>()
            .map_err(|_| format!("{prefix}{PARTITIONS} is not a number"))?,
        (None, Some((_, partitions))) => partitions,
        (None, None) => {
            return Err(format!(
            "Missing required configuration \"{prefix}{PARTITIONS}\" which has no default value."
        ))
        }
    };
    let topic_configs = props
        .iter()
        .filter_map(|(key, value)| {
            let rest = key.strip_prefix(&prefix)?;
            let own = [INCLUDE, EXCLUDE, REPLICATION_FACTOR, PARTITIONS].contains(&rest);
            (!own).then(|| (rest.to_string(), value.clone()))
        })
        .collect();
    let exclude_regex = if exclude.is_empty() {
        // Matches nothing: Java's empty pattern only matches the empty name.
        whole_name_pattern(&[String::new()])?
    } else {
        whole_name_pattern(&exclude)?
    };
    Ok(TopicCreationGroup {
        name: name.to_string(),
        include: whole_name_pattern(&include)?,
        exclude: exclude_regex,
        partitions,
        replication_factor,
        topic_configs,
    })
}

/// Returns the topic creation groups of a (validated) source config, or `None` when it does not
/// use topic creation.
///
/// # Errors
/// The first problem found, for a config that did not pass validation.
pub fn parse_topic_creation(
    props: &BTreeMap<String, String>,
) -> Result<Option<TopicCreationPlan>, String> {
    if !uses_topic_creation(props) {
        return Ok(None);
    }
    let default_group = build_group(DEFAULT_GROUP, props, None)?;
    let defaults = (default_group.replication_factor, default_group.partitions);
    let mut groups = Vec::new();
    for alias in group_aliases(props) {
        groups.push(build_group(&alias, props, Some(defaults))?);
    }
    Ok(Some(TopicCreationPlan {
        groups,
        default_group,
    }))
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

    #[test]
    fn no_topic_creation_key_means_no_plan() {
        assert!(parse_topic_creation(&props(&[("topic", "t")]))
            .unwrap()
            .is_none());
        // The default a validated task config carries does not turn topic creation on.
        assert!(
            parse_topic_creation(&props(&[("topic.creation.groups", "")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_first_matching_group_wins_and_the_default_group_takes_the_rest() {
        let config = props(&[
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.groups", "compacted,big"),
            ("topic.creation.compacted.include", "orders-.*,users"),
            ("topic.creation.compacted.exclude", "orders-raw"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.big.include", "orders-.*"),
            ("topic.creation.big.partitions", "12"),
        ]);
        let plan = parse_topic_creation(&config).unwrap().unwrap();
        let orders = plan.group_for("orders-eu");
        assert_eq!(orders.name, "compacted");
        assert_eq!((orders.partitions, orders.replication_factor), (3, 1));
        assert_eq!(
            orders
                .topic_configs
                .get("cleanup.policy")
                .map(String::as_str),
            Some("compact")
        );
        let raw = plan.group_for("orders-raw");
        assert_eq!((raw.name.as_str(), raw.partitions), ("big", 12));
        assert_eq!(plan.group_for("users").name, "compacted");
        assert_eq!(plan.group_for("userstats").name, "default");
        assert!(plan.default_group.topic_configs.is_empty());
    }

    #[test]
    fn a_group_without_include_matches_nothing() {
        let config = props(&[
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.partitions", "-1"),
            ("topic.creation.groups", "g"),
        ]);
        let plan = parse_topic_creation(&config).unwrap().unwrap();
        assert_eq!(plan.group_for("anything").name, "default");
        assert_eq!(plan.default_group.partitions, -1);
    }

    #[test]
    fn validation_messages_are_kafka_connects() {
        let config = props(&[
            ("topic.creation.default.partitions", "0"),
            ("topic.creation.groups", "g,g"),
            ("topic.creation.g.include", "(unclosed"),
        ]);
        let mut def = ConfigDef::new().define(groups_key());
        def = def.merge(&topic_creation_config_def(&config));
        let errors: Vec<String> = def
            .validate(&config)
            .into_iter()
            .flat_map(|value| value.errors)
            .collect();
        assert!(errors.contains(&"Missing required configuration \"topic.creation.default.replication.factor\" which has no default value.".to_string()), "{errors:?}");
        assert!(errors.contains(&"Invalid value 0 for configuration topic.creation.default.partitions: Number of partitions must be positive, or -1 to use the broker's default".to_string()), "{errors:?}");
        assert!(errors.contains(&"Invalid value g,g for configuration topic.creation.groups: Duplicate alias provided.".to_string()), "{errors:?}");
        assert!(
            errors.iter().any(|error| error.starts_with(
                "Invalid value (unclosed for configuration topic.creation.g.include: Syntax error in regular expression"
            )),
            "{errors:?}"
        );
    }
}
