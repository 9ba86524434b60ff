//! Hardening of the service itself: a private data dir, private and link-local hosts refused
//! as the Base URL or store URL, the admin token's rules (rotate-token against an env token,
//! a minimum length).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::auth::walk;
use crate::common::{DataDir, Service};

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
