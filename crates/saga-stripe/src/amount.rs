//! Amounts as Stripe counts them.
//!
//! The system keeps money in the currency's ISO 4217 minor units. Stripe's
//! `amount` is "the smallest currency unit" too, with its own exceptions
//! (<https://docs.stripe.com/currencies>):
//!
//! - zero-decimal currencies (JPY, KRW, ...): the amount is whole units,
//!   as in ISO 4217, so nothing changes;
//! - ISK: zero-decimal in ISO 4217 but still two-decimal in Stripe's API
//!   (an amount of 100 is 1 króna, and it must be a multiple of 100): ×100;
//! - three-decimal currencies (BHD, JOD, KWD, OMR, TND): three decimals as
//!   in ISO 4217, but the last digit must be 0;
//! - every other currency: two decimals in both.

use saga_domain::{Currency, Money};

/// ISO 4217 zero-decimal currencies whose Stripe amount is whole units:
/// nothing to convert, listed so the tests check the documented set.
#[cfg(test)]
const ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Currencies Stripe takes with three decimals, the last one 0.
const THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];

/// ISO 4217 zero-decimal, two-decimal in Stripe's API.
const STRIPE_TWO_DECIMAL_OF_WHOLE: [&str; 1] = ["ISK"];

/// `money` as Stripe's `amount`; an error naming why when Stripe cannot
/// take it (a three-decimal amount not rounded to ten, or zero).
pub fn stripe_amount(money: Money) -> Result<i64, String> {
    let code = money.currency().as_str().to_owned();
    let minor = money.amount_minor();
    if minor == 0 {
        return Err(format!(
            "a charge of 0 {code}: Stripe charges only positive amounts"
        ));
    }
    if THREE_DECIMAL.contains(&code.as_str()) && minor % 10 != 0 {
        return Err(format!(
            "{minor} thousandths of {code}: Stripe takes three-decimal amounts only in multiples of 10"
        ));
    }
    if STRIPE_TWO_DECIMAL_OF_WHOLE.contains(&code.as_str()) {
        return minor
            .checked_mul(100)
            .ok_or_else(|| format!("{minor} {code} is too large"));
    }
    Ok(minor)
}

/// Stripe's `amount` in `currency` as money, `None` if it does not convert
/// back exactly.
pub(crate) fn from_stripe_amount(amount: i64, currency: Currency) -> Option<Money> {
    let minor = if STRIPE_TWO_DECIMAL_OF_WHOLE.contains(&currency.as_str()) {
        (amount % 100 == 0).then_some(amount / 100)?
    } else {
        amount
    };
    Money::new(minor, currency).ok()
}

/// Whether Stripe counts `currency` in whole units (for the docs' tests).
#[cfg(test)]
fn is_zero_decimal(currency: Currency) -> bool {
    ZERO_DECIMAL.contains(&currency.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, code.parse().unwrap()).unwrap()
    }

    #[test]
    fn amounts_in_stripe_units() {
        assert_eq!(stripe_amount(money(1999, "EUR")), Ok(1999));
        assert_eq!(stripe_amount(money(500, "JPY")), Ok(500));
        assert!(is_zero_decimal("JPY".parse().unwrap()));
        assert!(!is_zero_decimal("EUR".parse().unwrap()));
        assert_eq!(stripe_amount(money(5, "ISK")), Ok(500));
        assert_eq!(stripe_amount(money(5120, "KWD")), Ok(5120));
        assert!(
            stripe_amount(money(5124, "KWD"))
                .unwrap_err()
                .contains("multiples of 10")
        );
        assert!(stripe_amount(money(0, "USD")).is_err());
    }

    #[test]
    fn amounts_convert_back() {
        for (minor, code) in [(1999, "EUR"), (500, "JPY"), (7, "ISK"), (5120, "KWD")] {
            let original = money(minor, code);
            let stripe = stripe_amount(original).unwrap();
            assert_eq!(
                from_stripe_amount(stripe, original.currency()),
                Some(original)
            );
        }
        assert_eq!(from_stripe_amount(550, "ISK".parse().unwrap()), None);
    }
}
