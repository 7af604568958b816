//! Choice rules: parsing the comparison operators, `And`/`Or`/`Not`, and
//! evaluating them against a state's input.
//!
//! A comparison whose variable (or `...Path` operand) is missing, or has the
//! wrong type, is false rather than an error; only `IsPresent` looks at
//! presence itself.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::path::JsonPath;
use crate::scope::Scope;
use crate::template::Template;

/// The value family a comparison works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

/// How two values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

/// The right-hand side of a comparison: a literal or another path.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Value),
    Path(JsonPath),
}

/// A test on one variable.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Compare(Family, Relation, Operand),
    Matches(String),
    IsNull(bool),
    IsPresent(bool),
    IsNumeric(bool),
    IsString(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
}

/// A boolean expression of a Choice rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every sub-condition holds.
    And(Vec<Condition>),
    /// At least one sub-condition holds.
    Or(Vec<Condition>),
    /// The sub-condition does not hold.
    Not(Box<Condition>),
    /// A test on the value at `variable`.
    Test { variable: JsonPath, test: TestBox },
}

/// Boxed test, so that [`Condition`] stays small.
#[derive(Debug, Clone, PartialEq)]
pub struct TestBox(Box<Test>);

/// A top-level rule: a condition, where to go, and what to assign.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    /// The condition.
    pub condition: Condition,
    /// The state to go to when it holds.
    pub next: String,
    /// Variables assigned when this rule is taken.
    pub assign: Option<Template>,
}

const OPERATORS: &[(&str, Family, Relation)] = &[
    ("StringEquals", Family::String, Relation::Equals),
    ("StringLessThan", Family::String, Relation::LessThan),
    ("StringGreaterThan", Family::String, Relation::GreaterThan),
    (
        "StringLessThanEquals",
        Family::String,
        Relation::LessThanEquals,
    ),
    (
        "StringGreaterThanEquals",
        Family::String,
        Relation::GreaterThanEquals,
    ),
    ("NumericEquals", Family::Numeric, Relation::Equals),
    ("NumericLessThan", Family::Numeric, Relation::LessThan),
    ("NumericGreaterThan", Family::Numeric, Relation::GreaterThan),
    (
        "NumericLessThanEquals",
        Family::Numeric,
        Relation::LessThanEquals,
    ),
    (
        "NumericGreaterThanEquals",
        Family::Numeric,
        Relation::GreaterThanEquals,
    ),
    ("BooleanEquals", Family::Boolean, Relation::Equals),
    ("TimestampEquals", Family::Timestamp, Relation::Equals),
    ("TimestampLessThan", Family::Timestamp, Relation::LessThan),
    (
        "TimestampGreaterThan",
        Family::Timestamp,
        Relation::GreaterThan,
    ),
    (
        "TimestampLessThanEquals",
        Family::Timestamp,
        Relation::LessThanEquals,
    ),
    (
        "TimestampGreaterThanEquals",
        Family::Timestamp,
        Relation::GreaterThanEquals,
    ),
];

const TYPE_TESTS: &[&str] = &[
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

impl ChoiceRule {
    /// Parses a top-level rule (it must have `Next`).
    pub fn parse(value: &Value) -> Result<Self, String> {
        let object = value.as_object().ok_or("a choice rule must be an object")?;
        let next = object
            .get("Next")
            .ok_or("a top-level choice rule needs 'Next'")?
            .as_str()
            .ok_or("'Next' must be a string")?
            .to_owned();
        if object.contains_key("Condition") {
            return Err(
                "'Condition' is JSONata; this interpreter supports JSONPath rules only".into(),
            );
        }
        let assign = match object.get("Assign") {
            Some(a) if a.is_object() => Some(Template::compile(a)?),
            Some(_) => return Err("'Assign' must be an object".into()),
            None => None,
        };
        let condition = Condition::parse(value, true)?;
        Ok(Self {
            condition,
            next,
            assign,
        })
    }
}

impl Condition {
    fn parse(value: &Value, top_level: bool) -> Result<Self, String> {
        let object = value.as_object().ok_or("a choice rule must be an object")?;
        if !top_level && object.contains_key("Next") {
            return Err("a nested choice rule cannot have 'Next'".into());
        }
        let allowed_extra = |k: &str| k == "Next" || k == "Comment" || k == "Assign";
        if let Some(list) = object.get("And").or_else(|| object.get("Or")) {
            let is_and = object.contains_key("And");
            let items = list.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                format!(
                    "'{}' must be a non-empty array",
                    if is_and { "And" } else { "Or" }
                )
            })?;
            let parsed = items
                .iter()
                .map(|v| Condition::parse(v, false))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(k) = object
                .keys()
                .find(|k| !allowed_extra(k) && *k != "And" && *k != "Or")
            {
                return Err(format!("unexpected field '{k}' beside And/Or"));
            }
            return Ok(if is_and {
                Condition::And(parsed)
            } else {
                Condition::Or(parsed)
            });
        }
        if let Some(inner) = object.get("Not") {
            if let Some(k) = object.keys().find(|k| !allowed_extra(k) && *k != "Not") {
                return Err(format!("unexpected field '{k}' beside Not"));
            }
            return Ok(Condition::Not(Box::new(Condition::parse(inner, false)?)));
        }
        let variable_text = object
            .get("Variable")
            .ok_or("a choice rule needs 'Variable' (or And, Or, Not)")?
            .as_str()
            .ok_or("'Variable' must be a string")?;
        let variable = JsonPath::parse(variable_text).map_err(|e| format!("'Variable': {e}"))?;
        let mut tests = Vec::new();
        for (key, operand) in object {
            if key == "Variable" || allowed_extra(key) {
                continue;
            }
            tests.push(parse_test(key, operand)?);
        }
        match tests.len() {
            1 => Ok(Condition::Test {
                variable,
                test: TestBox(Box::new(tests.remove(0))),
            }),
            0 => Err("a choice rule needs a comparison operator".into()),
            _ => Err("a choice rule must have exactly one comparison operator".into()),
        }
    }

    /// Evaluates the condition.
    pub fn holds(&self, scope: &Scope<'_>) -> bool {
        match self {
            Condition::And(items) => items.iter().all(|c| c.holds(scope)),
            Condition::Or(items) => items.iter().any(|c| c.holds(scope)),
            Condition::Not(inner) => !inner.holds(scope),
            Condition::Test { variable, test } => {
                let value = scope.lookup(variable).ok();
                evaluate_test(&test.0, value.as_deref(), scope)
            }
        }
    }
}

