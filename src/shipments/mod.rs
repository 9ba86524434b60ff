//! Shipments written back to the store.
//!
//! - The **poll** (a supervised task, not a job) runs every `--shipment-poll-interval-ms`
//!   while `writeBackShipments` is on and Acumatica is connected. Each poll is ONE request,
//!   however many orders shipped: `GET Shipment?$filter=LastModifiedDateTime ge
//!   datetimeoffset'<cursor>'&$expand=Orders,Packages`. The cursor is durable (the
//!   `shipments` tree) and inclusive, so a shipment changed in the cursor's millisecond is
//!   never missed; what a poll has already seen is skipped by its `seen:<shipmentNbr>` marker
//!   (the version, its `LastModifiedDateTime`, that was pushed), and job uniqueness removes
//!   any duplicate left. A shipment changed again while the write-back of its older version
//!   still waits holds the cursor at its new version until that one is done, then is pushed
//!   again. A first poll (no cursor yet) reads the last [`FIRST_LOOK_BACK_DAYS`] days.
//! - For each confirmed shipment of an order the bridge synced (found through the
//!   `orders_by_so` index, no walk over the orders), the poll pushes a WRITE_BACK job
//!   unique per shipment (`writeback:<shipmentNbr>`) carrying what the shipment says. The
//!   jobs, the seen markers and the new cursor are written in ONE transaction: a crash before
//!   it re-reads the same shipments, after it has their jobs.
//! - The WRITE_BACK handler ([`write_back`]) writes the shipping status and the tracking
//!   numbers the store does not have yet, then records the shipment on the order.

pub mod write_back;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::acumatica::{Filter, Query, Shipment};
use crate::connection::Connection;
use crate::jobs::{JobKind, Jobs, JobsError, KindSpec, NewJob};
use crate::orders::Orders;
use crate::settings::Settings;
use crate::store::{Store, trees};
use crate::store_import::StoreImport;

/// The cursor's key in the `shipments` tree.
const CURSOR: &[u8] = b"cursor";
/// Prefix of the seen markers: `seen:<shipmentNbr>` → the version pushed.
const SEEN: &str = "seen:";
/// How far back the first poll reads.
pub const FIRST_LOOK_BACK_DAYS: i64 = 7;
/// Default of `--shipment-poll-interval-ms`.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 60_000;

/// Shipment statuses that mean the goods left (Acumatica: Confirmed, then Completed once
/// invoiced, Invoiced).
const SHIPPED_STATUSES: &[&str] = &["Confirmed", "Completed", "Invoiced"];

/// What a WRITE_BACK job carries: the shipment as the poll read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteBack {
    pub shipment_nbr: String,
    pub status: String,
    pub shipped_at: Option<DateTime<Utc>>,
    pub tracking_numbers: Vec<String>,
    /// The bridge orders it ships.
    pub orders: Vec<ShippedOrder>,
    /// Its `LastModifiedDateTime` as read.
    pub version: String,
}

/// A bridge order a shipment ships, and how much of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippedOrder {
    pub number: String,
    pub shipped_qty: Option<Decimal>,
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Acumatica(#[from] crate::acumatica::Error),
    #[error("{0}")]
    Local(String),
}

impl From<JobsError> for PollError {
    fn from(e: JobsError) -> Self {
        PollError::Local(e.to_string())
    }
}

/// The shipment poll and the WRITE_BACK handler. Cheap to clone.
#[derive(Clone)]
pub struct Shipments {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    jobs: Jobs,
    orders: Orders,
    settings: Settings,
    connection: Connection,
    store_import: StoreImport,
    every: Duration,
}

impl Shipments {
    pub fn open(
        store: &Store,
        jobs: Jobs,
        orders: Orders,
        settings: Settings,
        connection: Connection,
        store_import: StoreImport,
        every: Duration,
    ) -> crate::store::Result<Shipments> {
        Ok(Shipments {
            inner: Arc::new(Inner {
                tree: store.raw_tree(trees::SHIPMENTS)?,
                jobs,
                orders,
                settings,
                connection,
                store_import,
                every,
            }),
        })
    }

    /// Registers the WRITE_BACK handler and starts the poll. Call before the workers start.
    pub fn register(&self) {
        let s = self.clone();
        self.inner.jobs.register(
            KindSpec::new(JobKind::WRITE_BACK).concurrency(4),
            move |ctx| {
                let s = s.clone();
                async move { s.run_write_back(ctx).await }
            },
        );
        crate::supervise::spawn("shipment poll", self.clone(), |s| s.poll_loop());
    }

    /// The durable cursor: shipments changed at or after it are read by the next poll.
    pub fn cursor(&self) -> Option<DateTime<FixedOffset>> {
        let bytes = self.inner.tree.get(CURSOR).ok()??;
        DateTime::parse_from_rfc3339(&String::from_utf8_lossy(&bytes)).ok()
    }

