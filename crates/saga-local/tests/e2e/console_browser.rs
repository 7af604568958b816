//! The console in real headless Chromium: `tests/browser/console.mjs`
//! lists a failed execution, opens it, clicks Redrive and sees it succeed,
//! then saves a screenshot (`<target>/tmp/console-redrive.png`).
//!
//! Needs Debian's Chromium (`apt-get install chromium`) and playwright-core
//! (`npm ci --prefix crates/saga-local/tests/browser`); fails saying so
//! when either is missing.

use serde_json::json;

use crate::support::{
    LocalCloud, assert_screenshot, fresh_screenshot, order_body, run_browser_script,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_opens_and_redrives_a_failed_execution() {
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-console").await;
    cloud
        .set_fault(json!({"function": "charge", "mode": "permanent", "count": 1}))
        .await;
    let (order_id, _failed) = cloud
        .place_until_failed(&token, &order_body("SKU-TEE-L", 1, "pm_card_visa"))
        .await;

    let screenshot = fresh_screenshot("console-redrive.png");
    run_browser_script(
        "console.mjs",
        &[cloud.url.as_ref(), order_id.as_ref(), screenshot.as_ref()],
    )
    .await;
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    assert_screenshot(&screenshot);
}
