//! `POST /orders`: validate, price from the catalog, write the order PENDING
//! once, start its execution, answer 202.
//!
//! Idempotency, without a lock or a second table:
//!
//! - the order id is a hash of (customer, `Idempotency-Key`), so every
//!   replay of a request, concurrent or later, names the same order;
//! - the order is put with `attribute_not_exists(orderId)`: of concurrent
//!   identical requests exactly one creates it, the others get it back;
//! - the order stores a hash of the canonical request (lines sorted by SKU,
//!   payment method, normalised address): the same key with another body is
//!   a 422, whatever the JSON spelling of the first;
//! - the order stores the exact execution input, and StartExecution is
//!   called under a start lease ([`start_order_execution`], which the
//!   sweep of never-started orders shares): a request that finds the
//!   execution not yet recorded as started claims the lease with a
//!   conditional update (`startLeaseUntil` = now + `START_LEASE`, only while
//!   `executionStartedAt` is absent and no lease is live). Only the holder
//!   calls StartExecution, then records `executionStartedAt`; so 50
//!   concurrent identical requests make one call. A request that loses the
//!   claim answers 202 with the same order and calls nothing: the holder is
//!   starting it. When the holder's StartExecution fails it releases the
//!   lease and answers 503, so the client's retry starts it at once; when
//!   the holder crashes, the lease expires and the first replay after that
//!   takes it over and completes the start; an order nobody replays is
//!   started by the `sweeper` once its grace period is over. Should two calls still happen
//!   (a holder slower than its lease), Step Functions is idempotent by name
//!   for the same input and `ExecutionAlreadyExists` counts as started, so
//!   the saga runs once.
//!
//! A replay returns the stored order (its prices, its status now) and never
//! consults the catalog, so a price change or a removed SKU cannot turn a
//! retry into an error.
//!
//! Orders in flight are capped per customer
//! ([`OrderApi::max_orders_in_flight`]): before a new order is written, the
//! customer's orders that are not yet COMPLETED or REJECTED are counted, and
//! at the cap the answer is 429 with `Retry-After`. Only a new order is counted against the cap, so a replay
//! still answers with its order. The check is best effort: concurrent
//! requests each count without the others' orders and may all pass, which
//! is fine for bounding what one runaway client holds (stock itself cannot
//! be oversold: reserve's transactions guard it).
//!
//! A created order is counted once, as the EMF metric `OrdersPlaced`; a
//! replay, or a request that finds its concurrent twin's order, is not.

use saga_domain::ports::{
    Catalog, Clock, CreateOrderOutcome, ExecutionStarter, NewOrder, OrderRecord, OrderStore,
    PricedLine,
};
use saga_domain::steps::start_order_execution;
use saga_domain::{
    CustomerId, Money, OrderId, OrderLine, OrderLines, PaymentMethod, Quantity, ShippingAddress,
    Sku,
};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::OrderApi;
use crate::problem::{FieldError, Problem, ProblemType};

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// A validated `POST /orders` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrderRequest {
    /// The lines, as the client ordered them.
    pub lines: OrderLines,
    /// How the customer pays.
    pub payment_method: PaymentMethod,
    /// Where to ship.
    pub shipping_address: ShippingAddress,
}

