//! Contract test: schemathesis against the local cloud's HTTP API and
//! `crates/order-api/openapi.yaml`, with every check and the stateful phase
//! (place an order, then read it through the document's links).
//!
//! Needs DynamoDB Local and moto (like the e2e tests) and schemathesis's
//! `st` in `SCHEMATHESIS`: `cargo xtask test --tier contract` installs the
//! pinned version (`xtask/requirements-contract.txt`) and sets all of them.
//! schemathesis runs in `<target>/tmp/schemathesis/`, emptied first, where
//! its JSON report (`report.json`) and caches land.
//! `hooks.py` says what the hooks change in generated requests and why.

#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use support::LocalCloud;

/// Examples per operation and phase; enough for over 1,000 cases in all.
const MAX_EXAMPLES: &str = "200";
/// The fewest generated cases a run must reach to count.
const MIN_CASES: u64 = 1_000;
/// A fixed seed, with deterministic generation: the same cases every run.
const SEED: &str = "20261130";

fn schemathesis() -> String {
    match std::env::var("SCHEMATHESIS") {
        Ok(path) if Path::new(&path).is_file() => path,
        _ => panic!(
            "SCHEMATHESIS must name schemathesis's `st` executable: run \
             `cargo xtask test --tier contract`, which installs the pinned version"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_keeps_its_openapi_contract() {
    let st = schemathesis();
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("contract-tester").await;
    let products: Value = cloud
        .http
        .get(cloud.at("/products?limit=100"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /products")
        .json()
        .await
        .expect("GET /products answers JSON");
    let skus: Vec<String> = products["products"]
        .as_array()
        .expect("GET /products lists the catalog")
        .iter()
        .filter_map(|item| item["sku"].as_str().map(str::to_owned))
        .collect();
    assert!(!skus.is_empty(), "the demo catalog is empty: {products}");

    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let document = here.join("../order-api/openapi.yaml");
    let reports = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis");
    let report = reports.join("report.json");
    // A fresh folder each run: schemathesis and hypothesis keep caches (and
    // replay stored failures) in the working directory.
    let _ = std::fs::remove_dir_all(&reports);
    std::fs::create_dir_all(&reports).expect("create the report folder");
    let run = tokio::process::Command::new(&st)
        .arg("--config-file")
        .arg(here.join("tests/contract/schemathesis.toml"))
        .arg("run")
        .arg(&document)
        .args(["--url", &cloud.url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED, "--generation-deterministic"])
        .args(["--request-timeout", "30"])
        .args(["--no-color", "--report", "json", "--report-json-path"])
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", here.join("tests/contract/hooks.py"))
        .env("CONTRACT_SKUS", skus.join(","))
        .current_dir(&reports)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30 * 60), run)
        .await
        .expect("schemathesis finished within 30 minutes")
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));

    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", report.display()));
    let summary: Value = serde_json::from_str(&text).expect("the report is JSON");
    let generated = summary["test_cases"]["generated"].as_u64().unwrap_or(0);
    let failures = &summary["failures"];
    let errors = &summary["errors"];
    println!(
        "schemathesis: {generated} cases generated, {} unique failures, {} errors, seed {SEED}",
        failures.as_array().map_or(0, Vec::len),
        errors.as_array().map_or(0, Vec::len),
    );
    assert_eq!(
        failures.as_array().map(Vec::len),
        Some(0),
        "schemathesis found failures (details above, log {}): {failures:#}",
        cloud.log.display()
    );
    assert_eq!(errors.as_array().map(Vec::len), Some(0), "{errors:#}");
    assert_eq!(
        output.status.code(),
        Some(0),
        "st exited with {}",
        output.status
    );
    assert!(
        generated >= MIN_CASES,
        "only {generated} cases generated, fewer than {MIN_CASES}"
    );
    for phase in ["examples", "coverage", "fuzzing", "stateful"] {
        assert_eq!(
            summary["phases"][phase]["status"], "success",
            "phase {phase}: {}",
            summary["phases"][phase]
        );
    }
    let warnings: Vec<(&String, &Value)> = summary["warnings"]
        .as_object()
        .expect("the report lists warnings by kind")
        .iter()
        .filter(|(_, found)| found.as_array().is_none_or(|found| !found.is_empty()))
        .collect();
    assert!(warnings.is_empty(), "schemathesis warned: {warnings:?}");
    // "API Links:    3 covered / 3 selected / 3 total (2 inferred)": the
    // stateful phase followed every link, the documented POST /orders ->
    // GET /orders/{id} among them.
    let links = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("API Links:"))
        .expect("the stateful phase reports its links");
    let numbers: Vec<u64> = links
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    assert!(
        matches!(numbers[..], [covered, selected, ..] if covered >= 1 && covered == selected),
        "the stateful phase did not follow every link: {links}"
    );
}
