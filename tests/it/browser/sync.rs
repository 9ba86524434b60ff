//! The console's order sync in a real browser, against the real binary and an in-process
//! Acumatica simulator slowed a little so that intermediate states show: an order synced from
//! its page with its status changing live, a bulk sync of selected orders with its progress
//! bar and summary, and a failed sync shown with its reason and retried after a fix.

use serde_json::{Value, json};

use super::Browser;
use crate::common::{RECORD_ORDER, Service, order_input, sim_with_tokens};
use acumatica_bridge::sim::acumatica::RunningSim;

const SAVE: &str =
    "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { orderSyncMode } }";
const SYNC: &str = "query($n: String!) { order(number: $n) { sync { status salesOrderType salesOrderNbr customerId lastError jobs { id status } } } }";

/// A service connected to a fresh simulator, in MANUAL_ONLY mode.
async fn connected_manual() -> (Service, RunningSim) {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    s.data(SAVE, json!({"input": {"orderSyncMode": "MANUAL_ONLY"}}))
        .await;
    (s, sim)
}

async fn record(s: &Service, input: Value) {
    s.data(RECORD_ORDER, json!({"input": input})).await;
}

async fn sync_of(s: &Service, number: &str) -> Value {
    s.data(SYNC, json!({"n": number})).await["order"]["sync"].clone()
}

/// Starts recording, in the page, every value `attr` takes on elements matching `css` (as
/// `window.__seen`), so that states too short for a poll are still seen.
async fn watch(b: &Browser, css: &str, attr: &str) {
    b.js(
        "window.__seen = [];
         const note = () => {
           const e = document.querySelector(arguments[0]);
           const v = e && (arguments[1] === 'text' ? e.innerText : e.getAttribute(arguments[1]));
           if (v !== null && v !== undefined && window.__seen.at(-1) !== v) window.__seen.push(v);
         };
         note();
         window.__observer?.disconnect();
         window.__observer = new MutationObserver(note);
         window.__observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });",
        vec![json!(css), json!(attr)],
    )
    .await;
}

async fn seen(b: &Browser) -> Vec<String> {
    serde_json::from_value(b.js("return window.__seen", vec![]).await).unwrap()
}

