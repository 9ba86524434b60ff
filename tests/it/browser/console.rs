//! The admin console in a real browser: sign-in, the orders list (paging, filters, search, live
//! updates), the order page, and the settings form.

use serde_json::{Value, json};

use super::Browser;
use crate::common::{RECORD_ORDER, Service, order_input};

/// Records order `number`, placed `minute` minutes after a fixed time, with this payment and email.
async fn record(s: &Service, number: &str, minute: u32, payment: &str, email: &str) -> Value {
    let mut input = order_input(number, payment);
    input["placedAt"] = json!(format!(
        "2026-02-{:02}T{:02}:{:02}:00Z",
        1 + minute / 1440,
        minute / 60 % 24,
        minute % 60
    ));
    input["email"] = json!(email);
    s.data(RECORD_ORDER, json!({"input": input})).await
}

#[tokio::test]
async fn console_files_are_served_without_a_token() {
    let s = Service::start().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert!(files.contains(&"app.js".to_owned()), "{files:?}");
    for file in files {
        let r = s
            .http
            .get(s.url(&format!("/assets/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "web/{file} is not served: add it to CONSOLE"
        );
        let mime = r.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = match file.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("html") => "text/html; charset=utf-8",
            other => panic!("unexpected file type {other:?} in web/"),
        };
        assert_eq!(mime, expected, "{file}");
        let body = r.text().await.unwrap();
        let on_disk = std::fs::read_to_string(dir.join(&file)).unwrap();
        assert_eq!(body, on_disk, "web/{file} as embedded");
    }
    let index = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.text().await.unwrap().contains("/assets/app.js"));
}

/// The console-error check itself can fail: a console.error in the page is seen.
#[tokio::test]
async fn browser_console_errors_are_caught() {
    let s = Service::start().await;
    let b = Browser::open("console-check").await;
    b.goto(&s.url("/")).await;
    b.wait_for("#token").await;
    b.assert_no_console_errors().await;
    b.js("console.error('probe: this must be caught')", vec![])
        .await;
    b.js(
        "setTimeout(() => { throw new Error('uncaught probe') }, 0)",
        vec![],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let seen: Vec<String> = b
        .console()
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        seen.iter()
            .any(|m| m.contains("probe: this must be caught")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|m| m.contains("uncaught probe")),
        "{seen:?}"
    );
    b.close().await;
}

#[tokio::test]
async fn sign_in_refuses_a_wrong_token_and_keeps_the_right_one_for_the_session() {
    let s = Service::start().await;
    let mut b = Browser::open("signin").await;
    b.goto(&s.url("/#/orders")).await;
    b.wait_for("#token").await;
    b.assert_controls_labelled().await;
    b.screenshot("form").await;

    b.type_into("#token", "not-the-token").await;
    b.click("#sign-in").await;
    b.wait_text("#signin-error", "That token is wrong").await;
    assert_eq!(
        b.js("return document.activeElement.id", vec![]).await,
        "token",
        "the token field has the focus again"
    );
    b.screenshot("wrong-token").await;
    // The only console entry is the browser's own note of the API's 401 answer.
    b.assert_only_a_refused_token_in_console().await;
    assert_eq!(
        b.js("return sessionStorage.length", vec![]).await,
        0,
        "a wrong token is not kept"
    );

    // Keyboard only: type the token and press Enter.
    let input = b.wait_for("#token").await;
    input.clear().await.unwrap();
    input
        .send_keys(&format!("{}{}", s.token, fantoccini::key::Key::Enter))
        .await
        .unwrap();
    b.wait_text("main h1", "Orders").await;
    assert_eq!(b.hash().await, "#/orders", "lands on the page asked for");
    b.wait_text("nav[aria-label=Main]", "Orders").await;
    assert_eq!(
        b.texts("nav[aria-label=Main] a").await,
        [
            "Orders",
            "Jobs",
            "Connection",
            "Settings",
            "Alerts",
            "Audit log"
        ]
    );
    b.wait_text(".live", "Live").await;
    b.screenshot("signed-in").await;

    // The token lasts for the browser session: a reload stays signed in.
    b.client.refresh().await.unwrap();
    b.wait_text("main h1", "Orders").await;

    b.click("#sign-out").await;
    b.wait_for("#token").await;
    b.wait_text(".signin-card", "You are signed out").await;
    assert_eq!(b.js("return sessionStorage.length", vec![]).await, 0);
    b.goto(&s.url("/#/settings")).await;
    b.wait_for("#token").await;
    b.close().await;
}

