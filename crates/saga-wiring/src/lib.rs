//! The composition root: the one place that turns a function's environment
//! and the AWS SDK configuration into a ready handler.
//!
//! Both ways a function runs go through here, so they cannot drift apart:
//!
//! - on Lambda, each `functions/<name>/src/main.rs` is one line,
//!   `saga_wiring::run(saga_wiring::Reserve::build)`: [`run`] installs the
//!   JSON logs, loads the SDK config from the real environment, builds the
//!   function once (cold start) and serves it with `lambda_runtime`;
//! - in the local cloud, [`build`] finds the same builder by the binary name
//!   the template gives (`Metadata.BuildProperties.Binary`) and builds it
//!   from the environment the template gives that function, to be invoked
//!   with event JSON through [`AnyFunction`].
//!
//! A builder reads only its function's variables (through [`Context::var`])
//! and makes SDK clients with [`Context::dynamodb`] and [`Context::sfn`],
//! which time every call out well inside the function's timeout (so a hung
//! call is a `TransientError`, retried) and honour the SDK's standard
//! endpoint variables from that same environment
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SFN`, `AWS_ENDPOINT_URL`):
//! that is how the local cloud points unchanged code at DynamoDB Local and
//! its own Step Functions endpoint.

mod context;
mod functions;
pub mod payments;
pub mod tls;

use async_trait::async_trait;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;
use tracing::Instrument as _;

pub use context::Context;
// Every function struct, `BINARIES` and `build`: a function added to
// `functions.rs` is exported with no edit here.
pub use functions::*;

/// Why a function cannot be built: its environment is incomplete or invalid.
/// The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A step function's config.
    #[error(transparent)]
    Step(#[from] saga_lambda::config::ConfigError),
    /// The api function's config.
    #[error(transparent)]
    Api(#[from] order_api::config::ApiConfigError),
    /// The payment provider cannot be set up.
    #[error("{0}")]
    Payments(String),
}

/// A function's code, built once per cold start.
pub trait Function: Send + Sync + 'static {
    /// The event Lambda delivers (`serde_json::Value` for the saga steps,
    /// whose input the state machine shapes).
    type Event: DeserializeOwned + Send;
    /// What the function returns.
    type Output: Serialize + Send;

    /// Handles one event. A `Diagnostic` is the function error Lambda
    /// reports (`errorType`, `errorMessage`).
    fn handle(
        &self,
        event: Self::Event,
    ) -> impl Future<Output = Result<Self::Output, Diagnostic>> + Send;

    /// The trace context the event itself carries, which wins over the
    /// invocation's (an HTTP request's `traceparent`); none by default.
    fn trace_context(_event: &Self::Event) -> Option<saga_telemetry::TraceContext> {
        None
    }
}

/// What Lambda says about one invocation, besides the event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`): the invocation
    /// span's name and service.
    pub function_name: String,
    /// The request id.
    pub request_id: String,
    /// The trace header Lambda was given (`Lambda-Runtime-Trace-Id`; from
    /// Step Functions with tracing on, the state's context), if any.
    pub trace_header: Option<String>,
}

/// Runs one function on Lambda: logs, SDK config from the process
/// environment, `build` once, then the runtime loop. A build error fails the
/// cold start with the variable's name, so a misdeployed function never
/// takes an event.
pub async fn run<F: Function>(
    build: fn(&Context<'_>) -> Result<F, BuildError>,
) -> Result<(), lambda_runtime::Error> {
    let telemetry = saga_lambda::init_tracing()?;
    let process = |variable: &str| {
        std::env::var_os(variable).map(|value| value.to_string_lossy().into_owned())
    };
    let sdk = environment_sdk_config(&process)?;
    let function = build(&Context::new(&process, &sdk))?;
    let function_name = process("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let (function, telemetry, function_name) = (&function, &telemetry, &function_name);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let invocation = Invocation {
            function_name: function_name.clone(),
            request_id: event.context.request_id,
            trace_header: event.context.xray_trace_id,
        };
        let result = function.invoke(event.payload, &invocation).await;
        // Before answering: the sandbox may be frozen right after.
        telemetry.flush().await;
        result
    }))
    .await
}

