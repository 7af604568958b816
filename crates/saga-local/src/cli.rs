//! The `saga-local` command line: options in, the local cloud running until
//! Ctrl-C or SIGTERM. The first line on stdout is
//! `saga-local: ready on http://127.0.0.1:<port>` once `/health` answers 200,
//! which is what `cargo xtask up` and the end-to-end tests wait for.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cloud::Options;

/// The usage text.
pub const USAGE: &str = "\
usage: saga-local [options]

Runs the order saga of template.yaml on 127.0.0.1: Step Functions API,
Lambda dispatch, SQS poller, schedules, HTTP API (JWT), console.
Needs DynamoDB Local and moto running (cargo xtask up starts everything).

options:
  --template PATH              template.yaml (default: ./template.yaml)
  --port N                     port on 127.0.0.1 (default 0: a free one)
  --dynamodb-endpoint URL      DynamoDB Local (default: $AWS_ENDPOINT_URL_DYNAMODB)
  --sqs-endpoint URL           moto (default: $AWS_ENDPOINT_URL_SQS)
  --stack-name NAME            prefix of every local name (default: saga-local)
  --parameter NAME=VALUE       override a template parameter (repeatable)
  --reservation-ttl-seconds N  same as --parameter ReservationTtlSeconds=N
  --reaper-every-seconds N     run every schedule every N seconds
  --time-scale X               run state machine waits, retries, heartbeats,
                               timeouts and queue visibility X times faster
  --seed-demo                  write the demo catalog into the Inventory table
  --help                       print this message

Dev tokens (LOCAL ONLY, signed by a key generated at start-up):
  curl -s -X POST http://127.0.0.1:<port>/local/token -d '{\"sub\":\"user-1\"}'";

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    /// Run with these options.
    Run(Box<Options>),
    /// Print the usage.
    Help,
}

fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command> {
    let mut template = PathBuf::from("template.yaml");
    let mut port = 0_u16;
    let mut dynamodb = environment("AWS_ENDPOINT_URL_DYNAMODB");
    let mut sqs = environment("AWS_ENDPOINT_URL_SQS");
    let mut stack_name = "saga-local".to_owned();
    let mut parameters = BTreeMap::new();
    let mut seed_demo = false;
    let mut schedule_every = None;
    let mut time_scale = 1.0;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--template" => template = PathBuf::from(value(arg)?),
            "--port" => port = value(arg)?.parse().context("--port takes a port number")?,
            "--dynamodb-endpoint" => dynamodb = Some(value(arg)?),
            "--sqs-endpoint" => sqs = Some(value(arg)?),
            "--stack-name" => stack_name = value(arg)?,
            "--parameter" => {
                let pair = value(arg)?;
                let Some((name, text)) = pair.split_once('=') else {
                    bail!("--parameter takes NAME=VALUE, got {pair:?}");
                };
                parameters.insert(name.to_owned(), Value::String(text.to_owned()));
            }
            "--reservation-ttl-seconds" => {
                let seconds: u64 = value(arg)?
                    .parse()
                    .context("--reservation-ttl-seconds takes whole seconds")?;
                parameters.insert("ReservationTtlSeconds".to_owned(), Value::from(seconds));
            }
            "--reaper-every-seconds" => {
                let seconds: f64 = value(arg)?
                    .parse()
                    .context("--reaper-every-seconds takes seconds")?;
                if !(seconds > 0.0 && seconds.is_finite()) {
                    bail!("--reaper-every-seconds must be positive");
                }
                schedule_every = Some(Duration::from_secs_f64(seconds));
            }
            "--time-scale" => {
                time_scale = value(arg)?
                    .parse()
                    .context("--time-scale takes a number >= 1")?
            }
            "--seed-demo" => seed_demo = true,
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let is_valid_name = !stack_name.is_empty()
        && stack_name.len() <= 40
        && stack_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !is_valid_name {
        bail!("--stack-name must be 1 to 40 characters of A-Z a-z 0-9 -");
    }
    let dynamodb_endpoint = dynamodb.context(
        "no DynamoDB endpoint: pass --dynamodb-endpoint or set AWS_ENDPOINT_URL_DYNAMODB (cargo xtask up starts DynamoDB Local)",
    )?;
    let sqs_endpoint =
        sqs.context("no SQS endpoint: pass --sqs-endpoint or set AWS_ENDPOINT_URL_SQS (cargo xtask up starts moto)")?;
    Ok(Command::Run(Box::new(Options {
        template,
        port,
        dynamodb_endpoint,
        sqs_endpoint,
        stack_name,
        parameters,
        seed_demo,
        schedule_every,
        time_scale,
    })))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Runs the command line until Ctrl-C or SIGTERM.
pub async fn run(args: &[String]) -> Result<()> {
    let options = match parse(args)? {
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Command::Run(options) => options,
    };
    init_logging();
    let running = crate::cloud::start(*options).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "saga-local: ready on http://{}", running.address)
        .context("cannot write to stdout")?;
    stdout.flush().context("cannot write to stdout")?;
    wait_for_stop_signal().await?;
    tracing::info!("stopping");
    running.stop().await;
    Ok(())
}

async fn wait_for_stop_signal() -> Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command> {
        let mut all = vec![
            "--dynamodb-endpoint",
            "http://d",
            "--sqs-endpoint",
            "http://s",
        ];
        all.extend_from_slice(args);
        parse(&all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn options_parse() {
        let Command::Run(options) = parse_args(&[
            "--port",
            "4000",
            "--reservation-ttl-seconds",
            "2",
            "--reaper-every-seconds",
            "0.5",
            "--time-scale",
            "60",
            "--parameter",
            "JwtIssuer=x",
            "--seed-demo",
        ])
        .unwrap() else {
            panic!("expected Run");
        };
        assert_eq!(options.port, 4000);
        assert_eq!(options.parameters["ReservationTtlSeconds"], Value::from(2));
        assert_eq!(options.parameters["JwtIssuer"], "x");
        assert_eq!(options.schedule_every, Some(Duration::from_millis(500)));
        assert!(options.seed_demo && (options.time_scale - 60.0).abs() < f64::EPSILON);
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let cases: &[(&[&str], &str)] = &[
            (&["--port"], "--port needs a value"),
            (&["--port", "x"], "port number"),
            (&["--parameter", "novalue"], "NAME=VALUE"),
            (&["--reaper-every-seconds", "0"], "positive"),
            (&["--stack-name", "a b"], "--stack-name"),
            (&["--what"], "unknown argument"),
        ];
        for (args, message) in cases {
            let error = format!("{:#}", parse_args(args).unwrap_err());
            assert!(error.contains(message), "{args:?}: {error}");
        }
    }
}
