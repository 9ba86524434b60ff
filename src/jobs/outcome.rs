//! How a handler's run ends ([`Outcome`]) and what that makes of the job ([`settle`]).
//!
//! This is the one retry mechanism: no tower retry layer runs around handlers; every outcome
//! comes back here and decides the job's next status on disk.
//!
//! | outcome | next status |
//! |---|---|
//! | `Done` | SUCCEEDED |
//! | `Transient` | RETRY_SCHEDULED after a backoff delay, or FAILED once attempts reach max |
//! | `RetryAfter(d)` | RETRY_SCHEDULED after `d` (a 429's Retry-After), or FAILED at max |
//! | `Permanent(class, _)` | FAILED at once, with its class (DATA or CONFIGURATION) |
//! | `Canceled` | CANCELED at once: the work is no longer wanted (the reason is kept) |
//! | `NotReady` | QUEUED, parked on a wake condition; the run does not count as an attempt |
//!
//! The job's `error_class` follows its last run: TRANSIENT for `Transient` and `RetryAfter`,
//! the given class for `Permanent`, none after `Done` or `Canceled`.
//!
//! A RUNNING job whose cancellation was asked ends CANCELED unless its run was `Done`.
//! No retry waits longer than [`MAX_RETRY_WAIT`], whatever a server's `Retry-After` said.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::backoff::Backoff;
use super::record::{JobRecord, JobStatus, Parked};
use crate::domain::ErrorClass;

/// The longest a retry waits (a `Retry-After` of decades must not park a job for good).
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

/// `now + delay`, with the delay capped at [`MAX_RETRY_WAIT`] (never overflows).
pub fn retry_at(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    let delay = chrono::Duration::from_std(delay.min(MAX_RETRY_WAIT)).unwrap_or_default();
    now.checked_add_signed(delay).unwrap_or(now)
}

/// The end of one run of a handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Done,
    /// Worth trying again later (a timeout, a 5xx, a dropped connection).
    Transient(String),
    /// Trying again cannot help (bad data, a 4xx that will not change, a configuration
    /// problem): FAILED at once with its class.
    Permanent(ErrorClass, String),
    /// The work is no longer wanted (e.g. the order was canceled while its sync waited).
    Canceled(String),
    /// Try again after this delay, e.g. a 429's Retry-After; counts as an attempt.
    RetryAfter(Duration, String),
    /// The job cannot run yet (not connected, Acumatica unreachable): back to QUEUED without
    /// counting an attempt, until `Jobs::wake(until)` is called.
    NotReady {
        until: String,
        reason: String,
    },
}

impl Outcome {
    pub fn transient(e: impl std::fmt::Display) -> Outcome {
        Outcome::Transient(e.to_string())
    }
    pub fn permanent(class: ErrorClass, e: impl std::fmt::Display) -> Outcome {
        Outcome::Permanent(class, e.to_string())
    }
    /// A data problem: the order or a record must be fixed first.
    pub fn data(e: impl std::fmt::Display) -> Outcome {
        Outcome::permanent(ErrorClass::Data, e)
    }
    /// A configuration problem: credentials, rights or settings must be fixed first.
    pub fn config(e: impl std::fmt::Display) -> Outcome {
        Outcome::permanent(ErrorClass::Configuration, e)
    }
    pub fn not_ready(until: impl Into<String>, reason: impl Into<String>) -> Outcome {
        Outcome::NotReady {
            until: until.into(),
            reason: reason.into(),
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Outcome::Done | Outcome::NotReady { .. } => None,
            Outcome::Transient(e)
            | Outcome::Permanent(_, e)
            | Outcome::Canceled(e)
            | Outcome::RetryAfter(_, e) => Some(e),
        }
    }
}

/// What the worker sends back for one run: the outcome, and the wake epoch when the run
/// started (a wake during the run means a `NotReady` must not park: the condition it waits
/// for may already hold).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finished {
    pub outcome: Outcome,
    pub wake_epoch: u64,
}

