//! GraphiQL served from the binary (`/graphiql`), in a real browser that reaches no host but
//! localhost: the token bar, a query run with its answer, and the docs explorer listing the Query
//! fields; no console error (a CSP violation is one) and no request to any other origin.

use serde_json::{Value, json};

use super::Browser;
use crate::common::Service;

#[tokio::test]
async fn graphiql_works_offline_with_the_token_and_its_docs_explorer() {
    let s = Service::start().await;
    let mut b = Browser::open("graphiql").await;
    b.goto(&s.url("/graphiql")).await;

    // A wrong token is refused at the bar; GraphiQL waits for a good one.
    b.type_into("#token", "not-the-token").await;
    b.click("#use-token").await;
    b.wait_text("#token-status", "The admin token was refused.")
        .await;
    b.screenshot("token-refused").await;
    // The only console entry so far is the browser's own note of that 401 answer.
    let severe: Vec<Value> = b
        .console()
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(
        severe.iter().all(|e| {
            let m = e["message"].as_str().unwrap_or_default();
            e["source"] == "network" && m.contains("/graphql") && m.contains("401")
        }),
        "unexpected console errors: {severe:#?}"
    );
    assert_eq!(
        b.js("return sessionStorage.length", vec![]).await,
        json!(0),
        "a wrong token is not kept"
    );
    assert_eq!(
        b.js(
            "return document.querySelector('.graphiql-container') === null",
            vec![]
        )
        .await,
        json!(true)
    );

    b.type_into("#token", &s.token).await;
    b.click("#use-token").await;
    b.wait_text("#token-status", "Signed in").await;
    b.wait_for(".graphiql-container .graphiql-query-editor .CodeMirror")
        .await;
    assert_eq!(
        b.js(
            &format!(
                "return sessionStorage.getItem('acumatica-bridge.token') === '{}'",
                s.token
            ),
            vec![]
        )
        .await,
        json!(true),
        "the token is kept for the browser session"
    );

    // The default query runs and its answer shows.
    b.click(".graphiql-execute-button").await;
    b.until(
        "the answer of the default query",
        "const r = document.querySelector('.graphiql-response .CodeMirror'); \
         return !!r && r.CodeMirror.getValue().includes('\"totalCount\": 0')",
        vec![],
    )
    .await;
    b.screenshot("query-answered").await;

    // The docs explorer lists the Query fields (from the standard introspection query).
    b.click("button[aria-label='Show Documentation Explorer']")
        .await;
    let introspection = b
        .until(
            "the docs explorer's root types, or an introspection error",
            "const q = [...document.querySelectorAll('a.graphiql-doc-explorer-type-name')] \
               .find(a => a.innerText.trim() === 'Query'); \
             if (q) return 'ok'; \
             const e = document.querySelector('.graphiql-doc-explorer-error'); \
             return e ? e.innerText : null",
            vec![],
        )
        .await;
    assert_eq!(
        introspection,
        json!("ok"),
        "GraphiQL's introspection query was refused (issue 12 §3: the depth and complexity limits \
         must not count introspection fields)"
    );
    b.js(
        "[...document.querySelectorAll('a.graphiql-doc-explorer-type-name')] \
           .find(a => a.innerText.trim() === 'Query').click()",
        vec![],
    )
    .await;
    b.until(
        "the Query fields in the docs explorer",
        "const f = [...document.querySelectorAll('.graphiql-doc-explorer-field-name')] \
           .map(e => e.innerText.trim()); \
         return ['orders', 'order', 'settings', 'storeConnection'].every(n => f.includes(n))",
        vec![],
    )
    .await;
    b.screenshot("docs-explorer").await;

    // Every request went to the bridge itself.
    let origin = s.url("/");
    let elsewhere = b
        .js(
            "return performance.getEntriesByType('resource').map(e => e.name) \
               .filter(u => !u.startsWith(arguments[0]))",
            vec![json!(origin)],
        )
        .await;
    assert_eq!(elsewhere, json!([]), "requests to other hosts");
    b.close().await;
}
