//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every problem has a stable `type` URI (one per [`ProblemType`], never
//! renamed: clients match on it), the HTTP status that goes with it, a fixed
//! `title`, a `detail` for this occurrence and, for every 4xx, `errors`
//! naming each offending field: body fields as paths (`items[0].quantity`),
//! headers as `headers.<Name>`, query parameters as `query.<name>`, path
//! parameters as `path.<name>`, and `body`, `method` or `path` for the whole.
//! The exception is 429 (too many orders in flight): nothing in the request
//! is wrong, so it names no field and, like 503, says when to retry with
//! `Retry-After`. The only 5xx is 503 (a dependency is down).

use serde::Serialize;

/// The prefix of every problem `type` URI.
pub const PROBLEM_TYPE_BASE: &str = "https://order-saga.example.com/problems/";

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// Seconds a client should wait before placing an order again after a 429:
/// a saga usually finishes an order within that.
pub const IN_FLIGHT_RETRY_AFTER_SECONDS: u32 = 30;

/// Every kind of problem the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// 401: no verified `sub` claim.
    Unauthenticated,
    /// 404: no route has this path.
    RouteNotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 404: no such order, or it belongs to someone else.
    OrderNotFound,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 400: the body is not valid base64, UTF-8 or JSON.
    MalformedBody,
    /// 400: fields, headers or query parameters are invalid.
    InvalidRequest,
    /// 400: `POST /orders` without an `Idempotency-Key` header.
    IdempotencyKeyMissing,
    /// 422: the idempotency key was used before with another request.
    IdempotencyKeyReused,
    /// 422: a line names a SKU the catalog does not have.
    UnknownSku,
    /// 422: the lines cannot be totalled (mixed currencies, overflow).
    OrderNotPriceable,
    /// 400: the pagination cursor is not one this API issued.
    InvalidCursor,
    /// 429: the caller has as many orders in flight as the API allows.
    TooManyOrdersInFlight,
    /// 503: DynamoDB or Step Functions failed; retry later.
    ServiceUnavailable,
}

impl ProblemType {
    /// Every problem type, for the documentation checks.
    pub const ALL: [ProblemType; 15] = [
        ProblemType::Unauthenticated,
        ProblemType::RouteNotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::OrderNotFound,
        ProblemType::PayloadTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::MalformedBody,
        ProblemType::InvalidRequest,
        ProblemType::IdempotencyKeyMissing,
        ProblemType::IdempotencyKeyReused,
        ProblemType::UnknownSku,
        ProblemType::OrderNotPriceable,
        ProblemType::InvalidCursor,
        ProblemType::TooManyOrdersInFlight,
        ProblemType::ServiceUnavailable,
    ];

    /// The last segment of the type URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemType::Unauthenticated => "unauthenticated",
            ProblemType::RouteNotFound => "route-not-found",
            ProblemType::MethodNotAllowed => "method-not-allowed",
            ProblemType::OrderNotFound => "order-not-found",
            ProblemType::PayloadTooLarge => "payload-too-large",
            ProblemType::UnsupportedMediaType => "unsupported-media-type",
            ProblemType::MalformedBody => "malformed-body",
            ProblemType::InvalidRequest => "invalid-request",
            ProblemType::IdempotencyKeyMissing => "idempotency-key-missing",
            ProblemType::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemType::UnknownSku => "unknown-sku",
            ProblemType::OrderNotPriceable => "order-not-priceable",
            ProblemType::InvalidCursor => "invalid-cursor",
            ProblemType::TooManyOrdersInFlight => "too-many-orders-in-flight",
            ProblemType::ServiceUnavailable => "service-unavailable",
        }
    }

    /// The full `type` URI.
    pub fn uri(self) -> String {
        format!("{PROBLEM_TYPE_BASE}{}", self.slug())
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ProblemType::MalformedBody
            | ProblemType::InvalidRequest
            | ProblemType::IdempotencyKeyMissing
            | ProblemType::InvalidCursor => 400,
            ProblemType::Unauthenticated => 401,
            ProblemType::RouteNotFound | ProblemType::OrderNotFound => 404,
            ProblemType::MethodNotAllowed => 405,
            ProblemType::PayloadTooLarge => 413,
            ProblemType::UnsupportedMediaType => 415,
            ProblemType::IdempotencyKeyReused
            | ProblemType::UnknownSku
            | ProblemType::OrderNotPriceable => 422,
            ProblemType::TooManyOrdersInFlight => 429,
            ProblemType::ServiceUnavailable => 503,
        }
    }

    /// The `Retry-After` seconds of the problems that say "later": the
    /// request is fine, the moment is not.
    pub fn retry_after_seconds(self) -> Option<u32> {
        match self {
            ProblemType::TooManyOrdersInFlight => Some(IN_FLIGHT_RETRY_AFTER_SECONDS),
            ProblemType::ServiceUnavailable => Some(RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    /// The short, fixed summary.
    pub fn title(self) -> &'static str {
        match self {
            ProblemType::Unauthenticated => "Authentication required",
            ProblemType::RouteNotFound => "No such route",
            ProblemType::MethodNotAllowed => "Method not allowed",
            ProblemType::OrderNotFound => "Order not found",
            ProblemType::PayloadTooLarge => "Request body too large",
            ProblemType::UnsupportedMediaType => "Unsupported media type",
            ProblemType::MalformedBody => "Malformed request body",
            ProblemType::InvalidRequest => "Invalid request",
            ProblemType::IdempotencyKeyMissing => "Idempotency-Key header required",
            ProblemType::IdempotencyKeyReused => "Idempotency key reused with another request",
            ProblemType::UnknownSku => "Unknown SKU",
            ProblemType::OrderNotPriceable => "Order cannot be priced",
            ProblemType::InvalidCursor => "Invalid pagination cursor",
            ProblemType::TooManyOrdersInFlight => "Too many orders in flight",
            ProblemType::ServiceUnavailable => "Service temporarily unavailable",
        }
    }
}

/// One offending field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where: `items[0].quantity`, `headers.Idempotency-Key`, `query.limit`...
    pub field: String,
    /// What is wrong, in a sentence.
    pub detail: String,
}

