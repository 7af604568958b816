//! `charge`: take the order's money, at most once.
//!
//! The PENDING intent is recorded before the provider is called, and the
//! provider gets the order id as its idempotency key, so a crash or retry at
//! any point replays the same provider charge instead of making a second one.
//! A payment that already completed is answered from the table without
//! calling the provider.
//!
//! The key only holds while the provider remembers it (Stripe: about a day),
//! and a redrive may come weeks later. So a payment found PENDING, which an
//! earlier attempt may have taken to the provider, is first looked up at the
//! provider by the order id in the charges' metadata: a capture or decline
//! found there is recorded instead of charging again. Only a brand-new
//! intent, which nothing can have sent yet, charges without looking.

use crate::error::StepError;
use crate::ids::OrderId;
use crate::ports::{
    ChargeOutcome, ChargeRequest, Clock, Payment, PaymentIntent, PaymentProvider, PaymentStatus,
    PaymentStore, PaymentTransition, ProviderCharge, ProviderChargeState, RecordIntentOutcome,
    whole_seconds,
};
use crate::step_io::{ChargeInput, Charged};

/// Charges `input.total` to `input.payment_method` for `input.order_id`.
///
/// Errors: `PaymentDeclined` when the provider declines (now or before);
/// `InvalidOrder` when the order already has a payment for another amount;
/// `TransientError` when the store or provider is unavailable (the intent
/// stays PENDING and a retry reconciles with the provider, then replays the
/// same provider charge), or when the provider holds more than one capture
/// for the order (a double charge: a bug, logged as an error).
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
    let (payment, maybe_sent) = match payments.record_intent(&intent).await? {
        RecordIntentOutcome::Recorded(payment) => (payment, false),
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
            (payment, true)
        }
    };

    let earlier = if maybe_sent {
        charged_before(provider, &payment).await?
    } else {
        None
    };
    let outcome = match earlier {
        Some(outcome) => outcome,
        None => {
            let request = ChargeRequest {
                order_id: payment.order_id.clone(),
                idempotency_key: charge_idempotency_key(&payment.order_id),
                amount: payment.amount,
                payment_method: payment.payment_method.clone(),
            };
            provider.charge(&request).await?
        }
    };
    let captured_now = match &outcome {
        ChargeOutcome::Captured { provider_reference } => Some(provider_reference.clone()),
        ChargeOutcome::Declined { .. } => None,
    };
    let transition = match outcome {
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
        PaymentTransition::Applied(payment) => completed_payment(payment),
        // A concurrent invocation completed the payment first; the provider's
        // idempotency key and the lookup make it the same charge. If it is
        // not, money was taken twice: say so loudly, the table keeps the
        // first capture.
        PaymentTransition::StatusMismatch(found) => {
            if let Some(captured_now) = captured_now
                && found.provider_reference.as_deref() != Some(captured_now.as_str())
            {
                tracing::error!(
                    order_id = %found.order_id,
                    captured = %captured_now,
                    recorded = ?found.provider_reference,
                    status = found.status.as_str(),
                    "a capture the payment record does not hold: the order may be charged twice"
                );
            }
            completed_payment(found)
        }
        PaymentTransition::NotFound => Err(StepError::transient(format!(
            "payment for order {} vanished while charging",
            payment.order_id
        ))),
    }
}

/// What the provider already did for a PENDING payment, found by the order
/// id in the charges' metadata (so even after the provider has forgotten the
/// idempotency key): the capture, else a decline or cancel (a cancel is the
/// refund step's reconciliation: the saga is giving up, so no charge
/// follows), else `None` when nothing reached the provider and the charge
/// may be sent.
///
/// Errors: `TransientError` when the provider is unavailable, or holds more
/// than one capture for the order (a double charge, which no retry should
/// paper over).
async fn charged_before(
    provider: &impl PaymentProvider,
    payment: &Payment,
) -> Result<Option<ChargeOutcome>, StepError> {
    let order_id = &payment.order_id;
    let charges = provider.find_charges(order_id).await?;
    let captures = ProviderCharge::captured_references(&charges);
    match captures.as_slice() {
        [] => {}
        [capture] => {
            tracing::info!(%order_id, provider_reference = capture, "the provider holds an earlier capture; recording it instead of charging again");
            return Ok(Some(ChargeOutcome::Captured {
                provider_reference: (*capture).to_owned(),
            }));
        }
        several => {
            tracing::error!(%order_id, captures = ?several, "the provider holds more than one capture for the order: a double charge");
            return Err(StepError::transient(format!(
                "the provider holds {} captures for order {order_id} ({}): a double charge",
                several.len(),
                several.join(", ")
            )));
        }
    }
    let settled = charges.iter().find_map(|charge| match &charge.state {
        ProviderChargeState::Declined { code } => Some(code.clone()),
        ProviderChargeState::Canceled => Some("payment_intent_canceled".to_owned()),
        ProviderChargeState::Captured => None,
    });
    Ok(settled.map(|code| {
        tracing::info!(%order_id, %code, "the provider holds an earlier decline; recording it instead of charging again");
        ChargeOutcome::Declined { code }
    }))
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
