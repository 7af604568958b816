//! The execution page's graph, the order page and the trace waterfall in
//! real headless Chromium: `tests/browser/graph.mjs`, `order.mjs` and
//! `trace.mjs`, run on one completed and one declined order, each saving
//! screenshots (`<target>/tmp/console-{graph,order,trace}-{completed,declined}.png`).
//!
//! Needs what `console_browser` needs (Debian's Chromium and
//! playwright-core) and fails saying so when either is missing.

use std::path::Path;

use crate::support::{LocalCloud, new_key, order_body};

/// Places an order and waits until its execution succeeds; its id.
async fn place(cloud: &LocalCloud, token: &str, payment_method: &str) -> String {
    let order = order_body("SKU-PAGES", 1, payment_method);
    let (status, placed) = cloud.place_order(token, &new_key(), &order).await;
    assert_eq!(status, 202, "{placed}");
    let order_id = placed["orderId"].as_str().unwrap().to_owned();
    let execution = cloud.wait_for_execution(&order_id, 120).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    order_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_and_the_order_page_show_what_each_order_did() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: apt-get install chromium"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: npm ci --prefix {}",
        browser_dir.display()
    );
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-pages").await;
    cloud.set_stock("SKU-PAGES", 5).await;
    let completed = place(&cloud, &token, "pm_card_visa").await;
    let declined = place(&cloud, &token, "pm_card_chargeDeclined").await;

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (script, pages) in [
        ("graph.mjs", "graph"),
        ("order.mjs", "order"),
        ("trace.mjs", "trace"),
    ] {
        let names = ["completed", "declined"].map(|o| format!("console-{pages}-{o}.png"));
        for name in &names {
            let _ = std::fs::remove_file(screenshots.join(name));
        }
        let output = tokio::process::Command::new("node")
            .arg(browser_dir.join(script))
            .args([cloud.url.as_str(), completed.as_str(), declined.as_str()])
            .arg(screenshots)
            .output()
            .await
            .expect("node (Node.js 18+) is needed for the console browser tests");
        assert!(
            output.status.success(),
            "{script} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for name in &names {
            let png = std::fs::read(screenshots.join(name)).unwrap();
            assert!(
                png.starts_with(b"\x89PNG") && png.len() > 10_000,
                "a real screenshot at {name}"
            );
        }
    }
}
