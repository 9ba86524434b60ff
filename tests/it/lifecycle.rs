//! An order's life after the Sales Order, in both simulators over raw HTTP: payments applied to
//! an order (a `Payment` PUT or the order's `Payments` detail) leave its unpaid balance at 0 and
//! are released once; shipments made through `POST /_sim/shipments` are listed by
//! `LastModifiedDateTime`; `CancelSalesOrder` is refused once an order has shipped; the faults
//! strike actions as they strike PUTs; X-Cart takes shipping status and tracking numbers with the
//! read/write token only. Through the service: a PAID order's payment travels inside its one
//! Sales Order write (once the payment settings are complete), and a lost answer never makes a
//! second payment.

use acumatica_bridge::sim::acumatica::{Faults, RunningSim, SimConfig, Simulator};
use acumatica_bridge::sim::xcart;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    acumatica_bridge::init_crypto();
    reqwest::Client::new()
}

/// A simulator and a signed-in client of it.
struct Sim {
    sim: RunningSim,
    token: String,
}

impl Sim {
    async fn start() -> Sim {
        let sim = Simulator::start(SimConfig::default())
            .await
            .expect("the simulator starts");
        let token = crate::acumatica::simulator::token(&sim).await;
        Sim { sim, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/entity/Default/24.200.001/{path}", self.sim.base_url())
    }

    async fn put(&self, entity: &str, body: Value) -> (u16, Value) {
        let r = http()
            .put(self.url(entity))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn action(&self, path: &str, entity: Value) -> (u16, Value) {
        let r = http()
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&json!({"entity": entity, "parameters": {}}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        http()
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn ship(&self, nbr: &str, tracking: &[&str]) -> reqwest::Response {
        http()
            .post(format!("{}/_sim/shipments", self.sim.root_url()))
            .json(&json!({"orderType": "SO", "orderNbr": nbr, "trackingNumbers": tracking, "confirmed": true}))
            .send()
            .await
            .unwrap()
    }

    /// A Sales Order of two AALEGO500 at 30.00 for ABCSTUDIOS (total 60.00), off hold.
    async fn order(&self, extra: Value) -> Value {
        let mut body = json!({"CustomerID": {"value": "ABCSTUDIOS"}, "Hold": {"value": false},
            "Details": [{"InventoryID": {"value": "AALEGO500"}, "OrderQty": {"value": 2},
                         "UnitPrice": {"value": 30}, "ManualPrice": {"value": true}}]});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        let (status, order) = self.put("SalesOrder?$expand=Payments,Totals", body).await;
        assert_eq!(status, 200, "{order}");
        order
    }

    fn stored(&self, entity: &str, field: &str, value: &str) -> Value {
        self.sim
            .records(entity)
            .into_iter()
            .find(|r| r[field] == value)
            .unwrap_or(Value::Null)
    }
}

fn v(x: &Value) -> Value {
    x["value"].clone()
}

#[tokio::test]
async fn a_payment_applied_to_an_order_leaves_no_balance_and_is_released_once() {
    let s = Sim::start().await;
    let order = s.order(json!({})).await;
    let nbr = v(&order["OrderNbr"]).as_str().unwrap().to_string();
    assert_eq!(v(&order["Totals"]["UnpaidBalance"]), json!(60.0));

    // A cash account the method does not allow, and too much applied: 422, nothing saved.
    let (status, body) = s
        .put(
            "Payment",
            json!({"CustomerID": {"value": "ABCSTUDIOS"}, "PaymentMethod": {"value": "CHECK"},
               "CashAccount": {"value": "10250"}, "PaymentAmount": {"value": 60},
               "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": nbr},
                                  "AppliedToOrder": {"value": 70}}]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["CashAccount"]["error"].is_string(), "{body}");
    assert!(
        body["OrdersToApply"][0]["AppliedToOrder"]["error"].is_string(),
        "{body}"
    );
    assert!(s.sim.records("Payment").is_empty());

    let (status, payment) = s
        .put(
            "Payment?$expand=OrdersToApply",
            json!({"CustomerID": {"value": "ABCSTUDIOS"}, "PaymentMethod": {"value": "CREDITCARD"},
               "CashAccount": {"value": "10250"}, "PaymentAmount": {"value": "60.00"},
               "PaymentRef": {"value": "TXN-1"},
               "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": nbr}}]}),
        )
        .await;
    assert_eq!(status, 200, "{payment}");
    assert_eq!(v(&payment["Type"]), "Prepayment");
    assert_eq!(v(&payment["Status"]), "Balanced");
    assert_eq!(
        v(&payment["OrdersToApply"][0]["AppliedToOrder"]),
        json!(60.0)
    );
    let reference = v(&payment["ReferenceNbr"]).as_str().unwrap().to_string();