fn parse_test(key: &str, operand: &Value) -> Result<Test, String> {
    if key == "StringMatches" {
        let pattern = operand.as_str().ok_or("'StringMatches' must be a string")?;
        return Ok(Test::Matches(pattern.to_owned()));
    }
    if TYPE_TESTS.contains(&key) {
        let flag = operand
            .as_bool()
            .ok_or_else(|| format!("'{key}' must be true or false"))?;
        return Ok(match key {
            "IsNull" => Test::IsNull(flag),
            "IsPresent" => Test::IsPresent(flag),
            "IsNumeric" => Test::IsNumeric(flag),
            "IsString" => Test::IsString(flag),
            "IsBoolean" => Test::IsBoolean(flag),
            _ => Test::IsTimestamp(flag),
        });
    }
    let (base, is_path) = match key.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (key, false),
    };
    let Some((_, family, relation)) = OPERATORS.iter().find(|(name, _, _)| *name == base) else {
        return Err(format!("unknown choice operator '{key}'"));
    };
    let operand = if is_path {
        let text = operand
            .as_str()
            .ok_or_else(|| format!("'{key}' must be a path string"))?;
        Operand::Path(JsonPath::parse(text).map_err(|e| format!("'{key}': {e}"))?)
    } else {
        let ok = match family {
            Family::String => operand.is_string(),
            Family::Numeric => operand.is_number(),
            Family::Boolean => operand.is_boolean(),
            Family::Timestamp => operand
                .as_str()
                .is_some_and(|s| parse_timestamp(s).is_some()),
        };
        if !ok {
            return Err(format!("'{key}' has a value of the wrong type: {operand}"));
        }
        Operand::Literal(operand.clone())
    };
    Ok(Test::Compare(*family, *relation, operand))
}

fn evaluate_test(test: &Test, value: Option<&Value>, scope: &Scope<'_>) -> bool {
    match test {
        Test::IsPresent(flag) => value.is_some() == *flag,
        Test::IsNull(flag) => value.is_some_and(|v| v.is_null() == *flag),
        Test::IsNumeric(flag) => value.is_some_and(|v| v.is_number() == *flag),
        Test::IsString(flag) => value.is_some_and(|v| v.is_string() == *flag),
        Test::IsBoolean(flag) => value.is_some_and(|v| v.is_boolean() == *flag),
        Test::IsTimestamp(flag) => {
            value.is_some_and(|v| v.as_str().is_some_and(|s| parse_timestamp(s).is_some()) == *flag)
        }
        Test::Matches(pattern) => value
            .and_then(Value::as_str)
            .is_some_and(|s| string_matches(s, pattern)),
        Test::Compare(family, relation, operand) => {
            let Some(left) = value else {
                return false;
            };
            let right = match operand {
                Operand::Literal(v) => std::borrow::Cow::Borrowed(v),
                Operand::Path(path) => match scope.lookup(path) {
                    Ok(v) => v,
                    Err(_) => return false,
                },
            };
            let ordering = match family {
                Family::String => match (left.as_str(), right.as_str()) {
                    (Some(a), Some(b)) => Some(compare_strings(a, b)),
                    _ => None,
                },
                Family::Numeric => compare_numbers(left, &right),
                Family::Boolean => match (left.as_bool(), right.as_bool()) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
                Family::Timestamp => {
                    match (
                        left.as_str().and_then(parse_timestamp),
                        right.as_str().and_then(parse_timestamp),
                    ) {
                        (Some(a), Some(b)) => Some(a.cmp(&b)),
                        _ => None,
                    }
                }
            };
            ordering.is_some_and(|o| match relation {
                Relation::Equals => o == Ordering::Equal,
                Relation::LessThan => o == Ordering::Less,
                Relation::GreaterThan => o == Ordering::Greater,
                Relation::LessThanEquals => o != Ordering::Greater,
                Relation::GreaterThanEquals => o != Ordering::Less,
            })
        }
    }
}

