//! Pure assignment of connectors and tasks to workers: balanced within ±1 per worker (connectors
//! and tasks counted separately) and sticky (only what must move, moves).
//!
//! Connectors and tasks are placed by the same procedure, [`place_items_sticky`]:
//! 1. keep every item on its previous worker when that worker is still present;
//! 2. give the `total % workers` "one extra" slots to the workers that keep the most items, so that
//!    as few kept items as possible exceed a worker's target (`total / workers`, `+ 1` for those);
//! 3. a worker above its target releases the items of the connectors it holds the most tasks of;
//! 4. released and unplaced items (new, or from departed workers) go, in key order, to the
//!    least-loaded worker below its target, then the one with the fewest tasks of the same
//!    connector, then the smallest node id.
//!
//! Step 2 makes the movement minimal: a worker with `kept` previous items that still exist must
//! lose `max(0, kept - target)` of them, and giving the extra slots to the largest `kept` minimises
//! the sum. Consequences the tests check: when one worker joins a balanced assignment, only the
//! tasks the new worker receives move; when one leaves, only its own tasks move.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// A task's identity: connector name and task index (the same alias as
/// [`crate::worker::plan::TaskKey`]).
pub type TaskKey = (String, u32);

/// Which worker runs each connector and each task, as of one leader epoch.
///
/// Serialised compactly: `{"epoch": 3, "connectors": {"c": "node"}, "tasks": [["c", 0, "node"]]}`
/// (a tuple cannot be a JSON object key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Incremented by [`compute_assignment`] whenever the assignment changes; workers ignore an
    /// assignment older than the one they applied.
    pub epoch: u64,
    /// Connector name → worker node id.
    pub connectors: BTreeMap<String, String>,
    /// Task → worker node id.
    #[serde(with = "task_list_serde")]
    pub tasks: BTreeMap<TaskKey, String>,
    /// Worker node id → the lease incarnation the leader read for it when it published this
    /// assignment (set by the leader, not by [`compute_assignment`]). A worker runs nothing from
    /// an assignment that names another incarnation of it: after its lease lapsed it waits for
    /// a leader that saw its new lease (and so knows where its old tasks went). Empty from
    /// older versions and under `ferry dev`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub leases: BTreeMap<String, u64>,
}

impl Assignment {
    /// Returns the tasks assigned to `worker`, in key order.
    pub fn tasks_of(&self, worker: &str) -> Vec<TaskKey> {
        self.tasks
            .iter()
            .filter(|(_, owner)| owner.as_str() == worker)
            .map(|(task_key, _)| task_key.clone())
            .collect()
    }

    /// Returns the connectors assigned to `worker`, in name order.
    pub fn connectors_of(&self, worker: &str) -> Vec<String> {
        self.connectors
            .iter()
            .filter(|(_, owner)| owner.as_str() == worker)
            .map(|(connector, _)| connector.clone())
            .collect()
    }
}

/// Serialises the task map as a list of `[connector, index, worker]` triples.
mod task_list_serde {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::TaskKey;

