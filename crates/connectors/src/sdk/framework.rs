//! The framework's config keys, declared once for every connector (Kafka Connect's
//! `ConnectorConfig`, `SourceConnectorConfig` and `SinkConnectorConfig`).

use super::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator};
use super::ConnectorType;

/// Framework key names.
pub mod keys {
    pub const NAME: &str = "name";
    pub const CONNECTOR_CLASS: &str = "connector.class";
    pub const CONNECTOR_PLUGIN_VERSION: &str = "connector.plugin.version";
    pub const TASKS_MAX: &str = "tasks.max";
    /// In task configs only: the Java task class (Kafka Connect's `TaskConfig.TASK_CLASS_CONFIG`).
    pub const TASK_CLASS: &str = "task.class";
    pub const TASKS_MAX_ENFORCE: &str = "tasks.max.enforce";
    pub const KEY_CONVERTER: &str = "key.converter";
    pub const VALUE_CONVERTER: &str = "value.converter";
    pub const HEADER_CONVERTER: &str = "header.converter";
    pub const TRANSFORMS: &str = "transforms";
    pub const PREDICATES: &str = "predicates";
    pub const CONFIG_ACTION_RELOAD: &str = "config.action.reload";
    pub const ERRORS_TOLERANCE: &str = "errors.tolerance";
    pub const ERRORS_LOG_ENABLE: &str = "errors.log.enable";
    pub const ERRORS_LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
    pub const ERRORS_RETRY_TIMEOUT: &str = "errors.retry.timeout";
    pub const ERRORS_RETRY_DELAY_MAX_MS: &str = "errors.retry.delay.max.ms";
    pub const TOPICS: &str = "topics";
    pub const TOPICS_REGEX: &str = "topics.regex";
    pub const DLQ_TOPIC_NAME: &str = "errors.deadletterqueue.topic.name";
    pub const DLQ_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
    pub const DLQ_CONTEXT_HEADERS_ENABLE: &str = "errors.deadletterqueue.context.headers.enable";
    pub const PRODUCER_OVERRIDE_PREFIX: &str = "producer.override.";
    pub const CONSUMER_OVERRIDE_PREFIX: &str = "consumer.override.";
    pub const ADMIN_OVERRIDE_PREFIX: &str = "admin.override.";
    pub const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";
    pub const TRANSACTION_BOUNDARY: &str = "transaction.boundary";
    pub const TRANSACTION_BOUNDARY_INTERVAL_MS: &str = "transaction.boundary.interval.ms";
    pub const OFFSETS_STORAGE_TOPIC: &str = "offsets.storage.topic";
}

/// The worker's `exactly.once.source.support` (KIP-618).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExactlyOnceSourceSupport {
    /// Source tasks produce without transactions (Kafka Connect's default).
    #[default]
    Disabled,
    /// A step of a rolling upgrade: the worker reads the offsets topic `read_committed` but
    /// still runs source tasks without transactions.
    Preparing,
    /// Every source task produces its records and offsets in transactions.
    Enabled,
}

impl ExactlyOnceSourceSupport {
    /// The worker key.
    pub const KEY: &'static str = "exactly.once.source.support";

    /// Parses the worker value (case-insensitively, as Kafka Connect does).
    ///
    /// # Errors
    /// The reason a value is invalid.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "disabled" => Ok(Self::Disabled),
            "preparing" => Ok(Self::Preparing),
            "enabled" => Ok(Self::Enabled),
            _ => Err("must be one of disabled, preparing, enabled".to_string()),
        }
    }
}

/// What a connector declares of its exactly-once ability (Kafka Connect's `ExactlyOnceSupport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSupport {
    Supported,
    Unsupported,
}

/// A source connector's answer to one of Kafka Connect's exactly-once preflight questions
/// (`SourceConnector.exactlyOnceSupport` and `canDefineTransactionBoundaries`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightAnswer {
    Supported,
    Unsupported,
    /// The connector gave no answer (a jar's `null`: it predates the API).
    Undeclared,
    /// Asking failed (a jar's method threw); the message says why.
    Failed(String),
}

impl From<ExactlyOnceSupport> for PreflightAnswer {
    fn from(support: ExactlyOnceSupport) -> Self {
        match support {
            ExactlyOnceSupport::Supported => Self::Supported,
            ExactlyOnceSupport::Unsupported => Self::Unsupported,
        }
    }
}