    let order = s
        .get(&format!("SalesOrder/SO/{nbr}?$expand=Payments,Totals"))
        .await;
    assert_eq!(v(&order["Totals"]["UnpaidBalance"]), json!(0.0), "{order}");
    assert_eq!(v(&order["Payments"][0]["ReferenceNbr"]), json!(reference));
    assert_eq!(v(&order["Payments"][0]["PaymentRef"]), "TXN-1");

    // Found again by its reference, as a retry would look it up.
    let found = s
        .get("Payment?$filter=PaymentRef eq 'TXN-1' and CustomerID eq 'ABCSTUDIOS'")
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");

    let key = json!({"Type": {"value": "Prepayment"}, "ReferenceNbr": {"value": reference}});
    let (status, _) = s.action("Payment/ReleasePayment", key.clone()).await;
    assert_eq!(status, 204);
    assert_eq!(
        s.stored("Payment", "ReferenceNbr", &reference)["Status"],
        "Open"
    );
    let (status, body) = s.action("Payment/ReleasePayment", key).await;
    assert_eq!(status, 500);
    assert_eq!(body["exceptionType"], "PX.Data.PXException", "{body}");
    let (status, _) = s
        .action(
            "Payment/ReleasePayment",
            json!({"Type": {"value": "Prepayment"}, "ReferenceNbr": {"value": "999999"}}),
        )
        .await;
    assert_eq!(status, 500);
    let (status, _) = s.action("Payment/NoSuchAction", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_payment_in_the_sales_order_request_is_one_write() {
    let s = Sim::start().await;
    let bad = json!({"CustomerID": {"value": "ABCSTUDIOS"}, "Hold": {"value": false},
        "Details": [{"InventoryID": {"value": "AALEGO500"}, "OrderQty": {"value": 1}}],
        "Payments": [{"PaymentMethod": {"value": "NOSUCH"}, "CashAccount": {"value": "10100"},
                      "PaymentAmount": {"value": 30}}]});
    let (status, body) = s.put("SalesOrder", bad).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["Payments"][0]["PaymentMethod"]["error"].is_string(),
        "{body}"
    );
    assert!(s.sim.sales_orders().is_empty() && s.sim.records("Payment").is_empty());

    s.sim.reset_counters();
    let order = s
        .order(json!({"Payments": [{"DocType": {"value": "Prepayment"},
            "PaymentMethod": {"value": "PAYPAL"}, "CashAccount": {"value": "10300"},
            "PaymentAmount": {"value": 60}, "PaymentRef": {"value": "PP-77"}}]}))
        .await;
    assert_eq!(s.sim.counters().count("PUT SalesOrder"), 1);
    assert_eq!(s.sim.counters().total, 1);
    assert_eq!(v(&order["Totals"]["UnpaidBalance"]), json!(0.0), "{order}");
    assert_eq!(v(&order["Payments"][0]["PaymentRef"]), "PP-77");
    assert_eq!(v(&order["Payments"][0]["AppliedToOrder"]), json!(60.0));
    let payments = s.sim.records("Payment");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["CustomerID"], "ABCSTUDIOS");
    assert_eq!(
        payments[0]["OrdersToApply"][0]["OrderNbr"],
        order["OrderNbr"]["value"]
    );
}

#[tokio::test]
async fn shipments_are_listed_by_change_and_stop_a_cancellation() {
    let s = Sim::start().await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let shipped = s.order(json!({})).await;
    let shipped_nbr = v(&shipped["OrderNbr"]).as_str().unwrap().to_string();
    let other = s.order(json!({})).await;
    let other_nbr = v(&other["OrderNbr"]).as_str().unwrap().to_string();

    let r = s.ship(&shipped_nbr, &["1Z999AA10123456784"]).await;
    assert_eq!(r.status(), 201);
    let r = s.ship("999999", &[]).await;
    assert_eq!(r.status(), 409);

    let since = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let list = s
        .get(&format!(
            "Shipment?$filter=Status eq 'Confirmed' and LastModifiedDateTime ge datetimeoffset'{since}'&$expand=Orders,Packages"
        ))
        .await;
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 1);
    assert_eq!(v(&list[0]["Orders"][0]["OrderNbr"]), json!(shipped_nbr));
    assert_eq!(
        v(&list[0]["Packages"][0]["TrackingNbr"]),
        "1Z999AA10123456784"
    );
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = s
        .get(&format!(
            "Shipment?$filter=LastModifiedDateTime ge datetimeoffset'{later}'"
        ))
        .await;
    assert_eq!(none, json!([]));

    let key = |n: &str| json!({"OrderType": {"value": "SO"}, "OrderNbr": {"value": n}});
    let (status, body) = s
        .action("SalesOrder/CancelSalesOrder", key(&shipped_nbr))
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["exceptionMessage"]
            .as_str()
            .unwrap()
            .contains("shipments")
    );
    assert_eq!(
        s.stored("SalesOrder", "OrderNbr", &shipped_nbr)["Status"],
        "Completed"
    );
    let (status, _) = s
        .action("SalesOrder/CancelSalesOrder", key(&other_nbr))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        s.stored("SalesOrder", "OrderNbr", &other_nbr)["Status"],
        "Canceled"
    );
    assert_eq!(s.ship(&other_nbr, &[]).await.status(), 409);
}

