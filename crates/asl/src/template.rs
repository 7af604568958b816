//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` and
//! `Assign`. A key ending in `.$` takes its value from a path or an
//! intrinsic call; every other value is copied as written. Templates are
//! compiled once, and a subtree without `.$` keys stays a plain value.

use serde_json::{Map, Value};

use crate::intrinsics::{self, Call};
use crate::path::{JsonPath, PathRoot};
use crate::scope::{Failure, LookupError, Scope};

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A value without any `.$` key inside.
    Literal(Value),
    /// An object with at least one dynamic entry somewhere below.
    Object(Vec<(String, Template)>),
    /// An array with at least one dynamic element somewhere below.
    Array(Vec<Template>),
    /// `"key.$": "$.path"`; `field` is the key as written, for errors.
    Path { path: JsonPath, field: String },
    /// `"key.$": "States.Format(...)"`.
    Call { call: Call, field: String },
}

impl Template {
    /// Compiles a template; the error names the offending key.
    pub fn compile(value: &Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => {
                let mut dynamic = false;
                let mut entries = Vec::with_capacity(map.len());
                for (key, v) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        let Some(text) = v.as_str() else {
                            return Err(format!(
                                "the value of '{key}' must be a string holding a path or an intrinsic function"
                            ));
                        };
                        let node = if intrinsics::looks_like_call(text) {
                            Template::Call {
                                call: Call::parse(text)
                                    .map_err(|e| format!("field '{key}': {e}"))?,
                                field: key.clone(),
                            }
                        } else {
                            Template::Path {
                                path: JsonPath::parse(text)
                                    .map_err(|e| format!("field '{key}': {e}"))?,
                                field: key.clone(),
                            }
                        };
                        dynamic = true;
                        entries.push((name.to_owned(), node));
                    } else {
                        let node = Template::compile(v)?;
                        dynamic |= !matches!(node, Template::Literal(_));
                        entries.push((key.clone(), node));
                    }
                }
                Ok(if dynamic {
                    Template::Object(entries)
                } else {
                    Template::Literal(value.clone())
                })
            }
            Value::Array(items) => {
                let nodes = items
                    .iter()
                    .map(Template::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if nodes.iter().all(|n| matches!(n, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(nodes)
                })
            }
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// Whether evaluating reads the context object (so callers know when
    /// the context must be available).
    pub fn reads_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object(entries) => entries.iter().any(|(_, t)| t.reads_context()),
            Template::Array(items) => items.iter().any(Template::reads_context),
            Template::Path { path, .. } => matches!(path.root(), PathRoot::Context),
            Template::Call { call, .. } => call.reads_context(),
        }
    }

    /// Produces the payload.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, Failure> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(entries) => {
                let mut out = Map::new();
                for (key, node) in entries {
                    out.insert(key.clone(), node.evaluate(scope)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|n| n.evaluate(scope))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path { path, field } => match scope.lookup(path) {
                Ok(v) => Ok(v.into_owned()),
                Err(LookupError::Miss(_)) => {
                    let input = match path.root() {
                        PathRoot::Context => scope.context.get().to_string(),
                        _ => scope.data.to_string(),
                    };
                    Err(Failure::runtime(format!(
                        "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'"
                    )))
                }
                Err(e) => Err(Failure::runtime(e.describe())),
            },
            Template::Call { call, .. } => call.evaluate(scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn evaluates_nested_templates() {
        let template = Template::compile(&json!({
            "static": {"a": [1, 2]},
            "from.$": "$.x",
            "nested": [{"ctx.$": "$$.State.Name"}, 3],
            "fn.$": "States.Format('n={}', $.x)",
            "var.$": "$v"
        }))
        .unwrap();
        assert!(template.reads_context());
        let data = json!({"x": 7});
        let build = || json!({"State": {"Name": "S"}});
        let context = crate::scope::LazyContext::new(&build);
        let variables = HashMap::from([("v".to_owned(), json!("var"))]);
        let scope = Scope {
            data: &data,
            context: &context,
            variables: &variables,
        };
        assert_eq!(
            template.evaluate(&scope).unwrap(),
            json!({"static": {"a": [1, 2]}, "from": 7, "nested": [{"ctx": "S"}, 3], "fn": "n=7", "var": "var"})
        );
        let missing = Template::compile(&json!({"m.$": "$.nope"})).unwrap();
        let failure = missing.evaluate(&scope).unwrap_err();
        assert_eq!(
            failure.cause.as_deref(),
            Some(
                "The JSONPath '$.nope' specified for the field 'm.$' could not be found in the input '{\"x\":7}'"
            )
        );
    }

    #[test]
    fn rejects_bad_dynamic_values() {
        for bad in [
            json!({"a.$": 1}),
            json!({"a.$": "nope"}),
            json!({"a.$": "States.Bad()"}),
        ] {
            assert!(Template::compile(&bad).is_err(), "{bad}");
        }
    }
}
