//! Triage: error classes decided when a sync or connect fails (DATA and CONFIGURATION fail at
//! once, TRANSIENT is retried), filters by class, bulk retry and cancel by filter with the
//! count shown first, and the audit log of those operator actions (client address, no secret).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{CONNECT, Service, TOKEN, connect_input, order_input, sim_with_tokens};
use crate::sync::{connected, record, settled};

const ORDER: &str = "query($n: String!) { order(number: $n) { sync { status errorClass lastError jobs { id status attempts errorClass lastError waitingFor } } } }";
const COUNT: &str = "query($f: JobFilter, $a: JobAction) { jobsCount(filter: $f, action: $a) }";

fn with_sku(number: &str, sku: &str) -> Value {
    let mut o = order_input(number, "PAID");
    o["items"][0]["sku"] = json!(sku);
    o
}

async fn order(s: &Service, number: &str) -> Value {
    s.data(ORDER, json!({"n": number})).await["order"].clone()
}

async fn count(s: &Service, filter: Value, action: Value) -> u64 {
    s.data(COUNT, json!({"f": filter, "a": action})).await["jobsCount"]
        .as_u64()
        .unwrap()
}

/// Waits until `check(order)` holds (20 s at most).
async fn order_until(s: &Service, number: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = order(s, number).await;
        if check(&o) {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{number}: {o:#}\n{}",
            s.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn data_errors_fail_at_once_transient_ones_are_retried_and_both_filter() {
    let (s, sim) = connected().await;
    record(&s, with_sku("T-1", "NOPE-1")).await;
    let o = settled(&s, "T-1").await;
    assert_eq!(o["sync"]["status"], "FAILED", "{o:#}");
    let o = order(&s, "T-1").await;
    let job = &o["sync"]["jobs"][0];
    assert_eq!(job["attempts"], 1, "a data error is not retried: {job:#}");
    assert_eq!(job["errorClass"], "DATA");
    assert_eq!(o["sync"]["errorClass"], "DATA");
    let why = job["lastError"].as_str().unwrap();
    assert!(
        why.contains("NOPE-1") && why.contains("create new products"),
        "{why}"
    );

    // 429s and then 500s: TRANSIENT, retried until Acumatica answers again.
    sim.update_faults(|f| f.rate_429 = 1.0);
    record(&s, order_input("T-2", "PAID")).await;
    let o = order_until(&s, "T-2", |o| {
        o["sync"]["jobs"][0]["attempts"].as_u64() >= Some(2)
            && o["sync"]["errorClass"] == "TRANSIENT"
    })
    .await;
    assert_eq!(o["sync"]["jobs"][0]["errorClass"], "TRANSIENT", "{o:#}");
    sim.update_faults(|f| {
        f.rate_429 = 0.0;
        f.rate_500 = 1.0;
    });
    let before = o["sync"]["jobs"][0]["attempts"].as_u64().unwrap();
    order_until(&s, "T-2", |o| {
        o["sync"]["jobs"][0]["attempts"].as_u64() > Some(before + 1)
    })
    .await;
    sim.update_faults(|f| f.rate_500 = 0.0);
    let o = settled(&s, "T-2").await;
    assert_eq!(o["sync"]["status"], "SYNCED", "{o:#}");
    let o = order(&s, "T-2").await;
    assert_eq!(
        o["sync"]["errorClass"],
        Value::Null,
        "cleared by the success"
    );

    // Filters by class: jobs and orders.
    let q = "{ jobs(filter: {errorClass: DATA}) { totalCount edges { node { orderNumber errorClass } } }
               orders(filter: {errorClass: DATA}) { totalCount edges { node { number } } }
               all: orders { totalCount } }";
    let d = s.data(q, json!({})).await;
    assert_eq!(d["jobs"]["totalCount"], 1, "{d:#}");
    assert_eq!(d["jobs"]["edges"][0]["node"]["orderNumber"], "T-1");
    assert_eq!(d["orders"]["totalCount"], 1, "{d:#}");
    assert_eq!(d["orders"]["edges"][0]["node"]["number"], "T-1");
    assert_eq!(d["all"]["totalCount"], 2);
}

#[tokio::test]
async fn bulk_retry_by_class_and_prefix_retries_what_was_counted() {
    let (s, _sim) = connected().await;
    for n in ["B-1", "B-2", "B-3", "C-1"] {
        record(&s, with_sku(n, "NOPE-2")).await;
    }
    for n in ["B-1", "B-2", "B-3", "C-1"] {
        settled(&s, n).await;
    }
    let filter = json!({"errorClass": "DATA", "orderNumberPrefix": "B-"});
    let counted = count(&s, filter.clone(), json!("RETRY")).await;
    assert_eq!(counted, 3);
    assert_eq!(
        count(&s, json!({"errorClass": "DATA"}), json!("CANCEL")).await,
        0
    );
    let bad = s
        .gql(COUNT, json!({"f": {"createdAfter": "yesterday"}}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_INPUT", "{bad}");
    assert_eq!(
        bad["errors"][0]["extensions"]["field"],
        "filter.createdAfter"
    );
    let retried = s
        .data(
            "mutation($f: JobFilter!) { retryJobs(filter: $f) { orderNumber status } }",
            json!({"f": filter}),
        )
        .await["retryJobs"]
        .clone();
    let retried = retried.as_array().unwrap();
    assert_eq!(retried.len() as u64, counted);
    assert!(
        retried
            .iter()
            .all(|j| j["orderNumber"].as_str().unwrap().starts_with("B-"))
    );
    // They fail again (the SKU is still missing); C-1 was never retried.
    for n in ["B-1", "B-2", "B-3"] {
        order_until(&s, n, |o| {
            o["sync"]["jobs"][0]["attempts"] == 1
                && o["sync"]["status"] == "FAILED"
                && o["sync"]["jobs"][0]["lastError"].is_string()
        })
        .await;
    }
    let c = order(&s, "C-1").await;
    assert_eq!(c["sync"]["jobs"][0]["status"], "FAILED");
}

#[tokio::test]
async fn bad_credentials_are_configuration_and_the_audit_log_keeps_every_action() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    let secret = "Wrong-Password-5150!";
    let client_secret = acumatica_bridge::sim::acumatica::CLIENT_SECRET;
    s.data(
        "mutation { saveSettings(input: {orderNumberPrefix: \"XC-\"}) { orderNumberPrefix } }",
        json!({}),
    )
    .await;
    let mut input = connect_input(&sim);
    input["password"] = json!(secret);
    let job = s.data(CONNECT, json!({"input": input})).await["connect"].clone();
    let id = job["id"].as_str().unwrap().to_owned();
    let failed = s.wait_job(&id, |j| j["status"] == "FAILED").await;
    assert_eq!(failed["attempts"], 1, "{failed:#}");
    let class = s
        .data(
            "query($id: ID!) { job(id: $id) { errorClass lastError } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(class["job"]["errorClass"], "CONFIGURATION", "{class:#}");
    let why = class["job"]["lastError"].as_str().unwrap();
    assert!(why.contains("To fix") && why.contains("password"), "{why}");

    // Not connected: sync jobs wait QUEUED; cancel them in bulk by order-number prefix.
    for n in ["Q-1", "Q-2", "Q-3", "R-1"] {
        record(&s, order_input(n, "PAID")).await;
    }
    // Each is claimed once and parked, waiting for the connection (never counted while its
    // worker holds it).
    for n in ["Q-1", "Q-2", "Q-3"] {
        order_until(&s, n, |o| o["sync"]["jobs"][0]["waitingFor"].is_string()).await;
    }
    let prefix = json!({"orderNumberPrefix": "Q-", "kind": "SYNC_ORDER"});
    assert_eq!(count(&s, prefix.clone(), json!("CANCEL")).await, 3);
    let canceled = s
        .data(
            "mutation($f: JobFilter!) { cancelJobs(filter: $f) }",
            json!({"f": prefix}),
        )
        .await;
    assert_eq!(canceled["cancelJobs"], 3);
    let left = s
        .data("{ q: jobs(filter: {orderNumberPrefix: \"Q-\", status: CANCELED}) { totalCount } r: jobs(filter: {orderNumber: \"R-1\"}) { edges { node { id status } } } }", json!({}))
        .await;
    assert_eq!(left["q"]["totalCount"], 3, "{left:#}");
    let r1 = left["r"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Its worker may be between a run and parking it (not connected): it comes back QUEUED.
    s.wait_job(&r1, |j| j["status"] == "QUEUED").await;
    // One by one: cancel R-1, then retry it (sent with an X-Forwarded-For header).
    s.data(
        "mutation($id: ID!) { cancelJob(id: $id) { id } }",
        json!({"id": r1}),
    )
    .await;
    let resp = reqwest::Client::new()
        .post(s.url("/graphql"))
        .bearer_auth(TOKEN)
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&json!({"query": "mutation($id: ID!) { retryJob(id: $id) { id } }", "variables": {"id": r1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let retried = s
        .data(
            "mutation { retryJobs(filter: {orderNumberPrefix: \"Q-\"}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(retried["retryJobs"].as_array().unwrap().len(), 3);

    let log = s
        .gql(
            "{ auditLog(first: 50) { totalCount edges { node { id at action summary outcome result clientAddress forwardedFor } } } }",
            json!({}),
        )
        .await;
    let text = log.to_string();
    assert!(
        !text.contains(secret),
        "the password is in the audit log: {text}"
    );
    assert!(
        !text.contains(client_secret),
        "the client secret is in the audit log"
    );
    let entries: Vec<Value> = log["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "retryJobs",
            "retryJob",
            "cancelJob",
            "cancelJobs",
            "connect",
            "saveSettings"
        ],
        "newest first"
    );
    for e in &entries {
        assert_eq!(e["clientAddress"], "127.0.0.1", "{e:#}");
        assert_eq!(e["outcome"], "SUCCEEDED", "{e:#}");
    }
    let by = |a: &str| entries.iter().find(|e| e["action"] == a).unwrap().clone();
    assert_eq!(by("retryJob")["forwardedFor"], "203.0.113.9");
    assert_eq!(by("cancelJob")["forwardedFor"], Value::Null);
    assert_eq!(by("cancelJobs")["result"], "3 jobs canceled");
    assert!(
        by("cancelJobs")["summary"]
            .as_str()
            .unwrap()
            .contains("order number starting Q-")
    );
    assert_eq!(by("retryJobs")["result"], "3 jobs retried");
    assert!(
        by("connect")["summary"]
            .as_str()
            .unwrap()
            .contains(&sim.base_url())
    );

    // Filter by action, and a refused action is kept as FAILED.
    let refused = s
        .gql(
            "mutation($id: ID!) { retryJob(id: $id) { id } }",
            json!({"id": r1}),
        )
        .await;
    assert!(refused["errors"].is_array(), "{refused}");
    let only = s
        .data(
            "{ auditLog(filter: {action: \"retryJob\"}) { totalCount edges { node { outcome result } } } }",
            json!({}),
        )
        .await;
    assert_eq!(only["auditLog"]["totalCount"], 2, "{only:#}");
    assert_eq!(only["auditLog"]["edges"][0]["node"]["outcome"], "FAILED");
    assert!(
        only["auditLog"]["edges"][0]["node"]["result"]
            .as_str()
            .unwrap()
            .starts_with("CONFLICT")
    );

    // Paging, newest first.
    let p1 = s
        .data(
            "{ auditLog(first: 2) { pageInfo { hasNextPage endCursor } edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(p1["auditLog"]["pageInfo"]["hasNextPage"], true);
    let after = p1["auditLog"]["pageInfo"]["endCursor"].as_str().unwrap();
    let p2 = s
        .data(
            "query($a: String) { auditLog(first: 2, after: $a) { edges { node { id } } } }",
            json!({"a": after}),
        )
        .await;
    assert_eq!(p2["auditLog"]["edges"][0]["node"]["id"], entries[1]["id"]);
}

#[tokio::test]
async fn the_audit_log_survives_a_restart_and_records_rotate_token() {
    let s = Service::start().await;
    s.data("mutation { resetConnection { status } }", json!({}))
        .await;
    let data = s.stop();
    let out = std::process::Command::new(crate::common::binary())
        .args(["rotate-token", "--data-dir"])
        .arg(data.path().join("data"))
        .env_remove("BRIDGE_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let token = stderr
        .lines()
        .skip_while(|l| !l.contains("Admin token"))
        .skip(1)
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap()
        .to_owned();
    let options = crate::common::Options {
        token: Some(token.clone()),
        ..Default::default()
    };
    let s = Service::start_with(data, options).await;
    let (_, log) = s
        .gql_as(
            Some(&token),
            "{ auditLog { edges { node { action outcome clientAddress } } } }",
            json!({}),
        )
        .await;
    let text = log.to_string();
    assert!(!text.contains(&token), "the new token is in the audit log");
    let edges = &log["data"]["auditLog"]["edges"];
    assert_eq!(edges[0]["node"]["action"], "rotateToken", "{log:#}");
    assert_eq!(edges[0]["node"]["clientAddress"], "command line");
    assert_eq!(edges[1]["node"]["action"], "resetConnection");
    assert_eq!(edges[1]["node"]["outcome"], "SUCCEEDED");
}
