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
//! The ledger is modelled as Stripe keeps it. Every charge is its own
//! record with its own id (`ch_sim_<orderId>_<n>`, the order's n-th charge)
//! and the order id as metadata; refunds (`re_sim_<orderId>_<n>`, in full,
//! one per charge) hang off the charge. Apart from the ledger, an
//! idempotency-key cache maps each key to its first request and answer: a
//! replay with the same key returns that answer and charges nothing more,
//! and the same key with other parameters is refused. The cache is what a
//! provider forgets after its retention period (Stripe: about 24 hours);
//! [`SimulatedPaymentProvider::forget_idempotency_keys`] empties it while
//! charges and refunds stay. After that, a charge under an old key is a new
//! charge, which is why callers look an order up by its metadata
//! ([`PaymentProvider::find_charges`]) before they re-send; a second refund
//! of a charge is refused however it is keyed (`charge_already_refunded`).
//!
//! A cancel (the refund step reconciling a charge left PENDING) looks the
//! order up by metadata too: it reports a captured or declined charge, else
//! records a canceled charge for the order and spends the key, so a later
//! charge under it is declined `payment_intent_canceled` (as Stripe refuses
//! to confirm a canceled PaymentIntent), for as long as the key is
//! remembered.
//!
//! The ledger is per process, so the functions share one only where they
//! share a process ([`SimulatedPaymentProvider::shared`]: the local cloud);
//! deployed, each Lambda's simulation knows only its own charges, which is
//! one more reason it serves demos and tests only. The counters
//! (`charges_made`, `refunds_made`, `captured_charges`) let tests prove a
//! step never charges or refunds twice.
//!
//! For fault campaigns, [`SimulatedPaymentProvider::lose_next_answers`]
//! makes the next calls take effect and then fail as a dropped connection
//! does: the caller cannot tell whether the money moved.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::PortError;
use crate::ids::{OrderId, PaymentMethod};
use crate::money::Money;
use crate::ports::{
    CancelOutcome, CancelRequest, ChargeOutcome, ChargeRequest, PaymentProvider, ProviderCharge,
    ProviderChargeState, RefundReceipt, RefundRequest,
};

const CHARGE_PREFIX: &str = "ch_sim_";
const REFUND_PREFIX: &str = "re_sim_";

/// The deterministic simulated provider. See the module docs for behaviour.
#[derive(Debug, Default)]
pub struct SimulatedPaymentProvider {
    ledger: Mutex<Ledger>,
    /// Answers still to lose (see [`SimulatedPaymentProvider::lose_next_answers`]).
    answers_to_lose: AtomicU32,
    /// Lost answers after which the keys are forgotten too (see
    /// [`SimulatedPaymentProvider::lose_next_answer_and_forget_keys`]).
    forgets_after_lost_answer: AtomicU32,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Every charge, oldest first; never forgotten.
    charges: Vec<LedgerCharge>,
    /// Refund ids by the id of the charge they refund. A charge another
    /// process made (deployed, the charge Lambda's) is refundable too, so
    /// this is not part of [`LedgerCharge`].
    refunds: HashMap<String, String>,
    /// The idempotency-key cache: each key's first request and answer.
    /// What retention expiry empties.
    keys: HashMap<String, Remembered>,
}

#[derive(Debug, Clone)]
struct LedgerCharge {
    id: String,
    /// The metadata the charge was made with.
    order_id: OrderId,
    amount: Money,
    state: ProviderChargeState,
}

/// What the key cache remembers of a key's first request.
#[derive(Debug, Clone)]
enum Remembered {
    Charge {
        amount: Money,
        payment_method: PaymentMethod,
        outcome: ChargeOutcome,
    },
    Refund {
        provider_reference: String,
        receipt: RefundReceipt,
    },
    /// A cancel spent the key before any charge was made under it.
    Cancel,
}

/// The ledger's account of one order, as a provider's dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    /// How many charges for the order were captured: more than one is a
    /// double charge.
    pub captures: usize,
    /// The amount captured over all those charges, in minor units, if any
    /// was captured.
    pub captured_minor: Option<i64>,
    /// The amount refunded, in minor units (refunds are in full).
    pub refunded_minor: i64,
    /// A charge was declined.
    pub declined: bool,
    /// Something was captured and every capture was refunded.
    pub refunded: bool,
    /// A cancel found nothing captured and canceled the order's charge.
    pub cancelled: bool,
}

