//! Every file in `events/` through the local cloud's Lambda Invoke API,
//! driven by boto3 (an SDK other than the project's), one test per function.
//!
//! Each test starts its own `saga-local` process (its own stack, so its own
//! tables) against DynamoDB Local and moto, which must already run, and runs
//! `sample_events.py` (beside this file) for one directory of `events/`: the
//! script builds the world each file assumes, invokes it with
//! `LogType="Tail"` and checks that it gives what its name promises. The
//! test checks that the script passed every file there is. `cargo xtask test
//! --tier invoke` starts the emulators and sets `BOTO3_PYTHON` to a Python
//! with the pinned boto3.

#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

use std::path::Path;

use support::LocalCloud;

fn required(variable: &str) -> String {
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{variable} is not set: run `cargo xtask test --tier invoke`, which starts \
             DynamoDB Local and moto and installs boto3"
        ),
    }
}

fn event_count(function: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(function);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
}

/// Runs the script for `events/<function>/` against a fresh local cloud.
async fn sample_events(function: &str, also_xtask_invoke: bool) {
    let python = required("BOTO3_PYTHON");
    let dynamodb = required("AWS_ENDPOINT_URL_DYNAMODB");
    // The reaper runs only when a file invokes it: on its schedule it could
    // expire the lapsed reservation the confirm files expect to find.
    let cloud = LocalCloud::start(&["--reaper-every-seconds", "86400"]).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invoke/sample_events.py");
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(&script)
        .args(["--endpoint", &cloud.url, "--dynamodb", &dynamodb])
        .args(["--function", function]);
    if also_xtask_invoke {
        command.arg("--xtask-invoke");
    }
    let output = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    // With the xtask run come two more checks: the API's own answers, and
    // `cargo xtask invoke`.
    let expected = event_count(function) + 2 * usize::from(also_xtask_invoke);
    assert!(expected > 0, "events/{function}/ has no event");
    let summary = format!("sample events of {function}: {expected} passed; 0 failed");
    assert!(
        output.status.success() && stdout.contains(&summary),
        "expected `{summary}` (exit {:?}); the cloud's log: {}",
        output.status.code(),
        cloud.log.display()
    );
}

#[tokio::test]
async fn api_events() {
    sample_events("api", false).await;
}

#[tokio::test]
async fn reserve_events_and_cargo_xtask_invoke() {
    sample_events("reserve", true).await;
}

#[tokio::test]
async fn charge_events() {
    sample_events("charge", false).await;
}

#[tokio::test]
async fn confirm_events() {
    sample_events("confirm", false).await;
}

#[tokio::test]
async fn release_events() {
    sample_events("release", false).await;
}

#[tokio::test]
async fn refund_events() {
    sample_events("refund", false).await;
}

#[tokio::test]
async fn ship_events() {
    sample_events("ship", false).await;
}

#[tokio::test]
async fn reaper_events() {
    sample_events("reaper", false).await;
}

#[tokio::test]
async fn sweeper_events() {
    sample_events("sweeper", false).await;
}

#[tokio::test]
async fn watcher_events() {
    sample_events("watcher", false).await;
}

#[test]
fn every_directory_of_events_has_a_test_here() {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut directories: Vec<String> = std::fs::read_dir(&events)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    directories.sort();
    assert_eq!(
        directories,
        [
            "api", "charge", "confirm", "reaper", "refund", "release", "reserve", "ship",
            "sweeper", "watcher"
        ],
        "a new directory of events/ needs its test in this file"
    );
}
