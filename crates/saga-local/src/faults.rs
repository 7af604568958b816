//! Fault injection for demos and tests: per function, make the next N
//! invocations (or every invocation until cleared) fail transiently
//! (`TransientError`, which the state machine retries), fail permanently
//! (`InjectedFault`, which nothing catches, so the execution fails at that
//! step and can be redriven), run late by a delay, or run during an outage
//! of the AWS services it calls (its SDK clients point at a port that
//! refuses connections, so the function's own code meets the failure and
//! classifies it, as it would when DynamoDB or Step Functions is down),
//! crash after its effect (the handler runs and its writes commit, then the
//! invocation fails as a killed runtime does: `Runtime.ExitError`), time out
//! after its effect (the handler runs, then the invocation hangs until its
//! `Timeout` cuts it off: `Sandbox.Timedout`), or meet a Lambda service
//! error (`Lambda.ServiceException`: the function does not run), or be
//! delivered twice at once (both run; the caller gets the first answer), or,
//! for the functions that call the payment provider, lose the provider's
//! answer after it acted, or lose it and then forget every idempotency key
//! (the retry comes after the keys' retention period is over), or, for the
//! function that reports task tokens (`ship`), send each task callback
//! twice (an SDK retry after the first one's answer was lost: the second
//! finds the task already closed).
//! Step Functions reports the crash and the timeout as `Lambda.Unknown`.
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
/// The error name of a Lambda service fault (retried by the state machine).
pub const SERVICE_ERROR: &str = "Lambda.ServiceException";

/// What a fault does to an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// The function fails with `TransientError`.
    Transient,
    /// The function fails with `InjectedFault`.
    Permanent,
    /// The function runs normally after a delay.
    Delay,
    /// The function runs, but the AWS services of `services` (all of them
    /// when absent) refuse its connections.
    Outage,
    /// The function runs to the end, then the invocation fails as a crashed
    /// runtime (`Runtime.ExitError`): the effect happened, the answer is lost.
    Crash,
    /// The function runs to the end, then the invocation hangs until the
    /// function's `Timeout` cuts it off (`Sandbox.Timedout`).
    Timeout,
    /// Lambda fails the invocation itself (`Lambda.ServiceException`); the
    /// function does not run.
    Service,
    /// The event is delivered twice at once, as Lambda's at-least-once
    /// delivery does (an SQS message handed to two pollers, a retried
    /// invoke): both run, the caller gets the first answer.
    Duplicate,
    /// The payment provider acts on the function's next call (a charge, a
    /// refund, a cancel), then the connection drops before its answer
    /// arrives. Only for the functions that call the provider.
    #[serde(rename = "lost-answer")]
    LostAnswer,
    /// The payment provider acts on the function's next call and its answer
    /// is lost, as with `lost-answer`; then it forgets every idempotency key
    /// it holds (for all orders, as when the retry comes after their
    /// retention period: Stripe keeps keys about 24 hours, a redrive may
    /// come two weeks later); charges and refunds stay. The retry can no
    /// longer count on its key. Only for the functions that call the
    /// provider.
    #[serde(rename = "forget-keys")]
    ForgetKeys,
    /// Every SendTaskSuccess or SendTaskFailure the function makes reaches
    /// Step Functions twice, and the function gets the second answer (the
    /// task is closed by then: `TaskDoesNotExist`), as when the SDK retries
    /// a callback whose first answer was lost. Only for the functions that
    /// report task tokens.
    #[serde(rename = "callback-twice")]
    CallbackTwice,
}

impl FaultMode {
    /// Whether the mode acts on the payment provider, and so applies only
    /// to [`PROVIDER_CALLERS`].
    pub fn is_provider_fault(self) -> bool {
        matches!(self, FaultMode::LostAnswer | FaultMode::ForgetKeys)
    }

    /// The only functions the mode means something to, when it is not
    /// every function.
    pub fn only_for(self) -> Option<&'static [&'static str]> {
        match self {
            FaultMode::LostAnswer | FaultMode::ForgetKeys => Some(&PROVIDER_CALLERS),
            FaultMode::CallbackTwice => Some(&TASK_REPORTERS),
            _ => None,
        }
    }
}

