//! `charge`: take the order's money, at most once.
//!
//! The PENDING intent is recorded before the provider is called, and the
//! provider gets the order id as its idempotency key, so a crash or retry at
//! any point replays the same provider charge instead of making a second one.
//! A payment that already completed is answered from the table without
//! calling the provider.

use crate::error::StepError;
use crate::ids::OrderId;
use crate::ports::{
    ChargeOutcome, ChargeRequest, Clock, Payment, PaymentIntent, PaymentProvider, PaymentStatus,
    PaymentStore, PaymentTransition, RecordIntentOutcome, whole_seconds,
};
use crate::step_io::{ChargeInput, Charged};

/// Charges `input.total` to `input.payment_method` for `input.order_id`.
///
/// Errors: `PaymentDeclined` when the provider declines (now or before);
/// `InvalidOrder` when the order already has a payment for another amount;
/// `TransientError` when the store or provider is unavailable (the intent
/// stays PENDING and a retry replays the same provider charge).
pub async fn charge_payment(
    payments: &impl PaymentStore,
    provider: &impl PaymentProvider,
    clock: &impl Clock,
    input: ChargeInput,
) -> Result<Charged, StepError> {
    let now = whole_seconds(clock.now());
    let intent = PaymentIntent {
        order_id: input.order_id.clone(),
        amount: input.total,
        payment_method: input.payment_method.clone(),
        created_at: now,
    };
    let payment = match payments.record_intent(&intent).await? {
        RecordIntentOutcome::Recorded(payment) => payment,
        RecordIntentOutcome::AlreadyRecorded(payment) => {
            if payment.amount != input.total {
                return Err(StepError::invalid_order(format!(
                    "order {} already has a payment of {}, not {}",
                    payment.order_id, payment.amount, input.total
                )));
            }
            if payment.status != PaymentStatus::Pending {
                return completed_payment(payment);
            }
            payment
        }
    };

    let request = ChargeRequest {
        order_id: payment.order_id.clone(),
        idempotency_key: charge_idempotency_key(&payment.order_id),
        amount: payment.amount,
        payment_method: payment.payment_method.clone(),
    };
    let transition = match provider.charge(&request).await? {
        ChargeOutcome::Captured { provider_reference } => {
            tracing::info!(order_id = %payment.order_id, %provider_reference, "payment captured");
            payments
                .mark_captured(&payment.order_id, &provider_reference, now)
                .await?
        }
        ChargeOutcome::Declined { code } => {
            tracing::info!(order_id = %payment.order_id, %code, "payment declined");
            payments
                .mark_declined(&payment.order_id, &code, now)
                .await?
        }
    };
    match transition {
        // A concurrent invocation may have completed the payment first; the
        // provider's idempotency key guarantees it is the same charge.
        PaymentTransition::Applied(payment) | PaymentTransition::StatusMismatch(payment) => {
            completed_payment(payment)
        }
        PaymentTransition::NotFound => Err(StepError::transient(format!(
            "payment for order {} vanished while charging",
            payment.order_id
        ))),
    }
}

/// The provider idempotency key of an order's charge: the order id itself.
pub(crate) fn charge_idempotency_key(order_id: &OrderId) -> String {
    order_id.as_str().to_owned()
}

/// The step result for a payment that is no longer PENDING.
fn completed_payment(payment: Payment) -> Result<Charged, StepError> {
    match (payment.status, payment.provider_reference) {
        (PaymentStatus::Captured, Some(provider_reference)) => Ok(Charged {
            order_id: payment.order_id,
            status: PaymentStatus::Captured,
            amount: payment.amount,
            provider_reference,
        }),
        (PaymentStatus::Declined, _) => Err(StepError::PaymentDeclined {
            order_id: payment.order_id,
            reason: payment
                .decline_reason
                .unwrap_or_else(|| "declined".to_owned()),
        }),
        // Only reachable if the charge step runs again after the saga already
        // compensated: refuse rather than charge a second time.
        (PaymentStatus::Refunded, _) => Err(StepError::PaymentDeclined {
            order_id: payment.order_id,
            reason: "payment_already_refunded".to_owned(),
        }),
        (PaymentStatus::Captured, None) => Err(StepError::transient(format!(
            "payment for order {} is CAPTURED without a provider reference",
            payment.order_id
        ))),
        (PaymentStatus::Pending, _) => Err(StepError::transient(format!(
            "payment for order {} is still PENDING",
            payment.order_id
        ))),
    }
}
