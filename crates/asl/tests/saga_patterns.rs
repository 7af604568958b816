//! The patterns the order saga relies on, end to end through the engine:
//! retry with back-off on virtual time, catch into compensation,
//! `.waitForTaskToken` with a timeout, and redrive from a failed Task and
//! from a failed Parallel branch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::{
    Clock, Definition, Engine, EventType, ExecutionStatus, StateMachineRef, TaskError, TaskHandler,
    TaskRequest, VirtualClock,
};
use async_trait::async_trait;
use serde_json::{Value, json};

/// A scripted task handler: per resource, a queue of answers (the last one
/// repeats), and a log of every call.
#[derive(Default)]
struct Scripted {
    answers: Mutex<HashMap<String, Vec<Result<Value, TaskError>>>>,
    calls: Mutex<Vec<TaskRequest>>,
}

impl Scripted {
    fn answer(self, resource: &str, answers: Vec<Result<Value, TaskError>>) -> Self {
        self.answers
            .lock()
            .unwrap()
            .insert(resource.to_owned(), answers);
        self
    }

    fn calls_to(&self, resource: &str) -> Vec<TaskRequest> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.resource.arn() == resource)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl TaskHandler for Scripted {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError> {
        self.calls.lock().unwrap().push(request.clone());
        let mut answers = self.answers.lock().unwrap();
        match answers.get_mut(request.resource.arn()) {
            Some(queue) if queue.len() > 1 => queue.remove(0),
            Some(queue) => queue[0].clone(),
            None => Ok(request.parameters),
        }
    }
}

const RESERVE: &str = "arn:aws:lambda:us-east-1:000000000000:function:reserve";
const CHARGE: &str = "arn:aws:lambda:us-east-1:000000000000:function:charge";
const RELEASE: &str = "arn:aws:lambda:us-east-1:000000000000:function:release";
const NOTIFY: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

fn machine(definition: Value) -> StateMachineRef {
    StateMachineRef {
        arn: "arn:aws:states:us-east-1:000000000000:stateMachine:saga".into(),
        name: "saga".into(),
        definition: Arc::new(Definition::parse(&definition).expect("valid definition")),
    }
}

fn engine(handler: Arc<Scripted>) -> (Arc<Engine>, VirtualClock) {
    let epoch = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = VirtualClock::starting_at(epoch);
    let clock_port: Arc<dyn Clock> = Arc::new(clock);
    (Engine::new(handler, clock_port), clock)
}

fn failure(error: &str) -> Result<Value, TaskError> {
    Err(TaskError::new(error, format!("{error} happened")))
}

#[tokio::test(start_paused = true)]
async fn retry_backs_off_on_virtual_time() {
    let handler = Arc::new(Scripted::default().answer(
        RESERVE,
        vec![
            failure("Transient"),
            failure("Transient"),
            Ok(json!({"reserved": true})),
        ],
    ));
    let (engine, clock) = engine(Arc::clone(&handler));
    let sm = machine(json!({"StartAt": "Reserve", "States": {"Reserve": {
        "Type": "Task", "Resource": RESERVE, "End": true,
        "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 10, "BackoffRate": 2.0, "MaxAttempts": 3}]
    }}}));
    let arn = engine
        .start_execution(&sm, Some("order-1"), json!({"order": 1}))
        .unwrap();
    let done = engine.wait_for(&arn).await.unwrap();

    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"reserved": true})));
    assert_eq!(handler.calls_to(RESERVE).len(), 3);
    // 10 s then 20 s of back-off passed on the virtual clock, not the wall.
    assert!(
        clock.elapsed() >= Duration::from_secs(30),
        "{:?}",
        clock.elapsed()
    );
    assert!(clock.elapsed() < Duration::from_secs(31));
    let history = engine.history(&arn).unwrap();
    let scheduled = history
        .iter()
        .filter(|e| e.event_type == EventType::LambdaFunctionScheduled)
        .count();
    assert_eq!(scheduled, 3);
}