impl FieldError {
    /// `field` is wrong because of `detail`.
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// A problem to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Which problem.
    pub kind: ProblemType,
    /// What happened this time.
    pub detail: String,
    /// The offending fields (never empty for a 4xx but 429).
    pub errors: Vec<FieldError>,
    /// The methods the path allows (405 only), for the `Allow` header.
    pub allow: Vec<&'static str>,
    /// `Retry-After` seconds for this occurrence, over the kind's own.
    pub retry_after: Option<u32>,
}

impl Problem {
    /// A problem of `kind` about one `field`.
    pub fn field(kind: ProblemType, field: impl Into<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            kind,
            errors: vec![FieldError::new(field, detail.clone())],
            detail,
            allow: Vec::new(),
            retry_after: None,
        }
    }

    /// A problem of `kind` about several fields, summarised by `detail`.
    pub fn fields(kind: ProblemType, detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors,
            allow: Vec::new(),
            retry_after: None,
        }
    }

    /// 503: a dependency failed.
    pub fn unavailable() -> Self {
        Self {
            kind: ProblemType::ServiceUnavailable,
            detail: format!(
                "A service the API depends on did not answer; retry in {RETRY_AFTER_SECONDS} seconds."
            ),
            errors: Vec::new(),
            allow: Vec::new(),
            retry_after: None,
        }
    }

    /// 503: the payment provider's circuit breaker is open; new orders wait
    /// `retry_after` seconds (at least 1).
    pub fn payments_unavailable(retry_after: u32) -> Self {
        let retry_after = retry_after.max(1);
        Self {
            kind: ProblemType::ServiceUnavailable,
            detail: format!(
                "The payment provider is failing, so no new order is taken for now (nothing was \
                 reserved or charged); retry in {retry_after} seconds."
            ),
            errors: Vec::new(),
            allow: Vec::new(),
            retry_after: Some(retry_after),
        }
    }

    /// 429: the customer has `in_flight` orders in flight (counted up to
    /// `limit`) and may have at most `limit`.
    pub fn too_many_orders_in_flight(in_flight: usize, limit: usize) -> Self {
        let orders = if in_flight == 1 { "order" } else { "orders" };
        Self {
            kind: ProblemType::TooManyOrdersInFlight,
            detail: format!(
                "You have {in_flight} {orders} in flight (placed, not yet completed or \
                 rejected), and at most {limit} may be at a time; place this one once one of \
                 them has finished (retry in {IN_FLIGHT_RETRY_AFTER_SECONDS} seconds)."
            ),
            errors: Vec::new(),
            allow: Vec::new(),
            retry_after: None,
        }
    }
}

/// The JSON body of a problem.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProblemBody<'a> {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    pub errors: &'a [FieldError],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_problem_is_4xx_and_only_unavailability_is_5xx() {
        for kind in ProblemType::ALL {
            let status = kind.status();
            assert!(
                (400..500).contains(&status) || kind == ProblemType::ServiceUnavailable,
                "{kind:?} -> {status}"
            );
            assert!(kind.uri().starts_with(PROBLEM_TYPE_BASE));
            assert_eq!(
                kind.retry_after_seconds().is_some(),
                matches!(status, 429 | 503),
                "{kind:?}: Retry-After exactly on 429 and 503"
            );
        }
        let mut slugs: Vec<&str> = ProblemType::ALL.iter().map(|k| k.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemType::ALL.len(), "slugs are unique");
    }
}
