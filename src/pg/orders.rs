//! The store's orders on PostgreSQL ([`PgOrders`]): the operations of the sled orders service
//! (`crate::orders::Orders`) with the same meaning and result types, on the `orders` table of
//! `migrations/0001_state.sql`, for several instances sharing one database.
//!
//! A row is one order: `body` is the whole [`Order`] as the sled store keeps it
//! (`store::encode`'s JSON, money as decimal strings), next to the columns the list filters,
//! sorts and searches on, derived from the body at every write ([`write`], the one place an
//! order is written): the placement (to the microsecond, as the sled list key), the number
//! lower-cased and the e-mail trimmed and lower-cased (folded here, as `orders/search.rs` folds
//! its terms, not by the database's locale), the sync and payment status, the error class, and
//! the Sales Order link upper-cased and trimmed (the key of `orders/by_sales_order.rs`).
//!
//! Every change is one transaction that locks the order's row (`FOR UPDATE`), computes the
//! next order with the same rules as sled — the automatic sync, `orders::aftercare`'s
//! follow-up jobs and `orders::payment::due` are the sled module's own functions — pushes the
//! jobs it calls for with [`push_in`] in that transaction, and commits before it answers: an
//! answer means the order and its jobs are durable together, or neither is. Two instances
//! creating the same order at once both find no row to lock; the second insert then finds the
//! first one's row (`ON CONFLICT DO NOTHING`), and its transaction is rolled back (with the
//! jobs it pushed) and run again over the order now there, so that one order results and its
//! rules run once.
//!
//! The sync settings come as a parameter of [`PgOrders::record`] and
//! [`PgOrders::request_payment`]: the settings service is still sled's, and the storage trait
//! will decide where they are read.
//!
//! Reading pages (filters, search, cursors) is [`list`]'s.

mod list;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use std::time::Duration;

use super::queue::{PgQueue, push_in};
use super::{Pg, PgError};
use crate::domain::aftercare::settled;
use crate::domain::order::{NewOrder, Order, OrderShipment, OrderSync, PaymentStatus, SyncStatus};
use crate::domain::settings::{OrderSyncMode, SyncSettings};
use crate::events::Bus;
use crate::jobs::{JobKind, JobRecord, JobStatus, Limits};
use crate::orders::{
    OrderFilter, OrdersError, Recorded, aftercare, by_sales_order, payment, payment_job, sync_job,
};
use crate::paging::Page;
use crate::store::encode;

type Result<T, E = OrdersError> = std::result::Result<T, E>;

impl From<PgError> for OrdersError {
    fn from(e: PgError) -> Self {
        OrdersError::Database(Box::new(e))
    }
}

fn sql(e: sqlx::Error) -> OrdersError {
    PgError::Sql(e).into()
}

/// The orders service on PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct PgOrders {
    pool: PgPool,
    limits: Limits,
    bus: Bus<Order>,
}

/// A status or class by its stored name (`"PAID"`, `"DATA"`), as serde writes it.
fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `placed_at` as the sled list key keeps it: to the microsecond, truncated.
fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// The (type, number) columns of an order's Sales Order link, as `by_sales_order::key` forms them.
fn sales_order_columns(sync: &OrderSync) -> (Option<String>, Option<String>) {
    match (&sync.sales_order_type, &sync.sales_order_nbr) {
        (Some(t), Some(n)) => (Some(normal(t)), Some(normal(n))),
        _ => (None, None),
    }
}

fn normal(s: &str) -> String {
    s.trim().to_uppercase()
}

fn decode_order(body: &str) -> Result<Order> {
    serde_json::from_str(body).map_err(|e| {
        OrdersError::from(PgError::Decode {
            what: "order",
            why: e.to_string(),
        })
    })
}

/// Order `number`, its row locked for the transaction.
async fn read(conn: &mut PgConnection, number: &str) -> Result<Option<Order>> {
    let body: Option<String> =
        sqlx::query_scalar("SELECT body::text FROM orders WHERE number = $1 FOR UPDATE")
            .bind(number)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql)?;
    body.as_deref().map(decode_order).transpose()
}

