//! GraphiQL served from the binary (`/graphiql`), in a real browser that reaches no host but
//! localhost: the token bar, a query run with its answer, a subscription over the WebSocket, and
//! the docs explorer listing the Query fields; no console error (a CSP violation is one) and no
//! request to any other origin.

use serde_json::json;

use super::Browser;
use crate::common::{RECORD_ORDER, Service, order_input};

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
    b.assert_only_a_refused_token_in_console().await;
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

    // A subscription runs over /graphql/ws, with the token in connection_init.
    b.js(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror \
           .setValue('subscription { orderUpdates { number total } }')",
        vec![],
    )
    .await;
    // GraphiQL parses the editor's text after a short debounce, and only a parsed document tells
    // its fetcher to use the WebSocket: give it that moment (a person types slower than this).
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    b.click(".graphiql-execute-button").await;
    b.wait_for(".graphiql-execute-button[aria-label^='Stop']")
        .await;
    // The subscription is live once the socket has been acknowledged; record orders until one
    // shows (an order recorded before the subscription started is not sent).
    let mut shown = false;
    for n in 0..40 {
        s.data(
            RECORD_ORDER,
            json!({"input": order_input(&format!("G{n}"), "QUEUED")}),
        )
        .await;
        let r = b
            .js(
                "const r = document.querySelector('.graphiql-response .CodeMirror'); \
                 return !!r && r.CodeMirror.getValue().includes('\"orderUpdates\"')",
                vec![],
            )
            .await;
        if r == json!(true) {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(shown, "no subscription event reached GraphiQL");
    b.screenshot("subscription-event").await;
    b.click(".graphiql-execute-button").await; // stops the subscription

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
    if introspection != json!("ok") {
        // Ask the API the same standard introspection query (graphql-js's, as GraphiQL sends it)
        // to say why.
        let why = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 fetch('/graphql', {method: 'POST', headers: {'content-type': 'application/json', \
                   authorization: 'Bearer ' + sessionStorage.getItem('acumatica-bridge.token')}, \
                   body: JSON.stringify({query: GraphiQL.GraphQL.getIntrospectionQuery()})}) \
                 .then(r => r.json()).then(j => done(JSON.stringify(j.errors || 'no errors')))",
                vec![],
            )
            .await
            .unwrap();
        panic!(
            "the docs explorer says {introspection}: GraphiQL's introspection query was refused \
             (issue 12 §3: the depth and complexity limits must not count introspection fields); \
             the API answers it with {why}"
        );
    }
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
