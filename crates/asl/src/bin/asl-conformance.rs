//! Conformance runner: replays executions recorded against AWS Step
//! Functions (one JSON case per line) through this interpreter and compares
//! status, output or error and cause, and the recorded history.
//!
//! Usage (`--help` prints it): `asl-conformance <cases.jsonl> [--now <RFC
//! 3339>] [--case <name>]... [--json <report.json>]`, parsed by clap. Exits 2
//! on bad arguments or a malformed file, 0 otherwise; the last line is `N
//! passed, M failed, K skipped` (skipped = JSONata cases only).
//!
//! Every execution starts at `--now` on a virtual clock, never at the wall
//! clock: some recorded inputs (a Wait timestamp just past AWS's longest
//! delay) were computed from the moment the corpus was made, and AWS judges
//! them against the execution's start. The default is the instant of the
//! shipped corpus, recorded beside it in `tests/data/corpus-instant.txt`; pass
//! `--now` for a corpus made at another time. `--case` runs only the case of
//! that exact name (repeatable).
//!
//! Comparison rules (from the recorder's normalisation): `<...>` tokens in
//! expected strings are wildcards; `"date"` / `"timestamp"` match any
//! value; a `cause` that is a JSON object is compared as JSON; the ARN
//! prefix `arn:aws:` and the region are normalised; event `resource` and
//! `mapRunArn` fields are not compared (the recorder renamed functions and
//! runs); Parallel branch events whose ids the recorder reordered are
//! compared as a multiset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use asl::{
    Clock, Definition, EchoHandler, ExecutionInfo, HistoryEvent, IntegrationPattern,
    ResourceTarget, TaskError, TaskHandler, TaskRequest, TestStateMock, VirtualClock,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clap::Parser;
use serde_json::{Map, Value, json};

struct Case {
    name: String,
    kind: String,
    category: String,
    jsonata: bool,
    definition: Value,
    input: Value,
    expected: Value,
    trace: Vec<Value>,
    lambda_mocks: Map<String, Value>,
    test_state_args: Value,
    flags: Vec<String>,
}

