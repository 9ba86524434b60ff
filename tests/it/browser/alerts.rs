//! The alerts page in a real browser against the real binary: a rule with a webhook channel
//! created on the page (a bad URL refused at its field first), a test alert sent from its
//! button and delivered to a webhook receiver in the test, its job's status shown, the secret
//! never shown back, and no console error.

use serde_json::json;

use super::Browser;
use crate::alerts::{SECRET, receiver};
use crate::common::Service;

#[tokio::test]
async fn a_rule_with_a_webhook_is_created_and_its_test_alert_delivered() {
    let hook = receiver(0).await;
    let s = Service::start().await;
    let mut b = Browser::open("alerts").await;
    b.sign_in(&s).await;
    b.click("nav[aria-label=Main] a[href='#/alerts']").await;
    b.wait_text("#alerts-title", "Alerts").await;
    b.wait_text("#alert-rules", "No alert rules yet").await;
    b.assert_controls_labelled().await;

    // Refused by the API at its field: http is for loopback only.
    b.type_into("#rule-name", "Failed orders").await;
    b.type_into("#rule-webhook-url", "http://hooks.example.com/x")
        .await;
    b.type_into("#rule-webhook-secret", SECRET).await;
    b.click("#rule-save").await;
    b.wait_text("#rule-webhook-url-error", "must use https")
        .await;
    assert_eq!(
        s.data("{ alertRules { id } }", json!({})).await["alertRules"],
        json!([])
    );

    b.js(
        "document.querySelector('#rule-webhook-url').value = ''",
        vec![],
    )
    .await;
    b.type_into("#rule-webhook-url", &hook.url).await;
    b.click("#rule-save").await;
    b.wait_text("#alerts-messages", "saved").await;
    b.wait_text("#alert-rules", "Failed orders").await;
    b.wait_text("#alert-rules", "(signed)").await;
    b.screenshot("rule-saved").await;

    b.click("button[data-test-channel='1']").await;
    b.wait_text("#alert-rules .alert-test", "Succeeded").await;
    assert_eq!(hook.events(), ["TEST"]);
    let html = b
        .js("return document.documentElement.outerHTML", vec![])
        .await;
    assert!(
        !html.as_str().unwrap().contains(SECRET),
        "the secret is never shown back"
    );
    b.screenshot("test-sent").await;
    b.close().await;
}
