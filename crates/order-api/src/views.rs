//! The JSON the API answers with, built from stored records. Payment
//! details are never rendered: the payment method stays in the table and
//! the execution input.

use saga_domain::ports::{
    OrderRecord, OrderStatus, PricedLine, StockItem, TimelineEntry, order_timestamp,
};
use saga_domain::{Money, OrderId, ShippingAddress, Sku};
use serde::Serialize;

/// One order, for its owner (`POST /orders`, `GET /orders/{id}`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderView<'a> {
    order_id: &'a OrderId,
    status: OrderStatus,
    /// The step error name, only on a REJECTED order.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    items: &'a [PricedLine],
    total: Money,
    shipping_address: &'a ShippingAddress,
    timeline: &'a [TimelineEntry],
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipment: Option<ShipmentView<'a>>,
    /// Only while the order's execution has stopped before the order was final.
    #[serde(skip_serializing_if = "Option::is_none")]
    stalled: Option<StalledView>,
}

/// What the customer is told of a stall: when, and that people are on it.
/// The execution's error and cause stay with the operators.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StalledView {
    since: String,
    message: &'static str,
}

/// The customer's message for a stalled order.
const STALLED_MESSAGE: &str = "Processing of this order stopped. Our operators have been alerted; it continues from where it stopped once they resume it.";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ShipmentView<'a> {
    shipment_id: &'a str,
    tracking_number: &'a str,
}

/// The reason to show: the state machine writes it only when rejecting.
fn rejection_reason(order: &OrderRecord) -> Option<&str> {
    (order.status == OrderStatus::Rejected)
        .then_some(order.reason.as_deref())
        .flatten()
}

impl<'a> OrderView<'a> {
    pub(crate) fn of(order: &'a OrderRecord) -> Self {
        Self {
            order_id: &order.order_id,
            status: order.status,
            reason: rejection_reason(order),
            items: &order.lines,
            total: order.total,
            shipping_address: &order.shipping_address,
            timeline: &order.timeline,
            created_at: order_timestamp(order.created_at),
            updated_at: order.updated_at.as_deref(),
            shipment: order.shipment.as_ref().map(|shipment| ShipmentView {
                shipment_id: &shipment.shipment_id,
                tracking_number: &shipment.tracking_number,
            }),
            stalled: order.stall.as_ref().map(|stall| StalledView {
                since: order_timestamp(stall.stopped_at),
                message: STALLED_MESSAGE,
            }),
        }
    }
}

/// One order in the caller's list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderSummaryView<'a> {
    order_id: &'a OrderId,
    status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    total: Money,
    item_count: usize,
    created_at: String,
}

impl<'a> OrderSummaryView<'a> {
    pub(crate) fn of(order: &'a OrderRecord) -> Self {
        Self {
            order_id: &order.order_id,
            status: order.status,
            reason: rejection_reason(order),
            total: order.total,
            item_count: order.lines.len(),
            created_at: order_timestamp(order.created_at),
        }
    }
}

/// `GET /orders`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderListView<'a> {
    pub orders: Vec<OrderSummaryView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One catalog entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductView<'a> {
    sku: &'a Sku,
    name: &'a str,
    unit_price: Money,
    available: u64,
    in_stock: bool,
}

impl<'a> ProductView<'a> {
    pub(crate) fn of(item: &'a StockItem) -> Self {
        Self {
            sku: &item.sku,
            name: &item.name,
            unit_price: item.unit_price,
            available: item.available,
            in_stock: item.available > 0,
        }
    }
}

/// `GET /products`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductListView<'a> {
    pub products: Vec<ProductView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
