//! Reading and writing DynamoDB attribute maps.
//!
//! Stored items are parsed into domain types here; an item that does not
//! parse is [`PortError::Rejected`] naming the attribute, never a panic.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use saga_domain::PortError;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Reads the item keyed `orderId` from `table`, strongly consistent: the
/// Payments, Shipments and Orders tables share this key, and a step that
/// replays must see what its first call wrote.
pub(crate) async fn get_by_order_id(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    operation: &'static str,
    order_id: &saga_domain::OrderId,
) -> Result<Option<Item>, PortError> {
    let output = client
        .get_item()
        .table_name(table)
        .key("orderId", s(order_id.as_str()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| crate::sdk_errors::port_error(operation, error))?;
    Ok(output.item)
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Timestamps other than `expiresAt`: RFC 3339 UTC, whole seconds, fixed width.
pub(crate) fn timestamp(instant: DateTime<Utc>) -> AttributeValue {
    s(crate::record::instant_text(instant))
}

/// Typed access to one item, with errors naming `operation` and the attribute.
pub(crate) struct ItemReader<'a> {
    pub operation: &'static str,
    pub item: &'a Item,
}

impl<'a> ItemReader<'a> {
    pub fn new(operation: &'static str, item: &'a Item) -> Self {
        Self { operation, item }
    }

    fn corrupt(&self, attribute: &str, problem: &str) -> PortError {
        PortError::rejected(
            self.operation,
            format!("stored item has {problem} attribute `{attribute}`"),
        )
    }

    pub fn string(&self, attribute: &str) -> Result<&'a str, PortError> {
        match self.item.get(attribute) {
            Some(AttributeValue::S(value)) => Ok(value),
            Some(_) => Err(self.corrupt(attribute, "a non-string")),
            None => Err(self.corrupt(attribute, "no")),
        }
    }

    pub fn optional_string(&self, attribute: &str) -> Result<Option<&'a str>, PortError> {
        match self.item.get(attribute) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.string(attribute).map(Some),
        }
    }

    pub fn number<T: std::str::FromStr>(&self, attribute: &str) -> Result<T, PortError> {
        match self.item.get(attribute) {
            Some(AttributeValue::N(value)) => value
                .parse()
                .map_err(|_| self.corrupt(attribute, "an out-of-range number in")),
            Some(_) => Err(self.corrupt(attribute, "a non-number")),
            None => Err(self.corrupt(attribute, "no")),
        }
    }

    /// A string attribute parsed into a domain type.
    pub fn parsed<T: std::str::FromStr>(&self, attribute: &str) -> Result<T, PortError> {
        self.string(attribute)?
            .parse()
            .map_err(|_| self.corrupt(attribute, "an invalid value in"))
    }

    pub fn timestamp(&self, attribute: &str) -> Result<DateTime<Utc>, PortError> {
        crate::record::instant(attribute, self.string(attribute)?)
            .map_err(|corrupt| corrupt.into_port_error(self.operation))
    }

    pub fn epoch_seconds(&self, attribute: &str) -> Result<DateTime<Utc>, PortError> {
        DateTime::from_timestamp(self.number(attribute)?, 0)
            .ok_or_else(|| self.corrupt(attribute, "an out-of-range epoch in"))
    }

    pub fn list(&self, attribute: &str) -> Result<&'a [AttributeValue], PortError> {
        match self.item.get(attribute) {
            Some(AttributeValue::L(values)) => Ok(values),
            Some(_) => Err(self.corrupt(attribute, "a non-list")),
            None => Err(self.corrupt(attribute, "no")),
        }
    }
}
