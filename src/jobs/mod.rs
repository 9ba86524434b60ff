//! Durable jobs: every piece of work against Acumatica runs as a job that survives crashes,
//! retries with backoff, and can be watched, retried and cancelled.
//!
//! [`Jobs`] is the service. Jobs live in sled ([`queue`]); apalis 1.0 workers run them
//! through our sled backend ([`backend`], a `Persistence` wrapped in apalis' `Persisted`),
//! one worker per registered kind with its own concurrency ([`worker`]).
//!
//! How other code uses it:
//!
//! - register a handler before [`Jobs::start`]:
//!   `jobs.register(KindSpec::new(JobKind::SYNC_ORDER).concurrency(2), |ctx: JobContext| async move { .. Outcome::Done })`;
//! - push: [`Jobs::push`] returns once the job is on disk (many concurrent pushes share one
//!   fsync). To create a job atomically with other sled writes (an order and its SYNC_ORDER
//!   job), use [`Jobs::push_with`]: it runs your closure in one transaction over your trees
//!   and the job trees, where you call [`JobTx::push`];
//! - a handler returns an [`Outcome`]: `Done`, `Transient` (retry with backoff), `Permanent`
//!   (FAILED at once), `RetryAfter` (a given delay), or `NotReady` (back to QUEUED without
//!   counting an attempt, until [`Jobs::wake`] is called with its condition, e.g.
//!   [`wake::CONNECTED`]);
//! - watch: [`Jobs::bus`] carries every change of a job; [`Jobs::on_change`] hooks run in
//!   commit order right after each change (for mirrors such as an order's sync status).
//!
//! Guarantees: at-least-once. A job RUNNING when the process died is runnable again at the
//! next start, with its interrupted attempt recorded and counted. In a running process, a
//! job is RUNNING only while the worker that claimed it lives (it runs the handler or holds
//! the outcome on its way to disk): apalis ends a worker on any backend error, dropping its
//! handlers, so each worker runs under a supervisor that gives the jobs it held back (same
//! as at recovery) and starts a new one; a periodic sweep does the same as a safety net
//! ([`Jobs::requeue_orphans`]). A change hook that panics is logged and does not stop the
//! worker. Handlers must be safe to run again. Events are published right after the change commits, in commit order, and
//! before its fsync; an answer to a caller (push, retry, cancel) comes after the fsync.

pub mod backend;
pub mod backoff;
mod listing;
pub mod outcome;
pub mod queue;
pub mod record;
pub mod worker;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sled::transaction::TransactionalTree;
use tokio::sync::Notify;

use crate::events::Bus;
use crate::paging::{self, Page};
use crate::store::{Store, StoreError};
pub use backoff::Backoff;
pub use outcome::Outcome;
pub use queue::{JobFilter, JobTx, Limits, Pushed, TimeRange};
pub use record::{Attempt, JobKind, JobRecord, JobStatus, NewJob, Parked, Progress};
pub use worker::{Handler, JobContext, KindSpec};

/// Names of wake conditions that handlers park on with `Outcome::NotReady`.
pub mod wake {
    /// The bridge has (again) a working Acumatica session.
    pub const CONNECTED: &str = "connected";
    /// Acumatica answers again after an outage.
    pub const REACHABLE: &str = "reachable";
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no job with id {0}")]
    NotFound(u64),
    #[error("{0}")]
    Conflict(String),
    #[error("the cursor \"{0}\" is not one this service gave out")]
    BadCursor(String),
}

impl From<sled::Error> for JobsError {
    fn from(e: sled::Error) -> Self {
        JobsError::Store(e.into())
    }
}

