//! Jobs in the GraphQL API: in-process (the test registers a handler for a shipped kind and a
//! hidden test kind), and against the real binary (no handlers yet: the API's errors).

use std::sync::Arc;
use std::time::Duration;

use acumatica_bridge::api;
use acumatica_bridge::config::ServeConfig;
use acumatica_bridge::jobs::{JobContext, JobKind, JobStatus, KindSpec, NewJob, Outcome};
use acumatica_bridge::state::AppState;
use async_graphql::{Request, Variables};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::Service;
use crate::jobs::{kind, until_status};

async fn state(dir: &tempfile::TempDir) -> AppState {
    let data = dir.path().join("data");
    let config = ServeConfig::from_args([
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--retry-base-delay-ms",
        "50",
    ])
    .unwrap();
    AppState::open(config).await.unwrap().0
}

async fn run(schema: &api::BridgeSchema, query: &str, vars: Value) -> Value {
    let r = schema
        .execute(Request::new(query).variables(Variables::from_json(vars)))
        .await;
    serde_json::to_value(r).unwrap()
}

#[tokio::test]
async fn a_subscriber_sees_queued_running_succeeded_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir).await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    s.jobs.register(
        KindSpec::new(JobKind::REFRESH_LOOKUPS),
        move |ctx: JobContext| {
            let g = g.clone();
            async move {
                ctx.progress(1, Some(2), Some("customer classes".into()));
                g.acquire().await.unwrap().forget();
                if ctx.job().payload == json!("fail") {
                    return Outcome::data("Acumatica said no");
                }
                Outcome::Done
            }
        },
    );
    s.jobs
        .register(KindSpec::new(kind("T_HIDDEN")), |_: JobContext| async {
            Outcome::Done
        });
    s.jobs.start().await.unwrap();
    let schema = api::schema(s.clone());
    let mut sub = schema.execute_stream(Request::new(
        "subscription { jobUpdates(kind: REFRESH_LOOKUPS) { id kind status attempts progress { done total message } } }",
    ));
    // The first poll subscribes.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), sub.next())
            .await
            .is_err()
    );
    let hidden = s
        .jobs
        .push(NewJob::new(kind("T_HIDDEN"), json!(1)))
        .await
        .unwrap()
        .job;
    let job = s
        .jobs
        .push(NewJob::new(JobKind::REFRESH_LOOKUPS, json!("ok")))
        .await
        .unwrap()
        .job;
    until_status(&s.jobs, job.id, JobStatus::Running).await;
    gate.add_permits(1);
    let mut statuses = vec![];
    while statuses.last() != Some(&json!("SUCCEEDED")) {
        let r = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("an event")
            .unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let d = r.data.into_json().unwrap();
        assert_eq!(d["jobUpdates"]["id"], json!(job.id.to_string()));
        assert_eq!(d["jobUpdates"]["kind"], "REFRESH_LOOKUPS");
        if d["jobUpdates"]["status"] == "RUNNING" && !d["jobUpdates"]["progress"].is_null() {
            assert_eq!(
                d["jobUpdates"]["progress"],
                json!({"done": 1, "total": 2, "message": "customer classes"})
            );
            continue; // the progress update of the running job
        }
        statuses.push(d["jobUpdates"]["status"].clone());
    }
    assert_eq!(
        statuses,
        vec![json!("QUEUED"), json!("RUNNING"), json!("SUCCEEDED")]
    );
    until_status(&s.jobs, hidden.id, JobStatus::Succeeded).await;

    // Queries show the shipped kinds only, newest first, with history.
    let d = run(
        &schema,
        r#"query($id: ID!, $hidden: ID!) {
          jobs { totalCount edges { cursor node { id kind status attempts maxAttempts history { number startedAt finishedAt error } } } }
          job(id: $id) { id status lastError progress { done total } }
          hiddenJob: job(id: $hidden) { id }
        }"#,
        json!({"id": job.id.to_string(), "hidden": hidden.id.to_string()}),
    )
    .await;
    assert_eq!(d["data"]["jobs"]["totalCount"], 1, "{d:#}");
    let node = &d["data"]["jobs"]["edges"][0]["node"];
    assert_eq!(node["status"], "SUCCEEDED");
    assert_eq!(node["maxAttempts"], 12, "the configured default");
    assert_eq!(node["history"].as_array().unwrap().len(), 1);
    assert_eq!(d["data"]["hiddenJob"], Value::Null);
    assert_eq!(d["data"]["job"]["progress"], json!({"done": 1, "total": 2}));

    // Failed, retried by filter, failed again; then cancel and prune.
    let failing = s
        .jobs
        .push(NewJob::new(JobKind::REFRESH_LOOKUPS, json!("fail")))
        .await
        .unwrap()
        .job;
    gate.add_permits(1);
    until_status(&s.jobs, failing.id, JobStatus::Failed).await;
    let d = run(
        &schema,
        "mutation { retryJobs(filter: {status: FAILED, kind: REFRESH_LOOKUPS}) { id status attempts history { error } } }",
        json!({}),
    )
    .await;
    let retried = &d["data"]["retryJobs"];
    assert_eq!(retried.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(retried[0]["id"], json!(failing.id.to_string()));
    assert_eq!(retried[0]["attempts"], 0);
    assert_eq!(retried[0]["history"][0]["error"], "Acumatica said no");
    gate.add_permits(1);
    until(&s, failing.id, |j| {
        j.status == JobStatus::Failed && j.history.len() == 2
    })
    .await;
    let d = run(
        &schema,
        "mutation($id: ID!) { retryJob(id: $id) { status } }",
        json!({"id": failing.id.to_string()}),
    )
    .await;
    assert_eq!(d["data"]["retryJob"]["status"], "QUEUED", "{d:#}");
    until_status(&s.jobs, failing.id, JobStatus::Running).await;
    let d = run(
        &schema,
        "mutation($id: ID!) { cancelJob(id: $id) { status cancelRequested } }",
        json!({"id": failing.id.to_string()}),
    )
    .await;
    assert_eq!(
        d["data"]["cancelJob"],
        json!({"status": "RUNNING", "cancelRequested": true})
    );
    gate.add_permits(1);
    until_status(&s.jobs, failing.id, JobStatus::Canceled).await;
    let d = run(
        &schema,
        "mutation($id: ID!) { cancelJob(id: $id) { status } }",
        json!({"id": failing.id.to_string()}),
    )
    .await;
    assert_eq!(d["errors"][0]["extensions"]["code"], "CONFLICT", "{d:#}");
    let d = run(
        &schema,
        "mutation { pruneJobs(filter: {status: CANCELED}) }",
        json!({}),
    )
    .await;
    assert_eq!(d["data"]["pruneJobs"], 1);
    assert!(s.jobs.get(failing.id).unwrap().is_none());
    assert!(s.jobs.get(job.id).unwrap().is_some(), "other jobs stay");
    s.jobs.shutdown().await.unwrap();
}