#[tokio::test]
async fn orders_list_pages_filters_and_searches() {
    let s = Service::start().await;
    // Manual mode: the PAID orders stay "Not synced" (no Acumatica here).
    s.data(
        "mutation { saveSettings(input: {orderSyncMode: MANUAL_ONLY}) { orderSyncMode } }",
        serde_json::json!({}),
    )
    .await;
    // 27 orders: 1001..1027, newest last placed; every third is PAID, 1027 is bob's.
    for i in 1..=27u32 {
        let payment = if i % 3 == 0 { "PAID" } else { "AUTHORIZED" };
        let email = if i == 27 {
            "bob@example.org"
        } else {
            "ann@example.com"
        };
        record(&s, &format!("{}", 1000 + i), i, payment, email).await;
    }
    let mut b = Browser::open("orders").await;
    b.sign_in(&s).await;
    b.assert_controls_labelled().await;
    b.wait_text("#orders-summary", "1–25 of 27 orders").await;
    let numbers = b.texts("#orders-table tbody th").await;
    assert_eq!(numbers.len(), 25);
    assert_eq!(numbers[0], "#1027", "newest first");
    assert_eq!(numbers[24], "#1003");
    let first_row = b.texts("#orders-table tbody tr:first-child > *").await;
    assert_eq!(
        first_row,
        [
            "",
            "#1027",
            "Feb 1, 2026, 00:27",
            "bob@example.org",
            "$526.00",
            "Paid",
            "Not synced",
            "—"
        ]
    );
    b.screenshot("list").await;

    b.click("#orders-next").await;
    b.wait_text("#orders-summary", "26–27 of 27").await;
    b.wait_texts("#orders-table tbody th", &["#1002", "#1001"])
        .await;
    assert_eq!(
        b.js(
            "return document.querySelector('#orders-next').disabled",
            vec![]
        )
        .await,
        true
    );
    b.click("#orders-prev").await;
    b.wait_text("#orders-summary", "1–25 of 27").await;

    b.select("#orders-payment", "PAID").await;
    b.wait_text("#orders-summary", "1–9 of 9 orders matching")
        .await;
    assert!(
        b.texts("#orders-table [data-payment-status]")
            .await
            .iter()
            .all(|t| t == "Paid")
    );
    assert!(
        b.hash().await.contains("payment=PAID"),
        "filters in the URL"
    );

    b.select("#orders-sync", "FAILED").await;
    b.wait_text("#orders-empty", "No orders match these filters")
        .await;
    b.screenshot("no-match").await;
    b.select("#orders-sync", "NOT_SYNCED").await;
    b.wait_text("#orders-summary", "of 9 orders").await;
    b.select("#orders-payment", "").await;
    b.select("#orders-sync", "").await;
    b.wait_text("#orders-summary", "1–25 of 27").await;

    b.type_into("#orders-search", "BOB@").await;
    b.wait_texts("#orders-table tbody th", &["#1027"]).await;
    b.wait_text("#orders-summary", "1–1 of 1 order matching")
        .await;
    b.screenshot("search").await;

    // A reload keeps the filters (they live in the URL).
    b.client.refresh().await.unwrap();
    b.wait_texts("#orders-table tbody th", &["#1027"]).await;
    assert_eq!(
        b.js(
            "return document.querySelector('#orders-search').value",
            vec![]
        )
        .await,
        "BOB@"
    );
    b.type_into("#orders-search", "").await;
    b.wait_text("#orders-summary", "1–25 of 27").await;

    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.screenshot("list-390px").await;
    b.close().await;
}

