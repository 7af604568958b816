//! Memory benchmark: runs the shared 10-state definition 10,000 times and
//! keeps every finished execution (outcome and full history) in memory,
//! then reports the count and history size. Like `DescribeExecution`, the
//! output is read back from the history's `ExecutionSucceeded` event, so
//! only the status and the history are kept per execution. Measure its peak RSS with
//! `/usr/bin/time -v target/release/asl-memory`.
//!
//! Usage: `asl-memory [executions]` (default 10000).

use std::process::ExitCode;
use std::sync::Arc;

use asl::{
    Clock, Definition, EchoHandler, ExecutionInfo, ExecutionStatus, HistoryEvent, TaskHandler,
    VirtualClock,
};
use serde_json::Value;

const DEFINITION: &str = include_str!("../../benches/data/asl-10-state.json");
const INPUT: &str = include_str!("../../benches/data/asl-10-state.input.json");

fn main() -> ExitCode {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let definition = match Definition::parse_str(DEFINITION) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let input: Value = match serde_json::from_str(INPUT) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bad input: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let kept: Vec<(ExecutionStatus, Vec<HistoryEvent>)> = runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
        let handler: Arc<dyn TaskHandler> = Arc::new(EchoHandler);
        let mut kept = Vec::with_capacity(count);
        for i in 0..count {
            let info =
                ExecutionInfo::local("bench", &format!("run-{i}"), input.clone(), clock.now());
            let finished =
                asl::execute(&definition, info, Arc::clone(&handler), Arc::clone(&clock)).await;
            kept.push((finished.outcome.status, finished.history));
        }
        kept
    });
    let events: usize = kept.iter().map(|(_, h)| h.len()).sum();
    let succeeded = kept
        .iter()
        .filter(|(s, _)| *s == ExecutionStatus::Succeeded)
        .count();
    let outputs = kept
        .iter()
        .filter(|(_, h)| h.last().and_then(HistoryEvent::output).is_some())
        .count();
    println!(
        "{} executions kept ({succeeded} succeeded, {outputs} outputs readable from history), {events} history events",
        kept.len()
    );
    ExitCode::SUCCESS
}
