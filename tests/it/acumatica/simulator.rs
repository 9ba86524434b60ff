//! The simulator over raw HTTP, where it must behave as Acumatica does whatever client calls
//! it: dropped unknown fields, 400 for unwrapped values, 401 without a token, tenants, and its
//! own control API.

use acumatica_bridge::sim::acumatica::{
    CLIENT_ID, CLIENT_SECRET, PASSWORD, RunningSim, SimConfig, Simulator, USERNAME,
};
use serde_json::{Value, json};

async fn sim_with(config: SimConfig) -> RunningSim {
    Simulator::start(config)
        .await
        .expect("the simulator starts")
}

fn http() -> reqwest::Client {
    acumatica_bridge::init_crypto();
    reqwest::Client::new()
}

/// A password-grant token from the simulator (checked: Bearer, with a refresh token).
pub async fn token(sim: &RunningSim) -> String {
    let form = [
        ("grant_type", "password"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("username", USERNAME),
        ("password", PASSWORD),
        ("scope", "api offline_access"),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let answer: Value = http()
        .post(format!("{}/identity/connect/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["refresh_token"].is_string());
    answer["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn unknown_fields_are_dropped_and_bare_values_refused() {
    let sim = sim_with(SimConfig::default()).await;
    let t = token(&sim).await;
    let url = format!(
        "{}/entity/eCommerce/23.200.001/SalesOrder?$expand=Details",
        sim.base_url()
    );
    let body = json!({"CustomerID": {"value": "ABCSTUDIOS"}, "OrderTotal": {"value": 999},
        "Details": [{"InventoryID": {"value": "AACOMPUT01"}, "Quantity": {"value": 2}}]});
    let r = http()
        .put(&url)
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(r#""OrderQty":{"value":0.000000}"#), "{text}");
    assert!(
        text.contains(r#""OrderTotal":{"value":0.0000}"#),
        "computed, not taken: {text}"
    );
    let stored = &sim.sales_orders()[0];
    assert!(stored["Details"][0].get("Quantity").is_none());

    let r = http()
        .put(&url)
        .bearer_auth(&t)
        .json(&json!({"CustomerID": "ABCSTUDIOS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["modelState"]["entity.CustomerID"].is_array(), "{body}");
    let r = http()
        .put(&url)
        .bearer_auth(&t)
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(sim.sales_orders().len(), 1);
}

#[tokio::test]
async fn tokens_tenants_and_paths() {
    let sim = sim_with(SimConfig::default()).await;
    let url = format!("{}/entity/Default/24.200.001/Customer", sim.base_url());
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let t = token(&sim).await;
    let r = http()
        .get(format!("{url}/ABARTENDE"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let root = format!(
        "{}/entity/Default/24.200.001/SalesOrder/SO|000001",
        sim.root_url()
    );
    let r = http().get(&root).bearer_auth(&t).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["exceptionType"],
        "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
    );
    let other = format!(
        "{}/t/Elsewhere/entity/Default/24.200.001/Customer",
        sim.root_url()
    );
    let body: Value = http()
        .get(&other)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["exceptionType"], "PX.Data.PXUndefinedCompanyException");
    let r = http()
        .get(format!(
            "{}/entity/Default/22.200.001/Customer",
            sim.base_url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http()
        .get(format!(
            "{}/entity/Default/24.200.001/PostingClass",
            sim.base_url()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "PostingClass is not an entity of the endpoint"
    );
}

#[tokio::test]
async fn control_api_sets_faults_and_shows_records_and_counters() {
    let sim = sim_with(SimConfig {
        empty: true,
        ..Default::default()
    })
    .await;
    let root = sim.root_url();
    let records: Vec<Value> = http()
        .get(format!("{root}/_sim/records/Customer"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(records.is_empty(), "--empty starts without seed data");
    let r = http()
        .put(format!("{root}/_sim/faults"))
        .json(&json!({"rate_500": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sim.faults().rate_500, 1.0);
    assert_eq!(
        sim.faults().token_lifetime_secs,
        3600,
        "fields left out take their defaults"
    );
    let r = http()
        .get(format!("{}/entity", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let counters: Value = http()
        .get(format!("{root}/_sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["by_request"]["GET endpoints"], 1);
    http()
        .post(format!("{root}/_sim/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.counters().total, 0);
}

/// Field lists differ by endpoint and version: StockItem.LastModifiedDateTime is in eCommerce
/// 23.200.001 and in 24.200.001, not in Default 23.200.001. The simulator answers an unknown
/// `$select` field with Acumatica's 500; the client refuses it before sending.
#[tokio::test]
async fn an_unknown_select_field_is_a_500_per_endpoint_and_version() {
    use acumatica_bridge::acumatica::{Client, PermanentReason, Query, StockItem};
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let token = Client::new(sim.client_config())
        .unwrap()
        .sign_in()
        .await
        .unwrap()
        .access_token;
    let http = http();
    for (endpoint, version, status) in [
        ("Default", "23.200.001", 500),
        ("eCommerce", "23.200.001", 200),
        ("Default", "24.200.001", 200),
    ] {
        let url = format!(
            "{}/entity/{endpoint}/{version}/StockItem?$select=InventoryID,LastModifiedDateTime",
            sim.base_url()
        );
        let answer = http
            .get(url)
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{endpoint} {version}");
        if status == 500 {
            let body = answer.text().await.unwrap();
            assert!(body.contains("KeyNotFoundException"), "{body}");
        }
    }
    let mut config = sim.client_config();
    config.endpoint_version = "23.200.001".into();
    let client = Client::new(config).unwrap();
    client.sign_in().await.unwrap();
    sim.reset_counters();
    let err = client
        .list::<StockItem>(&Query::new().select(&["InventoryID", "LastModifiedDateTime"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            acumatica_bridge::acumatica::Error::Permanent {
                reason: PermanentReason::UnknownField,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(sim.counters().total, 0, "refused before sending");
}
