//! Stress of the job system's claim → run → finish path: many short jobs, run concurrently,
//! that report progress right before they return, some panicking or failing once; and
//! faults around it (a panicking change hook). Every job must end SUCCEEDED, none may stay
//! RUNNING, and the last change a hook saw of each job must be its final one (an order's
//! sync status mirrors its job through such a hook).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acumatica_bridge::jobs::{
    JobContext, JobFilter, JobRecord, JobStatus, Jobs, KindSpec, NewJob, Outcome,
};
use serde_json::json;

use crate::jobs::{bed, kind};

/// The last status each job's change hook saw, like an order's mirror of its sync job.
type Mirror = Arc<Mutex<HashMap<u64, JobStatus>>>;

fn mirror(jobs: &Jobs) -> Mirror {
    let m: Mirror = Arc::default();
    let mm = m.clone();
    jobs.on_change(move |j: &JobRecord| {
        mm.lock().unwrap().insert(j.id, j.status);
    });
    m
}

/// Waits (at most `secs`) until every job in `ids` is SUCCEEDED; on timeout, fails naming
/// the ones that are not (and whether they are RUNNING).
async fn all_succeed(jobs: &Jobs, ids: &[u64], secs: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left: Vec<JobRecord> = ids
            .iter()
            .map(|id| jobs.get(*id).unwrap().expect("the job exists"))
            .filter(|j| j.status != JobStatus::Succeeded)
            .collect();
        if left.is_empty() {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let running = left
                .iter()
                .filter(|j| j.status == JobStatus::Running)
                .count();
            panic!(
                "{} of {} jobs never succeeded ({running} stuck RUNNING); first: {:#?}",
                left.len(),
                ids.len(),
                left[0]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn running_count(jobs: &Jobs) -> usize {
    let f = JobFilter {
        status: Some(JobStatus::Running),
        ..Default::default()
    };
    jobs.list(1, None, &f).unwrap().total_count
}

/// The handler of the stress kinds: progress twice, the second right before returning; job
/// `n % 7 == 0` panics on its first attempt, `n % 5 == 0` fails transiently on its first.
async fn stress_handler(ctx: JobContext) -> Outcome {
    let n: u64 = ctx.payload().unwrap_or(0);
    ctx.progress(0, Some(2), Some("start".into()));
    tokio::task::yield_now().await;
    if ctx.attempt() == 1 && n.is_multiple_of(7) {
        ctx.progress(1, Some(2), None);
        panic!("boom {n}");
    }
    if ctx.attempt() == 1 && n.is_multiple_of(5) {
        ctx.progress(1, Some(2), None);
        return Outcome::transient("once");
    }
    ctx.progress(2, Some(2), Some("done".into()));
    Outcome::Done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_stress_progress_right_before_return_never_leaves_running() {
    let b = bed(|jobs| {
        jobs.register(
            KindSpec::new(kind("T_STRESS_A")).concurrency(4),
            stress_handler,
        );
        jobs.register(
            KindSpec::new(kind("T_STRESS_B")).concurrency(1),
            stress_handler,
        );
    })
    .await;
    let seen = mirror(&b.jobs);
    // Pushed from several tasks at once while the workers already run.
    let mut pushers = vec![];
    for p in 0..4u64 {
        let jobs = b.jobs.clone();
        pushers.push(tokio::spawn(async move {
            let mut ids = vec![];
            for i in 0..75u64 {
                let n = p * 1000 + i;
                let k = if i % 3 == 0 {
                    "T_STRESS_B"
                } else {
                    "T_STRESS_A"
                };
                ids.push(
                    jobs.push(NewJob::new(kind(k), json!(n)))
                        .await
                        .unwrap()
                        .job
                        .id,
                );
            }
            ids
        }));
    }
    let mut ids = vec![];
    for p in pushers {
        ids.extend(p.await.unwrap());
    }
    all_succeed(&b.jobs, &ids, 60).await;
    assert_eq!(running_count(&b.jobs), 0, "no job left RUNNING");
    // The mirror's last word on each job is SUCCEEDED, never a late RUNNING (progress).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = seen.lock().unwrap();
    for id in &ids {
        assert_eq!(seen.get(id), Some(&JobStatus::Succeeded), "job {id}");
        let j = b.jobs.get(*id).unwrap().unwrap();
        assert_eq!(j.lock_by, None);
        assert!(j.history.iter().all(|a| a.finished_at.is_some()));
        assert_eq!(j.progress.as_ref().map(|p| p.done), Some(2), "job {id}");
    }
}

/// A change hook that panics (a bug in a mirror) must not take the worker down with it: the
/// change is committed, the other jobs (running at the same time or later) still run and
/// end, and nothing stays RUNNING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_panicking_change_hook_does_not_strand_jobs() {
    let b = bed(|jobs| {
        jobs.register(
            KindSpec::new(kind("T_HOOKPANIC")).concurrency(3),
            |ctx: JobContext| async move {
                let n: u64 = ctx.payload().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(20 + (n % 4) * 10)).await;
                ctx.progress(1, Some(1), None);
                Outcome::Done
            },
        );
    })
    .await;
    let panicked = Arc::new(AtomicBool::new(false));
    let p = panicked.clone();
    b.jobs.on_change(move |j: &JobRecord| {
        if j.status == JobStatus::Succeeded && !p.swap(true, Ordering::SeqCst) {
            panic!("a buggy mirror");
        }
    });
    let seen = mirror(&b.jobs);
    let mut ids = vec![];
    for i in 0..30u64 {
        ids.push(
            b.jobs
                .push(NewJob::new(kind("T_HOOKPANIC"), json!(i)))
                .await
                .unwrap()
                .job
                .id,
        );
    }
    all_succeed(&b.jobs, &ids, 20).await;
    assert!(panicked.load(Ordering::SeqCst));
    assert_eq!(running_count(&b.jobs), 0);
    // Hooks registered after the panicking one still saw every change.
    let seen = seen.lock().unwrap();
    for id in &ids {
        assert_eq!(seen.get(id), Some(&JobStatus::Succeeded), "job {id}");
    }
}
