//! Identifiers that cross the system's edges: order, customer, SKU, payment
//! method and Step Functions task token.
//!
//! Each is a newtype with a private field that can only be built by parsing
//! (`FromStr`, `TryFrom<String>`, serde through `try_from`), so a value in hand
//! is always valid: an `OrderId` is always a legal Step Functions execution
//! name, a `Sku` never contains the `#` that separates DynamoDB key prefixes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;

/// Checks `value` is 1..=`max_len` characters, all accepted by `allowed`.
fn check_token(
    field: &'static str,
    value: &str,
    max_len: usize,
    allowed: impl Fn(char) -> bool,
    allowed_description: &'static str,
) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::new(field, "must not be empty"));
    }
    let length = value.chars().count();
    if length > max_len {
        return Err(InvalidValue::new(
            field,
            format!("must be at most {max_len} characters, got {length}"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(InvalidValue::new(
            field,
            format!("contains {bad:?}; allowed are {allowed_description}"),
        ));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Declares a string newtype: private field, `as_str`, `Display`, `FromStr`,
/// `TryFrom<String>`/`TryFrom<&str>`, `AsRef<str>`, and serde through
/// `try_from = "String"` so deserialisation validates.
macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The validated value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, InvalidValue> {
                let check: fn(&str) -> Result<(), InvalidValue> = $check;
                check(&value)?;
                Ok(Self(value))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidValue;
            fn try_from(value: &str) -> Result<Self, InvalidValue> {
                Self::try_from(value.to_owned())
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(value: &str) -> Result<Self, InvalidValue> {
                Self::try_from(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

string_newtype!(
    /// The order's id; also the Step Functions execution name, the payment
    /// idempotency key and the key of every per-order item, so it must be a
    /// valid execution name: 1..=80 characters of `[A-Za-z0-9_-]`.
    OrderId,
    "orderId",
    |v| check_token("orderId", v, 80, is_name_char, "A-Z a-z 0-9 _ -")
);

string_newtype!(
    /// The customer, taken from the verified JWT `sub`: 1..=128 printable ASCII
    /// characters without whitespace (covers UUIDs and `provider|id` forms).
    CustomerId,
    "customerId",
    |v| check_token(
        "customerId",
        v,
        128,
        |c| c.is_ascii_graphic(),
        "printable ASCII without whitespace"
    )
);

string_newtype!(
    /// A stock keeping unit: 1..=64 characters of `[A-Za-z0-9_-]`.
    Sku,
    "sku",
    |v| check_token("sku", v, 64, is_name_char, "A-Z a-z 0-9 _ -")
);

string_newtype!(
    /// A payment method reference as the provider names it (for example
    /// `pm_card_visa`): 1..=255 characters of `[A-Za-z0-9_]`.
    PaymentMethod,
    "paymentMethod",
    |v| check_token(
        "paymentMethod",
        v,
        255,
        |c| c.is_ascii_alphanumeric() || c == '_',
        "A-Z a-z 0-9 _"
    )
);

string_newtype!(
    /// A Step Functions task token (`.waitForTaskToken`): 1..=2048 printable
    /// ASCII characters, the `taskToken` SendTaskSuccess and SendTaskFailure
    /// accept.
    TaskToken,
    "taskToken",
    |v| check_token(
        "taskToken",
        v,
        2048,
        |c| c.is_ascii_graphic(),
        "printable ASCII without whitespace"
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_id_accepts_exactly_execution_names() {
        let long_ok = "a".repeat(80);
        let too_long = "a".repeat(81);
        let cases: &[(&str, bool)] = &[
            ("ord_01J9ZX", true),
            ("A-b_9", true),
            (&long_ok, true),
            ("", false),
            (&too_long, false),
            ("ord 1", false),
            ("ord#1", false),
            ("ord/1", false),
            ("ordé", false),
        ];
        for (input, valid) in cases {
            assert_eq!(
                input.parse::<OrderId>().is_ok(),
                *valid,
                "OrderId::from_str({input:?})"
            );
        }
    }

    #[test]
    fn other_identifiers_enforce_their_alphabets() {
        let cases: &[(&str, &str, bool)] = &[
            ("sku", "SKU-TEE-M", true),
            ("sku", "SKU#TEE", false),
            ("sku", "", false),
            ("customer", "auth0|abc123", true),
            ("customer", "user 1", false),
            ("pm", "pm_card_visa", true),
            ("pm", "pm-card", false),
            ("token", "AQB8AAAAKgAAAAMAAAAAAAAAAd+/=", true),
            ("token", "has space", false),
        ];
        for (kind, input, valid) in cases {
            let ok = match *kind {
                "sku" => input.parse::<Sku>().is_ok(),
                "customer" => input.parse::<CustomerId>().is_ok(),
                "pm" => input.parse::<PaymentMethod>().is_ok(),
                _ => input.parse::<TaskToken>().is_ok(),
            };
            assert_eq!(ok, *valid, "{kind} {input:?}");
        }
    }

    /// SendTaskSuccess / SendTaskFailure take a `taskToken` of 1..=2048
    /// characters; a token Step Functions can issue must parse.
    #[test]
    fn task_tokens_are_as_long_as_step_functions_allows() {
        for (length, valid) in [(2048, true), (2049, false), (1025, true), (1, true)] {
            let token = "A".repeat(length);
            assert_eq!(
                token.parse::<TaskToken>().is_ok(),
                valid,
                "a task token of {length} characters"
            );
        }
    }

    #[test]
    fn serde_validates_and_round_trips() {
        let id: OrderId = serde_json::from_str("\"ord-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ord-1\"");
        let err = serde_json::from_str::<OrderId>("\"bad id\"").unwrap_err();
        assert!(err.to_string().contains("orderId"), "{err}");
    }
}
