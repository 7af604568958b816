//! The payment port ([`PaymentProvider`]) over Stripe's PaymentIntents API.
//!
//! - **charge**: one `POST /v1/payment_intents` with `confirm=true`, the
//!   order id as `Idempotency-Key` and as `metadata[orderId]`, the amount in
//!   Stripe's minor units ([`stripe_amount`]). The PaymentIntent's id is the
//!   payment's provider reference.
//! - **find_charges**: `GET /v1/payment_intents/search` by
//!   `metadata['orderId']`, and each captured one's refunds
//!   (`GET /v1/refunds?payment_intent=`). Stripe forgets idempotency keys
//!   after about a day and its search index lags writes by up to a minute:
//!   the key guards fast retries, this lookup (which the charge and refund
//!   steps make before any re-send) guards late ones.
//! - **refund**: `POST /v1/refunds` for the PaymentIntent, in full, with its
//!   own idempotency key (`refund-<orderId>`); a charge already refunded is
//!   refused (`charge_already_refunded`), which the refund step looks up.
//! - **cancel**: the lookup (and, when the search finds nothing, the list
//!   of the last ten minutes' PaymentIntents, which does not lag), then
//!   `POST /v1/payment_intents/{id}/cancel` of any PaymentIntent of the
//!   order that could still be confirmed.
//!
//! Errors, as the saga needs them: a card error (HTTP 402) is a decline
//! with Stripe's `decline_code` (else its `code`); rate limits (429), 5xx,
//! idempotency conflicts (`idempotency_error`, 409), network errors and
//! timeouts are `PortError::Unavailable` (retried as `TransientError`, and
//! counted by the circuit breaker); any other refusal (400 invalid request,
//! 401 bad key, 403, 404) is `PortError::Rejected` and logged as an error:
//! a bug or a misconfiguration for someone to fix, never retried into a
//! charge.
//!
//! Every request has a timeout ([`StripeSettings::timeout`], 3 s by default
//! as the seed's breaker), shorter than the function's 10 s. The client is
//! reqwest on rustls with the AWS SDK's crypto provider (aws-lc-rs) and
//! Mozilla's roots compiled in.
//!
//! The secret key comes from a [`KeySource`]: given directly (local runs)
//! or fetched once, on first use, from a secret store (SSM Parameter Store
//! on Lambda; `saga-aws`). It is never logged: [`SecretKey`]'s `Debug`
//! hides it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use saga_domain::ports::{
    CancelOutcome, CancelRequest, ChargeOutcome, ChargeRequest, PaymentProvider, ProviderCharge,
    ProviderChargeState, RefundReceipt, RefundRequest,
};
use saga_domain::{Currency, Money, OrderId, PortError};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;
use tracing::Instrument as _;

mod amount;

pub use amount::stripe_amount;

/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// How far back `cancel` reads the PaymentIntent list when the search
/// finds nothing for the order (the search lags writes by up to a minute).
const RECENT_WINDOW_SECONDS: i64 = 600;
/// At most this many pages of 100 of that list.
const RECENT_PAGES: usize = 10;

/// The API version every request pins, so response shapes do not change
/// under a deployed function when the account's default version moves.
pub const STRIPE_API_VERSION: &str = "2024-06-20";

/// A Stripe secret key. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps `key` (`sk_live_...`, `sk_test_...` or a restricted `rk_...`).
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A future of a fetched secret key.
pub type KeyFuture<'a> = Pin<Box<dyn Future<Output = Result<SecretKey, PortError>> + Send + 'a>>;

/// Fetches the secret key from wherever it is kept.
pub trait KeyFetcher: Send + Sync {
    /// The key; called once per process, on the first provider call.
    fn fetch(&self) -> KeyFuture<'_>;
}

/// Where the secret key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// The key itself (from the environment; local runs).
    Given(SecretKey),
    /// Fetched once, on the first call, then kept for the process's life.
    Fetched(Arc<dyn KeyFetcher>),
}

/// Where Stripe is and how long a call may take.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `https://api.stripe.com`, or a local Stripe-compatible server.
    pub api_base: String,
    /// Per request, connecting included.
    pub timeout: Duration,
}

