//! A state's `Retry` and `Catch` lists. A bad retrier field is reported and
//! takes its default; a catcher without `Next` is reported and left out.

use serde_json::Value;

use super::field_table::{CATCHER_FIELDS, RETRIER_FIELDS};
use super::fields::Fields;
use super::model::{Catcher, Retrier};
use super::validate::SCHEMA;

/// `ErrorEquals` of a retrier or catcher at `at`.
fn error_equals(f: &mut Fields<'_>, value: &Value, at: &str) -> Vec<String> {
    let Some(list) = value
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        f.report(
            SCHEMA,
            at,
            "'ErrorEquals' must be a non-empty array of strings",
        );
        return Vec::new();
    };
    let names: Vec<String> = list
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if names.len() != list.len() {
        f.report(
            SCHEMA,
            &format!("{at}/ErrorEquals"),
            "'ErrorEquals' must hold strings",
        );
    }
    if names.len() > 1 && names.iter().any(|n| n == crate::errors::ALL) {
        f.report(
            SCHEMA,
            &format!("{at}/ErrorEquals"),
            "'States.ALL' must appear alone in 'ErrorEquals'",
        );
    }
    names
}

/// `Retry`: its retriers, in order. The order matters: at run time only the
/// first retrier whose `ErrorEquals` matches an error decides, even when
/// its attempts are used up.
pub(super) fn parse_retry(f: &mut Fields<'_>) -> Vec<Retrier> {
    let Some(value) = f.object.get("Retry") else {
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        f.report(SCHEMA, "Retry", "'Retry' must be an array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("Retry/{i}");
        if !entry.is_object() {
            f.report(SCHEMA, &at, "a retrier must be an object");
            continue;
        }
        out.push(parse_retrier(f, entry, &at));
    }
    out
}

/// One retrier; a bad field is reported and takes its default.
fn parse_retrier(f: &mut Fields<'_>, entry: &Value, at: &str) -> Retrier {
    let error_equals = error_equals(f, entry, at);
    let uint = |f: &mut Fields<'_>, key: &str, default: u64, min: u64| -> u64 {
        match entry.get(key) {
            None => default,
            Some(v) => match v.as_u64().filter(|n| *n >= min && *n <= 99_999_999) {
                Some(n) => n,
                None => {
                    f.report(
                        SCHEMA,
                        &format!("{at}/{key}"),
                        &format!("'{key}' must be an integer >= {min}"),
                    );
                    default
                }
            },
        }
    };
    let interval_seconds = uint(f, "IntervalSeconds", 1, 1);
    let max_attempts = uint(f, "MaxAttempts", 3, 0);
    let max_delay_seconds = entry
        .get("MaxDelaySeconds")
        .map(|_| uint(f, "MaxDelaySeconds", 1, 1));
    let backoff_rate = backoff_rate(f, entry, at);
    let full_jitter = full_jitter(f, entry, at);
    if let Some(key) = entry
        .as_object()
        .and_then(|o| o.keys().find(|k| !RETRIER_FIELDS.contains(&k.as_str())))
    {
        f.report(
            SCHEMA,
            &format!("{at}/{key}"),
            &format!("the field '{key}' is not supported in a retrier"),
        );
    }
    Retrier {
        error_equals,
        interval_seconds,
        max_attempts,
        backoff_rate,
        max_delay_seconds,
        full_jitter,
    }
}

/// `BackoffRate` (default 2.0, at least 1.0).
fn backoff_rate(f: &mut Fields<'_>, entry: &Value, at: &str) -> f64 {
    match entry.get("BackoffRate") {
        None => 2.0,
        Some(v) => match v.as_f64().filter(|r| *r >= 1.0) {
            Some(r) => r,
            None => {
                f.report(
                    SCHEMA,
                    &format!("{at}/BackoffRate"),
                    "'BackoffRate' must be a number >= 1.0",
                );
                2.0
            }
        },
    }
}

/// `JitterStrategy`: `FULL`, or `NONE` (the default).
fn full_jitter(f: &mut Fields<'_>, entry: &Value, at: &str) -> bool {
    match entry.get("JitterStrategy").map(|v| v.as_str()) {
        None | Some(Some("NONE")) => false,
        Some(Some("FULL")) => true,
        Some(_) => {
            f.report(
                SCHEMA,
                &format!("{at}/JitterStrategy"),
                "'JitterStrategy' must be FULL or NONE",
            );
            false
        }
    }
}

/// `Catch`: its catchers, in order (the first that matches wins).
pub(super) fn parse_catch(f: &mut Fields<'_>) -> Vec<Catcher> {
    let Some(value) = f.object.get("Catch") else {
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        f.report(SCHEMA, "Catch", "'Catch' must be an array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("Catch/{i}");
        let Some(object) = entry.as_object() else {
            f.report(SCHEMA, &at, "a catcher must be an object");
            continue;
        };
        let error_equals = error_equals(f, entry, &at);
        let Some(next) = object.get("Next").and_then(Value::as_str) else {
            f.report(SCHEMA, &at, "a catcher needs 'Next'");
            continue;
        };
        // The catcher's own fields report at the catcher's location.
        let mut inner = Fields {
            object,
            at: &format!("{}/{at}", f.at),
            problems: f.problems,
        };
        let result_path = inner.result_path("ResultPath");
        let assign = inner.object_template("Assign");
        if let Some(key) = object
            .keys()
            .find(|k| !CATCHER_FIELDS.contains(&k.as_str()))
        {
            f.report(
                SCHEMA,
                &format!("{at}/{key}"),
                &format!("the field '{key}' is not supported in a catcher"),
            );
        }
        out.push(Catcher {
            error_equals,
            next: next.to_owned(),
            result_path,
            assign,
        });
    }
    out
}