/// Writes `next` over `current` (`None`: a new order) with its columns. False when the order
/// was new but another transaction created it first: the caller's transaction must be rolled
/// back and run again.
async fn write(conn: &mut PgConnection, current: Option<&Order>, next: &Order) -> Result<bool> {
    let statement = if current.is_none() {
        "INSERT INTO orders (number, placed_at, email, sync_status, payment_status, error_class, \
         sales_order_type, sales_order_nbr, recorded_at, updated_at, body, search_number) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12) \
         ON CONFLICT (number) DO NOTHING"
    } else {
        "UPDATE orders SET placed_at = $2, email = $3, sync_status = $4, payment_status = $5, \
         error_class = $6, sales_order_type = $7, sales_order_nbr = $8, recorded_at = $9, \
         updated_at = $10, body = $11::jsonb, search_number = $12 WHERE number = $1"
    };
    let (so_type, so_nbr) = sales_order_columns(&next.sync);
    let body = String::from_utf8(encode(next)).expect("JSON is UTF-8");
    let done = sqlx::query(statement)
        .bind(&next.data.number)
        .bind(to_micros(next.data.placed_at))
        .bind(next.data.email.trim().to_lowercase())
        .bind(next.sync.status.as_str())
        .bind(name_of(&next.data.payment_status))
        .bind(next.sync.error_class.as_ref().map(name_of))
        .bind(so_type)
        .bind(so_nbr)
        .bind(next.recorded_at)
        .bind(next.updated_at)
        .bind(body)
        .bind(next.data.number.to_lowercase())
        .execute(&mut *conn)
        .await
        .map_err(sql)?;
    Ok(done.rows_affected() == 1)
}

impl PgOrders {
    /// The orders of the database `pg`; jobs they push get their attempts from `limits`.
    pub fn new(pg: &Pg, limits: Limits) -> PgOrders {
        PgOrders {
            pool: pg.pool().clone(),
            limits,
            bus: Bus::default(),
        }
    }

    /// Changes of orders made through this instance, for subscribers.
    pub fn bus(&self) -> &Bus<Order> {
        &self.bus
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(sql)
    }

    /// Creates or updates the order with `new.number`; committed when it returns. In
    /// automatic mode (of `settings`), an order that becomes PAID and never had a sync job
    /// gets one in the same transaction (the rules of `Orders::record`).
    pub async fn record(
        &self,
        new: NewOrder,
        settings: &SyncSettings,
    ) -> Result<(Order, Recorded)> {
        let automatic = settings.order_sync_mode == OrderSyncMode::AutomaticAfterPayment;
        let now = Utc::now();
        let number = new.number.clone();
        loop {
            let mut tx = self.begin().await?;
            let current = read(&mut tx, &number).await?;
            let was_paid = current
                .as_ref()
                .is_some_and(|o| o.data.payment_status == PaymentStatus::Paid);
            let (mut next, how) = match &current {
                None => (Order::first(new.clone(), now), Recorded::Created),
                Some(o) => (o.updated(new.clone(), now), Recorded::Updated),
            };
            let becomes_paid = !was_paid && next.data.payment_status == PaymentStatus::Paid;
            // Once per order: never for one synced or with a sync on its way; again for one
            // whose automatic sync was canceled when it stopped being paid.
            let idle = matches!(next.sync.status, SyncStatus::NotSynced | SyncStatus::Failed);
            if automatic && becomes_paid && idle && next.sync.sales_order_nbr.is_none() {
                let pushed = push_in(&mut tx, &sync_job(&number, true), &self.limits).await?;
                next.sync.status = SyncStatus::Queued;
                next.sync.job_ids.push(pushed.job.id.to_string());
            }
            if let Some(before) = &current {
                let credits = settings.create_refund_credits;
                for job in aftercare::follow_store_change(before, &mut next, credits, now) {
                    let pushed = push_in(&mut tx, &job, &self.limits).await?;
                    next.sync.job_ids.push(pushed.job.id.to_string());
                }
            }
            // Paid after its Sales Order exists: the payment is recorded on its own.
            if payment::due(settings, &next) {
                push_in(&mut tx, &payment_job(&number), &self.limits).await?;
            }
            if !write(&mut tx, current.as_ref(), &next).await? {
                tx.rollback().await.map_err(sql)?;
                continue; // created meanwhile by another instance: again, as an update
            }
            tx.commit().await.map_err(sql)?;
            self.bus.publish(next.clone());
            return Ok((next, how));
        }
    }

