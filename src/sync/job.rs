//! One run of a SYNC_ORDER job: the exactly-once protocol.
//!
//! 1. The order is read as it is now. An automatic sync of an order that is no longer PAID
//!    ends CANCELED without writing anything.
//! 2. An order already linked to a Sales Order is confirmed (one GET), never created again.
//! 3. When an earlier attempt may have created the Sales Order (`create_sent`: set durably
//!    before the create request, cleared only when a create definitely failed), it is looked
//!    up by CustomerOrder and order type first, and adopted when found; two found is FAILED.
//! 4. Customer and stock items are resolved (no request when known).
//! 5. The create. A definite refusal clears `create_sent`; an ambiguous failure (a timeout
//!    after sending) records `ambiguous_at` and retries after the ambiguous re-check delay,
//!    so that the next attempt looks up only once Acumatica has had time to run a request
//!    that waited in its queue. A create after an ambiguous failure is checked once more
//!    (`$top=2`). With the manual-numbering setting the store number is the OrderNbr and the
//!    create is an insert-only PUT, idempotent by itself.
//!
//! Steady state (nothing ambiguous before, customer and items known): one request.

use chrono::Utc;

use super::Syncer;
use super::sales_order::{self, compare_totals, customer_order};
use super::{customers, items};
use crate::acumatica::{self, Filter, PutMode, Query, SalesOrder};
use crate::domain::order::{Order, PaymentStatus};
use crate::domain::settings::SyncSettings;
use crate::jobs::{JobContext, Outcome, wake};
use crate::orders::SyncRequest;

/// The Sales Order fields read back: enough to link the order and compare totals.
fn read_back() -> Query {
    Query::new().expand(&["Totals"])
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
            .ok_or_else(|| Outcome::permanent(format!("Order {number} no longer exists.")))?;
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
        let reference = customer_order(&order.data, &settings);
        let order_type = order
            .sync
            .sales_order_type
            .clone()
            .unwrap_or_else(|| settings.sales_order_type.clone());
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
            if let Some(at) = order.sync.ambiguous_at {
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
            let found = self.lookup(&client, &order_type, &reference).await;
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
            Err(customers::Problem::Unmatchable(why)) => return Ok(Outcome::Permanent(why)),
            Err(customers::Problem::Acumatica(e)) => return Err(self.failed(&e, generation).await),
        };
        ctx.progress(3, Some(4), Some("Checking the stock items".into()));
        match self.ensure_items(&client, &order.data, &settings).await {
            Ok(()) => {}
            Err(items::Problem::Missing(skus)) => {
                return Ok(Outcome::Permanent(if skus.len() == 1 {
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

        // 5. The create, with its intent recorded first.
        if !order.sync.create_sent {
            self.orders
                .set_sync(number, |s| s.create_sent = true)
                .await
                .map_err(Outcome::transient)?;
        }
        ctx.progress(4, Some(4), Some("Creating the Sales Order".into()));
        self.create(&client, &order, &settings, customer, generation)
            .await
    }

    async fn create(
        &self,
        client: &acumatica::Client,
        order: &Order,
        settings: &SyncSettings,
        customer: customers::Found,
        generation: u64,
    ) -> Result<Outcome, Outcome> {
        let number = order.data.number.as_str();
        let reference = customer_order(&order.data, settings);
        let manual = settings.use_store_number_as_order_nbr;
        let so = sales_order::build(
            &order.data,
            settings,
            &customer.customer_id,
            manual.then(|| reference.clone()),
        );
        let mode = if manual {
            PutMode::Insert
        } else {
            PutMode::Upsert
        };
        match client.put(&so, mode, &read_back()).await {
            Ok(saved) => {
                if order.sync.ambiguous_at.is_some() {
                    // A request that waited in Acumatica's queue may have run meanwhile.
                    let found = self
                        .lookup(client, &settings.sales_order_type, &reference)
                        .await;
                    if let Ok([a, b, ..]) = found.as_deref() {
                        return Ok(two_found(number, a, b));
                    }
                }
                self.linked(order, &saved, customer.warnings, Some(customer.customer_id))
                    .await
            }
            Err(acumatica::Error::AlreadyExists { .. }) if manual => {
                let keys = [settings.sales_order_type.as_str(), reference.as_str()];
                match client.get::<SalesOrder>(&keys, &read_back()).await {
                    Ok(existing) => self.linked(order, &existing, customer.warnings, None).await,
                    Err(e) => Err(self.failed(&e, generation).await),
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
                    .set_sync(number, |s| s.create_sent = false)
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

    /// Sales Orders of `order_type` whose CustomerOrder is `reference` (two at most).
    async fn lookup(
        &self,
        client: &acumatica::Client,
        order_type: &str,
        reference: &str,
    ) -> Result<Vec<SalesOrder>, acumatica::Error> {
        let filter =
            Filter::eq("OrderType", order_type).and(Filter::eq("CustomerOrder", reference));
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
            })
            .await
            .map_err(Outcome::transient)?;
        Ok(Outcome::Done)
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

fn two_found(number: &str, a: &SalesOrder, b: &SalesOrder) -> Outcome {
    let name = |s: &SalesOrder| {
        format!(
            "{} {}",
            s.order_type.as_deref().unwrap_or("?"),
            s.order_nbr.as_deref().unwrap_or("?")
        )
    };
    Outcome::Permanent(format!(
        "Two Sales Orders exist in Acumatica for store order {number}: {} and {}. Cancel the extra one in \
         Acumatica, then retry this job.",
        name(a),
        name(b)
    ))
}
