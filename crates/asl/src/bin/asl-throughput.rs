//! Throughput benchmark: executions per second of one definition on one
//! thread, for `cargo xtask bench`.
//!
//! Usage: `asl-throughput --definition PATH --input PATH [--seconds F]
//! [--warmup-seconds F]`. Runs executions one after another the way the
//! criterion bench (`benches/executions.rs`) does: a current-thread tokio
//! runtime with paused time, a [`VirtualClock`], Tasks answered by the
//! [`EchoHandler`]. After the warm-up it counts executions for `--seconds`
//! of wall-clock time and prints one JSON line on stdout:
//!
//! `{"executions":N,"seconds":S,"executions_per_second":R,"states_per_execution":K}`
//!
//! where `K` is the number of states entered per execution, read from the
//! history. A bad file, an invalid definition or an execution that does not
//! succeed is reported on stderr with exit code 1 (2 for bad arguments).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::{
    Clock, Definition, EchoHandler, EventType, ExecutionInfo, ExecutionStatus, TaskHandler,
    VirtualClock,
};
use clap::Parser;
use serde_json::Value;

/// Executions per second of a state machine definition on one thread.
#[derive(Parser, Debug)]
#[command(name = "asl-throughput", version)]
struct Args {
    /// The state machine definition (ASL JSON).
    #[arg(long, value_name = "PATH")]
    definition: PathBuf,
    /// The execution input (JSON).
    #[arg(long, value_name = "PATH")]
    input: PathBuf,
    /// How long to count executions, in seconds.
    #[arg(long, value_name = "F", default_value_t = 3.0, value_parser = positive_seconds)]
    seconds: f64,
    /// How long to run before counting, in seconds.
    #[arg(long, value_name = "F", default_value_t = 0.5, value_parser = non_negative_seconds)]
    warmup_seconds: f64,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !value.is_finite() || value > 86_400.0 {
        return Err(format!("'{text}' is not a usable number of seconds"));
    }
    Ok(value)
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    let value = parse_seconds(text)?;
    if value <= 0.0 {
        return Err("must be greater than 0".into());
    }
    Ok(value)
}

fn non_negative_seconds(text: &str) -> Result<f64, String> {
    let value = parse_seconds(text)?;
    if value < 0.0 {
        return Err("must not be negative".into());
    }
    Ok(value)
}

fn read(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
}

/// Runs executions one after another on one thread.
struct Bench {
    definition: Definition,
    input: Value,
    runtime: tokio::runtime::Runtime,
    clock: Arc<dyn Clock>,
    handler: Arc<dyn TaskHandler>,
}

impl Bench {
    fn new(args: &Args) -> Result<Self, String> {
        let definition = Definition::parse_str(&read(&args.definition, "definition")?)
            .map_err(|e| format!("{}: {e}", args.definition.display()))?;
        let input: Value = serde_json::from_str(&read(&args.input, "input")?)
            .map_err(|e| format!("{}: not valid JSON: {e}", args.input.display()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
        let clock: Arc<dyn Clock> =
            runtime.block_on(async { Arc::new(VirtualClock::starting_at(chrono::Utc::now())) });
        Ok(Self {
            definition,
            input,
            runtime,
            clock,
            handler: Arc::new(EchoHandler),
        })
    }

    /// One execution; returns how many states it entered, or why it did
    /// not succeed.
    fn run_one(&self) -> Result<usize, String> {
        let info = ExecutionInfo::local("bench", "run", self.input.clone(), self.clock.now());
        let finished = self.runtime.block_on(asl::execute(
            &self.definition,
            info,
            Arc::clone(&self.handler),
            Arc::clone(&self.clock),
        ));
        let outcome = finished.outcome;
        if outcome.status != ExecutionStatus::Succeeded {
            return Err(format!(
                "an execution ended {} (error: {}, cause: {}); the benchmark needs executions that succeed",
                outcome.status.as_str(),
                outcome.error.as_deref().unwrap_or("none"),
                outcome.cause.as_deref().unwrap_or("none"),
            ));
        }
        Ok(finished
            .history
            .iter()
            .filter(|e| matches!(e.event_type, EventType::StateEntered(_)))
            .count())
    }

    /// Runs executions for `duration`; returns how many ran, the time they
    /// took, and the states entered by the last one.
    fn run_for(&self, duration: Duration) -> Result<(u64, Duration, usize), String> {
        let start = Instant::now();
        let mut count = 0u64;
        loop {
            let states = self.run_one()?;
            count += 1;
            let elapsed = start.elapsed();
            if elapsed >= duration {
                return Ok((count, elapsed, states));
            }
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let bench = Bench::new(args)?;
    // Also checks, before any timing, that the definition succeeds.
    let first_states = bench.run_one()?;
    if args.warmup_seconds > 0.0 {
        bench.run_for(Duration::from_secs_f64(args.warmup_seconds))?;
    }
    let (executions, elapsed, states) = bench.run_for(Duration::from_secs_f64(args.seconds))?;
    if states != first_states {
        return Err(format!(
            "executions entered different numbers of states ({first_states}, then {states})"
        ));
    }
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = executions as f64 / seconds;
    // Written by hand to keep the documented key order.
    Ok(format!(
        "{{\"executions\":{executions},\"seconds\":{},\"executions_per_second\":{},\"states_per_execution\":{states}}}",
        Value::from(seconds),
        Value::from(rate),
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("asl-throughput: {message}");
            ExitCode::FAILURE
        }
    }
}
