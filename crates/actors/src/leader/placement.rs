//! Pure placement constraints on top of the balanced assignment: which workers may run a
//! connector, from the plugins they gossip ([`crate::membership::keys::PLUGINS_KEY`]), and
//! moving tasks off workers that gave up on them.
//!
//! A connector whose config selects a built-in (every worker runs the same binary) may run
//! anywhere. Any other connector needs a plugin: only workers that offer a class answering to
//! its `connector.class` (the full name, the simple name, or the simple name without
//! `Connector`, as the registry matches) and, when `connector.plugin.version` is set, that
//! version, may run it or its tasks.

use std::collections::{BTreeMap, BTreeSet};

use ferry_connectors::registry::{class_name_forms, requested_plugin_version};
use ferry_connectors::sdk::framework::keys;
use ferry_connectors::ConnectorRegistry;

use super::assignment::Assignment;
use crate::membership::keys::PluginOffer;
use crate::membership::Members;

/// Returns, for every connector of `connectors` (name → stored config) that needs a plugin, the
/// members that offer it (possibly none). Connectors that may run anywhere are not listed.
pub fn plugin_eligibility(
    registry: &ConnectorRegistry,
    connectors: &BTreeMap<String, BTreeMap<String, String>>,
    members: &Members,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut eligible = BTreeMap::new();
    for (name, config) in connectors {
        let runs_anywhere = registry
            .find_for_config(config)
            .is_some_and(|factory| !factory.plans_tasks_on_assigned_worker());
        if runs_anywhere {
            continue;
        }
        let Some(class) = config.get(keys::CONNECTOR_CLASS) else {
            continue;
        };
        let version_opt = requested_plugin_version(config);
        let offering: BTreeSet<String> = members
            .values()
            .filter(|member| {
                member
                    .plugins
                    .iter()
                    .any(|offer| offer_answers(offer, class, version_opt))
            })
            .map(|member| member.node_id.clone())
            .collect();
        eligible.insert(name.clone(), offering);
    }
    eligible
}

/// Describes the plugin a connector needs, for its status when no worker offers it.
pub fn required_plugin(config: &BTreeMap<String, String>) -> String {
    let class = config.get(keys::CONNECTOR_CLASS).map_or("", String::as_str);
    match requested_plugin_version(config) {
        Some(version) => format!("{} version {version}", class.trim()),
        None => class.trim().to_string(),
    }
}

/// Whether `offer` answers to the class name `wanted` (and the version, when one is named).
fn offer_answers(offer: &PluginOffer, wanted: &str, version_opt: Option<&str>) -> bool {
    version_opt.is_none_or(|version| version == offer.version)
        && class_name_forms(&offer.class).contains(&wanted.trim())
}

