//! The template's tables, created in DynamoDB Local from `saga-template`'s
//! reading of `template.yaml`, have exactly the keys and indexes it declares.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{KeyType, ProjectionType};
use saga_template::{KeySchema, Projection};

use crate::support;

fn keys_of(elements: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> KeySchema {
    let named = |kind: KeyType| {
        elements
            .iter()
            .find(|element| element.key_type() == &kind)
            .map(|element| element.attribute_name().to_owned())
    };
    KeySchema {
        partition_key: named(KeyType::Hash).unwrap_or_default(),
        sort_key: named(KeyType::Range),
    }
}

#[tokio::test]
async fn creates_every_template_table_with_its_keys_and_indexes() {
    let client: Client = support::dynamodb_client().await;
    let tables = saga_template::project_tables("test").unwrap();
    assert_eq!(
        tables.len(),
        5,
        "one table per service, and the payment breaker's: {tables:?}"
    );
    for spec in tables {
        let name = support::unique_name(&spec.logical_id);
        support::create_table(&client, &spec.logical_id, &name).await;
        let described = client
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(
            keys_of(described.key_schema()),
            spec.keys,
            "{}",
            spec.logical_id
        );
        let indexes = described.global_secondary_indexes();
        assert_eq!(indexes.len(), spec.indexes.len(), "{}", spec.logical_id);
        for expected in &spec.indexes {
            let index = indexes
                .iter()
                .find(|index| index.index_name() == Some(expected.name.as_str()))
                .unwrap_or_else(|| panic!("{} has no index {}", spec.logical_id, expected.name));
            assert_eq!(
                keys_of(index.key_schema()),
                expected.keys,
                "{}",
                expected.name
            );
            let projection = index.projection().and_then(|p| p.projection_type());
            let expected_projection = match expected.projection {
                Projection::All => ProjectionType::All,
                Projection::KeysOnly => ProjectionType::KeysOnly,
                Projection::Include(_) => ProjectionType::Include,
            };
            assert_eq!(projection, Some(&expected_projection), "{}", expected.name);
        }
    }
}

#[tokio::test]
async fn creating_a_table_that_exists_keeps_it_and_its_items() {
    let client = support::dynamodb_client().await;
    let name = support::unique_name("Payments");
    support::create_table(&client, "PaymentsTable", &name).await;
    client
        .put_item()
        .table_name(&name)
        .item(
            "orderId",
            aws_sdk_dynamodb::types::AttributeValue::S("kept".to_owned()),
        )
        .send()
        .await
        .unwrap();
    support::create_table(&client, "PaymentsTable", &name).await;
    let count = client
        .scan()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .count();
    assert_eq!(count, 1, "the second create keeps the table's items");
}
