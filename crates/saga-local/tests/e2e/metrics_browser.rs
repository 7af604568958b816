//! The metrics page in real headless Chromium: after an order that
//! completes and one whose card is declined, `tests/browser/metrics.mjs`
//! finds both counted, follows the header's Metrics link and checks the
//! rows (orders by outcome, step latencies with p50 and p99, the
//! compensation, the step error), then saves a screenshot
//! (`<target>/tmp/console-metrics.png`).
//!
//! Needs what `console_browser.rs` needs: Debian's Chromium and
//! playwright-core (`npm ci --prefix crates/saga-local/tests/browser`).

use std::path::Path;

use crate::support::{LocalCloud, new_key, order_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_shows_the_orders_steps_and_compensations() {
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
    let token = cloud.token("user-metrics").await;
    for (payment_method, ends) in [
        ("pm_card_visa", "COMPLETED"),
        ("pm_card_chargeDeclined", "REJECTED"),
    ] {
        let (status, order) = cloud
            .place_order(
                &token,
                &new_key(),
                &order_body("SKU-MUG", 1, payment_method),
            )
            .await;
        assert_eq!(status, 202, "{order}");
        let order_id = order["orderId"].as_str().unwrap().to_owned();
        cloud.wait_for_execution(&order_id, 60).await;
        let order = cloud.order(&token, &order_id).await;
        assert_eq!(order["status"], ends, "{order}");
    }

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-metrics.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("metrics.mjs"))
        .arg(cloud.url.as_str())
        .arg(&screenshot)
        .output()
        .await
        .expect("node (Node.js 18+) is needed for the metrics browser test");
    assert!(
        output.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot at {}",
        screenshot.display()
    );
}
