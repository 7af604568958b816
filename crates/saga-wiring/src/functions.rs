//! One struct per function of the template: what it holds after its cold
//! start, how it is built from a [`Context`], and which handler of
//! `saga-lambda` (or `order-api`) it runs.
//!
//! [`build`] finds a function's builder by its binary name: a new function
//! is one struct, its `build`, its [`Function`] impl and one arm there.
//!
//! The saga steps take the state machine's JSON as it comes
//! (`serde_json::Value`) and parse it in their handler, so a malformed input
//! becomes the step's `InvalidOrder` error rather than a runtime error.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Diagnostic;
use order_api::config::ApiConfig;
use order_api::{BreakerGate, OrderApi};
use saga_aws::{
    DynamoBreaker, DynamoInventory, DynamoOrders, DynamoPayments, DynamoShipments,
    PAYMENT_PROVIDER_BREAKER, SfnExecutions, SfnTaskReporter,
};
use saga_domain::ports::SystemClock;
use saga_domain::step_io::{
    Charged, Confirmed, ReaperReport, Refunded, Released, Reserved, SweepReport, WatchReport,
};
use saga_domain::steps::{ReaperSettings, ReservationTtl, SweepSettings};
use saga_lambda::config::{
    ApiBreakerConfig, ChargeConfig, ConfirmConfig, ReaperConfig, RefundConfig, ReleaseConfig,
    ReserveConfig, ShipConfig, SweeperConfig, WatcherConfig,
};
use saga_lambda::handlers;
use std::sync::Arc;

use serde_json::Value;

use crate::payments::{self, AnyProvider, GuardedAnyProvider};
use crate::{AnyFunction, BuildError, Context, Function};

/// `api`: the order HTTP API behind API Gateway (HTTP API, payload v2).
pub struct Api {
    api: OrderApi<DynamoOrders, DynamoInventory, SfnExecutions, SystemClock>,
}

impl Api {
    /// From `ORDERS_TABLE`, `INVENTORY_TABLE`, `STATE_MACHINE_ARN` and
    /// `MAX_ORDERS_IN_FLIGHT`; `BREAKER_TABLE` for the payment provider's
    /// circuit breaker, which it only reads.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ApiConfig::from_lookup(|variable| context.var(variable))?;
        let breaker_table = ApiBreakerConfig::from_source(context)?.breaker_table;
        let dynamodb = context.dynamodb();
        Ok(Self {
            api: OrderApi {
                orders: DynamoOrders::new(dynamodb.clone(), config.orders_table),
                catalog: DynamoInventory::new(dynamodb.clone(), config.inventory_table),
                executions: SfnExecutions::new(context.sfn(), config.state_machine_arn),
                clock: SystemClock,
                max_orders_in_flight: config.max_orders_in_flight,
                payments_gate: Some(Arc::new(BreakerGate(DynamoBreaker::new(
                    dynamodb,
                    breaker_table,
                    PAYMENT_PROVIDER_BREAKER,
                )))),
            },
        })
    }
}

impl Function for Api {
    type Event = ApiGatewayV2httpRequest;
    type Output = ApiGatewayV2httpResponse;

    async fn handle(&self, event: Self::Event) -> Result<Self::Output, Diagnostic> {
        Ok(order_api::handle_request(&self.api, event).await)
    }

    /// A client's W3C `traceparent`: its trace goes on through the saga.
    fn trace_context(event: &Self::Event) -> Option<saga_telemetry::TraceContext> {
        event
            .headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .and_then(saga_telemetry::TraceContext::from_traceparent)
    }
}

/// `reserve` (ReserveInventory): holds stock for an order's lines.
pub struct Reserve {
    inventory: DynamoInventory,
    ttl: ReservationTtl,
}

impl Reserve {
    /// From `INVENTORY_TABLE` and `RESERVATION_TTL_SECONDS`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ReserveConfig::from_source(context)?;
        Ok(Self {
            inventory: DynamoInventory::new(context.dynamodb(), config.inventory_table),
            ttl: config.reservation_ttl,
        })
    }
}

impl Function for Reserve {
    type Event = Value;
    type Output = Reserved;

    async fn handle(&self, event: Value) -> Result<Reserved, Diagnostic> {
        handlers::handle_reserve(&self.inventory, &SystemClock, self.ttl, event).await
    }
}

