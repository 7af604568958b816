//! Metrics in CloudWatch Embedded Metric Format (EMF): one JSON object per
//! sample, written as one log line, which CloudWatch Logs turns into a
//! metric (no API call, no client, nothing to fail in the function).
//!
//! Every metric the saga emits is a [`Metric`] constant here, with its unit
//! and its dimension sets, and is listed in [`ALL`]; `template.yaml`'s
//! dashboard and alarms are checked against that list
//! (`crates/saga-template/tests/metrics.rs`), and every kind of line is
//! checked against the EMF specification (`tests/emf.rs`). A call site is
//! one line: `metrics::ORDERS_PLACED.count(1).emit(clock.now())`.
//!
//! Where each metric is counted (ARCHITECTURE.md, "Metrics"):
//!
//! - `OrdersPlaced`: the api, when it creates an order (not on a replay).
//! - `OrdersCompleted`, `OrdersRejected` by `Reason`: the watcher, from the
//!   SUCCEEDED status-change event of the order's execution. The order's
//!   final status is written by the state machine itself (MarkCompleted,
//!   RejectOrder), where no code runs; the execution's output tells the two
//!   apart (RejectOrder's input, so the output, carries `error.Error`, the
//!   reason the order shows).
//! - `FailedOrders` by `Status`: the watcher, when it records a stall
//!   (FAILED, TIMED_OUT, ABORTED before the order was final).
//! - `NeverStartedOrders` and `StalledOrders`: the sweeper, every run.
//! - `StepLatency`, `StepErrors`: each step's handler, around its work.
//! - `CompensationsRun`: release and refund, when they gave something back.
//! - `PaymentProviderLatency`, `PaymentProviderErrors`: around every call to
//!   the payment provider (`saga-wiring`'s provider, charge and refund).
//! - `PaymentBreakerOpened`, `PaymentBreakerClosed`,
//!   `PaymentBreakerRejections`: the charge function's circuit breaker.
//!
//! Dimensions stay few-valued (a step, an error name, a reason): each
//! distinct combination is a custom metric CloudWatch bills. An order id is
//! a property of the line, searchable in Logs Insights, never a dimension.
//!
//! The namespace: [`Sample::emit`] uses the process's `METRICS_NAMESPACE`
//! (the template sets it for every function; [`DEFAULT_METRICS_NAMESPACE`]
//! when unset or invalid), read at the first metric. On Lambda each process
//! runs one function, so that is the function's namespace; the local cloud,
//! which runs every function in one process, reads its metrics by name and
//! dimensions, whatever their namespace. Functions whose config carries the
//! namespace (charge, sweeper) pass it: [`Sample::emit_in`].

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value, json};

use crate::config::{DEFAULT_METRICS_NAMESPACE, parse_metrics_namespace};

/// A CloudWatch unit (the subset the saga uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
}

