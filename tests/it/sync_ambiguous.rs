//! Exactly once where the outcome of a create is unknown: the settings change while a create
//! is ambiguous, the bridge is killed in the middle of a create that Acumatica commits later,
//! and Acumatica saves a record and then answers 500. Each ends with exactly one record.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{DataDir, Options, Service, order_input, sim_with_tokens};
use crate::sync::{ORDER, record, sales_orders_for, settled};

const SAVE: &str =
    "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { orderSyncMode } }";

/// The default test options with another ambiguous re-check delay.
fn recheck_after(ms: u64) -> Options {
    let mut options = Options::default();
    options
        .env
        .retain(|(k, _)| k != "BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS");
    options
        .env
        .push(("BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS".into(), ms.to_string()));
    options
}

/// Waits until `done` holds for the simulator (10 s at most).
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: never happened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_prefix_saved_while_a_create_is_ambiguous_makes_no_second_sales_order() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start_with(DataDir::new(), recheck_after(1500)).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    // The create is saved, then answered after the bridge's 1 s timeout.
    sim.update_faults(|f| f.stall_writes_ms = Some(3000));
    record(&s, order_input("1001", "PAID")).await;
    until("the stalled create", || {
        !sales_orders_for(&sim, "1001").is_empty()
    })
    .await;
    // The bridge gives up on the answer: the create is ambiguous now.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = s.data(ORDER, json!({"n": "1001"})).await["order"].clone();
        if o["sync"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("may exist"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "never ambiguous: {o:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.update_faults(|f| f.stall_writes_ms = None);
    s.data(SAVE, json!({"input": {"orderNumberPrefix": "WEB-"}}))
        .await;
    let o = settled(&s, "1001").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(sim.sales_orders().len(), 1, "{:#?}", sim.sales_orders());
    assert!(sales_orders_for(&sim, "WEB-1001").is_empty());
}

#[tokio::test]
async fn a_kill_during_a_create_that_commits_later_leaves_one_sales_order() {
    let _heavy = crate::common::HEAVY.lock().await;
    let sim = sim_with_tokens(3600).await;
    // Longer than Acumatica holds the create: the look-up after the restart waits for it.
    let mut options = recheck_after(6000);
    options
        .env
        .retain(|(k, _)| k != "BRIDGE_ACUMATICA_TIMEOUT_MS");
    options
        .env
        .push(("BRIDGE_ACUMATICA_TIMEOUT_MS".into(), "10000".into()));
    let s = Service::start_with(DataDir::new(), options.clone()).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    // Known customer and item, so the create is the first write.
    record(&s, order_input("2001", "PAID")).await;
    assert_eq!(settled(&s, "2001").await["sync"]["status"], "SYNCED");
    sim.update_faults(|f| f.delay_commit_ms = Some(5000));
    sim.reset_counters();
    record(&s, order_input("2002", "PAID")).await;
    until("the held create", || {
        sim.counters().count("PUT SalesOrder") == 1
    })
    .await;
    let held_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let data = s.kill();
    assert!(
        sales_orders_for(&sim, "2002").is_empty(),
        "not committed yet"
    );
    sim.update_faults(|f| f.delay_commit_ms = None);
    let s = Service::start_with(data, options).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let o = loop {
        let o = s.data(ORDER, json!({"n": "2002"})).await["order"].clone();
        if o["sync"]["status"] == "SYNCED" || o["sync"]["status"] == "FAILED" {
            break o;
        }
        assert!(Instant::now() < deadline, "never settled: {o:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    // Count once the held create has had its time to commit.
    let committed = held_at + Duration::from_millis(5500);
    tokio::time::sleep(committed.saturating_duration_since(Instant::now())).await;
    let found = sales_orders_for(&sim, "2002");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(o["sync"]["salesOrderNbr"], found[0]["OrderNbr"]);
}

/// Acumatica (or a proxy in front of it) saves each record, then answers a plain 500: the
/// Sales Order, the new customer and the new stock item each exist once.
#[tokio::test]
async fn a_500_after_the_save_is_looked_up_and_never_written_twice() {
    let (s, sim) = crate::sync::connected().await;
    s.data(SAVE, json!({"input": {"createNewProducts": true}}))
        .await;
    // The Sales Order of a known customer with known items.
    record(&s, order_input("3001", "PAID")).await;
    assert_eq!(settled(&s, "3001").await["sync"]["status"], "SYNCED");
    sim.update_faults(|f| f.commit_then_500 = 1);
    record(&s, order_input("3002", "PAID")).await;
    let o = settled(&s, "3002").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(sales_orders_for(&sim, "3002").len(), 1);

    // A new customer and a new item, each saved and answered 500 once.
    let customers = sim.customers().len();
    let items = sim.stock_items().len();
    let mut input = order_input("3003", "PAID");
    input["email"] = json!("new.buyer@example.com");
    input["phone"] = json!(null);
    input["profileId"] = json!(null);
    input["items"] = json!([{"sku": "NEWSKU500", "name": "New", "price": "10.00", "quantity": 1}]);
    input["total"] = json!("13.50");
    input["taxTotal"] = json!(null);
    sim.update_faults(|f| f.commit_then_500 = 3);
    record(&s, input).await;
    let o = settled(&s, "3003").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(sim.customers().len(), customers + 1, "one new customer");
    assert_eq!(sim.stock_items().len(), items + 1, "one new stock item");
    assert_eq!(sales_orders_for(&sim, "3003").len(), 1);
}

/// Every Sales Order create is insert-only (`If-None-Match: *`); after an unanswered create
/// with manual numbering the re-check is a read by key, not a `$filter`.
#[tokio::test]
async fn creates_are_insert_only_and_a_manual_number_is_rechecked_by_key() {
    let (s, sim) = crate::sync::connected().await;
    record(&s, order_input("3101", "PAID")).await;
    assert_eq!(settled(&s, "3101").await["sync"]["status"], "SYNCED");
    let puts: Vec<_> = sim
        .counters()
        .arrivals
        .into_iter()
        .filter(|a| a.method == "PUT" && a.target == "SalesOrder")
        .collect();
    assert_eq!(puts.len(), 1);
    assert!(puts[0].if_none_match, "auto-numbered: {:?}", puts[0]);

    sim.update_faults(|f| {
        f.manual_order_numbers = true;
        f.stall_writes_ms = Some(1300);
    });
    s.data(
        SAVE,
        json!({"input": {"useStoreNumberAsOrderNbr": true, "orderNumberPrefix": "WEB"}}),
    )
    .await;
    sim.reset_counters();
    record(&s, order_input("3102", "PAID")).await;
    until("the stalled create", || {
        !sales_orders_for(&sim, "WEB3102").is_empty()
    })
    .await;
    sim.update_faults(|f| f.stall_writes_ms = None);
    let o = settled(&s, "3102").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(o["sync"]["salesOrderNbr"], "WEB3102");
    assert_eq!(sales_orders_for(&sim, "WEB3102").len(), 1);
    let reads: Vec<String> = sim
        .counters()
        .arrivals
        .into_iter()
        .filter(|a| a.method == "GET" && a.target == "SalesOrder")
        .map(|a| a.uri)
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads
            .iter()
            .all(|u| u.contains("/SalesOrder/SO/WEB3102") && !u.contains("$filter")),
        "{reads:?}"
    );
}
