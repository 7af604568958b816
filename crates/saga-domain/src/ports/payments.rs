//! The payment service's ports: the payments table and the payment provider.
//!
//! The charge step records a PENDING intent before it calls the provider and
//! passes the order id as the provider's idempotency key, so a retry after a
//! crash at any point charges at most once. Status moves only forward:
//! PENDING → CAPTURED or DECLINED, CAPTURED → REFUNDED; each move is
//! conditional on the status it starts from.
//!
//! Providers forget idempotency keys after a retention period (Stripe: about
//! a day), and a redrive may come weeks later, so the key alone does not
//! stop a late re-send from charging again. Every charge therefore carries
//! the order id as metadata too, and [`PaymentProvider::find_charges`] looks
//! an order up by it: the charge and refund steps ask it before they re-send.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::ids::{OrderId, PaymentMethod};
use crate::money::Money;

/// Where a payment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Intent recorded; the provider may or may not have been called.
    Pending,
    /// The provider captured the money.
    Captured,
    /// The provider declined the payment method.
    Declined,
    /// A captured payment was refunded in full.
    Refunded,
}

impl PaymentStatus {
    /// The stored name, e.g. `CAPTURED`.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "PENDING",
            PaymentStatus::Captured => "CAPTURED",
            PaymentStatus::Declined => "DECLINED",
            PaymentStatus::Refunded => "REFUNDED",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            PaymentStatus::Pending,
            PaymentStatus::Captured,
            PaymentStatus::Declined,
            PaymentStatus::Refunded,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }
}

/// A stored payment (key `orderId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The order paid for; one payment per order.
    pub order_id: OrderId,
    /// The amount charged (or to be charged).
    pub amount: Money,
    /// The method the customer chose.
    pub payment_method: PaymentMethod,
    /// Current status.
    pub status: PaymentStatus,
    /// The provider's charge id, once CAPTURED.
    pub provider_reference: Option<String>,
    /// The provider's decline code, once DECLINED.
    pub decline_reason: Option<String>,
    /// The provider's refund id, once REFUNDED.
    pub refund_reference: Option<String>,
    /// When the intent was recorded (whole seconds).
    pub created_at: DateTime<Utc>,
    /// When the status last changed (whole seconds).
    pub updated_at: DateTime<Utc>,
}

/// A payment intent to record before calling the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    /// The order.
    pub order_id: OrderId,
    /// The amount to charge.
    pub amount: Money,
    /// The method to charge.
    pub payment_method: PaymentMethod,
    /// Now (whole seconds).
    pub created_at: DateTime<Utc>,
}

/// What [`PaymentStore::record_intent`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordIntentOutcome {
    /// A new PENDING payment was written.
    Recorded(Payment),
    /// The order already has a payment (any status); returned unchanged.
    AlreadyRecorded(Payment),
}

/// What a conditional status change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentTransition {
    /// The payment was in the expected status and now has the new one.
    Applied(Payment),
    /// The payment was in another status; nothing changed. Carries the payment
    /// as found.
    StatusMismatch(Payment),
    /// The order has no payment.
    NotFound,
}

/// The payments table.
pub trait PaymentStore: Send + Sync {
    /// Puts a PENDING payment if the order has none (`attribute_not_exists`).
    fn record_intent(
        &self,
        intent: &PaymentIntent,
    ) -> impl Future<Output = Result<RecordIntentOutcome, PortError>> + Send;

    /// PENDING → CAPTURED with the provider's charge id.
    fn mark_captured(
        &self,
        order_id: &OrderId,
        provider_reference: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentTransition, PortError>> + Send;

    /// PENDING → DECLINED with the provider's decline code.
    fn mark_declined(
        &self,
        order_id: &OrderId,
        decline_reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentTransition, PortError>> + Send;

    /// CAPTURED → REFUNDED with the provider's refund id.
    fn mark_refunded(
        &self,
        order_id: &OrderId,
        refund_reference: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentTransition, PortError>> + Send;

    /// The order's payment, strongly consistent.
    fn get_payment(
        &self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Option<Payment>, PortError>> + Send;
}

/// A charge to make at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The order, sent as the charge's metadata (Stripe: `metadata[orderId]`),
    /// so [`PaymentProvider::find_charges`] finds the charge after its key
    /// is forgotten.
    pub order_id: OrderId,
    /// While the provider remembers it, the same key always yields the same
    /// charge: the order id.
    pub idempotency_key: String,
    /// How much.
    pub amount: Money,
    /// With what.
    pub payment_method: PaymentMethod,
}

/// The provider's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money was captured; `provider_reference` is the charge id.
    Captured {
        /// The provider's charge id.
        provider_reference: String,
    },
    /// The payment method was declined with `code` (e.g. `card_declined`).
    Declined {
        /// The provider's decline code.
        code: String,
    },
}

/// A full refund of a captured charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The same key always yields the same refund: `refund-<orderId>`.
    pub idempotency_key: String,
    /// The charge to refund.
    pub provider_reference: String,
    /// The amount charged.
    pub amount: Money,
}

/// A request to cancel whatever was charged for an order whose charge
/// outcome is unknown (the charge step ran out of retries with the payment
/// PENDING).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// The order: the provider finds its charges by their metadata, so a
    /// capture is found even after its idempotency key is forgotten.
    pub order_id: OrderId,
    /// The charge's idempotency key (the order id), spent by the cancel.
    pub idempotency_key: String,
    /// The amount the charge was for.
    pub amount: Money,
    /// The payment method it was for.
    pub payment_method: PaymentMethod,
}

