//! Lambda dispatch: every function of the template runs in-process, built
//! once ("cold start") from the environment the template gives it, exactly
//! as its binary in `functions/` builds it from the real environment.
//!
//! An invocation takes the event JSON and gives the function's response JSON
//! or a function error (`errorType`, `errorMessage`), which is what Lambda
//! reports to its callers. Faults ([`crate::faults`]) apply here, so they hit
//! every caller alike: Step Functions, the SQS poller, the scheduler and the
//! HTTP API. A function that runs past its `Timeout` fails with
//! `Sandbox.Timedout`, as Lambda reports it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::Diagnostic;
use saga_aws::{DynamoInventory, DynamoPayments, DynamoShipments, SfnTaskReporter};
use saga_domain::ports::SystemClock;
use saga_domain::simulated_provider::SimulatedPaymentProvider;
use saga_domain::steps::{ReaperSettings, ReservationTtl};
use saga_lambda::config::{
    ChargeConfig, ConfigError, ConfirmConfig, ReaperConfig, RefundConfig, ReleaseConfig,
    ReserveConfig, ShipConfig,
};
use saga_lambda::handlers;
use serde::Serialize;
use serde_json::{Value, json};

use crate::aws::Clients;
use crate::faults::{FaultAction, Faults};
use crate::stack::FunctionSpec;

/// A function error, as Lambda reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    /// `errorType`.
    pub error_type: String,
    /// `errorMessage`.
    pub error_message: String,
}

impl FunctionError {
    /// Builds an error.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }

    /// The error payload Lambda returns: `{"errorMessage", "errorType"}` as JSON text.
    pub fn payload_text(&self) -> String {
        json!({"errorMessage": self.error_message, "errorType": self.error_type}).to_string()
    }
}

impl From<Diagnostic> for FunctionError {
    fn from(diagnostic: Diagnostic) -> Self {
        Self::new(diagnostic.error_type, diagnostic.error_message)
    }
}

/// One function's code.
#[async_trait]
pub trait FunctionCode: Send + Sync {
    /// Handles one event.
    async fn handle(&self, event: Value) -> Result<Value, FunctionError>;
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, FunctionError> {
    serde_json::to_value(value)
        .map_err(|e| FunctionError::new("Runtime.SerializationError", e.to_string()))
}

fn bad_event(e: serde_json::Error) -> FunctionError {
    FunctionError::new(
        "Runtime.UnmarshalError",
        format!("the event does not parse: {e}"),
    )
}

fn config_error(binary: &str, error: &ConfigError) -> anyhow::Error {
    anyhow::anyhow!("function {binary} cannot start (its environment from template.yaml): {error}")
}

struct Reserve {
    inventory: DynamoInventory,
    ttl: ReservationTtl,
}

#[async_trait]
impl FunctionCode for Reserve {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        let reserved =
            handlers::handle_reserve(&self.inventory, &SystemClock, self.ttl, event).await?;
        to_json(&reserved)
    }
}

struct Charge {
    payments: DynamoPayments,
    provider: SimulatedPaymentProvider,
}

#[async_trait]
impl FunctionCode for Charge {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        let charged =
            handlers::handle_charge(&self.payments, &self.provider, &SystemClock, event).await?;
        to_json(&charged)
    }
}

struct Confirm {
    inventory: DynamoInventory,
}

#[async_trait]
impl FunctionCode for Confirm {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        to_json(&handlers::handle_confirm(&self.inventory, &SystemClock, event).await?)
    }
}

struct Release {
    inventory: DynamoInventory,
}

#[async_trait]
impl FunctionCode for Release {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        to_json(&handlers::handle_release(&self.inventory, &SystemClock, event).await?)
    }
}

struct Refund {
    payments: DynamoPayments,
    provider: SimulatedPaymentProvider,
}

#[async_trait]
impl FunctionCode for Refund {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        to_json(
            &handlers::handle_refund(&self.payments, &self.provider, &SystemClock, event).await?,
        )
    }
}

struct Ship {
    shipments: DynamoShipments,
    reporter: SfnTaskReporter,
}

#[async_trait]
impl FunctionCode for Ship {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        let event: SqsEvent = serde_json::from_value(event).map_err(bad_event)?;
        to_json(&handlers::handle_ship(&self.shipments, &self.reporter, &SystemClock, event).await?)
    }
}

struct Reaper {
    inventory: DynamoInventory,
    settings: ReaperSettings,
}

#[async_trait]
impl FunctionCode for Reaper {
    async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        let event: EventBridgeEvent<Value> = serde_json::from_value(event).map_err(bad_event)?;
        to_json(
            &handlers::handle_reaper(&self.inventory, &SystemClock, self.settings, event).await?,
        )
    }
}

