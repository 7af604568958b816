//! `cargo xtask test`: runs the selected tiers with their emulators and
//! prints a summary.
//!
//! Emulators start lazily, the first time a tier needs one, and stay up for
//! the later tiers of the same run; all of them stop before the summary is
//! printed, and on any error or interrupt (see `process_group`). Every tier
//! runs even when an earlier one failed, so one run reports everything; the
//! exit code is non-zero when any tier failed.

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::browser;
use crate::emulators::{self, Emulator, RunningEmulator};
use crate::iac;
use crate::install;
use crate::libtest::TestCounts;
use crate::process_group::{self, GroupChild};
use crate::tiers::{self, Check, Tier, TierRun, Tool};

/// The options of `cargo xtask test`.
#[derive(Debug, Default, PartialEq, Eq, clap::Args)]
pub struct TestOptions {
    /// Run only this tier (repeatable); default: every tier, in order.
    #[arg(long = "tier", value_name = "NAME")]
    pub tiers: Vec<String>,
    /// Let the IaC tier run `sam build` as well.
    #[arg(long)]
    pub sam_build: bool,
}

/// The AWS SDK settings for every tier that talks to an emulator: a fixed
/// region, dummy static credentials and no instance-metadata lookups, so no
/// test can reach a real AWS account.
const EMULATOR_AWS_ENVIRONMENT: &[(&str, &str)] = &[
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// Variables that would otherwise leak a developer's real AWS identity in.
const REMOVED_AWS_VARIABLES: &[&str] = &["AWS_SESSION_TOKEN", "AWS_PROFILE"];

/// What a tier counted: tests for test tiers, commands for check tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Tests,
    Checks,
    /// Recorded conformance cases: known failures allowed, held to a floor.
    Cases,
}

/// How one tier went.
#[derive(Debug)]
struct TierOutcome {
    unit: Unit,
    passed: u64,
    failed: u64,
    /// Why the tier failed beyond its failed count, if it did.
    problem: Option<String>,
}

impl TierOutcome {
    fn passed(&self) -> bool {
        // Conformance cases have known failures; only their floor counts.
        self.problem.is_none() && (self.failed == 0 || self.unit == Unit::Cases)
    }

    fn broken(unit: Unit, error: &anyhow::Error) -> Self {
        Self {
            unit,
            passed: 0,
            failed: 0,
            problem: Some(format!("{error:#}")),
        }
    }
}

struct TierReport {
    name: &'static str,
    outcome: TierOutcome,
    duration: Duration,
}

