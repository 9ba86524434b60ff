//! Running jobs: the handler registry, what a handler sees ([`JobContext`]), and the apalis
//! workers, one per registered kind, each with its own concurrency.
//!
//! The worker's service ([`Dispatch`]) calls the kind's handler and always answers `Ok` with
//! a [`Finished`] (the outcome, a panic turned into `Transient`); apalis' persistence layer
//! hands it to our backend, whose `handle_events` applies it on disk. No tower retry layer is
//! stacked on top: the backend's RETRY_SCHEDULED is the only retry.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis_core::error::{BoxDynError, WorkerError};
use apalis_core::task::Task;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::event::Event;
use apalis_core::worker::ext::event_listener::EventListenerExt;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::Jobs;
use super::backend::SledBackend;
use super::outcome::{Finished, Outcome};
use super::record::{Attempt, JobKind, JobRecord, Progress};

/// How a kind runs.
#[derive(Debug, Clone)]
pub struct KindSpec {
    pub kind: JobKind,
    /// Handlers of this kind running at once (default 1).
    pub concurrency: usize,
    /// Attempts before FAILED; default: the configured `--max-attempts` (CONNECT: 3).
    pub max_attempts: Option<u32>,
    /// Whether `cancelJob` may stop a RUNNING job of this kind at its next safe point
    /// (default true); when false, cancelling a running job is refused.
    pub cancel_running: bool,
}

impl KindSpec {
    pub fn new(kind: JobKind) -> KindSpec {
        KindSpec {
            kind,
            concurrency: 1,
            max_attempts: None,
            cancel_running: true,
        }
    }
    pub fn concurrency(mut self, n: usize) -> KindSpec {
        self.concurrency = n.max(1);
        self
    }
    pub fn max_attempts(mut self, n: u32) -> KindSpec {
        self.max_attempts = Some(n.max(1));
        self
    }
    pub fn cancel_running(mut self, yes: bool) -> KindSpec {
        self.cancel_running = yes;
        self
    }
}

/// The code that runs the jobs of one kind. Any `Fn(JobContext) -> impl Future<Output = Outcome>`
/// is one. Handlers must be safe to run again (at-least-once).
pub trait Handler: Send + Sync + 'static {
    fn run(&self, job: JobContext) -> BoxFuture<'static, Outcome>;
}

impl<F, Fut> Handler for F
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    fn run(&self, job: JobContext) -> BoxFuture<'static, Outcome> {
        Box::pin(self(job))
    }
}

/// What a handler gets: the job as claimed, and calls back into the queue.
#[derive(Clone)]
pub struct JobContext {
    jobs: Jobs,
    job: JobRecord,
}

impl JobContext {
    pub fn job(&self) -> &JobRecord {
        &self.job
    }
    pub fn id(&self) -> u64 {
        self.job.id
    }
    /// This attempt's number within the current round (1 = first).
    pub fn attempt(&self) -> u32 {
        self.job.attempts
    }
    /// Every attempt so far, this one last (open).
    pub fn history(&self) -> &[Attempt] {
        &self.job.history
    }
    /// The payload as `T`; a payload that does not fit is a permanent failure.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, Outcome> {
        serde_json::from_value(self.job.payload.clone())
            .map_err(|e| Outcome::data(format!("the job's payload is not valid: {e}")))
    }
    /// Records how far the job has got (published to subscribers; written to disk with the
    /// next flush).
    pub fn progress(&self, done: u32, total: Option<u32>, message: Option<String>) {
        let p = Progress {
            done,
            total,
            message,
        };
        if let Err(e) = self.jobs.queue().set_progress(self.job.id, p) {
            tracing::warn!(job = self.job.id, error = %e, "cannot record progress");
        }
    }
    /// True when `cancelJob` asked this job to stop: a safe point should end the run (the
    /// job then ends CANCELED whatever the outcome but `Done`).
    pub fn cancel_requested(&self) -> bool {
        matches!(self.jobs.get(self.job.id), Ok(Some(j)) if j.cancel_requested)
    }
    /// The job service, e.g. to push follow-up jobs.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }
}

/// The worker's service: runs the handler of its kind for each task.
#[derive(Clone)]
pub struct Dispatch {
    jobs: Jobs,
    handler: Arc<dyn Handler>,
}

impl tower::Service<Task<serde_json::Value>> for Dispatch {
    type Response = Finished;
    type Error = BoxDynError;
    type Future = BoxFuture<'static, Result<Finished, BoxDynError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, task: Task<serde_json::Value>) -> Self::Future {
        let jobs = self.jobs.clone();
        let handler = self.handler.clone();
        let claimed = task.ctx().data().get::<Arc<JobRecord>>().cloned();
        Box::pin(async move {
            let wake_epoch = jobs.wake_epoch();
            let Some(job) = claimed else {
                return Ok(Finished {
                    outcome: Outcome::Transient("the task carried no job record".into()),
                    wake_epoch,
                });
            };
            let ctx = JobContext {
                jobs: jobs.clone(),
                job: (*job).clone(),
            };
            let outcome = match AssertUnwindSafe(handler.run(ctx)).catch_unwind().await {
                Ok(o) => o,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Outcome::Transient(format!("the handler panicked: {what}"))
                }
            };
            Ok(Finished {
                outcome,
                wake_epoch,
            })
        })
    }
}

