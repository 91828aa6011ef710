//! Pure quorum rule: may this node lead, and keep running tasks, given what gossip shows it?
//!
//! Gossip cannot tell a dead node from one that is cut off: a worker cut off from the others'
//! gossip (but still reaching Kafka) sees them all dead. Without a rule, it would elect itself,
//! fence the real leader in Kafka and give every task to itself. So a node only leads and only
//! runs tasks while it sees a **strict majority of the cluster's members**:
//!
//! - The members counted are node ids (not incarnations: a node restarted after `kill -9` keeps
//!   its id) seen alive within the last `member_expiry` (`cluster.member.expiry.ms`), minus the
//!   nodes that left gracefully (they withdraw their advertise address in gossip). A node that
//!   stays dead longer than the expiry stops counting, so a cluster can shrink.
//! - An exact half (two nodes of four, one of two) is a tie, broken in Kafka: the half that sees
//!   the holder of the unexpired leader lease keeps the quorum; when no lease is held (the leader
//!   died, or released it on losing its quorum), either half may go on and the first one to
//!   claim leadership in Kafka (a fenced transactional producer) wins. So a two-node cluster
//!   fails over when either node is killed, and a two-node partition is won by the leader's side.
//! - A single node (`ferry dev`, a worker without seeds) is a majority of one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Default of `cluster.member.expiry.ms`: how long a node that stopped gossiping (dead or cut
/// off) still counts as a member for the quorum.
pub const DEFAULT_MEMBER_EXPIRY: Duration = Duration::from_secs(30);

/// The members this node counts for the quorum, and those of them it sees alive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumView {
    /// Node ids alive in gossip now (self included).
    pub live: BTreeSet<String>,
    /// Node ids counted as members: seen alive within the expiry and not gone gracefully
    /// (`live` included).
    pub known: BTreeSet<String>,
    /// Counted members not alive now (dead or cut off), with when this node first saw them
    /// gone: the leader keeps their tasks in place for a fence margin after that.
    pub vanished: BTreeMap<String, Instant>,
}

/// Returns true when the nodes of `view.live` form a quorum of `view.known`: a strict majority,
/// or exactly half with the holder of the unexpired leader lease among them (or no lease held).
pub fn has_quorum(view: &QuorumView, lease_holder_opt: Option<&str>) -> bool {
    let live = view
        .live
        .iter()
        .filter(|id| view.known.contains(*id))
        .count();
    let known = view.known.len();
    if live == 0 {
        return false;
    }
    let twice_live = live * 2;
    if twice_live != known {
        return twice_live > known;
    }
    match lease_holder_opt {
        None => true,
        Some(holder) => view.live.contains(holder),
    }
}

/// Remembers when each node id was last seen alive, to compute a [`QuorumView`].
#[derive(Debug, Clone)]
pub struct MemberTracker {
    expiry: Duration,
    last_seen: BTreeMap<String, Instant>,
    vanished_since: BTreeMap<String, Instant>,
}

impl MemberTracker {
    /// A tracker that forgets a node `expiry` after it was last seen alive.
    pub fn new(expiry: Duration) -> Self {
        MemberTracker {
            expiry,
            last_seen: BTreeMap::new(),
            vanished_since: BTreeMap::new(),
        }
    }

    /// Records the nodes alive now and those seen leaving gracefully, forgets the ones not seen
    /// for longer than the expiry, and returns the view.
    pub fn observe(
        &mut self,
        live: &BTreeSet<String>,
        gone_gracefully: &BTreeSet<String>,
        now: Instant,
    ) -> QuorumView {
        for node_id in live {
            self.last_seen.insert(node_id.clone(), now);
        }
        let expiry = self.expiry;
        self.last_seen.retain(|node_id, last_seen| {
            !gone_gracefully.contains(node_id)
                && now.saturating_duration_since(*last_seen) <= expiry
        });
        for node_id in self.last_seen.keys() {
            if !live.contains(node_id) {
                self.vanished_since.entry(node_id.clone()).or_insert(now);
            }
        }
        let last_seen = &self.last_seen;
        self.vanished_since
            .retain(|node_id, _| last_seen.contains_key(node_id) && !live.contains(node_id));
        QuorumView {
            vanished: self.vanished_since.clone(),
            live: live
                .iter()
                .filter(|node_id| self.last_seen.contains_key(*node_id))
                .cloned()
                .collect(),
            known: self.last_seen.keys().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|id| (*id).to_string()).collect()
    }

    fn view(live: &[&str], known: &[&str]) -> QuorumView {
        QuorumView {
            live: ids(live),
            known: ids(known),
            vanished: BTreeMap::new(),
        }
    }

    #[test]
    fn a_strict_majority_has_quorum_a_minority_has_not() {
        assert!(has_quorum(&view(&["a", "b"], &["a", "b", "c"]), Some("c")));
        assert!(has_quorum(&view(&["a", "b", "c"], &["a", "b", "c"]), None));
        assert!(!has_quorum(&view(&["c"], &["a", "b", "c"]), Some("c")));
        assert!(!has_quorum(&view(&["c"], &["a", "b", "c"]), None));
        assert!(!has_quorum(
            &view(&["a", "b"], &["a", "b", "c", "d", "e"]),
            Some("a")
        ));
    }

    #[test]
    fn a_single_node_is_a_majority_of_one() {
        assert!(has_quorum(&view(&["a"], &["a"]), None));
        assert!(has_quorum(&view(&["a"], &["a"]), Some("a")));
    }

