//! The job queue on PostgreSQL: the sled queue's design (`jobs::queue`) on the `jobs` table
//! of `migrations/0002_jobs.sql`, for several instances sharing one database.
//!
//! A job is a [`JobRecord`] as in sled; the columns are its fields. Every state change is one
//! transaction that locks the row, computes the next record with the same pure functions the
//! sled queue uses ([`settle`] for a run's outcome, [`interrupted`] for a lost attempt), writes
//! it back, and sends a NOTIFY on [`CHANNEL`] (delivered at commit, in commit order). Time is
//! the database's `now()`, so that instances with skewed clocks agree on leases and due times.
//!
//! What holds across instances:
//!
//! - **Leases.** [`PgQueue::claim`] takes due jobs of a kind with `FOR UPDATE SKIP LOCKED`
//!   (instances never wait on each other's rows, and never get the same job) and marks them
//!   RUNNING under the queue's owner name until `now() + lease`. The owner renews its leases
//!   ([`PgQueue::renew`]) while its handlers run. A lease that expired (its instance died or
//!   hangs) is taken over by the next claim of any instance: the attempt is closed as
//!   interrupted and counts, as at a sled restart. Writes of a run's end are fenced by the
//!   lease: [`PgQueue::finish`] of an owner that lost the job changes nothing. An instance
//!   that starts again under its name takes its own RUNNING jobs back at once
//!   ([`PgQueue::recover`]).
//! - **Uniqueness.** At most one live (QUEUED, RUNNING, RETRY_SCHEDULED) job per uniqueness
//!   key, enforced by the partial unique index `jobs_one_live_per_key`; a second push returns
//!   the live job (moving a scheduled retry of it to now), as in sled.
//! - **Parking.** `NotReady` parks a job on a condition without counting an attempt;
//!   [`PgQueue::unpark`] makes the parked jobs runnable.
//! - **Changes.** [`PgQueue::listen`] yields a [`JobChange`] for every change made by any
//!   instance (for `jobUpdates` and for waking workers at once on a push).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool, PgRow};
use sqlx::{PgConnection, Row};

use super::{PgError, Result};
use crate::domain::ErrorClass;
use crate::jobs::backoff::Backoff;
use crate::jobs::outcome::{Outcome, settle};
use crate::jobs::queue::{JobFilter, Limits, Pushed, interrupted};
use crate::jobs::record::{Attempt, JobKind, JobRecord, JobStatus, NewJob, Parked, Progress};

/// The NOTIFY channel of job changes.
pub const CHANNEL: &str = "bridge_jobs";

/// The columns of a job row, in the order [`record_of`] reads them.
const COLUMNS: &str = "id, kind, status, payload, attempts, max_attempts, run_at, unique_key, \
     order_number, lease_owner, lease_until, wait_condition, wait_reason, cancel_requested, \
     last_error, error_class, progress, history, created_at, updated_at";

const LIVE: &str = "('QUEUED', 'RUNNING', 'RETRY_SCHEDULED')";

/// What a NOTIFY on [`CHANNEL`] says: which job changed, and to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobChange {
    pub id: u64,
    pub kind: JobKind,
    pub status: JobStatus,
    /// Runnable now (QUEUED or RETRY_SCHEDULED, not parked): a worker of the kind should claim.
    pub runnable: bool,
}

impl JobChange {
    fn of(j: &JobRecord) -> JobChange {
        JobChange {
            id: j.id,
            kind: j.kind.clone(),
            status: j.status,
            runnable: is_runnable(j),
        }
    }
}

fn is_runnable(j: &JobRecord) -> bool {
    matches!(j.status, JobStatus::Queued | JobStatus::RetryScheduled) && j.waiting_for.is_none()
}

fn decode_err(what: &'static str) -> impl Fn(String) -> PgError {
    move |why| PgError::Decode { what, why }
}

