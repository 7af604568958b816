//! A Task state's `Resource`, parsed once when the definition is parsed.
//!
//! The ARN text stays as written: history events and error messages show
//! it. Beside it, [`Resource`] keeps what the ARN names ([`ResourceTarget`]),
//! the integration pattern its suffix asks for, and the resource type and
//! name the `Task*` history events show, so neither the interpreter nor a
//! [`crate::TaskHandler`] has to take the text apart again.

use std::sync::Arc;

use crate::history::TaskResource;

/// How a Task waits for its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationPattern {
    /// Call and take the response.
    RequestResponse,
    /// `.sync`: the handler runs the job to completion.
    Sync,
    /// `.waitForTaskToken`: pause until a token callback.
    WaitForTaskToken,
}

/// What a Task state's resource ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceTarget {
    /// A Lambda function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`):
    /// the function gets the parameters as its event and its result is the
    /// task's result. History records it with the `LambdaFunction*` events.
    LambdaFunction(LambdaFunctionArn),
    /// `arn:<partition>:states:::lambda:invoke`, the optimised Lambda
    /// integration (the function is named in the parameters).
    LambdaInvoke,
    /// `arn:<partition>:states:::sqs:sendMessage`.
    SqsSendMessage,
    /// Any other `arn:<partition>:states:::<service>:<action>` integration.
    Service {
        /// e.g. `dynamodb`.
        service: String,
        /// e.g. `putItem`, without the pattern suffix.
        action: String,
    },
    /// `arn:<partition>:states:<region>:<account>:activity:<name>`.
    Activity(ActivityArn),
    /// Anything else.
    Other,
}

/// The parts of a Lambda function ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunctionArn {
    /// The region (empty if the ARN has none where it should be).
    pub region: String,
    /// The account id (empty if the ARN has none where it should be).
    pub account: String,
    /// The function name: what follows `:function:`, up to the next `:`.
    pub name: String,
    /// A version or alias after the name (`:1`, `:live`), if any.
    pub qualifier: Option<String>,
}

/// The parts of an activity ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityArn {
    /// The region.
    pub region: String,
    /// The account id.
    pub account: String,
    /// The activity name.
    pub name: String,
}

/// A Task state's `Resource`. Cheap to clone (every task attempt hands
/// one to its handler): the parsed parts are shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource(Arc<Parts>);

#[derive(Debug, PartialEq, Eq)]
struct Parts {
    arn: String,
    partition: String,
    target: ResourceTarget,
    pattern: IntegrationPattern,
    event_names: TaskResource,
}

impl Resource {
    /// Reads a resource ARN. Any text gives a resource: one that names
    /// nothing known is [`ResourceTarget::Other`] (the definition's
    /// validation reports text that is not an ARN at all).
    pub fn parse(arn: &str) -> Self {
        let pattern = pattern_of(arn);
        let target = if is_lambda_function_arn(arn) {
            ResourceTarget::LambdaFunction(lambda_function_arn(arn))
        } else if let Some(integration) = integration_of(arn) {
            integration_target(integration)
        } else {
            activity_arn(arn).map_or(ResourceTarget::Other, ResourceTarget::Activity)
        };
        Self(Arc::new(Parts {
            arn: arn.to_owned(),
            partition: arn.split(':').nth(1).unwrap_or_default().to_owned(),
            target,
            pattern,
            event_names: event_names(arn),
        }))
    }

    /// The ARN as written (including `.sync` / `.waitForTaskToken`).
    pub fn arn(&self) -> &str {
        &self.0.arn
    }

    /// The ARN's partition (`aws`, `aws-cn` ...; empty if there is none).
    pub fn partition(&self) -> &str {
        &self.0.partition
    }

    /// What the ARN names.
    pub fn target(&self) -> &ResourceTarget {
        &self.0.target
    }

    /// How the task waits, from the ARN's suffix.
    pub fn pattern(&self) -> IntegrationPattern {
        self.0.pattern
    }

    /// Whether the task records the `LambdaFunction*` events (rather than
    /// the `Task*` ones).
    pub(crate) fn is_lambda_function(&self) -> bool {
        matches!(self.0.target, ResourceTarget::LambdaFunction(_))
    }

    /// The resource type and name the `Task*` events show.
    pub(crate) fn event_names(&self) -> &TaskResource {
        &self.0.event_names
    }
}

fn pattern_of(arn: &str) -> IntegrationPattern {
    if arn.ends_with(".waitForTaskToken") {
        IntegrationPattern::WaitForTaskToken
    } else if arn.ends_with(".sync") || arn.contains(".sync:") {
        IntegrationPattern::Sync
    } else {
        IntegrationPattern::RequestResponse
    }
}

/// Lenient on purpose: any `arn:` text mentioning `:lambda:` and
/// `:function:` is called as a function and recorded with the Lambda
/// events.
fn is_lambda_function_arn(arn: &str) -> bool {
    arn.starts_with("arn:") && arn.contains(":lambda:") && arn.contains(":function:")
}