impl Default for StripeSettings {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            timeout: Duration::from_secs(3),
        }
    }
}

/// The Stripe adapter.
pub struct StripeProvider {
    http: reqwest::Client,
    api_base: String,
    source: KeySource,
    key: OnceCell<SecretKey>,
}

impl fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeProvider")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// Installs aws-lc-rs, the provider the Stripe client and the AWS SDK use,
/// as the process's default rustls provider, unless one is installed.
///
/// reqwest is built without a provider of its own (see this crate's
/// manifest), so a reqwest client made without a TLS config panics with "No
/// provider set" until this has run. The functions never need it; the local
/// cloud, its tools and tests call it before making their clients.
pub fn install_crypto_provider() {
    // An `Err` means a provider is already installed, which is all we need.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Why the adapter cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The HTTP client could not be made (TLS setup).
    #[error("the Stripe HTTP client: {0}")]
    Client(String),
}

impl StripeProvider {
    /// An adapter for `settings` with its key from `source`.
    pub fn new(settings: StripeSettings, source: KeySource) -> Result<Self, BuildError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| BuildError::Client(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("order-saga/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| BuildError::Client(error.to_string()))?;
        Ok(Self {
            http,
            api_base: settings.api_base.trim_end_matches('/').to_owned(),
            source,
            key: OnceCell::new(),
        })
    }

    async fn key(&self, operation: &'static str) -> Result<&SecretKey, PortError> {
        self.key
            .get_or_try_init(|| async {
                match &self.source {
                    KeySource::Given(key) => Ok(key.clone()),
                    KeySource::Fetched(fetcher) => fetcher.fetch().await.map_err(|error| {
                        tracing::error!(operation, %error, "the Stripe secret key cannot be read");
                        error
                    }),
                }
            })
            .await
    }

    async fn request(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
    ) -> Result<RequestBuilder, PortError> {
        let key = self.key(operation).await?;
        Ok(self
            .http
            .request(method, format!("{}{path}", self.api_base))
            .bearer_auth(key.expose())
            .header("Stripe-Version", STRIPE_API_VERSION))
    }

    /// Sends `request` and reads the answer: `Ok` with the status and JSON
    /// body for 2xx and 402, `Err` for everything else, mapped as the
    /// module docs say.
    async fn send(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Value), PortError> {
        let (status, body) = self.answer(operation, request).await?;
        checked(operation, status, body)
    }

    /// Sends `request` and reads any answer with a JSON body; only no
    /// answer (network, timeout) or a body that is not JSON is an error.
    async fn answer(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Value), PortError> {
        // A client span per call to the provider, in the order's trace.
        let span = tracing::info_span!(
            "Stripe",
            otel.name = format!("Stripe.{operation}"),
            otel.kind = "client",
            rpc.system = "stripe",
            rpc.method = operation,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
        );
        let answer = self
            .answer_untraced(operation, request)
            .instrument(span.clone())
            .await;
        match &answer {
            Ok((status, _)) => {
                span.record("http.response.status_code", status.as_u16());
                if status.is_server_error() {
                    saga_telemetry::record_error(&span, status.as_str());
                }
            }
            Err(error) => saga_telemetry::record_error(&span, &error.to_string()),
        }
        answer
    }

    async fn answer_untraced(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Value), PortError> {
        let response = request.send().await.map_err(|error| {
            tracing::warn!(operation, error = %error, "Stripe did not answer");
            PortError::unavailable(operation, error)
        })?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|error| {
            if status.is_success() {
                PortError::unavailable(
                    operation,
                    format!("Stripe's {status} answer was cut: {error}"),
                )
            } else {
                PortError::unavailable(
                    operation,
                    format!("Stripe answered {status} with no JSON body"),
                )
            }
        })?;
        Ok((status, body))
    }

    async fn search(&self, order_id: &OrderId) -> Result<Vec<Intent>, PortError> {
        let operation = "find_charges";
        let query = format!(
            "metadata['orderId']:'{}'",
            order_id.as_str().replace('\\', "\\\\").replace('\'', "\\'")
        );
        let request = self
            .request(operation, Method::GET, "/v1/payment_intents/search")
            .await?
            .query(&[("query", query.as_str()), ("limit", "100")]);
        let (_, body) = self.send(operation, request).await?;
        let page: SearchPage = parse(operation, body)?;
        let mut intents: Vec<Intent> = page.data;
        intents.sort_by_key(|intent| intent.created);
        Ok(intents)
    }