/// A job row as a [`JobRecord`].
fn record_of(row: &PgRow) -> Result<JobRecord> {
    let bad = decode_err("job");
    let id: i64 = row.try_get("id")?;
    let kind = JobKind::new(row.try_get::<String, _>("kind")?).map_err(&bad)?;
    let status: String = row.try_get("status")?;
    let status = JobStatus::parse(&status).ok_or_else(|| bad(format!("status {status}")))?;
    let error_class = match row.try_get::<Option<String>, _>("error_class")? {
        Some(c) => Some(
            serde_json::from_value::<ErrorClass>(serde_json::Value::String(c.clone()))
                .map_err(|_| bad(format!("error class {c}")))?,
        ),
        None => None,
    };
    let waiting_for = match (
        row.try_get::<Option<String>, _>("wait_condition")?,
        row.try_get::<Option<String>, _>("wait_reason")?,
    ) {
        (Some(condition), reason) => Some(Parked {
            condition,
            reason: reason.unwrap_or_default(),
        }),
        (None, _) => None,
    };
    let progress = match row.try_get::<Option<serde_json::Value>, _>("progress")? {
        Some(v) => {
            Some(serde_json::from_value::<Progress>(v).map_err(|e| bad(format!("progress: {e}")))?)
        }
        None => None,
    };
    let history: Vec<Attempt> =
        serde_json::from_value(row.try_get::<serde_json::Value, _>("history")?)
            .map_err(|e| bad(format!("history: {e}")))?;
    let count = |name: &str| -> Result<u32> {
        let n: i32 = row.try_get(name)?;
        u32::try_from(n).map_err(|_| bad(format!("{name} {n}")))
    };
    Ok(JobRecord {
        id: id as u64,
        kind,
        payload: row.try_get("payload")?,
        status,
        attempts: count("attempts")?,
        max_attempts: count("max_attempts")?,
        run_at: row.try_get("run_at")?,
        lock_by: row.try_get("lease_owner")?,
        history,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        unique_key: row.try_get("unique_key")?,
        order_number: row.try_get("order_number")?,
        last_error: row.try_get("last_error")?,
        progress,
        waiting_for,
        cancel_requested: row.try_get("cancel_requested")?,
        error_class,
    })
}

/// The record as its row holds it: a runnable record always has a due time (the sled index
/// falls back to `updated_at`), and times are whole microseconds (PostgreSQL's precision),
/// so that what a change returns equals what is read back.
fn normalized(mut j: JobRecord) -> JobRecord {
    use chrono::SubsecRound;
    if is_runnable(&j) && j.run_at.is_none() {
        j.run_at = Some(j.updated_at);
    }
    j.run_at = j.run_at.map(|t| t.trunc_subsecs(6));
    j.updated_at = j.updated_at.trunc_subsecs(6);
    j.created_at = j.created_at.trunc_subsecs(6);
    if j.status != JobStatus::Running {
        j.lock_by = None;
    }
    j
}

fn as_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `filter` as SQL conditions (`AND …`), matching what [`JobFilter::matches`] matches.
fn push_filter(qb: &mut sqlx::QueryBuilder<sqlx::Postgres>, f: &JobFilter) {
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if !f.kinds.is_empty() {
        let kinds: Vec<String> = f.kinds.iter().map(|k| k.as_str().to_owned()).collect();
        qb.push(" AND kind = ANY(").push_bind(kinds).push(")");
    }
    if let Some(n) = &f.order_number {
        qb.push(" AND order_number = ").push_bind(n.clone());
    }
    if let Some(c) = f.error_class {
        qb.push(" AND error_class = ").push_bind(c.as_str());
    }
    if let Some(p) = &f.order_number_prefix {
        qb.push(" AND starts_with(order_number, ")
            .push_bind(p.clone())
            .push(")");
    }
    if let Some(t) = f.created.from {
        qb.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = f.created.to {
        qb.push(" AND created_at < ").push_bind(t);
    }
    if f.finished.from.is_some() || f.finished.to.is_some() {
        qb.push(" AND status IN ('SUCCEEDED', 'FAILED', 'CANCELED')");
        if let Some(t) = f.finished.from {
            qb.push(" AND updated_at >= ").push_bind(t);
        }
        if let Some(t) = f.finished.to {
            qb.push(" AND updated_at < ").push_bind(t);
        }
    }
}

/// The database's clock, for the current transaction (`now()` is its start time).
async fn db_now(conn: &mut PgConnection) -> Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *conn)
        .await?)
}

