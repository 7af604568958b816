//! What a function is built from: its environment variables and the shared
//! SDK configuration (region, credentials).

use aws_config::SdkConfig;
use saga_lambda::config::ConfigSource;

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

    /// A DynamoDB client; its endpoint from `AWS_ENDPOINT_URL_DYNAMODB` or
    /// `AWS_ENDPOINT_URL` when set.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(self.sdk);
        if let Some(url) = self.endpoint("AWS_ENDPOINT_URL_DYNAMODB") {
            config = config.endpoint_url(url);
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    /// A Step Functions client; its endpoint from `AWS_ENDPOINT_URL_SFN` or
    /// `AWS_ENDPOINT_URL` when set.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        let mut config = aws_sdk_sfn::config::Builder::from(self.sdk);
        if let Some(url) = self.endpoint("AWS_ENDPOINT_URL_SFN") {
            config = config.endpoint_url(url);
        }
        aws_sdk_sfn::Client::from_conf(config.build())
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
