//! `cargo xtask bench`: the figures users feel, measured in one run and
//! printed as a table; the raw results go to `target/bench/`.
//!
//! 1. **Build**: every function of `functions/` and the hello-world
//!    (`crates/hello-lambda`) with the workspace's release profile, and the
//!    interpreter's `asl-throughput` (timed: the build is part of the cost).
//! 2. **Cold start and size**: `saga-bench cold-start`, every binary started
//!    `--runs` times on a stub Runtime API, interleaved with the hello-world.
//! 3. **Interpreter**: `asl-throughput` on the shared 10-state definition,
//!    next to `saga-bench moto`, moto's Step Functions interpreter on the
//!    same definition in the same run.
//! 4. **Local cloud**: the emulators and `saga-local` as `cargo xtask up`
//!    runs them (the dev profile), then `saga-bench load`: orders per second
//!    end to end and `POST /orders` p50/p99 at `--clients` clients, and the
//!    happy path's state transitions. Before the orders, `saga-bench
//!    store` measures the requests per second DynamoDB Local answers on its
//!    own, and what that allows at the saga's requests per order; during
//!    the orders, the CPU time DynamoDB Local, saga-local and moto spend
//!    (their process groups, from `/proc`) gives the CPU each order costs.
//!
//! A benchmark, not a test: the targets are printed next to the figures,
//! nothing fails on them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use crate::up;

/// The interpreter's benchmark definition and input (a copy of
/// `shared/bench/`, kept with the crate's criterion benchmark).
const DEFINITION: &str = "crates/asl/benches/data/asl-10-state.json";
const DEFINITION_INPUT: &str = "crates/asl/benches/data/asl-10-state.input.json";

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Part {
    /// Init and stripped size of every function next to a hello-world
    ColdStart,
    /// asl's executions per second next to moto's
    Interpreter,
    /// Orders per second and POST /orders latency through the local cloud
    LocalCloud,
}

/// The options of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct BenchOptions {
    /// Only these parts (repeatable; all when absent)
    #[arg(long = "only", value_enum)]
    pub only: Vec<Part>,
    /// Cold starts of each binary (the median is reported)
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub runs: u64,
    /// Orders placed on the local cloud
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub orders: u64,
    /// Concurrent clients placing them
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub clients: u64,
    /// Executions run on moto's interpreter
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub moto_executions: u64,
    /// Seconds the asl interpreter is timed
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub interpreter_seconds: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            runs: 15,
            orders: 500,
            clients: 16,
            moto_executions: 200,
            interpreter_seconds: 5,
        }
    }
}

