//! The job queue on PostgreSQL (`pg::queue`) with two "instances" (two pools, two owners) on
//! one real database: leases are exclusive, an expired lease is taken over, a uniqueness key
//! yields one live job, and every change is heard through LISTEN/NOTIFY.

use std::collections::BTreeSet;
use std::time::Duration;

use acumatica_bridge::domain::ErrorClass;
use acumatica_bridge::jobs::{
    Backoff, JobFilter, JobKind, JobRecord, JobStatus, Limits, NewJob, Outcome, Progress, TimeRange,
};
use acumatica_bridge::pg::queue::{JobChange, PgQueue, push_in};
use acumatica_bridge::pg::{Pg, PgError, PgOptions};
use serde_json::json;

use super::cluster;

fn limits() -> Limits {
    Limits {
        default_max_attempts: 3,
        per_kind: [(JobKind::CONNECT, 2)].into(),
    }
}

fn backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100))
}

/// Two instances on one fresh database: each its own pool and owner name.
async fn two_instances(lease: Duration) -> (PgQueue, PgQueue) {
    let url = cluster::database().await;
    let options = PgOptions {
        max_connections: 4,
        ..Default::default()
    };
    let a = Pg::connect_with(&url, options.clone()).await.unwrap();
    let b = Pg::connect_with(&url, options).await.unwrap();
    (
        PgQueue::new(a.pool().clone(), "instance-a", lease),
        PgQueue::new(b.pool().clone(), "instance-b", lease),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_leasing_at_once_never_get_the_same_job() {
    let (a, b) = two_instances(Duration::from_secs(30)).await;
    let mut ids = BTreeSet::new();
    for i in 0..200 {
        let q = if i % 2 == 0 { &a } else { &b };
        let pushed = q
            .push(&NewJob::new(JobKind::SYNC_ORDER, json!(i)), &limits())
            .await
            .unwrap();
        assert!(pushed.created);
        ids.insert(pushed.job.id);
    }
    let drain = |q: PgQueue| async move {
        let mut mine = vec![];
        loop {
            let got = q.claim(&JobKind::SYNC_ORDER, 7).await.unwrap();
            if got.is_empty() {
                return mine;
            }
            for j in got {
                assert_eq!(j.status, JobStatus::Running);
                assert_eq!(j.lock_by.as_deref(), Some(q.owner()));
                let done = q.finish(j.id, &Outcome::Done, &backoff(), false).await;
                let done = done.unwrap().expect("the owner finishes its own job");
                assert_eq!(done.status, JobStatus::Succeeded);
                mine.push(j.id);
            }
        }
    };
    let (ta, tb) = tokio::join!(
        tokio::spawn(drain(a.clone())),
        tokio::spawn(drain(b.clone()))
    );
    let (got_a, got_b) = (ta.unwrap(), tb.unwrap());
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both instances claimed"
    );
    let set_a: BTreeSet<u64> = got_a.iter().copied().collect();
    let set_b: BTreeSet<u64> = got_b.iter().copied().collect();
    assert_eq!(set_a.len(), got_a.len(), "no job twice to one instance");
    assert!(set_a.is_disjoint(&set_b), "a job leased by both instances");
    let all: BTreeSet<u64> = set_a.union(&set_b).copied().collect();
    assert_eq!(all, ids, "every job ran");
    for id in ids {
        let j = a.get(id).await.unwrap().unwrap();
        assert_eq!(
            (j.status, j.attempts, j.history.len()),
            (JobStatus::Succeeded, 1, 1)
        );
    }
    let counts = a.counts().await.unwrap();
    assert_eq!(
        counts.get(&(JobKind::SYNC_ORDER, JobStatus::Succeeded)),
        Some(&200)
    );
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_owner_is_fenced_off() {
    // A 1 s lease renewed every 200 ms: a stall of the machine up to 800 ms changes nothing.
    let (a, b) = two_instances(Duration::from_secs(1)).await;
    let job = a
        .push(&NewJob::new(JobKind::SYNC_ORDER, json!(1)), &limits())
        .await
        .unwrap()
        .job;
    assert_eq!(a.claim(&JobKind::SYNC_ORDER, 1).await.unwrap().len(), 1);
    // Renewed, the lease holds past its first term.
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(a.renew().await.unwrap(), 1);
        assert!(b.claim(&JobKind::SYNC_ORDER, 1).await.unwrap().is_empty());
    }
    // A stops renewing (it hangs, or was killed): B takes the job over.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let taken = b.claim(&JobKind::SYNC_ORDER, 1).await.unwrap();
    assert_eq!(taken.len(), 1);
    let t = &taken[0];
    assert_eq!(t.id, job.id);
    assert_eq!(t.lock_by.as_deref(), Some("instance-b"));
    assert_eq!(
        (t.attempts, t.history.len()),
        (2, 2),
        "the lost attempt counts"
    );
    let lost = t.history[0].error.as_deref().unwrap();
    assert!(lost.contains("lease of instance-a expired"), "{lost}");
    // A's late outcome changes nothing: the job is B's.
    assert!(
        a.finish(job.id, &Outcome::Done, &backoff(), false)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(a.renew().await.unwrap(), 0);
    let now = a.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        (now.status, now.lock_by.as_deref()),
        (JobStatus::Running, Some("instance-b"))
    );
    let done = b
        .finish(job.id, &Outcome::Done, &backoff(), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);

    // A lease lost at the last attempt fails the job (CONNECT: 2 attempts).
    let c = a
        .push(&NewJob::new(JobKind::CONNECT, json!({})), &limits())
        .await
        .unwrap()
        .job;
    assert_eq!(c.max_attempts, 2, "per-kind max attempts");
    a.claim(&JobKind::CONNECT, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(b.claim(&JobKind::CONNECT, 1).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(a.claim(&JobKind::CONNECT, 1).await.unwrap().is_empty());
    let c = a.get(c.id).await.unwrap().unwrap();
    assert_eq!((c.status, c.attempts), (JobStatus::Failed, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uniqueness_key_yields_one_live_job() {
    let (a, b) = two_instances(Duration::from_secs(30)).await;
    let pushes = (0..20).map(|i| {
        let q = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move {
            let new = NewJob::new(JobKind::SYNC_ORDER, json!(i))
                .unique("order:A-1")
                .order("A-1");
            q.push(&new, &limits()).await.unwrap()
        })
    });
    let pushed: Vec<_> = futures::future::join_all(pushes)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let first = pushed
        .iter()
        .find(|p| p.created)
        .expect("one created")
        .job
        .id;
    assert_eq!(
        pushed.iter().filter(|p| p.created).count(),
        1,
        "one created"
    );
    assert!(
        pushed.iter().all(|p| p.job.id == first),
        "all got the live one"
    );
    assert_eq!(a.for_order("A-1").await.unwrap().len(), 1);

    // A scheduled retry is moved to now by a second push, and stays the one job.
    a.claim(&JobKind::SYNC_ORDER, 1).await.unwrap();
    let r = a
        .finish(first, &Outcome::transient("timeout"), &backoff(), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, JobStatus::RetryScheduled);
    assert!(r.run_at.unwrap() > chrono::Utc::now() - chrono::Duration::seconds(1));
    let again = NewJob::new(JobKind::SYNC_ORDER, json!("again")).unique("order:A-1");
    let moved = b.push(&again, &limits()).await.unwrap();
    assert_eq!((moved.created, moved.job.id), (false, first));
    assert_eq!(moved.job.status, JobStatus::Queued);

    // Once it is finished, the key is free again; the old job cannot be retried meanwhile.
    b.claim(&JobKind::SYNC_ORDER, 1).await.unwrap();
    b.finish(first, &Outcome::data("unknown SKU"), &backoff(), false)
        .await
        .unwrap();
    let fresh = a.push(&again, &limits()).await.unwrap();
    assert!(fresh.created);
    assert_ne!(fresh.job.id, first);
    let err = a.retry(first).await.unwrap_err();
    assert!(matches!(err, PgError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("order:A-1"), "{err}");
}

/// What a change returned is exactly what the row reads back as.
async fn stored(q: &PgQueue, j: JobRecord) -> JobRecord {
    let read = q.get(j.id).await.unwrap();
    assert_eq!(read.as_ref(), Some(&j), "the row reads back as returned");
    j
}

#[tokio::test]
async fn retries_back_off_parked_jobs_wait_and_cancel_follows_the_rules() {
    let (a, _b) = two_instances(Duration::from_secs(30)).await;
    let kind = JobKind::SYNC_ORDER;
    let new = NewJob::new(kind.clone(), json!({"n": 1})).order("A-7");
    let j = stored(&a, a.push(&new, &limits()).await.unwrap().job).await;
    assert_eq!(j.order_number.as_deref(), Some("A-7"));
    assert_eq!(j.payload, json!({"n": 1}));

    // A transient failure: RETRY_SCHEDULED after the backoff, with its class and error.
    stored(&a, a.claim(&kind, 1).await.unwrap().remove(0)).await;
    let o = Outcome::transient("timeout");
    let r = a
        .finish(j.id, &o, &backoff(), false)
        .await
        .unwrap()
        .unwrap();
    let r = stored(&a, r).await;
    assert_eq!((r.status, r.attempts), (JobStatus::RetryScheduled, 1));
    assert_eq!(r.error_class, Some(ErrorClass::Transient));
    assert_eq!(r.history[0].error.as_deref(), Some("timeout"));
    let backed_off = r.run_at.unwrap() - r.updated_at;
    assert!(
        backed_off <= chrono::Duration::milliseconds(100),
        "{backed_off}"
    );

    // A 429's Retry-After: not claimed before it is due.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stored(&a, a.claim(&kind, 1).await.unwrap().remove(0)).await;
    let o = Outcome::RetryAfter(Duration::from_secs(60), "429".into());
    let r = stored(
        &a,
        a.finish(j.id, &o, &backoff(), false)
            .await
            .unwrap()
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.attempts), (JobStatus::RetryScheduled, 2));
    assert!(a.claim(&kind, 1).await.unwrap().is_empty());
    let due = a
        .next_due(&kind)
        .await
        .unwrap()
        .expect("the retry's due time");
    assert!(
        due > chrono::Utc::now() + chrono::Duration::seconds(55),
        "{due}"
    );

    // Canceled while scheduled; retried by hand: attempts start again, history is kept.
    let c = stored(&a, a.cancel(j.id, false).await.unwrap()).await;
    assert_eq!(c.status, JobStatus::Canceled);
    let again = stored(&a, a.retry(j.id).await.unwrap()).await;
    assert_eq!(
        (again.status, again.attempts, again.history.len()),
        (JobStatus::Queued, 0, 2)
    );
    assert_eq!(again.error_class, None);

    // Parked while offline: the run does not count; runnable once woken.
    a.claim(&kind, 1).await.unwrap();
    let o = Outcome::not_ready("connected", "not connected");
    let p = stored(
        &a,
        a.finish(j.id, &o, &backoff(), false)
            .await
            .unwrap()
            .unwrap(),
    )
    .await;
    assert_eq!((p.status, p.attempts), (JobStatus::Queued, 0));
    assert_eq!(p.waiting_for.as_ref().unwrap().condition, "connected");
    assert_eq!(p.waiting_for.as_ref().unwrap().reason, "not connected");
    assert!(a.claim(&kind, 1).await.unwrap().is_empty(), "parked");
    assert!(a.unpark("reachable").await.unwrap().is_empty());
    assert_eq!(a.unpark("connected").await.unwrap().len(), 1);
    let run = a.claim(&kind, 1).await.unwrap();
    assert_eq!(run[0].attempts, 1, "the parked run did not count");

    // Running: its progress is kept; a cancel is refused unless the kind may stop midway;
    // asked, it ends CANCELED.
    let progress = Progress {
        done: 1,
        total: Some(3),
        message: Some("lines".into()),
    };
    let p = a
        .set_progress(j.id, progress.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored(&a, p).await.progress, Some(progress));
    let err = a.cancel(j.id, false).await.unwrap_err();
    assert!(matches!(err, PgError::Conflict(_)), "{err}");
    assert!(
        stored(&a, a.cancel(j.id, true).await.unwrap())
            .await
            .cancel_requested
    );
    let o = Outcome::transient("x");
    let end = a
        .finish(j.id, &o, &backoff(), false)
        .await
        .unwrap()
        .unwrap();
    let end = stored(&a, end).await;
    assert_eq!(end.status, JobStatus::Canceled);
    assert!(matches!(
        a.cancel(j.id, true).await,
        Err(PgError::Conflict(_))
    ));
    assert!(matches!(
        a.cancel(999_999, true).await,
        Err(PgError::NotFound(999_999))
    ));

    // Released before it ran: the claim's attempt is forgotten.
    let k = a
        .push(&NewJob::new(kind.clone(), json!(2)), &limits())
        .await
        .unwrap()
        .job;
    a.claim(&kind, 1).await.unwrap();
    let back = stored(&a, a.release(k.id).await.unwrap().unwrap()).await;
    assert_eq!(
        (back.status, back.attempts, back.history.len()),
        (JobStatus::Queued, 0, 0)
    );

    // Retention prunes successes only.
    a.claim(&kind, 1).await.unwrap();
    let done = a
        .finish(k.id, &Outcome::Done, &backoff(), false)
        .await
        .unwrap();
    stored(&a, done.unwrap()).await;
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(a.prune_succeeded(later).await.unwrap(), 1);
    assert!(a.get(k.id).await.unwrap().is_none());
    assert!(a.get(j.id).await.unwrap().is_some());
}

#[tokio::test]
async fn an_instance_restarting_under_its_name_gets_its_running_jobs_back_at_once() {
    let (a, b) = two_instances(Duration::from_secs(600)).await;
    for i in 0..3 {
        let new = NewJob::new(JobKind::SYNC_ORDER, json!(i));
        a.push(&new, &limits()).await.unwrap();
    }
    assert_eq!(a.claim(&JobKind::SYNC_ORDER, 2).await.unwrap().len(), 2);
    let bs = b.claim(&JobKind::SYNC_ORDER, 1).await.unwrap().remove(0);
    // A is killed and starts again: its two jobs come back long before their leases end;
    // B's job stays B's.
    let restarted = PgQueue::new(a.pool().clone(), "instance-a", Duration::from_secs(600));
    let back = restarted.recover().await.unwrap();
    assert_eq!(back.len(), 2);
    for j in &back {
        assert_eq!(
            (j.status, j.attempts, j.lock_by.as_deref()),
            (JobStatus::Queued, 1, None)
        );
        let why = j.history[0].error.as_deref().unwrap();
        assert!(why.starts_with("interrupted"), "{why}");
    }
    let still = a.get(bs.id).await.unwrap().unwrap();
    assert_eq!(
        (still.status, still.lock_by.as_deref()),
        (JobStatus::Running, Some("instance-b"))
    );
    let again = restarted.claim(&JobKind::SYNC_ORDER, 10).await.unwrap();
    assert_eq!(
        again.len(),
        2,
        "runnable again; B's RUNNING job is not among them"
    );
    assert!(again.iter().all(|j| j.attempts == 2));
}

/// Lists (page by page) and counts by filter equal `JobFilter::matches` over every job.
#[tokio::test]
async fn lists_and_counts_match_the_filter_over_every_job() {
    let (a, _b) = two_instances(Duration::from_secs(30)).await;
    let kinds = [
        JobKind::SYNC_ORDER,
        JobKind::CONNECT,
        JobKind::IMPORT_ORDERS,
    ];
    let mut ids = vec![];
    let mut middle = None;
    for i in 0..40 {
        let mut new = NewJob::new(kinds[i % 3].clone(), json!(i));
        if i % 4 != 3 {
            let prefix = if i % 2 == 0 { "A" } else { "B" };
            new = new.order(format!("{prefix}-{}", i % 5));
        }
        let j = a.push(&new, &limits()).await.unwrap().job;
        if i == 20 {
            middle = Some(j.created_at);
        }
        ids.push(j.id);
    }
    let claimed = a.claim(&JobKind::SYNC_ORDER, 8).await.unwrap();
    for (n, j) in claimed.iter().enumerate() {
        let outcome = match n % 4 {
            0 => Outcome::Done,
            1 => Outcome::data("unknown SKU"),
            2 => Outcome::transient("timeout"),
            _ => continue,
        };
        a.finish(j.id, &outcome, &backoff(), false).await.unwrap();
    }
    a.cancel(ids[1], false).await.unwrap();
    let mut all = vec![];
    for id in ids.iter().rev() {
        all.push(a.get(*id).await.unwrap().unwrap());
    }
    let hour = chrono::Duration::hours(1);
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
    filters.extend([
        JobFilter {
            kinds: vec![JobKind::CONNECT, JobKind::IMPORT_ORDERS],
            ..Default::default()
        },
        JobFilter {
            order_number: Some("A-2".into()),
            ..Default::default()
        },
        JobFilter {
            order_number_prefix: Some("B-".into()),
            kinds: vec![JobKind::SYNC_ORDER],
            ..Default::default()
        },
        JobFilter {
            error_class: Some(ErrorClass::Data),
            ..Default::default()
        },
        JobFilter {
            error_class: Some(ErrorClass::Transient),
            ..Default::default()
        },
        JobFilter {
            created: TimeRange {
                from: middle,
                to: None,
            },
            ..Default::default()
        },
        JobFilter {
            created: TimeRange {
                from: None,
                to: middle,
            },
            ..Default::default()
        },
        JobFilter {
            finished: TimeRange {
                from: Some(chrono::Utc::now() - hour),
                to: Some(chrono::Utc::now() + hour),
            },
            ..Default::default()
        },
    ]);
    let mut empty = 0;
    for f in &filters {
        let want: Vec<u64> = all.iter().filter(|j| f.matches(j)).map(|j| j.id).collect();
        empty += want.is_empty() as usize;
        assert_eq!(a.count(f).await.unwrap(), want.len() as u64, "{f:?}");
        let mut got = vec![];
        let mut below = None;
        loop {
            let (page, more) = a.list(f, 3, below).await.unwrap();
            got.extend(page.iter().map(|j| j.id));
            below = page.last().map(|j| j.id);
            if !more {
                break;
            }
            assert_eq!(page.len(), 3);
        }
        assert_eq!(got, want, "{f:?}");
    }
    assert_eq!(
        empty, 1,
        "every filter but CANCELED SYNC_ORDER matches some jobs"
    );
}

#[tokio::test]
async fn a_job_pushed_in_a_rolled_back_transaction_does_not_exist() {
    let url = cluster::database().await;
    let pg = Pg::connect(&url).await.unwrap();
    let q = PgQueue::new(pg.pool().clone(), "w", Duration::from_secs(30));
    let mut tx = pg.pool().begin().await.unwrap();
    let new = NewJob::new(JobKind::SYNC_ORDER, json!(1)).unique("k");
    let pushed = push_in(&mut tx, &new, &limits()).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(q.get(pushed.job.id).await.unwrap().is_none());
    assert!(
        q.push(&new, &limits()).await.unwrap().created,
        "the key is free"
    );
}

#[tokio::test]
async fn every_change_of_every_instance_is_heard() {
    let (a, b) = two_instances(Duration::from_secs(30)).await;
    let mut changes = b.listen().await.unwrap();
    let next = async |changes: &mut acumatica_bridge::pg::queue::Changes| -> JobChange {
        tokio::time::timeout(Duration::from_secs(10), changes.next())
            .await
            .expect("a notification within 10 s")
            .unwrap()
            .expect("no reconnect")
    };
    let j = a
        .push(&NewJob::new(JobKind::IMPORT_ORDERS, json!({})), &limits())
        .await
        .unwrap()
        .job;
    let c = next(&mut changes).await;
    assert_eq!(
        (c.id, c.status, c.runnable),
        (j.id, JobStatus::Queued, true)
    );
    assert_eq!(c.kind, JobKind::IMPORT_ORDERS);
    a.claim(&JobKind::IMPORT_ORDERS, 1).await.unwrap();
    let c = next(&mut changes).await;
    assert_eq!((c.status, c.runnable), (JobStatus::Running, false));
    a.finish(j.id, &Outcome::Done, &backoff(), false)
        .await
        .unwrap();
    let c = next(&mut changes).await;
    assert_eq!(c.status, JobStatus::Succeeded);
}
