//! Per-function configuration, read once from the environment at cold start.
//!
//! Each function has its own typed config naming only what it uses
//! (ARCHITECTURE.md, "Function configuration"). A missing or invalid variable
//! is an error that names the variable, so a misdeployed function fails at
//! startup instead of on its first event.

use saga_domain::steps::{ReaperSettings, ReservationTtl, SweepSettings};

/// Why the environment does not make a valid config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {variable} is required but not set")]
    Missing {
        /// The variable's name.
        variable: &'static str,
    },
    /// A variable is set to something unusable.
    #[error("environment variable {variable}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
}

/// A DynamoDB table name: 3..=255 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(variable: &'static str, value: String) -> Result<Self, ConfigError> {
        let valid_chars = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if (3..=255).contains(&value.len()) && valid_chars {
            Ok(Self(value))
        } else {
            Err(ConfigError::Invalid {
                variable,
                value,
                reason: "a DynamoDB table name is 3 to 255 characters of A-Z a-z 0-9 _ . -"
                    .to_owned(),
            })
        }
    }
}

impl From<TableName> for String {
    fn from(name: TableName) -> String {
        name.0
    }
}

/// Where configuration values come from: the process environment in
/// production, a map in tests.
pub trait ConfigSource {
    /// The value of `variable`, if set.
    fn get(&self, variable: &str) -> Option<String>;
}

/// The process environment. Values that are not UTF-8 are read lossily and
/// then fail validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl ConfigSource for ProcessEnvironment {
    fn get(&self, variable: &str) -> Option<String> {
        std::env::var_os(variable).map(|value| value.to_string_lossy().into_owned())
    }
}

impl<F: Fn(&str) -> Option<String>> ConfigSource for F {
    fn get(&self, variable: &str) -> Option<String> {
        self(variable)
    }
}

fn required(source: &impl ConfigSource, variable: &'static str) -> Result<String, ConfigError> {
    match source.get(variable) {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing { variable }),
    }
}

fn table(source: &impl ConfigSource, variable: &'static str) -> Result<TableName, ConfigError> {
    TableName::parse(variable, required(source, variable)?)
}

/// An optional positive integer variable, `default` when unset.
fn number_or(
    source: &impl ConfigSource,
    variable: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match source.get(variable) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| ConfigError::Invalid {
            variable,
            value,
            reason: "must be a whole number".to_owned(),
        }),
    }
}

/// Defines a config struct whose fields are all required table names.
macro_rules! table_config {
    ($(#[$meta:meta])* $name:ident { $($field:ident: $variable:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $(
                #[doc = concat!("From `", $variable, "`.")]
                pub $field: TableName,
            )+
        }

        impl $name {
            /// Reads the config from the process environment.
            pub fn from_env() -> Result<Self, ConfigError> {
                Self::from_source(&ProcessEnvironment)
            }

            /// Reads the config from `source`.
            pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
                Ok(Self { $($field: table(source, $variable)?),+ })
            }
        }
    };
}

table_config!(
    /// Config of `charge`.
    ChargeConfig { payments_table: "PAYMENTS_TABLE" }
);
table_config!(
    /// Config of `confirm`.
    ConfirmConfig { inventory_table: "INVENTORY_TABLE" }
);
table_config!(
    /// Config of `release`.
    ReleaseConfig { inventory_table: "INVENTORY_TABLE" }
);
table_config!(
    /// Config of `refund`.
    RefundConfig { payments_table: "PAYMENTS_TABLE" }
);
table_config!(
    /// Config of `ship`.
    ShipConfig { shipments_table: "SHIPMENTS_TABLE" }
);
table_config!(
    /// Config of `watcher`.
    WatcherConfig { orders_table: "ORDERS_TABLE" }
);

/// The CloudWatch namespace of the metrics when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_METRICS_NAMESPACE: &str = "OrderSaga";

/// `METRICS_NAMESPACE`: 1 to 255 printable ASCII characters, not in the
/// `AWS/` namespaces CloudWatch reserves.
fn metrics_namespace(source: &impl ConfigSource) -> Result<String, ConfigError> {
    const VARIABLE: &str = "METRICS_NAMESPACE";
    let Some(value) = source.get(VARIABLE) else {
        return Ok(DEFAULT_METRICS_NAMESPACE.to_owned());
    };
    let reason = if value.is_empty() || value.len() > 255 {
        Some("must be 1 to 255 characters")
    } else if !value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        Some("must be printable ASCII")
    } else if value.starts_with("AWS/") {
        Some("the AWS/ namespaces are CloudWatch's own")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ConfigError::Invalid {
            variable: VARIABLE,
            value,
            reason: reason.to_owned(),
        }),
        None => Ok(value),
    }
}

