//! Reading the fields of one JSON object (a state, a catcher) into typed
//! values. A field of the wrong shape is reported at its location
//! (`/States/Foo/InputPath`) and read as absent, so parsing goes on and
//! finds every other problem too.

use serde_json::{Map, Value};

use super::model::{NumberSource, ResultPath, Selector};
use super::validate::{INVALID_PATH, Problem, SCHEMA, problem};
use crate::path::JsonPath;
use crate::template::Template;

/// One object's fields, where they are, and where problems go.
pub(super) struct Fields<'a> {
    pub(super) object: &'a Map<String, Value>,
    pub(super) at: &'a str,
    pub(super) problems: &'a mut Vec<Problem>,
}

impl Fields<'_> {
    /// Records a problem at `field` (the object itself when empty).
    pub(super) fn report(&mut self, code: &'static str, field: &str, message: &str) {
        let location = if field.is_empty() {
            self.at.to_owned()
        } else {
            format!("{}/{field}", self.at)
        };
        self.problems.push(problem(code, &location, message));
    }

    /// A string field.
    pub(super) fn string(&mut self, field: &str) -> Option<String> {
        match self.object.get(field) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.report(SCHEMA, field, &format!("'{field}' must be a string"));
                None
            }
        }
    }

    /// A JSONPath field.
    pub(super) fn path(&mut self, field: &str) -> Option<JsonPath> {
        let text = self.string(field)?;
        match JsonPath::parse(&text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.report(INVALID_PATH, field, &e.to_string());
                None
            }
        }
    }

    /// A reference path field: names and indices only, because it says
    /// where one value is read or written.
    pub(super) fn reference_path(&mut self, field: &str) -> Option<JsonPath> {
        let path = self.path(field)?;
        if path.is_definite() {
            Some(path)
        } else {
            self.report(
                INVALID_PATH,
                field,
                &format!("'{path}' is not a reference path (only names and indices are allowed)"),
            );
            None
        }
    }

    /// `InputPath` / `OutputPath`: absent keeps the whole value, `null`
    /// gives the empty object.
    pub(super) fn selector(&mut self, field: &str) -> Selector {
        match self.object.get(field) {
            None => Selector::Whole,
            Some(Value::Null) => Selector::Discard,
            Some(_) => self.path(field).map_or(Selector::Whole, Selector::Path),
        }
    }

    /// `ResultPath`: absent or `$` replaces the input, `null` discards the
    /// result.
    pub(super) fn result_path(&mut self, field: &str) -> ResultPath {
        match self.object.get(field) {
            None => ResultPath::Replace,
            Some(Value::Null) => ResultPath::Discard,
            Some(_) => match self.reference_path(field) {
                Some(p) if p.as_str() == "$" => ResultPath::Replace,
                Some(p) => ResultPath::Path(p),
                None => ResultPath::Replace,
            },
        }
    }

    /// A payload template (`Parameters`, `ResultSelector`, `Assign` ...).
    fn template(&mut self, field: &str) -> Option<Template> {
        let value = self.object.get(field)?;
        match Template::compile(value) {
            Ok(t) => Some(t),
            Err(e) => {
                self.report(SCHEMA, field, &e);
                None
            }
        }
    }

    /// A payload template that must be a JSON object.
    pub(super) fn object_template(&mut self, field: &str) -> Option<Template> {
        if self.object.get(field).is_some_and(|v| !v.is_object()) {
            self.report(SCHEMA, field, &format!("'{field}' must be an object"));
            return None;
        }
        self.template(field)
    }

    /// A number given as `field` (checked by `check`, described by `rule`)
    /// or read at run time from `<field>Path`; never both.
    pub(super) fn number_source(
        &mut self,
        field: &str,
        check: fn(&Value) -> bool,
        rule: &str,
    ) -> Option<NumberSource> {
        let path_field = format!("{field}Path");
        match (
            self.object.get(field),
            self.object.contains_key(&path_field),
        ) {
            (Some(_), true) => {
                self.report(
                    SCHEMA,
                    field,
                    &format!("'{field}' and '{path_field}' are mutually exclusive"),
                );
                None
            }
            (Some(v), false) => {
                if check(v) {
                    Some(NumberSource::Literal(v.clone()))
                } else {
                    self.report(SCHEMA, field, &format!("'{field}' {rule}"));
                    None
                }
            }
            (None, true) => self.reference_path(&path_field).map(NumberSource::Path),
            (None, false) => None,
        }
    }
}
