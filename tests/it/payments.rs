//! Payments recorded after the sync: an order synced unpaid and paid later gets one Payment
//! (RECORD_PAYMENT job: look-up, PUT, Sales Order read back) applied to its Sales Order; the
//! payment method mapping picks the method and cash account on both paths; `releasePayments`
//! releases each payment once; a bad mapping is a field error that changes nothing; and a few
//! hundred payments under SIGKILLs, lost answers and 500s end exactly one per order.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use acumatica_bridge::sim::acumatica::RunningSim;

use crate::common::{DataDir, Options, RECORD_ORDER, Service, order_input, sim_with_tokens};
use crate::sync::{connected, record, sales_orders_for, settled};

const SAVE: &str = "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { paymentsActive releasePayments paymentMethod cashAccount paymentMethodMap { storeMethod paymentMethod cashAccount } } }";
const SHOWN: &str = "query($n: String!) { order(number: $n) { paymentMethod payments { docType referenceNbr amount appliedToOrder status paymentMethod paymentRef } sync { status unpaidBalance jobs { kind status attempts lastError } } } }";

fn with_method(mut input: Value, method: &str) -> Value {
    input["paymentMethod"] = json!(method);
    input
}

/// Records `input` unpaid and syncs it by hand; waits until SYNCED.
async fn synced_unpaid(s: &Service, input: Value) {
    let number = input["number"].as_str().unwrap().to_owned();
    record(s, input).await;
    s.data(
        "mutation($n: String!) { syncOrder(number: $n) { id } }",
        json!({"n": number}),
    )
    .await;
    let o = settled(s, &number).await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
}

