//! The job queue on sled: every state change of a job is one transaction over two trees.
//!
//! - `jobs`: id (8 bytes BE) → [`JobRecord`] (JSON). Ids come from sled's `generate_id`, which
//!   grows across restarts, so id order is creation order and "newest first" is a reverse scan.
//! - `jobs_index`: entries derived from each record by [`index_entries`], kept in step by
//!   [`JobTx::put`] (old entries out, new ones in, in the same transaction):
//!
//! | prefix | key | value | for |
//! |---|---|---|---|
//! | `r` | kind, 0, run_at ms, id | – | claiming: runnable jobs of a kind, due first; no scan of everything |
//! | `p` | condition, 0, id | – | parked `NotReady` jobs, woken by condition |
//! | `u` | uniqueness key | id | at most one live job per key |
//! | `o` | order number, 0, id | – | jobs of an order |
//! | `x` | id | lock holder | RUNNING jobs, for crash recovery |
//! | `s` | finished ms, id | – | SUCCEEDED jobs by age, for retention |
//! | `l`, `c` | see [`super::listing`] | | lists and counts by status and kind |
//!
//! Nothing here flushes: callers flush (group commit) before they answer or publish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, TimeZone, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::JobsError;
use super::backoff::Backoff;
use super::listing;
use super::outcome::{Outcome, settle};
use super::record::{Attempt, JobKind, JobRecord, JobStatus, NewJob};
use crate::domain::ErrorClass;
use crate::store::{Store, decode, encode, trees};

type TxResult<T, E = JobsError> = Result<T, ConflictableTransactionError<E>>;

/// Attempts a new job gets: per kind, else the configured default.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub default_max_attempts: u32,
    pub per_kind: HashMap<JobKind, u32>,
}

impl Limits {
    pub fn max_attempts(&self, kind: &JobKind) -> u32 {
        self.per_kind
            .get(kind)
            .copied()
            .unwrap_or(self.default_max_attempts)
    }
}

/// What lists and bulk actions filter on (the one home of job matching).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    /// Any of these kinds; empty: every kind.
    pub kinds: Vec<JobKind>,
    pub order_number: Option<String>,
    pub error_class: Option<ErrorClass>,
    /// The order number starts with this (case-sensitive, as numbers are stored).
    pub order_number_prefix: Option<String>,
    /// Created in `[from, to)`.
    pub created: TimeRange,
    /// Finished (SUCCEEDED, FAILED or CANCELED: `updated_at`) in `[from, to)`; live jobs
    /// never match a finished range.
    pub finished: TimeRange,
}

/// A half-open time range; an open end is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }
    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

impl JobFilter {
    /// The filter in words, for the audit log ("status FAILED, class DATA").
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(s) = self.status {
            parts.push(format!("status {s}"));
        }
        if self.kinds.len() == 1 {
            parts.push(format!("kind {}", self.kinds[0]));
        }
        if let Some(n) = &self.order_number {
            parts.push(format!("order {n}"));
        }
        if let Some(p) = &self.order_number_prefix {
            parts.push(format!("order number starting {p}"));
        }
        if let Some(c) = self.error_class {
            parts.push(format!("class {}", c.as_str()));
        }
        for (name, r) in [("created", &self.created), ("finished", &self.finished)] {
            if let Some(f) = r.from {
                parts.push(format!("{name} from {}", f.to_rfc3339()));
            }
            if let Some(t) = r.to {
                parts.push(format!("{name} before {}", t.to_rfc3339()));
            }
        }
        if parts.is_empty() {
            "every job".into()
        } else {
            format!("jobs with {}", parts.join(", "))
        }
    }

    pub fn matches(&self, j: &JobRecord) -> bool {
        self.status.is_none_or(|s| s == j.status)
            && (self.kinds.is_empty() || self.kinds.contains(&j.kind))
            && self
                .order_number
                .as_ref()
                .is_none_or(|n| j.order_number.as_ref() == Some(n))
            && self.error_class.is_none_or(|c| j.error_class == Some(c))
            && self.order_number_prefix.as_ref().is_none_or(|p| {
                j.order_number
                    .as_deref()
                    .is_some_and(|n| n.starts_with(p.as_str()))
            })
            && self.created.contains(j.created_at)
            && (!self.finished.is_set()
                || (!j.status.is_live() && self.finished.contains(j.updated_at)))
    }
}

pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn millis(t: DateTime<Utc>) -> [u8; 8] {
    (t.timestamp_millis().max(0) as u64).to_be_bytes()
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn ready_prefix(kind: &JobKind) -> Vec<u8> {
    join(&[b"r", kind.as_str().as_bytes(), &[0]])
}

fn parked_prefix(condition: &str) -> Vec<u8> {
    join(&[b"p", condition.as_bytes(), &[0]])
}

fn order_prefix(number: &str) -> Vec<u8> {
    join(&[b"o", number.as_bytes(), &[0]])
}

fn unique_key(key: &str) -> Vec<u8> {
    join(&[b"u", key.as_bytes()])
}

fn tail_u64(key: &[u8], from_end: usize) -> u64 {
    let end = key.len() - from_end;
    u64::from_be_bytes(key[end - 8..end].try_into().expect("8 bytes"))
}

/// The index entries of a record in its current state.
pub fn index_entries(j: &JobRecord) -> Vec<(Vec<u8>, Vec<u8>)> {
    let id = id_key(j.id);
    let mut out = vec![(listing::entry(j), vec![])];
    if let Some(n) = &j.order_number {
        out.push((join(&[&order_prefix(n), &id]), vec![]));
    }
    match j.status {
        JobStatus::Queued | JobStatus::RetryScheduled => match &j.waiting_for {
            Some(p) => out.push((join(&[&parked_prefix(&p.condition), &id]), vec![])),
            None => {
                let at = millis(j.run_at.unwrap_or(j.updated_at));
                out.push((join(&[&ready_prefix(&j.kind), &at, &id]), vec![]));
            }
        },
        JobStatus::Running => out.push((
            join(&[b"x", &id]),
            j.lock_by.clone().unwrap_or_default().into_bytes(),
        )),
        JobStatus::Succeeded => out.push((join(&[b"s", &millis(j.updated_at), &id]), vec![])),
        JobStatus::Failed | JobStatus::Canceled => {}
    }
    if let (Some(k), true) = (&j.unique_key, j.status.is_live()) {
        out.push((unique_key(k), id.to_vec()));
    }
    out
}

fn abort<E: From<JobsError>>(e: impl Into<JobsError>) -> ConflictableTransactionError<E> {
    ConflictableTransactionError::Abort(E::from(e.into()))
}

/// The job trees inside one sled transaction. Collects every record it writes, so that the
/// caller can publish them once the transaction is committed and flushed.
pub struct JobTx<'a> {
    jobs: &'a TransactionalTree,
    index: &'a TransactionalTree,
    limits: &'a Limits,
    now: DateTime<Utc>,
    changed: std::cell::RefCell<Vec<JobRecord>>,
}

/// The answer of a push.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub job: JobRecord,
    /// False when a live job with the same uniqueness key was returned instead.
    pub created: bool,
}

impl<'a> JobTx<'a> {
    pub fn new(
        jobs: &'a TransactionalTree,
        index: &'a TransactionalTree,
        limits: &'a Limits,
        now: DateTime<Utc>,
    ) -> JobTx<'a> {
        JobTx {
            jobs,
            index,
            limits,
            now,
            changed: Default::default(),
        }
    }

    pub fn into_changed(self) -> Vec<JobRecord> {
        self.changed.into_inner()
    }

    pub fn get<E: From<JobsError>>(&self, id: u64) -> TxResult<Option<JobRecord>, E> {
        match self.jobs.get(id_key(id))? {
            Some(b) => Ok(Some(decode(&b).map_err(abort)?)),
            None => Ok(None),
        }
    }

    /// Writes `new` (replacing `old`) with its index entries.
    pub fn put<E: From<JobsError>>(
        &self,
        old: Option<&JobRecord>,
        new: &JobRecord,
    ) -> TxResult<(), E> {
        let fresh = index_entries(new);
        if let Some(old) = old {
            for (k, _) in index_entries(old) {
                if fresh.iter().any(|(f, _)| *f == k) {
                    continue;
                }
                if k.first() == Some(&b'u')
                    && self.index.get(&k)?.as_deref() != Some(&id_key(old.id)[..])
                {
                    continue; // the key belongs to another job now
                }
                self.index.remove(k)?;
            }
        }
        for (k, v) in fresh {
            self.index.insert(k, v)?;
        }
        listing::recount(self.index, old, Some(new))?;
        self.jobs.insert(&id_key(new.id), encode(new))?;
        self.changed.borrow_mut().push(new.clone());
        Ok(())
    }

    fn delete<E: From<JobsError>>(&self, old: &JobRecord) -> TxResult<(), E> {
        for (k, _) in index_entries(old) {
            if k.first() == Some(&b'u')
                && self.index.get(&k)?.as_deref() != Some(&id_key(old.id)[..])
            {
                continue;
            }
            self.index.remove(k)?;
        }
        listing::recount(self.index, Some(old), None)?;
        self.jobs.remove(&id_key(old.id))?;
        Ok(())
    }

    /// Job `id` if it is (still) RUNNING.
    pub fn running<E: From<JobsError>>(&self, id: u64) -> TxResult<Option<JobRecord>, E> {
        Ok(self.get(id)?.filter(|j| j.status == JobStatus::Running))
    }

    /// The live job holding `key`, if any.
    pub fn live_with_key<E: From<JobsError>>(&self, key: &str) -> TxResult<Option<JobRecord>, E> {
        let Some(id) = self.index.get(unique_key(key))? else {
            return Ok(None);
        };
        let id = u64::from_be_bytes(id.as_ref().try_into().unwrap_or([0; 8]));
        Ok(self.get(id)?.filter(|j| j.status.is_live()))
    }

    /// Creates a job, or returns the live one with the same uniqueness key (moving a
    /// scheduled retry of it to now). Usable inside any multi-tree transaction.
    pub fn push<E: From<JobsError>>(&self, new: &NewJob) -> TxResult<Pushed, E> {
        let now = self.now;
        if let Some(key) = &new.unique_key
            && let Some(live) = self.live_with_key(key)?
        {
            if live.status == JobStatus::RetryScheduled {
                let mut next = live.clone();
                next.status = JobStatus::Queued;
                next.run_at = Some(now);
                next.updated_at = now;
                self.put(Some(&live), &next)?;
                return Ok(Pushed {
                    job: next,
                    created: false,
                });
            }
            return Ok(Pushed {
                job: live,
                created: false,
            });
        }
        let job = JobRecord {
            id: self.jobs.generate_id()?,
            kind: new.kind.clone(),
            payload: new.payload.clone(),
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: new
                .max_attempts
                .unwrap_or_else(|| self.limits.max_attempts(&new.kind)),
            run_at: Some(now),
            lock_by: None,
            history: vec![],
            created_at: now,
            updated_at: now,
            unique_key: new.unique_key.clone(),
            order_number: new.order_number.clone(),
            last_error: None,
            progress: None,
            waiting_for: None,
            cancel_requested: false,
            error_class: None,
        };
        self.put(None, &job)?;
        Ok(Pushed { job, created: true })
    }
}

