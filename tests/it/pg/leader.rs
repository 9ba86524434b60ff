//! One instance at a time (`pg::leader`): while an instance leads a piece of work no other
//! does; once it resigns, or dies with its connection, another takes over.

use std::time::{Duration, Instant};

use acumatica_bridge::pg::Pg;
use acumatica_bridge::pg::leader::{Leader, key_of, try_lead};

use super::cluster;

#[tokio::test]
async fn one_instance_leads_and_another_takes_over_when_it_resigns_or_dies() {
    let url = cluster::database().await;
    let a = Pg::connect(&url).await.unwrap();
    let b = Pg::connect(&url).await.unwrap();

    let mut lead = try_lead(a.pool(), "xcart-import")
        .await
        .unwrap()
        .expect("A leads");
    assert!(lead.still_leads().await);
    assert!(
        try_lead(b.pool(), "xcart-import").await.unwrap().is_none(),
        "B does not"
    );
    assert!(
        try_lead(a.pool(), "xcart-import").await.unwrap().is_none(),
        "nor A twice"
    );
    // Another piece of work has its own leadership.
    let token = try_lead(b.pool(), "token-renewal")
        .await
        .unwrap()
        .expect("B leads that");

    // A resigns: B takes over at once.
    lead.resign().await.unwrap();
    let mut lead = try_lead(b.pool(), "xcart-import")
        .await
        .unwrap()
        .expect("B leads now");
    assert!(lead.still_leads().await);
    token.resign().await.unwrap();

    // B's session is cut (a network failure, an administrator): B sees it has lost the
    // leadership, and A takes it.
    let cut: bool = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
         AND ((classid::bigint << 32) | objid::bigint) = $1",
    )
    .bind(key_of("xcart-import"))
    .fetch_one(a.pool())
    .await
    .unwrap();
    assert!(cut);
    assert!(!lead.still_leads().await, "B knows it lost it");
    let again = eventually(|| try_lead(a.pool(), "xcart-import")).await;

    // A dies (its connection goes away without a word): B takes over within seconds.
    drop(again);
    let taken = eventually(|| try_lead(b.pool(), "xcart-import")).await;
    assert_eq!(taken.name(), "xcart-import");
}

/// The leadership, once `attempt` gets it (within 10 s).
async fn eventually<F, Fut>(attempt: F) -> Leader
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = acumatica_bridge::pg::Result<Option<Leader>>>,
{
    let t = Instant::now();
    loop {
        if let Some(l) = attempt().await.unwrap() {
            return l;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the lock outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
