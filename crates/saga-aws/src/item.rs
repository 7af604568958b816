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

/// A sparse index whose partition key is spread over `shards` values
/// (`<shard_prefix>0` ...) so no one partition takes every write, sorted by
/// a time attribute: the reaper's expiry index and the sweeper's
/// awaiting-start index.
pub(crate) struct ShardedIndex {
    pub name: &'static str,
    /// Names `:shard` and `:bound`, e.g.
    /// `expiryShard = :shard AND expiresAt <= :bound`.
    pub key_condition: &'static str,
    pub shard_prefix: &'static str,
    pub shards: u32,
}

impl ShardedIndex {
    /// The shard value `order_id`'s item carries (stable, see [`order_shard`]).
    pub(crate) fn shard_of(&self, order_id: &saga_domain::OrderId) -> String {
        format!(
            "{}{}",
            self.shard_prefix,
            order_shard(order_id, self.shards)
        )
    }

    /// Up to `limit` items of each shard up to `bound`, each shard read
    /// oldest first: the oldest `limit` of the whole index are among them,
    /// for the caller to sort and cut.
    pub(crate) async fn oldest_of_each_shard(
        &self,
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        bound: AttributeValue,
        limit: usize,
        operation: &'static str,
    ) -> Result<Vec<Item>, PortError> {
        let page_size = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let mut items = Vec::new();
        for shard in 0..self.shards {
            let output = client
                .query()
                .table_name(table)
                .index_name(self.name)
                .key_condition_expression(self.key_condition)
                .expression_attribute_values(":shard", s(format!("{}{shard}", self.shard_prefix)))
                .expression_attribute_values(":bound", bound.clone())
                .scan_index_forward(true)
                .limit(page_size)
                .send()
                .await
                .map_err(|error| crate::sdk_errors::port_error(operation, error))?;
            items.extend(output.items.unwrap_or_default());
        }
        Ok(items)
    }
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
