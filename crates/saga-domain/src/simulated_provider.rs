//! The payment provider the system ships with until a real one is wired in:
//! a deterministic simulation of Stripe's test payment methods.
//!
//! | payment method | charge |
//! |---|---|
//! | `pm_card_visa`, `pm_card_mastercard`, `pm_card_amex` | captured |
//! | `pm_card_chargeDeclined` | declined, `card_declined` |
//! | `pm_card_chargeDeclinedInsufficientFunds` | declined, `insufficient_funds` |
//! | `pm_card_transientFailure` | fails transiently, every time (a provider 5xx) |
//! | anything else | declined, `unknown_payment_method` (Stripe answers an unknown method with `resource_missing`; for the saga that is a decline the customer can fix, not an outage) |
//!
//! Idempotency works as Stripe's: a charge replayed with the same key returns
//! the original outcome and charges nothing more; the same key with another
//! amount or method is refused. References are derived from the key
//! (`ch_sim_<key>`, `re_sim_<key>`), so they agree across Lambda instances.
//! The counters (`charges_made`, `refunds_made`) are per process: they let
//! tests prove a step never charges twice.
//!
//! A cancel (the refund step reconciling a charge left PENDING) reports a
//! charge this ledger holds, else cancels the key: a later charge under it
//! is declined `payment_intent_canceled`, as Stripe refuses to confirm a
//! canceled PaymentIntent. The ledger is per process, so the functions share
//! one only where they share a process ([`SimulatedPaymentProvider::shared`]:
//! the local cloud); deployed, each Lambda's simulation knows only its own
//! charges, which is one more reason it serves demos and tests only.
//!
//! For fault campaigns, [`SimulatedPaymentProvider::lose_next_answers`]
//! makes the next calls take effect and then fail as a dropped connection
//! does: the caller cannot tell whether the money moved.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::PortError;
use crate::ids::PaymentMethod;
use crate::money::Money;
use crate::ports::{
    CancelOutcome, CancelRequest, ChargeOutcome, ChargeRequest, PaymentProvider, RefundReceipt,
    RefundRequest,
};

const CHARGE_PREFIX: &str = "ch_sim_";
const REFUND_PREFIX: &str = "re_sim_";

/// The deterministic simulated provider. See the module docs for behaviour.
#[derive(Debug, Default)]
pub struct SimulatedPaymentProvider {
    ledger: Mutex<Ledger>,
    /// Answers still to lose (see [`SimulatedPaymentProvider::lose_next_answers`]).
    answers_to_lose: AtomicU32,
}

#[derive(Debug, Default)]
struct Ledger {
    charges: HashMap<String, RecordedCharge>,
    refunds: HashMap<String, RecordedRefund>,
    refunded_charges: HashSet<String>,
    cancelled: HashSet<String>,
}

#[derive(Debug, Clone)]
struct RecordedCharge {
    amount: Money,
    payment_method: PaymentMethod,
    outcome: ChargeOutcome,
}

#[derive(Debug, Clone)]
struct RecordedRefund {
    provider_reference: String,
    receipt: RefundReceipt,
}

/// The ledger's account of one charge key, as a provider's dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// The amount captured, in minor units, if the charge was captured.
    pub captured_minor: Option<i64>,
    /// The charge was declined.
    pub declined: bool,
    /// The capture was refunded (in full: the only refund there is).
    pub refunded: bool,
    /// The key was cancelled before any charge under it.
    pub cancelled: bool,
}

impl Statement {
    /// Money the customer is out of pocket, in minor units.
    pub fn net_minor(&self) -> i64 {
        match self.captured_minor {
            Some(amount) if !self.refunded => amount,
            _ => 0,
        }
    }
}

