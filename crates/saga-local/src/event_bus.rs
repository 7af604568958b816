//! EventBridge, locally: the Step Functions engine's status changes become
//! "Step Functions Execution Status Change" events (the shape AWS sends,
//! `detail` as `DescribeExecution` reports it), matched against every
//! `EventBridgeRule` event of the template's functions, and delivered to
//! each matching function as Lambda's asynchronous invocation does: on an
//! error it is retried (`EventInvokeConfig.MaximumRetryAttempts`, 2 by
//! default, the first after a minute and the next after two, shortened by
//! the cloud's time scale), then sent to the function's on-failure
//! destination (an SQS queue) as an invocation record.
//!
//! Patterns support what rules in this stack use and a little more: exact
//! values (any of a list), nested objects, `prefix`, `exists` and
//! `anything-but`. AWS delivers these events at least once and in no
//! guaranteed order; so does this (each delivery runs on its own).

use std::sync::Arc;
use std::time::Duration;

use asl::{ExecutionDescription, ExecutionStatus};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::functions::{Function, FunctionError, Functions};
use saga_template::{LOCAL_ACCOUNT, LOCAL_REGION};

/// The `detail-type` of Step Functions' status-change events.
pub const STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// The event Step Functions sends to EventBridge for `execution` in its
/// current status.
pub fn status_change_event(execution: &ExecutionDescription) -> Value {
    let millis = |instant: chrono::DateTime<Utc>| instant.timestamp_millis();
    let stopped = execution.status != ExecutionStatus::Running;
    let redrivable = matches!(
        execution.status,
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
    );
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": STATUS_CHANGE,
        "source": "aws.states",
        "account": LOCAL_ACCOUNT,
        "time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": LOCAL_REGION,
        "resources": [execution.execution_arn],
        "detail": {
            "executionArn": execution.execution_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status.as_str(),
            "startDate": millis(execution.start_date),
            "stopDate": execution.stop_date.filter(|_| stopped).map(millis),
            "input": execution.input.to_string(),
            "output": execution.output.as_ref().map(Value::to_string),
            "inputDetails": {"included": true},
            "outputDetails": execution.output.as_ref().map(|_| json!({"included": true})),
            "error": execution.error,
            "cause": execution.cause,
            "redriveCount": execution.redrive_count,
            "redriveDate": Value::Null,
            "redriveStatus": if redrivable { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
            "redriveStatusReason": Value::Null,
        },
    })
}

/// Whether `event` matches the EventBridge `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(key, wanted)| {
        let found = event.get(key);
        match wanted {
            Value::Object(_) => found.is_some_and(|inner| matches(wanted, inner)),
            Value::Array(alternatives) => alternatives
                .iter()
                .any(|alternative| value_matches(alternative, found)),
            _ => false,
        }
    })
}

/// One alternative of a pattern's list against the event's value (absent
/// when the event has no such field).
fn value_matches(alternative: &Value, found: Option<&Value>) -> bool {
    if let Some(filter) = alternative.as_object() {
        if let Some(exists) = filter.get("exists").and_then(Value::as_bool) {
            return found.is_some_and(|v| !v.is_null()) == exists;
        }
        let Some(found) = found else {
            return false;
        };
        if let Some(prefix) = filter.get("prefix").and_then(Value::as_str) {
            return found.as_str().is_some_and(|text| text.starts_with(prefix));
        }
        if let Some(excluded) = filter.get("anything-but") {
            let excluded: Vec<&Value> = match excluded {
                Value::Array(values) => values.iter().collect(),
                single => vec![single],
            };
            return !excluded.contains(&found);
        }
        tracing::warn!(filter = %alternative, "event pattern filter not supported locally: never matches");
        return false;
    }
    match found {
        Some(Value::Array(values)) => values.contains(alternative),
        Some(value) => value == alternative,
        None => false,
    }
}

/// A rule's target: a function of this cloud and what to do when it fails.
pub struct Target {
    /// The function.
    pub function: Arc<Function>,
    /// `<function logical id>/<event name>`, for the logs.
    pub rule: String,
    /// The rule's pattern, resolved.
    pub pattern: Value,
    /// Retries after the first attempt (0 to 2).
    pub retries: u32,
    /// The URL of the queue failed invocations go to, if any.
    pub on_failure_queue_url: Option<String>,
}