/// Settings of the job system (from `serve`'s flags).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Attempts of a job whose kind sets none (`--max-attempts`).
    pub max_attempts: u32,
    /// First retry delay (`--retry-base-delay-ms`).
    pub retry_base_delay: Duration,
    /// SUCCEEDED jobs older than this are pruned (`--job-retention-hours`).
    pub retention: Duration,
    /// How long a graceful shutdown waits for running handlers before leaving them to
    /// recovery at the next start.
    pub shutdown_grace: Duration,
    /// How often RUNNING jobs that no live worker holds any more are given back
    /// ([`Jobs::requeue_orphans`]); a worker that stops also does it at once.
    pub orphan_sweep: Duration,
}

impl JobsConfig {
    pub fn new(max_attempts: u32, retry_base_delay: Duration) -> JobsConfig {
        JobsConfig {
            max_attempts,
            retry_base_delay,
            retention: Duration::from_secs(168 * 3600),
            shutdown_grace: Duration::from_secs(10),
            orphan_sweep: Duration::from_secs(30),
        }
    }
}

/// Attempts of the shipped kinds that differ from the configured default: a CONNECT gives up
/// after 3, so that a mistyped host fails in seconds.
pub fn shipped_limits(default_max_attempts: u32) -> Limits {
    Limits {
        default_max_attempts,
        per_kind: [(JobKind::CONNECT, 3)].into(),
    }
}

/// A callback run on every change of a job.
pub type Hook = Arc<dyn Fn(&JobRecord) + Send + Sync>;

/// A bulk action on the jobs matching a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    /// FAILED or CANCELED jobs run again.
    Retry,
    /// QUEUED or RETRY_SCHEDULED jobs end CANCELED.
    Cancel,
}

impl Bulk {
    pub fn applies_to(self, status: JobStatus) -> bool {
        match self {
            Bulk::Retry => matches!(status, JobStatus::Failed | JobStatus::Canceled),
            Bulk::Cancel => matches!(status, JobStatus::Queued | JobStatus::RetryScheduled),
        }
    }
}

/// The job service. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    queue: queue::Queue,
    config: JobsConfig,
    backoff: Backoff,
    limits: RwLock<Limits>,
    bus: Bus<JobRecord>,
    hooks: Arc<RwLock<Vec<Hook>>>,
    notifies: Mutex<HashMap<JobKind, Arc<Notify>>>,
    /// Bumped by every wake; guarded with the parking of `NotReady` jobs (see `finish`).
    wake_epoch: AtomicU64,
    wake_lock: Mutex<()>,
    specs: Mutex<Vec<(KindSpec, Arc<dyn Handler>)>>,
    workers: Mutex<Option<worker::Running>>,
    running: AtomicBool,
    /// Tests: how many of the next `handle_events` calls fail (a backend error).
    #[cfg(test)]
    fail_events: AtomicU64,
}

impl Jobs {
    /// Opens the job trees and recovers what the last process left RUNNING. Call before any
    /// worker runs (workers start with [`Jobs::start`]).
    pub async fn open(store: &Store, config: JobsConfig) -> Result<Jobs, JobsError> {
        let bus = Bus::default();
        let hooks: Arc<RwLock<Vec<Hook>>> = Arc::default();
        let publish = {
            let bus = bus.clone();
            let hooks = hooks.clone();
            Arc::new(move |j: &JobRecord| {
                for hook in hooks.read().expect("hooks").iter() {
                    // The change is committed: a hook that panics must neither keep it from
                    // the other hooks nor unwind into the worker that made it (which would
                    // stop, dropping the handlers it runs).
                    if std::panic::catch_unwind(AssertUnwindSafe(|| hook(j))).is_err() {
                        tracing::error!(
                            job = j.id,
                            kind = %j.kind,
                            status = %j.status,
                            "a job change hook panicked; the change stands"
                        );
                    }
                }
                bus.publish(j.clone());
            })
        };
        let queue = queue::Queue::open(store, publish)?;
        let jobs = Jobs {
            inner: Arc::new(Inner {
                store: store.clone(),
                queue,
                backoff: Backoff::new(config.retry_base_delay),
                limits: RwLock::new(shipped_limits(config.max_attempts)),
                config,
                bus,
                hooks,
                notifies: Mutex::default(),
                wake_epoch: AtomicU64::new(0),
                wake_lock: Mutex::new(()),
                specs: Mutex::default(),
                workers: Mutex::default(),
                running: AtomicBool::new(false),
                #[cfg(test)]
                fail_events: AtomicU64::new(0),
            }),
        };
        let recovered = jobs.inner.queue.recover()?;
        jobs.inner.store.flush().await?;
        if !recovered.is_empty() {
            tracing::info!(
                jobs = recovered.len(),
                "recovered jobs left running or parked by the last process"
            );
        }
        Ok(jobs)
    }