/// Compares strings by UTF-16 code units, as the Java-based service does.
fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    let (Value::Number(a), Value::Number(b)) = (a, b) else {
        return None;
    };
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Parses an RFC 3339 timestamp with an upper-case `T` and a zone.
pub fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[10] != b'T' || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are
/// a literal star and backslash.
fn string_matches(text: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Token {
        Char(char),
        Star,
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => tokens.push(Token::Char(next)),
                None => tokens.push(Token::Char('\\')),
            },
            '*' => tokens.push(Token::Star),
            other => tokens.push(Token::Char(other)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic greedy wildcard matching with one backtrack point.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < tokens.len() && tokens[p] == Token::Char(text[t]) {
            t += 1;
            p += 1;
        } else if p < tokens.len() && tokens[p] == Token::Star {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < tokens.len() && tokens[p] == Token::Star {
        p += 1;
    }
    p == tokens.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn holds(rule: Value, data: Value) -> bool {
        let mut rule = rule;
        rule["Next"] = json!("X");
        let parsed = ChoiceRule::parse(&rule).unwrap();
        let build = || json!({});
        let context = crate::scope::LazyContext::new(&build);
        let variables = HashMap::new();
        let scope = Scope {
            data: &data,
            context: &context,
            variables: &variables,
        };
        parsed.condition.holds(&scope)
    }

    #[test]
    fn operators_follow_the_spec() {
        let data = json!({"s": "abc", "n": 5, "f": 2.5, "b": true, "t": "2016-03-14T01:59:00Z",
                          "t2": "2016-03-14T01:59:00.123+01:00", "z": null, "other": 5});
        let cases = [
            (json!({"Variable": "$.s", "StringEquals": "abc"}), true),
            (json!({"Variable": "$.s", "StringLessThan": "abd"}), true),
            (
                json!({"Variable": "$.s", "StringGreaterThanEquals": "abc"}),
                true,
            ),
            (json!({"Variable": "$.n", "StringEquals": "5"}), false),
            (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
            (json!({"Variable": "$.f", "NumericLessThan": 3}), true),
            (
                json!({"Variable": "$.n", "NumericEqualsPath": "$.other"}),
                true,
            ),
            (
                json!({"Variable": "$.n", "NumericEqualsPath": "$.missing"}),
                false,
            ),
            (json!({"Variable": "$.b", "BooleanEquals": true}), true),
            (
                json!({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T00:59:00Z"}),
                true,
            ),
            (
                json!({"Variable": "$.t2", "TimestampLessThan": "2016-03-14T01:59:00Z"}),
                true,
            ),
            (json!({"Variable": "$.s", "StringMatches": "a*c"}), true),
            (json!({"Variable": "$.s", "StringMatches": "a\\*c"}), false),
            (json!({"Variable": "$.z", "IsNull": true}), true),
            (json!({"Variable": "$.missing", "IsPresent": false}), true),
            (json!({"Variable": "$.missing", "IsNull": false}), false),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (json!({"Variable": "$.s", "IsString": true}), true),
            (
                json!({"Not": {"Variable": "$.b", "IsBoolean": true}}),
                false,
            ),
            (
                json!({"And": [{"Variable": "$.n", "IsNumeric": true}, {"Variable": "$.n", "NumericGreaterThan": 4}]}),
                true,
            ),
            (
                json!({"Or": [{"Variable": "$.n", "NumericGreaterThan": 9}, {"Variable": "$.s", "StringEquals": "x"}]}),
                false,
            ),
        ];
        for (rule, expected) in cases {
            assert_eq!(holds(rule.clone(), data.clone()), expected, "{rule}");
        }
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            json!({"Variable": "$.a"}),
            json!({"Variable": "$.a", "StringEquals": 1}),
            json!({"Variable": "$.a", "Nope": 1}),
            json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}),
            json!({"And": []}),
            json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "Y"}}),
            json!({"Variable": "a", "IsNull": true}),
        ] {
            let mut rule = bad.clone();
            rule["Next"] = json!("X");
            assert!(ChoiceRule::parse(&rule).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match() {
        for (text, pattern, expected) in [
            ("log-2020.txt", "log-*.txt", true),
            ("", "*", true),
            ("abc", "*b*", true),
            ("a*c", "a\\*c", true),
            ("abc", "ab", false),
        ] {
            assert_eq!(string_matches(text, pattern), expected, "{text} {pattern}");
        }
    }
}