/// Kafka Connect's message for a preflight question that failed (`AbstractHerder`'s wording).
fn preflight_failure(message: &str) -> String {
    let message = message.trim();
    if message.is_empty() {
        "An unexpected error occurred during validation; please see the worker logs for more details.".to_string()
    } else {
        format!("An unexpected error occurred during validation: {message}; please see the worker logs for more details.")
    }
}

/// A source connector's `transaction.boundary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// One transaction per poll batch (Kafka Connect's default).
    Poll,
    /// One transaction per `transaction.boundary.interval.ms`.
    Interval,
    /// Transactions the connector defines (a plugin's `TransactionContext`).
    Connector,
}

impl TransactionBoundary {
    /// Reads `transaction.boundary` from a connector config (absent: `poll`).
    ///
    /// # Errors
    /// The reason the value is invalid.
    pub fn from_props(props: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        match props
            .get(keys::TRANSACTION_BOUNDARY)
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("poll") => Ok(Self::Poll),
            Some("interval") => Ok(Self::Interval),
            Some("connector") => Ok(Self::Connector),
            Some(_) => Err("must be one of poll, interval, connector".to_string()),
        }
    }
}

/// Kafka Connect's checks of a source connector's exactly-once keys
/// (`DistributedHerder.validateSourceConnectorExactlyOnceSupport` and `...TransactionBoundary`):
/// `exactly.once.support=required` needs a worker with exactly-once sources enabled and a
/// connector that declares support; `transaction.boundary=connector` needs a connector that can
/// define its transactions (`canDefineTransactionBoundaries`). The connector is asked only when the config asks for either, as Kafka
/// Connect does. Returns `(key, message)` pairs.
pub fn check_exactly_once(
    factory: &dyn super::ConnectorFactory,
    props: &std::collections::BTreeMap<String, String>,
    worker: ExactlyOnceSourceSupport,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if factory.connector_type() != ConnectorType::Source {
        return errors;
    }
    let required = props
        .get(keys::EXACTLY_ONCE_SUPPORT)
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("required"));
    if required {
        let mut refuse = |message: String| {
            errors.push((
                keys::EXACTLY_ONCE_SUPPORT.to_string(),
                format!("exactly.once.support=required: {message}"),
            ));
        };
        if worker != ExactlyOnceSourceSupport::Enabled {
            refuse("This worker does not have exactly-once source support enabled.".to_string());
        }
        match factory.exactly_once_preflight(props) {
            PreflightAnswer::Supported => {}
            PreflightAnswer::Unsupported => refuse(
                "The connector does not support exactly-once semantics with the provided configuration.".to_string(),
            ),
            PreflightAnswer::Undeclared => refuse(
                "The connector does not implement the API required for preflight validation of exactly-once source support. Please consult the documentation for the connector to determine whether it supports exactly-once semantics, and then consider reconfiguring the connector to use the value \"requested\" for this property (which will disable this preflight check and allow the connector to be created).".to_string(),
            ),
            PreflightAnswer::Failed(message) => refuse(preflight_failure(&message)),
        }
    }
    let dlq_set = props
        .get(keys::DLQ_TOPIC_NAME)
        .is_some_and(|topic| !topic.trim().is_empty());
    if dlq_set && worker == ExactlyOnceSourceSupport::Enabled {
        errors.push((
            keys::DLQ_TOPIC_NAME.to_string(),
            "errors.deadletterqueue.topic.name is not supported yet on a source when the worker has exactly.once.source.support=enabled (dead letter queue writes would not be part of the task's transactions); remove it from the connector config".to_string(),
        ));
    }
    errors.extend(check_offsets_topic(props));
    // An invalid value is reported by the key's validator.
    if TransactionBoundary::from_props(props) == Ok(TransactionBoundary::Connector) {
        let message_opt = match factory.transaction_boundaries_preflight(props) {
            PreflightAnswer::Supported => None,
            PreflightAnswer::Unsupported => Some("The connector does not support connector-defined transaction boundaries with the given configuration. Please reconfigure it to use a different transaction boundary definition.".to_string()),
            PreflightAnswer::Undeclared => Some("This connector has returned a null value from its canDefineTransactionBoundaries method, which is not permitted. The connector will be treated as if it cannot define its own transaction boundaries, and cannot be configured with 'transaction.boundary' set to 'connector'.".to_string()),
            PreflightAnswer::Failed(message) => Some(preflight_failure(&message)),
        };
        if let Some(message) = message_opt {
            errors.push((
                keys::TRANSACTION_BOUNDARY.to_string(),
                format!("transaction.boundary=connector: {message}"),
            ));
        }
    }
    errors
}