fn lambda_function_arn(arn: &str) -> LambdaFunctionArn {
    let (prefix, rest) = arn.split_once(":function:").unwrap_or((arn, ""));
    let (name, qualifier) = match rest.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_owned())),
        None => (rest, None),
    };
    let mut parts = prefix.split(':').skip(3);
    LambdaFunctionArn {
        region: parts.next().unwrap_or_default().to_owned(),
        account: parts.next().unwrap_or_default().to_owned(),
        name: name.to_owned(),
        qualifier,
    }
}

/// `<service>:<action>[suffix]` of `arn:<partition>:states:::...`.
fn integration_of(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    rest.strip_prefix("states:::")
}

fn integration_target(integration: &str) -> ResourceTarget {
    let without_pattern = integration
        .strip_suffix(".waitForTaskToken")
        .or_else(|| integration.strip_suffix(".sync"))
        .or_else(|| integration.split_once(".sync:").map(|(head, _)| head))
        .unwrap_or(integration);
    match without_pattern.split_once(':') {
        Some(("lambda", "invoke")) => ResourceTarget::LambdaInvoke,
        Some(("sqs", "sendMessage")) => ResourceTarget::SqsSendMessage,
        Some((service, action)) => ResourceTarget::Service {
            service: service.to_owned(),
            action: action.to_owned(),
        },
        None => ResourceTarget::Other,
    }
}

fn activity_arn(arn: &str) -> Option<ActivityArn> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "states", region, account, "activity", name] => Some(ActivityArn {
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        }),
        _ => None,
    }
}

/// How AWS's `Task*` events name a resource: for an integration, the
/// service and the rest after it (`lambda` / `invoke`, `sqs` /
/// `sendMessage.waitForTaskToken`); otherwise the ARN's service and its
/// last part (`states` / `work` for an activity).
fn event_names(resource: &str) -> TaskResource {
    let tail = resource.rsplit(":::").next().unwrap_or(resource);
    let (resource_type, name) = match resource.split_once(":::") {
        Some(_) => tail.split_once(':').unwrap_or((tail, "")),
        None => {
            let mut parts = resource.split(':');
            let service = parts.nth(2).unwrap_or("unknown");
            (service, resource.rsplit(':').next().unwrap_or(resource))
        }
    };
    TaskResource {
        resource_type: resource_type.into(),
        resource: name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_resources_split_like_aws() {
        for (arn, kind, name) in [
            ("arn:aws:states:::lambda:invoke", "lambda", "invoke"),
            (
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "sqs",
                "sendMessage.waitForTaskToken",
            ),
            ("arn:aws:states:us-east-1:1:activity:work", "states", "work"),
        ] {
            let r = Resource::parse(arn).event_names().clone();
            assert_eq!((&*r.resource_type, &*r.resource), (kind, name), "{arn}");
        }
    }

    #[test]
    fn targets_and_patterns_are_read_once() {
        let function = |name: &str, qualifier: Option<&str>| {
            ResourceTarget::LambdaFunction(LambdaFunctionArn {
                region: "us-east-1".into(),
                account: "000000000000".into(),
                name: name.into(),
                qualifier: qualifier.map(str::to_owned),
            })
        };
        let service = |service: &str, action: &str| ResourceTarget::Service {
            service: service.into(),
            action: action.into(),
        };
        use IntegrationPattern::{RequestResponse, Sync, WaitForTaskToken};
        let cases = [
            (
                "arn:aws:lambda:us-east-1:000000000000:function:reserve",
                function("reserve", None),
                RequestResponse,
            ),
            (
                "arn:aws:lambda:us-east-1:000000000000:function:reserve:live",
                function("reserve", Some("live")),
                RequestResponse,
            ),
            (
                "arn:aws:states:::lambda:invoke",
                ResourceTarget::LambdaInvoke,
                RequestResponse,
            ),
            (
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                ResourceTarget::LambdaInvoke,
                WaitForTaskToken,
            ),
            (
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                ResourceTarget::SqsSendMessage,
                WaitForTaskToken,
            ),
            (
                "arn:aws:states:::dynamodb:updateItem",
                service("dynamodb", "updateItem"),
                RequestResponse,
            ),
            (
                "arn:aws:states:::states:startExecution.sync:2",
                service("states", "startExecution"),
                Sync,
            ),
            (
                "arn:aws:states:us-east-1:1:activity:work",
                ResourceTarget::Activity(ActivityArn {
                    region: "us-east-1".into(),
                    account: "1".into(),
                    name: "work".into(),
                }),
                RequestResponse,
            ),
            (
                "arn:aws:states:::nothing",
                ResourceTarget::Other,
                RequestResponse,
            ),
            ("lambda", ResourceTarget::Other, RequestResponse),
        ];
        for (arn, target, pattern) in cases {
            let resource = Resource::parse(arn);
            assert_eq!(resource.arn(), arn);
            assert_eq!(
                (resource.target(), resource.pattern()),
                (&target, pattern),
                "{arn}"
            );
        }
    }
}
