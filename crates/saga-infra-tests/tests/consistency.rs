//! Consistency between the pieces of the project that name each other by
//! string, so a rename in one place fails here instead of in AWS:
//!
//! - the state machine definition (`infra/order-saga.asl.json`) and the step
//!   error contract (`saga_domain::STEP_ERROR_NAMES`);
//! - the definition's `${...}` placeholders and the template's
//!   `DefinitionSubstitutions`, and what those point at;
//! - the functions the template builds, the folders under `functions/`, and
//!   the environment each gets per `ARCHITECTURE.md`;
//! - the sample events under `events/`;
//! - the saga's paths through the definition: which states each scenario
//!   enters (the billed state transitions), which order statuses it writes,
//!   and where an exhausted retry leaves the execution for a redrive.
//!
//! Everything is read from the files as committed; nothing is generated.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use saga_domain::{ErrorKind, STEP_ERROR_NAMES};
use saga_template::Template;
use serde_json::Value as Json;

const DEFINITION: &str = "infra/order-saga.asl.json";
const TEMPLATE: &str = "template.yaml";
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// Lambda's own transient errors, retried on every Lambda step:
/// `Lambda.Unknown` is how Step Functions reports a function timeout, crash
/// or out-of-memory kill, and `Lambda.ClientExecutionTimeoutException` an
/// Invoke call that timed out; the others are Lambda service errors.
const LAMBDA_TRANSIENT_ERRORS: [&str; 6] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Lambda.ClientExecutionTimeoutException",
];
/// Error names raised by AWS itself rather than by the step functions
/// (`DynamoDB.` from the direct Orders writes).
const AWS_ERROR_PREFIXES: [&str; 3] = ["States.", "Lambda.", "DynamoDB."];

// ------------------------------------------------------------------ loading

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn definition_text() -> String {
    read(DEFINITION)
}

fn definition() -> Json {
    serde_json::from_str(&definition_text()).expect("the definition is JSON")
}

/// The template as `saga-template` reads it (the local cloud's reading):
/// resources by logical id, intrinsic short forms (`!Ref X`) in their long
/// forms (`{"Ref": "X"}`), unresolved.
fn template() -> Template {
    Template::load(&repo_root().join(TEMPLATE)).unwrap_or_else(|error| panic!("{error}"))
}

/// Every state of the definition, including those inside Parallel branches
/// and Map processors, by name.
fn all_states(definition: &Json) -> Vec<(String, Json)> {
    let mut found = Vec::new();
    let mut machines = vec![definition.clone()];
    while let Some(machine) = machines.pop() {
        let states = machine["States"].as_object().expect("States is an object");
        for (name, state) in states {
            found.push((name.clone(), state.clone()));
            machines.extend(state["Branches"].as_array().into_iter().flatten().cloned());
            for processor in ["ItemProcessor", "Iterator"] {
                if state[processor].is_object() {
                    machines.push(state[processor].clone());
                }
            }
        }
    }
    found
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// `(state, "Retry" or "Catch", error name)` for every `ErrorEquals` entry.
fn error_matchers(definition: &Json) -> Vec<(String, &'static str, String)> {
    let mut found = Vec::new();
    for (name, state) in all_states(definition) {
        for field in ["Retry", "Catch"] {
            for matcher in state[field].as_array().into_iter().flatten() {
                for error in strings(&matcher["ErrorEquals"]) {
                    found.push((name.clone(), field, error));
                }
            }
        }
    }
    found
}

/// Every distinct `${Name}` placeholder in `text`.
fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// `(logical id, Properties, Metadata)` of every resource of `kind`.
fn resources_of_type<'t>(template: &'t Template, kind: &str) -> Vec<(String, &'t Json, &'t Json)> {
    template
        .resources_of(kind)
        .map(|(id, resource)| (id.to_owned(), &resource.properties, &resource.metadata))
        .collect()
}

