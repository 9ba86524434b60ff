//! Durability: settings survive a restart; an order recorded just before a SIGKILL is there after.

use serde_json::json;

use crate::common::{RECORD_ORDER, Service, order_input};
use crate::settings::{SAVE, SETTINGS};

#[tokio::test]
async fn settings_survive_a_restart() {
    let s = Service::start().await;
    s.data(
        SAVE,
        json!({"input": {"orderSyncMode": "MANUAL_ONLY", "orderNumberPrefix": "XC-"}}),
    )
    .await;
    let data = s.stop();
    let s = Service::start_in(data).await;
    let d = s.data(SETTINGS, json!({})).await;
    assert_eq!(d["settings"]["orderSyncMode"], "MANUAL_ONLY");
    assert_eq!(d["settings"]["orderNumberPrefix"], "XC-");
}

#[tokio::test]
async fn an_answered_record_order_survives_sigkill() {
    let s = Service::start().await;
    for i in 0..20 {
        s.data(
            RECORD_ORDER,
            json!({"input": order_input(&format!("K{i}"), "PAID")}),
        )
        .await;
    }
    // Killed right after the last answer: sled's background flush had no chance to run.
    let data = s.kill();
    let s = Service::start_in(data).await;
    let d = s
        .data(
            "{ orders(first: 100) { totalCount } last: order(number: \"K19\") { number total } }",
            json!({}),
        )
        .await;
    assert_eq!(d["orders"]["totalCount"], 20);
    assert_eq!(d["last"], json!({"number": "K19", "total": "526.00"}));
}

#[tokio::test]
async fn bad_settings_are_refused_at_start() {
    let out = std::process::Command::new(crate::common::binary())
        .args(["serve", "--listen", "nonsense"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--listen") && err.contains("nonsense") && err.contains("127.0.0.1:8080"),
        "{err}"
    );
    let out = std::process::Command::new(crate::common::binary())
        .args(["serve", "--max-attempts", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-attempts"));
}