    /// Enqueues a SYNC_ORDER job for each of `numbers` (or returns its live job, moving a
    /// scheduled retry to now), all in one transaction. An unknown number fails the whole
    /// call and changes nothing.
    pub async fn request_sync(&self, numbers: &[String]) -> Result<Vec<JobRecord>> {
        let numbers: Vec<String> = numbers.iter().map(|n| n.trim().to_owned()).collect();
        let mut tx = self.begin().await?;
        let mut jobs = vec![];
        let mut orders = vec![];
        for number in &numbers {
            let Some(current) = read(&mut tx, number).await? else {
                return Err(OrdersError::NotFound(number.clone())); // rolled back on drop
            };
            let pushed = push_in(&mut tx, &sync_job(number, false), &self.limits).await?;
            let mut next = current.clone();
            if pushed.job.status.is_live() && pushed.job.status != JobStatus::Running {
                next.sync.status = SyncStatus::Queued;
            }
            let id = pushed.job.id.to_string();
            if !next.sync.job_ids.contains(&id) {
                next.sync.job_ids.push(id);
            }
            write(&mut tx, Some(&current), &next).await?;
            jobs.push(pushed.job);
            orders.push(next);
        }
        tx.commit().await.map_err(sql)?;
        for o in orders {
            self.bus.publish(o);
        }
        Ok(jobs)
    }

    /// Pushes order `number`'s RECORD_PAYMENT job when it is due under `settings`; committed
    /// on return. True when a job is live.
    pub async fn request_payment(&self, number: &str, settings: &SyncSettings) -> Result<bool> {
        let mut tx = self.begin().await?;
        let Some(order) = read(&mut tx, number).await? else {
            return Ok(false);
        };
        if !payment::due(settings, &order) {
            return Ok(false);
        }
        push_in(&mut tx, &payment_job(number), &self.limits).await?;
        tx.commit().await.map_err(sql)?;
        Ok(true)
    }