async fn notify(conn: &mut PgConnection, j: &JobRecord) -> Result<()> {
    let payload = serde_json::to_string(&JobChange::of(j)).expect("a JobChange serialises");
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes `j` over its row (and notifies). `lease_until`: a new lease of a RUNNING job; `None`
/// keeps the row's lease if it stays RUNNING (a progress, a cancel request).
async fn write(
    conn: &mut PgConnection,
    j: &JobRecord,
    lease_until: Option<DateTime<Utc>>,
) -> Result<JobRecord> {
    let j = normalized(j.clone());
    let history = serde_json::to_value(&j.history).expect("history serialises");
    let progress = j
        .progress
        .as_ref()
        .map(|p| serde_json::to_value(p).expect("progress serialises"));
    sqlx::query(
        "UPDATE jobs SET status = $2, attempts = $3, max_attempts = $4, run_at = $5, \
         lease_owner = $6, \
         lease_until = CASE WHEN $2 = 'RUNNING' THEN COALESCE($7, lease_until) END, \
         wait_condition = $8, wait_reason = $9, cancel_requested = $10, last_error = $11, \
         error_class = $12, progress = $13, history = $14, updated_at = $15, payload = $16 \
         WHERE id = $1",
    )
    .bind(j.id as i64)
    .bind(j.status.as_str())
    .bind(as_i32(j.attempts))
    .bind(as_i32(j.max_attempts))
    .bind(j.run_at)
    .bind(j.lock_by.as_deref())
    .bind(lease_until)
    .bind(j.waiting_for.as_ref().map(|p| p.condition.as_str()))
    .bind(j.waiting_for.as_ref().map(|p| p.reason.as_str()))
    .bind(j.cancel_requested)
    .bind(j.last_error.as_deref())
    .bind(j.error_class.map(|c| c.as_str()))
    .bind(progress)
    .bind(history)
    .bind(j.updated_at)
    .bind(&j.payload)
    .execute(&mut *conn)
    .await?;
    notify(conn, &j).await?;
    Ok(j)
}

/// Job `id`, locked for this transaction, if `filter` (SQL over the row) holds.
async fn locked(conn: &mut PgConnection, id: u64, filter: &str) -> Result<Option<JobRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND ({filter}) FOR UPDATE");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id as i64)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(record_of)
        .transpose()
}

/// Creates a job, or returns the live one with the same uniqueness key (moving a scheduled
/// retry of it to now), inside the caller's transaction: a job created together with other
/// writes (an order and its SYNC_ORDER job) or not at all. The NOTIFY goes out at commit.
pub async fn push_in(conn: &mut PgConnection, new: &NewJob, limits: &Limits) -> Result<Pushed> {
    let now = db_now(conn).await?;
    loop {
        if let Some(key) = &new.unique_key {
            let sql = format!(
                "SELECT {COLUMNS} FROM jobs WHERE unique_key = $1 AND status IN {LIVE} FOR UPDATE"
            );
            let live = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = live {
                let live = record_of(&row)?;
                if live.status == JobStatus::RetryScheduled {
                    let mut next = live.clone();
                    next.status = JobStatus::Queued;
                    next.run_at = Some(now);
                    next.updated_at = now;
                    let job = write(conn, &next, None).await?;
                    return Ok(Pushed {
                        job,
                        created: false,
                    });
                }
                return Ok(Pushed {
                    job: live,
                    created: false,
                });
            }
        }
        let max_attempts = new
            .max_attempts
            .unwrap_or_else(|| limits.max_attempts(&new.kind));
        // A concurrent push of the same key that commits first makes this insert do nothing
        // (the partial unique index); the loop then returns that job.
        let sql = format!(
            "INSERT INTO jobs (kind, status, payload, max_attempts, run_at, unique_key, \
             order_number, created_at, updated_at) \
             VALUES ($1, 'QUEUED', $2, $3, $4, $5, $6, $4, $4) \
             ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND status IN {LIVE} \
             DO NOTHING RETURNING {COLUMNS}"
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.kind.as_str())
            .bind(&new.payload)
            .bind(as_i32(max_attempts))
            .bind(now)
            .bind(new.unique_key.as_deref())
            .bind(new.order_number.as_deref())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = inserted {
            let job = record_of(&row)?;
            notify(conn, &job).await?;
            return Ok(Pushed { job, created: true });
        }
    }
}