#[tokio::test(start_paused = true)]
async fn catch_runs_the_compensation() {
    let handler = Arc::new(
        Scripted::default()
            .answer(RESERVE, vec![Ok(json!({"reservation": "r-1"}))])
            .answer(CHARGE, vec![failure("PaymentDeclined")])
            .answer(RELEASE, vec![Ok(json!({"released": true}))]),
    );
    let (engine, _) = engine(Arc::clone(&handler));
    let sm = machine(json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": RESERVE, "ResultPath": "$.reservation", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": CHARGE, "ResultPath": "$.payment", "Next": "Done",
                   "Catch": [{"ErrorEquals": ["PaymentDeclined"], "ResultPath": "$.error", "Next": "Release"}]},
        "Release": {"Type": "Task", "Resource": RELEASE, "ResultPath": "$.release", "Next": "Failed"},
        "Failed": {"Type": "Fail", "Error": "OrderFailed", "Cause": "payment declined, stock released"},
        "Done": {"Type": "Succeed"}
    }}));
    let arn = engine
        .start_execution(&sm, Some("order-2"), json!({"order": 2}))
        .unwrap();
    let done = engine.wait_for(&arn).await.unwrap();

    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("OrderFailed"));
    let release = handler.calls_to(RELEASE);
    assert_eq!(release.len(), 1);
    assert_eq!(
        release[0].parameters["error"],
        json!({"Error": "PaymentDeclined", "Cause": "PaymentDeclined happened"})
    );
    assert_eq!(
        release[0].parameters["reservation"],
        json!({"reservation": "r-1"})
    );
}

fn token_machine() -> StateMachineRef {
    machine(json!({"StartAt": "Notify", "States": {"Notify": {
        "Type": "Task", "Resource": NOTIFY, "TimeoutSeconds": 60, "End": true,
        "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}}
    }}}))
}

#[tokio::test(start_paused = true)]
async fn wait_for_task_token_times_out() {
    let handler = Arc::new(Scripted::default());
    let (engine, clock) = engine(Arc::clone(&handler));
    let arn = engine
        .start_execution(&token_machine(), Some("order-3"), json!({"order": 3}))
        .unwrap();
    let done = engine.wait_for(&arn).await.unwrap();

    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(clock.elapsed(), Duration::from_secs(60));
    let token = handler.calls_to(NOTIFY)[0].task_token.clone().unwrap();
    // The token is dead once the task timed out.
    assert!(engine.send_task_success(&token, json!({})).is_err());
}

#[tokio::test(start_paused = true)]
async fn wait_for_task_token_resumes_on_callback() {
    let handler = Arc::new(Scripted::default());
    let (engine, _) = engine(Arc::clone(&handler));
    let arn = engine
        .start_execution(&token_machine(), Some("order-4"), json!({"order": 4}))
        .unwrap();
    // Let the execution reach the task and hand out its token.
    while handler.calls_to(NOTIFY).is_empty() {
        tokio::task::yield_now().await;
    }
    let request = &handler.calls_to(NOTIFY)[0];
    let token = request.task_token.clone().unwrap();
    assert_eq!(request.parameters["MessageBody"]["token"], json!(token));
    engine.send_task_heartbeat(&token).unwrap();
    engine
        .send_task_success(&token, json!({"delivered": true}))
        .unwrap();
    let done = engine.wait_for(&arn).await.unwrap();

    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"delivered": true})));
}

#[tokio::test(start_paused = true)]
async fn redrive_continues_from_the_failed_task() {
    let handler = Arc::new(
        Scripted::default()
            .answer(RESERVE, vec![Ok(json!("reserved"))])
            .answer(
                CHARGE,
                vec![failure("PaymentServiceDown"), Ok(json!("charged"))],
            ),
    );
    let (engine, _) = engine(Arc::clone(&handler));
    let sm = machine(json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": RESERVE, "ResultPath": "$.reserve", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": CHARGE, "ResultPath": "$.charge", "End": true}
    }}));
    let arn = engine
        .start_execution(&sm, Some("order-5"), json!({"order": 5}))
        .unwrap();
    assert_eq!(
        engine.wait_for(&arn).await.unwrap().status,
        ExecutionStatus::Failed
    );

    assert_eq!(engine.redrive(&arn).unwrap(), 1);
    let done = engine.wait_for(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.redrive_count, 1);
    assert_eq!(
        done.output,
        Some(json!({"order": 5, "reserve": "reserved", "charge": "charged"}))
    );
    // The successful step ran once; the failed one ran again with the same input.
    assert_eq!(handler.calls_to(RESERVE).len(), 1);
    let charges = handler.calls_to(CHARGE);
    assert_eq!(charges.len(), 2);
    assert_eq!(charges[0].parameters, charges[1].parameters);
    let history = engine.history(&arn).unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.event_type == EventType::ExecutionRedriven)
    );
    assert!(history.windows(2).all(|w| w[1].id == w[0].id + 1));
    // A succeeded execution cannot be redriven.
    assert!(engine.redrive(&arn).is_err());
}

