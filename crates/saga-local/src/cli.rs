//! The `saga-local` command line: options in, the local cloud running until
//! Ctrl-C or SIGTERM. The first line on stdout is
//! `saga-local: ready on http://127.0.0.1:<port>` once `/health` answers 200,
//! which is what `cargo xtask up` and the end-to-end tests wait for.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use clap::error::ErrorKind;
use serde_json::Value;

use crate::cloud::Options;

/// The command line, as `--help` prints it.
#[derive(Debug, Parser)]
#[command(
    name = "saga-local",
    about = "Runs the order saga of template.yaml on 127.0.0.1: Step Functions API, \
             Lambda dispatch, SQS poller, schedules, HTTP API (JWT), console. Needs \
             DynamoDB Local and moto running (cargo xtask up starts everything).",
    after_help = "Dev tokens (LOCAL ONLY, signed by a key generated at start-up):\n  \
                  curl -s -X POST http://127.0.0.1:<port>/local/token \\\n    \
                  -H 'Content-Type: application/json' -d '{\"sub\":\"user-1\"}'"
)]
struct Cli {
    /// template.yaml
    #[arg(long, value_name = "PATH", default_value = "template.yaml")]
    template: PathBuf,
    /// Port on 127.0.0.1 (0: a free one)
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// DynamoDB Local
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL_DYNAMODB")]
    dynamodb_endpoint: Option<String>,
    /// moto (SQS)
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL_SQS")]
    sqs_endpoint: Option<String>,
    /// Prefix of every local name: 1 to 40 characters of A-Z a-z 0-9 -
    #[arg(long, value_name = "NAME", default_value = "saga-local", value_parser = stack_name)]
    stack_name: String,
    /// Overrides a template parameter (repeatable)
    #[arg(long = "parameter", value_name = "NAME=VALUE", value_parser = parameter)]
    parameters: Vec<(String, String)>,
    /// Sets NAME=VALUE in every function's environment, over what the
    /// template gives it (repeatable; e.g. a local payment provider's URL)
    #[arg(long = "function-env", value_name = "NAME=VALUE", value_parser = parameter)]
    function_env: Vec<(String, String)>,
    /// Same as --parameter ReservationTtlSeconds=N
    #[arg(long, value_name = "N")]
    reservation_ttl_seconds: Option<u64>,
    /// Runs every schedule every N seconds
    #[arg(long, value_name = "N", value_parser = positive_seconds)]
    reaper_every_seconds: Option<Duration>,
    /// Runs state machine waits, retries, heartbeats, timeouts and queue
    /// visibility X times faster
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    time_scale: f64,
    /// Writes the demo catalog into the Inventory table
    #[arg(long)]
    seed_demo: bool,
}

fn stack_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 40
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err("must be 1 to 40 characters of A-Z a-z 0-9 -".to_owned())
    }
}

fn parameter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("takes NAME=VALUE, got {text:?}")),
    }
}

fn positive_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds.is_finite() => Ok(Duration::from_secs_f64(seconds)),
        _ => Err("must be a positive number of seconds".to_owned()),
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    /// Run with these options.
    Run(Box<Options>),
    /// Print this text (`--help`).
    Help(String),
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command> {
    let argv = std::iter::once("saga-local".to_owned()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) if error.kind() == ErrorKind::DisplayHelp => {
            return Ok(Command::Help(error.render().to_string()));
        }
        Err(error) => {
            // main prefixes "saga-local: error:"; clap's own prefix would repeat it.
            let text = error.render().to_string();
            bail!("{}", text.trim_start_matches("error: ").trim_end());
        }
    };
    let mut parameters: BTreeMap<String, Value> = cli
        .parameters
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    if let Some(seconds) = cli.reservation_ttl_seconds {
        parameters.insert("ReservationTtlSeconds".to_owned(), Value::from(seconds));
    }
    // An endpoint variable set to nothing counts as unset.
    let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let dynamodb_endpoint = present(cli.dynamodb_endpoint).context(
        "no DynamoDB endpoint: pass --dynamodb-endpoint or set AWS_ENDPOINT_URL_DYNAMODB (cargo xtask up starts DynamoDB Local)",
    )?;
    let sqs_endpoint = present(cli.sqs_endpoint).context(
        "no SQS endpoint: pass --sqs-endpoint or set AWS_ENDPOINT_URL_SQS (cargo xtask up starts moto)",
    )?;
    Ok(Command::Run(Box::new(Options {
        template: cli.template,
        port: cli.port,
        dynamodb_endpoint,
        sqs_endpoint,
        stack_name: cli.stack_name,
        parameters,
        function_environment: cli.function_env.into_iter().collect(),
        seed_demo: cli.seed_demo,
        schedule_every: cli.reaper_every_seconds,
        time_scale: cli.time_scale,
    })))
}

