//! The HTTP server: routes, the admin-token check, the body limit and the console's files.
//!
//! | path | what |
//! |---|---|
//! | `GET /healthz` | 200 once the store is open and the workers run; no token |
//! | `POST /graphql`, `GET /graphql?query=…` | GraphQL; token required |
//! | `GET /graphql` (no query) | GraphiQL; no token |
//! | `GET /graphql/ws` | subscriptions (graphql-transport-ws); token in connection_init |
//! | `GET /`, `GET /assets/*` | the admin console; no token |

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource, WebSocketProtocols, WsMessage};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{DefaultBodyLimit, Path, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use crate::api::{self, BridgeSchema, error::tag_errors};
use crate::app::AppState;

#[derive(Clone)]
struct Http {
    state: AppState,
    schema: BridgeSchema,
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes as usize;
    let http = Http {
        schema: api::schema(state.clone()),
        state,
    };
    let graphql = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route_layer(middleware::from_fn_with_state(http.clone(), require_token));
    Router::new()
        .merge(graphql)
        .route("/graphql/ws", get(graphql_ws))
        .route("/healthz", get(healthz))
        .route("/", get(console_index))
        .route("/assets/{file}", get(console_asset))
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .with_state(http)
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

/// Every GraphQL operation needs the admin token; the GraphiQL page (GET without a query) does not.
async fn require_token(State(http): State<Http>, request: Request, next: Next) -> Response {
    let is_graphiql = request.method() == Method::GET
        && !request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .any(|p| p.starts_with("query="));
    if is_graphiql {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !http.state.token.verify_bearer(header) {
        return unauthenticated();
    }
    next.run(request).await
}

async fn graphql_post(State(http): State<Http>, request: GraphQLRequest) -> GraphQLResponse {
    tag_errors(http.schema.execute(request.into_inner()).await).into()
}

async fn graphql_get(State(http): State<Http>, headers: HeaderMap, request: Request) -> Response {
    if request.uri().query().is_none_or(|q| !q.contains("query=")) {
        let _ = headers;
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .title("acumatica-bridge GraphiQL")
                .finish(),
        )
        .into_response();
    }
    match <GraphQLRequest as axum::extract::FromRequest<Http>>::from_request(request, &http).await {
        Ok(request) => {
            GraphQLResponse::from(tag_errors(http.schema.execute(request.into_inner()).await))
                .into_response()
        }
        Err(rejection) => rejection.into_response(),
    }
}

async fn graphql_ws(
    State(http): State<Http>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|p| {
            p.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Protocol must be graphql-transport-ws",
        )
            .into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve_ws(http, socket, protocol))
}

/// Runs one GraphQL WebSocket connection. Like async-graphql-axum's, except that a refused
/// connection_init closes with 4403 (Forbidden), as graphql-transport-ws specifies.
async fn serve_ws(http: Http, socket: WebSocket, protocol: WebSocketProtocols) {
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(|r| {
            futures::future::ready(match r {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                _ => None,
            })
        });
    let refused = Arc::new(AtomicBool::new(false));
    let token = http.state.token.clone();
    let refused_init = refused.clone();
    let output = async_graphql::http::WebSocket::new(http.schema.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            let header = payload.get("Authorization").and_then(|v| v.as_str());
            if token.verify_bearer(header) {
                Ok(async_graphql::Data::default())
            } else {
                refused_init.store(true, Ordering::SeqCst);
                Err(async_graphql::Error::new("missing or wrong admin token"))
            }
        });
    futures::pin_mut!(output);
    while let Some(message) = output.next().await {
        let message = match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => {
                let code = if refused.load(Ordering::SeqCst) {
                    4403
                } else {
                    code
                };
                Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }))
            }
        };
        if sink.send(message).await.is_err() {
            break;
        }
    }
}

/// The console's files (`web/`), embedded at compile time: name, content type, body.
const CONSOLE: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("../web/index.html")),
    ("app.css", CSS, include_str!("../web/app.css")),
    ("app.js", JS, include_str!("../web/app.js")),
    ("graphql.js", JS, include_str!("../web/graphql.js")),
    ("ui.js", JS, include_str!("../web/ui.js")),
    ("signin.js", JS, include_str!("../web/signin.js")),
    ("orders.js", JS, include_str!("../web/orders.js")),
    ("order.js", JS, include_str!("../web/order.js")),
    ("settings.js", JS, include_str!("../web/settings.js")),
    ("connection.js", JS, include_str!("../web/connection.js")),
    ("store.js", JS, include_str!("../web/store.js")),
    ("follow.js", JS, include_str!("../web/follow.js")),
    ("form.js", JS, include_str!("../web/form.js")),
    ("jobs.js", JS, include_str!("../web/jobs.js")),
    ("job.js", JS, include_str!("../web/job.js")),
];
const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

async fn console_index() -> Response {
    console_file("index.html")
}

async fn console_asset(Path(file): Path<String>) -> Response {
    console_file(&file)
}

fn console_file(name: &str) -> Response {
    match CONSOLE.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