/// A RUNNING job whose attempt was cut short (`error` says how): the attempt is closed and
/// counts; the job is QUEUED again, FAILED if that was its last attempt, or CANCELED if its
/// cancellation was asked.
pub(crate) fn interrupted(job: &JobRecord, now: DateTime<Utc>, error: &str) -> JobRecord {
    let mut next = job.clone();
    next.updated_at = now;
    next.run_at = Some(now);
    next.waiting_for = None;
    if let Some(a) = next.open_attempt_mut() {
        a.finished_at = Some(now);
        a.error = Some(error.into());
    }
    next.last_error = Some(error.into());
    next.lock_by = None;
    if next.cancel_requested {
        next.status = JobStatus::Canceled;
        next.run_at = None;
    } else if next.attempts >= next.max_attempts {
        next.status = JobStatus::Failed;
        next.run_at = None;
    } else {
        next.status = JobStatus::Queued;
    }
    next.cancel_requested = false;
    next
}

/// Called with every record a committed transaction wrote, in commit order.
pub type Publish = Arc<dyn Fn(&JobRecord) + Send + Sync>;

/// What a worker claims jobs under: while it lives, the jobs it claimed are its own (their
/// handler runs, or their outcome is on its way back); once dropped (the worker's stream is
/// gone, and with it every handler it ran), [`Queue::requeue_orphans`] gives them back.
#[derive(Debug, Default)]
pub struct Lease(Arc<()>);

impl Lease {
    pub fn new() -> Lease {
        Lease::default()
    }
    pub fn holder(&self) -> Holder {
        Holder(Arc::downgrade(&self.0))
    }
}

/// A weak handle on a [`Lease`], to claim with (cheap to clone; does not keep it alive).
#[derive(Debug, Clone, Default)]
pub struct Holder(Weak<()>);

impl Holder {
    fn is_live(&self) -> bool {
        self.0.strong_count() > 0
    }
}

/// The two job trees of the store.
#[derive(Clone)]
pub struct Queue {
    pub jobs: sled::Tree,
    pub index: sled::Tree,
    /// Held across each transaction and the publishing of what it wrote, so that events
    /// come out in commit order (a job's QUEUED never after its RUNNING).
    seq: Arc<Mutex<()>>,
    /// The jobs this process claimed and has not finished or released yet, each with the
    /// lease of the worker that claimed it. Locked before `seq` (claim, sweep), so that a
    /// sweep never sees a claim committed but not yet recorded here.
    held: Arc<Mutex<HashMap<u64, Holder>>>,
    publish: Publish,
}

