//! After the Sales Order, through the service: an order canceled in the store cancels its
//! Sales Order (once, even when Acumatica's answer is lost); one that shipped first becomes
//! NEEDS_ATTENTION and nothing changes in Acumatica; a refund, partial or full, is recorded and
//! needs attention, or with `createRefundCredits` gets one credit memo (also when the create's
//! answer is lost); `resolveAttention` ends it, audited; the list filters NEEDS_ATTENTION.

use serde_json::{Value, json};

use crate::common::{HEAVY, Service, order_input};
use crate::sync::{connected, record, settled};

const ORDER: &str = r#"query($n: String!) { order(number: $n) {
  number paymentStatus total
  refunds { amount refundedTotal at creditMemo { referenceNbr amount status } }
  cancellation { requestedAt canceledAt outcome }
  sync { status salesOrderNbr attention { reason raisedAt } attentionHistory { reason resolvedAt resolution }
         jobs { kind status attempts lastError } }
} }"#;

const RESOLVE: &str = r#"mutation($n: String!, $note: String) {
  resolveAttention(number: $n, note: $note) { sync { status attention { reason } attentionHistory { resolution resolvedAt } } }
}"#;

async fn order(s: &Service, number: &str) -> Value {
    s.data(ORDER, json!({"n": number})).await["order"].clone()
}