impl Unit {
    /// The name CloudWatch knows it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric: its name, unit and the dimension sets each sample is
/// published under (`&[]` is the metric without dimensions, the total).
#[derive(Debug, PartialEq, Eq)]
pub struct Metric {
    /// The metric's name in CloudWatch.
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// The dimension sets; every sample gives a value to each name in them.
    pub dimension_sets: &'static [&'static [&'static str]],
}

/// Dimension: a saga step function (`reserve`, `charge`, `confirm`, `ship`,
/// `release`, `refund`).
pub const STEP: &str = "Step";
/// Dimension: an error's stable name (`StepError::error_type`, or the
/// provider error's kind).
pub const ERROR_TYPE: &str = "ErrorType";
/// Dimension: why an order was rejected (the error RejectOrder records).
pub const REASON: &str = "Reason";
/// Dimension: how an execution stopped (`FAILED`, `TIMED_OUT`, `ABORTED`).
pub const STATUS: &str = "Status";
/// Dimension: the compensation that ran (`ReleaseInventory`, `RefundPayment`).
pub const COMPENSATION: &str = "Compensation";
/// Dimension: the payment provider operation (`charge`, `refund`, `cancel`,
/// `find_charges`).
pub const OPERATION: &str = "Operation";

/// Every dimension name a metric uses.
pub const DIMENSIONS: [&str; 6] = [STEP, ERROR_TYPE, REASON, STATUS, COMPENSATION, OPERATION];

/// Property (not a dimension): the order a line is about.
pub const ORDER_ID: &str = "OrderId";

/// Orders the api created (a replay of the same request is not counted).
pub const ORDERS_PLACED: Metric = Metric {
    name: "OrdersPlaced",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};
/// Orders whose execution succeeded with the order COMPLETED.
pub const ORDERS_COMPLETED: Metric = Metric {
    name: "OrdersCompleted",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};
/// Orders whose execution succeeded with the order REJECTED, in total and
/// by reason.
pub const ORDERS_REJECTED: Metric = Metric {
    name: "OrdersRejected",
    unit: Unit::Count,
    dimension_sets: &[&[], &[REASON]],
};
/// Orders whose execution stopped before they were final (a stall the
/// watcher recorded), in total and by how it stopped.
pub const FAILED_ORDERS: Metric = Metric {
    name: "FailedOrders",
    unit: Unit::Count,
    dimension_sets: &[&[], &[STATUS]],
};
/// Orders whose execution the sweeper had to start (written, never started).
pub const NEVER_STARTED_ORDERS: Metric = Metric {
    name: "NeverStartedOrders",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};
/// Orders carrying a stall now (see `saga_domain::steps::count_stalled`),
/// reported by every sweeper run; `FailedExecutionsAlarm` watches it.
pub const STALLED_ORDERS: Metric = Metric {
    name: "StalledOrders",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};
/// How long a step's handler worked on one order, by step.
pub const STEP_LATENCY: Metric = Metric {
    name: "StepLatency",
    unit: Unit::Milliseconds,
    dimension_sets: &[&[STEP]],
};
/// Steps that ended in an error (business outcomes included), by step and
/// by step and error.
pub const STEP_ERRORS: Metric = Metric {
    name: "StepErrors",
    unit: Unit::Count,
    dimension_sets: &[&[STEP], &[STEP, ERROR_TYPE]],
};
/// Compensations that gave something back (stock released, money refunded),
/// by compensation; a repeated or empty one is not counted.
pub const COMPENSATIONS_RUN: Metric = Metric {
    name: "CompensationsRun",
    unit: Unit::Count,
    dimension_sets: &[&[COMPENSATION]],
};
/// How long a call to the payment provider took, by operation.
pub const PAYMENT_PROVIDER_LATENCY: Metric = Metric {
    name: "PaymentProviderLatency",
    unit: Unit::Milliseconds,
    dimension_sets: &[&[OPERATION]],
};
/// Calls to the payment provider that failed, in total (the alarm) and by
/// operation and error.
pub const PAYMENT_PROVIDER_ERRORS: Metric = Metric {
    name: "PaymentProviderErrors",
    unit: Unit::Count,
    dimension_sets: &[&[], &[OPERATION, ERROR_TYPE]],
};
/// The payment provider's circuit breaker opened.
pub const PAYMENT_BREAKER_OPENED: Metric = Metric {
    name: "PaymentBreakerOpened",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};
/// The breaker closed again after a successful probe.
pub const PAYMENT_BREAKER_CLOSED: Metric = Metric {
    name: "PaymentBreakerClosed",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};
/// Calls the open breaker refused without reaching the provider.
pub const PAYMENT_BREAKER_REJECTIONS: Metric = Metric {
    name: "PaymentBreakerRejections",
    unit: Unit::Count,
    dimension_sets: &[&[]],
};

/// Every metric the saga emits.
pub const ALL: [&Metric; 14] = [
    &ORDERS_PLACED,
    &ORDERS_COMPLETED,
    &ORDERS_REJECTED,
    &FAILED_ORDERS,
    &NEVER_STARTED_ORDERS,
    &STALLED_ORDERS,
    &STEP_LATENCY,
    &STEP_ERRORS,
    &COMPENSATIONS_RUN,
    &PAYMENT_PROVIDER_LATENCY,
    &PAYMENT_PROVIDER_ERRORS,
    &PAYMENT_BREAKER_OPENED,
    &PAYMENT_BREAKER_CLOSED,
    &PAYMENT_BREAKER_REJECTIONS,
];

impl Metric {
    /// A sample of `n` things.
    pub fn count(&'static self, n: u64) -> Sample {
        debug_assert_eq!(self.unit, Unit::Count, "{} is not a count", self.name);
        Sample::new(self, Number::from(n))
    }

