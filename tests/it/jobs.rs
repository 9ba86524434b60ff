//! The job queue through the library: test kinds registered by the tests themselves (never in
//! the shipped schema), in-process, with a 50 ms retry base delay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use acumatica_bridge::jobs::{
    JobContext, JobKind, JobRecord, JobStatus, Jobs, JobsConfig, JobsError, KindSpec, NewJob,
    Outcome,
};
use acumatica_bridge::store::Store;
use futures::StreamExt;
use serde_json::json;

pub struct Bed {
    pub jobs: Jobs,
    pub store: Store,
    _dir: tempfile::TempDir,
}

pub fn kind(name: &str) -> JobKind {
    JobKind::new(name).unwrap()
}

/// A job system on a fresh store; `setup` registers handlers before the workers start.
pub async fn bed(setup: impl FnOnce(&Jobs)) -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4 << 20).unwrap();
    let jobs = Jobs::open(&store, JobsConfig::new(3, Duration::from_millis(50)))
        .await
        .unwrap();
    setup(&jobs);
    jobs.start().await.unwrap();
    Bed {
        jobs,
        store,
        _dir: dir,
    }
}

/// Waits (at most 20 s) until job `id` satisfies `done`; returns it.
pub async fn until(jobs: &Jobs, id: u64, done: impl Fn(&JobRecord) -> bool) -> JobRecord {
    let mut events = jobs.bus().subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let j = jobs.get(id).unwrap().expect("the job exists");
        if done(&j) {
            return j;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "job {id} never got there; it is {j:#?}");
        let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), events.next()).await;
    }
}

pub async fn until_status(jobs: &Jobs, id: u64, s: JobStatus) -> JobRecord {
    until(jobs, id, |j| j.status == s).await
}

#[tokio::test]
async fn push_run_succeeded() {
    let ran = Arc::new(AtomicU32::new(0));
    let r = ran.clone();
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_OK")), move |ctx: JobContext| {
            let r = r.clone();
            async move {
                assert_eq!(ctx.payload::<serde_json::Value>().unwrap(), json!({"n": 1}));
                r.fetch_add(1, Ordering::SeqCst);
                Outcome::Done
            }
        })
    })
    .await;
    let pushed = b
        .jobs
        .push(NewJob::new(kind("T_OK"), json!({"n": 1})))
        .await
        .unwrap();
    assert!(pushed.created);
    assert_eq!(pushed.job.status, JobStatus::Queued);
    let j = until_status(&b.jobs, pushed.job.id, JobStatus::Succeeded).await;
    assert_eq!((j.attempts, j.history.len()), (1, 1));
    assert!(j.history[0].finished_at.is_some() && j.history[0].error.is_none());
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(j.lock_by, None);
}

#[tokio::test]
async fn transient_error_is_retried_then_succeeds() {
    let b = bed(|jobs| {
        jobs.register(
            KindSpec::new(kind("T_FLAKY")),
            |ctx: JobContext| async move {
                if ctx.attempt() < 3 {
                    Outcome::transient(format!("flaky {}", ctx.attempt()))
                } else {
                    Outcome::Done
                }
            },
        )
    })
    .await;
    let mut events = b.jobs.bus().subscribe();
    let mut new = NewJob::new(kind("T_FLAKY"), json!(null));
    new.max_attempts = Some(5);
    let id = b.jobs.push(new).await.unwrap().job.id;
    let j = until_status(&b.jobs, id, JobStatus::Succeeded).await;
    assert_eq!(j.attempts, 3);
    let errors: Vec<_> = j.history.iter().map(|a| a.error.clone()).collect();
    assert_eq!(
        errors,
        vec![Some("flaky 1".into()), Some("flaky 2".into()), None]
    );
    assert_eq!(j.last_error, None);
    let mut seen = vec![];
    while let Ok(Some(Ok(e))) = tokio::time::timeout(Duration::ZERO, events.next()).await {
        if e.id == id {
            seen.push(e.status);
        }
    }
    use JobStatus::*;
    assert_eq!(
        seen,
        vec![
            Queued,
            Running,
            RetryScheduled,
            Running,
            RetryScheduled,
            Running,
            Succeeded
        ]
    );
}

#[tokio::test]
async fn permanent_error_fails_after_one_attempt_and_max_attempts_fail() {
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_BAD")), |_: JobContext| async {
            Outcome::data("no such customer class")
        });
        jobs.register(
            KindSpec::new(kind("T_DOWN")).max_attempts(2),
            |_: JobContext| async { Outcome::transient("503 Service Unavailable") },
        );
        jobs.register(KindSpec::new(kind("T_PANIC")), |_: JobContext| async {
            panic!("boom")
        });
    })
    .await;
    let bad = b
        .jobs
        .push(NewJob::new(kind("T_BAD"), json!(1)))
        .await
        .unwrap();
    let j = until_status(&b.jobs, bad.job.id, JobStatus::Failed).await;
    assert_eq!((j.attempts, j.history.len()), (1, 1));
    assert_eq!(j.last_error.as_deref(), Some("no such customer class"));

    let down = b
        .jobs
        .push(NewJob::new(kind("T_DOWN"), json!(1)))
        .await
        .unwrap();
    assert_eq!(down.job.max_attempts, 2, "the kind's max attempts");
    let j = until_status(&b.jobs, down.job.id, JobStatus::Failed).await;
    assert_eq!((j.attempts, j.history.len()), (2, 2));
    assert!(
        j.history
            .iter()
            .all(|a| a.error.as_deref() == Some("503 Service Unavailable"))
    );

    let p = b
        .jobs
        .push(NewJob::new(kind("T_PANIC"), json!(1)))
        .await
        .unwrap();
    let j = until_status(&b.jobs, p.job.id, JobStatus::Failed).await;
    assert_eq!(j.attempts, 3, "the configured default max attempts");
    assert!(
        j.history[0]
            .error
            .as_deref()
            .unwrap()
            .contains("panicked: boom")
    );
}

