//! The Host check against DNS rebinding: a page on another site whose name an attacker points
//! at this machine sends its own name as `Host`. Only names the bridge answers to pass:
//! IP addresses (a rebinding attack needs a name), `localhost`, and the names configured with
//! `--allowed-hosts` (the public names of a reverse proxy in front, or `*` for any).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

/// The names `Host` may carry.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    names: Arc<Vec<String>>,
    any: bool,
}

impl AllowedHosts {
    pub fn new(configured: &[String]) -> AllowedHosts {
        let names: Vec<String> = configured
            .iter()
            .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        AllowedHosts {
            any: names.iter().any(|n| n == "*"),
            names: Arc::new(names),
        }
    }

    /// Does a `Host` value (name or address, with or without a port) name this bridge?
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        if name.parse::<IpAddr>().is_ok() {
            return true;
        }
        name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name)
    }

    /// Is `name` one of the names set with `--allowed-hosts` (or is any name allowed)?
    pub fn configured(&self, name: &str) -> bool {
        self.any || self.names.contains(&name.to_ascii_lowercase())
    }
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `::1`.
pub(super) fn strip_port(host: &str) -> &str {
    split(host).0
}

/// A `Host` value's name (brackets of an IPv6 address removed) and port.
pub(super) fn split(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (name, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

/// The request's host: the `Host` header, or the URI's authority (HTTP/2).
pub(super) fn of(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

pub(super) async fn check(
    State(hosts): State<AllowedHosts>,
    request: Request,
    next: Next,
) -> Response {
    match of(&request) {
        Some(host) if !hosts.allows(host) => {
            tracing::warn!(
                host,
                "refused a request for a host name the bridge does not answer to"
            );
            (
                StatusCode::MISDIRECTED_REQUEST,
                Json(json!({"errors": [{
                    "message": format!(
                        "this bridge does not answer to the host name {host:?}: add it with \
                         --allowed-hosts (BRIDGE_ALLOWED_HOSTS) when a reverse proxy forwards it"
                    ),
                    "extensions": {"code": "BAD_INPUT", "field": "Host"}
                }]})),
            )
                .into_response()
        }
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(names: &[&str]) -> AllowedHosts {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        AllowedHosts::new(&names)
    }

    #[test]
    fn addresses_and_localhost_pass() {
        let h = hosts(&[]);
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "10.0.0.5:80",
            "localhost:8080",
            "LOCALHOST",
            "app.localhost:1",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for no in [
            "evil.example:8080",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
        ] {
            assert!(!h.allows(no), "{no}");
        }
    }

    #[test]
    fn configured_names_pass() {
        let h = hosts(&["Bridge.Example.com", ""]);
        assert!(h.allows("bridge.example.com:443"));
        assert!(h.allows("bridge.example.com."));
        assert!(!h.allows("other.example.com"));
        assert!(hosts(&["*"]).allows("anything.example"));
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(split("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split("a.b:8080"), ("a.b", Some(8080)));
        assert_eq!(split("a.b"), ("a.b", None));
    }
}