    pub fn config(&self) -> &JobsConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn queue(&self) -> &queue::Queue {
        &self.inner.queue
    }

    /// Every change of every job (status, progress), for subscribers. Lagging subscribers
    /// miss events and are told; publishing never waits.
    pub fn bus(&self) -> &Bus<JobRecord> {
        &self.inner.bus
    }

    /// Runs `hook` on every change of a job, in commit order, right after the change commits
    /// (inside the queue's commit lock: keep it short, and never call `Jobs` from it).
    pub fn on_change(&self, hook: impl Fn(&JobRecord) + Send + Sync + 'static) {
        self.inner
            .hooks
            .write()
            .expect("hooks")
            .push(Arc::new(hook));
    }

    /// Registers the handler of a kind. Call before [`Jobs::start`].
    pub fn register(&self, spec: KindSpec, handler: impl Handler) {
        if let Some(n) = spec.max_attempts {
            self.inner
                .limits
                .write()
                .expect("limits")
                .per_kind
                .insert(spec.kind.clone(), n);
        }
        let mut specs = self.inner.specs.lock().expect("specs");
        specs.retain(|(s, _)| s.kind != spec.kind);
        specs.push((spec, Arc::new(handler)));
    }

    /// Starts one apalis worker per registered kind; returns once all of them run.
    pub async fn start(&self) -> Result<(), JobsError> {
        let specs = self.inner.specs.lock().expect("specs").clone();
        let running = worker::start(self, specs).await;
        *self.inner.workers.lock().expect("workers") = Some(running);
        self.inner.running.store(true, Ordering::SeqCst);
        self.spawn_retention();
        self.spawn_orphan_sweep();
        Ok(())
    }

    /// True once [`Jobs::start`] has the workers running (and until shutdown).
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Stops the workers: no new job is claimed; running handlers get the grace period to
    /// finish, then are left to recovery at the next start. Everything is flushed.
    pub async fn shutdown(&self) -> Result<(), JobsError> {
        self.inner.running.store(false, Ordering::SeqCst);
        let running = self.inner.workers.lock().expect("workers").take();
        if let Some(running) = running {
            running.stop(self.inner.config.shutdown_grace).await;
        }
        self.inner.store.flush().await?;
        Ok(())
    }

    /// The wake-up of the worker of `kind`.
    pub(crate) fn notify_of(&self, kind: &JobKind) -> Arc<Notify> {
        self.inner
            .notifies
            .lock()
            .expect("notifies")
            .entry(kind.clone())
            .or_default()
            .clone()
    }

    /// Wakes the workers of the jobs in `changed` that are runnable now.
    fn kick(&self, changed: &[JobRecord]) {
        let mut kinds: Vec<&JobKind> = changed
            .iter()
            .filter(|j| {
                matches!(j.status, JobStatus::Queued | JobStatus::RetryScheduled)
                    && j.waiting_for.is_none()
            })
            .map(|j| &j.kind)
            .collect();
        kinds.dedup();
        for kind in kinds {
            self.notify_of(kind).notify_one();
        }
    }

    /// Creates a job (or returns the live one with its uniqueness key); durable on return.
    pub async fn push(&self, new: NewJob) -> Result<Pushed, JobsError> {
        let limits = self.inner.limits.read().expect("limits").clone();
        let (pushed, changed) = self.inner.queue.tx(&limits, |tx| tx.push(&new))?;
        self.inner.store.flush().await?;
        self.kick(&changed);
        Ok(pushed)
    }

