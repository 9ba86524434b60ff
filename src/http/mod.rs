//! The HTTP server: routes, the layers every answer goes through (Host check, security
//! headers, panic catching, body limit), and `/healthz`.
//!
//! | path | what |
//! |---|---|
//! | `GET /healthz` | 200 once the store is open and the workers run; no token |
//! | `GET /readyz` | 200 while the workers run and a write reaches the disk, each part named; no token |
//! | `POST /graphql`, `GET /graphql?query=…` | GraphQL; token required for every operation ([`graphql`]) |
//! | `GET /graphiql` | the GraphQL IDE; no token to load it |
//! | `GET /graphql/ws` | subscriptions (graphql-transport-ws); token in connection_init ([`ws`]) |
//! | `GET /`, `GET /assets/*` | the admin console; no token ([`console`]) |

mod console;
mod graphiql;
mod graphql;
mod host;
mod ws;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::api::{self, BridgeSchema};
use crate::auth::Check;
use crate::state::AppState;

pub use host::AllowedHosts;
pub use ws::WsLimits;

#[derive(Clone)]
struct Http {
    state: AppState,
    schema: BridgeSchema,
    ws: ws::WsGate,
}

/// The Content-Security-Policy of every answer: only the bridge's own scripts, styles and
/// connections (the console and GraphiQL are served from the binary), never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; font-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes as usize;
    let hosts = AllowedHosts::new(&state.config.allowed_hosts);
    let http = Http {
        schema: api::schema(state.clone()),
        ws: ws::WsGate::new(state.config.ws_limits()),
        state,
    };
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/graphiql", get(graphiql::page))
        .route("/graphiql/assets/{file}", get(graphiql::asset))
        .route("/metrics", get(metrics))
        .merge(console::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .with_state(http)
        .layer(middleware::from_fn_with_state(hosts, host::check))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// A handler that panicked: logged with a reference, answered 500 without its text.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let reference = format!("{:016x}", rand::random::<u64>());
    tracing::error!(%reference, panic = text, "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"errors": [{
            "message": format!("internal error (reference {reference})"),
            "extensions": {"code": "INTERNAL", "reference": reference}
        }]})),
    )
        .into_response()
}

async fn healthz(State(http): State<Http>) -> Response {
    if let Some(problem) = http.state.store.problem() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unhealthy", "error": problem})),
        )
            .into_response();
    }
    if !http.state.jobs.is_running() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting", "error": "the job workers are not running"})),
        )
            .into_response();
    }
    match http.state.store.flush().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Readiness: the workers run and the store takes a write now (a probe record, flushed).
/// Each part is named in the answer; 503 when one fails.
async fn readyz(State(http): State<Http>) -> Response {
    let workers = http.state.jobs.is_running();
    let store = http.state.store.probe_write().await;
    let ready = workers && store.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "workers": if workers { "running" } else { "stopped" },
        "store": match &store {
            Ok(()) => "writable".to_owned(),
            Err(e) => format!("not writable: {e}"),
        },
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// The refusal of a request without the admin token (401; 429 with `Retry-After` while wrong
/// tokens come too often), or `None` for one with it.
fn refusal(http: &Http, headers: &axum::http::HeaderMap) -> Option<Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match http.state.token.check_bearer(presented) {
        Check::Accepted => None,
        Check::Refused => Some(unauthenticated()),
        Check::Throttled { retry_after } => Some(throttled(retry_after)),
    }
}

fn throttled(retry_after: std::time::Duration) -> Response {
    let seconds = retry_after.as_secs().max(1);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, seconds.to_string())],
        Json(json!({"errors": [{
            "message": format!(
                "Too many wrong admin tokens were tried: wait {seconds} s, then send the right one."
            ),
            "extensions": {"code": "UNAUTHENTICATED"}
        }]})),
    )
        .into_response()
}

/// `GET /metrics`: the Prometheus metrics, for the admin token or the metrics token.
async fn metrics(State(http): State<Http>, headers: axum::http::HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let metrics_token = http.state.config.metrics_token.as_deref();
    let by_metrics_token =
        metrics_token.is_some_and(|t| crate::auth::AdminToken::of(t).verify_bearer(presented));
    if !by_metrics_token && let Some(refused) = refusal(&http, &headers) {
        return refused;
    }
    let state = &http.state;
    let snapshot = tokio::task::spawn_blocking({
        let (jobs, orders, import) = (
            state.jobs.clone(),
            state.orders.clone(),
            state.store_import.clone(),
        );
        move || {
            let import = import.import_state().unwrap_or_default();
            crate::metrics::Snapshot::read(&jobs, &orders, import)
        }
    })
    .await;
    match snapshot {
        Ok(Ok(snapshot)) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            state.metrics.render(&snapshot),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read the store for /metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "cannot read the store").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the /metrics reader stopped");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The answer to a request without the admin token (or with a wrong one).
fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({"errors": [{
            "message": "missing or wrong admin token: send `Authorization: Bearer <token>`",
            "extensions": {"code": "UNAUTHENTICATED"}
        }]})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_without_its_text() {
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        let app = Router::new()
            .route("/", get(boom))
            .layer(CatchPanicLayer::custom(panicked));
        let request = axum::http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("internal error (reference "),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
    }
}
