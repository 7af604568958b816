//! History events grouped by state: what the console's execution page shows
//! row by row, and what `GET /local/executions/{name}/steps` returns as JSON.
//!
//! The events are read in order with one open state at a time: a Task or
//! Lambda event is an attempt of the state entered last and not yet exited,
//! so retries show as further attempts of the same row. A state's duration
//! runs from its entered event to its exited event, or to the event that
//! ended the execution there, so it covers every attempt and the back-off
//! between them.

use asl::{EventType, HistoryEvent};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One attempt of a task state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// `None` while it runs or when it succeeded.
    pub error: Option<String>,
    /// The error's cause.
    pub cause: Option<String>,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// One state's run in an execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// State name.
    pub name: String,
    /// `TaskStateEntered` -> `Task`.
    pub state_type: String,
    /// `SUCCEEDED`, `FAILED`, `RUNNING` (also when the execution was aborted there).
    pub status: String,
    /// Input (JSON text).
    pub input: Option<String>,
    /// Output (JSON text), once exited.
    pub output: Option<String>,
    /// Every task attempt: retries are the attempts after the first.
    pub attempts: Vec<Attempt>,
    /// The redrive this run belongs to (0 for the first run).
    pub redrive: u32,
    /// When it was entered (RFC 3339).
    pub entered_at: String,
    /// Milliseconds from entering to exiting (or to the execution's end
    /// there); `None` while it runs.
    pub duration_ms: Option<u64>,
}

impl StepView {
    /// Whether a Catch sent the execution on from here: the state exited
    /// after its last attempt failed.
    pub fn caught(&self) -> bool {
        self.status == "SUCCEEDED"
            && self
                .attempts
                .last()
                .is_some_and(|a| !a.succeeded && a.error.is_some())
    }
}

/// A duration as the console shows it: `350 ms`, `1.2 s`, `2 min 5 s`.
pub fn duration_text(ms: u64) -> String {
    let tenths = (ms + 50) / 100;
    match ms {
        0..1_000 => format!("{ms} ms"),
        _ if tenths < 600 => format!("{}.{} s", tenths / 10, tenths % 10),
        _ => {
            let seconds = (ms + 500) / 1_000;
            format!("{} min {} s", seconds / 60, seconds % 60)
        }
    }
}

/// Groups history events by state, in order.
pub fn steps(events: &[HistoryEvent]) -> Vec<StepView> {
    let mut grouping = Grouping::default();
    for event in events {
        grouping.apply(event);
    }
    grouping.steps
}

/// The grouping so far, while [`steps`] walks the history.
#[derive(Default)]
struct Grouping {
    steps: Vec<StepView>,
    /// `ExecutionRedriven` events seen so far: the run the next state belongs to.
    redrive: u32,
    /// The state entered last and not exited yet; task events belong to it.
    open: Option<usize>,
    /// When each step was entered, by index.
    entered: Vec<DateTime<Utc>>,
}

impl Grouping {
    fn apply(&mut self, event: &HistoryEvent) {
        match event.event_type {
            EventType::StateEntered(_) => self.enter(event),
            EventType::StateExited(_) => self.exit(event),
            EventType::TaskScheduled | EventType::LambdaFunctionScheduled => {
                if let Some(step) = self.open_step() {
                    step.attempts.push(Attempt {
                        error: None,
                        cause: None,
                        succeeded: false,
                    });
                }
            }
            EventType::TaskSucceeded | EventType::LambdaFunctionSucceeded => {
                if let Some(attempt) = self.last_attempt() {
                    attempt.succeeded = true;
                }
            }
            EventType::TaskFailed
            | EventType::TaskTimedOut
            | EventType::LambdaFunctionFailed
            | EventType::LambdaFunctionTimedOut => {
                if let Some(attempt) = self.last_attempt() {
                    attempt.error = event.error().map(str::to_owned);
                    attempt.cause = event.cause().map(str::to_owned);
                }
            }
            EventType::ExecutionFailed | EventType::ExecutionTimedOut => {
                self.end_open(event);
                if let Some(step) = self.open_step() {
                    step.status = "FAILED".to_owned();
                }
                self.open = None;
            }
            // The state stays RUNNING, as the execution was stopped there,
            // but its time in it ends.
            EventType::ExecutionAborted => {
                self.end_open(event);
                self.open = None;
            }
            EventType::ExecutionRedriven => self.redrive += 1,
            _ => {}
        }
    }

    fn enter(&mut self, event: &HistoryEvent) {
        self.steps.push(StepView {
            name: event.name().unwrap_or_default().to_owned(),
            state_type: event
                .event_type
                .name()
                .trim_end_matches("StateEntered")
                .to_owned(),
            status: "RUNNING".to_owned(),
            input: event.input().map(str::to_owned),
            output: None,
            attempts: Vec::new(),
            redrive: self.redrive,
            entered_at: event.timestamp.to_rfc3339(),
            duration_ms: None,
        });
        self.entered.push(event.timestamp);
        self.open = Some(self.steps.len() - 1);
    }

