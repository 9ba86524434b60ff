//! The console's triage in a real browser: the Jobs page's bulk cancel and retry of every job
//! matching its filters, each confirmed with the count first ("Cancel 3 jobs?"), and the audit
//! log page listing those actions with the client address.

use serde_json::json;

use super::Browser;
use crate::common::{RECORD_ORDER, Service, order_input};

#[tokio::test]
async fn bulk_actions_by_filter_confirm_their_count_and_show_in_the_audit_log() {
    // Not connected: the sync jobs of paid orders wait QUEUED.
    let s = Service::start().await;
    for n in ["Q-1", "Q-2", "Q-3", "R-1"] {
        s.data(RECORD_ORDER, json!({"input": order_input(n, "PAID")}))
            .await;
    }
    let mut b = Browser::open("triage").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/jobs")).await;
    b.wait_texts("#jobs-tabs [data-status=QUEUED] .tab-count", &["4"])
        .await;
    b.type_into("#jobs-prefix", "Q-").await;
    b.until(
        "the list to show the Q- jobs only",
        "return document.querySelectorAll('#jobs-table tbody tr').length === 3",
        vec![],
    )
    .await;
    b.click("#jobs-bulk-cancel").await;
    b.wait_for("#confirm-dialog[open]").await;
    b.wait_text("#confirm-dialog", "Cancel 3 jobs?").await;
    b.screenshot("cancel-confirm").await;
    b.click("#confirm-ok").await;
    b.wait_text("#toast", "3 jobs canceled.").await;
    let left = s
        .data(
            "{ q: jobs(filter: {status: CANCELED}) { totalCount } r: jobs(filter: {status: QUEUED}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(left["q"]["totalCount"], 3, "{left}");
    assert_eq!(left["r"]["totalCount"], 1, "R-1 did not match the prefix");

    b.click("#jobs-bulk-retry").await;
    b.wait_for("#confirm-dialog[open]").await;
    b.wait_text("#confirm-dialog", "Retry 3 jobs?").await;
    b.screenshot("retry-confirm").await;
    b.click("#confirm-ok").await;
    b.wait_text("#toast", "3 jobs will run again.").await;
    b.wait_texts("#jobs-tabs [data-status=CANCELED] .tab-count", &["0"])
        .await;

    b.click("a[href='#/audit']").await;
    b.wait_texts("#audit-table tbody th", &["retryJobs", "cancelJobs"])
        .await;
    b.wait_text(
        "#audit-table tbody tr[data-action=cancelJobs]",
        "order number starting Q-",
    )
    .await;
    b.wait_text(
        "#audit-table tbody tr[data-action=cancelJobs]",
        "3 jobs canceled",
    )
    .await;
    b.wait_text(
        "#audit-table tbody tr[data-action=retryJobs] .audit-client",
        "127.0.0.1",
    )
    .await;
    b.assert_controls_labelled().await;
    b.screenshot("audit").await;
    b.close().await;
}