fn parse_case(line: &str) -> Result<Case, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let field = |k: &str| value.get(k).ok_or_else(|| format!("missing field '{k}'"));
    let text = |k: &str| -> Result<String, String> {
        field(k)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("field '{k}' must be a string"))
    };
    let expected = field("expected")?.clone();
    if expected.get("status").and_then(Value::as_str).is_none() {
        return Err("field 'expected.status' must be a string".into());
    }
    let features: Vec<String> = value
        .get("features")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let kind = text("kind")?;
    if kind != "execution" && kind != "test_state" {
        return Err(format!("unknown kind '{kind}'"));
    }
    Ok(Case {
        name: text("name")?,
        category: value
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or("uncategorised")
            .to_owned(),
        kind,
        jsonata: features.iter().any(|f| f == "jsonata")
            || line.contains("\"QueryLanguage\": \"JSONata\""),
        definition: field("definition")?.clone(),
        input: field("input")?.clone(),
        expected,
        trace: value
            .get("trace")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        lambda_mocks: value
            .get("lambda_mocks")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        test_state_args: value.get("test_state_args").cloned().unwrap_or(Value::Null),
        flags: value
            .get("flags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The trivial Lambdas the recordings used: identity, constant, raise.
struct MockLambdas {
    mocks: Map<String, Value>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl TaskHandler for MockLambdas {
    async fn invoke(&self, request: TaskRequest) -> Result<Value, TaskError> {
        // Only the plain optimised integration (no pattern suffix) names the
        // function in its parameters and wraps the result.
        let invoke = matches!(request.resource.target(), ResourceTarget::LambdaInvoke)
            && request.resource.pattern() == IntegrationPattern::RequestResponse;
        let function = if invoke {
            request
                .parameters
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        } else {
            request.resource.arn().to_owned()
        };
        let mock = self
            .mocks
            .iter()
            .find(|(arn, _)| **arn == function || arn.ends_with(&format!(":function:{function}")))
            .map(|(_, m)| m.clone());
        let Some(mock) = mock else {
            return Ok(request.parameters);
        };
        if let Some(delay) = mock.get("delay_seconds").and_then(Value::as_f64) {
            self.clock
                .sleep(Duration::from_secs_f64(delay.max(0.0)))
                .await;
        }
        let payload = if invoke {
            request
                .parameters
                .get("Payload")
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            request.parameters.clone()
        };
        let result = match mock.get("kind").and_then(Value::as_str) {
            Some("raise") => {
                let error = mock
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("Exception")
                    .to_owned();
                let mut cause = mock.get("cause").cloned().unwrap_or(Value::Null);
                if let Some(id) = cause.get_mut("requestId") {
                    *id = Value::String(uuid::Uuid::new_v4().to_string());
                }
                let cause = match cause {
                    Value::String(s) => s,
                    other => python_json(&other),
                };
                return Err(TaskError::new(error, cause));
            }
            Some("constant") => mock.get("value").cloned().unwrap_or(Value::Null),
            _ => payload,
        };
        if invoke {
            Ok(json!({"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}))
        } else {
            Ok(result)
        }
    }
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "`), which is
/// how the recorded Lambda errors spell their cause.
fn python_json(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// Does `actual` match `expected`, with the recorder's normalisation undone?
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), _) if e == "date" || e == "timestamp" => true,
        (Value::String(e), Value::String(a)) => {
            string_matches(e, a)
                || match (
                    serde_json::from_str::<Value>(e),
                    serde_json::from_str::<Value>(a),
                ) {
                    (Ok(pe), Ok(pa)) if pe != *expected || pa != *actual => matches(&pe, &pa),
                    _ => false,
                }
        }
        (Value::String(e), a) => match serde_json::from_str::<Value>(e) {
            Ok(parsed) if !parsed.is_string() => matches(&parsed, a),
            _ => string_matches(e, &a.to_string()),
        },
        (e, Value::String(a)) if !e.is_string() => match serde_json::from_str::<Value>(a) {
            Ok(parsed) => matches(e, &parsed),
            Err(_) => false,
        },
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|w| matches(v, w)))
        }
        _ => expected == actual,
    }
}

fn normalise(actual: &str) -> String {
    actual
        .replace("arn:aws:", "arn:<partition>:")
        .replace("us-east-1", "<region>")
}

fn string_matches(expected: &str, actual: &str) -> bool {
    let actual = normalise(actual);
    if expected == actual {
        return true;
    }
    if !expected.contains('<') {
        return false;
    }
    // Split the expected text on <token> wildcards and match the pieces in order.
    let mut pieces = Vec::new();
    let mut rest = expected;
    while let Some(start) = rest.find('<') {
        match rest[start..].find('>') {
            Some(end) => {
                pieces.push(&rest[..start]);
                rest = &rest[start + end + 1..];
            }
            None => break,
        }
    }
    pieces.push(rest);
    let mut position = 0usize;
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            if !actual.starts_with(piece) {
                return false;
            }
            position = piece.len();
        } else if i == pieces.len() - 1 {
            return actual.len() >= position + piece.len() && actual.ends_with(piece);
        } else {
            match actual[position..].find(piece) {
                Some(found) => position += found + piece.len(),
                None => return false,
            }
        }
    }
    true
}

fn flat_event(event: &HistoryEvent) -> Value {
    let mut flat = Map::new();
    flat.insert("id".into(), json!(event.id));
    flat.insert("previousEventId".into(), json!(event.previous_event_id));
    flat.insert("type".into(), json!(event.event_type.name()));
    let parse =
        |t: &str| serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::String(t.to_owned()));
    if let Some(name) = event.name() {
        flat.insert("name".into(), json!(name));
    }
    if let Some(input) = event.input() {
        flat.insert("input".into(), parse(input));
    }
    if let Some(output) = event.output() {
        flat.insert("output".into(), parse(output));
    }
    if let Some(error) = event.error() {
        flat.insert("error".into(), json!(error));
    }
    if let Some(cause) = event.cause() {
        flat.insert("cause".into(), json!(cause));
    }
    match &event.details {
        asl::history::EventDetails::MapStarted { length } => {
            flat.insert("length".into(), json!(length));
        }
        asl::history::EventDetails::MapIteration { index, .. } => {
            flat.insert("index".into(), json!(index));
        }
        asl::history::EventDetails::StateExited {
            assigned: Some(vars),
            ..
        } => {
            let vars: Map<String, Value> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), json!(&**v)))
                .collect();
            flat.insert("assignedVariables".into(), Value::Object(vars));
        }
        asl::history::EventDetails::LambdaScheduled {
            timeout_seconds: Some(t),
            ..
        } => {
            flat.insert("timeoutInSeconds".into(), json!(t));
        }
        _ => {}
    }
    flat.insert("_".into(), Value::Null);
    flat.remove("_");
    Value::Object(flat)
}