    #[test]
    fn a_tie_goes_to_the_half_with_the_lease_holder() {
        let two_of_four = view(&["a", "b"], &["a", "b", "c", "d"]);
        assert!(has_quorum(&two_of_four, Some("a")));
        assert!(!has_quorum(&two_of_four, Some("c")));
        assert!(
            has_quorum(&two_of_four, None),
            "no lease: either half may claim it"
        );
        // Two nodes: the survivor goes on when it holds the lease or when nobody does.
        let one_of_two = view(&["b"], &["a", "b"]);
        assert!(has_quorum(&one_of_two, Some("b")));
        assert!(!has_quorum(&one_of_two, Some("a")));
        assert!(has_quorum(&one_of_two, None));
    }

    #[test]
    fn nobody_alive_is_no_quorum() {
        assert!(!has_quorum(&view(&[], &[]), None));
        assert!(!has_quorum(&view(&[], &["a"]), None));
    }

    #[test]
    fn dead_members_count_until_they_expire() {
        let start = Instant::now();
        let expiry = Duration::from_secs(30);
        let mut tracker = MemberTracker::new(expiry);
        let all = ids(&["a", "b", "c"]);
        tracker.observe(&all, &BTreeSet::new(), start);
        // "a" is cut off: it sees only itself, and still counts the others for 30 s.
        let alone = ids(&["a"]);
        let during = tracker.observe(&alone, &BTreeSet::new(), start + Duration::from_secs(10));
        assert_eq!(during.known, all);
        assert!(!has_quorum(&during, Some("b")));
        let after = tracker.observe(&alone, &BTreeSet::new(), start + Duration::from_secs(31));
        assert_eq!(after.known, alone, "the others expired");
        assert!(has_quorum(&after, None));
    }

    #[test]
    fn vanished_members_are_timed_from_when_they_were_first_seen_gone() {
        let start = Instant::now();
        let mut tracker = MemberTracker::new(Duration::from_secs(30));
        tracker.observe(&ids(&["a", "b", "c"]), &BTreeSet::new(), start);
        let gone_at = start + Duration::from_secs(1);
        let first = tracker.observe(&ids(&["a", "b"]), &BTreeSet::new(), gone_at);
        assert_eq!(first.vanished, BTreeMap::from([("c".to_string(), gone_at)]));
        let later = tracker.observe(
            &ids(&["a", "b"]),
            &BTreeSet::new(),
            gone_at + Duration::from_secs(2),
        );
        assert_eq!(later.vanished, BTreeMap::from([("c".to_string(), gone_at)]));
        let back = tracker.observe(
            &ids(&["a", "b", "c"]),
            &BTreeSet::new(),
            gone_at + Duration::from_secs(3),
        );
        assert!(back.vanished.is_empty());
        let expired = tracker.observe(
            &ids(&["a"]),
            &ids(&["b"]),
            gone_at + Duration::from_secs(40),
        );
        assert!(expired.vanished.is_empty(), "b left gracefully, c expired");
    }

    #[test]
    fn a_restarted_node_is_the_same_member() {
        // Node ids, not incarnations: the restarted "b" is seen alive under the same id.
        let start = Instant::now();
        let mut tracker = MemberTracker::new(Duration::from_secs(30));
        tracker.observe(&ids(&["a", "b", "c"]), &BTreeSet::new(), start);
        let after_restart = tracker.observe(
            &ids(&["a", "b", "c"]),
            &BTreeSet::new(),
            start + Duration::from_secs(5),
        );
        assert_eq!(after_restart.known.len(), 3);
    }

    #[test]
    fn a_node_that_left_gracefully_stops_counting_at_once() {
        let start = Instant::now();
        let mut tracker = MemberTracker::new(Duration::from_secs(30));
        tracker.observe(&ids(&["a", "b"]), &BTreeSet::new(), start);
        let after_leave =
            tracker.observe(&ids(&["a"]), &ids(&["b"]), start + Duration::from_secs(1));
        assert_eq!(after_leave.known, ids(&["a"]));
        assert!(has_quorum(&after_leave, Some("b")));
        // It comes back: it counts again.
        let back = tracker.observe(
            &ids(&["a", "b"]),
            &BTreeSet::new(),
            start + Duration::from_secs(2),
        );
        assert_eq!(back.known, ids(&["a", "b"]));
    }

    proptest! {
        /// Two disjoint groups of nodes that count the same members can never both have the
        /// quorum for the same lease holder: no split brain.
        #[test]
        fn two_disjoint_sides_never_both_have_quorum(
            members in prop::collection::btree_set(0u8..9, 1..9),
            split in prop::collection::vec(any::<bool>(), 9),
            holder in prop::option::of(0u8..9),
        ) {
            let mut known = BTreeSet::new();
            let (mut left, mut right) = (BTreeSet::new(), BTreeSet::new());
            for id in &members {
                let name = format!("n{id}");
                known.insert(name.clone());
                if split[usize::from(*id)] {
                    left.insert(name);
                } else {
                    right.insert(name);
                }
            }
            let holder_opt = holder.map(|id| format!("n{id}"));
            let left_view = QuorumView { live: left, known: known.clone(), vanished: BTreeMap::new() };
            let right_view = QuorumView { live: right, known, vanished: BTreeMap::new() };
            let both = has_quorum(&left_view, holder_opt.as_deref())
                && has_quorum(&right_view, holder_opt.as_deref());
            // With no lease held, both halves of an exact tie may try: Kafka's fencing of the
            // leader's transactional id then picks one.
            let exact_tie = left_view.live.len() * 2 == left_view.known.len();
            prop_assert!(!both || (holder_opt.is_none() && exact_tie));
        }
    }
}