    /// The order's PaymentIntents among those created in the last
    /// [`RECENT_WINDOW_SECONDS`] (`GET /v1/payment_intents`, newest first,
    /// at most [`RECENT_PAGES`] pages of 100), matched by metadata: what
    /// the search may not show yet.
    async fn recent_of(&self, order_id: &OrderId) -> Result<Vec<Intent>, PortError> {
        let operation = "cancel";
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
            });
        let cutoff = now - RECENT_WINDOW_SECONDS;
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..RECENT_PAGES {
            let mut query = vec![("limit", "100".to_owned())];
            if let Some(last) = &after {
                query.push(("starting_after", last.clone()));
            }
            let request = self
                .request(operation, Method::GET, "/v1/payment_intents")
                .await?
                .query(&query);
            let (_, body) = self.send(operation, request).await?;
            let page: ListPage = parse(operation, body)?;
            let mut reached_older = false;
            for intent in page.data {
                reached_older |= intent.created < cutoff;
                after = Some(intent.id.clone());
                if intent.order_id() == Some(order_id.as_str()) {
                    found.push(intent);
                }
            }
            if reached_older || !page.has_more {
                break;
            }
        }
        found.sort_by_key(|intent| intent.created);
        Ok(found)
    }

    async fn refund_of(&self, intent_id: &str) -> Result<Option<String>, PortError> {
        let operation = "find_charges";
        let request = self
            .request(operation, Method::GET, "/v1/refunds")
            .await?
            .query(&[("payment_intent", intent_id), ("limit", "10")]);
        let (_, body) = self.send(operation, request).await?;
        let page: RefundPage = parse(operation, body)?;
        Ok(page
            .data
            .into_iter()
            .find(|refund| {
                matches!(
                    refund.status.as_deref(),
                    Some("succeeded" | "pending") | None
                )
            })
            .map(|refund| refund.id))
    }
}