/// Delivers each status change from `changes` to every matching target
/// until `shutdown` turns true. `first_retry` is how long Lambda waits
/// before the first retry of an asynchronous invocation (a minute on AWS);
/// the second waits twice as long.
pub fn spawn(
    mut changes: mpsc::UnboundedReceiver<ExecutionDescription>,
    targets: Vec<Target>,
    functions: Arc<Functions>,
    sqs: aws_sdk_sqs::Client,
    first_retry: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let targets = Arc::new(targets);
    tokio::spawn(async move {
        loop {
            let change = tokio::select! {
                change = changes.recv() => change,
                _ = shutdown.changed() => return,
            };
            let Some(change) = change else {
                return;
            };
            if *shutdown.borrow() {
                return;
            }
            let event = status_change_event(&change);
            for (index, target) in targets.iter().enumerate() {
                if !matches(&target.pattern, &event) {
                    continue;
                }
                let (targets, functions, sqs, event) = (
                    Arc::clone(&targets),
                    Arc::clone(&functions),
                    sqs.clone(),
                    event.clone(),
                );
                tokio::spawn(async move {
                    deliver(&targets[index], &functions, &sqs, first_retry, event).await;
                });
            }
        }
    })
}

/// One asynchronous invocation with Lambda's retries, then the on-failure
/// destination.
async fn deliver(
    target: &Target,
    functions: &Functions,
    sqs: &aws_sdk_sqs::Client,
    first_retry: Duration,
    event: Value,
) {
    let name = target.function.spec.name.as_str();
    let attempts = target.retries + 1;
    let mut last_error: Option<FunctionError> = None;
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(first_retry * (1 << (attempt - 2))).await;
        }
        match functions
            .invoke(&target.function, event.clone(), None)
            .await
        {
            Ok(result) => {
                tracing::debug!(function = name, rule = %target.rule, %result, "event delivered");
                return;
            }
            Err(error) => {
                tracing::warn!(function = name, rule = %target.rule, attempt, %error, "event delivery failed");
                last_error = Some(error);
            }
        }
    }
    let error = last_error.unwrap_or_else(|| FunctionError::new("Unknown", "no attempt made"));
    let Some(queue_url) = &target.on_failure_queue_url else {
        tracing::error!(function = name, rule = %target.rule, %error, %event, "event dropped: retries exhausted and no on-failure destination");
        return;
    };
    let record = json!({
        "version": "1.0",
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": format!("{}:$LATEST", target.function.spec.arn),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": error.error_type, "errorMessage": error.error_message},
    });
    match sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(record.to_string())
        .send()
        .await
    {
        Ok(_) => {
            tracing::error!(function = name, rule = %target.rule, %error, queue_url, "event failed every retry: sent to the on-failure destination")
        }
        Err(send_error) => {
            tracing::error!(function = name, rule = %target.rule, %error, send_error = %aws_sdk_sqs::error::DisplayErrorContext(&send_error), %record, "event failed every retry and could not be dead-lettered")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(status: ExecutionStatus) -> ExecutionDescription {
        let start = chrono::DateTime::from_timestamp_millis(1_767_225_600_000).unwrap();
        ExecutionDescription {
            execution_arn: "arn:aws:states:us-east-1:000000000000:execution:saga:ord-1".into(),
            state_machine_arn: "arn:aws:states:us-east-1:000000000000:stateMachine:saga".into(),
            name: "ord-1".into(),
            status,
            input: json!({"orderId": "ord-1"}),
            output: None,
            error: Some("States.TaskFailed".into()),
            cause: Some("ShipOrder".into()),
            start_date: start,
            stop_date: Some(start + chrono::TimeDelta::seconds(90)),
            redrive_count: 1,
        }
    }

    #[test]
    fn the_event_has_the_shape_step_functions_sends() {
        let event = status_change_event(&execution(ExecutionStatus::Failed));
        assert_eq!(event["source"], "aws.states");
        assert_eq!(event["detail-type"], STATUS_CHANGE);
        assert_eq!(event["resources"][0], event["detail"]["executionArn"]);
        let detail = &event["detail"];
        assert_eq!(detail["status"], "FAILED");
        assert_eq!(detail["name"], "ord-1");
        assert_eq!(detail["startDate"], 1_767_225_600_000_i64);
        assert_eq!(detail["stopDate"], 1_767_225_690_000_i64);
        assert_eq!(
            detail["input"], r#"{"orderId":"ord-1"}"#,
            "input is a JSON string"
        );
        assert_eq!(detail["error"], "States.TaskFailed");
        assert_eq!(detail["redriveCount"], 1);
        assert_eq!(detail["redriveStatus"], "REDRIVABLE");
        // The watcher's own reading of it.
        let change: saga_domain::step_io::ExecutionStatusChange =
            serde_json::from_value(detail.clone()).unwrap();
        assert_eq!(change.stop_date, Some(1_767_225_690_000));
        let running = status_change_event(&execution(ExecutionStatus::Running));
        assert_eq!(running["detail"]["stopDate"], Value::Null);
        assert_eq!(running["detail"]["redriveStatus"], "NOT_REDRIVABLE");
    }

    #[test]
    fn patterns_match_as_eventbridge_matches_them() {
        let event = status_change_event(&execution(ExecutionStatus::TimedOut));
        let machine = event["detail"]["stateMachineArn"].clone();
        let rule = json!({
            "source": ["aws.states"],
            "detail-type": [STATUS_CHANGE],
            "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [machine]},
        });
        assert!(matches(&rule, &event));
        let succeeded = status_change_event(&execution(ExecutionStatus::Succeeded));
        assert!(!matches(&rule, &succeeded), "another status");
        let mut other_machine = rule.clone();
        other_machine["detail"]["stateMachineArn"] = json!(["arn:other"]);
        assert!(!matches(&other_machine, &event), "another state machine");
        assert!(!matches(&json!({"detail": {"missing": ["x"]}}), &event));
        assert!(
            matches(&json!({"resources": [event["resources"][0]]}), &event),
            "a list field matches any element"
        );
        assert!(matches(
            &json!({"detail": {"name": [{"prefix": "ord-"}]}}),
            &event
        ));
        assert!(matches(
            &json!({"detail": {"output": [{"exists": false}]}}),
            &event
        ));
        assert!(matches(
            &json!({"detail": {"status": [{"anything-but": ["SUCCEEDED"]}]}}),
            &event
        ));
        assert!(
            !matches(
                &json!({"detail": {"status": [{"numeric": [">", 0]}]}}),
                &event
            ),
            "unsupported filters never match"
        );
    }

    #[test]
    fn the_templates_watcher_rule_matches_the_ends_of_the_sagas_executions_only() {
        let template =
            saga_template::Template::load(&saga_template::project_template_path()).unwrap();
        let mut names =
            saga_template::LocalNames::with_placeholders(&template, "saga-local").unwrap();
        saga_template::stack::learn_state_machine_names(&template, &mut names).unwrap();
        // What the queues' creation teaches the cloud at start-up.
        names.learn_queues_at(&template, "http://127.0.0.1:1");
        let stack = saga_template::stack::load(&template, &names).unwrap();
        let watcher = stack
            .functions
            .values()
            .find(|f| f.binary == "watcher")
            .expect("the template has a watcher");
        let [rule] = watcher.rules.as_slice() else {
            panic!("the watcher has one rule: {:?}", watcher.rules);
        };
        let machine = &stack.state_machines[0];
        let mut stopped = execution(ExecutionStatus::Failed);
        stopped.state_machine_arn = machine.arn.clone();
        // Every end: the stops it records, and SUCCEEDED, which it counts.
        for status in [
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ] {
            stopped.status = status;
            assert!(
                matches(&rule.pattern, &status_change_event(&stopped)),
                "{status:?}"
            );
        }
        stopped.status = ExecutionStatus::Running;
        assert!(!matches(&rule.pattern, &status_change_event(&stopped)));
        let on_failure = watcher
            .on_failure
            .as_deref()
            .expect("an on-failure destination");
        assert!(on_failure.starts_with("arn:aws:sqs:"), "{on_failure}");
        assert_eq!(watcher.async_retries, 2);
    }
}