#[tokio::test]
async fn an_order_recorded_through_the_api_appears_live() {
    let s = Service::start().await;
    let mut b = Browser::open("live").await;
    b.sign_in(&s).await;
    b.wait_text("#orders-empty", "No orders yet").await;
    b.wait_text(".live", "Live").await;
    b.screenshot("empty").await;

    record(&s, "2001", 10, "AUTHORIZED", "ann@example.com").await;
    b.wait_texts("#orders-table tbody th", &["#2001"]).await;
    b.wait_text("#orders-summary", "1–1 of 1 order").await;
    record(&s, "2002", 20, "QUEUED", "cy@example.com").await;
    b.wait_texts("#orders-table tbody th", &["#2002", "#2001"])
        .await;

    // A change of an order shown (its payment status) updates its row.
    record(&s, "2001", 10, "PAID", "ann@example.com").await;
    b.wait_text("#orders-table tr[data-order='2001']", "Paid")
        .await;
    b.screenshot("live-rows").await;

    // A filter applies to live updates too: an order outside it stays out.
    b.select("#orders-payment", "PAID").await;
    b.wait_texts("#orders-table tbody th", &["#2001"]).await;
    record(&s, "2003", 30, "QUEUED", "dee@example.com").await;
    record(&s, "2004", 40, "PAID", "eve@example.com").await;
    b.wait_texts("#orders-table tbody th", &["#2004", "#2001"])
        .await;
    b.close().await;
}

#[tokio::test]
async fn order_page_shows_lines_totals_and_live_changes() {
    let s = Service::start().await;
    record(&s, "3001", 5, "AUTHORIZED", "ann@example.com").await;
    let mut b = Browser::open("order").await;
    b.sign_in(&s).await;
    b.click("#orders-table a[href='#/orders/3001']").await;
    b.wait_text("main h1", "Order #3001").await;
    assert_eq!(b.hash().await, "#/orders/3001");
    b.wait_for("#order-items").await;
    assert_eq!(
        b.texts("#order-items tbody tr:first-child > *").await,
        ["AALEGO500", "Lego 500", "Default", "2", "$10.25", "$20.50"]
    );
    assert_eq!(
        b.texts("#order-items tbody tr:nth-child(2) > *").await,
        [
            "AACOMPUT01",
            "Computer",
            "WHOLESALE",
            "1",
            "$500.00",
            "$500.00"
        ]
    );
    assert_eq!(
        b.texts("#order-totals > div").await,
        [
            "Items\n$520.50",
            "Shipping\n$5.00",
            "Discount\n−$1.50",
            "Tax (store)\n$2.00",
            "Total\n$526.00"
        ]
    );
    b.wait_text("#sync-panel", "Not synced").await;
    b.wait_text("main", "1 Main St").await;
    b.wait_text("main", "Kirkland, WA 98033").await;
    b.wait_text("main", "+1 555 0100").await;
    b.wait_texts("#payment-history .timeline-status", &["Authorized"])
        .await;
    b.screenshot("order").await;

    // The store records the payment: the page follows without a reload.
    record(&s, "3001", 5, "PAID", "ann@example.com").await;
    b.wait_texts("#payment-history .timeline-status", &["Paid", "Authorized"])
        .await;
    b.wait_text("main", "Paid").await;
    b.screenshot("order-paid").await;

    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.screenshot("order-390px").await;
    b.resize(1280, 900).await;

    b.goto(&s.url("/#/orders/nope")).await;
    b.wait_text("main", "There is no order #nope").await;
    b.click(".back-link").await;
    b.wait_text("main h1", "Orders").await;
    b.close().await;
}

