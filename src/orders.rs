//! The store's orders: record (create or update by number), read, and page through them.
//!
//! Orders live in the `orders` tree keyed by number. Their indexes are packed trees
//! ([`crate::store::Packed`]: many entries per sled key, as sled's memory grows with its keys):
//! `orders_list`, newest first, for paging, whose entries carry what the list filters need
//! (payment and sync status, error class), so filtering never decodes whole orders;
//! `orders_by_status`, the same entries partitioned by status, so that a filtered page costs
//! its page (`orders/by_status.rs`); `orders_search`, the search terms (`orders/search.rs`);
//! `orders_by_so`, the order of each Sales Order (`orders/by_sales_order.rs`). All change with the order in one sled
//! transaction, and [`Orders::record`] answers only once the change is on disk. A store of
//! schema version 1 (one sled key per index entry) is carried over at start ([`carry`]).
//!
//! Recording is also where automatic sync starts: in AUTOMATIC_AFTER_PAYMENT mode, an order
//! recorded as PAID (or moved to PAID) that is not synced and has no sync on its way gets its
//! SYNC_ORDER job in the same transaction, so an answer means the job exists. [`Orders::request_sync`] does the
//! same on demand, and [`Orders::mirror_job`] keeps each order's sync status in step with its
//! job (QUEUED and RETRY_SCHEDULED → QUEUED, RUNNING → SYNCING, SUCCEEDED → SYNCED, FAILED and
//! CANCELED → FAILED). The job itself is run by [`crate::sync`].

pub(crate) mod aftercare;
pub mod by_sales_order;
mod by_status;
mod carry;
pub(crate) mod payment;
pub(crate) mod search;
#[cfg(test)]
mod tests;

pub use aftercare::{CancelRequest, CreditRequest, cancel_job, sales_order_name};
pub use payment::{PaymentRequest, payment_job};

use std::ops::Bound;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::domain::ErrorClass;
use crate::domain::aftercare::settled;
use crate::domain::order::{NewOrder, Order, PaymentStatus, SyncStatus};
use crate::domain::settings::OrderSyncMode;
use crate::events::Bus;
use crate::jobs::{JobKind, JobRecord, JobStatus, Jobs, JobsError, NewJob};
use crate::paging::{self, Page};
use crate::settings::Settings;
use crate::store::{self, Packed, PackedTx, Store, StoreError, decode, encode, trees};

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the cursor \"{0}\" is not one this service gave out")]
    BadCursor(String),
    #[error("no order with number \"{0}\"")]
    NotFound(String),
    #[error(transparent)]
    Jobs(#[from] JobsError),
    /// A database error of an orders store other than sled (`pg::orders`), kept opaque here
    /// so that this module depends on no engine but its own.
    #[error(transparent)]
    Database(Box<dyn std::error::Error + Send + Sync>),
}

impl From<sled::Error> for OrdersError {
    fn from(e: sled::Error) -> Self {
        OrdersError::Store(e.into())
    }
}

/// What the list index keeps about an order (its key holds the placement and number).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    #[serde(rename = "p")]
    payment: PaymentStatus,
    #[serde(rename = "s")]
    sync: SyncStatus,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    class: Option<ErrorClass>,
}

/// Filters of [`Orders::list`].
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub sync_status: Option<SyncStatus>,
    pub payment_status: Option<PaymentStatus>,
    /// The start of the number (leading zeros optional), of the e-mail or of its domain,
    /// case-insensitive (see `orders/search.rs`).
    pub search: Option<String>,
    /// The class of the sync's last error.
    pub error_class: Option<ErrorClass>,
}

impl OrderFilter {
    /// Whether a list entry passes the status filters (the search is the index's part).
    fn matches(&self, e: &IndexEntry) -> bool {
        self.sync_status.is_none_or(|s| s == e.sync)
            && self.payment_status.is_none_or(|p| p == e.payment)
            && self.error_class.is_none_or(|c| e.class == Some(c))
    }
}

/// Whether [`Orders::record`] created the order or updated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    Updated,
}

/// What a SYNC_ORDER job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRequest {
    pub number: String,
    /// Started by the automatic mode (the job cancels itself when the order is no longer
    /// PAID when it runs); false when an operator or a program asked for it.
    pub automatic: bool,
}

