//! StartExecution on the order saga (aws-sdk-sfn) behind the domain's
//! [`ExecutionStarter`].
//!
//! The execution is named by the order id. Step Functions answers a repeat
//! with the same name and input with the running execution, and
//! `ExecutionAlreadyExists` once it has closed (or for other input): both
//! mean the order's saga exists, so the latter is
//! [`StartOutcome::AlreadyExists`], not an error. Throttling, 5xx and
//! network failures are `Unavailable`; anything else (a wrong ARN, a missing
//! permission, invalid input) is `Rejected`. The current trace context goes
//! in `traceHeader`, so the order's trace continues through the execution.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use saga_domain::ports::{ExecutionStarter, StartOutcome, StoppedExecutions};
use saga_domain::step_io::ExecutionStatusChange;
use saga_domain::{OrderId, PortError};

use crate::sdk_errors::port_error;

/// Starts executions of one state machine through `client`.
#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: Client,
    state_machine_arn: String,
}

impl SfnExecutions {
    /// Starts executions of `state_machine_arn` (from `STATE_MACHINE_ARN`).
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

impl ExecutionStarter for SfnExecutions {
    async fn start_execution(
        &self,
        name: &OrderId,
        input: &str,
    ) -> Result<StartOutcome, PortError> {
        const OPERATION: &str = "start_execution";
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name.as_str())
            .input(input)
            // The caller's trace goes on in the execution: Step Functions
            // (tracing on) hands it to each state's Lambda invocation and
            // SQS message.
            .set_trace_header(saga_telemetry::current_context().map(|context| context.to_xray()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(StartOutcome::Started),
            Err(error) => match error.as_service_error() {
                Some(StartExecutionError::ExecutionAlreadyExists(_)) => {
                    Ok(StartOutcome::AlreadyExists)
                }
                _ => Err(port_error(OPERATION, error)),
            },
        }
    }
}

impl StoppedExecutions for SfnExecutions {
    async fn stopped_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ExecutionStatusChange>, PortError> {
        const OPERATION: &str = "stopped_since";
        let since = since.timestamp_millis();
        let page = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let mut stopped = Vec::new();
        for status in [
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ] {
            // Newest first: one page is the executions that matter.
            let output = self
                .client
                .list_executions()
                .state_machine_arn(&self.state_machine_arn)
                .status_filter(status.clone())
                .max_results(page)
                .send()
                .await
                .map_err(|error| port_error(OPERATION, error))?;
            for execution in output.executions() {
                let Some(stop) = execution.stop_date() else {
                    continue;
                };
                let stop_millis = stop.to_millis().unwrap_or(i64::MIN);
                if stop_millis < since {
                    continue;
                }
                stopped.push(ExecutionStatusChange {
                    execution_arn: execution.execution_arn().to_owned(),
                    name: execution.name().to_owned(),
                    status: status.as_str().to_owned(),
                    stop_date: Some(stop_millis),
                    error: None,
                    cause: Some(
                        "found by the sweeper in ListExecutions: no status-change event recorded it; see the execution's history".to_owned(),
                    ),
                    redrive_count: execution
                        .redrive_count()
                        .and_then(|count| u32::try_from(count).ok())
                        .unwrap_or(0),
                });
            }
        }
        Ok(stopped)
    }
}
