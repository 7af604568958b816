//! Property tests: no definition or input makes the interpreter panic.
//! Arbitrary JSON and ASL-shaped documents either parse or produce a
//! definition error; acyclic machines built from generated states run to a
//! status with any input.

use std::sync::Arc;

use asl::{
    Clock, Definition, EchoHandler, ExecutionInfo, ExecutionStatus, TaskHandler, VirtualClock,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// A fixed start instant: no test depends on today's date.
fn fixed_start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2024-06-01T12:00:00Z")
        .expect("a valid instant")
        .with_timezone(&chrono::Utc)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        "[a-z$.\\[\\]*0-9'(), ]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("$"),
            Just("$.a"),
            Just("$.a[0]"),
            Just("$$.Execution.Input"),
            Just("$.a[*].b"),
            Just("States.Format('{}', $.a)"),
            Just("States.MathAdd($.n, 1)"),
            Just("2024-01-01T00:00:00Z"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z.$]{1,8}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "Assign",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Error",
    "Cause",
    "ErrorPath",
    "CausePath",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "Retry",
    "Catch",
    "Choices",
    "Default",
    "Resource",
    "TimeoutSeconds",
    "Branches",
    "ItemProcessor",
];

const TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Bogus",
];

/// A state of a random type with random fields, pointing forward only.
fn state(index: usize, count: usize) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(TYPES),
        prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..4),
        any::<bool>(),
    )
        .prop_map(move |(kind, fields, end)| {
            let mut state = Map::new();
            state.insert("Type".into(), json!(kind));
            for (field, value) in fields {
                state.insert(field.to_owned(), value);
            }
            if end || index + 1 == count {
                state.insert("End".into(), json!(true));
            } else {
                state.insert("Next".into(), json!(format!("S{}", index + 1)));
            }
            if kind == "Task" {
                state.insert(
                    "Resource".into(),
                    json!("arn:aws:lambda:us-east-1:1:function:f"),
                );
            }
            if kind == "Wait" && !state.contains_key("Seconds") {
                state.insert("Seconds".into(), json!(1));
            }
            Value::Object(state)
        })
}

fn machine() -> impl Strategy<Value = Value> {
    (1usize..5).prop_flat_map(|count| {
        let states: Vec<_> = (0..count).map(|i| state(i, count)).collect();
        states.prop_map(|states| {
            let states: Map<String, Value> = states
                .into_iter()
                .enumerate()
                .map(|(i, s)| (format!("S{i}"), s))
                .collect();
            json!({"StartAt": "S0", "States": states})
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_documents_parse_or_explain(document in json_value()) {
        if let Err(error) = Definition::parse(&document) {
            prop_assert!(!error.problems.is_empty());
        }
    }

    #[test]
    fn generated_machines_run_or_are_rejected(document in machine(), input in json_value()) {
        let Ok(definition) = Definition::parse(&document) else {
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let outcome = runtime.block_on(async {
            let clock: Arc<dyn Clock> = Arc::new(VirtualClock::starting_at(fixed_start()));
            let handler: Arc<dyn TaskHandler> = Arc::new(EchoHandler);
            let info = ExecutionInfo::local("fuzz", "run", input, clock.now());
            asl::execute(&definition, info, handler, clock).await
        });
        prop_assert!(matches!(
            outcome.outcome.status,
            ExecutionStatus::Succeeded | ExecutionStatus::Failed | ExecutionStatus::TimedOut
        ));
        prop_assert!(!outcome.history.is_empty());
    }
}
