//! The five invariants of DESIGN.md, checked from what every service
//! recorded once the campaign is quiet: the order as its customer reads it,
//! the Orders, Inventory, Payments and Shipments items, the provider's
//! ledger, the execution, and the stock of every SKU.
//!
//! Pure: the campaign gathers the facts, this module judges them, so every
//! rule is unit tested on hand-made records.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// What the campaign learned about one order.
#[derive(Debug, Clone, Default)]
pub struct OrderFacts {
    /// The order id.
    pub order_id: String,
    /// The status of its execution, if it has one.
    pub execution: Option<String>,
    /// `GET /orders/{id}` as its owner.
    pub view: Value,
    /// The first terminal status the customer read while the operator
    /// worked, if any.
    pub first_terminal: Option<String>,
    /// How often the operator found its execution stopped while the order
    /// did not show the stall.
    pub stops_unseen: usize,
    /// `GET /local/orders/{id}`: `order`, `reservation`, `payment`,
    /// `shipment` items and the provider's `provider` statement.
    pub records: Value,
}

/// A SKU's stock at the start and at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuFacts {
    /// The SKU.
    pub sku: String,
    /// Units stocked before the first order.
    pub initial: u64,
    /// Available units at the end.
    pub available: u64,
    /// Reserved units at the end.
    pub reserved: u64,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1 to 5, as numbered in DESIGN.md.
    pub invariant: u8,
    /// The order id or SKU it concerns.
    pub subject: String,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant {} ({}): {}: {}",
            self.invariant,
            invariant_name(self.invariant),
            self.subject,
            self.what
        )
    }
}

/// The short name of invariant `number`.
pub fn invariant_name(number: u8) -> &'static str {
    match number {
        1 => "no oversell",
        2 => "no double charge",
        3 => "every order finishes",
        4 => "a completed order is whole",
        5 => "the customer reads the truth",
        _ => "unknown",
    }
}

fn status<'a>(records: &'a Value, item: &str) -> Option<&'a str> {
    records[item]["status"].as_str()
}

/// Checks every order and every SKU; the violations, ordered by invariant.
pub fn check(orders: &[OrderFacts], skus: &[SkuFacts]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for order in orders {
        check_order(order, &mut violations);
    }
    check_stock(orders, skus, &mut violations);
    violations.sort_by(|a, b| (a.invariant, &a.subject).cmp(&(b.invariant, &b.subject)));
    violations
}

fn check_order(order: &OrderFacts, violations: &mut Vec<Violation>) {
    let mut violate = |invariant: u8, what: String| {
        violations.push(Violation {
            invariant,
            subject: order.order_id.clone(),
            what,
        });
    };
    let records = &order.records;
    let shown = order.view["status"].as_str().unwrap_or("(none)");
    let stored = status(records, "order").unwrap_or("(none)");
    let reservation = status(records, "reservation");
    let payment = status(records, "payment");
    let shipped = !records["shipment"].is_null();
    // The provider's statement covers every charge it holds for the order,
    // under any idempotency key: `capturedMinor` is their sum.
    let provider = &records["provider"];
    let captured = provider["capturedMinor"].as_i64();
    let captures = provider["captures"]
        .as_u64()
        .unwrap_or(u64::from(captured.is_some()));
    let net = captured.unwrap_or(0) - provider["refundedMinor"].as_i64().unwrap_or(0);

    // 3: every order ends, and its execution with it.
    if !matches!(shown, "COMPLETED" | "REJECTED") {
        violate(3, format!("the customer still reads {shown}"));
    }
    if order.execution.as_deref() != Some("SUCCEEDED") {
        violate(
            3,
            format!(
                "its execution is {}",
                order.execution.as_deref().unwrap_or("missing")
            ),
        );
    }
    // 3: nothing waits unseen: a stopped execution showed on its order, and
    // a finished order no longer does (or the alarm would stay up).
    if order.stops_unseen > 0 {
        violate(
            3,
            format!(
                "its execution stopped {} time(s) without the order saying so",
                order.stops_unseen
            ),
        );
    }
    let finished = matches!(shown, "COMPLETED" | "REJECTED");
    let stall_shown = !order.view["stalled"].is_null();
    let stall_stored = !records["order"]["stall"].is_null();
    if finished && (stall_shown || stall_stored) {
        violate(
            3,
            format!("{shown}, but still stalled (shown: {stall_shown}, stored: {stall_stored})"),
        );
    }
    if !finished
        && matches!(
            order.execution.as_deref(),
            Some("FAILED" | "TIMED_OUT" | "ABORTED")
        )
        && !stall_shown
    {
        violate(
            3,
            format!("{shown}, its execution stopped, and the order does not say so"),
        );
    }
    // 5: what the customer reads is what was stored, and stays.
    if shown != stored {
        violate(
            5,
            format!("the customer reads {shown}, Orders holds {stored}"),
        );
    }
    if let Some(first) = &order.first_terminal
        && first != shown
    {
        violate(5, format!("the customer read {first}, later {shown}"));
    }
    // 2: one charge per order at most, refunded or not, however it ended.
    if captures > 1 {
        violate(
            2,
            format!("the provider captured {captures} charges for it ({provider})"),
        );
    }
    // 2: a rejected order keeps no money (an order still running is
    // invariant 3's business; a completed one's single capture is 4's).
    if net > 0 && shown == "REJECTED" {
        violate(
            2,
            format!("{shown} but the provider kept {net} minor units ({provider})"),
        );
    }
    match shown {
        "COMPLETED" => {
            // 4: one capture, one confirmed reservation, one shipment.
            let total = records["order"]["total"]["amountMinor"].as_i64();
            if net == 0 || captured != total {
                violate(
                    4,
                    format!(
                        "completed, but the provider holds {provider} for a total of {total:?}"
                    ),
                );
            }
            if payment != Some("CAPTURED") {
                violate(4, format!("completed with payment {payment:?}"));
            }
            if reservation != Some("CONFIRMED") {
                violate(4, format!("completed with reservation {reservation:?}"));
            }
            if !shipped {
                violate(4, "completed without a shipment".to_owned());
            }
        }
        "REJECTED" => {
            // 5: a rejection agrees with the other services' records.
            if matches!(payment, Some("CAPTURED" | "PENDING")) {
                violate(5, format!("rejected with payment {payment:?}"));
            }
            if matches!(reservation, Some("PENDING" | "CONFIRMED")) {
                violate(5, format!("rejected with reservation {reservation:?}"));
            }
            if shipped {
                violate(5, "rejected but shipped".to_owned());
            }
        }
        _ => {}
    }
}

