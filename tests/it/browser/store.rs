//! The connection page's X-Cart store section in a real browser, against the real binary and
//! the in-process X-Cart simulator: a wrong token refused at its field, the connect, the
//! details following the periodic import live (change detection, rejected orders), a catch-up
//! whose job progress shows, and the reset.

use acumatica_bridge::sim::xcart::NewSimOrder;
use serde_json::json;

use super::Browser;
use crate::common::DataDir;
use crate::xcart::{STORE, start_in, wait_orders, xsim};

#[tokio::test]
async fn the_store_is_connected_with_a_checked_token_caught_up_and_reset() {
    let sim = xsim(true).await;
    let now = chrono::Utc::now().timestamp();
    // History from before the connect: only a catch-up brings it in.
    for (number, days) in [("H1", 2), ("H2", 1)] {
        sim.add_order(NewSimOrder {
            order_number: Some(number.into()),
            date: Some(now - days * 86_400),
            payment_code: Some("P".into()),
            ..Default::default()
        });
    }
    let s = start_in(DataDir::new()).await;

    let mut b = Browser::open("store").await;
    b.sign_in(&s).await;
    b.click("nav[aria-label=Main] a[href='#/connection']").await;
    b.wait_text("#store-title", "X-Cart store").await;
    b.wait_text("#store-status", "X-Cart store not connected")
        .await;
    b.wait_for("#store-form").await;
    assert_eq!(
        b.js(
            "const t = document.querySelector('#store-apiToken'); return [t.type, document.querySelector('#store-importIntervalSeconds').value]",
            vec![]
        )
        .await,
        json!(["password", "60"])
    );
    b.assert_controls_labelled().await;
    b.js(
        "document.querySelector('#store-section').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("not-connected").await;

    // Checked before sending.
    b.click("#store-connect").await;
    b.wait_text("#store-storeUrl-error", "Store URL is required")
        .await;
    b.wait_text("#store-apiToken-error", "API token is required")
        .await;

    // A wrong token: refused by the store, shown at its field, nothing saved.
    b.type_into("#store-storeUrl", &sim.store_url()).await;
    b.type_into("#store-apiToken", "not-the-token").await;
    b.click("#store-connect").await;
    b.wait_text("#store-apiToken-error", "X-Cart refused the API token")
        .await;
    assert!(
        !b.texts("#store-apiToken-error").await[0].contains("input."),
        "the message without the field's path"
    );
    b.wait_for("#store-storeUrl-error[hidden]").await;
    assert_eq!(
        b.js(
            "return [document.activeElement.id, document.querySelector('#store-apiToken').getAttribute('aria-invalid')]",
            vec![]
        )
        .await,
        json!(["store-apiToken", "true"])
    );
    b.wait_text("#store-status", "not connected").await;
    assert_eq!(
        s.data(STORE, json!({})).await["storeConnection"]["status"],
        "NOT_CONNECTED"
    );
    b.js(
        "document.querySelector('#store-section').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("wrong-token").await;

    // The right one.
    b.type_into("#store-apiToken", &sim.token()).await;
    b.type_into("#store-importIntervalSeconds", "30").await;
    b.click("#store-connect").await;
    b.wait_text("#store-status", "X-Cart store is connected")
        .await;
    b.wait_text("#store-messages", "Connected to the X-Cart store")
        .await;
    b.wait_text("#store-detail-url", &sim.store_url()).await;
    b.wait_text("#store-detail-interval", "every 30 seconds")
        .await;
    b.wait_for("#reset-store:not([hidden])").await;
    let html = b
        .js("return document.documentElement.outerHTML", vec![])
        .await;
    assert!(
        !html.as_str().unwrap().contains(&sim.token()),
        "the token is never shown back"
    );

    // New orders after the connect: the details follow the import live.
    sim.add_order(NewSimOrder {
        order_number: Some("N1".into()),
        payment_code: Some("P".into()),
        ..Default::default()
    });
    sim.add_order(NewSimOrder {
        order_number: Some("BAD1".into()),
        currency: Some("XX".into()),
        ..Default::default()
    });
    b.wait_for("#store-detail-lastImportAt time").await;
    b.wait_text("#store-detail-changeDetection", "last change date")
        .await;
    b.wait_text("#store-rejected tr[data-order='BAD1']", "currency")
        .await;
    wait_orders(&s, "N1 imported", |o| o.contains_key("N1")).await;
    b.assert_controls_labelled().await;
    b.js(
        "document.querySelector('#store-section').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("connected").await;

    // Catch up on the last three days, slowly enough to see the job's progress.
    let since = chrono::DateTime::from_timestamp(now - 3 * 86_400, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    b.js(
        "const e = document.querySelector('#catch-up-since'); e.value = arguments[0]; e.dispatchEvent(new Event('input', {bubbles: true}))",
        vec![json!(since)],
    )
    .await;
    // Until before From is refused before it reaches the API.
    b.js(
        "document.querySelector('#catch-up-until').value = '2020-01-01T00:00'",
        vec![],
    )
    .await;
    b.click("#catch-up").await;
    b.wait_text("#catch-up-until-error", "Until must be after From")
        .await;
    b.js(
        "document.querySelector('#catch-up-until').value = ''",
        vec![],
    )
    .await;
    sim.update_faults(|f| f.latency_ms = 400);
    b.click("#catch-up").await;
    b.wait_text("#catch-up-progress", "Importing orders from X-Cart")
        .await;
    b.wait_text("#catch-up-progress", "orders").await;
    assert_eq!(
        b.js(
            "return document.querySelector('#catch-up').disabled",
            vec![]
        )
        .await,
        true,
        "one catch-up at a time"
    );
    b.js(
        "document.querySelector('#catch-up-form').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("catching-up").await;
    b.wait_text("#catch-up-result", "Catch-up finished").await;
    b.wait_text("#catch-up-result", "orders read, 2 new").await;
    sim.update_faults(|f| f.latency_ms = 0);
    wait_orders(&s, "history imported", |o| {
        o.contains_key("H1") && o.contains_key("H2")
    })
    .await;
    b.wait_for("#catch-up:not([disabled])").await;
    b.screenshot("caught-up").await;

    // Reset asks first.
    b.click("#reset-store").await;
    b.wait_text("#confirm-dialog", "Reset the X-Cart connection?")
        .await;
    b.screenshot("reset-confirm").await;
    b.click("#confirm-ok").await;
    b.wait_text("#store-status", "X-Cart store not connected")
        .await;
    b.wait_text("#store-messages", "was reset").await;
    b.wait_for("#reset-store[hidden]").await;
    assert_eq!(
        b.js(
            "return [document.querySelector('#store-storeUrl').value, document.querySelector('#store-apiToken').value]",
            vec![]
        )
        .await,
        json!([sim.store_url(), ""])
    );
    assert_eq!(
        s.data(STORE, json!({})).await["storeConnection"]["status"],
        "NOT_CONNECTED"
    );
    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.js(
        "document.querySelector('#store-section').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("reset-390px").await;
    b.close().await;
}

/// A shipment written back shows on its order with its tracking number, its time and its
/// WRITE_BACK job; a read-only token makes the store section ask for the read/write one.
#[tokio::test]
async fn a_shipment_shows_on_its_order_and_a_read_only_token_asks_for_the_read_write_one() {
    use crate::shipments::{JOBS, place, set_up, ship, synced};
    let acumatica = crate::common::sim_with_tokens(3600).await;
    let sim = xsim(true).await;
    let s = crate::shipments::start_in(DataDir::new()).await;
    set_up(&s, &acumatica, &sim, &sim.token()).await;
    place(&sim, "BS", 1);
    let so = synced(&s, 1, 20).await;
    let mut b = Browser::open("store-shipments").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/orders/BS1")).await;
    b.wait_text("#sync-status", "Synced").await;
    // Shipped while the order page is open: its failed write-back shows live, with the reason.
    ship(&acumatica, &so["BS1"], &["1Z999AA10123456784"]).await;
    b.wait_text("#order-shipments .shipment-pending", "read-only")
        .await;
    b.wait_text("#order-shipments .shipment-pending", "WRITE_BACK job")
        .await;
    let jobs = s.data(JOBS, json!({"kind": "WRITE_BACK"})).await;
    let job = &jobs["jobs"]["edges"][0]["node"];
    assert_eq!(job["status"], "FAILED", "{jobs}");
    let id = job["id"].as_str().unwrap().to_owned();

    // The store section asks for the read/write token, and takes it.
    b.click("nav[aria-label=Main] a[href='#/connection']").await;
    b.wait_text("#store-detail-tokenAccess", "Read-only").await;
    b.wait_text("#store-token-readonly", "A read/write API token is needed")
        .await;
    b.js(
        "document.querySelector('#store-token-readonly').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("read-only-token").await;
    b.type_into("#store-apiToken", &sim.write_token()).await;
    b.click("#store-connect").await;
    b.wait_text("#store-detail-tokenAccess", "Not known").await;
    assert!(b.texts("#store-token-readonly").await.is_empty());

    // Retried, the write-back succeeds and the order page shows the shipment.
    s.data(
        "mutation($id: ID!) { retryJob(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    s.wait_job(&id, |j| j["status"] == "SUCCEEDED").await;
    b.goto(&s.url("/#/orders/BS1")).await;
    b.wait_text(
        "#order-shipments .shipment",
        "Shipped: tracking 1Z999AA10123456784, written to the store at",
    )
    .await;
    b.wait_text(
        &format!("#order-shipments .shipment a[href='#/jobs/{id}']"),
        "WRITE_BACK job",
    )
    .await;
    b.wait_text("#order-shipments .shipment [data-job-status]", "Succeeded")
        .await;
    assert!(b.texts(".shipment-pending").await.is_empty());
    b.js(
        "document.querySelector('#order-shipments').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("shipment-on-order").await;
    b.close().await;
}