/// `charge` (ChargePayment): charges the order once, through the provider
/// `PAYMENT_PROVIDER` names (Stripe, or the simulation when chosen
/// explicitly), behind the payment provider's shared circuit breaker.
pub struct Charge {
    payments: DynamoPayments,
    provider: GuardedAnyProvider,
}

impl Charge {
    /// From `PAYMENTS_TABLE`, the provider's variables (`PAYMENT_PROVIDER`,
    /// `STRIPE_*`, `PROVIDER_TIMEOUT_MS`), `BREAKER_TABLE` and `BREAKER_*`,
    /// and `METRICS_NAMESPACE`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ChargeConfig::from_source(context)?;
        let provider = AnyProvider::build(&config.provider, context)?;
        if provider.is_simulated() {
            tracing::warn!(
                payment_provider = "simulated",
                "PAYMENT_PROVIDER=simulated: charges take no money"
            );
        }
        let dynamodb = context.dynamodb();
        Ok(Self {
            payments: DynamoPayments::new(dynamodb.clone(), config.payments_table),
            provider: payments::guarded(
                provider,
                &config.breaker,
                &config.metrics_namespace,
                dynamodb,
            ),
        })
    }
}

impl Function for Charge {
    type Event = Value;
    type Output = Charged;

    async fn handle(&self, event: Value) -> Result<Charged, Diagnostic> {
        if self.provider.inner().is_simulated() {
            tracing::warn!(
                payment_provider = "simulated",
                "charging with the SIMULATED payment provider: no money moves"
            );
        }
        handlers::handle_charge(&self.payments, &self.provider, &SystemClock, event).await
    }
}

/// `confirm` (ConfirmReservation): PENDING reservation → CONFIRMED.
pub struct Confirm {
    inventory: DynamoInventory,
}

impl Confirm {
    /// From `INVENTORY_TABLE`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ConfirmConfig::from_source(context)?;
        Ok(Self {
            inventory: DynamoInventory::new(context.dynamodb(), config.inventory_table),
        })
    }
}

impl Function for Confirm {
    type Event = Value;
    type Output = Confirmed;

    async fn handle(&self, event: Value) -> Result<Confirmed, Diagnostic> {
        handlers::handle_confirm(&self.inventory, &SystemClock, event).await
    }
}

/// `release` (ReleaseInventory, compensation): gives reserved stock back.
pub struct Release {
    inventory: DynamoInventory,
}

impl Release {
    /// From `INVENTORY_TABLE`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ReleaseConfig::from_source(context)?;
        Ok(Self {
            inventory: DynamoInventory::new(context.dynamodb(), config.inventory_table),
        })
    }
}

impl Function for Release {
    type Event = Value;
    type Output = Released;

    async fn handle(&self, event: Value) -> Result<Released, Diagnostic> {
        handlers::handle_release(&self.inventory, &SystemClock, event).await
    }
}

/// `refund` (RefundPayment, compensation): refunds a captured payment once,
/// through the same provider as the charge. Not behind the breaker: a
/// compensation keeps trying (the state machine retries it) rather than
/// fail fast.
pub struct Refund {
    payments: DynamoPayments,
    provider: AnyProvider,
}

impl Refund {
    /// From `PAYMENTS_TABLE` and the provider's variables.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = RefundConfig::from_source(context)?;
        Ok(Self {
            payments: DynamoPayments::new(context.dynamodb(), config.payments_table),
            provider: AnyProvider::build(&config.provider, context)?,
        })
    }
}

impl Function for Refund {
    type Event = Value;
    type Output = Refunded;

    async fn handle(&self, event: Value) -> Result<Refunded, Diagnostic> {
        handlers::handle_refund(&self.payments, &self.provider, &SystemClock, event).await
    }
}

/// `ship`: consumes the shipping queue, creates each shipment once and
/// reports to the waiting ShipOrder task (SendTaskSuccess / SendTaskFailure).
pub struct Ship {
    shipments: DynamoShipments,
    reporter: SfnTaskReporter,
}

impl Ship {
    /// From `SHIPMENTS_TABLE`; Step Functions for the task reports.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ShipConfig::from_source(context)?;
        Ok(Self {
            shipments: DynamoShipments::new(context.dynamodb(), config.shipments_table),
            reporter: SfnTaskReporter::new(context.sfn()),
        })
    }
}

