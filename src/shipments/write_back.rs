//! One run of a WRITE_BACK job: a confirmed Acumatica shipment written to the store, for each
//! bridge order it ships.
//!
//! 1. GET the store order (`/api/orders/by_number/{number}`): its shipping status and the
//!    tracking numbers it already has.
//! 2. PUT the shipping status when the store does not show it yet: `S` (shipped), or `P`
//!    (processing: X-Cart has no "partially shipped") while the shipments so far cover part
//!    of the order's quantity. A store already showing Shipped or Delivered is left alone.
//! 3. POST only the tracking numbers the store does not have, so that a retry after a lost
//!    answer or a crash never adds one twice.
//! 4. Record the shipment on the order (`Order.shipments`, with `writtenBackAt`).
//!
//! Failures follow `xcart::Error::error_class`: transient ones retry with the queue's
//! backoff (a `Retry-After` is honoured); a write refused with 403 means the token is the
//! read-only one: the job fails as CONFIGURATION saying which token to give, and the store
//! connection's `tokenAccess` becomes READ_ONLY.

use chrono::Utc;
use rust_decimal::Decimal;

use super::{Shipments, ShippedOrder, WriteBack};
use crate::domain::order::{Order, OrderShipment};
use crate::jobs::{JobContext, Outcome};
use crate::store_import::{STORE_CONNECTED, TokenAccess};
use crate::xcart::{self, Client};

/// The shipping status to write for `order` once `shipment` is added: `S` when the
/// shipments' quantities cover the order's (or a quantity is unknown), else `P`.
pub fn store_status(order: &Order, shipment: &WriteBack, this: &ShippedOrder) -> &'static str {
    let ordered: Decimal = order
        .data
        .items
        .iter()
        .map(|i| Decimal::from(i.quantity))
        .sum();
    let mut shipped = match this.shipped_qty {
        Some(q) => q,
        None => return "S",
    };
    for s in order
        .shipments
        .iter()
        .filter(|s| s.number != shipment.shipment_nbr)
    {
        match s.shipped_qty {
            Some(q) => shipped += q,
            None => return "S",
        }
    }
    if ordered > Decimal::ZERO && shipped < ordered {
        "P"
    } else {
        "S"
    }
}

/// Whether the store's current code must change to reach `target` (never back from
/// Shipped or Delivered, never from Shipped to Processing).
pub fn needs_status(current: Option<&str>, target: &str) -> bool {
    let current = current.unwrap_or("").to_ascii_uppercase();
    match target {
        "S" => !matches!(current.as_str(), "S" | "D"),
        _ => !matches!(current.as_str(), "P" | "S" | "D"),
    }
}

/// The job's outcome for a store error; `write` tells whether the request was a write.
fn failed(e: xcart::Error, number: &str, write: bool) -> Outcome {
    match &e {
        xcart::Error::Unauthorized { status: 403, .. } if write => Outcome::config(format!(
            "X-Cart refused to write order {number}'s shipment (403 Access Denied): the bridge \
             has the store's read-only API token. In the store's admin area, under Settings → \
             API, copy the read/write token, then connect the store again with it (Connection \
             page, X-Cart store)."
        )),
        xcart::Error::Transient {
            retry_after: Some(wait),
            ..
        } => Outcome::RetryAfter(*wait, e.to_string()),
        xcart::Error::Transient { .. } => Outcome::transient(e),
        _ => Outcome::permanent(e.error_class(), format!("order {number}: {e}")),
    }
}

impl Shipments {
    pub(super) async fn run_write_back(&self, ctx: JobContext) -> Outcome {
        let w: WriteBack = match ctx.payload() {
            Ok(w) => w,
            Err(o) => return o,
        };
        match self.inner.settings.get() {
            Ok(s) if !s.write_back_shipments => {
                return Outcome::Canceled(
                    "writeBackShipments was turned off: nothing was written to the store".into(),
                );
            }
            Ok(_) => {}
            Err(e) => return Outcome::transient(e),
        }
        let client = match self.inner.store_import.connected_client() {
            Ok(c) => c,
            Err(e) => return Outcome::not_ready(STORE_CONNECTED, e.to_string()),
        };
        let total = w.orders.len() as u32;
        for (i, this) in w.orders.iter().enumerate() {
            ctx.progress(
                i as u32,
                Some(total),
                Some(format!(
                    "Writing shipment {} to order {}",
                    w.shipment_nbr, this.number
                )),
            );
            if let Err(o) = self.write_one(&ctx, &client, &w, this).await {
                return o;
            }
        }
        ctx.progress(total, Some(total), None);
        Outcome::Done
    }

