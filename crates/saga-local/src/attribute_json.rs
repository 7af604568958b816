//! DynamoDB's AttributeValue JSON (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`
//! ...), as Step Functions' DynamoDB integrations take and return it,
//! converted to and from the SDK's `AttributeValue`. Also a plain-JSON view
//! of items for the console and the inspection endpoints.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// An AttributeValue JSON that does not describe an attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid AttributeValue at {path}: {reason}")]
pub struct AttributeJsonError {
    /// Where, e.g. `Key.orderId`.
    pub path: String,
    /// Why.
    pub reason: String,
}

fn invalid(path: &str, reason: impl Into<String>) -> AttributeJsonError {
    AttributeJsonError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn strings(path: &str, value: &Value) -> Result<Vec<String>, AttributeJsonError> {
    value
        .as_array()
        .ok_or_else(|| invalid(path, "a set must be a list of strings"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(path, "a set must be a list of strings"))
        })
        .collect()
}

/// Parses one AttributeValue JSON (exactly one type key).
pub fn attribute_from_json(
    path: &str,
    value: &Value,
) -> Result<AttributeValue, AttributeJsonError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid(path, "must be an object"))?;
    let mut entries = object.iter();
    let (Some((kind, inner)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(
            path,
            "must have exactly one type key (S, N, B, BOOL, NULL, M, L, SS, NS, BS)",
        ));
    };
    let text = || {
        inner
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| invalid(path, format!("{kind} takes a string")))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => {
            let number = match inner {
                Value::Number(n) => n.to_string(),
                _ => text()?,
            };
            AttributeValue::N(number)
        }
        "B" => AttributeValue::B(Blob::new(
            STANDARD
                .decode(text()?)
                .map_err(|e| invalid(path, format!("B is not base64: {e}")))?,
        )),
        "BOOL" => AttributeValue::Bool(
            inner
                .as_bool()
                .ok_or_else(|| invalid(path, "BOOL takes a boolean"))?,
        ),
        "NULL" => AttributeValue::Null(true),
        "M" => AttributeValue::M(item_from_json(path, inner)?),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(|| invalid(path, "L takes a list"))?
                .iter()
                .enumerate()
                .map(|(i, v)| attribute_from_json(&format!("{path}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        "SS" => AttributeValue::Ss(strings(path, inner)?),
        "NS" => AttributeValue::Ns(strings(path, inner)?),
        "BS" => AttributeValue::Bs(
            strings(path, inner)?
                .into_iter()
                .map(|s| {
                    STANDARD
                        .decode(s)
                        .map(Blob::new)
                        .map_err(|e| invalid(path, e.to_string()))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(invalid(path, format!("unknown type key {other}"))),
    })
}

/// Parses a map of attribute name to AttributeValue JSON (an item, a key,
/// `ExpressionAttributeValues`).
pub fn item_from_json(
    path: &str,
    value: &Value,
) -> Result<HashMap<String, AttributeValue>, AttributeJsonError> {
    value
        .as_object()
        .ok_or_else(|| invalid(path, "must be an object of attributes"))?
        .iter()
        .map(|(name, v)| {
            Ok((
                name.clone(),
                attribute_from_json(&format!("{path}.{name}"), v)?,
            ))
        })
        .collect()
}

/// One attribute as AttributeValue JSON.
pub fn attribute_to_json(value: &AttributeValue) -> Value {
    let mut object = Map::new();
    let (key, inner) = match value {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.clone())),
        AttributeValue::B(b) => ("B", Value::String(STANDARD.encode(b.as_ref()))),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
        AttributeValue::Null(_) => ("NULL", Value::Bool(true)),
        AttributeValue::M(m) => ("M", item_to_json(m)),
        AttributeValue::L(l) => ("L", Value::Array(l.iter().map(attribute_to_json).collect())),
        AttributeValue::Ss(s) => (
            "SS",
            Value::Array(s.iter().cloned().map(Value::String).collect()),
        ),
        AttributeValue::Ns(s) => (
            "NS",
            Value::Array(s.iter().cloned().map(Value::String).collect()),
        ),
        AttributeValue::Bs(s) => (
            "BS",
            Value::Array(
                s.iter()
                    .map(|b| Value::String(STANDARD.encode(b.as_ref())))
                    .collect(),
            ),
        ),
        _ => ("NULL", Value::Bool(true)),
    };
    object.insert(key.to_owned(), inner);
    Value::Object(object)
}

/// An item as AttributeValue JSON.
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_to_json(v)))
            .collect(),
    )
}

/// An attribute as plain JSON (numbers as numbers when they fit), for people.
pub fn attribute_to_plain(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::M(m) => item_to_plain(m),
        AttributeValue::L(l) => Value::Array(l.iter().map(attribute_to_plain).collect()),
        AttributeValue::Ss(s) | AttributeValue::Ns(s) => {
            Value::Array(s.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::B(b) => Value::String(STANDARD.encode(b.as_ref())),
        _ => Value::Null,
    }
}

/// An item as plain JSON.
pub fn item_to_plain(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_to_plain(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attribute_json_round_trips() {
        let cases = [
            json!({"S": "x"}),
            json!({"N": "12.5"}),
            json!({"BOOL": true}),
            json!({"NULL": true}),
            json!({"L": [{"S": "a"}, {"M": {"k": {"N": "1"}}}]}),
            json!({"SS": ["a", "b"]}),
            json!({"B": "aGk="}),
        ];
        for case in cases {
            let parsed = attribute_from_json("v", &case).unwrap();
            assert_eq!(attribute_to_json(&parsed), case);
        }
    }

    #[test]
    fn malformed_attribute_json_names_the_path() {
        let cases = [
            (json!({"S": 1}), "S takes a string"),
            (json!({"S": "a", "N": "1"}), "exactly one"),
            (json!({"X": "a"}), "unknown type key"),
            (json!("a"), "must be an object"),
        ];
        for (case, message) in cases {
            let error = attribute_from_json("Key.id", &case)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(message) && error.contains("Key.id"),
                "{error}"
            );
        }
    }
}