/// Units of each SKU held by reservations that still hold stock.
fn held_by_reservations(orders: &[OrderFacts]) -> BTreeMap<String, u64> {
    let mut held = BTreeMap::new();
    for order in orders {
        let reservation = &order.records["reservation"];
        if !matches!(
            reservation["status"].as_str(),
            Some("PENDING" | "CONFIRMED")
        ) {
            continue;
        }
        for line in reservation["lines"].as_array().into_iter().flatten() {
            if let (Some(sku), Some(quantity)) = (line["sku"].as_str(), line["quantity"].as_u64()) {
                *held.entry(sku.to_owned()).or_default() += quantity;
            }
        }
    }
    held
}

fn check_stock(orders: &[OrderFacts], skus: &[SkuFacts], violations: &mut Vec<Violation>) {
    let held = held_by_reservations(orders);
    for sku in skus {
        let mut violate = |what: String| {
            violations.push(Violation {
                invariant: 1,
                subject: sku.sku.clone(),
                what,
            });
        };
        if sku.available + sku.reserved != sku.initial {
            violate(format!(
                "stocked {}, now {} available + {} reserved",
                sku.initial, sku.available, sku.reserved
            ));
        }
        let by_reservations = held.get(&sku.sku).copied().unwrap_or(0);
        if by_reservations != sku.reserved {
            violate(format!(
                "{} units reserved, but the reservations hold {by_reservations}",
                sku.reserved
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn completed() -> OrderFacts {
        OrderFacts {
            order_id: "ord-1".to_owned(),
            execution: Some("SUCCEEDED".to_owned()),
            view: json!({"status": "COMPLETED"}),
            first_terminal: Some("COMPLETED".to_owned()),
            stops_unseen: 0,
            records: json!({
                "order": {"status": "COMPLETED", "total": {"amountMinor": 2500}},
                "reservation": {"status": "CONFIRMED", "lines": [{"sku": "A", "quantity": 2}]},
                "payment": {"status": "CAPTURED"},
                "shipment": {"orderId": "ord-1"},
                "provider": {"captures": 1, "capturedMinor": 2500, "refundedMinor": 0, "declined": false, "refunded": false, "cancelled": false},
            }),
        }
    }

    fn rejected() -> OrderFacts {
        OrderFacts {
            order_id: "ord-2".to_owned(),
            execution: Some("SUCCEEDED".to_owned()),
            view: json!({"status": "REJECTED"}),
            first_terminal: None,
            stops_unseen: 0,
            records: json!({
                "order": {"status": "REJECTED", "total": {"amountMinor": 1250}},
                "reservation": {"status": "RELEASED", "lines": [{"sku": "A", "quantity": 1}]},
                "payment": {"status": "REFUNDED"},
                "shipment": null,
                "provider": {"captures": 1, "capturedMinor": 1250, "refundedMinor": 1250, "declined": false, "refunded": true, "cancelled": false},
            }),
        }
    }

    fn sku(initial: u64, available: u64, reserved: u64) -> SkuFacts {
        SkuFacts {
            sku: "A".to_owned(),
            initial,
            available,
            reserved,
        }
    }

    fn invariants(violations: &[Violation]) -> Vec<u8> {
        violations.iter().map(|v| v.invariant).collect()
    }

    #[test]
    fn consistent_records_break_nothing() {
        assert_eq!(check(&[completed(), rejected()], &[sku(10, 8, 2)]), []);
    }

    #[test]
    fn each_broken_record_names_its_invariant() {
        type Break = fn(&mut OrderFacts);
        let cases: &[(&str, Break, &[u8])] = &[
            (
                "execution failed",
                |o| o.execution = Some("FAILED".to_owned()),
                &[3],
            ),
            ("never started", |o| o.execution = None, &[3]),
            (
                "customer reads RESERVED",
                |o| {
                    o.first_terminal = None;
                    o.view = json!({"status": "RESERVED"});
                    o.records["order"]["status"] = json!("RESERVED");
                },
                &[3],
            ),
            (
                "terminal status changed",
                |o| o.first_terminal = Some("REJECTED".to_owned()),
                &[5],
            ),
            (
                "view disagrees with the table",
                |o| o.records["order"]["status"] = json!("PAID"),
                &[5],
            ),
            ("no shipment", |o| o.records["shipment"] = Value::Null, &[4]),
            (
                "captured twice the total",
                |o| o.records["provider"]["capturedMinor"] = json!(5000),
                &[4],
            ),
            (
                "refunded yet completed",
                |o| {
                    o.records["provider"]["refundedMinor"] = json!(2500);
                    o.records["provider"]["refunded"] = json!(true);
                },
                &[4],
            ),
            (
                "a stop the order never showed",
                |o| o.stops_unseen = 1,
                &[3],
            ),
            (
                "completed but still shown stalled",
                |o| o.view["stalled"] = json!({"since": "2026-01-01T00:00:00.000Z"}),
                &[3],
            ),
            (
                "completed but the stall still stored",
                |o| o.records["order"]["stall"] = json!({"status": "FAILED"}),
                &[3],
            ),
        ];
        for (name, damage, expected) in cases {
            let mut order = completed();
            damage(&mut order);
            assert_eq!(
                invariants(&check(&[order], &[sku(10, 8, 2)])),
                *expected,
                "{name}"
            );
        }
    }

    #[test]
    fn a_rejected_order_that_kept_money_stock_or_a_shipment_is_caught() {
        let mut charged = rejected();
        charged.records["provider"]["refundedMinor"] = json!(0);
        charged.records["provider"]["refunded"] = json!(false);
        charged.records["payment"]["status"] = json!("CAPTURED");
        assert_eq!(invariants(&check(&[charged], &[])), [2, 5]);

        let mut holding = rejected();
        holding.records["reservation"]["status"] = json!("PENDING");
        assert_eq!(invariants(&check(&[holding], &[sku(10, 9, 1)])), [5]);

        let mut shipped = rejected();
        shipped.records["shipment"] = json!({"orderId": "ord-2"});
        assert_eq!(invariants(&check(&[shipped], &[])), [5]);
    }

    #[test]
    fn an_order_left_by_its_stopped_execution_must_say_so() {
        let mut stuck = completed();
        stuck.first_terminal = None;
        stuck.execution = Some("FAILED".to_owned());
        stuck.view = json!({"status": "PAID"});
        stuck.records["order"]["status"] = json!("PAID");
        let unseen = check(&[stuck.clone()], &[sku(10, 8, 2)]);
        assert!(
            unseen.iter().any(|v| v.what.contains("does not say so")),
            "{unseen:?}"
        );
        stuck.view["stalled"] = json!({"since": "2026-01-01T00:00:00.000Z"});
        let shown = check(&[stuck], &[sku(10, 8, 2)]);
        assert!(
            !shown.iter().any(|v| v.what.contains("does not say so")),
            "{shown:?}"
        );
    }

    #[test]
    fn a_second_capture_is_a_double_charge_however_the_order_ended() {
        // Charged again under a forgotten idempotency key: the completed
        // order holds twice its total.
        let mut completed_twice = completed();
        completed_twice.records["provider"]["captures"] = json!(2);
        completed_twice.records["provider"]["capturedMinor"] = json!(5000);
        let violations = check(&[completed_twice], &[sku(10, 8, 2)]);
        assert_eq!(invariants(&violations), [2, 4]);
        assert!(
            violations[0].what.contains("captured 2 charges"),
            "{}",
            violations[0]
        );
        // Both refunded: no money kept, still two charges to the card.
        let mut rejected_twice = rejected();
        rejected_twice.records["provider"]["captures"] = json!(2);
        rejected_twice.records["provider"]["capturedMinor"] = json!(2500);
        rejected_twice.records["provider"]["refundedMinor"] = json!(2500);
        assert_eq!(invariants(&check(&[rejected_twice], &[])), [2]);
        // One of the two refunded: money kept as well.
        let mut rejected_half = rejected();
        rejected_half.records["provider"]["captures"] = json!(2);
        rejected_half.records["provider"]["capturedMinor"] = json!(2500);
        assert_eq!(invariants(&check(&[rejected_half], &[])), [2, 2]);
    }

    #[test]
    fn stock_must_be_conserved_and_match_the_reservations() {
        let lost_unit = check(&[completed()], &[sku(10, 7, 2)]);
        assert_eq!(invariants(&lost_unit), [1]);
        assert!(lost_unit[0].what.contains("stocked 10"), "{}", lost_unit[0]);
        let unexplained = check(&[completed()], &[sku(10, 7, 3)]);
        assert_eq!(invariants(&unexplained), [1]);
        assert!(unexplained[0].what.contains("hold 2"), "{}", unexplained[0]);
    }
}
