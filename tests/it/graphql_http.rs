//! The GraphQL-over-HTTP spec's reference audit (npm `graphql-http`, `auditServer`) against the
//! real service, with the admin token: `tests/graphql-http/audit.mjs` under Node, with the npm
//! versions pinned in its `package-lock.json` (`scripts/test` runs `npm ci` there first).

use std::path::Path;
use std::process::Command;

use crate::common::Service;

#[tokio::test]
async fn graphql_http_audit_has_no_must_failure_and_no_should_warning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphql-http");
    assert!(
        dir.join("node_modules/graphql-http").is_dir(),
        "the audit's npm packages are missing: run `scripts/test` (the README's test command), \
         or `npm ci` in {}",
        dir.display()
    );
    let service = Service::start().await;
    let out = tokio::task::spawn_blocking({
        let url = service.url("/graphql");
        let token = service.token.clone();
        let dir = dir.clone();
        move || {
            Command::new("node")
                .arg("audit.mjs")
                .arg(url)
                .env("BRIDGE_TOKEN", token)
                .current_dir(dir)
                .output()
        }
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!("cannot run node ({e}): the audit needs Node.js; scripts/test installs it")
    });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the graphql-http audit found problems ({}):\n{report}",
        out.status
    );
    assert!(
        report.contains("0 MUST failures, 0 SHOULD warnings"),
        "{report}"
    );
}
