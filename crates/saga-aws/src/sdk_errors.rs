//! AWS SDK errors -> [`PortError`].
//!
//! Conditional check failures never come through here: each store matches
//! them on `into_service_error()` as the domain fact they are. What is left is
//! either worth retrying ([`PortError::Unavailable`]: throttling, timeouts,
//! transaction conflicts, network failures, 5xx) or not
//! ([`PortError::Rejected`]: validation errors, missing tables, bad tokens).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use saga_domain::PortError;

/// Error codes the services document as retryable.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Cancellation reason codes of a `TransactWriteItems` that are retryable.
pub(crate) const TRANSIENT_CANCELLATION_CODES: &[&str] = &[
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// Maps any SDK error of `operation` to a port error.
pub(crate) fn port_error<E>(operation: &'static str, error: SdkError<E>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default();
            if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code) {
                PortError::unavailable(operation, error)
            } else {
                let message = service.err().message().unwrap_or_default();
                PortError::rejected(operation, format!("{code} (HTTP {status}): {message}"))
            }
        }
        // The request could not be built: a bug, retrying will not help.
        SdkError::ConstructionFailure(_) => {
            PortError::rejected(operation, format!("cannot build the request: {error:?}"))
        }
        // Timeouts, connection failures and unreadable responses.
        _ => PortError::unavailable(operation, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use saga_domain::StepError;

    /// What the step makes of an SDK error of a DynamoDB call.
    fn step_error_type(error: SdkError<PutItemError>) -> &'static str {
        StepError::from(port_error("put_item", error)).error_type()
    }

    /// An SDK call that runs past its attempt or operation timeout, or cannot
    /// connect in time, fails the step as `TransientError`, which the state
    /// machine retries with back-off; the Lambda timeout never has to fire.
    #[test]
    fn timed_out_calls_are_transient_errors() {
        let cases = [
            (
                "operation or attempt timeout",
                SdkError::timeout_error(
                    "operation timeout (all attempts including retries) occurred after 5s",
                ),
            ),
            (
                "connect timeout",
                SdkError::dispatch_failure(ConnectorError::timeout(
                    "connect timed out after 1s".into(),
                )),
            ),
            (
                "connection reset",
                SdkError::dispatch_failure(ConnectorError::io("connection reset".into())),
            ),
        ];
        for (case, error) in cases {
            assert_eq!(step_error_type(error), "TransientError", "{case}");
        }
    }
}