    /// Mirrors a SYNC_ORDER job's status onto its order, as `Orders::mirror_job` does
    /// (QUEUED and RETRY_SCHEDULED → QUEUED, RUNNING → SYNCING, SUCCEEDED → SYNCED, or
    /// NEEDS_ATTENTION while a person is needed, FAILED and CANCELED → FAILED).
    pub async fn mirror_job(&self, job: &JobRecord) {
        if job.kind != JobKind::SYNC_ORDER {
            return;
        }
        let Some(number) = job.order_number.as_deref() else {
            return;
        };
        let changed = self
            .update(number, |current| {
                crate::orders::mirrored(job, current?).map(|o| (o, ()))
            })
            .await;
        match changed {
            Ok(Some((order, ()))) => self.bus.publish(order),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(order = number, error = %e, "cannot mirror the sync job on its order")
            }
        }
    }

    /// Brings the sync status of orders still QUEUED or SYNCING in line with their latest
    /// sync job, as `Orders::reconcile` does (after a crash, before the mirror is attached).
    /// Returns how many orders it looked at.
    pub async fn reconcile(&self) -> Result<usize> {
        let numbers: Vec<String> = sqlx::query_scalar(
            "SELECT number FROM orders WHERE sync_status IN ('QUEUED', 'SYNCING') \
             ORDER BY sync_status, placed_at DESC, number COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(sql)?;
        // Reading a job needs no owner or lease: a queue handle only for `get`.
        let jobs = PgQueue::new(
            self.pool.clone(),
            "orders-reconcile",
            Duration::from_secs(30),
        );
        for number in &numbers {
            let Some(order) = self.get(number).await? else {
                continue;
            };
            // Its latest sync job (the order also lists its cancellation and credit jobs).
            for id in order.sync.job_ids.iter().rev() {
                let Ok(id) = id.parse::<u64>() else {
                    continue;
                };
                let Some(job) = jobs.get(id).await? else {
                    continue;
                };
                if job.kind == JobKind::SYNC_ORDER {
                    self.mirror_job(&job).await;
                    break;
                }
            }
        }
        Ok(numbers.len())
    }

    /// Changes the sync state of order `number` with `f`; committed on return.
    pub async fn set_sync(&self, number: &str, f: impl Fn(&mut OrderSync)) -> Result<Order> {
        self.change(number, |o| f(&mut o.sync)).await
    }

    /// Changes order `number` with `f`, committed, and tells subscribers.
    async fn change(&self, number: &str, f: impl Fn(&mut Order)) -> Result<Order> {
        let changed = self
            .update(number, |current| {
                let mut next = current?;
                f(&mut next);
                Some((next, ()))
            })
            .await?;
        match changed {
            Some((order, ())) => {
                self.bus.publish(order.clone());
                Ok(order)
            }
            None => Err(OrdersError::NotFound(number.to_owned())),
        }
    }

    /// Resolves what order `number` needs a person for, with the operator's `note` (as
    /// `Orders::resolve_attention`). `Ok(None)`: the order needs no attention.
    pub async fn resolve_attention(
        &self,
        number: &str,
        note: Option<String>,
    ) -> Result<Option<Order>> {
        let now = Utc::now();
        let changed = self
            .update(number, |current| {
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
                // Nothing to resolve: nothing is written (sled writes the same order again).
                resolved.then_some((next, ()))
            })
            .await?;
        match changed {
            Some((order, ())) => {
                self.bus.publish(order.clone());
                Ok(Some(order))
            }
            None if self.exists(number).await? => Ok(None),
            None => Err(OrdersError::NotFound(number.trim().to_owned())),
        }
    }

    async fn exists(&self, number: &str) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE number = $1)")
            .bind(number)
            .fetch_one(&self.pool)
            .await
            .map_err(sql)
    }

    /// Records (or replaces, by its number) a shipment written back to the store on order
    /// `number`; committed on return.
    pub async fn record_shipment(&self, number: &str, shipment: OrderShipment) -> Result<Order> {
        self.change(number, |o| {
            o.shipments.retain(|s| s.number != shipment.number);
            o.shipments.push(shipment.clone());
        })
        .await
    }

    /// Reads order `number` locked, lets `change` decide its next state (or `None` to leave
    /// it alone), writes it and commits. Subscribers are told by the callers, as in sled.
    pub async fn update<R>(
        &self,
        number: &str,
        change: impl Fn(Option<Order>) -> Option<(Order, R)>,
    ) -> Result<Option<(Order, R)>> {
        loop {
            let mut tx = self.begin().await?;
            let current = read(&mut tx, number).await?;
            let Some((next, extra)) = change(current.clone()) else {
                return Ok(None);
            };
            if !write(&mut tx, current.as_ref(), &next).await? {
                tx.rollback().await.map_err(sql)?;
                continue;
            }
            tx.commit().await.map_err(sql)?;
            return Ok(Some((next, extra)));
        }
    }

    pub async fn get(&self, number: &str) -> Result<Option<Order>> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body::text FROM orders WHERE number = $1")
                .bind(number.trim())
                .fetch_optional(&self.pool)
                .await
                .map_err(sql)?;
        body.as_deref().map(decode_order).transpose()
    }

    /// The order linked to Sales Order `order_type` `nbr` (case and surrounding spaces aside).
    pub async fn by_sales_order(&self, order_type: &str, nbr: &str) -> Result<Option<Order>> {
        debug_assert_eq!(
            by_sales_order::key(order_type, nbr),
            format!("so:{}:{}", normal(order_type), normal(nbr)).into_bytes()
        );
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body::text FROM orders WHERE sales_order_type = $1 AND sales_order_nbr = $2",
        )
        .bind(normal(order_type))
        .bind(normal(nbr))
        .fetch_optional(&self.pool)
        .await
        .map_err(sql)?;
        body.as_deref().map(decode_order).transpose()
    }

    /// How many orders stand in each sync status (every status, in `SyncStatus::ALL` order).
    pub async fn count_by_sync_status(&self) -> Result<Vec<(SyncStatus, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT sync_status, count(*) FROM orders GROUP BY sync_status")
                .fetch_all(&self.pool)
                .await
                .map_err(sql)?;
        Ok(SyncStatus::ALL
            .into_iter()
            .map(|s| {
                let n = rows.iter().find(|(name, _)| name == s.as_str());
                (s, n.map_or(0, |(_, n)| *n as u64))
            })
            .collect())
    }

    /// Orders newest `placed_at` first (then by number), after the cursor `after`, as
    /// `Orders::list` pages them (see [`list`]).
    pub async fn list(
        &self,
        first: usize,
        after: Option<&str>,
        filter: &OrderFilter,
    ) -> Result<Page<Order>> {
        list::page(&self.pool, first, after, filter).await
    }
}
