//! The X-Cart client against hostile or broken stores: a redirect is never followed (the
//! token stays with the store URL), an oversized answer is refused, and orders whose amounts
//! are beyond any bound are rejected while the import goes on.

use std::sync::{Arc, Mutex};

use acumatica_bridge::sim::xcart::{NewSimOrder, SimItem};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde_json::json;

use crate::common::{DataDir, Service};
use crate::xcart::{CONNECT_STORE, STORE, connect_store, start_in, wait_orders, xsim};

/// Serves `router` on a free loopback port; returns its address.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A connectStore to `url` with `token`: the error's field and message.
async fn connect_error(s: &Service, url: &str, token: &str) -> (String, String) {
    let body = s
        .gql(
            CONNECT_STORE,
            json!({"input": {"storeUrl": url, "apiToken": token}}),
        )
        .await;
    let e = &body["errors"][0];
    assert_eq!(e["extensions"]["code"], "BAD_INPUT", "{body}");
    (
        e["extensions"]["field"].as_str().unwrap_or_default().into(),
        e["message"].as_str().unwrap_or_default().into(),
    )
}

#[tokio::test]
async fn a_redirecting_store_never_passes_the_token_on() {
    // The other host records every request it gets, with its headers.
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let record = seen.clone();
    let elsewhere = serve(Router::new().fallback(move |request: Request| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(request.headers().clone());
            (StatusCode::OK, "[]")
        }
    }))
    .await;
    let target = format!("{elsewhere}/api/orders");
    let redirecting = serve(Router::new().fallback(move || {
        let target = target.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
    }))
    .await;

    let s = start_in(DataDir::new()).await;
    let (field, message) = connect_error(&s, &redirecting, "the-store-api-token").await;
    assert_eq!(field, "input.storeUrl");
    assert!(
        message.contains("302") && message.contains("redirect"),
        "{message}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "the redirect was followed: {:?}",
        seen.lock().unwrap()
    );
    assert_eq!(
        s.data(STORE, json!({})).await["storeConnection"]["status"],
        "NOT_CONNECTED"
    );
    assert!(!s.stderr().contains("the-store-api-token"), "token logged");
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    const SIZE: usize = 17 << 20;
    let router = Router::new()
        // With a Content-Length.
        .route(
            "/sized/api/orders",
            axum::routing::get(|| async { format!("[{}]", " ".repeat(SIZE)) }),
        )
        // Streamed, without one.
        .route(
            "/streamed/api/orders",
            axum::routing::get(|| async {
                let chunks = futures::stream::iter(
                    (0..SIZE / 65536)
                        .map(|_| Ok::<_, std::io::Error>(vec![b' '; 65536]))
                        .chain([Ok(b"[]".to_vec())]),
                );
                Response::new(Body::from_stream(chunks))
            }),
        );
    let store = serve(router).await;
    let s = start_in(DataDir::new()).await;
    for path in ["sized", "streamed"] {
        let (field, message) = connect_error(&s, &format!("{store}/{path}"), "token").await;
        assert_eq!(field, "input.storeUrl", "{path}");
        assert!(message.contains("larger than 16 MiB"), "{path}: {message}");
    }
}

#[tokio::test]
async fn orders_beyond_every_bound_are_rejected_and_the_import_goes_on() {
    let sim = xsim(true).await;
    let s = start_in(DataDir::new()).await;
    assert_eq!(connect_store(&s, &sim).await["status"], "CONNECTED");
    let now = chrono::Utc::now().timestamp();
    let item = |sku: &str, price: &str, amount: i64| SimItem {
        sku: sku.into(),
        name: sku.into(),
        price: price.parse().unwrap(),
        amount,
    };
    // Readable, but its price is beyond the bound (10^12).
    sim.add_order(NewSimOrder {
        order_number: Some("HUGE1".into()),
        date: Some(now + 1),
        items: Some(vec![item("A", "5000000000000", 1)]),
        ..Default::default()
    });
    // An amount no decimal holds (the store writes it as 7.9e28): unreadable, and it used to
    // stop the import at its page for good.
    // An amount no decimal holds (the store writes it as 7.9e28): unreadable.
    sim.add_order(NewSimOrder {
        order_number: Some("HUGE2".into()),
        date: Some(now + 2),
        items: Some(vec![item("A", &Decimal::MAX.to_string(), 2)]),
        ..Default::default()
    });
    sim.add_order(NewSimOrder {
        order_number: Some("OK1".into()),
        date: Some(now + 3),
        ..Default::default()
    });
    wait_orders(&s, "the order after the huge ones", |o| {
        o.contains_key("OK1")
    })
    .await;
    let d = s
        .wait_for(STORE, |d| {
            d["storeConnection"]["rejectedOrders"]
                .as_array()
                .is_some_and(|r| r.len() == 2)
        })
        .await;
    let rejected = &d["storeConnection"]["rejectedOrders"];
    let reason = |n: &str| {
        rejected
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["number"] == n)
            .map(|r| r["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{n} not rejected: {rejected}"))
    };
    assert!(
        reason("HUGE1").contains("order.items.0.price") && reason("HUGE1").contains("at most"),
        "{rejected}"
    );
    assert!(reason("HUGE2").contains("could not be read"), "{rejected}");
    // The scheduler lives on and the cursor moved past them.
    sim.add_order(NewSimOrder {
        order_number: Some("OK2".into()),
        date: Some(now + 4),
        ..Default::default()
    });
    let o = wait_orders(&s, "a later order", |o| o.contains_key("OK2")).await;
    assert!(!o.contains_key("HUGE1") && !o.contains_key("HUGE2"));
    assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
}
