//! The console's payment settings in a real browser: the Release payments checkbox and the
//! payment method mapping editor (rows added with drop-downs from Acumatica's lists, saved,
//! a refused row shown with its field, a row removed), then an order paid after its sync
//! shown on its page with its payment in Acumatica, released, and its RECORD_PAYMENT job.

use serde_json::json;

use super::Browser;
use crate::common::{Service, order_input, sim_with_tokens};
use crate::sync::record;

/// Clicks `css` once scrolled to the middle of the window (clear of the sticky save bar).
async fn click(b: &Browser, css: &str) {
    b.js(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        vec![json!(css)],
    )
    .await;
    b.click(css).await;
}

const SETTINGS: &str =
    "{ settings { releasePayments paymentMethodMap { storeMethod paymentMethod cashAccount } } }";

#[tokio::test]
async fn release_and_mapping_are_edited_and_a_later_payment_shows_on_the_order() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let mut b = Browser::open("payments").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/settings")).await;
    b.wait_for("#setting-paymentMethod option[value='CREDITCARD']")
        .await;
    b.wait_text("#mapping-empty", "No store payment method is mapped")
        .await;

    // Defaults, release on, and one mapping row.
    b.select("#setting-paymentMethod", "CREDITCARD").await;
    b.select("#setting-cashAccount", "10250").await;
    click(&b, "#setting-releasePayments").await;
    click(&b, "#mapping-add").await;
    b.wait_for("#mapping-0-paymentMethod option[value='PAYPAL']")
        .await;
    b.type_into("#mapping-0-storeMethod", "PayPal").await;
    b.select("#mapping-0-paymentMethod", "PAYPAL").await;
    b.select("#mapping-0-cashAccount", "10300").await;
    b.wait_text(
        "#payments-hint",
        "One store payment method is mapped below.",
    )
    .await;
    b.assert_controls_labelled().await;
    b.js(
        "document.querySelector('#payment-method-map').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("mapping-unsaved").await;
    b.click("#settings-save").await;
    b.wait_text("#toast", "Settings saved.").await;
    b.wait_for("#savebar[hidden]").await;
    assert_eq!(
        s.data(SETTINGS, json!({})).await["settings"],
        json!({"releasePayments": true, "paymentMethodMap": [
            {"storeMethod": "PayPal", "paymentMethod": "PAYPAL", "cashAccount": "10300"}]})
    );

    // A second row for the same store method: refused, its field marked, nothing saved.
    click(&b, "#mapping-add").await;
    b.type_into("#mapping-1-storeMethod", "paypal").await;
    b.select("#mapping-1-paymentMethod", "CASH").await;
    b.select("#mapping-1-cashAccount", "10100").await;
    b.click("#settings-save").await;
    b.wait_text("#paymentMethodMap-error", "mapped twice").await;
    let invalid = b
        .js(
            "return document.querySelector('#mapping-1-storeMethod').getAttribute('aria-invalid')",
            vec![],
        )
        .await;
    assert_eq!(invalid, json!("true"));
    b.screenshot("mapping-refused").await;
    assert_eq!(
        s.data(SETTINGS, json!({})).await["settings"]["paymentMethodMap"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing changed"
    );
    // Removing the row leaves nothing unsaved.
    click(&b, "#mapping-1-remove").await;
    b.wait_for("#savebar[hidden]").await;

    // After a reload the saved rows come back.
    b.client.refresh().await.unwrap();
    b.wait_for("#mapping-0-paymentMethod option[value='PAYPAL']")
        .await;
    let row = b
        .js(
            "return ['storeMethod', 'paymentMethod', 'cashAccount'].map(f => document.querySelector('#mapping-0-' + f).value)",
            vec![],
        )
        .await;
    assert_eq!(row, json!(["PayPal", "PAYPAL", "10300"]));
    assert_eq!(
        b.js(
            "return document.querySelector('#setting-releasePayments').checked",
            vec![]
        )
        .await,
        json!(true)
    );

    // An order synced unpaid, then paid with PayPal: its page shows the released payment.
    let mut unpaid = order_input("8001", "QUEUED");
    unpaid["paymentMethod"] = json!("PayPal");
    record(&s, unpaid.clone()).await;
    s.data("mutation { syncOrder(number: \"8001\") { id } }", json!({}))
        .await;
    crate::sync::settled(&s, "8001").await;
    b.goto(&s.url("/#/orders/8001")).await;
    b.wait_text("#sync-status", "Synced").await;
    let mut paid = unpaid;
    paid["paymentStatus"] = json!("PAID");
    record(&s, paid).await;
    b.wait_text("#acumatica-payments .payment-status", "Open")
        .await;
    b.wait_text("#unpaid-balance", "0.00").await;
    b.wait_text("#store-payment-method", "PayPal").await;
    b.wait_text("#payment-jobs", "Succeeded").await;
    b.js(
        "document.querySelector('#acumatica-payments').scrollIntoView()",
        vec![],
    )
    .await;
    b.screenshot("order-payment").await;
    let payments = sim.records("Payment");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["PaymentMethod"], "PAYPAL");
    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.close().await;
}
