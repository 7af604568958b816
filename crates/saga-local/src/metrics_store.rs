//! The functions' metrics, locally: what CloudWatch would extract from
//! their Embedded Metric Format lines, kept in memory for the console's
//! metrics page (`/console/metrics`) and `GET /local/metrics`.
//!
//! The functions run in this process, where `saga_lambda::metrics` logs
//! each EMF line as the `emf` field of a `tracing` event (on Lambda it goes
//! to stdout instead). [`MetricsLayer`], installed by the command line next
//! to the invocation log capture, hands every such line to the one
//! process-wide store, which files each value under its metric and each of
//! the line's dimension sets, as CloudWatch does: a sample published with
//! `[[], ["Reason"]]` counts in the total and under its reason.
//!
//! Bounded: at most [`MAX_SERIES`] series (later ones are dropped and
//! counted), and per series the count and sum of every value but only the
//! last [`RECENT_VALUES`] values, from which p50 and p99 are computed
//! (nearest rank). Namespaces are not told apart: a local stack has one,
//! and functions that do not read it from their config use the default.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Series kept at most; a line that would start another is dropped.
pub const MAX_SERIES: usize = 1_000;
/// Values kept per series for its percentiles.
pub const RECENT_VALUES: usize = 1_024;

/// One value of a metric under one dimension set, from one EMF line.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    /// The metric's name.
    pub metric: String,
    /// Its unit (`None` when the line gives none, as CloudWatch assumes).
    pub unit: String,
    /// The dimension set's names with their values, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// The values (a line may carry an array of them).
    pub values: Vec<f64>,
    /// `_aws.Timestamp`, epoch milliseconds.
    pub timestamp: i64,
}

/// The data of one EMF line, one [`Datum`] per metric and dimension set;
/// an error saying why the line is not EMF.
pub fn parse_emf(text: &str) -> Result<Vec<Datum>, String> {
    let line: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let root = line.as_object().ok_or("not an object")?;
    let metadata = root.get("_aws").ok_or("no _aws member")?;
    let timestamp = metadata["Timestamp"]
        .as_i64()
        .ok_or("_aws.Timestamp is not an integer")?;
    let directives = metadata["CloudWatchMetrics"]
        .as_array()
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    let mut data = Vec::new();
    for directive in directives {
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or("a directive has no Dimensions array")?;
        for definition in directive["Metrics"].as_array().into_iter().flatten() {
            let name = definition["Name"]
                .as_str()
                .ok_or("a metric definition has no Name")?;
            let values = match root.get(name) {
                Some(Value::Number(number)) => vec![number.as_f64().unwrap_or_default()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
                _ => return Err(format!("metric {name} has no numeric member")),
            };
            let unit = definition["Unit"].as_str().unwrap_or("None").to_owned();
            for set in sets {
                let mut dimensions = Vec::new();
                for dimension in set.as_array().ok_or("a dimension set is not an array")? {
                    let dimension = dimension.as_str().ok_or("a dimension name is not text")?;
                    let value = root
                        .get(dimension)
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("dimension {dimension} has no string member"))?;
                    dimensions.push((dimension.to_owned(), value.to_owned()));
                }
                dimensions.sort();
                data.push(Datum {
                    metric: name.to_owned(),
                    unit: unit.clone(),
                    dimensions,
                    values: values.clone(),
                    timestamp,
                });
            }
        }
    }
    Ok(data)
}

