//! The api function's configuration, read once at cold start
//! (ARCHITECTURE.md, "Function configuration"): `ORDERS_TABLE`,
//! `INVENTORY_TABLE` and `STATE_MACHINE_ARN`, all required, and
//! `MAX_ORDERS_IN_FLIGHT`, [`DEFAULT_MAX_ORDERS_IN_FLIGHT`] when unset. A
//! missing or malformed variable fails the cold start naming the variable.

/// Orders one customer may have in flight unless `MAX_ORDERS_IN_FLIGHT`
/// says otherwise.
pub const DEFAULT_MAX_ORDERS_IN_FLIGHT: usize = 5;

/// The largest `MAX_ORDERS_IN_FLIGHT` accepted: above it the cap would not
/// bound anything, and counting up to it would stop being a short read.
pub const MAX_ORDERS_IN_FLIGHT_CEILING: usize = 1_000;

/// Why the environment does not make a valid config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiConfigError {
    /// A required variable is unset or blank.
    #[error("environment variable {variable} is required but not set")]
    Missing {
        /// The variable.
        variable: &'static str,
    },
    /// A variable is set to something unusable.
    #[error("environment variable {variable}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// Config of the `api` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// From `ORDERS_TABLE`.
    pub orders_table: String,
    /// From `INVENTORY_TABLE` (the catalog).
    pub inventory_table: String,
    /// From `STATE_MACHINE_ARN`: the order saga.
    pub state_machine_arn: String,
    /// From `MAX_ORDERS_IN_FLIGHT`: orders one customer may have in flight.
    pub max_orders_in_flight: usize,
}

impl ApiConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ApiConfigError> {
        Self::from_lookup(|variable| std::env::var(variable).ok())
    }

    /// Reads variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ApiConfigError> {
        let required = |variable: &'static str| match lookup(variable) {
            Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => Err(ApiConfigError::Missing { variable }),
        };
        let table = |variable: &'static str| {
            let value = required(variable)?;
            let valid = (3..=255).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if valid {
                Ok(value)
            } else {
                Err(ApiConfigError::Invalid {
                    variable,
                    value,
                    reason: "a DynamoDB table name is 3 to 255 characters of A-Z a-z 0-9 _ . -",
                })
            }
        };
        let arn = required("STATE_MACHINE_ARN")?;
        if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") {
            return Err(ApiConfigError::Invalid {
                variable: "STATE_MACHINE_ARN",
                value: arn,
                reason: "must be a state machine ARN (arn:...:states:...:stateMachine:<name>)",
            });
        }
        const CAP: &str = "MAX_ORDERS_IN_FLIGHT";
        let max_orders_in_flight = match lookup(CAP) {
            None => DEFAULT_MAX_ORDERS_IN_FLIGHT,
            Some(value) => match value.trim().parse::<usize>() {
                Ok(cap) if (1..=MAX_ORDERS_IN_FLIGHT_CEILING).contains(&cap) => cap,
                _ => {
                    return Err(ApiConfigError::Invalid {
                        variable: CAP,
                        value,
                        reason: "must be a whole number from 1 to 1000",
                    });
                }
            },
        };
        Ok(Self {
            orders_table: table("ORDERS_TABLE")?,
            inventory_table: table("INVENTORY_TABLE")?,
            state_machine_arn: arn,
            max_orders_in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_required_and_checked() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:OrderSaga";
        let full = [
            ("ORDERS_TABLE", "Orders"),
            ("INVENTORY_TABLE", "Inventory"),
            ("STATE_MACHINE_ARN", arn),
        ];
        let with = |overrides: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = full
                .iter()
                .map(|(k, v)| {
                    let v = overrides
                        .iter()
                        .find(|(ok, _)| ok == k)
                        .map_or(*v, |(_, ov)| *ov);
                    (k.to_string(), v.to_string())
                })
                .collect();
            ApiConfig::from_lookup(|name| {
                vars.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .filter(|v| v != "<unset>")
            })
        };
        assert_eq!(with(&[]).unwrap().state_machine_arn, arn);
        let cases: [(&str, &str, &str); 4] = [
            ("ORDERS_TABLE", "<unset>", "ORDERS_TABLE"),
            ("INVENTORY_TABLE", "a b", "INVENTORY_TABLE"),
            ("STATE_MACHINE_ARN", "OrderSaga", "STATE_MACHINE_ARN"),
            ("STATE_MACHINE_ARN", " ", "STATE_MACHINE_ARN"),
        ];
        for (variable, value, named) in cases {
            let error = with(&[(variable, value)]).unwrap_err();
            assert!(
                error.to_string().contains(named),
                "{variable}={value:?}: {error}"
            );
        }
    }

    #[test]
    fn max_orders_in_flight_defaults_to_5_and_must_be_1_to_1000() {
        let with = |value: Option<&str>| {
            ApiConfig::from_lookup(|name| match name {
                "ORDERS_TABLE" => Some("Orders".to_owned()),
                "INVENTORY_TABLE" => Some("Inventory".to_owned()),
                "STATE_MACHINE_ARN" => {
                    Some("arn:aws:states:us-east-1:123456789012:stateMachine:OrderSaga".to_owned())
                }
                "MAX_ORDERS_IN_FLIGHT" => value.map(str::to_owned),
                _ => None,
            })
        };
        assert_eq!(with(None).unwrap().max_orders_in_flight, 5);
        for (value, cap) in [("1", 1), (" 12 ", 12), ("1000", 1000)] {
            assert_eq!(
                with(Some(value)).unwrap().max_orders_in_flight,
                cap,
                "{value:?}"
            );
        }
        for value in ["0", "-1", "1001", "five", "2.5", ""] {
            let error = with(Some(value)).unwrap_err().to_string();
            assert!(
                error.contains("MAX_ORDERS_IN_FLIGHT") && error.contains("1 to 1000"),
                "{value:?}: {error}"
            );
        }
    }
}