    /// A sample of a duration, in milliseconds (to the microsecond).
    pub fn duration(&'static self, elapsed: Duration) -> Sample {
        debug_assert_eq!(
            self.unit,
            Unit::Milliseconds,
            "{} is not a duration",
            self.name
        );
        let millis = (elapsed.as_micros() as f64) / 1000.0;
        Sample::new(self, Number::from_f64(millis).unwrap_or_else(|| 0.into()))
    }
}

/// One value of a metric with its dimensions and properties, ready to be
/// written as an EMF line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    metric: &'static Metric,
    value: Number,
    dimensions: Vec<(&'static str, String)>,
    properties: Vec<(&'static str, Value)>,
}

impl Sample {
    fn new(metric: &'static Metric, value: Number) -> Self {
        Self {
            metric,
            value,
            dimensions: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// Gives the dimension `name` the value `value`. An empty value (which
    /// CloudWatch refuses) becomes `Unknown`.
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        let mut value = value.into();
        if value.trim().is_empty() {
            value = "Unknown".to_owned();
        }
        // CloudWatch's limit on a dimension value.
        if value.len() > 1024 {
            let mut end = 1024;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
        }
        self.dimensions.retain(|(existing, _)| *existing != name);
        self.dimensions.push((name, value));
        self
    }

    /// Adds a property: a member of the line that is not a dimension
    /// (searchable in Logs Insights, no metric of its own).
    pub fn property(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.properties.push((name, value.into()));
        self
    }

    /// The EMF object for this sample in `namespace`, stamped `at`.
    ///
    /// Published under each of the metric's dimension sets whose names all
    /// have a value; a set missing one is left out (a call site's bug,
    /// which the tests of every call site would show).
    pub fn to_emf(&self, namespace: &str, at: DateTime<Utc>) -> Value {
        let has = |name: &&str| self.dimensions.iter().any(|(given, _)| given == name);
        let sets: Vec<&[&str]> = self
            .metric
            .dimension_sets
            .iter()
            .copied()
            .filter(|set| set.iter().all(has))
            .collect();
        debug_assert_eq!(
            sets.len(),
            self.metric.dimension_sets.len(),
            "{}: a dimension has no value",
            self.metric.name
        );
        let mut line = Map::new();
        // Properties first, so a property named like a dimension or the
        // metric cannot replace what the directive points at.
        for (name, value) in &self.properties {
            line.insert((*name).to_owned(), value.clone());
        }
        for (name, value) in &self.dimensions {
            line.insert((*name).to_owned(), Value::String(value.clone()));
        }
        line.insert(
            self.metric.name.to_owned(),
            Value::Number(self.value.clone()),
        );
        line.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": sets,
                    "Metrics": [{"Name": self.metric.name, "Unit": self.metric.unit.as_str()}],
                }],
            }),
        );
        Value::Object(line)
    }

    /// Writes the sample in the process's namespace (see the module doc).
    pub fn emit(self, at: DateTime<Utc>) {
        write(&self.to_emf(process_namespace(), at));
    }

    /// Writes the sample in `namespace`.
    pub fn emit_in(self, namespace: &str, at: DateTime<Utc>) {
        write(&self.to_emf(namespace, at));
    }
}

/// The process's `METRICS_NAMESPACE`, read once; the default when unset,
/// or (with a warning) when the value is not a namespace CloudWatch takes.
pub fn process_namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        let value = std::env::var("METRICS_NAMESPACE").ok();
        namespace_or_default(value).unwrap_or_else(|error| {
            tracing::warn!(%error, "metrics go to the default namespace");
            DEFAULT_METRICS_NAMESPACE.to_owned()
        })
    })
}

fn namespace_or_default(value: Option<String>) -> Result<String, crate::config::ConfigError> {
    value.map_or_else(
        || Ok(DEFAULT_METRICS_NAMESPACE.to_owned()),
        parse_metrics_namespace,
    )
}

