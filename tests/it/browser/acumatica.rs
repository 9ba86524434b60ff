//! The console's Acumatica pages in a real browser, against the real binary and an in-process
//! Acumatica simulator: the connection page (validation, a refused password, progress,
//! connect, details, reset), the Acumatica lists in the settings, and the jobs pages (a job
//! that really failed, retried live; Retry all failed; a waiting job canceled).

use acumatica_bridge::sim::acumatica::{CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME};
use serde_json::json;

use super::Browser;
use crate::common::{DataDir, Options, Service, sim_with_tokens};

/// Scrolls the settings page to its Acumatica Configuration section (for screenshots).
const SHOW_CONFIG: &str = "document.querySelector('#acumatica-configuration').scrollIntoView()";

const CONNECTION: &str = "{ connection { status baseUrl username clientId lastError } }";

/// Fills the connect form (each field replaced).
async fn fill_connect_form(b: &Browser, base_url: &str, password: &str, client_id: &str) {
    b.type_into("#connect-baseUrl", base_url).await;
    b.type_into("#connect-username", USERNAME).await;
    b.type_into("#connect-password", password).await;
    b.type_into("#connect-clientId", client_id).await;
    b.type_into("#connect-clientSecret", CLIENT_SECRET).await;
}

async fn job_count(s: &Service) -> u64 {
    s.data("{ jobs { totalCount } }", json!({})).await["jobs"]["totalCount"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn connect_fails_on_a_wrong_password_then_connects_shows_details_and_resets() {
    let sim = sim_with_tokens(3600).await;
    let s = Service::start().await;
    let mut b = Browser::open("connection").await;
    b.sign_in(&s).await;
    b.click("nav[aria-label=Main] a[href='#/connection']").await;
    b.wait_text("main h1", "Acumatica – Connection Settings")
        .await;
    b.wait_text("#connection-status", "Acumatica not connected")
        .await;
    b.wait_for("#connect-form").await;
    assert!(
        b.js("return document.querySelector('#reset-connection')", vec![])
            .await
            .is_null(),
        "no reset link while not connected"
    );
    b.assert_controls_labelled().await;
    let defaults = b
        .js(
            "return [document.querySelector('#connect-endpointName').value, document.querySelector('#connect-endpointVersion').value]",
            vec![],
        )
        .await;
    assert_eq!(defaults, json!(["Default", "24.200.001"]));
    b.screenshot("not-connected").await;

    // Inline validation: nothing reaches the API while a field is wrong.
    b.click("#connect").await;
    b.wait_text("#baseUrl-error", "Base URL is required").await;
    b.wait_text("#password-error", "Password is required").await;
    assert_eq!(
        b.js("return document.activeElement.id", vec![]).await,
        "connect-baseUrl",
        "the first wrong field has the focus"
    );
    fill_connect_form(&b, "http://erp.example.com", PASSWORD, CLIENT_ID).await;
    b.click("#connect").await;
    b.wait_text("#baseUrl-error", "Use https://").await;
    b.wait_for("#password-error[hidden]").await;
    let other_tenant = sim.base_url().replace("/t/Company", "/t/Other");
    b.type_into("#connect-baseUrl", &other_tenant).await;
    b.click("#connect").await;
    b.wait_for("#baseUrl-error[hidden]").await;
    b.wait_text("#clientId-error", "tenant \"Other\"").await;
    b.screenshot("invalid").await;
    assert_eq!(job_count(&s).await, 0, "no job for a form with errors");

    // A check only the API makes (the Base URL must be the site root) shows at its field.
    b.type_into(
        "#connect-baseUrl",
        &format!("{}/entity/Default/24.200.001", sim.base_url()),
    )
    .await;
    b.click("#connect").await;
    b.wait_text("#baseUrl-error", "should be the site root")
        .await;
    b.wait_for("#clientId-error[hidden]").await;
    assert_eq!(
        b.js(
            "return document.querySelector('#connect-baseUrl').getAttribute('aria-invalid')",
            vec![]
        )
        .await,
        "true"
    );
    assert_eq!(job_count(&s).await, 0);

    // A wrong password: the CONNECT job fails, and its error is shown.
    fill_connect_form(&b, &sim.base_url(), "not-the-password", CLIENT_ID).await;
    b.click("#connect").await;
    b.wait_text("#connection-messages", "The connection failed")
        .await;
    b.wait_text("#connection-messages", "username or password")
        .await;
    b.wait_text("#connection-status", "Acumatica not connected")
        .await;
    b.wait_for("#connect:not([disabled])").await;
    b.screenshot("wrong-password").await;

    // The right one, slowly enough to watch the job's progress.
    sim.update_faults(|f| f.latency_ms = 400);
    b.type_into("#connect-password", PASSWORD).await;
    b.click("#connect").await;
    b.wait_text("#connect-progress", "Step ").await;
    b.wait_text("#connect-progress", "of 4").await;
    assert_eq!(
        b.js("return document.querySelector('#connect').disabled", vec![])
            .await,
        true,
        "no second Connect while one runs"
    );
    b.screenshot("connecting").await;
    b.wait_text(
        "#connection-messages",
        "Connection to Acumatica established",
    )
    .await;
    b.wait_text("#connection-messages", "OAuth token generated")
        .await;
    sim.update_faults(|f| f.latency_ms = 0);
    b.wait_text("#connection-status", "Acumatica is connected")
        .await;
    b.wait_for("#reset-connection").await;
    assert!(
        b.js("return document.querySelector('#connect-progress')", vec![])
            .await
            .is_null()
    );
    assert_eq!(
        b.js(
            "return [document.querySelector('#connection-details').open, !!document.querySelector('#connect-form')]",
            vec![]
        )
        .await,
        json!([false, false]),
        "connected: the details are collapsed and the form is gone"
    );
    b.screenshot("connected").await;

    // Expanded, the details in use, and never a secret.
    b.click("#connection-details summary").await;
    b.wait_for("#connection-details[open]").await;
    b.wait_text("#detail-baseUrl", &sim.base_url()).await;
    b.wait_text("#detail-tenant", "Company").await;
    b.wait_text("#detail-username", USERNAME).await;
    b.wait_text("#detail-clientId", CLIENT_ID).await;
    b.wait_text("#detail-endpoint", "Default 24.200.001").await;
    let html = b
        .js("return document.documentElement.outerHTML", vec![])
        .await;
    let html = html.as_str().unwrap();
    assert!(!html.contains(PASSWORD) && !html.contains(CLIENT_SECRET));
    b.screenshot("details").await;

    // Reset asks first; Cancel keeps the connection.
    b.click("#reset-connection").await;
    b.wait_for("#confirm-dialog[open]").await;
    b.wait_text("#confirm-dialog", "Reset the connection?")
        .await;
    assert_eq!(
        b.js("return document.activeElement.id", vec![]).await,
        "confirm-cancel",
        "the safe answer has the focus"
    );
    b.screenshot("reset-confirm").await;
    // Escape says no, as the Cancel button does.
    b.client
        .active_element()
        .await
        .unwrap()
        .send_keys(&fantoccini::key::Key::Escape.to_string())
        .await
        .unwrap();
    b.until(
        "the dialog to close",
        "return !document.querySelector('#confirm-dialog')",
        vec![],
    )
    .await;
    assert_eq!(
        s.data(CONNECTION, json!({})).await["connection"]["status"],
        "CONNECTED"
    );
    b.click("#reset-connection").await;
    b.click("#confirm-ok").await;
    b.wait_text("#connection-status", "Acumatica not connected")
        .await;
    b.wait_text("#connection-messages", "The connection was reset")
        .await;
    assert!(
        b.js("return document.querySelector('#reset-connection')", vec![])
            .await
            .is_null()
    );
    // The form comes back with the details kept, the secrets empty.
    let form = b
        .js(
            "const v = id => document.querySelector(id).value;
             return [v('#connect-baseUrl'), v('#connect-username'), v('#connect-clientId'), v('#connect-password'), v('#connect-clientSecret')]",
            vec![],
        )
        .await;
    assert_eq!(form, json!([sim.base_url(), USERNAME, CLIENT_ID, "", ""]));
    assert_eq!(
        s.data(CONNECTION, json!({})).await["connection"]["status"],
        "NOT_CONNECTED"
    );
    b.screenshot("reset").await;

    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.screenshot("form-390px").await;
    b.close().await;
}

#[tokio::test]
async fn acumatica_lists_fill_the_settings_drop_downs_and_survive_a_reload() {
    let sim = sim_with_tokens(3600).await;
    // Subaccounts are switched off in this Acumatica: that list stays empty, with its reason.
    sim.update_faults(|f| f.forbidden_entity = Some("Subaccount".into()));
    let s = Service::start().await;
    let mut b = Browser::open("settings-lists").await;
    b.sign_in(&s).await;
    b.goto(&s.url("/#/settings")).await;
    b.wait_text("#acumatica-configuration", "Acumatica Configuration")
        .await;
    b.wait_text("#lists-not-connected", "Connect to Acumatica")
        .await;
    assert!(
        b.js(
            "return document.querySelector('#setting-customerClass')",
            vec![]
        )
        .await
        .is_null(),
        "no class drop-downs before a connection"
    );
    b.wait_text(".live", "Live").await;
    b.screenshot("not-connected").await;

    // Connecting elsewhere (through the API) brings the lists in live.
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    b.wait_for("#setting-customerClass option[value='RETAIL']")
        .await;
    b.assert_controls_labelled().await;
    assert_eq!(
        b.texts("#setting-taxCategoryId option").await,
        [
            "— none —",
            "EXEMPT — Tax-exempt goods",
            "TAXABLE — Taxable goods and services"
        ]
    );
    b.wait_text(
        "#reasonCodeSubaccount-unavailable",
        "Acumatica refused this list",
    )
    .await;
    assert_eq!(
        b.texts("#setting-reasonCodeSubaccount option").await,
        ["— none —"]
    );
    b.wait_text("#lists-refreshed", "Lists read from Acumatica")
        .await;
    b.js(SHOW_CONFIG, vec![]).await;
    b.screenshot("lists").await;

    b.select("#setting-customerClass", "RETAIL").await;
    b.select("#setting-itemClass", "ELECTRONIC").await;
    b.select("#setting-postingClass", "ELECTRONIC").await;
    b.select("#setting-taxCategoryId", "EXEMPT").await;
    b.select("#setting-warehouseId", "ECOMMERCE").await;
    b.wait_for("#savebar:not([hidden])").await;
    b.js(SHOW_CONFIG, vec![]).await;
    b.screenshot("unsaved").await;
    b.click("#settings-save").await;
    b.wait_text("#toast", "Settings saved.").await;
    b.wait_for("#savebar[hidden]").await;
    const LISTED: &str = "{ settings { customerClass itemClass postingClass reasonCodeSubaccount taxCategoryId warehouseId } }";
    assert_eq!(
        s.data(LISTED, json!({})).await["settings"],
        json!({"customerClass": "RETAIL", "itemClass": "ELECTRONIC", "postingClass": "ELECTRONIC",
               "reasonCodeSubaccount": null, "taxCategoryId": "EXEMPT", "warehouseId": "ECOMMERCE"})
    );

    // Payments: off until a method and a cash account are chosen, as the hint says.
    b.wait_text(
        "#payments-hint",
        "Payments are not recorded until a payment method and a cash account are chosen below.",
    )
    .await;
    b.select("#setting-paymentMethod", "CREDITCARD").await;
    b.select("#setting-cashAccount", "10250").await;
    b.wait_text(
        "#payments-hint",
        "Payments are recorded with CREDITCARD into cash account 10250.",
    )
    .await;
    b.click("#settings-save").await;
    b.wait_for("#savebar[hidden]").await;
    const PAYMENTS: &str = "{ settings { paymentMethod cashAccount paymentsActive } }";
    assert_eq!(
        s.data(PAYMENTS, json!({})).await["settings"],
        json!({"paymentMethod": "CREDITCARD", "cashAccount": "10250", "paymentsActive": true})
    );

    b.client.refresh().await.unwrap();
    b.wait_for("#setting-customerClass option[value='RETAIL']")
        .await;
    let values = b
        .js(
            "return ['customerClass', 'itemClass', 'postingClass', 'reasonCodeSubaccount', 'taxCategoryId', 'warehouseId']
               .map(n => document.querySelector('#setting-' + n).value)",
            vec![],
        )
        .await;
    assert_eq!(
        values,
        json!([
            "RETAIL",
            "ELECTRONIC",
            "ELECTRONIC",
            "",
            "EXEMPT",
            "ECOMMERCE"
        ])
    );

    // Subaccounts switched on: Refresh lists follows its job to the end and fills the list.
    sim.update_faults(|f| f.forbidden_entity = None);
    b.click("#refresh-lookups").await;
    b.wait_for("#setting-reasonCodeSubaccount option[value='300-000']")
        .await;
    b.wait_text("#toast", "Lists refreshed").await;
    assert!(
        b.js(
            "return document.querySelector('#reasonCodeSubaccount-unavailable')",
            vec![]
        )
        .await
        .is_null()
    );
    b.wait_for("#refresh-lookups:not([disabled])").await;
    b.select("#setting-reasonCodeSubaccount", "300-000").await;
    // "— none —" clears a setting.
    b.select("#setting-warehouseId", "").await;
    b.click("#settings-save").await;
    b.wait_for("#savebar[hidden]").await;
    let saved = &s.data(LISTED, json!({})).await["settings"];
    assert_eq!(saved["reasonCodeSubaccount"], "300-000");
    assert_eq!(saved["warehouseId"], json!(null));
    assert_eq!(saved["customerClass"], "RETAIL");
    b.screenshot("saved").await;

    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.js(SHOW_CONFIG, vec![]).await;
    b.screenshot("lists-390px").await;
    b.close().await;
}

#[tokio::test]
async fn a_failed_job_is_retried_from_its_page_and_turns_succeeded_live() {
    let sim = sim_with_tokens(3600).await;
    let mut options = Options::default();
    options.env.push(("BRIDGE_MAX_ATTEMPTS".into(), "2".into()));
    let s = Service::start_with(DataDir::new(), options).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");

    // Acumatica answers every request with 500: the lists job fails after its 2 attempts.
    sim.update_faults(|f| f.rate_500 = 1.0);
    let id = s
        .data("mutation { refreshLookups { id } }", json!({}))
        .await["refreshLookups"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = s.wait_job(&id, |j| j["status"] == "FAILED").await;
    assert_eq!(failed["attempts"], 2, "{failed}");

    let mut b = Browser::open("jobs").await;
    b.sign_in(&s).await;
    b.click("nav[aria-label=Main] a[href='#/jobs']").await;
    b.wait_text("main h1", "Jobs").await;
    b.wait_for("#jobs-table").await;
    b.wait_texts("#jobs-tabs [data-status=ALL] .tab-count", &["2"])
        .await;
    b.wait_texts("#jobs-tabs [data-status=FAILED] .tab-count", &["1"])
        .await;
    b.wait_texts("#jobs-tabs [data-status=SUCCEEDED] .tab-count", &["1"])
        .await;
    b.wait_text("#jobs-summary", "1–2 of 2 jobs").await;
    b.assert_controls_labelled().await;
    b.screenshot("list").await;

    // The Failed tab, then the kind filter.
    b.click("#jobs-tabs [data-status=FAILED]").await;
    b.wait_texts("#jobs-table tbody th", &[&format!("#{id}")])
        .await;
    assert!(b.hash().await.contains("status=FAILED"));
    b.select("#jobs-kind", "CONNECT").await;
    b.wait_text("#jobs-empty", "No jobs match these filters")
        .await;
    b.wait_texts("#jobs-tabs [data-status=SUCCEEDED] .tab-count", &["1"])
        .await;
    b.wait_texts("#jobs-tabs [data-status=FAILED] .tab-count", &["0"])
        .await;
    b.select("#jobs-kind", "REFRESH_LOOKUPS").await;
    b.wait_texts("#jobs-table tbody th", &[&format!("#{id}")])
        .await;
    b.screenshot("failed-tab").await;

    // The job page: both attempts with their errors.
    b.click(&format!("#jobs-table a[href='#/jobs/{id}']")).await;
    b.wait_text("main h1", &format!("Refresh lists · job #{id}"))
        .await;
    b.wait_text("#job-status", "Failed").await;
    b.wait_text("#job-attempts", "2 of 2").await;
    b.wait_for("#job-last-error").await;
    assert_eq!(
        b.texts("#job-history tbody th").await,
        ["2", "1"],
        "newest attempt first"
    );
    let errors = b.texts("#job-history tbody .attempt-error").await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| !e.is_empty()));
    assert!(
        b.js("return document.querySelector('#job-cancel')", vec![])
            .await
            .is_null(),
        "a failed job cannot be canceled"
    );
    b.screenshot("failed-job").await;

    // Acumatica is back: Retry, and the page follows the job to its end without a reload.
    sim.update_faults(|f| f.rate_500 = 0.0);
    b.click("#job-retry").await;
    b.wait_text("#job-status [data-job-status]", "Succeeded")
        .await;
    b.wait_texts("#job-history tbody th", &["3", "2", "1"])
        .await;
    b.wait_text("#job-history tr[data-attempt='3']", "OK").await;
    assert!(
        b.js("return document.querySelector('#job-retry')", vec![])
            .await
            .is_null()
    );
    assert_eq!(
        s.data(
            "query($id: ID!) { job(id: $id) { status } }",
            json!({"id": id})
        )
        .await["job"]["status"],
        "SUCCEEDED"
    );
    b.screenshot("retried").await;

    // Retry all failed, from the list, after a confirmation; the counts follow live.
    sim.update_faults(|f| f.rate_500 = 1.0);
    let id2 = s
        .data("mutation { refreshLookups { id } }", json!({}))
        .await["refreshLookups"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_job(&id2, |j| j["status"] == "FAILED").await;
    b.click(".back-link").await;
    b.wait_texts("#jobs-tabs [data-status=FAILED] .tab-count", &["1"])
        .await;
    b.wait_texts("#jobs-table tbody th", &[&format!("#{id2}")])
        .await;
    b.click("#retry-all-failed").await;
    b.wait_text(
        "#confirm-dialog",
        "The failed job of kind Refresh lists will run again",
    )
    .await;
    b.screenshot("retry-all-confirm").await;
    sim.update_faults(|f| f.rate_500 = 0.0);
    b.click("#confirm-ok").await;
    b.wait_text("#toast", "1 job will run again").await;
    b.wait_texts("#jobs-tabs [data-status=FAILED] .tab-count", &["0"])
        .await;
    b.wait_texts("#jobs-tabs [data-status=SUCCEEDED] .tab-count", &["2"])
        .await;
    b.wait_text("#jobs-empty", "No jobs match these filters")
        .await;
    s.wait_job(&id2, |j| j["status"] == "SUCCEEDED").await;

    // A job waiting for a connection, canceled from its page.
    sim.expire_access_tokens();
    sim.revoke_refresh_tokens();
    let id3 = s
        .data("mutation { refreshLookups { id } }", json!({}))
        .await["refreshLookups"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.wait_for(
        &format!("{{ job(id: \"{id3}\") {{ status waitingFor }} }}"),
        |d| d["job"]["status"] == "QUEUED" && !d["job"]["waitingFor"].is_null(),
    )
    .await;
    b.goto(&s.url(&format!("/#/jobs/{id3}"))).await;
    b.wait_text("#job-waiting-for", "connected").await;
    b.wait_text("#job-status", "Queued").await;
    b.screenshot("waiting").await;
    b.click("#job-cancel").await;
    b.wait_text("#confirm-dialog", &format!("Cancel job #{id3}?"))
        .await;
    b.click("#confirm-ok").await;
    b.wait_text("#job-status [data-job-status]", "Canceled")
        .await;
    b.wait_for("#job-retry").await;
    assert_eq!(
        s.data(
            "query($id: ID!) { job(id: $id) { status } }",
            json!({"id": id3})
        )
        .await["job"]["status"],
        "CANCELED"
    );

    b.resize(390, 844).await;
    b.assert_fits_width().await;
    b.screenshot("job-390px").await;
    b.goto(&s.url("/#/jobs")).await;
    b.wait_for("#jobs-table").await;
    b.assert_fits_width().await;
    b.screenshot("list-390px").await;
    b.close().await;
}
