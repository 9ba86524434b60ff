//! OAuth 2.0 tokens: the resource owner password grant and the refresh grant at
//! `<Base URL>/identity/connect/token`, scope `api offline_access`. Acumatica rotates the
//! refresh token on every refresh: always keep the newest one ([`Tokens`] is what the owner
//! persists; the client announces each new set, see `Client::watch_tokens`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::error::{Error, PermanentReason};
use crate::domain::secret::Secret;

/// The scope the bridge asks for: the API, and a refresh token.
pub const SCOPE: &str = "api offline_access";

/// Path of the token endpoint below the Base URL.
pub const TOKEN_PATH: &str = "identity/connect/token";

/// Path of token revocation (RFC 7009) below the Base URL.
pub const REVOCATION_PATH: &str = "identity/connect/revocation";

/// The form that revokes a refresh token (secrets included: this goes on the wire only).
pub fn revocation_form(
    refresh_token: &Secret,
    client_id: &str,
    client_secret: &Secret,
) -> Vec<(&'static str, String)> {
    vec![
        ("token", refresh_token.expose().to_string()),
        ("token_type_hint", "refresh_token".into()),
        ("client_id", client_id.to_string()),
        ("client_secret", client_secret.expose().to_string()),
    ]
}

/// Path of sign-out below the Base URL.
pub const LOGOUT_PATH: &str = "entity/auth/logout";

/// A set of tokens. Debug output shows no token.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    pub access_token: Secret,
    /// Present when `offline_access` was granted. Rotates on every refresh.
    pub refresh_token: Option<Secret>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Tokens {
    /// How long before expiry the access token is refreshed: a quarter of its lifetime, at most
    /// a minute.
    pub fn refresh_margin(&self) -> Duration {
        let lifetime = (self.expires_at - self.issued_at)
            .to_std()
            .unwrap_or(Duration::ZERO);
        (lifetime / 4).min(Duration::from_secs(60))
    }

    /// Should the access token be refreshed before use, at `now`?
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        let margin = chrono::Duration::from_std(self.refresh_margin()).unwrap_or_default();
        now + margin >= self.expires_at
    }

    /// Has the access token expired at `now`?
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// A grant to send to the token endpoint.
pub enum Grant<'a> {
    Password {
        username: &'a str,
        password: &'a Secret,
    },
    Refresh {
        refresh_token: &'a Secret,
    },
}

impl Grant<'_> {
    /// The form fields of the request (secrets included: this goes on the wire only).
    pub fn form(&self, client_id: &str, client_secret: &Secret) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("client_id", client_id.to_string()),
            ("client_secret", client_secret.expose().to_string()),
        ];
        match self {
            Grant::Password { username, password } => {
                form.push(("grant_type", "password".into()));
                form.push(("username", username.to_string()));
                form.push(("password", password.expose().to_string()));
                form.push(("scope", SCOPE.into()));
            }
            Grant::Refresh { refresh_token } => {
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", refresh_token.expose().to_string()));
            }
        }
        form
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

/// Reads a successful token answer.
pub fn parse_answer(body: &[u8], now: DateTime<Utc>) -> Result<Tokens, Error> {
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|_| {
        Error::permanent(
            PermanentReason::Protocol,
            "the token endpoint answered with something that is not a token; check the Base URL",
            Some(200),
        )
    })?;
    let access = answer.access_token.filter(|t| !t.is_empty()).ok_or_else(|| {
        Error::permanent(
            PermanentReason::BadCredentials,
            "Acumatica issued no access token: the connected application may not grant the \"api\" scope",
            Some(200),
        )
    })?;
    if let Some(kind) = &answer.token_type
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(Error::permanent(
            PermanentReason::Protocol,
            format!("Acumatica issued a token of type \"{kind}\", expected Bearer"),
            Some(200),
        ));
    }
    let lifetime = answer.expires_in.unwrap_or(3600).max(1);
    Ok(Tokens {
        access_token: Secret::new(access),
        refresh_token: answer
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        issued_at: now,
        expires_at: now + chrono::Duration::seconds(lifetime as i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_and_margin() {
        let now = Utc::now();
        let t = parse_answer(
            br#"{"access_token":"a","expires_in":3600,"token_type":"Bearer","scope":"api offline_access","refresh_token":"r"}"#,
            now,
        )
        .unwrap();
        assert_eq!(t.refresh_margin(), Duration::from_secs(60));
        assert!(!t.needs_refresh(now));
        assert!(t.needs_refresh(now + chrono::Duration::seconds(3541)));
        assert!(!format!("{t:?}").contains("\"a\""));
        let short = parse_answer(br#"{"access_token":"a","expires_in":4}"#, now).unwrap();
        assert_eq!(short.refresh_margin(), Duration::from_secs(1));
        assert!(short.refresh_token.is_none());
        assert!(parse_answer(b"<html>", now).is_err());
        assert!(parse_answer(br#"{"token_type":"Bearer"}"#, now).is_err());
    }
}