#[tokio::test]
async fn settings_saved_from_the_form_survive_a_reload() {
    let s = Service::start().await;
    let mut b = Browser::open("settings").await;
    b.sign_in(&s).await;
    b.click("nav[aria-label=Main] a[href='#/settings']").await;
    b.wait_text("#data-sync-options", "Data Sync Options").await;
    b.wait_text(".live", "Live").await;
    b.assert_controls_labelled().await;
    assert_eq!(
        b.js("return document.querySelector('#savebar').hidden", vec![])
            .await,
        true,
        "no save panel while nothing is unsaved"
    );
    assert_eq!(
        b.js(
            "return document.querySelector('#setting-orderSyncMode-AUTOMATIC_AFTER_PAYMENT').checked",
            vec![]
        )
        .await,
        true
    );
    b.screenshot("defaults").await;

    b.click("#setting-orderSyncMode-MANUAL_ONLY").await;
    b.wait_for("#savebar:not([hidden])").await;
    b.click("#setting-createNewProducts").await;
    b.wait_text("#useStoreNumberAsOrderNbr-hint", "numbered manually")
        .await;
    b.click("label[for=setting-useStoreNumberAsOrderNbr]").await;
    b.select("#setting-customerIdSource", "PHONE").await;
    b.type_into("#setting-orderNumberPrefix", "XC-").await;
    b.type_into("#setting-orderDateTimeZone", "Europe/Berlin")
        .await;
    // Inline validation: a one-letter order type is refused before it reaches the API.
    b.type_into("#setting-salesOrderType", "S").await;
    b.click("#settings-save").await;
    b.wait_text("#salesOrderType-error", "Two letters or digits")
        .await;
    b.screenshot("invalid").await;
    let unchanged = s.data("{ settings { orderSyncMode } }", json!({})).await;
    assert_eq!(
        unchanged["settings"]["orderSyncMode"],
        "AUTOMATIC_AFTER_PAYMENT"
    );

    b.type_into("#setting-salesOrderType", "in").await;
    b.wait_for("#salesOrderType-error[hidden]").await;
    b.screenshot("unsaved").await;
    b.click("#settings-save").await;
    b.wait_text("#toast", "Settings saved.").await;
    b.wait_for("#savebar[hidden]").await;
    b.screenshot("saved").await;

    let saved = s
        .data(
            "{ settings { orderSyncMode createNewProducts useStoreNumberAsOrderNbr customerIdSource salesOrderType orderNumberPrefix orderDateTimeZone } }",
            json!({}),
        )
        .await;
    assert_eq!(
        saved["settings"],
        json!({"orderSyncMode": "MANUAL_ONLY", "createNewProducts": true, "useStoreNumberAsOrderNbr": true,
               "customerIdSource": "PHONE", "salesOrderType": "IN", "orderNumberPrefix": "XC-",
               "orderDateTimeZone": "Europe/Berlin"})
    );

    b.client.refresh().await.unwrap();
    b.wait_text("#data-sync-options", "Data Sync Options").await;
    b.wait_text(".live", "Live").await;
    let form = b
        .js(
            "const q = s => document.querySelector(s);
             return [q('#setting-orderSyncMode-MANUAL_ONLY').checked, q('#setting-createNewProducts').checked,
                     q('#setting-useStoreNumberAsOrderNbr').checked,
                     q('#setting-customerIdSource').value, q('#setting-salesOrderType').value,
                     q('#setting-orderNumberPrefix').value, q('#setting-orderDateTimeZone').value,
                     q('#savebar').hidden]",
            vec![],
        )
        .await;
    assert_eq!(
        form,
        json!([
            true,
            true,
            true,
            "PHONE",
            "IN",
            "XC-",
            "Europe/Berlin",
            true
        ])
    );

    // Clearing the prefix saves null; Discard puts back what is saved.
    b.type_into("#setting-orderNumberPrefix", "").await;
    b.click("#settings-save").await;
    b.wait_for("#savebar[hidden]").await;
    let cleared = s
        .data("{ settings { orderNumberPrefix } }", json!({}))
        .await;
    assert_eq!(cleared["settings"]["orderNumberPrefix"], json!(null));
    b.select("#setting-customerIdSource", "EMAIL").await;
    b.wait_for("#savebar:not([hidden])").await;
    b.click("#settings-discard").await;
    b.wait_for("#savebar[hidden]").await;
    assert_eq!(
        b.js(
            "return document.querySelector('#setting-customerIdSource').value",
            vec![]
        )
        .await,
        "PHONE"
    );

    b.resize(390, 844).await;
    b.select("#setting-customerIdSource", "PROFILE_ID").await;
    b.wait_for("#savebar:not([hidden])").await;
    b.assert_fits_width().await;
    b.screenshot("unsaved-390px").await;
    b.close().await;
}
