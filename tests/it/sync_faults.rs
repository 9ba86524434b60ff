//! Nothing lost, nothing doubled: a few hundred PAID orders against a simulator that answers
//! with 429s and 500s, expires tokens every two seconds and commits writes whose answers come
//! too late; then the same with the real binary killed (SIGKILL) again and again mid-run.
//! Every order must end SYNCED with exactly one Sales Order.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use acumatica_bridge::sim::acumatica::RunningSim;

use crate::common::{DataDir, Options, RECORD_ORDER, Service, order_input, sim_with_tokens};
use crate::sync::sales_orders_for;

const ORDERS: usize = 300;

fn input(i: usize) -> serde_json::Value {
    let mut o = order_input(&format!("F{i:04}"), "PAID");
    o["email"] = json!(format!("buyer{}@example.com", i % 12));
    o["profileId"] = json!(format!("{}", 9000 + i % 12));
    o
}

async fn record_all(s: &Service) {
    futures::stream::iter(0..ORDERS)
        .map(|i| async move {
            let body = s.gql(RECORD_ORDER, json!({"input": input(i)})).await;
            assert!(body.get("errors").is_none(), "{body}");
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// Counts of orders by sync status.
async fn statuses(s: &Service) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for status in ["NOT_SYNCED", "QUEUED", "SYNCING", "SYNCED", "FAILED"] {
        let q =
            format!("{{ orders(first: 1, filter: {{syncStatus: {status}}}) {{ totalCount }} }}");
        let n = s.data(&q, json!({})).await["orders"]["totalCount"]
            .as_u64()
            .unwrap();
        out.insert(status.to_owned(), n);
    }
    out
}

/// Waits until every order is SYNCED (none FAILED on the way); on a timeout, shows the
/// orders still on their way with their jobs.
async fn all_synced(s: &Service) {
    let deadline = Instant::now() + Duration::from_secs(100);
    loop {
        let counts = statuses(s).await;
        if counts["SYNCED"] as usize == ORDERS {
            return;
        }
        assert_eq!(counts["FAILED"], 0, "{counts:?}\n{}", s.stderr());
        if Instant::now() > deadline {
            let stuck = s
                .data("{ orders(filter: {syncStatus: SYNCING}) { edges { node { number sync { jobs { id status attempts lastError waitingFor history { number startedAt finishedAt error } } } } } } }", json!({}))
                .await;
            panic!("not all synced in time: {counts:?}\n{stuck:#}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn exactly_one_each(sim: &RunningSim) {
    let all = sim.sales_orders();
    let mut by_ref: BTreeMap<String, usize> = BTreeMap::new();
    for so in &all {
        *by_ref
            .entry(so["CustomerOrder"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let doubled: Vec<_> = by_ref.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "store orders with more than one Sales Order: {doubled:?}"
    );
    for i in 0..ORDERS {
        assert_eq!(
            sales_orders_for(sim, &format!("F{i:04}")).len(),
            1,
            "order F{i:04}"
        );
    }
    assert_eq!(all.len(), ORDERS);
}

fn fast(recheck_ms: u64) -> Options {
    let mut o = Options::default();
    o.env
        .retain(|(k, _)| k != "BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS");
    o.env.push((
        "BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS".into(),
        recheck_ms.to_string(),
    ));
    o.env.push(("BRIDGE_MAX_ATTEMPTS".into(), "30".into()));
    o.env
        .push(("BRIDGE_ACUMATICA_MAX_CONCURRENCY".into(), "4".into()));
    o
}

#[tokio::test]
async fn faults_lose_and_double_nothing() {
    let _serial = crate::common::HEAVY.lock().await;
    let sim = sim_with_tokens(2).await;
    let s = Service::start_with(DataDir::new(), fast(300)).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    sim.update_faults(|f| {
        f.rate_429 = 0.08;
        f.rate_500 = 0.08;
        f.stall_writes_ms = Some(1500);
        f.stall_rate = 0.08;
    });
    record_all(&s).await;
    all_synced(&s).await;
    let stalls = sim.counters().count("PUT SalesOrder");
    assert!(
        stalls > ORDERS as u64,
        "faults were injected (PUT SalesOrder {stalls})"
    );
    // Give requests that stalled in the simulator time to finish, then count.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    exactly_one_each(&sim);
}

#[tokio::test]
async fn sigkill_mid_run_loses_and_doubles_nothing() {
    let _serial = crate::common::HEAVY.lock().await;
    let sim = sim_with_tokens(3600).await;
    sim.update_faults(|f| f.latency_ms = 15);
    let data = DataDir::new();
    let s = Service::start_with(data.clone(), fast(300)).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    record_all(&s).await;
    let mut s = s;
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        if round == 0 {
            let counts = statuses(&s).await;
            assert!(
                (counts["SYNCED"] as usize) < ORDERS,
                "the kill must land mid-run: {counts:?}"
            );
        }
        let data = s.kill();
        s = Service::start_with(data, fast(300)).await;
    }
    all_synced(&s).await;
    exactly_one_each(&sim);
    drop(data);
}