impl BenchOptions {
    fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

/// Runs the benchmark and prints the table.
pub fn run(root: &Path, options: &BenchOptions) -> Result<ExitCode> {
    crate::process_group::stop_all_on_interrupt()?;
    let mut results = json!({
        "startedAtUnix": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "machine": machine(),
        "options": {
            "runs": options.runs,
            "orders": options.orders,
            "clients": options.clients,
            "motoExecutions": options.moto_executions,
            "interpreterSeconds": options.interpreter_seconds,
        },
    });
    let functions = function_packages(root)?;
    if options.wants(Part::ColdStart) || options.wants(Part::Interpreter) {
        let mut packages = vec!["hello-lambda".to_owned()];
        if options.wants(Part::ColdStart) {
            packages.extend(functions.iter().cloned());
        }
        let mut command = cargo(root);
        command.args(["build", "--release"]);
        for package in &packages {
            command.args(["--package", package]);
        }
        if options.wants(Part::Interpreter) {
            command.args(["--package", "asl", "--bin", "asl-throughput"]);
            for package in &packages {
                command.args(["--bin", package]);
            }
        }
        let seconds = timed(&mut command)?;
        results["releaseBuildSeconds"] = json!(seconds);
    }
    // saga-bench itself, in the dev profile the local cloud runs in.
    crate::run_to_success(cargo(root).args(["build", "--package", "saga-local", "--bins"]))?;
    let release = root.join("target").join("release");
    if options.wants(Part::ColdStart) {
        eprintln!(
            "xtask: bench: cold starts, {} runs of each binary",
            options.runs
        );
        let mut command = saga_bench(root);
        command
            .arg("cold-start")
            .arg("--template")
            .arg(root.join("template.yaml"))
            .arg("--directory")
            .arg(&release)
            .arg("--hello")
            .arg(release.join("hello-lambda"))
            .args(["--runs", &options.runs.to_string()]);
        results["coldStart"] = json_of(&mut command)?;
    }
    let wants_cloud = options.wants(Part::LocalCloud);
    if options.wants(Part::Interpreter) || wants_cloud {
        let logs = root.join(".local").join("logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let log_path = logs.join("saga-local-bench.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        eprintln!(
            "xtask: bench: starting the emulators and the local cloud (its log: {})",
            log_path.display()
        );
        let started = Instant::now();
        let cloud = up::start_on_free_port(root, &[], Some((log, &log_path)))?;
        results["localCloudStartSeconds"] = json!(started.elapsed().as_secs_f64());
        if options.wants(Part::Interpreter) {
            eprintln!("xtask: bench: the asl interpreter");
            let mut command = Command::new(release.join("asl-throughput"));
            command
                .args(definition_arguments(root))
                .args(["--seconds", &options.interpreter_seconds.to_string()]);
            results["interpreter"] = json_of(&mut command)?;
            eprintln!(
                "xtask: bench: moto's interpreter, {} executions",
                options.moto_executions
            );
            let mut command = saga_bench(root);
            command
                .arg("moto")
                .args(["--endpoint", cloud.moto_endpoint()])
                .args(definition_arguments(root))
                .args(["--executions", &options.moto_executions.to_string()]);
            results["moto"] = json_of(&mut command)?;
        }
        if wants_cloud {
            eprintln!(
                "xtask: bench: DynamoDB Local on its own, {} clients",
                options.clients
            );
            let mut command = saga_bench(root);
            command
                .arg("store")
                .args(["--endpoint", cloud.dynamodb_endpoint()])
                .args(["--clients", &options.clients.to_string()]);
            results["store"] = json_of(&mut command)?;
            eprintln!(
                "xtask: bench: {} orders from {} clients through the local cloud",
                options.orders, options.clients
            );
            let mut command = saga_bench(root);
            command
                .arg("load")
                .args(["--url", &cloud.url])
                .args(["--orders", &options.orders.to_string()])
                .args(["--clients", &options.clients.to_string()]);
            let groups = cloud.process_groups();
            let before = cpu_seconds(&groups)?;
            results["localCloud"] = json_of(&mut command)?;
            let after = cpu_seconds(&groups)?;
            #[allow(clippy::cast_precision_loss)]
            let completed = results["localCloud"]["completed"].as_u64().unwrap_or(0) as f64;
            let mut per_order = serde_json::Map::new();
            for ((name, _), (used_before, used_after)) in
                groups.iter().zip(before.iter().zip(&after))
            {
                per_order.insert(
                    (*name).to_owned(),
                    json!(1000.0 * (used_after - used_before) / completed.max(1.0)),
                );
            }
            results["localCloudCpuMsPerOrder"] = Value::Object(per_order);
        }
    }
    let table = table(&results);
    println!("{table}");
    let written = write_results(root, &results)?;
    eprintln!("xtask: bench: results in {}", written.display());
    Ok(ExitCode::SUCCESS)
}

/// CPU seconds used so far by each process group.
fn cpu_seconds(groups: &[(&str, i32)]) -> Result<Vec<f64>> {
    let ids: Vec<i32> = groups.iter().map(|(_, group)| *group).collect();
    crate::process_group::groups_cpu_seconds(&ids)
}

/// The packages under `functions/`, sorted.
fn function_packages(root: &Path) -> Result<Vec<String>> {
    let directory = root.join("functions");
    let mut packages = Vec::new();
    for entry in
        std::fs::read_dir(&directory).with_context(|| format!("listing {}", directory.display()))?
    {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            packages.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    packages.sort();
    Ok(packages)
}

/// `--definition <benchmark definition> --input <its input>`.
fn definition_arguments(root: &Path) -> [std::ffi::OsString; 4] {
    [
        "--definition".into(),
        root.join(DEFINITION).into(),
        "--input".into(),
        root.join(DEFINITION_INPUT).into(),
    ]
}

fn cargo(root: &Path) -> Command {
    let mut command = crate::cargo_command();
    command.current_dir(root);
    command
}

fn saga_bench(root: &Path) -> Command {
    up::cargo_run_saga_local(root, "saga-bench")
}

/// Runs `command` with its output on the terminal; its wall time in seconds.
fn timed(command: &mut Command) -> Result<f64> {
    eprintln!("xtask: bench: {command:?}");
    let started = Instant::now();
    crate::run_to_success(command)?;
    Ok(started.elapsed().as_secs_f64())
}

/// Runs a measurement and parses the JSON document it prints.
fn json_of(command: &mut Command) -> Result<Value> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", output.status);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().rev().find(|line| !line.trim().is_empty());
    serde_json::from_str(last.unwrap_or_default())
        .with_context(|| format!("{command:?} printed no JSON document: {text}"))
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_default();
    json!({"cpus": cpus, "cpuModel": model})
}

/// Writes `target/bench/bench-<unix time>.json` and `target/bench/latest.json`.
fn write_results(root: &Path, results: &Value) -> Result<PathBuf> {
    let directory = root.join("target").join("bench");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let text = serde_json::to_string_pretty(results)?;
    let stamp = results["startedAtUnix"].as_u64().unwrap_or(0);
    let path = directory.join(format!("bench-{stamp}.json"));
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let latest = directory.join("latest.json");
    std::fs::write(&latest, &text).with_context(|| format!("writing {}", latest.display()))?;
    Ok(path)
}

/// The targets of issue #15, printed next to the figures.
const INIT_RATIO_TARGET: f64 = 1.2;
const SIZE_TARGET_MB: f64 = 6.0;
const INTERPRETER_RATIO_TARGET: f64 = 1000.0;
const ORDERS_PER_SECOND_TARGET: f64 = 100.0;
const POST_P99_TARGET_MS: f64 = 150.0;
const TRANSITIONS_TARGET: u64 = 8;

fn mark(met: bool) -> &'static str {
    if met { "yes" } else { "NO" }
}

/// The results as a plain-text table.
pub fn table(results: &Value) -> String {
    let mut out = String::new();
    let mb = |bytes: f64| bytes / 1_000_000.0;
    if let Some(binaries) = results["coldStart"].as_array() {
        let hello = binaries
            .iter()
            .find(|binary| binary["name"] == "hello-world")
            .and_then(|binary| binary["init_median_ms"].as_f64())
            .unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "{:<14} {:>10} {:>8} {:>13} {:>10} {:>10}",
            "binary", "init ms", "x hello", "1st invoke ms", "size MB", "on target"
        );
        for binary in binaries {
            let init = binary["init_median_ms"].as_f64().unwrap_or(f64::NAN);
            #[allow(clippy::cast_precision_loss)]
            let size = mb(binary["size_bytes"].as_u64().unwrap_or(0) as f64);
            let ratio = init / hello;
            let on_target = binary["name"] == "hello-world"
                || (ratio <= INIT_RATIO_TARGET && size <= SIZE_TARGET_MB);
            let _ = writeln!(
                out,
                "{:<14} {:>10.2} {:>8.2} {:>13.2} {:>10.2} {:>10}",
                binary["name"].as_str().unwrap_or("?"),
                init,
                ratio,
                binary["first_invoke_median_ms"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                size,
                mark(on_target)
            );
        }
        let _ = writeln!(
            out,
            "(init: median of the runs, process start to the first Runtime API poll; 1st invoke: median, that poll answered with an event the function answers without AWS calls, to its answer, spans exported to the stub; targets: <= {INIT_RATIO_TARGET}x hello-world, <= {SIZE_TARGET_MB} MB)"
        );
        if let Some(seconds) = results["releaseBuildSeconds"].as_f64() {
            let _ = writeln!(out, "release build: {seconds:.0} s");
        }
        out.push('\n');
    }
    if results["interpreter"].is_object() {
        let asl = results["interpreter"]["executions_per_second"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let moto = results["moto"]["executions_per_second"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let ratio = asl / moto;
        let _ = writeln!(out, "interpreter (shared/bench/asl-10-state.json)");
        let _ = writeln!(out, "  asl   {asl:>12.0} executions/s");
        let _ = writeln!(out, "  moto  {moto:>12.1} executions/s");
        let _ = writeln!(
            out,
            "  ratio {ratio:>12.0}x   (target >= {INTERPRETER_RATIO_TARGET}x: {})",
            mark(ratio >= INTERPRETER_RATIO_TARGET)
        );
        out.push('\n');
    }
    let cloud = &results["localCloud"];
    if cloud.is_object() {
        let per_second = cloud["orders_per_second"].as_f64().unwrap_or(f64::NAN);
        let p50 = cloud["post_p50_ms"].as_f64().unwrap_or(f64::NAN);
        let p99 = cloud["post_p99_ms"].as_f64().unwrap_or(f64::NAN);
        let transitions = cloud["happy_path_transitions"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "local cloud: {} orders from {} clients, {} completed",
            cloud["orders"], cloud["clients"], cloud["completed"]
        );
        let _ = writeln!(
            out,
            "  end to end       {per_second:>8.1} orders/s  (target >= {ORDERS_PER_SECOND_TARGET}: {})",
            mark(per_second >= ORDERS_PER_SECOND_TARGET)
        );
        let _ = writeln!(out, "  POST /orders p50 {p50:>8.1} ms");
        let _ = writeln!(
            out,
            "  POST /orders p99 {p99:>8.1} ms        (target <= {POST_P99_TARGET_MS}: {})",
            mark(p99 <= POST_P99_TARGET_MS)
        );
        let _ = writeln!(
            out,
            "  happy path       {transitions:>8} transitions (target <= {TRANSITIONS_TARGET}: {})",
            mark(transitions > 0 && transitions <= TRANSITIONS_TARGET)
        );
    }
    if let Some(per_order) = results["localCloudCpuMsPerOrder"].as_object() {
        let total: f64 = per_order.values().filter_map(Value::as_f64).sum();
        let parts: Vec<String> = per_order
            .iter()
            .map(|(name, ms)| format!("{name} {:.1}", ms.as_f64().unwrap_or(f64::NAN)))
            .collect();
        let _ = writeln!(
            out,
            "  CPU per order    {total:>8.1} ms ({}): {ORDERS_PER_SECOND_TARGET} orders/s needs {:.1} cores",
            parts.join(", "),
            total * ORDERS_PER_SECOND_TARGET / 1000.0
        );
    }
    let store = &results["store"];
    if store.is_object() {
        let _ = writeln!(
            out,
            "  DynamoDB Local alone {:>8.0} requests/s at {} clients: at most {:.1} orders/s at {} requests per order",
            store["requests_per_second"].as_f64().unwrap_or(f64::NAN),
            store["clients"],
            store["orders_per_second_ceiling"]
                .as_f64()
                .unwrap_or(f64::NAN),
            store["requests_per_order"],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sets_figures_against_their_targets() {
        let results = json!({
            "coldStart": [
                {"name": "hello-world", "size_bytes": 1_600_000, "init_median_ms": 2.0},
                {"name": "reserve", "size_bytes": 5_000_000, "init_median_ms": 2.2},
                {"name": "charge", "size_bytes": 16_000_000, "init_median_ms": 7.0},
            ],
            "interpreter": {"executions_per_second": 30_000.0},
            "moto": {"executions_per_second": 25.0},
            "localCloud": {"orders": 500, "clients": 16, "completed": 500, "orders_per_second": 25.0,
                "post_p50_ms": 450.0, "post_p99_ms": 700.0, "happy_path_transitions": 8},
            "store": {"requests_per_second": 540.0, "clients": 16, "orders_per_second_ceiling": 30.0,
                "requests_per_order": 18},
            "localCloudCpuMsPerOrder": {"dynamodb-local": 40.0, "saga-local": 30.0, "moto": 5.0},
        });
        let table = table(&results);
        let line = |name: &str| {
            table
                .lines()
                .find(|line| line.starts_with(name))
                .unwrap_or_else(|| panic!("no line for {name} in\n{table}"))
                .to_owned()
        };
        assert!(line("reserve").ends_with("yes"), "{table}");
        assert!(line("charge").ends_with("NO"), "{table}");
        assert!(line("charge").contains("3.50"), "{table}");
        assert!(line("  ratio").contains("1200x"), "{table}");
        assert!(line("  ratio").ends_with("yes)"), "{table}");
        assert!(line("  end to end").ends_with("NO)"), "{table}");
        assert!(line("  POST /orders p99").ends_with("NO)"), "{table}");
        assert!(line("  happy path").ends_with("yes)"), "{table}");
        assert!(
            line("  CPU per order").ends_with("100 orders/s needs 7.5 cores"),
            "{table}"
        );
        assert!(
            line("  DynamoDB Local alone")
                .ends_with("at most 30.0 orders/s at 18 requests per order"),
            "{table}"
        );
    }
}