    /// Runs `f` in one sled transaction over `others` and the job trees, then flushes, so
    /// that a job is created together with other writes or not at all. `f` gets the views of
    /// `others` (same order) and a [`JobTx`] to push with; it may run more than once (sled
    /// retries conflicting transactions), so it must have no other side effects.
    ///
    /// ```ignore
    /// let (order, job) = jobs.push_with(&[&orders_tree], |t, q| {
    ///     t[0].insert(number.as_bytes(), encode(&order))?;
    ///     let job = q.push(&NewJob::new(JobKind::SYNC_ORDER, payload.clone()).unique(number.clone()).order(number.clone()))?;
    ///     Ok((order.clone(), job))
    /// }).await?;
    /// ```
    pub async fn push_with<R, E>(
        &self,
        others: &[&sled::Tree],
        f: impl Fn(
            &[TransactionalTree],
            &JobTx,
        ) -> Result<R, sled::transaction::ConflictableTransactionError<E>>,
    ) -> Result<R, E>
    where
        E: From<JobsError>,
    {
        let limits = self.inner.limits.read().expect("limits").clone();
        let (r, changed) = self.inner.queue.tx_with(others, &limits, f)?;
        self.inner
            .store
            .flush()
            .await
            .map_err(|e| E::from(e.into()))?;
        self.kick(&changed);
        Ok(r)
    }

    pub fn get(&self, id: u64) -> Result<Option<JobRecord>, JobsError> {
        self.inner.queue.get(id)
    }