fn init_logging() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn",
        )
    });
    // Every line goes to stderr as RUST_LOG says; a function's lines also go
    // to the log tail of the Invoke API call that ran it, whatever RUST_LOG
    // says (a filter per layer, so RUST_LOG=warn cannot empty the tail).
    let tail = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("aws_config", tracing::Level::WARN)
        .with_target("aws_smithy_runtime", tracing::Level::WARN)
        .with_target("hyper", tracing::Level::WARN);
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(crate::log_format::LocalFormat)
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .with(crate::invocation_logs::CaptureLayer.with_filter(tail))
        // Every span of the in-process functions, and the Lambda service's
        // spans, go to the trace store.
        .with(
            saga_telemetry::SpanLayer::new(std::sync::Arc::new(crate::traces::StoreSink))
                .with_filter(saga_telemetry::span_filter()),
        )
        // The functions' EMF lines, for the console's metrics page.
        .with(
            crate::metrics_store::MetricsLayer.with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target(crate::metrics_store::EMF_TARGET, tracing::Level::INFO),
            ),
        )
        .try_init();
}

/// Runs the command line until Ctrl-C or SIGTERM.
pub async fn run(args: &[String]) -> Result<()> {
    let options = match parse(args)? {
        Command::Help(text) => {
            println!("{text}");
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
    fn help_lists_every_option() {
        let Command::Help(text) = parse_args(&["--help"]).unwrap() else {
            panic!("expected Help");
        };
        for option in [
            "--template",
            "--port",
            "--dynamodb-endpoint",
            "--parameter",
            "--function-env",
            "--seed-demo",
        ] {
            assert!(text.contains(option), "{option} in:\n{text}");
        }
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
            "--function-env",
            "STRIPE_API_BASE=http://127.0.0.1:9",
            "--function-env",
            "STRIPE_SECRET_KEY=sk_test_local",
            "--function-env",
            "STRIPE_API_BASE=http://127.0.0.1:8",
            "--seed-demo",
        ])
        .unwrap() else {
            panic!("expected Run");
        };
        assert_eq!(options.port, 4000);
        assert_eq!(options.parameters["ReservationTtlSeconds"], Value::from(2));
        assert_eq!(options.parameters["JwtIssuer"], "x");
        // The last value of a variable wins, as for --parameter.
        assert_eq!(
            options.function_environment,
            BTreeMap::from([
                (
                    "STRIPE_API_BASE".to_owned(),
                    "http://127.0.0.1:8".to_owned()
                ),
                ("STRIPE_SECRET_KEY".to_owned(), "sk_test_local".to_owned()),
            ])
        );
        assert_eq!(options.schedule_every, Some(Duration::from_millis(500)));
        assert!(options.seed_demo && (options.time_scale - 60.0).abs() < f64::EPSILON);
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let cases: &[(&[&str], &str)] = &[
            (&["--port"], "--port"),
            (&["--port", "x"], "--port"),
            (&["--parameter", "novalue"], "NAME=VALUE"),
            (&["--function-env", "=x"], "NAME=VALUE"),
            (&["--reaper-every-seconds", "0"], "positive"),
            (&["--stack-name", "a b"], "--stack-name"),
            (&["--what"], "--what"),
        ];
        for (args, message) in cases {
            let error = format!("{:#}", parse_args(args).unwrap_err());
            assert!(error.contains(message), "{args:?}: {error}");
        }
    }
}