/// What the simulated provider does with a payment method.
enum SimulatedBehaviour {
    Capture,
    Decline(&'static str),
    FailTransiently,
}

fn behaviour_of(method: &PaymentMethod) -> SimulatedBehaviour {
    match method.as_str() {
        "pm_card_visa" | "pm_card_mastercard" | "pm_card_amex" => SimulatedBehaviour::Capture,
        "pm_card_chargeDeclined" => SimulatedBehaviour::Decline("card_declined"),
        "pm_card_chargeDeclinedInsufficientFunds" => {
            SimulatedBehaviour::Decline("insufficient_funds")
        }
        "pm_card_transientFailure" => SimulatedBehaviour::FailTransiently,
        _ => SimulatedBehaviour::Decline("unknown_payment_method"),
    }
}

impl SimulatedPaymentProvider {
    /// A provider with an empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process's one provider, so every function of the process (the
    /// charge and the refund in the local cloud) sees the same ledger, as
    /// they would see the same real provider.
    pub fn shared() -> &'static SimulatedPaymentProvider {
        static SHARED: std::sync::OnceLock<SimulatedPaymentProvider> = std::sync::OnceLock::new();
        SHARED.get_or_init(SimulatedPaymentProvider::new)
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic elsewhere while holding the lock cannot leave the ledger
        // half-updated (every update is a single insert), so keep going.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Charges made (captured or declined) under `idempotency_key`: 0 or 1.
    pub fn charges_made(&self, idempotency_key: &str) -> usize {
        usize::from(self.ledger().charges.contains_key(idempotency_key))
    }

    /// Charges captured across all keys.
    pub fn captured_charges(&self) -> usize {
        self.ledger()
            .charges
            .values()
            .filter(|charge| matches!(charge.outcome, ChargeOutcome::Captured { .. }))
            .count()
    }

    /// What the ledger holds under the charge key `idempotency_key` (the
    /// order id): what a campaign checks "no double charge" against.
    pub fn statement(&self, idempotency_key: &str) -> Statement {
        let ledger = self.ledger();
        let charge = ledger.charges.get(idempotency_key);
        let captured_minor = charge.and_then(|charge| match charge.outcome {
            ChargeOutcome::Captured { .. } => Some(charge.amount.amount_minor()),
            ChargeOutcome::Declined { .. } => None,
        });
        let reference = format!("{CHARGE_PREFIX}{idempotency_key}");
        Statement {
            captured_minor,
            declined: charge.is_some_and(|c| matches!(c.outcome, ChargeOutcome::Declined { .. })),
            refunded: ledger.refunded_charges.contains(&reference),
            cancelled: ledger.cancelled.contains(idempotency_key),
        }
    }

    /// Loses the answers of the next `count` calls (charge, refund or
    /// cancel): each call takes effect in the ledger, then its caller gets
    /// a provider error, as when the connection drops after the provider
    /// acted. Fault injection for the local cloud's campaigns.
    pub fn lose_next_answers(&self, count: u32) {
        self.answers_to_lose.fetch_add(count, Ordering::SeqCst);
    }

    /// `answer`, unless an answer is due to be lost.
    fn answer<T>(&self, operation: &'static str, answer: T) -> Result<T, PortError> {
        let lose = self
            .answers_to_lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if lose {
            return Err(PortError::unavailable(
                operation,
                "simulated provider: the connection dropped after the provider acted (answer lost)",
            ));
        }
        Ok(answer)
    }

    /// Refunds made for the charge `provider_reference`: 0 or 1.
    pub fn refunds_made(&self, provider_reference: &str) -> usize {
        usize::from(self.ledger().refunded_charges.contains(provider_reference))
    }

    fn charge_now(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let mut ledger = self.ledger();
        if let Some(original) = ledger.charges.get(&request.idempotency_key) {
            if original.amount != request.amount
                || original.payment_method != request.payment_method
            {
                return Err(PortError::rejected(
                    "charge",
                    format!(
                        "idempotency key {} was used with different parameters",
                        request.idempotency_key
                    ),
                ));
            }
            return Ok(original.outcome.clone());
        }
        if ledger.cancelled.contains(&request.idempotency_key) {
            return Ok(ChargeOutcome::Declined {
                code: "payment_intent_canceled".to_owned(),
            });
        }
        let outcome = match behaviour_of(&request.payment_method) {
            SimulatedBehaviour::Capture => ChargeOutcome::Captured {
                provider_reference: format!("{CHARGE_PREFIX}{}", request.idempotency_key),
            },
            SimulatedBehaviour::Decline(code) => ChargeOutcome::Declined {
                code: code.to_owned(),
            },
            SimulatedBehaviour::FailTransiently => {
                return Err(PortError::unavailable(
                    "charge",
                    "simulated provider error 503 for pm_card_transientFailure",
                ));
            }
        };
        ledger.charges.insert(
            request.idempotency_key.clone(),
            RecordedCharge {
                amount: request.amount,
                payment_method: request.payment_method.clone(),
                outcome: outcome.clone(),
            },
        );
        Ok(outcome)
    }

