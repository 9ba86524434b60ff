//! What a job is on disk: [`JobRecord`] with its [`JobKind`], [`JobStatus`], attempt history
//! and progress, and [`NewJob`], what a caller hands in to create one.
//!
//! Kinds are strings inside the queue (`[A-Z0-9_]`, at most 64 bytes), so that tests and later
//! issues can register kinds of their own; the GraphQL API maps the shipped ones
//! ([`JobKind::SHIPPED`]) to the contract's `JobKind` enum and never shows the others.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind of a job: which handler runs it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobKind(Cow<'static, str>);

impl JobKind {
    pub const CONNECT: JobKind = JobKind(Cow::Borrowed("CONNECT"));
    pub const SIGN_OUT: JobKind = JobKind(Cow::Borrowed("SIGN_OUT"));
    pub const REFRESH_LOOKUPS: JobKind = JobKind(Cow::Borrowed("REFRESH_LOOKUPS"));
    pub const SYNC_ORDER: JobKind = JobKind(Cow::Borrowed("SYNC_ORDER"));
    pub const IMPORT_ORDERS: JobKind = JobKind(Cow::Borrowed("IMPORT_ORDERS"));
    pub const SEND_ALERT: JobKind = JobKind(Cow::Borrowed("SEND_ALERT"));
    pub const CANCEL_ORDER: JobKind = JobKind(Cow::Borrowed("CANCEL_ORDER"));
    pub const WRITE_BACK: JobKind = JobKind(Cow::Borrowed("WRITE_BACK"));
    pub const RECORD_PAYMENT: JobKind = JobKind(Cow::Borrowed("RECORD_PAYMENT"));
    pub const CREATE_REFUND_CREDIT: JobKind = JobKind(Cow::Borrowed("CREATE_REFUND_CREDIT"));

    /// The kinds of the contract, the only ones the GraphQL API shows.
    pub const SHIPPED: [JobKind; 10] = [
        JobKind::CONNECT,
        JobKind::SIGN_OUT,
        JobKind::REFRESH_LOOKUPS,
        JobKind::SYNC_ORDER,
        JobKind::IMPORT_ORDERS,
        JobKind::SEND_ALERT,
        JobKind::CANCEL_ORDER,
        JobKind::WRITE_BACK,
        JobKind::RECORD_PAYMENT,
        JobKind::CREATE_REFUND_CREDIT,
    ];

    /// A kind by name: upper-case letters, digits and `_`, 1 to 64 of them.
    pub fn new(name: impl Into<String>) -> Result<JobKind, String> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(JobKind(Cow::Owned(name)))
        } else {
            Err(format!(
                "a job kind is 1 to 64 of A-Z, 0-9 and _, got \"{name}\""
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_shipped(&self) -> bool {
        JobKind::SHIPPED.contains(self)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The contract's JobStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Waits to run: runnable now, or parked until a wake condition (see `waiting_for`).
    Queued,
    /// Claimed by a worker; an attempt is open.
    Running,
    /// Failed an attempt and runs again at `run_at`.
    RetryScheduled,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    /// QUEUED, RUNNING or RETRY_SCHEDULED: the job will still run. At most one live job per
    /// uniqueness key.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            JobStatus::Queued | JobStatus::Running | JobStatus::RetryScheduled
        )
    }

    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::RetryScheduled,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    /// A status by its name (`"FAILED"`).
    pub fn parse(name: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::RetryScheduled => "RETRY_SCHEDULED",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Canceled => "CANCELED",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of a job's handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Position in the job's whole history, from 1 (a manual retry does not restart it).
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// How far a job with steps has got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u32,
    pub total: Option<u32>,
    pub message: Option<String>,
}

/// A job parked by a handler's `NotReady`: it runs again when `condition` is woken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parked {
    pub condition: String,
    pub reason: String,
}

/// A job as stored in the `jobs` tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: u64,
    pub kind: JobKind,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    /// Attempts of the current round (a manual retry starts a new round at 0).
    pub attempts: u32,
    pub max_attempts: u32,
    /// When a QUEUED or RETRY_SCHEDULED job may run next.
    pub run_at: Option<DateTime<Utc>>,
    /// The worker holding a RUNNING job.
    pub lock_by: Option<String>,
    pub history: Vec<Attempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub unique_key: Option<String>,
    pub order_number: Option<String>,
    pub last_error: Option<String>,
    pub progress: Option<Progress>,
    pub waiting_for: Option<Parked>,
    /// `cancelJob` asked a RUNNING job to stop at its next safe point.
    pub cancel_requested: bool,
    /// The class of the last run's error (none after success, a cancel or a manual retry).
    #[serde(default)]
    pub error_class: Option<crate::domain::ErrorClass>,
}

impl JobRecord {
    /// The attempt that is open (started, not finished), if any.
    pub fn open_attempt_mut(&mut self) -> Option<&mut Attempt> {
        self.history.last_mut().filter(|a| a.finished_at.is_none())
    }
}

/// What a caller needs to create a job.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    pub payload: serde_json::Value,
    /// At most one live job per key: a second push returns the live one.
    pub unique_key: Option<String>,
    /// The order the job works on, for "jobs of order X".
    pub order_number: Option<String>,
    /// Overrides the kind's max attempts.
    pub max_attempts: Option<u32>,
}

impl NewJob {
    pub fn new(kind: JobKind, payload: serde_json::Value) -> NewJob {
        NewJob {
            kind,
            payload,
            unique_key: None,
            order_number: None,
            max_attempts: None,
        }
    }

    pub fn unique(mut self, key: impl Into<String>) -> NewJob {
        self.unique_key = Some(key.into());
        self
    }

    pub fn order(mut self, number: impl Into<String>) -> NewJob {
        self.order_number = Some(number.into());
        self
    }

    pub fn max_attempts(mut self, n: u32) -> NewJob {
        self.max_attempts = Some(n.max(1));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_checked() {
        assert_eq!(JobKind::new("TEST_SLOW").unwrap().as_str(), "TEST_SLOW");
        assert!(JobKind::new("").is_err());
        assert!(JobKind::new("lower").is_err());
        assert!(JobKind::new("A\0B").is_err());
        assert!(JobKind::SYNC_ORDER.is_shipped());
        assert!(!JobKind::new("TEST").unwrap().is_shipped());
    }

    #[test]
    fn status_serialises_as_the_contract_names() {
        for s in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::RetryScheduled,
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::Canceled,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
    }
}
