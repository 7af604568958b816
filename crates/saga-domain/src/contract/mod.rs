//! The store contract suite (feature `fakes`): the behaviour every store
//! implementation must have, written once and run against each; and
//! [`steps`], every saga step run twice on those stores.
//!
//! `saga-domain`'s own tests run it against the in-memory fakes; `saga-aws`
//! runs the same cases against DynamoDB Local. Each case gets a fresh, empty
//! store from the caller's factory, so an adapter can create fresh tables per
//! case:
//!
//! ```text
//! saga_domain::contract::inventory::run_all(|| async { fresh_dynamo_inventory().await }).await;
//! ```
//!
//! Cases panic with a message naming the case and the broken rule, like any
//! test assertion. All instants are whole seconds, as the tables store them.

pub mod inventory;
pub mod orders;
pub mod payments;
pub mod shipments;
pub mod steps;

use chrono::{DateTime, TimeDelta, Utc};

use crate::ids::{OrderId, Sku};
use crate::money::Money;
use crate::order::{OrderLine, OrderLines, Quantity};

/// The instant `seconds` after 2026-01-01T00:00:00Z: the suite's timeline.
pub fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_767_225_600 + seconds)
}

pub(crate) fn order_id(id: &str) -> OrderId {
    id.parse()
        .unwrap_or_else(|error| panic!("bad order id {id:?} in the suite: {error}"))
}

pub(crate) fn sku(name: &str) -> Sku {
    name.parse()
        .unwrap_or_else(|error| panic!("bad SKU {name:?} in the suite: {error}"))
}

pub(crate) fn euros(amount_minor: i64) -> Money {
    let currency = "EUR".parse().unwrap_or_else(|error| panic!("EUR: {error}"));
    Money::new(amount_minor, currency).unwrap_or_else(|error| panic!("{error}"))
}

pub(crate) fn lines(spec: &[(&str, u32)]) -> OrderLines {
    let lines: Vec<OrderLine> = spec
        .iter()
        .map(|(name, units)| OrderLine {
            sku: sku(name),
            quantity: Quantity::try_from(*units)
                .unwrap_or_else(|error| panic!("bad quantity in the suite: {error}")),
        })
        .collect();
    OrderLines::try_from(lines).unwrap_or_else(|error| panic!("bad lines in the suite: {error}"))
}

/// The value of a port call the case expects to succeed; panics naming
/// `context` and the error otherwise.
pub(crate) fn ok<T>(result: Result<T, crate::PortError>, context: &str) -> T {
    result.unwrap_or_else(|error| panic!("{context}: port call failed: {error}"))
}
