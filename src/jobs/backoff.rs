//! Retry delays: exponential backoff with full jitter.
//!
//! The n-th retry waits a random time in `[0, min(cap, base * 2^(n-1))]` (AWS's "full
//! jitter"), so that many jobs failing together (an outage) do not all come back at once.
//! `base` is `--retry-base-delay-ms`; the cap is 10 minutes.

use std::time::Duration;

use rand::Rng;

/// The largest retry delay.
pub const CAP: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration) -> Backoff {
        Backoff { base, cap: CAP }
    }

    /// The ceiling of the delay after `attempts` failed attempts (1 = the first failure).
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// A random delay in `[0, ceiling(attempts)]`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let ceiling = self.ceiling(attempts).as_millis() as u64;
        Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(2000));
        assert_eq!(b.ceiling(1), Duration::from_millis(2000));
        assert_eq!(b.ceiling(2), Duration::from_millis(4000));
        assert_eq!(b.ceiling(5), Duration::from_millis(32_000));
        assert_eq!(b.ceiling(9), Duration::from_millis(512_000));
        assert_eq!(b.ceiling(10), CAP);
        assert_eq!(b.ceiling(1000), CAP);
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_varies() {
        let b = Backoff::new(Duration::from_millis(100));
        let delays: Vec<_> = (0..200).map(|_| b.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 20, "full jitter spreads the delays");
    }
}
