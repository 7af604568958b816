//! What the template deploys, typed: queues,
//! functions (binary, environment, HTTP routes, schedules, EventBridge rules
//! and where failed asynchronous invocations go), SQS event source
//! mappings, the state machine (definition with its substitutions) and the
//! HTTP API's JWT authorizer. Each `*Spec` is plain data, resolved to local
//! names; nothing here is written by hand per resource.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::document::{Template, TemplateError};
use crate::names::{LocalNames, scalar_text};
use crate::tables::{TableSpec, tables};

/// An SQS queue to create.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    /// Logical id in the template.
    pub logical_id: String,
    /// Physical name.
    pub name: String,
    /// Plain queue attributes (`VisibilityTimeout`, ...), as SQS names them.
    pub attributes: BTreeMap<String, String>,
    /// `RedrivePolicy`, unresolved (it names another queue's ARN).
    pub redrive_policy: Option<Value>,
}

/// An HTTP API route of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// `GET`, `POST`, ... or `ANY`.
    pub method: String,
    /// `/orders/{id}`.
    pub path: String,
    /// Whether the API's default JWT authorizer applies (`Auth.Authorizer: NONE` turns it off).
    pub authorized: bool,
}

impl RouteSpec {
    /// `POST /orders`, as API Gateway's `routeKey`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A schedule (`Type: Schedule`) of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// The event's name in the template.
    pub name: String,
    /// Every how long it fires (only `rate(...)` is supported locally).
    pub every: Duration,
}

/// An EventBridge rule (`Type: EventBridgeRule`) targeting a function.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// The event's name in the template.
    pub name: String,
    /// The event pattern, with its intrinsics resolved (e.g. a state
    /// machine's `!Ref` is its ARN).
    pub pattern: Value,
}

