//! Pure leader election over a gossip snapshot: the ready member with the oldest generation leads.
//!
//! Gossip is not consensus, so this is only the *claim*; the leader confirms it in Kafka (see
//! DESIGN.md, "Membership and leadership").

/// One live member as gossip sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub node_id: String,
    /// When the node started; smaller is older.
    pub generation: u64,
    /// Whether the node says it is ready to serve (a leaving node turns this off first).
    pub ready: bool,
}

/// Returns the node id of the ready candidate with the oldest (smallest) generation, ties broken by
/// the smallest node id, or `None` when no candidate is ready.
///
/// The result does not depend on the order of `candidates`, so every node that sees the same
/// members elects the same leader, and the oldest node keeps leading while others come and go.
pub fn elect_leader(candidates: &[Candidate]) -> Option<String> {
    let leader_opt = candidates
        .iter()
        .filter(|candidate| candidate.ready)
        .min_by(|left, right| {
            (left.generation, &left.node_id).cmp(&(right.generation, &right.node_id))
        });
    leader_opt.map(|leader| leader.node_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn candidate(node_id: &str, generation: u64, ready: bool) -> Candidate {
        Candidate {
            node_id: node_id.to_string(),
            generation,
            ready,
        }
    }

    #[test]
    fn oldest_ready_candidate_leads() {
        let candidates = vec![
            candidate("node-b", 20, true),
            candidate("node-a", 10, true),
            candidate("node-c", 30, true),
        ];
        assert_eq!(elect_leader(&candidates), Some("node-a".to_string()));
    }

    #[test]
    fn equal_generations_are_broken_by_smallest_node_id() {
        let candidates = vec![
            candidate("node-c", 10, true),
            candidate("node-b", 10, true),
            candidate("node-d", 5, false),
        ];
        assert_eq!(elect_leader(&candidates), Some("node-b".to_string()));
    }

    #[test]
    fn a_candidate_that_is_not_ready_never_leads() {
        let candidates = vec![candidate("node-a", 1, false), candidate("node-b", 2, true)];
        assert_eq!(elect_leader(&candidates), Some("node-b".to_string()));
        let nobody_ready = vec![candidate("node-a", 1, false), candidate("node-b", 2, false)];
        assert_eq!(elect_leader(&nobody_ready), None);
        assert_eq!(elect_leader(&[]), None);
    }

    fn candidates_strategy() -> impl Strategy<Value = Vec<Candidate>> {
        // Few node ids and generations so that ties and duplicates actually happen.
        prop::collection::vec((0u8..6, 0u64..5, any::<bool>()), 0..10).prop_map(|raw_candidates| {
            raw_candidates
                .into_iter()
                .map(|(node_number, generation, ready)| Candidate {
                    node_id: format!("node-{node_number}"),
                    generation,
                    ready,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn elected_leader_is_the_oldest_ready_candidate(candidates in candidates_strategy()) {
            let any_ready = candidates.iter().any(|candidate| candidate.ready);
            match elect_leader(&candidates) {
                None => prop_assert!(!any_ready),
                Some(leader_id) => {
                    let leader = candidates
                        .iter()
                        .filter(|candidate| candidate.ready && candidate.node_id == leader_id)
                        .min_by_key(|candidate| candidate.generation);
                    prop_assert!(leader.is_some(), "leader {} is not a ready candidate", leader_id);
                    let leader_rank = leader.map(|found| (found.generation, found.node_id.clone()));
                    for other in candidates.iter().filter(|candidate| candidate.ready) {
                        let other_rank = Some((other.generation, other.node_id.clone()));
                        prop_assert!(
                            leader_rank <= other_rank,
                            "{other:?} is older than the elected {leader_rank:?}"
                        );
                    }
                }
            }
        }

        #[test]
        fn election_does_not_depend_on_candidate_order(
            (candidates, shuffled) in candidates_strategy()
                .prop_flat_map(|candidates| (Just(candidates.clone()), Just(candidates).prop_shuffle()))
        ) {
            prop_assert_eq!(elect_leader(&candidates), elect_leader(&shuffled));
        }
    }
}