impl PaymentProvider for StripeProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let operation = "charge";
        let amount = stripe_amount(request.amount).map_err(|detail| {
            tracing::error!(order_id = %request.order_id, %detail, "an amount Stripe cannot charge");
            PortError::rejected(operation, detail)
        })?;
        let form = [
            ("amount", amount.to_string()),
            ("currency", currency_param(request.amount.currency())),
            ("payment_method", request.payment_method.as_str().to_owned()),
            ("payment_method_types[0]", "card".to_owned()),
            ("confirm", "true".to_owned()),
            ("off_session", "true".to_owned()),
            ("metadata[orderId]", request.order_id.as_str().to_owned()),
        ];
        let http = self
            .request(operation, Method::POST, "/v1/payment_intents")
            .await?
            .header("Idempotency-Key", &request.idempotency_key)
            .form(&form);
        let (status, body) = self.answer(operation, http).await?;
        let error = &body["error"];
        // An unknown payment method is the customer's to fix, as the
        // simulated provider has it: a decline, not an outage.
        if error["code"] == "resource_missing" && error["param"] == "payment_method" {
            return Ok(ChargeOutcome::Declined {
                code: "unknown_payment_method".to_owned(),
            });
        }
        let (status, body) = checked(operation, status, body)?;
        if status == StatusCode::PAYMENT_REQUIRED {
            let code = decline_code(&body["error"]);
            tracing::info!(order_id = %request.order_id, %code, "Stripe declined the payment");
            return Ok(ChargeOutcome::Declined { code });
        }
        let intent: Intent = parse(operation, body)?;
        match intent.state() {
            IntentState::Succeeded => Ok(ChargeOutcome::Captured {
                provider_reference: intent.id,
            }),
            IntentState::Failed(code) => Ok(ChargeOutcome::Declined { code }),
            IntentState::Canceled => Ok(ChargeOutcome::Declined {
                code: "payment_intent_canceled".to_owned(),
            }),
            IntentState::NotConfirmed | IntentState::InFlight(_) => Err(PortError::unavailable(
                operation,
                format!(
                    "PaymentIntent {} is {} after confirmation; its outcome is not known yet",
                    intent.id, intent.status
                ),
            )),
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        let operation = "refund";
        let target = if request.provider_reference.starts_with("ch_") {
            "charge"
        } else {
            "payment_intent"
        };
        let form = [(target, request.provider_reference.as_str())];
        let http = self
            .request(operation, Method::POST, "/v1/refunds")
            .await?
            .header("Idempotency-Key", &request.idempotency_key)
            .form(&form);
        let (status, body) = self.send(operation, http).await?;
        if status == StatusCode::PAYMENT_REQUIRED {
            return Err(PortError::rejected(
                operation,
                format!(
                    "Stripe refused the refund: {}",
                    decline_code(&body["error"])
                ),
            ));
        }
        let refund: RefundObject = parse(operation, body)?;
        Ok(RefundReceipt {
            refund_reference: refund.id,
        })
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PortError> {
        let operation = "cancel";
        let mut intents = self.search(&request.order_id).await?;
        if intents.is_empty() {
            // The search index lags writes by up to a minute, and a
            // compensation can follow the charge's last attempt by less:
            // a capture missed here would never be refunded. The list is
            // consistent; its recent pages are read too.
            intents = self.recent_of(&request.order_id).await?;
        }
        if let Some(captured) = intents
            .iter()
            .find(|intent| intent.state() == IntentState::Succeeded)
        {
            return Ok(CancelOutcome::Captured {
                provider_reference: captured.id.clone(),
            });
        }
        if let Some(IntentState::InFlight(status)) = intents
            .iter()
            .map(Intent::state)
            .find(|state| matches!(state, IntentState::InFlight(_)))
        {
            return Err(PortError::unavailable(
                operation,
                format!("a PaymentIntent of the order is {status}; its outcome is not known yet"),
            ));
        }
        let declined = intents.iter().find_map(|intent| match intent.state() {
            IntentState::Failed(code) => Some(code),
            _ => None,
        });
        for intent in intents.iter().filter(|intent| {
            matches!(
                intent.state(),
                IntentState::NotConfirmed | IntentState::Failed(_)
            )
        }) {
            let http = self
                .request(
                    operation,
                    Method::POST,
                    &format!("/v1/payment_intents/{}/cancel", intent.id),
                )
                .await?
                .header("Idempotency-Key", format!("cancel-{}", intent.id));
            self.send(operation, http).await?;
        }
        Ok(match declined {
            Some(code) => CancelOutcome::Declined { code },
            None => CancelOutcome::Cancelled,
        })
    }

    async fn find_charges(&self, order_id: &OrderId) -> Result<Vec<ProviderCharge>, PortError> {
        let operation = "find_charges";
        let mut charges = Vec::new();
        for intent in self.search(order_id).await? {
            let state = match intent.state() {
                IntentState::Succeeded => ProviderChargeState::Captured,
                IntentState::Failed(code) => ProviderChargeState::Declined { code },
                IntentState::Canceled => ProviderChargeState::Canceled,
                IntentState::NotConfirmed => continue,
                IntentState::InFlight(status) => {
                    return Err(PortError::unavailable(
                        operation,
                        format!(
                            "PaymentIntent {} is {status}; its outcome is not known yet",
                            intent.id
                        ),
                    ));
                }
            };
            let refund_reference = if state == ProviderChargeState::Captured {
                self.refund_of(&intent.id).await?
            } else {
                None
            };
            let amount = intent.money().ok_or_else(|| {
                PortError::rejected(
                    operation,
                    format!(
                        "PaymentIntent {} has an amount this system cannot read",
                        intent.id
                    ),
                )
            })?;
            charges.push(ProviderCharge {
                provider_reference: intent.id,
                amount,
                state,
                refund_reference,
            });
        }
        Ok(charges)
    }
}

/// Stripe's lower-case currency parameter.
fn currency_param(currency: Currency) -> String {
    currency.as_str().to_ascii_lowercase()
}

