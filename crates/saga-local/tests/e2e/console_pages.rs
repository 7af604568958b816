//! The execution page's graph, the order page and the trace waterfall in
//! real headless Chromium: `tests/browser/graph.mjs`, `order.mjs` and
//! `trace.mjs`, run on one completed and one declined order, each saving
//! screenshots (`<target>/tmp/console-{graph,order,trace}-{completed,declined}.png`).
//!
//! Needs what `console_browser` needs (Debian's Chromium and
//! playwright-core) and fails saying so when either is missing.

use crate::support::{
    LocalCloud, assert_screenshot, fresh_screenshot, new_key, order_body, run_browser_script,
};

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
    let cloud = LocalCloud::start(&[]).await;
    let token = cloud.token("user-pages").await;
    cloud.set_stock("SKU-PAGES", 5).await;
    let completed = place(&cloud, &token, "pm_card_visa").await;
    let declined = place(&cloud, &token, "pm_card_chargeDeclined").await;

    for (script, pages) in [
        ("graph.mjs", "graph"),
        ("order.mjs", "order"),
        ("trace.mjs", "trace"),
    ] {
        let shots = ["completed", "declined"]
            .map(|outcome| fresh_screenshot(&format!("console-{pages}-{outcome}.png")));
        let directory = shots[0].parent().expect("a directory");
        run_browser_script(
            script,
            &[
                cloud.url.as_ref(),
                completed.as_ref(),
                declined.as_ref(),
                directory.as_ref(),
            ],
        )
        .await;
        for shot in &shots {
            assert_screenshot(shot);
        }
    }
}