/// The `percent` percentile of `sorted` (ascending) by nearest rank: the
/// smallest value with at least `percent`% of the values at or below it.
pub fn percentile(sorted: &[f64], percent: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One metric under one dimension set, as the page and the JSON show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesSummary {
    /// The metric's name.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// Dimension names and values; empty for the metric's total.
    pub dimensions: BTreeMap<String, String>,
    /// Values received.
    pub samples: u64,
    /// Their sum (for a count, how many things were counted).
    pub sum: f64,
    /// Median of the recent values.
    pub p50: Option<f64>,
    /// 99th percentile of the recent values.
    pub p99: Option<f64>,
    /// The latest line's timestamp, epoch milliseconds.
    pub last_timestamp: i64,
}

#[derive(Debug, Default)]
struct Series {
    unit: String,
    samples: u64,
    sum: f64,
    recent: VecDeque<f64>,
    last_timestamp: i64,
}

/// The series so far, and what could not be kept.
#[derive(Debug, Default)]
pub struct MetricsStore {
    series: BTreeMap<(String, Vec<(String, String)>), Series>,
    refused_lines: u64,
    dropped_data: u64,
}

impl MetricsStore {
    /// Files the data of one EMF line; a line that is not EMF is counted
    /// as refused and otherwise ignored.
    pub fn record_line(&mut self, text: &str) {
        let data = match parse_emf(text) {
            Ok(data) => data,
            Err(error) => {
                self.refused_lines += 1;
                tracing::debug!(%error, "a metric line that is not EMF; not kept");
                return;
            }
        };
        for datum in data {
            let key = (datum.metric, datum.dimensions);
            if !self.series.contains_key(&key) && self.series.len() >= MAX_SERIES {
                self.dropped_data += 1;
                continue;
            }
            let series = self.series.entry(key).or_default();
            series.unit = datum.unit;
            series.last_timestamp = series.last_timestamp.max(datum.timestamp);
            for value in datum.values {
                series.samples += 1;
                series.sum += value;
                if series.recent.len() == RECENT_VALUES {
                    series.recent.pop_front();
                }
                series.recent.push_back(value);
            }
        }
    }

    /// Every series, by metric name, then dimensions (the total first).
    pub fn summaries(&self) -> Vec<SeriesSummary> {
        self.series
            .iter()
            .map(|((metric, dimensions), series)| {
                let mut sorted: Vec<f64> = series.recent.iter().copied().collect();
                sorted.sort_by(f64::total_cmp);
                SeriesSummary {
                    metric: metric.clone(),
                    unit: series.unit.clone(),
                    dimensions: dimensions.iter().cloned().collect(),
                    samples: series.samples,
                    sum: series.sum,
                    p50: percentile(&sorted, 50.0),
                    p99: percentile(&sorted, 99.0),
                    last_timestamp: series.last_timestamp,
                }
            })
            .collect()
    }

    /// Lines that were not EMF.
    pub fn refused_lines(&self) -> u64 {
        self.refused_lines
    }

    /// Data dropped because the store was full.
    pub fn dropped_data(&self) -> u64 {
        self.dropped_data
    }
}

/// The process's store, filled by [`MetricsLayer`].
static STORE: LazyLock<Mutex<MetricsStore>> = LazyLock::new(Default::default);

/// The process's store.
pub fn store() -> MutexGuard<'static, MetricsStore> {
    STORE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `tracing` layer that files every event's `emf` field in the store.
/// Install it with a filter on `saga_lambda::metrics`, the one target that
/// logs such events, so other events cost nothing here.
pub struct MetricsLayer;

impl<S: Subscriber> Layer<S> for MetricsLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut field = EmfField(None);
        event.record(&mut field);
        if let Some(line) = field.0 {
            store().record_line(&line);
        }
    }
}

/// The target of the events that carry EMF lines.
pub const EMF_TARGET: &str = "saga_lambda::metrics";

struct EmfField(Option<String>);

