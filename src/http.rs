//! The HTTP server: routes, the admin-token check, the body limit and the console's files.
//!
//! | path | what |
//! |---|---|
//! | `GET /healthz` | 200 once the store is open and the workers run; no token |
//! | `POST /graphql`, `GET /graphql?query=…` | GraphQL; token required |
//! | `GET /graphql` (no query) | GraphiQL; no token |
//! | `GET /graphql/ws` | subscriptions (graphql-transport-ws); token in connection_init |
//! | `GET /`, `GET /assets/*` | the admin console; no token |

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{DefaultBodyLimit, Path, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

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
        .with_state(http)
}

async fn healthz(State(http): State<Http>) -> Response {
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
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let token = http.state.token.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, http.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let header = payload.get("Authorization").and_then(|v| v.as_str());
                    if token.verify_bearer(header) {
                        Ok(async_graphql::Data::default())
                    } else {
                        Err(async_graphql::Error::new("missing or wrong admin token"))
                    }
                })
                .serve()
        })
}

/// The console's files, embedded at compile time.
const CONSOLE: &[(&str, &str, &str)] = &[(
    "index.html",
    "text/html; charset=utf-8",
    include_str!("../web/index.html"),
)];

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
