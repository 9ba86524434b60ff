//! Group commit for sled: callers ask for "everything I wrote is on disk"; one background task
//! gathers all requests that arrive while a flush runs and answers them with the next flush.
//! The flusher is a plain thread (fsync blocks), so it needs no async runtime to start.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Result, StoreError};

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

/// Handle to the flush thread. Cheap to clone; when the last clone is dropped the thread is
/// stopped and joined, so that the database is closed (and its lock released) on return.
#[derive(Clone)]
pub struct Flusher {
    inner: std::sync::Arc<Inner>,
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
        let (tx, rx) = mpsc::channel::<Waiter>();
        let syncs = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = syncs.clone();
        let thread = std::thread::Builder::new()
            .name("sled-flush".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiters = vec![first];
                    waiters.extend(rx.try_iter());
                    let outcome = db.flush().map(|_| ()).map_err(|e| e.to_string());
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
        }
    }

    /// How many flushes (fsyncs) the thread has done.
    pub fn syncs(&self) -> u64 {
        self.inner.syncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until every write made before this call is durable.
    pub async fn flush(&self) -> Result<()> {
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
            .map_err(StoreError::Flush)
    }
}