/// Checks a source connector's `offsets.storage.topic`: a legal Kafka topic name, on the
/// worker's cluster (Kafka Connect would put it on the cluster of an overridden
/// `producer.override.bootstrap.servers`; Ferry does not yet, so the pair is refused).
fn check_offsets_topic(
    props: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let Some(topic) = props
        .get(keys::OFFSETS_STORAGE_TOPIC)
        .map(|topic| topic.trim())
        .filter(|topic| !topic.is_empty())
    else {
        return Vec::new();
    };
    let legal = topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'));
    let mut errors = Vec::new();
    if !legal {
        errors.push((
            keys::OFFSETS_STORAGE_TOPIC.to_string(),
            format!("offsets.storage.topic: '{topic}' is not a legal Kafka topic name: at most 249 of the characters a-z, A-Z, 0-9, '.', '_' and '-', and not '.' or '..'"),
        ));
    }
    if props.contains_key("producer.override.bootstrap.servers") {
        errors.push((
            keys::OFFSETS_STORAGE_TOPIC.to_string(),
            "offsets.storage.topic with producer.override.bootstrap.servers is not supported yet: Ferry keeps a connector's offsets topic on the worker's Kafka cluster".to_string(),
        ));
    }
    errors
}

const COMMON: &str = "Common";
const TRANSFORMS: &str = "Transforms";
const ERRORS: &str = "Error Handling";
const EXACTLY_ONCE: &str = "Exactly Once Support";
const OFFSETS_TOPIC: &str = "offsets.topic";

