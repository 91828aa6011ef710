//! Pure diff between two snapshots of the members map.

use std::collections::BTreeMap;

use super::Member;

/// A change in the members map, as seen by one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterChange {
    /// A node id appeared (a new node, or a new incarnation right after [`ClusterChange::Left`]).
    Joined(Member),
    /// A known node (same generation) changed a gossiped value (readiness, tasks, epoch, ...).
    Updated(Member),
    /// A node id disappeared: declared dead, left gracefully, or replaced by a restarted
    /// incarnation (then a [`ClusterChange::Joined`] with the new generation follows).
    Left(String),
}

/// Returns the changes that turn `prev` into `next`, in node id order.
///
/// A node whose generation changed (it restarted) yields `Left(node_id)` then `Joined(member)`,
/// so that consumers drop everything they knew about the old incarnation (its tasks are gone).
/// Identical maps yield no change.
pub fn diff_members(
    prev: &BTreeMap<String, Member>,
    next: &BTreeMap<String, Member>,
) -> Vec<ClusterChange> {
    let mut changes = Vec::new();
    for (node_id, prev_member) in prev {
        match next.get(node_id) {
            None => changes.push(ClusterChange::Left(node_id.clone())),
            Some(next_member) if next_member.generation != prev_member.generation => {
                changes.push(ClusterChange::Left(node_id.clone()));
                changes.push(ClusterChange::Joined(next_member.clone()));
            }
            Some(next_member) if next_member != prev_member => {
                changes.push(ClusterChange::Updated(next_member.clone()));
            }
            Some(_) => {}
        }
    }
    for (node_id, next_member) in next {
        if !prev.contains_key(node_id) {
            changes.push(ClusterChange::Joined(next_member.clone()));
        }
    }
    changes
}

/// Applies `changes` to `members` in order (the inverse of [`diff_members`]).
pub fn apply_changes(members: &mut BTreeMap<String, Member>, changes: &[ClusterChange]) {
    for change in changes {
        match change {
            ClusterChange::Joined(member) | ClusterChange::Updated(member) => {
                members.insert(member.node_id.clone(), member.clone());
            }
            ClusterChange::Left(node_id) => {
                members.remove(node_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(node_id: &str, generation: u64, ready: bool) -> Member {
        Member {
            node_id: node_id.to_string(),
            generation,
            advertise_addr: format!("{node_id}:8083"),
            version: "0.1.0".to_string(),
            ready,
            running_tasks: Vec::new(),
            gave_up_tasks: Vec::new(),
            assignment_epoch: 0,
            plugins: Vec::new(),
        }
    }

    fn members(list: &[Member]) -> BTreeMap<String, Member> {
        list.iter()
            .map(|member| (member.node_id.clone(), member.clone()))
            .collect()
    }

    #[test]
    fn reports_joins_updates_and_leaves() {
        let prev = members(&[
            member("a", 1, true),
            member("b", 1, false),
            member("c", 1, true),
        ]);
        let next = members(&[
            member("a", 1, true),
            member("b", 1, true),
            member("d", 1, true),
        ]);
        assert_eq!(
            diff_members(&prev, &next),
            vec![
                ClusterChange::Updated(member("b", 1, true)),
                ClusterChange::Left("c".to_string()),
                ClusterChange::Joined(member("d", 1, true)),
            ]
        );
    }

    #[test]
    fn a_restart_is_a_leave_then_a_join() {
        let prev = members(&[member("a", 1, true)]);
        let next = members(&[member("a", 2, false)]);
        assert_eq!(
            diff_members(&prev, &next),
            vec![
                ClusterChange::Left("a".to_string()),
                ClusterChange::Joined(member("a", 2, false)),
            ]
        );
    }

    fn arbitrary_member() -> impl Strategy<Value = Member> {
        (
            prop::sample::select(vec!["a", "b", "c", "d", "e"]),
            1u64..4,
            any::<bool>(),
            proptest::collection::vec((prop::sample::select(vec!["x", "y"]), 0u32..3), 0..3),
            0u64..3,
        )
            .prop_map(
                |(node_id, generation, ready, running_tasks, assignment_epoch)| Member {
                    running_tasks: running_tasks
                        .into_iter()
                        .map(|(connector, index)| (connector.to_string(), index))
                        .collect(),
                    assignment_epoch,
                    ..member(node_id, generation, ready)
                },
            )
    }

    fn arbitrary_members() -> impl Strategy<Value = BTreeMap<String, Member>> {
        proptest::collection::vec(arbitrary_member(), 0..6).prop_map(|list| members(&list))
    }

    proptest! {
        #[test]
        fn applying_the_diff_to_prev_yields_next(prev in arbitrary_members(), next in arbitrary_members()) {
            let changes = diff_members(&prev, &next);
            let mut applied = prev;
            apply_changes(&mut applied, &changes);
            prop_assert_eq!(applied, next);
        }

        #[test]
        fn identical_maps_yield_no_change(members in arbitrary_members()) {
            prop_assert!(diff_members(&members, &members).is_empty());
        }

        #[test]
        fn changes_are_consistent_with_both_maps(prev in arbitrary_members(), next in arbitrary_members()) {
            for change in diff_members(&prev, &next) {
                match change {
                    ClusterChange::Updated(member) => {
                        prop_assert_eq!(prev.get(&member.node_id).map(|m| m.generation), Some(member.generation));
                        prop_assert_ne!(prev.get(&member.node_id), Some(&member));
                    }
                    ClusterChange::Joined(member) => {
                        prop_assert_eq!(next.get(&member.node_id), Some(&member));
                    }
                    ClusterChange::Left(node_id) => prop_assert!(prev.contains_key(&node_id)),
                }
            }
        }
    }
}