/// The SYNC_ORDER job for order `number`: one live job per order (uniqueness key).
pub fn sync_job(number: &str, automatic: bool) -> NewJob {
    let payload = serde_json::to_value(SyncRequest {
        number: number.to_owned(),
        automatic,
    })
    .expect("payload serialises");
    NewJob::new(JobKind::SYNC_ORDER, payload)
        .unique(format!("sync:{number}"))
        .order(number.to_owned())
}

/// What a SYNC_ORDER job's change makes of its order (QUEUED and RETRY_SCHEDULED → QUEUED,
/// RUNNING → SYNCING, SUCCEEDED → SYNCED, or NEEDS_ATTENTION while a person is needed, FAILED
/// and CANCELED → FAILED), none when it changes nothing: the one rule of both stores'
/// `mirror_job`.
pub(crate) fn mirrored(job: &JobRecord, mut next: Order) -> Option<Order> {
    let status = match job.status {
        JobStatus::Queued | JobStatus::RetryScheduled => SyncStatus::Queued,
        JobStatus::Running => SyncStatus::Syncing,
        JobStatus::Succeeded => SyncStatus::Synced,
        JobStatus::Failed | JobStatus::Canceled => SyncStatus::Failed,
    };
    let id = job.id.to_string();
    let before = next.sync.clone();
    // An order that needs a person stays so once its sync is done.
    next.sync.status = match status {
        SyncStatus::Synced if next.sync.open_attention().is_some() => SyncStatus::NeedsAttention,
        s => s,
    };
    next.sync.error_class = job.error_class;
    if !next.sync.job_ids.contains(&id) {
        next.sync.job_ids.push(id);
    }
    match job.status {
        JobStatus::Succeeded => next.sync.last_error = None,
        JobStatus::Running => {}
        _ => {
            if job.last_error.is_some() {
                next.sync.last_error = job.last_error.clone();
            }
        }
    }
    (next.sync != before).then_some(next)
}

/// The orders service. Cheap to clone.
#[derive(Clone)]
pub struct Orders {
    store: Store,
    orders: sled::Tree,
    index: Packed,
    counts: sled::Tree,
    terms: Packed,
    by_so: Packed,
    by_status: Packed,
    bus: Bus<Order>,
    jobs: Jobs,
    settings: Settings,
}

pub(crate) fn index_key(placed_at: DateTime<Utc>, number: &str) -> Vec<u8> {
    // Newest first: invert the timestamp so that sled's ascending order is newest first.
    let micros = placed_at.timestamp_micros();
    let inverted = u64::MAX - (micros as u64 ^ (1 << 63));
    let mut key = inverted.to_be_bytes().to_vec();
    key.extend_from_slice(number.as_bytes());
    key
}

type TxResult<T> = Result<T, ConflictableTransactionError<OrdersError>>;

/// Reads order `number` inside a transaction.
fn read(orders: &TransactionalTree, number: &str) -> TxResult<Option<Order>> {
    match orders.get(number.as_bytes())? {
        Some(bytes) => {
            Ok(Some(decode::<Order>(&bytes).map_err(|e| {
                ConflictableTransactionError::Abort(e.into())
            })?))
        }
        None => Ok(None),
    }
}

/// The key of an order's (sync status, payment status) pair in the counts tree.
fn count_key(sync: SyncStatus, payment: PaymentStatus) -> Vec<u8> {
    format!("{}/{}", sync.as_str(), encode_plain(&payment)).into_bytes()
}

/// A payment status's name, as stored (`"PAID"`).
fn encode_plain(payment: &PaymentStatus) -> String {
    serde_json::to_value(payment)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

const COUNTS_READY: &[u8] = b"ready";

/// Adds `delta` to the count at `key` inside a transaction.
fn bump(counts: &TransactionalTree, key: &[u8], delta: i64) -> TxResult<()> {
    let now = counts
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    let next = (now as i64 + delta).max(0) as u64;
    counts.insert(key, &next.to_be_bytes())?;
    Ok(())
}

/// List entries as [`Orders::entries`] walks them: list key → statuses.
type Entries<'a> = Box<dyn Iterator<Item = store::Result<(Vec<u8>, Vec<u8>)>> + 'a>;

/// The number in a list index key.
fn number_of(list_key: &[u8]) -> &[u8] {
    list_key.get(8..).unwrap_or_default()
}

/// The packed trees of an order write, inside its transaction.
struct Indexes<'a> {
    list: PackedTx<'a>,
    terms: PackedTx<'a>,
    by_so: PackedTx<'a>,
    by_status: PackedTx<'a>,
}