/// Writes `line` where its metric is made: on Lambda (the runtime API is
/// set) to stdout as one line, which Lambda's log capture and CloudWatch's
/// EMF extraction read; anywhere else (the local cloud runs the functions
/// in its own process, tests) into the log as the event field `emf`, where
/// the local cloud's metrics page picks it up and a terminal showing the
/// process's output is not flooded. A stdout that cannot be written loses
/// the line, never the invocation: a metric is not worth failing a
/// function for.
pub fn write(line: &Value) {
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

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_767_225_600_123).unwrap()
    }

    #[test]
    fn lines_go_to_stdout_only_on_lambda() {
        assert!(on_lambda(Some(std::ffi::OsStr::new("127.0.0.1:9001"))));
        assert!(!on_lambda(Some(std::ffi::OsStr::new(""))));
        assert!(!on_lambda(None));
    }

    #[test]
    fn a_count_is_one_emf_object_naming_its_value() {
        let line = STALLED_ORDERS.count(3).to_emf("OrderSaga/test", at());
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_767_225_600_123_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "OrderSaga/test",
                        "Dimensions": [[]],
                        "Metrics": [{"Name": "StalledOrders", "Unit": "Count"}],
                    }],
                },
                "StalledOrders": 3,
            })
        );
        assert!(!line.to_string().contains('\n'), "one line");
    }

    #[test]
    fn a_sample_is_published_under_every_dimension_set_of_its_metric() {
        let line = STEP_ERRORS
            .count(1)
            .dimension(STEP, "charge")
            .dimension(ERROR_TYPE, "PaymentDeclined")
            .property(ORDER_ID, "ord-1")
            .to_emf("OrderSaga", at());
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["Step"], ["Step", "ErrorType"]])
        );
        assert_eq!(line["Step"], "charge");
        assert_eq!(line["ErrorType"], "PaymentDeclined");
        assert_eq!(line["OrderId"], "ord-1");
        assert_eq!(line["StepErrors"], 1);
    }

    #[test]
    fn a_duration_is_in_milliseconds_to_the_microsecond() {
        let line = STEP_LATENCY
            .duration(Duration::from_micros(12_345))
            .dimension(STEP, "reserve")
            .to_emf("OrderSaga", at());
        assert_eq!(line["StepLatency"], 12.345);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
    }

    #[test]
    fn dimension_values_are_never_empty_or_too_long() {
        let empty = ORDERS_REJECTED.count(1).dimension(REASON, " ");
        assert_eq!(empty.to_emf("N", at())["Reason"], "Unknown");
        let long = ORDERS_REJECTED.count(1).dimension(REASON, "é".repeat(600));
        let reason = long.to_emf("N", at())["Reason"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(reason.len() <= 1024 && reason.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_property_cannot_replace_a_dimension_or_the_value() {
        let line = ORDERS_REJECTED
            .count(1)
            .dimension(REASON, "InsufficientStock")
            .property("Reason", 5)
            .property("OrdersRejected", "x")
            .to_emf("N", at());
        assert_eq!(line["Reason"], "InsufficientStock");
        assert_eq!(line["OrdersRejected"], 1);
    }

    #[test]
    fn the_namespace_comes_from_the_environment_or_the_default() {
        assert_eq!(namespace_or_default(None).unwrap(), "OrderSaga");
        assert!(namespace_or_default(Some(String::new())).is_err());
        assert_eq!(
            namespace_or_default(Some("OrderSaga/prod".to_owned())).unwrap(),
            "OrderSaga/prod"
        );
        assert!(namespace_or_default(Some("AWS/Lambda".to_owned())).is_err());
    }

    #[test]
    fn every_metric_is_listed_once_with_known_dimensions() {
        let mut names: Vec<&str> = ALL.iter().map(|metric| metric.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a metric is listed twice: {names:?}");
        for metric in ALL {
            for set in metric.dimension_sets {
                for name in *set {
                    assert!(DIMENSIONS.contains(name), "{}: {name}", metric.name);
                }
            }
        }
    }
}
