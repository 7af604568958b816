//! StartExecution on the order saga (aws-sdk-sfn) behind the domain's
//! [`ExecutionStarter`].
//!
//! The execution is named by the order id. Step Functions answers a repeat
//! with the same name and input with the running execution, and
//! `ExecutionAlreadyExists` once it has closed (or for other input): both
//! mean the order's saga exists, so the latter is
//! [`StartOutcome::AlreadyExists`], not an error. Throttling, 5xx and
//! network failures are `Unavailable`; anything else (a wrong ARN, a missing
//! permission, invalid input) is `Rejected`.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use saga_domain::ports::{ExecutionStarter, StartOutcome};
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
