//! Alerts beyond `alerts.rs`: the two conditions measured in minutes, end to end (a
//! SYNC_ORDER job kept waiting while every worker is held by a stalled Acumatica write:
//! JOB_WAITING; an X-Cart store that answers 500 to every import: IMPORT_LAGGING; both rules
//! set to one minute, so that test waits a little over a minute, opens one incident each,
//! clears both causes and sees each closed with a RESOLVED notification), and a channel that
//! refuses for good (a webhook's 404), which fails at once instead of being retried; an order
//! that needs attention (a refund after sync) is one ORDER_SYNC incident, resolved with it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::alerts::{Receiver, receiver};
use crate::common::{RECORD_ORDER, Service, order_input, sim_with_tokens};

const SAVE_RULE: &str =
    "mutation($input: AlertRuleInput!) { saveAlertRule(input: $input) { id condition minutes } }";
const INCIDENTS: &str = "{ alertIncidents { subject summary state openedAt closedAt notifications { event delivery } } }";

/// The webhook deliveries for `subject`, as (event, summary).
fn deliveries(hook: &Receiver, subject: &str) -> Vec<(String, String)> {
    hook.delivered()
        .iter()
        .filter(|b| b["incident"]["subject"] == subject)
        .map(|b| {
            (
                b["event"].as_str().unwrap_or_default().to_owned(),
                b["incident"]["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

async fn wait_for(s: &Service, what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}\n{}", s.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_job_kept_waiting_and_a_lagging_import_each_open_one_incident_then_resolve() {
    let _heavy = crate::common::HEAVY.lock().await;
    let hook = receiver(0).await;
    let sim = sim_with_tokens(3600).await;
    let store = crate::xcart::xsim(true).await;
    let mut options = crate::xcart::options();
    options.env.extend([
        ("BRIDGE_ALERT_CHECK_INTERVAL_MS".into(), "200".into()),
        // One Acumatica request at a time, so two sync workers; a stalled write holds each
        // for longer than the test, and the third job stays due.
        ("BRIDGE_ACUMATICA_MAX_CONCURRENCY".into(), "1".into()),
        ("BRIDGE_ACUMATICA_TIMEOUT_MS".into(), "150000".into()),
    ]);
    let s = Service::start_with(crate::common::DataDir::new(), options).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let connected = crate::xcart::connect_store(&s, &store).await;
    assert_eq!(connected["status"], "CONNECTED", "{connected}");
    for (condition, name) in [
        ("JOB_WAITING", "Jobs waiting"),
        ("IMPORT_LAGGING", "Import"),
    ] {
        let rule = s
            .data(
                SAVE_RULE,
                json!({"input": {"name": name, "condition": condition, "minutes": 1,
                                 "webhooks": [{"url": hook.url, "secret": crate::alerts::SECRET}]}}),
            )
            .await;
        assert_eq!(rule["saveAlertRule"]["minutes"], 1, "{rule}");
    }
    // The import succeeded once on connecting; from now on the store fails every request.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.data(crate::xcart::STORE, json!({})).await["storeConnection"]["lastImportAt"].is_null()
    {
        assert!(Instant::now() < deadline, "never imported\n{}", s.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.update_faults(|f| f.rate_500 = 1.0);
    sim.update_faults(|f| {
        f.stall_writes_forever = true;
        f.stall_rate = 1.0;
    });
    for n in ["W1", "W2", "W3"] {
        s.data(RECORD_ORDER, json!({"input": order_input(n, "PAID")}))
            .await;
    }
    let since = Instant::now();
    let waiting = s
        .data(
            "{ jobs(filter: {kind: SYNC_ORDER, status: QUEUED}) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        waiting["jobs"]["totalCount"].as_i64().unwrap() >= 1,
        "a sync job waits for a worker: {waiting}"
    );

    // Over a minute later: one OPENED each, and nothing opened before the threshold.
    wait_for(
        &s,
        "both incidents opened",
        Duration::from_secs(100),
        || {
            !deliveries(&hook, "jobs:SYNC_ORDER").is_empty()
                && !deliveries(&hook, "import").is_empty()
        },
    )
    .await;
    assert!(
        since.elapsed() >= Duration::from_secs(55),
        "opened only after the one-minute threshold"
    );
    let jobs = deliveries(&hook, "jobs:SYNC_ORDER");
    assert_eq!(jobs[0].0, "OPENED", "{jobs:?}");
    assert!(
        jobs[0].1.contains("SYNC_ORDER") && jobs[0].1.contains("1 minutes"),
        "{jobs:?}"
    );
    let import = deliveries(&hook, "import");
    assert_eq!(import[0].0, "OPENED", "{import:?}");
    assert!(import[0].1.contains("import"), "{import:?}");

    // The causes cleared: the waiting job canceled, the store answering again.
    let still: Value = s
        .data(
            "{ jobs(filter: {kind: SYNC_ORDER, status: QUEUED}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    for edge in still["jobs"]["edges"].as_array().unwrap() {
        let r = s
            .gql(
                "mutation($id: ID!) { cancelJob(id: $id) { status } }",
                json!({"id": edge["node"]["id"]}),
            )
            .await;
        assert!(r.get("errors").is_none(), "{r}");
    }
    store.update_faults(|f| f.rate_500 = 0.0);
    wait_for(&s, "both resolved", Duration::from_secs(30), || {
        deliveries(&hook, "jobs:SYNC_ORDER")
            .last()
            .map(|d| d.0.as_str())
            == Some("RESOLVED")
            && deliveries(&hook, "import").last().map(|d| d.0.as_str()) == Some("RESOLVED")
    })
    .await;
    for subject in ["jobs:SYNC_ORDER", "import"] {
        let events: Vec<String> = deliveries(&hook, subject)
            .into_iter()
            .map(|d| d.0)
            .collect();
        assert_eq!(events, ["OPENED", "RESOLVED"], "{subject}: one incident");
    }
    let incidents = s.data(INCIDENTS, json!({})).await;
    let list = incidents["alertIncidents"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{incidents:#}");
    assert!(list.iter().all(|i| i["state"] == "CLOSED"), "{incidents:#}");
}

#[tokio::test]
async fn a_webhook_that_refuses_for_good_fails_at_once_with_what_to_fix() {
    let hook = receiver(0).await;
    let s = Service::start().await;
    let rule = s
        .data(
            SAVE_RULE,
            json!({"input": {"name": "Wrong URL", "condition": "CONNECTION_LOST",
                             "webhooks": [{"url": hook.url.replace("/hook", "/no-such-hook"),
                                           "secret": crate::alerts::SECRET}]}}),
        )
        .await;
    let id = rule["saveAlertRule"]["id"].as_str().unwrap().to_owned();
    let job = s
        .data(
            "mutation($r: ID!) { sendTestAlert(ruleId: $r, channelId: 1) { id } }",
            json!({"r": id}),
        )
        .await["sendTestAlert"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = s
        .wait_job(&job, |j| {
            j["status"] == "FAILED" || j["status"] == "SUCCEEDED"
        })
        .await;
    let job = s
        .data(
            "query($id: ID!) { job(id: $id) { status attempts errorClass lastError } }",
            json!({"id": job}),
        )
        .await["job"]
        .clone();
    assert_eq!(job["status"], "FAILED", "{done} {job}");
    assert_eq!(job["attempts"], 1, "a 404 is not retried: {job}");
    assert_eq!(job["errorClass"], "CONFIGURATION", "{job}");
    let error = job["lastError"].as_str().unwrap();
    assert!(
        error.contains("HTTP 404") && error.contains("To fix"),
        "{error}"
    );
    assert!(hook.delivered().is_empty());
}

#[tokio::test]
async fn an_order_that_needs_attention_is_one_incident_resolved_with_it() {
    let _heavy = crate::common::HEAVY.lock().await;
    let hook = receiver(0).await;
    let sim = sim_with_tokens(3600).await;
    let mut options = crate::common::Options::default();
    options
        .env
        .push(("BRIDGE_ALERT_CHECK_INTERVAL_MS".into(), "200".into()));
    let s = Service::start_with(crate::common::DataDir::new(), options).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    s.data(
        SAVE_RULE,
        json!({"input": {"name": "Orders", "condition": "ORDER_SYNC",
                         "webhooks": [{"url": hook.url, "secret": crate::alerts::SECRET}]}}),
    )
    .await;
    s.data(RECORD_ORDER, json!({"input": order_input("N1", "PAID")}))
        .await;
    let status = "query { order(number: \"N1\") { sync { status } } }";
    s.wait_for(status, |d| d["order"]["sync"]["status"] == "SYNCED")
        .await;
    // Refunded in the store after the sync: the order needs a person.
    s.data(
        RECORD_ORDER,
        json!({"input": order_input("N1", "REFUNDED")}),
    )
    .await;
    wait_for(&s, "the incident opened", Duration::from_secs(20), || {
        deliveries(&hook, "order:N1").len() == 1
    })
    .await;
    let opened = deliveries(&hook, "order:N1");
    assert_eq!(opened[0].0, "OPENED");
    assert!(
        opened[0].1.contains("NEEDS_ATTENTION") && opened[0].1.contains("refund of 526.00 USD"),
        "{opened:?}"
    );
    s.data(
        "mutation { resolveAttention(number: \"N1\", note: \"credit memo made\") { number } }",
        json!({}),
    )
    .await;
    wait_for(&s, "the incident resolved", Duration::from_secs(20), || {
        deliveries(&hook, "order:N1").len() == 2
    })
    .await;
    assert_eq!(deliveries(&hook, "order:N1")[1].0, "RESOLVED");
    let incidents: Value = s.data(INCIDENTS, json!({})).await;
    let mine: Vec<&Value> = incidents["alertIncidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["subject"] == "order:N1")
        .collect();
    assert_eq!(mine.len(), 1, "one incident: {incidents:#}");
    assert_eq!(mine[0]["state"], "CLOSED");
}
