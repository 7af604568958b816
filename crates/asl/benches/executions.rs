//! Executions per second of the shared 10-state benchmark definition
//! (`benches/data/asl-10-state.json`, 7 states visited), the Task answered
//! by an echo handler, on one thread.

use std::sync::Arc;

use asl::{Clock, Definition, EchoHandler, ExecutionInfo, TaskHandler, VirtualClock};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

fn executions(c: &mut Criterion) {
    let definition = Definition::parse_str(include_str!("data/asl-10-state.json"))
        .expect("valid benchmark definition");
    let input: Value =
        serde_json::from_str(include_str!("data/asl-10-state.input.json")).expect("valid input");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let clock: Arc<dyn Clock> =
        runtime.block_on(async { Arc::new(VirtualClock::starting_at(chrono::Utc::now())) });
    let handler: Arc<dyn TaskHandler> = Arc::new(EchoHandler);
    let mut group = c.benchmark_group("asl-10-state");
    group.throughput(Throughput::Elements(1));
    group.bench_function("execute", |b| {
        b.iter(|| {
            let info = ExecutionInfo::local("bench", "run", input.clone(), clock.now());
            let finished = runtime.block_on(asl::execute(
                &definition,
                info,
                Arc::clone(&handler),
                Arc::clone(&clock),
            ));
            assert_eq!(finished.outcome.status, asl::ExecutionStatus::Succeeded);
            finished
        });
    });
    group.finish();
}

criterion_group!(benches, executions);
criterion_main!(benches);