impl Statement {
    /// Money the customer is out of pocket, in minor units.
    pub fn net_minor(&self) -> i64 {
        self.captured_minor.unwrap_or(0) - self.refunded_minor
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

impl Ledger {
    fn charges_for<'a>(&'a self, order_id: &'a str) -> impl Iterator<Item = &'a LedgerCharge> {
        self.charges
            .iter()
            .filter(move |charge| charge.order_id.as_str() == order_id)
    }

    /// Records a new charge for the order and returns its id: the order's
    /// n-th charge is `ch_sim_<orderId>_<n>`, unique in this ledger.
    fn add_charge(
        &mut self,
        order_id: &OrderId,
        amount: Money,
        state: ProviderChargeState,
    ) -> String {
        let n = self.charges_for(order_id.as_str()).count() + 1;
        let id = format!("{CHARGE_PREFIX}{order_id}_{n}");
        self.charges.push(LedgerCharge {
            id: id.clone(),
            order_id: order_id.clone(),
            amount,
            state,
        });
        id
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
        // half-updated (every change is made under one lock, and nothing in
        // it panics), so keep going.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Charges made (captured or declined) for the order `order_id`: more
    /// than one means the order was charged again.
    pub fn charges_made(&self, order_id: &str) -> usize {
        self.ledger()
            .charges_for(order_id)
            .filter(|charge| charge.state != ProviderChargeState::Canceled)
            .count()
    }

    /// Charges captured across all orders.
    pub fn captured_charges(&self) -> usize {
        self.ledger()
            .charges
            .iter()
            .filter(|charge| charge.state == ProviderChargeState::Captured)
            .count()
    }

    /// Refunds made of the charge `provider_reference`: 0 or 1.
    pub fn refunds_made(&self, provider_reference: &str) -> usize {
        usize::from(self.ledger().refunds.contains_key(provider_reference))
    }

    /// What the ledger holds for the order `order_id`, over all its charges:
    /// what a campaign checks "no double charge" against.
    pub fn statement(&self, order_id: &str) -> Statement {
        let ledger = self.ledger();
        let mut statement = Statement {
            captures: 0,
            captured_minor: None,
            refunded_minor: 0,
            declined: false,
            refunded: false,
            cancelled: false,
        };
        let mut unrefunded = 0;
        for charge in ledger.charges_for(order_id) {
            match charge.state {
                ProviderChargeState::Captured => {
                    let amount = charge.amount.amount_minor();
                    statement.captures += 1;
                    *statement.captured_minor.get_or_insert(0) += amount;
                    if ledger.refunds.contains_key(&charge.id) {
                        statement.refunded_minor += amount;
                    } else {
                        unrefunded += 1;
                    }
                }
                ProviderChargeState::Declined { .. } => statement.declined = true,
                ProviderChargeState::Canceled => statement.cancelled = true,
            }
        }
        statement.refunded = statement.captures > 0 && unrefunded == 0;
        statement
    }

    /// Loses the answers of the next `count` calls that act (charge, refund
    /// or cancel; a lookup acts on nothing and is answered): each call takes
    /// effect in the ledger, then its caller gets a provider error, as when
    /// the connection drops after the provider acted. Fault injection for
    /// the local cloud's campaigns.
    pub fn lose_next_answers(&self, count: u32) {
        self.answers_to_lose.fetch_add(count, Ordering::SeqCst);
    }

    /// Forgets every idempotency key, as the provider does once a key's
    /// retention period is over (Stripe: about 24 hours); charges and
    /// refunds stay in the ledger. A charge under a forgotten key is a new
    /// charge. Fault injection for the local cloud's campaigns.
    pub fn forget_idempotency_keys(&self) {
        self.ledger().keys.clear();
    }

    /// Loses the answer of the next call (it takes effect, its caller gets a
    /// provider error), then forgets every idempotency key: what a retry
    /// meets when it comes after the key's retention period (a redrive two
    /// weeks after a lost capture). Without a lookup before re-sending, the
    /// retry charges again. Fault injection for the local cloud's campaigns.
    pub fn lose_next_answer_and_forget_keys(&self) {
        self.forgets_after_lost_answer
            .fetch_add(1, Ordering::SeqCst);
        self.lose_next_answers(1);
    }

    /// `answer`, unless an answer is due to be lost.
    fn answer<T>(&self, operation: &'static str, answer: T) -> Result<T, PortError> {
        let take = |counter: &AtomicU32| {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
        };
        let lose = take(&self.answers_to_lose);
        if lose && take(&self.forgets_after_lost_answer) {
            self.forget_idempotency_keys();
        }
        if lose {
            return Err(PortError::unavailable(
                operation,
                "simulated provider: the connection dropped after the provider acted (answer lost)",
            ));
        }
        Ok(answer)
    }

    fn charge_now(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let mut ledger = self.ledger();
        match ledger.keys.get(&request.idempotency_key) {
            Some(Remembered::Charge {
                amount,
                payment_method,
                outcome,
            }) => {
                if *amount != request.amount || *payment_method != request.payment_method {
                    return Err(PortError::rejected(
                        "charge",
                        format!(
                            "idempotency key {} was used with different parameters",
                            request.idempotency_key
                        ),
                    ));
                }
                return Ok(outcome.clone());
            }
            Some(Remembered::Cancel) => {
                return Ok(ChargeOutcome::Declined {
                    code: "payment_intent_canceled".to_owned(),
                });
            }
            Some(Remembered::Refund { .. }) => {
                return Err(PortError::rejected(
                    "charge",
                    format!(
                        "idempotency key {} was used for a refund",
                        request.idempotency_key
                    ),
                ));
            }
            None => {}
        }
        let (state, code) = match behaviour_of(&request.payment_method) {
            SimulatedBehaviour::Capture => (ProviderChargeState::Captured, None),
            SimulatedBehaviour::Decline(code) => (
                ProviderChargeState::Declined {
                    code: code.to_owned(),
                },
                Some(code),
            ),
            SimulatedBehaviour::FailTransiently => {
                return Err(PortError::unavailable(
                    "charge",
                    "simulated provider error 503 for pm_card_transientFailure",
                ));
            }
        };
        let id = ledger.add_charge(&request.order_id, request.amount, state);
        let outcome = match code {
            None => ChargeOutcome::Captured {
                provider_reference: id,
            },
            Some(code) => ChargeOutcome::Declined {
                code: code.to_owned(),
            },
        };
        ledger.keys.insert(
            request.idempotency_key.clone(),
            Remembered::Charge {
                amount: request.amount,
                payment_method: request.payment_method.clone(),
                outcome: outcome.clone(),
            },
        );
        Ok(outcome)
    }

    fn refund_now(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        let mut ledger = self.ledger();
        match ledger.keys.get(&request.idempotency_key) {
            Some(Remembered::Refund {
                provider_reference,
                receipt,
            }) => {
                if *provider_reference != request.provider_reference {
                    return Err(PortError::rejected(
                        "refund",
                        format!(
                            "idempotency key {} was used for another charge",
                            request.idempotency_key
                        ),
                    ));
                }
                return Ok(receipt.clone());
            }
            Some(Remembered::Charge { .. } | Remembered::Cancel) => {
                return Err(PortError::rejected(
                    "refund",
                    format!(
                        "idempotency key {} was used for a charge",
                        request.idempotency_key
                    ),
                ));
            }
            None => {}
        }
        // The charge may have been made by another process (the charge
        // Lambda), so any reference this provider could have issued is
        // accepted; one this ledger holds must have been captured.
        let Some(charge_suffix) = request.provider_reference.strip_prefix(CHARGE_PREFIX) else {
            return Err(PortError::rejected(
                "refund",
                format!("no such charge: {}", request.provider_reference),
            ));
        };
        let known = ledger
            .charges
            .iter()
            .find(|charge| charge.id == request.provider_reference);
        if let Some(charge) = known
            && charge.state != ProviderChargeState::Captured
        {
            return Err(PortError::rejected(
                "refund",
                format!(
                    "charge {} was not captured: nothing to refund",
                    request.provider_reference
                ),
            ));
        }
        // However the refund is keyed, a charge gives back its money once.
        if ledger.refunds.contains_key(&request.provider_reference) {
            return Err(PortError::rejected(
                "refund",
                format!(
                    "charge_already_refunded: charge {} has already been refunded",
                    request.provider_reference
                ),
            ));
        }
        let receipt = RefundReceipt {
            refund_reference: format!("{REFUND_PREFIX}{charge_suffix}"),
        };
        ledger.refunds.insert(
            request.provider_reference.clone(),
            receipt.refund_reference.clone(),
        );
        ledger.keys.insert(
            request.idempotency_key.clone(),
            Remembered::Refund {
                provider_reference: request.provider_reference.clone(),
                receipt: receipt.clone(),
            },
        );
        Ok(receipt)
    }

    fn cancel_now(&self, request: &CancelRequest) -> CancelOutcome {
        let mut ledger = self.ledger();
        let order_id = request.order_id.as_str();
        // By metadata, not by key: a capture whose key is forgotten is still
        // found. A capture outranks a decline (a re-sent charge may have
        // captured after an earlier one was declined).
        if let Some(captured) = ledger
            .charges_for(order_id)
            .find(|charge| charge.state == ProviderChargeState::Captured)
        {
            return CancelOutcome::Captured {
                provider_reference: captured.id.clone(),
            };
        }
        let declined = ledger
            .charges_for(order_id)
            .find_map(|charge| match &charge.state {
                ProviderChargeState::Declined { code } => Some(code.clone()),
                _ => None,
            });
        if let Some(code) = declined {
            return CancelOutcome::Declined { code };
        }
        let already_canceled = ledger
            .charges_for(order_id)
            .any(|charge| charge.state == ProviderChargeState::Canceled);
        if !already_canceled {
            ledger.add_charge(
                &request.order_id,
                request.amount,
                ProviderChargeState::Canceled,
            );
            ledger
                .keys
                .insert(request.idempotency_key.clone(), Remembered::Cancel);
        }
        CancelOutcome::Cancelled
    }

    fn find_charges_now(&self, order_id: &OrderId) -> Vec<ProviderCharge> {
        let ledger = self.ledger();
        ledger
            .charges_for(order_id.as_str())
            .map(|charge| ProviderCharge {
                provider_reference: charge.id.clone(),
                amount: charge.amount,
                state: charge.state.clone(),
                refund_reference: ledger.refunds.get(&charge.id).cloned(),
            })
            .collect()
    }
}

/// The client span of one call to the simulated provider, as the Stripe
/// adapter opens one per call to Stripe: the provider shows in the trace.
fn provider_span(operation: &'static str) -> tracing::Span {
    tracing::info_span!(
        "SimulatedProvider",
        otel.name = format!("SimulatedProvider.{operation}"),
        otel.kind = "client",
        rpc.system = "simulated",
        rpc.method = operation,
    )
}

impl PaymentProvider for SimulatedPaymentProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let span = provider_span("charge");
        let _entered = span.enter();
        let outcome = self.charge_now(request)?;
        self.answer("charge", outcome)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        let span = provider_span("refund");
        let _entered = span.enter();
        let receipt = self.refund_now(request)?;
        self.answer("refund", receipt)
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PortError> {
        let span = provider_span("cancel");
        let _entered = span.enter();
        let outcome = self.cancel_now(request);
        self.answer("cancel", outcome)
    }

    async fn find_charges(&self, order_id: &OrderId) -> Result<Vec<ProviderCharge>, PortError> {
        Ok(self.find_charges_now(order_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(amount: i64) -> Money {
        Money::new(amount, "EUR".parse().unwrap()).unwrap()
    }

    /// A charge for the order `key` under the key `key`, as the charge step
    /// sends it.
    fn request(key: &str, method: &str, amount: i64) -> ChargeRequest {
        ChargeRequest {
            order_id: key.parse().unwrap(),
            idempotency_key: key.to_owned(),
            amount: eur(amount),
            payment_method: method.parse().unwrap(),
        }
    }

    fn refund(key: &str, reference: &str, amount: i64) -> RefundRequest {
        RefundRequest {
            idempotency_key: key.to_owned(),
            provider_reference: reference.to_owned(),
            amount: eur(amount),
        }
    }

    fn cancel(key: &str, method: &str) -> CancelRequest {
        let charge = request(key, method, 100);
        CancelRequest {
            order_id: charge.order_id,
            idempotency_key: charge.idempotency_key,
            amount: charge.amount,
            payment_method: charge.payment_method,
        }
    }

    fn captured(reference: &str) -> ChargeOutcome {
        ChargeOutcome::Captured {
            provider_reference: reference.to_owned(),
        }
    }

    async fn capture(provider: &SimulatedPaymentProvider, key: &str, amount: i64) -> String {
        match provider
            .charge(&request(key, "pm_card_visa", amount))
            .await
            .unwrap()
        {
            ChargeOutcome::Captured { provider_reference } => provider_reference,
            declined => panic!("visa must capture: {declined:?}"),
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
    async fn each_charge_has_its_own_id_and_carries_its_order_as_metadata() {
        let provider = SimulatedPaymentProvider::new();
        let first = capture(&provider, "ord-1", 100).await;
        let other_order = capture(&provider, "ord-2", 100).await;
        assert_eq!(first, "ch_sim_ord-1_1");
        assert_eq!(other_order, "ch_sim_ord-2_1");
        // The same order charged under another key is another charge.
        let mut again = request("ord-1", "pm_card_visa", 100);
        again.idempotency_key = "ord-1-again".to_owned();
        assert_eq!(
            provider.charge(&again).await.unwrap(),
            captured("ch_sim_ord-1_2")
        );
        let found = provider.find_charges(&"ord-1".parse().unwrap()).await;
        let found: Vec<(String, ProviderChargeState)> = found
            .unwrap()
            .into_iter()
            .map(|charge| (charge.provider_reference, charge.state))
            .collect();
        assert_eq!(
            found,
            [
                ("ch_sim_ord-1_1".to_owned(), ProviderChargeState::Captured),
                ("ch_sim_ord-1_2".to_owned(), ProviderChargeState::Captured),
            ]
        );
        assert_eq!(provider.charges_made("ord-1"), 2);
        assert!(
            provider
                .find_charges(&"ord-never".parse().unwrap())
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_charge_under_a_forgotten_key_is_a_new_charge() {
        let provider = SimulatedPaymentProvider::new();
        let first = capture(&provider, "ord-f", 1500).await;
        provider.forget_idempotency_keys();
        let second = capture(&provider, "ord-f", 1500).await;
        assert_ne!(first, second, "the provider does not know the key any more");
        assert_eq!(provider.charges_made("ord-f"), 2);
        let statement = provider.statement("ord-f");
        assert_eq!(statement.captures, 2);
        assert_eq!(statement.captured_minor, Some(3000));
        assert_eq!(statement.net_minor(), 3000);
        // The new charge is remembered under the key from now on.
        assert_eq!(
            provider
                .charge(&request("ord-f", "pm_card_visa", 1500))
                .await
                .unwrap(),
            captured(&second)
        );
    }

    #[tokio::test]
    async fn a_lost_answer_then_forgotten_keys_makes_the_retry_a_new_charge() {
        let provider = SimulatedPaymentProvider::new();
        provider.lose_next_answer_and_forget_keys();
        let lost = provider
            .charge(&request("ord-l", "pm_card_visa", 900))
            .await;
        assert!(lost.is_err(), "the answer is lost: {lost:?}");
        assert_eq!(provider.charges_made("ord-l"), 1, "but the charge was made");
        // The retry, past the keys' retention: a second charge.
        provider
            .charge(&request("ord-l", "pm_card_visa", 900))
            .await
            .unwrap();
        assert_eq!(provider.statement("ord-l").captures, 2);
        // Only the first lost answer forgets; later calls answer normally.
        provider
            .charge(&request("ord-l2", "pm_card_visa", 900))
            .await
            .unwrap();
        assert_eq!(
            provider
                .charge(&request("ord-l2", "pm_card_visa", 900))
                .await
                .unwrap(),
            provider
                .charge(&request("ord-l2", "pm_card_visa", 900))
                .await
                .unwrap()
        );
        assert_eq!(provider.statement("ord-l2").captures, 1);
    }

    #[tokio::test]
    async fn a_refund_replayed_under_a_forgotten_key_is_refused_not_repeated() {
        let provider = SimulatedPaymentProvider::new();
        let charge = capture(&provider, "ord-r", 700).await;
        let receipt = provider
            .refund(&refund("refund-ord-r", &charge, 700))
            .await
            .unwrap();
        assert_eq!(receipt.refund_reference, "re_sim_ord-r_1");
        provider.forget_idempotency_keys();
        let replay = provider.refund(&refund("refund-ord-r", &charge, 700)).await;
        assert!(
            matches!(&replay, Err(PortError::Rejected { detail, .. }) if detail.starts_with("charge_already_refunded")),
            "{replay:?}"
        );
        assert_eq!(provider.refunds_made(&charge), 1);
        let found = provider
            .find_charges(&"ord-r".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            found[0].refund_reference.as_deref(),
            Some("re_sim_ord-r_1"),
            "the refund is found by the charge's metadata"
        );
        assert_eq!(provider.statement("ord-r").net_minor(), 0);
    }

    #[tokio::test]
    async fn statements_show_captures_refunds_declines_and_cancels_per_order() {
        let provider = SimulatedPaymentProvider::new();
        capture(&provider, "ord-paid", 1500).await;
        let back = capture(&provider, "ord-back", 700).await;
        provider
            .refund(&refund("refund-ord-back", &back, 700))
            .await
            .unwrap();
        provider
            .charge(&request("ord-no", "pm_card_chargeDeclined", 900))
            .await
            .unwrap();
        provider
            .cancel(&cancel("ord-off", "pm_card_visa"))
            .await
            .unwrap();
        let paid = provider.statement("ord-paid");
        assert_eq!((paid.captures, paid.captured_minor), (1, Some(1500)));
        assert_eq!(paid.net_minor(), 1500);
        let back = provider.statement("ord-back");
        assert!(back.refunded);
        assert_eq!(back.refunded_minor, 700);
        assert_eq!(back.net_minor(), 0);
        let declined = provider.statement("ord-no");
        assert!(declined.declined && declined.captured_minor.is_none());
        assert!(provider.statement("ord-off").cancelled);
        assert_eq!(
            provider.statement("ord-never"),
            Statement {
                captures: 0,
                captured_minor: None,
                refunded_minor: 0,
                declined: false,
                refunded: false,
                cancelled: false,
            }
        );
        let json = serde_json::to_value(provider.statement("ord-paid")).unwrap();
        assert_eq!(json["captures"], 1);
        assert_eq!(json["capturedMinor"], 1500);
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
        assert_eq!(replay, captured("ch_sim_ord-lost_1"));
        assert_eq!(provider.captured_charges(), 1, "charged once");
    }

    #[tokio::test]
    async fn a_lookup_does_not_use_up_a_lost_answer() {
        let provider = SimulatedPaymentProvider::new();
        provider.lose_next_answers(1);
        let order: OrderId = "ord-l".parse().unwrap();
        assert!(provider.find_charges(&order).await.unwrap().is_empty());
        let lost = provider
            .charge(&request("ord-l", "pm_card_visa", 100))
            .await;
        assert!(
            matches!(lost, Err(PortError::Unavailable { .. })),
            "{lost:?}"
        );
    }

    #[tokio::test]
    async fn cancel_reports_a_known_charge_and_spends_an_unknown_key() {
        let provider = SimulatedPaymentProvider::new();
        let charge = capture(&provider, "ord-c", 100).await;
        assert_eq!(
            provider
                .cancel(&cancel("ord-c", "pm_card_visa"))
                .await
                .unwrap(),
            CancelOutcome::Captured {
                provider_reference: charge
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
        let found = provider
            .find_charges(&"ord-n".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "one canceled charge: {found:?}");
        assert_eq!(found[0].state, ProviderChargeState::Canceled);
    }

    #[tokio::test]
    async fn cancel_finds_a_capture_by_its_order_after_the_key_is_forgotten() {
        let provider = SimulatedPaymentProvider::new();
        let charge = capture(&provider, "ord-k", 100).await;
        provider
            .charge(&request("ord-d", "pm_card_chargeDeclined", 100))
            .await
            .unwrap();
        provider.forget_idempotency_keys();
        assert_eq!(
            provider
                .cancel(&cancel("ord-k", "pm_card_visa"))
                .await
                .unwrap(),
            CancelOutcome::Captured {
                provider_reference: charge
            }
        );
        assert_eq!(
            provider
                .cancel(&cancel("ord-d", "pm_card_chargeDeclined"))
                .await
                .unwrap(),
            CancelOutcome::Declined {
                code: "card_declined".to_owned()
            }
        );
        assert!(!provider.statement("ord-k").cancelled);
    }

    #[tokio::test]
    async fn refunds_once_per_charge() {
        let provider = SimulatedPaymentProvider::new();
        let first = provider
            .refund(&refund("refund-a", "ch_sim_a_1", 100))
            .await
            .unwrap();
        let again = provider
            .refund(&refund("refund-a", "ch_sim_a_1", 100))
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(provider.refunds_made("ch_sim_a_1"), 1);
        let other_key = provider
            .refund(&refund("refund-b", "ch_sim_a_1", 100))
            .await;
        assert!(matches!(other_key, Err(PortError::Rejected { .. })));
        let unknown = provider.refund(&refund("refund-c", "ch_other", 100)).await;
        assert!(matches!(unknown, Err(PortError::Rejected { .. })));
        provider
            .charge(&request("ord-x", "pm_card_chargeDeclined", 100))
            .await
            .unwrap();
        let declined = provider
            .refund(&refund("refund-ord-x", "ch_sim_ord-x_1", 100))
            .await;
        assert!(
            matches!(declined, Err(PortError::Rejected { .. })),
            "{declined:?}"
        );
    }
}
