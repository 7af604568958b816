//! `template.yaml` as a document: YAML read with a maintained parser
//! (`yaml_serde`), converted to JSON with the short-form intrinsic tags in
//! their long forms (`!Ref X` becomes `{"Ref": "X"}`), split into
//! `Parameters`, `Globals.Function` and `Resources`. Nothing is resolved
//! here; [`crate::LocalNames`] does that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Why the template cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not YAML of the expected shape.
    #[error("{path} is not a valid template: {reason}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An intrinsic function cannot be resolved locally.
    #[error("cannot resolve {what}: {reason}")]
    Unresolvable {
        /// The expression or place.
        what: String,
        /// Why.
        reason: String,
    },
}

/// One resource of the template, with its YAML converted to JSON and the
/// intrinsic tags kept as `{"Ref": ..}` / `{"Fn::GetAtt": ..}` objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `Type`, e.g. `AWS::DynamoDB::Table`.
    pub kind: String,
    /// `Properties` (an empty object when absent).
    pub properties: Value,
    /// `Metadata` (an empty object when absent).
    pub metadata: Value,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where the template is; `DefinitionUri` and `CodeUri` are relative to it.
    pub dir: PathBuf,
    /// `Parameters`, each with its `Default` if any.
    pub parameters: BTreeMap<String, Value>,
    /// `Globals.Function` (an empty object when absent).
    pub function_globals: Value,
    /// `Resources` by logical id.
    pub resources: BTreeMap<String, Resource>,
}

impl Template {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self::parse(&text, dir).map_err(|reason| TemplateError::Shape {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses template text; `dir` is where relative paths in it start.
    pub fn parse(text: &str, dir: PathBuf) -> Result<Self, String> {
        let yaml: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let document = yaml_to_json(&yaml)?;
        let parameters = document
            .get("Parameters")
            .and_then(Value::as_object)
            .map(|params| {
                params
                    .iter()
                    .map(|(name, spec)| {
                        (
                            name.clone(),
                            spec.get("Default").cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let function_globals = document
            .pointer("/Globals/Function")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let Some(resources_json) = document.get("Resources").and_then(Value::as_object) else {
            return Err("it has no Resources section".to_owned());
        };
        let mut resources = BTreeMap::new();
        for (logical_id, resource) in resources_json {
            let Some(kind) = resource.get("Type").and_then(Value::as_str) else {
                return Err(format!("resource {logical_id} has no Type"));
            };
            resources.insert(
                logical_id.clone(),
                Resource {
                    kind: kind.to_owned(),
                    properties: resource
                        .get("Properties")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Map::new())),
                    metadata: resource
                        .get("Metadata")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Map::new())),
                },
            );
        }
        Ok(Self {
            dir,
            parameters,
            function_globals,
            resources,
        })
    }

    /// The logical ids of every resource of `kind`, in name order.
    pub fn resources_of(&self, kind: &str) -> impl Iterator<Item = (&str, &Resource)> {
        let kind = kind.to_owned();
        self.resources
            .iter()
            .filter(move |(_, resource)| resource.kind == kind)
            .map(|(id, resource)| (id.as_str(), resource))
    }
}

/// Converts YAML to JSON, turning the short-form intrinsic tags into their
/// long forms (`!Ref X` into `{"Ref": "X"}`, `!GetAtt A.B` into
/// `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` into `{"Fn::Sub": s}` ...).
fn yaml_to_json(yaml: &yaml_serde::Value) -> Result<Value, String> {
    use yaml_serde::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map_or(Value::Null, Value::from)
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => {
            Value::Array(items.iter().map(yaml_to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(&tagged.value)?;
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                "GetAtt" => {
                    let parts = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((resource, attribute)) => Value::Array(vec![
                                Value::String(resource.to_owned()),
                                Value::String(attribute.to_owned()),
                            ]),
                            None => return Err(format!("!GetAtt {s} names no attribute")),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), parts)
                }
                other => (format!("Fn::{other}"), inner),
            };
            let mut object = Map::new();
            object.insert(key, inner);
            Value::Object(object)
        }
    })
}
