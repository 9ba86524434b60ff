//! `serve --database` (and `BRIDGE_DATABASE_URL`) is refused, clearly and without touching
//! the data dir, until PostgreSQL storage is complete: never a silent fall-back to sled.

use std::process::Command;

use crate::common::binary;

fn refused(args: &[&str], env: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(binary());
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .args(args)
        .env_remove("BRIDGE_DATABASE_URL")
        .env("BRIDGE_ADMIN_TOKEN", crate::common::TOKEN);
    if let Some(url) = env {
        cmd.env("BRIDGE_DATABASE_URL", url);
    }
    let out = cmd.output().expect("run acumatica-bridge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must refuse: {stderr}");
    assert!(
        stderr.contains("PostgreSQL storage is not complete yet"),
        "{stderr}"
    );
    assert!(
        stderr.contains("db.example:5432/bridge"),
        "names it: {stderr}"
    );
    assert!(!stderr.contains("s3cret"), "no password: {stderr}");
    assert!(
        !data.path().join("data").exists(),
        "the data dir is untouched"
    );
}

#[test]
fn serve_refuses_a_database_until_postgresql_storage_is_complete() {
    let url = "postgres://bridge:s3cret@db.example:5432/bridge";
    refused(&["--database", url], None);
    refused(&[], Some(url));
}

/// A blank BRIDGE_DATABASE_URL (a template's empty variable) chooses nothing: sled as ever.
#[tokio::test]
async fn a_blank_database_variable_is_no_database() {
    let mut options = crate::common::Options::default();
    options
        .env
        .push(("BRIDGE_DATABASE_URL".into(), String::new()));
    let service = crate::common::Service::start_with(crate::common::DataDir::new(), options).await;
    assert!(
        service.data.path().join("data/store").exists(),
        "the sled store"
    );
}
