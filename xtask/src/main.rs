//! `cargo xtask`: the project's automation, in Rust instead of shell scripts.
//!
//! - `cargo xtask test` installs the emulators into `.local/` when missing,
//!   starts the ones the selected tiers need on free 127.0.0.1 ports, runs every
//!   test tier of [`tiers::TIERS`], stops the emulators (also on failure and on
//!   Ctrl-C) and prints a summary. It exits non-zero when any tier failed.
//! - `cargo xtask up` installs and starts the emulators, runs the local cloud
//!   (`saga-local`) from `template.yaml` with a demo catalog, prints how to
//!   place an order, and stops everything on Ctrl-C.
//!
//! `main` only parses the command line and reports errors; each command lives in
//! its own module.

mod browser;
mod emulators;
mod iac;
mod install;
mod libtest;
mod process_group;
mod test_command;
mod tiers;
mod up;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test [--tier <name>]... [--sam-build]
        install the emulators into .local/ if missing, start the ones the
        selected tiers need, run the tiers and print a summary.
        --tier <name>  run only this tier (repeatable); default: all tiers
        --sam-build    let the IaC tier run `sam build` as well
  up [--port <P>]
        install and start the emulators, run the local cloud (the saga, its
        tables, queues, HTTP API and console on 127.0.0.1), seed a demo
        catalog and print how to place an order; Ctrl-C stops everything
  help  print this message";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Test(test_command::TestOptions),
    Up(up::UpOptions),
    Help,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = parse_command(&args).and_then(|command| run(command, &repo_root()?));
    match outcome {
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
        Command::Help => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_command(args: &[String]) -> Result<Command> {
    let Some((name, rest)) = args.split_first() else {
        bail!("no command given\n\n{USAGE}");
    };
    match name.as_str() {
        "test" => Ok(Command::Test(parse_test_options(rest)?)),
        "up" => Ok(Command::Up(up::parse_options(rest)?)),
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn parse_test_options(args: &[String]) -> Result<test_command::TestOptions> {
    let mut options = test_command::TestOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tier" => {
                let name = args.next().context("`--tier` needs a tier name")?;
                options.tiers.push(name.clone());
            }
            "--sam-build" => options.sam_build = true,
            other => bail!("unknown argument `{other}` for `cargo xtask test`\n\n{USAGE}"),
        }
    }
    Ok(options)
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
    use super::*;

    fn parse(args: &[&str]) -> Result<Command> {
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        parse_command(&args)
    }

    fn test_options(tiers: &[&str], sam_build: bool) -> Command {
        Command::Test(test_command::TestOptions {
            tiers: tiers.iter().map(|tier| (*tier).to_owned()).collect(),
            sam_build,
        })
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
            (&["help"], Command::Help),
        ];
        for (args, expected) in cases {
            assert_eq!(&parse(args).unwrap(), expected, "args: {args:?}");
        }
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "no command given"),
            (&["deploy"], "unknown command `deploy`"),
            (&["test", "--tier"], "`--tier` needs a tier name"),
            (&["test", "--fast"], "unknown argument `--fast`"),
            (&["up", "--now"], "unknown argument"),
        ];
        for (args, message) in cases {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains(message), "args {args:?} gave: {error}");
        }
    }
}