/// Builds a function's code from its binary name and environment, as its
/// `main.rs` does; `None` for binaries the local cloud cannot run.
pub async fn build_code(
    spec: &FunctionSpec,
    clients: &Clients,
) -> anyhow::Result<Option<Arc<dyn FunctionCode>>> {
    let environment = spec.environment.clone();
    let source = move |name: &str| environment.get(name).cloned();
    let binary = spec.binary.as_str();
    let dynamodb = clients.dynamodb.clone();
    let code: Arc<dyn FunctionCode> = match binary {
        "reserve" => {
            let config =
                ReserveConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Reserve {
                inventory: DynamoInventory::new(dynamodb, config.inventory_table),
                ttl: config.reservation_ttl,
            })
        }
        "charge" => {
            let config =
                ChargeConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Charge {
                payments: DynamoPayments::new(dynamodb, config.payments_table),
                provider: SimulatedPaymentProvider::new(),
            })
        }
        "confirm" => {
            let config =
                ConfirmConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Confirm {
                inventory: DynamoInventory::new(dynamodb, config.inventory_table),
            })
        }
        "release" => {
            let config =
                ReleaseConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Release {
                inventory: DynamoInventory::new(dynamodb, config.inventory_table),
            })
        }
        "refund" => {
            let config =
                RefundConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Refund {
                payments: DynamoPayments::new(dynamodb, config.payments_table),
                provider: SimulatedPaymentProvider::new(),
            })
        }
        "ship" => {
            let config = ShipConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Ship {
                shipments: DynamoShipments::new(dynamodb, config.shipments_table),
                reporter: SfnTaskReporter::new(clients.sfn.clone()),
            })
        }
        "reaper" => {
            let config =
                ReaperConfig::from_source(&source).map_err(|e| config_error(binary, &e))?;
            Arc::new(Reaper {
                inventory: DynamoInventory::new(dynamodb, config.inventory_table),
                settings: config.settings,
            })
        }
        "api" => match crate::api_function::build(spec, clients)? {
            Some(code) => code,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(code))
}

/// A function ready to be invoked.
pub struct Function {
    /// What the template says about it.
    pub spec: FunctionSpec,
    code: Arc<dyn FunctionCode>,
}

/// Every function of the stack, found by name, ARN or binary name.
pub struct Functions {
    by_logical_id: BTreeMap<String, Arc<Function>>,
    names: HashMap<String, String>,
    faults: Arc<Faults>,
    missing: Vec<String>,
}

impl Functions {
    /// Builds every function of `specs`. Functions whose code the local
    /// cloud does not have are listed by [`Functions::missing`].
    pub async fn build(
        specs: &BTreeMap<String, FunctionSpec>,
        clients: &Clients,
        faults: Arc<Faults>,
    ) -> anyhow::Result<Self> {
        let mut by_logical_id = BTreeMap::new();
        let mut names = HashMap::new();
        let mut missing = Vec::new();
        for (logical_id, spec) in specs {
            let Some(code) = build_code(spec, clients).await? else {
                missing.push(spec.binary.clone());
                continue;
            };
            for alias in [&spec.name, &spec.arn, &spec.binary, logical_id] {
                names.insert(alias.clone(), logical_id.clone());
            }
            by_logical_id.insert(
                logical_id.clone(),
                Arc::new(Function {
                    spec: spec.clone(),
                    code,
                }),
            );
        }
        Ok(Self {
            by_logical_id,
            names,
            faults,
            missing,
        })
    }

    /// Binaries the template names that have no code here.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// The binary names of every function that runs, for fault requests.
    pub fn binaries(&self) -> Vec<String> {
        self.by_logical_id
            .values()
            .map(|f| f.spec.binary.clone())
            .collect()
    }

    /// The functions, by logical id.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Function>> {
        self.by_logical_id.values()
    }

    /// Finds a function by name, ARN (with or without a qualifier), partial
    /// ARN (`account:function:name`), logical id or binary name.
    pub fn find(&self, name: &str) -> Option<&Arc<Function>> {
        let bare = match name.split_once(":function:") {
            Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
            None => name,
        };
        self.names
            .get(bare)
            .or_else(|| self.names.get(name))
            .and_then(|id| self.by_logical_id.get(id))
    }

    /// Invokes `function` with `event`, applying faults and its timeout.
    pub async fn invoke(&self, function: &Function, event: Value) -> Result<Value, FunctionError> {
        let binary = function.spec.binary.as_str();
        match self.faults.take(binary) {
            FaultAction::None => {}
            FaultAction::Delay(delay) => tokio::time::sleep(delay).await,
            FaultAction::Fail(error_type) => {
                tracing::info!(function = binary, error_type, "fault injected");
                return Err(FunctionError::new(
                    error_type,
                    format!(
                        "saga-local fault injection: {binary} failed with {error_type} (POST /local/faults set it; DELETE /local/faults clears it)"
                    ),
                ));
            }
        }
        let timeout = function.spec.timeout;
        match tokio::time::timeout(timeout, function.code.handle(event)).await {
            Ok(result) => result,
            Err(_) => Err(FunctionError::new(
                "Sandbox.Timedout",
                format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            )),
        }
    }
}
