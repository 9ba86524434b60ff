//! Money in the API's answers: every amount is written at its currency's scale (USD two decimal
//! places, JPY none), whatever scale `recordOrder` was given; digits that rounding would change
//! are kept. (An imported X-Cart order is checked in `xcart.rs`.)

use serde_json::json;

use crate::common::{RECORD_ORDER, Service, order_input};

const READ: &str = "query($n: String!) { order(number: $n) { total shippingCost discountTotal taxTotal items { price } } }";

#[tokio::test]
async fn amounts_are_answered_at_their_currency_scale() {
    let s = Service::start().await;

    let mut usd = order_input("M1", "QUEUED");
    usd["items"] = json!([{"sku": "AALEGO500", "name": "Lego", "price": "10.1250", "quantity": 2}]);
    usd["shippingCost"] = json!("5");
    usd["discountTotal"] = json!("0.0");
    usd["taxTotal"] = json!("0");
    usd["total"] = json!("25.25");
    let o = &s.data(RECORD_ORDER, json!({"input": usd})).await["recordOrder"];
    assert_eq!(o["total"], "25.25");
    assert_eq!(o["shippingCost"], "5.00");
    assert_eq!(o["discountTotal"], "0.00");
    assert_eq!(o["taxTotal"], "0.00");
    assert_eq!(
        o["items"][0]["price"], "10.125",
        "a price finer than cents keeps its digits (never rounded away), without trailing zeros"
    );

    let mut jpy = order_input("M2", "QUEUED");
    jpy["currency"] = json!("JPY");
    jpy["items"] = json!([{"sku": "AALEGO500", "name": "Lego", "price": "1000.00", "quantity": 2}]);
    jpy["shippingCost"] = json!("500.0");
    jpy["discountTotal"] = json!("0");
    jpy["taxTotal"] = json!("0.00");
    jpy["total"] = json!("2500.00");
    s.data(RECORD_ORDER, json!({"input": jpy})).await;
    let o = &s.data(READ, json!({"n": "M2"})).await["order"];
    assert_eq!(
        o,
        &json!({"total": "2500", "shippingCost": "500", "discountTotal": "0", "taxTotal": "0",
                "items": [{"price": "1000"}]}),
        "yen have no minor unit"
    );

    let listed = s
        .data(
            "{ orders(first: 10, filter: {search: \"M1\"}) { edges { node { total shippingCost } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["orders"]["edges"][0]["node"],
        json!({"total": "25.25", "shippingCost": "5.00"})
    );
}
