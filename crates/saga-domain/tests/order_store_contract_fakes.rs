//! The Orders store contract against the in-memory fake, and the
//! StartExecution stand-in's idempotency rules.

use saga_domain::contract;
use saga_domain::fakes::{InMemoryOrders, InMemoryStatusWrites, RecordingExecutions};
use saga_domain::ports::{ExecutionStarter, StartOutcome};

#[tokio::test]
async fn in_memory_orders_meet_the_orders_contract() {
    contract::orders::run_all(|| async { (InMemoryOrders::new(), InMemoryStatusWrites) }).await;
}

#[tokio::test]
async fn recording_executions_are_idempotent_by_name_and_input() {
    let executions = RecordingExecutions::new();
    let name = "ord-1".parse().unwrap();
    let cases = [
        (r#"{"a":1}"#, StartOutcome::Started),
        (r#"{"a":1}"#, StartOutcome::Started),
        (r#"{"a":2}"#, StartOutcome::AlreadyExists),
    ];
    for (input, expected) in cases {
        let outcome = executions.start_execution(&name, input).await.unwrap();
        assert_eq!(outcome, expected, "input {input}");
    }
    assert_eq!(executions.calls().len(), 3);
    assert_eq!(executions.executions().len(), 1);
    executions.faults.fail_next(1);
    assert!(executions.start_execution(&name, "{}").await.is_err());
    assert_eq!(executions.calls().len(), 3, "a failed call is not received");
}
