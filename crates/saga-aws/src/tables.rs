//! The global secondary indexes the adapters query, by name.
//!
//! The tables themselves (keys, attribute types, indexes, projections) are
//! declared once, in `template.yaml`; the local cloud and the tests create
//! them from `saga-template`'s reading of it. The test below checks that the
//! template has every index named here, keyed as the adapters query it.

/// The Inventory GSI the reaper queries per shard for `expiresAt <= now`.
pub const BY_EXPIRY_INDEX: &str = "ByExpiry";
/// The Inventory GSI that lists the SKUs without a scan.
pub const CATALOG_INDEX: &str = "Catalog";
/// The Orders GSI with a customer's orders, newest first.
pub const BY_CUSTOMER_INDEX: &str = "ByCustomer";
/// The sparse Orders GSI of the orders whose start is not recorded, by
/// shard, oldest first; the sweeper queries each shard.
pub const AWAITING_START_INDEX: &str = "AwaitingStart";
/// The sparse Orders GSI of the orders whose execution stopped before they
/// were final (they carry a `stall`), oldest first; the sweeper counts them.
pub const STALLED_INDEX: &str = "Stalled";

#[cfg(test)]
mod tests {
    use saga_template::{AttributeType, Projection};

    use super::*;

    #[test]
    fn the_template_has_every_index_the_adapters_query() {
        // (table, index, partition key, sort key and its type, projection)
        let cases = [
            (
                "InventoryTable",
                BY_EXPIRY_INDEX,
                "expiryShard",
                ("expiresAt", AttributeType::Number),
                Projection::All,
            ),
            (
                "InventoryTable",
                CATALOG_INDEX,
                "catalog",
                ("pk", AttributeType::String),
                Projection::KeysOnly,
            ),
            (
                "OrdersTable",
                BY_CUSTOMER_INDEX,
                "customerId",
                ("createdAt", AttributeType::String),
                Projection::All,
            ),
            (
                "OrdersTable",
                STALLED_INDEX,
                "stallShard",
                ("createdAt", AttributeType::String),
                Projection::KeysOnly,
            ),
            (
                "OrdersTable",
                AWAITING_START_INDEX,
                "awaitingStart",
                ("createdAt", AttributeType::String),
                Projection::KeysOnly,
            ),
        ];
        for (table, index, partition, (sort, sort_type), projection) in cases {
            let spec = saga_template::project_table(table).unwrap();
            let found = spec
                .index(index)
                .unwrap_or_else(|| panic!("{table} has no index {index} in template.yaml"));
            assert_eq!(found.keys.partition_key, partition, "{index}");
            assert_eq!(found.keys.sort_key.as_deref(), Some(sort), "{index}");
            assert_eq!(spec.attributes[sort], sort_type, "{index}.{sort}");
            assert_eq!(found.projection, projection, "{index}");
        }
        let keyed_by_order = ["PaymentsTable", "ShipmentsTable", "OrdersTable"];
        for table in keyed_by_order {
            let spec = saga_template::project_table(table).unwrap();
            assert_eq!(spec.keys.partition_key, "orderId", "{table}");
        }
        assert_eq!(
            saga_template::project_table("InventoryTable")
                .unwrap()
                .keys
                .partition_key,
            "pk"
        );
    }
}
