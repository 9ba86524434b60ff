//! The Acumatica API as the simulator serves it, under `/t/<tenant>` and at the site root:
//! `POST /identity/connect/token`, `POST /entity/auth/logout`, `GET /entity`, and
//! `GET`/`PUT /entity/{Default|eCommerce}/{23.200.001|24.200.001}/{Entity}[/{keys}|/{id}]`
//! and the actions `POST …/SalesOrder/CancelSalesOrder` and `POST …/Payment/ReleasePayment`
//! (answered 204, or 202 with a status URL under the `accept_actions` fault).
//! Every request is counted, then delayed or failed as the faults say, then answered with
//! Acumatica's own status codes and bodies (not-found as a 500, 422 bodies that are the entity
//! with `error`s, 401 for an expired token).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use super::lifecycle;
use super::records::{self, Out, Shape};
use super::rules::{self, Reject};
use super::state::Access;
use super::{CLIENT_ID, CLIENT_SECRET, PASSWORD, Shared, TENANT, USERNAME, filter};
use crate::acumatica::schema::VERSIONS;

/// Marks a request in flight until it is answered or dropped.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

pub async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segs: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let (tenant, rest) = match segs.as_slice() {
        [t, tenant, rest @ ..] if t == "t" => (Some(tenant.clone()), rest.to_vec()),
        _ => (None, segs.clone()),
    };
    let target = match rest
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["identity", "connect", "token"] => "token".to_string(),
        ["entity", "auth", "logout"] => "logout".to_string(),
        ["identity", "connect", "revocation"] => "revocation".to_string(),
        ["entity"] => "endpoints".to_string(),
        ["entity", _, _, entity, ..] => entity.to_string(),
        _ => "other".to_string(),
    };
    let faults = {
        let mut s = shared.lock();
        let uri_text = percent_decode(&uri.to_string()).replace('+', " ");
        let if_none_match = headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == b"*");
        s.arrive(method.as_str(), &target, uri_text, if_none_match);
        s.faults.clone()
    };
    let _in_flight = InFlight(shared.clone());
    if tenant.is_some() && !shared.config.tenant_paths {
        return not_served(shared.config.not_served);
    }
    if let Some(t) = &tenant
        && !t.eq_ignore_ascii_case(TENANT)
    {
        return http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "A proper company ID cannot be determined for the request.",
            "PX.Data.PXUndefinedCompanyException",
        );
    }
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let (roll_429, roll_500) = {
        let mut rng = rand::thread_rng();
        (rng.r#gen::<f64>(), rng.r#gen::<f64>())
    };
    if roll_429 < faults.rate_429 {
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            json_body(&json!({"message": "The number of requests has exceeded the limit imposed by the license."})),
        )
            .into_response();
        if let Some(secs) = faults.retry_after_secs {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return with_json(r);
    }
    if roll_500 < faults.rate_500 {
        return http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Simulated server error.",
            "System.Exception",
        );
    }
    let prefix = tenant.map(|t| format!("/t/{t}")).unwrap_or_default();
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (method.clone(), rest.as_slice()) {
        (Method::POST, ["identity", "connect", "token"]) => token(&shared, &body),
        (Method::POST, ["identity", "connect", "revocation"]) => revocation(&shared, &body),
        (Method::POST, ["entity", "auth", "logout"]) => {
            if let Some(t) = bearer(&headers) {
                shared.lock().access.remove(&t);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::GET, ["entity"]) => endpoints(&prefix),
        (_, ["entity", endpoint, version, entity, keys @ ..]) => {
            if !(endpoint.eq_ignore_ascii_case("Default")
                || endpoint.eq_ignore_ascii_case("eCommerce"))
                || !VERSIONS.contains(version)
                || rules::keys(entity).is_none()
            {
                return not_found();
            }
            if !authorized(&shared, &headers) {
                return with_json(
                    (
                        StatusCode::UNAUTHORIZED,
                        json_body(
                            &json!({"message": "Authorization has been denied for this request."}),
                        ),
                    )
                        .into_response(),
                );
            }
            if faults
                .forbidden_entity
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(entity))
            {
                return with_json(
                    (
                        StatusCode::FORBIDDEN,
                        json_body(&json!({"message": format!("You have insufficient rights to access the object ({entity}).")})),
                    )
                        .into_response(),
                );
            }
            let query = Params::parse(uri.query().unwrap_or(""));
            match method {
                Method::GET if keys.is_empty() => list(&shared, endpoint, version, entity, &query),
                Method::GET if keys.len() == 3 && keys[1] == "status" => {
                    action_status(&shared, keys[2])
                }
                Method::GET => get(&shared, endpoint, version, entity, keys, &query),
                Method::POST if keys.len() == 1 => {
                    action(shared.clone(), entity, keys[0], &body, &faults, uri.path()).await
                }
                Method::PUT if keys.is_empty() => {
                    put(
                        shared.clone(),
                        (endpoint, version),
                        entity,
                        &headers,
                        &body,
                        &query,
                        &faults,
                    )
                    .await
                }
                _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
            }
        }
        _ => not_found(),
    }
}

