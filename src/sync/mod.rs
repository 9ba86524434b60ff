//! Order sync: store orders become Acumatica Sales Orders, exactly once.
//!
//! [`Syncer`] runs the SYNC_ORDER jobs that [`crate::orders`] enqueues (automatically after
//! payment, or on request). A run reads the order as it is now, finds or creates the
//! customer ([`customers`]), makes sure every SKU exists as a stock item ([`items`]), and
//! creates the Sales Order ([`sales_order`]) following the exactly-once protocol of
//! [`job`]: the intent to create is recorded durably before the request, and every later
//! attempt looks the order up by CustomerOrder before it creates anything again.
//!
//! [`payment`] runs the RECORD_PAYMENT jobs (a payment for an order paid after its Sales
//! Order exists) and releases payments when the setting says so.
//!
//! `plan` holds the pure decisions (customer identifiers, discount split); `cache` what is
//! remembered between syncs so that the steady state costs one request.

pub mod cache;
mod customers;
mod items;
mod job;
pub mod payment;
pub mod plan;
pub mod sales_order;

use std::time::Duration;

use crate::acumatica;
use crate::connection::Connection;
use crate::jobs::{JobKind, Jobs, KindSpec, Outcome};
use crate::orders::Orders;
use crate::settings::Settings;
use crate::store::{self, Store};
use cache::{Cache, KeyedLocks};

/// Runs order syncs. Cheap to clone.
#[derive(Clone)]
pub struct Syncer {
    orders: Orders,
    settings: Settings,
    connection: Connection,
    cache: Cache,
    locks: KeyedLocks,
    /// After a write whose outcome is unknown, how long to wait before looking it up again.
    recheck_delay: Duration,
}

impl Syncer {
    pub fn open(
        store: &Store,
        orders: &Orders,
        settings: &Settings,
        connection: &Connection,
        recheck_delay: Duration,
    ) -> store::Result<Syncer> {
        Ok(Syncer {
            orders: orders.clone(),
            settings: settings.clone(),
            connection: connection.clone(),
            cache: Cache::open(store)?,
            locks: KeyedLocks::default(),
            recheck_delay,
        })
    }

    /// Registers the SYNC_ORDER handler (`concurrency` at once) and the hook that mirrors
    /// each sync job's status onto its order. Call before the job workers start.
    pub fn register(&self, jobs: &Jobs, concurrency: usize) {
        let orders = self.orders.clone();
        jobs.on_change(move |job| orders.mirror_job(job));
        let syncer = self.clone();
        jobs.register(
            KindSpec::new(JobKind::SYNC_ORDER).concurrency(concurrency),
            move |ctx| {
                let syncer = syncer.clone();
                async move { syncer.run(ctx).await }
            },
        );
        let syncer = self.clone();
        jobs.register(
            KindSpec::new(JobKind::RECORD_PAYMENT).concurrency(concurrency),
            move |ctx| {
                let syncer = syncer.clone();
                async move { syncer.run_payment(ctx).await }
            },
        );
    }

    /// The outcome of a failed request to Acumatica (the connection's one policy; an
    /// ambiguous create is looked up before any new one).
    async fn failed(&self, e: &acumatica::Error, generation: u64) -> Outcome {
        self.connection
            .failure_outcome(
                e,
                generation,
                self.recheck_delay,
                "looked up again before any new create",
            )
            .await
    }
}
