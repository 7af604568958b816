//! One trace per order: the spans `GET /local/traces/{orderId}` answers form
//! one tree, from the api's invocation through the execution, each step's
//! Lambda invocation and its AWS calls, to the shipping message and its
//! SendTaskSuccess; a redriven order's trace holds both attempts.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::{LocalCloud, new_key, order_body};

/// One span of the answer, with the service it ran in.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent: Option<String>,
    name: String,
    service: String,
    kind: i64,
    failed: bool,
}

/// The spans of an OTLP/JSON export request.
fn spans(request: &Value) -> Vec<Span> {
    let mut all = Vec::new();
    for resource in request["resourceSpans"].as_array().expect("resourceSpans") {
        let service = resource["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "service.name")
            .and_then(|a| a["value"]["stringValue"].as_str())
            .expect("every resource names its service")
            .to_owned();
        for scope in resource["scopeSpans"].as_array().unwrap() {
            for span in scope["spans"].as_array().unwrap() {
                all.push(Span {
                    trace_id: span["traceId"].as_str().unwrap().to_owned(),
                    span_id: span["spanId"].as_str().unwrap().to_owned(),
                    parent: span["parentSpanId"].as_str().map(str::to_owned),
                    name: span["name"].as_str().unwrap().to_owned(),
                    service: service.clone(),
                    kind: span["kind"].as_i64().unwrap(),
                    failed: span["status"]["code"] == 2,
                });
            }
        }
    }
    all
}

/// The trace as a tree: spans by id, and the one root.
struct Tree {
    by_id: HashMap<String, Span>,
    root: Span,
}

impl Tree {
    /// Checks the tree: one trace id, unique span ids, every parent in the
    /// trace but the root's.
    fn of(spans: Vec<Span>) -> Self {
        let trace_ids: std::collections::HashSet<&str> =
            spans.iter().map(|s| s.trace_id.as_str()).collect();
        assert_eq!(trace_ids.len(), 1, "one trace id: {trace_ids:?}");
        let by_id: HashMap<String, Span> = spans
            .iter()
            .map(|s| (s.span_id.clone(), s.clone()))
            .collect();
        assert_eq!(by_id.len(), spans.len(), "span ids are unique");
        let roots: Vec<&Span> = spans
            .iter()
            .filter(|s| s.parent.as_ref().is_none_or(|p| !by_id.contains_key(p)))
            .collect();
        assert_eq!(
            roots.len(),
            1,
            "one root, every other span's parent in the trace: {roots:#?}"
        );
        let root = roots[0].clone();
        Self { by_id, root }
    }

    /// The names of `span`'s ancestors, nearest first.
    fn ancestors(&self, span: &Span) -> Vec<String> {
        let mut names = Vec::new();
        let mut current = span.parent.as_ref().and_then(|p| self.by_id.get(p));
        while let Some(parent) = current {
            names.push(parent.name.clone());
            current = parent.parent.as_ref().and_then(|p| self.by_id.get(p));
        }
        names
    }

    fn named(&self, name: &str) -> Vec<&Span> {
        let mut found: Vec<&Span> = self.by_id.values().filter(|s| s.name == name).collect();
        found.sort_by(|a, b| a.span_id.cmp(&b.span_id));
        found
    }

    fn children(&self, span: &Span) -> Vec<&Span> {
        self.by_id
            .values()
            .filter(|s| s.parent.as_deref() == Some(span.span_id.as_str()))
            .collect()
    }

    /// The execution's attempts (Step Functions' spans of kind server),
    /// first attempt first.
    fn attempts(&self) -> Vec<&Span> {
        let mut attempts: Vec<&Span> = self
            .by_id
            .values()
            .filter(|s| s.service == "states" && s.kind == 2)
            .collect();
        attempts.sort_by_key(|s| s.name.len());
        attempts
    }

    /// The function's own span under a Lambda invocation span.
    fn function_span(&self, invoke: &Span) -> &Span {
        let children = self.children(invoke);
        let function: Vec<&&Span> = children
            .iter()
            .filter(|s| s.kind == 2 && s.service != "lambda")
            .collect();
        assert_eq!(
            function.len(),
            1,
            "{} runs the function once: {children:#?}",
            invoke.name
        );
        function[0]
    }

    /// The AWS and provider calls made under `span`, at any depth.
    fn calls_under(&self, span: &Span) -> Vec<String> {
        let mut calls: Vec<String> = self
            .by_id
            .values()
            .filter(|s| s.kind == 3)
            .filter(|s| {
                let mut current = s.parent.as_ref().and_then(|p| self.by_id.get(p));
                while let Some(parent) = current {
                    if parent.span_id == span.span_id {
                        return true;
                    }
                    current = parent.parent.as_ref().and_then(|p| self.by_id.get(p));
                }
                false
            })
            .map(|s| s.name.clone())
            .collect();
        calls.sort();
        calls
    }
}

async fn trace_of(cloud: &LocalCloud, order_id: &str) -> Tree {
    let request = cloud.get_json(&format!("/local/traces/{order_id}")).await;
    Tree::of(spans(&request))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_one_trace_from_the_api_through_every_step_and_the_queue() {
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-trace").await;
    cloud.set_stock("SKU-TRACE", 3).await;
    let (status, placed) = cloud
        .place_order(
            &token,
            &new_key(),
            &order_body("SKU-TRACE", 1, "pm_card_visa"),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    let execution = cloud.wait_for_execution(&order_id, 120).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");

    let tree = trace_of(&cloud, &order_id).await;
    // API Gateway → the Lambda service's invocation of api is the root.
    assert_eq!(tree.root.name, "Invoke api");
    let api = tree.function_span(&tree.root);
    let api_calls = tree.calls_under(api);
    assert!(
        api_calls.contains(&"SFN.StartExecution".to_owned()),
        "{api_calls:?}"
    );
    assert!(
        api_calls
            .iter()
            .any(|c| c == "DynamoDB.PutItem" || c == "DynamoDB.TransactWriteItems"),
        "the order is written: {api_calls:?}"
    );

    // The execution continues the api's trace.
    let attempts = tree.attempts();
    assert_eq!(attempts.len(), 1, "one attempt: {attempts:#?}");
    let attempt = attempts[0];
    assert!(
        tree.ancestors(attempt).contains(&api.name),
        "the execution hangs from the api"
    );
    for state in [
        "ReserveInventory",
        "ChargePayment",
        "ConfirmReservation",
        "ShipOrder",
        "MarkCompleted",
    ] {
        let spans = tree.named(state);
        assert_eq!(spans.len(), 1, "{state} entered once");
        assert_eq!(spans[0].parent.as_deref(), Some(attempt.span_id.as_str()));
    }

    // Each step: the Lambda service's invocation under the attempt, the
    // function's span under it, its AWS (and provider) calls under that.
    for (step, call) in [
        ("reserve", "DynamoDB.TransactWriteItems"),
        ("charge", "SimulatedProvider.charge"),
        ("confirm", "DynamoDB."),
    ] {
        let invokes = tree.named(&format!("Invoke {step}"));
        assert_eq!(invokes.len(), 1, "{step} invoked once");
        let invoke = invokes[0];
        assert_eq!(
            invoke.parent.as_deref(),
            Some(attempt.span_id.as_str()),
            "{step}"
        );
        assert!(!invoke.failed, "{step}");
        let function = tree.function_span(invoke);
        let calls = tree.calls_under(function);
        assert!(
            calls.iter().any(|c| c.starts_with(call)),
            "{step} calls {call}: {calls:?}"
        );
    }

    // ship: through the queue, the message's span continues the attempt;
    // the shipment is written and the task reported under it.
    let messages = tree.named("ship message");
    assert_eq!(messages.len(), 1, "one shipping message");
    let message = messages[0];
    assert_eq!(message.kind, 5, "a consumer span");
    assert_eq!(message.parent.as_deref(), Some(attempt.span_id.as_str()));
    let calls = tree.calls_under(message);
    assert!(
        calls.contains(&"SFN.SendTaskSuccess".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.starts_with("DynamoDB.")),
        "{calls:?}"
    );

    // The console draws the same trace.
    let page = cloud
        .http
        .get(cloud.at(&format!("/console/trace/{order_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&tree.root.trace_id),
        "the page names the trace id"
    );
    assert!(html.contains("ship message"));

    // A function binary's export (OTLP/HTTP JSON, as the collector
    // extension takes it) joins the same trace.
    let exported = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "exporter"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": tree.root.trace_id, "spanId": "00f067aa0ba902b7",
            "parentSpanId": tree.root.span_id, "name": "exported", "kind": 1,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000000001",
        }]}],
    }]});
    let (status, body) = cloud
        .send_json(reqwest::Method::POST, "/v1/traces", &exported)
        .await;
    assert_eq!(status, 200, "{body}");
    let again = trace_of(&cloud, &order_id).await;
    assert_eq!(again.named("exported").len(), 1);
    let protobuf = cloud
        .http
        .post(cloud.at("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(vec![0x0a, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(
        protobuf.status(),
        415,
        "OTLP/protobuf is refused, saying so"
    );

    // An order nobody placed has no trace.
    let missing = cloud
        .http
        .get(cloud.at("/local/traces/no-such-order"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redriven_orders_trace_holds_the_failed_attempt_and_the_redrive() {
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-trace-redrive").await;
    cloud.set_stock("SKU-TRACE-R", 3).await;
    cloud
        .set_fault(json!({"function": "confirm", "mode": "permanent"}))
        .await;
    let (order_id, _) = cloud
        .place_until_failed(&token, &order_body("SKU-TRACE-R", 1, "pm_card_visa"))
        .await;
    cloud.clear_faults().await;
    let redriven = cloud.redrive_and_wait(&order_id).await;
    assert_eq!(redriven["status"], "SUCCEEDED", "{redriven}");

    let tree = trace_of(&cloud, &order_id).await;
    let attempts = tree.attempts();
    assert_eq!(attempts.len(), 2, "two attempts: {attempts:#?}");
    let (first, redrive) = (attempts[0], attempts[1]);
    assert!(first.failed, "the first attempt failed");
    assert!(!redrive.failed, "the redrive succeeded");
    assert!(redrive.name.ends_with("(redrive 1)"), "{}", redrive.name);
    assert_eq!(
        first.parent, redrive.parent,
        "both hang from the api's span"
    );

    // confirm failed under the first attempt (retried: every try is an
    // invocation) and succeeded once under the redrive.
    let confirms = tree.named("Invoke confirm");
    let under = |attempt: &Span| -> Vec<&Span> {
        confirms
            .iter()
            .copied()
            .filter(|s| s.parent.as_deref() == Some(attempt.span_id.as_str()))
            .collect()
    };
    let failed = under(first);
    assert!(
        !failed.is_empty() && failed.iter().all(|s| s.failed),
        "{failed:#?}"
    );
    let succeeded = under(redrive);
    assert_eq!(succeeded.len(), 1, "{succeeded:#?}");
    assert!(!succeeded[0].failed);
    // The redrive does not run reserve or charge again: only the first
    // attempt has them.
    for step in ["Invoke reserve", "Invoke charge"] {
        let invokes = tree.named(step);
        assert_eq!(invokes.len(), 1, "{step}");
        assert_eq!(invokes[0].parent.as_deref(), Some(first.span_id.as_str()));
    }
    assert_eq!(tree.named("ship message").len(), 1);
}
