//! DynamoPayments, DynamoShipments and DynamoOrders against DynamoDB Local:
//! the domain's contract suites, each case on fresh tables.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use saga_aws::{DynamoOrders, DynamoPayments, DynamoShipments};
use saga_domain::OrderId;
use saga_domain::contract;
use saga_domain::contract::orders::StatusWrites;
use saga_domain::ports::OrderStatus;

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

/// The UpdateItem of the state machine's `Mark*` and `RejectOrder` states
/// (`infra/order-saga.asl.json`), without their condition: status,
/// `updatedAt` and a timeline entry, and on a final status the removal of
/// the stall.
struct StateMachineWrites {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl StatusWrites<DynamoOrders> for StateMachineWrites {
    async fn write_status(&self, _store: &DynamoOrders, order_id: &OrderId, status: OrderStatus) {
        let s = |text: &str| AttributeValue::S(text.to_owned());
        let at = "2026-01-01T00:00:09.000Z";
        let entry = AttributeValue::M(HashMap::from([
            ("step".to_owned(), s("ContractStep")),
            ("status".to_owned(), s(status.as_str())),
            ("at".to_owned(), s(at)),
        ]));
        // The final writes (MarkCompleted, RejectOrder) also remove the stall.
        let mut expression = "SET #status = :status, updatedAt = :at, \
             timeline = list_append(if_not_exists(timeline, :empty), :entry)"
            .to_owned();
        if status.is_final() {
            expression = format!("{expression} {}", saga_aws::CLEAR_STALL);
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("orderId", s(order_id.as_str()))
            .update_expression(expression)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry]))
            .send()
            .await
            .unwrap_or_else(|error| panic!("writing status {status:?} on {order_id}: {error:?}"));
    }
}

#[tokio::test]
async fn dynamo_orders_meet_the_orders_contract() {
    contract::orders::run_all(|| async {
        let (client, name) = fresh_table("OrdersTable").await;
        let writes = StateMachineWrites {
            client: client.clone(),
            table: name.clone(),
        };
        (DynamoOrders::new(client, name), writes)
    })
    .await;
}