const IGNORED_EVENT_FIELDS: &[&str] = &["resource", "mapRunArn"];

fn event_matches(expected: &Value, actual: &Value, compare_ids: bool) -> Option<String> {
    let (Some(e), Some(a)) = (expected.as_object(), actual.as_object()) else {
        return Some("event is not an object".into());
    };
    for (key, value) in e {
        if IGNORED_EVENT_FIELDS.contains(&key.as_str()) {
            continue;
        }
        if !compare_ids && (key == "id" || key == "previousEventId") {
            continue;
        }
        let found = a.get(key).unwrap_or(&Value::Null);
        let same = if key == "cause" && !value.is_string() {
            match found.as_str().map(serde_json::from_str::<Value>) {
                Some(Ok(parsed)) => matches(value, &parsed),
                _ => matches(value, found),
            }
        } else {
            matches(value, found)
        };
        if !same {
            return Some(format!("field '{key}': expected {value}, got {found}"));
        }
    }
    for key in a.keys() {
        if !e.contains_key(key) && !IGNORED_EVENT_FIELDS.contains(&key.as_str()) {
            return Some(format!("unexpected field '{key}': {}", a[key]));
        }
    }
    None
}

fn compare_trace(
    expected: &[Value],
    history: &[HistoryEvent],
    reordered: bool,
) -> Result<(), String> {
    // The recorder left out ParallelStateSucceeded events; leave them out
    // of the comparison too when the expectation has none.
    let keep_parallel_succeeded = expected
        .iter()
        .any(|e| e["type"] == "ParallelStateSucceeded");
    let actual: Vec<Value> = history
        .iter()
        .filter(|e| {
            keep_parallel_succeeded || e.event_type != asl::EventType::ParallelStateSucceeded
        })
        .map(flat_event)
        .collect();
    if expected.len() != actual.len() {
        let types = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
                .collect()
        };
        return Err(format!(
            "history has {} events, expected {}: got {:?}, expected {:?}",
            actual.len(),
            expected.len(),
            types(&actual),
            types(expected)
        ));
    }
    if reordered {
        let mut unmatched: Vec<&Value> = actual.iter().collect();
        for e in expected {
            let position = unmatched
                .iter()
                .position(|a| event_matches(e, a, e["id"].is_u64()).is_none());
            match position {
                Some(p) => {
                    unmatched.remove(p);
                }
                None => return Err(format!("no event matches expected {e}")),
            }
        }
        return Ok(());
    }
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        if let Some(reason) = event_matches(e, a, true) {
            return Err(format!("event #{}: {reason}", i + 1));
        }
    }
    Ok(())
}

fn compare_cause(expected: &Value, actual: Option<&str>) -> bool {
    match (expected, actual) {
        (Value::Null, None) => true,
        (Value::String(e), Some(a)) => string_matches(e, a),
        (e, Some(a)) => serde_json::from_str::<Value>(a).is_ok_and(|parsed| matches(e, &parsed)),
        _ => false,
    }
}

struct Verdict {
    passed: bool,
    reason: String,
}

fn compare_outcome(
    expected: &Value,
    status: &str,
    output: Option<&Value>,
    error: Option<&str>,
    cause: Option<&str>,
) -> Result<(), String> {
    let expected_status = expected["status"].as_str().unwrap_or("");
    if expected_status != status {
        return Err(format!(
            "status {status} (error {error:?}, cause {cause:?}), expected {expected_status}"
        ));
    }
    if let Some(e) = expected.get("output") {
        let actual = output.cloned().unwrap_or(Value::Null);
        if !matches(e, &actual) {
            return Err(format!("output {actual}, expected {e}"));
        }
    }
    if let Some(e) = expected.get("error") {
        let same = match (e, error) {
            (Value::Null, None) => true,
            (Value::String(e), Some(a)) => string_matches(e, a),
            _ => false,
        };
        if !same {
            return Err(format!("error {error:?}, expected {e}"));
        }
    }
    if let Some(e) = expected.get("cause")
        && !compare_cause(e, cause)
    {
        return Err(format!("cause {cause:?}, expected {e}"));
    }
    Ok(())
}

