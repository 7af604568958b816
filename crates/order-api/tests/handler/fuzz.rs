//! Generated requests (proptest): random methods, paths, headers, query
//! strings, bodies of every size and encoding (base64, invalid base64,
//! invalid UTF-8, near-valid orders) through the handler against the fakes.
//! None may panic and none may answer 5xx: the fakes never fail, so every
//! answer must be a success or a 4xx problem.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::http::{HeaderValue, Method};
use base64::Engine as _;
use order_api::handle_request;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::{FakeWorld, load_event};

const REQUESTS: u32 = 10_000;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        6 => Just(Method::POST),
        4 => Just(Method::GET),
        1 => prop::sample::select(vec![Method::PUT, Method::DELETE, Method::PATCH, Method::HEAD, Method::OPTIONS]),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("/orders".to_owned()),
        2 => Just("/products".to_owned()),
        2 => "[a-zA-Z0-9_%#-]{0,90}".prop_map(|id| format!("/orders/{id}")),
        1 => Just("/orders/ord_ae44706cf42db1922f3678a7a197d328".to_owned()),
        1 => "\\PC{0,40}",
        1 => "(/[a-z]{0,8}){0,4}/?",
    ]
}

fn near_valid_body() -> impl Strategy<Value = Value> {
    let sku = prop_oneof![
        Just(json!("SKU-TEE-M")),
        Just(json!("SKU-MUG")),
        Just(json!("SKU-CAP-USD")),
        Just(json!("SKU-NOPE")),
        "\\PC{0,70}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ];
    let quantity = prop_oneof![
        (1u64..=3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!("2")),
        Just(Value::Null),
    ];
    let line = (sku, quantity, any::<bool>()).prop_map(|(sku, quantity, extra)| {
        let mut line = json!({"sku": sku, "quantity": quantity});
        if extra {
            line["unitPrice"] = json!({"amountMinor": 1, "currency": "EUR"});
        }
        line
    });
    let text = "\\PC{0,30}";
    (
        prop::collection::vec(line, 0..30),
        prop_oneof![Just(json!("pm_card_visa")), text.prop_map(Value::from)],
        prop::option::of((text, text, "[A-Za-z]{0,3}", any::<bool>())),
        any::<bool>(),
    )
        .prop_map(|(items, payment, address, extra)| {
            let mut body = json!({"items": items, "paymentMethod": payment});
            if let Some((name, city, country, line2)) = address {
                body["shippingAddress"] = json!({"name": name, "line1": "Main St 1", "city": city, "postalCode": "10115", "country": country});
                if line2 {
                    body["shippingAddress"]["line2"] = json!(7);
                }
            }
            if extra {
                body["customerId"] = json!("user-bob");
            }
            body
        })
}

/// A valid order, so accepted orders, replays and reused keys happen too.
fn valid_body() -> impl Strategy<Value = Value> {
    (
        prop::sample::subsequence(vec!["SKU-TEE-M", "SKU-MUG", "SKU-POSTER", "SKU-SOCKS"], 1..4),
        1u32..4,
        prop::sample::select(vec!["pm_card_visa", "pm_card_declined"]),
    )
        .prop_map(|(skus, quantity, payment)| {
            let items: Vec<Value> = skus.iter().map(|sku| json!({"sku": sku, "quantity": quantity})).collect();
            json!({
                "items": items,
                "paymentMethod": payment,
                "shippingAddress": {"name": "Ada", "line1": "Main St 1", "city": "Berlin", "postalCode": "10115", "country": "DE"}
            })
        })
}

/// (body text, isBase64Encoded).
fn body() -> impl Strategy<Value = Option<(String, bool)>> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    prop_oneof![
        2 => Just(None),
        4 => valid_body().prop_map(|body| Some((body.to_string(), false))),
        4 => near_valid_body().prop_map(|body| Some((body.to_string(), false))),
        2 => near_valid_body().prop_map(move |body| Some((b64(body.to_string().as_bytes()), true))),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(move |bytes| Some((b64(&bytes), true))),
        1 => "\\PC{0,200}".prop_map(|text| Some((text, true))),
        1 => "\\PC{0,200}".prop_map(|text| Some((text, false))),
        1 => (15_000usize..40_000).prop_map(|size| Some((format!("{{\"items\":\"{}\"}}", "x".repeat(size)), false))),
        1 => (10_000usize..30_000).prop_map(move |size| Some((b64("[".repeat(size).as_bytes()), true))),
    ]
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        "[ -~]{0,300}".prop_filter_map("header text", |text| HeaderValue::from_str(&text).ok()),
        prop::collection::vec(prop_oneof![32u8..127, 128u8..=255], 0..40)
            .prop_filter_map("header bytes", |bytes| HeaderValue::from_bytes(&bytes).ok()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(&'static str, HeaderValue)>> {
    let name = prop::sample::select(vec![
        "content-type",
        "idempotency-key",
        "authorization",
        "x-customer-id",
        "content-length",
    ]);
    let content_type = prop_oneof![
        3 => Just(HeaderValue::from_static("application/json")),
        1 => Just(HeaderValue::from_static("application/json; charset=utf-8")),
        1 => header_value(),
    ];
    (
        prop::option::weighted(0.8, content_type),
        prop::option::weighted(0.8, prop_oneof![
            3 => (0u8..20).prop_map(|n| HeaderValue::from_str(&format!("fuzz-key-{n}")).unwrap()),
            1 => header_value(),
        ]),
        prop::collection::vec((name, header_value()), 0..3),
    )
        .prop_map(|(content_type, key, others)| {
            let mut headers = others;
            if let Some(value) = content_type {
                headers.push(("content-type", value));
            }
            if let Some(value) = key {
                headers.push(("idempotency-key", value));
            }
            headers
        })
}

fn query() -> impl Strategy<Value = HashMap<String, String>> {
    let some = prop::collection::hash_map(
        prop_oneof![
            Just("limit".to_owned()),
            Just("cursor".to_owned()),
            "\\PC{0,10}"
        ],
        prop_oneof!["-?[0-9]{0,12}", "[A-Za-z0-9_-]{0,700}", "\\PC{0,50}",],
        1..3,
    );
    prop_oneof![3 => Just(HashMap::new()), 2 => some]
}

fn sub() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(Some("user-alice".to_owned())),
        1 => Just(None),
        1 => "\\PC{0,140}".prop_map(Some),
    ]
}

