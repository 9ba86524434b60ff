//! Group commit for sled: callers ask for "everything I wrote is on disk"; one background task
//! gathers all requests that arrive while a flush runs and answers them with the next flush.
//! The flusher is a plain thread (fsync blocks), so it needs no async runtime to start.
//!
//! A failed flush (a full disk, an I/O error) makes the store unhealthy for the rest of the
//! process's life ([`Health`]): every later flush is refused at once, so that no caller is
//! told its change is durable, `/healthz` answers 503 and mutations are refused.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Result, StoreError};

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

/// What the flush thread runs: an fsync of the whole database.
pub type FlushFn = Box<dyn FnMut() -> std::result::Result<(), String> + Send>;

/// Whether the store can still take writes: unhealthy (with the reason) once a flush failed.
#[derive(Clone, Default)]
pub struct Health(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl Health {
    /// The reason the store is unhealthy, if it is.
    pub fn problem(&self) -> Option<String> {
        self.0.lock().ok().and_then(|p| p.clone())
    }

    fn fail(&self, why: &str) {
        if let Ok(mut p) = self.0.lock()
            && p.is_none()
        {
            tracing::error!(
                error = why,
                "a flush to disk failed (is the disk full?): the store is unhealthy from now on; \
                 writes are refused and /healthz answers 503 until the service is restarted"
            );
            *p = Some(format!(
                "the store is unhealthy since a flush to disk failed ({why}); writes are refused \
                 until the service is restarted (free disk space first)"
            ));
        }
    }
}

/// Handle to the flush thread. Cheap to clone; when the last clone is dropped the thread is
/// stopped and joined, so that the database is closed (and its lock released) on return.
#[derive(Clone)]
pub struct Flusher {
    inner: std::sync::Arc<Inner>,
    health: Health,
}

struct Inner {
    /// fsyncs done so far (to measure how many writers share one).
    syncs: std::sync::Arc<std::sync::atomic::AtomicU64>,
    tx: std::sync::Mutex<Option<mpsc::Sender<Waiter>>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.lock().map(|mut tx| tx.take()).ok();
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl Flusher {
    /// Starts the flush thread for `db`; it ends when the last handle is dropped.
    pub fn start(db: sled::Db) -> Flusher {
        Flusher::start_with(Box::new(move || {
            db.flush().map(|_| ()).map_err(|e| e.to_string())
        }))
    }

    /// Starts the flush thread with `flush` as its fsync (tests inject failures here).
    pub fn start_with(mut flush: FlushFn) -> Flusher {
        let health = Health::default();
        let failed = health.clone();
        let (tx, rx) = mpsc::channel::<Waiter>();
        let syncs = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = syncs.clone();
        let thread = std::thread::Builder::new()
            .name("sled-flush".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiters = vec![first];
                    waiters.extend(rx.try_iter());
                    let outcome = flush();
                    if let Err(why) = &outcome {
                        failed.fail(why);
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    for waiter in waiters {
                        let _ = waiter.send(outcome.clone());
                    }
                }
            })
            .expect("cannot start the flush thread");
        Flusher {
            inner: std::sync::Arc::new(Inner {
                syncs,
                tx: std::sync::Mutex::new(Some(tx)),
                thread: std::sync::Mutex::new(Some(thread)),
            }),
            health,
        }
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// How many flushes (fsyncs) the thread has done.
    pub fn syncs(&self) -> u64 {
        self.inner.syncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until every write made before this call is durable.
    pub async fn flush(&self) -> Result<()> {
        if let Some(problem) = self.health.problem() {
            return Err(StoreError::Unhealthy(problem));
        }
        let (tx, rx) = oneshot::channel();
        let sent = match self.inner.tx.lock() {
            Ok(guard) => guard.as_ref().is_some_and(|s| s.send(tx).is_ok()),
            Err(_) => false,
        };
        if !sent {
            return Err(StoreError::Flush("the flush task has stopped".into()));
        }
        rx.await
            .map_err(|_| StoreError::Flush("the flush task has stopped".into()))?
            .map_err(|_| StoreError::Unhealthy(self.health.problem().unwrap_or_default()))
    }
}
