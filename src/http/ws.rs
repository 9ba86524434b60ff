//! GraphQL subscriptions over WebSocket (graphql-transport-ws), with the admin token in
//! `connection_init` and bounded resources: a browser's `Origin` must match the `Host`, a
//! message is at most `max_message_bytes`, `connection_init` must come within
//! `init_timeout`, and the open connections and each connection's subscriptions are capped.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::Http;
use super::host::{self, AllowedHosts};

/// The bounds of the subscription endpoint.
#[derive(Clone, Copy, Debug)]
pub struct WsLimits {
    /// Open WebSocket connections at once (there is one admin token: this is its cap too).
    pub max_connections: usize,
    /// Running subscriptions on one connection.
    pub max_subscriptions: usize,
    /// Largest message a client may send.
    pub max_message_bytes: usize,
    /// How long a new connection may take to send `connection_init`.
    pub init_timeout: Duration,
}

/// Counts the open connections against [`WsLimits::max_connections`].
#[derive(Clone)]
pub(super) struct WsGate {
    limits: WsLimits,
    open: Arc<AtomicUsize>,
}

/// One open connection's place; given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WsGate {
    pub(super) fn new(limits: WsLimits) -> WsGate {
        WsGate {
            limits,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn enter(&self) -> Option<Place> {
        let max = self.limits.max_connections;
        self.open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Place(self.open.clone()))
    }
}

/// graphql-transport-ws close codes.
const FORBIDDEN: u16 = 4403;
const INIT_TIMEOUT: u16 = 4408;
/// RFC 6455 "Try Again Later".
const TRY_AGAIN_LATER: u16 = 1013;

pub(super) async fn upgrade(
    State(http): State<Http>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let hosts = AllowedHosts::new(&http.state.config.allowed_hosts);
    if let Err(problem) = origin_matches(&headers, &hosts) {
        tracing::warn!(%problem, "refused a WebSocket from another origin");
        return (StatusCode::FORBIDDEN, problem).into_response();
    }
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
    let limits = http.ws.limits;
    let place = http.ws.enter();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_upgrade(move |mut socket| async move {
            match place {
                Some(place) => serve(http, socket, protocol, place).await,
                None => {
                    let reason = format!(
                        "too many open subscription connections (at most {}): close one and retry",
                        limits.max_connections
                    );
                    let _ = socket.send(close(TRY_AGAIN_LATER, reason)).await;
                }
            }
        })
}

/// A browser's `Origin` must name the host it talks to (or a configured name): another
/// site's page cannot open a subscription with a token it found.
fn origin_matches(headers: &HeaderMap, hosts: &AllowedHosts) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(()); // not a browser
    };
    let origin = origin.to_str().unwrap_or("");
    let url = url::Url::parse(origin).map_err(|_| format!("Origin {origin:?} is not a URL"))?;
    let origin_host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (name, port) = host::split(host);
    let origin_port = url.port_or_known_default();
    let same = name.eq_ignore_ascii_case(origin_host) && port.or(origin_port) == origin_port;
    if same || hosts.configured(origin_host) {
        Ok(())
    } else {
        Err(format!(
            "WebSocket from Origin {origin:?} refused: it does not match the host {host:?}"
        ))
    }
}

fn close(code: u16, reason: impl Into<String>) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into().into(),
    }))
}

/// The few fields of a protocol message the limits look at.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

fn envelope(text: &str) -> Option<Envelope> {
    serde_json::from_str(text).ok()
}

/// Runs one connection: async-graphql's protocol engine between the socket and the schema,
/// with the token check (4403), the init deadline (4408) and the subscription cap.
async fn serve(http: Http, socket: WebSocket, protocol: WebSocketProtocols, _place: Place) {
    let limits = http.ws.limits;
    let (mut sink, stream) = socket.split();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (refusals, mut refused_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let counted = running.clone();
    let input = stream
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(move |r| {
            let data = match r {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                _ => None,
            };
            let data = data.filter(|d| admit(d, &counted, limits.max_subscriptions, &refusals));
            futures::future::ready(data)
        });
    let refused = Arc::new(AtomicBool::new(false));
    let initialized = Arc::new(AtomicBool::new(false));
    let token = http.state.token.clone();
    let (refused_init, initialized_ok) = (refused.clone(), initialized.clone());
    let output = async_graphql::http::WebSocket::new(http.schema.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            let header = payload.get("Authorization").and_then(|v| v.as_str());
            if token.check_bearer(header) == crate::auth::Check::Accepted {
                initialized_ok.store(true, Ordering::SeqCst);
                Ok(async_graphql::Data::default())
            } else {
                refused_init.store(true, Ordering::SeqCst);
                Err(async_graphql::Error::new("missing or wrong admin token"))
            }
        });
    futures::pin_mut!(output);
    let deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(deadline);
    loop {
        let message = tokio::select! {
            m = output.next() => match m {
                Some(WsMessage::Text(text)) => {
                    if let Some(e) = envelope(&text)
                        && matches!(e.kind.as_str(), "complete" | "error")
                        && let Some(id) = e.id
                    {
                        running.lock().unwrap().remove(&id);
                    }
                    Message::Text(text.into())
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = if refused.load(Ordering::SeqCst) { FORBIDDEN } else { code };
                    close(code, reason)
                }
                None => break,
            },
            Some(text) = refused_rx.recv() => Message::Text(text.into()),
            _ = &mut deadline, if !initialized.load(Ordering::SeqCst) => {
                close(INIT_TIMEOUT, "Connection initialisation timeout")
            }
        };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            break;
        }
    }
}

/// Lets a client message through, or refuses a subscription past the cap (answered with an
/// `error` message for its id instead).
fn admit(
    data: &[u8],
    running: &Mutex<HashSet<String>>,
    max: usize,
    refusals: &tokio::sync::mpsc::UnboundedSender<String>,
) -> bool {
    let Some(e) = std::str::from_utf8(data).ok().and_then(envelope) else {
        return true;
    };
    let Some(id) = e.id else { return true };
    let mut running = running.lock().unwrap();
    match e.kind.as_str() {
        "subscribe" | "start" if !running.contains(&id) && running.len() >= max => {
            let message = format!(
                "too many subscriptions on this connection (at most {max}): complete one first"
            );
            let error = json!({"id": id, "type": "error", "payload": [{
                "message": message, "extensions": {"code": "BAD_INPUT", "field": "subscribe"}
            }]});
            let _ = refusals.send(error.to_string());
            false
        }
        "subscribe" | "start" => {
            running.insert(id);
            true
        }
        "complete" | "stop" => {
            running.remove(&id);
            true
        }
        _ => true,
    }
}