/// The job queue of one owner (an instance, or one worker of it) on a shared database.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgQueue {
    pool: PgPool,
    owner: String,
    lease: Duration,
}

impl PgQueue {
    /// The queue on `pool` for `owner` (unique among the instances sharing the database,
    /// e.g. host name and process id), whose leases last `lease` unless renewed.
    pub fn new(pool: PgPool, owner: impl Into<String>, lease: Duration) -> PgQueue {
        PgQueue {
            pool,
            owner: owner.into(),
            lease,
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn lease_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// Creates a job (or returns the live one with its uniqueness key); committed on return.
    pub async fn push(&self, new: &NewJob, limits: &Limits) -> Result<Pushed> {
        let mut tx = self.pool.begin().await?;
        let pushed = push_in(&mut tx, new, limits).await?;
        tx.commit().await?;
        Ok(pushed)
    }

    pub async fn get(&self, id: u64) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id as i64)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record_of)
            .transpose()
    }

    /// Claims up to `limit` due jobs of `kind` for this owner: RUNNING under a lease, one
    /// more attempt, an open history entry. First, in the same transaction, RUNNING jobs of
    /// the kind whose lease expired are taken over: their attempt is closed as interrupted
    /// (it counts), and they are runnable again (or FAILED at their last attempt, CANCELED
    /// if that was asked). Rows another instance is claiming or changing are skipped, not
    /// waited for.
    pub async fn claim(&self, kind: &JobKind, limit: usize) -> Result<Vec<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs \
             WHERE kind = $1 AND status = 'RUNNING' AND lease_until < now() \
             ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED"
        );
        let expired = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.as_str())
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        for row in &expired {
            let job = record_of(row)?;
            let why = format!(
                "interrupted: the lease of {} expired while this attempt ran",
                job.lock_by.as_deref().unwrap_or("an instance")
            );
            write(&mut tx, &interrupted(&job, now, &why), None).await?;
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs \
             WHERE kind = $1 AND status IN ('QUEUED', 'RETRY_SCHEDULED') \
               AND wait_condition IS NULL AND run_at <= now() \
             ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
        );
        let due = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.as_str())
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for row in &due {
            let job = record_of(row)?;
            let mut next = job.clone();
            next.status = JobStatus::Running;
            next.attempts += 1;
            next.run_at = None;
            next.lock_by = Some(self.owner.clone());
            next.updated_at = now;
            next.history.push(Attempt {
                number: job.history.len() as u32 + 1,
                started_at: now,
                finished_at: None,
                error: None,
            });
            claimed.push(write(&mut tx, &next, Some(self.lease_end(now))).await?);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// At this owner's start: the jobs it left RUNNING (it stopped or was killed, and starts
    /// again under the same name) are given back at once instead of when their leases end:
    /// each attempt is closed as interrupted and counts, as at a sled restart. Returns them.
    pub async fn recover(&self) -> Result<Vec<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE status = 'RUNNING' AND lease_owner = $1 \
             ORDER BY id FOR UPDATE SKIP LOCKED"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&self.owner)
            .fetch_all(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let job = record_of(row)?;
            let why = "interrupted: the bridge stopped while this attempt ran";
            out.push(write(&mut tx, &interrupted(&job, now, why), None).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// When the next job of `kind` that is not due yet is due (for a worker's sleep).
    pub async fn next_due(&self, kind: &JobKind) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT min(run_at) FROM jobs WHERE kind = $1 \
             AND status IN ('QUEUED', 'RETRY_SCHEDULED') AND wait_condition IS NULL",
        )
        .bind(kind.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Extends every lease this owner holds to `now() + lease`; returns how many. Call it
    /// well within the lease (a third of it) while handlers run.
    pub async fn renew(&self) -> Result<u64> {
        let secs = self.lease.as_secs_f64();
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = now() + make_interval(secs => $2) \
             WHERE status = 'RUNNING' AND lease_owner = $1",
        )
        .bind(&self.owner)
        .bind(secs)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Ends this owner's RUNNING attempt of job `id` with `outcome` (see [`settle`]). `None`
    /// when the job is not RUNNING under this owner any more: its lease expired and another
    /// instance took it over, or it was deleted; nothing is written then.
    pub async fn finish(
        &self,
        id: u64,
        outcome: &Outcome,
        backoff: &Backoff,
        woke: bool,
    ) -> Result<Option<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let Some(job) = self.held(&mut tx, id).await? else {
            return Ok(None);
        };
        let next = write(&mut tx, &settle(&job, outcome, now, backoff, woke), None).await?;
        tx.commit().await?;
        Ok(Some(next))
    }

    /// Gives back a claimed job that never ran: the claim's attempt is forgotten.
    pub async fn release(&self, id: u64) -> Result<Option<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let Some(job) = self.held(&mut tx, id).await? else {
            return Ok(None);
        };
        let mut next = job.clone();
        if next.open_attempt_mut().is_some() {
            next.history.pop();
            next.attempts = next.attempts.saturating_sub(1);
        }
        next.status = JobStatus::Queued;
        next.run_at = Some(now);
        next.lock_by = None;
        next.updated_at = now;
        let next = write(&mut tx, &next, None).await?;
        tx.commit().await?;
        Ok(Some(next))
    }

    /// Records the progress of a job this owner runs. `None` if it does not run it (any more).
    pub async fn set_progress(&self, id: u64, progress: Progress) -> Result<Option<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let Some(job) = self.held(&mut tx, id).await? else {
            return Ok(None);
        };
        let mut next = job.clone();
        next.progress = Some(progress);
        next.updated_at = now;
        let next = write(&mut tx, &next, None).await?;
        tx.commit().await?;
        Ok(Some(next))
    }

    /// Job `id`, locked, if this owner holds it RUNNING.
    async fn held(&self, conn: &mut PgConnection, id: u64) -> Result<Option<JobRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE id = $1 AND status = 'RUNNING' \
             AND lease_owner = $2 FOR UPDATE"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id as i64)
            .bind(&self.owner)
            .fetch_optional(&mut *conn)
            .await?
            .as_ref()
            .map(record_of)
            .transpose()
    }

    /// Makes every job parked on `condition` runnable now; returns them.
    pub async fn unpark(&self, condition: &str) -> Result<Vec<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE wait_condition = $1 FOR UPDATE");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(condition)
            .fetch_all(&mut *tx)
            .await?;
        let mut out = vec![];
        for row in &rows {
            let mut next = record_of(row)?;
            next.waiting_for = None;
            next.run_at = Some(now);
            next.updated_at = now;
            out.push(write(&mut tx, &next, None).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// `retryJob`: a FAILED or CANCELED job is QUEUED again with the same id, its attempts
    /// start again at 0, its history is kept. Refused while another live job has its key.
    pub async fn retry(&self, id: u64) -> Result<JobRecord> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let job = locked(&mut tx, id, "true")
            .await?
            .ok_or(PgError::NotFound(id))?;
        if !matches!(job.status, JobStatus::Failed | JobStatus::Canceled) {
            return Err(PgError::Conflict(format!(
                "job {id} is {}; only FAILED or CANCELED jobs can be retried",
                job.status
            )));
        }
        if let Some(key) = &job.unique_key {
            let sql =
                format!("SELECT id, status FROM jobs WHERE unique_key = $1 AND status IN {LIVE}");
            let live: Option<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((live_id, status)) = live {
                return Err(PgError::Conflict(format!(
                    "job {live_id} ({status}) already does this work (key \"{key}\"); \
                     job {id} stays {}",
                    job.status
                )));
            }
        }
        let mut next = job.clone();
        next.status = JobStatus::Queued;
        next.attempts = 0;
        next.run_at = Some(now);
        next.updated_at = now;
        next.waiting_for = None;
        next.cancel_requested = false;
        next.progress = None;
        next.error_class = None;
        // A live job of the key committed meanwhile makes the unique index refuse this.
        let next = match write(&mut tx, &next, None).await {
            Err(PgError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                return Err(PgError::Conflict(format!(
                    "another job already does this work; job {id} stays {}",
                    job.status
                )));
            }
            r => r?,
        };
        tx.commit().await?;
        Ok(next)
    }

    /// `cancelJob`: QUEUED or RETRY_SCHEDULED → CANCELED; RUNNING → asked to stop at its next
    /// safe point when `running_ok`, else refused.
    pub async fn cancel(&self, id: u64, running_ok: bool) -> Result<JobRecord> {
        let mut tx = self.pool.begin().await?;
        let now = db_now(&mut tx).await?;
        let job = locked(&mut tx, id, "true")
            .await?
            .ok_or(PgError::NotFound(id))?;
        let mut next = job.clone();
        next.updated_at = now;
        match job.status {
            JobStatus::Queued | JobStatus::RetryScheduled => {
                next.status = JobStatus::Canceled;
                next.run_at = None;
                next.waiting_for = None;
            }
            JobStatus::Running if running_ok => next.cancel_requested = true,
            JobStatus::Running => {
                return Err(PgError::Conflict(format!(
                    "job {id} ({}) is running and cannot be stopped midway; \
                     it ends on its own (cancel it if it is scheduled for a retry)",
                    job.kind
                )));
            }
            s => {
                return Err(PgError::Conflict(format!(
                    "job {id} is already {s}; only QUEUED, RETRY_SCHEDULED or RUNNING \
                     jobs can be canceled"
                )));
            }
        }
        let next = write(&mut tx, &next, None).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Deletes SUCCEEDED jobs that finished before `before`; returns how many.
    pub async fn prune_succeeded(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jobs WHERE status = 'SUCCEEDED' AND updated_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many jobs stand in each (kind, status): a COUNT over `jobs_by_status_kind`.
    pub async fn counts(&self) -> Result<BTreeMap<(JobKind, JobStatus), u64>> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT kind, status, count(*) FROM jobs GROUP BY kind, status")
                .fetch_all(&self.pool)
                .await?;
        let bad = decode_err("job count");
        rows.into_iter()
            .map(|(kind, status, n)| {
                let kind = JobKind::new(kind).map_err(&bad)?;
                let status =
                    JobStatus::parse(&status).ok_or_else(|| bad(format!("status {status}")))?;
                Ok(((kind, status), n as u64))
            })
            .collect()
    }

    /// Up to `first` jobs matching `filter`, newest first (by id), below the id `below` (a
    /// page's cursor); and whether more follow.
    pub async fn list(
        &self,
        filter: &JobFilter,
        first: usize,
        below: Option<u64>,
    ) -> Result<(Vec<JobRecord>, bool)> {
        let mut qb = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE true"));
        push_filter(&mut qb, filter);
        if let Some(b) = below {
            qb.push(" AND id < ").push_bind(b as i64);
        }
        let limit = i64::try_from(first).unwrap_or(i64::MAX - 1) + 1;
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let more = rows.len() > first;
        let jobs = rows
            .iter()
            .take(first)
            .map(record_of)
            .collect::<Result<Vec<_>>>()?;
        Ok((jobs, more))
    }

    /// How many jobs match `filter`.
    pub async fn count(&self, filter: &JobFilter) -> Result<u64> {
        let mut qb = sqlx::QueryBuilder::new("SELECT count(*) FROM jobs WHERE true");
        push_filter(&mut qb, filter);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    /// The jobs of an order, newest first.
    pub async fn for_order(&self, number: &str) -> Result<Vec<JobRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE order_number = $1 ORDER BY id DESC");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_of)
            .collect()
    }

    /// Listens to every job change of every instance (from the moment this returns).
    pub async fn listen(&self) -> Result<Changes> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Changes { listener })
    }
}

/// The stream of [`JobChange`]s of [`PgQueue::listen`]. If its connection drops, it
/// reconnects on its own, and changes made meanwhile are not seen: a subscriber that must not
/// miss one reads the rows again after [`Changes::next`] reports the reconnect (`None`).
pub struct Changes {
    listener: PgListener,
}

impl Changes {
    /// The next change; `None` once after the connection was lost (and is being restored).
    pub async fn next(&mut self) -> Result<Option<JobChange>> {
        match self.listener.try_recv().await? {
            Some(n) => serde_json::from_str(n.payload())
                .map(Some)
                .map_err(|e| PgError::Decode {
                    what: "job change notification",
                    why: e.to_string(),
                }),
            None => Ok(None),
        }
    }
}
