//! The console in real headless Chromium: `tests/browser/console.mjs`
//! lists a failed execution, opens it, clicks Redrive and sees it succeed,
//! then saves a screenshot (`<target>/tmp/console-redrive.png`).
//!
//! Needs Debian's Chromium (`apt-get install chromium`) and playwright-core
//! (`npm ci --prefix crates/saga-local/tests/browser`); fails saying so
//! when either is missing.

use std::path::Path;

use serde_json::json;

use crate::support::{LocalCloud, order_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_opens_and_redrives_a_failed_execution() {
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
    let token = cloud.token("user-console").await;
    cloud
        .set_fault(json!({"function": "charge", "mode": "permanent", "count": 1}))
        .await;
    let (order_id, _failed) = cloud
        .place_until_failed(&token, &order_body("SKU-TEE-L", 1, "pm_card_visa"))
        .await;

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-redrive.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("console.mjs"))
        .args([cloud.url.as_str(), order_id.as_str()])
        .arg(&screenshot)
        .output()
        .await
        .expect("node (Node.js 18+) is needed for the console browser test");
    assert!(
        output.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let order = cloud.order(&token, &order_id).await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot at {}",
        screenshot.display()
    );
}
