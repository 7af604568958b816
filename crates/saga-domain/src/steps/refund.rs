//! `refund` (compensation): give a captured payment back, once.
//!
//! Safe any number of times: no payment or a declined one has nothing to
//! refund, a refunded one is reported as such, and the provider refund carries
//! the idempotency key `refund-<orderId>` so a retry after a crash between the
//! provider call and the table update refunds once.

use crate::error::StepError;
use crate::ids::OrderId;
use crate::ports::{
    Clock, PaymentProvider, PaymentStatus, PaymentStore, PaymentTransition, RefundRequest,
    whole_seconds,
};
use crate::step_io::{OrderRef, RefundOutcome, Refunded};

/// Refunds the order's captured payment, if any.
///
/// Errors: only `TransientError`, including for a payment still PENDING (the
/// charge's outcome is unknown, so the refund waits and is retried; if it
/// stays PENDING the execution fails at the refund and an operator decides).
pub async fn refund_payment(
    payments: &impl PaymentStore,
    provider: &impl PaymentProvider,
    clock: &impl Clock,
    input: OrderRef,
) -> Result<Refunded, StepError> {
    let order_id = input.order_id;
    let Some(payment) = payments.get_payment(&order_id).await? else {
        return Ok(refund_output(order_id, RefundOutcome::NothingToRefund));
    };
    let provider_reference = match (payment.status, payment.provider_reference) {
        (PaymentStatus::Declined, _) => {
            return Ok(refund_output(order_id, RefundOutcome::NothingToRefund));
        }
        (PaymentStatus::Refunded, _) => {
            return Ok(refund_output(order_id, RefundOutcome::AlreadyRefunded));
        }
        (PaymentStatus::Pending, _) => {
            return Err(StepError::transient(format!(
                "payment for order {order_id} is still PENDING; its charge outcome is unknown"
            )));
        }
        (PaymentStatus::Captured, None) => {
            return Err(StepError::transient(format!(
                "payment for order {order_id} is CAPTURED without a provider reference"
            )));
        }
        (PaymentStatus::Captured, Some(reference)) => reference,
    };

    let receipt = provider
        .refund(&RefundRequest {
            idempotency_key: refund_idempotency_key(&order_id),
            provider_reference,
            amount: payment.amount,
        })
        .await?;
    let now = whole_seconds(clock.now());
    let outcome = match payments
        .mark_refunded(&order_id, &receipt.refund_reference, now)
        .await?
    {
        PaymentTransition::Applied(_) => RefundOutcome::Refunded,
        PaymentTransition::StatusMismatch(found) if found.status == PaymentStatus::Refunded => {
            RefundOutcome::AlreadyRefunded
        }
        PaymentTransition::StatusMismatch(found) => {
            return Err(StepError::transient(format!(
                "payment for order {order_id} moved to {} during the refund",
                found.status.as_str()
            )));
        }
        PaymentTransition::NotFound => {
            return Err(StepError::transient(format!(
                "payment for order {order_id} vanished during the refund"
            )));
        }
    };
    tracing::info!(%order_id, ?outcome, "refund done");
    Ok(refund_output(order_id, outcome))
}

/// The provider idempotency key of an order's refund.
pub(crate) fn refund_idempotency_key(order_id: &OrderId) -> String {
    format!("refund-{order_id}")
}

fn refund_output(order_id: OrderId, outcome: RefundOutcome) -> Refunded {
    Refunded { order_id, outcome }
}