#[tokio::test]
async fn retry_after_waits_the_given_delay() {
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_429")), |ctx: JobContext| async move {
            if ctx.attempt() == 1 {
                Outcome::RetryAfter(Duration::from_millis(300), "429 Too Many Requests".into())
            } else {
                Outcome::Done
            }
        })
    })
    .await;
    let id = b
        .jobs
        .push(NewJob::new(kind("T_429"), json!(1)))
        .await
        .unwrap()
        .job
        .id;
    let scheduled = until_status(&b.jobs, id, JobStatus::RetryScheduled).await;
    let wait = scheduled.run_at.unwrap() - scheduled.history[0].finished_at.unwrap();
    assert_eq!(wait.num_milliseconds(), 300);
    let done = until_status(&b.jobs, id, JobStatus::Succeeded).await;
    assert!(done.history[1].started_at >= scheduled.run_at.unwrap());
}

#[tokio::test]
async fn one_live_job_per_uniqueness_key() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_SYNC")), move |_: JobContext| {
            let g = g.clone();
            async move {
                g.notified().await;
                Outcome::Done
            }
        })
    })
    .await;
    let new = || {
        NewJob::new(kind("T_SYNC"), json!({"order": "1001"}))
            .unique("order:1001")
            .order("1001")
    };
    let first = b.jobs.push(new()).await.unwrap();
    until_status(&b.jobs, first.job.id, JobStatus::Running).await;
    let second = b.jobs.push(new()).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.job.id, first.job.id);
    assert_eq!(second.job.status, JobStatus::Running);
    gate.notify_one();
    until_status(&b.jobs, first.job.id, JobStatus::Succeeded).await;
    let third = b.jobs.push(new()).await.unwrap();
    assert!(third.created, "a finished job does not hold its key");
    assert_ne!(third.job.id, first.job.id);
    gate.notify_one();
    until_status(&b.jobs, third.job.id, JobStatus::Succeeded).await;
    let of_order = b.jobs.for_order("1001").unwrap();
    assert_eq!(
        of_order.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![third.job.id, first.job.id],
        "jobs of the order, newest first"
    );
}

