//! What an order asks for: lines of SKU × quantity, and where to ship them.
//!
//! `OrderLines` holds 1..=25 lines with distinct SKUs and quantities of
//! 1..=1000, so every reservation fits one DynamoDB transaction (25 stock
//! updates + the reservation put stays under the 100-item limit) and no SKU is
//! decremented twice by one order.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;
use crate::ids::Sku;

/// Units of one SKU on one order line: 1..=1000.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// The largest quantity one line may ask for.
    pub const MAX: u32 = 1000;

    /// The number of units.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u64> for Quantity {
    type Error = InvalidValue;
    fn try_from(value: u64) -> Result<Self, InvalidValue> {
        match u32::try_from(value) {
            Ok(units) if (1..=Self::MAX).contains(&units) => Ok(Self(units)),
            _ => Err(InvalidValue::new(
                "quantity",
                format!("must be between 1 and {}, got {value}", Self::MAX),
            )),
        }
    }
}

impl TryFrom<u32> for Quantity {
    type Error = InvalidValue;
    fn try_from(value: u32) -> Result<Self, InvalidValue> {
        Self::try_from(u64::from(value))
    }
}

impl From<Quantity> for u32 {
    fn from(value: Quantity) -> u32 {
        value.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({})", self.0)
    }
}

/// One line of an order: `{"sku": "...", "quantity": n}` on the wire. Other
/// fields of an item (such as `unitPrice` in the execution input) are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderLine {
    /// What is ordered.
    pub sku: Sku,
    /// How many units.
    pub quantity: Quantity,
}

/// The lines of one order: 1..=25 lines, no SKU twice, in the caller's order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<OrderLine>", into = "Vec<OrderLine>")]
pub struct OrderLines(Vec<OrderLine>);

impl OrderLines {
    /// The most lines one order may have.
    pub const MAX_LINES: usize = 25;

    /// The lines, in the order the caller gave them.
    pub fn as_slice(&self) -> &[OrderLine] {
        &self.0
    }

    /// Iterates over the lines.
    pub fn iter(&self) -> std::slice::Iter<'_, OrderLine> {
        self.0.iter()
    }

    /// The number of lines (at least 1).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an order has at least one line. Present for clippy's
    /// `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The quantity asked for `sku`, if a line names it.
    pub fn quantity_of(&self, sku: &Sku) -> Option<Quantity> {
        self.0
            .iter()
            .find(|line| &line.sku == sku)
            .map(|line| line.quantity)
    }
}

impl TryFrom<Vec<OrderLine>> for OrderLines {
    type Error = InvalidValue;
    fn try_from(lines: Vec<OrderLine>) -> Result<Self, InvalidValue> {
        if lines.is_empty() {
            return Err(InvalidValue::new("items", "must have at least one line"));
        }
        if lines.len() > Self::MAX_LINES {
            return Err(InvalidValue::new(
                "items",
                format!(
                    "must have at most {} lines, got {}",
                    Self::MAX_LINES,
                    lines.len()
                ),
            ));
        }
        let mut seen = HashSet::with_capacity(lines.len());
        if let Some(duplicate) = lines.iter().find(|line| !seen.insert(&line.sku)) {
            return Err(InvalidValue::new(
                "items",
                format!("SKU {} appears on more than one line", duplicate.sku),
            ));
        }
        Ok(Self(lines))
    }
}

impl From<OrderLines> for Vec<OrderLine> {
    fn from(lines: OrderLines) -> Self {
        lines.0
    }
}

impl<'a> IntoIterator for &'a OrderLines {
    type Item = &'a OrderLine;
    type IntoIter = std::slice::Iter<'a, OrderLine>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The longest text field of a [`ShippingAddress`], in characters.
pub const MAX_ADDRESS_TEXT: usize = 200;

/// A postal address for the carrier. Every text field is at most 200
/// characters, has no control characters (Unicode `Cc`) and is not blank; it
/// is stored trimmed. `country` is an ISO 3166-1 alpha-2 code (two uppercase
/// ASCII letters). `line2` and `region` are optional. `openapi.yaml` states
/// the same rules as `maxLength` and a `pattern`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ShippingAddressRepr", into = "ShippingAddressRepr")]
pub struct ShippingAddress {
    name: String,
    line1: String,
    line2: Option<String>,
    city: String,
    region: Option<String>,
    postal_code: String,
    country: String,
}

/// The wire shape of [`ShippingAddress`], before validation.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShippingAddressRepr {
    name: String,
    line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line2: Option<String>,
    city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    postal_code: String,
    country: String,
}

impl ShippingAddress {
    /// The recipient.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Street and number.
    pub fn line1(&self) -> &str {
        &self.line1
    }
    /// Optional second line.
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }
    /// City.
    pub fn city(&self) -> &str {
        &self.city
    }
    /// Optional state or region.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    /// Postal code.
    pub fn postal_code(&self) -> &str {
        &self.postal_code
    }
    /// ISO 3166-1 alpha-2 country code.
    pub fn country(&self) -> &str {
        &self.country
    }
}

