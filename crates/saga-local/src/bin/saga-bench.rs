//! `saga-bench`: one measurement of `cargo xtask bench` (see
//! `saga_local::bench`), printed as one JSON document on stdout. Exits 2
//! when the measurement could not be made.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use saga_local::bench::{cold_start, load, moto_sfn, store};

/// Measures cold starts, moto's interpreter, the local cloud under load or
/// its store.
#[derive(Debug, Parser)]
#[command(name = "saga-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Init (process start to the first Runtime API poll) and first
    /// invocation (that poll answered with an event, to the answer, spans
    /// exported to the stub) of the function binaries in --directory and of
    /// --hello, interleaved
    ColdStart {
        /// The template whose functions' environments the binaries get
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// Where the function binaries are (e.g. target/release)
        #[arg(long)]
        directory: PathBuf,
        /// A hello-world Lambda binary built the same way
        #[arg(long)]
        hello: PathBuf,
        /// Only these function binaries (repeatable; all when absent)
        #[arg(long = "function")]
        functions: Vec<String>,
        /// Runs of each binary
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1000))]
        runs: u64,
    },
    /// Executions per second of moto's Step Functions interpreter
    Moto {
        /// moto's endpoint
        #[arg(long)]
        endpoint: String,
        /// The benchmark definition
        #[arg(long)]
        definition: PathBuf,
        /// Its input
        #[arg(long)]
        input: PathBuf,
        /// Executions to run
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        executions: u64,
        /// Concurrent callers starting them
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
        clients: u64,
    },
    /// Orders per second and POST /orders latency through a running local cloud
    Load {
        /// The running local cloud
        #[arg(long, default_value = "http://127.0.0.1:4000")]
        url: String,
        /// Orders to place
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        orders: u64,
        /// Concurrent clients
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
        clients: u64,
    },
    /// DynamoDB requests per second an endpoint answers (a conditional put,
    /// a consistent get and a conditional update per round)
    Store {
        /// The DynamoDB endpoint (e.g. DynamoDB Local's)
        #[arg(long)]
        endpoint: String,
        /// Concurrent clients
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
        clients: u64,
        /// Seconds counted, after a one-second warm-up
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        /// DynamoDB requests per order on the happy path (README, "Cost per
        /// order": 5 reads and 13 writes)
        #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u32).range(1..=1000))]
        requests_per_order: u32,
    },
}

fn count(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ColdStart {
            template,
            directory,
            hello,
            functions,
            runs,
        } => {
            async {
                let mut subjects = vec![cold_start::Subject {
                    name: "hello-world".to_owned(),
                    path: hello,
                    environment: Default::default(),
                    event: serde_json::json!({}),
                }];
                subjects.extend(cold_start::function_subjects(
                    &template, &directory, &functions,
                )?);
                let figures = cold_start::measure(&subjects, count(runs)).await?;
                Ok(serde_json::to_value(figures)?)
            }
            .await
        }
        Command::Moto {
            endpoint,
            definition,
            input,
            executions,
            clients,
        } => moto_sfn::measure(
            &endpoint,
            &definition,
            &input,
            count(executions),
            count(clients),
        )
        .await
        .and_then(|figure| Ok(serde_json::to_value(figure)?)),
        Command::Load {
            url,
            orders,
            clients,
        } => load::run(&url, count(orders), count(clients))
            .await
            .and_then(|figure| Ok(serde_json::to_value(figure)?)),
        Command::Store {
            endpoint,
            clients,
            seconds,
            requests_per_order,
        } => {
            #[allow(clippy::cast_precision_loss)]
            let seconds = seconds as f64;
            store::measure(&endpoint, count(clients), seconds, requests_per_order)
                .await
                .and_then(|figure| Ok(serde_json::to_value(figure)?))
        }
    };
    match result {
        Ok(figures) => {
            println!("{figures}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("saga-bench: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
