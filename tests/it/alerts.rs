//! Alerts end to end: a local webhook receiver and a local SMTP sink (both in the test), an
//! order that fails and is retried (one incident, one notification per channel, the signature,
//! the resolve), a failing webhook retried without holding up e-mail or syncs, reminders while
//! a connection stays lost, test alerts, BAD_INPUT, and secrets that never come back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::{
    DataDir, Options, RECORD_ORDER, Service, connect_input, order_input, sim_with_tokens,
};

pub const SECRET: &str = "whsec-0123456789abcdef";
const SMTP_PASSWORD: &str = "smtp-pass-9876";

const SAVE_RULE: &str = "mutation($id: ID, $input: AlertRuleInput!) { saveAlertRule(id: $id, input: $input) { id name condition channels { id kind url hasSecret host port tls username hasPassword from to } } }";
const INCIDENTS: &str = "{ alertIncidents { id ruleId subject summary state openedAt closedAt reminders notifications { event seq channelId delivery attempts error } } }";

/// One request the webhook receiver got.
#[derive(Clone, Debug)]
struct Hit {
    status: u16,
    signature: String,
    timestamp: String,
    body: Vec<u8>,
}

/// A webhook receiver that answers 500 to its first `fail` requests, then 200.
pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

pub async fn receiver(fail: usize) -> Receiver {
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let h = h.clone();
                async move {
                    let mut hits = h.lock().unwrap();
                    let status = if hits.len() < fail { 500 } else { 200 };
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    hits.push(Hit {
                        status,
                        signature: header("x-bridge-signature"),
                        timestamp: header("x-bridge-timestamp"),
                        body: body.to_vec(),
                    });
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, hits }
}

