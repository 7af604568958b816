//! The `faults` tier: a short fault campaign (`saga_local::chaos`) on a
//! local cloud of its own, per seed. CI holds the line with these; the long
//! campaigns (`cargo xtask chaos --orders 2000 --seed 1 ... --seed 5`) are
//! run by hand and their figures kept in the README.

#[path = "../e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::Duration;

use saga_local::chaos::{self, Options};

use crate::support::LocalCloud;

/// Orders per seed: enough for every fault kind to meet most functions.
const ORDERS: usize = 300;

async fn campaign(seed: u64) {
    // As `cargo xtask chaos` runs it: clock 20 times faster, reservations of
    // 10 s reaped every second, so slow and retried steps race the reaper.
    let cloud = LocalCloud::start(&[
        "--time-scale",
        "20",
        "--reservation-ttl-seconds",
        "10",
        "--reaper-every-seconds",
        "1",
    ])
    .await;
    let options = Options {
        url: cloud.url.clone(),
        orders: ORDERS,
        seed,
        clients: 16,
        rate: 8.0,
        run_tag: format!("tier{seed}"),
        settle: Duration::from_secs(600),
    };
    let report = chaos::run(&options).await.unwrap_or_else(|e| {
        panic!(
            "the campaign could not run: {e:#}; log: {}",
            cloud.log.display()
        )
    });
    println!("{report}");
    assert_eq!(report.orders, ORDERS);
    let injected: u64 = report
        .injected
        .values()
        .flat_map(|by_mode| by_mode.values())
        .sum();
    assert!(injected > 0, "no fault was injected:\n{report}");
    assert!(
        report.violations.is_empty(),
        "{} violations:\n{report}\nlog: {}",
        report.violations.len(),
        cloud.log.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_seed_1_breaks_no_invariant() {
    campaign(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_seed_2_breaks_no_invariant() {
    campaign(2).await;
}