pub fn run(root: &Path, options: &TestOptions) -> Result<ExitCode> {
    let selected = tiers::select(&options.tiers)?;
    process_group::stop_all_on_interrupt()?;
    let local = root.join(".local");
    let mut running: Vec<RunningEmulator> = Vec::new();
    let mut reports = Vec::new();
    for tier in selected {
        eprintln!("\nxtask: ===== tier `{}` =====", tier.name);
        let started = Instant::now();
        let outcome = start_missing_emulators(&local, tier.emulators, &mut running)
            .and_then(|()| install_tools(root, &local, tier.tools))
            .and_then(|tools| run_tier(root, tier, &running, &tools, options))
            .unwrap_or_else(|error| TierOutcome::broken(unit_of(tier), &error));
        if let Some(problem) = &outcome.problem {
            eprintln!("xtask: tier `{}` failed: {problem}", tier.name);
        }
        reports.push(TierReport {
            name: tier.name,
            outcome,
            duration: started.elapsed(),
        });
    }
    // Stop the emulators before the summary, so it is the last thing printed.
    drop(running);
    print_summary(&reports);
    Ok(if reports.iter().all(|report| report.outcome.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn unit_of(tier: &Tier) -> Unit {
    match tier.run {
        TierRun::CargoTests(_) => Unit::Tests,
        TierRun::Conformance { .. } => Unit::Cases,
        TierRun::CargoChecks(_) | TierRun::Iac => Unit::Checks,
    }
}

fn start_missing_emulators(
    local: &Path,
    needed: &[Emulator],
    running: &mut Vec<RunningEmulator>,
) -> Result<()> {
    for emulator in needed {
        if !running.iter().any(|up| up.emulator == *emulator) {
            running.push(emulators::start(local, *emulator)?);
        }
    }
    Ok(())
}

/// Installs what the tier's tests drive; returns the variables that tell
/// the tests where each tool is.
fn install_tools(root: &Path, local: &Path, tools: &[Tool]) -> Result<Vec<(String, String)>> {
    let mut environment = Vec::new();
    for tool in tools {
        match tool {
            Tool::Browser => browser::ensure(root)?,
            Tool::Schemathesis => {
                let st = install::schemathesis(local)?;
                environment.push(("SCHEMATHESIS".to_owned(), st.display().to_string()));
            }
            Tool::Boto3 => {
                let python = install::boto3_python(local)?;
                environment.push(("BOTO3_PYTHON".to_owned(), python.display().to_string()));
            }
        }
    }
    Ok(environment)
}

fn run_tier(
    root: &Path,
    tier: &Tier,
    running: &[RunningEmulator],
    tools: &[(String, String)],
    options: &TestOptions,
) -> Result<TierOutcome> {
    let mut environment: Vec<(String, String)> = tools.to_vec();
    if !tier.emulators.is_empty() {
        environment.extend(
            EMULATOR_AWS_ENVIRONMENT
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        for up in running
            .iter()
            .filter(|up| tier.emulators.contains(&up.emulator))
        {
            environment.push((
                up.emulator.endpoint_variable().to_owned(),
                up.endpoint.clone(),
            ));
        }
    }
    match tier.run {
        TierRun::CargoTests(args) => run_cargo_tests(root, args, &environment),
        TierRun::CargoChecks(checks) => run_cargo_checks(root, checks),
        TierRun::Iac => run_iac_checks(root, options.sam_build),
        TierRun::Conformance { cases, floor_file } => run_conformance(root, cases, floor_file),
    }
}

/// Runs the interpreter's conformance runner in release mode (as its README
/// states the figure) and holds its pass count to the recorded floor.
fn run_conformance(root: &Path, cases: &str, floor_file: &str) -> Result<TierOutcome> {
    let floor_path = root.join(floor_file);
    let floor: u64 = std::fs::read_to_string(&floor_path)
        .with_context(|| format!("cannot read {}", floor_path.display()))?
        .trim()
        .parse()
        .with_context(|| format!("{} must hold one integer", floor_path.display()))?;
    let args = [
        "run",
        "--release",
        "--package",
        "asl",
        "--bin",
        "asl-conformance",
        "--",
        cases,
    ];
    eprintln!("xtask: running cargo {}", args.join(" "));
    let output = cargo(root, &args, &[])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run the conformance runner")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let totals = stdout.lines().rev().find_map(conformance_totals);
    Ok(match totals {
        None => TierOutcome {
            unit: Unit::Cases,
            passed: 0,
            failed: 0,
            problem: Some(format!(
                "no `N passed, M failed, K skipped` line (runner exited with {})",
                output.status
            )),
        },
        Some((passed, failed)) => TierOutcome {
            unit: Unit::Cases,
            passed,
            failed,
            problem: conformance_problem(output.status.success(), passed, floor),
        },
    })
}

/// Reads `N passed, M failed, K skipped` into (passed, failed).
fn conformance_totals(line: &str) -> Option<(u64, u64)> {
    let mut numbers = line.split(", ").map(|part| part.split_once(' '));
    let (passed, "passed") = numbers.next()?? else {
        return None;
    };
    let (failed, "failed") = numbers.next()?? else {
        return None;
    };
    let (_, "skipped") = numbers.next()?? else {
        return None;
    };
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

/// Known failures are listed in the crate's README; only a drop below the
/// floor (a regression) fails the tier.
fn conformance_problem(exited_ok: bool, passed: u64, floor: u64) -> Option<String> {
    if !exited_ok {
        Some("the conformance runner failed".to_owned())
    } else if passed < floor {
        Some(format!("{passed} cases passed, below the floor of {floor}"))
    } else {
        None
    }
}

fn cargo(root: &Path, args: &[&str], environment: &[(String, String)]) -> Command {
    let mut command = crate::cargo_command();
    command.args(args).current_dir(root).stdin(Stdio::null());
    if !environment.is_empty() {
        REMOVED_AWS_VARIABLES.iter().for_each(|name| {
            command.env_remove(name);
        });
        command.envs(environment.iter().map(|(name, value)| (name, value)));
    }
    command
}

/// Runs one cargo test command, streaming its output and counting its tests.
fn run_cargo_tests(
    root: &Path,
    args: &[&str],
    environment: &[(String, String)],
) -> Result<TierOutcome> {
    let args = no_fail_fast(args);
    let mut command = cargo(root, &args, environment);
    eprintln!("xtask: running cargo {}", args.join(" "));
    command.stdout(Stdio::piped());
    let mut child = GroupChild::spawn(&mut command)?;
    let stdout = child
        .take_stdout()
        .context("cargo's stdout was not piped")?;
    let mut counts = TestCounts::default();
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let mut terminal = io::stdout();
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .context("cannot read cargo's output")?
            == 0
        {
            break;
        }
        terminal
            .write_all(&line)
            .context("cannot write to stdout")?;
        terminal.flush().context("cannot write to stdout")?;
        counts.record_line(&String::from_utf8_lossy(&line));
    }
    let status = child.wait()?;
    Ok(TierOutcome {
        unit: Unit::Tests,
        passed: counts.passed,
        failed: counts.failed,
        problem: test_run_problem(status, counts),
    })
}

/// `cargo test ARGS` as `cargo test --no-fail-fast ARGS`: every test binary
/// runs even after one fails, so the tier's count is the whole count.
fn no_fail_fast<'a>(args: &[&'a str]) -> Vec<&'a str> {
    match args.split_first() {
        Some((&"test", rest)) => [&["test", "--no-fail-fast"], rest].concat(),
        _ => args.to_vec(),
    }
}

fn test_run_problem(status: ExitStatus, counts: TestCounts) -> Option<String> {
    if !status.success() {
        Some(format!("cargo exited with {status}"))
    } else if counts.failed > 0 {
        Some(format!("{} tests failed", counts.failed))
    } else if counts.passed == 0 {
        Some("ran no test".to_owned())
    } else {
        None
    }
}

/// Runs every check, also after one failed, and counts them.
fn run_cargo_checks(root: &Path, checks: &[Check]) -> Result<TierOutcome> {
    let mut failed_checks = Vec::new();
    for check in checks {
        eprintln!(
            "xtask: {}: cargo {}",
            check.name,
            check.cargo_args.join(" ")
        );
        let mut child = GroupChild::spawn(&mut cargo(root, check.cargo_args, &[]))?;
        if !child.wait()?.success() {
            failed_checks.push(check.name);
        }
    }
    let failed = failed_checks.len() as u64;
    Ok(TierOutcome {
        unit: Unit::Checks,
        passed: checks.len() as u64 - failed,
        failed,
        problem: (!failed_checks.is_empty())
            .then(|| format!("failed: {}", failed_checks.join(", "))),
    })
}

/// Runs the infrastructure checks; a check with findings fails the tier.
fn run_iac_checks(root: &Path, sam_build: bool) -> Result<TierOutcome> {
    let report = iac::run(root, sam_build)?;
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|check| !check.passed)
        .map(|check| format!("{} ({} findings)", check.name, check.findings))
        .collect();
    Ok(TierOutcome {
        unit: Unit::Checks,
        passed: (report.checks.len() - failed.len()) as u64,
        failed: failed.len() as u64,
        problem: (!report.passed()).then(|| format!("failed: {}", failed.join(", "))),
    })
}

