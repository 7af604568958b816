//! The route table: one case per event in `events/api/`, each run through
//! the handler on a fresh [`World`], with what must come back.
//!
//! Every response is also checked for what holds everywhere: JSON or
//! problem JSON, the problem `type` and `status` agree, every 4xx but 429
//! names its fields, the request id is echoed, the only 5xx is a 503, and
//! exactly the 429 and the 503 carry `Retry-After`.

use std::future::Future;

use order_api::handle_request;
use order_api::routes::{self, Operation, Resolution};
use saga_domain::ports::{
    OrderStatus, OrderStore, ShipmentRef, Stall, StallOutcome, StoppedStatus,
};

use super::{Answer, Dependency, World, load_event};

/// Something true before the case's request.
#[derive(Debug, Clone, Copy)]
pub enum Given {
    /// This event was handled first and answered 2xx.
    Sent(&'static str),
    /// The order this POST event placed was rejected by the saga with `reason`.
    Rejected(&'static str, &'static str),
    /// The order this POST event placed went all the way to COMPLETED.
    Completed(&'static str),
    /// The order this POST event placed was RESERVED, then its execution
    /// failed and the watcher recorded the stall.
    StalledAfterReserve(&'static str),
    /// This dependency is down for the case's request.
    Down(Dependency),
    /// This customer (a `sub`) has as many orders in flight as the API
    /// allows, placed with other keys and still PENDING.
    AtTheCap(&'static str),
}

/// What the answer must show beyond status and problem type.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// `status` of the order in the body.
    OrderStatus(&'static str),
    /// `reason` of the order in the body.
    Reason(&'static str),
    /// The body has no `reason`.
    NoReason,
    /// The order has a shipment and this many timeline entries.
    ShippedWithTimeline(usize),
    /// The body says whether the order is stalled (`stalled` with `since`
    /// and a message, and nothing of the execution's error).
    ShowsStall(bool),
    /// The body is the order the given POST event's answer named.
    SameOrderAs(&'static str),
    /// `Location: /orders/<orderId>`.
    Location,
    /// The list has this many orders.
    Orders(usize),
    /// The list has this many products.
    Products(usize),
    /// A `nextCursor` is present.
    NextCursor,
    /// No `nextCursor`.
    LastPage,
    /// The `Allow` header.
    Allow(&'static str),
    /// StartExecution was received this many times in the whole case.
    StartCalls(usize),
    /// The body total in minor units.
    TotalMinor(i64),
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub event: &'static str,
    pub given: &'static [Given],
    pub status: u16,
    /// The problem `type` slug, for error answers.
    pub problem: Option<&'static str>,
    /// Fields the problem's `errors` must name (at least these).
    pub fields: &'static [&'static str],
    pub expect: &'static [Expect],
}

const fn ok(
    event: &'static str,
    given: &'static [Given],
    status: u16,
    expect: &'static [Expect],
) -> Case {
    Case {
        event,
        given,
        status,
        problem: None,
        fields: &[],
        expect,
    }
}

const fn problem(
    event: &'static str,
    given: &'static [Given],
    status: u16,
    slug: &'static str,
    fields: &'static [&'static str],
) -> Case {
    Case {
        event,
        given,
        status,
        problem: Some(slug),
        fields,
        expect: &[],
    }
}

const ACCEPTED: &str = "post-orders--accepted.json";
use Expect::*;
use Given::*;

/// Every case.
pub const CASES: &[Case] = &[
    // POST /orders
    ok(
        ACCEPTED,
        &[],
        202,
        &[
            OrderStatus("PENDING"),
            Location,
            StartCalls(1),
            TotalMinor(3900),
            NoReason,
        ],
    ),
    ok(
        "post-orders--replay-same-body.json",
        &[Sent(ACCEPTED)],
        202,
        &[SameOrderAs(ACCEPTED), StartCalls(1), TotalMinor(3900)],
    ),
    problem(
        "post-orders--key-reused-with-other-body.json",
        &[Sent(ACCEPTED)],
        422,
        "idempotency-key-reused",
        &["headers.Idempotency-Key"],
    ),
    problem(
        "post-orders--missing-idempotency-key.json",
        &[],
        400,
        "idempotency-key-missing",
        &["headers.Idempotency-Key"],
    ),
    problem(
        "post-orders--invalid-idempotency-key.json",
        &[],
        400,
        "invalid-request",
        &["headers.Idempotency-Key"],
    ),
    problem(
        "post-orders--unauthenticated.json",
        &[],
        401,
        "unauthenticated",
        &["headers.Authorization"],
    ),
    problem(
        "post-orders--invalid-fields.json",
        &[],
        400,
        "invalid-request",
        &[
            "items[0].quantity",
            "items[1].sku",
            "items[2].quantity",
            "paymentMethod",
            "shippingAddress.country",
        ],
    ),
    problem(
        "post-orders--unknown-fields.json",
        &[],
        400,
        "invalid-request",
        &["discountCode", "items[0].unitPrice"],
    ),
    problem(
        "post-orders--missing-fields.json",
        &[],
        400,
        "invalid-request",
        &["items", "paymentMethod", "shippingAddress"],
    ),
    problem(
        "post-orders--not-an-object.json",
        &[],
        400,
        "invalid-request",
        &["body"],
    ),
    problem(
        "post-orders--malformed-json.json",
        &[],
        400,
        "malformed-body",
        &["body"],
    ),
    problem(
        "post-orders--empty-body.json",
        &[],
        400,
        "malformed-body",
        &["body"],
    ),
    problem(
        "post-orders--invalid-base64.json",
        &[],
        400,
        "malformed-body",
        &["body"],
    ),
    problem(
        "post-orders--invalid-utf8.json",
        &[],
        400,
        "malformed-body",
        &["body"],
    ),
    ok(
        "post-orders--accepted-base64-body.json",
        &[],
        202,
        &[OrderStatus("PENDING"), TotalMinor(1800), StartCalls(1)],
    ),
    problem(
        "post-orders--body-too-large.json",
        &[],
        413,
        "payload-too-large",
        &["body"],
    ),
    problem(
        "post-orders--wrong-content-type.json",
        &[],
        415,
        "unsupported-media-type",
        &["headers.Content-Type"],
    ),
    problem(
        "post-orders--unknown-sku.json",
        &[],
        422,
        "unknown-sku",
        &["items[1].sku"],
    ),
    problem(
        "post-orders--mixed-currencies.json",
        &[],
        422,
        "order-not-priceable",
        &["items[1].sku"],
    ),
    problem(
        "post-orders--orders-table-unavailable.json",
        &[Down(Dependency::Orders)],
        503,
        "service-unavailable",
        &[],
    ),
    problem(
        "post-orders--catalog-unavailable.json",
        &[Down(Dependency::Catalog)],
        503,
        "service-unavailable",
        &[],
    ),
    problem(
        "post-orders--step-functions-unavailable.json",
        &[Down(Dependency::StepFunctions)],
        503,
        "service-unavailable",
        &[],
    ),
    ok(
        "post-orders--second-order.json",
        &[Sent(ACCEPTED)],
        202,
        &[OrderStatus("PENDING"), StartCalls(2), TotalMinor(900)],
    ),
    ok(
        "post-orders--to-be-rejected.json",
        &[],
        202,
        &[OrderStatus("PENDING")],
    ),
    ok(
        "post-orders--to-be-completed.json",
        &[],
        202,
        &[OrderStatus("PENDING"), TotalMinor(1500)],
    ),
    ok(
        "post-orders--to-be-stalled.json",
        &[],
        202,
        &[OrderStatus("PENDING"), TotalMinor(1500)],
    ),
    ok(
        "post-orders--bob-accepted.json",
        &[Sent(ACCEPTED)],
        202,
        &[OrderStatus("PENDING"), StartCalls(2)],
    ),
    problem(
        "post-orders--too-many-in-flight.json",
        &[AtTheCap("user-alice")],
        429,
        "too-many-orders-in-flight",
        &[],
    ),
    // GET /orders/{id}
    problem(
        "get-order--unknown-parameter.json",
        &[Sent(ACCEPTED)],
        400,
        "invalid-request",
        &["query.expand"],
    ),
    ok(
        "get-order--pending.json",
        &[Sent(ACCEPTED)],
        200,
        &[SameOrderAs(ACCEPTED), OrderStatus("PENDING"), NoReason],
    ),
    ok(
        "get-order--rejected-with-reason.json",
        &[Rejected(
            "post-orders--to-be-rejected.json",
            "InsufficientStock",
        )],
        200,
        &[OrderStatus("REJECTED"), Reason("InsufficientStock")],
    ),
    ok(
        "get-order--completed-with-shipment.json",
        &[Completed("post-orders--to-be-completed.json")],
        200,
        &[
            OrderStatus("COMPLETED"),
            ShippedWithTimeline(6),
            NoReason,
            ShowsStall(false),
        ],
    ),
    ok(
        "get-order--stalled-after-a-failed-execution.json",
        &[StalledAfterReserve("post-orders--to-be-stalled.json")],
        200,
        &[OrderStatus("RESERVED"), ShowsStall(true), NoReason],
    ),
    problem(
        "get-order--not-owner.json",
        &[Sent(ACCEPTED)],
        404,
        "order-not-found",
        &["path.id"],
    ),
    problem(
        "get-order--unknown-id.json",
        &[Sent(ACCEPTED)],
        404,
        "order-not-found",
        &["path.id"],
    ),
    problem(
        "get-order--malformed-id.json",
        &[],
        404,
        "order-not-found",
        &["path.id"],
    ),
    problem(
        "get-order--unauthenticated.json",
        &[Sent(ACCEPTED)],
        401,
        "unauthenticated",
        &["headers.Authorization"],
    ),
    problem(
        "get-order--orders-table-unavailable.json",
        &[Sent(ACCEPTED), Down(Dependency::Orders)],
        503,
        "service-unavailable",
        &[],
    ),
    // GET /orders
    ok(
        "list-orders--newest-first.json",
        &[
            Sent(ACCEPTED),
            Sent("post-orders--second-order.json"),
            Sent("post-orders--bob-accepted.json"),
        ],
        200,
        &[Orders(2), LastPage],
    ),
    ok(
        "list-orders--first-page.json",
        &[Sent(ACCEPTED), Sent("post-orders--second-order.json")],
        200,
        &[Orders(1), NextCursor],
    ),
    ok(
        "list-orders--empty-for-new-customer.json",
        &[Sent(ACCEPTED)],
        200,
        &[Orders(0), LastPage],
    ),
    problem(
        "list-orders--tampered-cursor.json",
        &[],
        400,
        "invalid-cursor",
        &["query.cursor"],
    ),
    problem(
        "list-orders--invalid-limit.json",
        &[],
        400,
        "invalid-request",
        &["query.limit"],
    ),
    problem(
        "list-orders--unknown-parameter.json",
        &[],
        400,
        "invalid-request",
        &["query.customerId"],
    ),
    problem(
        "list-orders--unauthenticated.json",
        &[],
        401,
        "unauthenticated",
        &["headers.Authorization"],
    ),
    problem(
        "list-orders--orders-table-unavailable.json",
        &[Down(Dependency::Orders)],
        503,
        "service-unavailable",
        &[],
    ),
    // GET /products
    ok(
        "list-products--catalog.json",
        &[],
        200,
        &[Products(5), LastPage],
    ),
    ok(
        "list-products--first-page.json",
        &[],
        200,
        &[Products(2), NextCursor],
    ),
    problem(
        "list-products--tampered-cursor.json",
        &[],
        400,
        "invalid-cursor",
        &["query.cursor"],
    ),
    problem(
        "list-products--invalid-limit.json",
        &[],
        400,
        "invalid-request",
        &["query.limit"],
    ),
    problem(
        "list-products--unauthenticated.json",
        &[],
        401,
        "unauthenticated",
        &["headers.Authorization"],
    ),
    problem(
        "list-products--catalog-unavailable.json",
        &[Down(Dependency::Catalog)],
        503,
        "service-unavailable",
        &[],
    ),
    // Routing
    problem(
        "unknown-route--not-found.json",
        &[],
        404,
        "route-not-found",
        &["path"],
    ),
    problem(
        "unknown-route--trailing-slash.json",
        &[],
        404,
        "route-not-found",
        &["path"],
    ),
    Case {
        expect: &[Allow("POST, GET")],
        ..problem(
            "wrong-method--delete-orders.json",
            &[],
            405,
            "method-not-allowed",
            &["method"],
        )
    },
    Case {
        expect: &[Allow("GET")],
        ..problem(
            "wrong-method--put-order.json",
            &[],
            405,
            "method-not-allowed",
            &["method"],
        )
    },
];

/// A response the table produced, for the OpenAPI checks.
#[derive(Debug, Clone)]
pub struct Produced {
    pub event: &'static str,
    /// The operation the request resolved to, `None` for 404/405 routing.
    pub operation: Option<Operation>,
    pub answer: Answer,
}

/// Sends `event` through the handler of `world`.
pub async fn send<W: World>(world: &W, event: &str) -> Answer {
    Answer::of(&handle_request(world.api(), load_event(event)).await)
}

async fn apply<W: World>(world: &W, given: Given) {
    let place = |event: &'static str| async move {
        let answer = send(world, event).await;
        assert!(
            answer.status == 202,
            "given {event} must be accepted, got {} {}",
            answer.status,
            answer.body
        );
        answer.order_id()
    };
    match given {
        Given::Sent(event) => {
            let answer = send(world, event).await;
            assert!(
                (200..300).contains(&answer.status),
                "given {event} must succeed, got {} {}",
                answer.status,
                answer.body
            );
        }
        Given::Rejected(event, reason) => {
            let order_id = place(event).await;
            world
                .record_progress(
                    &order_id,
                    "RejectOrder",
                    OrderStatus::Rejected,
                    "2026-01-01T10:00:01.250Z",
                    Some(reason),
                    None,
                )
                .await;
        }
        Given::Completed(event) => {
            let order_id = place(event).await;
            let steps = [
                ("ReserveInventory", OrderStatus::Reserved),
                ("ChargePayment", OrderStatus::Paid),
                ("ConfirmReservation", OrderStatus::Confirmed),
                ("ShipOrder", OrderStatus::Shipping),
            ];
            for (second, (step, status)) in steps.into_iter().enumerate() {
                let at = format!("2026-01-01T10:00:0{}.000Z", second + 1);
                world
                    .record_progress(&order_id, step, status, &at, None, None)
                    .await;
            }
            let shipment = ShipmentRef {
                shipment_id: "shp_01".to_owned(),
                tracking_number: "TRK-0001".to_owned(),
            };
            world
                .record_progress(
                    &order_id,
                    "ShipOrder",
                    OrderStatus::Completed,
                    "2026-01-01T10:05:00.000Z",
                    None,
                    Some(shipment),
                )
                .await;
        }
        Given::StalledAfterReserve(event) => {
            let order_id = place(event).await;
            world
                .record_progress(
                    &order_id,
                    "ReserveInventory",
                    OrderStatus::Reserved,
                    "2026-01-01T10:00:01.000Z",
                    None,
                    None,
                )
                .await;
            let stall = Stall {
                execution_arn: format!(
                    "arn:aws:states:us-east-1:123456789012:execution:order-saga:{order_id}"
                ),
                status: StoppedStatus::Failed,
                error: Some("States.TaskFailed".to_owned()),
                cause: Some("ChargePayment: secret provider detail".to_owned()),
                stopped_at: chrono::DateTime::from_timestamp_millis(1_767_261_700_000)
                    .unwrap_or_default(),
                redrive_count: 0,
            };
            let recorded = world.api().orders.record_stall(&order_id, &stall).await;
            assert_eq!(
                recorded.ok(),
                Some(StallOutcome::Recorded),
                "given {event} stalled"
            );
        }
        Given::Down(dependency) => world.set_down(Some(dependency)),
        Given::AtTheCap(sub) => {
            for index in 0..world.api().max_orders_in_flight {
                let event = super::post_event(sub, &format!("{sub}-in-flight-{index}"));
                let answer = Answer::of(&handle_request(world.api(), event).await);
                assert!(
                    answer.status == 202,
                    "given {sub} at the cap, order {index} must be accepted, got {} {}",
                    answer.status,
                    answer.body
                );
            }
        }
    }
}

/// What must hold for every answer.
pub fn check_universal(event: &str, answer: &Answer) {
    let status = answer.status;
    assert!(
        status < 500 || status == 503,
        "{event}: {status} is a 5xx other than 503: {}",
        answer.body
    );
    let request = load_event(event);
    if status >= 400 {
        assert_eq!(answer.content_type, "application/problem+json", "{event}");
        let slug = answer
            .problem_slug()
            .unwrap_or_else(|| panic!("{event}: no problem type in {}", answer.body));
        let kind = order_api::problem::ProblemType::ALL
            .into_iter()
            .find(|kind| kind.slug() == slug)
            .unwrap_or_else(|| panic!("{event}: unknown problem type {slug}"));
        assert_eq!(kind.status(), status, "{event}: status of {slug}");
        assert_eq!(answer.body["status"], status, "{event}: body status");
        assert_eq!(
            answer.body["requestId"].as_str(),
            request.request_context.request_id.as_deref(),
            "{event}: request id echoed"
        );
        // A 429 or a 503 is about the moment, not the request: it names no
        // field and says when to retry.
        let retry_after = match status {
            429 => Some("30"),
            503 => Some("2"),
            _ => None,
        };
        assert_eq!(
            answer.header("retry-after").as_deref(),
            retry_after,
            "{event}: Retry-After"
        );
        if retry_after.is_none() {
            assert!(
                !answer.error_fields().is_empty(),
                "{event}: a 4xx must name its fields: {}",
                answer.body
            );
        }
    } else {
        assert_eq!(answer.content_type, "application/json", "{event}");
    }
}

/// Runs one case on the world `fresh` builds; returns the answer.
pub async fn run_case<W, F, Fut>(case: &Case, fresh: &F) -> Produced
where
    W: World,
    F: Fn() -> Fut,
    Fut: Future<Output = W>,
{
    let world = fresh().await;
    for given in case.given {
        apply(&world, *given).await;
    }
    let answer = send(&world, case.event).await;
    world.set_down(None);
    let event = case.event;
    check_universal(event, &answer);
    assert_eq!(
        answer.status, case.status,
        "{event}: status; body {}",
        answer.body
    );
    assert_eq!(answer.problem_slug(), case.problem, "{event}: problem type");
    let fields = answer.error_fields();
    for field in case.fields {
        assert!(
            fields.iter().any(|f| f == field),
            "{event}: errors must name {field}; named {fields:?}"
        );
    }
    for expect in case.expect {
        check_expect(&world, event, &answer, *expect).await;
    }
    let request = load_event(event);
    let path = request.raw_path.clone().unwrap_or_default();
    let operation = match routes::resolve(request.request_context.http.method.as_str(), &path) {
        Resolution::Matched { operation, .. } => Some(operation),
        _ => None,
    };
    Produced {
        event,
        operation,
        answer,
    }
}

async fn check_expect<W: World>(world: &W, event: &str, answer: &Answer, expect: Expect) {
    let body = &answer.body;
    match expect {
        Expect::OrderStatus(status) => assert_eq!(body["status"], status, "{event}: {body}"),
        Expect::Reason(reason) => assert_eq!(body["reason"], reason, "{event}: {body}"),
        Expect::NoReason => assert!(body.get("reason").is_none(), "{event}: {body}"),
        Expect::ShippedWithTimeline(entries) => {
            assert_eq!(
                body["shipment"]["trackingNumber"], "TRK-0001",
                "{event}: {body}"
            );
            let timeline = body["timeline"].as_array().unwrap();
            assert_eq!(timeline.len(), entries, "{event}: {body}");
            assert_eq!(timeline[0]["step"], "PlaceOrder", "{event}");
        }
        Expect::ShowsStall(stalled) => {
            let shown = &body["stalled"];
            if stalled {
                assert_eq!(
                    shown["since"], "2026-01-01T10:01:40.000Z",
                    "{event}: {body}"
                );
                assert!(
                    shown["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{event}: {body}"
                );
                assert!(
                    !body.to_string().contains("secret provider detail"),
                    "{event}: the cause stays with the operators: {body}"
                );
            } else {
                assert!(shown.is_null(), "{event}: {body}");
            }
        }
        Expect::SameOrderAs(post) => {
            let original = load_event(post);
            let first = Answer::of(&handle_request(world.api(), original).await);
            assert_eq!(first.status, 202, "{event}: replay of {post}");
            assert_eq!(
                body["orderId"], first.body["orderId"],
                "{event}: same order as {post}"
            );
            assert_eq!(body["total"], first.body["total"], "{event}");
            assert_eq!(body["items"], first.body["items"], "{event}");
        }
        Expect::Location => {
            let id = body["orderId"].as_str().unwrap();
            assert_eq!(
                answer.header("location"),
                Some(format!("/orders/{id}")),
                "{event}"
            );
        }
        Expect::Orders(count) => {
            assert_eq!(
                body["orders"].as_array().map(Vec::len),
                Some(count),
                "{event}: {body}"
            )
        }
        Expect::Products(count) => {
            assert_eq!(
                body["products"].as_array().map(Vec::len),
                Some(count),
                "{event}: {body}"
            )
        }
        Expect::NextCursor => assert!(body["nextCursor"].is_string(), "{event}: {body}"),
        Expect::LastPage => assert!(body.get("nextCursor").is_none(), "{event}: {body}"),
        Expect::Allow(methods) => {
            assert_eq!(answer.header("allow").as_deref(), Some(methods), "{event}")
        }
        Expect::StartCalls(count) => {
            assert_eq!(
                world.start_calls().len(),
                count,
                "{event}: StartExecution calls"
            );
            assert_eq!(world.executions_started(), count, "{event}: executions");
        }
        Expect::TotalMinor(amount) => {
            assert_eq!(body["total"]["amountMinor"], amount, "{event}: {body}")
        }
    }
}

/// Runs every case, each on a fresh world; returns what they produced.
pub async fn run_all<W, F, Fut>(fresh: F) -> Vec<Produced>
where
    W: World,
    F: Fn() -> Fut,
    Fut: Future<Output = W>,
{
    let mut produced = Vec::new();
    for case in CASES {
        produced.push(run_case(case, &fresh).await);
    }
    produced
}