    fn refund_now(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        let mut ledger = self.ledger();
        if let Some(original) = ledger.refunds.get(&request.idempotency_key) {
            if original.provider_reference != request.provider_reference {
                return Err(PortError::rejected(
                    "refund",
                    format!(
                        "idempotency key {} was used for another charge",
                        request.idempotency_key
                    ),
                ));
            }
            return Ok(original.receipt.clone());
        }
        // The charge may have been made by another process (the charge Lambda),
        // so any reference this provider could have issued is accepted.
        if !request.provider_reference.starts_with(CHARGE_PREFIX) {
            return Err(PortError::rejected(
                "refund",
                format!("no such charge: {}", request.provider_reference),
            ));
        }
        if ledger
            .refunded_charges
            .contains(&request.provider_reference)
        {
            return Err(PortError::rejected(
                "refund",
                format!(
                    "charge {} has already been refunded",
                    request.provider_reference
                ),
            ));
        }
        let receipt = RefundReceipt {
            refund_reference: format!("{REFUND_PREFIX}{}", request.idempotency_key),
        };
        ledger
            .refunded_charges
            .insert(request.provider_reference.clone());
        ledger.refunds.insert(
            request.idempotency_key.clone(),
            RecordedRefund {
                provider_reference: request.provider_reference.clone(),
                receipt: receipt.clone(),
            },
        );
        Ok(receipt)
    }
}

impl SimulatedPaymentProvider {
    fn cancel_now(&self, request: &CancelRequest) -> CancelOutcome {
        let mut ledger = self.ledger();
        match ledger.charges.get(&request.idempotency_key) {
            Some(charge) => match &charge.outcome {
                ChargeOutcome::Captured { provider_reference } => CancelOutcome::Captured {
                    provider_reference: provider_reference.clone(),
                },
                ChargeOutcome::Declined { code } => CancelOutcome::Declined { code: code.clone() },
            },
            None => {
                ledger.cancelled.insert(request.idempotency_key.clone());
                CancelOutcome::Cancelled
            }
        }
    }
}

impl PaymentProvider for SimulatedPaymentProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let outcome = self.charge_now(request)?;
        self.answer("charge", outcome)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        let receipt = self.refund_now(request)?;
        self.answer("refund", receipt)
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PortError> {
        let outcome = self.cancel_now(request);
        self.answer("cancel", outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, method: &str, amount: i64) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.to_owned(),
            amount: Money::new(amount, "EUR".parse().unwrap()).unwrap(),
            payment_method: method.parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn methods_behave_like_stripe_test_cards() {
        let provider = SimulatedPaymentProvider::new();
        let cases: &[(&str, Option<&str>)] = &[
            ("pm_card_visa", Some("captured")),
            ("pm_card_mastercard", Some("captured")),
            ("pm_card_chargeDeclined", Some("card_declined")),
            (
                "pm_card_chargeDeclinedInsufficientFunds",
                Some("insufficient_funds"),
            ),
            ("pm_unknown", Some("unknown_payment_method")),
            ("pm_card_transientFailure", None),
        ];
        for (method, expected) in cases {
            let outcome = provider.charge(&request(method, method, 100)).await;
            let got = match &outcome {
                Ok(ChargeOutcome::Captured { .. }) => Some("captured"),
                Ok(ChargeOutcome::Declined { code }) => Some(code.as_str()),
                Err(PortError::Unavailable { .. }) => None,
                Err(other) => panic!("{method}: unexpected {other}"),
            };
            assert_eq!(got, *expected, "{method}");
        }
    }

    #[tokio::test]
    async fn same_key_returns_the_original_charge_and_charges_once() {
        let provider = SimulatedPaymentProvider::new();
        let first = provider
            .charge(&request("ord-1", "pm_card_visa", 100))
            .await;
        let second = provider
            .charge(&request("ord-1", "pm_card_visa", 100))
            .await;
        assert_eq!(first.unwrap(), second.unwrap());
        assert_eq!(provider.charges_made("ord-1"), 1);
        assert_eq!(provider.captured_charges(), 1);
        let conflicting = provider
            .charge(&request("ord-1", "pm_card_visa", 999))
            .await;
        assert!(matches!(conflicting, Err(PortError::Rejected { .. })));
        assert_eq!(provider.charges_made("ord-1"), 1);
    }

    #[tokio::test]
    async fn statements_show_captures_refunds_declines_and_cancels_per_key() {
        let provider = SimulatedPaymentProvider::new();
        provider
            .charge(&request("ord-paid", "pm_card_visa", 1500))
            .await
            .unwrap();
        provider
            .charge(&request("ord-back", "pm_card_visa", 700))
            .await
            .unwrap();
        provider
            .refund(&RefundRequest {
                idempotency_key: "refund-ord-back".to_owned(),
                provider_reference: "ch_sim_ord-back".to_owned(),
                amount: request("ord-back", "pm_card_visa", 700).amount,
            })
            .await
            .unwrap();
        provider
            .charge(&request("ord-no", "pm_card_chargeDeclined", 900))
            .await
            .unwrap();
        let paid = provider.statement("ord-paid");
        assert_eq!(paid.captured_minor, Some(1500));
        assert_eq!(paid.net_minor(), 1500);
        let back = provider.statement("ord-back");
        assert!(back.refunded);
        assert_eq!(back.net_minor(), 0);
        let declined = provider.statement("ord-no");
        assert!(declined.declined && declined.captured_minor.is_none());
        assert_eq!(
            provider.statement("ord-never"),
            Statement {
                captured_minor: None,
                declined: false,
                refunded: false,
                cancelled: false,
            }
        );
    }

    #[tokio::test]
    async fn a_lost_answer_still_takes_effect_and_the_replay_gets_it() {
        let provider = SimulatedPaymentProvider::new();
        provider.lose_next_answers(1);
        let lost = provider
            .charge(&request("ord-lost", "pm_card_visa", 1500))
            .await;
        assert!(
            matches!(lost, Err(PortError::Unavailable { .. })),
            "{lost:?}"
        );
        assert_eq!(provider.statement("ord-lost").captured_minor, Some(1500));
        let replay = provider
            .charge(&request("ord-lost", "pm_card_visa", 1500))
            .await
            .unwrap();
        assert_eq!(
            replay,
            ChargeOutcome::Captured {
                provider_reference: "ch_sim_ord-lost".to_owned()
            }
        );
        assert_eq!(provider.captured_charges(), 1, "charged once");
    }

    #[tokio::test]
    async fn cancel_reports_a_known_charge_and_spends_an_unknown_key() {
        let provider = SimulatedPaymentProvider::new();
        let cancel = |key: &str, method: &str| {
            let charge = request(key, method, 100);
            CancelRequest {
                idempotency_key: charge.idempotency_key,
                amount: charge.amount,
                payment_method: charge.payment_method,
            }
        };
        provider
            .charge(&request("ord-c", "pm_card_visa", 100))
            .await
            .unwrap();
        assert_eq!(
            provider
                .cancel(&cancel("ord-c", "pm_card_visa"))
                .await
                .unwrap(),
            CancelOutcome::Captured {
                provider_reference: "ch_sim_ord-c".to_owned()
            }
        );
        let never_charged = cancel("ord-n", "pm_card_visa");
        assert_eq!(
            provider.cancel(&never_charged).await.unwrap(),
            CancelOutcome::Cancelled
        );
        assert_eq!(
            provider.cancel(&never_charged).await.unwrap(),
            CancelOutcome::Cancelled
        );
        let late = provider
            .charge(&request("ord-n", "pm_card_visa", 100))
            .await
            .unwrap();
        assert_eq!(
            late,
            ChargeOutcome::Declined {
                code: "payment_intent_canceled".to_owned()
            },
            "a charge after the cancel never captures"
        );
        assert_eq!(provider.captured_charges(), 1);
    }

    #[tokio::test]
    async fn refunds_once_per_charge() {
        let provider = SimulatedPaymentProvider::new();
        let amount = Money::new(100, "EUR".parse().unwrap()).unwrap();
        let refund = |key: &str, reference: &str| RefundRequest {
            idempotency_key: key.to_owned(),
            provider_reference: reference.to_owned(),
            amount,
        };
        let first = provider
            .refund(&refund("refund-a", "ch_sim_a"))
            .await
            .unwrap();
        let again = provider
            .refund(&refund("refund-a", "ch_sim_a"))
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(provider.refunds_made("ch_sim_a"), 1);
        let other_key = provider.refund(&refund("refund-b", "ch_sim_a")).await;
        assert!(matches!(other_key, Err(PortError::Rejected { .. })));
        let unknown = provider.refund(&refund("refund-c", "ch_other")).await;
        assert!(matches!(unknown, Err(PortError::Rejected { .. })));
    }
}
