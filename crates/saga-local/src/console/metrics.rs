//! The metrics page, `/console/metrics`: what the functions reported in
//! Embedded Metric Format since the local cloud started, one row per metric
//! and dimension set (the total first), with the samples, their sum and,
//! for latencies, p50 and p99 of the recent values
//! ([`crate::metrics_store`] says how they are kept).
//!
//! Rendering only; the rows' `data-metric` and `data-dimensions` attributes
//! are what the browser test (`tests/browser/metrics.mjs`) reads.

use maud::{Markup, html};

use super::layout::page;
use crate::metrics_store::SeriesSummary;

/// The `/console/metrics` page.
pub fn metrics_page(series: &[SeriesSummary], refused_lines: u64, dropped_data: u64) -> Markup {
    page(
        "Metrics",
        html! {
            p class="note" {
                "The EMF lines the functions wrote since this cloud started, as CloudWatch would file them: "
                "each value under every dimension set its line names, (all) being the set without dimensions. "
                "Percentiles are nearest-rank over each series' last "
                (crate::metrics_store::RECENT_VALUES) " values. JSON: "
                a href="/local/metrics" { "/local/metrics" } "."
            }
            @if refused_lines > 0 || dropped_data > 0 {
                p class="err" {
                    (refused_lines) " lines were not EMF; " (dropped_data) " values were dropped (too many series)."
                }
            }
            @if series.is_empty() {
                p class="note" { "No metric yet: place an order." }
            } @else {
                table {
                    thead {
                        tr {
                            th { "Metric" } th { "Dimensions" } th { "Unit" } th { "Samples" }
                            th { "Sum" } th { "p50" } th { "p99" }
                        }
                    }
                    tbody {
                        @for row in series {
                            (series_row(row))
                        }
                    }
                }
            }
        },
    )
}

/// `Name=value, ...`, or `(all)` for the metric without dimensions.
fn dimensions_text(row: &SeriesSummary) -> String {
    if row.dimensions.is_empty() {
        return "(all)".to_owned();
    }
    let pairs: Vec<String> = row
        .dimensions
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.join(", ")
}

/// A number as the page shows it: whole numbers without decimals,
/// milliseconds to a hundredth.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn series_row(row: &SeriesSummary) -> Markup {
    let dimensions = dimensions_text(row);
    // Percentiles mean something for a latency, not for a count of 1s.
    let latency = row.unit == "Milliseconds";
    let percentile = |value: Option<f64>| match value {
        Some(value) if latency => number(value),
        _ => "-".to_owned(),
    };
    html! {
        tr class="metric" data-metric=(row.metric) data-dimensions=(dimensions) {
            td { strong { (row.metric) } }
            td { (dimensions) }
            td { (row.unit) }
            td class="samples" { (row.samples) }
            td class="sum" { (number(row.sum)) }
            td class="p50" { (percentile(row.p50)) }
            td class="p99" { (percentile(row.p99)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(metric: &str, unit: &str, dimensions: &[(&str, &str)]) -> SeriesSummary {
        SeriesSummary {
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            samples: 4,
            sum: 10.5,
            p50: Some(2.0),
            p99: Some(4.25),
            last_timestamp: 0,
        }
    }

    #[test]
    fn latencies_show_percentiles_and_counts_do_not() {
        let html = metrics_page(
            &[
                summary("StepLatency", "Milliseconds", &[("Step", "charge")]),
                summary("OrdersPlaced", "Count", &[]),
            ],
            0,
            0,
        )
        .into_string();
        assert!(
            html.contains(r#"data-metric="StepLatency" data-dimensions="Step=charge""#),
            "{html}"
        );
        assert!(html.contains(r#"<td class="p99">4.25</td>"#), "{html}");
        assert!(html.contains(r#"data-dimensions="(all)""#), "{html}");
        assert!(html.contains(r#"<td class="p50">-</td>"#), "{html}");
        assert!(!html.contains("were not EMF"), "{html}");
    }

    #[test]
    fn values_from_the_lines_are_escaped() {
        let hostile = "<script>alert(1)</script>";
        let html =
            metrics_page(&[summary(hostile, hostile, &[(hostile, hostile)])], 1, 0).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("were not EMF"), "{html}");
    }
}
