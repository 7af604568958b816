//! `saga-chaos`: the fault campaign against a running local cloud (see
//! `saga_local::chaos`). `cargo xtask chaos` starts one and runs this.
//! Exits 1 when any invariant is broken, 2 when the campaign could not run.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;

use saga_local::chaos::{self, Options};

/// Places orders under a seeded schedule of faults, redrives until nothing
/// changes, then checks DESIGN.md's invariants from every service's records.
#[derive(Debug, Parser)]
#[command(name = "saga-chaos", version)]
struct Cli {
    /// The running local cloud
    #[arg(long, default_value = "http://127.0.0.1:4000")]
    url: String,
    /// How many orders to place
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    orders: u64,
    /// The seed of the plan (stock, orders, fault schedule); repeatable, one campaign each
    #[arg(long = "seed", default_values_t = [1_u64])]
    seeds: Vec<u64>,
    /// Concurrent clients
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
    clients: u64,
    /// Orders placed per second at most (0: as fast as the clients go)
    #[arg(long, default_value_t = 8.0)]
    rate: f64,
    /// Seconds the saga may take to settle, and the operator to finish
    #[arg(long, default_value_t = 900)]
    settle_seconds: u64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut broken = false;
    for seed in &cli.seeds {
        let run_tag = format!(
            "{seed}-{:x}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis())
        );
        let options = Options {
            url: cli.url.clone(),
            orders: usize::try_from(cli.orders).unwrap_or(usize::MAX),
            seed: *seed,
            clients: usize::try_from(cli.clients).unwrap_or(16),
            rate: cli.rate,
            run_tag,
            settle: Duration::from_secs(cli.settle_seconds),
        };
        match chaos::run(&options).await {
            Ok(report) => {
                println!("{report}");
                broken |= !report.violations.is_empty();
            }
            Err(e) => {
                eprintln!("saga-chaos: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    if broken {
        println!("saga-chaos: invariants broken");
        ExitCode::FAILURE
    } else {
        println!("saga-chaos: every invariant held");
        ExitCode::SUCCESS
    }
}