/// The running workers.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Asks every worker to stop and waits up to `grace` for their running handlers.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                ?grace,
                "job handlers still running at shutdown; they run again at the next start"
            );
        }
    }
}

/// Starts a worker per spec; returns once each has started.
///
/// Each worker runs under a supervisor: when it stops other than by [`Running::stop`] (a
/// backend error ends an apalis worker, dropping the handlers it runs; a panic unwinds it),
/// the jobs it held are given back ([`Jobs::requeue_orphans`]) and a new worker takes over
/// after a short pause. Also after a requested stop, what it still held is given back.
pub(super) async fn start(jobs: &Jobs, specs: Vec<(KindSpec, Arc<dyn Handler>)>) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = vec![];
    let mut started = vec![];
    for (spec, handler) in specs {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.push(tokio::spawn(supervise(
            jobs.clone(),
            spec,
            handler,
            stop_rx.clone(),
            tx,
        )));
        started.push(rx);
    }
    for rx in started {
        let _ = rx.await;
    }
    tracing::info!(workers = tasks.len(), "job workers running");
    Running { stop, tasks }
}

/// Pause before a failed worker is replaced: doubles up to [`MAX_RESTART_PAUSE`], and starts
/// again from here once a worker ran for a minute.
const RESTART_PAUSE: Duration = Duration::from_millis(100);
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(10);

/// Runs the worker of `spec` until `stop`, replacing it whenever it ends on its own.
async fn supervise(
    jobs: Jobs,
    spec: KindSpec,
    handler: Arc<dyn Handler>,
    stop: watch::Receiver<bool>,
    started: tokio::sync::oneshot::Sender<()>,
) {
    let kind = spec.kind.clone();
    let mut started = Some(started);
    let mut pause = RESTART_PAUSE;
    loop {
        let began = tokio::time::Instant::now();
        let worker = run_worker(&jobs, &spec, handler.clone(), started.take(), stop.clone());
        let ended = AssertUnwindSafe(worker).catch_unwind().await;
        // The worker's stream, and with it every handler it ran and its lease, is gone.
        match jobs.requeue_orphans().await {
            Ok(_) => {}
            Err(e) => {
                tracing::error!(%kind, error = %e, "cannot give back the jobs of a stopped worker")
            }
        }
        if *stop.borrow() {
            if let Ok(Err(e)) = ended {
                tracing::warn!(%kind, error = %e, "job worker stopped with an error");
            }
            return;
        }
        match ended {
            Ok(Ok(())) => tracing::error!(%kind, "job worker stopped on its own; restarting it"),
            Ok(Err(e)) => {
                tracing::error!(%kind, error = %e, "job worker failed; restarting it")
            }
            Err(_) => tracing::error!(%kind, "job worker panicked; restarting it"),
        }
        if began.elapsed() > Duration::from_secs(60) {
            pause = RESTART_PAUSE;
        }
        let mut stop_rx = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop_rx.wait_for(|s| *s) => return,
        }
        pause = (pause * 2).min(MAX_RESTART_PAUSE);
    }
}

