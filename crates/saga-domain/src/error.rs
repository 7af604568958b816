//! Errors: the step error contract, port failures and parse failures.
//!
//! [`StepError`] is the only error a step returns. Its variant names are the
//! Lambda `errorType` strings the state machine's `ErrorEquals` match on, so
//! they are API: [`STEP_ERROR_NAMES`] lists them with their [`ErrorKind`] and a
//! test keeps the list, the enum and `error_type()` in step. Everything a port
//! cannot do ([`PortError`]) becomes `TransientError`: Step Functions retries
//! it with back-off and, when retries run out, the execution fails at that
//! step and can be redriven; nothing is dropped.

use std::borrow::Cow;
use std::error::Error as StdError;

use crate::ids::{OrderId, Sku};
use crate::ports::ReservationStatus;

/// A boxed error source that can cross threads.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A value that does not parse into its domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidValue {
    field: &'static str,
    reason: Cow<'static, str>,
}

impl InvalidValue {
    /// `field` (its wire name) is invalid because of `reason`.
    pub fn new(field: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The wire name of the offending field.
    pub fn field(&self) -> &'static str {
        self.field
    }
}

/// What the state machine does with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A business outcome: caught by the state machine and compensated.
    Business,
    /// A temporary failure: retried with exponential back-off and jitter.
    Transient,
}

/// Every step error name with its kind, in declaration order. The state
/// machine definition must use exactly these names in `ErrorEquals`.
pub const STEP_ERROR_NAMES: [(&str, ErrorKind); 6] = [
    ("InsufficientStock", ErrorKind::Business),
    ("UnknownSku", ErrorKind::Business),
    ("PaymentDeclined", ErrorKind::Business),
    ("ReservationExpired", ErrorKind::Business),
    ("InvalidOrder", ErrorKind::Business),
    ("TransientError", ErrorKind::Transient),
];

/// The kind of the step error called `name`, if there is one.
pub fn step_error_kind(name: &str) -> Option<ErrorKind> {
    STEP_ERROR_NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, kind)| *kind)
}

/// Why a step did not succeed. The variant name is the Lambda `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A line asks for more units than are available.
    #[error("insufficient stock for SKU {sku}: {requested} requested")]
    InsufficientStock {
        /// The first line (in request order) that could not be served.
        sku: Sku,
        /// The units that line asked for.
        requested: u32,
    },

    /// A line names a SKU the catalog does not have.
    #[error("unknown SKU {sku}")]
    UnknownSku {
        /// The first unknown SKU in request order.
        sku: Sku,
    },

    /// The payment provider declined the payment method.
    #[error("payment for order {order_id} declined: {reason}")]
    PaymentDeclined {
        /// The order being charged.
        order_id: OrderId,
        /// The provider's decline code, e.g. `card_declined`.
        reason: String,
    },

    /// The reservation is no longer held: expired by the reaper, lapsed past
    /// its `expiresAt`, released, or absent.
    #[error("reservation for order {order_id} is not held (status: {})", describe_status(*.status))]
    ReservationExpired {
        /// The order whose reservation was looked up.
        order_id: OrderId,
        /// The status found, `None` when there is no reservation at all.
        status: Option<ReservationStatus>,
    },

    /// The input does not parse into a valid order, or contradicts what is
    /// already recorded for the order.
    #[error("invalid order: {reason}")]
    InvalidOrder {
        /// What is wrong, naming the field where possible.
        reason: String,
    },

    /// A dependency failed in a way that may succeed on retry.
    #[error("transient failure: {detail}")]
    TransientError {
        /// What was being done.
        detail: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

fn describe_status(status: Option<ReservationStatus>) -> &'static str {
    status.map_or("absent", ReservationStatus::as_str)
}

