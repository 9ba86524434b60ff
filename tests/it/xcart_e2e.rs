//! End to end: orders placed in the X-Cart simulator arrive in the Acumatica simulator as
//! Sales Orders exactly once, in automatic mode, including an order paid later. Needs the
//! order sync (the automatic SYNC_ORDER of PAID orders when they are recorded).

use std::time::{Duration, Instant};

use acumatica_bridge::sim::xcart::NewSimOrder;
use serde_json::json;

use crate::common::{DataDir, sim_with_tokens};
use crate::xcart::{connect_store, start_in, wait_orders, xsim};

#[tokio::test]
async fn orders_placed_in_x_cart_arrive_in_acumatica_exactly_once() {
    let acumatica = sim_with_tokens(3600).await;
    let store = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    assert_eq!(s.connect_to(&acumatica).await["status"], "SUCCEEDED");
    s.data(
        "mutation { saveSettings(input: {orderSyncMode: AUTOMATIC_AFTER_PAYMENT}) { orderSyncMode } }",
        json!({}),
    )
    .await;
    assert_eq!(connect_store(&s, &store).await["status"], "CONNECTED");

    store.add_order(NewSimOrder {
        order_number: Some("XC1".into()),
        payment_code: Some("P".into()),
        email: Some("jane.doe@example.com".into()),
        ..Default::default()
    });
    store.add_order(NewSimOrder {
        order_number: Some("XC2".into()),
        payment_code: Some("Q".into()),
        ..Default::default()
    });
    wait_orders(&s, "both imported", |o| o.len() == 2).await;

    let count = |n: &str| {
        acumatica
            .sales_orders()
            .iter()
            .filter(|so| so["CustomerOrder"].as_str().is_some_and(|c| c.ends_with(n)))
            .count()
    };
    let wait = |n: &'static str| {
        let count = &count;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            while count(n) == 0 {
                assert!(Instant::now() < deadline, "{n} never reached Acumatica");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait("XC1").await;
    assert_eq!(count("XC2"), 0, "not paid: not synced");

    // Paid later in X-Cart: synced then.
    store.set_payment_status("XC2", "P");
    wait("XC2").await;

    // More polls, and a catch-up over the same orders, create nothing more.
    let job = s
        .data(
            "mutation { importOrders(since: \"2000-01-01T00:00:00Z\") { id } }",
            json!({}),
        )
        .await;
    let id = job["importOrders"]["id"].as_str().unwrap().to_owned();
    s.wait_job(&id, |j| j["status"] == "SUCCEEDED").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!((count("XC1"), count("XC2")), (1, 1));
}
