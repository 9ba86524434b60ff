//! Order sync through the GraphQL API against the Acumatica simulator: triggers, customers
//! under each Customer ID setting and fallback, missing items, warehouses, freight and
//! discount, the totals warning, re-sync, and requests per order.

use serde_json::{Value, json};

use acumatica_bridge::sim::acumatica::RunningSim;

use crate::common::{RECORD_ORDER, Service, order_input, sim_with_tokens};

pub const ORDER: &str = "query($n: String!) { order(number: $n) { number paymentStatus sync { status salesOrderType salesOrderNbr customerId lastError warnings syncedAt jobs { id status attempts lastError } } } }";
const SAVE: &str =
    "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { orderSyncMode } }";

/// A service connected to a fresh simulator.
pub async fn connected() -> (Service, RunningSim) {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    (s, sim)
}

pub async fn record(s: &Service, input: Value) -> Value {
    s.data(RECORD_ORDER, json!({"input": input})).await["recordOrder"].clone()
}

/// Waits until the order's sync is SYNCED or FAILED; returns the order.
pub async fn settled(s: &Service, number: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = s.data(ORDER, json!({"n": number})).await["order"].clone();
        let status = o["sync"]["status"].as_str().unwrap_or_default().to_owned();
        if status == "SYNCED" || status == "FAILED" {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {number} never settled: {o:#}\n{}",
            s.stderr()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The simulator's Sales Orders whose CustomerOrder is `reference`.
pub fn sales_orders_for(sim: &RunningSim, reference: &str) -> Vec<Value> {
    sim.sales_orders()
        .into_iter()
        .filter(|so| so["CustomerOrder"] == reference)
        .collect()
}

/// A decimal of a simulator record, whether stored as a JSON string or number.
pub fn dec(v: &Value) -> rust_decimal::Decimal {
    let text = match v {
        Value::String(t) => t.clone(),
        other => other.to_string(),
    };
    text.parse()
        .unwrap_or_else(|_| panic!("not a decimal: {v}"))
}

fn d(text: &str) -> rust_decimal::Decimal {
    text.parse().unwrap()
}

fn with_email(mut input: Value, email: &str) -> Value {
    input["email"] = json!(email);
    input
}

#[tokio::test]
async fn a_paid_order_becomes_one_sales_order_with_what_acumatica_needs() {
    let (s, sim) = connected().await;
    s.data(
        SAVE,
        json!({"input": {"orderNumberPrefix": "XC-", "warehouseId": "RETAIL"}}),
    )
    .await;
    let queued = record(&s, order_input("1001", "QUEUED")).await;
    assert_eq!(
        queued["sync"]["status"], "NOT_SYNCED",
        "not paid: nothing happens"
    );
    let paid = record(&s, order_input("1001", "PAID")).await;
    assert_ne!(
        paid["sync"]["status"], "NOT_SYNCED",
        "the answer means the job exists"
    );
    let o = settled(&s, "1001").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let so = sales_orders_for(&sim, "XC-1001");
    assert_eq!(so.len(), 1);
    let so = &so[0];
    assert_eq!(o["sync"]["salesOrderNbr"], so["OrderNbr"]);
    assert_eq!(o["sync"]["salesOrderType"], "SO");
    assert_eq!(so["ExternalRef"], "XC-1001");
    assert_eq!(so["Hold"], false);
    assert_eq!(so["Status"], "Open");
    assert_eq!(so["CurrencyID"], "USD");
    assert_eq!(so["ShipToAddressOverride"], true);
    assert_eq!(so["ShipToAddress"]["City"], "Kirkland");
    let lines = so["Details"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    // The store's prices are kept (ManualPrice), not Acumatica's DefaultPrice (30.00).
    assert_eq!(lines[0]["InventoryID"], "AALEGO500");
    assert_eq!(dec(&lines[0]["UnitPrice"]), d("10.25"));
    assert_eq!(
        lines[0]["WarehouseID"], "RETAIL",
        "the Default Warehouse setting"
    );
    assert_eq!(
        lines[1]["WarehouseID"], "WHOLESALE",
        "the line's own warehouse"
    );
    // The 1.50 discount split in proportion (20.50 : 500.00), adding up to the cent.
    assert_eq!(
        dec(&lines[0]["DiscountAmount"]) + dec(&lines[1]["DiscountAmount"]),
        d("1.50")
    );
    assert_eq!(dec(&lines[0]["DiscountAmount"]), d("0.06"));
    assert_eq!(dec(&so["Totals"]["Freight"]), d("5.00"));
    assert_eq!(dec(&so["Totals"]["LineTotalAmount"]), d("519.00"));
    assert_eq!(o["sync"]["warnings"], json!([]), "totals match");
    // Updating the synced order does not enqueue again.
    record(&s, order_input("1001", "PAID")).await;
    let again = s.data(ORDER, json!({"n": "1001"})).await["order"].clone();
    assert_eq!(again["sync"]["jobs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn manual_mode_syncs_on_request_only() {
    let (s, sim) = connected().await;
    s.data(SAVE, json!({"input": {"orderSyncMode": "MANUAL_ONLY"}}))
        .await;
    record(&s, order_input("2001", "PAID")).await;
    record(&s, order_input("2002", "PAID")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        s.data(ORDER, json!({"n": "2001"})).await["order"]["sync"]["status"],
        "NOT_SYNCED"
    );

    let bad = s
        .gql(
            "mutation { syncOrders(numbers: [\"2001\", \"nope\"]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "NOT_FOUND", "{bad}");
    let after = s.data(ORDER, json!({"n": "2001"})).await["order"].clone();
    assert_eq!(
        after["sync"]["jobs"],
        json!([]),
        "an unknown number fails the whole call"
    );
    let one = s
        .gql("mutation { syncOrder(number: \"nope\") { id } }", json!({}))
        .await;
    assert_eq!(one["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let jobs = s
        .data(
            "mutation { syncOrders(numbers: [\"2001\", \"2002\"]) { id kind orderNumber } }",
            json!({}),
        )
        .await;
    assert_eq!(jobs["syncOrders"].as_array().unwrap().len(), 2);
    assert_eq!(settled(&s, "2001").await["sync"]["status"], "SYNCED");
    assert_eq!(settled(&s, "2002").await["sync"]["status"], "SYNCED");
    assert_eq!(sales_orders_for(&sim, "2001").len(), 1);

    // Re-sync confirms the link: no second Sales Order, no second create.
    let creates = sim.counters().count("PUT SalesOrder");
    let job = s
        .data("mutation { syncOrder(number: \"2001\") { id } }", json!({}))
        .await;
    let id = job["syncOrder"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.wait_job(&id, |j| j["status"] == "SUCCEEDED"
            || j["status"] == "FAILED")
            .await["status"],
        "SUCCEEDED"
    );
    assert_eq!(sales_orders_for(&sim, "2001").len(), 1);
    assert_eq!(sim.counters().count("PUT SalesOrder"), creates);
    let o = settled(&s, "2001").await;
    assert_eq!(o["sync"]["status"], "SYNCED");
    assert_eq!(o["sync"]["jobs"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn orders_wait_for_a_connection_without_using_attempts() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    record(&s, order_input("3001", "PAID")).await;
    let waiting = s
        .wait_for("{ jobs(filter: {kind: SYNC_ORDER}) { edges { node { id status attempts waitingFor } } } }", |d| {
            d["jobs"]["edges"][0]["node"]["waitingFor"].is_string()
        })
        .await;
    let job = &waiting["jobs"]["edges"][0]["node"];
    assert_eq!(job["status"], "QUEUED");
    assert_eq!(job["attempts"], 0);
    assert_eq!(
        s.data(ORDER, json!({"n": "3001"})).await["order"]["sync"]["status"],
        "QUEUED"
    );
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let o = settled(&s, "3001").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(o["sync"]["jobs"][0]["attempts"], 1);
}

#[tokio::test]
async fn an_order_refunded_while_its_automatic_sync_waited_is_not_sent() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    record(&s, order_input("3101", "PAID")).await;
    record(&s, order_input("3101", "REFUNDED")).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let o = settled(&s, "3101").await;
    assert_eq!(o["sync"]["status"], "FAILED");
    assert_eq!(o["sync"]["jobs"][0]["status"], "CANCELED");
    assert!(
        o["sync"]["lastError"]
            .as_str()
            .unwrap()
            .contains("no longer paid"),
        "{o:#}"
    );
    assert!(sales_orders_for(&sim, "3101").is_empty());
    // Paid again: the automatic sync starts again.
    record(&s, order_input("3101", "PAID")).await;
    let o = settled(&s, "3101").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(o["sync"]["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(sales_orders_for(&sim, "3101").len(), 1);
}

#[tokio::test]
async fn customers_are_matched_by_email_then_profile_id_or_created() {
    let (s, sim) = connected().await;
    // An existing customer, by email.
    record(
        &s,
        with_email(order_input("4001", "PAID"), "jane.doe@example.com"),
    )
    .await;
    assert_eq!(
        settled(&s, "4001").await["sync"]["customerId"],
        "WEBJANEDOE"
    );
    // No email match: the profile ID as CustomerID.
    let mut input = with_email(order_input("4002", "PAID"), "nobody@example.com");
    input["profileId"] = json!("ABCSTUDIOS");
    record(&s, input).await;
    assert_eq!(
        settled(&s, "4002").await["sync"]["customerId"],
        "ABCSTUDIOS"
    );
    // Neither: a new customer from the billing address, with the customer class.
    s.data(SAVE, json!({"input": {"customerClass": "ECOMMERCE"}}))
        .await;
    let before = sim.customers().len();
    let mut input = with_email(order_input("4003", "PAID"), "new.buyer@example.com");
    input["profileId"] = json!("777");
    record(&s, input).await;
    let o = settled(&s, "4003").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let id = o["sync"]["customerId"].as_str().unwrap().to_owned();
    let customers = sim.customers();
    assert_eq!(customers.len(), before + 1);
    let created = customers
        .iter()
        .find(|c| c["CustomerID"] == id.as_str())
        .unwrap();
    assert_eq!(created["CustomerName"], "Ann Buyer");
    assert_eq!(created["CustomerClass"], "ECOMMERCE");
    assert_eq!(created["MainContact"]["Email"], "new.buyer@example.com");
    // The same buyer again: the map answers, no new customer, one request in all.
    let requests = sim.counters().total;
    let mut input = with_email(order_input("4004", "PAID"), "new.buyer@example.com");
    input["profileId"] = json!("777");
    record(&s, input).await;
    assert_eq!(settled(&s, "4004").await["sync"]["customerId"], id.as_str());
    assert_eq!(sim.customers().len(), before + 1);
    assert_eq!(
        sim.counters().total - requests,
        1,
        "steady state: one request per order"
    );
}

#[tokio::test]
async fn phone_falls_back_to_email_and_two_matches_warn() {
    let (s, _sim) = connected().await;
    s.data(SAVE, json!({"input": {"customerIdSource": "PHONE"}}))
        .await;
    // Every seeded customer has this phone: the first by CustomerID is used, with a warning.
    let mut input = order_input("5001", "PAID");
    input["phone"] = json!("+1 (425) 555-0100");
    input["billingAddress"]["phone"] = json!("+1 (425) 555-0100");
    record(&s, input).await;
    let o = settled(&s, "5001").await;
    assert_eq!(o["sync"]["customerId"], "ABARTENDE");
    let warning = o["sync"]["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("ABCSTUDIOS") && warning.contains("ABARTENDE"),
        "{warning}"
    );
    // An unknown phone falls back to the email.
    let mut input = with_email(order_input("5002", "PAID"), "office@abcstudios.example");
    input["phone"] = json!("+1 999 000 0000");
    input["billingAddress"]["phone"] = json!("+1 999 000 0000");
    record(&s, input).await;
    assert_eq!(
        settled(&s, "5002").await["sync"]["customerId"],
        "ABCSTUDIOS"
    );
}

#[tokio::test]
async fn a_new_customer_under_phone_matching_costs_one_look_up() {
    let (s, sim) = connected().await;
    s.data(SAVE, json!({"input": {"customerIdSource": "PHONE"}}))
        .await;
    let mut input = with_email(order_input("5101", "PAID"), "first.time@example.com");
    input["phone"] = json!("+1 999 000 1111");
    input["billingAddress"]["phone"] = json!("+1 999 000 1111");
    input["profileId"] = json!("880011");
    sim.reset_counters();
    record(&s, input).await;
    let o = settled(&s, "5101").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let counters = sim.counters();
    assert_eq!(
        counters.count("GET Customer"),
        1,
        "phone, email and profile ID in one $filter: {:?}",
        counters.by_request
    );
    assert_eq!(counters.count("PUT Customer"), 1);
}

#[tokio::test]
async fn a_tenant_numbering_customers_manually_gets_a_derived_customer_id() {
    let (s, sim) = connected().await;
    sim.update_faults(|f| f.manual_customer_ids = true);
    let before = sim.customers().len();
    let mut input = with_email(order_input("5201", "PAID"), "zoe.manual@example.com");
    input["profileId"] = Value::Null;
    record(&s, input).await;
    let o = settled(&s, "5201").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let id = o["sync"]["customerId"].as_str().unwrap();
    assert!(id.starts_with("ZOEM") && id.len() == 10, "{id}");
    assert!(
        o["sync"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("numbers customers manually")),
        "{o:#}"
    );
    assert_eq!(sim.customers().len(), before + 1);
    assert!(sim.customers().iter().any(|c| c["CustomerID"] == id));
}

#[tokio::test]
async fn profile_id_setting_without_a_profile_fails_with_a_reason() {
    let (s, sim) = connected().await;
    s.data(SAVE, json!({"input": {"customerIdSource": "PROFILE_ID"}}))
        .await;
    let mut input = order_input("6001", "PAID");
    input["profileId"] = Value::Null;
    record(&s, input).await;
    let o = settled(&s, "6001").await;
    assert_eq!(o["sync"]["status"], "FAILED");
    assert_eq!(
        o["sync"]["jobs"][0]["attempts"], 1,
        "permanent: not retried"
    );
    assert!(
        o["sync"]["lastError"]
            .as_str()
            .unwrap()
            .contains("no profile ID"),
        "{o:#}"
    );
    assert!(sales_orders_for(&sim, "6001").is_empty());
}

#[tokio::test]
async fn missing_items_fail_or_are_created() {
    let (s, sim) = connected().await;
    let mut input = order_input("7001", "PAID");
    input["items"] = json!([
        {"sku": "NEW-1", "name": "New one", "price": "10.00", "quantity": 1},
        {"sku": "NEW-2", "name": "New two", "price": "500.00", "quantity": 1},
        {"sku": "AALEGO500", "name": "Lego", "price": "10.50", "quantity": 1}
    ]);
    record(&s, input.clone()).await;
    let o = settled(&s, "7001").await;
    assert_eq!(o["sync"]["status"], "FAILED");
    let error = o["sync"]["lastError"].as_str().unwrap();
    assert!(
        error.contains("NEW-1") && error.contains("NEW-2") && !error.contains("AALEGO500"),
        "{error}"
    );
    assert!(sales_orders_for(&sim, "7001").is_empty());

    s.data(
        SAVE,
        json!({"input": {"createNewProducts": true, "itemClass": "APPAREL", "taxCategoryId": "EXEMPT", "warehouseId": "ECOMMERCE"}}),
    )
    .await;
    let job = s
        .data("mutation { syncOrder(number: \"7001\") { id } }", json!({}))
        .await;
    assert!(job["syncOrder"]["id"].is_string());
    let o = settled(&s, "7001").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let created = sim
        .stock_items()
        .into_iter()
        .find(|i| i["InventoryID"] == "NEW-1")
        .expect("NEW-1 created");
    assert_eq!(created["Description"], "New one");
    assert_eq!(created["ItemClass"], "APPAREL");
    assert_eq!(created["TaxCategory"], "EXEMPT");
    assert_eq!(created["DefaultWarehouseID"], "ECOMMERCE");
    assert_eq!(dec(&created["DefaultPrice"]), d("10.00"));
    assert_eq!(sales_orders_for(&sim, "7001").len(), 1);
}

#[tokio::test]
async fn rounding_differences_become_a_warning_and_changes_after_sync_are_flagged() {
    let (s, _sim) = connected().await;
    let mut input = order_input("8001", "PAID");
    // Five lines priced to the fourth decimal: Acumatica rounds each line to the cent.
    input["items"] = json!(
        (0..5)
            .map(|_| json!({"sku": "APJAM08", "name": "Jam", "price": "1.0055", "quantity": 1}))
            .collect::<Vec<_>>()
    );
    input["shippingCost"] = json!("0");
    input["discountTotal"] = json!("0");
    input["taxTotal"] = json!("0");
    input["total"] = json!("5.03");
    record(&s, input.clone()).await;
    let o = settled(&s, "8001").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let warnings = o["sync"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("line total")),
        "{warnings:?}"
    );

    input["items"][0]["quantity"] = json!(2);
    input["total"] = json!("6.03");
    let changed = record(&s, input).await;
    assert_eq!(changed["sync"]["status"], "SYNCED");
    let o = s.data(ORDER, json!({"n": "8001"})).await["order"].clone();
    assert!(
        o["sync"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("changed after sync")),
        "{o:#}"
    );
}

#[tokio::test]
async fn the_store_number_as_order_nbr_makes_the_create_idempotent() {
    let (s, sim) = connected().await;
    sim.update_faults(|f| f.manual_order_numbers = true);
    s.data(
        SAVE,
        json!({"input": {"useStoreNumberAsOrderNbr": true, "orderNumberPrefix": "WEB"}}),
    )
    .await;
    record(&s, order_input("9001", "PAID")).await;
    let o = settled(&s, "9001").await;
    assert_eq!(o["sync"]["salesOrderNbr"], "WEB9001", "{o:#}");
    assert_eq!(sales_orders_for(&sim, "WEB9001").len(), 1);
}

#[tokio::test]
async fn profile_id_creates_the_customer_under_that_id_or_remembers_a_renumbered_one() {
    let (s, sim) = connected().await;
    s.data(SAVE, json!({"input": {"customerIdSource": "PROFILE_ID"}}))
        .await;
    let mut input = with_email(order_input("6101", "PAID"), "p1@example.com");
    input["profileId"] = json!("500123");
    record(&s, input).await;
    assert_eq!(settled(&s, "6101").await["sync"]["customerId"], "500123");
    assert!(sim.customers().iter().any(|c| c["CustomerID"] == "500123"));

    // An instance that renumbers what it is sent: the answer is remembered and reused.
    sim.update_faults(|f| f.renumber_customer_ids = true);
    let mut input = with_email(order_input("6102", "PAID"), "p2@example.com");
    input["profileId"] = json!("500124");
    record(&s, input.clone()).await;
    let o = settled(&s, "6102").await;
    let id = o["sync"]["customerId"].as_str().unwrap().to_owned();
    assert_ne!(id, "500124", "{o:#}");
    let customers = sim.customers().len();
    input["number"] = json!("6103");
    record(&s, input).await;
    assert_eq!(settled(&s, "6103").await["sync"]["customerId"], id.as_str());
    assert_eq!(
        sim.customers().len(),
        customers,
        "no second customer for one profile"
    );
}

/// An unanswered create is looked up before any new one, and two Sales Orders found for one
/// store order fail the sync naming both (never a third).
#[tokio::test]
async fn an_unanswered_create_is_looked_up_and_two_found_fail_naming_both() {
    use acumatica_bridge::acumatica::{Client, PutMode, Query, SalesOrder, SalesOrderDetail};
    let sim = sim_with_tokens(3600).await;
    let mut options = crate::common::Options::default();
    options
        .env
        .retain(|(k, _)| k != "BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS");
    options
        .env
        .push(("BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS".into(), "1500".into()));
    let s = Service::start_with(crate::common::DataDir::new(), options).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    // Every write is saved, then answered too late (after the bridge's 1 s timeout).
    sim.update_faults(|f| f.stall_writes_ms = Some(1300));
    record(&s, order_input("9901", "PAID")).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sales_orders_for(&sim, "9901").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stalled create never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    sim.update_faults(|f| f.stall_writes_ms = None);
    // Meanwhile somebody (or a request that waited in Acumatica's queue) adds a second one.
    let client = Client::new(sim.client_config()).unwrap();
    let customer = sales_orders_for(&sim, "9901")[0]["CustomerID"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = SalesOrder {
        order_type: Some("SO".into()),
        customer_id: Some(customer),
        customer_order: Some("9901".into()),
        details: Some(vec![SalesOrderDetail {
            inventory_id: Some("AALEGO500".into()),
            order_qty: Some(1.into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    client
        .put(&second, PutMode::Upsert, &Query::new())
        .await
        .unwrap();
    let o = settled(&s, "9901").await;
    assert_eq!(o["sync"]["status"], "FAILED", "{o:#}");
    let error = o["sync"]["lastError"].as_str().unwrap().to_owned();
    let numbers: Vec<String> = sales_orders_for(&sim, "9901")
        .iter()
        .map(|so| so["OrderNbr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 2, "never a third");
    assert!(
        numbers.iter().all(|n| error.contains(n.as_str())),
        "{error} names {numbers:?}"
    );
}

/// During an outage sync jobs wait without using up attempts, and run when Acumatica answers
/// again (woken by the bridge's probe, not by polling jobs).
#[tokio::test]
async fn an_outage_is_waited_out_without_using_attempts() {
    let (s, sim) = connected().await;
    sim.go_offline().await;
    record(&s, order_input("9801", "PAID")).await;
    let q = "{ order(number: \"9801\") { sync { status jobs { status attempts waitingFor } } } }";
    let waiting = s
        .wait_for(q, |d| {
            d["order"]["sync"]["jobs"][0]["waitingFor"].is_string()
        })
        .await;
    let job = &waiting["order"]["sync"]["jobs"][0];
    assert_eq!(job["status"], "QUEUED", "{waiting:#}");
    assert_eq!(job["attempts"], 0, "an outage uses no attempt");
    assert!(
        job["waitingFor"].as_str().unwrap().contains("reachable"),
        "{job}"
    );
    assert_eq!(waiting["order"]["sync"]["status"], "QUEUED");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    sim.go_online().await.unwrap();
    let o = settled(&s, "9801").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(o["sync"]["jobs"][0]["attempts"], 1);
    assert_eq!(sales_orders_for(&sim, "9801").len(), 1);
}

#[tokio::test]
async fn subscribers_follow_an_orders_sync_state() {
    let (s, _sim) = connected().await;
    let mut ws = s.ws(Some(&s.token)).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.subscribe(
        "o",
        r#"subscription { orderUpdates(number: "9701") { sync { status salesOrderNbr } } }"#,
        json!({}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    record(&s, order_input("9701", "PAID")).await;
    let mut seen = vec![];
    while seen.last().map(String::as_str) != Some("SYNCED") {
        let m = ws.next().await;
        let sync = &m["payload"]["data"]["orderUpdates"]["sync"];
        let status = sync["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{m}"))
            .to_owned();
        if status == "SYNCED" {
            assert!(sync["salesOrderNbr"].is_string(), "{m}");
        }
        if seen.last() != Some(&status) {
            seen.push(status);
        }
    }
    assert_eq!(seen.first().map(String::as_str), Some("QUEUED"), "{seen:?}");
    assert!(seen.contains(&"SYNCING".to_owned()), "{seen:?}");
}

/// The customer map is a hint: when Acumatica refuses the remembered customer (deleted there),
/// the sync forgets it, looks again, and creates the customer anew.
#[tokio::test]
async fn a_customer_deleted_in_acumatica_is_forgotten_and_created_again() {
    let (s, sim) = connected().await;
    record(
        &s,
        with_email(order_input("9601", "PAID"), "gone@example.com"),
    )
    .await;
    let first = settled(&s, "9601").await["sync"]["customerId"].clone();
    assert!(first.is_string());
    let http = reqwest::Client::new();
    let deleted = http
        .delete(format!("{}/_sim/records/Customer", sim.root_url()))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    record(
        &s,
        with_email(order_input("9602", "PAID"), "gone@example.com"),
    )
    .await;
    let o = settled(&s, "9602").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    assert_eq!(
        o["sync"]["jobs"][0]["attempts"], 2,
        "one refused attempt, then the retry: {o:#}"
    );
    let customers = sim.customers();
    assert_eq!(customers.len(), 1, "created again");
    assert_eq!(o["sync"]["customerId"], customers[0]["CustomerID"]);
}

#[tokio::test]
async fn the_order_date_is_the_day_in_the_erp_time_zone() {
    let (s, sim) = connected().await;
    let bad = s
        .gql(
            SAVE,
            json!({"input": {"orderDateTimeZone": "Mars/Olympus"}}),
        )
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["field"], "input.orderDateTimeZone",
        "{bad}"
    );
    s.data(
        SAVE,
        json!({"input": {"orderDateTimeZone": "Europe/Berlin"}}),
    )
    .await;
    // Placed at 00:30 in Berlin: 23:30 the day before in UTC.
    let mut input = order_input("TZ-1", "PAID");
    input["placedAt"] = json!("2026-01-31T00:30:00+01:00");
    record(&s, input).await;
    assert_eq!(settled(&s, "TZ-1").await["sync"]["status"], "SYNCED");
    let so = &sales_orders_for(&sim, "TZ-1")[0];
    let date = so["Date"].as_str().unwrap_or_default();
    assert!(date.starts_with("2026-01-31"), "{so:#}");
}