/// A Lambda function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Logical id in the template.
    pub logical_id: String,
    /// Physical function name.
    pub name: String,
    /// Function ARN.
    pub arn: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`): which handler runs.
    pub binary: String,
    /// Its environment, resolved.
    pub environment: BTreeMap<String, String>,
    /// `Timeout` (function or global), in seconds.
    pub timeout: Duration,
    /// `MemorySize` (function or global) in MB; Lambda's default is 128.
    pub memory_size: u64,
    /// HTTP API routes (`Type: HttpApi` events).
    pub routes: Vec<RouteSpec>,
    /// Schedules (`Type: Schedule` events).
    pub schedules: Vec<ScheduleSpec>,
    /// EventBridge rules (`Type: EventBridgeRule` events).
    pub rules: Vec<RuleSpec>,
    /// Where asynchronous invocations that fail every retry go
    /// (`EventInvokeConfig.DestinationConfig.OnFailure.Destination`,
    /// resolved: an SQS queue's ARN here).
    pub on_failure: Option<String>,
    /// Retries of a failed asynchronous invocation
    /// (`EventInvokeConfig.MaximumRetryAttempts`, Lambda's default 2).
    pub async_retries: u32,
}

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMappingSpec {
    /// Logical id in the template.
    pub logical_id: String,
    /// The function's logical id.
    pub function: String,
    /// The queue's logical id.
    pub queue: String,
    /// `BatchSize` (default 10).
    pub batch_size: i32,
    /// `FunctionResponseTypes` has `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency` (default 2, Lambda's minimum).
    pub maximum_concurrency: usize,
}

/// The state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineSpec {
    /// Logical id.
    pub logical_id: String,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// The definition text with `DefinitionSubstitutions` applied.
    pub definition: String,
}

/// The HTTP API's JWT authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizerSpec {
    /// Accepted `iss`.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
}

/// Everything the local cloud runs.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Tables.
    pub tables: Vec<TableSpec>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, FunctionSpec>,
    /// SQS event source mappings.
    pub queue_mappings: Vec<QueueMappingSpec>,
    /// State machines.
    pub state_machines: Vec<StateMachineSpec>,
    /// The HTTP API's authorizer, if it has one.
    pub jwt: Option<JwtAuthorizerSpec>,
}

fn err(what: impl Into<String>, reason: impl Into<String>) -> TemplateError {
    TemplateError::Unresolvable {
        what: what.into(),
        reason: reason.into(),
    }
}

fn string_at(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).map(scalar_text)
}

/// The queues of the template. Their redrive policies stay unresolved: they
/// name other queues, whose ARNs are known once those exist.
pub fn queues(template: &Template, names: &LocalNames) -> Vec<QueueSpec> {
    const PLAIN_ATTRIBUTES: &[&str] = &[
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds",
        "FifoQueue",
        "ContentBasedDeduplication",
    ];
    template
        .resources_of("AWS::SQS::Queue")
        .map(|(logical_id, resource)| {
            let properties = &resource.properties;
            let attributes = PLAIN_ATTRIBUTES
                .iter()
                .filter_map(|name| {
                    properties
                        .get(*name)
                        .map(|v| ((*name).to_owned(), scalar_text(v)))
                })
                .collect();
            let name = properties
                .get("QueueName")
                .and_then(Value::as_str)
                .map_or_else(|| names.physical_name(logical_id), str::to_owned);
            QueueSpec {
                logical_id: logical_id.to_owned(),
                name,
                attributes,
                redrive_policy: properties.get("RedrivePolicy").cloned(),
            }
        })
        .collect()
}

/// Parses `rate(1 minute)`, `rate(5 minutes)`, `rate(2 hours)`, `rate(1 day)`.
pub fn parse_rate(expression: &str) -> Option<Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.trim().split_once(' ')?;
    let count: u64 = count.trim().parse().ok().filter(|c| *c > 0)?;
    let unit_seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count * unit_seconds))
}

fn function_spec(
    template: &Template,
    names: &LocalNames,
    logical_id: &str,
    properties: &Value,
    metadata: &Value,
) -> Result<FunctionSpec, TemplateError> {
    let globals = &template.function_globals;
    let binary = string_at(metadata, "/BuildProperties/Binary").ok_or_else(|| {
        err(
            format!("function {logical_id}"),
            "Metadata.BuildProperties.Binary names no binary",
        )
    })?;
    let mut environment = BTreeMap::new();
    for source in [globals, properties] {
        if let Some(variables) = source
            .pointer("/Environment/Variables")
            .and_then(Value::as_object)
        {
            for (name, value) in variables {
                let resolved = names.resolve(value)?;
                environment.insert(name.clone(), scalar_text(&resolved));
            }
        }
    }
    let timeout = properties
        .get("Timeout")
        .or_else(|| globals.get("Timeout"))
        .and_then(Value::as_u64)
        .unwrap_or(3);
    let memory_size = properties
        .get("MemorySize")
        .or_else(|| globals.get("MemorySize"))
        .and_then(Value::as_u64)
        .unwrap_or(128);
    let mut routes = Vec::new();
    let mut schedules = Vec::new();
    let mut rules = Vec::new();
    if let Some(events) = properties.get("Events").and_then(Value::as_object) {
        for (event_name, event) in events {
            let kind = event
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let props = event.get("Properties").cloned().unwrap_or(Value::Null);
            match kind {
                "HttpApi" => {
                    let authorized =
                        string_at(&props, "/Auth/Authorizer").is_none_or(|a| a != "NONE");
                    routes.push(RouteSpec {
                        method: string_at(&props, "/Method")
                            .unwrap_or_else(|| "ANY".to_owned())
                            .to_uppercase(),
                        path: string_at(&props, "/Path").unwrap_or_else(|| "/{proxy+}".to_owned()),
                        authorized,
                    });
                }
                "Schedule" => {
                    let expression = string_at(&props, "/Schedule").unwrap_or_default();
                    let every = parse_rate(&expression).ok_or_else(|| {
                        err(
                            format!("schedule {event_name} of {logical_id}"),
                            format!("only rate(...) expressions run locally, got {expression:?}"),
                        )
                    })?;
                    schedules.push(ScheduleSpec {
                        name: event_name.clone(),
                        every,
                    });
                }
                "EventBridgeRule" => {
                    let pattern = props.get("Pattern").ok_or_else(|| {
                        err(
                            format!("rule {event_name} of {logical_id}"),
                            "an EventBridgeRule event needs a Pattern",
                        )
                    })?;
                    rules.push(RuleSpec {
                        name: event_name.clone(),
                        pattern: names.resolve(pattern)?,
                    });
                }
                _ => {}
            }
        }
    }
    let on_failure = properties
        .pointer("/EventInvokeConfig/DestinationConfig/OnFailure/Destination")
        .map(|destination| {
            names
                .resolve(destination)
                .map(|resolved| scalar_text(&resolved))
        })
        .transpose()?;
    let async_retries = properties
        .pointer("/EventInvokeConfig/MaximumRetryAttempts")
        .and_then(Value::as_u64)
        .map_or(2, |retries| u32::try_from(retries.min(2)).unwrap_or(2));
    Ok(FunctionSpec {
        logical_id: logical_id.to_owned(),
        name: names.physical_name(logical_id),
        arn: names.attribute(logical_id, "Arn")?,
        binary,
        environment,
        timeout: Duration::from_secs(timeout),
        memory_size,
        routes,
        schedules,
        rules,
        on_failure,
        async_retries,
    })
}

/// Names a state machine has (resolved `Name`, or `<stack>-<LogicalId>`).
pub fn learn_state_machine_names(
    template: &Template,
    names: &mut LocalNames,
) -> Result<(), TemplateError> {
    let machines: Vec<(String, Option<Value>)> = template
        .resources_of("AWS::Serverless::StateMachine")
        .map(|(id, r)| (id.to_owned(), r.properties.get("Name").cloned()))
        .collect();
    for (logical_id, name) in machines {
        let name = match name {
            Some(name) => scalar_text(&names.resolve(&name)?),
            None => names.physical_name(&logical_id),
        };
        names.learn(&logical_id, "Name", name);
    }
    Ok(())
}

/// Reads everything but queues (which the local cloud's provisioning
/// creates first, so their URLs and ARNs are known to `names`).
pub fn load(template: &Template, names: &LocalNames) -> Result<Stack, TemplateError> {
    let mut functions = BTreeMap::new();
    for (logical_id, resource) in template.resources_of("AWS::Serverless::Function") {
        let spec = function_spec(
            template,
            names,
            logical_id,
            &resource.properties,
            &resource.metadata,
        )?;
        functions.insert(logical_id.to_owned(), spec);
    }
    Ok(Stack {
        tables: tables(template, names)?,
        functions,
        queue_mappings: queue_mappings(template)?,
        state_machines: state_machines(template, names)?,
        jwt: jwt_authorizer(template, names)?,
    })
}

/// The SQS event source mappings: `FunctionName: !Ref <function>` and
/// `EventSourceArn: !GetAtt <queue>.Arn`, with Lambda's defaults.
fn queue_mappings(template: &Template) -> Result<Vec<QueueMappingSpec>, TemplateError> {
    let mut queue_mappings = Vec::new();
    for (logical_id, resource) in template.resources_of("AWS::Lambda::EventSourceMapping") {
        let properties = &resource.properties;
        let function = properties
            .pointer("/FunctionName/Ref")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                err(
                    format!("mapping {logical_id}"),
                    "FunctionName must be !Ref <function>",
                )
            })?;
        let queue = properties
            .pointer("/EventSourceArn/Fn::GetAtt/0")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                err(
                    format!("mapping {logical_id}"),
                    "EventSourceArn must be !GetAtt <queue>.Arn",
                )
            })?;
        let report = properties
            .get("FunctionResponseTypes")
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures"));
        queue_mappings.push(QueueMappingSpec {
            logical_id: logical_id.to_owned(),
            function: function.to_owned(),
            queue: queue.to_owned(),
            batch_size: properties
                .get("BatchSize")
                .and_then(Value::as_i64)
                .map_or(10, |b| b.clamp(1, 10) as i32),
            report_batch_item_failures: report,
            maximum_concurrency: properties
                .pointer("/ScalingConfig/MaximumConcurrency")
                .and_then(Value::as_u64)
                .map_or(2, |c| c.clamp(1, 1000) as usize),
        });
    }
    Ok(queue_mappings)
}

/// The state machines, each with its `DefinitionUri` file read and its
/// `DefinitionSubstitutions` applied.
fn state_machines(
    template: &Template,
    names: &LocalNames,
) -> Result<Vec<StateMachineSpec>, TemplateError> {
    let mut state_machines = Vec::new();
    for (logical_id, resource) in template.resources_of("AWS::Serverless::StateMachine") {
        let properties = &resource.properties;
        let uri = properties
            .get("DefinitionUri")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                err(
                    format!("state machine {logical_id}"),
                    "only DefinitionUri (a local file) is supported",
                )
            })?;
        let path = template.dir.join(uri);
        let mut definition = std::fs::read_to_string(&path).map_err(|e| {
            err(
                format!("state machine {logical_id}"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        if let Some(substitutions) = properties
            .get("DefinitionSubstitutions")
            .and_then(Value::as_object)
        {
            for (key, value) in substitutions {
                let resolved = scalar_text(&names.resolve(value)?);
                definition = definition.replace(&format!("${{{key}}}"), &resolved);
            }
        }
        state_machines.push(StateMachineSpec {
            logical_id: logical_id.to_owned(),
            name: names.attribute(logical_id, "Name")?,
            arn: names.attribute(logical_id, "Arn")?,
            definition,
        });
    }
    Ok(state_machines)
}

/// The HTTP API's JWT authorizer: its default authorizer, or its first.
fn jwt_authorizer(
    template: &Template,
    names: &LocalNames,
) -> Result<Option<JwtAuthorizerSpec>, TemplateError> {
    let mut jwt = None;
    for (_, resource) in template.resources_of("AWS::Serverless::HttpApi") {
        let Some(authorizers) = resource
            .properties
            .pointer("/Auth/Authorizers")
            .and_then(Value::as_object)
        else {
            continue;
        };
        let default = resource
            .properties
            .pointer("/Auth/DefaultAuthorizer")
            .and_then(Value::as_str);
        let chosen = default
            .and_then(|d| authorizers.get(d))
            .or_else(|| authorizers.values().next());
        if let Some(configuration) = chosen.and_then(|a| a.get("JwtConfiguration")) {
            let configuration = names.resolve(configuration)?;
            let audiences = match configuration.get("audience") {
                Some(Value::Array(items)) => items.iter().map(scalar_text).collect(),
                Some(other) => scalar_text(other).split(',').map(str::to_owned).collect(),
                None => Vec::new(),
            };
            jwt = Some(JwtAuthorizerSpec {
                issuer: configuration
                    .get("issuer")
                    .map(scalar_text)
                    .unwrap_or_default(),
                audiences,
            });
        }
    }
    Ok(jwt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_other_schedules_do_not() {
        let cases = [
            ("rate(1 minute)", Some(60)),
            ("rate(5 minutes)", Some(300)),
            ("rate(2 hours)", Some(7200)),
            ("rate(1 day)", Some(86_400)),
            ("rate(0 minutes)", None),
            ("cron(0 12 * * ? *)", None),
            ("rate(1 fortnight)", None),
        ];
        for (expression, seconds) in cases {
            assert_eq!(
                parse_rate(expression).map(|d| d.as_secs()),
                seconds,
                "{expression}"
            );
        }
    }
}
