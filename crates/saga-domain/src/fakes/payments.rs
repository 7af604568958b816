//! In-memory payments table.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{Faults, lock};
use crate::error::PortError;
use crate::ids::OrderId;
use crate::ports::{
    Payment, PaymentIntent, PaymentStatus, PaymentStore, PaymentTransition, RecordIntentOutcome,
};

/// Payments by order id, with conditional status moves.
#[derive(Debug, Default)]
pub struct InMemoryPayments {
    payments: Mutex<HashMap<OrderId, Payment>>,
    /// Fault injection for every operation.
    pub faults: Faults,
}

impl InMemoryPayments {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the payment from `from` to the status `apply` sets, atomically.
    fn transition(
        &self,
        order_id: &OrderId,
        from: PaymentStatus,
        now: DateTime<Utc>,
        apply: impl FnOnce(&mut Payment),
    ) -> PaymentTransition {
        let mut payments = lock(&self.payments);
        match payments.get_mut(order_id) {
            None => PaymentTransition::NotFound,
            Some(payment) if payment.status != from => {
                PaymentTransition::StatusMismatch(payment.clone())
            }
            Some(payment) => {
                apply(payment);
                payment.updated_at = now;
                PaymentTransition::Applied(payment.clone())
            }
        }
    }
}

impl PaymentStore for InMemoryPayments {
    async fn record_intent(
        &self,
        intent: &PaymentIntent,
    ) -> Result<RecordIntentOutcome, PortError> {
        self.faults.check("record_intent")?;
        let mut payments = lock(&self.payments);
        if let Some(existing) = payments.get(&intent.order_id) {
            return Ok(RecordIntentOutcome::AlreadyRecorded(existing.clone()));
        }
        let payment = Payment {
            order_id: intent.order_id.clone(),
            amount: intent.amount,
            payment_method: intent.payment_method.clone(),
            status: PaymentStatus::Pending,
            provider_reference: None,
            decline_reason: None,
            refund_reference: None,
            created_at: intent.created_at,
            updated_at: intent.created_at,
        };
        payments.insert(intent.order_id.clone(), payment.clone());
        Ok(RecordIntentOutcome::Recorded(payment))
    }

    async fn mark_captured(
        &self,
        order_id: &OrderId,
        provider_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        self.faults.check("mark_captured")?;
        Ok(
            self.transition(order_id, PaymentStatus::Pending, now, |payment| {
                payment.status = PaymentStatus::Captured;
                payment.provider_reference = Some(provider_reference.to_owned());
            }),
        )
    }

    async fn mark_declined(
        &self,
        order_id: &OrderId,
        decline_reason: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        self.faults.check("mark_declined")?;
        Ok(
            self.transition(order_id, PaymentStatus::Pending, now, |payment| {
                payment.status = PaymentStatus::Declined;
                payment.decline_reason = Some(decline_reason.to_owned());
            }),
        )
    }

    async fn mark_refunded(
        &self,
        order_id: &OrderId,
        refund_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentTransition, PortError> {
        self.faults.check("mark_refunded")?;
        Ok(
            self.transition(order_id, PaymentStatus::Captured, now, |payment| {
                payment.status = PaymentStatus::Refunded;
                payment.refund_reference = Some(refund_reference.to_owned());
            }),
        )
    }

    async fn get_payment(&self, order_id: &OrderId) -> Result<Option<Payment>, PortError> {
        self.faults.check("get_payment")?;
        Ok(lock(&self.payments).get(order_id).cloned())
    }
}
