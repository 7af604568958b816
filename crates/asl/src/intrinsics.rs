//! The 18 `States.*` intrinsic functions: parsing a call such as
//! `States.Format('{} items', States.ArrayLength($.items))` once, when the
//! definition loads, and evaluating it against a [`Scope`].

use std::fmt;

use base64::Engine as _;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::path::JsonPath;
use crate::scope::{Failure, LookupError, Scope};

/// The intrinsic functions AWS defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "States.Format" => Self::Format,
            "States.StringToJson" => Self::StringToJson,
            "States.JsonToString" => Self::JsonToString,
            "States.Array" => Self::Array,
            "States.ArrayPartition" => Self::ArrayPartition,
            "States.ArrayContains" => Self::ArrayContains,
            "States.ArrayRange" => Self::ArrayRange,
            "States.ArrayGetItem" => Self::ArrayGetItem,
            "States.ArrayLength" => Self::ArrayLength,
            "States.ArrayUnique" => Self::ArrayUnique,
            "States.Base64Encode" => Self::Base64Encode,
            "States.Base64Decode" => Self::Base64Decode,
            "States.Hash" => Self::Hash,
            "States.JsonMerge" => Self::JsonMerge,
            "States.MathRandom" => Self::MathRandom,
            "States.MathAdd" => Self::MathAdd,
            "States.StringSplit" => Self::StringSplit,
            "States.UUID" => Self::Uuid,
            _ => return None,
        })
    }

    /// Allowed argument counts, inclusive.
    fn arity(self) -> (usize, usize) {
        match self {
            Self::Format => (1, usize::MAX),
            Self::Array => (0, usize::MAX),
            Self::StringToJson
            | Self::JsonToString
            | Self::ArrayLength
            | Self::ArrayUnique
            | Self::Base64Encode
            | Self::Base64Decode => (1, 1),
            Self::ArrayPartition
            | Self::ArrayContains
            | Self::ArrayGetItem
            | Self::Hash
            | Self::MathAdd
            | Self::StringSplit => (2, 2),
            Self::ArrayRange | Self::JsonMerge => (3, 3),
            Self::MathRandom => (2, 3),
            Self::Uuid => (0, 0),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Format => "States.Format",
            Self::StringToJson => "States.StringToJson",
            Self::JsonToString => "States.JsonToString",
            Self::Array => "States.Array",
            Self::ArrayPartition => "States.ArrayPartition",
            Self::ArrayContains => "States.ArrayContains",
            Self::ArrayRange => "States.ArrayRange",
            Self::ArrayGetItem => "States.ArrayGetItem",
            Self::ArrayLength => "States.ArrayLength",
            Self::ArrayUnique => "States.ArrayUnique",
            Self::Base64Encode => "States.Base64Encode",
            Self::Base64Decode => "States.Base64Decode",
            Self::Hash => "States.Hash",
            Self::JsonMerge => "States.JsonMerge",
            Self::MathRandom => "States.MathRandom",
            Self::MathAdd => "States.MathAdd",
            Self::StringSplit => "States.StringSplit",
            Self::Uuid => "States.UUID",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq)]
enum Argument {
    Literal(Value),
    Path(JsonPath),
    Call(Box<Call>),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    function: Function,
    arguments: Vec<Argument>,
}

/// Why a call text does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid intrinsic function '{text}': {reason}")]
pub struct CallSyntaxError {
    /// The call as written.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// True when a string looks like an intrinsic call rather than a path.
pub fn looks_like_call(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

impl Call {
    /// Parses a complete call, e.g. `States.MathAdd($.a, 1)`.
    pub fn parse(text: &str) -> Result<Self, CallSyntaxError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
        };
        let call = parser.call().map_err(|reason| CallSyntaxError {
            text: text.to_owned(),
            reason,
        })?;
        parser.skip_ws();
        if parser.pos != chars.len() {
            return Err(CallSyntaxError {
                text: text.to_owned(),
                reason: "unexpected text after the closing ')'".into(),
            });
        }
        Ok(call)
    }

