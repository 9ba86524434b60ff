//! Shipments written back to the store, through the service against both simulators: an
//! order imported from X-Cart and synced, then shipped in Acumatica with a tracking number,
//! shows shipping status S and the tracking number in the store, and the shipment on the
//! order with `writtenBackAt`; one poll is one Acumatica request however many orders shipped;
//! a read-only token fails the WRITE_BACK job as CONFIGURATION saying which token to give
//! (tokenAccess READ_ONLY) and a reconnect with the read/write one lets its retry succeed;
//! ~200 shipments written back through SIGKILLs and X-Cart 500s give every order its tracking
//! number exactly once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use acumatica_bridge::sim::acumatica::RunningSim as Acumatica;
use acumatica_bridge::sim::xcart::{NewSimOrder, RunningSim as Store, SimOrder};
use serde_json::{Value, json};

use crate::common::{DataDir, Service, sim_with_tokens};
use crate::xcart::{CONNECT_STORE, xsim};

const ORDERS: &str = "{ orders(first: 500) { edges { node { number sync { status salesOrderNbr jobs { id kind status } } shipments { number status trackingNumbers shippedAt storeShippingStatus writtenBackAt job { id kind status } } } } } }";
pub const JOBS: &str = "query($kind: JobKind) { jobs(first: 500, filter: {kind: $kind}) { totalCount edges { node { id kind status errorClass lastError orderNumber attempts } } } }";
const STORE_ACCESS: &str = "{ storeConnection { status tokenAccess } }";

/// Service options: 200 ms X-Cart import and shipment polls.
pub fn options() -> crate::common::Options {
    let mut o = crate::xcart::options();
    o.env
        .push(("BRIDGE_SHIPMENT_POLL_INTERVAL_MS".into(), "200".into()));
    o
}

pub async fn start_in(data: DataDir) -> Service {
    Service::start_with(data, options()).await
}

/// Connects Acumatica and the store (with `token`) and turns the write-back on.
pub async fn set_up(s: &Service, acumatica: &Acumatica, store: &Store, token: &str) {
    assert_eq!(s.connect_to(acumatica).await["status"], "SUCCEEDED");
    let saved = s
        .data(
            "mutation { saveSettings(input: {orderSyncMode: AUTOMATIC_AFTER_PAYMENT, writeBackShipments: true}) { writeBackShipments } }",
            json!({}),
        )
        .await;
    assert_eq!(saved["saveSettings"]["writeBackShipments"], true);
    connect_store(s, store, token).await;
}

pub async fn connect_store(s: &Service, store: &Store, token: &str) {
    let c = s
        .data(
            CONNECT_STORE,
            json!({"input": {"storeUrl": store.store_url(), "apiToken": token}}),
        )
        .await;
    assert_eq!(c["connectStore"]["status"], "CONNECTED", "{c}");
}

/// Adds paid orders `<prefix>1..=n` to the store.
pub fn place(store: &Store, prefix: &str, n: usize) {
    for i in 1..=n {
        store.add_order(NewSimOrder {
            order_number: Some(format!("{prefix}{i}")),
            payment_code: Some("P".into()),
            ..Default::default()
        });
    }
}

