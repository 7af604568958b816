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
//!
//! An outage fault rebuilds the function for one invocation from the same
//! environment with the endpoints of the services that are down pointing at
//! [`Unreachable`], a port that refuses connections: the function's own SDK
//! calls fail and its own code decides what that means.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context as _;
use lambda_runtime::Diagnostic;
use saga_wiring::{AnyFunction, Context, Invocation};
use serde_json::{Value, json};

use crate::aws::Endpoints;
use crate::faults::{FaultAction, Faults, Service};
use saga_template::LOCAL_REGION;
use saga_template::stack::FunctionSpec;

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

    /// The error name Step Functions gives this error: an unhandled one (the
    /// runtime's `Sandbox.Timedout` for a timeout, `Runtime.*` for a crash or
    /// an out-of-memory kill) is `Lambda.Unknown`, as AWS reports it, with the
    /// payload as the cause; a handled one keeps its `errorType`.
    pub fn step_functions_error(&self) -> &str {
        let unhandled = ["Sandbox.", "Runtime."]
            .iter()
            .any(|prefix| self.error_type.starts_with(prefix));
        if unhandled {
            "Lambda.Unknown"
        } else {
            &self.error_type
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

/// The variables Lambda sets in every function's environment, and the
/// SDK's standard endpoint variables pointing at the local services: added
/// to what the template gives the function, so its code builds its clients
/// exactly as on Lambda.
pub fn runtime_environment(spec: &FunctionSpec, endpoints: &Endpoints) -> BTreeMap<String, String> {
    let mut environment = spec.environment.clone();
    let memory = spec.memory_size.to_string();
    // Spans a function binary exports go to this server's `/v1/traces`
    // (the template's endpoint is the collector extension's, on AWS).
    environment.insert(
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
        endpoints.sfn.clone(),
    );
    for (variable, value) in [
        ("AWS_REGION", LOCAL_REGION),
        ("AWS_DEFAULT_REGION", LOCAL_REGION),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.as_str()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoints.dynamodb.as_str()),
        ("AWS_ENDPOINT_URL_SQS", endpoints.sqs.as_str()),
        ("AWS_ENDPOINT_URL_SFN", endpoints.sfn.as_str()),
    ] {
        environment
            .entry(variable.to_owned())
            .or_insert_with(|| value.to_owned());
    }
    environment
}

/// A function ready to be invoked.
pub struct Function {
    /// What the template says about it.
    pub spec: FunctionSpec,
    /// The environment it was built from: the template's variables, Lambda's
    /// own and the local endpoints ([`runtime_environment`]).
    pub environment: BTreeMap<String, String>,
    code: Arc<dyn AnyFunction>,
}

/// Every function of the stack, found by name, ARN or binary name.
pub struct Functions {
    by_logical_id: BTreeMap<String, Arc<Function>>,
    names: HashMap<String, String>,
    faults: Arc<Faults>,
    missing: Vec<String>,
    sdk: aws_config::SdkConfig,
    unreachable: Unreachable,
}

/// A 127.0.0.1 port that refuses every connection: a socket bound to it
/// that never listens, held for as long as the functions live (so no other
/// process can take the port and answer).
struct Unreachable {
    _socket: tokio::net::TcpSocket,
    url: String,
}

impl Unreachable {
    fn bind() -> anyhow::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4().context("cannot create a socket")?;
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .context("cannot bind a socket on 127.0.0.1")?;
        let port = socket
            .local_addr()
            .context("a bound socket has an address")?
            .port();
        Ok(Self {
            _socket: socket,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Functions {
    /// Builds every function of `specs`. Functions whose code the local
    /// cloud does not have are listed by [`Functions::missing`].
    pub fn build(
        specs: &BTreeMap<String, FunctionSpec>,
        sdk: &aws_config::SdkConfig,
        endpoints: &Endpoints,
        faults: Arc<Faults>,
    ) -> anyhow::Result<Self> {
        let mut by_logical_id = BTreeMap::new();
        let mut names = HashMap::new();
        let mut missing = Vec::new();
        for (logical_id, spec) in specs {
            let environment = runtime_environment(spec, endpoints);
            let built = build_code(&spec.binary, &environment, sdk)
                .with_context(|| {
                    format!(
                        "function {logical_id} ({}) cannot start with the environment template.yaml gives it",
                        spec.binary
                    )
                })?;
            let Some(code) = built else {
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
                    environment,
                    code,
                }),
            );
        }
        Ok(Self {
            by_logical_id,
            names,
            faults,
            missing,
            sdk: sdk.clone(),
            unreachable: Unreachable::bind()?,
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
        self.find_function_arn(bare, name)
    }

    /// Finds the function a Task state's function ARN names: by the ARN's
    /// function `name`, else by the whole `arn` (what [`Self::find`] does
    /// with the ARN text, without taking it apart again).
    pub fn find_function_arn(&self, name: &str, arn: &str) -> Option<&Arc<Function>> {
        self.names
            .get(name)
            .or_else(|| self.names.get(arn))
            .and_then(|id| self.by_logical_id.get(id))
    }

    /// Invokes `function` with `event`, applying faults and its timeout, as
    /// the Lambda service does with tracing on: the invocation is a span
    /// (service `lambda`, named `Invoke <binary>`) in the trace `trace`
    /// names (a new trace without one), marked failed with the function
    /// error, and the function gets that span's context as its trace
    /// header.
    pub async fn invoke(
        &self,
        function: &Function,
        event: Value,
        trace: Option<saga_telemetry::TraceContext>,
    ) -> Result<Value, FunctionError> {
        use tracing::Instrument as _;
        let context = trace.unwrap_or_else(saga_telemetry::TraceContext::new_trace);
        let span = saga_telemetry::root_span(
            &format!("Invoke {}", function.spec.binary),
            "server",
            "lambda",
            &context,
        );
        let request_id = uuid::Uuid::new_v4().to_string();
        span.record("request_id", request_id.as_str());
        if let Some(order_id) = event.get("orderId").and_then(Value::as_str) {
            span.record("order_id", order_id);
        }
        let invocation = Invocation {
            function_name: function.spec.name.clone(),
            request_id,
            trace_header: saga_telemetry::span_context(&span).map(|handed| handed.to_xray()),
        };
        let result = self
            .invoke_in_span(function, event, &invocation)
            .instrument(span.clone())
            .await;
        if let Err(error) = &result {
            saga_telemetry::record_error(&span, &error.error_type);
        }
        result
    }

    async fn invoke_in_span(
        &self,
        function: &Function,
        event: Value,
        invocation: &Invocation,
    ) -> Result<Value, FunctionError> {
        let binary = function.spec.binary.as_str();
        let mut code = Arc::clone(&function.code);
        let mut delay = None;
        let mut after_effect = None;
        let mut twice = false;
        match self.faults.take(binary) {
            FaultAction::None => {}
            FaultAction::LoseProviderAnswer => {
                tracing::info!(
                    function = binary,
                    "fault injected: the provider's next answer is lost"
                );
                saga_domain::simulated_provider::SimulatedPaymentProvider::shared()
                    .lose_next_answers(1);
            }
            FaultAction::ForgetProviderKeys => {
                tracing::info!(
                    function = binary,
                    "fault injected: the provider's next answer is lost, then it forgets every idempotency key"
                );
                saga_domain::simulated_provider::SimulatedPaymentProvider::shared()
                    .lose_next_answer_and_forget_keys();
            }
            FaultAction::Duplicate => {
                tracing::info!(function = binary, "fault injected: delivered twice at once");
                twice = true;
            }
            action @ (FaultAction::CrashAfterEffect | FaultAction::TimeoutAfterEffect) => {
                tracing::info!(
                    function = binary,
                    ?action,
                    "fault injected after the effect"
                );
                after_effect = Some(action);
            }
            // A slow invocation: the delay counts against the function's
            // timeout, as a slow handler's time does on Lambda.
            FaultAction::Delay(slow) => delay = Some(slow),
            FaultAction::Outage(services) => {
                tracing::info!(function = binary, ?services, "outage injected");
                code = self.build_during_outage(function, &services)?;
            }
            FaultAction::CallbackTwice => {
                tracing::info!(
                    function = binary,
                    "fault injected: each task callback is sent twice"
                );
                code = self.build_with_callbacks_twice(function)?;
            }
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
        let run = async {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let result = if twice {
                // Both deliveries run to the end, concurrently; the caller
                // sees the answer of the one it is connected to.
                let (first, _second) = futures::join!(
                    crash_on_panic(code.invoke(event.clone(), invocation)),
                    crash_on_panic(code.invoke(event, invocation))
                );
                first
            } else {
                crash_on_panic(code.invoke(event, invocation)).await
            };
            match after_effect {
                // The handler's writes are made; the answer never leaves.
                Some(FaultAction::CrashAfterEffect) => Err(Diagnostic {
                    error_type: "Runtime.ExitError".to_owned(),
                    error_message: format!(
                        "saga-local fault injection: {binary} crashed after its handler ran (Runtime exited with error: signal: killed)"
                    ),
                }),
                Some(_) => std::future::pending().await,
                None => result,
            }
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result.map_err(FunctionError::from),
            Err(_) => Err(FunctionError::new(
                "Sandbox.Timedout",
                format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            )),
        }
    }

    /// `function` built from its environment with its Step Functions
    /// endpoint at [`crate::faults::CALLBACK_TWICE_PATH`] of the same
    /// server, which applies each task callback twice.
    fn build_with_callbacks_twice(
        &self,
        function: &Function,
    ) -> Result<Arc<dyn AnyFunction>, FunctionError> {
        let mut environment = function.environment.clone();
        let variable = Service::Sfn.endpoint_variable();
        let Some(endpoint) = environment.get(variable) else {
            return Err(FunctionError::new(
                "Runtime.InvalidEntrypoint",
                format!("{} has no {variable}", function.spec.binary),
            ));
        };
        let twice = format!(
            "{}{}",
            endpoint.trim_end_matches('/'),
            crate::faults::CALLBACK_TWICE_PATH
        );
        environment.insert(variable.to_owned(), twice);
        match build_code(&function.spec.binary, &environment, &self.sdk) {
            Ok(Some(code)) => Ok(code),
            Ok(None) => Err(FunctionError::new(
                "Runtime.InvalidEntrypoint",
                format!("no code for {}", function.spec.binary),
            )),
            Err(error) => Err(FunctionError::new(
                "Runtime.InitError",
                format!("{}: {error}", function.spec.binary),
            )),
        }
    }

    /// `function` built from its environment with the endpoints of
    /// `services` replaced by [`Unreachable`].
    fn build_during_outage(
        &self,
        function: &Function,
        services: &[Service],
    ) -> Result<Arc<dyn AnyFunction>, FunctionError> {
        let mut environment = function.environment.clone();
        for service in services {
            environment.insert(
                service.endpoint_variable().to_owned(),
                self.unreachable.url.clone(),
            );
        }
        match build_code(&function.spec.binary, &environment, &self.sdk) {
            Ok(Some(code)) => Ok(code),
            Ok(None) => Err(FunctionError::new(
                "Runtime.InvalidEntrypoint",
                format!("no code for {}", function.spec.binary),
            )),
            Err(error) => Err(FunctionError::new("Runtime.ExitError", error.to_string())),
        }
    }
}

/// The code of `binary` built from `environment`, as its Lambda main builds
/// it from the process environment; `None` when no such binary exists.
fn build_code(
    binary: &str,
    environment: &BTreeMap<String, String>,
    sdk: &aws_config::SdkConfig,
) -> Result<Option<Arc<dyn AnyFunction>>, saga_wiring::BuildError> {
    let vars = |variable: &str| environment.get(variable).cloned();
    saga_wiring::build(binary, &Context::new(&vars, sdk))
}

/// The handler's answer, or, when it panics, the crash Lambda reports: the
/// release profile aborts on panic, so on Lambda the runtime process dies
/// and Lambda answers `Runtime.ExitError` (Step Functions: `Lambda.Unknown`,
/// retried as a crash). In-process the panic is caught and reported the
/// same way, instead of taking the local cloud's task down.
async fn crash_on_panic(
    invocation: impl std::future::Future<Output = Result<Value, Diagnostic>>,
) -> Result<Value, Diagnostic> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(invocation)
        .catch_unwind()
        .await
    {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Diagnostic {
                error_type: "Runtime.ExitError".to_owned(),
                error_message: format!(
                    "RequestId: local Error: Runtime exited with error: signal: aborted (the handler panicked: {message})"
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FunctionError, crash_on_panic};
    use serde_json::json;

    #[tokio::test]
    async fn a_handler_that_panics_is_a_crash_as_on_lambda() {
        let error = crash_on_panic(async { panic!("index out of bounds") })
            .await
            .expect_err("a crash");
        assert_eq!(error.error_type, "Runtime.ExitError");
        assert!(error.error_message.contains("index out of bounds"));
        assert_eq!(
            FunctionError::from(error).step_functions_error(),
            "Lambda.Unknown"
        );
        let answer = crash_on_panic(async { Ok(json!({"ok": true})) }).await;
        assert_eq!(answer.expect("an answer"), json!({"ok": true}));
    }

    #[test]
    fn step_functions_reports_a_timeout_or_crash_as_lambda_unknown_and_a_handled_error_by_name() {
        let timeout = FunctionError::new("Sandbox.Timedout", "Task timed out after 10.00 seconds");
        assert_eq!(timeout.step_functions_error(), "Lambda.Unknown");
        assert!(timeout.payload_text().contains("Sandbox.Timedout"));
        let crash = FunctionError::new("Runtime.ExitError", "exited with signal 9");
        assert_eq!(crash.step_functions_error(), "Lambda.Unknown");
        let handled = FunctionError::new("TransientError", "throttled");
        assert_eq!(handled.step_functions_error(), "TransientError");
    }
}
