//! Connecting to Acumatica (the simulator) through the GraphQL API: connect, bad credentials,
//! validation without requests, token renewal, a revoked session, reset with sign-out,
//! lookups and settings checked against them, and no secret in plain text anywhere.

use std::time::Duration;

use serde_json::{Value, json};

use crate::auth::walk;
use crate::common::{CONNECT, Service, connect_input, sim_with_tokens};

const CONNECTION: &str = "{ connection { status baseUrl tenant username clientId endpointName endpointVersion connectedAt tokenExpiresAt lastError } }";
const LOOKUPS: &str = "{ lookups { customerClasses { id description } itemClasses { id } postingClasses { id } subaccounts { id } taxCategories { id } warehouses { id description } refreshedAt unavailable { list reason } } }";

#[tokio::test]
async fn connect_signs_in_checks_the_endpoint_and_loads_lookups() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    let before = s.data(CONNECTION, json!({})).await;
    assert_eq!(before["connection"]["status"], "NOT_CONNECTED");

    let mut ws = s.ws(Some(&s.token)).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.subscribe(
        "c",
        "subscription { connectionUpdates { status lastError } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let job = s.connect_to(&sim).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["kind"], "CONNECT");
    assert_eq!(job["progress"]["done"], 4);
    let c = &s.data(CONNECTION, json!({})).await["connection"];
    assert_eq!(c["status"], "CONNECTED");
    assert_eq!(c["tenant"], "Company");
    assert_eq!(c["username"], "admin");
    assert!(
        c["connectedAt"].is_string() && c["tokenExpiresAt"].is_string(),
        "{c}"
    );
    assert_eq!(c["lastError"], Value::Null);

    // Subscribers saw the change to CONNECTED.
    let mut saw_connected = false;
    for _ in 0..4 {
        let m = ws.next().await;
        if m["payload"]["data"]["connectionUpdates"]["status"] == "CONNECTED" {
            saw_connected = true;
            break;
        }
    }
    assert!(saw_connected);

    let l = &s.data(LOOKUPS, json!({})).await["lookups"];
    for list in [
        "customerClasses",
        "itemClasses",
        "subaccounts",
        "taxCategories",
        "warehouses",
        "postingClasses",
    ] {
        assert!(
            !l[list].as_array().unwrap().is_empty(),
            "{list} is empty: {l}"
        );
    }
    let tax: Vec<&str> = l["taxCategories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(
        tax.contains(&"TAXABLE") && tax.contains(&"EXEMPT"),
        "{tax:?}"
    );
    // Posting classes are derived from the item classes' PostingClass values.
    let item_classes = sim.records("ItemClass");
    let mut expected: Vec<String> = item_classes
        .iter()
        .filter_map(|c| c["PostingClass"].as_str().map(str::to_owned))
        .collect();
    expected.sort();
    expected.dedup();
    let got: Vec<String> = l["postingClasses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(sim.counters().count("grant password"), 1);

    // Connecting again while connected is a conflict.
    let again = s.gql(CONNECT, json!({"input": connect_input(&sim)})).await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "CONFLICT",
        "{again}"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_the_job_at_once_with_a_message() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    let mut input = connect_input(&sim);
    input["password"] = json!("not-the-password");
    let body = s.gql(CONNECT, json!({"input": input})).await;
    let id = body["data"]["connect"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["connect"]["maxAttempts"], 3);
    let job = s.wait_job(&id, |j| j["status"] == "FAILED").await;
    assert_eq!(job["attempts"], 1, "bad credentials are not retried: {job}");
    let error = job["lastError"].as_str().unwrap().to_lowercase();
    assert!(error.contains("username or password"), "{error}");
    let c = &s.data(CONNECTION, json!({})).await["connection"];
    assert_eq!(c["status"], "NOT_CONNECTED");
    assert!(
        c["lastError"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("username or password")
    );
    // The mutation rejects nothing it could not check: the form is kept for the next try.
    assert_eq!(c["username"], "admin");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    type Change = fn(&mut Value);
    let cases: Vec<(Change, &str, &str)> = vec![
        (
            |i| i["clientId"] = json!("bridge-demo@OtherTenant"),
            "input.clientId",
            "Company",
        ),
        (
            |i| i["baseUrl"] = json!("http://erp.example.com/t/Company"),
            "input.baseUrl",
            "https",
        ),
        (|i| i["baseUrl"] = json!("not a url"), "input.baseUrl", ""),
        (|i| i["password"] = json!(""), "input.password", "empty"),
        (
            |i| i["endpointVersion"] = json!("latest"),
            "input.endpointVersion",
            "24.200.001",
        ),
        (|i| i["username"] = json!("  "), "input.username", "empty"),
    ];
    for (change, field, hint) in cases {
        let mut input = connect_input(&sim);
        change(&mut input);
        let body = s.gql(CONNECT, json!({"input": input})).await;
        let err = &body["errors"][0];
        assert_eq!(err["extensions"]["code"], "BAD_INPUT", "{body}");
        assert_eq!(err["extensions"]["field"], field, "{body}");
        assert!(err["message"].as_str().unwrap().contains(hint), "{body}");
    }
    assert_eq!(
        sim.counters().count("POST token"),
        0,
        "no token request reached Acumatica"
    );
    let c = &s.data(CONNECTION, json!({})).await["connection"];
    assert_eq!(c["baseUrl"], Value::Null, "nothing was stored");
}

#[tokio::test]
async fn tokens_are_renewed_before_expiry_without_the_password() {
    let sim = sim_with_tokens(2).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let first = s.data(CONNECTION, json!({})).await["connection"]["tokenExpiresAt"].clone();
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let c = &s.data(CONNECTION, json!({})).await["connection"];
    assert_eq!(c["status"], "CONNECTED", "{c}");
    assert_ne!(c["tokenExpiresAt"], first, "the token was renewed");
    let counters = sim.counters();
    assert_eq!(counters.count("grant password"), 1, "no new password grant");
    assert!(
        counters.count("grant refresh_token") >= 2,
        "{:?}",
        counters.by_request
    );
    // The renewed token works.
    let job = s
        .data("mutation { refreshLookups { id } }", json!({}))
        .await;
    let id = job["refreshLookups"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.wait_job(&id, |j| j["status"] == "SUCCEEDED"
            || j["status"] == "FAILED")
            .await["status"],
        "SUCCEEDED"
    );
    assert_eq!(sim.counters().count("grant password"), 1);
}

#[tokio::test]
async fn a_revoked_refresh_token_leaves_the_bridge_not_connected_with_a_reason() {
    let sim = sim_with_tokens(2).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    sim.revoke_refresh_tokens();
    let c = s
        .wait_for(CONNECTION, |d| d["connection"]["status"] == "NOT_CONNECTED")
        .await;
    let reason = c["connection"]["lastError"].as_str().unwrap();
    assert!(
        reason.contains("refresh token") && reason.contains("Connect again"),
        "{reason}"
    );
    assert_eq!(
        sim.counters().count("grant password"),
        1,
        "the password was not used again"
    );
    // It survives a restart.
    let data = s.stop();
    let s = Service::start_in(data).await;
    assert_eq!(
        s.data(CONNECTION, json!({})).await["connection"]["status"],
        "NOT_CONNECTED"
    );
}

#[tokio::test]
async fn reset_forgets_the_session_and_signs_out() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let reset = s
        .data(
            "mutation { resetConnection { status baseUrl username clientId } }",
            json!({}),
        )
        .await;
    assert_eq!(reset["resetConnection"]["status"], "NOT_CONNECTED");
    assert_eq!(
        reset["resetConnection"]["username"], "admin",
        "details kept to prefill the form"
    );
    let jobs = s
        .wait_for(
            "{ jobs(filter: {kind: SIGN_OUT}) { edges { node { status lastError } } } }",
            |d| d["jobs"]["edges"][0]["node"]["status"] == "SUCCEEDED",
        )
        .await;
    assert_eq!(jobs["jobs"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(sim.counters().count("POST logout"), 1);
    assert_eq!(
        sim.counters().count("POST revocation"),
        1,
        "the refresh token is revoked"
    );
    assert!(
        sim.live_tokens().is_empty(),
        "no token of the old session works"
    );
    // Lookups need a connection now.
    let body = s.gql("mutation { refreshLookups { id } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_CONNECTED");
    // And connect works again after a reset.
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
}

#[tokio::test]
async fn settings_are_checked_against_the_lookups() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    let save = "mutation($input: SyncSettingsInput!) { saveSettings(input: $input) { warehouseId taxCategoryId } }";
    // No lists loaded yet: any value is accepted.
    s.data(save, json!({"input": {"warehouseId": "ANYTHING"}}))
        .await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let body = s
        .gql(
            save,
            json!({"input": {"warehouseId": "NOPE", "taxCategoryId": "TAXABLE"}}),
        )
        .await;
    let err = &body["errors"][0];
    assert_eq!(err["extensions"]["code"], "BAD_INPUT");
    assert_eq!(err["extensions"]["field"], "input.warehouseId");
    assert!(
        err["message"].as_str().unwrap().contains("WHOLESALE"),
        "lists the allowed values: {body}"
    );
    let ok = s
        .data(
            save,
            json!({"input": {"warehouseId": "WHOLESALE", "taxCategoryId": "TAXABLE"}}),
        )
        .await;
    assert_eq!(
        ok["saveSettings"],
        json!({"warehouseId": "WHOLESALE", "taxCategoryId": "TAXABLE"})
    );
}

#[tokio::test]
async fn a_refused_lookup_list_stays_empty_with_its_reason() {
    let sim = sim_with_tokens(3600).await;
    sim.update_faults(|f| f.forbidden_entity = Some("Subaccount".into()));
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let l = &s.data(LOOKUPS, json!({})).await["lookups"];
    assert_eq!(l["subaccounts"], json!([]));
    assert_eq!(l["unavailable"][0]["list"], "subaccounts");
    assert!(
        !l["warehouses"].as_array().unwrap().is_empty(),
        "the other lists load"
    );
}

#[tokio::test]
async fn no_secret_is_stored_or_logged_in_plain_text() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let c = s
        .data(
            "{ connection { status } lookups { refreshedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(c["connection"]["status"], "CONNECTED");
    let mut secrets: Vec<String> = vec![
        acumatica_bridge::sim::acumatica::PASSWORD.into(),
        acumatica_bridge::sim::acumatica::CLIENT_SECRET.into(),
    ];
    secrets.extend(sim.live_tokens());
    assert!(secrets.len() >= 4, "an access and a refresh token at least");
    let data = s.stop();
    let mut files = walk(data.path());
    files.retain(|f| f.is_file());
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a secret in plain text",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn the_connection_survives_a_restart_without_signing_in_again() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let data = s.stop();
    let s = Service::start_in(data).await;
    assert_eq!(
        s.data(CONNECTION, json!({})).await["connection"]["status"],
        "CONNECTED"
    );
    let job = s
        .data("mutation { refreshLookups { id } }", json!({}))
        .await;
    let id = job["refreshLookups"]["id"].as_str().unwrap().to_owned();
    let done = s
        .wait_job(&id, |j| {
            j["status"] == "SUCCEEDED" || j["status"] == "FAILED"
        })
        .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["progress"]["done"], 6, "one step a list: {done}");
    assert_eq!(
        sim.counters().count("grant password"),
        1,
        "the stored tokens were used"
    );
}

#[tokio::test]
async fn the_connect_job_says_which_form_of_the_base_url_worked() {
    use acumatica_bridge::sim::acumatica::{NotServed, SimConfig, Simulator};
    let sim = Simulator::start(SimConfig {
        tenant_paths: false,
        not_served: NotServed::Redirect,
        ..Default::default()
    })
    .await
    .unwrap();
    let s = Service::start().await;
    let job = s.connect_to(&sim).await;
    assert_eq!(job["status"], "SUCCEEDED", "{job:#}");
    let message = job["progress"]["message"].as_str().unwrap();
    assert!(
        message.contains("site root") && message.contains("/t/Company"),
        "{message}"
    );
    let sim = crate::common::sim_with_tokens(3600).await;
    let s = Service::start().await;
    let job = s.connect_to(&sim).await;
    let message = job["progress"]["message"].as_str().unwrap();
    assert!(message.contains("the /t/Company form"), "{message}");
}