/// The job after its RUNNING attempt ended with `outcome`. `woke`: a wake happened while it
/// ran, so `NotReady` puts it straight back to runnable instead of parking it.
pub fn settle(
    job: &JobRecord,
    outcome: &Outcome,
    now: DateTime<Utc>,
    backoff: &Backoff,
    woke: bool,
) -> JobRecord {
    let mut next = job.clone();
    next.updated_at = now;
    next.lock_by = None;
    next.run_at = None;
    if let Outcome::NotReady { until, reason } = outcome {
        // Not an attempt: forget the run.
        if next.open_attempt_mut().is_some() {
            next.history.pop();
            next.attempts = next.attempts.saturating_sub(1);
        }
        if next.cancel_requested {
            next.status = JobStatus::Canceled;
            next.cancel_requested = false;
            return next;
        }
        next.status = JobStatus::Queued;
        if woke {
            next.run_at = Some(now);
        } else {
            next.waiting_for = Some(Parked {
                condition: until.clone(),
                reason: reason.clone(),
            });
        }
        return next;
    }
    if let Some(a) = next.open_attempt_mut() {
        a.finished_at = Some(now);
        a.error = outcome.error().map(str::to_owned);
    }
    let retry_in = |delay: Duration, next: &mut JobRecord| {
        if next.attempts >= next.max_attempts {
            next.status = JobStatus::Failed;
        } else {
            next.status = JobStatus::RetryScheduled;
            next.run_at = Some(retry_at(now, delay));
        }
    };
    next.error_class = match outcome {
        Outcome::Transient(_) | Outcome::RetryAfter(..) => Some(ErrorClass::Transient),
        Outcome::Permanent(class, _) => Some(*class),
        _ => None,
    };
    match outcome {
        Outcome::Done => {
            next.status = JobStatus::Succeeded;
            next.last_error = None;
        }
        _ if next.cancel_requested => {
            next.status = JobStatus::Canceled;
            next.error_class = None;
            next.last_error = outcome.error().map(str::to_owned);
        }
        Outcome::Transient(e) => {
            next.last_error = Some(e.clone());
            retry_in(backoff.delay(next.attempts), &mut next);
        }
        Outcome::RetryAfter(d, e) => {
            next.last_error = Some(e.clone());
            retry_in(*d, &mut next);
        }
        Outcome::Permanent(_, e) => {
            next.last_error = Some(e.clone());
            next.status = JobStatus::Failed;
        }
        Outcome::Canceled(e) => {
            next.last_error = Some(e.clone());
            next.status = JobStatus::Canceled;
        }
        Outcome::NotReady { .. } => unreachable!("handled above"),
    }
    next.cancel_requested = false;
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::record::{Attempt, JobKind};

    fn running(attempts: u32, max: u32) -> JobRecord {
        let now = Utc::now();
        JobRecord {
            id: 7,
            kind: JobKind::SYNC_ORDER,
            payload: serde_json::json!({}),
            status: JobStatus::Running,
            attempts,
            max_attempts: max,
            run_at: None,
            lock_by: Some("w".into()),
            history: (1..=attempts)
                .map(|n| Attempt {
                    number: n,
                    started_at: now,
                    finished_at: (n < attempts).then_some(now),
                    error: None,
                })
                .collect(),
            created_at: now,
            updated_at: now,
            unique_key: None,
            order_number: None,
            last_error: None,
            progress: None,
            waiting_for: None,
            cancel_requested: false,
            error_class: None,
        }
    }

    fn b() -> Backoff {
        Backoff::new(Duration::from_millis(100))
    }

    #[test]
    fn done_succeeds_and_closes_the_attempt() {
        let j = settle(&running(1, 3), &Outcome::Done, Utc::now(), &b(), false);
        assert_eq!(j.status, JobStatus::Succeeded);
        assert!(j.history[0].finished_at.is_some());
        assert_eq!(j.lock_by, None);
    }

    #[test]
    fn transient_retries_until_max_attempts() {
        let now = Utc::now();
        let j = settle(&running(1, 3), &Outcome::transient("503"), now, &b(), false);
        assert_eq!(j.status, JobStatus::RetryScheduled);
        let due = j.run_at.unwrap();
        assert!(due >= now && due <= now + chrono::Duration::milliseconds(100));
        assert_eq!(j.history[0].error.as_deref(), Some("503"));
        assert_eq!(j.last_error.as_deref(), Some("503"));
        let j = settle(&running(3, 3), &Outcome::transient("503"), now, &b(), false);
        assert_eq!(j.status, JobStatus::Failed);
        assert_eq!(j.run_at, None);
    }

    #[test]
    fn permanent_fails_at_once() {
        let j = settle(
            &running(1, 12),
            &Outcome::data("bad"),
            Utc::now(),
            &b(),
            false,
        );
        assert_eq!(j.status, JobStatus::Failed);
        assert_eq!(j.attempts, 1);
        assert_eq!(j.error_class, Some(ErrorClass::Data));
        let j = settle(
            &running(1, 12),
            &Outcome::transient("503"),
            Utc::now(),
            &b(),
            false,
        );
        assert_eq!(j.error_class, Some(ErrorClass::Transient));
        let j = settle(&j, &Outcome::Done, Utc::now(), &b(), false);
        assert_eq!(j.error_class, None);
    }

    #[test]
    fn retry_after_waits_the_given_delay() {
        let now = Utc::now();
        let o = Outcome::RetryAfter(Duration::from_secs(30), "429".into());
        let j = settle(&running(1, 12), &o, now, &b(), false);
        assert_eq!(j.status, JobStatus::RetryScheduled);
        assert_eq!(j.run_at, Some(now + chrono::Duration::seconds(30)));
    }

    #[test]
    fn a_huge_retry_after_is_capped_at_an_hour() {
        let now = Utc::now();
        for secs in [u64::MAX, 1 << 40, 10_000_000_000] {
            let o = Outcome::RetryAfter(Duration::from_secs(secs), "429".into());
            let j = settle(&running(1, 12), &o, now, &b(), false);
            assert_eq!(j.status, JobStatus::RetryScheduled);
            assert_eq!(j.run_at, Some(now + chrono::Duration::hours(1)), "{secs}");
        }
        let late = DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(1);
        assert_eq!(retry_at(late, Duration::from_secs(60)), late, "no overflow");
    }

    #[test]
    fn not_ready_parks_without_counting() {
        let o = Outcome::not_ready("connected", "not connected");
        let j = settle(&running(2, 12), &o, Utc::now(), &b(), false);
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(j.attempts, 1);
        assert_eq!(j.history.len(), 1);
        assert_eq!(j.waiting_for.as_ref().unwrap().condition, "connected");
        let woke = settle(&running(2, 12), &o, Utc::now(), &b(), true);
        assert_eq!(
            woke.waiting_for, None,
            "a wake during the run: runnable at once"
        );
        assert!(woke.run_at.is_some());
    }

    #[test]
    fn a_cancel_request_wins_over_a_retry_but_not_over_done() {
        let mut r = running(1, 12);
        r.cancel_requested = true;
        let j = settle(&r, &Outcome::transient("x"), Utc::now(), &b(), false);
        assert_eq!(j.status, JobStatus::Canceled);
        assert!(!j.cancel_requested);
        let j = settle(&r, &Outcome::Done, Utc::now(), &b(), false);
        assert_eq!(j.status, JobStatus::Succeeded);
    }
}