impl Function for Ship {
    type Event = SqsEvent;
    type Output = SqsBatchResponse;

    async fn handle(&self, event: SqsEvent) -> Result<SqsBatchResponse, Diagnostic> {
        handlers::handle_ship(&self.shipments, &self.reporter, &SystemClock, event).await
    }
}

/// `reaper` (scheduled): returns the stock of lapsed PENDING reservations.
pub struct Reaper {
    inventory: DynamoInventory,
    settings: ReaperSettings,
}

impl Reaper {
    /// From `INVENTORY_TABLE` and `REAPER_BATCH_SIZE`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = ReaperConfig::from_source(context)?;
        Ok(Self {
            inventory: DynamoInventory::new(context.dynamodb(), config.inventory_table),
            settings: config.settings,
        })
    }
}

impl Function for Reaper {
    type Event = EventBridgeEvent<Value>;
    type Output = ReaperReport;

    async fn handle(&self, event: Self::Event) -> Result<ReaperReport, Diagnostic> {
        handlers::handle_reaper(&self.inventory, &SystemClock, self.settings, event).await
    }
}

/// `sweeper` (scheduled): starts the orders written PENDING whose execution
/// nobody started (the api died before StartExecution, or its client gave up).
pub struct Sweeper {
    orders: DynamoOrders,
    executions: SfnExecutions,
    settings: SweepSettings,
    metrics_namespace: String,
}

impl Sweeper {
    /// From `ORDERS_TABLE`, `STATE_MACHINE_ARN`, `SWEEPER_GRACE_SECONDS` and
    /// `SWEEPER_BATCH_SIZE`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = SweeperConfig::from_source(context)?;
        Ok(Self {
            orders: DynamoOrders::new(context.dynamodb(), config.orders_table),
            executions: SfnExecutions::new(context.sfn(), config.state_machine_arn),
            settings: config.settings,
            metrics_namespace: config.metrics_namespace,
        })
    }
}

impl Function for Sweeper {
    type Event = EventBridgeEvent<Value>;
    type Output = SweepReport;

    async fn handle(&self, event: Self::Event) -> Result<SweepReport, Diagnostic> {
        handlers::handle_sweeper(
            &self.orders,
            &self.executions,
            &SystemClock,
            self.settings,
            &self.metrics_namespace,
            event,
        )
        .await
    }
}

/// `watcher` (EventBridge rule): records on the order that its execution
/// stopped (FAILED, TIMED_OUT, ABORTED) before the order was final.
pub struct Watcher {
    orders: DynamoOrders,
}

impl Watcher {
    /// From `ORDERS_TABLE`.
    pub fn build(context: &Context<'_>) -> Result<Self, BuildError> {
        let config = WatcherConfig::from_source(context)?;
        Ok(Self {
            orders: DynamoOrders::new(context.dynamodb(), config.orders_table),
        })
    }
}

impl Function for Watcher {
    type Event = EventBridgeEvent<Value>;
    type Output = WatchReport;

    async fn handle(&self, event: Self::Event) -> Result<WatchReport, Diagnostic> {
        handlers::handle_watcher(&self.orders, event).await
    }
}

/// The binary name of every function this crate builds, as the template's
/// `BuildProperties.Binary` names them.
pub const BINARIES: [&str; 10] = [
    "api", "reserve", "charge", "confirm", "release", "refund", "ship", "reaper", "sweeper",
    "watcher",
];

/// Builds the function whose binary is `binary` from `context`; `None` when
/// no function has that binary name.
pub fn build(
    binary: &str,
    context: &Context<'_>,
) -> Result<Option<Arc<dyn AnyFunction>>, BuildError> {
    fn boxed<F: Function>(function: F) -> Option<Arc<dyn AnyFunction>> {
        Some(Arc::new(function))
    }
    Ok(match binary {
        "api" => boxed(Api::build(context)?),
        "reserve" => boxed(Reserve::build(context)?),
        "charge" => boxed(Charge::build(context)?),
        "confirm" => boxed(Confirm::build(context)?),
        "release" => boxed(Release::build(context)?),
        "refund" => boxed(Refund::build(context)?),
        "ship" => boxed(Ship::build(context)?),
        "reaper" => boxed(Reaper::build(context)?),
        "sweeper" => boxed(Sweeper::build(context)?),
        "watcher" => boxed(Watcher::build(context)?),
        _ => None,
    })
}