/// The logical id an intrinsic points at: `!Ref X`, `!GetAtt X.Attr`, and
/// their long forms.
fn intrinsic_target(value: &Json) -> Option<String> {
    let object = value.as_object().filter(|object| object.len() == 1)?;
    let (function, argument) = object.iter().next()?;
    match (function.as_str(), argument) {
        ("Ref", Json::String(target)) => Some(target.clone()),
        ("Fn::GetAtt", Json::String(dotted)) => dotted.split('.').next().map(str::to_owned),
        ("Fn::GetAtt", Json::Array(parts)) => parts.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The state machine resource and its `DefinitionSubstitutions`.
fn substitutions(template: &Template) -> BTreeMap<String, Json> {
    let machines = resources_of_type(template, "AWS::Serverless::StateMachine");
    assert_eq!(machines.len(), 1, "one state machine in the template");
    let (_, properties, _) = &machines[0];
    assert_eq!(
        properties["DefinitionUri"].as_str(),
        Some(DEFINITION),
        "the state machine deploys {DEFINITION}"
    );
    properties["DefinitionSubstitutions"]
        .as_object()
        .expect("the state machine has DefinitionSubstitutions")
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The cargo binary each template function builds, by logical id.
fn template_binaries(template: &Template) -> BTreeMap<String, String> {
    resources_of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, _, metadata)| {
            let binary = metadata["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} has no Metadata.BuildProperties.Binary"));
            assert_eq!(
                metadata["BuildMethod"].as_str(),
                Some("rust-cargolambda"),
                "{id} builds with cargo-lambda"
            );
            (id, binary.to_owned())
        })
        .collect()
}