/// Why a function has no SDK configuration: it fails the cold start.
#[derive(Debug, thiserror::Error)]
pub enum SdkConfigError {
    /// Lambda sets it for every function; a binary run by hand needs it too.
    #[error(
        "{0} is not set: Lambda sets AWS_REGION and the role's credentials for every function; \
         to run a function binary by hand, export them (e.g. `aws configure export-credentials --format env`)"
    )]
    Missing(&'static str),
    /// `AWS_CA_BUNDLE` cannot be used.
    #[error(transparent)]
    Bundle(#[from] tls::BundleError),
}

/// The SDK configuration from the region and credentials Lambda puts in
/// every function's environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), made without I/O; an
/// error naming the variable when either is missing.
///
/// This is where the SDK's default chains end on Lambda, without their
/// cold-start work (reading profile files, resolving a dozen settings no
/// function uses, building the ECS, IMDS and STS credential providers and
/// their clients) and without their code in the binary (the STS client
/// alone is about 0.1 MB). The endpoint
/// variables are applied by [`Context`]; retries are the SDK's standard
/// mode. The credentials are read from the environment when first needed.
/// HTTPS trusts the roots compiled in ([`tls`]), not the OS store.
fn environment_sdk_config(
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<aws_config::SdkConfig, SdkConfigError> {
    let set = |variable: &str| vars(variable).filter(|value| !value.trim().is_empty());
    let region = set("AWS_REGION")
        .or_else(|| set("AWS_DEFAULT_REGION"))
        .ok_or(SdkConfigError::Missing("AWS_REGION"))?;
    set("AWS_ACCESS_KEY_ID").ok_or(SdkConfigError::Missing("AWS_ACCESS_KEY_ID"))?;
    let https = tls::https_client(set("AWS_CA_BUNDLE").as_deref())?;
    Ok(aws_config::SdkConfig::builder()
        .http_client(https)
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(aws_config::retry::RetryConfig::standard())
        .build())
}

/// A function invoked with event JSON, as the local cloud invokes it.
#[async_trait]
pub trait AnyFunction: Send + Sync {
    /// Parses `event` into the function's event type, handles it and gives
    /// the response JSON, or the function error.
    ///
    /// The work runs in the invocation's span ([`invocation_span`]), the
    /// first span of this function in the trace the event or the
    /// invocation carries (a new trace when neither does).
    async fn invoke(&self, event: Value, invocation: &Invocation) -> Result<Value, Diagnostic>;
}

#[async_trait]
impl<F: Function> AnyFunction for F {
    async fn invoke(&self, event: Value, invocation: &Invocation) -> Result<Value, Diagnostic> {
        let order_id = event
            .get("orderId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let event: F::Event = serde_json::from_value(event).map_err(|e| Diagnostic {
            error_type: "Runtime.UnmarshalError".to_owned(),
            error_message: format!("the event does not parse: {e}"),
        })?;
        let span = invocation_span(invocation, F::trace_context(&event));
        if let Some(order_id) = order_id {
            span.record("order_id", order_id);
        }
        let result = self.handle(event).instrument(span.clone()).await;
        if let Err(error) = &result {
            saga_telemetry::record_error(&span, &error.error_type);
        }
        let output = result?;
        serde_json::to_value(&output).map_err(|e| Diagnostic {
            error_type: "Runtime.SerializationError".to_owned(),
            error_message: e.to_string(),
        })
    }
}

/// The span one invocation runs in: a `server` span named after the
/// function, in the trace `carried` names (the event's own context), else
/// the invocation's trace header, else a new trace.
pub fn invocation_span(
    invocation: &Invocation,
    carried: Option<saga_telemetry::TraceContext>,
) -> tracing::Span {
    let context = carried
        .or_else(|| {
            invocation
                .trace_header
                .as_deref()
                .and_then(saga_telemetry::TraceContext::from_header)
        })
        .unwrap_or_else(saga_telemetry::TraceContext::new_trace);
    let name = if invocation.function_name.is_empty() {
        "function"
    } else {
        invocation.function_name.as_str()
    };
    let span = saga_telemetry::root_span(name, "server", name, &context);
    span.record("request_id", invocation.request_id.as_str());
    span
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    fn environment() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("INVENTORY_TABLE", "inventory"),
            ("PAYMENTS_TABLE", "payments"),
            ("SHIPMENTS_TABLE", "shipments"),
            ("ORDERS_TABLE", "orders"),
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_API_KEY_PARAMETER", "/order-saga/stripe/secret-key"),
            ("BREAKER_TABLE", "breaker"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:000000000000:stateMachine:saga",
            ),
        ])
    }

    #[test]
    fn every_binary_builds_from_a_complete_environment() {
        let sdk = sdk();
        let env = environment();
        let vars = |name: &str| env.get(name).map(|value| (*value).to_owned());
        for binary in BINARIES {
            let built = build(binary, &Context::new(&vars, &sdk));
            assert!(
                matches!(built, Ok(Some(_))),
                "{binary} should build from a complete environment"
            );
        }
        assert!(matches!(
            build("no-such-function", &Context::new(&vars, &sdk)),
            Ok(None)
        ));
    }

    #[test]
    fn a_missing_variable_fails_the_build_naming_it() {
        let sdk = sdk();
        for (binary, variable) in [
            ("api", "ORDERS_TABLE"),
            ("reserve", "INVENTORY_TABLE"),
            ("charge", "PAYMENTS_TABLE"),
            ("charge", "PAYMENT_PROVIDER"),
            ("charge", "BREAKER_TABLE"),
            ("refund", "PAYMENT_PROVIDER"),
            ("refund", "STRIPE_API_KEY_PARAMETER"),
            ("confirm", "INVENTORY_TABLE"),
            ("release", "INVENTORY_TABLE"),
            ("refund", "PAYMENTS_TABLE"),
            ("ship", "SHIPMENTS_TABLE"),
            ("reaper", "INVENTORY_TABLE"),
            ("sweeper", "ORDERS_TABLE"),
            ("sweeper", "STATE_MACHINE_ARN"),
            ("watcher", "ORDERS_TABLE"),
        ] {
            let mut env = environment();
            env.remove(variable);
            let vars = |name: &str| env.get(name).map(|value| (*value).to_owned());
            let error = build(binary, &Context::new(&vars, &sdk))
                .err()
                .unwrap_or_else(|| panic!("{binary} built without {variable}"));
            assert!(
                error.to_string().contains(variable),
                "{binary}: {error} should name {variable}"
            );
        }
    }

    #[test]
    fn the_lambda_environment_makes_the_sdk_config_and_nothing_else_does() {
        let lambda = HashMap::from([
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ]);
        let vars = |name: &str| lambda.get(name).map(|value| (*value).to_owned());
        let sdk = environment_sdk_config(&vars).expect("a config from the Lambda environment");
        assert_eq!(
            sdk.region().map(ToString::to_string).as_deref(),
            Some("eu-west-1")
        );
        assert!(sdk.credentials_provider().is_some());
        // The compiled-in roots' client, not the SDK's default one.
        assert!(sdk.http_client().is_some());
        assert!(sdk.behavior_version().is_some());
        assert_eq!(
            sdk.retry_config().map(|retry| retry.max_attempts()),
            Some(aws_config::retry::RetryConfig::standard().max_attempts())
        );
        // Clients build from it (the timeouts need the SDK's default sleep).
        let env = environment();
        let vars = |name: &str| env.get(name).map(|value| (*value).to_owned());
        assert!(matches!(
            build("reserve", &Context::new(&vars, &sdk)),
            Ok(Some(_))
        ));

        let mut bad_bundle = lambda.clone();
        bad_bundle.insert("AWS_CA_BUNDLE", "/nonexistent/ca.pem");
        let vars = |name: &str| bad_bundle.get(name).map(|value| (*value).to_owned());
        let error = environment_sdk_config(&vars).expect_err("an unreadable bundle");
        assert!(
            error
                .to_string()
                .starts_with("AWS_CA_BUNDLE /nonexistent/ca.pem: ")
        );

        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID"] {
            let mut partial = lambda.clone();
            partial.remove(missing);
            if missing == "AWS_REGION" {
                partial.remove("AWS_DEFAULT_REGION");
            }
            let vars = |name: &str| partial.get(name).map(|value| (*value).to_owned());
            let error = environment_sdk_config(&vars).expect_err("refused");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{missing} is not set: ")),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn a_step_event_that_is_not_the_step_input_is_a_function_error() {
        let sdk = sdk();
        let env = environment();
        let vars = |name: &str| env.get(name).map(|value| (*value).to_owned());
        let ship = build("ship", &Context::new(&vars, &sdk))
            .ok()
            .flatten()
            .expect("ship builds");
        let error = ship
            .invoke(
                serde_json::json!({"Records": "not a list"}),
                &Invocation::default(),
            )
            .await
            .expect_err("an SQS event with a bad Records field");
        assert_eq!(error.error_type, "Runtime.UnmarshalError");
    }
}