/// Config of `reserve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveConfig {
    /// From `INVENTORY_TABLE`.
    pub inventory_table: TableName,
    /// From `RESERVATION_TTL_SECONDS`, default 900.
    pub reservation_ttl: ReservationTtl,
}

impl ReserveConfig {
    /// Reads the config from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnvironment)
    }

    /// Reads the config from `source`.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        const TTL: &str = "RESERVATION_TTL_SECONDS";
        let seconds = number_or(source, TTL, ReservationTtl::DEFAULT.as_duration().as_secs())?;
        let reservation_ttl =
            ReservationTtl::from_secs(seconds).map_err(|error| ConfigError::Invalid {
                variable: TTL,
                value: seconds.to_string(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            inventory_table: table(source, "INVENTORY_TABLE")?,
            reservation_ttl,
        })
    }
}

/// Config of `reaper`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaperConfig {
    /// From `INVENTORY_TABLE`.
    pub inventory_table: TableName,
    /// Batch size from `REAPER_BATCH_SIZE` (default 100); at most
    /// [`ReaperSettings::DEFAULT_MAX_BATCHES`] batches per run.
    pub settings: ReaperSettings,
}

impl ReaperConfig {
    /// Reads the config from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnvironment)
    }

    /// Reads the config from `source`.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        const BATCH: &str = "REAPER_BATCH_SIZE";
        let default_batch = ReaperSettings::DEFAULT_BATCH_SIZE as u64;
        let batch_size = number_or(source, BATCH, default_batch)?;
        let settings = usize::try_from(batch_size)
            .ok()
            .and_then(|size| ReaperSettings::new(size, ReaperSettings::DEFAULT_MAX_BATCHES).ok())
            .ok_or_else(|| ConfigError::Invalid {
                variable: BATCH,
                value: batch_size.to_string(),
                reason: "must be between 1 and 1000".to_owned(),
            })?;
        Ok(Self {
            inventory_table: table(source, "INVENTORY_TABLE")?,
            settings,
        })
    }
}

/// Config of `sweeper`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweeperConfig {
    /// From `ORDERS_TABLE`.
    pub orders_table: TableName,
    /// From `STATE_MACHINE_ARN`: the order saga the orders are started on.
    pub state_machine_arn: String,
    /// The grace period from `SWEEPER_GRACE_SECONDS` (default 120) and the
    /// orders per run from `SWEEPER_BATCH_SIZE` (default 100).
    pub settings: SweepSettings,
    /// From `METRICS_NAMESPACE` (default [`DEFAULT_METRICS_NAMESPACE`]):
    /// where `StalledOrders` is reported.
    pub metrics_namespace: String,
}

