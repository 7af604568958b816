//! Metrics in CloudWatch Embedded Metric Format: one JSON line on stdout per
//! report, which CloudWatch Logs turns into a metric (no API call, no
//! client, nothing to fail in the function).
//!
//! Only what the alarms need so far: the sweeper's `StalledOrders`, the
//! number of orders whose execution stopped before they were final, which
//! `FailedExecutionsAlarm` in `template.yaml` watches.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Orders carrying a stall (see `saga_domain::steps::count_stalled`).
pub const STALLED_ORDERS: &str = "StalledOrders";

/// An EMF line reporting `value` (a count) as metric `name` in `namespace`,
/// without dimensions, at `at`.
pub fn gauge(namespace: &str, name: &str, value: u64, at: DateTime<Utc>) -> Value {
    let mut line = json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
    });
    line[name] = json!(value);
    line
}

/// Writes `line` where its metric is made: on Lambda (the runtime API is
/// set) to stdout as one line, which Lambda's log capture and CloudWatch's
/// EMF extraction read; anywhere else (the local cloud runs the functions
/// in its own process, tests) into the log, so a terminal showing the
/// process's output is not flooded. A stdout that cannot be written loses
/// the line, never the invocation: a metric is not worth failing a
/// function for.
pub fn emit(line: &Value) {
    use std::io::Write as _;
    if !on_lambda(std::env::var_os(LAMBDA_RUNTIME_API).as_deref()) {
        tracing::info!(emf = %line, "metric");
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!(%line, "stdout is closed: metric line lost");
    }
}

/// The variable Lambda sets for the runtime to find its API.
const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Whether the process runs on Lambda, from `AWS_LAMBDA_RUNTIME_API`.
fn on_lambda(runtime_api: Option<&std::ffi::OsStr>) -> bool {
    runtime_api.is_some_and(|api| !api.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_stdout_only_on_lambda() {
        assert!(on_lambda(Some(std::ffi::OsStr::new("127.0.0.1:9001"))));
        assert!(!on_lambda(Some(std::ffi::OsStr::new(""))));
        assert!(!on_lambda(None));
    }

    #[test]
    fn a_gauge_is_one_emf_object_naming_its_value() {
        let at = DateTime::from_timestamp_millis(1_767_225_600_123).unwrap();
        let line = gauge("OrderSaga/test", STALLED_ORDERS, 3, at);
        // EMF: _aws.Timestamp in epoch ms; each CloudWatchMetrics directive
        // names its namespace, dimension sets and metrics, and every metric
        // named there is a top-level member of the same object.
        assert_eq!(line["_aws"]["Timestamp"], 1_767_225_600_123_i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "OrderSaga/test");
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(directive["Metrics"][0]["Name"], STALLED_ORDERS);
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(line[STALLED_ORDERS], 3);
        assert!(!line.to_string().contains('\n'), "one line");
    }
}