#[test]
fn ten_thousand_generated_requests_never_panic_or_answer_5xx() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let world = runtime.block_on(FakeWorld::new());
    let template = load_event("post-orders--accepted.json");
    let sent = AtomicUsize::new(0);
    let statuses: std::sync::Mutex<HashMap<i64, usize>> = Default::default();
    let config = ProptestConfig {
        cases: REQUESTS,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(method in method(), path in path(), headers in headers(), query in query(), body in body(), sub in sub())| {
        let mut event = template.clone();
        event.request_context.http.method = method;
        event.raw_path = Some(path.clone());
        event.request_context.http.path = Some(path);
        event.headers.clear();
        for (name, value) in headers {
            event.headers.append(name, value);
        }
        event.query_string_parameters = query.into();
        (event.body, event.is_base64_encoded) = match body {
            Some((text, encoded)) => (Some(text), encoded),
            None => (None, false),
        };
        event = crate::support::as_caller(event, sub.as_deref());
        let response = runtime.block_on(handle_request(&world.api, event));
        sent.fetch_add(1, Ordering::Relaxed);
        *statuses.lock().unwrap().entry(response.status_code).or_default() += 1;
        prop_assert!((200..500).contains(&response.status_code), "answered {}: {:?}", response.status_code, response.body);
    });
    let sent = sent.into_inner();
    let mut by_status: Vec<_> = statuses.into_inner().unwrap().into_iter().collect();
    by_status.sort();
    println!("fuzz: {sent} generated requests, 0 panics, 0 5xx; by status: {by_status:?}");
    assert!(sent >= REQUESTS as usize, "sent {sent}");
}
