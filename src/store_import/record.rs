//! What is stored about the X-Cart store connection: the details the operator gave (token
//! sealed), the status the API shows, and the import's durable cursors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secrets::Sealed;

/// Default of `importIntervalSeconds`.
pub const DEFAULT_INTERVAL_SECS: u32 = 60;
/// How many rejected orders the record keeps (the newest).
pub const MAX_REJECTED: usize = 100;

/// How the periodic import notices changes of orders it has already imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeDetection {
    /// The store filters on `lastRenewDate` (X-Cart 5.5.1+): one walk over the orders that
    /// changed since the cursor sees new and changed orders alike.
    LastRenewDate,
    /// The store ignores `lastRenewDate` filters (5.5.0): new orders by `date` from the
    /// cursor, and every poll re-reads the orders placed in the look-back window.
    LookBack,
}

/// What the stored API token may do. X-Cart has two tokens (Settings → API): a read-only one
/// and a read/write one, and nothing in its API tells them apart short of a write. So the
/// bridge learns it from the first write-back: UNKNOWN after a connect with a new token,
/// READ_WRITE once the store accepted a write, READ_ONLY once it refused one with 403.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenAccess {
    #[default]
    Unknown,
    ReadOnly,
    ReadWrite,
}

/// The newest orders when the store was connected: orders placed up to then are history,
/// imported only by a catch-up (`importOrders`). X-Cart dates are whole seconds, so the ids
/// of the orders at that second are kept too: an order placed later in the same second is
/// new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Floor {
    /// Unix seconds of the newest order at connect.
    pub date: i64,
    /// Ids of the orders placed at that second.
    pub ids: Vec<i64>,
}

impl Floor {
    /// Whether an order placed at `date` with `id` came after the connect.
    pub fn is_after(&self, date: i64, id: i64) -> bool {
        date > self.date || (date == self.date && !self.ids.contains(&id))
    }
}

/// Where the periodic import goes on from. Both are inclusive (`[after]`): the orders at the
/// cursor's second are read again, so none sharing it is lost; recording them again is a
/// no-op when they did not change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursors {
    /// Unix seconds, by `date` (look-back mode).
    pub date: Option<i64>,
    /// Unix seconds, by `lastRenewDate` (5.5.1+).
    pub last_renew: Option<i64>,
}

/// An X-Cart order the import could not turn into a bridge order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub number: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The stored store connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreRecord {
    pub connected: bool,
    pub store_url: Option<String>,
    pub token: Option<Sealed>,
    pub interval_secs: u32,
    pub connected_at: Option<DateTime<Utc>>,
    /// End of the last periodic import that succeeded.
    pub last_import_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Bumped by every connect and reset, so that a poll or job of an older connection can
    /// tell that it is stale.
    pub generation: u64,
    /// `None` until connected; `Some(None)`-like empty floor when the store had no orders.
    pub floor: Option<Floor>,
    pub cursors: Cursors,
    /// Found out on the first poll; `None` while unknown (e.g. a store without orders).
    pub change_detection: Option<ChangeDetection>,
    pub rejected: Vec<Rejected>,
    /// What the token may do, as learnt from write-backs.
    pub token_access: TokenAccess,
}

impl Default for StoreRecord {
    fn default() -> Self {
        StoreRecord {
            connected: false,
            store_url: None,
            token: None,
            interval_secs: DEFAULT_INTERVAL_SECS,
            connected_at: None,
            last_import_at: None,
            last_error: None,
            generation: 0,
            floor: None,
            cursors: Cursors::default(),
            change_detection: None,
            rejected: vec![],
            token_access: TokenAccess::Unknown,
        }
    }
}

impl StoreRecord {
    /// Notes a rejected order (replacing an older note of the same number).
    pub fn reject(&mut self, number: &str, reason: &str, at: DateTime<Utc>) {
        self.rejected.retain(|r| r.number != number);
        self.rejected.push(Rejected {
            number: number.to_owned(),
            reason: reason.to_owned(),
            at,
        });
        if self.rejected.len() > MAX_REJECTED {
            let extra = self.rejected.len() - MAX_REJECTED;
            self.rejected.drain(..extra);
        }
    }
}

/// The store connection as the API shows it: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreView {
    pub connected: bool,
    pub store_url: Option<String>,
    pub interval_secs: u32,
    pub connected_at: Option<DateTime<Utc>>,
    pub last_import_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub change_detection: Option<ChangeDetection>,
    pub rejected: Vec<Rejected>,
    pub token_access: TokenAccess,
}

impl From<&StoreRecord> for StoreView {
    fn from(r: &StoreRecord) -> Self {
        StoreView {
            connected: r.connected,
            store_url: r.store_url.clone(),
            interval_secs: r.interval_secs,
            connected_at: r.connected_at,
            last_import_at: r.last_import_at,
            last_error: r.last_error.clone(),
            change_detection: r.change_detection,
            rejected: r.rejected.clone(),
            token_access: r.token_access,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_keeps_orders_of_the_same_second_apart() {
        let f = Floor {
            date: 100,
            ids: vec![7, 8],
        };
        assert!(!f.is_after(99, 9));
        assert!(!f.is_after(100, 8));
        assert!(f.is_after(100, 9));
        assert!(f.is_after(101, 1));
    }

    #[test]
    fn rejected_list_is_bounded_and_deduplicated() {
        let mut r = StoreRecord::default();
        let now = Utc::now();
        for i in 0..150 {
            r.reject(&i.to_string(), "bad", now);
        }
        r.reject("149", "worse", now);
        assert_eq!(r.rejected.len(), MAX_REJECTED);
        assert_eq!(r.rejected.last().unwrap().reason, "worse");
        assert_eq!(r.rejected.iter().filter(|x| x.number == "149").count(), 1);
    }
}
