//! The template's schedules (`Type: Schedule`, `rate(...)`): each fires its
//! function with the scheduled event EventBridge sends, every period, first
//! one period after start-up. The period can be shortened for tests
//! (`--reaper-every-seconds` in the binary).

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::functions::{Function, Functions};
use saga_template::{LOCAL_ACCOUNT, LOCAL_REGION};

/// EventBridge's scheduled event for rule `rule_name`.
pub fn scheduled_event(rule_name: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": LOCAL_REGION,
        "resources": [format!("arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT}:rule/{rule_name}")],
        "detail": {},
    })
}

/// Fires `function` every `period` until `shutdown` turns true.
pub fn spawn(
    function: Arc<Function>,
    rule_name: String,
    period: Duration,
    functions: Arc<Functions>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            match functions
                .invoke(&function, scheduled_event(&rule_name), None)
                .await
            {
                Ok(result) => {
                    tracing::debug!(function = %function.spec.name, %result, "scheduled run")
                }
                Err(error) => {
                    tracing::warn!(function = %function.spec.name, %error, "scheduled run failed")
                }
            }
        }
    })
}
