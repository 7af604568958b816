//! `cargo xtask`: the project's automation, in Rust instead of shell scripts.
//!
//! - `cargo xtask test` installs the emulators into `.local/` when missing,
//!   starts the ones the selected tiers need on free 127.0.0.1 ports, runs every
//!   test tier of [`tiers::TIERS`], stops the emulators (also on failure and on
//!   Ctrl-C) and prints a summary. It exits non-zero when any tier failed.
//! - `cargo xtask up` installs and starts the emulators, runs the local cloud
//!   (`saga-local`) from `template.yaml` with a demo catalog, prints how to
//!   place an order, and stops everything on Ctrl-C; `--payments stripe`
//!   adds localstripe and points the payment functions at it.
//! - `cargo xtask invoke <function> <event-file>` runs one function on one
//!   event through the local cloud's Lambda Invoke API (`sam local invoke`
//!   without a container runtime).
//! - `cargo xtask chaos [--orders N] [--seed S]...` runs the fault campaign
//!   (`saga-chaos`) on a local cloud of its own, or on `--url`.
//! - `cargo xtask bench [--only PART]...` measures cold starts and sizes,
//!   the interpreter next to moto's and the local cloud under load, prints
//!   a table and writes the results under `target/bench/`.
//!
//! `main` only parses the command line (clap) and reports errors; each
//! command lives in its own module.

mod bench;
mod browser;
mod chaos;
mod emulators;
mod iac;
mod install;
mod invoke;
mod libtest;
mod process_group;
mod test_command;
mod tiers;
mod up;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// The project's automation: tests, the local cloud, one-off invocations.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq, Subcommand)]
enum Command {
    /// Install the emulators into .local/ if missing, start the ones the
    /// selected tiers need, run the tiers and print a summary.
    Test(test_command::TestOptions),
    /// Install and start the emulators, run the local cloud (the saga, its
    /// tables, queues, HTTP API, Lambda Invoke API and console on 127.0.0.1),
    /// seed a demo catalog and print how to place an order; Ctrl-C stops
    /// everything.
    Up(up::UpOptions),
    /// Invoke one function of template.yaml with one event file through the
    /// local cloud's Lambda Invoke API; print the response, the function
    /// error if any, and the log tail.
    Invoke(invoke::InvokeOptions),
    /// Run the fault campaign: place orders while every function fails in
    /// every way the local cloud can, redrive until nothing changes, then
    /// check the saga's five invariants; non-zero exit on any violation.
    Chaos(chaos::ChaosOptions),
    /// Measure what users feel: cold start and size of every function next
    /// to a hello-world, the interpreter next to moto's, orders per second
    /// and POST /orders latency through the local cloud; print a table and
    /// write the results under target/bench/.
    Bench(bench::BenchOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match repo_root().and_then(|root| run(cli.command, &root)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, root: &Path) -> Result<ExitCode> {
    match command {
        Command::Test(options) => test_command::run(root, &options),
        Command::Up(options) => up::run(root, &options),
        Command::Invoke(options) => invoke::run(root, &options),
        Command::Chaos(options) => chaos::run(root, &options),
        Command::Bench(options) => bench::run(root, &options),
    }
}

/// A command running the cargo that started xtask (`cargo run` sets
/// `CARGO`), else the `cargo` on PATH.
pub(crate) fn cargo_command() -> std::process::Command {
    std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `command` with its output on the terminal; an error when it cannot
/// start or does not succeed.
pub(crate) fn run_to_success(command: &mut std::process::Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        anyhow::bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// The workspace root: xtask's manifest lives in `<root>/xtask`.
fn repo_root() -> Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .with_context(|| format!("{} has no parent directory", manifest_dir.display()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn test_options(tiers: &[&str], sam_build: bool) -> Command {
        Command::Test(test_command::TestOptions {
            tiers: tiers.iter().map(|tier| (*tier).to_owned()).collect(),
            sam_build,
        })
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_commands_it_knows() {
        let cases: &[(&[&str], Command)] = &[
            (&["test"], test_options(&[], false)),
            (&["test", "--sam-build"], test_options(&[], true)),
            (
                &["test", "--tier", "unit", "--tier", "sqs"],
                test_options(&["unit", "sqs"], false),
            ),
            (&["up"], Command::Up(up::UpOptions::default())),
            (
                &["up", "--port", "8081"],
                Command::Up(up::UpOptions {
                    port: 8081,
                    payments: up::Payments::Simulated,
                }),
            ),
            (
                &["up", "--payments", "stripe"],
                Command::Up(up::UpOptions {
                    port: 4000,
                    payments: up::Payments::Stripe,
                }),
            ),
            (
                &["up", "--payments", "simulated"],
                Command::Up(up::UpOptions {
                    port: 4000,
                    payments: up::Payments::Simulated,
                }),
            ),
            (
                &["invoke", "ReserveFunction", "events/reserve/success.json"],
                Command::Invoke(invoke::InvokeOptions {
                    function: "ReserveFunction".to_owned(),
                    event: "events/reserve/success.json".into(),
                    endpoint: None,
                }),
            ),
            (
                &[
                    "invoke",
                    "reserve",
                    "e.json",
                    "--endpoint",
                    "http://127.0.0.1:9",
                ],
                Command::Invoke(invoke::InvokeOptions {
                    function: "reserve".to_owned(),
                    event: "e.json".into(),
                    endpoint: Some("http://127.0.0.1:9".to_owned()),
                }),
            ),
            (
                &["chaos", "--orders", "2000", "--seed", "4", "--seed", "5"],
                Command::Chaos(chaos::ChaosOptions {
                    orders: 2000,
                    seeds: vec![4, 5],
                    clients: 16,
                    rate: 8,
                    url: None,
                    time_scale: 20,
                    reservation_ttl_seconds: 10,
                }),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(&parse(args).unwrap(), expected, "args: {args:?}");
        }
    }

    #[test]
    fn rejects_what_it_does_not_know_and_says_why() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "Usage"),
            (&["deploy"], "unrecognized subcommand 'deploy'"),
            (
                &["test", "--tier"],
                "a value is required for '--tier <NAME>'",
            ),
            (&["test", "--fast"], "unexpected argument '--fast'"),
            (
                &["up", "--port", "http"],
                "invalid value 'http' for '--port <PORT>'",
            ),
            (
                &["up", "--payments", "paypal"],
                "invalid value 'paypal' for '--payments <PROVIDER>'",
            ),
            (&["invoke", "ReserveFunction"], "<EVENT>"),
            (
                &["chaos", "--time-scale", "0"],
                "invalid value '0' for '--time-scale <TIME_SCALE>'",
            ),
        ];
        for (args, message) in cases {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains(message), "args {args:?} gave: {error}");
        }
    }
}