/// Moves each task whose worker gave up on it (gossiped `gave_up_tasks`) to the least-loaded
/// worker that has not (and has the connector's plugin, when it needs one); a task every such
/// worker gave up on stays where it is (and shows FAILED).
pub fn move_tasks_off_workers_that_gave_up(
    assignment: &mut Assignment,
    members: &Members,
    workers: &BTreeSet<String>,
    eligible: &BTreeMap<String, BTreeSet<String>>,
) {
    let mut gave_up_by: BTreeMap<&(String, u32), BTreeSet<&str>> = BTreeMap::new();
    for member in members.values() {
        for task in &member.gave_up_tasks {
            gave_up_by
                .entry(task)
                .or_default()
                .insert(member.node_id.as_str());
        }
    }
    if gave_up_by.is_empty() {
        return;
    }
    let mut load: BTreeMap<String, usize> =
        workers.iter().map(|worker| (worker.clone(), 0)).collect();
    for owner in assignment.tasks.values() {
        *load.entry(owner.clone()).or_default() += 1;
    }
    for (task, owner) in &mut assignment.tasks {
        let Some(excluded) = gave_up_by.get(task) else {
            continue;
        };
        if !excluded.contains(owner.as_str()) {
            continue;
        }
        let allowed_opt = eligible.get(&task.0);
        let candidate_opt = load
            .iter()
            .filter(|(worker, _)| !excluded.contains(worker.as_str()))
            .filter(|(worker, _)| allowed_opt.is_none_or(|allowed| allowed.contains(*worker)))
            .min_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)))
            .map(|(worker, _)| worker.clone());
        if let Some(candidate) = candidate_opt {
            tracing::info!(connector = %task.0, task = task.1, from = %owner, to = %candidate, "moving a task its worker gave up on");
            if let Some(count) = load.get_mut(owner.as_str()) {
                *count = count.saturating_sub(1);
            }
            *load.entry(candidate.clone()).or_default() += 1;
            *owner = candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::Member;

    fn member(node_id: &str, offers: &[(&str, &str)]) -> Member {
        Member {
            node_id: node_id.to_string(),
            generation: 1,
            advertise_addr: format!("{node_id}:8083"),
            version: "0.1.0".to_string(),
            ready: true,
            running_tasks: Vec::new(),
            gave_up_tasks: Vec::new(),
            assignment_epoch: 0,
            plugins: offers
                .iter()
                .map(|(class, version)| PluginOffer {
                    class: (*class).to_string(),
                    version: (*version).to_string(),
                })
                .collect(),
        }
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect()
    }

    #[test]
    fn a_task_given_up_on_moves_only_to_a_worker_with_its_plugin() {
        let mut gave_up = member("w1", &[]);
        gave_up.gave_up_tasks = vec![("jar".to_string(), 0), ("builtin".to_string(), 0)];
        let members: Members = [gave_up, member("w2", &[]), member("w3", &[])]
            .into_iter()
            .map(|member| (member.node_id.clone(), member))
            .collect();
        let workers: BTreeSet<String> = members.keys().cloned().collect();
        let mut assignment = Assignment {
            epoch: 1,
            connectors: BTreeMap::new(),
            tasks: [
                (("jar".to_string(), 0), "w1".to_string()),
                (("builtin".to_string(), 0), "w1".to_string()),
                (("other".to_string(), 0), "w2".to_string()),
                (("other".to_string(), 1), "w3".to_string()),
                (("other".to_string(), 2), "w3".to_string()),
            ]
            .into(),
            ..Assignment::default()
        };
        let eligible: BTreeMap<String, BTreeSet<String>> = [(
            "jar".to_string(),
            BTreeSet::from(["w1".to_string(), "w3".to_string()]),
        )]
        .into();
        move_tasks_off_workers_that_gave_up(&mut assignment, &members, &workers, &eligible);
        assert_eq!(assignment.tasks[&("jar".to_string(), 0)], "w3");
        // The built-in goes to the least-loaded worker, w2; the jar task to w3 although w2
        // is then as loaded, because only w3 has its plugin.
        assert_eq!(assignment.tasks[&("builtin".to_string(), 0)], "w2");
        assert_eq!(assignment.tasks[&("other".to_string(), 0)], "w2");
    }

    #[test]
    fn only_workers_offering_the_class_and_version_are_eligible() {
        let members: Members = [
            member("a", &[]),
            member(
                "b",
                &[(
                    "org.apache.kafka.connect.file.FileStreamSourceConnector",
                    "4.3.1",
                )],
            ),
            member("c", &[("org.acme.JdbcSourceConnector", "2.0")]),
        ]
        .into_iter()
        .map(|member| (member.node_id.clone(), member))
        .collect();
        let connectors: BTreeMap<String, BTreeMap<String, String>> = [
            (
                "jar-file".to_string(),
                config(&[
                    ("connector.class", "FileStreamSource"),
                    ("connector.plugin.version", "4.3.1"),
                ]),
            ),
            (
                "builtin-file".to_string(),
                config(&[("connector.class", "FileStreamSource")]),
            ),
            (
                "jdbc".to_string(),
                config(&[("connector.class", "org.acme.JdbcSourceConnector")]),
            ),
            (
                "jdbc-old".to_string(),
                config(&[
                    ("connector.class", "JdbcSource"),
                    ("connector.plugin.version", "[1.0]"),
                ]),
            ),
        ]
        .into();
        let registry = ferry_connectors::builtin_registry();
        let eligible = plugin_eligibility(&registry, &connectors, &members);
        assert_eq!(eligible["jar-file"], BTreeSet::from(["b".to_string()]));
        assert!(
            !eligible.contains_key("builtin-file"),
            "a built-in runs anywhere"
        );
        assert_eq!(eligible["jdbc"], BTreeSet::from(["c".to_string()]));
        assert!(eligible["jdbc-old"].is_empty(), "no worker has version 1.0");
        assert_eq!(
            required_plugin(&connectors["jdbc-old"]),
            "JdbcSource version 1.0"
        );
    }
}
