//! Intrinsic functions resolved to local names. [`LocalNames`] gives every
//! resource the physical name it has locally: `<stack>-<LogicalId>` for
//! tables and functions, the URL moto returned for queues, an ARN in the
//! local account and region for the rest; `!Ref`, `!GetAtt`, `!Sub`,
//! `!Join` and their `Fn::` forms resolve against it.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::document::{Template, TemplateError};

/// The account every local ARN is in (moto's default account).
pub const LOCAL_ACCOUNT: &str = "123456789012";
/// The region every local ARN is in.
pub const LOCAL_REGION: &str = "us-east-1";

/// The physical names and attributes of resources, locally.
#[derive(Debug, Clone)]
pub struct LocalNames {
    /// The stack name; prefixes every physical name.
    pub stack: String,
    /// Parameter values (template defaults overridden by the local ones).
    pub parameters: BTreeMap<String, Value>,
    /// Resource types by logical id.
    kinds: HashMap<String, String>,
    /// Attributes known only once a resource exists (queue URLs, state
    /// machine names), by (logical id, attribute); `Ref` is the attribute "Ref".
    known: HashMap<(String, String), String>,
}

impl LocalNames {
    /// Names for `template` deployed locally as `stack`, with `overrides`
    /// replacing parameter defaults. Every parameter must end with a value.
    pub fn new(
        template: &Template,
        stack: &str,
        overrides: &BTreeMap<String, Value>,
    ) -> Result<Self, TemplateError> {
        let mut parameters = template.parameters.clone();
        for (name, value) in overrides {
            if !parameters.contains_key(name) {
                return Err(TemplateError::Unresolvable {
                    what: format!("parameter {name}"),
                    reason: "the template declares no such parameter".to_owned(),
                });
            }
            parameters.insert(name.clone(), value.clone());
        }
        if let Some((name, _)) = parameters.iter().find(|(_, value)| value.is_null()) {
            return Err(TemplateError::Unresolvable {
                what: format!("parameter {name}"),
                reason: "it has no default and no local value".to_owned(),
            });
        }
        Ok(Self {
            stack: stack.to_owned(),
            parameters,
            kinds: template
                .resources
                .iter()
                .map(|(id, resource)| (id.clone(), resource.kind.clone()))
                .collect(),
            known: HashMap::new(),
        })
    }

    /// Names for `template` as `stack` with every parameter that has no
    /// default set to `<Name>-unset`: for reading what does not depend on
    /// those parameters (the tables, in tests).
    pub fn with_placeholders(template: &Template, stack: &str) -> Result<Self, TemplateError> {
        let placeholders = template
            .parameters
            .iter()
            .filter(|(_, value)| value.is_null())
            .map(|(name, _)| (name.clone(), Value::String(format!("{name}-unset"))))
            .collect();
        Self::new(template, stack, &placeholders)
    }

    /// Records an attribute learned from the service (e.g. a queue's URL as
    /// its `Ref`).
    pub fn learn(&mut self, logical_id: &str, attribute: &str, value: impl Into<String>) {
        self.known
            .insert((logical_id.to_owned(), attribute.to_owned()), value.into());
    }

    /// Records what creating a queue teaches: its URL (also its `Ref`), its
    /// ARN and its name.
    pub fn learn_queue(&mut self, logical_id: &str, name: &str, url: &str, arn: &str) {
        self.learn(logical_id, "Ref", url);
        self.learn(logical_id, "QueueUrl", url);
        self.learn(logical_id, "Arn", arn);
        self.learn(logical_id, "QueueName", name);
    }

    /// [`Self::learn_queue`] for every queue of `template` without creating
    /// any: URLs under `endpoint`, ARNs in the local account. For reading
    /// the functions' environments where no queue exists (tests, the cold
    /// start benchmark).
    pub fn learn_queues_at(&mut self, template: &Template, endpoint: &str) {
        for (logical_id, _) in template.resources_of("AWS::SQS::Queue") {
            let name = self.physical_name(logical_id);
            let url = format!("{endpoint}/{LOCAL_ACCOUNT}/{name}");
            let arn = format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{name}");
            self.learn_queue(logical_id, &name, &url, &arn);
        }
    }

    /// The physical name of a resource: `<stack>-<LogicalId>`.
    pub fn physical_name(&self, logical_id: &str) -> String {
        format!("{}-{logical_id}", self.stack)
    }