/// The functions that report task tokens (SendTaskSuccess/Failure): the
/// only ones a `callback-twice` fault applies to.
pub const TASK_REPORTERS: [&str; 1] = ["ship"];

/// The path a `callback-twice` invocation's Step Functions endpoint points
/// at: the local endpoint applies each task callback sent there twice.
pub const CALLBACK_TWICE_PATH: &str = "/fault/callback-twice";

/// The functions that call the payment provider (the only ones the
/// `lost-answer` and `forget-keys` faults apply to).
pub const PROVIDER_CALLERS: [&str; 2] = ["charge", "refund"];

/// An AWS service a function reaches through the SDK's standard endpoint
/// variable `AWS_ENDPOINT_URL_<SERVICE>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// DynamoDB: every table.
    Dynamodb,
    /// Step Functions.
    Sfn,
}

impl Service {
    /// Every service a function of this stack calls through the SDK (SQS
    /// only delivers to `ship`; no function calls it).
    pub const ALL: [Service; 2] = [Service::Dynamodb, Service::Sfn];

    /// The SDK's endpoint variable for this service.
    pub fn endpoint_variable(self) -> &'static str {
        match self {
            Service::Dynamodb => "AWS_ENDPOINT_URL_DYNAMODB",
            Service::Sfn => "AWS_ENDPOINT_URL_SFN",
        }
    }

    /// Its name in a fault request.
    pub fn name(self) -> &'static str {
        match self {
            Service::Dynamodb => "dynamodb",
            Service::Sfn => "sfn",
        }
    }
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
    /// For `outage`: the services that are down; absent means all of them.
    #[serde(default)]
    pub services: Option<Vec<Service>>,
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
    /// The services an `outage` fault takes down (empty for other modes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// Invocations affected so far.
    pub injected: u64,
}

impl ActiveFault {
    /// What the fault does, in words (for the console).
    pub fn describe(&self) -> String {
        match self.mode {
            FaultMode::Transient => format!("transient ({TRANSIENT_ERROR})"),
            FaultMode::Permanent => format!("permanent ({PERMANENT_ERROR})"),
            FaultMode::Delay => format!("delay {} ms", self.delay_ms),
            FaultMode::Outage => {
                let services: Vec<&str> = self.services.iter().map(|s| s.name()).collect();
                format!("outage of {}", services.join(", "))
            }
            FaultMode::Crash => "crash after the effect (Runtime.ExitError)".to_owned(),
            FaultMode::Timeout => "time out after the effect (Sandbox.Timedout)".to_owned(),
            FaultMode::Service => format!("Lambda service error ({SERVICE_ERROR})"),
            FaultMode::Duplicate => "delivered twice at once".to_owned(),
            FaultMode::LostAnswer => "the payment provider's answer is lost".to_owned(),
            FaultMode::ForgetKeys => {
                "the payment provider's answer is lost, then its idempotency keys".to_owned()
            }
            FaultMode::CallbackTwice => "each task callback is sent twice".to_owned(),
        }
    }
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
    /// Run with these services unreachable.
    Outage(Vec<Service>),
    /// Run, then fail as a crashed runtime.
    CrashAfterEffect,
    /// Run, then hang until the timeout.
    TimeoutAfterEffect,
    /// Run twice at once; answer with the first.
    Duplicate,
    /// Run, with the payment provider losing its next answer.
    LoseProviderAnswer,
    /// Run, with the payment provider losing its next answer and then
    /// forgetting its idempotency keys.
    ForgetProviderKeys,
    /// Run, with every task callback sent twice.
    CallbackTwice,
}

/// The faults in force, by function binary name, and every fault injected
/// since the process started.
#[derive(Debug, Default)]
pub struct Faults {
    active: Mutex<Active>,
}

#[derive(Debug, Default)]
struct Active {
    by_function: BTreeMap<String, ActiveFault>,
    /// Invocations affected, by function and mode; kept when a fault is
    /// used up or cleared, so a campaign can report what it injected.
    injected: BTreeMap<String, BTreeMap<FaultMode, u64>>,
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
    /// `services` belongs to outages only, and an outage of nothing is none.
    #[error("services is for mode \"outage\" only, and must name at least one of dynamodb, sfn")]
    BadServices,
    /// The mode means something only to other functions.
    #[error("mode {mode:?} is only for {}", functions.join(", "))]
    OnlyFor {
        /// The mode's name.
        mode: String,
        /// The functions it is for.
        functions: &'static [&'static str],
    },
}

