//! EMF lines in tests: [`problems`] checks one line against the EMF
//! specification (the JSON schema `tests/emf.schema.json`, then the rules
//! relating members to one another that a schema cannot state), and
//! [`capture`] collects the lines the code under test writes (off Lambda,
//! `saga_lambda::metrics::write` logs each as the `emf` field of an event).

use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;

static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/emf.schema.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{path}: {e}"))
});

/// What makes `line` an invalid EMF document; empty when it is valid.
pub fn problems(line: &str) -> Vec<String> {
    if line.contains('\n') {
        return vec!["not one line".to_owned()];
    }
    if line.len() > 1024 * 1024 {
        return vec![format!(
            "{} bytes, over the 1 MB of a log event",
            line.len()
        )];
    }
    let document: Value = match serde_json::from_str(line) {
        Ok(document) => document,
        Err(error) => return vec![format!("not JSON: {error}")],
    };
    let mut found: Vec<String> = SCHEMA
        .iter_errors(&document)
        .map(|error| format!("schema: {} at {}", error, error.instance_path()))
        .collect();
    if !found.is_empty() {
        return found;
    }
    let Some(root) = document.as_object() else {
        return vec!["not an object".to_owned()];
    };
    let directives = document["_aws"]["CloudWatchMetrics"].as_array();
    for (index, directive) in directives.into_iter().flatten().enumerate() {
        let mut metric_names = Vec::new();
        for definition in directive["Metrics"].as_array().into_iter().flatten() {
            let name = definition["Name"].as_str().unwrap_or_default();
            if metric_names.contains(&name) {
                found.push(format!("directive {index}: metric {name} listed twice"));
            }
            metric_names.push(name);
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if (1..=100).contains(&values.len()) && values.iter().all(Value::is_number) => {
                }
                Some(other) => found.push(format!(
                    "metric {name}: {other} is neither a number nor an array of 1 to 100 numbers"
                )),
                None => found.push(format!(
                    "metric {name}: no top-level member holds its value"
                )),
            }
        }
        let sets = directive["Dimensions"].as_array().into_iter().flatten();
        for name in sets.filter_map(Value::as_array).flatten() {
            let name = name.as_str().unwrap_or_default();
            if metric_names.contains(&name) {
                found.push(format!("{name} is both a metric and a dimension"));
            }
            match root.get(name) {
                Some(Value::String(value))
                    if !value.trim().is_empty() && value.chars().count() <= 1024 => {}
                Some(other) => found.push(format!(
                    "dimension {name}: {other} is not a non-blank string of at most 1024 characters"
                )),
                None => found.push(format!(
                    "dimension {name}: no top-level member holds its value"
                )),
            }
        }
    }
    found
}

/// The EMF lines logged while the returned guard lives (on this thread).
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// The lines so far, emptied.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Starts collecting the `emf` field of every event logged on this thread.
pub fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let layer = EmfLayer(Arc::clone(&lines));
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (Captured(lines), guard)
}

struct EmfLayer(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for EmfLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut visitor = EmfField(None);
        event.record(&mut visitor);
        if let Some(line) = visitor.0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    }
}

struct EmfField(Option<String>);

impl Visit for EmfField {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "emf" {
            self.0 = Some(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "emf" {
            self.0 = Some(value.to_owned());
        }
    }
}
