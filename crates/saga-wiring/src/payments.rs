//! The payment provider a function is built with: Stripe (the default of
//! every deployment) or the simulated provider, chosen by
//! `PAYMENT_PROVIDER`; the Stripe key from SSM Parameter Store; and the
//! circuit breaker around the charge function's calls; and their metrics.
//!
//! Every call to the provider, from charge or refund, is timed and its
//! failures counted (`PaymentProviderLatency`, `PaymentProviderErrors`, in
//! [`AnyProvider`]); the breaker reports its openings, closings and the
//! calls it refused (`PaymentBreaker*`). A call the open breaker refuses
//! never reaches the provider, so it is a rejection, not a provider error.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use saga_aws::{DynamoBreaker, PAYMENT_PROVIDER_BREAKER};
use saga_domain::breaker::{BreakerEvent, CircuitBreaker, GuardedProvider};
use saga_domain::ports::{
    CancelOutcome, CancelRequest, ChargeOutcome, ChargeRequest, PaymentProvider, ProviderCharge,
    RefundReceipt, RefundRequest, SystemClock,
};
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::{OrderId, PortError};
use saga_lambda::config::{BreakerConfig, ProviderConfig, StripeKeyConfig};
use saga_lambda::metrics::{self, ERROR_TYPE, OPERATION};
use saga_stripe::{KeyFetcher, KeyFuture, KeySource, SecretKey, StripeProvider, StripeSettings};

use crate::{BuildError, Context};

/// EMF metric: 1 each time the payment provider's breaker opens.
pub const BREAKER_OPENED_METRIC: &str = metrics::PAYMENT_BREAKER_OPENED.name;
/// EMF metric: 1 per provider call that failed.
pub const PROVIDER_ERRORS_METRIC: &str = metrics::PAYMENT_PROVIDER_ERRORS.name;

/// The provider `PAYMENT_PROVIDER` chose.
pub enum AnyProvider {
    /// The process's simulation: no money moves.
    Simulated(&'static SimulatedPaymentProvider),
    /// Stripe's API.
    Stripe(Box<StripeProvider>),
}

impl AnyProvider {
    /// From the function's provider config; the SSM client only when the
    /// key is a parameter.
    pub fn build(config: &ProviderConfig, context: &Context<'_>) -> Result<Self, BuildError> {
        let stripe = match config {
            ProviderConfig::Simulated => {
                return Ok(AnyProvider::Simulated(SimulatedPaymentProvider::shared()));
            }
            ProviderConfig::Stripe(stripe) => stripe,
        };
        let source = match &stripe.key {
            StripeKeyConfig::Given(key) => KeySource::Given(SecretKey::new(key.clone())),
            StripeKeyConfig::Parameter(name) => KeySource::Fetched(Arc::new(SsmKey {
                client: context.ssm(),
                name: name.clone(),
            })),
        };
        let settings = StripeSettings {
            api_base: stripe.api_base.clone(),
            timeout: Duration::from_millis(stripe.timeout_ms),
        };
        let provider = StripeProvider::new(settings, source).map_err(|error| {
            BuildError::Payments(format!("the Stripe client cannot be built: {error}"))
        })?;
        Ok(AnyProvider::Stripe(Box::new(provider)))
    }

    /// Whether this is the simulation, which takes no money.
    pub fn is_simulated(&self) -> bool {
        matches!(self, AnyProvider::Simulated(_))
    }
}

impl PaymentProvider for AnyProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PortError> {
        timed("charge", async {
            match self {
                AnyProvider::Simulated(provider) => provider.charge(request).await,
                AnyProvider::Stripe(provider) => provider.charge(request).await,
            }
        })
        .await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, PortError> {
        timed("refund", async {
            match self {
                AnyProvider::Simulated(provider) => provider.refund(request).await,
                AnyProvider::Stripe(provider) => provider.refund(request).await,
            }
        })
        .await
    }

