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

/// Config of `charge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeConfig {
    /// From `PAYMENTS_TABLE`.
    pub payments_table: TableName,
    /// The provider (`PAYMENT_PROVIDER` and the Stripe variables).
    pub provider: ProviderConfig,
    /// The shared circuit breaker (`BREAKER_TABLE`, `BREAKER_*`).
    pub breaker: BreakerConfig,
    /// From `METRICS_NAMESPACE` (default [`DEFAULT_METRICS_NAMESPACE`]).
    pub metrics_namespace: String,
}

impl ChargeConfig {
    /// Reads the config from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnvironment)
    }

    /// Reads the config from `source`.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: table(source, "PAYMENTS_TABLE")?,
            provider: ProviderConfig::from_source(source)?,
            breaker: BreakerConfig::from_source(source)?,
            metrics_namespace: metrics_namespace(source)?,
        })
    }
}

/// Config of `refund`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundConfig {
    /// From `PAYMENTS_TABLE`.
    pub payments_table: TableName,
    /// The provider (`PAYMENT_PROVIDER` and the Stripe variables).
    pub provider: ProviderConfig,
}

impl RefundConfig {
    /// Reads the config from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnvironment)
    }

    /// Reads the config from `source`.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: table(source, "PAYMENTS_TABLE")?,
            provider: ProviderConfig::from_source(source)?,
        })
    }
}

/// Which payment provider the charge and refund steps use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderConfig {
    /// `PAYMENT_PROVIDER=simulated`: no money moves (tests and demos).
    Simulated,
    /// `PAYMENT_PROVIDER=stripe`.
    Stripe(StripeConfig),
}

/// Where Stripe is and where its secret key comes from.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// The key.
    pub key: StripeKeyConfig,
    /// From `STRIPE_API_BASE` (default `https://api.stripe.com`).
    pub api_base: String,
    /// From `PROVIDER_TIMEOUT_MS` (default 3000, at most 8000: inside the
    /// function's 10 s).
    pub timeout_ms: u64,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("key", &self.key)
            .field("api_base", &self.api_base)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Where the Stripe secret key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum StripeKeyConfig {
    /// `STRIPE_SECRET_KEY`: the key itself (local runs only).
    Given(String),
    /// `STRIPE_API_KEY_PARAMETER`: an SSM SecureString's name.
    Parameter(String),
}

impl std::fmt::Debug for StripeKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StripeKeyConfig::Given(_) => f.write_str("Given(<redacted>)"),
            StripeKeyConfig::Parameter(name) => f.debug_tuple("Parameter").field(name).finish(),
        }
    }
}

impl ProviderConfig {
    /// Reads `PAYMENT_PROVIDER` (required: a deployment never falls back to
    /// the simulation by accident) and, for Stripe, its variables.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        const VARIABLE: &str = "PAYMENT_PROVIDER";
        let choice = required(source, VARIABLE)?;
        match choice.trim() {
            "simulated" => return Ok(ProviderConfig::Simulated),
            "stripe" => {}
            _ => {
                return Err(ConfigError::Invalid {
                    variable: VARIABLE,
                    value: choice,
                    reason: "must be stripe or simulated".to_owned(),
                });
            }
        }
        let given = source
            .get("STRIPE_SECRET_KEY")
            .filter(|key| !key.trim().is_empty());
        let key = match given {
            Some(key) => StripeKeyConfig::Given(key.trim().to_owned()),
            None => StripeKeyConfig::Parameter(required(source, "STRIPE_API_KEY_PARAMETER")?),
        };
        let api_base = source
            .get("STRIPE_API_BASE")
            .filter(|base| !base.trim().is_empty())
            .unwrap_or_else(|| "https://api.stripe.com".to_owned());
        if !(api_base.starts_with("https://")
            || api_base.starts_with("http://127.0.0.1")
            || api_base.starts_with("http://localhost"))
        {
            return Err(ConfigError::Invalid {
                variable: "STRIPE_API_BASE",
                value: api_base,
                reason: "must be an https URL (plain http only on 127.0.0.1 or localhost)"
                    .to_owned(),
            });
        }
        let timeout_ms = bounded(source, "PROVIDER_TIMEOUT_MS", 3000, 100..=8000)?;
        Ok(ProviderConfig::Stripe(StripeConfig {
            key,
            api_base,
            timeout_ms,
        }))
    }
}

/// The payment provider's circuit breaker, shared through one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// From `BREAKER_TABLE`.
    pub table: TableName,
    /// From `BREAKER_FAILURE_PERCENT` (50), `BREAKER_MINIMUM_CALLS` (5),
    /// `BREAKER_WINDOW_SECONDS` (10) and `BREAKER_RESET_SECONDS` (30).
    pub settings: saga_domain::breaker::BreakerSettings,
}