#[tokio::test(start_paused = true)]
async fn every_status_change_is_reported_as_step_functions_emits_it() {
    let handler = Arc::new(
        Scripted::default()
            .answer(RESERVE, vec![Ok(json!("reserved")), Ok(json!("again"))])
            .answer(
                CHARGE,
                vec![failure("PaymentServiceDown"), Ok(json!("charged"))],
            ),
    );
    let (engine, _) = engine(Arc::clone(&handler));
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel();
    engine.on_status_change(sender);
    let sm = machine(json!({"StartAt": "Reserve", "States": {
        "Reserve": {"Type": "Task", "Resource": RESERVE, "ResultPath": "$.reserve", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": CHARGE, "ResultPath": "$.charge", "End": true}
    }}));
    let arn = engine
        .start_execution(&sm, Some("order-6"), json!({"order": 6}))
        .unwrap();
    engine.wait_for(&arn).await.unwrap();
    engine.redrive(&arn).unwrap();
    engine.wait_for(&arn).await.unwrap();
    let stopped = engine
        .start_execution(&sm, Some("order-7"), json!({"order": 7}))
        .unwrap();
    engine
        .stop(&stopped, Some("Operator".into()), None)
        .unwrap();

    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        seen.push((
            change.name,
            change.status,
            change.redrive_count,
            change.error,
            change.stop_date.is_some(),
        ));
    }
    let failed = Some("PaymentServiceDown".to_owned());
    assert_eq!(
        seen,
        vec![
            ("order-6".into(), ExecutionStatus::Running, 0, None, false),
            ("order-6".into(), ExecutionStatus::Failed, 0, failed, true),
            ("order-6".into(), ExecutionStatus::Running, 1, None, false),
            ("order-6".into(), ExecutionStatus::Succeeded, 1, None, true),
            ("order-7".into(), ExecutionStatus::Running, 0, None, false),
            (
                "order-7".into(),
                ExecutionStatus::Aborted,
                0,
                Some("Operator".into()),
                true
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn redrive_reruns_only_the_failed_parallel_branch() {
    let handler = Arc::new(
        Scripted::default()
            .answer(RESERVE, vec![Ok(json!("reserved"))])
            .answer(
                CHARGE,
                vec![failure("PaymentServiceDown"), Ok(json!("charged"))],
            ),
    );
    let (engine, _) = engine(Arc::clone(&handler));
    let sm = machine(json!({"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Reserve", "States": {"Reserve": {"Type": "Task", "Resource": RESERVE, "End": true}}},
            {"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": CHARGE, "End": true}}}
        ]
    }}}));
    let arn = engine
        .start_execution(&sm, Some("order-6"), json!({"order": 6}))
        .unwrap();
    let failed = engine.wait_for(&arn).await.unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("PaymentServiceDown"));

    engine.redrive(&arn).unwrap();
    let done = engine.wait_for(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!(["reserved", "charged"])));
    assert_eq!(
        handler.calls_to(RESERVE).len(),
        1,
        "the successful branch is not run again"
    );
    assert_eq!(handler.calls_to(CHARGE).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn stop_aborts_and_start_is_idempotent() {
    let handler = Arc::new(Scripted::default());
    let (engine, _) = engine(Arc::clone(&handler));
    let sm = machine(
        json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
    );
    let arn = engine
        .start_execution(&sm, Some("order-7"), json!({"a": 1}))
        .unwrap();
    assert_eq!(
        engine
            .start_execution(&sm, Some("order-7"), json!({"a": 1}))
            .unwrap(),
        arn
    );
    assert!(
        engine
            .start_execution(&sm, Some("order-7"), json!({"a": 2}))
            .is_err()
    );
    tokio::task::yield_now().await;
    engine.stop(&arn, Some("Cancelled".into()), None).unwrap();
    let done = engine.wait_for(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Aborted);
    let history = engine.history(&arn).unwrap();
    assert_eq!(
        history.last().map(|e| e.event_type),
        Some(EventType::ExecutionAborted)
    );
}