    fn kind(&self, logical_id: &str) -> Result<&str, TemplateError> {
        self.kinds
            .get(logical_id)
            .map(String::as_str)
            .ok_or_else(|| TemplateError::Unresolvable {
                what: logical_id.to_owned(),
                reason: "no resource or parameter has this name".to_owned(),
            })
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:aws:{service}:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{rest}")
    }

    /// What `!Ref name` gives.
    pub fn reference(&self, name: &str) -> Result<Value, TemplateError> {
        match name {
            "AWS::Region" => return Ok(Value::String(LOCAL_REGION.to_owned())),
            "AWS::AccountId" => return Ok(Value::String(LOCAL_ACCOUNT.to_owned())),
            "AWS::StackName" => return Ok(Value::String(self.stack.clone())),
            "AWS::Partition" => return Ok(Value::String("aws".to_owned())),
            "AWS::URLSuffix" => return Ok(Value::String("amazonaws.com".to_owned())),
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        if let Some(value) = self.known.get(&(name.to_owned(), "Ref".to_owned())) {
            return Ok(Value::String(value.clone()));
        }
        let physical = self.physical_name(name);
        let value = match self.kind(name)? {
            "AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine" => {
                self.attribute(name, "Arn")?
            }
            "AWS::SQS::Queue" => {
                return Err(TemplateError::Unresolvable {
                    what: format!("!Ref {name}"),
                    reason: "the queue's URL is known only once it was created".to_owned(),
                });
            }
            "AWS::Serverless::HttpApi" => "local".to_owned(),
            _ => physical,
        };
        Ok(Value::String(value))
    }

    /// What `!GetAtt logical.attribute` gives.
    pub fn attribute(&self, logical_id: &str, attribute: &str) -> Result<String, TemplateError> {
        if let Some(value) = self
            .known
            .get(&(logical_id.to_owned(), attribute.to_owned()))
        {
            return Ok(value.clone());
        }
        let physical = self.physical_name(logical_id);
        let kind = self.kind(logical_id)?;
        let value = match (kind, attribute) {
            ("AWS::DynamoDB::Table", "Arn") => self.arn("dynamodb", &format!("table/{physical}")),
            ("AWS::SQS::Queue", "Arn") => self.arn("sqs", &physical),
            ("AWS::SQS::Queue", "QueueName") => physical,
            ("AWS::Serverless::Function" | "AWS::Lambda::Function", "Arn") => {
                self.arn("lambda", &format!("function:{physical}"))
            }
            ("AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine", "Arn") => {
                let name = self.state_machine_name(logical_id)?;
                self.arn("states", &format!("stateMachine:{name}"))
            }
            ("AWS::Serverless::StateMachine" | "AWS::StepFunctions::StateMachine", "Name") => {
                self.state_machine_name(logical_id)?
            }
            ("AWS::Logs::LogGroup", "Arn") => self.arn("logs", &format!("log-group:{physical}:*")),
            ("AWS::SNS::Topic", "TopicArn") => self.arn("sns", &physical),
            _ => {
                return Err(TemplateError::Unresolvable {
                    what: format!("!GetAtt {logical_id}.{attribute}"),
                    reason: format!(
                        "the local cloud does not know attribute {attribute} of {kind}"
                    ),
                });
            }
        };
        Ok(value)
    }

    fn state_machine_name(&self, logical_id: &str) -> Result<String, TemplateError> {
        self.known
            .get(&(logical_id.to_owned(), "Name".to_owned()))
            .cloned()
            .ok_or_else(|| TemplateError::Unresolvable {
                what: format!("state machine {logical_id}"),
                reason: "its name was not resolved yet".to_owned(),
            })
    }

    /// Resolves every intrinsic function inside `value`.
    pub fn resolve(&self, value: &Value) -> Result<Value, TemplateError> {
        match value {
            Value::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve(v))
                    .collect::<Result<_, _>>()?,
            )),
            Value::Object(object) if object.len() == 1 => {
                let Some((key, argument)) = object.iter().next() else {
                    return Ok(value.clone());
                };
                match key.as_str() {
                    "Ref" => {
                        let name = argument
                            .as_str()
                            .ok_or_else(|| unresolvable("Ref", "its argument is not a name"))?;
                        self.reference(name)
                    }
                    "Fn::GetAtt" => {
                        let parts: Vec<&str> = match argument {
                            Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect(),
                            Value::String(s) => s.splitn(2, '.').collect(),
                            _ => Vec::new(),
                        };
                        match parts.as_slice() {
                            [resource, attribute] => {
                                Ok(Value::String(self.attribute(resource, attribute)?))
                            }
                            _ => Err(unresolvable(
                                "Fn::GetAtt",
                                "it needs a resource and an attribute",
                            )),
                        }
                    }
                    "Fn::Sub" => self.substitute(argument).map(Value::String),
                    "Fn::Join" => {
                        let (Some(separator), Some(items)) = (
                            argument.get(0).and_then(Value::as_str),
                            argument
                                .get(1)
                                .map(|items| self.resolve(items))
                                .transpose()?,
                        ) else {
                            return Err(unresolvable(
                                "Fn::Join",
                                "it needs a separator and a list",
                            ));
                        };
                        let parts: Vec<String> = items
                            .as_array()
                            .map(|items| items.iter().map(scalar_text).collect())
                            .unwrap_or_default();
                        Ok(Value::String(parts.join(separator)))
                    }
                    other if other.starts_with("Fn::") => {
                        Err(unresolvable(other, "the local cloud does not evaluate it"))
                    }
                    _ => self.resolve_object(object),
                }
            }
            Value::Object(object) => self.resolve_object(object),
            other => Ok(other.clone()),
        }
    }

    fn resolve_object(&self, object: &Map<String, Value>) -> Result<Value, TemplateError> {
        let mut resolved = Map::new();
        for (key, value) in object {
            resolved.insert(key.clone(), self.resolve(value)?);
        }
        Ok(Value::Object(resolved))
    }

    /// `!Sub "text ${Name} ${Res.Attr}"`, or the list form with extra variables.
    fn substitute(&self, argument: &Value) -> Result<String, TemplateError> {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), Map::new()),
            Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
                (Some(text), Some(Value::Object(vars))) => {
                    let mut resolved = Map::new();
                    for (name, value) in vars {
                        resolved.insert(name.clone(), self.resolve(value)?);
                    }
                    (text, resolved)
                }
                _ => {
                    return Err(unresolvable(
                        "Fn::Sub",
                        "the list form needs a string and a map",
                    ));
                }
            },
            _ => return Err(unresolvable("Fn::Sub", "its argument is not a string")),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(unresolvable("Fn::Sub", "an unclosed ${"));
            };
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(&scalar_text(value));
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                out.push_str(&scalar_text(&self.reference(name)?));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn unresolvable(what: &str, reason: &str) -> TemplateError {
    TemplateError::Unresolvable {
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A resolved scalar as text (numbers and booleans as CloudFormation prints them).
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = r#"
Parameters:
  Ttl: {Type: Number, Default: 900}
  Issuer: {Type: String}
Resources:
  Table: {Type: AWS::DynamoDB::Table, Properties: {TableName: x}}
  Queue: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref Table
          TTL: !Ref Ttl
          ARN: !GetAtt Table.Arn
          SUB: !Sub "${Table.Arn}/index/X"
          QUEUE: !Ref Queue
          STACK: !Sub "${AWS::StackName}-saga"
"#;

    fn names() -> (Template, LocalNames) {
        let template = Template::parse(TEMPLATE, PathBuf::from(".")).unwrap();
        let mut overrides = BTreeMap::new();
        overrides.insert("Issuer".to_owned(), json!("local"));
        let mut names = LocalNames::new(&template, "st", &overrides).unwrap();
        names.learn("Queue", "Ref", "http://q/123/st-Queue");
        (template, names)
    }

    #[test]
    fn intrinsics_resolve_to_local_names() {
        let (template, names) = names();
        let variables = template.resources["Fn"]
            .properties
            .pointer("/Environment/Variables")
            .unwrap();
        let resolved = names.resolve(variables).unwrap();
        let expected = json!({
            "TABLE": "st-Table",
            "TTL": 900,
            "ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/st-Table",
            "SUB": "arn:aws:dynamodb:us-east-1:123456789012:table/st-Table/index/X",
            "QUEUE": "http://q/123/st-Queue",
            "STACK": "st-saga",
        });
        assert_eq!(resolved, expected);
    }

    #[test]
    fn unknown_names_and_missing_parameters_are_errors() {
        let (_, names) = names();
        let cases = [
            json!({"Ref": "Nope"}),
            json!({"Fn::GetAtt": ["Queue", "Nope"]}),
            json!({"Fn::If": []}),
        ];
        for case in cases {
            assert!(names.resolve(&case).is_err(), "{case}");
        }
        let template = Template::parse(TEMPLATE, PathBuf::from(".")).unwrap();
        let error = LocalNames::new(&template, "st", &BTreeMap::new()).unwrap_err();
        assert!(error.to_string().contains("Issuer"), "{error}");
    }
}
