//! Group commit for sled: callers ask for "everything I wrote is on disk"; one background task
//! gathers all requests that arrive while a flush runs and answers them with the next flush.
//! The flusher is a plain thread (fsync blocks), so it needs no async runtime to start.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Result, StoreError};

type Waiter = oneshot::Sender<std::result::Result<(), String>>;

/// Handle to the flush task. Cheap to clone.
#[derive(Clone)]
pub struct Flusher {
    tx: mpsc::Sender<Waiter>,
}

impl Flusher {
    /// Starts the flush thread for `db`; it ends when the last handle is dropped.
    pub fn start(db: sled::Db) -> Flusher {
        let (tx, rx) = mpsc::channel::<Waiter>();
        std::thread::Builder::new()
            .name("sled-flush".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiters = vec![first];
                    waiters.extend(rx.try_iter());
                    let outcome = db.flush().map(|_| ()).map_err(|e| e.to_string());
                    for waiter in waiters {
                        let _ = waiter.send(outcome.clone());
                    }
                }
            })
            .expect("cannot start the flush thread");
        Flusher { tx }
    }

    /// Waits until every write made before this call is durable.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| StoreError::Flush("the flush task has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Flush("the flush task has stopped".into()))?
            .map_err(StoreError::Flush)
    }
}