#[tokio::test]
async fn an_order_synced_from_its_page_changes_status_live_and_shows_its_sales_order() {
    let (s, sim) = connected_manual().await;
    record(&s, order_input("5001", "PAID")).await;
    sim.update_faults(|f| f.latency_ms = 150);

    let mut b = Browser::open("order-sync").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/orders/5001")).await;
    b.wait_text("#sync-status", "Not synced").await;
    b.wait_text("#sync-order", "Sync to Acumatica").await;
    b.wait_text("#sync-sales-order", "—").await;
    assert!(
        b.js("return document.querySelector('#sync-history')", vec![])
            .await
            .is_null(),
        "no history before the first job"
    );
    b.wait_text(".live", "Live").await;
    b.screenshot("not-synced").await;

    watch(&b, "#sync-panel", "data-sync-status").await;
    b.click("#sync-order").await;
    // The job's steps show while it runs.
    b.wait_text("#sync-progress", "of 4").await;
    b.screenshot("syncing").await;
    b.wait_text("#sync-status", "Synced").await;
    let statuses = seen(&b).await;
    assert_eq!(statuses.first().map(String::as_str), Some("NOT_SYNCED"));
    assert_eq!(statuses.last().map(String::as_str), Some("SYNCED"));
    assert!(
        statuses.iter().any(|st| st == "QUEUED" || st == "SYNCING"),
        "an intermediate state was shown: {statuses:?}"
    );

    let sync = sync_of(&s, "5001").await;
    let nbr = sync["salesOrderNbr"].as_str().unwrap();
    b.wait_text("#sync-sales-order", &format!("SO {nbr}")).await;
    b.wait_text("#sync-customer", sync["customerId"].as_str().unwrap())
        .await;
    b.wait_for("#sync-synced-at time").await;
    b.wait_text("#sync-order", "Re-sync").await;
    assert!(
        b.js("return document.querySelector('#sync-progress')", vec![])
            .await
            .is_null(),
        "no progress once done"
    );
    let job = sync["jobs"][0]["id"].as_str().unwrap().to_owned();
    b.wait_text(
        &format!("#sync-history [data-job='{job}'] [data-job-status]"),
        "Succeeded",
    )
    .await;
    b.wait_text(
        &format!("#sync-history [data-job='{job}'] tr[data-attempt='1']"),
        "OK",
    )
    .await;
    b.wait_for(&format!("#sync-history a[href='#/jobs/{job}']"))
        .await;
    b.screenshot("synced").await;

    // Re-sync confirms the link: a second job, the same Sales Order.
    b.click("#sync-order").await;
    b.until(
        "a second job in the history",
        "return document.querySelectorAll('#sync-history .sync-job').length === 2
           && document.querySelector('#sync-history .sync-job [data-job-status]').dataset.jobStatus === 'SUCCEEDED'",
        vec![],
    )
    .await;
    b.wait_text("#sync-status", "Synced").await;
    b.wait_text("#sync-sales-order", &format!("SO {nbr}")).await;
    assert_eq!(sim.sales_orders().len(), 1, "never created twice");

    // The list shows the Acumatica order number.
    b.click(".back-link").await;
    b.wait_text(
        "#orders-table tr[data-order='5001'] .sales-order",
        &format!("SO {nbr}"),
    )
    .await;

    b.goto(&s.url("/#/orders/5001")).await;
    b.wait_text("#sync-status", "Synced").await;
    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.screenshot("synced-390px").await;
    b.close().await;
}

