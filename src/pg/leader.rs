//! One instance at a time: work that must not run on two instances at once (the periodic
//! X-Cart import, the Acumatica token renewal) runs on the instance that holds its
//! leadership, a PostgreSQL session advisory lock named after the work.
//!
//! [`try_lead`] takes the lock on a connection of its own, taken out of the pool for good
//! (a pooled connection would carry the lock to whoever uses it next). The lock lasts as long
//! as that session: [`Leader::resign`] gives it up at once, and if the instance dies or its
//! connection breaks, the server ends the session and the lock with it, so another instance's
//! next [`try_lead`] succeeds. A leader checks [`Leader::still_leads`] before each round of
//! its work, since a broken connection means the lock may already be another's.

use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;
use sqlx::{Connection, PgConnection};

use super::Result;

/// The advisory lock key of `name`: a stable 64-bit hash, namespaced to the bridge.
pub fn key_of(name: &str) -> i64 {
    let digest = Sha256::digest(format!("acumatica-bridge leader {name}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The leadership of one piece of work, held by this instance.
#[derive(Debug)]
pub struct Leader {
    name: String,
    key: i64,
    conn: PgConnection,
}

/// Takes the leadership of `name` if no instance holds it; `None` if one does.
pub async fn try_lead(pool: &PgPool, name: &str) -> Result<Option<Leader>> {
    let key = key_of(name);
    let mut conn = pool.acquire().await?.detach();
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    if !got {
        let _ = conn.close().await;
        return Ok(None);
    }
    Ok(Some(Leader {
        name: name.to_owned(),
        key,
        conn,
    }))
}

impl Leader {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True while the session holding the lock lives (and holds it).
    pub async fn still_leads(&mut self) -> bool {
        let held: std::result::Result<bool, _> = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND pid = pg_backend_pid() \
             AND ((classid::bigint << 32) | objid::bigint) = $1 AND objsubid = 1)",
        )
        .bind(self.key)
        .fetch_one(&mut self.conn)
        .await;
        held.unwrap_or(false)
    }

    /// Gives the leadership up now (another instance may take it at once).
    pub async fn resign(mut self) -> Result<()> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut self.conn)
            .await?;
        let _ = self.conn.close().await;
        Ok(())
    }
}