/// Polls the order until `done` holds (20 s at most).
async fn wait_order(s: &Service, number: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let o = order(s, number).await;
        if done(&o) {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {number} never got there: {o:#}\n{}",
            s.stderr()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The order's (newest) job of `kind`.
fn job_of<'a>(o: &'a Value, kind: &str) -> Option<&'a Value> {
    o["sync"]["jobs"]
        .as_array()?
        .iter()
        .find(|j| j["kind"] == kind)
}

fn cancel_job(o: &Value) -> Option<&Value> {
    job_of(o, "CANCEL_ORDER")
}

/// Turns credit memos for refunds on.
async fn credits_on(s: &Service) {
    s.data(
        "mutation { saveSettings(input: {createRefundCredits: true}) { createRefundCredits } }",
        json!({}),
    )
    .await;
}

/// Records `number` PAID and waits for its Sales Order; returns its number.
async fn synced(s: &Service, number: &str) -> String {
    record(s, order_input(number, "PAID")).await;
    let o = settled(s, number).await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    o["sync"]["salesOrderNbr"].as_str().unwrap().to_owned()
}

fn sales_order(sim: &acumatica_bridge::sim::acumatica::RunningSim, nbr: &str) -> Value {
    sim.sales_orders()
        .into_iter()
        .find(|so| so["OrderNbr"] == nbr)
        .expect("the Sales Order is in the simulator")
}

#[tokio::test]
async fn a_canceled_order_cancels_its_sales_order_once_even_when_the_answer_is_lost() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    let nbr = synced(&s, "5001").await;
    // The cancel is made, then its answer lost: the retry reads the order and sends nothing.
    sim.update_faults(|f| f.commit_then_500 = 1);
    record(&s, order_input("5001", "CANCELED")).await;
    let o = wait_order(&s, "5001", |o| {
        cancel_job(o).is_some_and(|j| j["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(sales_order(&sim, &nbr)["Status"], "Canceled");
    let c = &o["cancellation"];
    assert!(c["canceledAt"].is_string(), "{o:#}");
    assert!(
        c["outcome"]
            .as_str()
            .unwrap()
            .contains(&format!("SO {nbr} canceled")),
        "{o:#}"
    );
    assert_eq!(cancel_job(&o).unwrap()["attempts"], 2, "{o:#}");
    assert_eq!(o["sync"]["status"], "SYNCED");
    // The simulator counts an action as a POST on its entity.
    let counters = sim.counters();
    assert_eq!(
        counters.count("POST SalesOrder"),
        1,
        "one cancel sent: {:?}",
        counters.by_request
    );
    // Canceled again in the store (C then D): nothing more is sent.
    record(&s, order_input("5001", "DECLINED")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let o = order(&s, "5001").await;
    let jobs = o["sync"]["jobs"].as_array().unwrap();
    assert_eq!(
        jobs.iter().filter(|j| j["kind"] == "CANCEL_ORDER").count(),
        1
    );
}

#[tokio::test]
async fn an_order_canceled_after_it_shipped_needs_attention_until_resolved() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    let nbr = synced(&s, "5002").await;
    let shipped = reqwest::Client::new()
        .post(format!("{}/_sim/shipments", sim.root_url()))
        .json(&json!({"orderType": "SO", "orderNbr": nbr, "trackingNumbers": ["1Z999"], "confirmed": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(shipped.status(), 201);
    record(&s, order_input("5002", "CANCELED")).await;
    let o = wait_order(&s, "5002", |o| o["sync"]["status"] == "NEEDS_ATTENTION").await;
    let reason = o["sync"]["attention"]["reason"].as_str().unwrap();
    assert!(reason.contains("shipped"), "{reason}");
    assert!(
        reason.contains("nothing was changed in Acumatica"),
        "{reason}"
    );
    assert_ne!(sales_order(&sim, &nbr)["Status"], "Canceled");
    assert!(
        !sim.counters()
            .by_request
            .keys()
            .any(|k| k.contains("CancelSalesOrder")),
        "no cancel sent for a shipped order"
    );
    let listed = s
        .data(
            "{ orders(filter: {syncStatus: NEEDS_ATTENTION}) { totalCount edges { node { number } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["orders"]["totalCount"], 1, "{listed:#}");
    assert_eq!(listed["orders"]["edges"][0]["node"]["number"], "5002");

    let done = s
        .data(
            RESOLVE,
            json!({"n": "5002", "note": "return handled in Acumatica"}),
        )
        .await["resolveAttention"]
        .clone();
    assert_eq!(done["sync"]["status"], "SYNCED", "{done:#}");
    assert!(done["sync"]["attention"].is_null());
    assert_eq!(
        done["sync"]["attentionHistory"][0]["resolution"],
        "return handled in Acumatica"
    );
    // Resolving again is refused, naming the field, and changes nothing.
    let again = s.gql(RESOLVE, json!({"n": "5002", "note": "twice"})).await;
    let e = &again["errors"][0];
    assert_eq!(e["extensions"]["field"], "number", "{again:#}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("does not need attention")
    );
    let log = s
        .data(
            "{ auditLog(filter: {action: \"resolveAttention\"}) { totalCount edges { node { summary outcome } } } }",
            json!({}),
        )
        .await;
    assert_eq!(log["auditLog"]["totalCount"], 2, "{log:#}");
    let outcomes: Vec<&Value> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["outcome"])
        .collect();
    assert!(outcomes.contains(&&json!("SUCCEEDED")) && outcomes.contains(&&json!("FAILED")));
}

#[tokio::test]
async fn a_refund_after_sync_is_recorded_and_needs_attention() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    synced(&s, "5003").await;
    let writes_before = sim.counters().total;
    // A partial refund: still PAID, 12.50 refunded.
    let mut partial = order_input("5003", "PAID");
    partial["refundedTotal"] = json!("12.5");
    record(&s, partial).await;
    let o = order(&s, "5003").await;
    assert_eq!(o["sync"]["status"], "NEEDS_ATTENTION", "{o:#}");
    assert_eq!(o["refunds"][0]["amount"], "12.50");
    let reason = o["sync"]["attention"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("refund of 12.50 USD to be handled in Acumatica"),
        "{reason}"
    );
    // The same refund recorded again is not a second one.
    let mut same = order_input("5003", "PAID");
    same["refundedTotal"] = json!("12.50");
    record(&s, same).await;
    assert_eq!(
        order(&s, "5003").await["refunds"].as_array().unwrap().len(),
        1
    );
    // Resolved, then refunded in full: the rest is a second refund, a new attention.
    s.data(RESOLVE, json!({"n": "5003"})).await;
    record(&s, order_input("5003", "REFUNDED")).await;
    let o = order(&s, "5003").await;
    assert_eq!(o["sync"]["status"], "NEEDS_ATTENTION");
    let refunds = o["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2, "{o:#}");
    assert_eq!(refunds[1]["amount"], "513.50");
    assert_eq!(refunds[1]["refundedTotal"], "526.00");
    assert_eq!(o["sync"]["attentionHistory"].as_array().unwrap().len(), 2);
    // Nothing of it is sent to Acumatica.
    assert_eq!(sim.counters().total, writes_before);

    // More refunded than the total: refused, naming the field, nothing changed.
    let mut too_much = order_input("5003", "REFUNDED");
    too_much["refundedTotal"] = json!("600.00");
    let answer = s
        .gql(crate::common::RECORD_ORDER, json!({"input": too_much}))
        .await;
    let e = &answer["errors"][0];
    assert_eq!(
        e["extensions"]["field"], "input.refundedTotal",
        "{answer:#}"
    );
    assert_eq!(
        order(&s, "5003").await["refunds"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn an_order_canceled_before_its_sync_sends_nothing() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    record(&s, order_input("5004", "QUEUED")).await;
    record(&s, order_input("5004", "CANCELED")).await;
    let o = order(&s, "5004").await;
    assert_eq!(o["sync"]["status"], "NOT_SYNCED", "{o:#}");
    assert!(o["cancellation"].is_null());
    assert!(cancel_job(&o).is_none());
    assert!(sim.sales_orders().is_empty());
}

#[tokio::test]
async fn a_canceled_order_whose_payment_was_recorded_needs_attention_for_it() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    s.data(
        "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { paymentsActive } }",
        json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250"}}),
    )
    .await;
    let nbr = synced(&s, "5005").await;
    assert_eq!(sim.records("Payment").len(), 1);
    record(&s, order_input("5005", "CANCELED")).await;
    let o = wait_order(&s, "5005", |o| o["sync"]["status"] == "NEEDS_ATTENTION").await;
    assert_eq!(sales_order(&sim, &nbr)["Status"], "Canceled");
    assert!(o["cancellation"]["canceledAt"].is_string(), "{o:#}");
    let reason = o["sync"]["attention"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "SO {nbr} was canceled, but its payment stays in Acumatica"
        )) && reason.contains("526.00 USD"),
        "{reason}"
    );
}

#[tokio::test]
async fn with_refund_credits_on_each_refund_gets_one_credit_memo_even_when_the_answer_is_lost() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    credits_on(&s).await;
    synced(&s, "5006").await;
    let customer = order(&s, "5006").await;
    assert_eq!(customer["sync"]["status"], "SYNCED");
    // The create is made, then its answer lost: the retry looks it up and creates nothing.
    sim.update_faults(|f| f.commit_then_500 = 1);
    let mut partial = order_input("5006", "PAID");
    partial["refundedTotal"] = json!("12.50");
    record(&s, partial).await;
    let credited = |n: usize| {
        move |o: &Value| {
            o["refunds"]
                .as_array()
                .is_some_and(|r| r.len() == n && r.iter().all(|r| r["creditMemo"].is_object()))
        }
    };
    let o = wait_order(&s, "5006", credited(1)).await;
    assert_eq!(o["sync"]["status"], "SYNCED", "no attention needed: {o:#}");
    let memo = &o["refunds"][0]["creditMemo"];
    assert_eq!(memo["amount"], "12.50", "{o:#}");
    let memos = sim.records("Invoice");
    assert_eq!(memos.len(), 1, "one credit memo: {memos:#?}");
    assert_eq!(memos[0]["Type"], "Credit Memo");
    assert_eq!(memos[0]["ReferenceNbr"], memo["referenceNbr"]);
    let job = job_of(&o, "CREATE_REFUND_CREDIT").unwrap();
    assert_eq!(job["attempts"], 2, "the lost answer was retried: {job:#}");

    // Refunded in full: the rest is a second refund with its own credit memo.
    record(&s, order_input("5006", "REFUNDED")).await;
    let o = wait_order(&s, "5006", credited(2)).await;
    assert_eq!(o["refunds"][1]["creditMemo"]["amount"], "513.50", "{o:#}");
    assert_eq!(sim.records("Invoice").len(), 2);
    assert_eq!(o["sync"]["status"], "SYNCED");
}

#[tokio::test]
async fn a_credit_memo_acumatica_refuses_leaves_the_refund_to_a_person() {
    let _serial = HEAVY.lock().await;
    let (s, sim) = connected().await;
    credits_on(&s).await;
    synced(&s, "5007").await;
    // Acumatica loses the order's customer (the simulator starts over); connected again,
    // the credit memo's create is refused for it.
    sim.reset();
    s.data("mutation { resetConnection { status } }", json!({}))
        .await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    record(&s, order_input("5007", "REFUNDED")).await;
    let o = wait_order(&s, "5007", |o| o["sync"]["status"] == "NEEDS_ATTENTION").await;
    let reason = o["sync"]["attention"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the credit memo for refund 1 could not be created in Acumatica")
            && reason.contains("Customer"),
        "{reason}"
    );
    assert!(o["refunds"][0]["creditMemo"].is_null());
    assert!(sim.records("Invoice").is_empty());
    let job = job_of(&o, "CREATE_REFUND_CREDIT").unwrap();
    assert_eq!(job["status"], "FAILED", "{job:#}");
}
