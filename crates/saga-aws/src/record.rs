//! Items as typed records: each adapter declares the record it stores (a
//! private serde struct, attribute names in camelCase) and converts it into
//! its domain type with `TryFrom`, where the domain's own parsers check every
//! value. `serde_dynamo` maps records to and from DynamoDB attribute maps.
//!
//! A stored item that does not fit is [`PortError::Rejected`] naming the
//! attribute (the path `serde_path_to_error` reports, or the field a domain
//! parser refused), never a panic.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use saga_domain::PortError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::item::Item;

/// Why a stored item is not a valid record: the attribute and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt {
    pub attribute: String,
    pub problem: String,
}

impl Corrupt {
    /// `attribute` (a path such as `items[0].sku`) is invalid because of `problem`.
    pub fn new(attribute: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        Self {
            attribute: attribute.into(),
            problem: problem.to_string(),
        }
    }

    /// As the port's error for `operation`.
    pub fn into_port_error(self, operation: &'static str) -> PortError {
        PortError::rejected(
            operation,
            format!(
                "stored item has an invalid attribute `{}`: {}",
                self.attribute, self.problem
            ),
        )
    }
}

/// Reads `item` as a `T` record.
pub(crate) fn from_item<T: DeserializeOwned>(
    operation: &'static str,
    item: &Item,
) -> Result<T, PortError> {
    let item: serde_dynamo::Item = item.clone().into();
    let deserializer = serde_dynamo::Deserializer::from_attribute_value(
        serde_dynamo::AttributeValue::M(item.into()),
    );
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        Corrupt {
            attribute: if path == "." {
                "(item)".to_owned()
            } else {
                path
            },
            problem: error.inner().to_string(),
        }
        .into_port_error(operation)
    })
}

/// Reads `item` as the record `R` and converts it into the domain's `T`.
pub(crate) fn parse_item<R, T>(operation: &'static str, item: &Item) -> Result<T, PortError>
where
    R: DeserializeOwned,
    T: TryFrom<R, Error = Corrupt>,
{
    T::try_from(from_item::<R>(operation, item)?)
        .map_err(|corrupt| corrupt.into_port_error(operation))
}

/// Writes `record` as an item.
pub(crate) fn to_item<T: Serialize>(
    operation: &'static str,
    record: &T,
) -> Result<Item, PortError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(record).map_err(|error| {
        PortError::rejected(operation, format!("the record does not serialize: {error}"))
    })
}

/// A string attribute parsed with the domain's parser.
pub(crate) fn parsed<T: FromStr>(attribute: &str, text: &str) -> Result<T, Corrupt>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|error: T::Err| Corrupt {
        attribute: attribute.to_owned(),
        problem: error.to_string(),
    })
}

/// An RFC 3339 timestamp attribute.
pub(crate) fn instant(attribute: &str, text: &str) -> Result<DateTime<Utc>, Corrupt> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|error| Corrupt {
            attribute: attribute.to_owned(),
            problem: format!("not an RFC 3339 timestamp: {error}"),
        })
}

/// How timestamps other than epoch attributes are stored: RFC 3339 UTC,
/// whole seconds, fixed width (`item::timestamp` writes the same).
pub(crate) fn instant_text(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}
