//! Payments after the Sales Order: the RECORD_PAYMENT job and the release of payments.
//!
//! A RECORD_PAYMENT job (pushed by [`crate::orders`] when a linked order is PAID without a
//! payment) runs, on every attempt:
//!
//! 1. waits out the re-check delay when an earlier attempt's Payment PUT may still be on its
//!    way (`payment_sent_at`, set durably before the PUT);
//! 2. LOOKS UP the payment: `GET Payment?$filter=PaymentRef eq '<ref>' and CustomerID eq
//!    '<customer>'` (the reference is the order's CustomerOrder reference, as in the Sales
//!    Order's own `Payments` row): one found is adopted, two is a DATA failure;
//! 3. only when none is found (and the order is still PAID), PUTs the `Payment` (insert-only):
//!    type from the payment type setting, the mapped method and cash account, the store's
//!    total, `OrdersToApply` = the Sales Order;
//! 4. reads the Sales Order back (payments and unpaid balance) onto the order;
//! 5. with `releasePayments` on, releases every payment that reads Balanced (see [`release`]).
//!
//! A payment sent inside the Sales Order's create is released by the SYNC_ORDER job after it
//! links the order ([`Syncer::after_link`]), by the same function. Requests: 3 per payment
//! recorded here (look-up, PUT, Sales Order read), 4 with release; 1 more per release after
//! a create with its payment.

use chrono::Utc;

use super::Syncer;
use super::sales_order;
use crate::acumatica::{self, Filter, Payment, PaymentOrderDetail, PutMode, Query, SalesOrder};
use crate::domain::order::{Order, PaymentStatus, RecordedPayment};
use crate::domain::settings::SyncSettings;
use crate::jobs::{JobContext, Outcome, wake};
use crate::orders::PaymentRequest;

/// Acumatica's status of a payment saved but not released.
const BALANCED: &str = "Balanced";

fn payment_query() -> Query {
    Query::new().expand(&["OrdersToApply"])
}

fn order_query() -> Query {
    Query::new().expand(&["Totals", "Payments"])
}

/// The PaymentRef of `order`'s payment: the CustomerOrder reference its Sales Order was
/// created with (the same the in-order payment row carries).
pub fn reference(order: &Order, settings: &SyncSettings) -> String {
    order
        .sync
        .create_intent
        .as_ref()
        .map(|i| i.customer_order.clone())
        .unwrap_or_else(|| sales_order::customer_order(&order.data, settings))
}

impl Syncer {
    pub(super) async fn run_payment(&self, ctx: JobContext) -> Outcome {
        let request: PaymentRequest = match ctx.payload() {
            Ok(r) => r,
            Err(o) => return o,
        };
        match self.record_payment(&ctx, &request.number).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }

    async fn record_payment(&self, ctx: &JobContext, number: &str) -> Result<Outcome, Outcome> {
        let order = self
            .orders
            .get(number)
            .map_err(Outcome::transient)?
            .ok_or_else(|| Outcome::data(format!("Order {number} no longer exists.")))?;
        let (Some(order_type), Some(order_nbr)) = (
            order.sync.sales_order_type.clone(),
            order.sync.sales_order_nbr.clone(),
        ) else {
            return Ok(Outcome::data(format!(
                "Order {number} has no Sales Order in Acumatica yet: sync it first."
            )));
        };
        let Some(customer) = order.sync.customer_id.clone() else {
            return Ok(Outcome::data(format!(
                "Order {number} has no Acumatica customer recorded: sync it again first."
            )));
        };
        // 1. An earlier PUT may still be on its way: look up only once it had time to land.
        if let Some(at) = order.sync.payment_sent_at {
            let due = at + chrono::Duration::from_std(self.recheck_delay).unwrap_or_default();
            if let Ok(wait) = (due - Utc::now()).to_std()
                && !wait.is_zero()
            {
                return Ok(Outcome::RetryAfter(
                    wait,
                    "waiting before looking the payment up again after an unanswered write".into(),
                ));
            }
        }
        let (generation, client) = match self.connection.session().await {
            Ok(s) => (s.generation, s.client),
            Err(e) => return Ok(Outcome::not_ready(wake::CONNECTED, e.to_string())),
        };
        let settings = self.settings.get().map_err(Outcome::transient)?;
        let reference = reference(&order, &settings);

        // 2. Look it up, on every attempt, before any write.
        ctx.progress(1, Some(3), Some("Looking for the payment".into()));
        let filter = Filter::eq("PaymentRef", reference.as_str())
            .and(Filter::eq("CustomerID", customer.as_str()));
        let found = match client
            .list::<Payment>(&payment_query().filter(filter).top(2))
            .await
        {
            Ok(f) => f,
            Err(e) => return Err(self.failed(&e, generation).await),
        };
        match found.as_slice() {
            [] => {}
            [_one] => return self.payment_exists(&client, &order, generation).await,
            [a, b, ..] => {
                let name = |p: &Payment| {
                    format!(
                        "{} {}",
                        p.payment_type.as_deref().unwrap_or("?"),
                        p.reference_nbr.as_deref().unwrap_or("?")
                    )
                };
                return Ok(Outcome::data(format!(
                    "Two payments with reference {reference} exist in Acumatica for order {number}: {} and {}. \
                     Void the extra one in Acumatica, then retry this job.",
                    name(a),
                    name(b)
                )));
            }
        }
        if order.data.payment_status != PaymentStatus::Paid {
            return Ok(Outcome::Canceled(format!(
                "Order {number} is no longer paid (payment status {:?}): no payment was sent to Acumatica.",
                order.data.payment_status
            )));
        }
        let Some((method, account)) =
            settings.payment_account_for(order.data.payment_method.as_deref())
        else {
            return Ok(Outcome::Canceled(
                "Payments are no longer recorded (recordPayments is off, or no payment method and cash account apply): nothing was sent.".into(),
            ));
        };

        // 3. The PUT, with its sending recorded first.
        let payment = Payment {
            payment_type: Some(settings.payment_type.acumatica().to_owned()),
            customer_id: Some(customer.clone()),
            payment_method: Some(method.to_owned()),
            cash_account: Some(account.to_owned()),
            payment_amount: Some(order.data.total),
            payment_ref: Some(reference.clone()),
            description: Some(format!("Store order {number}")),
            currency_id: Some(order.data.currency.clone()),
            hold: Some(false),
            orders_to_apply: Some(vec![PaymentOrderDetail {
                order_type: Some(order_type),
                order_nbr: Some(order_nbr),
                ..Default::default()
            }]),
            ..Default::default()
        };
        self.orders
            .set_sync(number, |s| s.payment_sent_at = Some(Utc::now()))
            .await
            .map_err(Outcome::transient)?;
        ctx.progress(2, Some(3), Some("Recording the payment".into()));
        match client
            .put(&payment, PutMode::Insert, &payment_query())
            .await
        {
            Ok(_) => self.payment_exists(&client, &order, generation).await,
            Err(e) if e.is_ambiguous() => Ok(Outcome::RetryAfter(
                self.recheck_delay,
                format!("{e}; the payment may exist: it is looked up again before any new one"),
            )),
            Err(e) => {
                // Definitely not saved: the next attempt need not wait.
                self.orders
                    .set_sync(number, |s| s.payment_sent_at = None)
                    .await
                    .map_err(Outcome::transient)?;
                Err(self.failed(&e, generation).await)
            }
        }
    }

