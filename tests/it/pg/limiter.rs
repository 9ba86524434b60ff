//! The Acumatica limits shared in PostgreSQL (`pg::limiter`): two instances (two pools, two
//! holders) together never get turns closer than the interval nor more requests in flight
//! than the slots, a killed instance's slot comes free with its lease, and a pause holds for
//! every instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acumatica_bridge::pg::limiter::SharedLimiter;
use acumatica_bridge::pg::{Pg, PgOptions};

use super::cluster;

async fn two_instances(
    max_rpm: u32,
    max_concurrency: u32,
    slot_lease: Duration,
) -> (SharedLimiter, SharedLimiter) {
    let url = cluster::database().await;
    let options = PgOptions {
        max_connections: 6,
        ..Default::default()
    };
    let mut out = vec![];
    for holder in ["instance-a", "instance-b"] {
        let pg = Pg::connect_with(&url, options.clone()).await.unwrap();
        let l = SharedLimiter::open(
            pg.pool().clone(),
            "acumatica",
            holder,
            max_rpm,
            max_concurrency,
            slot_lease,
        )
        .await
        .unwrap();
        out.push(l);
    }
    let b = out.pop().unwrap();
    (out.pop().unwrap(), b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_together_keep_the_rate_and_the_concurrency() {
    // 600 a minute: one turn every 100 ms; 2 in flight. Each request holds its slot 250 ms,
    // so that without the slots 3 would be in flight at times.
    let (a, b) = two_instances(600, 2, Duration::from_secs(30)).await;
    assert_eq!(a.interval(), Duration::from_millis(100));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for i in 0..6 {
        let l = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (in_flight, most) = (in_flight.clone(), most.clone());
        tasks.push(tokio::spawn(async move {
            let mut turns = vec![];
            for _ in 0..3 {
                let permit = l.acquire().await.unwrap();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(250)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                turns.push(permit.turn());
                permit.release().await.unwrap();
            }
            turns
        }));
    }
    let started = Instant::now();
    let mut turns = vec![];
    for t in tasks {
        turns.extend(t.await.unwrap());
    }
    assert_eq!(turns.len(), 18);
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "at most, and at times, 2 in flight"
    );
    turns.sort();
    for w in turns.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= chrono::Duration::milliseconds(100) - chrono::Duration::microseconds(1),
            "two turns {gap} apart"
        );
    }
    // 18 requests, 2 at a time for 250 ms each: at least 9 rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_slot_of_a_killed_instance_comes_free_with_its_lease() {
    let (a, b) = two_instances(60_000, 1, Duration::from_secs(2)).await;
    // A takes the only slot and dies with it (no release, no drop).
    std::mem::forget(a.acquire().await.unwrap());
    let t = Instant::now();
    let permit = tokio::time::timeout(Duration::from_secs(10), b.acquire())
        .await
        .expect("the slot comes free")
        .unwrap();
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(1200),
        "B got the slot after {waited:?}"
    );
    assert_eq!(permit.slot(), 0);
    permit.release().await.unwrap();
    // A released slot is free at once (not when B's lease would end).
    let t = Instant::now();
    a.acquire().await.unwrap().release().await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_pause_holds_for_every_instance() {
    let (a, b) = two_instances(60_000, 4, Duration::from_secs(30)).await;
    a.acquire().await.unwrap().release().await.unwrap();
    a.pause(Duration::from_millis(1500)).await.unwrap();
    let t = Instant::now();
    b.acquire().await.unwrap().release().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
}
