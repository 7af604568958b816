//! The conformance runner over the vendored AWS recordings: the pass count
//! holds its floor, and every execution starts at the corpus's own instant
//! (a parameter), never at the wall clock, so the figure is the same on any
//! day.

use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// The case whose input was computed from the moment the corpus was made:
/// a Wait timestamp just past AWS's longest delay (2^31 - 1 seconds) from
/// that moment.
const BOUNDARY_CASE: &str =
    "base/test_wait.py::TestSfnWait::test_timestamp_too_far_in_future_boundary[24856]";

fn corpus_instant() -> String {
    std::fs::read_to_string(format!("{DATA}/corpus-instant.txt"))
        .expect("corpus-instant.txt beside the corpus")
        .trim()
        .to_owned()
}

/// Runs the runner with `args` after the cases file; returns (exit code,
/// the (passed, failed, skipped) of its summary line, stderr).
fn run(args: &[&str]) -> (Option<i32>, Option<(usize, usize, usize)>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_asl-conformance"))
        .arg(format!("{DATA}/cases.jsonl"))
        .args(args)
        .output()
        .expect("run asl-conformance");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().last().and_then(|last| {
        let numbers: Vec<usize> = last
            .split_whitespace()
            .filter_map(|word| word.trim_end_matches(',').parse().ok())
            .collect();
        match numbers[..] {
            [passed, failed, skipped] => Some((passed, failed, skipped)),
            _ => None,
        }
    });
    (
        output.status.code(),
        summary,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn shifted(days: i64) -> String {
    let instant = chrono::DateTime::parse_from_rfc3339(&corpus_instant()).expect("RFC 3339");
    (instant + chrono::Duration::days(days)).to_rfc3339()
}

#[test]
fn conformance_floor_holds() {
    let floor: usize = std::fs::read_to_string(format!("{DATA}/conformance-floor.txt"))
        .expect("floor file")
        .trim()
        .parse()
        .expect("floor is an integer");
    let (code, summary, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    let (passed, _, _) = summary.expect("a summary line");
    assert!(
        passed >= floor,
        "conformance dropped below the floor {floor}: {passed} passed"
    );
}

#[test]
fn the_boundary_case_passes_at_the_corpus_instant_which_is_the_default() {
    let instant = corpus_instant();
    assert_eq!(
        instant, "2026-11-23T06:52:22Z",
        "the shipped corpus's instant"
    );
    for args in [vec![], vec!["--now", instant.as_str()]] {
        let mut args = args;
        args.extend(["--case", BOUNDARY_CASE]);
        let (code, summary, stderr) = run(&args);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(summary, Some((1, 0, 0)), "args {args:?}");
    }
}

#[test]
fn the_runner_clock_is_the_now_parameter() {
    // Eight days after the corpus was made the timestamp is within AWS's
    // limit, so the execution succeeds where AWS recorded States.Runtime.
    let later = shifted(8);
    let (code, summary, stderr) = run(&["--now", &later, "--case", BOUNDARY_CASE]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(summary, Some((0, 1, 0)));
    // And a day before, it is still too far: the recording holds.
    let earlier = shifted(-1);
    let (_, summary, _) = run(&["--now", &earlier, "--case", BOUNDARY_CASE]);
    assert_eq!(summary, Some((1, 0, 0)));
}

#[test]
fn bad_arguments_are_refused_with_exit_2() {
    for args in [
        vec!["--now", "yesterday"],
        vec!["--now"],
        vec!["--case", "no/such::case"],
        vec!["--frobnicate"],
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, Some(2), "args {args:?}");
        assert!(!stderr.is_empty(), "args {args:?} explain themselves");
    }
}

#[test]
fn help_names_every_option_and_exits_0() {
    let output = Command::new(env!("CARGO_BIN_EXE_asl-conformance"))
        .arg("--help")
        .output()
        .expect("run asl-conformance --help");
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "<CASES.JSONL>",
        "--now",
        "--case",
        "--json",
        "corpus-instant.txt",
    ] {
        assert!(help.contains(option), "{option} in:\n{help}");
    }
}

#[test]
fn the_last_now_wins_and_the_json_report_lists_the_cases_run() {
    let report = std::env::temp_dir().join(format!(
        "asl-conformance-report-{}.json",
        std::process::id()
    ));
    let report_arg = report.to_str().expect("a UTF-8 temporary path");
    let instant = corpus_instant();
    let later = shifted(8);
    let args = [
        "--now",
        later.as_str(),
        "--now",
        instant.as_str(),
        "--case",
        BOUNDARY_CASE,
        "--json",
        report_arg,
    ];
    let (code, summary, stderr) = run(&args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(summary, Some((1, 0, 0)), "the corpus instant came last");
    let text = std::fs::read_to_string(&report).expect("the report was written");
    std::fs::remove_file(&report).expect("remove the report");
    let document: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(document["passed"], 1);
    assert_eq!(document["cases"][0]["name"], BOUNDARY_CASE);
    assert_eq!(document["cases"][0]["result"], "passed");
}
