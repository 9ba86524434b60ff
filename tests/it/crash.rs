//! Crash recovery with a real process: jobs whose handler is slow are killed (SIGKILL) mid-run,
//! twice, and the process is restarted on the same data dir each time. Every job must finish
//! exactly once more than it was interrupted: none lost, none stuck RUNNING, every interrupted
//! attempt recorded.
//!
//! The process is this test binary itself, re-run with `--ignored --exact crash::worker` and
//! `JOBS_CRASH_WORKER` set: a test-only mode that never reaches the shipped binary or schema.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use acumatica_bridge::jobs::{
    JobContext, JobFilter, JobStatus, Jobs, JobsConfig, KindSpec, NewJob, Outcome,
};
use acumatica_bridge::store::Store;
use futures::StreamExt;

use crate::jobs::kind;

const JOBS: usize = 6;

/// What the worker process needs, passed in `JOBS_CRASH_WORKER` as `dir|log|sleep_ms`.
fn spawn(dir: &Path, log: &Path, sleep_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash::worker", "--nocapture"])
        .env(
            "JOBS_CRASH_WORKER",
            format!("{}|{}|{sleep_ms}", dir.display(), log.display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn wait_for_starts(log: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines(log).iter().filter(|l| l.starts_with("start")).count() < n {
        assert!(Instant::now() < deadline, "only {:?}", lines(log));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_mid_run_loses_no_job_and_leaves_none_running() {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let log = dir.path().join("runs.log");
    // Two runs killed while every handler sleeps, then one that finishes.
    for round in 1..=2 {
        let mut child = spawn(&data, &log, 5_000);
        wait_for_starts(&log, JOBS * round);
        std::thread::sleep(Duration::from_millis(200));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let mut child = spawn(&data, &log, 50);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the last run did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the last run failed: {status}");

    let mut starts: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ends: BTreeMap<u64, usize> = BTreeMap::new();
    for line in lines(&log) {
        let mut parts = line.split(' ');
        let (what, id) = (
            parts.next().unwrap(),
            parts.next().unwrap().parse().unwrap(),
        );
        *match what {
            "start" => &mut starts,
            _ => &mut ends,
        }
        .entry(id)
        .or_default() += 1;
    }
    let store = Store::open(&data, 1 << 20).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let jobs = rt
        .block_on(Jobs::open(
            &store,
            JobsConfig::new(10, Duration::from_millis(50)),
        ))
        .unwrap();
    let all: Vec<_> = jobs
        .list(500, None, &JobFilter::default())
        .unwrap()
        .items
        .into_iter()
        .map(|(j, _)| j)
        .collect();
    assert_eq!(all.len(), JOBS, "no job lost, none made twice");
    for j in &all {
        assert_eq!(j.status, JobStatus::Succeeded, "{j:#?}");
        let interrupted = j
            .history
            .iter()
            .filter(|a| {
                a.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("interrupted"))
            })
            .count();
        assert_eq!(interrupted, 2, "{j:#?}");
        assert_eq!(j.history.len(), interrupted + 1, "{j:#?}");
        assert_eq!(j.attempts as usize, interrupted + 1);
        assert_eq!(starts[&j.id], interrupted + 1, "runs of job {}", j.id);
        assert_eq!(ends.get(&j.id), Some(&1), "job {} finished once", j.id);
        assert!(j.history.iter().all(|a| a.finished_at.is_some()));
    }
}

/// The worker process of the crash test (does nothing unless run by it).
#[test]
#[ignore = "helper: the crash test runs it as a child process"]
fn worker() {
    let Ok(spec) = std::env::var("JOBS_CRASH_WORKER") else {
        return;
    };
    let mut parts = spec.split('|');
    let (dir, log, sleep_ms) = (
        PathBuf::from(parts.next().unwrap()),
        PathBuf::from(parts.next().unwrap()),
        parts.next().unwrap().parse::<u64>().unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir, 4 << 20).unwrap();
        let jobs = Jobs::open(&store, JobsConfig::new(10, Duration::from_millis(50)))
            .await
            .unwrap();
        let slow = kind("T_CRASH_SLOW");
        jobs.register(
            KindSpec::new(slow.clone()).concurrency(JOBS),
            move |ctx: JobContext| {
                let log = log.clone();
                async move {
                    let append = |line: String| {
                        let mut f = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&log)
                            .unwrap();
                        f.write_all(line.as_bytes()).unwrap();
                    };
                    append(format!("start {} {}\n", ctx.id(), ctx.attempt()));
                    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
                    append(format!("end {}\n", ctx.id()));
                    Outcome::Done
                }
            },
        );
        if jobs
            .list(1, None, &JobFilter::default())
            .unwrap()
            .total_count
            == 0
        {
            for i in 0..JOBS {
                jobs.push(NewJob::new(slow.clone(), serde_json::json!(i)))
                    .await
                    .unwrap();
            }
        }
        let mut events = jobs.bus().subscribe();
        jobs.start().await.unwrap();
        let all_done = |jobs: &Jobs| {
            jobs.list(500, None, &JobFilter::default())
                .unwrap()
                .items
                .iter()
                .all(|(j, _)| !j.status.is_live())
        };
        while !all_done(&jobs) {
            let _ = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
        }
        jobs.shutdown().await.unwrap();
    });
}