    async fn write_one(
        &self,
        ctx: &JobContext,
        client: &Client,
        w: &WriteBack,
        this: &ShippedOrder,
    ) -> Result<(), Outcome> {
        let number = this.number.as_str();
        let Some(order) = self.inner.orders.get(number).map_err(Outcome::transient)? else {
            return Err(Outcome::data(format!("Order {number} no longer exists.")));
        };
        let state = client
            .shipping_state(number)
            .await
            .map_err(|e| failed(e, number, false))?;
        let target = store_status(&order, w, this);
        let current = state.shipping_status.as_ref().map(|s| s.code.as_str());
        if needs_status(current, target) {
            self.write(client.put_shipping_status(state.id, target).await, number)
                .await?;
        }
        for t in &w.tracking_numbers {
            if !state.has_tracking(t) {
                self.write(client.add_tracking_number(state.id, t).await, number)
                    .await?;
            }
        }
        let shipment = OrderShipment {
            number: w.shipment_nbr.clone(),
            status: w.status.clone(),
            tracking_numbers: w.tracking_numbers.clone(),
            shipped_at: w.shipped_at,
            shipped_qty: this.shipped_qty,
            store_status: target.to_owned(),
            written_back_at: Utc::now(),
            job_id: ctx.id().to_string(),
        };
        self.inner
            .orders
            .record_shipment(number, shipment)
            .await
            .map_err(Outcome::transient)?;
        Ok(())
    }

    /// The outcome of a write: on success the token is known read/write; a 403 makes it
    /// read-only.
    async fn write(&self, r: Result<(), xcart::Error>, number: &str) -> Result<(), Outcome> {
        let access = match &r {
            Ok(()) => Some(TokenAccess::ReadWrite),
            Err(xcart::Error::Unauthorized { status: 403, .. }) => Some(TokenAccess::ReadOnly),
            Err(_) => None,
        };
        if let Some(a) = access
            && let Err(e) = self.inner.store_import.note_token_access(a).await
        {
            tracing::warn!(error = %e, "cannot record what the store's token may do");
        }
        r.map_err(|e| failed(e, number, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{AddressDraft, ItemDraft, OrderDraft, PaymentStatus};
    use crate::domain::raw::{RawDateTime, RawDecimal};

    /// An order of 3 + 2 items.
    fn order() -> Order {
        let item = |sku: &str, quantity| ItemDraft {
            sku: sku.into(),
            name: "Widget".into(),
            price: RawDecimal::parse("10.00"),
            quantity,
            warehouse_id: None,
        };
        let draft = OrderDraft {
            number: "1001".into(),
            profile_id: None,
            email: "ann@example.com".into(),
            phone: None,
            placed_at: RawDateTime::parse("2026-01-31T12:00:00Z"),
            currency: "USD".into(),
            payment_status: PaymentStatus::Paid,
            billing_address: AddressDraft {
                country: "US".into(),
                ..Default::default()
            },
            shipping_address: None,
            items: vec![item("A", 3), item("B", 2)],
            shipping_cost: None,
            discount_total: None,
            tax_total: None,
            total: RawDecimal::parse("50.00"),
            refunded_total: None,
            payment_method: None,
        };
        Order::first(draft.validate("input").unwrap(), Utc::now())
    }

    fn shipment(nbr: &str, qty: Option<&str>) -> (WriteBack, ShippedOrder) {
        let this = ShippedOrder {
            number: "1001".into(),
            shipped_qty: qty.map(|q| q.parse().unwrap()),
        };
        let w = WriteBack {
            shipment_nbr: nbr.into(),
            status: "Confirmed".into(),
            shipped_at: None,
            tracking_numbers: vec![],
            orders: vec![this.clone()],
            version: String::new(),
        };
        (w, this)
    }

    #[test]
    fn a_shipment_of_part_of_the_order_is_processing_until_the_rest_ships() {
        let mut o = order();
        let (w, this) = shipment("000001", Some("3"));
        assert_eq!(store_status(&o, &w, &this), "P");
        o.shipments.push(OrderShipment {
            number: "000001".into(),
            status: "Confirmed".into(),
            tracking_numbers: vec![],
            shipped_at: None,
            shipped_qty: Some("3".parse().unwrap()),
            store_status: "P".into(),
            written_back_at: Utc::now(),
            job_id: "1".into(),
        });
        // The same shipment again counts once.
        assert_eq!(store_status(&o, &w, &this), "P");
        let (w, this) = shipment("000002", Some("2"));
        assert_eq!(store_status(&o, &w, &this), "S");
        let (w, this) = shipment("000002", None);
        assert_eq!(
            store_status(&o, &w, &this),
            "S",
            "unknown quantity: shipped"
        );
        let (w, this) = shipment("000003", Some("5"));
        assert_eq!(store_status(&order(), &w, &this), "S");
    }

    #[test]
    fn shipped_and_delivered_are_never_written_back() {
        assert!(needs_status(Some("N"), "S"));
        assert!(needs_status(Some("P"), "S"));
        assert!(!needs_status(Some("S"), "S"));
        assert!(!needs_status(Some("D"), "S"));
        assert!(needs_status(Some("N"), "P"));
        assert!(!needs_status(Some("S"), "P"));
        assert!(needs_status(None, "S"));
    }
}