/// The decline code of a card error: `decline_code`, else `code`, else
/// `card_declined`.
fn decline_code(error: &Value) -> String {
    ["decline_code", "code"]
        .into_iter()
        .find_map(|field| error[field].as_str().filter(|code| !code.is_empty()))
        .unwrap_or("card_declined")
        .to_owned()
}

/// A 2xx or 402 answer as it is; any other as the error it means.
fn checked(
    operation: &'static str,
    status: StatusCode,
    body: Value,
) -> Result<(StatusCode, Value), PortError> {
    if status.is_success() || status == StatusCode::PAYMENT_REQUIRED {
        return Ok((status, body));
    }
    Err(error_of(operation, status, &body))
}

/// The port error for a Stripe error answer (not 2xx, not 402).
fn error_of(operation: &'static str, status: StatusCode, body: &Value) -> PortError {
    let error = &body["error"];
    let kind = error["type"].as_str().unwrap_or("unknown");
    let code = error["code"].as_str().unwrap_or("");
    let message = error["message"].as_str().unwrap_or("");
    let param = error["param"].as_str().unwrap_or("");
    let detail = format!(
        "Stripe answered {status}: {kind}{}{}{} {message}",
        if code.is_empty() { "" } else { " " },
        code,
        if param.is_empty() {
            String::new()
        } else {
            format!(" (param {param})")
        },
    );
    let transient = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::CONFLICT
        || status.is_server_error()
        || kind == "idempotency_error"
        || kind == "api_error"
        || code == "lock_timeout"
        || code == "rate_limit";
    if transient {
        tracing::warn!(operation, %detail, "Stripe is unavailable for now");
        PortError::unavailable(operation, detail)
    } else {
        tracing::error!(operation, %detail, "Stripe refused the request: a bug or a misconfiguration");
        PortError::rejected(operation, detail)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    operation: &'static str,
    body: Value,
) -> Result<T, PortError> {
    serde_json::from_value(body).map_err(|error| {
        PortError::rejected(
            operation,
            format!("Stripe's answer does not parse: {error}"),
        )
    })
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    data: Vec<Intent>,
}

#[derive(Debug, Deserialize)]
struct ListPage {
    data: Vec<Intent>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct RefundPage {
    data: Vec<RefundObject>,
}

#[derive(Debug, Deserialize)]
struct RefundObject {
    id: String,
    #[serde(default)]
    status: Option<String>,
}

/// A PaymentIntent, as much of it as the saga reads.
#[derive(Debug, Deserialize)]
struct Intent {
    id: String,
    status: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    last_payment_error: Option<Value>,
    #[serde(default)]
    metadata: Value,
}

/// Where a PaymentIntent is, for the saga.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IntentState {
    /// `succeeded`: the money is captured.
    Succeeded,
    /// The last confirmation failed with this code (`requires_payment_method`
    /// with a `last_payment_error`, or `requires_action`: an off-session
    /// payment cannot authenticate).
    Failed(String),
    /// `canceled`.
    Canceled,
    /// Never confirmed (`requires_confirmation`, or
    /// `requires_payment_method` without an error): nothing charged.
    NotConfirmed,
    /// `processing` or `requires_capture`: the outcome is not known yet.
    InFlight(String),
}

impl Intent {
    fn state(&self) -> IntentState {
        match self.status.as_str() {
            "succeeded" => IntentState::Succeeded,
            "canceled" => IntentState::Canceled,
            "requires_action" => IntentState::Failed("authentication_required".to_owned()),
            "requires_payment_method" => match &self.last_payment_error {
                Some(error) if error.is_object() => IntentState::Failed(decline_code(error)),
                _ => IntentState::NotConfirmed,
            },
            "requires_confirmation" => IntentState::NotConfirmed,
            other => IntentState::InFlight(other.to_owned()),
        }
    }

    /// The order it was made for (`metadata[orderId]`).
    fn order_id(&self) -> Option<&str> {
        self.metadata["orderId"].as_str()
    }

    /// The amount in the system's minor units.
    fn money(&self) -> Option<Money> {
        let currency: Currency = self.currency.to_ascii_uppercase().parse().ok()?;
        amount::from_stripe_amount(self.amount, currency)
    }
}

#[cfg(test)]
mod tests;