/// Runs one apalis worker for `spec` until `stop` says so (or it fails); `started` is told
/// when it runs.
fn run_worker(
    jobs: &Jobs,
    spec: &KindSpec,
    handler: Arc<dyn Handler>,
    started: Option<tokio::sync::oneshot::Sender<()>>,
    mut stop: watch::Receiver<bool>,
) -> BoxFuture<'static, Result<(), WorkerError>> {
    let started = std::sync::Mutex::new(started);
    let name = format!("{}@{}", spec.kind, std::process::id());
    let worker = WorkerBuilder::new(name.as_str())
        .backend(SledBackend::new(
            jobs.clone(),
            spec.kind.clone(),
            spec.concurrency,
        ))
        .concurrency(spec.concurrency)
        .on_event(move |_, event| match event {
            Event::Start => {
                if let Some(tx) = started.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(());
                }
            }
            Event::Error(e) => tracing::warn!(error = %e, "job worker error"),
            _ => {}
        })
        .build(Dispatch {
            jobs: jobs.clone(),
            handler,
        });
    let signal = async move {
        let _ = stop.wait_for(|s| *s).await;
        Ok::<(), std::io::Error>(())
    };
    worker.run_until(signal).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{JobFilter, JobStatus, JobsConfig, NewJob};
    use crate::store::Store;

    async fn jobs_with(orphan_sweep: Duration) -> (tempfile::TempDir, Jobs) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4 << 20).unwrap();
        let mut config = JobsConfig::new(3, Duration::from_millis(20));
        config.orphan_sweep = orphan_sweep;
        (dir, Jobs::open(&store, config).await.unwrap())
    }

    async fn all_end(jobs: &Jobs, ids: &[u64]) -> Vec<JobRecord> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let all: Vec<JobRecord> = ids
                .iter()
                .map(|id| jobs.get(*id).unwrap().unwrap())
                .collect();
            if all.iter().all(|j| !j.status.is_live()) {
                return all;
            }
            let stuck: Vec<_> = all
                .iter()
                .filter(|j| j.status.is_live())
                .map(|j| (j.id, j.status))
                .collect();
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs never ended: {stuck:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn running(jobs: &Jobs) -> usize {
        let f = JobFilter {
            status: Some(JobStatus::Running),
            ..Default::default()
        };
        jobs.list(1, None, &f).unwrap().total_count
    }

    /// A backend error ends an apalis worker, dropping the handlers it runs and the outcomes
    /// it has not written yet. The jobs it held must not stay RUNNING: they are given back
    /// (the cut attempt counts), a new worker takes over, and everything ends. The periodic
    /// sweep is off (an hour) so that only the supervisor can do it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_that_fails_is_replaced_and_its_jobs_given_back() {
        let (_dir, jobs) = jobs_with(Duration::from_secs(3600)).await;
        let kind = JobKind::new("T_WFAIL").unwrap();
        jobs.register(
            KindSpec::new(kind.clone()).concurrency(3),
            |ctx: JobContext| async move {
                let n: u64 = ctx.payload().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(10 + (n % 3) * 40)).await;
                ctx.progress(1, Some(1), None);
                Outcome::Done
            },
        );
        jobs.start().await.unwrap();
        jobs.fail_events(2);
        let mut ids = vec![];
        for i in 0..12u64 {
            let new = NewJob::new(kind.clone(), serde_json::json!(i));
            ids.push(jobs.push(new).await.unwrap().job.id);
        }
        let all = all_end(&jobs, &ids).await;
        assert!(
            all.iter().all(|j| j.status == JobStatus::Succeeded),
            "{all:#?}"
        );
        assert_eq!(running(&jobs), 0);
        let cut: Vec<_> = all
            .iter()
            .filter(|j| {
                j.history.iter().any(|a| {
                    a.error
                        .as_deref()
                        .is_some_and(|e| e.contains("worker stopped"))
                })
            })
            .collect();
        assert!(!cut.is_empty(), "the failed batches' jobs were given back");
        for j in cut {
            assert!(
                j.attempts >= 2 && j.attempts as usize == j.history.len(),
                "{j:#?}"
            );
            assert!(
                j.history.last().unwrap().error.is_none(),
                "the last run succeeded"
            );
        }
        jobs.shutdown().await.unwrap();
    }

    /// The periodic sweep: a RUNNING job whose claim no live worker holds is given back, one
    /// held by a live lease is left alone.
    #[tokio::test]
    async fn the_sweep_gives_back_only_jobs_no_live_worker_holds() {
        let (_dir, jobs) = jobs_with(Duration::from_millis(50)).await;
        let kind = JobKind::new("T_ORPHAN").unwrap();
        // No worker for this kind: claims are made by hand, as a worker would.
        jobs.start().await.unwrap();
        let a = jobs
            .push(NewJob::new(kind.clone(), serde_json::json!(1)))
            .await
            .unwrap()
            .job;
        let b = jobs
            .push(NewJob::new(kind.clone(), serde_json::json!(2)))
            .await
            .unwrap()
            .job;
        let live = crate::jobs::queue::Lease::new();
        let dead = crate::jobs::queue::Lease::new();
        let q = jobs.queue();
        q.claim_for(&kind, 1, "w", &live.holder()).unwrap();
        q.claim_for(&kind, 1, "w", &dead.holder()).unwrap();
        drop(dead);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while jobs.get(b.id).unwrap().unwrap().status == JobStatus::Running {
            assert!(tokio::time::Instant::now() < deadline, "b never given back");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let b = jobs.get(b.id).unwrap().unwrap();
        assert_eq!(
            (b.status, b.attempts, b.lock_by.clone()),
            (JobStatus::Queued, 1, None)
        );
        assert!(
            b.history[0]
                .error
                .as_deref()
                .unwrap()
                .starts_with("interrupted")
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(jobs.get(a.id).unwrap().unwrap().status, JobStatus::Running);
        // Its outcome still lands, and nothing is left to sweep.
        let done = Finished {
            outcome: Outcome::Done,
            wake_epoch: jobs.wake_epoch(),
        };
        assert_eq!(
            jobs.finish(a.id, &done).unwrap().unwrap().status,
            JobStatus::Succeeded
        );
        drop(live);
        assert_eq!(jobs.requeue_orphans().await.unwrap(), 0);
        assert_eq!(
            jobs.get(a.id).unwrap().unwrap().status,
            JobStatus::Succeeded
        );
        jobs.shutdown().await.unwrap();
    }
}