#[tokio::test]
async fn retry_keeps_id_and_history_and_cancel_stops_jobs() {
    let fail = Arc::new(AtomicBool::new(true));
    let f = fail.clone();
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_RETRY")), move |_: JobContext| {
            let f = f.clone();
            async move {
                if f.load(Ordering::SeqCst) {
                    Outcome::data("refused")
                } else {
                    Outcome::Done
                }
            }
        });
        jobs.register(
            KindSpec::new(kind("T_LONG")).concurrency(2),
            |ctx: JobContext| async move {
                for step in 0..400 {
                    if ctx.cancel_requested() {
                        return Outcome::transient("stopped at a safe point");
                    }
                    ctx.progress(step, Some(400), None);
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Outcome::Done
            },
        );
        jobs.register(
            KindSpec::new(kind("T_ATOMIC")).cancel_running(false),
            |_: JobContext| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Outcome::Done
            },
        );
    })
    .await;
    let id = b
        .jobs
        .push(NewJob::new(kind("T_RETRY"), json!(1)))
        .await
        .unwrap()
        .job
        .id;
    until_status(&b.jobs, id, JobStatus::Failed).await;
    let err = b.jobs.cancel(id).await.unwrap_err();
    assert!(matches!(err, JobsError::Conflict(_)), "{err}");
    fail.store(false, Ordering::SeqCst);
    let retried = b.jobs.retry(id).await.unwrap();
    assert_eq!(
        (retried.id, retried.status, retried.attempts),
        (id, JobStatus::Queued, 0)
    );
    let j = until_status(&b.jobs, id, JobStatus::Succeeded).await;
    assert_eq!(j.attempts, 1);
    assert_eq!(j.history.len(), 2, "history kept across the retry");
    assert_eq!(j.history[0].error.as_deref(), Some("refused"));
    assert_eq!(j.history[1].number, 2);
    assert!(matches!(
        b.jobs.retry(id).await,
        Err(JobsError::Conflict(_))
    ));

    // A kind nobody runs: its job stays QUEUED, and cancelling it is final.
    let idle = b
        .jobs
        .push(NewJob::new(kind("T_NOBODY"), json!(1)))
        .await
        .unwrap()
        .job;
    let c = b.jobs.cancel(idle.id).await.unwrap();
    assert_eq!(c.status, JobStatus::Canceled);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        b.jobs.get(idle.id).unwrap().unwrap().status,
        JobStatus::Canceled
    );

    // A running job stops at its next safe point.
    let long = b
        .jobs
        .push(NewJob::new(kind("T_LONG"), json!(1)))
        .await
        .unwrap()
        .job;
    until(&b.jobs, long.id, |j| {
        j.progress.as_ref().is_some_and(|p| p.done >= 2)
    })
    .await;
    let asked = b.jobs.cancel(long.id).await.unwrap();
    assert_eq!(asked.status, JobStatus::Running);
    assert!(asked.cancel_requested);
    let j = until_status(&b.jobs, long.id, JobStatus::Canceled).await;
    assert_eq!(j.progress.unwrap().total, Some(400));

    // A kind that cannot stop midway refuses.
    let atomic = b
        .jobs
        .push(NewJob::new(kind("T_ATOMIC"), json!(1)))
        .await
        .unwrap()
        .job;
    until_status(&b.jobs, atomic.id, JobStatus::Running).await;
    match b.jobs.cancel(atomic.id).await {
        Err(JobsError::Conflict(m)) => assert!(m.contains("cannot be stopped midway"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn not_ready_parks_until_woken_without_counting_attempts() {
    let connected = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU32::new(0));
    let (c, r) = (connected.clone(), runs.clone());
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_WAIT")), move |_: JobContext| {
            let (c, r) = (c.clone(), r.clone());
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                if c.load(Ordering::SeqCst) {
                    Outcome::Done
                } else {
                    Outcome::not_ready("connected", "not connected to Acumatica")
                }
            }
        })
    })
    .await;
    let id = b
        .jobs
        .push(NewJob::new(kind("T_WAIT"), json!(1)))
        .await
        .unwrap()
        .job
        .id;
    let parked = until(&b.jobs, id, |j| j.waiting_for.is_some()).await;
    assert_eq!(parked.status, JobStatus::Queued);
    assert_eq!((parked.attempts, parked.history.len()), (0, 0));
    // No polling: nothing runs it again while it waits.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(b.jobs.wake("reachable").await.unwrap(), 0);
    connected.store(true, Ordering::SeqCst);
    assert_eq!(b.jobs.wake("connected").await.unwrap(), 1);
    let j = until_status(&b.jobs, id, JobStatus::Succeeded).await;
    assert_eq!(j.attempts, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrency_is_bounded_per_kind() {
    let now = Arc::new(AtomicU32::new(0));
    let max = Arc::new(AtomicU32::new(0));
    let (n, m) = (now.clone(), max.clone());
    let b = bed(|jobs| {
        jobs.register(
            KindSpec::new(kind("T_PAR")).concurrency(2),
            move |_: JobContext| {
                let (n, m) = (n.clone(), m.clone());
                async move {
                    let here = n.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(here, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    Outcome::Done
                }
            },
        )
    })
    .await;
    let mut ids = vec![];
    for i in 0..6 {
        ids.push(
            b.jobs
                .push(NewJob::new(kind("T_PAR"), json!(i)))
                .await
                .unwrap()
                .job
                .id,
        );
    }
    for id in ids {
        until_status(&b.jobs, id, JobStatus::Succeeded).await;
    }
    assert_eq!(max.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn push_with_writes_the_job_and_other_trees_together() {
    let b = bed(|jobs| {
        jobs.register(KindSpec::new(kind("T_TX")), |_: JobContext| async {
            Outcome::Done
        })
    })
    .await;
    let other = b.store.raw_tree("test_other").unwrap();
    let job = b
        .jobs
        .push_with(&[&other], |t, q| {
            t[0].insert(&b"order-1"[..], &b"paid"[..])?;
            Ok(q.push(&NewJob::new(kind("T_TX"), json!(1)).order("1"))?.job)
        })
        .await
        .map_err(|e: JobsError| e)
        .unwrap();
    assert_eq!(other.get("order-1").unwrap().as_deref(), Some(&b"paid"[..]));
    until_status(&b.jobs, job.id, JobStatus::Succeeded).await;
    let before = b
        .jobs
        .list(500, None, &Default::default())
        .unwrap()
        .total_count;
    let failed: Result<(), JobsError> = b
        .jobs
        .push_with(&[&other], |t, q| {
            t[0].insert(&b"order-2"[..], &b"paid"[..])?;
            q.push(&NewJob::new(kind("T_TX"), json!(2)))?;
            Err(sled::transaction::ConflictableTransactionError::Abort(
                JobsError::Conflict("the caller changed its mind".into()),
            ))
        })
        .await;
    assert!(matches!(failed, Err(JobsError::Conflict(_))));
    assert_eq!(other.get("order-2").unwrap(), None);
    assert_eq!(
        b.jobs
            .list(500, None, &Default::default())
            .unwrap()
            .total_count,
        before,
        "neither write happened"
    );
}
