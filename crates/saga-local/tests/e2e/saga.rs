//! The saga through the HTTP API, as a customer and an operator see it:
//! every outcome of DESIGN.md's saga diagram, duplicates, and contention.

use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::support::{LocalCloud, new_key, order_body};

/// Places one order and waits for its saga to end; the final order view.
async fn place_and_finish(cloud: &LocalCloud, token: &str, order: &Value) -> Value {
    let (status, placed) = cloud.place_order(token, &new_key(), order).await;
    assert_eq!(status, 202, "POST /orders: {placed}");
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    let execution = cloud.wait_for_execution(&order_id, 120).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    cloud.order(token, &order_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_end_completed_or_rejected_with_stock_and_money_consistent() {
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-outcomes").await;
    cloud.set_stock("SKU-E2E", 5).await;
    struct Case {
        name: &'static str,
        quantity: u64,
        payment: &'static str,
        status: &'static str,
        reason: Option<&'static str>,
        payment_status: Option<&'static str>,
        stock_after: (u64, u64),
    }
    let cases = [
        Case {
            name: "happy path",
            quantity: 2,
            payment: "pm_card_visa",
            status: "COMPLETED",
            reason: None,
            payment_status: Some("CAPTURED"),
            stock_after: (3, 2),
        },
        Case {
            name: "out of stock",
            quantity: 4,
            payment: "pm_card_visa",
            status: "REJECTED",
            reason: Some("InsufficientStock"),
            payment_status: None,
            stock_after: (3, 2),
        },
        Case {
            name: "declined card",
            quantity: 1,
            payment: "pm_card_chargeDeclined",
            status: "REJECTED",
            reason: Some("PaymentDeclined"),
            payment_status: Some("DECLINED"),
            stock_after: (3, 2),
        },
    ];
    for case in cases {
        let order = place_and_finish(
            &cloud,
            &token,
            &order_body("SKU-E2E", case.quantity, case.payment),
        )
        .await;
        let order_id = order["orderId"].as_str().unwrap();
        assert_eq!(order["status"], case.status, "{}: {order}", case.name);
        assert_eq!(
            order["reason"].as_str(),
            case.reason,
            "{}: {order}",
            case.name
        );
        let records = cloud.records(order_id).await;
        assert_eq!(
            records["payment"]["status"].as_str(),
            case.payment_status,
            "{}: {records}",
            case.name
        );
        assert_eq!(
            cloud.stock("SKU-E2E").await,
            case.stock_after,
            "{}: stock (available, reserved)",
            case.name
        );
        if case.status == "COMPLETED" {
            assert_eq!(
                records["shipment"]["orderId"], order_id,
                "{}: one shipment",
                case.name
            );
            assert_eq!(records["reservation"]["status"], "CONFIRMED");
        } else {
            assert!(records["shipment"].is_null(), "{}: no shipment", case.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reservation_is_refunded_released_and_rejected() {
    // Reservations last 1 s and the reaper runs every 0.5 s; the charge runs
    // 3 s late, so the reaper expires the reservation while it is paid.
    let cloud = LocalCloud::start(&[
        "--reservation-ttl-seconds",
        "1",
        "--reaper-every-seconds",
        "0.5",
    ])
    .await;
    let token = cloud.token("user-expiry").await;
    cloud.set_stock("SKU-EXP", 10).await;
    cloud
        .set_fault(json!({"function": "charge", "mode": "delay", "delayMs": 3000, "count": 1}))
        .await;
    let order = place_and_finish(&cloud, &token, &order_body("SKU-EXP", 3, "pm_card_visa")).await;
    assert_eq!(order["status"], "REJECTED", "{order}");
    assert_eq!(order["reason"], "ReservationExpired", "{order}");
    let records = cloud.records(order["orderId"].as_str().unwrap()).await;
    assert_eq!(records["payment"]["status"], "REFUNDED", "{records}");
    assert_eq!(records["reservation"]["status"], "EXPIRED", "{records}");
    assert_eq!(cloud.stock("SKU-EXP").await, (10, 0), "the stock is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_runs_past_its_timeout_is_retried_and_the_order_completes() {
    // confirm runs 10.5 s once, past its 10 s Timeout: Lambda cuts it off
    // (Sandbox.Timedout), Step Functions reports Lambda.Unknown, and the
    // state machine retries it like any transient error.
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-timeout").await;
    cloud.set_stock("SKU-SLOW", 5).await;
    cloud
        .set_fault(json!({"function": "confirm", "mode": "delay", "delayMs": 10500, "count": 1}))
        .await;
    let order = place_and_finish(&cloud, &token, &order_body("SKU-SLOW", 1, "pm_card_visa")).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_stays_down_rejects_the_order_and_gives_everything_back() {
    // Before the capture the saga turns: the charge's retries are spent, the
    // refund reconciles the PENDING payment with the provider (nothing was
    // captured, so it is cancelled), the stock is released and the order is
    // rejected with a reason the customer can read.
    let cloud = LocalCloud::start(&["--time-scale", "100"]).await;
    let token = cloud.token("user-provider-down").await;
    cloud.set_stock("SKU-DOWN", 5).await;
    let order = place_and_finish(
        &cloud,
        &token,
        &order_body("SKU-DOWN", 2, "pm_card_transientFailure"),
    )
    .await;
    assert_eq!(order["status"], "REJECTED", "{order}");
    assert_eq!(order["reason"], "PaymentProviderUnavailable", "{order}");
    let records = cloud.records(order["orderId"].as_str().unwrap()).await;
    assert_eq!(records["payment"]["status"], "DECLINED", "{records}");
    assert_eq!(records["reservation"]["status"], "RELEASED", "{records}");
    assert_eq!(cloud.stock("SKU-DOWN").await, (5, 0), "the stock is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_after_the_effect_and_lambda_service_errors_complete_the_order_once() {
    // charge captures and then its runtime dies; reserve meets a Lambda
    // service error; ship records the shipment and reports success, then
    // crashes, so the queue delivers the message again with a spent token.
    let cloud = LocalCloud::start(&["--time-scale", "100"]).await;
    let token = cloud.token("user-crash").await;
    cloud.set_stock("SKU-CRASH", 5).await;
    for (function, mode) in [
        ("reserve", "service"),
        ("charge", "crash"),
        ("ship", "crash"),
    ] {
        cloud
            .set_fault(json!({"function": function, "mode": mode, "count": 1}))
            .await;
    }
    let order = place_and_finish(&cloud, &token, &order_body("SKU-CRASH", 2, "pm_card_visa")).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    let records = cloud.records(order["orderId"].as_str().unwrap()).await;
    assert_eq!(records["payment"]["status"], "CAPTURED", "{records}");
    assert_eq!(records["reservation"]["status"], "CONFIRMED", "{records}");
    assert!(records["shipment"].is_object(), "{records}");
    assert_eq!(
        cloud.stock("SKU-CRASH").await,
        (3, 2),
        "two units sold once"
    );
    // The message comes back (the crash lost the answer) and is consumed
    // as a duplicate with a spent token, not dead-lettered.
    let mut depth = cloud.queue_depth("ShippingQueue").await;
    for _ in 0..60 {
        if depth == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        depth = cloud.queue_depth("ShippingQueue").await;
    }
    assert_eq!(depth, (0, 0), "the redelivered message is consumed");
    assert_eq!(cloud.queue_depth("ShippingDeadLetterQueue").await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_shipment_dead_letters_fails_at_ship_order_and_redrives_to_one_shipment() {
    // 100x time: ShipOrder's 600 s heartbeat is 6 s, the queue's 60 s visibility 1 s.
    let cloud = LocalCloud::start(&["--time-scale", "100"]).await;
    let token = cloud.token("user-dlq").await;
    cloud
        .set_fault(json!({"function": "ship", "mode": "transient"}))
        .await;
    let (order_id, failed) = cloud
        .place_until_failed(&token, &order_body("SKU-MUG", 1, "pm_card_visa"))
        .await;
    assert_eq!(failed["error"], "States.HeartbeatTimeout", "{failed}");
    let history = cloud
        .get_json(&format!("/local/executions/{order_id}/steps"))
        .await;
    assert_eq!(history["failedState"], "ShipOrder", "{history}");
    let (dead, _) = cloud.queue_depth("ShippingDeadLetterQueue").await;
    assert!(dead >= 1, "the poisoned messages are in the DLQ ({dead})");
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(
        order["status"], "SHIPPING",
        "paid and confirmed, waiting for the operator: {order}"
    );

    cloud.clear_faults().await;
    let redriven = cloud.redrive_and_wait(&order_id).await;
    assert_eq!(redriven["status"], "SUCCEEDED", "{redriven}");
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    let records = cloud.records(&order_id).await;
    assert_eq!(
        records["shipment"]["orderId"],
        order_id.as_str(),
        "{records}"
    );
    assert_eq!(
        order["shipment"]["shipmentId"], records["shipment"]["shipmentId"],
        "one shipment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_post_is_the_same_order_and_one_saga() {
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-dup").await;
    cloud.set_stock("SKU-DUP", 10).await;
    let key = new_key();
    let body = order_body("SKU-DUP", 2, "pm_card_visa");
    let (first_status, first) = cloud.place_order(&token, &key, &body).await;
    let (second_status, second) = cloud.place_order(&token, &key, &body).await;
    assert_eq!(first_status, 202, "{first}");
    assert!(
        matches!(second_status, 200 | 202),
        "{second_status}: {second}"
    );
    assert_eq!(first["orderId"], second["orderId"]);
    let (other_status, other) = cloud
        .place_order(&token, &key, &order_body("SKU-DUP", 3, "pm_card_visa"))
        .await;
    assert_eq!(other_status, 422, "same key, other body: {other}");
    let order_id = first["orderId"].as_str().unwrap();
    let execution = cloud.wait_for_execution(order_id, 120).await;
    assert_eq!(execution["status"], "SUCCEEDED");
    let (third_status, third) = cloud.place_order(&token, &key, &body).await;
    assert!(
        matches!(third_status, 200 | 202),
        "after completion: {third_status}: {third}"
    );
    assert_eq!(third["orderId"], first["orderId"]);
    assert_eq!(cloud.stock("SKU-DUP").await, (8, 2), "reserved once");
    let executions = cloud.get_json("/local/executions").await;
    assert_eq!(
        executions["executions"].as_array().unwrap().len(),
        1,
        "one saga: {executions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_orders_for_a_hundred_units_complete_exactly_a_hundred() {
    let cloud = LocalCloud::start(&["--time-scale", "10"]).await;
    // 300 customers with one order each: they contend for the stock, and
    // none comes near the cap on orders in flight per customer.
    let mut tokens = Vec::with_capacity(300);
    for customer in 0..300 {
        tokens.push(cloud.token(&format!("user-rush-{customer}")).await);
    }
    cloud.set_stock("SKU-RUSH", 100).await;
    let started = std::time::Instant::now();
    let placed: Vec<(&String, u16, Value)> = futures::stream::iter(&tokens)
        .map(|token| {
            let cloud = &cloud;
            async move {
                let (status, body) = cloud
                    .place_order(
                        token,
                        &new_key(),
                        &order_body("SKU-RUSH", 1, "pm_card_visa"),
                    )
                    .await;
                (token, status, body)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for (token, status, body) in &placed {
        assert_eq!(*status, 202, "{body}");
        let order_id = body["orderId"].as_str().unwrap();
        let execution = cloud.wait_for_execution(order_id, 300).await;
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
        let order = cloud.order(token, order_id).await;
        *outcomes
            .entry(order["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    eprintln!(
        "300 orders settled in {:.1}s: {outcomes:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(outcomes.get("COMPLETED"), Some(&100), "{outcomes:?}");
    assert_eq!(outcomes.get("REJECTED"), Some(&200), "{outcomes:?}");
    assert_eq!(
        cloud.stock("SKU-RUSH").await,
        (0, 100),
        "stock conserved: 100 = available + reserved"
    );
    assert!(started.elapsed() < Duration::from_secs(600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_written_but_never_started_is_started_by_the_sweeper() {
    // Step Functions is down for the api's one POST: the order is written
    // PENDING, the answer is 503, and the client never retries. The
    // sweeper (grace 2 s, every schedule every 0.5 s) starts it.
    let cloud = LocalCloud::start(&[
        "--parameter",
        "UnstartedOrderGraceSeconds=2",
        "--reaper-every-seconds",
        "0.5",
    ])
    .await;
    let token = cloud.token("user-unstarted").await;
    cloud.set_stock("SKU-SWEEP", 5).await;
    cloud
        .set_fault(json!({"function": "api", "mode": "outage", "services": ["sfn"], "count": 1}))
        .await;
    let (status, body) = cloud
        .place_order(
            &token,
            &new_key(),
            &order_body("SKU-SWEEP", 2, "pm_card_visa"),
        )
        .await;
    assert_eq!(
        status, 503,
        "POST /orders while Step Functions is down: {body}"
    );
    let listed: Value = cloud
        .http
        .get(cloud.at("/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders = listed["orders"].as_array().expect("an order list");
    assert_eq!(orders.len(), 1, "the order was written: {listed}");
    assert_eq!(orders[0]["status"], "PENDING", "{listed}");
    let order_id = orders[0]["orderId"].as_str().unwrap().to_owned();

    // Nobody retries; the sweeper starts it once its grace period is over.
    let wait = format!("/local/executions/{order_id}/wait?timeoutSeconds=120");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let execution = loop {
        let response = cloud.http.get(cloud.at(&wait)).send().await.unwrap();
        if response.status() != 404 {
            assert_eq!(response.status(), 200, "waiting for {order_id}");
            break response.json::<Value>().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper did not start {order_id} within 60 s; log: {}",
            cloud.log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    assert_eq!(cloud.stock("SKU-SWEEP").await, (3, 2), "reserved once");
    let records = cloud.records(&order_id).await;
    assert_eq!(records["payment"]["status"], "CAPTURED", "{records}");
}

/// Runs the sweeper once through the Lambda Invoke API: its report.
async fn run_sweeper(cloud: &LocalCloud) -> Value {
    let response = cloud
        .http
        .post(cloud.at("/2015-03-31/functions/SweeperFunction/invocations"))
        .json(&crate::support::scheduled_event())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("x-amz-function-error").is_none(),
        "the sweeper failed"
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_execution_shows_on_its_order_and_stays_counted_until_a_redrive_finishes_it() {
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-stalled").await;
    cloud.set_stock("SKU-STALL", 5).await;
    // After the capture the saga goes forward: a confirm that fails for good
    // fails the execution at ConfirmReservation, the order PAID.
    cloud
        .set_fault(json!({"function": "confirm", "mode": "permanent"}))
        .await;
    let (order_id, failed) = cloud
        .place_until_failed(&token, &order_body("SKU-STALL", 1, "pm_card_visa"))
        .await;

    // The status-change event reaches the watcher, which records the stall.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let order = loop {
        let order = cloud.order(&token, &order_id).await;
        if order.get("stalled").is_some() {
            break order;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order never showed its stall: {order}; log: {}",
            cloud.log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        order["status"], "PAID",
        "the status is where it stopped: {order}"
    );
    assert!(order["stalled"]["since"].is_string(), "{order}");
    let records = cloud.records(&order_id).await;
    let stall = &records["order"]["stall"];
    assert_eq!(stall["status"], "FAILED", "{records}");
    assert_eq!(stall["error"], failed["error"], "{records}");
    assert_eq!(stall["executionArn"], failed["executionArn"], "{records}");
    // The operator's signal: the sweeper counts it (StalledOrders), every run.
    assert_eq!(run_sweeper(&cloud).await["stalled"], 1);
    assert_eq!(
        run_sweeper(&cloud).await["stalled"],
        1,
        "still up a run later"
    );

    cloud.clear_faults().await;
    let redriven = cloud.redrive_and_wait(&order_id).await;
    assert_eq!(redriven["status"], "SUCCEEDED", "{redriven}");
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    assert!(order.get("stalled").is_none(), "resolved: {order}");
    assert!(
        cloud.records(&order_id).await["order"]
            .get("stall")
            .is_none(),
        "the final write removed the stall"
    );
    assert_eq!(
        run_sweeper(&cloud).await["stalled"],
        0,
        "the signal is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_the_watcher_failed_to_record_waits_in_its_dead_letter_queue_and_replays() {
    // 100x time: Lambda's retries of the event come after 0.6 s and 1.2 s.
    let cloud = LocalCloud::start(&["--time-scale", "100"]).await;
    let token = cloud.token("user-watcher-dlq").await;
    cloud.set_stock("SKU-WDLQ", 5).await;
    cloud
        .set_fault(json!({"function": "confirm", "mode": "permanent"}))
        .await;
    // The watcher fails the event and both of Lambda's retries.
    cloud
        .set_fault(json!({"function": "watcher", "mode": "transient", "count": 3}))
        .await;
    let (order_id, _failed) = cloud
        .place_until_failed(&token, &order_body("SKU-WDLQ", 1, "pm_card_visa"))
        .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while cloud.queue_depth("WatcherDeadLetterQueue").await.0 == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failed event never reached the dead-letter queue; log: {}",
            cloud.log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let order = cloud.order(&token, &order_id).await;
    assert!(order.get("stalled").is_none(), "not recorded yet: {order}");

    // The runbook: replay the dead letters to the watcher.
    let (status, body) = cloud
        .send_json(
            reqwest::Method::POST,
            "/local/queues/WatcherDeadLetterQueue/redrive",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["moved"], 1, "{body}");
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(order["status"], "PAID", "{order}");
    assert!(
        order["stalled"]["since"].is_string(),
        "recorded now: {order}"
    );
    assert_eq!(cloud.queue_depth("WatcherDeadLetterQueue").await, (0, 0));
}
