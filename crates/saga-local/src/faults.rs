//! Fault injection for demos and tests: per function, make the next N
//! invocations (or every invocation until cleared) fail transiently
//! (`TransientError`, which the state machine retries), fail permanently
//! (`InjectedFault`, which nothing catches, so the execution fails at that
//! step and can be redriven), or run late by a delay.
//!
//! Faults are set over HTTP (`/local/faults`) and shown in the console. A
//! fault with a count is used up one invocation at a time; one without a
//! count stays until it is cleared.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The error name a transient fault raises (retried by the state machine).
pub const TRANSIENT_ERROR: &str = "TransientError";
/// The error name a permanent fault raises (caught by nothing).
pub const PERMANENT_ERROR: &str = "InjectedFault";

/// What a fault does to an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// The function fails with `TransientError`.
    Transient,
    /// The function fails with `InjectedFault`.
    Permanent,
    /// The function runs normally after a delay.
    Delay,
}

/// A fault as set over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRequest {
    /// The function, by its binary name (`reserve`, `charge`, `ship`, ...).
    pub function: String,
    /// What happens.
    pub mode: FaultMode,
    /// How many invocations it affects; absent means until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    /// For `delay`: how long, in milliseconds.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// A fault in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveFault {
    /// What happens.
    pub mode: FaultMode,
    /// Invocations left; `None` until cleared.
    pub remaining: Option<u32>,
    /// The delay of a `delay` fault, in milliseconds.
    pub delay_ms: u64,
    /// Invocations affected so far.
    pub injected: u64,
}

/// What an invocation must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Run normally.
    None,
    /// Fail with this error name.
    Fail(&'static str),
    /// Wait, then run normally.
    Delay(Duration),
}

/// The faults in force, by function binary name.
#[derive(Debug, Default)]
pub struct Faults {
    active: Mutex<BTreeMap<String, ActiveFault>>,
}

/// Why a fault request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// No function has this binary name.
    #[error("no function is named {0:?}; the functions are {1}")]
    UnknownFunction(String, String),
    /// A count of zero affects nothing.
    #[error("count must be at least 1 (leave it out to fail until cleared)")]
    ZeroCount,
    /// A delay fault needs its delay.
    #[error("mode \"delay\" needs delayMs")]
    MissingDelay,
}

impl Faults {
    fn active(&self) -> MutexGuard<'_, BTreeMap<String, ActiveFault>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (replaces) the fault of one function; `known` are the valid names.
    pub fn set(&self, request: FaultRequest, known: &[String]) -> Result<(), FaultError> {
        if !known.contains(&request.function) {
            return Err(FaultError::UnknownFunction(
                request.function,
                known.join(", "),
            ));
        }
        if request.count == Some(0) {
            return Err(FaultError::ZeroCount);
        }
        let delay_ms = match (request.mode, request.delay_ms) {
            (FaultMode::Delay, None) => return Err(FaultError::MissingDelay),
            (_, delay) => delay.unwrap_or(0),
        };
        self.active().insert(
            request.function,
            ActiveFault {
                mode: request.mode,
                remaining: request.count,
                delay_ms,
                injected: 0,
            },
        );
        Ok(())
    }

    /// Clears the fault of one function, or all when `function` is `None`.
    pub fn clear(&self, function: Option<&str>) {
        match function {
            Some(name) => {
                self.active().remove(name);
            }
            None => self.active().clear(),
        }
    }

    /// The faults in force.
    pub fn list(&self) -> BTreeMap<String, ActiveFault> {
        self.active().clone()
    }

    /// Takes the action for one invocation of `function`, using up one count.
    pub fn take(&self, function: &str) -> FaultAction {
        let mut active = self.active();
        let Some(fault) = active.get_mut(function) else {
            return FaultAction::None;
        };
        fault.injected += 1;
        let action = match fault.mode {
            FaultMode::Transient => FaultAction::Fail(TRANSIENT_ERROR),
            FaultMode::Permanent => FaultAction::Fail(PERMANENT_ERROR),
            FaultMode::Delay => FaultAction::Delay(Duration::from_millis(fault.delay_ms)),
        };
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                active.remove(function);
            }
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(function: &str, mode: FaultMode, count: Option<u32>) -> FaultRequest {
        FaultRequest {
            function: function.to_owned(),
            mode,
            count,
            delay_ms: (mode == FaultMode::Delay).then_some(5),
        }
    }

    #[test]
    fn counted_faults_are_used_up_and_open_ones_stay_until_cleared() {
        let known = vec!["charge".to_owned(), "ship".to_owned()];
        let faults = Faults::default();
        faults
            .set(request("charge", FaultMode::Transient, Some(2)), &known)
            .unwrap();
        faults
            .set(request("ship", FaultMode::Permanent, None), &known)
            .unwrap();
        let taken: Vec<FaultAction> = (0..3).map(|_| faults.take("charge")).collect();
        assert_eq!(
            taken,
            [
                FaultAction::Fail(TRANSIENT_ERROR),
                FaultAction::Fail(TRANSIENT_ERROR),
                FaultAction::None
            ]
        );
        for _ in 0..5 {
            assert_eq!(faults.take("ship"), FaultAction::Fail(PERMANENT_ERROR));
        }
        assert_eq!(faults.list()["ship"].injected, 5);
        faults.clear(Some("ship"));
        assert_eq!(faults.take("ship"), FaultAction::None);
    }

    #[test]
    fn bad_requests_are_refused() {
        let known = vec!["charge".to_owned()];
        let faults = Faults::default();
        let cases = [
            (request("nope", FaultMode::Transient, None), "no function"),
            (
                request("charge", FaultMode::Transient, Some(0)),
                "at least 1",
            ),
            (
                FaultRequest {
                    delay_ms: None,
                    ..request("charge", FaultMode::Delay, None)
                },
                "delayMs",
            ),
        ];
        for (request, message) in cases {
            let error = faults.set(request, &known).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
        assert_eq!(faults.take("charge"), FaultAction::None);
    }
}