impl Queue {
    pub fn open(store: &Store, publish: Publish) -> Result<Queue, JobsError> {
        let queue = Queue {
            jobs: store.raw_tree(trees::JOBS)?,
            index: store.raw_tree(trees::JOBS_INDEX)?,
            seq: Arc::default(),
            held: Arc::default(),
            publish,
        };
        listing::build_once(&queue.jobs, &queue.index)?;
        Ok(queue)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Holder>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one transaction over the job trees; returns its result and every record
    /// it wrote (already published).
    pub fn tx<R>(
        &self,
        limits: &Limits,
        f: impl Fn(&JobTx) -> TxResult<R>,
    ) -> Result<(R, Vec<JobRecord>), JobsError> {
        self.tx_with(&[], limits, |_, tx| f(tx))
    }

    /// Like [`Queue::tx`], over `others` too (their views come first, in order).
    pub fn tx_with<R, E: From<JobsError>>(
        &self,
        others: &[&sled::Tree],
        limits: &Limits,
        f: impl Fn(&[TransactionalTree], &JobTx) -> TxResult<R, E>,
    ) -> Result<(R, Vec<JobRecord>), E> {
        let mut all: Vec<&sled::Tree> = others.to_vec();
        all.push(&self.jobs);
        all.push(&self.index);
        let _seq = self.seq.lock().unwrap_or_else(|e| e.into_inner());
        let now = Utc::now();
        let result = all.as_slice().transaction(|views| {
            let n = views.len();
            let tx = JobTx::new(&views[n - 2], &views[n - 1], limits, now);
            let r = f(&views[..n - 2], &tx)?;
            Ok((r, tx.into_changed()))
        });
        match result {
            Ok((r, changed)) => {
                for j in &changed {
                    (self.publish)(j);
                }
                Ok((r, changed))
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(E::from(e.into())),
        }
    }

    pub fn get(&self, id: u64) -> Result<Option<JobRecord>, JobsError> {
        Ok(self.jobs.get(id_key(id))?.map(|b| decode(&b)).transpose()?)
    }

    /// Claims up to `limit` due jobs of `kind` for `worker`: RUNNING, one more attempt, an
    /// open history entry. Also returns when the next not-yet-due job of the kind is due.
    /// The claims are held by no lease: see [`Queue::claim_for`].
    pub fn claim(
        &self,
        kind: &JobKind,
        limit: usize,
        worker: &str,
    ) -> Result<(Vec<JobRecord>, Option<DateTime<Utc>>), JobsError> {
        self.claim_for(kind, limit, worker, &Holder::default())
    }

    /// [`Queue::claim`] for the worker holding `lease`: its claims stay its own while the
    /// lease lives (a sweep leaves them alone), and are orphans once it is dropped.
    pub fn claim_for(
        &self,
        kind: &JobKind,
        limit: usize,
        worker: &str,
        lease: &Holder,
    ) -> Result<(Vec<JobRecord>, Option<DateTime<Utc>>), JobsError> {
        let mut held = self.held();
        let now = Utc::now();
        let now_ms = now.timestamp_millis().max(0) as u64;
        let mut due = vec![];
        let mut next_due = None;
        for entry in self.index.scan_prefix(ready_prefix(kind)) {
            let (key, _) = entry?;
            let at = tail_u64(&key, 8);
            if at > now_ms {
                next_due = Utc.timestamp_millis_opt(at as i64).single();
                break;
            }
            due.push(tail_u64(&key, 0));
            if due.len() >= limit {
                break;
            }
        }
        let limits = Limits::default();
        let mut claimed = vec![];
        for id in due {
            let (_, changed) = self.tx(&limits, |tx| {
                let Some(job) = tx.get(id)? else {
                    return Ok(());
                };
                let runnable = matches!(job.status, JobStatus::Queued | JobStatus::RetryScheduled)
                    && job.waiting_for.is_none();
                if !runnable {
                    return Ok(());
                }
                let mut next = job.clone();
                next.status = JobStatus::Running;
                next.attempts += 1;
                next.run_at = None;
                next.lock_by = Some(worker.to_owned());
                next.updated_at = now;
                next.history.push(Attempt {
                    number: job.history.len() as u32 + 1,
                    started_at: now,
                    finished_at: None,
                    error: None,
                });
                tx.put(Some(&job), &next)
            })?;
            for j in &changed {
                held.insert(j.id, lease.clone());
            }
            claimed.extend(changed);
        }
        Ok((claimed, next_due))
    }

    /// Ends the RUNNING attempt of job `id` with `outcome`. `None` if the job is not RUNNING
    /// (it was recovered or deleted meanwhile).
    pub fn finish(
        &self,
        id: u64,
        outcome: &Outcome,
        backoff: &Backoff,
        woke: bool,
    ) -> Result<Option<JobRecord>, JobsError> {
        let mut held = self.held();
        let (_, changed) = self.tx(&Limits::default(), |tx| {
            let Some(job) = tx.running(id)? else {
                return Ok(());
            };
            tx.put(Some(&job), &settle(&job, outcome, tx.now, backoff, woke))
        })?;
        held.remove(&id);
        Ok(changed.into_iter().next())
    }

    /// Gives a claimed job that never ran back: the claim's attempt is forgotten.
    pub fn release(&self, id: u64) -> Result<Option<JobRecord>, JobsError> {
        let mut held = self.held();
        let (_, changed) = self.tx(&Limits::default(), |tx| {
            let Some(job) = tx.running(id)? else {
                return Ok(());
            };
            let mut next = job.clone();
            if next.open_attempt_mut().is_some() {
                next.history.pop();
                next.attempts = next.attempts.saturating_sub(1);
            }
            next.status = JobStatus::Queued;
            next.run_at = Some(tx.now);
            next.lock_by = None;
            next.updated_at = tx.now;
            tx.put(Some(&job), &next)
        })?;
        held.remove(&id);
        Ok(changed.into_iter().next())
    }

    /// At start, before any worker runs: RUNNING jobs were interrupted by the end of the
    /// last process. Their open attempt is closed as interrupted (it counts), and they are
    /// runnable again, or FAILED if that was their last attempt. Parked jobs are made
    /// runnable too, so that each checks its condition once in the new process.
    pub fn recover(&self) -> Result<Vec<JobRecord>, JobsError> {
        let mut ids = vec![];
        for entry in self.index.scan_prefix(b"x") {
            ids.push(tail_u64(&entry?.0, 0));
        }
        for entry in self.index.scan_prefix(b"p") {
            ids.push(tail_u64(&entry?.0, 0));
        }
        let mut out = vec![];
        for id in ids {
            let (_, changed) = self.tx(&Limits::default(), |tx| {
                let Some(job) = tx.get(id)? else {
                    return Ok(());
                };
                let next = if job.status == JobStatus::Running {
                    interrupted(
                        &job,
                        tx.now,
                        "interrupted: the bridge stopped while this attempt ran",
                    )
                } else {
                    let mut next = job.clone();
                    next.updated_at = tx.now;
                    next.run_at = Some(tx.now);
                    next.waiting_for = None;
                    next
                };
                tx.put(Some(&job), &next)
            })?;
            out.extend(changed);
        }
        self.held().clear();
        Ok(out)
    }

    /// In a running process: RUNNING jobs whose claim no live worker holds (the worker that
    /// claimed them stopped or failed, dropping their handlers and any outcome not yet
    /// written) are given back like at recovery: the attempt is closed as interrupted and
    /// counts; the job is runnable again, or FAILED if that was its last attempt. Jobs whose
    /// worker lives are left alone, whether their handler still runs or its outcome is on
    /// its way back.
    pub fn requeue_orphans(&self) -> Result<Vec<JobRecord>, JobsError> {
        let mut held = self.held();
        held.retain(|_, h| h.is_live());
        let mut ids = vec![];
        for entry in self.index.scan_prefix(b"x") {
            let id = tail_u64(&entry?.0, 0);
            if !held.contains_key(&id) {
                ids.push(id);
            }
        }
        let mut out = vec![];
        for id in ids {
            let (_, changed) = self.tx(&Limits::default(), |tx| {
                let Some(job) = tx.running(id)? else {
                    return Ok(());
                };
                let error = "interrupted: its worker stopped while this attempt ran";
                tx.put(Some(&job), &interrupted(&job, tx.now, error))
            })?;
            out.extend(changed);
        }
        Ok(out)
    }

    /// Makes every job parked on `condition` runnable now.
    pub fn unpark(&self, condition: &str) -> Result<Vec<JobRecord>, JobsError> {
        let mut ids = vec![];
        for entry in self.index.scan_prefix(parked_prefix(condition)) {
            ids.push(tail_u64(&entry?.0, 0));
        }
        let mut out = vec![];
        for id in ids {
            let (_, changed) = self.tx(&Limits::default(), |tx| {
                let Some(job) = tx.get(id)? else {
                    return Ok(());
                };
                if job.waiting_for.is_none() {
                    return Ok(());
                }
                let mut next = job.clone();
                next.waiting_for = None;
                next.run_at = Some(tx.now);
                next.updated_at = tx.now;
                tx.put(Some(&job), &next)
            })?;
            out.extend(changed);
        }
        Ok(out)
    }

    /// `retryJob`: a FAILED or CANCELED job is QUEUED again with the same id, its attempts
    /// start again at 0 and its history is kept.
    pub fn retry(&self, id: u64) -> Result<JobRecord, JobsError> {
        let (job, _) = self.tx(&Limits::default(), |tx| {
            let job = tx.get(id)?.ok_or_else(|| abort(JobsError::NotFound(id)))?;
            if !matches!(job.status, JobStatus::Failed | JobStatus::Canceled) {
                return Err(abort(JobsError::Conflict(format!(
                    "job {id} is {}; only FAILED or CANCELED jobs can be retried",
                    job.status
                ))));
            }
            if let Some(key) = &job.unique_key
                && let Some(live) = tx.live_with_key(key)?
            {
                return Err(abort(JobsError::Conflict(format!(
                    "job {live_id} ({status}) already does this work (key \"{key}\"); \
                     job {id} stays {old}",
                    live_id = live.id,
                    status = live.status,
                    old = job.status
                ))));
            }
            let mut next = job.clone();
            next.status = JobStatus::Queued;
            next.attempts = 0;
            next.run_at = Some(tx.now);
            next.updated_at = tx.now;
            next.waiting_for = None;
            next.cancel_requested = false;
            next.progress = None;
            next.error_class = None;
            tx.put(Some(&job), &next)?;
            Ok(next)
        })?;
        Ok(job)
    }

    /// `cancelJob`: QUEUED or RETRY_SCHEDULED → CANCELED; RUNNING → asked to stop at its next
    /// safe point when `running_ok`, else refused.
    pub fn cancel(&self, id: u64, running_ok: bool) -> Result<JobRecord, JobsError> {
        let (job, _) = self.tx(&Limits::default(), |tx| {
            let job = tx.get(id)?.ok_or_else(|| abort(JobsError::NotFound(id)))?;
            let mut next = job.clone();
            next.updated_at = tx.now;
            match job.status {
                JobStatus::Queued | JobStatus::RetryScheduled => {
                    next.status = JobStatus::Canceled;
                    next.run_at = None;
                    next.waiting_for = None;
                }
                JobStatus::Running if running_ok => next.cancel_requested = true,
                JobStatus::Running => {
                    return Err(abort(JobsError::Conflict(format!(
                        "job {id} ({}) is running and cannot be stopped midway; \
                         it ends on its own (cancel it if it is scheduled for a retry)",
                        job.kind
                    ))));
                }
                s => {
                    return Err(abort(JobsError::Conflict(format!(
                        "job {id} is already {s}; only QUEUED, RETRY_SCHEDULED or RUNNING \
                         jobs can be canceled"
                    ))));
                }
            }
            tx.put(Some(&job), &next)?;
            Ok(next)
        })?;
        Ok(job)
    }

    /// Records a RUNNING job's progress. `None` if it is not RUNNING.
    pub fn set_progress(
        &self,
        id: u64,
        progress: super::record::Progress,
    ) -> Result<Option<JobRecord>, JobsError> {
        let (_, changed) = self.tx(&Limits::default(), |tx| {
            let Some(job) = tx.running(id)? else {
                return Ok(());
            };
            let mut next = job.clone();
            next.progress = Some(progress.clone());
            next.updated_at = tx.now;
            tx.put(Some(&job), &next)
        })?;
        Ok(changed.into_iter().next())
    }

    /// Deletes SUCCEEDED jobs that finished before `before`; returns how many.
    pub fn prune_succeeded(&self, before: DateTime<Utc>) -> Result<usize, JobsError> {
        let end = join(&[b"s", &millis(before)]);
        let mut ids = vec![];
        for entry in self.index.range(b"s".to_vec()..end) {
            ids.push(tail_u64(&entry?.0, 0));
        }
        self.delete_where(ids, |j| j.status == JobStatus::Succeeded)
    }

    /// Deletes the finished (SUCCEEDED, FAILED, CANCELED) jobs that match `filter`.
    pub fn prune(&self, filter: &JobFilter) -> Result<usize, JobsError> {
        let mut ids = vec![];
        for job in self.iter_newest(filter)? {
            let job = job?;
            if !job.status.is_live() {
                ids.push(job.id);
            }
        }
        self.delete_where(ids, |j| !j.status.is_live())
    }

    fn delete_where(
        &self,
        ids: Vec<u64>,
        keep_if_not: impl Fn(&JobRecord) -> bool,
    ) -> Result<usize, JobsError> {
        let mut n = 0;
        for id in ids {
            let (deleted, _) = self.tx(&Limits::default(), |tx| match tx.get(id)? {
                Some(job) if keep_if_not(&job) => tx.delete(&job).map(|_| true),
                _ => Ok(false),
            })?;
            n += deleted as usize;
        }
        Ok(n)
    }

    /// How many jobs stand in each (kind, status), from the kept counts.
    pub fn counts(
        &self,
    ) -> Result<std::collections::BTreeMap<(JobKind, JobStatus), u64>, JobsError> {
        listing::counts(&self.index)
    }

    /// The run time of the job due the longest (QUEUED or RETRY_SCHEDULED, not parked, run
    /// time passed) of each kind that has one: the first `r` entry of each kind.
    pub fn oldest_due(
        &self,
    ) -> Result<std::collections::BTreeMap<JobKind, DateTime<Utc>>, JobsError> {
        let now_ms = Utc::now().timestamp_millis().max(0) as u64;
        let mut out = std::collections::BTreeMap::new();
        let kinds: std::collections::BTreeSet<JobKind> =
            self.counts()?.into_keys().map(|(k, _)| k).collect();
        for kind in kinds {
            if let Some(entry) = self.index.scan_prefix(ready_prefix(&kind)).next() {
                let at = tail_u64(&entry?.0, 8);
                if at <= now_ms
                    && let Some(t) = Utc.timestamp_millis_opt(at as i64).single()
                {
                    out.insert(kind, t);
                }
            }
        }
        Ok(out)
    }

    /// How many jobs match `filter`, when the kept counts can tell (a filter on status and
    /// kinds only); `None` when the matches must be counted.
    pub fn count(&self, filter: &JobFilter) -> Result<Option<u64>, JobsError> {
        let plain = JobFilter {
            status: filter.status,
            kinds: filter.kinds.clone(),
            ..Default::default()
        };
        if *filter != plain {
            return Ok(None);
        }
        let counts = self.counts()?;
        Ok(Some(
            listing::runs(&counts, filter.status, &filter.kinds)
                .into_iter()
                .map(|(s, k)| counts.get(&(k, s)).copied().unwrap_or(0))
                .sum(),
        ))
    }

    /// Matching jobs, newest first (highest id first).
    pub fn iter_newest<'a>(
        &'a self,
        filter: &'a JobFilter,
    ) -> Result<Box<dyn Iterator<Item = Result<JobRecord, JobsError>> + 'a>, JobsError> {
        self.iter_newest_below(filter, None)
    }

