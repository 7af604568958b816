//! JSONPath as the States Language uses it.
//!
//! A path starts at one of three roots: `$` (the state's data), `$$` (the
//! context object) or `$name` (a workflow variable). After the root come
//! segments: `.name`, `['name']`, `[3]`, `[-1]`, `[*]`, `.*`, slices
//! `[1:5:2]`, unions `[0,2]` / `['a','b']`, recursive descent `..name` and
//! simple filters `[?(@.price < 10)]`.
//!
//! A *definite* path (names and indices only) selects one value or misses;
//! an indefinite one selects the list of every match, like Jayway JsonPath
//! which Step Functions uses, and never misses. Reference paths (`ResultPath`,
//! `ItemsPath`) must be definite, and only they can be written to.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

/// Where a path starts.
#[derive(Debug, Clone, PartialEq)]
pub enum PathRoot {
    /// `$`: the state's input (or result, depending on the field).
    Data,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Name(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Names(Vec<String>),
    Indices(Vec<i64>),
    Descend(Option<String>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    field: Vec<String>,
    comparison: Option<(FilterOp, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FilterOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed JSONPath expression.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: Box<str>,
    root: PathRoot,
    segments: Vec<Segment>,
    definite: bool,
}

/// Why a path text is not a valid path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid JSONPath '{text}': {reason}")]
pub struct PathSyntaxError {
    /// The path as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A definite path that found nothing, described the way Jayway does.
#[derive(Debug, Clone, PartialEq)]
pub struct PathMiss {
    /// `$['a']['b']`, the path up to and including the missing step.
    pub rendered: String,
    /// Whether the missing step was the last one (`No results for path`)
    /// or an intermediate one (`Missing property in path`).
    pub at_last_segment: bool,
}

impl PathMiss {
    /// The text AWS appends after `Invalid path '<path>' : `.
    pub fn describe(&self) -> String {
        if self.at_last_segment {
            format!("No results for path: {}", self.rendered)
        } else {
            format!("Missing property in path {}", self.rendered)
        }
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    /// Parses a path such as `$.a[0].b`, `$$.Execution.Id` or `$var.x`.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        let err = |reason: &str| PathSyntaxError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let chars: Vec<char> = text.chars().collect();
        if chars.first() != Some(&'$') {
            return Err(err("a path must start with '$'"));
        }
        let mut pos = 1;
        let root = if chars.get(1) == Some(&'$') {
            pos = 2;
            PathRoot::Context
        } else if chars.get(1).is_some_and(|c| c.is_alphabetic() || *c == '_') {
            let start = pos;
            while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                pos += 1;
            }
            PathRoot::Variable(chars[start..pos].iter().collect())
        } else {
            PathRoot::Data
        };
        let mut segments = Vec::new();
        while pos < chars.len() {
            match chars[pos] {
                '.' => {
                    pos += 1;
                    if chars.get(pos) == Some(&'.') {
                        pos += 1;
                        if chars.get(pos) == Some(&'*') {
                            pos += 1;
                            segments.push(Segment::Descend(None));
                        } else {
                            let start = pos;
                            while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                                pos += 1;
                            }
                            if start == pos {
                                return Err(err("'..' must be followed by a name or '*'"));
                            }
                            segments
                                .push(Segment::Descend(Some(chars[start..pos].iter().collect())));
                        }
                    } else if chars.get(pos) == Some(&'*') {
                        pos += 1;
                        segments.push(Segment::Wildcard);
                    } else {
                        let start = pos;
                        while pos < chars.len() && chars[pos] != '.' && chars[pos] != '[' {
                            pos += 1;
                        }
                        if start == pos {
                            return Err(err("empty field name after '.'"));
                        }
                        segments.push(Segment::Name(chars[start..pos].iter().collect()));
                    }
                }
                '[' => {
                    let close = find_bracket_end(&chars, pos).ok_or_else(|| err("unclosed '['"))?;
                    let inner: String = chars[pos + 1..close].iter().collect();
                    segments.push(parse_bracket(inner.trim()).map_err(|r| err(&r))?);
                    pos = close + 1;
                }
                _ => return Err(err("expected '.' or '[' between path segments")),
            }
        }
        let definite = segments
            .iter()
            .all(|s| matches!(s, Segment::Name(_) | Segment::Index(_)));
        Ok(Self {
            text: text.into(),
            root,
            segments,
            definite,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where the path starts.
    pub fn root(&self) -> &PathRoot {
        &self.root
    }

    /// True when the path has only names and indices, so it selects at
    /// most one value and can be written to.
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// Selects from `value`, the root this path starts at (the caller picks
    /// data, context or variable by looking at [`JsonPath::root`]).
    pub fn select<'a>(&self, value: &'a Value) -> Result<Cow<'a, Value>, PathMiss> {
        if self.definite {
            let mut current = value;
            for (i, segment) in self.segments.iter().enumerate() {
                let next = match segment {
                    Segment::Name(name) => current.as_object().and_then(|o| o.get(name)),
                    Segment::Index(index) => current
                        .as_array()
                        .and_then(|a| index_in(a.len(), *index).map(|i| &a[i])),
                    _ => None,
                };
                match next {
                    Some(v) => current = v,
                    None => {
                        return Err(PathMiss {
                            rendered: self.render_through(i),
                            at_last_segment: i + 1 == self.segments.len(),
                        });
                    }
                }
            }
            return Ok(Cow::Borrowed(current));
        }
        let mut current: Vec<&Value> = vec![value];
        for segment in &self.segments {
            let mut next = Vec::new();
            for v in current {
                apply_segment(segment, v, &mut next);
            }
            current = next;
        }
        Ok(Cow::Owned(Value::Array(
            current.into_iter().cloned().collect(),
        )))
    }

    /// `$['a'][0]`: the definite segments up to and including `last`, as
    /// Jayway renders them in a miss. Built only when a lookup misses.
    fn render_through(&self, last: usize) -> String {
        use std::fmt::Write as _;
        let mut rendered = String::from("$");
        for segment in &self.segments[..=last] {
            // Writing to a `String` cannot fail.
            let _ = match segment {
                Segment::Name(name) => write!(rendered, "['{name}']"),
                Segment::Index(index) => write!(rendered, "[{index}]"),
                _ => Ok(()),
            };
        }
        rendered
    }

    /// Writes `new_value` at this (definite) path inside `target`, creating
    /// missing objects on the way. Fails when a step meets a non-object.
    pub fn write(&self, target: &mut Value, new_value: Value) -> Result<(), String> {
        if !self.definite {
            return Err(format!("the path '{}' is not a reference path", self.text));
        }
        let mut current = target;
        let count = self.segments.len();
        if count == 0 {
            *current = new_value;
            return Ok(());
        }
        let mut pending = Some(new_value);
        for (i, segment) in self.segments.iter().enumerate() {
            let last = i + 1 == count;
            match segment {
                Segment::Name(name) => {
                    let Value::Object(map) = current else {
                        return Err(format!(
                            "Unable to apply ReferencePath {} to input",
                            self.text
                        ));
                    };
                    if last {
                        map.insert(name.clone(), pending.take().unwrap_or(Value::Null));
                        return Ok(());
                    }
                    current = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Segment::Index(index) => {
                    let Value::Array(items) = current else {
                        return Err(format!(
                            "Unable to apply ReferencePath {} to input",
                            self.text
                        ));
                    };
                    let Some(at) = index_in(items.len(), *index) else {
                        return Err(format!(
                            "Unable to apply ReferencePath {} to input",
                            self.text
                        ));
                    };
                    if last {
                        items[at] = pending.take().unwrap_or(Value::Null);
                        return Ok(());
                    }
                    current = &mut items[at];
                }
                _ => return Err(format!("the path '{}' is not a reference path", self.text)),
            }
        }
        Ok(())
    }
}

/// How to take back a [`JsonPath::write_in_place`].
#[derive(Debug)]
pub struct WriteUndo {
    /// How many segments lead to the place that changed.
    depth: usize,
    change: Change,
}

#[derive(Debug)]
enum Change {
    /// The value at `depth` segments (the whole target for a path without
    /// segments) was replaced; this is the old one.
    Replaced(Value),
    /// The object entry named by segment `depth` was created.
    Created,
}

impl JsonPath {
    /// [`JsonPath::write`] straight into `target` instead of into a copy of
    /// it: the same result, but `target` is changed only when the write
    /// succeeds (after an error it is exactly as it was), and
    /// [`JsonPath::undo_write`] with the returned [`WriteUndo`] restores it.
    pub fn write_in_place(
        &self,
        target: &mut Value,
        new_value: Value,
    ) -> Result<WriteUndo, String> {
        let Some(depth) = self.check_writable(target)? else {
            let slot = self
                .walk_mut(target, self.segments.len())
                .ok_or_else(|| self.unwritable())?;
            let old = std::mem::replace(slot, new_value);
            return Ok(WriteUndo {
                depth: self.segments.len(),
                change: Change::Replaced(old),
            });
        };
        // Every step from `depth` on is a new object entry: build that
        // part inside out, then add it with one insert.
        let mut value = new_value;
        for segment in self.segments[depth + 1..].iter().rev() {
            let Segment::Name(name) = segment else {
                return Err(self.unwritable());
            };
            let mut map = Map::new();
            map.insert(name.clone(), value);
            value = Value::Object(map);
        }
        let (Some(Value::Object(map)), Segment::Name(name)) =
            (self.walk_mut(target, depth), &self.segments[depth])
        else {
            return Err(self.unwritable());
        };
        map.insert(name.clone(), value);
        Ok(WriteUndo {
            depth,
            change: Change::Created,
        })
    }

    /// Takes back a [`JsonPath::write_in_place`] of this path into
    /// `target`, which must not have changed since.
    pub fn undo_write(&self, target: &mut Value, undo: WriteUndo) {
        match undo.change {
            Change::Replaced(old) => {
                if let Some(slot) = self.walk_mut(target, undo.depth) {
                    *slot = old;
                }
            }
            Change::Created => {
                if let (Some(Value::Object(map)), Some(Segment::Name(name))) = (
                    self.walk_mut(target, undo.depth),
                    self.segments.get(undo.depth),
                ) {
                    // The entry was the last one added, so removing it
                    // leaves the rest in order even with `preserve_order`.
                    map.remove(name);
                }
            }
        }
    }

    /// Whether [`JsonPath::write`] would succeed on `target`, without
    /// changing it: `Some(i)` when segment `i` names the first object entry
    /// that it would create.
    fn check_writable(&self, target: &Value) -> Result<Option<usize>, String> {
        if !self.definite {
            return Err(format!("the path '{}' is not a reference path", self.text));
        }
        let mut current = target;
        let mut created = None;
        for (i, segment) in self.segments.iter().enumerate() {
            match (segment, created) {
                // Below a created entry every object is new and empty.
                (Segment::Name(_), Some(_)) => {}
                (Segment::Name(name), None) => {
                    let Value::Object(map) = current else {
                        return Err(self.unwritable());
                    };
                    match map.get(name) {
                        Some(v) => current = v,
                        None => created = Some(i),
                    }
                }
                (Segment::Index(index), None) => {
                    let Value::Array(items) = current else {
                        return Err(self.unwritable());
                    };
                    let Some(at) = index_in(items.len(), *index) else {
                        return Err(self.unwritable());
                    };
                    current = &items[at];
                }
                _ => return Err(self.unwritable()),
            }
        }
        Ok(created)
    }

    /// The existing value that the first `depth` (definite) segments lead
    /// to.
    fn walk_mut<'v>(&self, target: &'v mut Value, depth: usize) -> Option<&'v mut Value> {
        let mut current = target;
        for segment in self.segments.get(..depth)? {
            current = match segment {
                Segment::Name(name) => current.as_object_mut()?.get_mut(name)?,
                Segment::Index(index) => {
                    let items = current.as_array_mut()?;
                    let at = index_in(items.len(), *index)?;
                    &mut items[at]
                }
                _ => return None,
            };
        }
        Some(current)
    }

    fn unwritable(&self) -> String {
        format!("Unable to apply ReferencePath {} to input", self.text)
    }
}

fn index_in(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    if (0..len).contains(&at) {
        usize::try_from(at).ok()
    } else {
        None
    }
}

fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                if c == '\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => depth += 1,
                ']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

fn parse_bracket(inner: &str) -> Result<Segment, String> {
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(rest) = inner.strip_prefix('?') {
        return parse_filter(rest.trim()).map(Segment::Filter);
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        let names = split_quoted_names(inner)?;
        return Ok(if names.len() == 1 {
            Segment::Name(names.into_iter().next().unwrap_or_default())
        } else {
            Segment::Names(names)
        });
    }
    if inner.contains(':') {
        let parts: Vec<&str> = inner.split(':').collect();
        if parts.len() > 3 {
            return Err("a slice has at most three parts".into());
        }
        let num = |s: &str| -> Result<Option<i64>, String> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<i64>()
                    .map(Some)
                    .map_err(|_| format!("'{s}' is not an integer"))
            }
        };
        let start = num(parts[0])?;
        let end = num(parts.get(1).copied().unwrap_or(""))?;
        let step = num(parts.get(2).copied().unwrap_or(""))?;
        if step == Some(0) {
            return Err("a slice step cannot be 0".into());
        }
        return Ok(Segment::Slice(start, end, step));
    }
    let indices = inner
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| format!("'{}' is not an index", s.trim()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if indices.len() == 1 {
        Segment::Index(indices[0])
    } else {
        Segment::Indices(indices)
    })
}