fn address_text(field: &'static str, value: String) -> Result<String, InvalidValue> {
    let length = value.chars().count();
    if length > MAX_ADDRESS_TEXT {
        return Err(InvalidValue::new(
            field,
            format!("must be at most {MAX_ADDRESS_TEXT} characters, got {length}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::new(
            field,
            "must not contain control characters",
        ));
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::new(field, "must not be blank"));
    }
    Ok(trimmed.to_owned())
}

impl TryFrom<ShippingAddressRepr> for ShippingAddress {
    type Error = InvalidValue;
    fn try_from(repr: ShippingAddressRepr) -> Result<Self, InvalidValue> {
        let country = repr.country;
        if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(InvalidValue::new(
                "shippingAddress.country",
                format!("must be an ISO 3166-1 alpha-2 code, got {country:?}"),
            ));
        }
        Ok(Self {
            name: address_text("shippingAddress.name", repr.name)?,
            line1: address_text("shippingAddress.line1", repr.line1)?,
            line2: repr
                .line2
                .map(|v| address_text("shippingAddress.line2", v))
                .transpose()?,
            city: address_text("shippingAddress.city", repr.city)?,
            region: repr
                .region
                .map(|v| address_text("shippingAddress.region", v))
                .transpose()?,
            postal_code: address_text("shippingAddress.postalCode", repr.postal_code)?,
            country,
        })
    }
}

impl From<ShippingAddress> for ShippingAddressRepr {
    fn from(address: ShippingAddress) -> Self {
        Self {
            name: address.name,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            region: address.region,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_accepts_one_to_a_thousand() {
        let cases = [
            ("1", true),
            ("1000", true),
            ("0", false),
            ("1001", false),
            ("-1", false),
            ("2.5", false),
            ("\"2\"", false),
            ("4294967297", false),
            ("18446744073709551616", false),
        ];
        for (input, valid) in cases {
            assert_eq!(
                serde_json::from_str::<Quantity>(input).is_ok(),
                valid,
                "{input}"
            );
        }
    }

    fn lines_json(count: usize) -> String {
        let items: Vec<String> = (0..count)
            .map(|i| format!(r#"{{"sku":"SKU-{i}","quantity":1}}"#))
            .collect();
        format!("[{}]", items.join(","))
    }

    #[test]
    fn order_lines_enforce_count_and_distinct_skus() {
        let cases = [
            (lines_json(1), true),
            (lines_json(25), true),
            (lines_json(0), false),
            (lines_json(26), false),
            (
                r#"[{"sku":"A","quantity":1},{"sku":"A","quantity":2}]"#.to_owned(),
                false,
            ),
            (
                r#"[{"sku":"A","quantity":1,"unitPrice":{"amountMinor":1,"currency":"EUR"}}]"#
                    .to_owned(),
                true,
            ),
            (r#"[{"sku":"A"}]"#.to_owned(), false),
            (r#"[{"sku":"","quantity":1}]"#.to_owned(), false),
        ];
        for (input, valid) in cases {
            assert_eq!(
                serde_json::from_str::<OrderLines>(&input).is_ok(),
                valid,
                "{input}"
            );
        }
    }

    #[test]
    fn shipping_address_is_validated_and_trimmed() {
        let ok = r#"{"name":" Ada ","line1":"Main St 1","city":"Berlin","postalCode":"10115","country":"DE"}"#;
        let address: ShippingAddress = serde_json::from_str(ok).unwrap();
        assert_eq!(address.name(), "Ada");
        let bad = [
            r#"{"name":"","line1":"x","city":"x","postalCode":"1","country":"DE"}"#,
            r#"{"name":"A","line1":"x","city":"x","postalCode":"1","country":"de"}"#,
            r#"{"name":"A","line1":"x","city":"x","postalCode":"1","country":"DEU"}"#,
            r#"{"name":"A","line1":"x","city":"x","country":"DE"}"#,
            r#"{"name":"   ","line1":"x","city":"x","postalCode":"1","country":"DE"}"#,
            r#"{"name":"A\u0085","line1":"x","city":"x","postalCode":"1","country":"DE"}"#,
            r#"{"name":" A\t","line1":"x","city":"x","postalCode":"1","country":"DE"}"#,
        ];
        // The limit counts the text as sent, spaces included.
        let long = format!(
            r#"{{"name":" {} ","line1":"x","city":"x","postalCode":"1","country":"DE"}}"#,
            "a".repeat(199)
        );
        assert!(serde_json::from_str::<ShippingAddress>(&long).is_err());
        let longest = format!(
            r#"{{"name":"{}","line1":"x","city":"x","postalCode":"1","country":"DE"}}"#,
            "a".repeat(200)
        );
        assert!(serde_json::from_str::<ShippingAddress>(&longest).is_ok());
        for input in bad {
            assert!(
                serde_json::from_str::<ShippingAddress>(input).is_err(),
                "{input}"
            );
        }
    }
}
