//! Good citizenship toward the license limits: at most `max_rpm` requests a minute, spread
//! evenly (one every 60 s / max_rpm, never in bursts, because Acumatica delays a client once half
//! its per-minute budget is used), and at most `max_concurrency` in flight. One limiter serves
//! one instance and every request to it, token and sign-out requests included. A 429's
//! `Retry-After` (or the client's own backoff) pauses it for everyone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: Mutex<Instant>,
    in_flight: Arc<Semaphore>,
}

/// Held while a request is in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    _slot: OwnedSemaphorePermit,
}

impl Limiter {
    pub fn new(max_rpm: u32, max_concurrency: u32) -> Limiter {
        Limiter {
            interval: Duration::from_secs(60) / max_rpm.max(1),
            next: Mutex::new(Instant::now()),
            in_flight: Arc::new(Semaphore::new(max_concurrency.max(1) as usize)),
        }
    }

    /// The spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for a free in-flight slot, then for this request's turn.
    pub async fn acquire(&self) -> Permit {
        let slot = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the limiter's semaphore is never closed");
        let at = {
            let mut next = self.next.lock().expect("limiter lock");
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
        Permit { _slot: slot }
    }

    /// No request starts before `wait` has passed (for `Retry-After` and 429 backoff).
    pub fn pause_for(&self, wait: Duration) {
        let now = Instant::now();
        let until = now.checked_add(wait).unwrap_or(now);
        let mut next = self.next.lock().expect("limiter lock");
        if *next < until {
            *next = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spreads_requests_evenly() {
        let limiter = Arc::new(Limiter::new(1200, 8));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let _p = l.acquire().await;
                Instant::now() - start
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        // The i-th request may not start before i intervals have passed (timers never fire
        // early, so this cannot be flaky).
        for (i, t) in times.iter().enumerate() {
            assert!(*t >= limiter.interval() * i as u32, "{times:?}");
        }
    }

    #[tokio::test]
    async fn pause_delays_the_next_request() {
        let limiter = Limiter::new(60_000, 1);
        let start = Instant::now();
        limiter.pause_for(Duration::from_millis(300));
        drop(limiter.acquire().await);
        assert!(Instant::now() - start >= Duration::from_millis(300));
    }
}
