//! The simulated X-Cart 5.5+ REST API (API Platform), as the team's X-Cart notes (§2.2)
//! describe it:
//!
//! - `GET /api/orders` (also `.json`, `.jsonld`): paging `page` (from 1; below 1 is a 400)
//!   and `itemsPerPage` (default 30, capped at 100), `pagination=false`; filters
//!   `date[after|before|strictly_after|strictly_before]` and, from 5.5.1, the same on
//!   `lastRenewDate` (a date PHP cannot parse is ignored, as API Platform's DateFilter does;
//!   on a 5.5.0 store the `lastRenewDate` filters are ignored); `paymentStatus.code`; sort
//!   `order[date]`, `order[lastRenewDate]` (ties by id). `Accept: application/ld+json` (or
//!   `.jsonld`) gives a Hydra collection with `hydra:totalItems`, else a plain JSON array.
//! - `GET /api/orders/{id}`, `GET /api/orders/by_number/{number}`;
//! - `PUT /api/orders/{id}/payment_status` with `{"code": "P"}` and
//!   `PUT /api/orders/{id}/shipping_status` with `{"code": "S"}` (read/write token only);
//! - `GET /api/orders/{id}/tracking_numbers` and `POST /api/orders/{id}/tracking_numbers` with
//!   `{"value": "1Z…"}` (201 with `{id, date, value}`; read/write token only). The notes give
//!   the order's `tracking_numbers[] {id, date, value}` but no write path for 5.5; this
//!   sub-resource, shaped like the status ones, is the simulator's best guess (UNCONFIRMED).
//!
//! Every `/api` request needs the `X-Auth-Token` header. Without one: 401
//! `{"message": "Full authentication is required to access this resource."}`; with a wrong or
//! revoked one: 401 `{"message": "Invalid credentials."}` (the notes say 401 with a JSON
//! `message`; the texts are Symfony's usual ones, a best guess). A write with the read-only
//! token: 403 with API Platform's error body (`title`, `detail: "Access Denied."`). Paths
//! outside `/api` answer a 404 HTML page, as a store front would.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::Shared;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/orders", get(list))
        .route("/api/orders.json", get(list_json))
        .route("/api/orders.jsonld", get(list_jsonld))
        .route("/api/orders/by_number/{number}", get(by_number))
        .route("/api/orders/{id}", get(by_id))
        .route("/api/orders/{id}/payment_status", put(put_payment_status))
        .route("/api/orders/{id}/shipping_status", put(put_shipping_status))
        .route(
            "/api/orders/{id}/tracking_numbers",
            get(list_tracking).post(add_tracking),
        )
}

/// Answers every other path.
pub async fn fallback(State(s): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default().to_owned();
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        let r = api_error(StatusCode::NOT_FOUND, "Not Found");
        s.lock().arrive(method.as_str(), "other", &query, 404);
        return r;
    }
    (
        StatusCode::NOT_FOUND,
        Html("<!DOCTYPE html><html><head><title>Page not found</title></head><body><h1>Page not found</h1><p>The requested page could not be found.</p></body></html>"),
    )
        .into_response()
}

/// API Platform's error body.
fn api_error(status: StatusCode, detail: &str) -> Response {
    (
        status,
        Json(json!({
            "type": "https://tools.ietf.org/html/rfc2616#section-10",
            "title": "An error occurred",
            "detail": detail,
        })),
    )
        .into_response()
}

fn unauthorized(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": message}))).into_response()
}

enum Access {
    Read,
    Write,
}

/// Latency, injected 500s and the token check; `Err` is the response to give instead.
async fn guard(s: &Shared, headers: &HeaderMap, need: Access) -> Result<(), Response> {
    let (latency, fail) = s.lock().fault_roll();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fail {
        return Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
        ));
    }
    let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized(
            "Full authentication is required to access this resource.",
        ));
    };
    let st = s.lock();
    let is_write = st.write_token.as_deref() == Some(token);
    let is_read = st.read_token.as_deref() == Some(token);
    match need {
        _ if !is_read && !is_write => Err(unauthorized("Invalid credentials.")),
        Access::Write if !is_write => Err(api_error(StatusCode::FORBIDDEN, "Access Denied.")),
        _ => Ok(()),
    }
}

fn record(s: &Shared, method: &str, target: &str, query: &str, r: Response) -> Response {
    s.lock().arrive(method, target, query, r.status().as_u16());
    r
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    ByAccept,
    Plain,
    Hydra,
}

async fn list(s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery) -> Response {
    list_as(s, h, q, Shape::ByAccept).await
}
async fn list_json(s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery) -> Response {
    list_as(s, h, q, Shape::Plain).await
}
async fn list_jsonld(s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery) -> Response {
    list_as(s, h, q, Shape::Hydra).await
}