/// The bridge's orders by number.
async fn orders(s: &Service) -> HashMap<String, Value> {
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

/// Waits until `done` holds for the orders (at most `secs`).
async fn wait_orders(
    s: &Service,
    secs: u64,
    what: &str,
    done: impl Fn(&HashMap<String, Value>) -> bool,
) -> HashMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let o = orders(s).await;
        if done(&o) {
            return o;
        }
        assert!(Instant::now() < deadline, "{what}: {o:#?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Waits until the `n` orders are synced; returns their Sales Order numbers by order.
pub async fn synced(s: &Service, n: usize, secs: u64) -> HashMap<String, String> {
    let o = wait_orders(s, secs, "orders synced", |o| {
        o.len() == n
            && o.values()
                .all(|x| x["sync"]["status"] == "SYNCED" && x["sync"]["salesOrderNbr"].is_string())
    })
    .await;
    o.into_iter()
        .map(|(k, v)| (k, v["sync"]["salesOrderNbr"].as_str().unwrap().to_owned()))
        .collect()
}

/// Ships Sales Order `nbr` in Acumatica with `tracking`, as the warehouse would.
pub async fn ship(acumatica: &Acumatica, nbr: &str, tracking: &[&str]) {
    let r = reqwest::Client::new()
        .post(format!("{}/_sim/shipments", acumatica.root_url()))
        .json(&json!({"orderType": "SO", "orderNbr": nbr, "trackingNumbers": tracking, "confirmed": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

pub fn tracking_of(o: &SimOrder) -> Vec<String> {
    o.tracking_numbers.iter().map(|t| t.value.clone()).collect()
}

pub fn store_order(store: &Store, number: &str) -> SimOrder {
    store
        .orders()
        .into_iter()
        .find(|o| o.order_number == number)
        .expect("the store has the order")
}

#[tokio::test]
async fn a_shipped_order_gets_its_status_and_tracking_number_in_the_store() {
    let acumatica = sim_with_tokens(3600).await;
    let store = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    set_up(&s, &acumatica, &store, &store.write_token()).await;
    let access = s.data(STORE_ACCESS, json!({})).await;
    assert_eq!(access["storeConnection"]["tokenAccess"], "UNKNOWN");
    place(&store, "SH", 1);
    let so = synced(&s, 1, 20).await;
    assert_eq!(store_order(&store, "SH1").shipping_code, "N");

    ship(&acumatica, &so["SH1"], &["1Z999AA10123456784"]).await;
    let o = wait_orders(&s, 20, "the shipment written back", |o| {
        o["SH1"]["shipments"]
            .as_array()
            .is_some_and(|s| s.len() == 1 && s[0]["writtenBackAt"].is_string())
    })
    .await;
    let shipment = &o["SH1"]["shipments"][0];
    assert_eq!(shipment["trackingNumbers"], json!(["1Z999AA10123456784"]));
    assert_eq!(shipment["storeShippingStatus"], "S");
    assert_eq!(shipment["status"], "Confirmed");
    assert!(shipment["shippedAt"].is_string());
    assert_eq!(shipment["job"]["kind"], "WRITE_BACK");
    assert_eq!(shipment["job"]["status"], "SUCCEEDED");
    let in_store = store_order(&store, "SH1");
    assert_eq!(in_store.shipping_code, "S");
    assert_eq!(tracking_of(&in_store), vec!["1Z999AA10123456784"]);
    let access = s.data(STORE_ACCESS, json!({})).await;
    assert_eq!(access["storeConnection"]["tokenAccess"], "READ_WRITE");

    // Later polls see the same shipment again at the inclusive cursor: nothing is written twice.
    let writes = |st: &Store| {
        let c = st.counters();
        c.count("PUT", "shipping_status") + c.count("POST", "tracking_numbers")
    };
    let before = writes(&store);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(writes(&store), before);
    let jobs = s.data(JOBS, json!({"kind": "WRITE_BACK"})).await;
    assert_eq!(jobs["jobs"]["totalCount"], 1, "{jobs}");
    assert_eq!(tracking_of(&store_order(&store, "SH1")).len(), 1);
}

#[tokio::test]
async fn one_poll_is_one_acumatica_request_however_many_orders_shipped() {
    let acumatica = sim_with_tokens(3600).await;
    let store = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    set_up(&s, &acumatica, &store, &store.write_token()).await;
    place(&store, "MP", 25);
    let so = synced(&s, 25, 40).await;

    acumatica.reset_counters();
    let began = Instant::now();
    for (number, nbr) in &so {
        let t = format!("1ZMANY{number}");
        ship(&acumatica, nbr, &[t.as_str()]).await;
    }
    wait_orders(&s, 30, "every shipment written back", |o| {
        o.values().all(|x| {
            x["shipments"]
                .as_array()
                .is_some_and(|s| s.len() == 1 && s[0]["writtenBackAt"].is_string())
        })
    })
    .await;
    let elapsed = began.elapsed();
    let c = acumatica.counters();
    let polls = c.count("GET Shipment");
    // Every Acumatica request of the write-back is a poll, and there are as many polls as
    // 200 ms intervals, not one per shipment.
    let other: u64 = c
        .by_request
        .iter()
        .filter(|(k, _)| k.as_str() != "GET Shipment" && !k.contains("token"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(other, 0, "{:?}", c.by_request);
    let intervals = elapsed.as_millis() as u64 / 200 + 2;
    assert!(
        polls >= 1 && polls <= intervals,
        "{polls} polls in {elapsed:?}"
    );
    assert!(polls < 25, "{polls} polls for 25 shipments");
    for number in so.keys() {
        let o = store_order(&store, number);
        assert_eq!(o.shipping_code, "S");
        assert_eq!(tracking_of(&o), vec![format!("1ZMANY{number}")]);
    }
}

#[tokio::test]
async fn a_read_only_token_fails_the_write_back_as_configuration_with_what_to_fix() {
    let acumatica = sim_with_tokens(3600).await;
    let store = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    set_up(&s, &acumatica, &store, &store.token()).await;
    place(&store, "RO", 1);
    let so = synced(&s, 1, 20).await;
    ship(&acumatica, &so["RO1"], &["1ZREADONLY1"]).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let job = loop {
        let jobs = s.data(JOBS, json!({"kind": "WRITE_BACK"})).await;
        let node = jobs["jobs"]["edges"][0]["node"].clone();
        if node["status"] == "FAILED" {
            break node;
        }
        assert!(Instant::now() < deadline, "{jobs}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert_eq!(job["errorClass"], "CONFIGURATION");
    assert_eq!(job["orderNumber"], "RO1");
    assert_eq!(job["attempts"], 1, "a refused token is not retried: {job}");
    let why = job["lastError"].as_str().unwrap();
    assert!(
        why.contains("read-only") && why.contains("read/write token"),
        "{why}"
    );
    assert!(why.contains("Settings → API"), "{why}");
    let access = s.data(STORE_ACCESS, json!({})).await;
    assert_eq!(access["storeConnection"]["tokenAccess"], "READ_ONLY");
    assert_eq!(store_order(&store, "RO1").shipping_code, "N");
    assert!(tracking_of(&store_order(&store, "RO1")).is_empty());

    // The fix the message names: connect again with the read/write token, retry the job.
    connect_store(&s, &store, &store.write_token()).await;
    let access = s.data(STORE_ACCESS, json!({})).await;
    assert_eq!(access["storeConnection"]["tokenAccess"], "UNKNOWN");
    let id = job["id"].as_str().unwrap();
    s.data(
        "mutation($id: ID!) { retryJob(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    s.wait_job(id, |j| j["status"] == "SUCCEEDED").await;
    let o = store_order(&store, "RO1");
    assert_eq!(o.shipping_code, "S");
    assert_eq!(tracking_of(&o), vec!["1ZREADONLY1"]);
    let access = s.data(STORE_ACCESS, json!({})).await;
    assert_eq!(access["storeConnection"]["tokenAccess"], "READ_WRITE");
}

#[tokio::test]
async fn shipments_are_written_back_exactly_once_through_kills_and_store_faults() {
    let _heavy = crate::common::HEAVY.lock().await;
    const N: usize = 200;
    let acumatica = sim_with_tokens(3600).await;
    let store = xsim(true).await;
    let data = DataDir::new();
    let mut s = start_in(data.clone()).await;
    set_up(&s, &acumatica, &store, &store.write_token()).await;
    place(&store, "EX", N);
    let so = synced(&s, N, 45).await;

    // Slow, failing store; every order shipped at once.
    store.update_faults(|f| {
        f.latency_ms = 3;
        f.rate_500 = 0.2;
    });
    for (number, nbr) in &so {
        let t = format!("1ZEX{number}");
        ship(&acumatica, nbr, &[t.as_str()]).await;
    }
    let started = Instant::now();
    let mut kills = 0;
    let done = |store: &Store| {
        store
            .orders()
            .iter()
            .filter(|o| o.shipping_code == "S" && !o.tracking_numbers.is_empty())
            .count()
    };
    // Killed with SIGKILL three times while write-backs run, started again each time.
    let mut at_kill = vec![];
    while kills < 3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        at_kill.push(done(&store));
        let d = s.kill();
        kills += 1;
        s = start_in(d).await;
    }
    assert!(
        at_kill.iter().any(|&n| n > 0 && n < N),
        "no kill landed during the write-backs: {at_kill:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while done(&store) < N {
        assert!(
            Instant::now() < deadline,
            "{} of {N} written back after {kills} kills",
            done(&store)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.update_faults(|f| f.rate_500 = 0.0);
    let o = wait_orders(&s, 20, "every shipment recorded", |o| {
        o.values()
            .all(|x| x["shipments"].as_array().is_some_and(|s| s.len() == 1))
    })
    .await;
    assert_eq!(o.len(), N);
    let mut missing = 0;
    for number in so.keys() {
        let in_store = store_order(&store, number);
        let want = format!("1ZEX{number}");
        let tracking = tracking_of(&in_store);
        assert_eq!(
            tracking.iter().filter(|t| **t == want).count(),
            1,
            "{number}: {tracking:?}"
        );
        assert_eq!(tracking.len(), 1, "{number}: {tracking:?}");
        assert_eq!(in_store.shipping_code, "S", "{number}");
        if o[number]["shipments"][0]["writtenBackAt"].is_null() {
            missing += 1;
        }
    }
    assert_eq!(missing, 0);
    eprintln!(
        "{N} shipments written back through {kills} kills (done at each: {at_kill:?}) in {:?}; store requests {}",
        started.elapsed(),
        store.counters().total
    );
}

#[tokio::test]
async fn a_store_from_before_the_sales_order_index_is_indexed_once_at_start() {
    let acumatica = sim_with_tokens(3600).await;
    let store = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    set_up(&s, &acumatica, &store, &store.write_token()).await;
    place(&store, "OLD", 2);
    let so = synced(&s, 2, 20).await;
    let data = s.stop();
    {
        // As a build before the index left it: no such tree.
        let db = data.open_store();
        assert!(db.drop_tree("orders_by_so").unwrap());
        db.flush().unwrap();
    }
    let s = start_in(data).await;
    ship(&acumatica, &so["OLD2"], &["1ZOLD2"]).await;
    wait_orders(
        &s,
        20,
        "the shipment of an order synced before the index",
        |o| o["OLD2"]["shipments"][0]["writtenBackAt"].is_string(),
    )
    .await;
    let o = store_order(&store, "OLD2");
    assert_eq!(
        (o.shipping_code.as_str(), tracking_of(&o)),
        ("S", vec!["1ZOLD2".to_owned()])
    );
    assert_eq!(store_order(&store, "OLD1").shipping_code, "N");
}