impl Receiver {
    /// The bodies of the requests answered 200.
    pub fn delivered(&self) -> Vec<Value> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.status == 200)
            .map(|h| serde_json::from_slice(&h.body).unwrap())
            .collect()
    }
    pub fn events(&self) -> Vec<String> {
        self.delivered()
            .iter()
            .map(|b| b["event"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// One message the SMTP sink took.
#[derive(Clone, Debug)]
struct Mail {
    auth: Option<String>,
    from: String,
    to: Vec<String>,
    data: String,
}

/// A small SMTP server (no TLS): EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let m = mails.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let m = m.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut auth, mut from, mut to) = (None, String::new(), Vec::new());
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_owned();
                    let upper = cmd.to_ascii_uppercase();
                    let answer: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n"
                    } else if upper.starts_with("HELO")
                        || upper.starts_with("RSET")
                        || upper.starts_with("NOOP")
                    {
                        b"250 ok\r\n"
                    } else if upper.starts_with("AUTH PLAIN ") {
                        auth = Some(cmd[11..].to_owned());
                        b"235 ok\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = cmd[10..].to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to.push(cmd[8..].to_owned());
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            lines.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        m.lock().unwrap().push(Mail {
                            auth: auth.clone(),
                            from: from.clone(),
                            to: std::mem::take(&mut to),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"502 not here\r\n"
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

fn options() -> Options {
    let mut o = Options::default();
    o.env
        .push(("BRIDGE_ALERT_CHECK_INTERVAL_MS".into(), "200".into()));
    o
}

async fn wait_until(what: &str, s: &Service, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}\n{}", s.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify(hit: &Hit) {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        hit.signature, expected,
        "the signature verifies with the secret"
    );
    let body: Value = serde_json::from_slice(&hit.body).unwrap();
    let sent = chrono::DateTime::parse_from_rfc3339(body["sentAt"].as_str().unwrap()).unwrap();
    assert_eq!(hit.timestamp, sent.timestamp().to_string());
}

async fn order(s: &Service, number: &str) -> Value {
    s.data(
        "query($n: String!) { order(number: $n) { sync { status jobs { id status } } } }",
        json!({"n": number}),
    )
    .await["order"]
        .clone()
}

async fn wait_order(s: &Service, number: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = order(s, number).await;
        if o["sync"]["status"] == status {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "order {number} never {status}: {o}\n{}",
            s.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_failed_order_is_one_incident_notified_once_per_channel_then_resolved() {
    let _heavy = crate::common::HEAVY.lock().await;
    let hook = receiver(2).await;
    let (smtp_port, mails) = smtp_sink().await;
    let sim = sim_with_tokens(3600).await;
    let s = Service::start_with(DataDir::new(), options()).await;
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    let body = s
        .gql(
            SAVE_RULE,
            json!({"input": {
                "name": "Failed orders",
                "condition": "ORDER_SYNC",
                "webhooks": [{"url": hook.url, "secret": SECRET}],
                "emails": [{"host": "127.0.0.1", "port": smtp_port, "tls": "NONE",
                            "username": "bridge", "password": SMTP_PASSWORD,
                            "from": "bridge@example.com", "to": ["ops@example.com", "oncall@example.com"]}]
            }}),
        )
        .await;
    let rule = &body["data"]["saveAlertRule"];
    assert_eq!(rule["channels"][0]["hasSecret"], true, "{body}");
    assert_eq!(rule["channels"][1]["hasPassword"], true);
    assert!(!body.to_string().contains(SECRET) && !body.to_string().contains(SMTP_PASSWORD));

    // An order with an unknown item fails; retried twice, it fails twice more.
    let mut input = order_input("A100", "PAID");
    input["items"] = json!([{"sku": "NEW-ALERT", "name": "New", "price": "520.50", "quantity": 1}]);
    s.data(RECORD_ORDER, json!({"input": input})).await;
    let failed = wait_order(&s, "A100", "FAILED").await;
    let job = failed["sync"]["jobs"][0]["id"].as_str().unwrap().to_owned();
    // Meanwhile a good order syncs: the failing webhook holds nothing up.
    s.data(RECORD_ORDER, json!({"input": order_input("A101", "PAID")}))
        .await;
    for _ in 0..2 {
        let r = s
            .gql(
                "mutation($id: ID!) { retryJob(id: $id) { id } }",
                json!({"id": job}),
            )
            .await;
        assert!(r.get("errors").is_none(), "{r}");
        s.wait_job(&job, |j| j["status"] == "FAILED").await;
    }
    wait_order(&s, "A101", "SYNCED").await;
    wait_until("the opening delivered on both channels", &s, || {
        hook.events() == ["OPENED"] && mails.lock().unwrap().len() == 1
    })
    .await;
    // The e-mail went out at once, while the webhook was still answering 500.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        hook.events(),
        ["OPENED"],
        "one notification for the incident"
    );
    assert_eq!(
        hook.hits.lock().unwrap().len(),
        3,
        "two 500s retried, then delivered"
    );
    for hit in hook.hits.lock().unwrap().iter() {
        verify(hit);
    }
    let opened = &hook.delivered()[0];
    assert_eq!(opened["incident"]["subject"], "order:A100");
    assert!(
        opened["incident"]["summary"]
            .as_str()
            .unwrap()
            .contains("NEW-ALERT"),
        "{opened}"
    );
    {
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1);
        let m = &mails[0];
        assert!(m.from.contains("bridge@example.com"), "{m:?}");
        assert_eq!(m.to.len(), 2);
        assert!(
            m.data.contains("OPENED") && m.data.contains("A100"),
            "{}",
            m.data
        );
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD
            .decode(m.auth.as_ref().expect("AUTH PLAIN"))
            .unwrap();
        assert_eq!(auth, format!("\0bridge\0{SMTP_PASSWORD}").as_bytes());
    }

    // Fixed (new items are created) and retried: the incident resolves.
    s.data(
        "mutation { saveSettings(input: {createNewProducts: true}) { createNewProducts } }",
        json!({}),
    )
    .await;
    s.gql(
        "mutation($id: ID!) { retryJob(id: $id) { id } }",
        json!({"id": job}),
    )
    .await;
    wait_order(&s, "A100", "SYNCED").await;
    wait_until("the resolve delivered on both channels", &s, || {
        hook.events() == ["OPENED", "RESOLVED"] && mails.lock().unwrap().len() == 2
    })
    .await;
    assert!(mails.lock().unwrap()[1].data.contains("RESOLVED"));
    let resolved = &hook.delivered()[1];
    assert!(resolved["incident"]["closedAt"].is_string(), "{resolved}");

    // Each delivery is written back once its job ran.
    let data = s
        .wait_for(INCIDENTS, |d| {
            d["alertIncidents"][0]["notifications"]
                .as_array()
                .is_some_and(|n| n.len() == 4 && n.iter().all(|n| n["delivery"] == "SENT"))
        })
        .await;
    let incidents = data["alertIncidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{data:#}");
    let i = &incidents[0];
    assert_eq!(i["state"], "CLOSED");
    let notes = i["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 4, "{i:#}");
    assert!(notes.iter().all(|n| n["delivery"] == "SENT"), "{i:#}");
    let webhook_open = notes
        .iter()
        .find(|n| n["event"] == "OPENED" && n["channelId"] == 1)
        .unwrap();
    assert_eq!(webhook_open["attempts"], 3);

    // Secrets are in no answer and no log line.
    let rules = s.data("{ alertRules { id channels { id kind url hasSecret hasPassword username lastTest { status } } } }", json!({})).await;
    for text in [rules.to_string(), data.to_string(), s.stderr()] {
        assert!(!text.contains(SECRET) && !text.contains(SMTP_PASSWORD));
    }
}

#[tokio::test]
async fn a_lost_connection_reminds_until_it_is_back_and_test_alerts_go_through_the_job_path() {
    let _heavy = crate::common::HEAVY.lock().await;
    let hook = receiver(0).await;
    let sim = sim_with_tokens(3600).await;
    let s = Service::start_with(DataDir::new(), options()).await;
    let rule = s
        .data(
            SAVE_RULE,
            json!({"input": {
                "name": "Connections",
                "condition": "CONNECTION_LOST",
                "remindAfterSeconds": 1,
                "webhooks": [{"url": hook.url, "secret": SECRET}]
            }}),
        )
        .await["saveAlertRule"]
        .clone();
    let rule_id = rule["id"].as_str().unwrap().to_owned();

    // A test alert: a SEND_ALERT job, delivered and signed.
    let test = s
        .data(
            "mutation($r: ID!) { sendTestAlert(ruleId: $r, channelId: 1) { id kind status } }",
            json!({"r": rule_id}),
        )
        .await["sendTestAlert"]
        .clone();
    assert_eq!(test["kind"], "SEND_ALERT");
    s.wait_job(test["id"].as_str().unwrap(), |j| j["status"] == "SUCCEEDED")
        .await;
    assert_eq!(hook.events(), ["TEST"]);
    verify(&hook.hits.lock().unwrap()[0]);
    let last = s
        .data(
            "{ alertRules { channels { lastTest { status jobId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        last["alertRules"][0]["channels"][0]["lastTest"]["status"],
        "SUCCEEDED"
    );

    // A wrong password: the connection is lost; reminders come while it stays so.
    let mut input = connect_input(&sim);
    input["password"] = json!("wrong");
    s.data(crate::common::CONNECT, json!({"input": input}))
        .await;
    wait_until("opened and reminded twice", &s, || {
        hook.events().iter().filter(|e| *e == "REMINDER").count() >= 2
    })
    .await;
    let events = hook.events();
    assert_eq!(events[1], "OPENED", "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "OPENED").count(), 1);
    let body = &hook.delivered()[1];
    assert_eq!(body["incident"]["subject"], "connection:acumatica");

    // Connected again: resolved, and no reminder after it.
    assert_eq!(s.connect_to(&sim).await["status"], "SUCCEEDED");
    wait_until("resolved", &s, || {
        hook.events().last().map(String::as_str) == Some("RESOLVED")
    })
    .await;
    let n = hook.events().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hook.events().len(),
        n,
        "nothing after the resolve: {:?}",
        hook.events()
    );
    let data = s.data(INCIDENTS, json!({})).await;
    let i = &data["alertIncidents"][0];
    assert_eq!(i["state"], "CLOSED");
    assert!(i["reminders"].as_i64().unwrap() >= 2, "{i:#}");
}

#[tokio::test]
async fn bad_rules_name_the_field_and_change_nothing() {
    let s = Service::start().await;
    let base = json!({"name": "x", "condition": "ORDER_SYNC",
                      "webhooks": [{"url": "https://hooks.example.com/a", "secret": SECRET}]});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"webhooks": [{"url": "http://hooks.example.com/a", "secret": SECRET}]}),
            "input.webhooks.0.url",
        ),
        (
            json!({"webhooks": [{"url": "https://10.1.2.3/a", "secret": SECRET}]}),
            "input.webhooks.0.url",
        ),
        (
            json!({"webhooks": [{"url": "https://hooks.example.com/a"}]}),
            "input.webhooks.0.secret",
        ),
        (
            json!({"webhooks": [{"url": "https://hooks.example.com/a", "secret": "short"}]}),
            "input.webhooks.0.secret",
        ),
        (json!({"condition": "JOB_WAITING"}), "input.minutes"),
        (
            json!({"condition": "IMPORT_LAGGING", "minutes": 0}),
            "input.minutes",
        ),
        (json!({"remindAfterSeconds": 0}), "input.remindAfterSeconds"),
        (json!({"name": " "}), "input.name"),
        (
            json!({"emails": [{"host": "smtp.example.com", "port": 0, "tls": "STARTTLS", "from": "a@example.com", "to": ["b@example.com"]}]}),
            "input.emails.0.port",
        ),
        (
            json!({"emails": [{"host": "smtp.example.com", "port": 70000, "tls": "TLS", "from": "a@example.com", "to": ["b@example.com"]}]}),
            "input.emails.0.port",
        ),
        (
            json!({"emails": [{"host": "smtp.example.com", "port": 587, "tls": "STARTTLS", "from": "nobody", "to": ["b@example.com"]}]}),
            "input.emails.0.from",
        ),
        (
            json!({"emails": [{"host": "smtp.example.com", "port": 587, "tls": "STARTTLS", "from": "a@example.com", "to": ["ok@example.com", "b@"]}]}),
            "input.emails.0.to.1",
        ),
        (
            json!({"emails": [{"host": "smtp.example.com", "port": 587, "tls": "STARTTLS", "from": "a@example.com", "to": ["b@example.com"], "password": "p"}]}),
            "input.emails.0.password",
        ),
    ];
    for (patch, field) in cases {
        let mut input = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        let body = s.gql(SAVE_RULE, json!({"input": input})).await;
        let e = &body["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_INPUT", "{patch}: {body}");
        assert_eq!(e["extensions"]["field"], field, "{patch}: {body}");
    }
    let rules = s.data("{ alertRules { id } }", json!({})).await;
    assert_eq!(rules["alertRules"], json!([]));
    // Unknown rule: NOT_FOUND.
    let body = s
        .gql(
            "mutation { sendTestAlert(ruleId: \"999\", channelId: 1) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
}
