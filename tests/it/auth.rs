//! The admin token: required on every GraphQL operation over HTTP and WebSocket; the console,
//! GraphiQL and /healthz load without it; a generated token is shown once and only its hash kept.

use serde_json::{Value, json};

use crate::common::{DataDir, Options, Service};

#[tokio::test]
async fn graphql_needs_the_token() {
    let s = Service::start().await;
    for token in [None, Some("wrong-token")] {
        let (status, body) = s
            .gql_as(token, "{ settings { salesOrderType } }", json!({}))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    let get = s
        .http
        .get(s.url("/graphql?query=%7Bsettings%7BsalesOrderType%7D%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 401);
    let (status, body) = s
        .gql_as(Some(&s.token), "{ settings { salesOrderType } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["settings"]["salesOrderType"], "SO");
}

#[tokio::test]
async fn public_pages_load_without_the_token() {
    let s = Service::start().await;
    for path in ["/healthz", "/readyz", "/"] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn readiness_names_the_workers_and_a_write_that_reached_the_disk() {
    let s = Service::start().await;
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ready", "workers": "running", "store": "writable"})
    );
    // The probe is a real write: it is in the store once the service has stopped.
    let data = s.stop();
    let db = data.open_store();
    let meta = db.open_tree("meta").unwrap();
    assert!(
        meta.get("ready_probe").unwrap().is_some(),
        "the probe was written"
    );
}

#[tokio::test]
async fn websocket_needs_the_token() {
    let s = Service::start().await;
    let mut refused = s.ws(Some("wrong")).await;
    assert_eq!(refused.next().await, json!({"close": 4403}));
    let mut missing = s.ws(None).await;
    assert_eq!(missing.next().await, json!({"close": 4403}));
    let mut ok = s.ws(Some(&s.token)).await;
    assert_eq!(ok.next().await["type"], "connection_ack");
}

#[tokio::test]
async fn a_generated_token_is_shown_once_and_only_its_hash_is_stored() {
    let data = DataDir::new();
    let options = Options {
        token: None,
        ..Options::default()
    };
    let s = Service::start_with(data.clone(), options.clone()).await;
    let token = s.token.clone();
    assert_eq!(
        s.gql("{ settings { salesOrderType } }", json!({})).await["data"]["settings"]["salesOrderType"],
        "SO"
    );
    let data = s.stop();
    // Restarted: no new token is printed, and the old one still works.
    let s = Service::start_with(
        data.clone(),
        Options {
            token: Some(token.clone()),
            ..options
        },
    )
    .await;
    assert!(!s.stderr().contains("abt_"), "a second token was printed");
    let (status, _) = s
        .gql_as(Some(&token), "{ settings { salesOrderType } }", json!({}))
        .await;
    assert_eq!(status, 200);
    drop(s);
    for entry in walk(&data.path().join("data")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the plain token is stored in {}",
            entry.display()
        );
    }
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn request_bodies_are_limited() {
    let s = Service::start().await;
    let huge = "x".repeat(2 << 20);
    let r = s
        .http
        .post(s.url("/graphql"))
        .bearer_auth(&s.token)
        .json(&json!({"query": "{ settings { salesOrderType } }", "variables": {"pad": huge}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

#[tokio::test]
async fn deep_queries_are_refused() {
    let s = Service::start().await;
    // Thirteen levels of fields (the limit is 12), refused before they are even resolved.
    let mut q = String::from("number");
    for _ in 0..12 {
        q = format!("node {{ {q} }}");
    }
    let body = s
        .gql(&format!("{{ orders {{ edges {{ {q} }} }} }}"), json!({}))
        .await;
    let message = body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(message.contains("deep"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_INPUT");
}

#[tokio::test]
async fn rotate_token_refuses_while_the_env_sets_the_token() {
    let data = DataDir::new();
    let out = std::process::Command::new(crate::common::binary())
        .args(["rotate-token", "--data-dir"])
        .arg(data.path().join("data"))
        .env("BRIDGE_ADMIN_TOKEN", crate::common::TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("BRIDGE_ADMIN_TOKEN is set") && !err.contains("abt_"),
        "{err}"
    );
    // Without it, a token is made and printed once.
    let out = std::process::Command::new(crate::common::binary())
        .args(["rotate-token", "--data-dir"])
        .arg(data.path().join("data"))
        .env_remove("BRIDGE_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("abt_"));
}

#[tokio::test]
async fn a_short_env_token_is_refused_at_start() {
    let data = DataDir::new();
    let mut child = std::process::Command::new(crate::common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .env("BRIDGE_ADMIN_TOKEN", "only-16-chars-xx")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the service started with a 16-character token");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("BRIDGE_ADMIN_TOKEN is 16 characters long")
            && err.contains("at least 24")
            && !err.contains("only-16-chars-xx"),
        "{err}"
    );
}
