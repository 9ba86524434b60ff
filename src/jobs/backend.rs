//! The apalis 1.0 backend on sled: [`SledPersistence`] implements apalis-core's
//! `Persistence` (the route the official SQL backends take) and [`SledBackend`] wraps it in
//! `Persisted`, which supplies the poll state machine (register, heartbeat, fetch, buffer,
//! event drain, re-enqueue on close).
//!
//! - `fetch_next` claims up to the worker's free slots of due jobs of its kind
//!   ([`Queue::claim`](super::queue::Queue::claim)) and flushes before handing them out, so
//!   that a handler never runs for a claim a crash could forget.
//! - `handle_events` gets apalis' `Complete` events (the ack) carrying our [`Finished`] and
//!   applies them ([`super::outcome::settle`]); one flush for the batch. `Lock` needs no
//!   write: the claim already made the job RUNNING.
//! - `reenqueue_abandoned` gives back claimed jobs that never started (shutdown).
//! - claims are made under the backend's lease ([`Lease`]): a RUNNING job whose lease is
//!   gone (the worker's stream was dropped, handlers and undrained acks with it, e.g. after
//!   an error from `fetch_next` or `handle_events`, which ends an apalis worker) is given
//!   back by [`Jobs::requeue_orphans`].
//! - pick-up without polling: when a fetch finds nothing, [`SledBackend`] sleeps on the
//!   kind's `Notify` (pushes, retries and wakes notify it) or until the kind's next
//!   scheduled retry is due, whichever comes first. sled's `watch_prefix` is not used: a
//!   subscriber that stops reading would block writers.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::{
    Persisted, Persistence, State, TaskEvent, TaskPersistLayer,
};
use apalis_core::backend::{Backend, BackendConfig, WireFormatBackend};
use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_core::worker::context::WorkerContext;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, Sink};
use serde_json::Value;
use tokio::sync::Notify;

use super::outcome::{Finished, Outcome};
use super::queue::{Holder, Lease};
use super::record::{JobKind, JobRecord, NewJob};
use super::{Jobs, JobsError};

/// How often `Persisted` calls `heartbeat` (a no-op here: one process owns the store, and
/// recovery at start replaces orphan detection).
const HEARTBEAT: Duration = Duration::from_secs(60);

/// The `Persistence` of one kind's queue.
#[derive(Clone)]
pub struct SledPersistence {
    jobs: Jobs,
    kind: JobKind,
    concurrency: usize,
    next_due: Arc<Mutex<Option<DateTime<Utc>>>>,
    /// The lease of the [`SledBackend`] this belongs to: jobs are claimed under it.
    lease: Holder,
}

fn task_of(job: JobRecord) -> Task<Value> {
    TaskBuilder::new(job.payload.clone())
        .task_id(TaskId::from_int(job.id))
        .attempt(job.attempts.saturating_sub(1) as usize)
        .max_attempts(job.max_attempts as usize)
        .lock_by(job.lock_by.clone())
        .data(Arc::new(job))
        .build()
}

fn id_of(id: &TaskId) -> Option<u64> {
    id.as_int()
}

impl Persistence for SledPersistence {
    type Compact = Value;
    type Response = Value;
    type Error = JobsError;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), JobsError> {
        tracing::debug!(worker = worker.name(), kind = %self.kind, "job worker registered");
        Ok(())
    }

    async fn heartbeat(&mut self, _: &WorkerContext) -> Result<(), JobsError> {
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<Task<Value>>, JobsError> {
        let limit = self.concurrency.saturating_sub(worker.task_count()).max(1);
        let (claimed, next_due) =
            self.jobs
                .queue()
                .claim_for(&self.kind, limit, worker.name(), &self.lease)?;
        *self.next_due.lock().expect("next_due") = next_due;
        if !claimed.is_empty() {
            self.jobs.store().flush().await?;
        }
        Ok(claimed.into_iter().map(task_of).collect())
    }

    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<Task<Value>>,
        _: &WorkerContext,
    ) -> Result<u64, JobsError> {
        let mut released = vec![];
        for task in tasks {
            if let Some(id) = task.ctx().task_id().and_then(id_of) {
                released.extend(self.jobs.queue().release(id)?);
            }
        }
        self.jobs.store().flush().await?;
        self.jobs.kick_all(&released);
        Ok(released.len() as u64)
    }

    async fn handle_events(
        &mut self,
        events: Vec<TaskEvent<Value>>,
        _: &WorkerContext,
    ) -> Result<(), JobsError> {
        #[cfg(test)]
        self.jobs.injected_fault()?;
        let mut changed = vec![];
        for event in events {
            let TaskEvent::Complete(result) = event else {
                continue;
            };
            let Some(id) = id_of(&result.task_id) else {
                continue;
            };
            let finished = match result.result {
                Ok(v) => serde_json::from_value::<Finished>(v).unwrap_or_else(|e| Finished {
                    outcome: Outcome::Transient(format!("unreadable outcome: {e}")),
                    wake_epoch: self.jobs.wake_epoch(),
                }),
                Err(e) => Finished {
                    outcome: Outcome::Transient(e),
                    wake_epoch: self.jobs.wake_epoch(),
                },
            };
            changed.extend(self.jobs.finish(id, &finished)?);
        }
        if !changed.is_empty() {
            self.jobs.store().flush().await?;
            self.jobs.kick_all(&changed);
        }
        Ok(())
    }

    async fn push_tasks(&mut self, tasks: Vec<Task<Value>>) -> Result<(), JobsError> {
        for task in tasks {
            let mut new = NewJob::new(self.kind.clone(), task.args.clone());
            new.unique_key = task.ctx().idempotency_key().map(str::to_owned);
            if let Some(n) = task.ctx().max_attempts() {
                new.max_attempts = Some(n as u32);
            }
            self.jobs.push(new).await?;
        }
        Ok(())
    }
}

