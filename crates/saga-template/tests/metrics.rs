//! `template.yaml`'s dashboard and alarms watch the metrics the functions
//! emit: every metric of the saga's namespace they name is one of
//! `saga_lambda::metrics::ALL`, under one of its dimension sets; the
//! dashboard shows every one of them; every function writes to the
//! namespace they read; and the dashboard's alarm widget lists alarms that
//! exist.

use std::collections::BTreeSet;

use saga_lambda::metrics::ALL;
use saga_template::{Template, project_template_path};
use serde_json::Value;

/// The namespace as the template writes it (`!Sub`).
const NAMESPACE: &str = "OrderSaga/${AWS::StackName}";

/// One metric a dashboard widget or an alarm reads.
#[derive(Debug)]
struct Watched {
    /// Where: `dashboard: <widget title>` or `alarm <logical id>`.
    place: String,
    namespace: String,
    name: String,
    /// The dimension names it is read with.
    dimensions: BTreeSet<String>,
}

/// The dashboard's body with `${...}` replaced, the saga namespace by
/// [`NAMESPACE`] itself, so it parses as JSON.
fn dashboard_body(template: &Template) -> Value {
    let dashboards: Vec<_> = template
        .resources_of("AWS::CloudWatch::Dashboard")
        .collect();
    let [(_, dashboard)] = dashboards.as_slice() else {
        panic!("the template has one dashboard, not {}", dashboards.len());
    };
    let text = dashboard.properties["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is a !Sub of the JSON text");
    let mut resolved = String::new();
    let mut rest = text.replace(NAMESPACE, "\u{1}");
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        resolved.push_str(&rest[..start]);
        resolved.push_str(&format!("<{}>", &rest[start + 2..end]));
        rest = rest[end + 1..].to_owned();
    }
    resolved.push_str(&rest);
    let resolved = resolved.replace('\u{1}', NAMESPACE);
    serde_json::from_str(&resolved).unwrap_or_else(|e| panic!("the dashboard body: {e}"))
}

/// Every metric the dashboard's metric widgets read: metric rows
/// (`[namespace, name, dimension, value, ..., {options}]`) and `SEARCH`
/// expressions (`{namespace,Dimension,...} MetricName="Name"`).
fn dashboard_metrics(body: &Value) -> Vec<Watched> {
    let mut watched = Vec::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        if widget["type"] != "metric" {
            continue;
        }
        let title = widget["properties"]["title"].as_str().unwrap_or_default();
        let place = format!("dashboard: {title}");
        for row in widget["properties"]["metrics"].as_array().expect("metrics") {
            let row = row.as_array().expect("a metric row is an array");
            if let Some(expression) = row[0].get("expression").and_then(Value::as_str) {
                watched.extend(search_metric(&place, expression));
                continue;
            }
            let strings: Vec<&str> = row.iter().map_while(Value::as_str).collect();
            assert!(
                strings.len() >= 2 && strings.len() % 2 == 0,
                "{place}: {row:?}"
            );
            watched.push(Watched {
                place: place.clone(),
                namespace: strings[0].to_owned(),
                name: strings[1].to_owned(),
                dimensions: strings[2..].chunks(2).map(|d| d[0].to_owned()).collect(),
            });
        }
    }
    watched
}

/// The metric a `SEARCH('{namespace,Dim,...} MetricName="Name"', ...)`
/// expression reads; `None` for any other expression.
fn search_metric(place: &str, expression: &str) -> Option<Watched> {
    let schema_start = expression.strip_prefix("SEARCH('{")?;
    // The schema ends at the `}` before the search terms (the namespace's
    // own `${AWS::StackName}` has one too).
    let (schema, rest) = schema_start.split_once("} ")?;
    let mut parts = schema.split(',').map(str::trim);
    let namespace = parts.next()?.trim_matches('"').to_owned();
    let dimensions = parts
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    let name = rest
        .split_once("MetricName=\"")?
        .1
        .split_once('"')?
        .0
        .to_owned();
    Some(Watched {
        place: place.to_owned(),
        namespace,
        name,
        dimensions,
    })
}

