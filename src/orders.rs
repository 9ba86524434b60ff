//! The store's orders: record (create or update by number), read, and page through them.
//!
//! Orders live in the `orders` tree keyed by number. A second tree, `orders_by_placed`, is the
//! newest-first index used for paging; its values carry what the list filters need (email,
//! payment and sync status), so filtering never decodes whole orders. Both trees change in one
//! sled transaction, and [`Orders::record`] answers only once the change is on disk.

use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::domain::order::{NewOrder, Order, PaymentStatus, SyncStatus};
use crate::events::Bus;
use crate::store::{self, Store, StoreError, decode, encode, trees};

/// Default and largest page sizes of list queries.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the cursor \"{0}\" is not one this service gave out")]
    BadCursor(String),
}

impl From<sled::Error> for OrdersError {
    fn from(e: sled::Error) -> Self {
        OrdersError::Store(e.into())
    }
}

/// What the list index keeps about an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    number: String,
    email: String,
    payment: PaymentStatus,
    sync: SyncStatus,
}

/// Filters of [`Orders::list`].
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub sync_status: Option<SyncStatus>,
    pub payment_status: Option<PaymentStatus>,
    /// Case-insensitive substring of the number or email.
    pub search: Option<String>,
}

impl OrderFilter {
    fn matches(&self, e: &IndexEntry, needle: &Option<String>) -> bool {
        self.sync_status.is_none_or(|s| s == e.sync)
            && self.payment_status.is_none_or(|p| p == e.payment)
            && needle.as_ref().is_none_or(|n| {
                e.number.to_lowercase().contains(n) || e.email.to_lowercase().contains(n)
            })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(T, String)>,
    pub has_next_page: bool,
    pub total_count: usize,
}

/// Whether [`Orders::record`] created the order or updated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    Updated,
}

/// The orders service. Cheap to clone.
#[derive(Clone)]
pub struct Orders {
    store: Store,
    orders: sled::Tree,
    index: sled::Tree,
    bus: Bus<Order>,
}

fn index_key(placed_at: DateTime<Utc>, number: &str) -> Vec<u8> {
    // Newest first: invert the timestamp so that sled's ascending order is newest first.
    let micros = placed_at.timestamp_micros();
    let inverted = u64::MAX - (micros as u64 ^ (1 << 63));
    let mut key = inverted.to_be_bytes().to_vec();
    key.extend_from_slice(number.as_bytes());
    key
}

fn index_entry(o: &Order) -> IndexEntry {
    IndexEntry {
        number: o.data.number.clone(),
        email: o.data.email.clone(),
        payment: o.data.payment_status,
        sync: o.sync.status,
    }
}

impl Orders {
    pub fn open(store: &Store) -> store::Result<Orders> {
        Ok(Orders {
            store: store.clone(),
            orders: store.raw_tree(trees::ORDERS)?,
            index: store.raw_tree(trees::ORDERS_BY_PLACED)?,
            bus: Bus::default(),
        })
    }

    /// Changes of orders, for subscribers.
    pub fn bus(&self) -> &Bus<Order> {
        &self.bus
    }

    /// Creates or updates the order with `new.number`; durable when it returns.
    pub async fn record(&self, new: NewOrder) -> Result<(Order, Recorded), OrdersError> {
        let now = Utc::now();
        let number = new.number.clone();
        let (order, how) = self
            .update(&number, |current| match current {
                None => Some((Order::first(new.clone(), now), Recorded::Created)),
                Some(o) => Some((o.updated(new.clone(), now), Recorded::Updated)),
            })?
            .expect("record always writes");
        self.store.flush().await?;
        self.bus.publish(order.clone());
        Ok((order, how))
    }

    /// Atomically reads the order `number`, lets `change` decide its next state (or `None` to
    /// leave it alone), and writes it with its index entry. Not flushed: callers flush.
    pub fn update<R>(
        &self,
        number: &str,
        change: impl Fn(Option<Order>) -> Option<(Order, R)>,
    ) -> Result<Option<(Order, R)>, OrdersError> {
        let result = (&self.orders, &self.index).transaction(|(orders, index)| {
            let current = match orders.get(number.as_bytes())? {
                Some(bytes) => {
                    Some(decode::<Order>(&bytes).map_err(ConflictableTransactionError::Abort)?)
                }
                None => None,
            };
            let old_key = current
                .as_ref()
                .map(|o| index_key(o.data.placed_at, number));
            let Some((next, extra)) = change(current) else {
                return Ok(None);
            };
            if let Some(old) = old_key {
                index.remove(old)?;
            }
            index.insert(
                index_key(next.data.placed_at, number),
                encode(&index_entry(&next)),
            )?;
            orders.insert(number.as_bytes(), encode(&next))?;
            Ok(Some((next, extra)))
        });
        match result {
            Ok(v) => Ok(v),
            Err(TransactionError::Abort(e)) => Err(e.into()),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    pub fn get(&self, number: &str) -> Result<Option<Order>, OrdersError> {
        Ok(self
            .orders
            .get(number.trim().as_bytes())?
            .map(|b| decode(&b))
            .transpose()?)
    }

    /// Orders newest `placed_at` first (then by number), after the cursor `after`.
    pub fn list(
        &self,
        first: usize,
        after: Option<&str>,
        filter: &OrderFilter,
    ) -> Result<Page<Order>, OrdersError> {
        let start = match after {
            Some(c) => Bound::Excluded(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .map_err(|_| OrdersError::BadCursor(c.to_owned()))?,
            ),
            None => Bound::Unbounded,
        };
        let needle = filter.search.as_ref().map(|s| s.trim().to_lowercase());
        let mut total = 0;
        let mut before_cursor = true;
        let mut items = Vec::new();
        let mut has_next_page = false;
        // One pass over the index: count every match, collect the page after the cursor.
        for entry in self.index.iter() {
            let (key, value) = entry?;
            let e: IndexEntry = decode(&value)?;
            if !filter.matches(&e, &needle) {
                continue;
            }
            total += 1;
            if before_cursor {
                before_cursor = match &start {
                    Bound::Excluded(c) => key.as_ref() <= c.as_slice(),
                    _ => false,
                };
                if before_cursor {
                    continue;
                }
            }
            if items.len() < first {
                items.push(key.to_vec());
            } else {
                has_next_page = true;
            }
        }
        let items = items
            .into_iter()
            .filter_map(|key| {
                let number = &key[8..];
                let order = self.orders.get(number).ok()??;
                Some(decode::<Order>(&order).map(|o| (o, URL_SAFE_NO_PAD.encode(&key))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            has_next_page,
            total_count: total,
        })
    }
}