    async fn poll_loop(self) {
        loop {
            let on = self
                .inner
                .settings
                .get()
                .map(|s| s.write_back_shipments)
                .unwrap_or(false);
            if on {
                match self.poll().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "shipments to write back to the store"),
                    Err(e) => {
                        tracing::warn!(error = %e, "the shipment poll failed; it runs again at the next interval")
                    }
                }
            }
            tokio::time::sleep(self.inner.every).await;
        }
    }

    /// One poll: one request to Acumatica; returns how many WRITE_BACK jobs it pushed. Does
    /// nothing while Acumatica is not connected.
    pub async fn poll(&self) -> Result<usize, String> {
        self.poll_inner().await.map_err(|e| e.to_string())
    }

    async fn poll_inner(&self) -> Result<usize, PollError> {
        let Ok(session) = self.inner.connection.session().await else {
            return Ok(0);
        };
        let cursor = self.cursor().unwrap_or_else(|| {
            (Utc::now() - chrono::Duration::days(FIRST_LOOK_BACK_DAYS)).fixed_offset()
        });
        let query = Query::new()
            .filter(Filter::ge("LastModifiedDateTime", cursor))
            .expand(&["Orders", "Packages"]);
        let listed = match session.client.list::<Shipment>(&query).await {
            Ok(l) => l,
            Err(e) => {
                if crate::connection::ends_session(&e) {
                    self.inner
                        .connection
                        .session_ended(session.generation, &e.to_string())
                        .await;
                } else if e.is_unreachable() {
                    self.inner.connection.report_unreachable();
                }
                return Err(e.into());
            }
        };
        let newest = listed
            .iter()
            .filter_map(|s| s.last_modified)
            .max()
            .map_or(cursor, |m| m.max(cursor));
        let mut work = vec![];
        for s in &listed {
            let (Some(nbr), Some(version)) = (&s.shipment_nbr, s.last_modified) else {
                continue;
            };
            let version = version.to_rfc3339();
            if self.seen(nbr).is_some_and(|v| v >= version_key(&version)) {
                continue;
            }
            let job = self.job_of(s, nbr, &version).map_err(PollError::Local)?;
            work.push((nbr.clone(), version, job));
        }
        let (pushed, cursor) = self
            .inner
            .jobs
            .push_with::<_, JobsError>(&[&self.inner.tree], |t, q| {
                let mut n = 0;
                let mut cursor = newest;
                for (nbr, version, job) in &work {
                    if let Some(job) = job {
                        if q.live_with_key::<JobsError>(&unique_key(nbr))?.is_some() {
                            // An older version's write-back still waits: this version is read
                            // again (the cursor stays at it) once that one is done. Not pushed
                            // meanwhile, so that the waiting one keeps its backoff.
                            if let Ok(v) = DateTime::parse_from_rfc3339(version) {
                                cursor = cursor.min(v);
                            }
                            continue;
                        }
                        q.push::<JobsError>(job)?;
                        n += 1;
                    }
                    t[0].insert(format!("{SEEN}{nbr}").as_bytes(), version_key(version))?;
                }
                t[0].insert(CURSOR, cursor.to_rfc3339().as_bytes())?;
                Ok((n, cursor))
            })
            .await?;
        self.prune_seen(&cursor);
        Ok(pushed)
    }

    /// The version of shipment `nbr` a poll last pushed.
    fn seen(&self, nbr: &str) -> Option<Vec<u8>> {
        self.inner
            .tree
            .get(format!("{SEEN}{nbr}"))
            .ok()
            .flatten()
            .map(|v| v.to_vec())
    }

    /// Forgets the seen markers of versions before the cursor: the filter never returns them
    /// again (a change would give a newer version).
    fn prune_seen(&self, cursor: &DateTime<FixedOffset>) {
        let floor = version_key(&cursor.to_rfc3339());
        for entry in self.inner.tree.scan_prefix(SEEN).flatten() {
            if entry.1.as_ref() < floor.as_slice() {
                let _ = self.inner.tree.remove(entry.0);
            }
        }
    }

    /// The WRITE_BACK job of a listed shipment, or `None` when there is nothing to write:
    /// not shipped yet, or no order of the bridge among its orders.
    fn job_of(&self, s: &Shipment, nbr: &str, version: &str) -> Result<Option<NewJob>, String> {
        let status = s.status.clone().unwrap_or_default();
        if !SHIPPED_STATUSES.contains(&status.as_str()) {
            return Ok(None);
        }
        let mut orders = vec![];
        for row in s.orders.iter().flatten() {
            let (Some(t), Some(n)) = (&row.order_type, &row.order_nbr) else {
                continue;
            };
            let found = self
                .inner
                .orders
                .by_sales_order(t, n)
                .map_err(|e| e.to_string())?;
            if let Some(order) = found
                && !orders
                    .iter()
                    .any(|o: &ShippedOrder| o.number == order.data.number)
            {
                orders.push(ShippedOrder {
                    number: order.data.number,
                    shipped_qty: row.shipped_qty,
                });
            }
        }
        let Some(first) = orders.first().map(|o| o.number.clone()) else {
            return Ok(None);
        };
        let mut tracking: Vec<String> = vec![];
        for p in s.packages.iter().flatten() {
            if let Some(t) = p.tracking_nbr.as_deref().map(str::trim)
                && !t.is_empty()
                && !tracking.iter().any(|x| x.eq_ignore_ascii_case(t))
            {
                tracking.push(t.to_owned());
            }
        }
        let payload = WriteBack {
            shipment_nbr: nbr.to_owned(),
            status,
            shipped_at: s.shipment_date.map(|d| d.with_timezone(&Utc)),
            tracking_numbers: tracking,
            orders,
            version: version.to_owned(),
        };
        let payload = serde_json::to_value(payload).map_err(|e| e.to_string())?;
        Ok(Some(
            NewJob::new(JobKind::WRITE_BACK, payload)
                .unique(unique_key(nbr))
                .order(first),
        ))
    }
}

/// The uniqueness key of shipment `nbr`'s WRITE_BACK job.
fn unique_key(nbr: &str) -> String {
    format!("writeback:{nbr}")
}

/// A version (`LastModifiedDateTime`) as bytes that sort in time order: UTC, fixed width.
fn version_key(text: &str) -> Vec<u8> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| {
            d.with_timezone(&Utc)
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        })
        .unwrap_or_else(|_| text.to_owned())
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_in_time_order_whatever_their_offset() {
        let a = version_key("2026-12-04T20:00:00.5+01:00");
        let b = version_key("2026-12-04T19:30:00Z");
        let c = version_key("2026-12-04T19:30:00.001Z");
        assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
    }
}