/// The folders under `functions/` that hold a crate.
fn function_folders() -> BTreeSet<String> {
    let dir = repo_root().join("functions");
    fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .map(|path| {
            path.file_name()
                .expect("a folder name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// `ReserveFunctionArn` -> `reserve`: the function a substitution names.
fn function_of_substitution(name: &str) -> Option<String> {
    name.strip_suffix("FunctionArn").map(str::to_lowercase)
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ------------------------------------------------------------------ errors

#[test]
fn every_error_name_in_the_definition_is_a_step_error_or_an_aws_error() {
    let known: BTreeSet<&str> = STEP_ERROR_NAMES.iter().map(|(name, _)| *name).collect();
    let problems: Vec<String> = error_matchers(&definition())
        .into_iter()
        .filter(|(_, _, error)| {
            !AWS_ERROR_PREFIXES
                .iter()
                .any(|prefix| error.starts_with(prefix))
                && !known.contains(error.as_str())
        })
        .map(|(state, field, error)| {
            format!(
                "{state}.{field} matches `{error}`, which is not in saga_domain::STEP_ERROR_NAMES"
            )
        })
        .collect();
    assert_no_problems("unknown error names in the definition", &problems);
}

#[test]
fn every_business_error_is_caught_and_every_transient_error_is_retried() {
    let matchers = error_matchers(&definition());
    let handled = |field: &str, error: &str| {
        matchers
            .iter()
            .any(|(_, used_in, name)| *used_in == field && name == error)
    };
    let problems: Vec<String> = STEP_ERROR_NAMES
        .iter()
        .filter_map(|(error, kind)| {
            let field = match kind {
                ErrorKind::Business => "Catch",
                ErrorKind::Transient => "Retry",
            };
            (!handled(field, error))
                .then(|| format!("{error} ({kind:?}) appears in no {field} of the definition"))
        })
        .collect();
    assert_no_problems("step errors the definition does not handle", &problems);
}

#[test]
fn every_retry_uses_full_jitter_a_delay_cap_and_documents_its_bound() {
    let mut problems = Vec::new();
    for (name, state) in all_states(&definition()) {
        let retriers = state["Retry"].as_array().cloned().unwrap_or_default();
        if state["Resource"] == LAMBDA_INVOKE {
            let retried: BTreeSet<String> = retriers
                .iter()
                .flat_map(|r| strings(&r["ErrorEquals"]))
                .collect();
            for error in LAMBDA_TRANSIENT_ERRORS.iter().chain(&["TransientError"]) {
                if !retried.contains(*error) {
                    problems.push(format!("Lambda step {name} does not retry {error}"));
                }
            }
        }
        for retrier in &retriers {
            if retrier["JitterStrategy"] != "FULL" {
                problems.push(format!("{name}: a retrier without JitterStrategy FULL"));
            }
            if !retrier["MaxDelaySeconds"].is_u64() {
                problems.push(format!("{name}: a retrier without MaxDelaySeconds"));
            }
            if !retrier["Comment"]
                .as_str()
                .is_some_and(|c| c.contains(" s"))
            {
                problems.push(format!(
                    "{name}: a retrier whose Comment does not state its bounded time"
                ));
            }
        }
    }
    assert_no_problems("retry policy", &problems);
}

// ------------------------------------------------------------ substitutions

#[test]
fn exactly_the_final_status_writes_clear_the_stall() {
    // The watcher's stall (saga_aws::CLEAR_STALL) must leave the order when,
    // and only when, the state machine writes COMPLETED or REJECTED, or the
    // order would stay in the Stalled index (and the alarm up) for good.
    let definition = definition();
    let finals: Vec<&str> = saga_domain::ports::OrderStatus::FINAL
        .iter()
        .map(|status| status.as_str())
        .collect();
    let mut problems = Vec::new();
    let mut final_writes = 0;
    for (name, state) in all_states(&definition) {
        let parameters = &state["Parameters"];
        let Some(expression) = parameters["UpdateExpression"].as_str() else {
            continue;
        };
        let status = parameters["ExpressionAttributeValues"][":status"]["S"]
            .as_str()
            .unwrap_or_default();
        let clears = expression.ends_with(&format!(" {}", saga_aws::CLEAR_STALL));
        let is_final = finals.contains(&status);
        final_writes += usize::from(is_final);
        if is_final != clears {
            problems.push(format!(
                "{name} writes {status:?} and {} the stall: {expression}",
                if clears { "clears" } else { "does not clear" }
            ));
        }
    }
    assert_eq!(
        final_writes, 2,
        "MarkCompleted and RejectOrder write the final statuses"
    );
    assert_no_problems("stall clearing", &problems);
}

#[test]
fn placeholders_in_the_definition_are_exactly_the_template_substitutions() {
    let used = placeholders(&definition_text());
    let defined: BTreeSet<String> = substitutions(&template()).into_keys().collect();
    let mut problems: Vec<String> = used
        .difference(&defined)
        .map(|name| format!("${{{name}}} is used in {DEFINITION} but not defined in {TEMPLATE}"))
        .collect();
    problems.extend(
        defined
            .difference(&used)
            .map(|name| format!("{name} is defined in {TEMPLATE} but unused in {DEFINITION}")),
    );
    assert_no_problems("DefinitionSubstitutions out of step", &problems);
}

#[test]
fn every_substitution_points_at_a_template_resource_of_the_right_kind() {
    let template = template();
    let binaries = template_binaries(&template);
    let mut problems = Vec::new();
    for (name, value) in substitutions(&template) {
        let Some(target) = intrinsic_target(&value) else {
            problems.push(format!("{name} is not a !Ref or !GetAtt: {value:?}"));
            continue;
        };
        let kind = template
            .resources
            .get(target.as_str())
            .map_or("<missing>", |resource| resource.kind.as_str());
        let expected_kind = if name.ends_with("FunctionArn") {
            "AWS::Serverless::Function"
        } else if name.ends_with("TableName") {
            "AWS::DynamoDB::Table"
        } else if name.ends_with("QueueUrl") {
            "AWS::SQS::Queue"
        } else {
            problems.push(format!(
                "{name}: no rule for what this substitution should name"
            ));
            continue;
        };
        if kind != expected_kind {
            problems.push(format!(
                "{name} -> {target} is a {kind}, expected {expected_kind}"
            ));
        }
        if let Some(function) = function_of_substitution(&name) {
            if binaries.get(&target) != Some(&function) {
                problems.push(format!(
                    "{name} -> {target}, which builds {:?}, not `{function}`",
                    binaries.get(&target)
                ));
            }
        }
    }
    assert_no_problems("substitution targets", &problems);
}

// ------------------------------------------------------------------ functions

#[test]
fn the_template_builds_exactly_the_function_folders_and_the_definition_calls_only_those() {
    let folders = function_folders();
    let built: BTreeSet<String> = template_binaries(&template()).into_values().collect();
    let called: BTreeSet<String> = placeholders(&definition_text())
        .iter()
        .filter_map(|name| function_of_substitution(name))
        .collect();
    let mut problems = Vec::new();
    for missing in built.difference(&folders) {
        problems.push(format!(
            "{TEMPLATE} builds `{missing}` but functions/{missing} does not exist"
        ));
    }
    for unbuilt in folders.difference(&built) {
        problems.push(format!(
            "functions/{unbuilt} is not built by any function in {TEMPLATE}"
        ));
    }
    for missing in called.difference(&folders) {
        problems.push(format!(
            "{DEFINITION} calls `{missing}` but functions/{missing} does not exist"
        ));
    }
    let wired: BTreeSet<String> = saga_wiring::BINARIES
        .iter()
        .map(|b| (*b).to_owned())
        .collect();
    for unwired in built.difference(&wired) {
        problems.push(format!(
            "{TEMPLATE} builds `{unwired}` but saga_wiring::build has no arm for it (crates/saga-wiring/src/functions.rs): the local cloud could not run it"
        ));
    }
    for extra in wired.difference(&built) {
        problems.push(format!(
            "saga_wiring::BINARIES lists `{extra}`, which no function in {TEMPLATE} builds"
        ));
    }
    for folder in &folders {
        let manifest = read(&format!("functions/{folder}/Cargo.toml"));
        if !manifest.contains("saga-wiring.workspace = true") {
            problems.push(format!(
                "functions/{folder}/Cargo.toml does not depend on saga-wiring: its main must be `saga_wiring::run(<Builder>::build)`"
            ));
        }
        let package_name = manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("name = "))
            .map(|name| name.trim_matches('"'));
        if package_name != Some(folder.as_str()) {
            problems.push(format!(
                "functions/{folder}/Cargo.toml names the package {package_name:?}; the template's Binary expects `{folder}`"
            ));
        }
    }
    assert_no_problems("functions out of step", &problems);
}

/// `function -> variables` from ARCHITECTURE.md's "Function configuration" table.
fn contract_environment() -> BTreeMap<String, BTreeSet<String>> {
    let architecture = read("ARCHITECTURE.md");
    let mut rows = architecture
        .lines()
        .skip_while(|line| !line.starts_with("| variable | used by |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .peekable();
    assert!(
        rows.peek().is_some(),
        "ARCHITECTURE.md has no `| variable | used by | default |` table"
    );
    let mut environment: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let variable = cells[1].trim_matches('`');
        for function in cells[2].split(',').map(str::trim) {
            environment
                .entry(function.to_owned())
                .or_default()
                .insert(variable.to_owned());
        }
    }
    environment
}

#[test]
fn function_environments_match_the_architecture_contract() {
    let template = template();
    let global: BTreeSet<String> = variable_names(&template.function_globals);
    let contract = contract_environment();
    let mut problems = Vec::new();
    for (id, properties, metadata) in resources_of_type(&template, "AWS::Serverless::Function") {
        let binary = metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        let mut actual = variable_names(properties);
        actual.extend(global.iter().cloned());
        let expected = contract.get(binary).cloned().unwrap_or_default();
        if actual != expected {
            problems.push(format!(
                "{id} ({binary}) gets {actual:?}, ARCHITECTURE.md says {expected:?}"
            ));
        }
    }
    assert_no_problems("function environments", &problems);
}

fn variable_names(properties: &Json) -> BTreeSet<String> {
    properties["Environment"]["Variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, _)| key.clone())
        .collect()
}

// ------------------------------------------------------------------ events

#[test]
fn every_event_file_parses_and_names_a_function_folder() {
    let folders = function_folders();
    let events = repo_root().join("events");
    let mut problems = Vec::new();
    let mut files = 0;
    let mut pending = vec![events.clone()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        {
            let path = entry.expect("a readable entry").path();
            let relative = path
                .strip_prefix(&events)
                .expect("under events/")
                .to_path_buf();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.file_name().is_some_and(|name| name == "README.md") {
                continue;
            }
            files += 1;
            let function = relative
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            if relative.components().count() < 2 || !folders.contains(&function) {
                problems.push(format!(
                    "events/{} is not under events/<function>/ for an existing functions/<function>",
                    relative.display()
                ));
            }
            if path.extension().is_none_or(|extension| extension != "json") {
                problems.push(format!("events/{} is not a .json file", relative.display()));
                continue;
            }
            let text = fs::read_to_string(&path).expect("a readable event file");
            if let Err(error) = serde_json::from_str::<Json>(&text) {
                problems.push(format!(
                    "events/{} is not JSON: {error}",
                    relative.display()
                ));
            }
        }
    }
    assert!(files > 0, "events/ holds no event files");
    assert_no_problems("event files", &problems);
}

// ------------------------------------------------------------------ saga paths

/// How a walk through the definition ends.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Succeeded,
    /// The execution fails at this state; a redrive restarts it there.
    FailedAt(String),
}

/// What one scenario does: the states it enters (retries included, as AWS
/// bills them) and the order statuses written on the way.
#[derive(Debug, PartialEq, Eq)]
struct Walk {
    entered: Vec<String>,
    statuses: Vec<String>,
    ending: Ending,
}

fn matches_error(error_equals: &Json, error: &str) -> bool {
    strings(error_equals).iter().any(|name| {
        name == error
            || name == "States.ALL"
            || (name == "States.TaskFailed" && error != "States.Timeout")
    })
}

/// Runs the definition's control flow with every task succeeding except the
/// `(state, error)` pairs of `failures`, which fail every attempt: the
/// matching retrier is spent, then the Catch is taken or the execution fails
/// there.
fn walk(definition: &Json, failures: &[(&str, &str)]) -> Walk {
    let states = definition["States"].as_object().expect("States");
    let mut current = definition["StartAt"].as_str().expect("StartAt").to_owned();
    let mut walk = Walk {
        entered: Vec::new(),
        statuses: Vec::new(),
        ending: Ending::Succeeded,
    };
    for _ in 0..100 {
        let state = &states[&current];
        walk.entered.push(current.clone());
        match state["Type"].as_str() {
            Some("Task") => {}
            Some("Pass") => {
                current = state["Next"].as_str().expect("Pass.Next").to_owned();
                continue;
            }
            Some("Succeed") => return walk,
            Some("Fail") => {
                walk.ending = Ending::FailedAt(current);
                return walk;
            }
            other => panic!("the walker does not model {other:?} states ({current})"),
        }
        if let Some(&(failing, error)) = failures.iter().find(|(failing, _)| *failing == current) {
            let retrier = state["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|retrier| matches_error(&retrier["ErrorEquals"], error));
            let retries = retrier.map_or(0, |r| r["MaxAttempts"].as_u64().unwrap_or(3));
            for _ in 0..retries {
                walk.entered.push(current.clone());
            }
            let catcher = state["Catch"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|catcher| matches_error(&catcher["ErrorEquals"], error));
            match catcher {
                Some(catcher) => {
                    current = catcher["Next"].as_str().expect("Catch.Next").to_owned();
                    continue;
                }
                None => {
                    walk.ending = Ending::FailedAt(failing.to_owned());
                    return walk;
                }
            }
        }
        if let Some(status) =
            state["Parameters"]["ExpressionAttributeValues"][":status"]["S"].as_str()
        {
            walk.statuses.push(status.to_owned());
        }
        if state["End"] == true {
            return walk;
        }
        current = state["Next"].as_str().expect("Next or End").to_owned();
    }
    panic!("no end after 100 states: a loop in the definition?");
}

/// One row of ARCHITECTURE.md's "Saga paths" table.
#[derive(Debug)]
struct Scenario {
    name: String,
    failures: Vec<(String, String)>,
    expected: Walk,
}

/// The scenarios of ARCHITECTURE.md's "Saga paths" table, whose columns are
/// `| scenario | failing | states entered | statuses written | ends |`:
/// `failing` is `State: Error` pairs separated by `;` (or `-`), states and
/// statuses are comma-separated (`State ×N` is N entries in a row), and
/// `ends` is `succeeded` or `FAILED at State`.
fn documented_scenarios() -> Vec<Scenario> {
    let architecture = read("ARCHITECTURE.md");
    let rows: Vec<&str> = architecture
        .lines()
        .skip_while(|line| !line.starts_with("| scenario | failing |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .collect();
    assert!(
        !rows.is_empty(),
        "ARCHITECTURE.md has no `| scenario | failing | ...` table under \"Saga paths\""
    );
    rows.into_iter().map(parse_scenario).collect()
}

fn parse_scenario(row: &str) -> Scenario {
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells.len(), 7, "a saga path row has 5 cells: {row}");
    let list = |cell: &str| -> Vec<String> {
        cell.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty() && *item != "-")
            .flat_map(|item| match item.split_once(" ×") {
                Some((state, count)) => {
                    let count: usize = count
                        .parse()
                        .unwrap_or_else(|_| panic!("`{item}` in: {row}"));
                    vec![state.to_owned(); count]
                }
                None => vec![item.to_owned()],
            })
            .collect()
    };
    let failures = cells[2]
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && *pair != "-")
        .map(|pair| {
            let (state, error) = pair
                .split_once(':')
                .unwrap_or_else(|| panic!("`{pair}` is not `State: Error` in: {row}"));
            (state.trim().to_owned(), error.trim().to_owned())
        })
        .collect();
    let ending = match cells[5].strip_prefix("FAILED at ") {
        Some(state) => Ending::FailedAt(state.to_owned()),
        None if cells[5] == "succeeded" => Ending::Succeeded,
        None => panic!("`ends` is `succeeded` or `FAILED at <State>` in: {row}"),
    };
    Scenario {
        name: cells[1].to_owned(),
        failures,
        expected: Walk {
            entered: list(cells[3]),
            statuses: list(cells[4]),
            ending,
        },
    }
}

/// The paths ARCHITECTURE.md documents are the definition's paths: walking
/// each scenario's failures through the definition enters exactly the states
/// listed (the billed transitions), writes the listed statuses and ends as
/// documented. A state added on a path is one edit of that table.
#[test]
fn saga_paths_documented_in_architecture_md_are_the_definitions_paths() {
    let definition = definition();
    let scenarios = documented_scenarios();
    assert!(
        scenarios.iter().any(|s| s.failures.is_empty()),
        "the saga paths include the happy path"
    );
    let mut problems = Vec::new();
    for scenario in scenarios {
        let failures: Vec<(&str, &str)> = scenario
            .failures
            .iter()
            .map(|(state, error)| (state.as_str(), error.as_str()))
            .collect();
        let walked = walk(&definition, &failures);
        if walked != scenario.expected {
            problems.push(format!(
                "{}: documented {:?}, the definition walks {:?}",
                scenario.name, scenario.expected, walked
            ));
        }
    }
    assert_no_problems("ARCHITECTURE.md saga paths", &problems);
}

/// The order's statuses in the order the saga writes them; REJECTED ends
/// any of the first three.
const STATUS_ORDER: [&str; 6] = [
    "PENDING",
    "RESERVED",
    "PAID",
    "CONFIRMED",
    "SHIPPING",
    "COMPLETED",
];
const TERMINAL: [&str; 2] = ["COMPLETED", "REJECTED"];

/// Every Orders status write is conditional (`#status IN (...)`): it follows
/// only earlier, non-terminal statuses or repeats itself, so a late or
/// repeated write never moves an order backwards or out of COMPLETED or
/// REJECTED; and a failed condition is never retried.
#[test]
fn status_writes_only_move_forward_and_terminal_statuses_are_final() {
    let rank = |status: &str| STATUS_ORDER.iter().position(|s| *s == status);
    let mut problems = Vec::new();
    let mut writes = 0;
    for (name, state) in all_states(&definition()) {
        let parameters = &state["Parameters"];
        let Some(status) = parameters["ExpressionAttributeValues"][":status"]["S"].as_str() else {
            continue;
        };
        writes += 1;
        let condition = parameters["ConditionExpression"]
            .as_str()
            .unwrap_or_default();
        let Some(list) = condition
            .strip_prefix("#status IN (")
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            problems.push(format!(
                "{name} writes {status} without `#status IN (...)`: {condition:?}"
            ));
            continue;
        };
        for placeholder in list.split(',').map(str::trim) {
            let Some(from) = parameters["ExpressionAttributeValues"][placeholder]["S"].as_str()
            else {
                problems.push(format!("{name}: {placeholder} is not a string value"));
                continue;
            };
            let forward = match (rank(from), rank(status)) {
                _ if from == status => true,
                (Some(from), Some(to)) => from < to,
                (Some(_), None) => status == "REJECTED",
                (None, _) => false,
            };
            if !forward || (from != status && TERMINAL.contains(&from)) {
                problems.push(format!("{name} may write {status} over {from}"));
            }
        }
        let first_matching = state["Retry"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|retrier| {
                matches_error(
                    &retrier["ErrorEquals"],
                    "DynamoDB.ConditionalCheckFailedException",
                )
            });
        if first_matching.is_some_and(|retrier| retrier["MaxAttempts"] != 0) {
            problems.push(format!("{name} retries a failed status condition"));
        }
    }
    assert!(
        writes >= 5,
        "the definition writes the order status in at least 5 states"
    );
    assert_no_problems("order status writes", &problems);
}

#[test]
fn compensations_and_shipping_never_catch_so_a_failure_stops_for_redrive() {
    let definition = definition();
    for state in ["ReleaseInventory", "RefundPayment", "ShipOrder"] {
        assert!(
            definition["States"][state]["Catch"].is_null(),
            "{state} must not catch: when its retries are spent the execution fails there, \
             a paid order is never refunded for a shipping failure, and a redrive re-runs it"
        );
    }
    let ship = &definition["States"]["ShipOrder"];
    assert!(
        ship["HeartbeatSeconds"].as_u64() < ship["TimeoutSeconds"].as_u64(),
        "ShipOrder has a heartbeat shorter than its timeout"
    );
}

// ------------------------------------------------------------------ docs

/// ARCHITECTURE.md's code map names every crate under `crates/`, and every
/// `crates/<name>/` it names exists.
#[test]
fn the_code_map_matches_the_crates() {
    let architecture = read("ARCHITECTURE.md");
    let map: String = architecture
        .lines()
        .skip_while(|line| !line.starts_with("## Code map"))
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !map.is_empty(),
        "ARCHITECTURE.md has no `## Code map` section"
    );
    let dir = repo_root().join("crates");
    let crates: BTreeSet<String> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("listing {}: {error}", dir.display()))
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .map(|path| {
            path.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let named: BTreeSet<String> = map
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("crates/"))
        .filter_map(|rest| rest.split('/').next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    let mut problems: Vec<String> = crates
        .difference(&named)
        .map(|name| format!("crates/{name}/ is missing from the code map"))
        .collect();
    problems.extend(
        named
            .difference(&crates)
            .map(|name| format!("the code map names crates/{name}/, which does not exist")),
    );
    assert!(
        map.contains("functions/<name>/"),
        "the code map describes functions/<name>/"
    );
    assert_no_problems("ARCHITECTURE.md code map", &problems);
}

/// The payment alarms watch the metric names the charge function emits, in
/// the namespace it is given.
#[test]
fn the_payment_alarms_watch_the_metrics_the_charge_function_emits() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let watched = |metric: &str| {
        alarms
            .iter()
            .find(|(_, properties, _)| properties["MetricName"] == metric)
            .map(|(id, properties, _)| (id.clone(), properties["Namespace"].clone()))
    };
    // Its own variable, or the one every function gets from the Globals.
    let charge_namespace = template
        .resources_of("AWS::Serverless::Function")
        .find(|(_, function)| function.metadata["BuildProperties"]["Binary"] == "charge")
        .map(|(_, function)| {
            let own = &function.properties["Environment"]["Variables"]["METRICS_NAMESPACE"];
            let global =
                &template.function_globals["Environment"]["Variables"]["METRICS_NAMESPACE"];
            if own.is_null() {
                global.clone()
            } else {
                own.clone()
            }
        })
        .expect("the charge function");
    for metric in [
        saga_wiring::payments::BREAKER_OPENED_METRIC,
        saga_wiring::payments::PROVIDER_ERRORS_METRIC,
    ] {
        let (alarm, namespace) =
            watched(metric).unwrap_or_else(|| panic!("no alarm watches {metric}"));
        assert_eq!(
            namespace, charge_namespace,
            "{alarm}: the charge function's namespace"
        );
    }
}