/// A validated `Idempotency-Key`: 1..=255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses the header value.
    pub fn parse(value: &str) -> Result<Self, Problem> {
        let length = value.chars().count();
        let visible = value.bytes().all(|b| b.is_ascii_graphic());
        if (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&length) && visible {
            Ok(Self(value.to_owned()))
        } else {
            Err(Problem::field(
                ProblemType::InvalidRequest,
                "headers.Idempotency-Key",
                format!(
                    "Must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters \
                     (a UUID is a good choice)."
                ),
            ))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The order id for `customer`'s request with `key`: `ord_` and 32 hex
/// digits of SHA-256 over both (always a valid execution name).
pub fn derive_order_id(customer: &CustomerId, key: &IdempotencyKey) -> Result<OrderId, Problem> {
    let digest = Sha256::new()
        .chain_update(b"order-id/v1\n")
        .chain_update(customer.as_str())
        .chain_update(b"\n")
        .chain_update(key.as_str())
        .finalize();
    let hex = hex(&digest);
    OrderId::try_from(format!("ord_{}", hex.get(..32).unwrap_or(&hex))).map_err(|error| {
        Problem::field(
            ProblemType::InvalidRequest,
            "headers.Idempotency-Key",
            reason_of(&error),
        )
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The canonical form the request hash covers: lines sorted by SKU, the
/// payment method, the address as parsed (trimmed).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanonicalRequest<'a> {
    items: Vec<(&'a str, u32)>,
    payment_method: &'a str,
    shipping_address: &'a ShippingAddress,
}

/// SHA-256 (hex) of the canonical request.
pub fn request_hash(request: &PlaceOrderRequest) -> String {
    let mut items: Vec<(&str, u32)> = request
        .lines
        .iter()
        .map(|line| (line.sku.as_str(), line.quantity.get()))
        .collect();
    items.sort_unstable();
    let canonical = CanonicalRequest {
        items,
        payment_method: request.payment_method.as_str(),
        shipping_address: &request.shipping_address,
    };
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    format!("v1:{}", hex(&Sha256::digest(bytes)))
}

/// The execution input of ARCHITECTURE.md: written once, started by name.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionInput<'a> {
    order_id: &'a OrderId,
    customer_id: &'a CustomerId,
    items: &'a [PricedLine],
    total: Money,
    payment_method: &'a PaymentMethod,
    shipping_address: &'a ShippingAddress,
}

const BODY_FIELDS: [&str; 3] = ["items", "paymentMethod", "shippingAddress"];
const LINE_FIELDS: [&str; 2] = ["sku", "quantity"];
const ADDRESS_FIELDS: [&str; 7] = [
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postalCode",
    "country",
];
const REQUIRED_ADDRESS_FIELDS: [&str; 5] = ["name", "line1", "city", "postalCode", "country"];

fn unknown_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
    errors: &mut Vec<FieldError>,
) {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{prefix}{key}"),
                format!("Unknown field; allowed are: {}.", allowed.join(", ")),
            ));
        }
    }
}

fn required_string<'v>(
    object: &'v Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'v str> {
    match object.get(key) {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(path, "Required."));
            None
        }
        Some(Value::String(text)) => Some(text),
        Some(_) => {
            errors.push(FieldError::new(path, "Must be a string."));
            None
        }
    }
}

/// The detail of a domain parse error without its `invalid <field>:` prefix.
fn reason_of(error: &saga_domain::InvalidValue) -> String {
    let text = error.to_string();
    let prefix = format!("invalid {}: ", error.field());
    let reason = text.strip_prefix(&prefix).unwrap_or(&text);
    let mut chars = reason.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => "Invalid.".to_owned(),
    }
}

/// A JSON number that is a whole non-negative number, in any spelling JSON
/// Schema calls an integer (`545`, `545.0`, `5.45e2`); `None` otherwise.
fn whole_number(number: &serde_json::Number) -> Option<u64> {
    if let Some(units) = number.as_u64() {
        return Some(units);
    }
    let value = number.as_f64()?;
    // 2^64 as a float: every whole float below it converts exactly.
    let in_range = (0.0..18_446_744_073_709_551_616.0).contains(&value);
    // In range and whole, so the cast is exact.
    (in_range && value.fract() == 0.0).then_some(value as u64)
}

fn parse_line(index: usize, value: &Value, errors: &mut Vec<FieldError>) -> Option<OrderLine> {
    let path = format!("items[{index}]");
    let Value::Object(line) = value else {
        errors.push(FieldError::new(path, "Must be an object {sku, quantity}."));
        return None;
    };
    unknown_fields(line, &LINE_FIELDS, &format!("{path}."), errors);
    let sku_path = format!("{path}.sku");
    let sku = required_string(line, "sku", &sku_path, errors).and_then(|text| {
        Sku::try_from(text)
            .map_err(|error| errors.push(FieldError::new(&sku_path, reason_of(&error))))
            .ok()
    });
    let quantity_path = format!("{path}.quantity");
    let quantity = match line.get("quantity") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new(&quantity_path, "Required."));
            None
        }
        Some(Value::Number(number)) => match whole_number(number) {
            Some(units) => Quantity::try_from(units)
                .map_err(|error| errors.push(FieldError::new(&quantity_path, reason_of(&error))))
                .ok(),
            None => {
                errors.push(FieldError::new(
                    &quantity_path,
                    format!("Must be a whole number from 1 to {}.", Quantity::MAX),
                ));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(
                &quantity_path,
                format!("Must be a whole number from 1 to {}.", Quantity::MAX),
            ));
            None
        }
    };
    Some(OrderLine {
        sku: sku?,
        quantity: quantity?,
    })
}

