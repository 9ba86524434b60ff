//! One run of a SYNC_ORDER job: the exactly-once protocol.
//!
//! 1. The order is read as it is now. An automatic sync of an order that is no longer PAID
//!    ends CANCELED without writing anything.
//! 2. An order already linked to a Sales Order is confirmed (one GET), never created again.
//! 3. When an earlier attempt may have created the Sales Order (`create_sent`: set durably
//!    before the create request, with the identity it sends in `create_intent`: order type,
//!    CustomerOrder/ExternalRef, OrderNbr if any, sent-at; cleared only when a create
//!    definitely failed), it is looked up with that stored identity, never with the settings
//!    as they are now: by key when an OrderNbr was sent, else by order type and
//!    CustomerOrder. Found is adopted; two found is FAILED. The look-up waits for the
//!    ambiguous re-check delay from the recorded ambiguous failure or, when the attempt was
//!    cut short with no outcome recorded (a kill -9, a shutdown), from the sent-at.
//! 4. Customer and stock items are resolved (no request when known).
//! 5. The create, insert-only (`If-None-Match: *`), with the earlier identity if there was
//!    one. A definite refusal clears `create_sent`; an ambiguous failure (a timeout after
//!    sending, any 5xx, a dropped connection) records `ambiguous_at` and retries after the
//!    re-check delay, so that the next attempt looks up only once Acumatica has had time to
//!    run a request that waited in its queue. An auto-numbered create after an ambiguous
//!    failure is checked once more (`$top=2`). With the manual-numbering setting the store
//!    number is the OrderNbr, and a repeat is refused by key.
//!
//! Steady state (nothing ambiguous before, customer and items known): one request.

use chrono::Utc;

use super::Syncer;
use super::sales_order::{self, compare_totals};
use super::{customers, items};
use crate::acumatica::{self, Filter, PutMode, Query, SalesOrder};
use crate::domain::order::{CreateIntent, Order, PaymentStatus};
use crate::domain::settings::SyncSettings;
use crate::jobs::{JobContext, Outcome, wake};
use crate::orders::SyncRequest;

/// The Sales Order fields read back: enough to link the order, compare totals and show its
/// payments.
fn read_back() -> Query {
    Query::new().expand(&["Totals", "Payments"])
}

impl Syncer {
    pub(super) async fn run(&self, ctx: JobContext) -> Outcome {
        let request: SyncRequest = match ctx.payload() {
            Ok(r) => r,
            Err(o) => return o,
        };
        match self.sync(&ctx, &request).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }

    async fn sync(&self, ctx: &JobContext, request: &SyncRequest) -> Result<Outcome, Outcome> {
        let number = request.number.as_str();
        let order = self
            .orders
            .get(number)
            .map_err(Outcome::transient)?
            .ok_or_else(|| Outcome::data(format!("Order {number} no longer exists.")))?;
        let unpaid = request.automatic && order.data.payment_status != PaymentStatus::Paid;
        if unpaid && !order.sync.create_sent && order.sync.sales_order_nbr.is_none() {
            return Ok(Outcome::Canceled(format!(
                "Order {number} is no longer paid (payment status {:?}): nothing was sent to Acumatica.",
                order.data.payment_status
            )));
        }
        let (generation, client) = match self.connection.session().await {
            Ok(s) => (s.generation, s.client),
            Err(e) => return Ok(Outcome::not_ready(wake::CONNECTED, e.to_string())),
        };
        let settings = self.settings.get().map_err(Outcome::transient)?;
        // What an earlier create sent; the settings may have changed since.
        let sent = order
            .sync
            .create_sent
            .then(|| order.sync.create_intent.clone())
            .flatten();
        ctx.progress(1, Some(4), Some("Looking for the Sales Order".into()));

        // 2. Linked already: confirm the link.
        if let (Some(t), Some(nbr)) = (&order.sync.sales_order_type, &order.sync.sales_order_nbr) {
            match client
                .get::<SalesOrder>(&[t.as_str(), nbr.as_str()], &read_back())
                .await
            {
                Ok(so) => {
                    return self
                        .linked(&order, &so, vec![], order.sync.customer_id.clone())
                        .await;
                }
                Err(acumatica::Error::NotFound { .. }) => {
                    tracing::warn!(order = number, sales_order = %nbr, "the linked Sales Order is gone from Acumatica");
                }
                Err(e) => return Err(self.failed(&e, generation).await),
            }
        }

        // 3. An earlier attempt may have created it: look it up before anything else.
        if order.sync.create_sent || order.sync.sales_order_nbr.is_some() {
            // Unknown since the recorded ambiguous failure, or since the send itself when
            // the attempt was cut short (a kill -9, a shutdown) before any outcome.
            let since = order.sync.ambiguous_at.or(sent.as_ref().map(|i| i.sent_at));
            if let Some(at) = since {
                let due = at + chrono::Duration::from_std(self.recheck_delay).unwrap_or_default();
                if let Ok(wait) = (due - Utc::now()).to_std()
                    && !wait.is_zero()
                {
                    return Ok(Outcome::RetryAfter(
                        wait,
                        "waiting before looking the Sales Order up again after an unanswered write"
                            .into(),
                    ));
                }
            }
            let identity = sent
                .clone()
                .unwrap_or_else(|| legacy_identity(&order, &settings));
            let found = self.lookup(&client, &identity).await;
            let found = match found {
                Ok(f) => f,
                Err(e) => return Err(self.failed(&e, generation).await),
            };
            match found.as_slice() {
                [] => {}
                [one] => return self.linked(&order, one, vec![], None).await,
                [a, b, ..] => return Ok(two_found(number, a, b)),
            }
        }
        if unpaid {
            return Ok(Outcome::Canceled(format!(
                "Order {number} is no longer paid and no Sales Order exists for it: nothing more is sent."
            )));
        }

        // 4. Customer and items.
        ctx.progress(2, Some(4), Some("Matching the customer".into()));
        let customer = match self.customer(&client, &order.data, &settings).await {
            Ok(c) => c,
            Err(customers::Problem::Unmatchable(why)) => return Ok(Outcome::data(why)),
            Err(customers::Problem::Acumatica(e)) => return Err(self.failed(&e, generation).await),
        };
        ctx.progress(3, Some(4), Some("Checking the stock items".into()));
        match self.ensure_items(&client, &order.data, &settings).await {
            Ok(()) => {}
            Err(items::Problem::Missing(skus)) => {
                return Ok(Outcome::data(if skus.len() == 1 {
                    format!(
                        "SKU {} is not a stock item in Acumatica and 'create new products' is off: \
                         create it in Acumatica or turn the setting on, then retry.",
                        skus[0]
                    )
                } else {
                    format!(
                        "SKUs {} are not stock items in Acumatica and 'create new products' is off: \
                         create them in Acumatica or turn the setting on, then retry.",
                        skus.join(", ")
                    )
                }));
            }
            Err(items::Problem::Acumatica(e)) => return Err(self.failed(&e, generation).await),
        }

        // 5. The create, with its identity recorded first: the one sent before if any (so
        //    that a late commit of that request is found by the check after this create).
        let now = Utc::now();
        let intent = match sent {
            Some(i) => CreateIntent { sent_at: now, ..i },
            None => sales_order::intent(&order.data, &settings, now),
        };
        self.orders
            .set_sync(number, |s| {
                s.create_sent = true;
                s.create_intent = Some(intent.clone());
            })
            .await
            .map_err(Outcome::transient)?;
        ctx.progress(4, Some(4), Some("Creating the Sales Order".into()));
        self.create(&client, &order, &settings, &intent, customer, generation)
            .await
    }

    async fn create(
        &self,
        client: &acumatica::Client,
        order: &Order,
        settings: &SyncSettings,
        intent: &CreateIntent,
        customer: customers::Found,
        generation: u64,
    ) -> Result<Outcome, Outcome> {
        let number = order.data.number.as_str();
        let so = sales_order::build(&order.data, settings, &customer.customer_id, intent);
        // Insert-only either way: with an OrderNbr a repeat is refused by key (412).
        match client.put(&so, PutMode::Insert, &read_back()).await {
            Ok(saved) => {
                if order.sync.ambiguous_at.is_some() && intent.order_nbr.is_none() {
                    // A request that waited in Acumatica's queue may have run meanwhile.
                    let found = self.lookup(client, intent).await;
                    if let Ok([a, b, ..]) = found.as_deref() {
                        return Ok(two_found(number, a, b));
                    }
                }
                self.linked(order, &saved, customer.warnings, Some(customer.customer_id))
                    .await
            }
            Err(acumatica::Error::AlreadyExists { .. }) => {
                match self.lookup(client, intent).await.as_deref() {
                    Ok([one]) => self.linked(order, one, customer.warnings, None).await,
                    Ok([a, b, ..]) => Ok(two_found(number, a, b)),
                    Ok([]) => Err(Outcome::transient(
                        "Acumatica says the Sales Order exists but it cannot be read yet",
                    )),
                    Err(e) => Err(self.failed(e, generation).await),
                }
            }
            Err(e) if e.is_ambiguous() => {
                self.orders
                    .set_sync(number, |s| s.ambiguous_at = Some(Utc::now()))
                    .await
                    .map_err(Outcome::transient)?;
                Ok(Outcome::RetryAfter(
                    self.recheck_delay,
                    format!(
                        "{e}; the Sales Order may exist: it is looked up again before any new create"
                    ),
                ))
            }
            Err(e) => {
                // Definitely not created: the next attempt need not look it up.
                self.orders
                    .set_sync(number, |s| {
                        s.create_sent = false;
                        s.create_intent = None;
                    })
                    .await
                    .map_err(Outcome::transient)?;
                if self.forget_refused(&e, order, &customer.customer_id) {
                    return Ok(Outcome::transient(format!(
                        "{e}; looking the customer and items up again"
                    )));
                }
                Err(self.failed(&e, generation).await)
            }
        }
    }