async fn until(
    s: &AppState,
    id: u64,
    f: impl Fn(&acumatica_bridge::jobs::JobRecord) -> bool,
) -> acumatica_bridge::jobs::JobRecord {
    crate::jobs::until(&s.jobs, id, f).await
}

#[tokio::test]
async fn order_sync_lists_the_orders_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir).await;
    s.jobs.start().await.unwrap();
    let schema = api::schema(s.clone());
    let d = run(
        &schema,
        crate::common::RECORD_ORDER,
        // Not paid: no automatic sync job; the test pushes its own.
        json!({"input": crate::common::order_input("2001", "QUEUED")}),
    )
    .await;
    assert!(d["errors"].is_null(), "{d:#}");
    let job = s
        .jobs
        .push(
            NewJob::new(JobKind::SYNC_ORDER, json!({}))
                .order("2001")
                .unique("order:2001"),
        )
        .await
        .unwrap()
        .job;
    let d = run(
        &schema,
        r#"{ order(number: "2001") { sync { jobs { id kind status orderNumber nextRunAt } } }
             jobs(filter: {orderNumber: "2001"}) { totalCount } }"#,
        json!({}),
    )
    .await;
    let jobs = &d["data"]["order"]["sync"]["jobs"];
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{d:#}");
    assert_eq!(jobs[0]["id"], json!(job.id.to_string()));
    assert_eq!(jobs[0]["status"], "QUEUED", "no SYNC_ORDER handler yet");
    assert_eq!(jobs[0]["orderNumber"], "2001");
    assert!(jobs[0]["nextRunAt"].is_string());
    assert_eq!(d["data"]["jobs"]["totalCount"], 1);
}

#[tokio::test]
async fn the_binary_serves_the_jobs_api() {
    let s = Service::start().await;
    let d = s
        .data(
            r#"{ jobs(first: 10) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } job(id: "1") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        d,
        json!({"jobs": {"totalCount": 0, "edges": [], "pageInfo": {"hasNextPage": false, "endCursor": null}}, "job": null})
    );
    let cases = [
        (
            r#"mutation { cancelJob(id: "99") { id } }"#,
            "NOT_FOUND",
            None,
        ),
        (
            r#"mutation { retryJob(id: "x") { id } }"#,
            "BAD_INPUT",
            Some("id"),
        ),
        (
            r#"{ jobs(first: 501) { totalCount } }"#,
            "BAD_INPUT",
            Some("first"),
        ),
        (
            r#"{ jobs(after: "nope") { totalCount } }"#,
            "BAD_INPUT",
            Some("after"),
        ),
    ];
    for (q, code, field) in cases {
        let body = s.gql(q, json!({})).await;
        let e = &body["errors"][0];
        assert_eq!(e["extensions"]["code"], code, "{q}: {body:#}");
        if let Some(f) = field {
            assert_eq!(e["extensions"]["field"], f, "{q}: {body:#}");
        }
    }
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the workers run");
}
