//! A real PostgreSQL server for the tests: one throwaway cluster per test run, a fresh
//! database per test.
//!
//! The first [`database`] call starts the cluster: `initdb` into a temp dir (trust auth, no
//! fsync), then `pg_ctl start` on a free loopback port with its unix socket in that dir. As
//! root (CI), the server runs as `BRIDGE_TEST_PG_USER` if set, else the `postgres` user when
//! there is one, else `nobody`, since PostgreSQL refuses to run as root. A watchdog process (in its own process group, so that
//! a Ctrl-C of the tests does not stop it first) waits for the test binary to end, however it
//! ends, then stops the server (`pg_ctl stop -m immediate`) and removes the dir.
//!
//! "Per test run" means per test process: `cargo test` runs the whole crate in one process,
//! so one cluster; `cargo nextest` runs each test in its own process, so each gets its own
//! cluster (about a second more per test).
//!
//! Missing `initdb` or `pg_ctl` is a panic that says what to install, never a skipped test.
//! They are looked up on PATH, then under `/usr/lib/postgresql/<version>/bin` (newest first),
//! where Debian's `postgresql` package puts them (`scripts/test` installs it when missing).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::Connection;

/// The running cluster of this test binary.
pub struct Cluster {
    /// The temp dir holding `data/`, the socket and the server log.
    pub dir: PathBuf,
    pub port: u16,
    /// The superuser the tests connect as (trust auth on loopback).
    pub user: &'static str,
    /// Outlives this process on purpose (it ends after it), so it is never waited for.
    _watchdog: std::process::Child,
}

const SUPERUSER: &str = "bridge";

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

/// A fresh, empty database on the cluster; returns its URL.
pub async fn database() -> String {
    let cluster = cluster();
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to the test PostgreSQL on port {} (server log: {}): {e}",
                cluster.port,
                cluster.dir.join("server.log").display()
            )
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    admin.close().await.ok();
    cluster.url(&name)
}

impl Cluster {
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            self.user, self.port
        )
    }
}

/// `initdb` and `pg_ctl`: on PATH, else under Debian's versioned directory.
fn server_binaries() -> (PathBuf, PathBuf) {
    find_server_binaries(std::env::var_os("PATH"), Path::new("/usr/lib/postgresql"))
        .unwrap_or_else(|why| panic!("{why}"))
}

/// `initdb` and `pg_ctl` in the directories of `path` (a PATH value), else in the newest
/// `<lib>/<version>/bin`; else why not, and what to install.
fn find_server_binaries(
    path: Option<std::ffi::OsString>,
    lib: &Path,
) -> Result<(PathBuf, PathBuf), String> {
    let on_path = |name: &str| -> Option<PathBuf> {
        path.as_ref().and_then(|paths| {
            std::env::split_paths(paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    if let (Some(i), Some(c)) = (on_path("initdb"), on_path("pg_ctl")) {
        return Ok((i, c));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok((bin.join("initdb"), bin.join("pg_ctl"))),
        None => Err(format!(
            "the PostgreSQL tests need a real server, but `initdb` and `pg_ctl` are neither on \
             PATH nor under {}/*/bin: install Debian's `postgresql` package \
             (`apt-get install postgresql`; scripts/test does it when they are missing)",
            lib.display()
        )),
    }
}

#[test]
fn missing_server_binaries_fail_loudly_and_say_what_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let err = find_server_binaries(Some(empty.path().into()), empty.path()).unwrap_err();
    assert!(err.contains("`initdb` and `pg_ctl`"), "{err}");
    assert!(err.contains("apt-get install postgresql"), "{err}");
    // Debian's layout: the newest version's bin wins.
    for v in ["13", "15"] {
        let bin = empty.path().join(v).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for b in ["initdb", "pg_ctl"] {
            std::fs::write(bin.join(b), "").unwrap();
        }
    }
    let (initdb, pg_ctl) = find_server_binaries(None, empty.path()).unwrap();
    assert_eq!(initdb, empty.path().join("15/bin/initdb"));
    assert_eq!(pg_ctl, empty.path().join("15/bin/pg_ctl"));
}

/// The user the server runs as: ourselves, or a non-root user when we are root
/// (`BRIDGE_TEST_PG_USER`, else `postgres`, else `nobody`).
fn server_user() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    if let Ok(name) = std::env::var("BRIDGE_TEST_PG_USER")
        && !name.is_empty()
    {
        return Some(name);
    }
    for name in ["postgres", "nobody"] {
        let known = Command::new("id")
            .arg("-u")
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if known {
            return Some(name.to_owned());
        }
    }
    panic!(
        "running as root, the PostgreSQL tests need a non-root user to run the server as \
         (`postgres` or `nobody`), and neither exists"
    )
}

/// `program args…`, as `user` when given (through runuser), in `dir` (which that user can
/// enter, unlike, perhaps, the tests' own working directory).
fn command_as(user: Option<&str>, program: &Path, dir: &Path) -> Command {
    let mut c = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.arg("-u").arg(u).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    };
    c.current_dir(dir);
    c
}

fn run(what: &str, mut cmd: Command, log: &Path) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
    if !out.status.success() {
        let server_log = std::fs::read_to_string(log).unwrap_or_default();
        panic!(
            "{what} failed ({}):\n{}\n{}\nserver log:\n{server_log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start() -> Cluster {
    let (initdb, pg_ctl) = server_binaries();
    let user = server_user();
    let dir = tempfile::Builder::new()
        .prefix("bridge-pg-")
        .tempdir()
        .expect("a temp dir for the test cluster")
        .keep();
    if let Some(u) = &user {
        run(
            "chown of the test cluster's dir",
            {
                let mut c = Command::new("chown");
                c.arg(u).arg(&dir);
                c
            },
            Path::new("/dev/null"),
        );
    }
    let data = dir.join("data");
    let log = dir.join("server.log");
    let mut cmd = command_as(user.as_deref(), &initdb, &dir);
    cmd.arg("-D")
        .arg(&data)
        .arg("-U")
        .arg(SUPERUSER)
        .arg("--auth=trust")
        .arg("--encoding=UTF8")
        .arg("--locale=C")
        .arg("--no-sync");
    run("initdb", cmd, &log);

    // The watchdog first, so that nothing started below outlives this process.
    let watchdog = format!(
        "cd /; while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; \
         {as_user}'{pg_ctl}' stop -D '{data}' -m immediate >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        as_user = user
            .as_deref()
            .map(|u| format!("runuser -u {u} -- "))
            .unwrap_or_default(),
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    let watchdog = {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the test cluster's watchdog")
    };

    // A free port can be taken between the probe and the server's bind: try a few.
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='{dir}' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=200 -c shared_buffers=32MB",
            dir = dir.display()
        );
        let mut cmd = command_as(user.as_deref(), &pg_ctl, &dir);
        cmd.arg("start")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .arg("-w")
            .arg("-t")
            .arg("60")
            .arg("-o")
            .arg(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = cmd.output().expect("run pg_ctl start");
        if out.status.success() {
            return Cluster {
                dir,
                port,
                user: SUPERUSER,
                _watchdog: watchdog,
            };
        }
        last = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("pg_ctl start failed five times; last:\n{last}");
}