/// The apalis backend of one kind's queue.
///
/// It owns the [`Lease`] its jobs are claimed under. apalis' worker keeps the backend and the
/// futures of the handlers it runs in one stream; when that stream is dropped (the worker
/// stopped, or failed on a backend error and dropped its handlers mid-run), the lease goes
/// with it, and [`Jobs::requeue_orphans`] gives the jobs it still held back.
pub struct SledBackend {
    persisted: Persisted<SledPersistence>,
    _lease: Lease,
    notify: Arc<Notify>,
    next_due: Arc<Mutex<Option<DateTime<Utc>>>>,
    wait: Option<BoxFuture<'static, ()>>,
    codec: JsonCodec<Value>,
    batch: usize,
}

impl SledBackend {
    pub fn new(jobs: Jobs, kind: JobKind, concurrency: usize) -> SledBackend {
        let next_due = Arc::new(Mutex::new(None));
        let notify = jobs.notify_of(&kind);
        let lease = Lease::new();
        SledBackend {
            persisted: Persisted::new(SledPersistence {
                jobs,
                kind,
                concurrency,
                next_due: next_due.clone(),
                lease: lease.holder(),
            }),
            _lease: lease,
            notify,
            next_due,
            wait: None,
            codec: JsonCodec::default(),
            batch: concurrency.max(1),
        }
    }

    /// Sleeps until a push notifies the kind or its next scheduled job is due.
    fn arm_wait(&mut self) {
        let notify = self.notify.clone();
        let due = *self.next_due.lock().expect("next_due");
        self.wait = Some(
            async move {
                let until_due = async {
                    match due {
                        Some(t) => {
                            let d = (t - Utc::now()).to_std().unwrap_or_default();
                            tokio::time::sleep(d + Duration::from_millis(1)).await
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = until_due => {}
                }
            }
            .boxed(),
        );
    }
}

impl Backend for SledBackend {
    type Task = Task<Value>;
    type Error = JobsError;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), JobsError>> {
        self.persisted.poll_ready(cx, worker, HEARTBEAT)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Task<Value>, JobsError>>> {
        loop {
            if let Some(wait) = self.wait.as_mut() {
                match wait.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => self.wait = None,
                }
            }
            match self.persisted.poll_next(cx, worker) {
                // An empty fetch leaves `Persisted` Ready: nothing due, so wait for a wake-up.
                Poll::Pending if matches!(self.persisted.state(), State::Ready) => self.arm_wait(),
                other => return other,
            }
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), JobsError>> {
        self.persisted.poll_close(cx, worker)
    }
}

impl BackendConfig for SledBackend {
    type Args = Value;
    type Id = u64;
    type Kind = Durable;
    type Config = ();
    type Layer = TaskPersistLayer<JsonCodec<Value>, Value>;

    fn config(&self) -> &() {
        &()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        self.persisted
            .layer(JsonCodec::<Value>::default(), self.batch)
            .persist_results(true)
            .lock_tasks(true)
    }
}

impl WireFormatBackend for SledBackend {
    type Codec = JsonCodec<Value>;
    type Compact = Value;

    fn codec(&self) -> &JsonCodec<Value> {
        &self.codec
    }
}

/// Pushing through apalis' `TaskSink` (`push`, `push_bulk`, …) creates jobs of this kind.
impl Sink<Task<Value>> for SledBackend {
    type Error = JobsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), JobsError>> {
        Pin::new(&mut self.get_mut().persisted).poll_ready(cx)
    }
    fn start_send(self: Pin<&mut Self>, item: Task<Value>) -> Result<(), JobsError> {
        Pin::new(&mut self.get_mut().persisted).start_send(item)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), JobsError>> {
        Pin::new(&mut self.get_mut().persisted).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), JobsError>> {
        Pin::new(&mut self.get_mut().persisted).poll_close(cx)
    }
}
