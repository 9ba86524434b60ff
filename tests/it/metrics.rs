//! `GET /metrics`: Prometheus text behind the admin token (or the metrics token), whose numbers
//! follow what happened: syncs, their job runs, orders by sync status, requests to Acumatica.

use std::collections::HashMap;

use serde_json::json;

use crate::common::{DataDir, Options, Service, order_input};
use crate::sync::{connected, record, settled};

/// The samples of a scrape: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(s: &Service, token: Option<&str>) -> (u16, String) {
    let mut request = s.http.get(s.url("/metrics"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_follow_syncs() {
    let (s, sim) = connected().await;
    record(&s, order_input("M-1", "PAID")).await;
    record(&s, order_input("M-2", "PAID")).await;
    let mut unknown = order_input("M-3", "PAID");
    unknown["items"] =
        json!([{"sku": "NO-SUCH-SKU", "name": "?", "price": "10.00", "quantity": 1}]);
    unknown["shippingCost"] = json!("0");
    unknown["discountTotal"] = json!("0");
    unknown["taxTotal"] = json!("0");
    unknown["total"] = json!("10.00");
    record(&s, unknown).await;
    record(&s, order_input("M-4", "QUEUED")).await;
    for n in ["M-1", "M-2", "M-3"] {
        settled(&s, n).await;
    }

    assert_eq!(scrape(&s, None).await.0, 401);
    assert_eq!(scrape(&s, Some("wrong")).await.0, 401);
    let (status, text) = scrape(&s, Some(&s.token)).await;
    assert_eq!(status, 200, "{text}");
    let m = samples(&text);
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in\n{text}"))
    };
    assert_eq!(get(r#"bridge_orders{sync_status="SYNCED"}"#), 2.0);
    assert_eq!(get(r#"bridge_orders{sync_status="FAILED"}"#), 1.0);
    assert_eq!(get(r#"bridge_orders{sync_status="NOT_SYNCED"}"#), 1.0);
    assert_eq!(get(r#"bridge_orders{sync_status="SYNCING"}"#), 0.0);
    assert_eq!(
        get(r#"bridge_jobs{kind="SYNC_ORDER",status="SUCCEEDED"}"#),
        2.0
    );
    assert_eq!(
        get(r#"bridge_jobs{kind="SYNC_ORDER",status="FAILED"}"#),
        1.0
    );
    assert_eq!(
        get(r#"bridge_jobs{kind="CONNECT",status="SUCCEEDED"}"#),
        1.0
    );
    assert_eq!(
        get(r#"bridge_job_runs_total{kind="SYNC_ORDER",outcome="SUCCEEDED"}"#),
        2.0
    );
    assert_eq!(
        get(r#"bridge_job_runs_total{kind="SYNC_ORDER",outcome="FAILED"}"#),
        1.0
    );
    assert_eq!(
        get(r#"bridge_job_run_duration_seconds_count{kind="SYNC_ORDER"}"#),
        3.0
    );
    assert_eq!(get("bridge_paid_to_sales_order_seconds_count"), 2.0);
    assert!(get("bridge_paid_to_sales_order_seconds_sum") >= 0.0);
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );

    // Every request the simulator saw, by method and entity, and no other.
    let mut ours: HashMap<String, f64> = HashMap::new();
    for (key, n) in &m {
        if let Some(labels) = key.strip_prefix("bridge_acumatica_requests_total{") {
            let label = |name: &str| {
                let start = labels.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                labels[start..].split('"').next().unwrap().to_string()
            };
            *ours
                .entry(format!("{} {}", label("method"), label("entity")))
                .or_default() += n;
        }
    }
    let theirs: HashMap<String, f64> = sim
        .counters()
        .by_request
        .into_iter()
        .filter(|(k, _)| !k.starts_with("grant ")) // the simulator's count of grant types
        .map(|(k, n)| (k, n as f64))
        .collect();
    assert_eq!(ours, theirs, "\n{text}");
    assert_eq!(
        get(r#"bridge_acumatica_requests_total{entity="SalesOrder",method="PUT",status="200"}"#),
        2.0
    );
    let total: f64 = theirs.values().sum();
    assert_eq!(get("bridge_acumatica_limiter_wait_seconds_count"), total);
}

#[tokio::test]
async fn a_metrics_token_opens_metrics_only() {
    let options = Options {
        env: Options::default()
            .env
            .into_iter()
            .chain([(
                "BRIDGE_METRICS_TOKEN".to_string(),
                "prometheus-scrape-token-0123456789".to_string(),
            )])
            .collect(),
        ..Options::default()
    };
    let s = Service::start_with(DataDir::new(), options).await;
    let (status, text) = scrape(&s, Some("prometheus-scrape-token-0123456789")).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("bridge_orders"), "{text}");
    let (status, _) = s
        .gql_as(
            Some("prometheus-scrape-token-0123456789"),
            "{ settings { salesOrderType } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 401, "the metrics token is not an admin token");
}
