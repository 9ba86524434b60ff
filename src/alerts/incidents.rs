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

/// Deletes the incidents closed before `cutoff`; returns how many. Incidents are kept by
/// growing id, so in the order they opened: the walk stops at the first one opened after the
/// cutoff (it cannot have closed before it), and costs what it deletes.
pub fn prune(tree: &sled::Tree, cutoff: DateTime<Utc>) -> crate::store::Result<usize> {
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for kv in tree.scan_prefix(keys::INCIDENTS) {
        let (k, v) = kv?;
        let inc: Incident = crate::store::decode(&v)?;
        if inc.opened_at >= cutoff {
            break;
        }
        if inc.closed_at.is_some_and(|c| c < cutoff) {
            batch.remove(k);
            n += 1;
        }
    }
    if n > 0 {
        tree.apply_batch(batch)?;
    }
    Ok(n)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: u64, opened_days_ago: i64, closed_days_ago: Option<i64>) -> Incident {
        let now = Utc::now();
        Incident {
            id,
            rule_id: 1,
            subject: format!("order:{id}"),
            summary: "failed".into(),
            opened_at: now - chrono::Duration::days(opened_days_ago),
            closed_at: closed_days_ago.map(|d| now - chrono::Duration::days(d)),
            reminders: 0,
            last_notice_at: now,
            suppressed: false,
            notices: vec![],
        }
    }

    #[test]
    fn incidents_closed_before_the_cutoff_go_and_the_rest_stay() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("alerts").unwrap();
        let all = [
            incident(1, 60, Some(50)), // closed long ago: goes
            incident(2, 45, None),     // still open: stays
            incident(3, 40, Some(10)), // closed recently: stays
            incident(4, 35, Some(31)), // goes
            incident(5, 5, Some(4)),   // stays; the walk stops here
        ];
        for inc in &all {
            let v = crate::store::encode(inc);
            tree.insert(keys::incident(inc.id), v).unwrap();
        }
        tree.insert(keys::rule(1), &b"{}"[..]).unwrap();
        let cutoff = Utc::now() - chrono::Duration::days(30);
        assert_eq!(prune(&tree, cutoff).unwrap(), 2);
        let left: Vec<u64> = tree
            .scan_prefix(keys::INCIDENTS)
            .map(|kv| crate::store::decode::<Incident>(&kv.unwrap().1).unwrap().id)
            .collect();
        assert_eq!(left, [2, 3, 5]);
        assert!(tree.contains_key(keys::rule(1)).unwrap());
        assert_eq!(prune(&tree, cutoff).unwrap(), 0);
    }
}
