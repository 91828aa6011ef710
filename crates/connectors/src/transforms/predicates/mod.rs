//! Predicates (KIP-585): `transforms.<alias>.predicate` applies a transform only to the
//! records a predicate matches (or, with `negate`, does not match).

pub(crate) mod has_header_key;
pub(crate) mod record_is_tombstone;
pub(crate) mod topic_name_matches;