impl SweeperConfig {
    /// Reads the config from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnvironment)
    }

    /// Reads the config from `source`.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        const ARN: &str = "STATE_MACHINE_ARN";
        const GRACE: &str = "SWEEPER_GRACE_SECONDS";
        const BATCH: &str = "SWEEPER_BATCH_SIZE";
        let orders_table = table(source, "ORDERS_TABLE")?;
        let state_machine_arn = required(source, ARN)?;
        if !state_machine_arn.starts_with("arn:") || !state_machine_arn.contains(":stateMachine:") {
            return Err(ConfigError::Invalid {
                variable: ARN,
                value: state_machine_arn,
                reason: "must be a state machine ARN (arn:...:states:...:stateMachine:<name>)"
                    .to_owned(),
            });
        }
        let grace_seconds = number_or(source, GRACE, SweepSettings::DEFAULT_GRACE_SECONDS)?;
        let batch_size = number_or(source, BATCH, SweepSettings::DEFAULT_BATCH_SIZE as u64)?;
        let batch_size = usize::try_from(batch_size).unwrap_or(usize::MAX);
        // Which of the two is refused: the batch alone, then with the grace.
        SweepSettings::from_secs(SweepSettings::DEFAULT_GRACE_SECONDS, batch_size).map_err(
            |error| ConfigError::Invalid {
                variable: BATCH,
                value: batch_size.to_string(),
                reason: error.to_string(),
            },
        )?;
        let settings = SweepSettings::from_secs(grace_seconds, batch_size).map_err(|error| {
            ConfigError::Invalid {
                variable: GRACE,
                value: grace_seconds.to_string(),
                reason: error.to_string(),
            }
        })?;
        Ok(Self {
            orders_table,
            state_machine_arn,
            settings,
            metrics_namespace: metrics_namespace(source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn source(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn reserve_config_reads_table_and_ttl_with_default() {
        let config = ReserveConfig::from_source(&source(&[("INVENTORY_TABLE", "inv")])).unwrap();
        assert_eq!(config.inventory_table.as_str(), "inv");
        assert_eq!(config.reservation_ttl, ReservationTtl::DEFAULT);
        let custom = ReserveConfig::from_source(&source(&[
            ("INVENTORY_TABLE", "inv"),
            ("RESERVATION_TTL_SECONDS", "60"),
        ]))
        .unwrap();
        assert_eq!(custom.reservation_ttl.as_duration().as_secs(), 60);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: Vec<(Result<(), ConfigError>, &str)> = vec![
            (
                ReserveConfig::from_source(&source(&[])).map(drop),
                "INVENTORY_TABLE",
            ),
            (
                ChargeConfig::from_source(&source(&[("PAYMENTS_TABLE", " ")])).map(drop),
                "PAYMENTS_TABLE",
            ),
            (
                ShipConfig::from_source(&source(&[])).map(drop),
                "SHIPMENTS_TABLE",
            ),
            (
                ReserveConfig::from_source(&source(&[
                    ("INVENTORY_TABLE", "inv"),
                    ("RESERVATION_TTL_SECONDS", "0"),
                ]))
                .map(drop),
                "RESERVATION_TTL_SECONDS",
            ),
            (
                ReserveConfig::from_source(&source(&[
                    ("INVENTORY_TABLE", "inv"),
                    ("RESERVATION_TTL_SECONDS", "soon"),
                ]))
                .map(drop),
                "RESERVATION_TTL_SECONDS",
            ),
            (
                ReaperConfig::from_source(&source(&[
                    ("INVENTORY_TABLE", "inv"),
                    ("REAPER_BATCH_SIZE", "0"),
                ]))
                .map(drop),
                "REAPER_BATCH_SIZE",
            ),
            (
                ConfirmConfig::from_source(&source(&[("INVENTORY_TABLE", "a b")])).map(drop),
                "INVENTORY_TABLE",
            ),
        ];
        for (result, variable) in cases {
            let error = result.unwrap_err();
            assert!(
                error.to_string().contains(variable),
                "{error} should name {variable}"
            );
        }
    }

    #[test]
    fn sweeper_config_reads_table_arn_grace_and_batch_with_defaults() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:saga";
        let config = SweeperConfig::from_source(&source(&[
            ("ORDERS_TABLE", "orders"),
            ("STATE_MACHINE_ARN", arn),
        ]))
        .unwrap();
        assert_eq!(config.orders_table.as_str(), "orders");
        assert_eq!(config.state_machine_arn, arn);
        assert_eq!(config.settings, SweepSettings::default());
        assert_eq!(config.metrics_namespace, DEFAULT_METRICS_NAMESPACE);
        let custom = SweeperConfig::from_source(&source(&[
            ("ORDERS_TABLE", "orders"),
            ("STATE_MACHINE_ARN", arn),
            ("SWEEPER_GRACE_SECONDS", "5"),
            ("SWEEPER_BATCH_SIZE", "7"),
            ("METRICS_NAMESPACE", "OrderSaga/prod"),
        ]))
        .unwrap();
        assert_eq!(custom.metrics_namespace, "OrderSaga/prod");
        assert_eq!(custom.settings.grace().num_seconds(), 5);
        assert_eq!(custom.settings.batch_size(), 7);
        for (variable, value) in [
            ("SWEEPER_GRACE_SECONDS", "0"),
            ("SWEEPER_GRACE_SECONDS", "soon"),
            ("SWEEPER_BATCH_SIZE", "0"),
            ("SWEEPER_BATCH_SIZE", "5000"),
            ("STATE_MACHINE_ARN", "saga"),
            ("METRICS_NAMESPACE", ""),
            ("METRICS_NAMESPACE", "AWS/States"),
            ("METRICS_NAMESPACE", "Order\u{e9}Saga"),
        ] {
            let mut pairs = vec![("ORDERS_TABLE", "orders"), ("STATE_MACHINE_ARN", arn)];
            pairs.retain(|(name, _)| *name != variable);
            pairs.push((variable, value));
            let error = SweeperConfig::from_source(&source(&pairs)).unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
        }
    }

    #[test]
    fn reaper_config_defaults_to_batches_of_100() {
        let config = ReaperConfig::from_source(&source(&[("INVENTORY_TABLE", "inv")])).unwrap();
        assert_eq!(config.settings.batch_size(), 100);
        let all = [
            RefundConfig::from_source(&source(&[("PAYMENTS_TABLE", "pay")])).map(drop),
            ReleaseConfig::from_source(&source(&[("INVENTORY_TABLE", "inv")])).map(drop),
        ];
        assert!(all.iter().all(Result::is_ok));
    }
}
