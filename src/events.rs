//! In-process change events (jobs, orders, the connection) fanned out to GraphQL subscribers.
//!
//! A [`Bus`] is a bounded broadcast channel: publishing never waits, so a slow subscriber can
//! never stall a worker or a store write. A subscriber that falls behind loses the oldest
//! events and is told how many it missed ([`Missed`]), then goes on with the newest.
//!
//! Events travel as `Arc<T>`: each is allocated once however many subscribers read it, and a
//! subscriber that filters (one order, one job) copies only the events it keeps.

use std::sync::Arc;

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
pub struct Bus<T: Send + Sync + 'static> {
    tx: broadcast::Sender<Arc<T>>,
}

impl<T: Send + Sync + 'static> Clone for Bus<T> {
    fn clone(&self) -> Self {
        Bus {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> Default for Bus<T> {
    fn default() -> Self {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl<T: Send + Sync + 'static> Bus<T> {
    /// Sends `event` to every current subscriber; never blocks.
    pub fn publish(&self, event: T) {
        let _ = self.tx.send(Arc::new(event));
    }

    /// Every event from now on, with [`Missed`] items where this subscriber fell behind.
    pub fn subscribe(&self) -> impl Stream<Item = Result<Arc<T>, Missed>> + Send + use<T> {
        BroadcastStream::new(self.tx.subscribe())
            .map(|r| r.map_err(|BroadcastStreamRecvError::Lagged(n)| Missed(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_share_one_copy_of_each_event() {
        let bus: Bus<String> = Bus::default();
        let mut a = Box::pin(bus.subscribe());
        let mut b = Box::pin(bus.subscribe());
        bus.publish("order 1001".to_owned());
        let (x, y) = (
            a.next().await.unwrap().unwrap(),
            b.next().await.unwrap().unwrap(),
        );
        assert!(Arc::ptr_eq(&x, &y), "one allocation for both subscribers");
        assert_eq!(*x, "order 1001");
    }
}
