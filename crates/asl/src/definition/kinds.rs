//! The type-specific fields of each state type: a Task's resource and
//! limits, a Choice's rules, a Wait's delay, a Fail's error and cause, a
//! Parallel's branches and a Map's processor and item fields.

use std::sync::Arc;

use serde_json::Value;

use super::fields::Fields;
use super::model::{FailText, MapSpec, NumberSource, StateKind, StateMachine, TaskSpec, WaitSpec};
use super::parse::parse_machine;
use super::validate::{SCHEMA, UNSUPPORTED_JSONATA};
use crate::choice::{ChoiceRule, parse_timestamp};
use crate::intrinsics::{self, Call};
use crate::resource::Resource;
use crate::template::Template;

/// Step Functions' bound on second counts: 1 to 99,999,999.
fn positive_integer(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n > 0 && n <= 99_999_999)
}

/// `Resource` (parsed once, see [`Resource`]),
/// `TimeoutSeconds` and `HeartbeatSeconds`. Literal limits are compared
/// here; limits read from paths are checked when the task runs.
pub(super) fn parse_task(f: &mut Fields<'_>) -> Option<StateKind> {
    let Some(resource) = f.string("Resource") else {
        f.report(SCHEMA, "", "a Task state needs 'Resource'");
        return None;
    };
    if !resource.starts_with("arn:") {
        f.report(SCHEMA, "Resource", &format!("'{resource}' is not an ARN"));
    }
    let timeout = f.number_source(
        "TimeoutSeconds",
        positive_integer,
        "must be a positive integer",
    );
    let heartbeat = f.number_source(
        "HeartbeatSeconds",
        positive_integer,
        "must be a positive integer",
    );
    if let (Some(NumberSource::Literal(t)), Some(NumberSource::Literal(h))) = (&timeout, &heartbeat)
        && h.as_u64() >= t.as_u64()
    {
        f.report(
            SCHEMA,
            "HeartbeatSeconds",
            "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'",
        );
    }
    Some(StateKind::Task(TaskSpec {
        resource: Resource::parse(&resource),
        timeout,
        heartbeat,
    }))
}

/// `Choices` and `Default`. A rule that uses JSONata is reported with the
/// JSONata code, so [`super::DefinitionError::is_jsonata`] can tell.
pub(super) fn parse_choice(f: &mut Fields<'_>) -> StateKind {
    let mut rules = Vec::new();
    match f.object.get("Choices").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for (i, rule) in list.iter().enumerate() {
                match ChoiceRule::parse(rule) {
                    Ok(r) => rules.push(r),
                    Err(e) => {
                        let code = if e.contains("JSONata") {
                            UNSUPPORTED_JSONATA
                        } else {
                            SCHEMA
                        };
                        f.report(code, &format!("Choices/{i}"), &e);
                    }
                }
            }
        }
        _ => f.report(
            SCHEMA,
            "Choices",
            "a Choice state needs a non-empty 'Choices' array",
        ),
    }
    let default = f.string("Default");
    StateKind::Choice { rules, default }
}

/// Exactly one of `Seconds`, `Timestamp`, `SecondsPath`, `TimestampPath`.
pub(super) fn parse_wait(f: &mut Fields<'_>) -> Option<StateKind> {
    let given: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| f.object.contains_key(*k))
        .collect();
    if given.len() != 1 {
        f.report(
            SCHEMA,
            "",
            "a Wait state needs exactly one of 'Seconds', 'Timestamp', 'SecondsPath', 'TimestampPath'",
        );
        return None;
    }
    let spec = match given[0] {
        "Seconds" => match f
            .object
            .get("Seconds")
            .and_then(Value::as_u64)
            .filter(|s| *s <= 99_999_999)
        {
            Some(s) => WaitSpec::Seconds(s),
            None => {
                f.report(
                    SCHEMA,
                    "Seconds",
                    "'Seconds' must be a non-negative integer",
                );
                return None;
            }
        },
        "Timestamp" => match f
            .object
            .get("Timestamp")
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
        {
            Some(t) => WaitSpec::Timestamp(t),
            None => {
                f.report(
                    SCHEMA,
                    "Timestamp",
                    "'Timestamp' must be an RFC 3339 timestamp",
                );
                return None;
            }
        },
        "SecondsPath" => WaitSpec::SecondsPath(f.reference_path("SecondsPath")?),
        _ => WaitSpec::TimestampPath(f.reference_path("TimestampPath")?),
    };
    Some(StateKind::Wait(spec))
}

