//! The table helper creates every service table with the documented keys.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{KeyType, ProjectionType};
use saga_aws::tables::{ServiceTable, create_table};

use crate::support;

async fn dynamodb_client() -> Client {
    support::dynamodb_client().await
}

#[tokio::test]
async fn creates_every_service_table_with_its_keys_and_indexes() {
    let client = dynamodb_client().await;
    for table in ServiceTable::ALL {
        let name = support::unique_name(&format!("{table:?}"));
        create_table(&client, table, &name).await.unwrap();
        let described = client
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let key = described.key_schema();
        assert_eq!(key.len(), 1, "{table:?}: {key:?}");
        assert_eq!(key[0].attribute_name(), table.partition_key().name);
        assert_eq!(key[0].key_type(), &KeyType::Hash);
        let indexes = described.global_secondary_indexes();
        assert_eq!(indexes.len(), table.indexes().len(), "{table:?}");
        for expected in table.indexes() {
            let index = indexes
                .iter()
                .find(|index| index.index_name() == Some(expected.name))
                .unwrap_or_else(|| panic!("{table:?} has no index {}", expected.name));
            let keys: Vec<&str> = index
                .key_schema()
                .iter()
                .map(|element| element.attribute_name())
                .collect();
            let expected_keys: Vec<&str> = std::iter::once(expected.partition_key.name)
                .chain(expected.sort_key.map(|key| key.name))
                .collect();
            assert_eq!(keys, expected_keys, "{table:?}.{}", expected.name);
            let projection = index.projection().and_then(|p| p.projection_type());
            let expected_projection = if expected.keys_only {
                ProjectionType::KeysOnly
            } else {
                ProjectionType::All
            };
            assert_eq!(projection, Some(&expected_projection));
        }
    }
}

#[tokio::test]
async fn creating_a_table_twice_is_an_error_naming_the_table() {
    let client = dynamodb_client().await;
    let name = support::unique_name("Payments");
    create_table(&client, ServiceTable::Payments, &name)
        .await
        .unwrap();
    let error = create_table(&client, ServiceTable::Payments, &name)
        .await
        .unwrap_err();
    assert!(error.to_string().contains(&name), "{error}");
}