    /// Whether any argument reads the context object.
    pub fn reads_context(&self) -> bool {
        self.arguments.iter().any(|a| match a {
            Argument::Path(p) => matches!(p.root(), crate::path::PathRoot::Context),
            Argument::Call(c) => c.reads_context(),
            Argument::Literal(_) => false,
        })
    }

    /// Evaluates the call.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, Failure> {
        let mut args = Vec::with_capacity(self.arguments.len());
        for argument in &self.arguments {
            args.push(match argument {
                Argument::Literal(v) => v.clone(),
                Argument::Call(call) => call.evaluate(scope)?,
                Argument::Path(path) => match scope.lookup(path) {
                    Ok(v) => v.into_owned(),
                    Err(LookupError::Miss(miss)) => {
                        return Err(Failure::runtime(format!(
                            "Invalid path '{path}' : {}",
                            miss.describe()
                        )));
                    }
                    Err(e) => return Err(Failure::runtime(e.describe())),
                },
            });
        }
        apply(self.function, args)
    }
}

struct Parser<'c> {
    chars: &'c [char],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn call(&mut self) -> Result<Call, String> {
        self.skip_ws();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let function =
            Function::from_name(&name).ok_or_else(|| format!("unknown function '{name}'"))?;
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.pos += 1;
        let mut arguments = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                arguments.push(self.argument()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
                }
            }
        }
        let (min, max) = function.arity();
        if arguments.len() < min || arguments.len() > max {
            return Err(format!(
                "{name} takes {} argument(s), got {}",
                if min == max {
                    min.to_string()
                } else if max == usize::MAX {
                    format!("at least {min}")
                } else {
                    format!("{min} to {max}")
                },
                arguments.len()
            ));
        }
        Ok(Call {
            function,
            arguments,
        })
    }

    fn argument(&mut self) -> Result<Argument, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c @ ('{' | '}')) => {
                                    // Keep the escape so States.Format can tell a
                                    // literal brace from a placeholder.
                                    text.push('\\');
                                    text.push(c);
                                }
                                Some(c) => text.push(c),
                                None => return Err("unterminated string literal".into()),
                            }
                            self.pos += 1;
                        }
                        Some('\'') => {
                            self.pos += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Argument::Literal(Value::String(text)))
            }
            Some('$') => {
                let start = self.pos;
                let mut depth = 0i32;
                let mut quote: Option<char> = None;
                while let Some(c) = self.peek() {
                    match quote {
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None => match c {
                            '\'' | '"' => quote = Some(c),
                            '[' | '(' => depth += 1,
                            ']' => depth -= 1,
                            ')' if depth == 0 => break,
                            ')' => depth -= 1,
                            ',' if depth == 0 => break,
                            _ => {}
                        },
                    }
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                JsonPath::parse(text.trim())
                    .map(Argument::Path)
                    .map_err(|e| e.to_string())
            }
            Some('S') => Ok(Argument::Call(Box::new(self.call()?))),
            Some(_) => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c != ',' && c != ')') {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let text = text.trim();
                match serde_json::from_str::<Value>(text) {
                    Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                        Ok(Argument::Literal(v))
                    }
                    _ => Err(format!("'{text}' is not a valid argument")),
                }
            }
            None => Err("missing argument".into()),
        }
    }
}

fn fail(function: Function, message: impl fmt::Display) -> Failure {
    Failure::intrinsic(format!("Invalid arguments in {function}: {message}"))
}

fn integer_arg(function: Function, value: &Value, what: &str) -> Result<i64, Failure> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if let Some(f) = n.as_f64().filter(|f| f.abs() < 9.0e15) {
                // Floats round half up (Java's Math.round), as AWS does:
                // 1.5 -> 2, -1.5 -> -1.
                #[allow(clippy::cast_possible_truncation)]
                Ok((f + 0.5).floor() as i64)
            } else {
                Err(fail(
                    function,
                    format!("{what} must be an integer, got {value}"),
                ))
            }
        }
        _ => Err(fail(
            function,
            format!("{what} must be an integer, got {value}"),
        )),
    }
}