fn print_summary(reports: &[TierReport]) {
    println!("\nxtask: summary");
    println!(
        "{:<10} {:<7} {:>7} {:>7} {:<7} {:>9}",
        "tier", "result", "passed", "failed", "counted", "duration"
    );
    for report in reports {
        let outcome = &report.outcome;
        println!(
            "{:<10} {:<7} {:>7} {:>7} {:<7} {:>8.1}s{}",
            report.name,
            if outcome.passed() { "ok" } else { "FAILED" },
            outcome.passed,
            outcome.failed,
            match outcome.unit {
                Unit::Tests => "tests",
                Unit::Checks => "checks",
                Unit::Cases => "cases",
            },
            report.duration.as_secs_f64(),
            outcome
                .problem
                .as_ref()
                .map(|problem| format!("  ({})", first_line(problem)))
                .unwrap_or_default(),
        );
    }
    let failed_tiers: Vec<&str> = reports
        .iter()
        .filter(|report| !report.outcome.passed())
        .map(|report| report.name)
        .collect();
    if !failed_tiers.is_empty() {
        println!("xtask: failed tiers: {}", failed_tiers.join(", "));
    }
    // The closing line counts tests only; checks are in the table above.
    let tests = reports
        .iter()
        .filter(|report| report.outcome.unit == Unit::Tests);
    let (passed, failed) = tests.fold((0, 0), |(passed, failed), report| {
        (
            passed + report.outcome.passed,
            failed + report.outcome.failed,
        )
    });
    println!("tests: {passed} passed, {failed} failed");
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn every_test_tier_runs_every_test_binary_even_after_a_failure() {
        // Without --no-fail-fast cargo stops at the first failing binary and
        // the summary undercounts: the tier's count must be the whole count.
        for tier in crate::tiers::TIERS {
            if let TierRun::CargoTests(args) = tier.run {
                let args = no_fail_fast(args);
                assert_eq!(args[..2], ["test", "--no-fail-fast"], "{}", tier.name);
            }
        }
        assert_eq!(no_fail_fast(&["fmt"]), ["fmt"]);
    }

    #[test]
    fn conformance_totals_come_from_the_runner_summary_line() {
        let cases = [
            ("549 passed, 11 failed, 125 skipped", Some((549, 11))),
            ("0 passed, 0 failed, 0 skipped", Some((0, 0))),
            ("549 passed, 11 failed", None),
            ("choice  320  0  0", None),
            ("x passed, 1 failed, 0 skipped", None),
        ];
        for (line, expected) in cases {
            assert_eq!(conformance_totals(line), expected, "{line}");
        }
    }

    #[test]
    fn known_conformance_failures_pass_but_failed_tests_do_not() {
        let outcome = |unit, failed| TierOutcome {
            unit,
            passed: 549,
            failed,
            problem: None,
        };
        assert!(outcome(Unit::Cases, 11).passed());
        assert!(!outcome(Unit::Tests, 11).passed());
        assert!(!outcome(Unit::Checks, 1).passed());
        assert!(outcome(Unit::Tests, 0).passed());
    }

    #[test]
    fn conformance_fails_below_the_floor_only() {
        assert_eq!(conformance_problem(true, 549, 549), None);
        assert_eq!(conformance_problem(true, 560, 549), None);
        assert!(conformance_problem(true, 548, 549).is_some());
        assert!(conformance_problem(false, 560, 549).is_some());
    }

    #[test]
    fn a_test_run_fails_on_exit_status_failures_or_no_tests() {
        let success = ExitStatus::from_raw(0);
        let failure = ExitStatus::from_raw(101 << 8);
        let counts = |passed, failed| TestCounts { passed, failed };
        let cases = [
            (success, counts(3, 0), None),
            (success, counts(0, 0), Some("ran no test")),
            (success, counts(3, 1), Some("1 tests failed")),
            (
                failure,
                counts(3, 1),
                Some("cargo exited with exit status: 101"),
            ),
            (
                failure,
                counts(0, 0),
                Some("cargo exited with exit status: 101"),
            ),
        ];
        for (status, counts, expected) in cases {
            assert_eq!(
                test_run_problem(status, counts).as_deref(),
                expected,
                "{status:?} {counts:?}"
            );
        }
    }
}
