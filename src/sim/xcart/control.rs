//! The X-Cart simulator's control API, under `/_sim/` (no authentication: a test and demo
//! tool that listens on loopback):
//!
//! | request | what |
//! |---|---|
//! | `GET /_sim/orders`, `POST /_sim/orders` | the orders as the API shows them; place one (JSON, every field optional: `order_number`, `date` (unix seconds), `email`, `customer_id`, `guest`, `currency`, `payment_code`, `payment_method_name`, `billing_address`, `shipping_address`, `items` [{`sku`, `name`, `price` "30.00", `amount`}], `surcharges` [{`type`, `code`, `value` "-5.00", `include`}]) |
//! | `POST /_sim/orders/{number}/payment_status` | `{"code": "P"}`: sets the payment status and bumps `lastRenewDate` |
//! | `POST /_sim/revoke-token` | both API tokens stop working (401) |
//! | `PUT /_sim/token` | `{"read_token": "…", "write_token": "…"}`: new tokens |
//! | `GET /_sim/counters`, `DELETE /_sim/counters` | API requests with query, status and time; reset |
//! | `GET /_sim/faults`, `PUT /_sim/faults` | `latency_ms`, `rate_500`, `fail_next`, `last_renew_filters` |
//! | `POST /_sim/reset` | no orders, tokens back to the configured ones, counters cleared |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::state::{Faults, NewSimOrder};

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/orders", get(orders).post(add_order))
        .route("/_sim/orders/{number}/payment_status", post(payment_status))
        .route("/_sim/revoke-token", post(revoke))
        .route("/_sim/token", put(set_token))
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/faults", get(faults).put(set_faults))
        .route("/_sim/reset", post(reset))
}

async fn orders(State(s): State<Arc<Shared>>) -> Json<Vec<Value>> {
    Json(s.lock().orders.iter().map(|o| o.output()).collect())
}

async fn add_order(State(s): State<Arc<Shared>>, Json(new): Json<NewSimOrder>) -> Response {
    match s.lock().add_order(new) {
        Ok(o) => (StatusCode::CREATED, Json(o.output())).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"message": e}))).into_response(),
    }
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

async fn payment_status(
    State(s): State<Arc<Shared>>,
    Path(number): Path<String>,
    Json(c): Json<Code>,
) -> Response {
    match s.lock().set_payment_status(&number, &c.code) {
        Ok(o) => Json(o.output()).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"message": e}))).into_response(),
    }
}

async fn revoke(State(s): State<Arc<Shared>>) -> StatusCode {
    let mut st = s.lock();
    st.read_token = None;
    st.write_token = None;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Tokens {
    read_token: Option<String>,
    write_token: Option<String>,
}

async fn set_token(State(s): State<Arc<Shared>>, Json(t): Json<Tokens>) -> StatusCode {
    let mut st = s.lock();
    st.read_token = t.read_token;
    st.write_token = t.write_token;
    StatusCode::NO_CONTENT
}

async fn counters(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    Json(s.lock().counters.clone())
}

async fn reset_counters(State(s): State<Arc<Shared>>) -> StatusCode {
    s.lock().reset_counters();
    StatusCode::NO_CONTENT
}

async fn faults(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    Json(s.lock().faults.clone())
}

async fn set_faults(State(s): State<Arc<Shared>>, Json(f): Json<Faults>) -> impl IntoResponse {
    s.lock().faults = f.clone();
    Json(f)
}

async fn reset(State(s): State<Arc<Shared>>) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}