/// A namespace as written in the template: a string or a `!Sub` of one.
fn namespace_text(value: &Value) -> String {
    value
        .as_str()
        .or_else(|| value["Fn::Sub"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn dimension_names(dimensions: &Value) -> BTreeSet<String> {
    dimensions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|dimension| dimension["Name"].as_str().map(str::to_owned))
        .collect()
}

/// Every metric an alarm reads: its `MetricName`, or each `MetricStat` of
/// its `Metrics`.
fn alarm_metrics(template: &Template) -> Vec<Watched> {
    let mut watched = Vec::new();
    for (id, alarm) in template.resources_of("AWS::CloudWatch::Alarm") {
        let properties = &alarm.properties;
        let place = format!("alarm {id}");
        if let Some(name) = properties["MetricName"].as_str() {
            watched.push(Watched {
                place: place.clone(),
                namespace: namespace_text(&properties["Namespace"]),
                name: name.to_owned(),
                dimensions: dimension_names(&properties["Dimensions"]),
            });
        }
        for query in properties["Metrics"].as_array().into_iter().flatten() {
            let metric = &query["MetricStat"]["Metric"];
            if let Some(name) = metric["MetricName"].as_str() {
                watched.push(Watched {
                    place: place.clone(),
                    namespace: namespace_text(&metric["Namespace"]),
                    name: name.to_owned(),
                    dimensions: dimension_names(&metric["Dimensions"]),
                });
            }
        }
    }
    watched
}

/// What is wrong with `watched` against the metrics the code emits.
fn problems(watched: &[Watched]) -> Vec<String> {
    let mut problems = Vec::new();
    for item in watched {
        if item.namespace != NAMESPACE && item.namespace.starts_with("OrderSaga") {
            problems.push(format!(
                "{}: {} is read from {}, not the saga's namespace {NAMESPACE}",
                item.place, item.name, item.namespace
            ));
        }
    }
    for item in watched.iter().filter(|item| item.namespace == NAMESPACE) {
        let Some(metric) = ALL.iter().find(|metric| metric.name == item.name) else {
            problems.push(format!(
                "{}: {} is not a metric the code emits",
                item.place, item.name
            ));
            continue;
        };
        let published = metric.dimension_sets.iter().any(|set| {
            set.len() == item.dimensions.len() && set.iter().all(|d| item.dimensions.contains(*d))
        });
        if !published {
            problems.push(format!(
                "{}: {} is not published with dimensions {:?} (its sets: {:?})",
                item.place, item.name, item.dimensions, metric.dimension_sets
            ));
        }
    }
    problems
}

#[test]
fn the_dashboard_and_the_alarms_read_only_metrics_the_code_emits() {
    let template = Template::load(&project_template_path()).unwrap();
    let mut watched = dashboard_metrics(&dashboard_body(&template));
    watched.extend(alarm_metrics(&template));
    let problems = problems(&watched);
    assert!(problems.is_empty(), "{problems:#?}");
    // The SEARCH expressions are read too (by reason, by kind of error).
    let searched = watched
        .iter()
        .any(|item| item.name == "OrdersRejected" && item.dimensions.contains("Reason"));
    assert!(
        searched,
        "the rejections by reason are not found: {watched:#?}"
    );
    // The alarms of the saga's namespace are found (the walk above is not empty).
    let alarms: BTreeSet<&str> = watched
        .iter()
        .filter(|item| item.place.starts_with("alarm") && item.namespace == NAMESPACE)
        .map(|item| item.name.as_str())
        .collect();
    for name in [
        "StalledOrders",
        "FailedOrders",
        "PaymentBreakerOpened",
        "PaymentProviderErrors",
        "NeverStartedOrders",
    ] {
        assert!(alarms.contains(name), "no alarm watches {name}: {alarms:?}");
    }
}

#[test]
fn the_dashboard_shows_every_metric_the_code_emits() {
    let template = Template::load(&project_template_path()).unwrap();
    let shown: BTreeSet<String> = dashboard_metrics(&dashboard_body(&template))
        .into_iter()
        .filter(|item| item.namespace == NAMESPACE)
        .map(|item| item.name)
        .collect();
    let missing: Vec<&str> = ALL
        .iter()
        .map(|metric| metric.name)
        .filter(|name| !shown.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard does not show {missing:?}"
    );
}

#[test]
fn every_function_writes_to_the_namespace_the_dashboard_reads() {
    let template = Template::load(&project_template_path()).unwrap();
    let global = &template.function_globals["Environment"]["Variables"]["METRICS_NAMESPACE"];
    assert_eq!(namespace_text(global), NAMESPACE);
    for (id, function) in template.resources_of("AWS::Serverless::Function") {
        let own = &function.properties["Environment"]["Variables"]["METRICS_NAMESPACE"];
        assert!(own.is_null(), "{id} sets its own METRICS_NAMESPACE: {own}");
    }
}

#[test]
fn the_alarm_widget_lists_alarms_of_the_template() {
    let template = Template::load(&project_template_path()).unwrap();
    let alarms: BTreeSet<&str> = template
        .resources_of("AWS::CloudWatch::Alarm")
        .map(|(id, _)| id)
        .collect();
    let body = dashboard_body(&template);
    let listed: Vec<&str> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|widget| widget["type"] == "alarm")
        .flat_map(|widget| widget["properties"]["alarms"].as_array().unwrap())
        .map(|arn| arn.as_str().unwrap())
        .collect();
    assert!(!listed.is_empty(), "the dashboard has an alarm widget");
    for arn in listed {
        let id = arn
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix(".Arn>"))
            .unwrap_or_else(|| panic!("{arn} is not ${{<Alarm>.Arn}}"));
        assert!(
            alarms.contains(id),
            "the alarm widget lists {id}, which is not an alarm"
        );
    }
}

#[test]
fn a_wrong_name_or_dimension_set_is_reported() {
    let cases = [
        ("OrdersPlacedd", &[][..], "not a metric the code emits"),
        ("StepLatency", &[][..], "not published with dimensions"),
        (
            "StepErrors",
            &["ErrorType"][..],
            "not published with dimensions",
        ),
    ];
    let elsewhere = Watched {
        place: "test".to_owned(),
        namespace: "OrderSaga".to_owned(),
        name: "OrdersPlaced".to_owned(),
        dimensions: BTreeSet::new(),
    };
    assert!(problems(&[elsewhere])[0].contains("not the saga's namespace"));
    for (name, dimensions, expected) in cases {
        let watched = Watched {
            place: "test".to_owned(),
            namespace: NAMESPACE.to_owned(),
            name: name.to_owned(),
            dimensions: dimensions.iter().map(|d| (*d).to_owned()).collect(),
        };
        let found = problems(&[watched]);
        assert!(
            found.len() == 1 && found[0].contains(expected),
            "{name} {dimensions:?}: {found:?}"
        );
    }
    let search = search_metric(
        "test",
        "SEARCH('{OrderSaga/${AWS::StackName},Reason} MetricName=\"OrdersRejected\"', 'Sum', 300)",
    )
    .unwrap();
    assert_eq!(
        (search.namespace.as_str(), search.name.as_str()),
        (NAMESPACE, "OrdersRejected")
    );
    assert_eq!(search.dimensions, BTreeSet::from(["Reason".to_owned()]));
}
