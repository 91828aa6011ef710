//! Pure planning: which task configs a connector should have, and which tasks this worker should
//! start and stop to match the desired set.

use std::collections::{BTreeMap, BTreeSet};

use ferry_connectors::sdk::TaskConfig;

/// A task's identity: connector name and index.
pub type TaskKey = (String, u32);

/// What to change on this worker.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TaskDiff {
    pub to_stop: Vec<TaskKey>,
    pub to_start: Vec<TaskKey>,
}

/// Compares running tasks (with the config they run) with the desired ones. A task whose config
/// changed is stopped and started again.
pub fn diff_tasks(
    running: &BTreeMap<TaskKey, TaskConfig>,
    desired: &BTreeMap<TaskKey, TaskConfig>,
    failed: &BTreeSet<TaskKey>,
) -> TaskDiff {
    let mut diff = TaskDiff::default();
    for (key, config) in running {
        match desired.get(key) {
            Some(wanted) if wanted == config => {}
            _ => diff.to_stop.push(key.clone()),
        }
    }
    for (key, config) in desired {
        let unchanged = running.get(key) == Some(config);
        if !unchanged && !failed.contains(key) {
            diff.to_start.push(key.clone());
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: &str) -> TaskConfig {
        BTreeMap::from([("k".to_string(), value.to_string())])
    }

    fn key(name: &str, index: u32) -> TaskKey {
        (name.to_string(), index)
    }

    #[test]
    fn starts_new_stops_gone_and_restarts_changed() {
        let running = BTreeMap::from([
            (key("a", 0), config("1")),
            (key("b", 0), config("1")),
            (key("c", 0), config("1")),
        ]);
        let desired = BTreeMap::from([
            (key("a", 0), config("1")),
            (key("c", 0), config("2")),
            (key("d", 0), config("1")),
        ]);
        let diff = diff_tasks(&running, &desired, &BTreeSet::new());
        assert_eq!(diff.to_stop, vec![key("b", 0), key("c", 0)]);
        assert_eq!(diff.to_start, vec![key("c", 0), key("d", 0)]);
    }

    #[test]
    fn failed_tasks_are_not_restarted_by_reconciliation() {
        let desired = BTreeMap::from([(key("a", 0), config("1"))]);
        let failed = BTreeSet::from([key("a", 0)]);
        assert_eq!(
            diff_tasks(&BTreeMap::new(), &desired, &failed),
            TaskDiff::default()
        );
    }
}
