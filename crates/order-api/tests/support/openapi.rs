//! `openapi.yaml` as data: its routes, documented statuses, and response
//! validation with the `jsonschema` crate (OpenAPI 3.1 schemas are JSON
//! Schema 2020-12).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::cases::Produced;

pub struct Document {
    pub root: Value,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl Document {
    pub fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let yaml: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        Self {
            root: serde_json::to_value(yaml).unwrap(),
        }
    }

    /// (METHOD, path template, operationId) of every documented operation.
    pub fn operations(&self) -> BTreeSet<(String, String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in self.root["paths"].as_object().unwrap() {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    operations.insert((
                        method.to_uppercase(),
                        path.clone(),
                        operation["operationId"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        operations
    }

    fn operation(&self, operation_id: &str) -> &Value {
        for item in self.root["paths"].as_object().unwrap().values() {
            for method in METHODS {
                if let Some(operation) = item.get(method)
                    && operation["operationId"] == operation_id
                {
                    return operation;
                }
            }
        }
        panic!("operation {operation_id} is not documented")
    }

    /// (operationId, status) of every documented response.
    pub fn documented_responses(&self) -> BTreeSet<(String, u16)> {
        let mut responses = BTreeSet::new();
        for (_, _, operation_id) in self.operations() {
            for status in self.operation(&operation_id)["responses"]
                .as_object()
                .unwrap()
                .keys()
            {
                responses.insert((operation_id.clone(), status.parse().unwrap()));
            }
        }
        responses
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').unwrap();
                self.root
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling {reference}"))
            }
            None => value,
        }
    }

    /// The documented schema of this answer; panics when it is undocumented.
    fn schema_for(&self, produced: &Produced) -> Value {
        let Some(operation) = produced.operation else {
            return json!({"$ref": "#/components/schemas/Problem"});
        };
        let operation_id = operation.operation_id();
        let responses = &self.operation(operation_id)["responses"];
        let status = produced.answer.status.to_string();
        let response = responses.get(&status).unwrap_or_else(|| {
            panic!(
                "{}: {operation_id} answered {status}, which is not documented",
                produced.event
            )
        });
        let response = self.resolve(response);
        response["content"]
            .get(&produced.answer.content_type)
            .unwrap_or_else(|| {
                panic!(
                    "{}: {operation_id} {status} answered {}, not documented",
                    produced.event, produced.answer.content_type
                )
            })["schema"]
            .clone()
    }

    /// A validator of the named component schema (`#/components/schemas/<name>`).
    pub fn component_validator(&self, name: &str) -> jsonschema::Validator {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
            "components": self.root["components"].clone(),
        });
        jsonschema::draft202012::new(&schema).unwrap()
    }

    /// Validates the body against the documented schema.
    pub fn validate(&self, produced: &Produced) {
        let mut schema = self.schema_for(produced);
        let object = schema.as_object_mut().unwrap();
        object.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        object.insert("components".into(), self.root["components"].clone());
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&produced.answer.body)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: the {} answer does not match openapi.yaml: {errors:?}\n{}",
            produced.event,
            produced.answer.status,
            produced.answer.body
        );
    }
}
