//! The Breaker table (key `name`) behind the domain's [`BreakerStore`]: one
//! item per breaker, `name = "payment-provider"`, shared by every instance
//! of the charge function and read by the api.
//!
//! Counting a call is an `ADD` conditional on the breaker being closed and
//! the stored window being the caller's (else the window restarts with the
//! call, conditional on the stored one being older); a state change is a
//! put conditional on the `version` the caller read, so of two instances
//! that both saw the threshold crossed, or both saw the reset pass, one
//! wins and the other learns it lost.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use saga_domain::PortError;
use saga_domain::breaker::{BreakerRecord, BreakerState, BreakerStore};

use crate::item::{n, s};
use crate::sdk_errors::port_error;

/// The item of the payment provider's breaker.
pub const PAYMENT_PROVIDER_BREAKER: &str = "payment-provider";

/// One breaker's item in the Breaker table.
#[derive(Debug, Clone)]
pub struct DynamoBreaker {
    client: Client,
    table: String,
    name: String,
}

impl DynamoBreaker {
    /// The breaker `name` in `table` (from `BREAKER_TABLE`).
    pub fn new(client: Client, table: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            name: name.into(),
        }
    }

    /// Adds one call to the counters of window `window_start`, if closed
    /// and counting that window. `None` when the condition failed.
    async fn add_to_window(
        &self,
        window_start: i64,
        failed: bool,
    ) -> Result<Option<BreakerRecord>, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("name", s(&self.name))
            .update_expression("ADD calls :one, failures :failed")
            .condition_expression("#state = :closed AND windowStart = :window")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":failed", n(u32::from(failed)))
            .expression_attribute_values(":closed", s(BreakerState::Closed.as_str()))
            .expression_attribute_values(":window", n(window_start))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        counted(result)
    }

    /// Starts window `window_start` with one call, if the breaker is
    /// closed (or absent) and its stored window is older.
    async fn start_window(
        &self,
        window_start: i64,
        failed: bool,
    ) -> Result<Option<BreakerRecord>, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("name", s(&self.name))
            .update_expression(
                "SET #state = :closed, windowStart = :window, calls = :one, failures = :failed, \
                 version = if_not_exists(version, :zero)",
            )
            .condition_expression(
                "attribute_not_exists(#name) OR (#state = :closed AND windowStart < :window)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":failed", n(u32::from(failed)))
            .expression_attribute_values(":closed", s(BreakerState::Closed.as_str()))
            .expression_attribute_values(":window", n(window_start))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        counted(result)
    }
}

impl BreakerStore for DynamoBreaker {
    async fn load(&self) -> Result<Option<BreakerRecord>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("name", s(&self.name))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| port_error("breaker_load", error))?;
        output
            .item
            .as_ref()
            .map(|item| parse(Some(item)))
            .transpose()
    }

    async fn count_call(
        &self,
        window_start: i64,
        failed: bool,
    ) -> Result<Option<BreakerRecord>, PortError> {
        // The window is usually the stored one; at a window's first call,
        // or on the breaker's very first, it restarts. Two instances racing
        // to restart it: one wins, the other adds to the window it started.
        for _ in 0..2 {
            if let Some(record) = self.add_to_window(window_start, failed).await? {
                return Ok(Some(record));
            }
            if let Some(record) = self.start_window(window_start, failed).await? {
                return Ok(Some(record));
            }
            match self.load().await? {
                Some(record) if record.state != BreakerState::Closed => return Ok(None),
                // Counting a window that already ended (a slow call): not
                // counted, it says nothing about the current one.
                Some(record) if record.window_start > window_start => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }

    async fn replace(
        &self,
        expected_version: u64,
        record: &BreakerRecord,
    ) -> Result<bool, PortError> {
        let item = HashMap::from([
            ("name".to_owned(), s(&self.name)),
            ("state".to_owned(), s(record.state.as_str())),
            ("version".to_owned(), n(record.version)),
            ("windowStart".to_owned(), n(record.window_start)),
            ("calls".to_owned(), n(record.calls)),
            ("failures".to_owned(), n(record.failures)),
            ("openedAt".to_owned(), n(record.opened_at)),
            ("retryAt".to_owned(), n(record.retry_at)),
            ("probeUntil".to_owned(), n(record.probe_until)),
        ]);
        let condition = if expected_version == 0 {
            "attribute_not_exists(#name) OR version = :expected"
        } else {
            "version = :expected"
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_values(":expected", n(expected_version))
            .set_expression_attribute_names(
                (expected_version == 0)
                    .then(|| HashMap::from([("#name".to_owned(), "name".to_owned())])),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(port_error("breaker_replace", error)),
            },
        }
    }
}

/// The record after a counting update; `None` when its condition failed.
fn counted(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, HttpResponse>>,
) -> Result<Option<BreakerRecord>, PortError> {
    match result {
        Ok(output) => Ok(Some(parse(output.attributes.as_ref())?)),
        Err(error) => match error.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
            _ => Err(port_error("breaker_count", error)),
        },
    }
}

/// The record of a breaker item; absent numbers are 0, an absent state is
/// CLOSED (an item only counting has written).
fn parse(item: Option<&HashMap<String, AttributeValue>>) -> Result<BreakerRecord, PortError> {
    let item = item.ok_or_else(|| PortError::rejected("breaker_load", "no attributes returned"))?;
    let number = |name: &str| -> Result<i64, PortError> {
        match item.get(name) {
            None => Ok(0),
            Some(value) => value
                .as_n()
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| {
                    PortError::rejected("breaker_load", format!("{name} is not a whole number"))
                }),
        }
    };
    let state = match item.get("state") {
        None => BreakerState::Closed,
        Some(value) => value
            .as_s()
            .ok()
            .and_then(|name| BreakerState::parse(name))
            .ok_or_else(|| PortError::rejected("breaker_load", "state is not a breaker state"))?,
    };
    let count = |name: &str| -> Result<u32, PortError> {
        u32::try_from(number(name)?)
            .map_err(|_| PortError::rejected("breaker_load", format!("{name} is out of range")))
    };
    Ok(BreakerRecord {
        state,
        version: u64::try_from(number("version")?)
            .map_err(|_| PortError::rejected("breaker_load", "version is negative"))?,
        window_start: number("windowStart")?,
        calls: count("calls")?,
        failures: count("failures")?,
        opened_at: number("openedAt")?,
        retry_at: number("retryAt")?,
        probe_until: number("probeUntil")?,
    })
}