/// What the provider knew of a charge it was asked to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Nothing was captured for the order, and while the provider remembers
    /// the key, a late charge under it is refused (Stripe: the PaymentIntent
    /// is canceled). Once the key is forgotten only the caller's own lookup
    /// ([`PaymentProvider::find_charges`]) stops a late re-send.
    Cancelled,
    /// The charge had been captured (its answer was lost): refund it.
    Captured {
        /// The provider's charge id.
        provider_reference: String,
    },
    /// The charge had been declined: nothing to give back.
    Declined {
        /// The provider's decline code.
        code: String,
    },
}

/// The provider's receipt for a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    /// The provider's refund id.
    pub refund_reference: String,
}

/// Where a charge the provider holds for an order ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderChargeState {
    /// The money was captured (and may since have been refunded).
    Captured,
    /// The payment method was declined with `code`.
    Declined {
        /// The provider's decline code.
        code: String,
    },
    /// The charge was cancelled before anything was captured
    /// ([`PaymentProvider::cancel`]).
    Canceled,
}

/// One charge the provider holds for an order, as
/// [`PaymentProvider::find_charges`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCharge {
    /// The provider's charge id.
    pub provider_reference: String,
    /// The amount it was for.
    pub amount: Money,
    /// Where it ended.
    pub state: ProviderChargeState,
    /// The id of its refund, if it was refunded (refunds are in full, so
    /// there is at most one).
    pub refund_reference: Option<String>,
}

impl ProviderCharge {
    /// Whether the money was captured (refunded since or not).
    pub fn is_captured(&self) -> bool {
        self.state == ProviderChargeState::Captured
    }

    /// The provider references of the captured ones among `charges`: more
    /// than one for an order is a double charge.
    pub fn captured_references(charges: &[ProviderCharge]) -> Vec<&str> {
        charges
            .iter()
            .filter(|charge| charge.is_captured())
            .map(|charge| charge.provider_reference.as_str())
            .collect()
    }
}

/// The payment provider (Stripe-like). Transient failures (network, 5xx,
/// rate limits) are `PortError::Unavailable`; requests the provider refuses
/// outright are `PortError::Rejected`.
pub trait PaymentProvider: Send + Sync {
    /// Charges `request.amount`; replays with the same key return the original
    /// outcome without charging again, as long as the provider remembers the
    /// key. A replay after that makes a second charge: callers that may be
    /// re-sending look the order up first ([`Self::find_charges`]).
    fn charge(
        &self,
        request: &ChargeRequest,
    ) -> impl Future<Output = Result<ChargeOutcome, PortError>> + Send;

    /// Refunds a charge in full; replays with the same key return the original
    /// refund without refunding again. A charge already refunded (under a
    /// forgotten key, or another one) is refused with `PortError::Rejected`
    /// (Stripe: `charge_already_refunded`), never refunded twice.
    fn refund(
        &self,
        request: &RefundRequest,
    ) -> impl Future<Output = Result<RefundReceipt, PortError>> + Send;

    /// Reconciles a charge whose outcome is unknown: finds the order's
    /// charges by their metadata and reports a completed one, else cancels
    /// so that no later charge under the same key can capture. Idempotent.
    fn cancel(
        &self,
        request: &CancelRequest,
    ) -> impl Future<Output = Result<CancelOutcome, PortError>> + Send;

    /// Every charge the provider holds for `order_id` (by the charge's
    /// metadata, not its idempotency key), oldest first, each with its
    /// refund. Stripe: search PaymentIntents by `metadata['orderId']`. Its
    /// search index lags writes by up to a minute, which is why the key
    /// stays the guard for fast retries and this lookup the guard for late
    /// ones (after the key's retention period).
    fn find_charges(
        &self,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<Vec<ProviderCharge>, PortError>> + Send;
}
