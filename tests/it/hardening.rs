//! Hardening of the service itself: a private data dir, private and link-local hosts refused
//! as the Base URL or store URL, the admin token's rules (rotate-token against an env token,
//! a minimum length).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::auth::walk;
use crate::common::{DataDir, Options, Service};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every dir below `dir` (and itself).
fn dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_owned()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(dirs(&path));
        }
    }
    out
}

#[tokio::test]
async fn the_data_dir_is_private() {
    let s = Service::start().await;
    s.data(
        crate::common::RECORD_ORDER,
        json!({"input": crate::common::order_input("P1", "QUEUED")}),
    )
    .await;
    let data = s.stop();
    let dir = data.path().join("data");
    assert!(dir.join("secret.key").exists());
    for d in dirs(&dir) {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    let files = walk(&dir);
    assert!(files.len() > 2, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[tokio::test]
async fn a_lax_key_file_is_warned_about() {
    let data = DataDir::new();
    let dir = data.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret.key"), "ab".repeat(32)).unwrap();
    std::fs::set_permissions(
        dir.join("secret.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let s = Service::start_in(data).await;
    let log = s.stderr();
    assert!(
        log.contains("the secret key file can be read by other users"),
        "{log}"
    );
    assert!(!log.contains(&"ab".repeat(32)), "the key is logged");
}

/// A connect form for an Acumatica at `base_url` (no simulator: it is refused before any
/// request).
fn acumatica_at(base_url: &str) -> serde_json::Value {
    json!({"baseUrl": base_url, "username": "api", "password": "p", "clientId": "ID@Company",
           "clientSecret": "s", "endpointName": "Default", "endpointVersion": "24.200.001"})
}

// Only addresses in refused ranges, refused before any request: no traffic is sent.
const PRIVATE: [&str; 8] = [
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.10",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "[fd00::1]",
    "[fe80::1]",
];

#[tokio::test]
async fn private_and_link_local_hosts_are_refused_naming_the_field() {
    let s = Service::start().await;
    for host in PRIVATE {
        let body = s
            .gql(
                crate::common::CONNECT,
                json!({"input": acumatica_at(&format!("https://{host}/t/Company"))}),
            )
            .await;
        let e = &body["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_INPUT", "{host}: {body}");
        assert_eq!(e["extensions"]["field"], "input.baseUrl", "{host}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("--allow-private-hosts"),
            "{body}"
        );
        let body = s
            .gql(
                crate::xcart::CONNECT_STORE,
                json!({"input": {"storeUrl": format!("https://{host}"), "apiToken": "t"}}),
            )
            .await;
        let e = &body["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_INPUT", "{host}: {body}");
        assert_eq!(e["extensions"]["field"], "input.storeUrl", "{host}");
    }
    let c = s
        .data(
            "{ connection { status } storeConnection { status } }",
            json!({}),
        )
        .await;
    assert_eq!(
        c,
        json!({"connection": {"status": "NOT_CONNECTED"}, "storeConnection": {"status": "NOT_CONNECTED"}})
    );
    // Loopback stays allowed (every simulator runs there).
    let body = s
        .gql(
            crate::common::CONNECT,
            json!({"input": acumatica_at("http://127.0.0.1:9/t/Company")}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn allow_private_hosts_lifts_the_rule() {
    let mut options = Options::default();
    options
        .env
        .push(("BRIDGE_ALLOW_PRIVATE_HOSTS".into(), "1".into()));
    options
        .env
        .push(("BRIDGE_XCART_TIMEOUT_MS".into(), "1000".into()));
    let s = Service::start_with(DataDir::new(), options).await;
    // 0.0.0.0 is this machine: a closed port, so nothing leaves it. The host is accepted now
    // and the store merely does not answer.
    let port = crate::common::free_port();
    let body = s
        .gql(
            crate::xcart::CONNECT_STORE,
            json!({"input": {"storeUrl": format!("https://0.0.0.0:{port}"), "apiToken": "t"}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_CONNECTED",
        "{body}"
    );
}