    /// Matching jobs with an id below `below` (all when none), newest first. Reads only the
    /// jobs it yields plus, for filters beyond status and kind, the ones it skips: an order's
    /// jobs through `o`, a status or kind through the `l` runs, else the jobs tree itself.
    pub fn iter_newest_below<'a>(
        &'a self,
        filter: &'a JobFilter,
        below: Option<u64>,
    ) -> Result<Box<dyn Iterator<Item = Result<JobRecord, JobsError>> + 'a>, JobsError> {
        let load = move |id: u64| -> Option<Result<JobRecord, JobsError>> {
            match self.jobs.get(id_key(id)) {
                Ok(Some(b)) => match decode::<JobRecord>(&b) {
                    Ok(j) if filter.matches(&j) => Some(Ok(j)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e.into())),
                },
                Ok(None) => None,
                Err(e) => Some(Err(e.into())),
            }
        };
        let lift = move |id: Result<u64, JobsError>| match id {
            Ok(id) => load(id),
            Err(e) => Some(Err(e)),
        };
        if let Some(n) = &filter.order_number {
            let ids: Vec<u64> = self
                .index
                .scan_prefix(order_prefix(n))
                .rev()
                .map(|e| e.map(|(k, _)| tail_u64(&k, 0)))
                .collect::<Result<_, _>>()?;
            let ids = ids
                .into_iter()
                .filter(move |id| below.is_none_or(|b| *id < b));
            return Ok(Box::new(ids.map(Ok).filter_map(lift)));
        }
        if filter.status.is_some() || !filter.kinds.is_empty() {
            let runs = listing::runs(&self.counts()?, filter.status, &filter.kinds);
            return Ok(Box::new(
                listing::newest(&self.index, &runs, below).filter_map(lift),
            ));
        }
        let end = below.map_or(vec![0xff; 9], |b| id_key(b).to_vec());
        Ok(Box::new(
            self.jobs
                .range(..end)
                .rev()
                .map(|e| e.map(|(k, _)| tail_u64(&k, 0)).map_err(JobsError::from))
                .filter_map(lift),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::record::Parked;

    fn queue() -> (tempfile::TempDir, Store, Queue) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let q = Queue::open(&store, Arc::new(|_: &JobRecord| {})).unwrap();
        (dir, store, q)
    }

    fn limits() -> Limits {
        Limits {
            default_max_attempts: 3,
            per_kind: [(JobKind::CONNECT, 2)].into(),
        }
    }

    fn push(q: &Queue, new: NewJob) -> Pushed {
        q.tx(&limits(), |tx| tx.push(&new)).unwrap().0
    }

    /// Every list the kept runs and counts answer equals a filter over all jobs, page by page,
    /// also after the entries are rebuilt for an older store.
    #[test]
    fn lists_and_counts_by_status_and_kind_match_a_full_scan() {
        let (_d, store, q) = queue();
        for i in 0..40 {
            let kind = [
                JobKind::SYNC_ORDER,
                JobKind::CONNECT,
                JobKind::IMPORT_ORDERS,
            ][i % 3]
                .clone();
            push(&q, NewJob::new(kind, serde_json::json!(i)));
        }
        // Move some along: RUNNING, then SUCCEEDED or FAILED or CANCELED.
        let (claimed, _) = q.claim(&JobKind::SYNC_ORDER, 8, "w").unwrap();
        let backoff = Backoff::new(Default::default());
        for (n, j) in claimed.iter().enumerate() {
            match n % 4 {
                0 => drop(q.finish(j.id, &Outcome::Done, &backoff, false).unwrap()),
                1 => drop(
                    q.finish(j.id, &Outcome::data("no"), &backoff, false)
                        .unwrap(),
                ),
                2 => drop(q.cancel(j.id, true).unwrap()),
                _ => {}
            }
        }
        let check = |q: &Queue| {
            let all: Vec<JobRecord> = q
                .jobs
                .iter()
                .rev()
                .map(|e| decode(&e.unwrap().1).unwrap())
                .collect();
            let mut filters = vec![JobFilter::default()];
            for status in JobStatus::ALL {
                filters.push(JobFilter {
                    status: Some(status),
                    ..Default::default()
                });
                filters.push(JobFilter {
                    status: Some(status),
                    kinds: vec![JobKind::SYNC_ORDER],
                    ..Default::default()
                });
            }
            filters.push(JobFilter {
                kinds: vec![JobKind::CONNECT, JobKind::IMPORT_ORDERS],
                ..Default::default()
            });
            for f in filters {
                let want: Vec<u64> = all.iter().filter(|j| f.matches(j)).map(|j| j.id).collect();
                assert_eq!(q.count(&f).unwrap(), Some(want.len() as u64), "{f:?}");
                // Pages of 3 from each cursor.
                let mut got = vec![];
                let mut below = None;
                loop {
                    let page: Vec<u64> = q
                        .iter_newest_below(&f, below)
                        .unwrap()
                        .take(3)
                        .map(|j| j.unwrap().id)
                        .collect();
                    if page.is_empty() {
                        break;
                    }
                    below = page.last().copied();
                    got.extend(page);
                }
                assert_eq!(got, want, "{f:?}");
            }
        };
        check(&q);
        // An older store: no runs, no counts; they are rebuilt at open.
        let stale: Vec<_> = q
            .index
            .iter()
            .keys()
            .map(|k| k.unwrap())
            .filter(|k| matches!(k.first(), Some(b'l' | b'c' | b'#')))
            .collect();
        assert!(stale.len() > 40);
        for k in stale {
            q.index.remove(k).unwrap();
        }
        let q = Queue::open(&store, Arc::new(|_: &JobRecord| {})).unwrap();
        check(&q);
    }

    #[test]
    fn claims_due_jobs_of_one_kind_in_order() {
        let (_d, _s, q) = queue();
        let a = push(&q, NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(1))).job;
        let b = push(&q, NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(2))).job;
        let c = push(&q, NewJob::new(JobKind::CONNECT, serde_json::json!(3))).job;
        assert_eq!(c.max_attempts, 2, "per-kind max attempts");
        assert_eq!(a.max_attempts, 3);
        let (got, next) = q.claim(&JobKind::SYNC_ORDER, 1, "w1").unwrap();
        assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a.id]);
        assert_eq!(next, None);
        let j = &got[0];
        assert_eq!(
            (j.status, j.attempts, j.history.len()),
            (JobStatus::Running, 1, 1)
        );
        assert_eq!(j.lock_by.as_deref(), Some("w1"));
        let (got, _) = q.claim(&JobKind::SYNC_ORDER, 10, "w1").unwrap();
        assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id]);
        assert!(
            q.claim(&JobKind::SYNC_ORDER, 10, "w1")
                .unwrap()
                .0
                .is_empty()
        );
    }

    #[test]
    fn a_scheduled_retry_is_not_claimed_before_it_is_due() {
        let (_d, _s, q) = queue();
        let a = push(&q, NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(1))).job;
        q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap();
        let o = Outcome::RetryAfter(std::time::Duration::from_secs(60), "429".into());
        let j = q
            .finish(a.id, &o, &Backoff::new(Default::default()), false)
            .unwrap()
            .unwrap();
        assert_eq!(j.status, JobStatus::RetryScheduled);
        let (got, next) = q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap();
        assert!(got.is_empty());
        let next = next.expect("the retry's due time");
        assert!(next > Utc::now() + chrono::Duration::seconds(58));
    }

    #[test]
    fn uniqueness_returns_the_live_job_and_moves_a_retry_to_now() {
        let (_d, _s, q) = queue();
        let first = push(
            &q,
            NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(1)).unique("o:1"),
        );
        assert!(first.created);
        let again = push(
            &q,
            NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(2)).unique("o:1"),
        );
        assert!(!again.created);
        assert_eq!(again.job.id, first.job.id);
        q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap();
        let o = Outcome::RetryAfter(std::time::Duration::from_secs(600), "x".into());
        q.finish(first.job.id, &o, &Backoff::new(Default::default()), false)
            .unwrap();
        let moved = push(
            &q,
            NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(3)).unique("o:1"),
        );
        assert_eq!(moved.job.id, first.job.id);
        assert_eq!(moved.job.status, JobStatus::Queued);
        assert!(moved.job.run_at.unwrap() <= Utc::now());
        assert_eq!(q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap().0.len(), 1);
        q.finish(
            first.job.id,
            &Outcome::data("no"),
            &Backoff::new(Default::default()),
            false,
        )
        .unwrap();
        let fresh = push(
            &q,
            NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(4)).unique("o:1"),
        );
        assert!(fresh.created, "a finished job frees its key");
        let err = q.retry(first.job.id).unwrap_err();
        assert!(matches!(err, JobsError::Conflict(_)), "{err}");
    }

    #[test]
    fn recovery_closes_interrupted_attempts_and_counts_them() {
        let (_d, _s, q) = queue();
        let a = push(&q, NewJob::new(JobKind::CONNECT, serde_json::json!(1))).job;
        q.claim(&JobKind::CONNECT, 1, "w").unwrap();
        let back = q.recover().unwrap();
        assert_eq!(back.len(), 1);
        let j = q.get(a.id).unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(j.attempts, 1);
        assert!(
            j.history[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("interrupted")
        );
        // The second interruption is CONNECT's last attempt (max 2).
        q.claim(&JobKind::CONNECT, 1, "w").unwrap();
        q.recover().unwrap();
        let j = q.get(a.id).unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Failed);
        assert_eq!(j.history.len(), 2);
        assert!(
            q.index.scan_prefix(b"x").next().is_none(),
            "nothing left RUNNING"
        );
    }

    #[test]
    fn parked_jobs_wait_for_their_condition() {
        let (_d, _s, q) = queue();
        let a = push(&q, NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(1))).job;
        q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap();
        let o = Outcome::not_ready("connected", "not connected");
        let j = q
            .finish(a.id, &o, &Backoff::new(Default::default()), false)
            .unwrap()
            .unwrap();
        assert_eq!(
            j.waiting_for,
            Some(Parked {
                condition: "connected".into(),
                reason: "not connected".into()
            })
        );
        assert!(q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap().0.is_empty());
        assert!(q.unpark("other").unwrap().is_empty());
        assert_eq!(q.unpark("connected").unwrap().len(), 1);
        let (got, _) = q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap();
        assert_eq!(got[0].attempts, 1, "the parked run did not count");
    }

    #[test]
    fn cancel_retry_and_prune() {
        let (_d, _s, q) = queue();
        let a = push(
            &q,
            NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(1)).order("A1"),
        )
        .job;
        let c = q.cancel(a.id, true).unwrap();
        assert_eq!(c.status, JobStatus::Canceled);
        assert!(q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap().0.is_empty());
        assert!(matches!(q.cancel(a.id, true), Err(JobsError::Conflict(_))));
        let r = q.retry(a.id).unwrap();
        assert_eq!((r.id, r.status, r.attempts), (a.id, JobStatus::Queued, 0));
        q.claim(&JobKind::SYNC_ORDER, 1, "w").unwrap();
        assert!(matches!(q.cancel(a.id, false), Err(JobsError::Conflict(_))));
        assert!(q.cancel(a.id, true).unwrap().cancel_requested);
        let done = q
            .finish(
                a.id,
                &Outcome::transient("x"),
                &Backoff::new(Default::default()),
                false,
            )
            .unwrap()
            .unwrap();
        assert_eq!(done.status, JobStatus::Canceled);
        let by_order = JobFilter {
            order_number: Some("A1".into()),
            ..Default::default()
        };
        assert_eq!(q.iter_newest(&by_order).unwrap().count(), 1);
        assert_eq!(q.prune(&by_order).unwrap(), 1);
        assert!(q.get(a.id).unwrap().is_none());
        let left: Vec<_> = q
            .index
            .iter()
            .keys()
            .map(|k| k.unwrap())
            .filter(|k| !matches!(k.first(), Some(b'c' | b'#')))
            .collect();
        assert!(left.is_empty(), "no index entry left behind: {left:?}");
        assert!(q.counts().unwrap().values().all(|n| *n == 0), "counted out");
    }

    #[test]
    fn retention_prunes_old_successes_only() {
        let (_d, _s, q) = queue();
        let a = push(&q, NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(1))).job;
        let b = push(&q, NewJob::new(JobKind::SYNC_ORDER, serde_json::json!(2))).job;
        q.claim(&JobKind::SYNC_ORDER, 2, "w").unwrap();
        let bo = Backoff::new(Default::default());
        q.finish(a.id, &Outcome::Done, &bo, false).unwrap();
        q.finish(b.id, &Outcome::data("x"), &bo, false).unwrap();
        assert_eq!(
            q.prune_succeeded(Utc::now() - chrono::Duration::hours(1))
                .unwrap(),
            0
        );
        let later = Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(q.prune_succeeded(later).unwrap(), 1);
        assert!(q.get(a.id).unwrap().is_none());
        assert_eq!(q.get(b.id).unwrap().unwrap().status, JobStatus::Failed);
    }
}
