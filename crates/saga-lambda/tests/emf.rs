//! Every kind of line `saga_lambda::metrics` writes is a valid CloudWatch
//! Embedded Metric Format document (`support::problems`: the schema in
//! `tests/emf.schema.json` and the rules between members), and lines that
//! break the specification are refused, so the check can fail.
//!
//! The lines the step handlers write from real events are checked too, in
//! `sample_events.rs`.

mod support;

use std::time::Duration;

use chrono::DateTime;
use saga_lambda::metrics::{self, ALL, Metric, Sample, Unit};
use serde_json::{Value, json};

/// A value for each dimension, as the call sites give them.
fn dimension_value(name: &str) -> &'static str {
    match name {
        metrics::STEP => "charge",
        metrics::ERROR_TYPE => "PaymentDeclined",
        metrics::REASON => "InsufficientStock",
        metrics::STATUS => "TIMED_OUT",
        metrics::COMPENSATION => "RefundPayment",
        metrics::OPERATION => "refund",
        other => panic!("no sample value for dimension {other}"),
    }
}

/// A sample of `metric` with every dimension it uses and an order id.
fn full_sample(metric: &'static Metric) -> Sample {
    let mut sample = match metric.unit {
        Unit::Count => metric.count(2),
        Unit::Milliseconds => metric.duration(Duration::from_micros(41_250)),
    };
    for set in metric.dimension_sets {
        for name in *set {
            sample = sample.dimension(name, dimension_value(name));
        }
    }
    sample.property(metrics::ORDER_ID, "ord_7Hq2")
}

fn at() -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(1_772_366_400_000).unwrap()
}

#[test]
fn every_metric_makes_a_valid_emf_line() {
    for metric in ALL {
        let line = full_sample(metric)
            .to_emf("OrderSaga/prod", at())
            .to_string();
        let problems = support::problems(&line);
        assert!(problems.is_empty(), "{}: {problems:?}\n{line}", metric.name);
    }
}

#[test]
fn emitted_lines_are_logged_as_the_emf_field_off_lambda() {
    let (captured, _guard) = support::capture();
    for metric in ALL {
        full_sample(metric).emit(at());
        full_sample(metric).emit_in("OrderSaga/test", at());
    }
    let lines = captured.take();
    assert_eq!(lines.len(), 2 * ALL.len());
    for line in &lines {
        assert_eq!(support::problems(line), Vec::<String>::new(), "{line}");
    }
    let namespaces: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|line| line["_aws"]["CloudWatchMetrics"][0]["Namespace"].clone())
        .collect();
    assert!(namespaces.contains(&json!("OrderSaga/test")));
    assert!(namespaces.contains(&json!(metrics::process_namespace())));
}

/// A valid line changed by `break_it` must be refused with a problem that
/// contains `expected`.
fn assert_refused(break_it: impl Fn(&mut Value), expected: &str) {
    let mut line = full_sample(&metrics::STEP_ERRORS).to_emf("OrderSaga", at());
    break_it(&mut line);
    let problems = support::problems(&line.to_string());
    assert!(
        problems.iter().any(|problem| problem.contains(expected)),
        "expected a problem with {expected:?}, got {problems:?}\n{line}"
    );
}

/// A named way to break a line, and what the refusal must mention.
type BreakingCase = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);

fn directive(line: &mut Value) -> &mut Value {
    &mut line["_aws"]["CloudWatchMetrics"][0]
}

#[test]
fn lines_that_break_the_specification_are_refused() {
    let cases: Vec<BreakingCase> = vec![
        (
            "no _aws",
            Box::new(|l| drop(l.as_object_mut().unwrap().remove("_aws"))),
            "schema",
        ),
        (
            "no timestamp",
            Box::new(|l| drop(l["_aws"].as_object_mut().unwrap().remove("Timestamp"))),
            "schema",
        ),
        (
            "timestamp in text",
            Box::new(|l| l["_aws"]["Timestamp"] = json!("2026-03-01T12:00:00Z")),
            "schema",
        ),
        (
            "no namespace",
            Box::new(|l| drop(directive(l).as_object_mut().unwrap().remove("Namespace"))),
            "schema",
        ),
        (
            "blank namespace",
            Box::new(|l| directive(l)["Namespace"] = json!("   ")),
            "schema",
        ),
        (
            "unknown unit",
            Box::new(|l| directive(l)["Metrics"][0]["Unit"] = json!("Orders")),
            "schema",
        ),
        (
            "storage resolution 5",
            Box::new(|l| directive(l)["Metrics"][0]["StorageResolution"] = json!(5)),
            "schema",
        ),
        (
            "extra member in a directive",
            Box::new(|l| directive(l)["Region"] = json!("eu-west-1")),
            "schema",
        ),
        (
            "31 dimensions in a set",
            Box::new(|l| {
                let names: Vec<String> = (0..31).map(|i| format!("D{i}")).collect();
                for name in &names {
                    l[name.as_str()] = json!("x");
                }
                directive(l)["Dimensions"] = json!([names]);
            }),
            "schema",
        ),
        (
            "101 metrics",
            Box::new(|l| {
                let defs: Vec<Value> = (0..101).map(|i| json!({"Name": format!("M{i}")})).collect();
                for i in 0..101 {
                    l[format!("M{i}")] = json!(1);
                }
                directive(l)["Metrics"] = json!(defs);
            }),
            "schema",
        ),
        (
            "dimension without a member",
            Box::new(|l| drop(l.as_object_mut().unwrap().remove("ErrorType"))),
            "dimension ErrorType",
        ),
        (
            "dimension that is a number",
            Box::new(|l| l["Step"] = json!(3)),
            "dimension Step",
        ),
        (
            "dimension that is nested",
            Box::new(|l| {
                drop(l.as_object_mut().unwrap().remove("Step"));
                l["Order"] = json!({"Step": "charge"});
                directive(l)["Dimensions"] = json!([["Order.Step"]]);
            }),
            "dimension Order.Step",
        ),
        (
            "metric without a member",
            Box::new(|l| drop(l.as_object_mut().unwrap().remove("StepErrors"))),
            "metric StepErrors",
        ),
        (
            "metric that is text",
            Box::new(|l| l["StepErrors"] = json!("1")),
            "metric StepErrors",
        ),
        (
            "metric array of 101 values",
            Box::new(|l| l["StepErrors"] = json!(vec![1; 101])),
            "metric StepErrors",
        ),
        (
            "metric listed twice",
            Box::new(|l| {
                directive(l)["Metrics"] = json!([{"Name": "StepErrors"}, {"Name": "StepErrors"}])
            }),
            "listed twice",
        ),
        (
            "metric used as a dimension",
            Box::new(|l| directive(l)["Dimensions"] = json!([["StepErrors"]])),
            "both a metric and a dimension",
        ),
    ];
    for (case, break_it, expected) in cases {
        eprintln!("case: {case}");
        assert_refused(break_it, expected);
    }
    assert_eq!(support::problems("{\"_aws\": 1}\n{}")[0], "not one line");
}

#[test]
fn arrays_of_values_and_high_resolution_are_valid() {
    let mut line = full_sample(&metrics::STEP_LATENCY).to_emf("OrderSaga", at());
    line["StepLatency"] = json!([1.5, 2, 300]);
    directive(&mut line)["Metrics"][0]["StorageResolution"] = json!(1);
    assert_eq!(support::problems(&line.to_string()), Vec::<String>::new());
}