/// Writes `next` (replacing `current`), its list index entry, its search terms, its Sales
/// Order link and the status counts inside a transaction over [`Orders::trees`]: the one place
/// an order is written. Index entries that stay the same are not rewritten.
fn write(
    t: &[TransactionalTree],
    ix: &Indexes,
    current: Option<&Order>,
    next: &Order,
) -> TxResult<()> {
    let [orders, _, counts, _, _, _] = t else {
        unreachable!("the order trees are six")
    };
    by_sales_order::write(&ix.by_so, current, next)?;
    let number = &next.data.number;
    let placed = index_key(next.data.placed_at, number);
    let old_placed = current.map(|o| index_key(o.data.placed_at, number));
    search::write(
        &ix.terms,
        current.zip(old_placed.clone()),
        (next, placed.clone()),
    )?;
    let pair = |o: &Order| (o.sync.status, o.data.payment_status);
    if current.map(pair) != Some(pair(next)) {
        if let Some(old) = current {
            bump(
                counts,
                &count_key(old.sync.status, old.data.payment_status),
                -1,
            )?;
        }
        bump(
            counts,
            &count_key(next.sync.status, next.data.payment_status),
            1,
        )?;
    }
    let entry = index_entry(next);
    let old_entry = current.map(index_entry);
    let same_place = old_placed.as_ref() == Some(&placed);
    if !same_place && let Some(old) = &old_placed {
        ix.list.remove(old)?;
    }
    if !same_place || old_entry.as_ref().map(encode) != Some(encode(&entry)) {
        ix.list.insert(&placed, &encode(&entry))?;
        let old = old_placed.as_deref().zip(old_entry.as_ref());
        by_status::write(&ix.by_status, old, (&placed, &entry))?;
    }
    orders.insert(number.as_bytes(), encode(next))?;
    Ok(())
}

fn index_entry(o: &Order) -> IndexEntry {
    IndexEntry {
        payment: o.data.payment_status,
        sync: o.sync.status,
        class: o.sync.error_class,
    }
}

impl Orders {
    pub fn open(store: &Store, jobs: &Jobs, settings: &Settings) -> store::Result<Orders> {
        let orders = Orders {
            store: store.clone(),
            orders: store.raw_tree(trees::ORDERS)?,
            index: Packed::open(store.raw_tree(trees::ORDERS_LIST)?)?,
            counts: store.raw_tree(trees::ORDER_COUNTS)?,
            terms: Packed::open(store.raw_tree(trees::ORDERS_SEARCH)?)?,
            by_so: Packed::open(store.raw_tree(trees::ORDERS_BY_SO)?)?,
            by_status: Packed::open(store.raw_tree(trees::ORDERS_BY_STATUS)?)?,
            bus: Bus::default(),
            jobs: jobs.clone(),
            settings: settings.clone(),
        };
        carry::list(&orders)?;
        carry::terms(&orders)?;
        carry::sales_orders(&orders)?;
        carry::by_status(&orders)?;
        orders.count_once()?;
        tracing::info!(
            list = orders.index.buckets(),
            by_status = orders.by_status.buckets(),
            search = orders.terms.buckets(),
            by_sales_order = orders.by_so.buckets(),
            "order indexes open (buckets)"
        );
        Ok(orders)
    }

    /// The trees an order is written to, in the order [`write`] takes them.
    fn trees(&self) -> [&sled::Tree; 6] {
        [
            &self.orders,
            self.index.tree(),
            &self.counts,
            self.terms.tree(),
            self.by_so.tree(),
            self.by_status.tree(),
        ]
    }

    /// The packed indexes inside a transaction over [`Orders::trees`].
    fn indexes<'a>(&'a self, t: &'a [TransactionalTree]) -> Indexes<'a> {
        Indexes {
            list: self.index.in_tx(&t[1]),
            terms: self.terms.in_tx(&t[3]),
            by_so: self.by_so.in_tx(&t[4]),
            by_status: self.by_status.in_tx(&t[5]),
        }
    }