/// The query options of a request.
struct Params {
    filter: Option<String>,
    shape: Shape,
    top: Option<usize>,
    skip: usize,
}

impl Params {
    fn parse(query: &str) -> Params {
        let mut p = Params {
            filter: None,
            shape: Shape::default(),
            top: None,
            skip: 0,
        };
        let list = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.to_ascii_lowercase().as_str() {
                "$filter" => p.filter = Some(v.into_owned()),
                "$select" => p.shape.select = list(&v),
                "$expand" => p.shape.expand = list(&v),
                "$top" => p.top = v.parse().ok(),
                "$skip" => p.skip = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        p
    }
}

fn list(shared: &Shared, endpoint: &str, version: &str, entity: &str, q: &Params) -> Response {
    if let Some(bad) = q.shape.unknown_path(endpoint, version, entity) {
        return key_not_found(&bad);
    }
    let expr = match q.filter.as_deref().map(filter::parse).transpose() {
        Ok(e) => e,
        Err(e) => return bad_request("$filter", &e),
    };
    if let Some(e) = &expr
        && let Err(msg) = filter::check(e, version, entity)
    {
        return http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &msg,
            "PX.Api.ContractBased.InvalidFilterException",
        );
    }
    let s = shared.lock();
    let rows: Vec<Out> = s
        .records
        .get(entity)
        .into_iter()
        .flatten()
        .filter(|r| {
            expr.as_ref()
                .is_none_or(|e| filter::matches(e, version, entity, r))
        })
        .skip(if s.faults.ignore_skip { 0 } else { q.skip })
        .take(q.top.unwrap_or(usize::MAX))
        .map(|r| records::render(version, entity, r, &q.shape, &BTreeMap::new()))
        .collect();
    let mut body = serde_json::to_vec(&Out::List(rows)).unwrap_or_default();
    body.resize(body.len() + s.faults.pad_lists_bytes as usize, b' ');
    with_json((StatusCode::OK, body).into_response())
}

fn get(
    shared: &Shared,
    endpoint: &str,
    version: &str,
    entity: &str,
    keys: &[&str],
    q: &Params,
) -> Response {
    if let Some(bad) = q.shape.unknown_path(endpoint, version, entity) {
        return key_not_found(&bad);
    }
    let key_fields = rules::keys(entity).unwrap_or(&[]);
    let values: Vec<String> = match keys {
        [one] if one.contains('|') => one.split('|').map(str::to_string).collect(),
        _ => keys.iter().map(|k| k.to_string()).collect(),
    };
    let s = shared.lock();
    let records = s.records.get(entity).map(Vec::as_slice).unwrap_or(&[]);
    let found = match values.as_slice() {
        [id] if is_guid(id) => records
            .iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str())),
        _ if values.len() == key_fields.len() => records.iter().find(|r| {
            key_fields.iter().zip(&values).all(|(k, v)| {
                r.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.eq_ignore_ascii_case(v))
            })
        }),
        _ => None,
    };
    match found {
        Some(r) => ok(&records::render(
            version,
            entity,
            r,
            &q.shape,
            &BTreeMap::new(),
        )),
        None => http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No entity satisfies the condition.",
            "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException",
        ),
    }
}

async fn put(
    shared: Arc<Shared>,
    (endpoint, version): (&str, &str),
    entity: &str,
    headers: &HeaderMap,
    body: &[u8],
    q: &Params,
    faults: &super::state::Faults,
) -> Response {
    if body.iter().all(u8::is_ascii_whitespace) {
        return bad_request("", "The request body should not be empty.");
    }
    let json: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad_request("entity", &e.to_string()),
    };
    let input = match records::normalize(version, entity, &json, "") {
        Ok(m) => m,
        Err(invalid) => return bad_request(&format!("entity.{}", invalid.path), &invalid.message),
    };
    if let Some(bad) = q.shape.unknown_path(endpoint, version, entity) {
        return key_not_found(&bad);
    }
    let star = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "*")
    };
    let (if_none_match, if_match) = (star(header::IF_NONE_MATCH), star(header::IF_MATCH));
    let save = {
        let (shared, entity) = (shared.clone(), entity.to_string());
        move || rules::put(&mut shared.lock(), &entity, input, if_none_match, if_match)
    };
    let outcome = match faults.delay_commit_ms {
        // "Hold then commit": the save goes on even when the client hangs up meanwhile, as a
        // server's does.
        Some(ms) => {
            let held = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                save()
            });
            match held.await {
                Ok(outcome) => outcome,
                Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        None => save(),
    };
    match outcome {
        Ok(saved) => {
            if let Some(failed) = after_commit(&shared, faults).await {
                return failed;
            }
            ok(&records::render(
                version,
                entity,
                &saved,
                &q.shape,
                &BTreeMap::new(),
            ))
        }
        Err(Reject::Precondition(msg)) => with_json(
            (
                StatusCode::PRECONDITION_FAILED,
                json_body(&json!({"message": msg})),
            )
                .into_response(),
        ),
        Err(Reject::Invalid { record, errors }) => {
            let out = records::render(version, entity, &record, &Shape::everything(), &errors);
            with_json(
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    serde_json::to_vec(&out).unwrap_or_default(),
                )
                    .into_response(),
            )
        }
    }
}