fn array_arg(function: Function, value: &Value) -> Result<&Vec<Value>, Failure> {
    value
        .as_array()
        .ok_or_else(|| fail(function, format!("expected an array, got {value}")))
}

fn string_arg(function: Function, value: &Value) -> Result<&str, Failure> {
    value
        .as_str()
        .ok_or_else(|| fail(function, format!("expected a string, got {value}")))
}

/// Renders a value inside `States.Format` and error texts: strings raw,
/// everything else as compact JSON.
pub fn render_plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders a value the way the Java service prints it inside
/// `States.Format`: strings raw, objects as `{a=1, b=[x, y]}`.
fn render_java(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render_java).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={}", render_java(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// Runs one intrinsic on its evaluated arguments: a dispatch to one small
/// function per intrinsic (the simplest inline). A missing argument reads as
/// `null`, which each argument check then refuses with a readable message.
fn apply(function: Function, args: Vec<Value>) -> Result<Value, Failure> {
    use Function as F;
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    match function {
        F::Format => format(function, &args),
        F::StringToJson => string_to_json(function, arg(0)),
        F::JsonToString => Ok(Value::String(arg(0).to_string())),
        F::Array => Ok(Value::Array(args)),
        F::ArrayPartition => array_partition(function, arg(0), arg(1)),
        F::ArrayContains => {
            let items = array_arg(function, arg(0))?;
            Ok(Value::Bool(items.iter().any(|v| json_equal(v, arg(1)))))
        }
        F::ArrayRange => array_range(function, arg(0), arg(1), arg(2)),
        F::ArrayGetItem => {
            let items = array_arg(function, arg(0))?;
            let index = integer_arg(function, arg(1), "the index")?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| fail(function, format!("index {index} is out of bounds")))
        }
        F::ArrayLength => Ok(Value::from(array_arg(function, arg(0))?.len())),
        F::ArrayUnique => array_unique(function, arg(0)),
        F::Base64Encode => {
            let text = string_arg(function, arg(0))?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(text),
            ))
        }
        F::Base64Decode => base64_decode(function, arg(0)),
        F::Hash => hash(function, arg(0), arg(1)),
        F::JsonMerge => json_merge(function, arg(0), arg(1), arg(2)),
        F::MathRandom => math_random(function, arg(0), arg(1), args.get(2)),
        F::MathAdd => {
            let a = integer_arg(function, arg(0), "the first value")?;
            let b = integer_arg(function, arg(1), "the second value")?;
            a.checked_add(b)
                .map(Value::from)
                .ok_or_else(|| fail(function, "the sum overflows"))
        }
        F::StringSplit => string_split(function, arg(0), arg(1)),
        F::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
    }
}

/// `States.Format`: `{}` placeholders filled in order (strings bare, other
/// values as Java renders them); `\` escapes the next character. The counts
/// of placeholders and values must agree.
fn format(function: Function, args: &[Value]) -> Result<Value, Failure> {
    let template = string_arg(function, args.first().unwrap_or(&Value::Null))?;
    let mut out = String::new();
    let mut values = args.iter().skip(1);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let value = values
                    .next()
                    .ok_or_else(|| fail(function, "more placeholders than arguments"))?;
                out.push_str(&render_java(value));
            }
            _ => out.push(c),
        }
    }
    if values.next().is_some() {
        return Err(fail(function, "more arguments than placeholders"));
    }
    Ok(Value::String(out))
}

/// `States.StringToJson`: blank text is `null`.
fn string_to_json(function: Function, text: &Value) -> Result<Value, Failure> {
    let text = string_arg(function, text)?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| fail(function, format!("not valid JSON: {e}")))
}

/// `States.ArrayPartition`: chunks of `size` (> 0), the last one shorter.
fn array_partition(function: Function, items: &Value, size: &Value) -> Result<Value, Failure> {
    let items = array_arg(function, items)?;
    let size = integer_arg(function, size, "the chunk size")?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| fail(function, "the chunk size must be greater than 0"))?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

