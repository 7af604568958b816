//! What a function is built from: its environment variables and the shared
//! SDK configuration (region, credentials), and the timeouts every client it
//! makes carries.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use saga_lambda::config::ConfigSource;

// Every SDK call a function makes ends well inside the function's own
// timeout (10 s in template.yaml, 60 s for the reaper): a hung or slow call
// then fails the step as `TransientError`, which the state machine retries
// with back-off, instead of the Lambda runtime killing the invocation
// mid-step. A step makes a few calls in sequence, so one call gets half the
// function's time at most.

/// Establishing a connection (TCP and TLS): an AWS endpoint that has not
/// answered in 1 s is better retried on a fresh connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// One attempt of a call, connecting included: DynamoDB and Step Functions
/// answer in milliseconds, so 2 s is a hung attempt, which the SDK retries.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole call, every attempt and back-off included: half the 10 s function
/// timeout, so a step's call fails and reports before the runtime kills it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeouts of every client a function makes.
fn call_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// A function's environment and SDK configuration.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    vars: &'a (dyn Fn(&str) -> Option<String> + Sync),
    sdk: &'a SdkConfig,
}

impl<'a> Context<'a> {
    /// A context reading variables through `vars` (the process environment
    /// on Lambda, the template's environment in the local cloud).
    pub fn new(vars: &'a (dyn Fn(&str) -> Option<String> + Sync), sdk: &'a SdkConfig) -> Self {
        Self { vars, sdk }
    }

    /// The value of `variable` in the function's environment.
    pub fn var(&self, variable: &str) -> Option<String> {
        (self.vars)(variable)
    }

    /// A DynamoDB client with the call timeouts; its endpoint from
    /// `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` when set.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut config =
            aws_sdk_dynamodb::config::Builder::from(self.sdk).timeout_config(call_timeouts());
        if let Some(url) = self.endpoint("AWS_ENDPOINT_URL_DYNAMODB") {
            config = config.endpoint_url(url);
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    /// A Step Functions client with the call timeouts; its endpoint from
    /// `AWS_ENDPOINT_URL_SFN` or `AWS_ENDPOINT_URL` when set.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        let mut config =
            aws_sdk_sfn::config::Builder::from(self.sdk).timeout_config(call_timeouts());
        if let Some(url) = self.endpoint("AWS_ENDPOINT_URL_SFN") {
            config = config.endpoint_url(url);
        }
        aws_sdk_sfn::Client::from_conf(config.build())
    }

    /// An SSM client (the Stripe key's parameter) with the call timeouts;
    /// its endpoint from `AWS_ENDPOINT_URL_SSM` or `AWS_ENDPOINT_URL`.
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        let mut config =
            aws_sdk_ssm::config::Builder::from(self.sdk).timeout_config(call_timeouts());
        if let Some(url) = self.endpoint("AWS_ENDPOINT_URL_SSM") {
            config = config.endpoint_url(url);
        }
        aws_sdk_ssm::Client::from_conf(config.build())
    }

    /// The SDK's endpoint precedence: the service's variable, then the
    /// global one; neither when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`.
    /// On Lambda the SDK config has already applied the same variables from
    /// the process environment, so this changes nothing there.
    fn endpoint(&self, service_variable: &str) -> Option<String> {
        let ignore = self
            .var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        if ignore {
            return None;
        }
        [service_variable, "AWS_ENDPOINT_URL"]
            .into_iter()
            .filter_map(|variable| self.var(variable))
            .find(|value| !value.trim().is_empty())
    }
}

/// The step functions' configs read their variables from the context.
impl ConfigSource for Context<'_> {
    fn get(&self, variable: &str) -> Option<String> {
        self.var(variable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_of(pairs: &[(&str, &str)], service: &str) -> Option<String> {
        let sdk = SdkConfig::builder().build();
        let vars = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        Context::new(&vars, &sdk).endpoint(service)
    }

    /// Every client a function makes has the three timeouts, and an
    /// operation (all its attempts) ends well inside the 10 s function
    /// timeout, so a hung call fails as `TransientError` instead of the
    /// runtime killing the invocation.
    #[test]
    fn every_client_times_out_before_the_function_does() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let vars = |_: &str| None;
        let context = Context::new(&vars, &sdk);
        let dynamodb = context.dynamodb();
        let sfn = context.sfn();
        for (client, timeouts) in [
            ("dynamodb", dynamodb.config().timeout_config()),
            ("sfn", sfn.config().timeout_config()),
        ] {
            let timeouts = timeouts.unwrap_or_else(|| panic!("{client}: no timeout config"));
            let seconds = [
                timeouts.connect_timeout(),
                timeouts.operation_attempt_timeout(),
                timeouts.operation_timeout(),
            ]
            .map(|timeout| timeout.map(|duration| duration.as_secs_f64()));
            assert_eq!(
                seconds,
                [Some(1.0), Some(2.0), Some(5.0)],
                "{client}: connect, attempt and operation timeouts"
            );
        }
    }

    #[test]
    fn the_service_variable_wins_over_the_global_one() {
        let pairs = [
            ("AWS_ENDPOINT_URL", "http://global"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://dynamodb"),
        ];
        assert_eq!(
            endpoint_of(&pairs, "AWS_ENDPOINT_URL_DYNAMODB").as_deref(),
            Some("http://dynamodb")
        );
        assert_eq!(
            endpoint_of(&pairs, "AWS_ENDPOINT_URL_SFN").as_deref(),
            Some("http://global")
        );
        assert_eq!(endpoint_of(&[], "AWS_ENDPOINT_URL_SFN"), None);
    }

    #[test]
    fn configured_endpoints_can_be_ignored() {
        let pairs = [
            ("AWS_ENDPOINT_URL_SFN", "http://sfn"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ];
        assert_eq!(endpoint_of(&pairs, "AWS_ENDPOINT_URL_SFN"), None);
    }
}