async fn run_case(case: &Case, now: DateTime<Utc>) -> Verdict {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::starting_at(now));
    let handler: Arc<dyn TaskHandler> = if case.lambda_mocks.is_empty() {
        Arc::new(EchoHandler)
    } else {
        Arc::new(MockLambdas {
            mocks: case.lambda_mocks.clone(),
            clock: Arc::clone(&clock),
        })
    };
    let result = if case.kind == "test_state" {
        run_test_state(case, handler, clock).await
    } else {
        run_execution(case, handler, clock).await
    };
    match result {
        Ok(()) => Verdict {
            passed: true,
            reason: String::new(),
        },
        Err(reason) => Verdict {
            passed: false,
            reason,
        },
    }
}

async fn run_execution(
    case: &Case,
    handler: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
) -> Result<(), String> {
    let definition = Definition::parse(&case.definition).map_err(|e| e.to_string())?;
    let mut info = ExecutionInfo::local(
        "ConformanceMachine",
        "conformance-execution",
        case.input.clone(),
        clock.now(),
    );
    info.execution_arn = info.execution_arn.replace("000000000000", "111111111111");
    info.state_machine_arn = info
        .state_machine_arn
        .replace("000000000000", "111111111111");
    info.role_arn = info.role_arn.replace("000000000000", "111111111111");
    let finished = asl::execute(&definition, info, handler, clock).await;
    let outcome = &finished.outcome;
    compare_outcome(
        &case.expected,
        outcome.status.as_str(),
        outcome.output.as_ref(),
        outcome.error.as_deref(),
        outcome.cause.as_deref(),
    )?;
    if !case.trace.is_empty() {
        let reordered = case
            .flags
            .iter()
            .any(|f| f == "parallel_events_reordered_by_snapshot");
        compare_trace(&case.trace, &finished.history, reordered)?;
    }
    Ok(())
}

async fn run_test_state(
    case: &Case,
    handler: Arc<dyn TaskHandler>,
    clock: Arc<dyn Clock>,
) -> Result<(), String> {
    let args = &case.test_state_args;
    let parse_text = |v: &Value| -> Value {
        match v {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
            other => other.clone(),
        }
    };
    let mut mock = TestStateMock::default();
    if let Some(m) = args.get("mock") {
        if let Some(result) = m.get("result") {
            mock.result = Some(Ok(parse_text(result)));
        } else if let Some(error) = m.get("errorOutput") {
            mock.result = Some(Err(TaskError {
                error: error
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                cause: error
                    .get("cause")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }));
        }
    }
    if let Some(context) = args.get("context") {
        mock.context = Some(parse_text(context));
    }
    let outcome = match args.get("stateName").and_then(Value::as_str) {
        Some(state_name) => {
            let definition = Definition::parse(&case.definition).map_err(|e| e.to_string())?;
            asl::test_state_in_definition(
                &definition,
                state_name,
                case.input.clone(),
                mock,
                handler,
                clock,
            )
            .await
        }
        None => asl::test_state(&case.definition, case.input.clone(), mock, handler, clock).await,
    }
    .map_err(|e| e.to_string())?;
    compare_outcome(
        &case.expected,
        outcome.status,
        outcome.output.as_ref(),
        outcome.error.as_deref(),
        outcome.cause.as_deref(),
    )?;
    if let Some(next) = case.expected.get("nextState")
        && next.as_str() != outcome.next_state.as_deref()
    {
        return Err(format!(
            "nextState {:?}, expected {next}",
            outcome.next_state
        ));
    }
    Ok(())
}

/// The instant the shipped corpus was recorded at: the runner's default
/// start time for every execution.
const SHIPPED_CORPUS_INSTANT: &str =
    include_str!("../../tests/data/corpus-instant.txt").trim_ascii();