    /// Jobs newest first (by id, which is creation order), after the cursor `after`.
    pub fn list(
        &self,
        first: usize,
        after: Option<&str>,
        filter: &JobFilter,
    ) -> Result<Page<JobRecord>, JobsError> {
        let after = match after {
            Some(c) => Some(
                paging::key_of(c)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| JobsError::BadCursor(c.to_owned()))?,
            ),
            None => None,
        };
        let mut page = Page::empty();
        // With kept counts, the walk starts at the cursor and ends with the page; otherwise
        // every match is counted on the way.
        let counted = self.inner.queue.count(filter)?;
        let below = if counted.is_some() { after } else { None };
        for job in self.inner.queue.iter_newest_below(filter, below)? {
            let job = job?;
            if counted.is_none() {
                page.total_count += 1;
            }
            if after.is_some_and(|a| job.id >= a) {
                continue;
            }
            if page.items.len() < first {
                let cursor = paging::cursor(&job.id.to_be_bytes());
                page.items.push((job, cursor));
            } else {
                page.has_next_page = true;
                if counted.is_some() {
                    break;
                }
            }
        }
        if let Some(n) = counted {
            page.total_count = n as usize;
        }
        Ok(page)
    }

    /// How many jobs stand in each (kind, status), from the counts kept with every change.
    pub fn counts(
        &self,
    ) -> Result<std::collections::BTreeMap<(JobKind, JobStatus), u64>, JobsError> {
        self.inner.queue.counts()
    }

    /// Per kind, since when its longest-due runnable job has been due (none when no job of
    /// the kind is due now). Reads one index entry per kind.
    pub fn oldest_due(
        &self,
    ) -> Result<std::collections::BTreeMap<JobKind, DateTime<Utc>>, JobsError> {
        self.inner.queue.oldest_due()
    }

    /// Every stored job, newest first.
    pub fn iter_all(
        &self,
    ) -> Result<impl Iterator<Item = Result<JobRecord, JobsError>> + '_, JobsError> {
        static ALL: std::sync::LazyLock<JobFilter> = std::sync::LazyLock::new(JobFilter::default);
        self.inner.queue.iter_newest(&ALL)
    }

    /// The jobs of an order, newest first.
    pub fn for_order(&self, number: &str) -> Result<Vec<JobRecord>, JobsError> {
        let filter = JobFilter {
            order_number: Some(number.to_owned()),
            ..Default::default()
        };
        self.inner.queue.iter_newest(&filter)?.collect()
    }

    /// `retryJob`: same id, attempts start again, history kept.
    pub async fn retry(&self, id: u64) -> Result<JobRecord, JobsError> {
        let job = self.inner.queue.retry(id)?;
        self.inner.store.flush().await?;
        self.kick(std::slice::from_ref(&job));
        Ok(job)
    }

    /// The ids of the jobs a bulk action by `filter` applies to, newest first: what
    /// `jobsCount(action:)` counts and what `retry_all` / `cancel_all` act on.
    pub fn bulk_targets(&self, action: Bulk, filter: &JobFilter) -> Result<Vec<u64>, JobsError> {
        self.inner
            .queue
            .iter_newest(filter)?
            .filter_map(|j| match j {
                Ok(j) if action.applies_to(j.status) => Some(Ok(j.id)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    /// `cancelJobs`: cancels every QUEUED or RETRY_SCHEDULED job matching `filter` (a job that
    /// started running meanwhile is left to end on its own). Durable when it answers.
    pub async fn cancel_all(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, JobsError> {
        let mut out = vec![];
        for id in self.bulk_targets(Bulk::Cancel, filter)? {
            match self.inner.queue.cancel(id, false) {
                Ok(j) => out.push(j),
                Err(JobsError::Conflict(_) | JobsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.inner.store.flush().await?;
        Ok(out)
    }

    /// `retryJobs`: retries every FAILED or CANCELED job matching `filter`. A job whose
    /// uniqueness key has a live job meanwhile is left as it is.
    pub async fn retry_all(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, JobsError> {
        let ids = self.bulk_targets(Bulk::Retry, filter)?;
        let mut out = vec![];
        for id in ids {
            match self.inner.queue.retry(id) {
                Ok(j) => out.push(j),
                Err(JobsError::Conflict(_) | JobsError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.inner.store.flush().await?;
        self.kick(&out);
        Ok(out)
    }

    /// `cancelJob`: QUEUED or RETRY_SCHEDULED jobs end CANCELED; a RUNNING job is asked to stop
    /// at its next safe point if its kind allows, else the call is refused (CONFLICT).
    pub async fn cancel(&self, id: u64) -> Result<JobRecord, JobsError> {
        let kind = self.get(id)?.ok_or(JobsError::NotFound(id))?.kind;
        let running_ok = self
            .inner
            .specs
            .lock()
            .expect("specs")
            .iter()
            .find(|(s, _)| s.kind == kind)
            .is_none_or(|(s, _)| s.cancel_running);
        let job = self.inner.queue.cancel(id, running_ok)?;
        self.inner.store.flush().await?;
        Ok(job)
    }

    /// `pruneJobs`: deletes the finished jobs (SUCCEEDED, FAILED, CANCELED) matching `filter`.
    pub async fn prune(&self, filter: &JobFilter) -> Result<usize, JobsError> {
        let n = self.inner.queue.prune(filter)?;
        self.inner.store.flush().await?;
        Ok(n)
    }

    /// Deletes SUCCEEDED jobs older than the retention.
    pub async fn prune_succeeded(&self) -> Result<usize, JobsError> {
        let age = chrono::Duration::from_std(self.inner.config.retention).unwrap_or_default();
        let n = self.inner.queue.prune_succeeded(Utc::now() - age)?;
        self.inner.store.flush().await?;
        Ok(n)
    }

    fn spawn_retention(&self) {
        let weak = Arc::downgrade(&self.inner);
        let every = (self.inner.config.retention / 10)
            .clamp(Duration::from_secs(1), Duration::from_secs(3600));
        crate::supervise::spawn("job retention", weak, move |weak| async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let jobs = Jobs { inner };
                if !jobs.is_running() {
                    return;
                }
                match jobs.prune_succeeded().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "pruned succeeded jobs past retention"),
                    Err(e) => tracing::warn!(error = %e, "pruning succeeded jobs failed"),
                }
                drop(jobs);
                tokio::time::sleep(every).await;
            }
        });
    }

    fn spawn_orphan_sweep(&self) {
        let weak = Arc::downgrade(&self.inner);
        let every = self
            .inner
            .config
            .orphan_sweep
            .max(Duration::from_millis(10));
        crate::supervise::spawn("orphan sweep", weak, move |weak| async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                let jobs = Jobs { inner };
                if !jobs.is_running() {
                    return;
                }
                if let Err(e) = jobs.requeue_orphans().await {
                    tracing::warn!(error = %e, "sweeping orphaned jobs failed");
                }
            }
        });
    }

    /// Gives back the RUNNING jobs that no live worker of this process holds any more (their
    /// worker stopped or failed, and its handlers with it): each attempt is closed as
    /// interrupted and counts, and the job is runnable again (FAILED at its last attempt).
    /// Returns how many. A worker that stops calls it; a periodic sweep (`orphan_sweep`)
    /// calls it too, as a safety net.
    pub async fn requeue_orphans(&self) -> Result<usize, JobsError> {
        let orphans = self.inner.queue.requeue_orphans()?;
        if orphans.is_empty() {
            return Ok(0);
        }
        self.inner.store.flush().await?;
        tracing::warn!(
            jobs = orphans.len(),
            ids = ?orphans.iter().map(|j| j.id).collect::<Vec<_>>(),
            "gave back jobs left RUNNING by a job worker that stopped"
        );
        self.kick(&orphans);
        Ok(orphans.len())
    }

    /// Makes every job parked on `condition` (see [`wake`]) runnable at once. Jobs whose
    /// handler is running meanwhile and ends `NotReady` are not parked either.
    pub async fn wake(&self, condition: &str) -> Result<usize, JobsError> {
        let woken = {
            let _g = self.inner.wake_lock.lock().expect("wake lock");
            self.inner.wake_epoch.fetch_add(1, Ordering::SeqCst);
            self.inner.queue.unpark(condition)?
        };
        self.inner.store.flush().await?;
        self.kick(&woken);
        Ok(woken.len())
    }

    pub(crate) fn wake_epoch(&self) -> u64 {
        self.inner.wake_epoch.load(Ordering::SeqCst)
    }

    /// Ends a RUNNING attempt (not flushed: the caller flushes once for a batch).
    pub(crate) fn finish(
        &self,
        id: u64,
        finished: &outcome::Finished,
    ) -> Result<Option<JobRecord>, JobsError> {
        if matches!(finished.outcome, Outcome::NotReady { .. }) {
            let _g = self.inner.wake_lock.lock().expect("wake lock");
            let woke = self.wake_epoch() != finished.wake_epoch;
            return self
                .inner
                .queue
                .finish(id, &finished.outcome, &self.inner.backoff, woke);
        }
        self.inner
            .queue
            .finish(id, &finished.outcome, &self.inner.backoff, false)
    }

    pub(crate) fn kick_all(&self, changed: &[JobRecord]) {
        self.kick(changed)
    }

    /// Tests: makes the next `n` event batches of the workers fail.
    #[cfg(test)]
    pub(crate) fn fail_events(&self, n: u64) {
        self.inner.fail_events.store(n, Ordering::SeqCst);
    }

    #[cfg(test)]
    pub(crate) fn injected_fault(&self) -> Result<(), JobsError> {
        let left = &self.inner.fail_events;
        match left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => Err(JobsError::Conflict("injected backend fault".into())),
            Err(_) => Ok(()),
        }
    }

    /// Max attempts of new jobs of `kind`.
    pub fn max_attempts(&self, kind: &JobKind) -> u32 {
        self.inner.limits.read().expect("limits").max_attempts(kind)
    }
}