    pub(super) fn serialize<S: Serializer>(
        tasks: &BTreeMap<TaskKey, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let triples: Vec<(&str, u32, &str)> = tasks
            .iter()
            .map(|((connector, index), worker)| (connector.as_str(), *index, worker.as_str()))
            .collect();
        triples.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<TaskKey, String>, D::Error> {
        let triples: Vec<(String, u32, String)> = Vec::deserialize(deserializer)?;
        let mut tasks = BTreeMap::new();
        for (connector, index, worker) in triples {
            let task_key = (connector, index);
            if tasks.contains_key(&task_key) {
                let (connector, index) = task_key;
                return Err(D::Error::custom(format!(
                    "task `{connector}-{index}` is assigned twice"
                )));
            }
            tasks.insert(task_key, worker);
        }
        Ok(tasks)
    }
}

/// Returns the assignment of every connector and every task `(connector, 0..task_count)` to one
/// of `workers`, starting from `previous`.
///
/// Balanced within ±1 per worker (connectors and tasks counted separately), sticky with minimal
/// movement, and deterministic (see the module docs). Deleted connectors and tasks and departed
/// workers disappear. `epoch` is `previous.epoch + 1` if anything changed, else `previous.epoch`.
/// With no workers the assignment is empty.
pub fn compute_assignment(
    workers: &BTreeSet<String>,
    connectors: &BTreeMap<String, u32>,
    previous: &Assignment,
) -> Assignment {
    let connector_names: Vec<String> = connectors.keys().cloned().collect();
    let task_keys: Vec<TaskKey> = connectors
        .iter()
        .flat_map(|(connector, task_count)| {
            (0..*task_count).map(move |index| (connector.clone(), index))
        })
        .collect();

    let assigned_connectors = place_items_sticky(
        &connector_names,
        workers,
        &previous.connectors,
        |connector: &String| connector.as_str(),
    );
    let assigned_tasks = place_items_sticky(
        &task_keys,
        workers,
        &previous.tasks,
        |task_key: &TaskKey| task_key.0.as_str(),
    );

    let changed = assigned_connectors != previous.connectors || assigned_tasks != previous.tasks;
    let epoch = if changed {
        previous.epoch + 1
    } else {
        previous.epoch
    };
    let assignment = Assignment {
        epoch,
        connectors: assigned_connectors,
        tasks: assigned_tasks,
        leases: BTreeMap::new(),
    };
    debug_assert_eq!(
        find_postcondition_violation(workers, connectors, &assignment),
        None,
        "compute_assignment broke its post-conditions"
    );
    assignment
}

/// Like [`compute_assignment`], but a connector listed in `eligible` (a plugin connector) and
/// its tasks go only to the workers listed for it (those that have its plugin); a connector
/// none of whose eligible workers is present stays unassigned, with its tasks. Connectors not
/// listed may go to any worker.
///
/// Connectors that share the same set of present eligible workers are placed together by the
/// same sticky, balanced procedure over that set, so balance (±1) holds within each such group,
/// not across groups. Without `eligible` entries this is exactly [`compute_assignment`].
pub fn compute_assignment_where_eligible(
    workers: &BTreeSet<String>,
    connectors: &BTreeMap<String, u32>,
    eligible: &BTreeMap<String, BTreeSet<String>>,
    previous: &Assignment,
) -> Assignment {
    if !connectors.keys().any(|name| eligible.contains_key(name)) {
        return compute_assignment(workers, connectors, previous);
    }
    let mut groups: BTreeMap<BTreeSet<String>, BTreeMap<String, u32>> = BTreeMap::new();
    for (name, task_count) in connectors {
        let group_workers = match eligible.get(name) {
            Some(allowed) => allowed.intersection(workers).cloned().collect(),
            None => workers.clone(),
        };
        groups
            .entry(group_workers)
            .or_default()
            .insert(name.clone(), *task_count);
    }
    let mut assigned_connectors = BTreeMap::new();
    let mut assigned_tasks = BTreeMap::new();
    for (group_workers, group_connectors) in &groups {
        let group_previous = Assignment {
            epoch: previous.epoch,
            connectors: previous
                .connectors
                .iter()
                .filter(|(name, _)| group_connectors.contains_key(*name))
                .map(|(name, owner)| (name.clone(), owner.clone()))
                .collect(),
            tasks: previous
                .tasks
                .iter()
                .filter(|((name, _), _)| group_connectors.contains_key(name))
                .map(|(task_key, owner)| (task_key.clone(), owner.clone()))
                .collect(),
            leases: BTreeMap::new(),
        };
        let placed = compute_assignment(group_workers, group_connectors, &group_previous);
        assigned_connectors.extend(placed.connectors);
        assigned_tasks.extend(placed.tasks);
    }
    let changed = assigned_connectors != previous.connectors || assigned_tasks != previous.tasks;
    let assignment = Assignment {
        epoch: if changed {
            previous.epoch + 1
        } else {
            previous.epoch
        },
        connectors: assigned_connectors,
        tasks: assigned_tasks,
        leases: BTreeMap::new(),
    };
    debug_assert!(
        assignment
            .connectors
            .iter()
            .chain(
                assignment
                    .tasks
                    .iter()
                    .map(|((name, _), owner)| (name, owner))
            )
            .all(|(name, owner)| workers.contains(owner)
                && eligible
                    .get(name)
                    .is_none_or(|allowed| allowed.contains(owner))),
        "compute_assignment_where_eligible placed work on a worker without its plugin"
    );
    assignment
}

/// Returns the tasks of `next` whose worker differs from `previous`: `(task, from, to)`, where
/// `from` is `None` for a task that was not assigned before. Tasks only in `previous` (deleted)
/// are not listed. A move from a live worker is revoke-then-assign: stop it on `from`, wait until
/// `from` reports it stopped (or is declared dead), then start it on `to`.
pub fn moved_tasks(
    previous: &Assignment,
    next: &Assignment,
) -> Vec<(TaskKey, Option<String>, String)> {
    let mut moves = Vec::new();
    for (task_key, next_worker) in &next.tasks {
        let previous_worker_opt = previous.tasks.get(task_key);
        if previous_worker_opt != Some(next_worker) {
            moves.push((
                task_key.clone(),
                previous_worker_opt.cloned(),
                next_worker.clone(),
            ));
        }
    }
    moves
}

/// Places every item of `items` (sorted, without duplicates) on one of `workers`, balanced
/// within ±1, keeping items on their `previous_owner` where the balance allows. `group_of` names
/// the connector an item belongs to, used to spread a connector's tasks over workers.
fn place_items_sticky<Item: Ord + Clone>(
    items: &[Item],
    workers: &BTreeSet<String>,
    previous_owner: &BTreeMap<Item, String>,
    group_of: impl Fn(&Item) -> &str,
) -> BTreeMap<Item, String> {
    if workers.is_empty() {
        return BTreeMap::new();
    }
    // Workers are addressed by their index in node id order, which is also the final tie-break.
    let worker_ids: Vec<&String> = workers.iter().collect();
    let worker_index_by_id: HashMap<&str, usize> = worker_ids
        .iter()
        .enumerate()
        .map(|(worker_index, worker_id)| (worker_id.as_str(), worker_index))
        .collect();

    let mut kept_by_worker: Vec<Vec<&Item>> = vec![Vec::new(); worker_ids.len()];
    let mut unplaced: Vec<&Item> = Vec::new();
    for item in items {
        let previous_worker_index_opt = previous_owner
            .get(item)
            .and_then(|owner| worker_index_by_id.get(owner.as_str()));
        match previous_worker_index_opt {
            Some(worker_index) => kept_by_worker[*worker_index].push(item),
            None => unplaced.push(item),
        }
    }

    let targets = balanced_targets(&kept_by_worker, items.len());
    let mut group_sizes: HashMap<&str, usize> = HashMap::new();
    for item in items {
        *group_sizes.entry(group_of(item)).or_default() += 1;
    }
    let spread = GroupSpread {
        group_of: &group_of,
        group_sizes,
        worker_count: worker_ids.len(),
    };
    for (worker_index, kept) in kept_by_worker.iter_mut().enumerate() {
        let excess = kept.len().saturating_sub(targets[worker_index]);
        if excess > 0 {
            unplaced.extend(release_most_concentrated(kept, excess, &spread));
        }
    }
    unplaced.sort();

    let mut loads: Vec<usize> = kept_by_worker.iter().map(Vec::len).collect();
    let mut group_counts: Vec<HashMap<&str, usize>> = kept_by_worker
        .iter()
        .map(|kept| {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for item in kept {
                *counts.entry(group_of(item)).or_default() += 1;
            }
            counts
        })
        .collect();

    let mut placement: BTreeMap<Item, String> = BTreeMap::new();
    for (worker_index, kept) in kept_by_worker.iter().enumerate() {
        for item in kept {
            placement.insert((*item).clone(), worker_ids[worker_index].clone());
        }
    }
    for item in unplaced {
        let group = group_of(item);
        let chosen_worker_index = (0..worker_ids.len())
            .filter(|worker_index| loads[*worker_index] < targets[*worker_index])
            .min_by_key(|worker_index| {
                let same_group_count = group_counts[*worker_index].get(group).copied().unwrap_or(0);
                (loads[*worker_index], same_group_count, *worker_index)
            })
            .expect("targets sum to the item count, so a worker below its target remains");
        loads[chosen_worker_index] += 1;
        *group_counts[chosen_worker_index].entry(group).or_default() += 1;
        placement.insert(item.clone(), worker_ids[chosen_worker_index].clone());
    }
    placement
}

/// Returns each worker's target item count: `total / workers`, plus one for the `total % workers`
/// workers that keep the most items (ties: smallest node id), which minimises the kept items
/// that exceed their worker's target.
fn balanced_targets<Item>(kept_by_worker: &[Vec<&Item>], total_items: usize) -> Vec<usize> {
    let worker_count = kept_by_worker.len();
    let base_target = total_items / worker_count;
    let workers_with_one_extra = total_items % worker_count;
    let mut worker_indices_by_kept_desc: Vec<usize> = (0..worker_count).collect();
    worker_indices_by_kept_desc.sort_by_key(|worker_index| {
        (
            std::cmp::Reverse(kept_by_worker[*worker_index].len()),
            *worker_index,
        )
    });
    let mut targets = vec![base_target; worker_count];
    for worker_index in worker_indices_by_kept_desc
        .into_iter()
        .take(workers_with_one_extra)
    {
        targets[worker_index] += 1;
    }
    targets
}

/// Removes `excess` items from `kept` and returns them, taking first from the group (connector)
/// that holds the most items here beyond its fair share (`group size / workers`), highest key
/// first; this spreads a connector's tasks when some have to move anyway.
fn release_most_concentrated<'item, Item: Ord>(
    kept: &mut Vec<&'item Item>,
    excess: usize,
    spread: &GroupSpread<'_, impl Fn(&Item) -> &str>,
) -> Vec<&'item Item> {
    // `kept` is sorted, so the n-th item of a group (1-based) is released when its group has n
    // items left here. Its priority is how far n exceeds the fair share, scaled by the worker
    // count to stay in integers: `n * workers - group size`; ties release the larger n first.
    let mut seen_per_group: HashMap<&str, usize> = HashMap::new();
    let mut ranked: Vec<(i64, usize, &'item Item)> = Vec::with_capacity(kept.len());
    for item in kept.iter() {
        let group = (spread.group_of)(item);
        let seen = seen_per_group.entry(group).or_default();
        *seen += 1;
        let group_size = spread.group_sizes.get(group).copied().unwrap_or(0);
        let above_fair_share = (*seen * spread.worker_count) as i64 - group_size as i64;
        ranked.push((above_fair_share, *seen, *item));
    }
    ranked.sort_by(
        |(left_above, left_seen, left_item), (right_above, right_seen, right_item)| {
            right_above
                .cmp(left_above)
                .then_with(|| right_seen.cmp(left_seen))
                .then_with(|| (spread.group_of)(left_item).cmp((spread.group_of)(right_item)))
                .then_with(|| right_item.cmp(left_item))
        },
    );
    let released: Vec<&'item Item> = ranked
        .into_iter()
        .take(excess)
        .map(|(_, _, item)| item)
        .collect();
    let released_set: BTreeSet<&Item> = released.iter().copied().collect();
    kept.retain(|item| !released_set.contains(item));
    released
}