    /// The order linked to Sales Order `order_type` `nbr`, found through the index.
    pub fn by_sales_order(
        &self,
        order_type: &str,
        nbr: &str,
    ) -> Result<Option<Order>, OrdersError> {
        match self.by_so.get(&by_sales_order::key(order_type, nbr))? {
            Some(number) => self.get(&String::from_utf8_lossy(&number)),
            None => Ok(None),
        }
    }

    /// Changes of orders, for subscribers.
    pub fn bus(&self) -> &Bus<Order> {
        &self.bus
    }

    /// Creates or updates the order with `new.number`; durable when it returns. In automatic
    /// mode, an order that becomes PAID and never had a sync job gets one in the same step.
    pub async fn record(&self, new: NewOrder) -> Result<(Order, Recorded), OrdersError> {
        let settings = self.settings.get()?;
        let automatic = settings.order_sync_mode == OrderSyncMode::AutomaticAfterPayment;
        let now = Utc::now();
        let number = new.number.clone();
        let (order, how) = self
            .jobs
            .push_with::<_, OrdersError>(&self.trees(), |t, q| {
                let current = read(&t[0], &number)?;
                let was_paid = current
                    .as_ref()
                    .is_some_and(|o| o.data.payment_status == PaymentStatus::Paid);
                let (mut next, how) = match &current {
                    None => (Order::first(new.clone(), now), Recorded::Created),
                    Some(o) => (o.updated(new.clone(), now), Recorded::Updated),
                };
                let becomes_paid = !was_paid && next.data.payment_status == PaymentStatus::Paid;
                // Once per order: never for one synced or with a sync on its way; again for
                // one whose automatic sync was canceled when it stopped being paid.
                let idle = matches!(next.sync.status, SyncStatus::NotSynced | SyncStatus::Failed);
                if automatic && becomes_paid && idle && next.sync.sales_order_nbr.is_none() {
                    let pushed = q.push(&sync_job(&number, true))?;
                    next.sync.status = SyncStatus::Queued;
                    let id = pushed.job.id.to_string();
                    if !next.sync.job_ids.contains(&id) {
                        next.sync.job_ids.push(id); // a live job is returned, not doubled
                    }
                }
                if let Some(before) = &current {
                    let credits = settings.create_refund_credits;
                    for job in aftercare::follow_store_change(before, &mut next, credits, now) {
                        let pushed = q.push(&job)?;
                        next.sync.job_ids.push(pushed.job.id.to_string());
                    }
                }
                // Paid after its Sales Order exists: the payment is recorded on its own.
                if payment::due(&settings, &next) {
                    q.push(&payment_job(&number))?;
                }
                write(t, &self.indexes(t), current.as_ref(), &next)?;
                Ok((next, how))
            })
            .await?;
        self.bus.publish(order.clone());
        Ok((order, how))
    }

    /// Enqueues a SYNC_ORDER job for each of `numbers` (or returns its live job, moving a
    /// scheduled retry to now), all in one durable step. An unknown number fails the whole
    /// call and changes nothing.
    pub async fn request_sync(&self, numbers: &[String]) -> Result<Vec<JobRecord>, OrdersError> {
        let numbers: Vec<String> = numbers.iter().map(|n| n.trim().to_owned()).collect();
        let (jobs, orders) = self
            .jobs
            .push_with::<_, OrdersError>(&self.trees(), |t, q| {
                let mut jobs = vec![];
                let mut orders = vec![];
                for number in &numbers {
                    let Some(current) = read(&t[0], number)? else {
                        return Err(ConflictableTransactionError::Abort(OrdersError::NotFound(
                            number.clone(),
                        )));
                    };
                    let pushed = q.push(&sync_job(number, false))?;
                    let mut next = current.clone();
                    if pushed.job.status.is_live() && pushed.job.status != JobStatus::Running {
                        next.sync.status = SyncStatus::Queued;
                    }
                    let id = pushed.job.id.to_string();
                    if !next.sync.job_ids.contains(&id) {
                        next.sync.job_ids.push(id);
                    }
                    write(t, &self.indexes(t), Some(&current), &next)?;
                    jobs.push(pushed.job);
                    orders.push(next);
                }
                Ok((jobs, orders))
            })
            .await?;
        for o in orders {
            self.bus.publish(o);
        }
        Ok(jobs)
    }

