//! The adapter against a scripted server answering with the response shapes
//! of Stripe's API reference: the parts localstripe does not reproduce
//! (card errors' `decline_code`, 429 and 5xx answers, `idempotency_error`,
//! search results, timeouts) are checked here, the rest also against
//! localstripe in the `payments` tier.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode as HttpStatus, Uri};
use axum::response::IntoResponse;
use saga_domain::PaymentMethod;
use serde_json::json;

use super::*;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<(u16, Value, u64)>>,
    seen: Mutex<Vec<Seen>>,
}

async fn answer(
    State(script): State<Arc<Script>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    script.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let next = script.answers.lock().unwrap().pop_front();
    let (status, body, delay_ms) =
        next.unwrap_or((500, json!({"error": {"type": "api_error"}}), 0));
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    (HttpStatus::from_u16(status).unwrap(), axum::Json(body))
}

/// A server answering `answers` in order; the adapter pointed at it.
async fn scripted(answers: Vec<(u16, Value, u64)>) -> (StripeProvider, Arc<Script>) {
    let script = Arc::new(Script::default());
    script.answers.lock().unwrap().extend(answers);
    let app = Router::new().fallback(answer).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let provider = StripeProvider::new(
        StripeSettings {
            api_base: format!("http://{address}"),
            timeout: Duration::from_millis(500),
        },
        KeySource::Given(SecretKey::new("sk_test_scripted")),
    )
    .unwrap();
    (provider, script)
}

fn charge_request() -> ChargeRequest {
    let order_id = "ord-1".parse::<OrderId>().unwrap();
    ChargeRequest {
        idempotency_key: order_id.as_str().to_owned(),
        order_id,
        amount: Money::new(4200, "EUR".parse().unwrap()).unwrap(),
        payment_method: "pm_card_visa".parse::<PaymentMethod>().unwrap(),
    }
}

fn intent(id: &str, status: &str, error: Option<Value>) -> Value {
    json!({
        "id": id, "object": "payment_intent", "status": status, "amount": 4200,
        "currency": "eur", "created": 1_767_225_600, "latest_charge": "ch_1",
        "metadata": {"orderId": "ord-1"}, "last_payment_error": error,
    })
}

#[tokio::test]
async fn a_charge_is_one_confirmed_payment_intent_keyed_by_the_order() {
    let (provider, script) = scripted(vec![(200, intent("pi_1", "succeeded", None), 0)]).await;
    let outcome = provider.charge(&charge_request()).await.unwrap();
    assert_eq!(
        outcome,
        ChargeOutcome::Captured {
            provider_reference: "pi_1".to_owned()
        }
    );
    let seen = script.seen.lock().unwrap();
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/payment_intents")
    );
    assert_eq!(request.headers["idempotency-key"], "ord-1");
    assert_eq!(request.headers["authorization"], "Bearer sk_test_scripted");
    assert_eq!(request.headers["stripe-version"], STRIPE_API_VERSION);
    for field in [
        "amount=4200",
        "currency=eur",
        "payment_method=pm_card_visa",
        "confirm=true",
        "metadata%5BorderId%5D=ord-1",
    ] {
        assert!(
            request.body.split('&').any(|pair| pair == field),
            "{field} in {}",
            request.body
        );
    }
}

#[tokio::test]
async fn card_errors_are_declines_with_the_decline_code() {
    let card_error = json!({"error": {
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_intent": intent("pi_2", "requires_payment_method", None),
    }});
    let failed_intent = intent(
        "pi_3",
        "requires_payment_method",
        Some(
            json!({"type": "card_error", "code": "card_declined", "decline_code": "generic_decline"}),
        ),
    );
    let (provider, _) = scripted(vec![(402, card_error, 0), (200, failed_intent, 0)]).await;
    for expected in ["insufficient_funds", "generic_decline"] {
        assert_eq!(
            provider.charge(&charge_request()).await.unwrap(),
            ChargeOutcome::Declined {
                code: expected.to_owned()
            }
        );
    }
}

#[tokio::test]
async fn outages_are_unavailable_and_bad_requests_are_rejected() {
    let error =
        |kind: &str, code: &str| json!({"error": {"type": kind, "code": code, "message": "m"}});
    let (provider, _) = scripted(vec![
        (429, error("invalid_request_error", "rate_limit"), 0),
        (500, error("api_error", ""), 0),
        (503, json!({}), 0),
        (400, error("idempotency_error", ""), 0),
        (409, error("invalid_request_error", "lock_timeout"), 0),
        (200, intent("pi_4", "succeeded", None), 1_500),
        (400, error("invalid_request_error", "parameter_unknown"), 0),
        (401, error("invalid_request_error", ""), 0),
    ])
    .await;
    for case in ["429", "500", "503", "idempotency_error", "409", "timeout"] {
        let error = provider.charge(&charge_request()).await.unwrap_err();
        assert!(
            matches!(error, PortError::Unavailable { .. }),
            "{case}: {error:?}"
        );
    }
    for case in ["400", "401"] {
        let error = provider.charge(&charge_request()).await.unwrap_err();
        assert!(
            matches!(error, PortError::Rejected { .. }),
            "{case}: {error:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_payment_method_is_a_decline() {
    let missing = json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
        "param": "payment_method", "message": "No such PaymentMethod: 'pm_nope'"}});
    let (provider, _) = scripted(vec![(400, missing, 0)]).await;
    assert_eq!(
        provider.charge(&charge_request()).await.unwrap(),
        ChargeOutcome::Declined {
            code: "unknown_payment_method".to_owned()
        }
    );
}