    /// 4 and 5: the payment exists; reads the Sales Order back onto the order, then releases.
    async fn payment_exists(
        &self,
        client: &acumatica::Client,
        order: &Order,
        generation: u64,
    ) -> Result<Outcome, Outcome> {
        let number = order.data.number.as_str();
        let (Some(t), Some(n)) = (&order.sync.sales_order_type, &order.sync.sales_order_nbr) else {
            return Ok(Outcome::data(format!("Order {number} has no Sales Order.")));
        };
        let so = match client
            .get::<SalesOrder>(&[t.as_str(), n.as_str()], &order_query())
            .await
        {
            Ok(so) => so,
            Err(e) => return Err(self.failed(&e, generation).await),
        };
        let payments = sales_order::recorded_payments(&so);
        let unpaid = so.totals.as_ref().and_then(|t| t.unpaid_balance);
        self.orders
            .set_sync(number, |s| {
                s.payments = payments.clone();
                s.unpaid_balance = unpaid.or(s.unpaid_balance);
                s.payment_sent_at = None;
            })
            .await
            .map_err(Outcome::transient)?;
        self.release_recorded(client, number, &payments, generation)
            .await
    }

    /// After a SYNC_ORDER job linked order `number`: releases the payments it shows (when
    /// the setting is on), and pushes a RECORD_PAYMENT job when the order is PAID with no
    /// payment (paid while the sync ran, or synced while payments were off).
    pub(super) async fn after_link(&self, number: &str) -> Result<Outcome, Outcome> {
        let order = self
            .orders
            .get(number)
            .map_err(Outcome::transient)?
            .ok_or_else(|| Outcome::data(format!("Order {number} no longer exists.")))?;
        let settings = self.settings.get().map_err(Outcome::transient)?;
        if settings.release_payments && order.sync.payments.iter().any(unreleased) {
            let (generation, client) = match self.connection.session().await {
                Ok(s) => (s.generation, s.client),
                Err(e) => return Ok(Outcome::not_ready(wake::CONNECTED, e.to_string())),
            };
            self.release_recorded(&client, number, &order.sync.payments, generation)
                .await?;
        }
        self.orders
            .request_payment(number)
            .await
            .map_err(Outcome::transient)?;
        Ok(Outcome::Done)
    }

    /// With `releasePayments` on: runs ReleasePayment on each of `payments` that reads
    /// Balanced (a released one reads Open and is left alone), then records them as Open.
    async fn release_recorded(
        &self,
        client: &acumatica::Client,
        number: &str,
        payments: &[RecordedPayment],
        generation: u64,
    ) -> Result<Outcome, Outcome> {
        let settings = self.settings.get().map_err(Outcome::transient)?;
        if !settings.release_payments {
            return Ok(Outcome::Done);
        }
        for p in payments.iter().filter(|p| unreleased(p)) {
            if let Err(e) = release(client, p).await {
                return Err(self.failed(&e, generation).await);
            }
            let nbr = p.reference_nbr.clone();
            self.orders
                .set_sync(number, |s| {
                    for q in s.payments.iter_mut().filter(|q| q.reference_nbr == nbr) {
                        q.status = Some("Open".into());
                    }
                })
                .await
                .map_err(Outcome::transient)?;
        }
        Ok(Outcome::Done)
    }
}

/// Whether a payment as read back is saved but not released.
fn unreleased(p: &RecordedPayment) -> bool {
    p.status.as_deref() == Some(BALANCED)
}

/// `POST Payment/ReleasePayment` for one payment (by type and reference number).
pub async fn release(
    client: &acumatica::Client,
    p: &RecordedPayment,
) -> Result<(), acumatica::Error> {
    let key = Payment {
        payment_type: Some(p.doc_type.clone()),
        reference_nbr: Some(p.reference_nbr.clone()),
        ..Default::default()
    };
    client.action("ReleasePayment", &key).await
}
