//! Gossip keys every Ferry node publishes in its chitchat node state, and the codecs of their
//! values.
//!
//! The node id and the generation are not keys: they are part of chitchat's `ChitchatId`.
//! Keep values small: every SYN carries the full digest and a delta must fit in one UDP datagram
//! (64 KB), so details live in Kafka and gossip only carries summaries.

use std::collections::BTreeMap;

/// The worker's REST/gRPC address, `host:port` (Kafka Connect's `worker_id`).
///
/// A node appears in the members map only once this key has been gossiped, and a node deletes
/// it when it leaves gracefully, which removes it from its peers' members maps within a gossip
/// round or two (long before the failure detector would).
pub const ADVERTISE_ADDR_KEY: &str = "advertise_addr";

/// The Ferry version the node runs (`CARGO_PKG_VERSION`).
pub const VERSION_KEY: &str = "version";

/// Whether the node accepts work: [`READY`] or [`NOT_READY`]. A node starts [`NOT_READY`].
pub const READINESS_KEY: &str = "readiness";

/// Value of [`READINESS_KEY`] when the node accepts work.
pub const READY: &str = "READY";

/// Value of [`READINESS_KEY`] when the node does not accept work (starting or leaving).
pub const NOT_READY: &str = "NOT_READY";

/// The tasks running on the node, encoded with [`encode_running_tasks`]
/// (e.g. `conn-a:0,1,2;conn-b:0`).
pub const RUNNING_TASKS_KEY: &str = "running_tasks";
/// Tasks the node gave up on after repeated failures (same encoding as [`RUNNING_TASKS_KEY`]):
/// the leader moves them to another worker.
pub const GAVE_UP_TASKS_KEY: &str = "gave_up_tasks";

/// The plugin connector classes the node can run (from its `plugin.path`), encoded with
/// [`encode_plugins`] (e.g. `org.acme.FooConnector:1.2;org.acme.BarConnector:0.9`). Built-ins
/// are not listed: every node has them. The leader places a plugin connector only on nodes
/// that list its class (and version, when `connector.plugin.version` names one).
pub const PLUGINS_KEY: &str = "plugins";

/// A plugin connector class a node offers, with its version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginOffer {
    /// The fully qualified class name.
    pub class: String,
    /// The plugin's version.
    pub version: String,
}

/// Encodes plugin offers as `class:version;class:version`, sorted and deduplicated, with the
/// same `%XX` escapes as [`encode_running_tasks`].
pub fn encode_plugins(offers: &[PluginOffer]) -> String {
    let mut sorted: Vec<&PluginOffer> = offers.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut encoded = String::new();
    for offer in sorted {
        if !encoded.is_empty() {
            encoded.push(';');
        }
        escape_connector_name(&offer.class, &mut encoded);
        encoded.push(':');
        escape_connector_name(&offer.version, &mut encoded);
    }
    encoded
}

/// Decodes a value written by [`encode_plugins`].
///
/// # Errors
/// Returns a [`DecodeError`] when the value is not in the encoding's format.
pub fn decode_plugins(encoded: &str) -> Result<Vec<PluginOffer>, DecodeError> {
    let mut offers = Vec::new();
    if encoded.is_empty() {
        return Ok(offers);
    }
    for group in encoded.split(';') {
        let Some((class, version)) = group.split_once(':') else {
            return Err(DecodeError::MissingSeparator {
                group: group.to_string(),
            });
        };
        offers.push(PluginOffer {
            class: unescape_connector_name(class)?,
            version: unescape_connector_name(version)?,
        });
    }
    Ok(offers)
}

/// The epoch of the last assignment the node applied, a `u64` in decimal.
pub const ASSIGNMENT_EPOCH_KEY: &str = "assignment_epoch";

/// A gossip value that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A `connector:tasks` group has no `:` separator.
    #[error("running tasks group `{group}` has no `:` separator")]
    MissingSeparator {
        /// The offending group.
        group: String,
    },
    /// A task index is not a `u32`.
    #[error("task index `{index}` of connector `{connector}` is not a u32")]
    BadTaskIndex {
        /// The connector the index belongs to.
        connector: String,
        /// The offending index.
        index: String,
    },
    /// A connector name has a bad `%XX` escape.
    #[error("connector name `{name}` has an invalid escape sequence")]
    BadEscape {
        /// The offending (still escaped) name.
        name: String,
    },
}

/// Characters with a meaning in the running-tasks encoding; they are escaped as `%XX` in
/// connector names (Kafka Connect allows almost any character in a connector name).
const RESERVED_CHARS: [char; 4] = ['%', ':', ';', ','];

/// Encodes running tasks as `connector:i,j;other:k`, connectors sorted by name, indexes sorted
/// and deduplicated. An empty list encodes as the empty string.
///
/// `%`, `:`, `;` and `,` in connector names are escaped as `%25`, `%3A`, `%3B` and `%2C`.
pub fn encode_running_tasks(tasks: &[(String, u32)]) -> String {
    let mut tasks_by_connector: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (connector, task_index) in tasks {
        tasks_by_connector
            .entry(connector.as_str())
            .or_default()
            .push(*task_index);
    }
    let mut encoded = String::new();
    for (connector, mut task_indexes) in tasks_by_connector {
        task_indexes.sort_unstable();
        task_indexes.dedup();
        if !encoded.is_empty() {
            encoded.push(';');
        }
        escape_connector_name(connector, &mut encoded);
        encoded.push(':');
        let indexes: Vec<String> = task_indexes.iter().map(u32::to_string).collect();
        encoded.push_str(&indexes.join(","));
    }
    encoded
}

