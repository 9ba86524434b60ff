//! Incidents as stored: one per rule and subject (an order, a connection, a job kind, the
//! import) from the moment its condition became true until it cleared, with every
//! notification sent about it and its outcome. Also the keys of the `alerts` tree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    Opened,
    Reminder,
    Resolved,
    Test,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Opened => "OPENED",
            Event::Reminder => "REMINDER",
            Event::Resolved => "RESOLVED",
            Event::Test => "TEST",
        }
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Delivery {
    /// Its SEND_ALERT job has not run yet.
    Pending,
    /// The last attempt failed; it is retried.
    Retrying,
    Sent,
    /// Every attempt failed.
    Failed,
    /// Not sent: more incidents of the rule opened within a minute than it may notify.
    Suppressed,
}

/// One notification of an incident on one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    pub event: Event,
    /// 1 for the opening, then the reminder's number.
    pub seq: u32,
    pub channel_id: u32,
    pub job_id: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub delivery: Delivery,
    pub attempts: u32,
    pub sent_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    pub id: u64,
    pub rule_id: u64,
    /// What the incident is about: `order:<number>`, `connection:acumatica`,
    /// `connection:store`, `jobs:<KIND>`, `import`.
    pub subject: String,
    /// What was true when it opened, in words.
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reminders: u32,
    /// When the opening or the last reminder was sent (reminders count from it).
    pub last_notice_at: DateTime<Utc>,
    /// Opened over the rule's bound of notifications per minute: nothing is sent about it.
    pub suppressed: bool,
    pub notices: Vec<Notice>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// The payload of a SEND_ALERT job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Send {
    pub rule_id: u64,
    pub channel_id: u32,
    /// None for a test alert.
    pub incident_id: Option<u64>,
    pub event: Event,
    pub seq: u32,
}

impl Send {
    /// One live job per incident, event and channel (a test per channel).
    pub fn unique_key(&self) -> String {
        match self.incident_id {
            Some(i) => format!(
                "alert:{i}:{}:{}:{}",
                self.event.as_str(),
                self.seq,
                self.channel_id
            ),
            None => format!("alert-test:{}:{}", self.rule_id, self.channel_id),
        }
    }
}

/// Keys of the `alerts` tree.
pub mod keys {
    pub fn rule(id: u64) -> Vec<u8> {
        [b"rule:".as_slice(), &id.to_be_bytes()].concat()
    }
    pub const RULES: &[u8] = b"rule:";
    pub fn incident(id: u64) -> Vec<u8> {
        [b"inc:".as_slice(), &id.to_be_bytes()].concat()
    }
    pub const INCIDENTS: &[u8] = b"inc:";
    /// `open:<rule> <subject>` → the open incident's id.
    pub fn open(rule: u64, subject: &str) -> Vec<u8> {
        [b"open:".as_slice(), &rule.to_be_bytes(), subject.as_bytes()].concat()
    }
    pub fn open_of_rule(rule: u64) -> Vec<u8> {
        [b"open:".as_slice(), &rule.to_be_bytes()].concat()
    }
}
