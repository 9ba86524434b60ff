//! Push-and-complete throughput of no-op jobs, durable: acumatica-bridge's sled job queue
//! against apalis-sqlite, side by side in one process run.
//!
//! For each number of concurrent producers (1, 8, 64), each backend gets a fresh store in a
//! directory on the same disk (`--dir`, default: the current directory). Producers push
//! `--jobs` jobs in total, one awaited push at a time each (a push answers once the job is
//! durable); one worker with the same concurrency and fetch batch runs them with a no-op
//! handler. The clock stops when every job's completion is durable.
//!
//! Equal durability: SQLite in WAL mode with `synchronous=FULL` (every commit fsyncs);
//! sled flushes (fsync) before a push answers, before claimed jobs run, and after acks.
//! Same pick-up strategy: no polling; SQLite's update hook on inserts wakes its worker
//! (`poll_with_stream`), our queue's `Notify` wakes ours. Same payload.
//!
//! Run: `cargo run --release -p jobs-bench -- [--jobs N] [--concurrency C] [--dir PATH]`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use acumatica_bridge::jobs::{
    JobContext, JobKind, JobStatus, Jobs, JobsConfig, KindSpec, NewJob, Outcome,
};
use acumatica_bridge::store::Store;
use apalis::layers::WorkerBuilderExt;
use apalis_core::backend::TaskSink;
use apalis_core::backend::ext::BackendExt;
use apalis_core::error::BoxDynError;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_sqlite::{Config, SqliteStorage};
use futures::channel::mpsc;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Noop {
    n: u64,
    order: String,
}

fn payload(n: u64) -> Noop {
    Noop {
        n,
        order: format!("ORDER-{n:08}"),
    }
}

struct Args {
    jobs: u64,
    concurrency: usize,
    dir: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        jobs: 2000,
        concurrency: 16,
        dir: PathBuf::from("."),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--jobs" => a.jobs = value.parse().expect("--jobs N"),
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency C"),
            "--dir" => a.dir = PathBuf::from(value),
            _ => panic!("unknown flag {flag}; flags: --jobs N --concurrency C --dir PATH"),
        }
    }
    a
}

/// Our queue: pushes through `Jobs::push`, runs with an apalis worker on the sled backend.
/// Returns the time and the number of fsyncs (group commits) it took.
async fn run_sled(a: &Args, producers: u64) -> (Duration, u64) {
    let dir = tempfile::tempdir_in(&a.dir).unwrap();
    let store = Store::open(dir.path(), 64 << 20).unwrap();
    let jobs = Jobs::open(&store, JobsConfig::new(3, Duration::from_millis(100)))
        .await
        .unwrap();
    let kind = JobKind::new("BENCH_NOOP").unwrap();
    jobs.register(
        KindSpec::new(kind.clone()).concurrency(a.concurrency),
        |ctx: JobContext| async move {
            let _: Noop = match ctx.payload() {
                Ok(p) => p,
                Err(o) => return o,
            };
            Outcome::Done
        },
    );
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    jobs.on_change(move |j| {
        if j.status == JobStatus::Succeeded {
            d.fetch_add(1, Ordering::SeqCst);
        }
    });
    jobs.start().await.unwrap();
    let syncs = store.syncs();
    let start = Instant::now();
    let per = a.jobs / producers;
    let mut tasks = vec![];
    for p in 0..producers {
        let (jobs, kind) = (jobs.clone(), kind.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let n = p * per + i;
                let value = serde_json::to_value(payload(n)).unwrap();
                jobs.push(NewJob::new(kind.clone(), value)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    while done.load(Ordering::SeqCst) < per * producers {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    store.flush().await.unwrap(); // the last acks are durable
    let took = start.elapsed();
    let syncs = store.syncs() - syncs;
    jobs.shutdown().await.unwrap();
    (took, syncs)
}

/// apalis-sqlite: WAL + synchronous=FULL, woken by SQLite's update hook on inserts.
async fn run_sqlite(a: &Args, producers: u64) -> Duration {
    let dir = tempfile::tempdir_in(&a.dir).unwrap();
    let file = dir.path().join("jobs.sqlite");
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        // Writers wait for the lock rather than fail under 64 producers.
        .busy_timeout(Duration::from_secs(120));
    // Migrations on a pool of their own: `setup` turns synchronous off on its connection.
    {
        let setup = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .unwrap();
        SqliteStorage::setup(&setup).await.unwrap();
        setup.close().await;
    }
    let (tx, rx) = mpsc::unbounded::<()>();
    let pool = SqlitePoolOptions::new()
        .after_connect(move |conn, _| {
            let tx = tx.clone();
            Box::pin(async move {
                let mut handle = conn.lock_handle().await?;
                handle.set_update_hook(move |ev| {
                    if ev.table == "Jobs"
                        && matches!(ev.operation, sqlx::sqlite::SqliteOperation::Insert)
                    {
                        let _ = tx.unbounded_send(());
                    }
                });
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .unwrap();
    let mode: (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode.0, 2, "synchronous=FULL");
    let config = Config::default().queue("bench").batch_size(a.concurrency);
    let storage = SqliteStorage::<Noop>::new(&pool).with_config(config);
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let worker = WorkerBuilder::new("sqlite-bench")
        .backend(storage.clone().poll_with_stream(rx))
        .concurrency(a.concurrency)
        .build(move |_job: Noop| {
            let d = d.clone();
            async move {
                d.fetch_add(1, Ordering::SeqCst);
                Ok::<(), BoxDynError>(())
            }
        });
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stop_rx.await;
        Ok::<(), std::io::Error>(())
    }));
    let start = Instant::now();
    let per = a.jobs / producers;
    let mut tasks = vec![];
    for p in 0..producers {
        let mut storage = storage.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                storage.push(payload(p * per + i)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Done when every ack is committed (each commit is durable with synchronous=FULL).
    loop {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Jobs WHERE status = 'Done'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if n as u64 >= per * producers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = start.elapsed();
    assert_eq!(done.load(Ordering::SeqCst), per * producers);
    let _ = stop.send(());
    let _ = running.await;
    pool.close().await;
    took
}

#[tokio::main]
async fn main() {
    let a = args();
    println!(
        "{} no-op jobs per run, worker concurrency {}, stores under {}",
        a.jobs,
        a.concurrency,
        a.dir.canonicalize().unwrap_or(a.dir.clone()).display()
    );
    println!(
        "| producers | sled (jobs/s) | apalis-sqlite (jobs/s) | ratio | sled fsyncs per job |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for producers in [1u64, 8, 64] {
        let n = (a.jobs / producers * producers) as f64;
        let sqlite = run_sqlite(&a, producers).await;
        let (sled, syncs) = run_sled(&a, producers).await;
        let (s, q) = (n / sled.as_secs_f64(), n / sqlite.as_secs_f64());
        println!(
            "| {producers} | {s:.0} | {q:.0} | {:.2}x | {:.2} |",
            s / q,
            syncs as f64 / n
        );
    }
}
