//! The metrics page in real headless Chromium: after an order that
//! completes and one whose card is declined, `tests/browser/metrics.mjs`
//! finds both counted, follows the header's Metrics link and checks the
//! rows (orders by outcome, step latencies with p50 and p99, the
//! compensation, the step error), then saves a screenshot
//! (`<target>/tmp/console-metrics.png`).
//!
//! Needs what `console_browser.rs` needs: Debian's Chromium and
//! playwright-core (`npm ci --prefix crates/saga-local/tests/browser`).

use crate::support::{
    LocalCloud, assert_screenshot, fresh_screenshot, new_key, order_body, run_browser_script,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_shows_the_orders_steps_and_compensations() {
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

    let screenshot = fresh_screenshot("console-metrics.png");
    run_browser_script("metrics.mjs", &[cloud.url.as_ref(), screenshot.as_ref()]).await;
    assert_screenshot(&screenshot);
}