impl Faults {
    fn active(&self) -> MutexGuard<'_, Active> {
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
        if let Some(functions) = request.mode.only_for()
            && !functions.contains(&request.function.as_str())
        {
            return Err(FaultError::OnlyFor {
                mode: serde_json::to_value(request.mode)
                    .ok()
                    .and_then(|name| name.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                functions,
            });
        }
        let delay_ms = match (request.mode, request.delay_ms) {
            (FaultMode::Delay, None) => return Err(FaultError::MissingDelay),
            (_, delay) => delay.unwrap_or(0),
        };
        let services = match (request.mode, request.services) {
            (FaultMode::Outage, None) => Service::ALL.to_vec(),
            (FaultMode::Outage, Some(mut services)) if !services.is_empty() => {
                services.sort_unstable();
                services.dedup();
                services
            }
            (_, None) => Vec::new(),
            (_, Some(_)) => return Err(FaultError::BadServices),
        };
        self.active().by_function.insert(
            request.function,
            ActiveFault {
                mode: request.mode,
                remaining: request.count,
                delay_ms,
                services,
                injected: 0,
            },
        );
        Ok(())
    }

    /// Clears the fault of one function, or all when `function` is `None`.
    pub fn clear(&self, function: Option<&str>) {
        match function {
            Some(name) => {
                self.active().by_function.remove(name);
            }
            None => self.active().by_function.clear(),
        }
    }

    /// The faults in force.
    pub fn list(&self) -> BTreeMap<String, ActiveFault> {
        self.active().by_function.clone()
    }

    /// Invocations affected since the process started, by function and mode.
    pub fn injected(&self) -> BTreeMap<String, BTreeMap<FaultMode, u64>> {
        self.active().injected.clone()
    }