/// Returns the framework keys every connector of `connector_type` has.
pub fn framework_config_def(connector_type: ConnectorType) -> ConfigDef {
    let mut def = ConfigDef::new()
        .define(
            ConfigKey::new(keys::NAME, ConfigType::String, Importance::High, "Globally unique name to use for this connector.")
                .validator(Validator::NonEmpty)
                .group(COMMON, 1)
                .display_name("Connector name"),
        )
        .define(
            ConfigKey::new(
                keys::CONNECTOR_CLASS,
                ConfigType::String,
                Importance::High,
                "Name or alias of the class for this connector, e.g. org.apache.kafka.connect.file.FileStreamSinkConnector or FileStreamSink.",
            )
            .group(COMMON, 2)
            .display_name("Connector class"),
        )
        .define(
            ConfigKey::new(
                keys::CONNECTOR_PLUGIN_VERSION,
                ConfigType::String,
                Importance::Medium,
                "Version of the connector plugin to use (KIP-891); by default the built-in connector of that class, else the only plugin of that class.",
            )
            .default_null()
            .group(COMMON, 2)
            .display_name("Connector version"),
        )
        .define(
            ConfigKey::new(keys::TASKS_MAX, ConfigType::Int, Importance::High, "Maximum number of tasks to use for this connector.")
                .default_value("1")
                .validator(Validator::AtLeast(1.0))
                .group(COMMON, 3)
                .display_name("Tasks max"),
        )
        .define(
            ConfigKey::new(
                keys::TASKS_MAX_ENFORCE,
                ConfigType::Boolean,
                Importance::Low,
                "(Deprecated) Whether to enforce that the tasks.max property is respected by the connector. Ferry's connectors never create more tasks than tasks.max, so both values behave the same.",
            )
            .default_value("true")
            .group(COMMON, 3)
            .display_name("Enforce tasks max"),
        )
        .define(
            ConfigKey::new(
                keys::KEY_CONVERTER,
                ConfigType::Class,
                Importance::Low,
                "Converter class for keys; overrides the worker's key.converter.",
            )
            .default_null()
            .group(COMMON, 4)
            .display_name("Key converter class"),
        )
        .define(
            ConfigKey::new(
                keys::VALUE_CONVERTER,
                ConfigType::Class,
                Importance::Low,
                "Converter class for values; overrides the worker's value.converter.",
            )
            .default_null()
            .group(COMMON, 5)
            .display_name("Value converter class"),
        )
        .define(
            ConfigKey::new(
                keys::HEADER_CONVERTER,
                ConfigType::Class,
                Importance::Low,
                "HeaderConverter class for headers; overrides the worker's header.converter.",
            )
            .default_null()
            .group(COMMON, 6)
            .display_name("Header converter class"),
        )
        .define(
            ConfigKey::new(keys::CONFIG_ACTION_RELOAD, ConfigType::String, Importance::Low, "What to do when config provider values change: restart or none.")
                .default_value("restart")
                .validator(Validator::OneOf(vec!["none", "restart"]))
                .group(COMMON, 7)
                .display_name("Reload action"),
        )
        .define(
            ConfigKey::new(keys::TRANSFORMS, ConfigType::List, Importance::Low, "Aliases for the transformations to apply to records.")
                .default_value("")
                .group(TRANSFORMS, 0)
                .display_name("Transforms"),
        )
        .define(
            ConfigKey::new(keys::PREDICATES, ConfigType::List, Importance::Low, "Aliases for the predicates used by transformations.")
                .default_value("")
                .group("Predicates", 0)
                .display_name("Predicates"),
        )
        .define(
            ConfigKey::new(
                keys::ERRORS_RETRY_TIMEOUT,
                ConfigType::Long,
                Importance::Medium,
                "Maximum duration in milliseconds a failed operation is retried; 0 means no retries, -1 infinite.",
            )
            .default_value("0")
            .group(ERRORS, 1)
            .display_name("Retry Timeout for Errors"),
        )
        .define(
            ConfigKey::new(keys::ERRORS_RETRY_DELAY_MAX_MS, ConfigType::Long, Importance::Medium, "Maximum duration in milliseconds between consecutive retries.")
                .default_value("60000")
                .group(ERRORS, 2)
                .display_name("Maximum Delay Between Retries for Errors"),
        )
        .define(
            ConfigKey::new(
                keys::ERRORS_TOLERANCE,
                ConfigType::String,
                Importance::Medium,
                "Behavior for tolerating errors: none fails the task on the first error, all skips problematic records.",
            )
            .default_value("none")
            .validator(Validator::OneOf(vec!["none", "all"]))
            .group(ERRORS, 3)
            .display_name("Error Tolerance"),
        )
        .define(
            ConfigKey::new(keys::ERRORS_LOG_ENABLE, ConfigType::Boolean, Importance::Medium, "Log each error and the failed operation.")
                .default_value("false")
                .group(ERRORS, 4)
                .display_name("Log Errors"),
        )
        .define(
            ConfigKey::new(keys::ERRORS_LOG_INCLUDE_MESSAGES, ConfigType::Boolean, Importance::Medium, "Include the record in the error log.")
                .default_value("false")
                .group(ERRORS, 5)
                .display_name("Log Error Details"),
        )
            .define(
            ConfigKey::new(
                keys::DLQ_TOPIC_NAME,
                ConfigType::String,
                Importance::Medium,
                "Topic to use as the dead letter queue; empty disables it. Sinks write records that fail conversion, transformation or the write; sources (a Ferry addition) records that fail transformation or conversion.",
            )
            .default_value("")
            .group(ERRORS, 6)
            .display_name("Dead Letter Queue Topic Name"),
        )
        .define(
            ConfigKey::new(
                keys::DLQ_REPLICATION_FACTOR,
                ConfigType::Short,
                Importance::Medium,
                "Replication factor of the dead letter queue topic.",
            )
            .default_value("3")
            .group(ERRORS, 7)
            .display_name("Dead Letter Queue Topic Replication Factor"),
        )
        .define(
            ConfigKey::new(
                keys::DLQ_CONTEXT_HEADERS_ENABLE,
                ConfigType::Boolean,
                Importance::Medium,
                "Add error context headers to dead letter queue records.",
            )
            .default_value("false")
            .group(ERRORS, 8)
            .display_name("Enable Error Context Headers"),
        );
    if connector_type == ConnectorType::Sink {
        def = def
            .define(
                ConfigKey::new(
                    keys::TOPICS,
                    ConfigType::List,
                    Importance::High,
                    "List of topics to consume, separated by commas.",
                )
                .default_value("")
                .group(COMMON, 4)
                .display_name("Topics"),
            )
            .define(
                ConfigKey::new(
                    keys::TOPICS_REGEX,
                    ConfigType::String,
                    Importance::High,
                    "Regular expression giving topics to consume.",
                )
                .default_value("")
                .group(COMMON, 4)
                .display_name("Topics regex"),
            );
    }
    if connector_type == ConnectorType::Source {
        def = def
            .define(super::topic_creation::groups_key())
            .define(
                ConfigKey::new(
                    keys::EXACTLY_ONCE_SUPPORT,
                    ConfigType::String,
                    Importance::Medium,
                    "Whether exactly-once support is required for the connector (requested or required); with required, a connector that does not declare support is refused when the worker enables exactly-once sources.",
                )
                .default_value("requested")
                .validator(Validator::OneOf(vec!["requested", "required"]))
                .group(EXACTLY_ONCE, 1)
                .display_name("Exactly once support"),
            )
            .define(
                ConfigKey::new(
                    keys::TRANSACTION_BOUNDARY,
                    ConfigType::String,
                    Importance::Medium,
                    "When a transaction of an exactly-once source task is committed: poll (every poll batch), interval (every transaction.boundary.interval.ms) or connector (the connector ends each transaction, with Kafka Connect's TransactionContext).",
                )
                .default_value("poll")
                .validator(Validator::OneOf(vec!["poll", "interval", "connector"]))
                .group(EXACTLY_ONCE, 2)
                .display_name("Transaction Boundary"),
            )
            .define(
                ConfigKey::new(
                    keys::TRANSACTION_BOUNDARY_INTERVAL_MS,
                    ConfigType::Long,
                    Importance::Low,
                    "With transaction.boundary=interval, how often a transaction is committed; by default the worker's offset.flush.interval.ms.",
                )
                .default_null()
                .validator(Validator::AtLeast(0.0))
                .group(EXACTLY_ONCE, 3)
                .display_name("Transaction Boundary Interval"),
            )
            .define(
                ConfigKey::new(
                    keys::OFFSETS_STORAGE_TOPIC,
                    ConfigType::String,
                    Importance::Low,
                    "The name of a separate offsets topic for this connector; absent or empty: the worker's offsets topic. Created if missing (compacted, with the worker's offset.storage.partitions and offset.storage.replication.factor), on the worker's Kafka cluster. Offsets stored in the worker's topic before are still read for partitions the connector's topic does not hold, and offsets are copied to the worker's topic too.",
                )
                .default_null()
                .group(OFFSETS_TOPIC, 1)
                .display_name("Offsets topic"),
            );
    }
    for key in super::unsupported::unsupported_config_keys(connector_type) {
        def = def.define(key);
    }
    def
}