    async fn cancel(&self, request: &CancelRequest) -> Result<CancelOutcome, PortError> {
        timed("cancel", async {
            match self {
                AnyProvider::Simulated(provider) => provider.cancel(request).await,
                AnyProvider::Stripe(provider) => provider.cancel(request).await,
            }
        })
        .await
    }

    async fn find_charges(&self, order_id: &OrderId) -> Result<Vec<ProviderCharge>, PortError> {
        timed("find_charges", async {
            match self {
                AnyProvider::Simulated(provider) => provider.find_charges(order_id).await,
                AnyProvider::Stripe(provider) => provider.find_charges(order_id).await,
            }
        })
        .await
    }
}

/// Runs one provider call, reporting how long it took and, when it failed,
/// why (`Unavailable`: unreachable, timed out, 5xx; `Rejected`: refused or
/// unreadable). A declined card is an answer, not an error.
async fn timed<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, PortError>>,
) -> Result<T, PortError> {
    let started = Instant::now();
    let result = call.await;
    let at = chrono::Utc::now();
    let latency = metrics::PAYMENT_PROVIDER_LATENCY.duration(started.elapsed());
    latency.dimension(OPERATION, operation).emit(at);
    if let Err(error) = &result {
        let kind = match error {
            PortError::Unavailable { .. } => "Unavailable",
            PortError::Rejected { .. } => "Rejected",
        };
        let errors = metrics::PAYMENT_PROVIDER_ERRORS.count(1);
        errors
            .dimension(OPERATION, operation)
            .dimension(ERROR_TYPE, kind)
            .emit(at);
    }
    result
}

/// The charge function's provider: behind the shared breaker.
pub type GuardedAnyProvider = GuardedProvider<AnyProvider, DynamoBreaker, SystemClock>;

/// `provider` behind the breaker of `config` (its item read and written
/// with the function's one `dynamodb` client), whose openings, closings and
/// refusals become EMF metrics in `namespace`.
pub fn guarded(
    provider: AnyProvider,
    config: &BreakerConfig,
    namespace: &str,
    dynamodb: aws_sdk_dynamodb::Client,
) -> GuardedAnyProvider {
    let store = DynamoBreaker::new(dynamodb, config.table.as_str(), PAYMENT_PROVIDER_BREAKER);
    let namespace = namespace.to_owned();
    let events = Arc::new(move |event: BreakerEvent| {
        // A failed call is counted where every provider call is timed
        // ([`AnyProvider`]); a probe going out is not news.
        let metric = match event {
            BreakerEvent::Opened { .. } => &metrics::PAYMENT_BREAKER_OPENED,
            BreakerEvent::Closed => &metrics::PAYMENT_BREAKER_CLOSED,
            BreakerEvent::Rejected => &metrics::PAYMENT_BREAKER_REJECTIONS,
            BreakerEvent::HalfOpened | BreakerEvent::CallFailed => return,
        };
        metric.count(1).emit_in(&namespace, chrono::Utc::now());
    });
    GuardedProvider::new(
        provider,
        CircuitBreaker::new(store, SystemClock, config.settings, events),
    )
}

/// The Stripe key in an SSM Parameter Store SecureString, read with
/// decryption on the first provider call of the process.
struct SsmKey {
    client: aws_sdk_ssm::Client,
    name: String,
}

impl KeyFetcher for SsmKey {
    fn fetch(&self) -> KeyFuture<'_> {
        Box::pin(async move {
            let output = self
                .client
                .get_parameter()
                .name(&self.name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|error| {
                    // The SDK error names the parameter and the failure,
                    // never its value.
                    PortError::unavailable(
                        "read_stripe_key",
                        format!(
                            "SSM parameter {}: {}",
                            self.name,
                            aws_sdk_ssm::error::DisplayErrorContext(&error)
                        ),
                    )
                })?;
            let value = output
                .parameter
                .and_then(|parameter| parameter.value)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| {
                    PortError::rejected(
                        "read_stripe_key",
                        format!("SSM parameter {} has no value", self.name),
                    )
                })?;
            Ok(SecretKey::new(value.trim()))
        })
    }
}