/// The command line, as `--help` prints it.
#[derive(Debug, Parser)]
#[command(
    name = "asl-conformance",
    about = "Replays executions recorded against AWS Step Functions through this interpreter \
             and compares status, output or error and cause, and the recorded history.",
    after_help = "Prints one FAIL line per failed case, a table per category, and last \
                  `N passed, M failed, K skipped` (skipped: JSONata cases). Exits 2 on bad \
                  arguments or a malformed cases file, 0 otherwise.",
    // A repeated --now or --json keeps the last value, so a script can append
    // an override to a fixed command line.
    args_override_self = true
)]
struct Args {
    /// The recorded cases, one JSON object per line
    /// (crates/asl/tests/data/cases.jsonl)
    #[arg(value_name = "CASES.JSONL")]
    cases_path: PathBuf,
    /// Starts every execution at this instant on a virtual clock; the default
    /// is the shipped corpus's own instant (tests/data/corpus-instant.txt)
    #[arg(
        long,
        value_name = "RFC 3339",
        default_value = SHIPPED_CORPUS_INSTANT,
        value_parser = parse_instant
    )]
    now: DateTime<Utc>,
    /// Runs only the case of this exact name (repeatable)
    #[arg(long = "case", value_name = "NAME")]
    only: Vec<String>,
    /// Also writes every case's result to this file as JSON
    #[arg(long = "json", value_name = "REPORT.JSON")]
    json_path: Option<PathBuf>,
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 instant: {e}"))
}

fn main() -> ExitCode {
    // clap prints the usage with any error and exits 2, or prints --help and exits 0.
    let Args {
        cases_path,
        json_path,
        now,
        only,
    } = Args::parse();
    let cases = match load_cases(&cases_path, &only) {
        Ok(cases) => cases,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let tally = run_cases(&runtime, &cases, now);
    let totals = tally.print();
    if let Some(path) = json_path {
        let document = json!({"passed": totals[0], "failed": totals[1], "skipped": totals[2], "cases": tally.report});
        let text = serde_json::to_string_pretty(&document).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    println!(
        "{} passed, {} failed, {} skipped",
        totals[0], totals[1], totals[2]
    );
    ExitCode::SUCCESS
}

/// The cases of the file (one JSON case per line), only those named in
/// `only` when it is not empty; every name in `only` must exist.
fn load_cases(path: &Path, only: &[String]) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut cases = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case = parse_case(line)
            .map_err(|e| format!("{}:{}: malformed case: {e}", path.display(), number + 1))?;
        if only.is_empty() || only.contains(&case.name) {
            cases.push(case);
        }
    }
    if let Some(missing) = only
        .iter()
        .find(|name| !cases.iter().any(|case| &case.name == *name))
    {
        return Err(format!("{}: no case named '{missing}'", path.display()));
    }
    Ok(cases)
}

/// Passed, failed and skipped cases by category, each case's result for
/// the JSON report, and the failure lines.
#[derive(Default)]
struct Tally {
    table: BTreeMap<String, [usize; 3]>,
    report: Vec<Value>,
    failures: Vec<String>,
}

fn run_cases(runtime: &tokio::runtime::Runtime, cases: &[Case], now: DateTime<Utc>) -> Tally {
    let mut tally = Tally::default();
    for case in cases {
        let row = tally.table.entry(case.category.clone()).or_default();
        if case.jsonata {
            row[2] += 1;
            tally.report.push(json!({"name": case.name, "category": case.category, "result": "skipped", "reason": "JSONata"}));
            continue;
        }
        let verdict = runtime.block_on(run_case(case, now));
        if verdict.passed {
            row[0] += 1;
        } else {
            row[1] += 1;
            tally.failures.push(format!(
                "FAIL [{}] {}: {}",
                case.category, case.name, verdict.reason
            ));
        }
        tally.report.push(json!({
            "name": case.name,
            "category": case.category,
            "result": if verdict.passed { "passed" } else { "failed" },
            "reason": verdict.reason,
        }));
    }
    tally
}

impl Tally {
    /// Prints the failures and the table by category; gives the totals.
    fn print(&self) -> [usize; 3] {
        for line in &self.failures {
            println!("{line}");
        }
        println!(
            "{:<24} {:>7} {:>7} {:>8}",
            "category", "passed", "failed", "skipped"
        );
        let mut totals = [0usize; 3];
        for (category, row) in &self.table {
            println!("{category:<24} {:>7} {:>7} {:>8}", row[0], row[1], row[2]);
            for (t, r) in totals.iter_mut().zip(row) {
                *t += r;
            }
        }
        totals
    }
}
