//! Money as integer minor units with an ISO 4217 currency.
//!
//! On the wire money is always `{"amountMinor": <integer>, "currency": "EUR"}`.
//! Amounts are never negative and arithmetic is checked: overflow or mixing
//! currencies is an error, never a wrap or a silent conversion.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;

/// An ISO 4217 alphabetic code: exactly three uppercase ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// The three-letter code.
    pub fn as_str(&self) -> &str {
        // Only uppercase ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = InvalidValue;
    fn from_str(value: &str) -> Result<Self, InvalidValue> {
        match value.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|b| b.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(InvalidValue::new(
                "currency",
                format!("must be an ISO 4217 code of three uppercase letters, got {value:?}"),
            )),
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, InvalidValue> {
        value.parse()
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> String {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

/// A non-negative amount in minor units (cents) of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

/// The wire shape of [`Money`], before validation.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyRepr {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// `amount_minor` minor units of `currency`; negative amounts are refused.
    pub fn new(amount_minor: i64, currency: Currency) -> Result<Self, InvalidValue> {
        if amount_minor < 0 {
            return Err(InvalidValue::new(
                "amountMinor",
                format!("must not be negative, got {amount_minor}"),
            ));
        }
        Ok(Self {
            amount_minor,
            currency,
        })
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount_minor: 0,
            currency,
        }
    }

    /// The amount in minor units; never negative.
    pub fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `self + other`; `None` on overflow or when the currencies differ.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let amount_minor = self.amount_minor.checked_add(other.amount_minor)?;
        Some(Money {
            amount_minor,
            currency: self.currency,
        })
    }

    /// `self × factor`; `None` on overflow.
    pub fn checked_mul(self, factor: u32) -> Option<Money> {
        let amount_minor = self.amount_minor.checked_mul(i64::from(factor))?;
        Some(Money {
            amount_minor,
            currency: self.currency,
        })
    }
}

impl TryFrom<MoneyRepr> for Money {
    type Error = InvalidValue;
    fn try_from(repr: MoneyRepr) -> Result<Self, InvalidValue> {
        Money::new(repr.amount_minor, repr.currency)
    }
}

impl From<Money> for MoneyRepr {
    fn from(money: Money) -> Self {
        MoneyRepr {
            amount_minor: money.amount_minor,
            currency: money.currency,
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.amount_minor, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({} {})", self.amount_minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        "EUR".parse().unwrap()
    }

    #[test]
    fn currency_parses_three_uppercase_letters_only() {
        let cases = [
            ("EUR", true),
            ("USD", true),
            ("eur", false),
            ("EU", false),
            ("EURO", false),
            ("E1R", false),
            ("", false),
            ("ÉUR", false),
        ];
        for (input, valid) in cases {
            assert_eq!(input.parse::<Currency>().is_ok(), valid, "{input:?}");
        }
    }

    #[test]
    fn money_wire_shape_is_validated() {
        let cases = [
            (r#"{"amountMinor":3000,"currency":"EUR"}"#, true),
            (r#"{"amountMinor":0,"currency":"EUR"}"#, true),
            (r#"{"amountMinor":-1,"currency":"EUR"}"#, false),
            (r#"{"amountMinor":1.5,"currency":"EUR"}"#, false),
            (r#"{"amountMinor":"10","currency":"EUR"}"#, false),
            (r#"{"amountMinor":10,"currency":"eur"}"#, false),
            (r#"{"amountMinor":10}"#, false),
            (
                r#"{"amountMinor":99999999999999999999,"currency":"EUR"}"#,
                false,
            ),
        ];
        for (input, valid) in cases {
            assert_eq!(
                serde_json::from_str::<Money>(input).is_ok(),
                valid,
                "{input}"
            );
        }
        let money = Money::new(3000, eur()).unwrap();
        assert_eq!(
            serde_json::to_string(&money).unwrap(),
            r#"{"amountMinor":3000,"currency":"EUR"}"#
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let usd: Currency = "USD".parse().unwrap();
        let ten = Money::new(10, eur()).unwrap();
        assert_eq!(ten.checked_add(ten), Some(Money::new(20, eur()).unwrap()));
        assert_eq!(ten.checked_add(Money::new(1, usd).unwrap()), None);
        assert_eq!(Money::new(i64::MAX, eur()).unwrap().checked_add(ten), None);
        assert_eq!(ten.checked_mul(3), Some(Money::new(30, eur()).unwrap()));
        assert_eq!(Money::new(i64::MAX, eur()).unwrap().checked_mul(2), None);
    }
}