/// What [`release_most_concentrated`] needs to judge how concentrated a group is on a worker.
struct GroupSpread<'group, GroupOf> {
    group_of: GroupOf,
    /// Items per group, across all workers.
    group_sizes: HashMap<&'group str, usize>,
    worker_count: usize,
}

/// Returns a description of the first broken post-condition of [`compute_assignment`], if any:
/// everything (and nothing else) assigned exactly once, only to present workers, balanced ±1.
fn find_postcondition_violation(
    workers: &BTreeSet<String>,
    connectors: &BTreeMap<String, u32>,
    assignment: &Assignment,
) -> Option<String> {
    if workers.is_empty() {
        let is_empty = assignment.connectors.is_empty() && assignment.tasks.is_empty();
        return (!is_empty).then(|| "no workers but something is assigned".to_string());
    }
    let expected_connectors: BTreeSet<&String> = connectors.keys().collect();
    let assigned_connectors: BTreeSet<&String> = assignment.connectors.keys().collect();
    if expected_connectors != assigned_connectors {
        return Some("assigned connectors differ from the configured ones".to_string());
    }
    let expected_task_count: usize = connectors.values().map(|count| *count as usize).sum();
    let every_task_expected = assignment
        .tasks
        .keys()
        .all(|(connector, index)| connectors.get(connector).is_some_and(|count| index < count));
    if assignment.tasks.len() != expected_task_count || !every_task_expected {
        return Some("assigned tasks differ from the configured ones".to_string());
    }
    for (kind, owners) in [
        (
            "connectors",
            assignment.connectors.values().collect::<Vec<_>>(),
        ),
        ("tasks", assignment.tasks.values().collect::<Vec<_>>()),
    ] {
        let mut count_per_worker: BTreeMap<&String, usize> =
            workers.iter().map(|worker| (worker, 0)).collect();
        for owner in owners {
            match count_per_worker.get_mut(owner) {
                Some(count) => *count += 1,
                None => return Some(format!("{kind} assigned to absent worker `{owner}`")),
            }
        }
        let most = count_per_worker.values().max().copied().unwrap_or(0);
        let fewest = count_per_worker.values().min().copied().unwrap_or(0);
        if most > fewest + 1 {
            return Some(format!("{kind} unbalanced: {fewest}..={most} per worker"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::*;

    fn workers_named(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn connectors_with(task_counts: &[(&str, u32)]) -> BTreeMap<String, u32> {
        task_counts
            .iter()
            .map(|(connector, task_count)| (connector.to_string(), *task_count))
            .collect()
    }

    fn task(connector: &str, index: u32) -> TaskKey {
        (connector.to_string(), index)
    }

    /// Counts per worker, including workers that got nothing.
    fn task_counts_per_worker(
        assignment: &Assignment,
        workers: &BTreeSet<String>,
    ) -> BTreeMap<String, usize> {
        workers
            .iter()
            .map(|worker| (worker.clone(), assignment.tasks_of(worker).len()))
            .collect()
    }

    #[test]
    fn fresh_assignment_is_balanced_and_spreads_each_connector() {
        let workers = workers_named(&["w1", "w2", "w3"]);
        let connectors = connectors_with(&[("orders", 3), ("users", 4)]);
        let assignment = compute_assignment(&workers, &connectors, &Assignment::default());
        assert_eq!(assignment.epoch, 1);
        let counts = task_counts_per_worker(&assignment, &workers);
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![3, 2, 2]);
        for worker in &workers {
            let orders_here = assignment
                .tasks_of(worker)
                .iter()
                .filter(|(connector, _)| connector == "orders")
                .count();
            assert_eq!(orders_here, 1, "orders tasks are spread, one per worker");
        }
        assert_eq!(assignment.connectors.len(), 2);
        assert_ne!(
            assignment.connectors["orders"],
            assignment.connectors["users"]
        );
    }

    #[test]
    fn no_workers_means_an_empty_assignment() {
        let connectors = connectors_with(&[("orders", 3)]);
        let empty = compute_assignment(&BTreeSet::new(), &connectors, &Assignment::default());
        assert_eq!(empty, Assignment::default());

        let previous = compute_assignment(&workers_named(&["w1"]), &connectors, &empty);
        let after_everyone_left = compute_assignment(&BTreeSet::new(), &connectors, &previous);
        assert!(after_everyone_left.tasks.is_empty() && after_everyone_left.connectors.is_empty());
        assert_eq!(after_everyone_left.epoch, previous.epoch + 1);
    }

    #[test]
    fn recomputing_with_the_same_inputs_changes_nothing() {
        let workers = workers_named(&["w1", "w2", "w3"]);
        let connectors = connectors_with(&[("orders", 5), ("users", 7), ("audit", 1)]);
        let first = compute_assignment(&workers, &connectors, &Assignment::default());
        let second = compute_assignment(&workers, &connectors, &first);
        assert_eq!(first, second);
    }

    #[test]
    fn a_joining_worker_takes_only_what_balance_needs() {
        let connectors = connectors_with(&[("orders", 4), ("users", 5)]);
        let before = compute_assignment(
            &workers_named(&["w1", "w2"]),
            &connectors,
            &Assignment::default(),
        );
        let after = compute_assignment(&workers_named(&["w1", "w2", "w3"]), &connectors, &before);
        let moves = moved_tasks(&before, &after);
        assert_eq!(moves.len(), 3, "9 tasks over 3 workers: w3 takes 3");
        assert!(moves
            .iter()
            .all(|(_, from, to)| from.is_some() && to == "w3"));
        assert_eq!(after.epoch, before.epoch + 1);
    }

    #[test]
    fn a_leaving_worker_hands_over_only_its_own_tasks() {
        let connectors = connectors_with(&[("orders", 4), ("users", 5)]);
        let three_workers = workers_named(&["w1", "w2", "w3"]);
        let before = compute_assignment(&three_workers, &connectors, &Assignment::default());
        let after = compute_assignment(&workers_named(&["w1", "w3"]), &connectors, &before);
        let moves = moved_tasks(&before, &after);
        assert_eq!(moves.len(), before.tasks_of("w2").len());
        assert!(moves
            .iter()
            .all(|(_, from, _)| from.as_deref() == Some("w2")));
    }

    #[test]
    fn deleted_connectors_and_tasks_disappear_and_new_ones_are_placed() {
        let workers = workers_named(&["w1", "w2"]);
        let before = compute_assignment(
            &workers,
            &connectors_with(&[("orders", 4), ("users", 2)]),
            &Assignment::default(),
        );
        let after = compute_assignment(
            &workers,
            &connectors_with(&[("orders", 2), ("audit", 1)]),
            &before,
        );
        let expected_tasks =
            BTreeSet::from([task("audit", 0), task("orders", 0), task("orders", 1)]);
        assert_eq!(
            after.tasks.keys().cloned().collect::<BTreeSet<_>>(),
            expected_tasks
        );
        assert_eq!(
            after.connectors.keys().cloned().collect::<Vec<_>>(),
            vec!["audit".to_string(), "orders".to_string()]
        );
        let moves = moved_tasks(&before, &after);
        assert!(moves.contains(&(
            task("audit", 0),
            None,
            after.tasks[&task("audit", 0)].clone()
        )));
    }

    #[test]
    fn a_crowded_worker_releases_tasks_of_its_most_concentrated_connector() {
        // Everything previously ran on w1; when w2 joins it gets half, spread across connectors.
        let connectors = connectors_with(&[("orders", 4), ("users", 2)]);
        let before =
            compute_assignment(&workers_named(&["w1"]), &connectors, &Assignment::default());
        let after = compute_assignment(&workers_named(&["w1", "w2"]), &connectors, &before);
        assert_eq!(
            after.tasks_of("w2"),
            vec![task("orders", 2), task("orders", 3), task("users", 1)],
            "w2 gets two orders tasks and one users task, not three orders tasks"
        );
    }

    #[test]
    fn helpers_list_what_a_worker_runs() {
        let assignment = Assignment {
            epoch: 4,
            connectors: BTreeMap::from([
                ("orders".to_string(), "w1".to_string()),
                ("users".to_string(), "w2".to_string()),
            ]),
            tasks: BTreeMap::from([
                (task("orders", 0), "w2".to_string()),
                (task("orders", 1), "w1".to_string()),
                (task("users", 0), "w1".to_string()),
            ]),
            ..Assignment::default()
        };
        assert_eq!(
            assignment.tasks_of("w1"),
            vec![task("orders", 1), task("users", 0)]
        );
        assert_eq!(assignment.connectors_of("w1"), vec!["orders".to_string()]);
        assert!(assignment.tasks_of("w3").is_empty());
    }

    #[test]
    fn json_round_trip_uses_a_compact_task_list() {
        let assignment = Assignment {
            epoch: 7,
            connectors: BTreeMap::from([("orders".to_string(), "w1".to_string())]),
            tasks: BTreeMap::from([
                (task("orders", 0), "w1".to_string()),
                (task("orders", 1), "w2".to_string()),
            ]),
            ..Assignment::default()
        };
        let json = serde_json::to_value(&assignment).expect("assignment serialises");
        assert_eq!(
            json,
            serde_json::json!({
                "epoch": 7,
                "connectors": {"orders": "w1"},
                "tasks": [["orders", 0, "w1"], ["orders", 1, "w2"]],
            })
        );
        let text = serde_json::to_string(&assignment).expect("assignment serialises");
        let parsed: Assignment = serde_json::from_str(&text).expect("assignment parses");
        assert_eq!(parsed, assignment);
    }

    #[test]
    fn json_with_a_task_assigned_twice_is_rejected() {
        let text = r#"{"epoch":1,"connectors":{},"tasks":[["orders",0,"w1"],["orders",0,"w2"]]}"#;
        let error = serde_json::from_str::<Assignment>(text).expect_err("duplicate task");
        assert!(error.to_string().contains("assigned twice"), "{error}");
    }

    #[test]
    fn thousand_connectors_ten_thousand_tasks_fifty_workers_is_fast() {
        let connectors: BTreeMap<String, u32> = (0..1_000)
            .map(|connector_number| (format!("connector-{connector_number:04}"), 10))
            .collect();
        let fifty_workers: BTreeSet<String> = (0..50)
            .map(|worker_number| format!("worker-{worker_number:02}"))
            .collect();
        let mut fifty_one_workers = fifty_workers.clone();
        fifty_one_workers.insert("worker-joined".to_string());

        let started = Instant::now();
        let fresh = compute_assignment(&fifty_workers, &connectors, &Assignment::default());
        let fresh_elapsed = started.elapsed();
        let started = Instant::now();
        let after_join = compute_assignment(&fifty_one_workers, &connectors, &fresh);
        let join_elapsed = started.elapsed();
        let started = Instant::now();
        let after_leave = compute_assignment(&fifty_workers, &connectors, &after_join);
        let leave_elapsed = started.elapsed();
        eprintln!(
            "1,000 connectors / 10,000 tasks / 50 workers: fresh {fresh_elapsed:?}, \
             join {join_elapsed:?}, leave {leave_elapsed:?}"
        );

        assert_eq!(fresh.tasks.len(), 10_000);
        assert_eq!(after_join.tasks_of("worker-joined").len(), 196);
        assert_eq!(moved_tasks(&fresh, &after_join).len(), 196);
        assert_eq!(moved_tasks(&after_join, &after_leave).len(), 196);
        // Loose bound: debug builds with post-condition checks; the target (< 1 s) is for release.
        for elapsed in [fresh_elapsed, join_elapsed, leave_elapsed] {
            assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
        }
    }

    fn eligible_on(entries: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        entries
            .iter()
            .map(|(connector, workers)| (connector.to_string(), workers_named(workers)))
            .collect()
    }

    #[test]
    fn a_plugin_connector_goes_only_to_workers_with_its_plugin() {
        let workers = workers_named(&["w1", "w2", "w3"]);
        let connectors = connectors_with(&[("jar", 4), ("builtin", 6)]);
        let eligible = eligible_on(&[("jar", &["w2"])]);
        let assignment = compute_assignment_where_eligible(
            &workers,
            &connectors,
            &eligible,
            &Assignment::default(),
        );
        assert_eq!(assignment.connectors["jar"], "w2");
        for index in 0..4 {
            assert_eq!(assignment.tasks[&task("jar", index)], "w2");
        }
        let counts = task_counts_per_worker(
            &Assignment {
                tasks: assignment
                    .tasks
                    .iter()
                    .filter(|((connector, _), _)| connector == "builtin")
                    .map(|(key, owner)| (key.clone(), owner.clone()))
                    .collect(),
                ..Assignment::default()
            },
            &workers,
        );
        assert_eq!(
            counts.values().copied().collect::<Vec<_>>(),
            vec![2, 2, 2],
            "the unconstrained connector is balanced over every worker"
        );
    }

    #[test]
    fn a_plugin_connector_without_a_worker_stays_unassigned_until_one_appears() {
        let connectors = connectors_with(&[("jar", 2), ("builtin", 1)]);
        let eligible = eligible_on(&[("jar", &["w9"])]);
        let without = compute_assignment_where_eligible(
            &workers_named(&["w1", "w2"]),
            &connectors,
            &eligible,
            &Assignment::default(),
        );
        assert!(!without.connectors.contains_key("jar"));
        assert!(without
            .tasks
            .keys()
            .all(|(connector, _)| connector != "jar"));
        assert!(without.connectors.contains_key("builtin"));

        let with = compute_assignment_where_eligible(
            &workers_named(&["w1", "w2", "w9"]),
            &connectors,
            &eligible,
            &without,
        );
        assert_eq!(with.connectors["jar"], "w9");
        assert_eq!(with.tasks[&task("jar", 0)], "w9");
        assert_eq!(with.tasks[&task("jar", 1)], "w9");
        assert_eq!(
            with.connectors["builtin"], without.connectors["builtin"],
            "the built-in connector does not move"
        );
        assert_eq!(with.epoch, without.epoch + 1);
    }

    #[test]
    fn a_plugin_connector_is_spread_over_the_workers_that_have_it_and_stays_put() {
        let workers = workers_named(&["w1", "w2", "w3"]);
        let connectors = connectors_with(&[("jar", 4)]);
        let eligible = eligible_on(&[("jar", &["w1", "w3"])]);
        let first = compute_assignment_where_eligible(
            &workers,
            &connectors,
            &eligible,
            &Assignment::default(),
        );
        assert_eq!(first.tasks_of("w1").len(), 2);
        assert_eq!(first.tasks_of("w3").len(), 2);
        assert!(first.tasks_of("w2").is_empty());
        let again = compute_assignment_where_eligible(&workers, &connectors, &eligible, &first);
        assert_eq!(again, first, "recomputing changes nothing");
        // w1 leaves: everything goes to w3, nothing to w2.
        let after_leave = compute_assignment_where_eligible(
            &workers_named(&["w2", "w3"]),
            &connectors,
            &eligible,
            &first,
        );
        assert_eq!(after_leave.tasks_of("w3").len(), 4);
        assert_eq!(after_leave.connectors["jar"], "w3");
    }

    fn worker_set_strategy(
        size: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = BTreeSet<String>> {
        prop::collection::btree_set(0u8..12, size).prop_map(|worker_numbers| {
            worker_numbers
                .into_iter()
                .map(|worker_number| format!("worker-{worker_number:02}"))
                .collect()
        })
    }

    fn connectors_strategy() -> impl Strategy<Value = BTreeMap<String, u32>> {
        prop::collection::btree_map(0u8..40, 0u32..=12, 0..30).prop_map(|raw_connectors| {
            raw_connectors
                .into_iter()
                .map(|(connector_number, task_count)| {
                    (format!("connector-{connector_number:02}"), task_count)
                })
                .collect()
        })
    }

    /// Workers, connectors, and a previous assignment computed for a different worker set (and,
    /// half of the time, different connectors), itself sticky from a fresh start.
    fn scenario_strategy(
    ) -> impl Strategy<Value = (BTreeSet<String>, BTreeMap<String, u32>, Assignment)> {
        (
            worker_set_strategy(1..=8),
            connectors_strategy(),
            worker_set_strategy(0..=8),
            connectors_strategy(),
            any::<bool>(),
        )
            .prop_map(
                |(workers, connectors, previous_workers, other_connectors, same_connectors)| {
                    let previous_connectors = if same_connectors {
                        connectors.clone()
                    } else {
                        other_connectors
                    };
                    let previous = compute_assignment(
                        &previous_workers,
                        &previous_connectors,
                        &Assignment::default(),
                    );
                    (workers, connectors, previous)
                },
            )
    }

    /// Fewest moves (of items that could have stayed) any ±1-balanced assignment needs: each
    /// worker keeping `kept` items must drop those above its target, and the `total % workers`
    /// extra slots can each save one drop on a worker with `kept > base`.
    fn minimal_moves_lower_bound(kept_per_worker: &[usize], total_items: usize) -> usize {
        let base_target = total_items / kept_per_worker.len();
        let extra_slots = total_items % kept_per_worker.len();
        let above_base: usize = kept_per_worker
            .iter()
            .map(|kept| kept.saturating_sub(base_target))
            .sum();
        let workers_above_base = kept_per_worker
            .iter()
            .filter(|kept| **kept > base_target)
            .count();
        above_base - extra_slots.min(workers_above_base)
    }

    proptest! {
        #[test]
        fn constrained_connectors_land_only_on_eligible_workers(
            (workers, connectors, previous) in scenario_strategy(),
            constraints in prop::collection::btree_map(0u8..40, worker_set_strategy(0..=4), 0..10),
        ) {
            let eligible: BTreeMap<String, BTreeSet<String>> = constraints
                .into_iter()
                .map(|(connector_number, allowed)| (format!("connector-{connector_number:02}"), allowed))
                .collect();
            let assignment =
                compute_assignment_where_eligible(&workers, &connectors, &eligible, &previous);
            for (connector, task_count) in &connectors {
                let allowed: BTreeSet<String> = match eligible.get(connector) {
                    Some(allowed) => allowed.intersection(&workers).cloned().collect(),
                    None => workers.clone(),
                };
                match assignment.connectors.get(connector) {
                    Some(owner) => prop_assert!(allowed.contains(owner)),
                    None => prop_assert!(allowed.is_empty()),
                }
                for index in 0..*task_count {
                    match assignment.tasks.get(&(connector.clone(), index)) {
                        Some(owner) => prop_assert!(allowed.contains(owner)),
                        None => prop_assert!(allowed.is_empty()),
                    }
                }
            }
            let again = compute_assignment_where_eligible(&workers, &connectors, &eligible, &assignment);
            prop_assert_eq!(again, assignment);
        }

        #[test]
        fn every_task_and_connector_is_assigned_once_to_a_present_worker(
            (workers, connectors, previous) in scenario_strategy()
        ) {
            let assignment = compute_assignment(&workers, &connectors, &previous);
            let expected_tasks: BTreeSet<TaskKey> = connectors
                .iter()
                .flat_map(|(connector, count)| (0..*count).map(move |index| (connector.clone(), index)))
                .collect();
            prop_assert_eq!(assignment.tasks.keys().cloned().collect::<BTreeSet<_>>(), expected_tasks);
            prop_assert_eq!(
                assignment.connectors.keys().collect::<Vec<_>>(),
                connectors.keys().collect::<Vec<_>>()
            );
            prop_assert!(assignment.tasks.values().all(|worker| workers.contains(worker)));
            prop_assert!(assignment.connectors.values().all(|worker| workers.contains(worker)));
        }

        #[test]
        fn tasks_and_connectors_are_each_balanced_within_one(
            (workers, connectors, previous) in scenario_strategy()
        ) {
            let assignment = compute_assignment(&workers, &connectors, &previous);
            for worker_counts in [
                workers.iter().map(|worker| assignment.tasks_of(worker).len()).collect::<Vec<_>>(),
                workers.iter().map(|worker| assignment.connectors_of(worker).len()).collect(),
            ] {
                let most = worker_counts.iter().max().copied().unwrap_or(0);
                let fewest = worker_counts.iter().min().copied().unwrap_or(0);
                prop_assert!(most <= fewest + 1, "unbalanced: {:?}", worker_counts);
            }
        }

        #[test]
        fn recomputing_from_the_result_is_stable(
            (workers, connectors, previous) in scenario_strategy()
        ) {
            let assignment = compute_assignment(&workers, &connectors, &previous);
            let recomputed = compute_assignment(&workers, &connectors, &assignment);
            prop_assert_eq!(recomputed, assignment);
        }

        #[test]
        fn movement_from_any_previous_assignment_is_minimal(
            (workers, connectors, previous) in scenario_strategy()
        ) {
            let assignment = compute_assignment(&workers, &connectors, &previous);
            let moved_from_present_workers = moved_tasks(&previous, &assignment)
                .into_iter()
                .filter(|(_, from, _)| from.as_ref().is_some_and(|worker| workers.contains(worker)))
                .count();
            let kept_per_worker: Vec<usize> = workers
                .iter()
                .map(|worker| {
                    previous
                        .tasks_of(worker)
                        .iter()
                        .filter(|(connector, index)| {
                            connectors.get(connector).is_some_and(|count| index < count)
                        })
                        .count()
                })
                .collect();
            prop_assert_eq!(
                moved_from_present_workers,
                minimal_moves_lower_bound(&kept_per_worker, assignment.tasks.len())
            );
            // No worker both gives tasks away and receives tasks.
            for worker in &workers {
                let moves = moved_tasks(&previous, &assignment);
                let gives = moves.iter().any(|(_, from, _)| from.as_ref() == Some(worker));
                let receives = moves.iter().any(|(_, _, to)| to == worker);
                prop_assert!(!(gives && receives), "{} both gives and receives", worker);
            }
        }

        #[test]
        fn one_joining_worker_receives_every_moved_item_and_nothing_else_moves(
            (workers, connectors, earlier) in scenario_strategy()
        ) {
            let before = compute_assignment(&workers, &connectors, &earlier);
            let joiner = "worker-joining".to_string();
            let mut workers_after_join = workers;
            workers_after_join.insert(joiner.clone());
            let after = compute_assignment(&workers_after_join, &connectors, &before);

            let moves = moved_tasks(&before, &after);
            prop_assert!(moves.iter().all(|(_, from, to)| from.is_some() && *to == joiner));
            prop_assert_eq!(moves.len(), after.tasks_of(&joiner).len());
            let moved_connectors = after
                .connectors
                .iter()
                .filter(|(connector, worker)| before.connectors.get(*connector) != Some(*worker))
                .count();
            prop_assert_eq!(moved_connectors, after.connectors_of(&joiner).len());
        }

        #[test]
        fn one_leaving_worker_hands_over_exactly_its_own_items(
            (workers, connectors, earlier) in scenario_strategy(),
            leaver_choice in any::<prop::sample::Index>(),
        ) {
            prop_assume!(workers.len() >= 2);
            let before = compute_assignment(&workers, &connectors, &earlier);
            let leaver = leaver_choice.get(&workers.iter().collect::<Vec<_>>()).to_string();
            let mut workers_after_leave = workers;
            workers_after_leave.remove(&leaver);
            let after = compute_assignment(&workers_after_leave, &connectors, &before);

            // Exact bound: zero extra moves; surviving workers keep everything they had.
            let moves = moved_tasks(&before, &after);
            prop_assert!(moves.iter().all(|(_, from, _)| from.as_ref() == Some(&leaver)));
            prop_assert_eq!(moves.len(), before.tasks_of(&leaver).len());
            let moved_connectors = after
                .connectors
                .iter()
                .filter(|(connector, worker)| before.connectors.get(*connector) != Some(*worker))
                .count();
            prop_assert_eq!(moved_connectors, before.connectors_of(&leaver).len());
        }

        #[test]
        fn same_inputs_give_the_same_output(
            (workers, connectors, previous) in scenario_strategy()
        ) {
            // Each call seeds its internal hash maps afresh, and the rebuilt inputs were filled in
            // reverse order: equal results show that neither leaks into the assignment.
            let workers_rebuilt: BTreeSet<String> = workers.iter().rev().cloned().collect();
            let connectors_rebuilt: BTreeMap<String, u32> = connectors
                .iter()
                .rev()
                .map(|(connector, task_count)| (connector.clone(), *task_count))
                .collect();
            prop_assert_eq!(
                compute_assignment(&workers, &connectors, &previous),
                compute_assignment(&workers_rebuilt, &connectors_rebuilt, &previous)
            );
        }
    }
}