    /// Closes the latest running state of that name: a state can run more
    /// than once (after a redrive, in a loop), and the one ending is the
    /// last that is still running.
    fn exit(&mut self, event: &HistoryEvent) {
        let exited = event.name().unwrap_or_default();
        if let Some(index) = self
            .steps
            .iter()
            .rposition(|s| s.name == exited && s.status == "RUNNING")
        {
            let duration = self.duration(index, event);
            let step = &mut self.steps[index];
            step.status = "SUCCEEDED".to_owned();
            step.output = event.output().map(str::to_owned);
            step.duration_ms = duration;
        }
        self.open = None;
    }

    /// Ends the open state's time at `event`.
    fn end_open(&mut self, event: &HistoryEvent) {
        if let Some(index) = self.open {
            let duration = self.duration(index, event);
            self.steps[index].duration_ms = duration;
        }
    }

    /// Milliseconds from step `index`'s entry to `event` (never negative).
    fn duration(&self, index: usize, event: &HistoryEvent) -> Option<u64> {
        let entered = self.entered.get(index)?;
        let millis = (event.timestamp - *entered).num_milliseconds();
        Some(u64::try_from(millis).unwrap_or(0))
    }

    fn open_step(&mut self) -> Option<&mut StepView> {
        self.open.and_then(|i| self.steps.get_mut(i))
    }

    fn last_attempt(&mut self) -> Option<&mut Attempt> {
        self.open_step().and_then(|s| s.attempts.last_mut())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use asl::{
        Clock as _, Definition, ExecutionInfo, TaskError, TaskHandler, TaskRequest, VirtualClock,
    };
    use serde_json::{Value, json};

    use super::*;

    /// Fails the first two calls of `Flaky` with `TransientError`, then echoes.
    struct FlakyThenFine(AtomicU32);

    #[async_trait::async_trait]
    impl TaskHandler for FlakyThenFine {
        async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError> {
            if request.state_name == "Broken" {
                return Err(TaskError::new(
                    "InjectedFault",
                    "{\"errorType\":\"InjectedFault\"}",
                ));
            }
            if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(TaskError::new("TransientError", "try again"));
            }
            Ok(request.parameters)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn steps_group_the_history_by_state_with_every_attempt() {
        let definition = Definition::parse(&json!({
            "StartAt": "Start",
            "States": {
                "Start": {"Type": "Pass", "Next": "Flaky"},
                "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                          "Retry": [{"ErrorEquals": ["TransientError"], "MaxAttempts": 3}], "Next": "Broken"},
                "Broken": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                           "Parameters": {"FunctionName": "g"}, "End": true}
            }
        }))
        .unwrap();
        let clock = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
        let info = ExecutionInfo::local("m", "e", json!({"a": 1}), clock.now());
        let finished = asl::execute(
            &definition,
            info,
            Arc::new(FlakyThenFine(AtomicU32::new(0))),
            clock,
        )
        .await;
        let summary: Vec<(String, String, Vec<Option<String>>)> = steps(&finished.history)
            .into_iter()
            .map(|s| {
                (
                    s.name,
                    s.status,
                    s.attempts.into_iter().map(|a| a.error).collect(),
                )
            })
            .collect();
        let expected = vec![
            ("Start".to_owned(), "SUCCEEDED".to_owned(), vec![]),
            (
                "Flaky".to_owned(),
                "SUCCEEDED".to_owned(),
                vec![
                    Some("TransientError".to_owned()),
                    Some("TransientError".to_owned()),
                    None,
                ],
            ),
            (
                "Broken".to_owned(),
                "FAILED".to_owned(),
                vec![Some("InjectedFault".to_owned())],
            ),
        ];
        assert_eq!(summary, expected);
    }

    /// Runs `definition` on virtual time with [`FlakyThenFine`] and groups
    /// its history.
    async fn run(definition: Value) -> Vec<StepView> {
        let definition = Definition::parse(&definition).unwrap();
        let clock = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
        let info = ExecutionInfo::local("m", "e", json!({}), clock.now());
        let handler = Arc::new(FlakyThenFine(AtomicU32::new(0)));
        steps(
            &asl::execute(&definition, info, handler, clock)
                .await
                .history,
        )
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        let cases = [
            (0, "0 ms"),
            (350, "350 ms"),
            (999, "999 ms"),
            (1_000, "1.0 s"),
            (1_234, "1.2 s"),
            (59_940, "59.9 s"),
            (59_960, "1 min 0 s"),
            (125_400, "2 min 5 s"),
        ];
        for (ms, expected) in cases {
            assert_eq!(duration_text(ms), expected, "{ms}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_duration_spans_every_attempt_and_a_caught_error_is_seen() {
        // Flaky's two retries wait 1 s then 2 s of virtual time; Broken's
        // error is caught and the execution goes on to Recover.
        let steps = run(json!({
            "StartAt": "Flaky",
            "States": {
                "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "Parameters": {"FunctionName": "f"},
                          "Retry": [{"ErrorEquals": ["TransientError"], "MaxAttempts": 3}],
                          "Next": "Broken"},
                "Broken": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                           "Parameters": {"FunctionName": "g"},
                           "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
                           "End": true},
                "Recover": {"Type": "Pass", "End": true}
            }
        }))
        .await;
        let summary: Vec<(&str, &str, Option<u64>, bool)> = steps
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.status.as_str(),
                    s.duration_ms,
                    s.caught(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("Flaky", "SUCCEEDED", Some(3000), false),
                ("Broken", "SUCCEEDED", Some(0), true),
                ("Recover", "SUCCEEDED", Some(0), false),
            ]
        );
    }
}
