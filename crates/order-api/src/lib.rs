//! The order HTTP API behind API Gateway (HTTP API, payload format 2.0):
//! place an order, read one, list the caller's, list the catalog.
//!
//! [`handle_request`] takes the API Gateway event and always returns a
//! response: every failure becomes an RFC 9457 problem ([`problem`]), the
//! only 5xx being 503 when DynamoDB or Step Functions fail. The route table
//! is [`routes::ROUTES`]; `openapi.yaml` documents it and a test keeps the
//! two equal.
//!
//! Invariants:
//! - the customer is the JWT `sub` API Gateway verified, never anything the
//!   client sends; an order someone else owns is a 404, like a missing one;
//! - prices come from the catalog, never from the client;
//! - one order and one saga per (customer, `Idempotency-Key`)
//!   ([`place_order`] says how);
//! - every log line carries the API Gateway request id and, once known, the
//!   order id; no payment method, token or header value is logged.

pub mod config;
mod cursor;
mod http;
pub mod place_order;
pub mod problem;
pub mod routes;
mod views;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use saga_domain::ports::{Catalog, Clock, ExecutionStarter, OrderStore};
use saga_domain::{CustomerId, OrderId};
use tracing::{Instrument as _, info, info_span, warn};

pub use http::MAX_BODY_BYTES;
use http::RequestInfo;
use place_order::IdempotencyKey;
use problem::{Problem, ProblemType};
use routes::{Operation, Resolution};
use views::{OrderListView, OrderSummaryView, OrderView, ProductListView, ProductView};

/// Orders per page of `GET /orders` unless `limit` says otherwise.
pub const DEFAULT_ORDERS_PAGE: usize = 20;
/// Products per page of `GET /products` unless `limit` says otherwise.
pub const DEFAULT_PRODUCTS_PAGE: usize = 50;
/// The largest `limit` either list accepts.
pub const MAX_PAGE: usize = 100;

/// What the API talks to: the Orders table, the catalog (Inventory table),
/// Step Functions and a clock.
#[derive(Debug)]
pub struct OrderApi<O, C, E, K> {
    /// The Orders table.
    pub orders: O,
    /// Prices and availability.
    pub catalog: C,
    /// StartExecution on the order saga.
    pub executions: E,
    /// The time orders are placed at.
    pub clock: K,
    /// How many orders one customer may have in flight (placed, not yet
    /// COMPLETED or REJECTED) before `POST /orders` refuses a new one with
    /// 429 (`MAX_ORDERS_IN_FLIGHT`).
    pub max_orders_in_flight: usize,
    /// The payment provider's circuit breaker: while it is open,
    /// `POST /orders` refuses new orders with 503 and `Retry-After` instead
    /// of placing orders the saga could not charge. `None`: no breaker.
    pub payments_gate: Option<std::sync::Arc<dyn PaymentsGate>>,
}

/// What [`PaymentsGate::refuses_until`] returns.
pub type GateFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<Option<chrono::DateTime<chrono::Utc>>, saga_domain::PortError>,
            > + Send
            + 'a,
    >,
>;

/// Whether the payment provider takes new orders now (the charge
/// function's shared circuit breaker, read-only).
pub trait PaymentsGate: std::fmt::Debug + Send + Sync {
    /// `Some(retry_at)` while new orders should wait until `retry_at`.
    fn refuses_until(&self, now: chrono::DateTime<chrono::Utc>) -> GateFuture<'_>;
}

/// The [`PaymentsGate`] of a breaker kept in a [`BreakerStore`].
///
/// [`BreakerStore`]: saga_domain::breaker::BreakerStore
#[derive(Debug)]
pub struct BreakerGate<S>(pub S);

impl<S> PaymentsGate for BreakerGate<S>
where
    S: saga_domain::breaker::BreakerStore + std::fmt::Debug,
{
    fn refuses_until(&self, now: chrono::DateTime<chrono::Utc>) -> GateFuture<'_> {
        Box::pin(async move {
            Ok(self
                .0
                .load()
                .await?
                .and_then(|record| record.refuses_until(now)))
        })
    }
}

/// Answers one API Gateway request. Never fails and never panics on input:
/// every outcome is a response.
pub async fn handle_request<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    request: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse
where
    O: OrderStore,
    C: Catalog,
    E: ExecutionStarter,
    K: Clock,
{
    let request_id = request.request_context.request_id.as_deref();
    let span = info_span!(
        "api_request",
        request_id = request_id.unwrap_or("-"),
        order_id = tracing::field::Empty,
    );
    async {
        let method = request.request_context.http.method.as_str();
        let path = request
            .raw_path
            .as_deref()
            .or(request.request_context.http.path.as_deref())
            .unwrap_or_default();
        let info = RequestInfo { request_id, path };
        let response = match dispatch(api, &request, method, path).await {
            Ok(response) => response,
            Err(problem) => {
                if problem.kind == ProblemType::ServiceUnavailable {
                    warn!(problem = problem.kind.slug(), "dependency unavailable");
                } else {
                    info!(
                        problem = problem.kind.slug(),
                        fields = problem.errors.len(),
                        "request refused"
                    );
                }
                http::problem_response(&problem, info)
            }
        };
        info!(method, status = response.status_code, "request handled");
        response
    }
    .instrument(span)
    .await
}