#[tokio::test]
async fn actions_meet_the_write_faults() {
    let s = Sim::start().await;
    let a = s.order(json!({})).await;
    let nbr = v(&a["OrderNbr"]).as_str().unwrap().to_string();
    s.sim.set_faults(Faults {
        commit_then_500: 1,
        ..Faults::default()
    });
    let key = json!({"OrderType": {"value": "SO"}, "OrderNbr": {"value": nbr}});
    let (status, _) = s.action("SalesOrder/CancelSalesOrder", key.clone()).await;
    assert_eq!(status, 500);
    assert_eq!(
        s.stored("SalesOrder", "OrderNbr", &nbr)["Status"],
        "Canceled",
        "saved before the failure"
    );
    // Asking again is harmless: the order stays canceled.
    let (status, _) = s.action("SalesOrder/CancelSalesOrder", key).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn payment_methods_list_their_cash_accounts() {
    let s = Sim::start().await;
    let list = s
        .get("PaymentMethod?$expand=AllowedCashAccounts&$filter=UseInAR eq true")
        .await;
    let list = list.as_array().expect("a list");
    let card = list
        .iter()
        .find(|m| v(&m["PaymentMethodID"]) == "CREDITCARD")
        .expect("CREDITCARD");
    let accounts: Vec<Value> = card["AllowedCashAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| v(&a["CashAccount"]))
        .collect();
    assert_eq!(accounts, vec![json!("10250"), json!("10200")]);
}

#[tokio::test]
async fn the_store_takes_shipping_status_and_tracking_with_the_read_write_token() {
    let store = xcart::Simulator::start(xcart::SimConfig::default())
        .await
        .expect("X-Cart simulator");
    let order = store.add_order(xcart::NewSimOrder {
        payment_code: Some("P".into()),
        ..Default::default()
    });
    let base = format!("{}/api/orders/{}", store.store_url(), order.id);
    let write = |token: String, path: &str, body: Value, put: bool| {
        let url = format!("{base}/{path}");
        async move {
            let req = if put {
                http().put(url)
            } else {
                http().post(url)
            };
            req.header("X-Auth-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = write(store.token(), "shipping_status", json!({"code": "S"}), true).await;
    assert_eq!(r.status(), 403);
    let r = write(
        store.token(),
        "tracking_numbers",
        json!({"value": "1Z1"}),
        false,
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(store.orders()[0].shipping_code, "N");

    let r = write(
        store.write_token(),
        "shipping_status",
        json!({"code": "XX"}),
        true,
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = write(
        store.write_token(),
        "shipping_status",
        json!({"code": "S"}),
        true,
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = write(
        store.write_token(),
        "tracking_numbers",
        json!({"value": "1Z999AA10123456784"}),
        false,
    )
    .await;
    assert_eq!(r.status(), 201);

    let shown: Value = http()
        .get(format!("{}/_sim/orders", store.store_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown[0]["shipping_status"]["code"], "S");
    assert_eq!(
        shown[0]["tracking_numbers"][0]["value"],
        "1Z999AA10123456784"
    );
    let read: Value = http()
        .get(format!("{base}/tracking_numbers"))
        .header("X-Auth-Token", store.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read[0]["value"], "1Z999AA10123456784");
}

const SAVE: &str = "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { recordPayments paymentType paymentMethod cashAccount paymentsActive } }";
const PAID_ORDER: &str = "query($n: String!) { order(number: $n) { payments { docType referenceNbr amount appliedToOrder status paymentMethod paymentRef } sync { status unpaidBalance warnings } } }";

#[tokio::test]
async fn a_paid_order_gets_its_payment_inside_the_one_sales_order_write() {
    use crate::common::order_input;
    use crate::sync::{connected, record, settled};
    let _serial = crate::common::HEAVY.lock().await;
    let (s, sim) = connected().await;
    // Off until a method and a cash account are set: no payment.
    let saved = s
        .data(SAVE, json!({"input": {"paymentMethod": "CREDITCARD"}}))
        .await;
    assert_eq!(saved["saveSettings"]["paymentsActive"], false);
    assert_eq!(saved["saveSettings"]["recordPayments"], true);
    record(&s, order_input("2001", "PAID")).await;
    assert_eq!(settled(&s, "2001").await["sync"]["status"], "SYNCED");
    assert!(sim.records("Payment").is_empty());

    let saved = s
        .data(SAVE, json!({"input": {"cashAccount": "10250"}}))
        .await;
    assert_eq!(saved["saveSettings"]["paymentsActive"], true);
    assert_eq!(saved["saveSettings"]["paymentType"], "PREPAYMENT");
    let bad = s
        .gql(SAVE, json!({"input": {"cashAccount": "X".repeat(31)}}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_INPUT", "{bad}");
    sim.reset_counters();
    record(&s, order_input("2002", "PAID")).await;
    let o = settled(&s, "2002").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let writes: u64 = sim
        .counters()
        .by_request
        .iter()
        .filter(|(k, _)| k.starts_with("PUT ") || k.starts_with("POST ") && !k.contains("token"))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(writes, 1, "{:?}", sim.counters().by_request);
    let payments = sim.records("Payment");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["PaymentRef"], "2002");
    assert_eq!(payments[0]["PaymentMethod"], "CREDITCARD");
    assert_eq!(payments[0]["CashAccount"], "10250");
    assert_eq!(payments[0]["PaymentAmount"], "526.0000");
    let so = crate::sync::sales_orders_for(&sim, "2002");
    assert_eq!(so[0]["Totals"]["UnpaidBalance"], "0.0000");

    let shown = s.data(PAID_ORDER, json!({"n": "2002"})).await["order"].clone();
    assert_eq!(shown["sync"]["unpaidBalance"], "0.00", "{shown:#}");
    assert_eq!(shown["payments"][0]["docType"], "Prepayment");
    assert_eq!(shown["payments"][0]["amount"], "526.00");
    assert_eq!(shown["payments"][0]["appliedToOrder"], "524.00");
    assert_eq!(shown["payments"][0]["status"], "Balanced");
    assert_eq!(
        shown["payments"][0]["referenceNbr"],
        payments[0]["ReferenceNbr"]
    );

    // The drop-downs' lists, and a value outside them refused with the field named.
    let l = s
        .data(
            "{ lookups { paymentMethods { id description } cashAccounts { id } } }",
            json!({}),
        )
        .await["lookups"]
        .clone();
    let ids = |list: &str| -> Vec<String> {
        l[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids("paymentMethods"),
        ["CASH", "CHECK", "CREDITCARD", "PAYPAL"]
    );
    assert_eq!(ids("cashAccounts"), ["10100", "10200", "10250", "10300"]);
    let bad = s
        .gql(SAVE, json!({"input": {"paymentMethod": "NOSUCH"}}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_INPUT", "{bad}");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("paymentMethod"),
        "{bad}"
    );
}

#[tokio::test]
async fn a_payment_sent_with_an_answer_lost_is_not_sent_again() {
    use crate::common::order_input;
    use crate::sync::{connected, record, settled};
    let _serial = crate::common::HEAVY.lock().await;
    let (s, sim) = connected().await;
    s.data(
        SAVE,
        json!({"input": {"paymentMethod": "CREDITCARD", "cashAccount": "10250"}}),
    )
    .await;
    sim.update_faults(|f| f.commit_then_500 = 3);
    for n in 0..3 {
        record(&s, order_input(&format!("30{n}"), "PAID")).await;
    }
    for n in 0..3 {
        let o = settled(&s, &format!("30{n}")).await;
        assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    }
    assert_eq!(sim.sales_orders().len(), 3);
    let payments = sim.records("Payment");
    assert_eq!(payments.len(), 3, "one payment per order, none twice");
    for n in 0..3 {
        let shown = s.data(PAID_ORDER, json!({"n": format!("30{n}")})).await["order"].clone();
        assert_eq!(
            shown["payments"].as_array().map(Vec::len),
            Some(1),
            "{shown:#}"
        );
        assert_eq!(shown["sync"]["unpaidBalance"], "0.00");
    }
}