#[tokio::test]
async fn selected_orders_sync_together_with_a_live_progress_bar_and_a_summary() {
    let (s, sim) = connected_manual().await;
    for i in 1..=5 {
        record(&s, order_input(&format!("600{i}"), "PAID")).await;
    }
    // One order Acumatica cannot take: a SKU it does not know, with "create new products" off.
    let mut bad = order_input("6006", "PAID");
    bad["items"] =
        json!([{"sku": "NOSUCH-1", "name": "Unknown", "price": "520.50", "quantity": 1}]);
    record(&s, bad).await;
    record(&s, order_input("6007", "QUEUED")).await;
    sim.update_faults(|f| f.latency_ms = 100);

    let mut b = Browser::open("bulk-sync").await;
    b.sign_in(&s).await;
    b.wait_text("#orders-selected", "Tick orders").await;
    assert_eq!(
        b.js(
            "return document.querySelector('#sync-selected').disabled",
            vec![]
        )
        .await,
        true,
        "nothing to sync before a selection"
    );
    b.assert_controls_labelled().await;

    // Select all on the page, then leave out the unpaid one.
    b.click("#orders-select-all").await;
    b.wait_text("#orders-selected", "7 orders selected").await;
    b.click("#orders-table tr[data-order='6007'] input.order-select")
        .await;
    b.wait_text("#orders-selected", "6 orders selected").await;
    assert_eq!(
        b.js(
            "const a = document.querySelector('#orders-select-all'); return [a.checked, a.indeterminate]",
            vec![]
        )
        .await,
        json!([false, true])
    );
    b.screenshot("selected").await;

    watch(&b, "#bulk-progress", "value").await;
    b.click("#sync-selected").await;
    b.wait_for("#bulk-progress").await;
    b.wait_text("#bulk-title", "Syncing 6 orders").await;
    b.screenshot("syncing").await;
    b.wait_text("#bulk-progress-text", "6 of 6 done").await;
    b.wait_text("#bulk-summary", "5 synced, 1 failed").await;
    let values: Vec<u32> = seen(&b).await.iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(values.last(), Some(&6), "{values:?}");
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "the bar only moves forward: {values:?}"
    );
    assert!(
        values.iter().any(|&v| v > 0 && v < 6),
        "the bar advanced as jobs finished: {values:?}"
    );
    b.wait_text("#bulk-failures li[data-order='6006']", "NOSUCH-1")
        .await;
    b.wait_for("#bulk-failures a[href='#/orders/6006']").await;
    b.wait_for("#bulk-failures a[href^='#/jobs/']").await;
    // The rows follow live: the synced ones show their Sales Order.
    for i in 1..=5 {
        let n = format!("600{i}");
        let nbr = sync_of(&s, &n).await["salesOrderNbr"]
            .as_str()
            .unwrap()
            .to_owned();
        b.wait_text(
            &format!("#orders-table tr[data-order='{n}'] .sales-order"),
            &format!("SO {nbr}"),
        )
        .await;
    }
    b.wait_text(
        "#orders-table tr[data-order='6006'] [data-sync-status]",
        "Failed",
    )
    .await;
    b.wait_text(
        "#orders-table tr[data-order='6007'] [data-sync-status]",
        "Not synced",
    )
    .await;
    assert_eq!(sim.sales_orders().len(), 5);
    b.wait_text("#orders-selected", "Tick orders").await;
    b.screenshot("summary").await;

    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.screenshot("summary-390px").await;
    b.js(
        "document.querySelector('#bulk-bar').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("rows-390px").await;
    b.click("#bulk-dismiss").await;
    b.until(
        "the summary to go",
        "return !document.querySelector('#bulk-sync')",
        vec![],
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn a_failed_sync_shows_its_reason_and_is_retried_from_the_order_page_after_a_fix() {
    let (s, sim) = connected_manual().await;
    let mut input = order_input("7001", "PAID");
    input["items"] = json!([
        {"sku": "NEW-1", "name": "New one", "price": "10.00", "quantity": 1},
        {"sku": "AALEGO500", "name": "Lego", "price": "510.50", "quantity": 1}
    ]);
    record(&s, input).await;

    let mut b = Browser::open("sync-failed").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/orders/7001")).await;
    b.wait_text("#sync-order", "Sync to Acumatica").await;
    b.click("#sync-order").await;
    b.wait_text("#sync-status", "Failed").await;
    b.wait_text("#sync-last-error", "NEW-1").await;
    b.wait_text("#sync-last-error", "create new products").await;
    b.wait_text("#sync-history .sync-job [data-job-status]", "Failed")
        .await;
    b.wait_text("#sync-history .sync-job .attempt-error", "NEW-1")
        .await;
    b.wait_text("#sync-order", "Sync to Acumatica").await;
    b.screenshot("failed").await;

    // The fix: "Create new products" on, from the settings page.
    b.click("nav[aria-label=Main] a[href='#/settings']").await;
    b.click("#setting-createNewProducts").await;
    b.click("#settings-save").await;
    b.wait_text("#toast", "Settings saved.").await;
    b.client.back().await.unwrap();
    b.wait_text("#sync-status", "Failed").await;

    b.click("#sync-order").await;
    b.wait_text("#sync-status", "Synced").await;
    let sync = sync_of(&s, "7001").await;
    b.wait_text(
        "#sync-sales-order",
        &format!("SO {}", sync["salesOrderNbr"].as_str().unwrap()),
    )
    .await;
    b.until(
        "two jobs, the newest succeeded",
        "const jobs = [...document.querySelectorAll('#sync-history .sync-job [data-job-status]')].map(e => e.dataset.jobStatus);
         return JSON.stringify(jobs) === JSON.stringify(['SUCCEEDED', 'FAILED'])",
        vec![],
    )
    .await;
    assert!(
        b.js("return document.querySelector('#sync-last-error')", vec![])
            .await
            .is_null(),
        "no error shown once synced: {}",
        sync["lastError"]
    );
    assert_eq!(sim.sales_orders().len(), 1);
    b.screenshot("retried").await;
    b.close().await;
}
