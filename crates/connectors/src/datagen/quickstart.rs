//! Datagen's quickstarts: the record shapes, modelled on Confluent's quickstart schemas.
//!
//! Every record is a pure function of `(seed, task, seq)`: a task that resumes at `seq` after a
//! restart produces exactly what it would have produced without the restart.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::sdk::{Schema, SchemaAndValue, SchemaType, Struct, Value};

/// Range of the generated `registertime` / `ordertime` (Confluent's quickstart bounds).
const TIME_RANGE: std::ops::Range<i64> = 1_487_715_775_521..1_519_273_364_600;
const GENDERS: [&str; 3] = ["MALE", "FEMALE", "OTHER"];

/// A supported quickstart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quickstart {
    /// `{"task": N, "seq": I}` with key `"N-I"`: gap-free sequences, for tests.
    Sequence,
    /// Confluent's `users`: registertime, userid, regionid, gender; key `userid`.
    Users,
    /// Confluent's `orders`: ordertime, orderid, itemid, orderunits, address; key `orderid`.
    Orders,
    /// Confluent's `pageviews`: viewtime, userid, pageid; key `viewtime`.
    Pageviews,
}

impl Quickstart {
    /// Every quickstart name, as `quickstart` accepts them.
    pub(crate) const NAMES: [&'static str; 4] = ["sequence", "users", "orders", "pageviews"];

    /// Parses a quickstart name, case-insensitively.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sequence" => Some(Quickstart::Sequence),
            "users" => Some(Quickstart::Users),
            "orders" => Some(Quickstart::Orders),
            "pageviews" => Some(Quickstart::Pageviews),
            _ => None,
        }
    }
}

/// Builds the records of one quickstart; schemas are built once and shared by every record.
pub(crate) struct Generator {
    quickstart: Quickstart,
    key_schema: Arc<Schema>,
    value_schema: Arc<Schema>,
    address_schema: Arc<Schema>,
    seed: u64,
    task: u32,
}

impl Generator {
    /// Returns the generator of `quickstart` for task `task`.
    pub(crate) fn new(quickstart: Quickstart, seed: u64, task: u32) -> Self {
        let string = || Schema::primitive(SchemaType::String);
        let address = Schema::structure(
            Some("ksql.address"),
            vec![
                ("city", string()),
                ("state", string()),
                ("zipcode", Schema::primitive(SchemaType::Int64)),
            ],
        );
        let (key, value) = match quickstart {
            Quickstart::Sequence => (
                string(),
                Schema::structure(
                    Some("ferry.datagen.sequence"),
                    vec![
                        ("task", Schema::primitive(SchemaType::Int32)),
                        ("seq", Schema::primitive(SchemaType::Int64)),
                    ],
                ),
            ),
            Quickstart::Users => (
                string(),
                Schema::structure(
                    Some("ksql.users"),
                    vec![
                        ("registertime", Schema::primitive(SchemaType::Int64)),
                        ("userid", string()),
                        ("regionid", string()),
                        ("gender", string()),
                    ],
                ),
            ),
            Quickstart::Orders => (
                Schema::primitive(SchemaType::Int32),
                Schema::structure(
                    Some("ksql.orders"),
                    vec![
                        ("ordertime", Schema::primitive(SchemaType::Int64)),
                        ("orderid", Schema::primitive(SchemaType::Int32)),
                        ("itemid", string()),
                        ("orderunits", Schema::primitive(SchemaType::Float64)),
                        ("address", address.clone()),
                    ],
                ),
            ),
            Quickstart::Pageviews => (
                Schema::primitive(SchemaType::Int64),
                Schema::structure(
                    Some("ksql.pageviews"),
                    vec![
                        ("viewtime", Schema::primitive(SchemaType::Int64)),
                        ("userid", string()),
                        ("pageid", string()),
                    ],
                ),
            ),
        };
        Generator {
            quickstart,
            key_schema: Arc::new(key),
            value_schema: Arc::new(value),
            address_schema: Arc::new(address),
            seed,
            task,
        }
    }

    /// Returns the key and value of record `seq`.
    pub(crate) fn record(&self, seq: u64) -> (SchemaAndValue, SchemaAndValue) {
        let mut rng = SmallRng::seed_from_u64(mix(self.seed, u64::from(self.task), seq));
        let seq_i64 = i64::try_from(seq).unwrap_or(i64::MAX);
        let (key, values) = match self.quickstart {
            Quickstart::Sequence => (
                Value::String(format!("{}-{seq}", self.task)),
                vec![
                    Value::Int32(i32::try_from(self.task).unwrap_or(i32::MAX)),
                    Value::Int64(seq_i64),
                ],
            ),
            Quickstart::Users => {
                let userid = format!("User_{}", rng.random_range(1..=9));
                (
                    Value::String(userid.clone()),
                    vec![
                        Value::Int64(rng.random_range(TIME_RANGE)),
                        Value::String(userid),
                        Value::String(format!("Region_{}", rng.random_range(1..=9))),
                        Value::String(GENDERS[rng.random_range(0..GENDERS.len())].to_string()),
                    ],
                )
            }
            Quickstart::Orders => {
                // Confluent's orderid is the iteration number (an int).
                let orderid = i32::try_from(seq % (1 << 31)).unwrap_or(i32::MAX);
                let address = Struct {
                    schema: Arc::clone(&self.address_schema),
                    values: vec![
                        Value::String(format!("City_{}", short_digits(&mut rng))),
                        Value::String(format!("State_{}", short_digits(&mut rng))),
                        Value::Int64(rng.random_range(10_000..=99_999)),
                    ],
                };
                (
                    Value::Int32(orderid),
                    vec![
                        Value::Int64(rng.random_range(TIME_RANGE)),
                        Value::Int32(orderid),
                        Value::String(format!("Item_{}", rng.random_range(1..1000))),
                        Value::Float64(rng.random_range(0.1..10.0)),
                        Value::Struct(address),
                    ],
                )
            }
            Quickstart::Pageviews => {
                // Confluent's viewtime is an iteration starting at 1, step 10.
                let viewtime = seq_i64.saturating_mul(10).saturating_add(1);
                (
                    Value::Int64(viewtime),
                    vec![
                        Value::Int64(viewtime),
                        Value::String(format!("User_{}", rng.random_range(1..=9))),
                        Value::String(format!("Page_{}", rng.random_range(1..100))),
                    ],
                )
            }
        };
        let value = Struct {
            schema: Arc::clone(&self.value_schema),
            values,
        };
        (
            SchemaAndValue {
                schema: Some(Arc::clone(&self.key_schema)),
                value: key,
            },
            SchemaAndValue {
                schema: Some(Arc::clone(&self.value_schema)),
                value: Value::Struct(value),
            },
        )
    }
}

/// Zero to two digits 1-9 (Confluent's `[1-9]{0,2}`).
fn short_digits(rng: &mut SmallRng) -> String {
    let count = rng.random_range(0..=2);
    (0..count)
        .map(|_| char::from(b'0' + rng.random_range(1..=9u8)))
        .collect()
}

/// Mixes the seed, task and sequence number into one well-spread RNG seed (SplitMix64 steps).
fn mix(seed: u64, task: u64, seq: u64) -> u64 {
    splitmix64(seed ^ splitmix64(task ^ splitmix64(seq)))
}

fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