impl BreakerConfig {
    /// Reads the config from `source`.
    pub fn from_source(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        let defaults = saga_domain::breaker::BreakerSettings::default();
        let narrow = |value: u64| u32::try_from(value).unwrap_or(u32::MAX);
        let seconds = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        Ok(Self {
            table: table(source, "BREAKER_TABLE")?,
            settings: saga_domain::breaker::BreakerSettings {
                failure_percent: narrow(bounded(
                    source,
                    "BREAKER_FAILURE_PERCENT",
                    u64::from(defaults.failure_percent),
                    1..=100,
                )?),
                minimum_calls: narrow(bounded(
                    source,
                    "BREAKER_MINIMUM_CALLS",
                    u64::from(defaults.minimum_calls),
                    1..=10_000,
                )?),
                window_seconds: seconds(bounded(source, "BREAKER_WINDOW_SECONDS", 10, 1..=3600)?),
                reset_seconds: seconds(bounded(source, "BREAKER_RESET_SECONDS", 30, 1..=3600)?),
                probe_lease_seconds: defaults.probe_lease_seconds,
            },
        })
    }
}

/// An optional whole number in `range`, `default` when unset.
fn bounded(
    source: &impl ConfigSource,
    variable: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let value = number_or(source, variable, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            variable,
            value: value.to_string(),
            reason: format!("must be from {} to {}", range.start(), range.end()),
        })
    }
}
table_config!(
    /// What `api` reads beyond its own config (`order_api::config`): the
    /// payment provider's circuit breaker.
    ApiBreakerConfig { breaker_table: "BREAKER_TABLE" }
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
    match source.get(METRICS_NAMESPACE) {
        Some(value) => parse_metrics_namespace(value),
        None => Ok(DEFAULT_METRICS_NAMESPACE.to_owned()),
    }
}

/// The variable naming the metrics' CloudWatch namespace.
const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

/// A `METRICS_NAMESPACE` value, checked (the rule of [`metrics_namespace`]).
pub fn parse_metrics_namespace(value: String) -> Result<String, ConfigError> {
    const VARIABLE: &str = METRICS_NAMESPACE;
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
            RefundConfig::from_source(&source(&[
                ("PAYMENTS_TABLE", "pay"),
                ("PAYMENT_PROVIDER", "simulated"),
            ]))
            .map(drop),
            ReleaseConfig::from_source(&source(&[("INVENTORY_TABLE", "inv")])).map(drop),
        ];
        assert!(all.iter().all(Result::is_ok));
    }

    #[test]
    fn the_provider_is_chosen_explicitly_and_stripe_needs_a_key() {
        let simulated = source(&[("PAYMENT_PROVIDER", "simulated")]);
        assert_eq!(
            ProviderConfig::from_source(&simulated),
            Ok(ProviderConfig::Simulated)
        );
        for (pairs, variable) in [
            (vec![], "PAYMENT_PROVIDER"),
            (vec![("PAYMENT_PROVIDER", "stripey")], "PAYMENT_PROVIDER"),
            (
                vec![("PAYMENT_PROVIDER", "stripe")],
                "STRIPE_API_KEY_PARAMETER",
            ),
            (
                vec![
                    ("PAYMENT_PROVIDER", "stripe"),
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("STRIPE_API_BASE", "http://stripe.example.com"),
                ],
                "STRIPE_API_BASE",
            ),
            (
                vec![
                    ("PAYMENT_PROVIDER", "stripe"),
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("PROVIDER_TIMEOUT_MS", "20000"),
                ],
                "PROVIDER_TIMEOUT_MS",
            ),
        ] {
            let error = ProviderConfig::from_source(&source(&pairs)).unwrap_err();
            assert!(error.to_string().contains(variable), "{error}");
        }
        let stripe = ProviderConfig::from_source(&source(&[
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_API_KEY_PARAMETER", "/order-saga/stripe/secret-key"),
        ]))
        .unwrap();
        let ProviderConfig::Stripe(config) = stripe else {
            panic!("stripe");
        };
        assert_eq!(config.api_base, "https://api.stripe.com");
        assert_eq!(config.timeout_ms, 3000);
        let given = ProviderConfig::from_source(&source(&[
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_secret"),
            ("STRIPE_API_BASE", "http://127.0.0.1:8420"),
        ]))
        .unwrap();
        assert!(!format!("{given:?}").contains("sk_test_secret"));
    }

    #[test]
    fn breaker_defaults_are_the_seeds_and_bounded() {
        let config = BreakerConfig::from_source(&source(&[("BREAKER_TABLE", "breaker")])).unwrap();
        assert_eq!(
            config.settings,
            saga_domain::breaker::BreakerSettings::default()
        );
        assert_eq!(
            (
                config.settings.failure_percent,
                config.settings.reset_seconds
            ),
            (50, 30)
        );
        let error = BreakerConfig::from_source(&source(&[
            ("BREAKER_TABLE", "breaker"),
            ("BREAKER_FAILURE_PERCENT", "0"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("BREAKER_FAILURE_PERCENT"));
        assert!(BreakerConfig::from_source(&source(&[])).is_err());
    }
}