/// A Fail state's `Error`/`ErrorPath` or `Cause`/`CausePath`; the path
/// form may also hold an intrinsic call (`States.Format(...)`).
pub(super) fn fail_text(f: &mut Fields<'_>, field: &str) -> FailText {
    let path_field = format!("{field}Path");
    match (f.object.get(field), f.object.get(&path_field)) {
        (Some(_), Some(_)) => {
            f.report(
                SCHEMA,
                field,
                &format!("'{field}' and '{path_field}' are mutually exclusive"),
            );
            FailText::Absent
        }
        (Some(Value::String(s)), None) => FailText::Literal(s.clone()),
        (Some(_), None) => {
            f.report(SCHEMA, field, &format!("'{field}' must be a string"));
            FailText::Absent
        }
        (None, Some(Value::String(text))) => {
            if intrinsics::looks_like_call(text) {
                match Call::parse(text) {
                    Ok(call) => FailText::Call(call),
                    Err(e) => {
                        f.report(SCHEMA, &path_field, &e.to_string());
                        FailText::Absent
                    }
                }
            } else {
                f.path(&path_field).map_or(FailText::Absent, FailText::Path)
            }
        }
        (None, Some(_)) => {
            f.report(
                SCHEMA,
                &path_field,
                &format!("'{path_field}' must be a string"),
            );
            FailText::Absent
        }
        (None, None) => FailText::Absent,
    }
}

/// `Branches`, each a machine of its own; the state is dropped unless every
/// branch parsed.
pub(super) fn parse_parallel(f: &mut Fields<'_>, _resolve: bool) -> Option<StateKind> {
    let Some(list) = f
        .object
        .get("Branches")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        f.report(
            SCHEMA,
            "Branches",
            "a Parallel state needs a non-empty 'Branches' array",
        );
        return None;
    };
    let mut branches = Vec::new();
    for (i, branch) in list.iter().enumerate() {
        let at = format!("{}/Branches/{i}", f.at);
        if let Some(machine) = parse_machine(branch, &at, f.problems, false) {
            branches.push(Arc::new(machine));
        }
    }
    (branches.len() == list.len()).then_some(StateKind::Parallel { branches })
}

/// A Map's processor, its fields (`ItemsPath`, `ItemSelector`, the
/// concurrency and tolerated-failure limits).
pub(super) fn parse_map(f: &mut Fields<'_>, _resolve: bool) -> Option<StateKind> {
    let (processor, distributed) = parse_map_processor(f)?;
    let items_path = if f.object.contains_key("ItemsPath") {
        Some(f.reference_path("ItemsPath")?)
    } else {
        None
    };
    let item_selector = parse_item_selector(f);
    let non_negative = |v: &Value| v.as_u64().is_some();
    let max_concurrency = f.number_source(
        "MaxConcurrency",
        non_negative,
        "must be a non-negative integer",
    );
    let tolerated_failure_count = f.number_source(
        "ToleratedFailureCount",
        non_negative,
        "must be a non-negative integer",
    );
    let tolerated_failure_percentage = f.number_source(
        "ToleratedFailurePercentage",
        |v| v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)),
        "must be a number between 0 and 100",
    );
    Some(StateKind::Map(Box::new(MapSpec {
        processor: Arc::new(processor),
        distributed,
        items_path,
        item_selector,
        max_concurrency,
        tolerated_failure_count,
        tolerated_failure_percentage,
    })))
}

/// `ItemProcessor` (or the legacy `Iterator`) and whether it runs in
/// `DISTRIBUTED` mode.
fn parse_map_processor(f: &mut Fields<'_>) -> Option<(StateMachine, bool)> {
    let (field, processor_value) = match (f.object.get("ItemProcessor"), f.object.get("Iterator")) {
        (Some(p), None) => ("ItemProcessor", p),
        (None, Some(i)) => ("Iterator", i),
        (Some(_), Some(_)) => {
            f.report(
                SCHEMA,
                "Iterator",
                "'ItemProcessor' and 'Iterator' are mutually exclusive",
            );
            return None;
        }
        (None, None) => {
            f.report(SCHEMA, "", "a Map state needs 'ItemProcessor'");
            return None;
        }
    };
    let distributed = processor_value
        .pointer("/ProcessorConfig/Mode")
        .and_then(Value::as_str)
        == Some("DISTRIBUTED");
    if f.object.contains_key("ItemReader") {
        f.report(
            SCHEMA,
            "ItemReader",
            "'ItemReader' (reading items from S3) is not supported by this interpreter",
        );
    }
    let at = format!("{}/{field}", f.at);
    let processor = parse_machine(processor_value, &at, f.problems, false)?;
    Some((processor, distributed))
}

/// `ItemSelector`, or the legacy `Parameters` in its place.
fn parse_item_selector(f: &mut Fields<'_>) -> Option<Template> {
    match (
        f.object.contains_key("ItemSelector"),
        f.object.contains_key("Parameters"),
    ) {
        (true, true) => {
            f.report(
                SCHEMA,
                "ItemSelector",
                "'ItemSelector' and 'Parameters' are mutually exclusive",
            );
            None
        }
        (true, false) => f.object_template("ItemSelector"),
        (false, true) => f.object_template("Parameters"),
        (false, false) => None,
    }
}
