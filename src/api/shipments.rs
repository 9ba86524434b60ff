//! Shipments in the GraphQL API: `Order.shipments`, the confirmed Acumatica shipments of an
//! order's Sales Order as written back to the store, each with its WRITE_BACK job.

use async_graphql::{Context, Object};

use super::error::ApiResult;
use super::jobs::Job;
use super::scalars::DateTime;
use super::state;
use crate::domain::order::OrderShipment as Stored;

/// A confirmed Acumatica shipment of the order, written back to the store.
pub struct OrderShipment(pub Stored);

#[Object]
impl OrderShipment {
    /// Acumatica's ShipmentNbr.
    async fn number(&self) -> &str {
        &self.0.number
    }
    /// Acumatica's status of the shipment (Confirmed, Completed…).
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// The carrier tracking numbers of its packages, as written to the store.
    async fn tracking_numbers(&self) -> &[String] {
        &self.0.tracking_numbers
    }
    /// The shipment's date in Acumatica.
    async fn shipped_at(&self) -> Option<DateTime> {
        self.0.shipped_at.map(Into::into)
    }
    /// The shipping status code written to the store: S (shipped), or P (processing) while
    /// the shipments so far cover part of the order.
    async fn store_shipping_status(&self) -> &str {
        &self.0.store_status
    }
    /// When the store took the shipping status and every tracking number.
    async fn written_back_at(&self) -> DateTime {
        self.0.written_back_at.into()
    }
    /// The WRITE_BACK job that wrote it (null once pruned).
    async fn job(&self, ctx: &Context<'_>) -> ApiResult<Option<Job>> {
        let Ok(id) = self.0.job_id.parse::<u64>() else {
            return Ok(None);
        };
        Ok(state(ctx).jobs.get(id)?.and_then(Job::shown))
    }
}