/// Parses a date the way PHP's `DateTime` constructor would, as far as clients send them:
/// ISO-8601 with `Z`, `+00:00` or `+0000`, `YYYY-MM-DD[ HH:MM:SS]` (UTC), or `@<unix>`.
pub fn php_parse_date(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let t = text.trim();
    if let Some(unix) = t.strip_prefix('@') {
        return unix.parse().ok();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp());
    }
    if let Ok(d) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(d.timestamp());
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(d.and_utc().timestamp());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

async fn list_as(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    shape: Shape,
) -> Response {
    let query = query.unwrap_or_default();
    if let Err(r) = guard(&s, &headers, Access::Read).await {
        return record(&s, "GET", "orders", &query, r);
    }
    let r = answer_list(&s, &headers, &query, shape);
    record(&s, "GET", "orders", &query, r)
}

fn answer_list(s: &Shared, headers: &HeaderMap, query: &str, shape: Shape) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let one = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let page = match one("page").map(str::parse::<i64>) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return api_error(StatusCode::BAD_REQUEST, "Page should not be less than 1"),
    };
    let per_page = match one("itemsPerPage").map(str::parse::<i64>) {
        None => 30,
        Some(Ok(n)) if n >= 0 => n.min(100),
        Some(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "Item per page parameter should not be less than 0",
            );
        }
    };
    let paginate = one("pagination") != Some("false");
    let st = s.lock();
    let renew_filters = st.faults.last_renew_filters;
    let mut orders: Vec<&super::state::SimOrder> = st.orders.iter().collect();
    for (name, value) in &params {
        let Some((field, op)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) else {
            continue;
        };
        let column: fn(&super::state::SimOrder) -> i64 = match field {
            "date" => |o| o.date,
            "lastRenewDate" if renew_filters => |o| o.last_renew_date,
            _ => continue,
        };
        let Some(t) = php_parse_date(value) else {
            continue;
        };
        orders.retain(|o| {
            let v = column(o);
            match op {
                "after" => v >= t,
                "before" => v <= t,
                "strictly_after" => v > t,
                "strictly_before" => v < t,
                _ => true,
            }
        });
    }
    let codes: Vec<&str> = params
        .iter()
        .filter(|(n, _)| n == "paymentStatus.code" || n == "paymentStatus.code[]")
        .map(|(_, v)| v.as_str())
        .collect();
    if !codes.is_empty() {
        orders.retain(|o| codes.contains(&o.payment_code.as_str()));
    }
    let sort: Vec<(&str, bool)> = params
        .iter()
        .filter_map(|(n, v)| {
            let f = n.strip_prefix("order[")?.strip_suffix(']')?;
            matches!(f, "date" | "lastRenewDate").then(|| (f, !v.eq_ignore_ascii_case("desc")))
        })
        .collect();
    orders.sort_by(|a, b| {
        for (f, asc) in &sort {
            let (x, y) = match *f {
                "date" => (a.date, b.date),
                _ => (a.last_renew_date, b.last_renew_date),
            };
            let ord = if *asc { x.cmp(&y) } else { y.cmp(&x) };
            if ord.is_ne() {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
    let total = orders.len();
    let slice: Vec<Value> = if paginate {
        orders
            .iter()
            .skip(((page - 1) * per_page) as usize)
            .take(per_page as usize)
            .map(|o| o.output())
            .collect()
    } else {
        orders.iter().map(|o| o.output()).collect()
    };
    drop(st);
    let hydra = match shape {
        Shape::Hydra => true,
        Shape::Plain => false,
        Shape::ByAccept => wants_hydra(headers),
    };
    if hydra {
        let members: Vec<Value> = slice
            .into_iter()
            .map(|mut o| {
                let id = o["id"].clone();
                o["@id"] = json!(format!("/api/orders/{id}"));
                o["@type"] = json!("Order");
                o
            })
            .collect();
        (
            [(header::CONTENT_TYPE, "application/ld+json; charset=utf-8")],
            json!({
                "@context": "/api/contexts/Order",
                "@id": "/api/orders",
                "@type": "hydra:Collection",
                "hydra:member": members,
                "hydra:totalItems": total,
            })
            .to_string(),
        )
            .into_response()
    } else {
        Json(Value::Array(slice)).into_response()
    }
}

/// Whether the Accept header prefers `application/ld+json` (the first listed type wins).
fn wants_hydra(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| first.trim().starts_with("application/ld+json"))
}

async fn one_order(s: &Shared, headers: &HeaderMap, key: OrderKey) -> Response {
    if let Err(r) = guard(s, headers, Access::Read).await {
        return record(s, "GET", "order", "", r);
    }
    let found = {
        let st = s.lock();
        st.orders
            .iter()
            .find(|o| match &key {
                OrderKey::Id(id) => o.id.to_string() == *id,
                OrderKey::Number(n) => o.order_number == *n,
            })
            .map(|o| o.output())
    };
    let r = match found {
        Some(o) => Json(o).into_response(),
        None => api_error(StatusCode::NOT_FOUND, "Not Found"),
    };
    record(s, "GET", "order", "", r)
}

enum OrderKey {
    Id(String),
    Number(String),
}

async fn by_id(State(s): State<Arc<Shared>>, h: HeaderMap, Path(id): Path<String>) -> Response {
    one_order(&s, &h, OrderKey::Id(id)).await
}

async fn by_number(State(s): State<Arc<Shared>>, h: HeaderMap, Path(n): Path<String>) -> Response {
    one_order(&s, &h, OrderKey::Number(n)).await
}

async fn put_payment_status(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&s, &headers, Access::Write).await {
        return record(&s, "PUT", "payment_status", "", r);
    }
    let code = serde_json::from_slice::<HashMap<String, Value>>(&body)
        .ok()
        .and_then(|m| m.get("code").and_then(|c| c.as_str()).map(str::to_owned));
    let r = match code {
        None => api_error(
            StatusCode::BAD_REQUEST,
            "code: This value should not be blank.",
        ),
        Some(code) => {
            let exists = s.lock().orders.iter().any(|o| o.id.to_string() == id);
            if !exists {
                api_error(StatusCode::NOT_FOUND, "Not Found")
            } else {
                match s.lock().set_payment_status(&id, &code) {
                    Ok(o) => Json(json!({"id": 4, "code": o.payment_code})).into_response(),
                    Err(e) => api_error(StatusCode::BAD_REQUEST, &e),
                }
            }
        }
    };
    record(&s, "PUT", "payment_status", "", r)
}

/// The string field `name` of a JSON object body, if there is one.
fn body_field(body: &[u8], name: &str) -> Option<String> {
    serde_json::from_slice::<HashMap<String, Value>>(body)
        .ok()
        .and_then(|m| m.get(name).and_then(|c| c.as_str()).map(str::to_owned))
}

async fn put_shipping_status(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&s, &headers, Access::Write).await {
        return record(&s, "PUT", "shipping_status", "", r);
    }
    let r = match body_field(&body, "code") {
        None => api_error(
            StatusCode::BAD_REQUEST,
            "code: This value should not be blank.",
        ),
        Some(code) => {
            let mut st = s.lock();
            if !st.orders.iter().any(|o| o.id.to_string() == id) {
                api_error(StatusCode::NOT_FOUND, "Not Found")
            } else {
                match st.set_shipping_status(&id, &code) {
                    Ok(o) => Json(json!({"code": o.shipping_code})).into_response(),
                    Err(e) => api_error(StatusCode::BAD_REQUEST, &e),
                }
            }
        }
    };
    record(&s, "PUT", "shipping_status", "", r)
}

