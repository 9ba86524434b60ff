//! The order page after the Sales Order, in a real browser: an order refunded after its sync
//! shows Needs attention with the reason and its refund, is resolved from the page with a note
//! (the status turns Synced live and the reason moves to the resolved list), and an order
//! canceled in the store shows its Sales Order canceled with the CANCEL_ORDER job; the orders
//! list filters Needs attention; with credit memos on, a refund shows its credit memo.

use serde_json::json;

use super::Browser;
use crate::common::{RECORD_ORDER, order_input};
use crate::sync::{connected, settled};

#[tokio::test]
async fn a_refunded_order_is_resolved_from_its_page_and_a_canceled_one_shows_its_cancellation() {
    let (s, _sim) = connected().await;
    for n in ["7001", "7002"] {
        s.data(RECORD_ORDER, json!({"input": order_input(n, "PAID")}))
            .await;
        assert_eq!(settled(&s, n).await["sync"]["status"], "SYNCED");
    }
    let mut refunded = order_input("7001", "PAID");
    refunded["refundedTotal"] = json!("12.50");
    s.data(RECORD_ORDER, json!({"input": refunded})).await;

    let mut b = Browser::open("aftercare").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/orders?sync=NEEDS_ATTENTION")).await;
    b.wait_texts("#orders-table tbody th", &["#7001"]).await;

    b.goto(&s.url("/#/orders/7001")).await;
    b.wait_text("#sync-status", "Needs attention").await;
    b.wait_text(
        "#attention-reason",
        "refund of 12.50 USD to be handled in Acumatica",
    )
    .await;
    b.wait_text("#refunds", "Refund of $12.50").await;
    b.assert_controls_labelled().await;
    b.screenshot("needs-attention").await;
    b.type_into("#attention-note", "credit memo CM0001 made")
        .await;
    b.click("#resolve-attention").await;
    b.wait_text("#sync-status", "Synced").await;
    b.wait_for("#attention-history").await;
    assert!(
        b.js("return document.querySelector('#attention')", vec![])
            .await
            .is_null(),
        "the attention notice is gone once resolved"
    );
    let history = b
        .js(
            "return document.querySelector('#attention-history').textContent",
            vec![],
        )
        .await;
    assert!(
        history
            .as_str()
            .unwrap()
            .contains("credit memo CM0001 made"),
        "{history}"
    );
    b.screenshot("resolved").await;

    b.goto(&s.url("/#/orders/7002")).await;
    b.wait_text("#sync-status", "Synced").await;
    s.data(
        RECORD_ORDER,
        json!({"input": order_input("7002", "CANCELED")}),
    )
    .await;
    b.wait_text(
        "#cancellation-outcome",
        "canceled (CancelSalesOrder answered)",
    )
    .await;
    b.wait_text("#cancellation", "Cancel order").await;
    b.wait_text("#cancellation [data-job-status]", "Succeeded")
        .await;
    b.screenshot("canceled").await;

    // With credit memos on, the rest of 7001's refund gets one, shown live on its page.
    s.data(
        "mutation { saveSettings(input: {createRefundCredits: true}) { createRefundCredits } }",
        json!({}),
    )
    .await;
    b.goto(&s.url("/#/orders/7001")).await;
    b.wait_text("#sync-status", "Synced").await;
    s.data(
        RECORD_ORDER,
        json!({"input": order_input("7001", "REFUNDED")}),
    )
    .await;
    b.wait_text("#refunds", "credit memo 000001 in Acumatica")
        .await;
    b.wait_text("#sync-status", "Synced").await;
    b.screenshot("credit-memo").await;
    b.assert_no_console_errors().await;
}
