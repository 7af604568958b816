//! Opaque pagination cursors: base64url of a small JSON document naming the
//! list it belongs to and the last item of the page.
//!
//! A cursor carries no customer: the list is always the caller's, so a
//! cursor copied from someone else only moves the caller's own position.
//! Anything that does not decode into exactly what this module encodes is
//! [`ProblemType::InvalidCursor`] (400), never a 5xx.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use saga_domain::Sku;
use saga_domain::ports::{OrderPosition, order_timestamp};
use serde::{Deserialize, Serialize};

use crate::problem::{Problem, ProblemType};

/// Cursors longer than this are refused before decoding.
const MAX_CURSOR_CHARS: usize = 512;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdersCursor {
    /// The list: always `orders`.
    list: String,
    /// `createdAt` of the last order.
    created_at: String,
    /// Its id.
    order_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsCursor {
    /// The list: always `products`.
    list: String,
    /// The last SKU.
    sku: String,
}

fn encode(value: &impl Serialize) -> String {
    // Plain structs of strings always serialise.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn invalid() -> Problem {
    Problem::field(
        ProblemType::InvalidCursor,
        "query.cursor",
        "The cursor was not issued by this list; start again without it.",
    )
}

fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, Problem> {
    if text.len() > MAX_CURSOR_CHARS {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// The cursor for the orders after `position`.
pub(crate) fn encode_orders(position: &OrderPosition) -> String {
    encode(&OrdersCursor {
        list: "orders".to_owned(),
        created_at: order_timestamp(position.created_at),
        order_id: position.order_id.to_string(),
    })
}

/// The position an orders cursor names.
pub(crate) fn decode_orders(text: &str) -> Result<OrderPosition, Problem> {
    let cursor: OrdersCursor = decode(text)?;
    if cursor.list != "orders" {
        return Err(invalid());
    }
    let created_at = DateTime::parse_from_rfc3339(&cursor.created_at)
        .map_err(|_| invalid())?
        .with_timezone(&Utc);
    // Only the exact form this module writes: the index compares strings.
    if order_timestamp(created_at) != cursor.created_at {
        return Err(invalid());
    }
    let order_id = cursor.order_id.parse().map_err(|_| invalid())?;
    Ok(OrderPosition {
        created_at,
        order_id,
    })
}

/// The cursor for the products after `sku`.
pub(crate) fn encode_products(sku: &Sku) -> String {
    encode(&ProductsCursor {
        list: "products".to_owned(),
        sku: sku.to_string(),
    })
}

/// The SKU a products cursor names.
pub(crate) fn decode_products(text: &str) -> Result<Sku, Problem> {
    let cursor: ProductsCursor = decode(text)?;
    if cursor.list != "products" {
        return Err(invalid());
    }
    cursor.sku.parse().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_everything_else() {
        let position = OrderPosition {
            created_at: DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            order_id: "ord_abc".parse().unwrap(),
        };
        let orders = encode_orders(&position);
        assert_eq!(decode_orders(&orders).unwrap(), position);
        let sku: Sku = "SKU-1".parse().unwrap();
        let products = encode_products(&sku);
        assert_eq!(decode_products(&products).unwrap(), sku);

        let forged = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let bad_orders = [
            String::new(),
            "!!!".to_owned(),
            products.clone(),
            format!("{orders}x"),
            "A".repeat(600),
            forged(r#"{"list":"orders","created_at":"yesterday","order_id":"ord_1"}"#),
            forged(r#"{"list":"orders","created_at":"2026-01-01T00:00:00Z","order_id":"ord_1"}"#),
            forged(r#"{"list":"orders","created_at":"2026-01-01T00:00:00.000Z","order_id":"a b"}"#),
            forged(
                r#"{"list":"orders","created_at":"2026-01-01T00:00:00.000Z","order_id":"o","x":1}"#,
            ),
            forged("[]"),
        ];
        for cursor in bad_orders {
            let problem = decode_orders(&cursor).unwrap_err();
            assert_eq!(problem.kind, ProblemType::InvalidCursor, "{cursor}");
        }
        assert!(decode_products(&orders).is_err());
        assert!(decode_products(&forged(r#"{"list":"products","sku":"A#B"}"#)).is_err());
    }
}
