//! The admin token that every GraphQL operation needs. Only its SHA-256 is kept (in the store,
//! or in memory when `BRIDGE_ADMIN_TOKEN` sets it); presented tokens are compared in constant time.
//! A token from the environment must be at least [`MIN_TOKEN_LEN`] characters.
//!
//! Wrong tokens are slowed down ([`AdminToken::check_bearer`]): after [`FREE_FAILURES`] wrong
//! tokens within a minute (from anywhere), each further wrong one is answered "too many
//! attempts, retry after" a delay that doubles from 1 s to a minute. The right token is never
//! slowed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{self, Store, trees};

const HASH_KEY: &str = "admin_token_sha256";

/// Shortest admin token accepted from `BRIDGE_ADMIN_TOKEN` (generated ones have 52).
pub const MIN_TOKEN_LEN: usize = 24;

/// Wrong tokens within [`WINDOW`] that are answered without delay.
pub const FREE_FAILURES: usize = 5;
const WINDOW: Duration = Duration::from_secs(60);
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// Failures remembered (enough to reach the largest delay).
const REMEMBERED: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "BRIDGE_ADMIN_TOKEN is {0} characters long; it must have at least {MIN_TOKEN_LEN} \
         (unset it to have the service generate one)"
    )]
    TooShort(usize),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<sled::Error> for AuthError {
    fn from(e: sled::Error) -> Self {
        AuthError::Store(e.into())
    }
}

/// What checking a presented token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The admin token.
    Accepted,
    /// No token, or a wrong one: answer 401.
    Refused,
    /// A wrong token while too many were tried: answer 429 with `Retry-After` (whole seconds).
    Throttled { retry_after: Duration },
}

#[derive(Clone)]
pub struct AdminToken {
    hash: [u8; 32],
    /// When the recent wrong tokens came, oldest first.
    failures: Arc<Mutex<VecDeque<Instant>>>,
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn generate() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("abt_{}", hex::encode(bytes))
}

impl AdminToken {
    /// The token to check against: `from_env` when set; else the stored hash; else a new token,
    /// whose hash is stored and which is returned (second value) to be shown once.
    pub fn load_or_create(
        store: &Store,
        from_env: Option<&str>,
    ) -> Result<(AdminToken, Option<String>), AuthError> {
        if let Some(token) = from_env.filter(|t| !t.is_empty()) {
            let len = token.chars().count();
            if len < MIN_TOKEN_LEN {
                return Err(AuthError::TooShort(len));
            }
            return Ok((AdminToken::of_hash(sha256(token)), None));
        }
        let meta = store.raw_tree(trees::META)?;
        if let Some(bytes) = meta.get(HASH_KEY)?
            && let Ok(hash) = <[u8; 32]>::try_from(bytes.as_ref())
        {
            return Ok((AdminToken::of_hash(hash), None));
        }
        let (token, fresh) = Self::rotate(store)?;
        Ok((token, Some(fresh)))
    }

    /// Makes and stores a new token; returns it with its plain text (shown once, never stored).
    pub fn rotate(store: &Store) -> store::Result<(AdminToken, String)> {
        let fresh = generate();
        let hash = sha256(&fresh);
        store.raw_tree(trees::META)?.insert(HASH_KEY, &hash)?;
        store.db().flush()?;
        Ok((AdminToken::of_hash(hash), fresh))
    }

    fn of_hash(hash: [u8; 32]) -> AdminToken {
        AdminToken {
            hash,
            failures: Arc::default(),
        }
    }

    /// A token given in plain text (kept only as its hash), such as the metrics token.
    pub fn of(token: &str) -> AdminToken {
        AdminToken::of_hash(sha256(token))
    }

    /// Is `presented` the admin token?
    pub fn verify(&self, presented: &str) -> bool {
        sha256(presented).ct_eq(&self.hash).into()
    }

    /// Checks an `Authorization: Bearer <token>` value.
    pub fn verify_bearer(&self, header: Option<&str>) -> bool {
        header
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|t| self.verify(t.trim()))
    }

    /// Checks an `Authorization: Bearer <token>` value and slows down repeated wrong tokens
    /// (see the module doc): what the HTTP layer answers.
    pub fn check_bearer(&self, header: Option<&str>) -> Check {
        self.check_bearer_at(header, Instant::now())
    }

    fn check_bearer_at(&self, header: Option<&str>, now: Instant) -> Check {
        if self.verify_bearer(header) {
            return Check::Accepted;
        }
        if header.is_none() {
            return Check::Refused; // no token tried
        }
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > WINDOW)
        {
            failures.pop_front();
        }
        if failures.len() == REMEMBERED {
            failures.pop_front();
        }
        failures.push_back(now);
        match failures.len().checked_sub(FREE_FAILURES + 1) {
            None => Check::Refused,
            Some(beyond) => Check::Throttled {
                retry_after: (FIRST_DELAY * 2u32.saturating_pow(beyond.min(16) as u32))
                    .min(MAX_DELAY),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_checks() {
        let t = AdminToken::of_hash(sha256("s3cret"));
        assert!(t.verify_bearer(Some("Bearer s3cret")));
        assert!(!t.verify_bearer(Some("Bearer s3cre")));
        assert!(!t.verify_bearer(Some("s3cret")));
        assert!(!t.verify_bearer(None));
    }

    #[test]
    fn repeated_wrong_tokens_are_slowed_but_never_the_right_one() {
        let t = AdminToken::of_hash(sha256("s3cret"));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        for _ in 0..FREE_FAILURES {
            assert_eq!(
                t.check_bearer_at(Some("Bearer nope"), at(0)),
                Check::Refused
            );
        }
        let delays: Vec<_> = (0..8)
            .map(|_| match t.check_bearer_at(Some("Bearer nope"), at(1)) {
                Check::Throttled { retry_after } => retry_after.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            t.check_bearer_at(Some("Bearer s3cret"), at(1)),
            Check::Accepted
        );
        // No token at all is refused, and does not count.
        assert_eq!(t.check_bearer_at(None, at(1)), Check::Refused);
        // A minute later the slate is clean again.
        assert_eq!(
            t.check_bearer_at(Some("Bearer nope"), at(62)),
            Check::Refused
        );
    }

    #[test]
    fn a_short_env_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let err = AdminToken::load_or_create(&store, Some("short-token"))
            .err()
            .expect("refused");
        assert!(err.to_string().contains("at least 24"), "{err}");
        let long = "a".repeat(MIN_TOKEN_LEN);
        assert!(AdminToken::load_or_create(&store, Some(&long)).is_ok());
    }
}
