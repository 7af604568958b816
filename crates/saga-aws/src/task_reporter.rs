//! The Step Functions task reporter (aws-sdk-sfn) behind the domain's
//! [`TaskReporter`]: SendTaskSuccess / SendTaskFailure for `.waitForTaskToken`.
//!
//! A token Step Functions no longer accepts (`TaskTimedOut`,
//! `TaskDoesNotExist`, `InvalidToken`) is a fact about the task, not a
//! transient failure: it maps to [`PortError::Rejected`] so the caller does
//! not retry forever. Throttling, 5xx and network failures are transient.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use saga_domain::ports::TaskReporter;
use saga_domain::{PortError, TaskToken};

/// Step Functions error codes that say the token is no longer usable.
const DEAD_TOKEN_CODES: &[&str] = &["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

/// Reports task outcomes to the Step Functions endpoint of `client`.
#[derive(Debug, Clone)]
pub struct SfnTaskReporter {
    client: Client,
}

impl SfnTaskReporter {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn task_error<E>(operation: &'static str, error: SdkError<E>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(service) = error.as_service_error()
        && let Some(code) = service
            .code()
            .filter(|code| DEAD_TOKEN_CODES.contains(code))
    {
        let message = service.message().unwrap_or_default();
        return PortError::rejected(operation, format!("{code}: {message}"));
    }
    crate::sdk_errors::port_error(operation, error)
}

impl TaskReporter for SfnTaskReporter {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), PortError> {
        self.client
            .send_task_success()
            .task_token(token.as_str())
            .output(output.to_string())
            .send()
            .await
            .map_err(|error| task_error("send_task_success", error))?;
        Ok(())
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.client
            .send_task_failure()
            .task_token(token.as_str())
            .error(error)
            .cause(cause)
            .send()
            .await
            .map_err(|error| task_error("send_task_failure", error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
    use aws_sdk_sfn::types::error::{InvalidToken, TaskDoesNotExist, TaskTimedOut};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error(error: SendTaskSuccessError, status: u16) -> SdkError<SendTaskSuccessError> {
        let response = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(error, response)
    }

    fn unhandled(code: &str) -> SendTaskSuccessError {
        SendTaskSuccessError::generic(ErrorMetadata::builder().code(code).message("m").build())
    }

    #[test]
    fn dead_tokens_are_rejected_and_service_trouble_is_transient() {
        let cases = [
            (
                SendTaskSuccessError::TaskTimedOut(
                    TaskTimedOut::builder().message("timed out").build(),
                ),
                400,
                false,
            ),
            (
                SendTaskSuccessError::TaskDoesNotExist(
                    TaskDoesNotExist::builder().message("gone").build(),
                ),
                400,
                false,
            ),
            (
                SendTaskSuccessError::InvalidToken(InvalidToken::builder().message("bad").build()),
                400,
                false,
            ),
            (unhandled("ThrottlingException"), 400, true),
            (unhandled("InternalFailure"), 500, true),
            (unhandled("ServiceUnavailable"), 503, true),
            (unhandled("AccessDeniedException"), 400, false),
        ];
        for (error, status, transient) in cases {
            let description = format!("{error:?} ({status})");
            let port_error = task_error("send_task_success", service_error(error, status));
            assert_eq!(
                matches!(port_error, PortError::Unavailable { .. }),
                transient,
                "{description}: {port_error}"
            );
        }
    }
}