/// `States.ArrayRange`: `start` to `end` inclusive by a non-zero `step`, at
/// most 1,000 items (the service's limit).
fn array_range(
    function: Function,
    start: &Value,
    end: &Value,
    step: &Value,
) -> Result<Value, Failure> {
    let start = integer_arg(function, start, "the start")?;
    let end = integer_arg(function, end, "the end")?;
    let step = integer_arg(function, step, "the step")?;
    if step == 0 {
        return Err(fail(function, "the step cannot be 0"));
    }
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i <= end) || (step < 0 && i >= end) {
        out.push(Value::from(i));
        if out.len() > 1000 {
            return Err(fail(function, "the range has more than 1000 items"));
        }
        i = match i.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(Value::Array(out))
}

/// `States.ArrayUnique`: first occurrences, in order, compared as JSON
/// values (so `1` and `1.0` are one).
fn array_unique(function: Function, items: &Value) -> Result<Value, Failure> {
    let items = array_arg(function, items)?;
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.iter().any(|seen| json_equal(seen, item)) {
            out.push(item.clone());
        }
    }
    Ok(Value::Array(out))
}

/// `States.Base64Decode`: the decoded bytes must be UTF-8 text.
fn base64_decode(function: Function, text: &Value) -> Result<Value, Failure> {
    let text = string_arg(function, text)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| fail(function, format!("not valid base64: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| fail(function, "the decoded bytes are not UTF-8"))
}

/// `States.Hash`: the hex digest of the value rendered as plain text.
fn hash(function: Function, data: &Value, algorithm: &Value) -> Result<Value, Failure> {
    let data = render_plain(data);
    let algorithm = string_arg(function, algorithm)?;
    let digest = match algorithm {
        "MD5" => hex(&md5::Md5::digest(data.as_bytes())),
        "SHA-1" => hex(&sha1::Sha1::digest(data.as_bytes())),
        "SHA-256" => hex(&sha2::Sha256::digest(data.as_bytes())),
        "SHA-384" => hex(&sha2::Sha384::digest(data.as_bytes())),
        "SHA-512" => hex(&sha2::Sha512::digest(data.as_bytes())),
        other => {
            return Err(fail(
                function,
                format!("unsupported algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"),
            ));
        }
    };
    Ok(Value::String(digest))
}

/// `States.JsonMerge`: a shallow merge, the right side winning; the service
/// refuses a deep merge, and so does this.
fn json_merge(
    function: Function,
    left: &Value,
    right: &Value,
    deep: &Value,
) -> Result<Value, Failure> {
    let (Value::Object(left), Value::Object(right)) = (left, right) else {
        return Err(fail(function, "both values must be JSON objects"));
    };
    let deep = deep
        .as_bool()
        .ok_or_else(|| fail(function, "the third argument must be a boolean"))?;
    if deep {
        return Err(fail(function, "deep merging is not supported, use false"));
    }
    let mut merged: Map<String, Value> = left.clone();
    for (k, v) in right {
        merged.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(merged))
}

/// `States.MathRandom`: an integer in `start..end`, reproducible with a seed.
fn math_random(
    function: Function,
    start: &Value,
    end: &Value,
    seed: Option<&Value>,
) -> Result<Value, Failure> {
    let start = integer_arg(function, start, "the start")?;
    let end = integer_arg(function, end, "the end")?;
    if start >= end {
        return Err(fail(function, "the start must be less than the end"));
    }
    let value = match seed {
        Some(seed) => {
            let seed = integer_arg(function, seed, "the seed")?;
            #[allow(clippy::cast_sign_loss)]
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed as u64);
            rng.random_range(start..end)
        }
        None => rand::rng().random_range(start..end),
    };
    Ok(Value::from(value))
}

/// `States.StringSplit`: split on any of the delimiter characters, empty
/// pieces dropped.
fn string_split(function: Function, text: &Value, delimiters: &Value) -> Result<Value, Failure> {
    let text = string_arg(function, text)?;
    let delimiters: Vec<char> = string_arg(function, delimiters)?.chars().collect();
    Ok(Value::Array(
        text.split(|c| delimiters.contains(&c))
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON equality where `1` equals `1.0`, as AWS compares numbers by value.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn eval(text: &str, data: Value) -> Result<Value, String> {
        let call = Call::parse(text).map_err(|e| e.to_string())?;
        let build = || json!({"Execution": {"Name": "exec-1"}});
        let context = crate::scope::LazyContext::new(&build);
        let variables = HashMap::from([("v".to_owned(), json!(5))]);
        let scope = Scope {
            data: &data,
            context: &context,
            variables: &variables,
        };
        call.evaluate(&scope)
            .map_err(|f| f.cause.unwrap_or_default())
    }

    #[test]
    fn evaluates_every_function() {
        let data =
            json!({"a": [1, 2, 2, 3], "s": "a,b,,c", "o1": {"x": 1}, "o2": {"y": 2}, "n": 4});
        let cases = [
            ("States.Format('{} and {}', $.n, 'x')", json!("4 and x")),
            ("States.Format('lit \\{}')", json!("lit {}")),
            ("States.StringToJson('{\"k\": 1}')", json!({"k": 1})),
            ("States.JsonToString($.o1)", json!("{\"x\":1}")),
            ("States.Array(1, 'two', $.n)", json!([1, "two", 4])),
            ("States.Array()", json!([])),
            ("States.ArrayPartition($.a, 3)", json!([[1, 2, 2], [3]])),
            ("States.ArrayContains($.a, 3)", json!(true)),
            ("States.ArrayRange(1, 9, 2)", json!([1, 3, 5, 7, 9])),
            ("States.ArrayGetItem($.a, 3)", json!(3)),
            ("States.ArrayLength($.a)", json!(4)),
            ("States.ArrayUnique($.a)", json!([1, 2, 3])),
            (
                "States.Base64Encode('Hello World')",
                json!("SGVsbG8gV29ybGQ="),
            ),
            (
                "States.Base64Decode('SGVsbG8gV29ybGQ=')",
                json!("Hello World"),
            ),
            (
                "States.Hash('abc', 'MD5')",
                json!("900150983cd24fb0d6963f7d28e17f72"),
            ),
            (
                "States.JsonMerge($.o1, $.o2, false)",
                json!({"x": 1, "y": 2}),
            ),
            ("States.MathRandom(3, 4)", json!(3)),
            ("States.MathAdd(1.5, -1.5)", json!(1)),
            ("States.Format('{}', $.o1)", json!("{x=1}")),
            ("States.MathAdd($.n, -1)", json!(3)),
            ("States.MathAdd($v, States.ArrayLength($.a))", json!(9)),
            ("States.StringSplit($.s, ',')", json!(["a", "b", "c"])),
            ("States.Format('{}', $$.Execution.Name)", json!("exec-1")),
        ];
        for (text, expected) in cases {
            assert_eq!(eval(text, data.clone()), Ok(expected), "{text}");
        }
        assert_eq!(
            eval("States.UUID()", json!({})).map(|v| v.as_str().map(str::len)),
            Ok(Some(36))
        );
    }

    #[test]
    fn rejects_bad_calls() {
        for bad in [
            "States.Nope()",
            "States.MathAdd(1)",
            "States.Format('x'",
            "States.UUID() extra",
            "States.Array(abc)",
        ] {
            assert!(Call::parse(bad).is_err(), "{bad}");
        }
        let data = json!({"s": "x"});
        for failing in [
            "States.MathAdd($.s, 1)",
            "States.ArrayGetItem(States.Array(), 0)",
            "States.Format('{}')",
            "States.JsonMerge($.s, $.s, false)",
            "States.Hash('a', 'CRC')",
            "States.MathAdd($.missing, 1)",
        ] {
            assert!(eval(failing, data.clone()).is_err(), "{failing}");
        }
    }
}
