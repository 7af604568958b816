//! The document and the handler agree on what a valid order is, field by
//! field: for generated bodies around every documented constraint (address
//! text, quantity spellings, SKU, payment method, country), the handler
//! accepts a body exactly when `PlaceOrderRequest` in `openapi.yaml`
//! validates it. A constraint loosened or tightened on either side fails.

use std::sync::LazyLock;

use order_api::place_order::parse_place_order;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::openapi::Document;

static DOCUMENT: LazyLock<Document> = LazyLock::new(Document::load);
static REQUEST: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| DOCUMENT.component_validator("PlaceOrderRequest"));

/// The address fields the document types as `AddressText`, read from it.
fn address_text_fields() -> Vec<String> {
    DOCUMENT.root["components"]["schemas"]["ShippingAddress"]["properties"]
        .as_object()
        .expect("ShippingAddress has properties")
        .iter()
        .filter(|(_, schema)| schema["$ref"] == "#/components/schemas/AddressText")
        .map(|(field, _)| field.clone())
        .collect()
}

fn valid_body() -> Value {
    json!({
        "items": [{"sku": "SKU-TEE-M", "quantity": 2}],
        "paymentMethod": "pm_card_visa",
        "shippingAddress": {"name": "Ada Lovelace", "line1": "1 Analytical St",
                            "city": "London", "postalCode": "N1 9GU", "country": "GB"},
    })
}

/// Text around the address rules: plain letters, every kind of white space
/// Rust trims, control characters (C0, DEL, C1), other Unicode, and lengths
/// on both sides of 200.
fn address_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9 ,.-]{1,3}",
        1 => prop::sample::select(vec![
            " ", "\t", "\n", "\r", "\u{0b}", "\u{0c}", "\u{00}", "\u{1f}", "\u{7f}", "\u{85}",
            "\u{9f}", "\u{a0}", "\u{1680}", "\u{2000}", "\u{200a}", "\u{2028}", "\u{202f}",
            "\u{205f}", "\u{3000}", "\u{feff}", "é", "ß", "東", "😀",
        ])
        .prop_map(str::to_owned),
    ];
    prop_oneof![
        8 => prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat()),
        1 => (195_usize..206, prop::sample::select(vec!["", " ", "  "])).prop_map(
            |(length, pad)| format!("{pad}{}{pad}", "a".repeat(length))
        ),
    ]
}

fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-2_i64..1003).prop_map(|n| json!(n)),
        (-2_i64..1003).prop_map(|n| json!(n as f64)),
        (0.0_f64..1002.0).prop_map(|x| json!(x)),
        Just(json!(1e300)),
        Just(json!(18_446_744_073_709_551_615_u64)),
        Just(json!("2")),
        Just(Value::Null),
    ]
}

fn token(alphabet: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::string::string_regex(alphabet).unwrap(),
        1 => "[ -~\n\u{e9}]{0,4}",
    ]
}

/// One body with one field replaced by a generated value.
fn body() -> impl Strategy<Value = Value> {
    let address_field = prop::sample::select(address_text_fields());
    prop_oneof![
        (
            address_field,
            prop_oneof![9 => address_text().prop_map(Value::String), 1 => Just(Value::Null)]
        )
            .prop_map(|(field, text)| {
                let mut body = valid_body();
                body["shippingAddress"][&field] = text;
                body
            }),
        quantity().prop_map(|quantity| {
            let mut body = valid_body();
            body["items"][0]["quantity"] = quantity;
            body
        }),
        token("[A-Za-z0-9_-]{0,66}").prop_map(|sku| {
            let mut body = valid_body();
            body["items"][0]["sku"] = json!(sku);
            body
        }),
        token("[A-Za-z0-9_]{0,257}").prop_map(|method| {
            let mut body = valid_body();
            body["paymentMethod"] = json!(method);
            body
        }),
        "[A-Za-z]{0,3}|[A-Z]{2}\n|..".prop_map(|country| {
            let mut body = valid_body();
            body["shippingAddress"]["country"] = json!(country);
            body
        }),
    ]
}

#[test]
fn the_base_body_is_valid_on_both_sides() {
    assert_eq!(
        address_text_fields().len(),
        6,
        "{:?}",
        address_text_fields()
    );
    assert!(REQUEST.is_valid(&valid_body()));
    assert!(parse_place_order(&valid_body()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn the_handler_accepts_exactly_what_the_document_allows(body in body()) {
        let documented = REQUEST.is_valid(&body);
        let handled = parse_place_order(&body);
        prop_assert_eq!(
            documented,
            handled.is_ok(),
            "document says {}, handler says {:?} for {}",
            documented,
            handled.err().map(|problem| problem.errors),
            body
        );
    }
}
