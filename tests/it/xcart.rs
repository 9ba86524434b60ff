//! The X-Cart import against the X-Cart simulator: connecting (checked with one request, a
//! wrong token or URL refused clearly), the periodic import (new orders exactly once, history
//! left to a catch-up, payment changes noticed by lastRenewDate or by the look-back window,
//! orders sharing a second with the cursor), catch-ups with progress, a revoked token without
//! a retry storm, and crashes mid-import that lose and double nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use acumatica_bridge::sim::xcart::{
    NewSimOrder, RunningSim, SimConfig, SimItem, SimSurcharge, Simulator,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::auth::walk;
use crate::common::{DataDir, Options, Service};

pub const STORE: &str = "{ storeConnection { status storeUrl importIntervalSeconds lastImportAt lastError connectedAt changeDetection rejectedOrders { number reason } } }";
pub const CONNECT_STORE: &str = "mutation($input: StoreConnectionInput!) { connectStore(input: $input) { status storeUrl importIntervalSeconds lastError } }";
const ORDERS: &str = "{ orders(first: 500) { totalCount edges { node { number profileId email phone placedAt currency paymentStatus paymentStatusHistory { status } items { sku name price quantity } shippingCost discountTotal taxTotal total billingAddress { firstName lastName street city state postalCode country phone } shippingAddress { firstName country } } } } }";
const IMPORT: &str = "mutation($since: DateTime!, $until: DateTime) { importOrders(since: $since, until: $until) { id kind status } }";

/// Service options with a 200 ms poll and a 1 s X-Cart timeout.
pub fn options() -> Options {
    let mut o = Options::default();
    o.env
        .push(("BRIDGE_XCART_POLL_INTERVAL_MS".into(), "200".into()));
    o.env
        .push(("BRIDGE_XCART_TIMEOUT_MS".into(), "1000".into()));
    o
}

pub async fn start_in(data: DataDir) -> Service {
    Service::start_with(data, options()).await
}

pub async fn xsim(last_renew_filters: bool) -> RunningSim {
    let mut c = SimConfig::default();
    c.faults.last_renew_filters = last_renew_filters;
    Simulator::start(c).await.expect("X-Cart simulator")
}

pub async fn connect_store(s: &Service, sim: &RunningSim) -> Value {
    s.data(
        CONNECT_STORE,
        json!({"input": {"storeUrl": sim.store_url(), "apiToken": sim.token()}}),
    )
    .await["connectStore"]
        .clone()
}

/// The bridge's orders by number.
pub async fn orders(s: &Service) -> HashMap<String, Value> {
    let d = s.data(ORDERS, json!({})).await;
    d["orders"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["number"].as_str().unwrap().to_owned(),
                e["node"].clone(),
            )
        })
        .collect()
}

