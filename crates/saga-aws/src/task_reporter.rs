//! The Step Functions task reporter (aws-sdk-sfn) behind the domain's
//! [`TaskReporter`]: SendTaskSuccess / SendTaskFailure for `.waitForTaskToken`.
//!
//! A token whose task has completed, failed or timed out (`TaskTimedOut`,
//! `TaskDoesNotExist`) is a fact about the task, not a failure:
//! [`ReportOutcome::TokenSpent`]. Anything else the service refuses,
//! `InvalidToken` (a malformed token) included, is [`PortError::Rejected`]
//! so the message reaches the dead-letter queue; throttling, 5xx and network
//! failures are transient.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use saga_domain::ports::{ReportOutcome, TaskReporter};
use saga_domain::{PortError, TaskToken};

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

/// The errors of the two report operations, which model the same token
/// answers as separate types.
trait ReportError: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static {
    /// `TaskTimedOut` or `TaskDoesNotExist`: the task completed, failed or
    /// timed out, and takes no more reports.
    fn token_spent(&self) -> bool;
}

impl ReportError for SendTaskSuccessError {
    fn token_spent(&self) -> bool {
        self.is_task_timed_out() || self.is_task_does_not_exist()
    }
}

impl ReportError for SendTaskFailureError {
    fn token_spent(&self) -> bool {
        self.is_task_timed_out() || self.is_task_does_not_exist()
    }
}

/// What Step Functions' answer to a report means for the caller.
fn report_outcome<T, E: ReportError>(
    operation: &'static str,
    answer: Result<T, SdkError<E>>,
) -> Result<ReportOutcome, PortError> {
    match answer {
        Ok(_) => Ok(ReportOutcome::Reported),
        // The modelled error's Display is `TaskTimedOut: <message>`.
        Err(SdkError::ServiceError(service)) if service.err().token_spent() => {
            Ok(ReportOutcome::TokenSpent {
                detail: format!("{operation}: {}", service.err()),
            })
        }
        Err(error) => Err(crate::sdk_errors::port_error(operation, error)),
    }
}

impl TaskReporter for SfnTaskReporter {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<ReportOutcome, PortError> {
        let answer = self
            .client
            .send_task_success()
            .task_token(token.as_str())
            .output(output.to_string())
            .send()
            .await;
        report_outcome("send_task_success", answer)
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<ReportOutcome, PortError> {
        let answer = self
            .client
            .send_task_failure()
            .task_token(token.as_str())
            .error(error)
            .cause(cause)
            .send()
            .await;
        report_outcome("send_task_failure", answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::error::{InvalidToken, TaskDoesNotExist, TaskTimedOut};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn service_error<E>(error: E, status: u16) -> SdkError<E> {
        let response = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(error, response)
    }

    fn metadata(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    /// What the reporter makes of `error`: `spent`, `rejected` or `unavailable`.
    fn classify<E: ReportError>(operation: &'static str, error: SdkError<E>) -> &'static str {
        match report_outcome::<(), E>(operation, Err(error)) {
            Ok(ReportOutcome::TokenSpent { .. }) => "spent",
            Ok(ReportOutcome::Reported) => "reported",
            Err(PortError::Unavailable { .. }) => "unavailable",
            Err(PortError::Rejected { .. }) => "rejected",
        }
    }

    /// Step Functions' answers to SendTaskSuccess and SendTaskFailure: a
    /// spent token (the task completed, failed or timed out) is a fact about
    /// the task; a malformed token, a missing permission or a bad request is
    /// a rejection an operator must see; throttling and 5xx are transient.
    #[test]
    fn spent_tokens_rejections_and_service_trouble_are_told_apart() {
        let success_cases = [
            (
                SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().message("t").build()),
                400,
                "spent",
            ),
            (
                SendTaskSuccessError::TaskDoesNotExist(
                    TaskDoesNotExist::builder().message("gone").build(),
                ),
                400,
                "spent",
            ),
            (
                SendTaskSuccessError::InvalidToken(InvalidToken::builder().message("bad").build()),
                400,
                "rejected",
            ),
            (
                SendTaskSuccessError::generic(metadata("AccessDeniedException")),
                400,
                "rejected",
            ),
            (
                SendTaskSuccessError::generic(metadata("ValidationException")),
                400,
                "rejected",
            ),
            (
                SendTaskSuccessError::generic(metadata("ThrottlingException")),
                400,
                "unavailable",
            ),
            (
                SendTaskSuccessError::generic(metadata("InternalFailure")),
                500,
                "unavailable",
            ),
            (
                SendTaskSuccessError::generic(metadata("ServiceUnavailable")),
                503,
                "unavailable",
            ),
        ];
        for (error, status, expected) in success_cases {
            let description = format!("SendTaskSuccess {error:?} ({status})");
            let got = classify("send_task_success", service_error(error, status));
            assert_eq!(got, expected, "{description}");
        }
        let failure_cases = [
            (
                SendTaskFailureError::TaskTimedOut(TaskTimedOut::builder().message("t").build()),
                "spent",
            ),
            (
                SendTaskFailureError::TaskDoesNotExist(
                    TaskDoesNotExist::builder().message("gone").build(),
                ),
                "spent",
            ),
            (
                SendTaskFailureError::InvalidToken(InvalidToken::builder().message("bad").build()),
                "rejected",
            ),
            (
                SendTaskFailureError::generic(metadata("AccessDeniedException")),
                "rejected",
            ),
        ];
        for (error, expected) in failure_cases {
            let description = format!("SendTaskFailure {error:?}");
            let got = classify("send_task_failure", service_error(error, 400));
            assert_eq!(got, expected, "{description}");
        }
    }
}
