//! The HTTP surface's guarantees: the admin token on every operation on `/graphql` however the
//! query string is spelled, no mutation over GET, the Host check, security headers, GraphQL
//! over HTTP as its spec has it (media types, request errors), cost limits that hold against
//! aliases and pass introspection, and bounded subscription connections.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::common::{Options, Service};

const PREFIX_QUERY: &str = "{ settings { orderNumberPrefix } }";

async fn prefix(s: &Service) -> Value {
    s.data(PREFIX_QUERY, json!({})).await["settings"]["orderNumberPrefix"].clone()
}

#[tokio::test]
async fn every_spelling_of_a_get_operation_needs_the_token() {
    let s = Service::start().await;
    let before = prefix(&s).await;
    let mutation = "mutation%7BsaveSettings(input:%7BorderNumberPrefix:%22EVIL-%22%7D)%7BorderNumberPrefix%7D%7D";
    let query = "%7Borders(first:1)%7BtotalCount%7D%7D";
    let spellings = [
        format!("?%71uery={query}&xquery="),
        format!("?%71uery={mutation}&xquery="),
        format!("?%71%75%65%72%79={mutation}"),
        format!("?%51UERY={mutation}&query"),
        format!("?q%75ery={mutation}"),
        format!("?query={query}&query={mutation}"),
        format!("?x=1;query={mutation}"),
        format!("?query={mutation}"),
        format!("?operationName=x&%71uery={mutation}"),
        "?".to_string(),
        String::new(),
    ];
    for spelling in &spellings {
        let r = s
            .http
            .get(s.url(&format!("/graphql{spelling}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "GET /graphql{spelling}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body.get("data").is_none(), "{spelling}: {body}");
    }
    // A body on GET, with or without a query string, and a browser's Accept.
    for path in ["/graphql", "/graphql?a=b"] {
        let r = s
            .http
            .get(s.url(path))
            .header("Accept", "text/html")
            .header("Content-Type", "application/json")
            .body(
                json!({"query": "mutation { saveSettings(input: {orderNumberPrefix: \"EVIL-\"}) { orderNumberPrefix } }"})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "GET {path} with a body");
    }
    assert_eq!(prefix(&s).await, before, "nothing changed");
}

#[tokio::test]
async fn mutations_are_refused_over_get() {
    let s = Service::start().await;
    let before = prefix(&s).await;
    let r = s
        .http
        .get(s.url("/graphql?query=mutation%7BsaveSettings(input:%7BorderNumberPrefix:%22EVIL-%22%7D)%7BorderNumberPrefix%7D%7D"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("POST"),
        "{body}"
    );
    assert_eq!(prefix(&s).await, before);
    // A query over GET with the token runs.
    let r = s
        .http
        .get(s.url("/graphql?query=%7Bsettings%7BsalesOrderType%7D%7D"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["settings"]["salesOrderType"], "SO");
}

#[tokio::test]
async fn a_browser_opening_graphql_goes_to_the_ide() {
    let s = Service::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(s.url("/graphql"))
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/graphiql");
}

#[tokio::test]
async fn only_names_of_this_bridge_are_served() {
    let s = Service::start().await;
    let get = |host: &'static str, path: &'static str| {
        let s = &s;
        async move {
            s.http
                .get(s.url(path))
                .header("Host", host)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get("rebound.example:8080", "/").await, 421);
    assert_eq!(get("rebound.example", "/healthz").await, 421);
    assert_eq!(get("localhost:1234", "/healthz").await, 200);
    let (status, _) = {
        let r = s
            .http
            .post(s.url("/graphql"))
            .header("Host", "rebound.example")
            .bearer_auth(&s.token)
            .json(&json!({"query": PREFIX_QUERY}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 421);

    let options = Options {
        args: vec![
            "--allowed-hosts".into(),
            "bridge.example,other.example".into(),
        ],
        ..Options::default()
    };
    let proxied = Service::start_with(crate::common::DataDir::new(), options).await;
    let r = proxied
        .http
        .get(proxied.url("/healthz"))
        .header("Host", "bridge.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn answers_carry_security_headers() {
    let s = Service::start().await;
    for path in ["/", "/assets/app.js", "/healthz", "/graphql"] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
}

async fn post_raw(s: &Service, accept: Option<&str>, body: Value) -> (u16, String, Value) {
    let mut r = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(&s.token)
        .json(&body);
    if let Some(a) = accept {
        r = r.header("Accept", a);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    (status, ct, r.json().await.unwrap())
}

#[tokio::test]
async fn media_types_and_request_errors_follow_the_spec() {
    let s = Service::start().await;
    let ok = json!({"query": PREFIX_QUERY});
    let (status, ct, _) = post_raw(&s, Some("application/json"), ok.clone()).await;
    assert_eq!(
        (status, ct.starts_with("application/json")),
        (200, true),
        "{ct}"
    );
    let (_, ct, _) = post_raw(&s, None, ok.clone()).await;
    assert!(ct.starts_with("application/json"), "{ct}");
    let (_, ct, _) = post_raw(&s, Some("application/graphql-response+json"), ok).await;
    assert!(ct.starts_with("application/graphql-response+json"), "{ct}");

    let bad_documents = [
        json!({"query": "{ settings { "}),
        json!({"query": "{ noSuchField }"}),
        json!({"query": "query($n: Int!) { orders(first: $n) { totalCount } }", "variables": {"n": "many"}}),
    ];
    for bad in bad_documents {
        let (status, _, body) =
            post_raw(&s, Some("application/graphql-response+json"), bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.get("data").is_none(), "{bad}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_INPUT",
            "{body}"
        );
        // application/json keeps 200, with the same errors and no data.
        let (status, _, body) = post_raw(&s, Some("application/json"), bad.clone()).await;
        assert_eq!(status, 200, "{bad}: {body}");
        assert!(body.get("data").is_none(), "{bad}: {body}");
    }
    // A field error is not a request error: 200 and data.
    let (status, _, body) = post_raw(
        &s,
        Some("application/graphql-response+json"),
        json!({"query": "{ order(number: \"nope\") { number } }"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some(), "{body}");

    let r = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(&s.token)
        .body(json!({"query": PREFIX_QUERY}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415, "no Content-Type");
}

/// graphql-js's `getIntrospectionQuery()`, as GraphiQL, Apollo and codegen send it.
const INTROSPECTION: &str = include_str!("../data/introspection.graphql");

#[tokio::test]
async fn the_standard_introspection_query_is_answered() {
    let s = Service::start().await;
    let body = s.gql(INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let types = body["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Order"));
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn aliased_lists_cannot_multiply_the_work() {
    let s = Service::start().await;
    let one = "orders(first: 100) { edges { node { number items { sku } } } }";
    let many: String = (0..300).map(|i| format!("a{i}: {one} ")).collect();
    let body = s.gql(&format!("{{ {many} }}"), json!({})).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_INPUT", "{body}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("limit is 25000"),
        "{body}"
    );
    assert!(body.get("data").is_none());
    // One such list is fine.
    let body = s.gql(&format!("{{ {one} }}"), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(s: &Service, origin: Option<&str>) -> Result<Socket, u16> {
    let mut request = format!("ws://{}/graphql/ws", s.addr)
        .into_client_request()
        .unwrap();
    let h = request.headers_mut();
    h.insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    if let Some(o) = origin {
        h.insert("Origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("ws connect: {e}"),
    }
}

async fn next(socket: &mut Socket) -> Value {
    let msg = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("a message within 10 s");
    match msg {
        Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap(),
        Some(Ok(Message::Close(f))) => json!({
            "close": f.as_ref().map(|f| u16::from(f.code)).unwrap_or(0),
            "reason": f.map(|f| f.reason.to_string()).unwrap_or_default(),
        }),
        Some(Ok(other)) => json!({"other": other.to_string()}),
        Some(Err(e)) => json!({"error": e.to_string()}),
        None => json!({"close": 0}),
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

async fn init(s: &Service, socket: &mut Socket) {
    let auth = format!("Bearer {}", s.token);
    send(
        socket,
        json!({"type": "connection_init", "payload": {"Authorization": auth}}),
    )
    .await;
    assert_eq!(next(socket).await["type"], "connection_ack");
}

#[tokio::test]
async fn subscription_connections_are_bounded() {
    let mut options = Options::default();
    options.env.extend([
        ("BRIDGE_WS_INIT_TIMEOUT_MS".to_string(), "300".to_string()),
        ("BRIDGE_MAX_SUBSCRIPTIONS".to_string(), "2".to_string()),
        ("BRIDGE_MAX_WS_CONNECTIONS".to_string(), "3".to_string()),
    ]);
    let s = Service::start_with(crate::common::DataDir::new(), options).await;
    let origin = format!("http://{}", s.addr);

    // Another site's page cannot open one; the console's own origin can.
    assert_eq!(
        socket(&s, Some("http://evil.example")).await.err(),
        Some(403)
    );
    let mut own = socket(&s, Some(&origin)).await.unwrap();
    init(&s, &mut own).await;

    // connection_init must come in time.
    let mut silent = socket(&s, None).await.unwrap();
    assert_eq!(next(&mut silent).await["close"], 4408);

    // At most 2 subscriptions on one connection; a completed one frees its place.
    let sub = |id: &str| json!({"id": id, "type": "subscribe", "payload": {"query": "subscription { orderUpdates { number } }"}});
    send(&mut own, sub("1")).await;
    send(&mut own, sub("2")).await;
    send(&mut own, sub("3")).await;
    let refused = next(&mut own).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "3");
    assert!(
        refused["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2"),
        "{refused}"
    );
    send(&mut own, json!({"id": "1", "type": "complete"})).await;
    send(&mut own, sub("4")).await;
    // The new one runs: an order change reaches it.
    s.data(
        "mutation($i: OrderInput!) { recordOrder(input: $i) { number } }",
        json!({"i": crate::common::order_input("WS-1", "QUEUED")}),
    )
    .await;
    let mut seen = vec![];
    while seen.len() < 2 {
        let m = next(&mut own).await;
        if m["type"] == "complete" {
            continue; // the server's answer to our complete of "1"
        }
        assert_eq!(m["type"], "next", "{m}");
        seen.push(m["id"].as_str().unwrap().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["2", "4"]);

    // At most 3 connections at once (the silent one has closed).
    let mut second = socket(&s, None).await.unwrap();
    init(&s, &mut second).await;
    let mut third = socket(&s, None).await.unwrap();
    init(&s, &mut third).await;
    let mut fourth = socket(&s, None).await.unwrap();
    let closed = next(&mut fourth).await;
    assert_eq!(closed["close"], 1013, "{closed}");
    assert!(
        closed["reason"].as_str().unwrap().contains("at most 3"),
        "{closed}"
    );

    // A message over the size limit ends the connection.
    send(
        &mut second,
        json!({"type": "ping", "payload": {"pad": "x".repeat(100_000)}}),
    )
    .await;
    let ended = next(&mut second).await;
    assert!(
        ended.get("close").is_some() || ended.get("error").is_some(),
        "{ended}"
    );
}

#[tokio::test]
async fn repeated_wrong_tokens_are_slowed_but_never_the_right_one() {
    let s = Service::start().await;
    let mut statuses = vec![];
    for _ in 0..8 {
        let r = s
            .http
            .post(s.url("/graphql"))
            .bearer_auth("a-wrong-token-tried-again-and-again")
            .json(&json!({"query": PREFIX_QUERY}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if status == 429 {
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(wait >= 1, "{wait}");
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    // The right token goes through at once.
    assert_eq!(s.gql(PREFIX_QUERY, json!({})).await.get("errors"), None);
}