impl StepError {
    /// The Lambda `errorType`: exactly the variant name.
    pub fn error_type(&self) -> &'static str {
        match self {
            StepError::InsufficientStock { .. } => "InsufficientStock",
            StepError::UnknownSku { .. } => "UnknownSku",
            StepError::PaymentDeclined { .. } => "PaymentDeclined",
            StepError::ReservationExpired { .. } => "ReservationExpired",
            StepError::InvalidOrder { .. } => "InvalidOrder",
            StepError::TransientError { .. } => "TransientError",
        }
    }

    /// Whether the state machine compensates or retries this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StepError::TransientError { .. } => ErrorKind::Transient,
            _ => ErrorKind::Business,
        }
    }

    /// The message with every source appended, for `errorMessage` and the
    /// `cause` of SendTaskFailure.
    pub fn message_with_sources(&self) -> String {
        let mut message = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    }

    /// An `InvalidOrder` for input that failed to parse.
    pub fn invalid_order(reason: impl std::fmt::Display) -> Self {
        StepError::InvalidOrder {
            reason: reason.to_string(),
        }
    }

    /// A `TransientError` without an underlying source.
    pub fn transient(detail: impl Into<String>) -> Self {
        StepError::TransientError {
            detail: detail.into(),
            source: None,
        }
    }
}

impl From<InvalidValue> for StepError {
    fn from(value: InvalidValue) -> Self {
        StepError::invalid_order(value)
    }
}

impl From<PortError> for StepError {
    fn from(error: PortError) -> Self {
        StepError::TransientError {
            detail: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

/// A store, provider or reporter operation that did not complete. Conditional
/// check failures are not errors: they come back as outcome enums because
/// they are domain facts (already reserved, out of stock, ...).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The service could not be reached, throttled, timed out or answered 5xx.
    /// Retrying later may succeed.
    #[error("{operation}: service unavailable")]
    Unavailable {
        /// The port operation, e.g. `reserve` or `send_task_success`.
        operation: &'static str,
        /// The SDK or I/O error.
        #[source]
        source: BoxError,
    },

    /// The service refused the request or returned data that does not parse
    /// into the domain (a corrupt item, a malformed task token, a missing
    /// permission). Retrying will not help; an operator must look.
    #[error("{operation}: {detail}")]
    Rejected {
        /// The port operation.
        operation: &'static str,
        /// What was refused or could not be read.
        detail: String,
    },
}

impl PortError {
    /// An `Unavailable` error from any error source.
    pub fn unavailable(operation: &'static str, source: impl Into<BoxError>) -> Self {
        PortError::Unavailable {
            operation,
            source: source.into(),
        }
    }

    /// A `Rejected` error.
    pub fn rejected(operation: &'static str, detail: impl Into<String>) -> Self {
        PortError::Rejected {
            operation,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<StepError> {
        let sku: Sku = "SKU-1".parse().unwrap();
        let order_id: OrderId = "ord-1".parse().unwrap();
        vec![
            StepError::InsufficientStock {
                sku: sku.clone(),
                requested: 2,
            },
            StepError::UnknownSku { sku },
            StepError::PaymentDeclined {
                order_id: order_id.clone(),
                reason: "card_declined".into(),
            },
            StepError::ReservationExpired {
                order_id,
                status: None,
            },
            StepError::invalid_order("x"),
            StepError::transient("y"),
        ]
    }

    #[test]
    fn names_list_matches_the_enum_in_order() {
        let errors = one_of_each();
        let names: Vec<(&str, ErrorKind)> =
            errors.iter().map(|e| (e.error_type(), e.kind())).collect();
        assert_eq!(names, STEP_ERROR_NAMES.to_vec());
        for error in &errors {
            assert_eq!(step_error_kind(error.error_type()), Some(error.kind()));
            // Debug starts with the variant name: error_type() is that name.
            assert!(format!("{error:?}").starts_with(error.error_type()));
        }
        assert_eq!(step_error_kind("States.ALL"), None);
    }

    #[test]
    fn port_errors_become_transient_with_their_source() {
        let port = PortError::unavailable("reserve", "connection reset");
        let step = StepError::from(port);
        assert_eq!(step.error_type(), "TransientError");
        let message = step.message_with_sources();
        assert!(message.contains("reserve"), "{message}");
        assert!(message.contains("connection reset"), "{message}");
    }
}
