//! The key schema of every service table, as data, and a helper that creates
//! a table from it.
//!
//! The schema is ARCHITECTURE.md's Data section: one on-demand table per
//! service, keys and indexes exactly as listed there. Tests create fresh,
//! uniquely named tables with [`create_table`]; deployed tables come from
//! `template.yaml`, which must agree with [`ServiceTable`].

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};

/// A key attribute: its name and scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: &'static str,
    pub kind: KeyKind,
}

/// The scalar types the tables use for keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    String,
    Number,
}

/// A global secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSchema {
    pub name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    /// `true` projects only the keys; `false` projects every attribute.
    pub keys_only: bool,
}

/// One service's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTable {
    Inventory,
    Payments,
    Shipments,
    Orders,
}

const fn string(name: &'static str) -> KeyAttribute {
    KeyAttribute {
        name,
        kind: KeyKind::String,
    }
}

const fn number(name: &'static str) -> KeyAttribute {
    KeyAttribute {
        name,
        kind: KeyKind::Number,
    }
}

/// The Inventory GSI the reaper queries per shard for `expiresAt <= now`.
pub const BY_EXPIRY_INDEX: &str = "ByExpiry";
/// The Inventory GSI that lists the SKUs without a scan.
pub const CATALOG_INDEX: &str = "Catalog";
/// The Orders GSI with a customer's orders, newest first.
pub const BY_CUSTOMER_INDEX: &str = "ByCustomer";

const INVENTORY_INDEXES: &[IndexSchema] = &[
    IndexSchema {
        name: BY_EXPIRY_INDEX,
        partition_key: string("expiryShard"),
        sort_key: Some(number("expiresAt")),
        keys_only: false,
    },
    IndexSchema {
        name: CATALOG_INDEX,
        partition_key: string("catalog"),
        sort_key: Some(string("pk")),
        keys_only: true,
    },
];

const ORDERS_INDEXES: &[IndexSchema] = &[IndexSchema {
    name: BY_CUSTOMER_INDEX,
    partition_key: string("customerId"),
    sort_key: Some(string("createdAt")),
    keys_only: false,
}];

impl ServiceTable {
    pub const ALL: [ServiceTable; 4] = [
        ServiceTable::Inventory,
        ServiceTable::Payments,
        ServiceTable::Shipments,
        ServiceTable::Orders,
    ];

    /// The table's partition key; none of the tables has a sort key.
    pub fn partition_key(self) -> KeyAttribute {
        match self {
            ServiceTable::Inventory => string("pk"),
            ServiceTable::Payments | ServiceTable::Shipments | ServiceTable::Orders => {
                string("orderId")
            }
        }
    }

    pub fn indexes(self) -> &'static [IndexSchema] {
        match self {
            ServiceTable::Inventory => INVENTORY_INDEXES,
            ServiceTable::Payments | ServiceTable::Shipments => &[],
            ServiceTable::Orders => ORDERS_INDEXES,
        }
    }

    /// Every key attribute of the table and its indexes, each once.
    pub fn key_attributes(self) -> Vec<KeyAttribute> {
        let mut attributes = vec![self.partition_key()];
        for index in self.indexes() {
            for attribute in std::iter::once(index.partition_key).chain(index.sort_key) {
                if !attributes.contains(&attribute) {
                    attributes.push(attribute);
                }
            }
        }
        attributes
    }
}

/// Why a table could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateTableError {
    #[error("invalid table definition for {table}: {source}")]
    Definition {
        table: String,
        #[source]
        source: aws_sdk_dynamodb::error::BuildError,
    },
    #[error("cannot create or describe table {table}: {source}")]
    Service {
        table: String,
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
    #[error("table {table} is not ACTIVE after creation (status: {status})")]
    NotActive { table: String, status: String },
}

/// Creates `name` with the key schema of `table` (on-demand billing) and
/// returns once DynamoDB reports it ACTIVE. DynamoDB Local creates tables
/// synchronously, so the describe that follows normally finds it ACTIVE.
pub async fn create_table(
    client: &Client,
    table: ServiceTable,
    name: &str,
) -> Result<(), CreateTableError> {
    let definition_error = |source| CreateTableError::Definition {
        table: name.to_owned(),
        source,
    };
    let service_error = |source: aws_sdk_dynamodb::Error| CreateTableError::Service {
        table: name.to_owned(),
        source: Box::new(source),
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element(table.partition_key(), KeyType::Hash).map_err(definition_error)?);
    for attribute in table.key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute.name)
                .attribute_type(match attribute.kind {
                    KeyKind::String => ScalarAttributeType::S,
                    KeyKind::Number => ScalarAttributeType::N,
                })
                .build()
                .map_err(definition_error)?,
        );
    }
    for index in table.indexes() {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(index.name)
            .key_schema(key_element(index.partition_key, KeyType::Hash).map_err(definition_error)?)
            .projection(
                Projection::builder()
                    .projection_type(if index.keys_only {
                        ProjectionType::KeysOnly
                    } else {
                        ProjectionType::All
                    })
                    .build(),
            );
        if let Some(sort_key) = index.sort_key {
            gsi = gsi.key_schema(key_element(sort_key, KeyType::Range).map_err(definition_error)?);
        }
        request = request.global_secondary_indexes(gsi.build().map_err(definition_error)?);
    }
    request
        .send()
        .await
        .map_err(|error| service_error(error.into()))?;
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|error| service_error(error.into()))?;
    match described.table().and_then(|table| table.table_status()) {
        Some(TableStatus::Active) => Ok(()),
        status => Err(CreateTableError::NotActive {
            table: name.to_owned(),
            status: status.map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
        }),
    }
}

fn key_element(
    attribute: KeyAttribute,
    key_type: KeyType,
) -> Result<KeySchemaElement, aws_sdk_dynamodb::error::BuildError> {
    KeySchemaElement::builder()
        .attribute_name(attribute.name)
        .key_type(key_type)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_attributes_match_the_architecture_data_section() {
        let cases: [(ServiceTable, &[(&str, KeyKind)]); 4] = [
            (
                ServiceTable::Inventory,
                &[
                    ("pk", KeyKind::String),
                    ("expiryShard", KeyKind::String),
                    ("expiresAt", KeyKind::Number),
                    ("catalog", KeyKind::String),
                ],
            ),
            (ServiceTable::Payments, &[("orderId", KeyKind::String)]),
            (ServiceTable::Shipments, &[("orderId", KeyKind::String)]),
            (
                ServiceTable::Orders,
                &[
                    ("orderId", KeyKind::String),
                    ("customerId", KeyKind::String),
                    ("createdAt", KeyKind::String),
                ],
            ),
        ];
        for (table, expected) in cases {
            let actual: Vec<(&str, KeyKind)> = table
                .key_attributes()
                .iter()
                .map(|attribute| (attribute.name, attribute.kind))
                .collect();
            assert_eq!(actual, expected, "{table:?}");
        }
    }
}
