//! Errors of the X-Cart client, classified by what the caller should do about them.

use std::time::Duration;

/// Why a request to the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The store refused the API token (401, or 403 for a token without read access): no
    /// retry can help until the operator gives a valid token.
    #[error("X-Cart refused the API token ({status}{}): check the token under Settings → API in the store's admin area, then connect the store again", message_suffix(.message))]
    Unauthorized { status: u16, message: String },
    /// Worth trying again later: a timeout, a dropped connection, a 5xx or a 429.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help: the URL does not lead to an X-Cart 5.5+ API (404, HTML), or
    /// the request was refused (400).
    #[error("{0}")]
    Permanent(String),
}

fn message_suffix(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

impl Error {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }
    /// The operator's class: a refused token or a wrong store URL is CONFIGURATION, the rest
    /// TRANSIENT (an order the bridge cannot read is DATA, kept in `rejectedOrders`).
    pub fn error_class(&self) -> crate::domain::ErrorClass {
        use crate::domain::ErrorClass;
        match self {
            Error::Transient { .. } => ErrorClass::Transient,
            Error::Unauthorized { .. } | Error::Permanent(_) => ErrorClass::Configuration,
        }
    }
}

/// The error of a response with a status other than 2xx. `body` is the text of the response,
/// `store` the store URL (for the message).
pub fn from_status(status: u16, body: &str, retry_after: Option<Duration>, store: &str) -> Error {
    let message = body_message(body);
    match status {
        401 | 403 => Error::Unauthorized { status, message },
        404 => Error::Permanent(format!(
            "{store} has no X-Cart orders API (GET /api/orders answered 404): check the store URL; the bridge needs X-Cart 5.5 or later"
        )),
        408 | 425 | 429 | 500..=599 => Error::Transient {
            message: format!("the store answered {status}{}", message_suffix(&message)),
            retry_after,
        },
        _ => Error::Permanent(format!(
            "the store refused the request with {status}{}",
            message_suffix(&message)
        )),
    }
}

/// The error of a redirect: never followed, since it would carry the token elsewhere.
pub fn redirect(status: u16, location: &str, store: &str) -> Error {
    let to = if location.is_empty() {
        String::new()
    } else {
        format!(" to \"{}\"", location.chars().take(200).collect::<String>())
    };
    Error::Permanent(format!(
        "{store} answered {status} with a redirect{to}; the bridge follows no redirects (they could \
         carry the API token to another host): use the store's final https address as the store URL"
    ))
}

/// The error of an answer larger than `limit` bytes.
pub fn too_big(limit: usize, store: &str) -> Error {
    Error::Permanent(format!(
        "{store} sent an answer larger than {} MiB, the most the bridge reads: check the store URL",
        limit >> 20
    ))
}

/// The human part of an error body: X-Cart's `{"message": …}`, API Platform's `detail`,
/// `hydra:description` or `title`, else the start of the text.
pub fn body_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        for key in ["message", "detail", "hydra:description", "title"] {
            if let Some(s) = v.get(key).and_then(|m| m.as_str())
                && !s.trim().is_empty()
            {
                return s.trim().to_owned();
            }
        }
    }
    let text: String = body.trim().chars().take(200).collect();
    if text.starts_with('<') {
        String::new()
    } else {
        text
    }
}

/// The error of a request that got no answer.
pub fn from_reqwest(e: &reqwest::Error, store: &str) -> Error {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "failed".to_owned()
    };
    let mut source = String::new();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = cur {
        source = s.to_string();
        cur = s.source();
    }
    Error::Transient {
        message: format!(
            "the request to {store} {what}{}",
            if source.is_empty() {
                String::new()
            } else {
                format!(" ({source})")
            }
        ),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let s = "https://shop.example.com";
        assert!(
            from_status(401, r#"{"message":"Invalid credentials."}"#, None, s).is_unauthorized()
        );
        assert!(from_status(403, "", None, s).is_unauthorized());
        assert!(from_status(503, "", None, s).is_transient());
        assert!(from_status(429, "", None, s).is_transient());
        assert!(
            matches!(from_status(404, "<html>", None, s), Error::Permanent(m) if m.contains("X-Cart 5.5"))
        );
        assert!(
            matches!(from_status(400, r#"{"detail":"Page should not be less than 1"}"#, None, s), Error::Permanent(m) if m.contains("Page should"))
        );
        let e = from_status(401, r#"{"message":"Invalid credentials."}"#, None, s);
        assert!(e.to_string().contains("Invalid credentials."), "{e}");
    }
}
