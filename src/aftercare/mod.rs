//! After the Sales Order: a store cancellation cancels the Sales Order (CANCEL_ORDER jobs), a
//! refund gets its credit memo when the settings say so ([`credit`]: CREATE_REFUND_CREDIT jobs),
//! and what the bridge leaves to a person (a refund otherwise, a cancellation after shipping,
//! a payment left on a canceled order) makes the order NEEDS_ATTENTION until an operator
//! resolves it.
//!
//! [`crate::orders`] decides, in the transaction that records the store's change, what it means
//! (a refund recorded with its attention, a CANCEL_ORDER job pushed). A CANCEL_ORDER run:
//!
//! 1. reads the order: no longer canceled in the store → CANCELED, nothing sent; its sync still
//!    on its way → waits for it (the Sales Order may be about to exist);
//! 2. no Sales Order (none was created) → done, nothing to cancel;
//! 3. reads the Sales Order with its shipments (one GET): already Canceled (an earlier attempt
//!    whose answer was lost) → done; shipped → NEEDS_ATTENTION, nothing changed in Acumatica;
//! 4. runs `CancelSalesOrder` (one POST). A refusal (Acumatica's business error, e.g. a
//!    shipment made meanwhile) → NEEDS_ATTENTION with Acumatica's words; an answer lost →
//!    retried, and step 3 reads before any second cancel;
//! 5. canceled, with a payment recorded for the order: the payment stays in Acumatica
//!    (canceling an order does not void it), so the order needs attention to void or refund it.
//!
//! Steady state: two requests per canceled order. Every step's result is kept on the order
//! (`sync.cancellation`, `sync.attention`) and in the job's history.

mod credit;

use std::time::Duration;

use chrono::Utc;

use crate::acumatica::{self, Query, SalesOrder};
use crate::connection::Connection;
use crate::domain::aftercare::Cancellation;
use crate::domain::order::{Order, SyncStatus};
use crate::domain::{ErrorClass, money};
use crate::jobs::{JobContext, JobKind, Jobs, KindSpec, Outcome, wake};
use crate::orders::{CancelRequest, Orders, OrdersError, sales_order_name};

/// How long a cancellation waits for a sync still on its way before looking again.
const SYNC_WAIT: Duration = Duration::from_secs(2);

/// Runs the CANCEL_ORDER jobs. Cheap to clone.
#[derive(Clone)]
pub struct Aftercare {
    orders: Orders,
    connection: Connection,
    recheck_delay: Duration,
}

impl Aftercare {
    pub fn new(orders: &Orders, connection: &Connection, recheck_delay: Duration) -> Aftercare {
        Aftercare {
            orders: orders.clone(),
            connection: connection.clone(),
            recheck_delay,
        }
    }

    /// Registers the CANCEL_ORDER and CREATE_REFUND_CREDIT handlers. Call before the job
    /// workers start.
    pub fn register(&self, jobs: &Jobs) {
        let this = self.clone();
        jobs.register(
            KindSpec::new(JobKind::CANCEL_ORDER).concurrency(2),
            move |ctx| {
                let this = this.clone();
                async move { this.cancel(ctx).await }
            },
        );
        let this = self.clone();
        jobs.register(
            KindSpec::new(JobKind::CREATE_REFUND_CREDIT).concurrency(2),
            move |ctx| {
                let this = this.clone();
                async move { this.credit(ctx).await }
            },
        );
    }

    async fn cancel(&self, ctx: JobContext) -> Outcome {
        let request: CancelRequest = match ctx.payload() {
            Ok(r) => r,
            Err(o) => return o,
        };
        match self.try_cancel(&ctx, &request.number).await {
            Ok(o) | Err(o) => o,
        }
    }