fn split_quoted_names(inner: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(quote) = chars.next() else {
            return Err("expected a quoted name".into());
        };
        if quote != '\'' && quote != '"' {
            return Err("expected a quoted name".into());
        }
        let mut name = String::new();
        loop {
            match chars.next() {
                None => return Err("unterminated quoted name".into()),
                Some('\\') => {
                    // Like Jayway, a backslash only escapes the quote
                    // character; anywhere else it is literal.
                    if chars.peek() == Some(&quote) {
                        name.push(quote);
                        chars.next();
                    } else {
                        name.push('\\');
                    }
                }
                Some(c) if c == quote => break,
                Some(c) => name.push(c),
            }
        }
        names.push(name);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(names),
            Some(',') => continue,
            Some(_) => return Err("expected ',' between quoted names".into()),
        }
    }
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    let body = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or("a filter is written [?(...)]")?
        .trim();
    let ops = [
        ("==", FilterOp::Eq),
        ("!=", FilterOp::Ne),
        ("<=", FilterOp::Le),
        (">=", FilterOp::Ge),
        ("<", FilterOp::Lt),
        (">", FilterOp::Gt),
    ];
    let (lhs, comparison) = match ops
        .iter()
        .find_map(|(sym, op)| body.find(sym).map(|i| (i, *sym, *op)))
    {
        Some((i, sym, op)) => {
            let literal = body[i + sym.len()..].trim();
            let literal = if let Some(s) = literal
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
            {
                Value::String(s.to_owned())
            } else {
                serde_json::from_str(literal)
                    .map_err(|_| format!("'{literal}' is not a literal"))?
            };
            (body[..i].trim(), Some((op, literal)))
        }
        None => (body, None),
    };
    let field = lhs
        .strip_prefix('@')
        .ok_or("a filter compares a field of '@'")?;
    let field = field
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Filter { field, comparison })
}