/// The faults that strike a write after it was saved: "commit then fail" (a 500) and the
/// stalls. `Some` is the answer to give instead of the real one.
async fn after_commit(shared: &Shared, faults: &super::state::Faults) -> Option<Response> {
    if take_one(&mut shared.lock().faults.commit_then_500) {
        return Some(http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Simulated server error after the record was saved.",
            "System.Exception",
        ));
    }
    let stall = rand::thread_rng().r#gen::<f64>() < faults.stall_rate;
    if stall && faults.stall_writes_forever {
        std::future::pending::<()>().await;
    }
    if let (true, Some(ms)) = (stall, faults.stall_writes_ms) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    None
}

/// `POST /{Entity}/{Action}` with `{"entity": {...}, "parameters": {...}}`: the actions the
/// simulator knows run at once and answer 204 (a refusal is a 500 `PXException`); an unknown
/// action is a 404. Saved actions meet the same faults as saved PUTs.
async fn action(
    shared: Arc<Shared>,
    entity: &str,
    name: &str,
    body: &[u8],
    faults: &super::state::Faults,
    path: &str,
) -> Response {
    let json: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad_request("entity", &e.to_string()),
    };
    let given = json.get("entity").cloned().unwrap_or(Value::Null);
    let run = {
        let shared = shared.clone();
        let (entity, name) = (entity.to_string(), name.to_string());
        move || {
            let mut s = shared.lock();
            match (entity.as_str(), name.as_str()) {
                ("SalesOrder", "CancelSalesOrder") => {
                    Some(lifecycle::cancel_sales_order(&mut s, &given))
                }
                ("Payment", "ReleasePayment") => Some(lifecycle::release_payment(&mut s, &given)),
                _ => None,
            }
        }
    };
    let outcome = match faults.delay_commit_ms {
        Some(ms) => {
            let held = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                run()
            });
            match held.await {
                Ok(outcome) => outcome,
                Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        None => run(),
    };
    match outcome {
        None => not_found(),
        Some(Err(lifecycle::Refused(msg))) => http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &msg,
            "PX.Data.PXException",
        ),
        Some(Ok(())) => match after_commit(&shared, faults).await {
            Some(failed) => failed,
            None if take_one(&mut shared.lock().faults.accept_actions) => {
                // A long-running operation, as Acumatica answers one: its status URL.
                let id = {
                    let mut s = shared.lock();
                    let id = s.new_id();
                    s.running_actions.insert(id.clone(), 1);
                    id
                };
                let location = format!("{}/status/{id}", path.trim_end_matches('/'));
                (
                    StatusCode::ACCEPTED,
                    [(axum::http::header::LOCATION, location)],
                )
                    .into_response()
            }
            None => StatusCode::NO_CONTENT.into_response(),
        },
    }
}

/// `GET …/{Entity}/{Action}/status/{id}`: 202 while the operation "runs" (one poll), then 204;
/// an unknown id is a 404.
fn action_status(shared: &Shared, id: &str) -> Response {
    let mut s = shared.lock();
    match s.running_actions.get_mut(id) {
        Some(0) => StatusCode::NO_CONTENT.into_response(),
        Some(left) => {
            *left -= 1;
            StatusCode::ACCEPTED.into_response()
        }
        None => not_found(),
    }
}

/// Uses up one of a fault's remaining count; true when there was one.
fn take_one(count: &mut u32) -> bool {
    let some = *count > 0;
    *count = count.saturating_sub(1);
    some
}

