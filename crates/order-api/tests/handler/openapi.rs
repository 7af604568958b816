//! `openapi.yaml` cannot drift: its operations are exactly the router's,
//! its problem types exactly the code's, every response the table produces
//! validates against it, and every documented response is produced.

use std::collections::BTreeSet;

use order_api::problem::ProblemType;
use order_api::routes::ROUTES;

use crate::support::FakeWorld;
use crate::support::cases::run_all;
use crate::support::openapi::Document;

#[test]
fn documented_operations_are_exactly_the_routes() {
    let document = Document::load();
    let routes: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|route| {
            (
                route.method.to_owned(),
                route.template.to_owned(),
                route.operation.operation_id().to_owned(),
            )
        })
        .collect();
    assert_eq!(document.operations(), routes);
    assert_eq!(document.root["openapi"], "3.1.0");
}

#[test]
fn documented_problem_types_are_exactly_the_codes() {
    let document = Document::load();
    let documented: BTreeSet<String> =
        document.root["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|uri| uri.as_str().unwrap().to_owned())
            .collect();
    let code: BTreeSet<String> = ProblemType::ALL.iter().map(|kind| kind.uri()).collect();
    assert_eq!(documented, code);
}

#[test]
fn documented_order_statuses_are_the_domain_statuses() {
    let document = Document::load();
    let documented: Vec<&str> = document.root["components"]["schemas"]["OrderStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|status| status.as_str().unwrap())
        .collect();
    let domain: Vec<&str> = saga_domain::ports::OrderStatus::ALL
        .iter()
        .map(|status| status.as_str())
        .collect();
    assert_eq!(documented, domain);
}

#[tokio::test]
async fn every_produced_response_matches_the_document_and_covers_it() {
    let document = Document::load();
    let produced = run_all(FakeWorld::new).await;
    let mut covered = BTreeSet::new();
    for answer in &produced {
        document.validate(answer);
        if let Some(operation) = answer.operation {
            covered.insert((operation.operation_id().to_owned(), answer.answer.status));
        }
    }
    assert_eq!(
        covered,
        document.documented_responses(),
        "documented responses the table produces"
    );
    println!(
        "openapi: {} responses validated against openapi.yaml",
        produced.len()
    );
}

/// Every order status the state machine writes to the Orders table is one
/// the API knows (and documents), so reading an order never fails on it.
#[test]
fn state_machine_writes_only_known_order_statuses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/order-saga.asl.json"
    );
    let definition: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut written = BTreeSet::new();
    for state in definition["States"].as_object().unwrap().values() {
        let is_orders_update = state["Resource"]
            .as_str()
            .is_some_and(|resource| resource.ends_with(":dynamodb:updateItem"))
            && state["Parameters"]["TableName"] == "${OrdersTableName}";
        if is_orders_update {
            let status = state["Parameters"]["ExpressionAttributeValues"][":status"]["S"]
                .as_str()
                .unwrap();
            written.insert(status.to_owned());
        }
    }
    assert!(
        written.len() >= 5,
        "found the Mark*/RejectOrder states: {written:?}"
    );
    for status in &written {
        assert!(
            saga_domain::ports::OrderStatus::parse(status).is_some(),
            "the state machine writes status {status}, unknown to OrderStatus"
        );
    }
}