#[tokio::test]
async fn charges_are_found_by_their_order_metadata_with_their_refunds() {
    let search = json!({"object": "search_result", "has_more": false, "next_page": null,
    "url": "/v1/payment_intents/search", "data": [
        intent("pi_b", "succeeded", None),
        intent("pi_a", "requires_payment_method",
            Some(json!({"code": "card_declined", "decline_code": "do_not_honor"}))),
        intent("pi_c", "requires_confirmation", None),
    ]});
    let refunds = json!({"object": "list", "has_more": false, "url": "/v1/refunds",
        "data": [{"id": "re_1", "object": "refund", "status": "succeeded", "payment_intent": "pi_b"}]});
    let (provider, script) = scripted(vec![(200, search, 0), (200, refunds, 0)]).await;
    let order_id = "ord-1".parse::<OrderId>().unwrap();
    let charges = provider.find_charges(&order_id).await.unwrap();
    assert_eq!(charges.len(), 2, "{charges:?}");
    let captured = charges
        .iter()
        .find(|c| c.provider_reference == "pi_b")
        .unwrap();
    assert_eq!(captured.state, ProviderChargeState::Captured);
    assert_eq!(captured.refund_reference.as_deref(), Some("re_1"));
    let declined = charges
        .iter()
        .find(|c| c.provider_reference == "pi_a")
        .unwrap();
    assert_eq!(
        declined.state,
        ProviderChargeState::Declined {
            code: "do_not_honor".to_owned()
        }
    );
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/v1/payment_intents/search");
    assert!(
        seen[0]
            .query
            .contains("query=metadata%5B%27orderId%27%5D%3A%27ord-1%27"),
        "{}",
        seen[0].query
    );
    assert_eq!(
        (
            seen[1].path.as_str(),
            seen[1].query.contains("payment_intent=pi_b")
        ),
        ("/v1/refunds", true)
    );
}

#[tokio::test]
async fn a_refund_is_keyed_and_targets_the_payment_intent() {
    let refund = json!({"id": "re_9", "object": "refund", "status": "succeeded"});
    let already = json!({"error": {"type": "invalid_request_error", "code": "charge_already_refunded",
        "message": "Charge ch_1 has already been refunded."}});
    let (provider, script) = scripted(vec![(200, refund, 0), (400, already, 0)]).await;
    let request = RefundRequest {
        idempotency_key: "refund-ord-1".to_owned(),
        provider_reference: "pi_1".to_owned(),
        amount: Money::new(4200, "EUR".parse().unwrap()).unwrap(),
    };
    assert_eq!(
        provider.refund(&request).await.unwrap().refund_reference,
        "re_9"
    );
    let error = provider.refund(&request).await.unwrap_err();
    assert!(
        matches!(error, PortError::Rejected { ref detail, .. } if detail.contains("charge_already_refunded"))
    );
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].headers["idempotency-key"], "refund-ord-1");
    assert_eq!(seen[0].body, "payment_intent=pi_1");
}

struct CountingFetcher(AtomicU32);

impl KeyFetcher for CountingFetcher {
    fn fetch(&self) -> KeyFuture<'_> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(SecretKey::new("sk_test_fetched")) })
    }
}

#[tokio::test]
async fn the_key_is_fetched_once_and_never_shown() {
    let fetcher = Arc::new(CountingFetcher(AtomicU32::new(0)));
    let (scripted_provider, script) = scripted(vec![
        (200, intent("pi_1", "succeeded", None), 0),
        (200, intent("pi_1", "succeeded", None), 0),
    ])
    .await;
    let provider = StripeProvider::new(
        StripeSettings {
            api_base: scripted_provider.api_base.clone(),
            timeout: Duration::from_secs(2),
        },
        KeySource::Fetched(fetcher.clone()),
    )
    .unwrap();
    provider.charge(&charge_request()).await.unwrap();
    provider.charge(&charge_request()).await.unwrap();
    assert_eq!(fetcher.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        script.seen.lock().unwrap()[1].headers["authorization"],
        "Bearer sk_test_fetched"
    );
    let shown = format!("{:?} {:?}", SecretKey::new("sk_live_secret"), provider);
    assert!(
        !shown.contains("sk_live_secret") && !shown.contains("sk_test_fetched"),
        "{shown}"
    );
}

/// The compensation right after a lost capture: the search does not show
/// the PaymentIntent yet, the list does, and the capture is reported (to
/// be refunded), not cancelled away.
#[tokio::test]
async fn a_capture_the_search_does_not_show_yet_is_found_in_the_recent_list() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let recent = |id: &str, order: &str, status: &str| {
        let mut intent = intent(id, status, None);
        intent["created"] = json!(now);
        intent["metadata"] = json!({"orderId": order});
        intent
    };
    let empty_search = json!({"object": "search_result", "data": [], "has_more": false});
    let list = json!({"object": "list", "has_more": false, "url": "/v1/payment_intents", "data": [
        recent("pi_other", "ord-2", "succeeded"),
        recent("pi_lagging", "ord-1", "succeeded"),
    ]});
    let (provider, script) = scripted(vec![(200, empty_search, 0), (200, list, 0)]).await;
    let order_id: OrderId = "ord-1".parse().unwrap();
    let outcome = provider
        .cancel(&CancelRequest {
            order_id: order_id.clone(),
            idempotency_key: "ord-1".to_owned(),
            amount: Money::new(4200, "EUR".parse().unwrap()).unwrap(),
            payment_method: "pm_card_visa".parse::<PaymentMethod>().unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CancelOutcome::Captured {
            provider_reference: "pi_lagging".to_owned()
        }
    );
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "no cancel sent");
    assert_eq!(seen[1].path, "/v1/payment_intents");
}