/// Waits until order `number` shows a payment and its RECORD_PAYMENT job has ended.
async fn paid_shown(s: &Service, number: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = s.data(SHOWN, json!({"n": number})).await["order"].clone();
        let ended = o["sync"]["jobs"].as_array().unwrap().iter().any(|j| {
            j["kind"] == "RECORD_PAYMENT"
                && ["SUCCEEDED", "FAILED", "CANCELED"].contains(&j["status"].as_str().unwrap())
        });
        if ended {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "no payment for {number}: {o:#}\n{}",
            s.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The order's RECORD_PAYMENT job.
fn payment_job(o: &Value) -> Value {
    o["sync"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "RECORD_PAYMENT")
        .unwrap()
        .clone()
}

fn payments_for(sim: &RunningSim, reference: &str) -> Vec<Value> {
    sim.records("Payment")
        .into_iter()
        .filter(|p| p["PaymentRef"] == reference)
        .collect()
}

fn count(sim: &RunningSim, part: &str) -> u64 {
    sim.counters()
        .by_request
        .iter()
        .filter(|(k, _)| k.contains(part))
        .map(|(_, n)| *n)
        .sum()
}

#[tokio::test]
async fn an_order_paid_after_its_sync_gets_one_payment_applied() {
    let _serial = crate::common::HEAVY.lock().await;
    let (s, sim) = connected().await;
    let saved = s
        .data(
            SAVE,
            json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250"}}),
        )
        .await;
    assert_eq!(
        saved["saveSettings"]["releasePayments"], false,
        "off by default"
    );
    synced_unpaid(&s, order_input("5001", "QUEUED")).await;
    assert!(payments_for(&sim, "5001").is_empty());
    let so = sales_orders_for(&sim, "5001");
    assert_eq!(so[0]["Totals"]["UnpaidBalance"], "524.0000", "{:#}", so[0]);

    sim.reset_counters();
    record(&s, order_input("5001", "PAID")).await;
    let o = paid_shown(&s, "5001").await;
    let job = payment_job(&o);
    assert_eq!(job["status"], "SUCCEEDED", "{o:#}");
    let payments = payments_for(&sim, "5001");
    assert_eq!(payments.len(), 1, "{payments:#?}");
    let p = &payments[0];
    assert_eq!(p["Type"], "Prepayment");
    assert_eq!(p["PaymentMethod"], "CREDITCARD");
    assert_eq!(p["CashAccount"], "10250");
    assert_eq!(p["PaymentAmount"], "526.0000");
    assert_eq!(p["Status"], "Balanced", "not released: the setting is off");
    let so = sales_orders_for(&sim, "5001");
    assert_eq!(p["OrdersToApply"][0]["OrderNbr"], so[0]["OrderNbr"]);
    assert_eq!(so[0]["Totals"]["UnpaidBalance"], "0.0000");
    assert_eq!(o["sync"]["unpaidBalance"], "0.00", "{o:#}");
    assert_eq!(o["payments"].as_array().unwrap().len(), 1);
    assert_eq!(o["payments"][0]["referenceNbr"], p["ReferenceNbr"]);
    assert_eq!(o["payments"][0]["appliedToOrder"], "524.00");
    assert_eq!(o["payments"][0]["paymentRef"], "5001");
    // Look-up, PUT, Sales Order read: three requests, one of them a write.
    let c = sim.counters();
    assert_eq!(c.count("GET Payment"), 1, "{:?}", c.by_request);
    assert_eq!(c.count("PUT Payment"), 1, "{:?}", c.by_request);
    assert_eq!(count(&sim, "POST Payment"), 0);

    // Recorded again (an import re-reading it): no second job, no second payment.
    record(&s, order_input("5001", "PAID")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = s.data(SHOWN, json!({"n": "5001"})).await["order"].clone();
    let jobs = o["sync"]["jobs"].as_array().unwrap();
    assert_eq!(
        jobs.iter()
            .filter(|j| j["kind"] == "RECORD_PAYMENT")
            .count(),
        1,
        "{o:#}"
    );
    assert_eq!(payments_for(&sim, "5001").len(), 1);

    // An order synced while payments were off gets its payment once they are on and it is
    // synced again (the link is confirmed, then the payment recorded).
    s.data(SAVE, json!({"input": {"recordPayments": false}}))
        .await;
    record(&s, order_input("5002", "PAID")).await;
    assert_eq!(settled(&s, "5002").await["sync"]["status"], "SYNCED");
    assert!(payments_for(&sim, "5002").is_empty());
    s.data(SAVE, json!({"input": {"recordPayments": true}}))
        .await;
    s.data("mutation { syncOrder(number: \"5002\") { id } }", json!({}))
        .await;
    let o = paid_shown(&s, "5002").await;
    assert_eq!(payments_for(&sim, "5002").len(), 1, "{o:#}");
    assert_eq!(o["sync"]["unpaidBalance"], "0.00");
    assert_eq!(sales_orders_for(&sim, "5002").len(), 1);
}

#[tokio::test]
async fn the_mapping_picks_the_method_and_release_runs_once() {
    let _serial = crate::common::HEAVY.lock().await;
    let (s, sim) = connected().await;
    let saved = s
        .data(
            SAVE,
            json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250",
                "releasePayments": true,
                "paymentMethodMap": [{"storeMethod": "PayPal", "paymentMethod": "PAYPAL", "cashAccount": "10300"},
                                     {"storeMethod": "Check", "paymentMethod": "CHECK", "cashAccount": "10200"}]}}),
        )
        .await["saveSettings"]
        .clone();
    assert_eq!(saved["releasePayments"], true);
    assert_eq!(saved["paymentMethodMap"][0]["storeMethod"], "PayPal");
    assert_eq!(saved["paymentMethodMap"][1]["cashAccount"], "10200");

    // Paid at sync: the payment rides in the Sales Order, then is released (2 writes).
    sim.reset_counters();
    record(&s, with_method(order_input("6001", "PAID"), "paypal")).await;
    assert_eq!(settled(&s, "6001").await["sync"]["status"], "SYNCED");
    let o = s.data(SHOWN, json!({"n": "6001"})).await["order"].clone();
    assert_eq!(o["paymentMethod"], "paypal");
    let p = payments_for(&sim, "6001");
    assert_eq!(p.len(), 1);
    assert_eq!(
        (&p[0]["PaymentMethod"], &p[0]["CashAccount"]),
        (&json!("PAYPAL"), &json!("10300"))
    );
    assert_eq!(p[0]["Status"], "Open", "released");
    assert_eq!(o["payments"][0]["status"], "Open", "{o:#}");
    assert_eq!(
        count(&sim, "POST Payment"),
        1,
        "{:?}",
        sim.counters().by_request
    );
    let c = sim.counters();
    assert_eq!(c.count("PUT SalesOrder"), 1, "{:?}", c.by_request);
    assert_eq!(
        c.count("PUT Payment"),
        0,
        "inside the Sales Order: {:?}",
        c.by_request
    );

    // Paid later: the RECORD_PAYMENT job uses the mapping too, and releases.
    synced_unpaid(&s, with_method(order_input("6002", "QUEUED"), "Check")).await;
    record(&s, with_method(order_input("6002", "PAID"), "Check")).await;
    let o = paid_shown(&s, "6002").await;
    let p = payments_for(&sim, "6002");
    assert_eq!(p.len(), 1, "{o:#}");
    assert_eq!(
        (&p[0]["PaymentMethod"], &p[0]["CashAccount"]),
        (&json!("CHECK"), &json!("10200"))
    );
    assert_eq!(p[0]["Status"], "Open");
    assert_eq!(o["payments"][0]["status"], "Open", "{o:#}");
    assert_eq!(count(&sim, "POST Payment"), 2);

    // A method not in the map uses the defaults.
    record(&s, with_method(order_input("6003", "PAID"), "Bitcoin")).await;
    assert_eq!(settled(&s, "6003").await["sync"]["status"], "SYNCED");
    let p = payments_for(&sim, "6003");
    assert_eq!(
        (&p[0]["PaymentMethod"], &p[0]["CashAccount"]),
        (&json!("CREDITCARD"), &json!("10250"))
    );

    // Synced again: the payments read Open, so nothing is released twice.
    for n in ["6001", "6002"] {
        s.data(
            "mutation($n: String!) { syncOrder(number: $n) { id } }",
            json!({"n": n}),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    settled(&s, "6001").await;
    settled(&s, "6002").await;
    assert_eq!(count(&sim, "POST Payment"), 3, "6003 once, none again");
    assert_eq!(sim.records("Payment").len(), 3);
}

#[tokio::test]
async fn a_release_with_its_answer_lost_is_read_before_running_again() {
    let _serial = crate::common::HEAVY.lock().await;
    let (s, sim) = connected().await;
    s.data(
        SAVE,
        json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250", "releasePayments": true}}),
    )
    .await;
    synced_unpaid(&s, order_input("6101", "QUEUED")).await;
    sim.reset_counters();
    // The PUT Payment and the release both commit, and both answers are lost.
    sim.update_faults(|f| f.commit_then_500 = 2);
    record(&s, order_input("6101", "PAID")).await;
    let o = paid_shown(&s, "6101").await;
    let job = payment_job(&o);
    assert_eq!(job["status"], "SUCCEEDED", "{o:#}");
    let p = payments_for(&sim, "6101");
    assert_eq!(p.len(), 1, "one payment, none twice");
    assert_eq!(p[0]["Status"], "Open");
    assert_eq!(o["payments"][0]["status"], "Open");
    let c = sim.counters();
    assert_eq!(c.count("PUT Payment"), 1, "{:?}", c.by_request);
    assert_eq!(count(&sim, "POST Payment"), 1, "{:?}", c.by_request);
    assert!(
        c.count("GET Payment") >= 2,
        "looked up again: {:?}",
        c.by_request
    );
}

#[tokio::test]
async fn a_bad_mapping_is_refused_with_its_field_and_changes_nothing() {
    let _serial = crate::common::HEAVY.lock().await;
    let (s, _sim) = connected().await;
    let good =
        json!([{"storeMethod": "PayPal", "paymentMethod": "PAYPAL", "cashAccount": "10300"}]);
    s.data(SAVE, json!({"input": {"paymentMethodMap": good}}))
        .await;
    let cases = [
        (
            json!([{"storeMethod": "Card", "paymentMethod": "NOSUCH", "cashAccount": "10250"}]),
            "input.paymentMethodMap.0.paymentMethod",
        ),
        (
            json!([{"storeMethod": "PayPal", "paymentMethod": "PAYPAL", "cashAccount": "10300"},
                   {"storeMethod": "Card", "paymentMethod": "CREDITCARD", "cashAccount": "99999"}]),
            "input.paymentMethodMap.1.cashAccount",
        ),
        (
            json!([{"storeMethod": " ", "paymentMethod": "PAYPAL", "cashAccount": "10300"}]),
            "input.paymentMethodMap.0.storeMethod",
        ),
        (
            json!([{"storeMethod": "PayPal", "paymentMethod": "PAYPAL", "cashAccount": "10300"},
                   {"storeMethod": "paypal", "paymentMethod": "CASH", "cashAccount": "10100"}]),
            "input.paymentMethodMap.1.storeMethod",
        ),
    ];
    for (rows, field) in cases {
        let bad = s
            .gql(
                SAVE,
                json!({"input": {"paymentMethodMap": rows, "releasePayments": true}}),
            )
            .await;
        assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_INPUT", "{bad}");
        let message = bad["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(field) || bad["errors"][0]["extensions"]["field"] == field,
            "{field}: {bad}"
        );
    }
    let now = s
        .data(
            "{ settings { releasePayments paymentMethodMap { storeMethod paymentMethod cashAccount } } }",
            json!({}),
        )
        .await["settings"]
        .clone();
    assert_eq!(now["releasePayments"], false, "nothing changed");
    assert_eq!(now["paymentMethodMap"], good);
    // Cleared with an empty list.
    let cleared = s
        .data(SAVE, json!({"input": {"paymentMethodMap": []}}))
        .await;
    assert_eq!(cleared["saveSettings"]["paymentMethodMap"], json!([]));
}

// ---- exactly once under SIGKILL and faults ----

const ORDERS: usize = 300;

fn number(i: usize) -> String {
    format!("P{i:04}")
}

fn input(i: usize, payment: &str) -> Value {
    let mut o = order_input(&number(i), payment);
    o["email"] = json!(format!("payer{}@example.com", i % 10));
    o["profileId"] = json!(format!("{}", 7000 + i % 10));
    o
}

async fn record_all(s: &Service, payment: &str) {
    futures::stream::iter(0..ORDERS)
        .map(|i| async move {
            let body = s
                .gql(RECORD_ORDER, json!({"input": input(i, payment)}))
                .await;
            assert!(body.get("errors").is_none(), "{body}");
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

async fn jobs_count(s: &Service, kind: &str, status: &str) -> u64 {
    let q = format!(
        "{{ jobs(first: 1, filter: {{kind: {kind}, status: {status}}}) {{ totalCount }} }}"
    );
    s.data(&q, json!({})).await["jobs"]["totalCount"]
        .as_u64()
        .unwrap()
}

async fn synced_count(s: &Service) -> u64 {
    s.data(
        "{ orders(first: 1, filter: {syncStatus: SYNCED}) { totalCount } }",
        json!({}),
    )
    .await["orders"]["totalCount"]
        .as_u64()
        .unwrap()
}

fn fast() -> Options {
    let mut o = Options::default();
    o.env.push(("BRIDGE_MAX_ATTEMPTS".into(), "30".into()));
    o.env
        .push(("BRIDGE_ACUMATICA_MAX_CONCURRENCY".into(), "4".into()));
    o
}

#[tokio::test]
async fn payments_under_sigkill_and_faults_are_exactly_one_per_order() {
    let _serial = crate::common::HEAVY.lock().await;
    let started = Instant::now();
    let sim = sim_with_tokens(3600).await;
    let data = DataDir::new();
    let mut s = Service::start_with(data.clone(), fast()).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    s.data(
        SAVE,
        json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250", "orderSyncMode": "MANUAL_ONLY"}}),
    )
    .await;
    // Synced unpaid.
    record_all(&s, "QUEUED").await;
    let all: Vec<String> = (0..ORDERS).map(number).collect();
    s.data(
        "mutation($n: [String!]!) { syncOrders(numbers: $n) { id } }",
        json!({"n": all}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(40);
    while synced_count(&s).await < ORDERS as u64 {
        assert!(Instant::now() < deadline, "not all synced\n{}", s.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(sim.records("Payment").is_empty());

    // Then paid, with lost answers, 500s and a slow simulator, and killed a few times.
    sim.update_faults(|f| {
        f.latency_ms = 10;
        f.rate_500 = 0.05;
        f.commit_then_500 = 25;
    });
    record_all(&s, "PAID").await;
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(500 + 200 * round)).await;
        if round == 0 {
            let done = jobs_count(&s, "RECORD_PAYMENT", "SUCCEEDED").await;
            assert!(
                (done as usize) < ORDERS,
                "the kill must land mid-run ({done} done)"
            );
        }
        let d = s.kill();
        s = Service::start_with(d, fast()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let done = jobs_count(&s, "RECORD_PAYMENT", "SUCCEEDED").await;
        let failed = jobs_count(&s, "RECORD_PAYMENT", "FAILED").await
            + jobs_count(&s, "RECORD_PAYMENT", "CANCELED").await;
        assert_eq!(failed, 0, "{}", s.stderr());
        if done as usize == ORDERS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {ORDERS} payments recorded"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let c = sim.counters();
    assert_eq!(
        sim.faults().commit_then_500,
        0,
        "every lost answer was used"
    );
    assert!(
        c.count("GET Payment") > c.count("PUT Payment"),
        "{:?}",
        c.by_request
    );
    // Exactly one payment per order: none doubled, none missing, each applied.
    let mut by_ref: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in sim.records("Payment") {
        by_ref
            .entry(p["PaymentRef"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(p);
    }
    let doubled: Vec<_> = by_ref
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k)
        .collect();
    assert!(doubled.is_empty(), "orders with two payments: {doubled:?}");
    let missing: Vec<_> = all.iter().filter(|n| !by_ref.contains_key(*n)).collect();
    assert!(missing.is_empty(), "orders without a payment: {missing:?}");
    assert_eq!(by_ref.len(), ORDERS);
    for so in sim.sales_orders() {
        assert_eq!(so["Totals"]["UnpaidBalance"], "0.0000", "{so:#}");
    }
    // And every order shows its one payment.
    let page = s
        .data(
            "{ orders(first: 500) { edges { node { number payments { referenceNbr } sync { unpaidBalance } } } } }",
            json!({}),
        )
        .await;
    let edges = page["orders"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), ORDERS);
    for e in edges {
        let n = &e["node"];
        assert_eq!(n["payments"].as_array().unwrap().len(), 1, "{n}");
        assert_eq!(n["sync"]["unpaidBalance"], "0.00", "{n}");
    }
    eprintln!(
        "{ORDERS} payments exactly once in {:.1} s (3 kills, 25 lost answers, 5% 500s): {} look-ups, {} PUTs",
        started.elapsed().as_secs_f64(),
        c.count("GET Payment"),
        c.count("PUT Payment")
    );
    drop(data);
}

#[tokio::test]
async fn a_release_answered_202_is_followed_to_its_end() {
    let _serial = crate::common::HEAVY.lock().await;
    let (s, sim) = connected().await;
    s.data(
        SAVE,
        json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250", "releasePayments": true}}),
    )
    .await;
    // The release is a long-running operation: 202 with a status URL, polled until 204.
    sim.update_faults(|f| f.accept_actions = 1);
    record(&s, order_input("6201", "PAID")).await;
    let o = settled(&s, "6201").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let shown = s.data(SHOWN, json!({"n": "6201"})).await["order"].clone();
    assert_eq!(shown["payments"][0]["status"], "Open", "{shown:#}");
    assert_eq!(payments_for(&sim, "6201")[0]["Status"], "Open");
    assert_eq!(sim.faults().accept_actions, 0, "the 202 was answered");
    let polls = sim
        .counters()
        .arrivals
        .iter()
        .filter(|a| a.uri.contains("/ReleasePayment/status/"))
        .count();
    assert_eq!(polls, 2, "one 202, then the 204");
    assert_eq!(count(&sim, "POST Payment"), 1);
}

#[tokio::test]
async fn an_x_cart_order_paid_after_its_sync_gets_its_mapped_payment() {
    use acumatica_bridge::sim::xcart::NewSimOrder;
    let _serial = crate::common::HEAVY.lock().await;
    let acumatica = sim_with_tokens(3600).await;
    let store = crate::xcart::xsim(true).await;
    let s = crate::xcart::start_in(DataDir::new()).await;
    assert_eq!(s.connect_to(&acumatica).await["status"], "SUCCEEDED");
    s.data(
        SAVE,
        json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250",
            "paymentMethodMap": [{"storeMethod": "PayPal", "paymentMethod": "PAYPAL", "cashAccount": "10300"}]}}),
    )
    .await;
    assert_eq!(
        crate::xcart::connect_store(&s, &store).await["status"],
        "CONNECTED"
    );
    store.add_order(NewSimOrder {
        order_number: Some("XP1".into()),
        payment_code: Some("Q".into()),
        payment_method_name: Some("PayPal".into()),
        ..Default::default()
    });
    crate::xcart::wait_orders(&s, "imported", |o| o.len() == 1).await;
    s.data("mutation { syncOrder(number: \"XP1\") { id } }", json!({}))
        .await;
    assert_eq!(settled(&s, "XP1").await["sync"]["status"], "SYNCED");
    assert!(payments_for(&acumatica, "XP1").is_empty());

    // Paid in X-Cart: the next import records it, and the payment follows.
    store.set_payment_status("XP1", "P");
    let o = paid_shown(&s, "XP1").await;
    assert_eq!(o["paymentMethod"], "PayPal");
    let p = payments_for(&acumatica, "XP1");
    assert_eq!(p.len(), 1, "{o:#}");
    assert_eq!(
        (&p[0]["PaymentMethod"], &p[0]["CashAccount"]),
        (&json!("PAYPAL"), &json!("10300"))
    );
    assert_eq!(o["sync"]["unpaidBalance"], "0.00", "{o:#}");
}