/// Waits (20 s at most) until `done` holds for the bridge's orders.
pub async fn wait_orders(
    s: &Service,
    what: &str,
    done: impl Fn(&HashMap<String, Value>) -> bool,
) -> HashMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = orders(s).await;
        if done(&o) {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never got there; orders: {:?}\n{}",
            o.keys().collect::<Vec<_>>(),
            s.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn store(s: &Service) -> Value {
    s.data(STORE, json!({})).await["storeConnection"].clone()
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn connecting_checks_the_store_with_one_request_and_says_what_is_wrong() {
    let sim = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    assert_eq!(store(&s).await["status"], "NOT_CONNECTED");
    assert_eq!(store(&s).await["importIntervalSeconds"], 60);

    // A wrong token: one request, refused, and the field named.
    let body = s
        .gql(
            CONNECT_STORE,
            json!({"input": {"storeUrl": sim.store_url(), "apiToken": "wrong"}}),
        )
        .await;
    let e = &body["errors"][0];
    assert_eq!(e["extensions"]["code"], "BAD_INPUT", "{body}");
    assert_eq!(e["extensions"]["field"], "input.apiToken");
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("refused the API token") && m.contains("Invalid credentials."),
        "{m}"
    );
    let c = sim.counters();
    assert_eq!((c.total, c.refused), (1, 1), "{c:?}");
    assert_eq!(store(&s).await["status"], "NOT_CONNECTED", "nothing saved");

    // A URL that leads to no X-Cart API.
    let body = s
        .gql(
            CONNECT_STORE,
            json!({"input": {"storeUrl": format!("{}/shop", sim.store_url()), "apiToken": sim.token()}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.storeUrl",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("X-Cart 5.5"),
        "{body}"
    );

    // Plain http to a remote host: refused without any request.
    let before = sim.counters().total;
    let body = s
        .gql(
            CONNECT_STORE,
            json!({"input": {"storeUrl": "http://shop.example.com", "apiToken": "t"}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.storeUrl",
        "{body}"
    );
    let body = s
        .gql(
            CONNECT_STORE,
            json!({"input": {"storeUrl": sim.store_url(), "apiToken": sim.token(), "importIntervalSeconds": 1}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.importIntervalSeconds",
        "{body}"
    );
    assert_eq!(sim.counters().total, before);

    // Nobody listening: NOT_CONNECTED, nothing saved.
    let port = crate::common::free_port();
    let body = s
        .gql(
            CONNECT_STORE,
            json!({"input": {"storeUrl": format!("http://127.0.0.1:{port}"), "apiToken": "t"}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_CONNECTED",
        "{body}"
    );

    // The right token.
    let c = connect_store(&s, &sim).await;
    assert_eq!(c["status"], "CONNECTED", "{c}");
    assert_eq!(c["storeUrl"], sim.store_url());
    let first = &sim.counters().arrivals[1];
    assert!(first.query.contains("order%5Bdate%5D=desc"), "{first:?}");
    let c = s
        .wait_for(STORE, |d| !d["storeConnection"]["lastImportAt"].is_null())
        .await;
    assert_eq!(
        c["storeConnection"]["changeDetection"],
        Value::Null,
        "an empty store cannot tell yet"
    );

    // The token is not stored in plain text.
    let data = s.stop();
    for file in walk(data.path()).into_iter().filter(|f| f.is_file()) {
        let bytes = std::fs::read(&file).unwrap();
        let t = sim.token();
        assert!(
            !bytes.windows(t.len()).any(|w| w == t.as_bytes()),
            "{} holds the X-Cart token",
            file.display()
        );
    }
}

/// New orders exactly once with the right fields, history left out, ties with the cursor,
/// payment changes noticed, unmappable orders named; then a catch-up brings the history in.
async fn periodic_import(last_renew_filters: bool) {
    let sim = xsim(last_renew_filters).await;
    let floor = unix_now() - 100;
    sim.add_order(NewSimOrder {
        order_number: Some("H1".into()),
        date: Some(floor - 3600),
        payment_code: Some("P".into()),
        ..Default::default()
    });
    let h2 = sim.add_order(NewSimOrder {
        order_number: Some("H2".into()),
        date: Some(floor),
        ..Default::default()
    });
    let s = start_in(DataDir::new()).await;
    assert_eq!(connect_store(&s, &sim).await["status"], "CONNECTED");

    // Placed after the connect: one in the floor's own second, one with everything.
    sim.add_order(NewSimOrder {
        order_number: Some("N1".into()),
        date: Some(floor),
        ..Default::default()
    });
    sim.add_order(NewSimOrder {
        order_number: Some("N2".into()),
        email: Some("ann@example.com".into()),
        customer_id: Some(77),
        currency: Some("EUR".into()),
        payment_code: Some("A".into()),
        items: Some(vec![
            SimItem {
                sku: "AALEGO500".into(),
                name: "Lego".into(),
                price: d("30.00"),
                amount: 2,
            },
            SimItem {
                sku: "APJAM08".into(),
                name: "Jam".into(),
                price: d("4.99"),
                amount: 1,
            },
        ]),
        surcharges: Some(vec![
            SimSurcharge {
                kind: "shipping".into(),
                code: Some("SHIPPING".into()),
                name: None,
                value: d("7.50"),
                include: false,
            },
            SimSurcharge {
                kind: "handling".into(),
                code: Some("HANDLING".into()),
                name: None,
                value: d("1.25"),
                include: false,
            },
            SimSurcharge {
                kind: "discount".into(),
                code: Some("DCOUPON".into()),
                name: None,
                value: d("-5.00"),
                include: false,
            },
            SimSurcharge {
                kind: "tax".into(),
                code: Some("CDEV.STAX.1".into()),
                name: None,
                value: d("3.60"),
                include: false,
            },
            SimSurcharge {
                kind: "tax".into(),
                code: Some("VAT".into()),
                name: None,
                value: d("2.00"),
                include: true,
            },
        ]),
        ..Default::default()
    });
    sim.add_order(NewSimOrder {
        order_number: Some("BAD1".into()),
        currency: Some("XX".into()),
        ..Default::default()
    });
    let o = wait_orders(&s, "new orders", |o| {
        o.contains_key("N1") && o.contains_key("N2")
    })
    .await;
    assert!(
        !o.contains_key("H1") && !o.contains_key("H2"),
        "history waits for a catch-up: {o:?}"
    );
    let n2 = &o["N2"];
    assert_eq!(n2["profileId"], "77");
    assert_eq!(n2["email"], "ann@example.com");
    assert_eq!(n2["phone"], "+1 217 555 0100");
    assert_eq!(n2["currency"], "EUR");
    assert_eq!(n2["paymentStatus"], "AUTHORIZED");
    assert_eq!(
        n2["items"][0],
        json!({"sku": "AALEGO500", "name": "Lego", "price": "30.00", "quantity": 2}),
        "money is written at the currency's scale, whatever digits X-Cart sent"
    );
    assert_eq!(n2["items"][1]["price"], "4.99");
    assert_eq!(n2["shippingCost"], "8.75", "handling goes to shipping");
    assert_eq!(n2["discountTotal"], "5.00");
    assert_eq!(n2["taxTotal"], "3.60", "included VAT stays out");
    assert_eq!(n2["total"], "72.34");
    assert_eq!(n2["billingAddress"]["state"], "Illinois");
    assert_eq!(n2["billingAddress"]["postalCode"], "62701");
    assert_eq!(n2["billingAddress"]["phone"], "+1 217 555 0100");
    assert_eq!(n2["shippingAddress"]["country"], "US");

    // The unmappable order is named, not retried into a crash loop.
    let c = s
        .wait_for(STORE, |d| {
            d["storeConnection"]["rejectedOrders"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        })
        .await;
    let r = &c["storeConnection"]["rejectedOrders"][0];
    assert_eq!(r["number"], "BAD1");
    assert!(r["reason"].as_str().unwrap().contains("currency"), "{r}");
    let want = if last_renew_filters {
        "LAST_RENEW_DATE"
    } else {
        "LOOK_BACK"
    };
    assert_eq!(c["storeConnection"]["changeDetection"], want);

    // More polls change nothing: no order recorded twice.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let again = orders(&s).await;
    assert_eq!(again.len(), 2, "{:?}", again.keys());
    assert_eq!(
        again["N2"]["paymentStatusHistory"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Paid later: noticed.
    sim.set_payment_status("N1", "P");
    let o = wait_orders(&s, "N1 paid", |o| o["N1"]["paymentStatus"] == "PAID").await;
    assert_eq!(
        o["N1"]["paymentStatusHistory"],
        json!([{"status": "QUEUED"}, {"status": "PAID"}])
    );

    // A catch-up brings the history in, with progress.
    let job = s
        .data(IMPORT, json!({"since": "2000-01-01T00:00:00Z"}))
        .await["importOrders"]
        .clone();
    assert_eq!(job["kind"], "IMPORT_ORDERS");
    let id = job["id"].as_str().unwrap().to_owned();
    let done = s
        .wait_job(&id, |j| {
            j["status"] == "SUCCEEDED" || j["status"] == "FAILED"
        })
        .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["progress"]["done"], 5, "{done}");
    assert_eq!(done["progress"]["total"], 5, "{done}");
    let o = orders(&s).await;
    assert!(
        o.contains_key("H1") && o.contains_key("H2"),
        "{:?}",
        o.keys()
    );
    assert_eq!(o["H1"]["paymentStatus"], "PAID");
    assert_eq!(o.len(), 4);

    // A history order imported by the catch-up has its changes noticed too.
    sim.set_payment_status(&h2.order_number, "P");
    wait_orders(&s, "H2 paid", |o| o["H2"]["paymentStatus"] == "PAID").await;
}

#[tokio::test]
async fn periodic_import_with_last_renew_date_filters() {
    periodic_import(true).await;
}

#[tokio::test]
async fn periodic_import_on_a_store_without_last_renew_date_filters() {
    periodic_import(false).await;
}

#[tokio::test]
async fn transient_store_errors_are_noted_and_tried_again_at_the_next_interval() {
    let sim = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    connect_store(&s, &sim).await;
    sim.update_faults(|f| f.fail_next = 3);
    sim.add_order(NewSimOrder::default());
    let c = s
        .wait_for(STORE, |d| !d["storeConnection"]["lastError"].is_null())
        .await;
    assert_eq!(c["storeConnection"]["status"], "CONNECTED");
    assert!(
        c["storeConnection"]["lastError"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{c}"
    );
    wait_orders(&s, "the order after the errors", |o| o.len() == 1).await;
    s.wait_for(STORE, |d| d["storeConnection"]["lastError"].is_null())
        .await;
}

#[tokio::test]
async fn a_revoked_token_leaves_the_store_not_connected_without_a_retry_storm() {
    let sim = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    connect_store(&s, &sim).await;
    s.wait_for(STORE, |d| !d["storeConnection"]["lastImportAt"].is_null())
        .await;
    sim.revoke_token();
    let c = s
        .wait_for(STORE, |d| d["storeConnection"]["status"] == "NOT_CONNECTED")
        .await;
    let why = c["storeConnection"]["lastError"].as_str().unwrap();
    assert!(why.contains("refused the API token"), "{why}");
    let refused = sim.counters().refused;
    assert_eq!(refused, 1, "one refused request, then nothing");
    let total = sim.counters().total;
    // An order placed meanwhile; five intervals pass without a request.
    sim.add_order(NewSimOrder {
        order_number: Some("W1".into()),
        ..Default::default()
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sim.counters().total, total, "no retry storm");
    let body = s
        .gql(IMPORT, json!({"since": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_CONNECTED",
        "{body}"
    );
    assert!(orders(&s).await.is_empty());

    // Connecting again (the token works again) goes on from the cursor.
    sim.restore_token();
    assert_eq!(connect_store(&s, &sim).await["status"], "CONNECTED");
    wait_orders(&s, "the order placed while revoked", |o| {
        o.contains_key("W1")
    })
    .await;
    assert_eq!(store(&s).await["lastError"], Value::Null);

    // Reset forgets the token and stops the import.
    let r = s
        .data(
            "mutation { resetStoreConnection { status storeUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(r["resetStoreConnection"]["status"], "NOT_CONNECTED");
    assert_eq!(r["resetStoreConnection"]["storeUrl"], sim.store_url());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = sim.counters().total;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sim.counters().total, total, "no polls after a reset");
}

#[tokio::test]
async fn a_crash_mid_import_loses_and_doubles_nothing() {
    let sim = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    connect_store(&s, &sim).await;
    s.wait_for(STORE, |d| !d["storeConnection"]["lastImportAt"].is_null())
        .await;
    // 350 orders, three to a second (ties across page boundaries), slow pages.
    let base = unix_now() - 1000;
    for i in 0..350 {
        sim.add_order(NewSimOrder {
            order_number: Some(format!("C{i:03}")),
            date: Some(base + i / 3),
            ..Default::default()
        });
    }
    sim.update_faults(|f| f.latency_ms = 300);
    let seen = wait_orders(&s, "part of the import", |o| !o.is_empty()).await;
    assert!(
        seen.len() < 350,
        "the kill must land mid-import: {}",
        seen.len()
    );
    let data = s.kill();
    sim.update_faults(|f| f.latency_ms = 0);
    let s = start_in(data).await;
    let o = wait_orders(&s, "all 350", |o| o.len() == 350).await;
    for (number, order) in &o {
        assert_eq!(
            order["paymentStatusHistory"].as_array().unwrap().len(),
            1,
            "{number} recorded once"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(orders(&s).await.len(), 350);
}

#[tokio::test]
async fn a_catch_up_survives_a_crash_and_shows_progress() {
    let sim = xsim(true).await;
    let base = unix_now() - 5000;
    for i in 0..250 {
        sim.add_order(NewSimOrder {
            order_number: Some(format!("K{i:03}")),
            date: Some(base + i),
            ..Default::default()
        });
    }
    let s = start_in(DataDir::new()).await;
    connect_store(&s, &sim).await;
    let mut ws = s.ws(Some(&s.token)).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.subscribe(
        "j",
        "subscription { jobUpdates(kind: IMPORT_ORDERS) { id status progress { done total message } } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sim.update_faults(|f| f.latency_ms = 300);
    // [base + 10, base + 240): 230 orders.
    let since = chrono::DateTime::from_timestamp(base + 10, 0)
        .unwrap()
        .to_rfc3339();
    let until = chrono::DateTime::from_timestamp(base + 240, 0)
        .unwrap()
        .to_rfc3339();
    let job = s
        .data(IMPORT, json!({"since": since, "until": until}))
        .await;
    let id = job["importOrders"]["id"].as_str().unwrap().to_owned();
    // Progress arrives through jobUpdates.
    let mut progress = None;
    for _ in 0..20 {
        let m = ws.next().await;
        let j = &m["payload"]["data"]["jobUpdates"];
        if j["progress"]["done"].as_u64().unwrap_or(0) >= 100 {
            progress = Some(j.clone());
            break;
        }
    }
    let p = progress.expect("progress through jobUpdates");
    assert_eq!(p["id"], id.as_str());
    assert_eq!(p["progress"]["total"], 230, "{p}");
    let data = s.kill();
    // Requests of the killed process still inside the simulator's latency end first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.update_faults(|f| f.latency_ms = 0);
    sim.reset_counters();
    let s = start_in(data).await;
    let done = s
        .wait_job(&id, |j| {
            j["status"] == "SUCCEEDED" || j["status"] == "FAILED"
        })
        .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let o = orders(&s).await;
    assert_eq!(o.len(), 230);
    assert!(o.contains_key("K010") && o.contains_key("K239"));
    assert!(
        !o.contains_key("K009") && !o.contains_key("K240"),
        "[since, until)"
    );
    for order in o.values() {
        assert_eq!(order["paymentStatusHistory"].as_array().unwrap().len(), 1);
    }
    // The resumed run went on from its cursor: from scratch it would take three pages.
    let pages = sim
        .counters()
        .arrivals
        .iter()
        .filter(|a| a.target == "orders" && a.query.contains("strictly_before"))
        .count();
    assert!((1..=2).contains(&pages), "{pages} pages after the restart");
}