impl Visit for EmfField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "emf" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `emf = %line` arrives as a value whose Debug is its Display.
        if field.name() == "emf" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(metric: &str, unit: &str, sets: Value, value: Value, dimensions: Value) -> String {
        let mut line = json!({
            "_aws": {"Timestamp": 1_000, "CloudWatchMetrics": [{
                "Namespace": "OrderSaga", "Dimensions": sets,
                "Metrics": [{"Name": metric, "Unit": unit}],
            }]},
        });
        line[metric] = value;
        for (name, value) in dimensions.as_object().unwrap() {
            line[name] = value.clone();
        }
        line.to_string()
    }

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let cases: [(&[f64], f64, Option<f64>); 8] = [
            (&[], 50.0, None),
            (&[7.0], 50.0, Some(7.0)),
            (&[7.0], 99.0, Some(7.0)),
            (&[1.0, 2.0, 3.0, 4.0], 50.0, Some(2.0)),
            (&[1.0, 2.0, 3.0, 4.0], 99.0, Some(4.0)),
            (&hundred, 50.0, Some(50.0)),
            (&hundred, 99.0, Some(99.0)),
            (&hundred, 0.0, Some(1.0)),
        ];
        for (values, percent, expected) in cases {
            assert_eq!(
                percentile(values, percent),
                expected,
                "p{percent} of {values:?}"
            );
        }
    }

    #[test]
    fn a_line_gives_one_datum_per_dimension_set() {
        let text = line(
            "OrdersRejected",
            "Count",
            json!([[], ["Reason"]]),
            json!(1),
            json!({"Reason": "InsufficientStock", "OrderId": "ord_1"}),
        );
        let data = parse_emf(&text).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].dimensions, vec![]);
        assert_eq!(
            data[1].dimensions,
            vec![("Reason".to_owned(), "InsufficientStock".to_owned())]
        );
        assert!(
            data.iter()
                .all(|d| d.values == [1.0] && d.timestamp == 1_000)
        );
    }

    #[test]
    fn lines_that_are_not_emf_say_why() {
        let cases = [
            ("not json", "not JSON"),
            ("[]", "not an object"),
            ("{}", "no _aws"),
            (
                r#"{"_aws":{"Timestamp":"x","CloudWatchMetrics":[]}}"#,
                "Timestamp",
            ),
            (
                &line(
                    "StepLatency",
                    "Milliseconds",
                    json!([["Step"]]),
                    json!(3),
                    json!({}),
                ),
                "dimension Step",
            ),
            (
                &line(
                    "StepLatency",
                    "Milliseconds",
                    json!([[]]),
                    json!("3"),
                    json!({}),
                ),
                "metric StepLatency",
            ),
        ];
        for (text, expected) in cases {
            let error = parse_emf(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn the_store_sums_counts_and_keeps_latencies_for_percentiles() {
        let mut store = MetricsStore::default();
        for millis in 1..=200 {
            let step = if millis % 2 == 0 { "charge" } else { "reserve" };
            store.record_line(&line(
                "StepLatency",
                "Milliseconds",
                json!([["Step"]]),
                json!(millis),
                json!({"Step": step}),
            ));
        }
        store.record_line(&line(
            "OrdersPlaced",
            "Count",
            json!([[]]),
            json!([1, 1, 1]),
            json!({}),
        ));
        store.record_line("garbage");
        let summaries = store.summaries();
        let charge = summaries
            .iter()
            .find(|s| s.dimensions.get("Step").is_some_and(|v| v == "charge"))
            .unwrap();
        assert_eq!(
            (charge.samples, charge.unit.as_str()),
            (100, "Milliseconds")
        );
        assert_eq!((charge.p50, charge.p99), (Some(100.0), Some(198.0)));
        let placed = summaries
            .iter()
            .find(|s| s.metric == "OrdersPlaced")
            .unwrap();
        assert_eq!((placed.samples, placed.sum), (3, 3.0));
        assert_eq!(store.refused_lines(), 1);
    }

    #[test]
    fn the_store_is_bounded() {
        let mut store = MetricsStore::default();
        // The window: percentiles over the last RECENT_VALUES values only.
        let total = RECENT_VALUES + 10;
        for value in 1..=total {
            let text = line(
                "StepLatency",
                "Milliseconds",
                json!([[]]),
                json!(value),
                json!({}),
            );
            store.record_line(&text);
        }
        let latency = &store.summaries()[0];
        assert_eq!(latency.samples, total as u64, "every value is counted");
        assert_eq!(latency.p50, Some(522.0), "the median of 11..=1034");
        // The series: one is taken, so MAX_SERIES - 1 more fit.
        for i in 0..(MAX_SERIES + 4) {
            store.record_line(&line(
                "StepErrors",
                "Count",
                json!([["ErrorType"]]),
                json!(1),
                json!({"ErrorType": format!("E{i}")}),
            ));
        }
        assert_eq!(store.summaries().len(), MAX_SERIES);
        assert_eq!(store.dropped_data(), 5);
    }
}