    /// Pushes order `number`'s RECORD_PAYMENT job when it is due (after a sync linked the
    /// order: it may have been paid while its sync ran), durably. True when a job is live.
    pub async fn request_payment(&self, number: &str) -> Result<bool, OrdersError> {
        let settings = self.settings.get()?;
        let pushed = self
            .jobs
            .push_with::<_, OrdersError>(&self.trees(), |t, q| {
                let Some(order) = read(&t[0], number)? else {
                    return Ok(false);
                };
                if !payment::due(&settings, &order) {
                    return Ok(false);
                }
                q.push(&payment_job(number))?;
                Ok(true)
            })
            .await?;
        Ok(pushed)
    }

    /// Mirrors a SYNC_ORDER job's status onto its order (a job hook: no flush here; the job
    /// change that called it is flushed right after).
    pub fn mirror_job(&self, job: &JobRecord) {
        if job.kind != JobKind::SYNC_ORDER {
            return;
        }
        let Some(number) = job.order_number.as_deref() else {
            return;
        };
        let changed = self.update(number, |current| mirrored(job, current?).map(|o| (o, ())));
        match changed {
            Ok(Some((order, ()))) => self.bus.publish(order),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(order = number, error = %e, "cannot mirror the sync job on its order")
            }
        }
    }

    /// Brings the sync status of orders still QUEUED or SYNCING in line with their latest
    /// job (after a crash, job recovery runs before the mirror is attached). Returns how many
    /// orders it looked at.
    pub fn reconcile(&self) -> Result<usize, OrdersError> {
        // The QUEUED and SYNCING partitions: no need to walk every order.
        let in_flight = [SyncStatus::Queued, SyncStatus::Syncing].map(|sync| OrderFilter {
            sync_status: Some(sync),
            ..Default::default()
        });
        let keys = in_flight
            .iter()
            .flat_map(|f| self.entries(&Bound::Unbounded, f))
            .map(|e| e.map(|(key, _)| key))
            .collect::<store::Result<Vec<_>>>()?;
        for key in &keys {
            let Some(order) = self.get(&String::from_utf8_lossy(number_of(key)))? else {
                continue;
            };
            // Its latest sync job (the order also lists its cancellation and credit jobs).
            for id in order.sync.job_ids.iter().rev() {
                let Some(job) = id
                    .parse::<u64>()
                    .ok()
                    .map(|id| self.jobs.get(id))
                    .transpose()?
                    .flatten()
                else {
                    continue;
                };
                if job.kind == JobKind::SYNC_ORDER {
                    self.mirror_job(&job);
                    break;
                }
            }
        }
        Ok(keys.len())
    }

    /// Changes the sync state of order `number` with `f` (durably); returns the new order.
    pub async fn set_sync(
        &self,
        number: &str,
        f: impl Fn(&mut crate::domain::order::OrderSync),
    ) -> Result<Order, OrdersError> {
        self.change(number, |o| f(&mut o.sync)).await
    }

    /// Changes order `number` with `f`, durably, and tells subscribers; returns the new order.
    async fn change(&self, number: &str, f: impl Fn(&mut Order)) -> Result<Order, OrdersError> {
        let changed = self.update(number, |current| {
            let mut next = current?;
            f(&mut next);
            Some((next, ()))
        })?;
        let Some((order, ())) = changed else {
            return Err(OrdersError::NotFound(number.to_owned()));
        };
        self.store.flush().await?;
        self.bus.publish(order.clone());
        Ok(order)
    }

    /// Resolves what order `number` needs a person for, with the operator's `note`: the
    /// attention is kept, marked resolved, and the order is SYNCED again (NOT_SYNCED when it
    /// has no Sales Order). Durable when it returns. `Ok(None)`: the order needs no attention.
    pub async fn resolve_attention(
        &self,
        number: &str,
        note: Option<String>,
    ) -> Result<Option<Order>, OrdersError> {
        let now = Utc::now();
        let changed = self.update(number, |current| {
            let mut next = current?;
            let mut resolved = false;
            for a in next
                .sync
                .attention
                .iter_mut()
                .filter(|a| a.resolved_at.is_none())
            {
                a.resolved_at = Some(now);
                a.resolution = note.clone();
                resolved = true;
            }
            if next.sync.status == SyncStatus::NeedsAttention {
                next.sync.status = settled(next.sync.sales_order_nbr.is_some());
                resolved = true;
            }
            Some((next, resolved))
        })?;
        match changed {
            None => Err(OrdersError::NotFound(number.trim().to_owned())),
            Some((_, false)) => Ok(None),
            Some((order, true)) => {
                self.store.flush().await?;
                self.bus.publish(order.clone());
                Ok(Some(order))
            }
        }
    }

    /// Records (or replaces, by its number) a shipment written back to the store on order
    /// `number`; durable on return.
    pub async fn record_shipment(
        &self,
        number: &str,
        shipment: crate::domain::order::OrderShipment,
    ) -> Result<Order, OrdersError> {
        self.change(number, |o| {
            o.shipments.retain(|s| s.number != shipment.number);
            o.shipments.push(shipment.clone());
        })
        .await
    }

    /// Atomically reads the order `number`, lets `change` decide its next state (or `None` to
    /// leave it alone), and writes it with its index entry. Not flushed: callers flush.
    pub fn update<R>(
        &self,
        number: &str,
        change: impl Fn(Option<Order>) -> Option<(Order, R)>,
    ) -> Result<Option<(Order, R)>, OrdersError> {
        let number = number.trim(); // as `get` reads it
        let result = self.trees().as_slice().transaction(|t| {
            let current = read(&t[0], number)?;
            let Some((next, extra)) = change(current.clone()) else {
                return Ok(None);
            };
            write(t, &self.indexes(t), current.as_ref(), &next)?;
            Ok(Some((next, extra)))
        });
        match result {
            Ok(v) => Ok(v),
            Err(TransactionError::Abort(e)) => Err(e),
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

    /// How many orders stand in each sync status (from the kept counts).
    pub fn count_by_sync_status(&self) -> Result<Vec<(SyncStatus, u64)>, OrdersError> {
        SyncStatus::ALL
            .into_iter()
            .map(|sync| {
                let filter = OrderFilter {
                    sync_status: Some(sync),
                    ..Default::default()
                };
                self.count(&filter).map(|n| (sync, n))
            })
            .collect()
    }

    /// How many orders match the status filters (the search is not counted here).
    fn count(&self, filter: &OrderFilter) -> Result<u64, OrdersError> {
        let mut total = 0;
        for entry in self.counts.iter() {
            let (key, value) = entry?;
            let Ok(n) = <[u8; 8]>::try_from(value.as_ref()) else {
                continue; // `ready`
            };
            let key = String::from_utf8_lossy(&key);
            let Some((sync, payment)) = key.split_once('/') else {
                continue;
            };
            let sync_ok = filter.sync_status.is_none_or(|s| s.as_str() == sync);
            let payment_ok = filter
                .payment_status
                .is_none_or(|p| encode_plain(&p) == payment);
            if sync_ok && payment_ok {
                total += u64::from_be_bytes(n);
            }
        }
        Ok(total)
    }

    /// Counts the stored orders once, for a store written before counts were kept.
    fn count_once(&self) -> store::Result<()> {
        if self.counts.contains_key(COUNTS_READY)? {
            return Ok(());
        }
        let mut counts = std::collections::HashMap::<Vec<u8>, u64>::new();
        for entry in self.index.iter_from(Bound::Unbounded) {
            let (_, value) = entry?;
            let e: IndexEntry = decode(&value)?;
            *counts.entry(count_key(e.sync, e.payment)).or_default() += 1;
        }
        let mut batch = sled::Batch::default();
        for (key, n) in counts {
            batch.insert(key, &n.to_be_bytes());
        }
        batch.insert(COUNTS_READY, &[1u8][..]);
        self.counts.apply_batch(batch)?;
        Ok(())
    }

    /// Orders newest `placed_at` first (then by number), after the cursor `after`.
    pub fn list(
        &self,
        first: usize,
        after: Option<&str>,
        filter: &OrderFilter,
    ) -> Result<Page<Order>, OrdersError> {
        let start = match after {
            // A list key: 8 bytes of placement, then a number (a job list's cursor has none).
            Some(c) => Bound::Excluded(
                paging::key_of(c)
                    .filter(|k| k.len() > 8)
                    .ok_or_else(|| OrdersError::BadCursor(c.to_owned()))?,
            ),
            None => Bound::Unbounded,
        };
        let needle = filter.search.as_deref().and_then(search::needle);
        let (keys, total_count, has_next_page) = match needle {
            None => {
                let (keys, more) = self.walk(first, &start, filter)?;
                // The kept counts know statuses, not error classes: a class is counted by
                // walking the list index (its entries are small; no order is decoded).
                let total = match filter.error_class {
                    None => self.count(filter)? as usize,
                    Some(_) => self.count_walking(filter)?,
                };
                (keys, total, more)
            }
            Some(n) => self.search(first, &start, filter, &n)?,
        };
        let items = keys
            .into_iter()
            .filter_map(|key| {
                let number = number_of(&key);
                let order = self.orders.get(number).ok()??;
                Some(decode::<Order>(&order).map(|o| (o, paging::cursor(&key))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            has_next_page,
            total_count,
        })
    }

    /// How many list entries pass the filter's statuses and class, walking them all.
    fn count_walking(&self, filter: &OrderFilter) -> Result<usize, OrdersError> {
        let mut n = 0;
        for entry in self.entries(&Bound::Unbounded, filter) {
            let (_, value) = entry?;
            n += filter.matches(&decode(&value)?) as usize;
        }
        Ok(n)
    }

    /// List entries (list key → statuses) from the cursor `start` on, newest first: those of
    /// the partition the filter walks ([`by_status::partition`]), or all without a status
    /// filter. Entries may still fail the filter's other statuses.
    fn entries<'a>(&'a self, start: &Bound<Vec<u8>>, filter: &OrderFilter) -> Entries<'a> {
        let count = |f: &OrderFilter| self.count(f).unwrap_or(0);
        let Some(prefix) = by_status::partition(filter, count) else {
            return Box::new(self.index.iter_from(start.clone()));
        };
        let at = |k: &Vec<u8>| [prefix.as_slice(), k].concat();
        let from = match start {
            Bound::Unbounded => Bound::Included(prefix.clone()),
            Bound::Included(k) => Bound::Included(at(k)),
            Bound::Excluded(k) => Bound::Excluded(at(k)),
        };
        let n = prefix.len();
        Box::new(
            self.by_status
                .iter_from(from)
                .take_while(move |e| e.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
                .map(move |e| e.map(|(k, v)| (k[n..].to_vec(), v))),
        )
    }

    /// Without a search: walks the list index from the cursor to the end of the page.
    fn walk(
        &self,
        first: usize,
        start: &Bound<Vec<u8>>,
        filter: &OrderFilter,
    ) -> Result<(Vec<Vec<u8>>, bool), OrdersError> {
        let mut keys = Vec::new();
        for entry in self.entries(start, filter) {
            let (key, value) = entry?;
            let e: IndexEntry = decode(&value)?;
            if !filter.matches(&e) {
                continue;
            }
            if keys.len() == first {
                return Ok((keys, true));
            }
            keys.push(key);
        }
        Ok((keys, false))
    }

    /// With a search: the orders its terms find, filtered by status through their list
    /// entries; all matches are counted, so the cost follows the matches.
    fn search(
        &self,
        first: usize,
        start: &Bound<Vec<u8>>,
        filter: &OrderFilter,
        needle: &str,
    ) -> Result<(Vec<Vec<u8>>, usize, bool), OrdersError> {
        let by_status = filter.sync_status.is_some()
            || filter.payment_status.is_some()
            || filter.error_class.is_some();
        let mut total = 0;
        let mut keys = Vec::new();
        let mut more = false;
        for key in search::find(&self.terms, needle)? {
            if by_status {
                let Some(value) = self.index.get(&key)? else {
                    continue;
                };
                if !filter.matches(&decode(&value)?) {
                    continue;
                }
            }
            total += 1;
            if let Bound::Excluded(c) = start
                && key.as_slice() <= c.as_slice()
            {
                continue;
            }
            if keys.len() < first {
                keys.push(key);
            } else {
                more = true;
            }
        }
        Ok((keys, total, more))
    }
}