/// Checks the sink rule that exactly one of `topics` and `topics.regex` is set.
pub fn check_sink_topics(
    props: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let topics = props.get(keys::TOPICS).map_or("", |value| value.trim());
    let regex = props
        .get(keys::TOPICS_REGEX)
        .map_or("", |value| value.trim());
    let dlq_topic = props
        .get(keys::DLQ_TOPIC_NAME)
        .map_or("", |value| value.trim());
    let mut errors = Vec::new();
    if !dlq_topic.is_empty() && !topics.is_empty() {
        let listed: Vec<&str> = topics.split(',').map(str::trim).collect();
        if listed.contains(&dlq_topic) {
            errors.push((
                keys::TOPICS.to_string(),
                format!("The DLQ topic '{dlq_topic}' may not be included in the list of topics ('{}=[{}]') consumed by the connector", keys::TOPICS, listed.join(", ")),
            ));
        }
    }
    if !dlq_topic.is_empty() && !regex.is_empty() {
        let whole = format!("^(?:{regex})$");
        if regex::Regex::new(&whole).is_ok_and(|pattern| pattern.is_match(dlq_topic)) {
            errors.push((
                keys::TOPICS_REGEX.to_string(),
                format!("The DLQ topic '{dlq_topic}' may not be matched by the regex for the topics ('{}={regex}') consumed by the connector", keys::TOPICS_REGEX),
            ));
        }
    }
    errors.extend(match (topics.is_empty(), regex.is_empty()) {
        (true, true) => vec![(
            keys::TOPICS.to_string(),
            "Must configure one of topics or topics.regex".to_string(),
        )],
        (false, false) => vec![(
            keys::TOPICS.to_string(),
            "topics and topics.regex are mutually exclusive options, but both are set.".to_string(),
        )],
        _ => Vec::new(),
    });
    errors
}
