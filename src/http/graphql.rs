//! GraphQL over HTTP, as the GraphQL-over-HTTP spec has it: `POST /graphql` with a JSON body,
//! `GET /graphql?query=…` for queries only (a mutation over GET is 405). The admin token is
//! checked on every request to `/graphql` before anything is parsed, GET or POST, whatever
//! the query string holds; the one exception is a browser opening `/graphql` itself (no query
//! string, no body), which is sent to the IDE at `/graphiql`.
//!
//! Each request carries its client's address ([`ClientAddress`]: the TCP peer from axum's
//! `ConnectInfo`, and `X-Forwarded-For` as sent) for the audit log.
//!
//! The answer's media type follows `Accept`: `application/graphql-response+json` when asked
//! for (a request error is then 400 without `data`), else `application/json` (always 200).

use std::time::Duration;

use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::{Http, refusal};
use crate::api;
use crate::audit::ClientAddress;

/// The client of a request: the peer the server accepted (when served with `ConnectInfo`)
/// and `X-Forwarded-For` as reported (at most 200 characters; never trusted).
fn client_of(extensions: &Extensions, headers: &HeaderMap) -> ClientAddress {
    ClientAddress {
        peer: extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        forwarded_for: headers.get("x-forwarded-for").map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(200)
                .collect()
        }),
    }
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// The media type of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MediaType {
    GraphqlResponse,
    Json,
}

/// Picks the answer's media type from `Accept` (highest quality first; the spec's own type
/// wins a tie); none given is `application/json`; none acceptable is `None` (406).
fn media_type(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match kind.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((q, m)) => {
                quality > q
                    || (quality == q
                        && media == MediaType::GraphqlResponse
                        && m != MediaType::GraphqlResponse)
            }
        };
        if quality > 0.0 && better {
            best = Some((quality, media));
        }
    }
    best.map(|(_, m)| m)
}

fn answer(status: StatusCode, media: MediaType, body: serde_json::Value) -> Response {
    let content_type = match media {
        MediaType::GraphqlResponse => GRAPHQL_RESPONSE,
        MediaType::Json => JSON,
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

/// An error of the HTTP request itself (before GraphQL), with the contract's error shape.
fn refuse(status: StatusCode, media: MediaType, message: impl Into<String>) -> Response {
    let message: String = message.into();
    answer(
        status,
        media,
        json!({"errors": [{"message": message, "extensions": {"code": "BAD_INPUT"}}]}),
    )
}

pub(super) async fn post(
    State(http): State<Http>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&http, &headers) {
        return refused;
    }
    let Some(media) = media_type(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        let message = if content_type.is_empty() {
            "Content-Type is missing: send the request as application/json".to_string()
        } else {
            format!("Content-Type {content_type:?} is not supported: send application/json")
        };
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, media, message);
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                format!("The body is not a GraphQL request ({{\"query\": …}}): {e}"),
            );
        }
    };
    let request = request.data(client_of(&extensions, &headers));
    execute(&http, request, media).await
}

pub(super) async fn get(State(http): State<Http>, request: Request) -> Response {
    let headers = request.headers();
    let query = request.uri().query().unwrap_or("");
    if query.is_empty() && !has_body(headers) && wants_html(headers) {
        return Redirect::to("/graphiql").into_response();
    }
    if let Some(refused) = refusal(&http, headers) {
        return refused;
    }
    let Some(media) = media_type(headers) else {
        return not_acceptable();
    };
    let client = client_of(request.extensions(), headers);
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(r) => r.data(client),
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                media,
                format!("The query string is not a GraphQL request (?query=…): {e}"),
            );
        }
    };
    if operation_type(&request) == Some(OperationType::Mutation) {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "Mutations are not run over GET: send them with POST.",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    execute(&http, request, media).await
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, JSON)],
        json!({"errors": [{
            "message": "Accept names no type this API answers in: ask for \
                        application/graphql-response+json or application/json",
            "extensions": {"code": "BAD_INPUT"}
        }]})
        .to_string(),
    )
        .into_response()
}

/// The type of the operation the request runs, when its document parses.
fn operation_type(request: &async_graphql::Request) -> Option<OperationType> {
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let operation = document.operations.iter().find(|(name, _)| {
        request
            .operation_name
            .as_deref()
            .is_none_or(|wanted| name.is_some_and(|n| n.as_str() == wanted))
    })?;
    Some(operation.1.node.ty)
}

/// Runs the request and answers it in `media`. Queries have a time limit; mutations run to
/// their end (cutting one short after its write would answer an error for a change made).
async fn execute(http: &Http, request: async_graphql::Request, media: MediaType) -> Response {
    let limit = http.state.config.graphql_timeout();
    let is_mutation = operation_type(&request) == Some(OperationType::Mutation);
    let run = api::run(&http.schema, request);
    let done = if is_mutation {
        run.await
    } else {
        match tokio::time::timeout(limit, run).await {
            Ok(done) => done,
            Err(_) => return timed_out(limit, media),
        }
    };
    let mut body = serde_json::to_value(&done.response).unwrap_or_else(|e| {
        json!({"errors": [{"message": format!("internal error: {e}"), "extensions": {"code": "INTERNAL"}}]})
    });
    if done.executed {
        return answer(StatusCode::OK, media, body);
    }
    // A request error: the spec has no `data` entry then.
    if let Some(object) = body.as_object_mut() {
        object.remove("data");
    }
    let status = match media {
        MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    };
    answer(status, media, body)
}

fn timed_out(limit: Duration, media: MediaType) -> Response {
    tracing::warn!(
        limit_ms = limit.as_millis() as u64,
        "a GraphQL query ran out of time"
    );
    answer(
        StatusCode::OK,
        media,
        json!({"data": null, "errors": [{
            "message": format!(
                "The query took longer than {} ms and was stopped: ask for fewer items or fields.",
                limit.as_millis()
            ),
            "extensions": {"code": "INTERNAL", "reason": "TIMEOUT"}
        }]}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<MediaType> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, value.parse().unwrap());
        media_type(&h)
    }

    #[test]
    fn accept_picks_the_media_type() {
        assert_eq!(media_type(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(accept("application/json"), Some(MediaType::Json));
        assert_eq!(accept("*/*"), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Some(MediaType::Json)
        );
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }
}
