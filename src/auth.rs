//! The admin token that every GraphQL operation needs. Only its SHA-256 is kept (in the store,
//! or in memory when `BRIDGE_ADMIN_TOKEN` sets it); presented tokens are compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{self, Store, trees};

const HASH_KEY: &str = "admin_token_sha256";

#[derive(Clone)]
pub struct AdminToken {
    hash: [u8; 32],
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
    ) -> store::Result<(AdminToken, Option<String>)> {
        if let Some(token) = from_env.filter(|t| !t.is_empty()) {
            return Ok((
                AdminToken {
                    hash: sha256(token),
                },
                None,
            ));
        }
        let meta = store.raw_tree(trees::META)?;
        if let Some(bytes) = meta.get(HASH_KEY)?
            && let Ok(hash) = <[u8; 32]>::try_from(bytes.as_ref())
        {
            return Ok((AdminToken { hash }, None));
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
        Ok((AdminToken { hash }, fresh))
    }

    /// A token given in plain text (kept only as its hash), such as the metrics token.
    pub fn of(token: &str) -> AdminToken {
        AdminToken {
            hash: sha256(token),
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_checks() {
        let t = AdminToken {
            hash: sha256("s3cret"),
        };
        assert!(t.verify_bearer(Some("Bearer s3cret")));
        assert!(!t.verify_bearer(Some("Bearer s3cre")));
        assert!(!t.verify_bearer(Some("s3cret")));
        assert!(!t.verify_bearer(None));
    }
}
