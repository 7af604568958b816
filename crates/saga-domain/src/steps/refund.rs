//! `refund` (compensation): give a captured payment back, once.
//!
//! Safe any number of times: no payment or a declined one has nothing to
//! refund, a refunded one is reported as such, and the provider refund carries
//! the idempotency key `refund-<orderId>` so a retry after a crash between the
//! provider call and the table update refunds once.
//!
//! The provider forgets keys after a while, so the key is not the only
//! guard: before refunding, the step looks the order's charges up at the
//! provider (by their metadata) and records a refund it finds there instead
//! of asking for another; and a refund the provider refuses because the
//! charge is already refunded (`charge_already_refunded`) is looked up and
//! recorded the same way.

use crate::error::{PortError, StepError};
use crate::ids::OrderId;
use crate::ports::{
    CancelOutcome, CancelRequest, Clock, Payment, PaymentProvider, PaymentStatus, PaymentStore,
    PaymentTransition, ProviderCharge, RefundRequest, whole_seconds,
};
use crate::step_io::{OrderRef, RefundOutcome, Refunded};
use crate::steps::charge::charge_idempotency_key;

/// Refunds the order's captured payment, if any.
///
/// A payment still PENDING (the charge ran out of retries and the saga
/// compensates) is reconciled with the provider first: cancelled if nothing
/// was captured, refunded if the capture's answer was lost. A refund the
/// provider already shows (an earlier attempt's, whose answer was lost) is
/// recorded, not repeated.
///
/// Errors: only `TransientError`, including when the provider holds more
/// than one capture for the order (a double charge: a bug, logged as an
/// error, for an operator to settle).
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
    let provider_reference = match (payment.status, payment.provider_reference.clone()) {
        (PaymentStatus::Declined, _) => {
            return Ok(refund_output(order_id, RefundOutcome::NothingToRefund));
        }
        (PaymentStatus::Refunded, _) => {
            return Ok(refund_output(order_id, RefundOutcome::AlreadyRefunded));
        }
        (PaymentStatus::Pending, _) => {
            match reconcile_pending(payments, provider, clock, &payment).await? {
                Reconciled::NothingCharged => {
                    return Ok(refund_output(order_id, RefundOutcome::NothingToRefund));
                }
                Reconciled::Captured(reference) => reference,
            }
        }
        (PaymentStatus::Captured, None) => {
            return Err(StepError::transient(format!(
                "payment for order {order_id} is CAPTURED without a provider reference"
            )));
        }
        (PaymentStatus::Captured, Some(reference)) => reference,
    };

    let refund_reference = match refunded_before(provider, &order_id, &provider_reference).await? {
        Some(found) => found,
        None => {
            let request = RefundRequest {
                idempotency_key: refund_idempotency_key(&order_id),
                provider_reference: provider_reference.clone(),
                amount: payment.amount,
            };
            match provider.refund(&request).await {
                Ok(receipt) => receipt.refund_reference,
                // Refused: if it is because the charge is refunded already
                // (a concurrent attempt, or a replay under a forgotten key),
                // the lookup shows that refund, and it is the one to record.
                Err(refused @ PortError::Rejected { .. }) => {
                    match refunded_before(provider, &order_id, &provider_reference).await? {
                        Some(found) => found,
                        None => return Err(refused.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    let now = whole_seconds(clock.now());
    let outcome = match payments
        .mark_refunded(&order_id, &refund_reference, now)
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

/// The refund the provider already made of the charge `provider_reference`,
/// found by the order id in the charges' metadata (so even after the
/// provider has forgotten the refund's key); `None` when there is none to
/// be found (none made, or the charge was made by a process whose ledger
/// this one does not see: the simulated provider deployed).
///
/// Errors: `TransientError` when the provider is unavailable, or holds more
/// than one capture for the order: refunding one would hide the other.
async fn refunded_before(
    provider: &impl PaymentProvider,
    order_id: &OrderId,
    provider_reference: &str,
) -> Result<Option<String>, StepError> {
    let charges = provider.find_charges(order_id).await?;
    let captures = ProviderCharge::captured_references(&charges);
    if captures.len() > 1 {
        tracing::error!(%order_id, captures = ?captures, "the provider holds more than one capture for the order: a double charge");
        return Err(StepError::transient(format!(
            "the provider holds {} captures for order {order_id} ({}): a double charge for an operator to refund",
            captures.len(),
            captures.join(", ")
        )));
    }
    let found = charges
        .into_iter()
        .find(|charge| charge.provider_reference == provider_reference)
        .and_then(|charge| charge.refund_reference);
    if let Some(refund_reference) = &found {
        tracing::info!(%order_id, %provider_reference, %refund_reference, "the provider had refunded the charge already; recording that refund");
    }
    Ok(found)
}

/// What a PENDING payment turned out to be.
enum Reconciled {
    /// Nothing was or can be captured: the payment is now DECLINED.
    NothingCharged,
    /// The provider had captured it (the answer was lost): now CAPTURED.
    Captured(String),
}

/// The charge step gave up with the payment PENDING (the provider kept
/// failing or the answer was lost), and the saga compensates: ask the
/// provider what happened for the order (it looks the charges up by their
/// metadata, not by key), cancelling if nothing was captured so that no
/// late charge can capture, and record the answer.
async fn reconcile_pending(
    payments: &impl PaymentStore,
    provider: &impl PaymentProvider,
    clock: &impl Clock,
    payment: &Payment,
) -> Result<Reconciled, StepError> {
    let order_id = &payment.order_id;
    let outcome = provider
        .cancel(&CancelRequest {
            order_id: order_id.clone(),
            idempotency_key: charge_idempotency_key(order_id),
            amount: payment.amount,
            payment_method: payment.payment_method.clone(),
        })
        .await?;
    let now = whole_seconds(clock.now());
    let (transition, reconciled) = match outcome {
        CancelOutcome::Captured { provider_reference } => {
            tracing::warn!(%order_id, %provider_reference, "a PENDING payment had been captured; refunding it");
            let transition = payments
                .mark_captured(order_id, &provider_reference, now)
                .await?;
            (transition, Reconciled::Captured(provider_reference))
        }
        CancelOutcome::Cancelled | CancelOutcome::Declined { .. } => {
            let code = match &outcome {
                CancelOutcome::Declined { code } => code.as_str(),
                _ => "canceled_unknown_outcome",
            };
            tracing::info!(%order_id, code, "a PENDING payment was never captured; nothing to refund");
            let transition = payments.mark_declined(order_id, code, now).await?;
            (transition, Reconciled::NothingCharged)
        }
    };
    match transition {
        PaymentTransition::Applied(_) => Ok(reconciled),
        // A late charge invocation settled it meanwhile: go by what it wrote.
        PaymentTransition::StatusMismatch(found) => {
            match (found.status, found.provider_reference) {
                (PaymentStatus::Captured, Some(reference)) => Ok(Reconciled::Captured(reference)),
                (PaymentStatus::Declined, _) => Ok(Reconciled::NothingCharged),
                (status, _) => Err(StepError::transient(format!(
                    "payment for order {order_id} moved to {} while it was reconciled",
                    status.as_str()
                ))),
            }
        }
        PaymentTransition::NotFound => Err(StepError::transient(format!(
            "payment for order {order_id} vanished while it was reconciled"
        ))),
    }
}

/// The provider idempotency key of an order's refund.
pub(crate) fn refund_idempotency_key(order_id: &OrderId) -> String {
    format!("refund-{order_id}")
}

fn refund_output(order_id: OrderId, outcome: RefundOutcome) -> Refunded {
    Refunded { order_id, outcome }
}
