//! DynamoPayments, DynamoShipments and DynamoOrders against DynamoDB Local:
//! the domain's contract suites, each case on fresh tables.

use saga_aws::{DynamoOrders, DynamoPayments, DynamoShipments};
use saga_domain::contract;

use crate::support;

async fn fresh_table(table: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = support::dynamodb_client().await;
    let name = support::unique_name(table);
    support::create_table(&client, table, &name).await;
    (client, name)
}

#[tokio::test]
async fn dynamo_payments_meet_the_payments_contract() {
    contract::payments::run_all(|| async {
        let (client, name) = fresh_table("PaymentsTable").await;
        DynamoPayments::new(client, name)
    })
    .await;
}

#[tokio::test]
async fn dynamo_shipments_meet_the_shipments_contract() {
    contract::shipments::run_all(|| async {
        let (client, name) = fresh_table("ShipmentsTable").await;
        DynamoShipments::new(client, name)
    })
    .await;
}

#[tokio::test]
async fn dynamo_orders_meet_the_orders_contract() {
    contract::orders::run_all(|| async {
        let (client, name) = fresh_table("OrdersTable").await;
        DynamoOrders::new(client, name)
    })
    .await;
}
