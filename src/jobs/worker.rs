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
use apalis_core::error::BoxDynError;
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
            .map_err(|e| Outcome::Permanent(format!("the job's payload is not valid: {e}")))
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
pub(super) async fn start(jobs: &Jobs, specs: Vec<(KindSpec, Arc<dyn Handler>)>) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = vec![];
    let mut started = vec![];
    for (spec, handler) in specs {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = std::sync::Mutex::new(Some(tx));
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
                    if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
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
        let mut stop_rx = stop_rx.clone();
        let signal = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
            Ok::<(), std::io::Error>(())
        };
        let kind = spec.kind.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = worker.run_until(signal).await {
                tracing::error!(%kind, error = %e, "job worker stopped with an error");
            }
        }));
        started.push(rx);
    }
    for rx in started {
        let _ = rx.await;
    }
    tracing::info!(workers = tasks.len(), "job workers running");
    Running { stop, tasks }
}