fn parse_lines(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<OrderLines> {
    let items = match body.get("items") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("items", "Required."));
            return None;
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("items", "Must be an array of lines."));
            return None;
        }
    };
    if items.is_empty() || items.len() > OrderLines::MAX_LINES {
        errors.push(FieldError::new(
            "items",
            format!(
                "Must have 1 to {} lines, got {}.",
                OrderLines::MAX_LINES,
                items.len()
            ),
        ));
        return None;
    }
    let before = errors.len();
    let lines: Vec<Option<OrderLine>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_line(index, item, errors))
        .collect();
    // A SKU on two lines: name the later line.
    let mut first_line_of = std::collections::HashMap::new();
    for (index, line) in lines.iter().enumerate() {
        if let Some(line) = line {
            if let Some(first) = first_line_of.insert(line.sku.clone(), index) {
                first_line_of.insert(line.sku.clone(), first);
                errors.push(FieldError::new(
                    format!("items[{index}].sku"),
                    format!(
                        "SKU {} is already on items[{first}]; order it once.",
                        line.sku
                    ),
                ));
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    let lines: Vec<OrderLine> = lines.into_iter().flatten().collect();
    OrderLines::try_from(lines)
        .map_err(|error| errors.push(FieldError::new("items", reason_of(&error))))
        .ok()
}

fn parse_payment_method(
    body: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<PaymentMethod> {
    let text = required_string(body, "paymentMethod", "paymentMethod", errors)?;
    PaymentMethod::try_from(text)
        .map_err(|error| errors.push(FieldError::new("paymentMethod", reason_of(&error))))
        .ok()
}

fn parse_address(
    body: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<ShippingAddress> {
    let address = match body.get("shippingAddress") {
        None | Some(Value::Null) => {
            errors.push(FieldError::new("shippingAddress", "Required."));
            return None;
        }
        Some(Value::Object(address)) => address,
        Some(_) => {
            errors.push(FieldError::new(
                "shippingAddress",
                "Must be an object {name, line1, line2?, city, region?, postalCode, country}.",
            ));
            return None;
        }
    };
    let before = errors.len();
    unknown_fields(address, &ADDRESS_FIELDS, "shippingAddress.", errors);
    for key in ADDRESS_FIELDS {
        let path = format!("shippingAddress.{key}");
        if REQUIRED_ADDRESS_FIELDS.contains(&key) {
            required_string(address, key, &path, errors);
        } else if !matches!(address.get(key), None | Some(Value::String(_))) {
            // Null is not "absent": the document types these as strings.
            errors.push(FieldError::new(
                path,
                "Must be a string; leave the field out when there is none.",
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    // Shapes are right; what is left are the domain's rules (lengths,
    // control characters, the country code), reported for the first field.
    serde_json::from_value::<ShippingAddress>(Value::Object(address.clone()))
        .map_err(|error| {
            let text = error.to_string();
            let field = text
                .strip_prefix("invalid ")
                .and_then(|rest| rest.split_once(": "))
                .map(|(field, _)| field)
                .filter(|field| {
                    field
                        .strip_prefix("shippingAddress.")
                        .is_some_and(|key| ADDRESS_FIELDS.contains(&key))
                })
                .unwrap_or("shippingAddress")
                .to_owned();
            let detail = text
                .split_once(": ")
                .map_or(text.as_str(), |(_, reason)| reason)
                .to_owned();
            errors.push(FieldError::new(field, detail));
        })
        .ok()
}

/// Parses a body into a request, naming every bad field.
pub fn parse_place_order(body: &Value) -> Result<PlaceOrderRequest, Problem> {
    let Value::Object(body) = body else {
        return Err(Problem::field(
            ProblemType::InvalidRequest,
            "body",
            "Must be a JSON object {items, paymentMethod, shippingAddress}.",
        ));
    };
    let mut errors = Vec::new();
    unknown_fields(body, &BODY_FIELDS, "", &mut errors);
    let lines = parse_lines(body, &mut errors);
    let payment_method = parse_payment_method(body, &mut errors);
    let shipping_address = parse_address(body, &mut errors);
    match (lines, payment_method, shipping_address) {
        (Some(lines), Some(payment_method), Some(shipping_address)) if errors.is_empty() => {
            Ok(PlaceOrderRequest {
                lines,
                payment_method,
                shipping_address,
            })
        }
        _ => Err(Problem::fields(
            ProblemType::InvalidRequest,
            format!("The order has {} invalid field(s).", errors.len().max(1)),
            errors,
        )),
    }
}

/// Prices every line from the catalog: one currency, checked arithmetic.
async fn price_lines(
    catalog: &impl Catalog,
    lines: &OrderLines,
) -> Result<(Vec<PricedLine>, Money), Problem> {
    let skus: Vec<Sku> = lines.iter().map(|line| line.sku.clone()).collect();
    let items = catalog.stock_items(&skus).await.map_err(|error| {
        warn!(error = %error, "catalog lookup failed");
        Problem::unavailable()
    })?;
    let mut priced = Vec::with_capacity(lines.len());
    let mut unknown = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        match items.iter().find(|item| item.sku == line.sku) {
            Some(item) => priced.push(PricedLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price: item.unit_price,
            }),
            None => unknown.push(FieldError::new(
                format!("items[{index}].sku"),
                format!("The catalog has no SKU {}.", line.sku),
            )),
        }
    }
    if !unknown.is_empty() {
        return Err(Problem::fields(
            ProblemType::UnknownSku,
            "The order names SKUs the catalog does not have; see GET /products.",
            unknown,
        ));
    }
    let currency = priced
        .first()
        .map(|line| line.unit_price.currency())
        .ok_or_else(|| Problem::field(ProblemType::InvalidRequest, "items", "Required."))?;
    let mismatched: Vec<FieldError> = priced
        .iter()
        .enumerate()
        .filter(|(_, line)| line.unit_price.currency() != currency)
        .map(|(index, line)| {
            FieldError::new(
                format!("items[{index}].sku"),
                format!(
                    "Priced in {}, the order's first line in {currency}; order them separately.",
                    line.unit_price.currency()
                ),
            )
        })
        .collect();
    if !mismatched.is_empty() {
        return Err(Problem::fields(
            ProblemType::OrderNotPriceable,
            "The lines are priced in different currencies.",
            mismatched,
        ));
    }
    let total = priced
        .iter()
        .try_fold(Money::zero(currency), |sum, line| {
            line.unit_price
                .checked_mul(line.quantity.get())
                .and_then(|amount| sum.checked_add(amount))
        })
        .ok_or_else(|| {
            Problem::field(
                ProblemType::OrderNotPriceable,
                "items",
                "The order total is too large.",
            )
        })?;
    Ok((priced, total))
}

/// Places the order (or finds the one this key already placed) and makes
/// sure its execution is started. Returns the order to answer with.
pub(crate) async fn place_order<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    customer: &CustomerId,
    key: &IdempotencyKey,
    request: &PlaceOrderRequest,
) -> Result<OrderRecord, Problem>
where
    O: OrderStore,
    C: Catalog,
    E: ExecutionStarter,
    K: Clock,
{
    let order_id = derive_order_id(customer, key)?;
    tracing::Span::current().record("order_id", order_id.as_str());
    let hash = request_hash(request);
    let existing = api
        .orders
        .get_order(&order_id)
        .await
        .map_err(store_unavailable("get_order"))?;
    let order = match existing {
        Some(order) => {
            info!("replay of an order already placed");
            order
        }
        None => {
            let (lines, total) = price_lines(&api.catalog, &request.lines).await?;
            // After pricing: a 429 promises that the same request succeeds
            // later, which an unknown SKU never would.
            check_orders_in_flight(api, customer).await?;
            check_payments_gate(api).await?;
            let input = ExecutionInput {
                order_id: &order_id,
                customer_id: customer,
                items: &lines,
                total,
                payment_method: &request.payment_method,
                shipping_address: &request.shipping_address,
            };
            let execution_input = serde_json::to_string(&input).unwrap_or_default();
            let new_order = NewOrder {
                order_id: order_id.clone(),
                customer_id: customer.clone(),
                lines,
                total,
                payment_method: request.payment_method.clone(),
                shipping_address: request.shipping_address.clone(),
                idempotency_key: key.as_str().to_owned(),
                request_hash: hash.clone(),
                execution_input,
                created_at: order_instant(&api.clock),
            };
            match api
                .orders
                .create_order(&new_order)
                .await
                .map_err(store_unavailable("create_order"))?
            {
                CreateOrderOutcome::Created(order) => {
                    info!(total_minor = order.total.amount_minor(), currency = %order.total.currency(), lines = order.lines.len(), "order placed");
                    // Only here: a replay or a concurrent twin found the order.
                    let placed = saga_lambda::metrics::ORDERS_PLACED.count(1);
                    placed
                        .property(saga_lambda::metrics::ORDER_ID, order.order_id.as_str())
                        .emit(api.clock.now());
                    order
                }
                CreateOrderOutcome::AlreadyExists(order) => {
                    info!("a concurrent request placed the order first");
                    order
                }
            }
        }
    };
    if order.customer_id != *customer || order.request_hash != hash {
        info!("idempotency key reused with another request");
        return Err(Problem::field(
            ProblemType::IdempotencyKeyReused,
            "headers.Idempotency-Key",
            "This key was used for another request; use a new key for a new order.",
        ));
    }
    if order.execution_started_at.is_none() {
        start_execution(api, &order).await?;
    }
    Ok(order)
}

/// Refuses a new order with 429 while `customer` has
/// [`OrderApi::max_orders_in_flight`] orders in flight. Best effort, as
/// [`OrderStore::count_in_flight`] says.
async fn check_orders_in_flight<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    customer: &CustomerId,
) -> Result<(), Problem>
where
    O: OrderStore,
{
    let limit = api.max_orders_in_flight;
    let in_flight = api
        .orders
        .count_in_flight(customer, limit)
        .await
        .map_err(store_unavailable("count_in_flight"))?;
    if in_flight >= limit {
        info!(in_flight, limit, "too many orders in flight");
        return Err(Problem::too_many_orders_in_flight(in_flight, limit));
    }
    Ok(())
}

/// Refuses a new order with 503 and `Retry-After` while the payment
/// provider's circuit breaker is open: the order would only wait out its
/// retries and be rejected. A breaker that cannot be read does not stop
/// orders (the charge step has the same breaker).
async fn check_payments_gate<O, C, E, K>(api: &OrderApi<O, C, E, K>) -> Result<(), Problem>
where
    K: Clock,
{
    let Some(gate) = &api.payments_gate else {
        return Ok(());
    };
    let now = api.clock.now();
    match gate.refuses_until(now).await {
        Ok(None) => Ok(()),
        Ok(Some(retry_at)) => {
            let seconds = (retry_at - now).num_seconds().clamp(1, i64::from(u32::MAX));
            info!(retry_at = %retry_at.to_rfc3339(), "payment provider circuit open: order refused");
            Err(Problem::payments_unavailable(
                u32::try_from(seconds).unwrap_or(u32::MAX),
            ))
        }
        Err(error) => {
            warn!(error = %error, "the payment provider's circuit breaker cannot be read; taking the order");
            Ok(())
        }
    }
}

/// A failed order store call as the client sees it (503), logged with the
/// `operation` that failed.
fn store_unavailable(operation: &'static str) -> impl Fn(saga_domain::PortError) -> Problem {
    move |error| {
        warn!(error = %error, operation, "order store call failed");
        Problem::unavailable()
    }
}

/// Now, to the millisecond the table keeps.
fn order_instant(clock: &impl Clock) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    clock.now().trunc_subsecs(3)
}

/// Starts the order's execution if this request wins the start lease
/// ([`start_order_execution`], shared with the sweep); a request that loses
/// it (another is starting it, or it is started) does nothing. Either way
/// the order stands, so the answer is 202; a failed claim or StartExecution
/// is a 503 (the lease given back, so the retry starts it at once).
async fn start_execution<O, C, E, K>(
    api: &OrderApi<O, C, E, K>,
    order: &OrderRecord,
) -> Result<(), Problem>
where
    O: OrderStore,
    E: ExecutionStarter,
    K: Clock,
{
    start_order_execution(&api.orders, &api.executions, &api.clock, order)
        .await
        .map(drop)
        .map_err(|_| Problem::unavailable())
}