/// Decodes a value written by [`encode_running_tasks`] into `(connector, task index)` pairs,
/// sorted by connector then index.
///
/// # Errors
/// Returns a [`DecodeError`] when the value is not in the encoding's format.
pub fn decode_running_tasks(encoded: &str) -> Result<Vec<(String, u32)>, DecodeError> {
    let mut tasks = Vec::new();
    if encoded.is_empty() {
        return Ok(tasks);
    }
    for group in encoded.split(';') {
        let Some((escaped_connector, indexes)) = group.split_once(':') else {
            return Err(DecodeError::MissingSeparator {
                group: group.to_string(),
            });
        };
        let connector = unescape_connector_name(escaped_connector)?;
        for index in indexes.split(',') {
            let task_index = index
                .parse::<u32>()
                .map_err(|_| DecodeError::BadTaskIndex {
                    connector: connector.clone(),
                    index: index.to_string(),
                })?;
            tasks.push((connector.clone(), task_index));
        }
    }
    tasks.sort();
    tasks.dedup();
    Ok(tasks)
}

/// Encodes an assignment epoch for [`ASSIGNMENT_EPOCH_KEY`].
pub fn encode_assignment_epoch(epoch: u64) -> String {
    epoch.to_string()
}

/// Decodes an [`ASSIGNMENT_EPOCH_KEY`] value; `None` when it is not a `u64`.
pub fn decode_assignment_epoch(encoded: &str) -> Option<u64> {
    encoded.parse().ok()
}

fn escape_connector_name(name: &str, out: &mut String) {
    for character in name.chars() {
        if RESERVED_CHARS.contains(&character) {
            out.push_str(&format!("%{:02X}", u32::from(character)));
        } else {
            out.push(character);
        }
    }
}

fn unescape_connector_name(escaped: &str) -> Result<String, DecodeError> {
    let bad_escape = || DecodeError::BadEscape {
        name: escaped.to_string(),
    };
    let mut name = String::with_capacity(escaped.len());
    let mut characters = escaped.chars();
    while let Some(character) = characters.next() {
        if character != '%' {
            name.push(character);
            continue;
        }
        let hex: String = characters.by_ref().take(2).collect();
        let code = u8::from_str_radix(&hex, 16).map_err(|_| bad_escape())?;
        let unescaped = char::from(code);
        if hex.len() != 2 || !RESERVED_CHARS.contains(&unescaped) {
            return Err(bad_escape());
        }
        name.push(unescaped);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tasks(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs
            .iter()
            .map(|(connector, index)| ((*connector).to_string(), *index))
            .collect()
    }

    #[test]
    fn encodes_the_compact_format() {
        let running = tasks(&[("conn-b", 0), ("conn-a", 2), ("conn-a", 0), ("conn-a", 1)]);
        assert_eq!(encode_running_tasks(&running), "conn-a:0,1,2;conn-b:0");
        assert_eq!(encode_running_tasks(&[]), "");
    }

    #[test]
    fn decodes_the_compact_format() {
        assert_eq!(
            decode_running_tasks("conn-a:0,1,2;conn-b:0").unwrap(),
            tasks(&[("conn-a", 0), ("conn-a", 1), ("conn-a", 2), ("conn-b", 0)])
        );
        assert_eq!(decode_running_tasks("").unwrap(), Vec::new());
    }

    #[test]
    fn escapes_reserved_characters_in_connector_names() {
        let running = tasks(&[("a:b;c,d%e", 3)]);
        let encoded = encode_running_tasks(&running);
        assert_eq!(encoded, "a%3Ab%3Bc%2Cd%25e:3");
        assert_eq!(decode_running_tasks(&encoded).unwrap(), running);
    }

    #[test]
    fn rejects_malformed_values() {
        assert!(matches!(
            decode_running_tasks("conn-a"),
            Err(DecodeError::MissingSeparator { .. })
        ));
        assert!(matches!(
            decode_running_tasks("conn-a:x"),
            Err(DecodeError::BadTaskIndex { .. })
        ));
        assert!(matches!(
            decode_running_tasks("conn-a:"),
            Err(DecodeError::BadTaskIndex { .. })
        ));
        assert!(matches!(
            decode_running_tasks("c%4:1"),
            Err(DecodeError::BadEscape { .. })
        ));
        assert!(matches!(
            decode_running_tasks("c%41:1"),
            Err(DecodeError::BadEscape { .. })
        ));
    }

    #[test]
    fn assignment_epoch_round_trips() {
        assert_eq!(
            decode_assignment_epoch(&encode_assignment_epoch(42)),
            Some(42)
        );
        assert_eq!(decode_assignment_epoch("nope"), None);
    }

    #[test]
    fn plugins_round_trip_sorted() {
        let offers = vec![
            PluginOffer {
                class: "org.b.Sink".to_string(),
                version: "1.0;x".to_string(),
            },
            PluginOffer {
                class: "org.a.Source".to_string(),
                version: "4.3.1".to_string(),
            },
        ];
        let encoded = encode_plugins(&offers);
        assert_eq!(encoded, "org.a.Source:4.3.1;org.b.Sink:1.0%3Bx");
        let mut expected = offers;
        expected.sort();
        assert_eq!(decode_plugins(&encoded).unwrap(), expected);
        assert_eq!(decode_plugins("").unwrap(), Vec::new());
        assert!(decode_plugins("no-version").is_err());
    }

    proptest! {
        #[test]
        fn running_tasks_round_trip(running in proptest::collection::vec((".{0,12}", 0u32..1_000), 0..20)) {
            let mut expected = running.clone();
            expected.sort();
            expected.dedup();
            let decoded = decode_running_tasks(&encode_running_tasks(&running)).unwrap();
            prop_assert_eq!(decoded, expected);
        }
    }
}
