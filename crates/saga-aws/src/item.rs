//! DynamoDB attribute maps at the edge of the SDK: the item type, attribute
//! values for keys and expression values, and the consistent read by
//! `orderId` three tables share. Whole items are typed records
//! (`record.rs`), never mapped attribute by attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use saga_domain::PortError;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Reads the item keyed `orderId` from `table`, strongly consistent: the
/// Payments, Shipments and Orders tables share this key, and a step that
/// replays must see what its first call wrote.
pub(crate) async fn get_by_order_id(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    operation: &'static str,
    order_id: &saga_domain::OrderId,
) -> Result<Option<Item>, PortError> {
    let output = client
        .get_item()
        .table_name(table)
        .key("orderId", s(order_id.as_str()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| crate::sdk_errors::port_error(operation, error))?;
    Ok(output.item)
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Timestamps other than `expiresAt`: RFC 3339 UTC, whole seconds, fixed width.
pub(crate) fn timestamp(instant: DateTime<Utc>) -> AttributeValue {
    s(crate::record::instant_text(instant))
}

/// A stable shard in `0..shards` for `order_id` (FNV-1a), the same in every
/// process: how the sparse indexes spread their items over partitions.
pub(crate) fn order_shard(order_id: &saga_domain::OrderId, shards: u32) -> u32 {
    let hash = order_id
        .as_str()
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
    hash % shards
}
