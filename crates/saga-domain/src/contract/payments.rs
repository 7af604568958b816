//! Contract of [`PaymentStore`]: one payment per order, status moves only
//! forward and only from the expected status.

use std::future::Future;

use super::{at, euros, ok, order_id};
use crate::ports::{
    Payment, PaymentIntent, PaymentStatus, PaymentStore, PaymentTransition, RecordIntentOutcome,
};

/// Runs every payment case, each on a fresh store from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: PaymentStore,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    intent_is_recorded_once(fresh().await).await;
    capture_moves_pending_only(fresh().await).await;
    decline_moves_pending_only(fresh().await).await;
    refund_moves_captured_only(fresh().await).await;
    transitions_on_absent_payment_are_not_found(fresh().await).await;
}

fn intent(order: &str, amount_minor: i64, second: i64) -> PaymentIntent {
    PaymentIntent {
        order_id: order_id(order),
        amount: euros(amount_minor),
        payment_method: "pm_card_visa"
            .parse()
            .unwrap_or_else(|error| panic!("{error}")),
        created_at: at(second),
    }
}

fn pending_payment(intent: &PaymentIntent) -> Payment {
    Payment {
        order_id: intent.order_id.clone(),
        amount: intent.amount,
        payment_method: intent.payment_method.clone(),
        status: PaymentStatus::Pending,
        provider_reference: None,
        decline_reason: None,
        refund_reference: None,
        created_at: intent.created_at,
        updated_at: intent.created_at,
    }
}

async fn record(store: &impl PaymentStore, intent: &PaymentIntent, case: &str) -> Payment {
    match ok(store.record_intent(intent).await, case) {
        RecordIntentOutcome::Recorded(payment) => payment,
        other => panic!("{case}: recording a first intent gave {other:?}"),
    }
}

/// A second intent for the same order writes nothing and returns the first,
/// even when its amount differs.
pub async fn intent_is_recorded_once(store: impl PaymentStore) {
    let case = "payments::intent_is_recorded_once";
    let first = intent("ord-pay-1", 3000, 0);
    let recorded = record(&store, &first, case).await;
    assert_eq!(
        recorded,
        pending_payment(&first),
        "{case}: recorded payment"
    );
    let again = ok(
        store.record_intent(&intent("ord-pay-1", 999, 7)).await,
        case,
    );
    assert_eq!(
        again,
        RecordIntentOutcome::AlreadyRecorded(pending_payment(&first)),
        "{case}: replayed intent"
    );
    let stored = ok(store.get_payment(&first.order_id).await, case);
    assert_eq!(stored, Some(pending_payment(&first)), "{case}: stored");
}

/// PENDING → CAPTURED once; capturing again is a mismatch carrying the payment.
pub async fn capture_moves_pending_only(store: impl PaymentStore) {
    let case = "payments::capture_moves_pending_only";
    let first = intent("ord-pay-2", 3000, 0);
    record(&store, &first, case).await;
    let mut captured = pending_payment(&first);
    captured.status = PaymentStatus::Captured;
    captured.provider_reference = Some("ch_1".to_owned());
    captured.updated_at = at(10);
    let applied = ok(
        store.mark_captured(&first.order_id, "ch_1", at(10)).await,
        case,
    );
    assert_eq!(
        applied,
        PaymentTransition::Applied(captured.clone()),
        "{case}: capture"
    );
    let again = ok(
        store.mark_captured(&first.order_id, "ch_2", at(20)).await,
        case,
    );
    assert_eq!(
        again,
        PaymentTransition::StatusMismatch(captured.clone()),
        "{case}: second capture must change nothing"
    );
    let declined = ok(
        store
            .mark_declined(&first.order_id, "card_declined", at(30))
            .await,
        case,
    );
    assert_eq!(
        declined,
        PaymentTransition::StatusMismatch(captured.clone()),
        "{case}: a captured payment cannot be declined"
    );
    let stored = ok(store.get_payment(&first.order_id).await, case);
    assert_eq!(stored, Some(captured), "{case}: stored");
}

/// PENDING → DECLINED keeps the code; a declined payment cannot be captured
/// or refunded.
pub async fn decline_moves_pending_only(store: impl PaymentStore) {
    let case = "payments::decline_moves_pending_only";
    let first = intent("ord-pay-3", 3000, 0);
    record(&store, &first, case).await;
    let mut declined = pending_payment(&first);
    declined.status = PaymentStatus::Declined;
    declined.decline_reason = Some("card_declined".to_owned());
    declined.updated_at = at(10);
    let applied = ok(
        store
            .mark_declined(&first.order_id, "card_declined", at(10))
            .await,
        case,
    );
    assert_eq!(
        applied,
        PaymentTransition::Applied(declined.clone()),
        "{case}: decline"
    );
    let captured = ok(
        store.mark_captured(&first.order_id, "ch_1", at(20)).await,
        case,
    );
    assert_eq!(
        captured,
        PaymentTransition::StatusMismatch(declined.clone()),
        "{case}: a declined payment cannot be captured"
    );
    let refunded = ok(
        store.mark_refunded(&first.order_id, "re_1", at(20)).await,
        case,
    );
    assert_eq!(
        refunded,
        PaymentTransition::StatusMismatch(declined),
        "{case}: a declined payment cannot be refunded"
    );
}

/// CAPTURED → REFUNDED once; PENDING cannot be refunded.
pub async fn refund_moves_captured_only(store: impl PaymentStore) {
    let case = "payments::refund_moves_captured_only";
    let first = intent("ord-pay-4", 3000, 0);
    record(&store, &first, case).await;
    let early = ok(
        store.mark_refunded(&first.order_id, "re_0", at(5)).await,
        case,
    );
    assert_eq!(
        early,
        PaymentTransition::StatusMismatch(pending_payment(&first)),
        "{case}: a pending payment cannot be refunded"
    );
    ok(
        store.mark_captured(&first.order_id, "ch_1", at(10)).await,
        case,
    );
    let mut refunded = pending_payment(&first);
    refunded.status = PaymentStatus::Refunded;
    refunded.provider_reference = Some("ch_1".to_owned());
    refunded.refund_reference = Some("re_1".to_owned());
    refunded.updated_at = at(20);
    let applied = ok(
        store.mark_refunded(&first.order_id, "re_1", at(20)).await,
        case,
    );
    assert_eq!(
        applied,
        PaymentTransition::Applied(refunded.clone()),
        "{case}: refund"
    );
    let again = ok(
        store.mark_refunded(&first.order_id, "re_2", at(30)).await,
        case,
    );
    assert_eq!(
        again,
        PaymentTransition::StatusMismatch(refunded),
        "{case}: second refund must change nothing"
    );
}

/// Every transition on an order without a payment is `NotFound`; reading it
/// is `None`.
pub async fn transitions_on_absent_payment_are_not_found(store: impl PaymentStore) {
    let case = "payments::transitions_on_absent_payment_are_not_found";
    let absent = order_id("ord-pay-absent");
    let results = [
        ok(store.mark_captured(&absent, "ch", at(0)).await, case),
        ok(
            store.mark_declined(&absent, "card_declined", at(0)).await,
            case,
        ),
        ok(store.mark_refunded(&absent, "re", at(0)).await, case),
    ];
    for result in results {
        assert_eq!(result, PaymentTransition::NotFound, "{case}");
    }
    assert_eq!(
        ok(store.get_payment(&absent).await, case),
        None,
        "{case}: read"
    );
}