async fn list_tracking(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = guard(&s, &headers, Access::Read).await {
        return record(&s, "GET", "tracking_numbers", "", r);
    }
    let found = s
        .lock()
        .orders
        .iter()
        .find(|o| o.id.to_string() == id)
        .map(|o| o.output()["tracking_numbers"].clone());
    let r = match found {
        Some(list) => Json(list).into_response(),
        None => api_error(StatusCode::NOT_FOUND, "Not Found"),
    };
    record(&s, "GET", "tracking_numbers", "", r)
}

async fn add_tracking(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&s, &headers, Access::Write).await {
        return record(&s, "POST", "tracking_numbers", "", r);
    }
    let r = {
        let mut st = s.lock();
        if !st.orders.iter().any(|o| o.id.to_string() == id) {
            api_error(StatusCode::NOT_FOUND, "Not Found")
        } else {
            match st.add_tracking_number(&id, &body_field(&body, "value").unwrap_or_default()) {
                Ok(t) => (StatusCode::CREATED, Json(t.output())).into_response(),
                Err(e) => api_error(StatusCode::BAD_REQUEST, &e),
            }
        }
    };
    record(&s, "POST", "tracking_numbers", "", r)
}

#[cfg(test)]
mod tests {
    use super::php_parse_date;

    #[test]
    fn dates_php_would_parse() {
        let t = 1_709_648_530;
        assert_eq!(php_parse_date("2024-03-05T14:22:10+00:00"), Some(t));
        assert_eq!(php_parse_date("2024-03-05T14:22:10Z"), Some(t));
        assert_eq!(php_parse_date("2024-03-05T14:22:10+0000"), Some(t));
        assert_eq!(php_parse_date("2024-03-05 14:22:10"), Some(t));
        assert_eq!(php_parse_date("@1709648530"), Some(t));
        assert_eq!(
            php_parse_date("2024-03-05"),
            Some(t - 14 * 3600 - 22 * 60 - 10)
        );
        assert_eq!(php_parse_date("soon"), None);
    }
}