async fn dispatch<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    request: &ApiGatewayV2httpRequest,
    method: &str,
    path: &str,
) -> Result<ApiGatewayV2httpResponse, Problem>
where
    O: OrderStore,
    C: Catalog,
    E: ExecutionStarter,
    K: Clock,
{
    let (operation, parameter) = match routes::resolve(method, path) {
        Resolution::Matched {
            operation,
            parameter,
        } => (operation, parameter),
        Resolution::MethodNotAllowed { allow } => {
            let mut problem = Problem::field(
                ProblemType::MethodNotAllowed,
                "method",
                format!("{path} allows {}.", allow.join(", ")),
            );
            problem.allow = allow;
            return Err(problem);
        }
        Resolution::NotFound => {
            return Err(Problem::field(
                ProblemType::RouteNotFound,
                "path",
                "No route has this path; see the API's OpenAPI document.",
            ));
        }
    };
    let customer = http::caller(request)?;
    match operation {
        Operation::PlaceOrder => place(api, request, &customer).await,
        Operation::GetOrder => {
            http::query_parameters(request, &[])?;
            get_order(api, &customer, parameter.unwrap_or_default()).await
        }
        Operation::ListOrders => list_orders(api, request, &customer).await,
        Operation::ListProducts => list_products(api, request).await,
    }
}

async fn place<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    request: &ApiGatewayV2httpRequest,
    customer: &CustomerId,
) -> Result<ApiGatewayV2httpResponse, Problem>
where
    O: OrderStore,
    C: Catalog,
    E: ExecutionStarter,
    K: Clock,
{
    http::query_parameters(request, &[])?;
    http::check_body_size(request)?;
    let key = match http::header(request, "idempotency-key") {
        None => {
            return Err(Problem::field(
                ProblemType::IdempotencyKeyMissing,
                "headers.Idempotency-Key",
                "Send a unique Idempotency-Key header (for example a UUID) with every new order, \
                 and the same one when retrying it.",
            ));
        }
        Some(Err(())) => IdempotencyKey::parse("")?,
        Some(Ok(value)) => IdempotencyKey::parse(value)?,
    };
    let body = http::json_body(request)?;
    let order_request = place_order::parse_place_order(&body)?;
    let order = place_order::place_order(api, customer, &key, &order_request).await?;
    let location = format!("/orders/{}", order.order_id);
    Ok(http::json_response(
        202,
        &OrderView::of(&order),
        &[("location", location)],
    ))
}

fn order_not_found() -> Problem {
    Problem::field(
        ProblemType::OrderNotFound,
        "path.id",
        "You have no order with this id.",
    )
}

async fn get_order<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    customer: &CustomerId,
    raw_id: &str,
) -> Result<ApiGatewayV2httpResponse, Problem>
where
    O: OrderStore,
{
    // An id that cannot exist is simply not found: no hint about the format.
    let order_id: OrderId = raw_id.parse().map_err(|_| order_not_found())?;
    tracing::Span::current().record("order_id", order_id.as_str());
    let order = api.orders.get_order(&order_id).await.map_err(|error| {
        warn!(error = %error, "order lookup failed");
        Problem::unavailable()
    })?;
    match order {
        // Someone else's order is answered exactly like a missing one.
        Some(order) if order.customer_id == *customer => {
            Ok(http::json_response(200, &OrderView::of(&order), &[]))
        }
        Some(_) => {
            info!("order belongs to another customer");
            Err(order_not_found())
        }
        None => Err(order_not_found()),
    }
}

async fn list_orders<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    request: &ApiGatewayV2httpRequest,
    customer: &CustomerId,
) -> Result<ApiGatewayV2httpResponse, Problem>
where
    O: OrderStore,
{
    let parameters = http::query_parameters(request, &["cursor", "limit"])?;
    let limit = http::page_limit(&parameters, DEFAULT_ORDERS_PAGE, MAX_PAGE)?;
    let after = parameters
        .get("cursor")
        .map(|cursor| cursor::decode_orders(cursor))
        .transpose()?;
    let page = api
        .orders
        .customer_orders(customer, after.as_ref(), limit)
        .await
        .map_err(|error| {
            warn!(error = %error, "order list failed");
            Problem::unavailable()
        })?;
    // The index is the caller's partition; check anyway, it is cheap.
    let view = OrderListView {
        orders: page
            .orders
            .iter()
            .filter(|order| order.customer_id == *customer)
            .map(OrderSummaryView::of)
            .collect(),
        next_cursor: page.next_after.as_ref().map(cursor::encode_orders),
    };
    Ok(http::json_response(200, &view, &[]))
}

async fn list_products<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, Problem>
where
    C: Catalog,
{
    let parameters = http::query_parameters(request, &["cursor", "limit"])?;
    let limit = http::page_limit(&parameters, DEFAULT_PRODUCTS_PAGE, MAX_PAGE)?;
    let after = parameters
        .get("cursor")
        .map(|cursor| cursor::decode_products(cursor))
        .transpose()?;
    let page = api
        .catalog
        .catalog_page(after.as_ref(), limit)
        .await
        .map_err(|error| {
            warn!(error = %error, "catalog page failed");
            Problem::unavailable()
        })?;
    let view = ProductListView {
        products: page.items.iter().map(ProductView::of).collect(),
        next_cursor: page.next_after.as_ref().map(cursor::encode_products),
    };
    Ok(http::json_response(200, &view, &[]))
}
