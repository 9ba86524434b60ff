//! The audit log of operator actions (connect, reset, settings saved, retries, cancels,
//! prunes, bulk actions, token rotation): when, what, the outcome, and from which client.
//!
//! An action is recorded in two steps: [`Audit::begin`] writes the entry as PENDING before the
//! action runs, so the action's own flush makes it durable with the change; [`Audit::end`]
//! records the outcome and flushes before the answer. A crash between them leaves the entry
//! PENDING: the action may or may not have taken effect, and the log says so.
//! Summaries are written by the callers from non-secret fields only (never a password, a
//! token or a client secret).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::paging::{self, Page};
use crate::store::{self, Store, decode, encode, trees};

/// Where a request came from: the TCP peer, and `X-Forwarded-For` as the client reported it
/// (not trusted: anyone can send it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAddress {
    pub peer: Option<String>,
    pub forwarded_for: Option<String>,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditOutcome {
    /// Begun, no outcome recorded (the process stopped while it ran).
    Pending,
    Succeeded,
    Failed,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: DateTime<Utc>,
    /// The action, by its GraphQL mutation name (`connect`, `retryJobs`) or command (`rotateToken`).
    pub action: String,
    /// What it was about, e.g. "filter status FAILED, class DATA".
    pub summary: String,
    pub outcome: AuditOutcome,
    /// What it did ("3 jobs"), or why it failed.
    pub result: Option<String>,
    pub client: ClientAddress,
}

/// Filters of [`Audit::list`].
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    /// `at` in `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    fn matches(&self, e: &AuditEntry) -> bool {
        self.action.as_ref().is_none_or(|a| *a == e.action)
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at < t)
    }
}

/// The audit log: the `audit` tree, `id (8 bytes BE)` → [`AuditEntry`] (JSON); ids grow, so
/// the newest entry is last.
#[derive(Clone)]
pub struct Audit {
    store: Store,
    tree: sled::Tree,
}

impl Audit {
    pub fn open(store: &Store) -> store::Result<Audit> {
        Ok(Audit {
            store: store.clone(),
            tree: store.raw_tree(trees::AUDIT)?,
        })
    }

    /// Writes a PENDING entry (not flushed: the action's flush or [`Audit::end`]'s does).
    pub fn begin(
        &self,
        client: &ClientAddress,
        action: &str,
        summary: impl Into<String>,
    ) -> store::Result<u64> {
        let id = self.store.db().generate_id()?;
        let entry = AuditEntry {
            id,
            at: Utc::now(),
            action: action.to_owned(),
            summary: summary.into(),
            outcome: AuditOutcome::Pending,
            result: None,
            client: client.clone(),
        };
        self.tree.insert(id.to_be_bytes(), encode(&entry))?;
        Ok(id)
    }

    /// Records the outcome of the action begun as `id`, and flushes.
    pub async fn end(
        &self,
        id: u64,
        outcome: AuditOutcome,
        result: impl Into<String>,
    ) -> store::Result<()> {
        if let Some(bytes) = self.tree.get(id.to_be_bytes())? {
            let mut entry: AuditEntry = decode(&bytes)?;
            entry.outcome = outcome;
            entry.result = Some(result.into()).filter(|r: &String| !r.is_empty());
            self.tree.insert(id.to_be_bytes(), encode(&entry))?;
        }
        self.store.flush().await
    }

    /// Entries newest first, after the cursor `after`; `None` for a cursor not ours.
    pub fn list(
        &self,
        first: usize,
        after: Option<&str>,
        filter: &AuditFilter,
    ) -> store::Result<Option<Page<AuditEntry>>> {
        let after = match after {
            Some(c) => match paging::key_of(c) {
                Some(k) if k.len() == 8 => Some(k),
                _ => return Ok(None),
            },
            None => None,
        };
        let mut page = Page::empty();
        for item in self.tree.iter().rev() {
            let (key, value) = item?;
            let entry: AuditEntry = decode(&value)?;
            if !filter.matches(&entry) {
                continue;
            }
            page.total_count += 1;
            if after.as_ref().is_some_and(|a| key.as_ref() >= a.as_slice()) {
                continue;
            }
            if page.items.len() < first {
                page.items.push((entry, paging::cursor(&key)));
            } else {
                page.has_next_page = true;
            }
        }
        Ok(Some(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_list_newest_first_with_their_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let audit = Audit::open(&store).unwrap();
        let client = ClientAddress {
            peer: Some("127.0.0.1".into()),
            forwarded_for: None,
        };
        let a = audit.begin(&client, "connect", "a").unwrap();
        audit.end(a, AuditOutcome::Failed, "refused").await.unwrap();
        let b = audit.begin(&client, "retryJobs", "b").unwrap();
        let all = audit
            .list(10, None, &AuditFilter::default())
            .unwrap()
            .unwrap();
        let ids: Vec<u64> = all.items.iter().map(|(e, _)| e.id).collect();
        assert_eq!(ids, [b, a]);
        assert_eq!(all.items[0].0.outcome, AuditOutcome::Pending);
        assert_eq!(all.items[1].0.result.as_deref(), Some("refused"));
        let first = audit
            .list(1, None, &AuditFilter::default())
            .unwrap()
            .unwrap();
        assert!(first.has_next_page);
        let next = audit
            .list(1, first.end_cursor().as_deref(), &AuditFilter::default())
            .unwrap()
            .unwrap();
        assert_eq!(next.items[0].0.id, a);
        let only = AuditFilter {
            action: Some("connect".into()),
            ..Default::default()
        };
        assert_eq!(audit.list(10, None, &only).unwrap().unwrap().total_count, 1);
        assert!(audit.list(10, Some("!!"), &only).unwrap().is_none());
    }
}