    /// The Sales Orders a create with `identity` may have made: by key when it sent an
    /// OrderNbr, else those of its order type whose CustomerOrder it sent (two at most).
    async fn lookup(
        &self,
        client: &acumatica::Client,
        identity: &CreateIntent,
    ) -> Result<Vec<SalesOrder>, acumatica::Error> {
        let order_type = identity.order_type.as_str();
        if let Some(nbr) = identity.order_nbr.as_deref().filter(|n| !n.contains('/')) {
            return match client
                .get::<SalesOrder>(&[order_type, nbr], &read_back())
                .await
            {
                Ok(so) => Ok(vec![so]),
                Err(acumatica::Error::NotFound { .. }) => Ok(vec![]),
                Err(e) => Err(e),
            };
        }
        let filter = Filter::eq("OrderType", order_type).and(Filter::eq(
            "CustomerOrder",
            identity.customer_order.as_str(),
        ));
        client.list(&read_back().filter(filter).top(2)).await
    }

    /// Links the order to `so` (created, found or confirmed): durable before the job ends.
    async fn linked(
        &self,
        order: &Order,
        so: &SalesOrder,
        mut warnings: Vec<String>,
        customer_id: Option<String>,
    ) -> Result<Outcome, Outcome> {
        warnings.extend(compare_totals(&order.data, so));
        warnings.extend(sales_order::balance_left(so));
        let fingerprint = order.data.fingerprint();
        let drifted = order
            .sync
            .fingerprint
            .as_ref()
            .is_some_and(|f| *f != fingerprint);
        if drifted {
            warnings.push(crate::domain::order::CHANGED_AFTER_SYNC.to_owned());
        }
        let (order_type, nbr) = (so.order_type.clone(), so.order_nbr.clone());
        let customer_id = so.customer_id.clone().or(customer_id);
        let keep_fingerprint = order.sync.fingerprint.clone();
        let payments = sales_order::recorded_payments(so);
        let unpaid = so.totals.as_ref().and_then(|t| t.unpaid_balance);
        self.orders
            .set_sync(&order.data.number, |s| {
                s.sales_order_type = order_type.clone().or(s.sales_order_type.take());
                s.sales_order_nbr = nbr.clone().or(s.sales_order_nbr.take());
                s.customer_id = customer_id.clone().or(s.customer_id.take());
                s.synced_at = Some(Utc::now());
                s.warnings = warnings.clone();
                s.fingerprint = Some(
                    keep_fingerprint
                        .clone()
                        .unwrap_or_else(|| fingerprint.clone()),
                );
                s.create_sent = true;
                s.ambiguous_at = None;
                s.last_error = None;
                if !payments.is_empty() {
                    s.payments = payments.clone();
                }
                s.unpaid_balance = unpaid.or(s.unpaid_balance);
            })
            .await
            .map_err(Outcome::transient)?;
        // Payments: release them (setting), or record one paid meanwhile (sync/payment.rs).
        self.after_link(&order.data.number).await
    }

    /// After a 422 naming the customer or an item, forgets what the cache said about them,
    /// so that the next attempt looks them up again. True when something was forgotten.
    fn forget_refused(&self, e: &acumatica::Error, order: &Order, customer_id: &str) -> bool {
        let mut forgot = false;
        for f in e.field_errors() {
            if f.field == "CustomerID" {
                forgot |= self.cache.forget_customer(customer_id).is_ok();
            } else if let Some(i) = f
                .field
                .strip_prefix("Details/")
                .and_then(|rest| rest.strip_suffix("/InventoryID"))
                .and_then(|i| i.parse::<usize>().ok())
                && let Some(item) = order.data.items.get(i)
            {
                forgot |= self.cache.forget_item(item.sku.trim()).is_ok();
            }
        }
        forgot
    }
}

/// The identity to look up with for a `create_sent` recorded before identities were kept:
/// the linked order type, else the settings now.
fn legacy_identity(order: &Order, settings: &SyncSettings) -> CreateIntent {
    let mut identity = sales_order::intent(&order.data, settings, Utc::now());
    if let Some(t) = &order.sync.sales_order_type {
        identity.order_type = t.clone();
    }
    identity.order_nbr = None;
    identity
}

fn two_found(number: &str, a: &SalesOrder, b: &SalesOrder) -> Outcome {
    let name = |s: &SalesOrder| {
        format!(
            "{} {}",
            s.order_type.as_deref().unwrap_or("?"),
            s.order_nbr.as_deref().unwrap_or("?")
        )
    };
    Outcome::data(format!(
        "Two Sales Orders exist in Acumatica for store order {number}: {} and {}. Cancel the extra one in \
         Acumatica, then retry this job.",
        name(a),
        name(b)
    ))
}