    /// Takes the action for one invocation of `function`, using up one count.
    pub fn take(&self, function: &str) -> FaultAction {
        let mut guard = self.active();
        let Active {
            by_function,
            injected,
        } = &mut *guard;
        let Some(fault) = by_function.get_mut(function) else {
            return FaultAction::None;
        };
        fault.injected += 1;
        *injected
            .entry(function.to_owned())
            .or_default()
            .entry(fault.mode)
            .or_default() += 1;
        let action = match fault.mode {
            FaultMode::Transient => FaultAction::Fail(TRANSIENT_ERROR),
            FaultMode::Permanent => FaultAction::Fail(PERMANENT_ERROR),
            FaultMode::Delay => FaultAction::Delay(Duration::from_millis(fault.delay_ms)),
            FaultMode::Outage => FaultAction::Outage(fault.services.clone()),
            FaultMode::Crash => FaultAction::CrashAfterEffect,
            FaultMode::Timeout => FaultAction::TimeoutAfterEffect,
            FaultMode::Service => FaultAction::Fail(SERVICE_ERROR),
            FaultMode::Duplicate => FaultAction::Duplicate,
            FaultMode::LostAnswer => FaultAction::LoseProviderAnswer,
            FaultMode::ForgetKeys => FaultAction::ForgetProviderKeys,
            FaultMode::CallbackTwice => FaultAction::CallbackTwice,
        };
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                by_function.remove(function);
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
            services: None,
        }
    }

    #[test]
    fn crash_timeout_and_service_faults_say_what_the_invocation_does() {
        let known = vec!["charge".to_owned()];
        let faults = Faults::default();
        for (mode, action) in [
            (FaultMode::Crash, FaultAction::CrashAfterEffect),
            (FaultMode::Timeout, FaultAction::TimeoutAfterEffect),
            (FaultMode::Service, FaultAction::Fail(SERVICE_ERROR)),
            (FaultMode::Duplicate, FaultAction::Duplicate),
            (FaultMode::LostAnswer, FaultAction::LoseProviderAnswer),
            (FaultMode::ForgetKeys, FaultAction::ForgetProviderKeys),
        ] {
            faults
                .set(request("charge", mode, Some(1)), &known)
                .unwrap();
            assert_eq!(faults.take("charge"), action, "{mode:?}");
            assert_eq!(faults.take("charge"), FaultAction::None, "{mode:?} used up");
        }
        let parsed: FaultRequest =
            serde_json::from_str(r#"{"function": "charge", "mode": "crash", "count": 2}"#).unwrap();
        assert_eq!(parsed.mode, FaultMode::Crash);
    }

    #[test]
    fn modes_for_some_functions_are_refused_on_the_others() {
        let known = vec!["charge".to_owned(), "refund".to_owned(), "ship".to_owned()];
        let faults = Faults::default();
        for (mode, name, action, other) in [
            (
                FaultMode::LostAnswer,
                "lost-answer",
                FaultAction::LoseProviderAnswer,
                "ship",
            ),
            (
                FaultMode::ForgetKeys,
                "forget-keys",
                FaultAction::ForgetProviderKeys,
                "ship",
            ),
            (
                FaultMode::CallbackTwice,
                "callback-twice",
                FaultAction::CallbackTwice,
                "charge",
            ),
        ] {
            let refused = faults
                .set(request(other, mode, Some(1)), &known)
                .unwrap_err();
            assert!(
                matches!(&refused, FaultError::OnlyFor { mode, .. } if mode == name),
                "{name}: {refused}"
            );
            let functions = mode.only_for().expect("a mode for some functions");
            assert!(refused.to_string().contains(functions[0]), "{refused}");
            for function in functions {
                faults
                    .set(request(function, mode, Some(1)), &known)
                    .unwrap();
                assert_eq!(faults.take(function), action, "{name} on {function}");
            }
            let parsed: FaultRequest =
                serde_json::from_value(serde_json::json!({"function": functions[0], "mode": name}))
                    .unwrap();
            assert_eq!(parsed.mode, mode);
            assert_eq!(mode.is_provider_fault(), functions == PROVIDER_CALLERS);
        }
        assert_eq!(FaultMode::Crash.only_for(), None);
    }

    #[test]
    fn injected_totals_outlive_used_up_and_cleared_faults() {
        let known = vec!["charge".to_owned(), "ship".to_owned()];
        let faults = Faults::default();
        faults
            .set(request("charge", FaultMode::Crash, Some(2)), &known)
            .unwrap();
        faults
            .set(request("ship", FaultMode::Transient, None), &known)
            .unwrap();
        for _ in 0..3 {
            faults.take("charge");
            faults.take("ship");
        }
        faults.clear(None);
        faults
            .set(request("charge", FaultMode::Transient, Some(1)), &known)
            .unwrap();
        faults.take("charge");
        let injected = faults.injected();
        assert_eq!(
            injected["charge"],
            BTreeMap::from([(FaultMode::Transient, 1), (FaultMode::Crash, 2)])
        );
        assert_eq!(
            injected["ship"],
            BTreeMap::from([(FaultMode::Transient, 3)])
        );
        assert!(faults.list().is_empty(), "the count of 1 is used up");
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
            (
                FaultRequest {
                    services: Some(vec![Service::Sfn]),
                    ..request("charge", FaultMode::Transient, None)
                },
                "outage",
            ),
            (
                FaultRequest {
                    services: Some(Vec::new()),
                    ..request("charge", FaultMode::Outage, None)
                },
                "at least one",
            ),
        ];
        for (request, message) in cases {
            let error = faults.set(request, &known).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
        assert_eq!(faults.take("charge"), FaultAction::None);
    }

    #[test]
    fn an_outage_takes_down_the_named_services_or_all() {
        let known = vec!["api".to_owned()];
        let faults = Faults::default();
        let outage = |services| FaultRequest {
            services,
            ..request("api", FaultMode::Outage, Some(1))
        };
        faults.set(outage(None), &known).unwrap();
        assert_eq!(
            faults.take("api"),
            FaultAction::Outage(Service::ALL.to_vec())
        );
        faults
            .set(outage(Some(vec![Service::Sfn, Service::Sfn])), &known)
            .unwrap();
        assert_eq!(faults.take("api"), FaultAction::Outage(vec![Service::Sfn]));
        assert_eq!(faults.take("api"), FaultAction::None);
    }
}
