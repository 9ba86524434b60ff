//! The Acumatica limits shared by every instance on one database: at most `max_rpm` requests
//! a minute, spread evenly (one every 60 s / max_rpm), and at most `max_concurrency` in
//! flight, for all instances together, since Acumatica's license counts the requests of the
//! Acumatica instance, not of each bridge. The in-process [`crate::acumatica::limiter`] does
//! the same for one process; this one keeps its state in the tables of
//! `migrations/0003_rate_limit.sql`.
//!
//! - **Turns.** [`SharedLimiter::acquire`] takes the turn `max(next_at, now(), paused_until)`
//!   and moves `next_at` one interval past it, in one UPDATE of the limiter's row: the row
//!   lock orders concurrent callers of every instance, and no two get turns closer than the
//!   interval. The caller then sleeps until its turn, measured on the database's clock (the
//!   turn minus the database's `now()`), so that instances' clocks need not agree.
//! - **In flight.** `max_concurrency` slot rows; a request holds one (`FOR UPDATE SKIP
//!   LOCKED` picks a free or expired one) under a lease longer than any request lasts, so that
//!   the slots of a killed instance come free on their own. A caller finding none polls again
//!   shortly (at most every 100 ms).
//! - **Pauses.** [`SharedLimiter::pause`] (a 429's Retry-After) moves every instance's next
//!   turn past the pause.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;

use super::Result;

/// One limiter (by name) as seen by one instance (its holder name).
#[derive(Clone, Debug)]
pub struct SharedLimiter {
    pool: PgPool,
    name: String,
    holder: String,
    interval: Duration,
    max_concurrency: i32,
    slot_lease: Duration,
}

/// A slot held, with the turn it was given. Give it back with [`SharedPermit::release`];
/// one dropped without that is given back in the background (or expires with its lease).
#[derive(Debug)]
pub struct SharedPermit {
    limiter: Option<SharedLimiter>,
    slot: i32,
    turn: DateTime<Utc>,
}

impl SharedPermit {
    /// The slot held (0 to max_concurrency − 1).
    pub fn slot(&self) -> i32 {
        self.slot
    }

    /// The turn this request was given, on the database's clock.
    pub fn turn(&self) -> DateTime<Utc> {
        self.turn
    }

    /// Frees the slot now.
    pub async fn release(mut self) -> Result<()> {
        match self.limiter.take() {
            Some(l) => l.free(self.slot).await,
            None => Ok(()),
        }
    }
}

impl Drop for SharedPermit {
    fn drop(&mut self) {
        if let Some(l) = self.limiter.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let slot = self.slot;
            rt.spawn(async move {
                if let Err(e) = l.free(slot).await {
                    tracing::warn!(error = %e, "freeing a shared rate-limit slot failed; it expires with its lease");
                }
            });
        }
    }
}

fn interval_of(max_rpm: u32) -> Duration {
    Duration::from_secs(60) / max_rpm.max(1)
}

impl SharedLimiter {
    /// The limiter `name` for `holder` (unique among instances), with these limits; makes
    /// its rows. The limits are the deployment's (every instance passes the same): slots at
    /// or above `max_concurrency` are never taken (and dropped when free).
    /// `slot_lease` must be longer than any request lasts (the client's timeout and more).
    pub async fn open(
        pool: PgPool,
        name: &str,
        holder: &str,
        max_rpm: u32,
        max_concurrency: u32,
        slot_lease: Duration,
    ) -> Result<SharedLimiter> {
        let n = i32::try_from(max_concurrency.max(1)).unwrap_or(i32::MAX);
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO rate_limits (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO rate_limit_slots (name, slot) SELECT $1, s FROM generate_series(0, $2 - 1) s \
             ON CONFLICT (name, slot) DO NOTHING",
        )
        .bind(name)
        .bind(n)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM rate_limit_slots WHERE name = $1 AND slot >= $2 \
             AND (holder IS NULL OR held_until < now())",
        )
        .bind(name)
        .bind(n)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SharedLimiter {
            pool,
            name: name.to_owned(),
            holder: holder.to_owned(),
            interval: interval_of(max_rpm),
            max_concurrency: n,
            slot_lease,
        })
    }

    /// The spacing between two requests of all instances.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for a free slot, then for this request's turn; hold the permit while the
    /// request is in flight.
    pub async fn acquire(&self) -> Result<SharedPermit> {
        let mut wait = Duration::from_millis(5);
        let slot = loop {
            if let Some(slot) = self.take_slot().await? {
                break slot;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(100));
        };
        let mut permit = SharedPermit {
            limiter: Some(self.clone()),
            slot,
            turn: Utc::now(),
        };
        let (turn, now): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
            "UPDATE rate_limits \
             SET next_at = GREATEST(next_at, now(), COALESCE(paused_until, now())) \
                 + make_interval(secs => $2) \
             WHERE name = $1 \
             RETURNING next_at - make_interval(secs => $2), now()",
        )
        .bind(&self.name)
        .bind(self.interval.as_secs_f64())
        .fetch_one(&self.pool)
        .await?;
        permit.turn = turn;
        if let Ok(d) = (turn - now).to_std() {
            tokio::time::sleep(d).await;
        }
        Ok(permit)
    }

    /// A free slot (or one whose lease expired), now held by this instance.
    async fn take_slot(&self) -> Result<Option<i32>> {
        Ok(sqlx::query_scalar(
            "UPDATE rate_limit_slots SET holder = $2, held_until = now() + make_interval(secs => $3) \
             WHERE (name, slot) = ( \
                 SELECT name, slot FROM rate_limit_slots \
                 WHERE name = $1 AND slot < $4 AND (holder IS NULL OR held_until < now()) \
                 ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING slot",
        )
        .bind(&self.name)
        .bind(&self.holder)
        .bind(self.slot_lease.as_secs_f64())
        .bind(self.max_concurrency)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn free(&self, slot: i32) -> Result<()> {
        sqlx::query(
            "UPDATE rate_limit_slots SET holder = NULL, held_until = NULL \
             WHERE name = $1 AND slot = $2 AND holder = $3",
        )
        .bind(&self.name)
        .bind(slot)
        .bind(&self.holder)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Pauses every instance's requests for `d` from now (a 429's Retry-After); a longer
    /// pause already set stands.
    pub async fn pause(&self, d: Duration) -> Result<()> {
        sqlx::query(
            "UPDATE rate_limits SET paused_until = \
                 GREATEST(COALESCE(paused_until, now()), now() + make_interval(secs => $2)) \
             WHERE name = $1",
        )
        .bind(&self.name)
        .bind(d.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