fn apply_segment<'a>(segment: &Segment, value: &'a Value, out: &mut Vec<&'a Value>) {
    match segment {
        Segment::Name(name) => {
            if let Some(v) = value.as_object().and_then(|o| o.get(name)) {
                out.push(v);
            }
        }
        Segment::Index(index) => {
            if let Some(a) = value.as_array()
                && let Some(i) = index_in(a.len(), *index)
            {
                out.push(&a[i]);
            }
        }
        Segment::Wildcard => match value {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(o) => out.extend(o.values()),
            _ => {}
        },
        Segment::Names(names) => {
            if let Some(o) = value.as_object() {
                out.extend(names.iter().filter_map(|n| o.get(n)));
            }
        }
        Segment::Indices(indices) => {
            if let Some(a) = value.as_array() {
                out.extend(
                    indices
                        .iter()
                        .filter_map(|i| index_in(a.len(), *i).map(|i| &a[i])),
                );
            }
        }
        Segment::Slice(start, end, step) => {
            if let Some(a) = value.as_array() {
                let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
                let step = step.unwrap_or(1);
                let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
                if step > 0 {
                    let mut i = clamp(start.unwrap_or(0));
                    let end = clamp(end.unwrap_or(len));
                    while i < end {
                        if let Ok(at) = usize::try_from(i) {
                            out.push(&a[at]);
                        }
                        i += step;
                    }
                } else {
                    let mut i = start.map_or(len - 1, |s| clamp(s).min(len - 1));
                    let end = end.map_or(-1, clamp);
                    while i > end {
                        if let Ok(at) = usize::try_from(i) {
                            out.push(&a[at]);
                        }
                        i += step;
                    }
                }
            }
        }
        Segment::Descend(name) => descend(value, name.as_deref(), out),
        Segment::Filter(filter) => {
            let candidates: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => o.values().collect(),
                _ => Vec::new(),
            };
            out.extend(candidates.into_iter().filter(|c| filter_matches(filter, c)));
        }
    }
}