    async fn try_cancel(&self, ctx: &JobContext, number: &str) -> Result<Outcome, Outcome> {
        let order = self.order(number)?;
        if !order.data.is_canceled() {
            return Ok(Outcome::Canceled(format!(
                "Order {number} is no longer canceled in the store (payment status {:?}): nothing was sent to Acumatica.",
                order.data.payment_status
            )));
        }
        if matches!(order.sync.status, SyncStatus::Queued | SyncStatus::Syncing) {
            return Ok(Outcome::RetryAfter(
                SYNC_WAIT,
                "waiting for the order's sync to finish before canceling its Sales Order".into(),
            ));
        }
        let (Some(order_type), Some(nbr)) = (
            order.sync.sales_order_type.clone(),
            order.sync.sales_order_nbr.clone(),
        ) else {
            self.settle(
                number,
                "nothing to cancel: no Sales Order was created",
                false,
            )
            .await?;
            return Ok(Outcome::Done);
        };
        let so = sales_order_name(&order.sync);
        let (generation, client) = match self.connection.session().await {
            Ok(s) => (s.generation, s.client),
            Err(e) => return Ok(Outcome::not_ready(wake::CONNECTED, e.to_string())),
        };
        ctx.progress(1, Some(2), Some(format!("Reading {so} and its shipments")));
        let read = client
            .get::<SalesOrder>(
                &[order_type.as_str(), nbr.as_str()],
                &Query::new().expand(&["Shipments"]),
            )
            .await;
        let current = match read {
            Ok(current) => current,
            Err(acumatica::Error::NotFound { .. }) => {
                self.settle(
                    number,
                    &format!("nothing to cancel: {so} is no longer in Acumatica"),
                    false,
                )
                .await?;
                return Ok(Outcome::Done);
            }
            Err(e) => return Err(self.failed(&e, generation).await),
        };
        if current
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("Canceled"))
        {
            self.canceled(&order, &format!("{so} canceled")).await?;
            return Ok(Outcome::Done);
        }
        let shipped: Vec<String> = current
            .shipments
            .iter()
            .flatten()
            .filter_map(|s| s.shipment_nbr.clone())
            .collect();
        if !shipped.is_empty() {
            let reason = format!(
                "canceled in the store after {so} shipped (shipment {}): nothing was changed in Acumatica; handle the return or credit there, then mark this resolved",
                shipped.join(", ")
            );
            self.attention(number, &format!("not canceled: {so} has shipped"), reason)
                .await?;
            return Ok(Outcome::Done);
        }
        ctx.progress(
            2,
            Some(2),
            Some(format!("Sending CancelSalesOrder for {so}")),
        );
        let keys = SalesOrder {
            order_type: Some(order_type.clone()),
            order_nbr: Some(nbr.clone()),
            ..SalesOrder::default()
        };
        match client.action("CancelSalesOrder", &keys).await {
            Ok(()) => {
                self.canceled(
                    &order,
                    &format!("{so} canceled (CancelSalesOrder answered)"),
                )
                .await?;
                Ok(Outcome::Done)
            }
            Err(e) if e.error_class() == ErrorClass::Data => {
                let reason = format!(
                    "canceled in the store, but Acumatica refused to cancel {so}: {e}; nothing was changed in Acumatica: cancel it there, then mark this resolved"
                );
                self.attention(number, &format!("not canceled: {e}"), reason)
                    .await?;
                Ok(Outcome::Done)
            }
            Err(e) => Err(self.failed(&e, generation).await),
        }
    }

    fn order(&self, number: &str) -> Result<Order, Outcome> {
        self.orders
            .get(number)
            .map_err(Outcome::transient)?
            .ok_or_else(|| Outcome::data(format!("Order {number} no longer exists.")))
    }

    /// Records the cancellation's outcome (`canceled`: Acumatica shows it canceled).
    async fn settle(&self, number: &str, outcome: &str, canceled: bool) -> Result<(), Outcome> {
        let now = Utc::now();
        self.orders
            .set_sync(number, |s| {
                let c = s.cancellation.get_or_insert_with(|| Cancellation::new(now));
                c.outcome = Some(outcome.to_owned());
                if canceled {
                    c.canceled_at.get_or_insert(now);
                }
            })
            .await
            .map(drop)
            .map_err(stored)
    }

    /// Records a Sales Order canceled. Payments recorded for it stay in Acumatica (canceling
    /// an order does not void them): the order then needs a person to void or refund them.
    async fn canceled(&self, order: &Order, outcome: &str) -> Result<(), Outcome> {
        let number = order.data.number.as_str();
        self.settle(number, outcome, true).await?;
        if order.sync.payments.is_empty() {
            return Ok(());
        }
        let payments: Vec<String> = order
            .sync
            .payments
            .iter()
            .map(|p| {
                let amount = money::at_currency_scale(p.amount, &order.data.currency);
                format!(
                    "{} {} of {amount} {}",
                    p.doc_type, p.reference_nbr, order.data.currency
                )
            })
            .collect();
        let reason = format!(
            "{} was canceled, but its payment stays in Acumatica ({}): void or refund it there, then mark this resolved",
            sales_order_name(&order.sync),
            payments.join(", ")
        );
        self.attention(number, outcome, reason).await
    }

    /// Records that the cancellation needs a person.
    async fn attention(&self, number: &str, outcome: &str, reason: String) -> Result<(), Outcome> {
        let now = Utc::now();
        self.orders
            .set_sync(number, |s| {
                let c = s.cancellation.get_or_insert_with(|| Cancellation::new(now));
                c.outcome = Some(outcome.to_owned());
                if s.open_attention().is_none_or(|a| a.reason != reason) {
                    s.raise(reason.clone(), now);
                }
            })
            .await
            .map(drop)
            .map_err(stored)
    }

    async fn failed(&self, e: &acumatica::Error, generation: u64) -> Outcome {
        self.connection
            .failure_outcome(
                e,
                generation,
                self.recheck_delay,
                "the Sales Order is read again before any second cancel",
            )
            .await
    }
}

fn stored(e: OrdersError) -> Outcome {
    Outcome::transient(format!("cannot record the cancellation: {e}"))
}