fn token(shared: &Shared, body: &[u8]) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let mut s = shared.lock();
    if s.faults.login_limit {
        let mut r = StatusCode::FOUND.into_response();
        r.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static(
                "/Frames/Error.aspx?exceptionID=PX.Data.PXException&message=The+number+of+concurrent+API+logins+for+the+user+has+been+reached.",
            ),
        );
        return r;
    }
    let oauth_error = |error: &str, description: Option<&str>| {
        let mut body = json!({"error": error});
        if let Some(d) = description {
            body["error_description"] = Value::from(d);
        }
        with_json((StatusCode::BAD_REQUEST, json_body(&body)).into_response())
    };
    if !field("client_id").eq_ignore_ascii_case(CLIENT_ID)
        || field("client_secret") != CLIENT_SECRET
    {
        return oauth_error("invalid_client", None);
    }
    *s.counters
        .by_request
        .entry(format!("grant {}", field("grant_type")))
        .or_default() += 1;
    let scope = match field("grant_type") {
        "password" => {
            if !field("username").eq_ignore_ascii_case(USERNAME) || field("password") != PASSWORD {
                return oauth_error("invalid_grant", Some("invalid_username_or_password"));
            }
            let scope: Vec<&str> = field("scope").split_whitespace().collect();
            if !scope.contains(&"api") {
                return oauth_error("invalid_scope", None);
            }
            scope.join(" ")
        }
        "refresh_token" => {
            if s.refresh.remove(field("refresh_token")).is_none() {
                return oauth_error("invalid_grant", None);
            }
            "api offline_access".to_string()
        }
        _ => return oauth_error("unsupported_grant_type", None),
    };
    let lifetime = s.faults.token_lifetime_secs.max(1);
    let access = random_token();
    s.access.insert(
        access.clone(),
        Access {
            expires_at: Instant::now() + Duration::from_secs(lifetime),
        },
    );
    let mut answer = json!({"access_token": access, "expires_in": lifetime, "token_type": "Bearer", "scope": scope});
    if scope.split(' ').any(|x| x == "offline_access") {
        let refresh = random_token();
        s.refresh.insert(refresh.clone(), ());
        answer["refresh_token"] = Value::from(refresh);
    }
    with_json((StatusCode::OK, json_body(&answer)).into_response())
}

/// RFC 7009: the token (a refresh token, or an access token) stops working; 200 even for an
/// unknown token, as the RFC says.
fn revocation(shared: &Shared, body: &[u8]) -> Response {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if !field("client_id").eq_ignore_ascii_case(CLIENT_ID)
        || field("client_secret") != CLIENT_SECRET
    {
        return with_json(
            (
                StatusCode::BAD_REQUEST,
                json_body(&json!({"error": "invalid_client"})),
            )
                .into_response(),
        );
    }
    let mut s = shared.lock();
    let token = field("token");
    s.refresh.remove(token);
    s.access.remove(token);
    StatusCode::OK.into_response()
}

fn endpoints(prefix: &str) -> Response {
    let endpoints: Vec<Value> = ["Default", "eCommerce"]
        .iter()
        .flat_map(|name| {
            VERSIONS.iter().map(move |v| json!({"name": name, "version": v, "href": format!("{prefix}/entity/{name}/{v}/")}))
        })
        .collect();
    let body = json!({"version": {"acumaticaBuildVersion": "24.108.0012", "databaseVersion": "24.108.0012"}, "endpoints": endpoints});
    with_json((StatusCode::OK, json_body(&body)).into_response())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = bearer(headers) else {
        return false;
    };
    let s = shared.lock();
    s.access
        .get(&token)
        .is_some_and(|a| Instant::now() < a.expires_at)
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::thread_rng().r#gen();
    hex::encode(bytes)
}

fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && text.matches('-').count() == 4
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn with_json(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn ok(out: &Out) -> Response {
    with_json((StatusCode::OK, serde_json::to_vec(out).unwrap_or_default()).into_response())
}

/// Acumatica's HttpError body.
fn http_error(status: StatusCode, message: &str, exception: &str) -> Response {
    let body = json!({"message": "An error has occurred.", "exceptionMessage": message,
                      "exceptionType": exception, "stackTrace": "   at PX.Api.ContractBased (simulated)"});
    with_json((status, json_body(&body)).into_response())
}

fn bad_request(key: &str, message: &str) -> Response {
    let body = json!({"message": "The request is invalid.", "modelState": {key: [message]}});
    with_json((StatusCode::BAD_REQUEST, json_body(&body)).into_response())
}

fn key_not_found(path: &str) -> Response {
    tracing::debug!(path, "unknown $select/$expand path");
    http_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The given key was not present in the dictionary.",
        "System.Collections.Generic.KeyNotFoundException",
    )
}

fn not_served(how: super::NotServed) -> Response {
    match how {
        super::NotServed::NotFound => not_found(),
        super::NotServed::Redirect => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/Frames/Login.aspx?ReturnUrl=%2f"),
            );
            r
        }
        super::NotServed::HtmlPage => {
            let mut r = (
                StatusCode::OK,
                "<!DOCTYPE html><html><head><title>Sign In</title></head><body></body></html>",
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    }
}

fn not_found() -> Response {
    with_json(
        (
            StatusCode::NOT_FOUND,
            json_body(
                &json!({"message": "No HTTP resource was found that matches the request URI."}),
            ),
        )
            .into_response(),
    )
}