fn descend<'a>(value: &'a Value, name: Option<&str>, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                if name.is_none_or(|n| n == k) {
                    out.push(v);
                }
            }
            for v in o.values() {
                descend(v, name, out);
            }
        }
        Value::Array(a) => {
            if name.is_none() {
                out.extend(a.iter());
            }
            for v in a {
                descend(v, name, out);
            }
        }
        _ => {}
    }
}

fn filter_matches(filter: &Filter, candidate: &Value) -> bool {
    let mut current = candidate;
    for name in &filter.field {
        match current.as_object().and_then(|o| o.get(name)) {
            Some(v) => current = v,
            None => return false,
        }
    }
    let Some((op, literal)) = &filter.comparison else {
        return true;
    };
    let ordering = match (current, literal) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) => {
            return match op {
                FilterOp::Eq => a == b,
                FilterOp::Ne => a != b,
                _ => false,
            };
        }
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        FilterOp::Eq => ordering.is_eq(),
        FilterOp::Ne => !ordering.is_eq(),
        FilterOp::Lt => ordering.is_lt(),
        FilterOp::Le => ordering.is_le(),
        FilterOp::Gt => ordering.is_gt(),
        FilterOp::Ge => ordering.is_ge(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(path: &str, value: Value) -> Result<Value, String> {
        let path = JsonPath::parse(path).map_err(|e| e.to_string())?;
        path.select(&value)
            .map(Cow::into_owned)
            .map_err(|m| m.describe())
    }

    #[test]
    fn selects_like_jayway() {
        let doc = json!({"items": [{"v": 0}, {"v": 1}, {"v": 2}], "a b": 1, "n": {"m": true}});
        let cases: Vec<(&str, Result<Value, String>)> = vec![
            ("$", Ok(doc.clone())),
            ("$.items[0]", Ok(json!({"v": 0}))),
            ("$.items[-1].v", Ok(json!(2))),
            ("$.items[*].v", Ok(json!([0, 1, 2]))),
            ("$.items[1:].v", Ok(json!([1, 2]))),
            ("$.items[:1]", Ok(json!([{"v": 0}]))),
            ("$['a b']", Ok(json!(1))),
            ("$..v", Ok(json!([0, 1, 2]))),
            ("$.items[?(@.v > 0)].v", Ok(json!([1, 2]))),
            ("$.missing", Err("No results for path: $['missing']".into())),
            ("$.no.such", Err("Missing property in path $['no']".into())),
        ];
        for (path, expected) in cases {
            assert_eq!(select(path, doc.clone()), expected, "{path}");
        }
    }

    #[test]
    fn parses_roots_and_rejects_garbage() {
        assert_eq!(
            JsonPath::parse("$$.Execution.Id").unwrap().root(),
            &PathRoot::Context
        );
        assert_eq!(
            JsonPath::parse("$var.x").unwrap().root(),
            &PathRoot::Variable("var".into())
        );
        for bad in ["", "a.b", "$.", "$[", "$.a[b]", "$.a..", "$[1:2:0]"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_in_place_like_write_and_undoes() {
        let doc = json!({"a": 1, "o": {"x": [1, {"y": 2}]}, "s": "t", "l": [0, 1]});
        let paths = [
            "$",
            "$.a",
            "$.b",
            "$.b.c.d",
            "$.o.x",
            "$.o.x[1].y",
            "$.o.x[1].z.w",
            "$.o.x[-1]",
            "$.o.x[5]",
            "$.s.q",
            "$.l[0]",
            "$.l[2]",
            "$.b[0]",
            "$.b.c[0]",
            "$.o.new[0]",
            "$.a.b",
            "$.l.x",
            "$.o.x[*]",
        ];
        for text in paths {
            let path = JsonPath::parse(text).unwrap();
            let mut copied = doc.clone();
            let expected = path.write(&mut copied, json!("new")).map(|()| copied);
            let mut target = doc.clone();
            match path.write_in_place(&mut target, json!("new")) {
                Ok(undo) => {
                    assert_eq!(Ok(&target), expected.as_ref(), "{text}");
                    path.undo_write(&mut target, undo);
                    assert_eq!(target, doc, "{text} undone");
                }
                Err(_) => {
                    assert!(expected.is_err(), "{text}");
                    assert_eq!(target, doc, "{text} left as it was");
                }
            }
        }
    }

    #[test]
    fn writes_reference_paths() {
        let mut doc = json!({"a": 1});
        JsonPath::parse("$.b.c")
            .unwrap()
            .write(&mut doc, json!(2))
            .unwrap();
        assert_eq!(doc, json!({"a": 1, "b": {"c": 2}}));
        let mut scalar = json!("s");
        assert!(
            JsonPath::parse("$.x")
                .unwrap()
                .write(&mut scalar, json!(1))
                .is_err()
        );
    }
}
