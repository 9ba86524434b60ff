//! In-process change events (jobs, orders, the connection) fanned out to GraphQL subscribers.
//!
//! A [`Bus`] is a bounded broadcast channel: publishing never waits, so a slow subscriber can
//! never stall a worker or a store write. A subscriber that falls behind loses the oldest
//! events and is told how many it missed ([`Missed`]), then goes on with the newest.

use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

/// How many events a subscriber may fall behind before it starts missing some.
pub const CAPACITY: usize = 1024;

/// A subscriber fell behind and missed this many events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed(pub u64);

impl std::fmt::Display for Missed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this subscriber fell behind and missed {} events",
            self.0
        )
    }
}

/// A broadcast channel of `T` events.
#[derive(Clone)]
pub struct Bus<T: Clone + Send + 'static> {
    tx: broadcast::Sender<T>,
}

impl<T: Clone + Send + 'static> Default for Bus<T> {
    fn default() -> Self {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl<T: Clone + Send + 'static> Bus<T> {
    /// Sends `event` to every current subscriber; never blocks.
    pub fn publish(&self, event: T) {
        let _ = self.tx.send(event);
    }

    /// Every event from now on, with [`Missed`] items where this subscriber fell behind.
    pub fn subscribe(&self) -> impl Stream<Item = Result<T, Missed>> + Send + use<T> {
        BroadcastStream::new(self.tx.subscribe())
            .map(|r| r.map_err(|BroadcastStreamRecvError::Lagged(n)| Missed(n)))
    }
}
