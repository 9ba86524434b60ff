//! What a synced order's change in the store means after its Sales Order, decided in the same
//! transaction as the change (see `Orders::record`): a refund is recorded and either gets a
//! CREATE_REFUND_CREDIT job (setting `createRefundCredits`) or leaves the order NEEDS_ATTENTION;
//! a cancellation asks for the Sales Order's cancellation (CANCEL_ORDER). The jobs are run by
//! `crate::aftercare`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::aftercare::{Cancellation, Refund};
use crate::domain::money;
use crate::domain::order::{Order, OrderSync, SyncStatus};
use crate::jobs::{JobKind, NewJob};

/// What a CANCEL_ORDER job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelRequest {
    pub number: String,
}

/// The CANCEL_ORDER job for order `number`: one live job per order.
pub fn cancel_job(number: &str) -> NewJob {
    let payload = serde_json::to_value(CancelRequest {
        number: number.to_owned(),
    })
    .expect("payload serialises");
    NewJob::new(JobKind::CANCEL_ORDER, payload)
        .unique(format!("cancel:{number}"))
        .order(number.to_owned())
}

/// What a CREATE_REFUND_CREDIT job carries: the order and which of its refunds (1 = first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreditRequest {
    pub number: String,
    pub refund: usize,
}

/// The CREATE_REFUND_CREDIT job for refund `refund` (1-based) of order `number`: one per refund.
pub fn credit_job(number: &str, refund: usize) -> NewJob {
    let payload = serde_json::to_value(CreditRequest {
        number: number.to_owned(),
        refund,
    })
    .expect("payload serialises");
    NewJob::new(JobKind::CREATE_REFUND_CREDIT, payload)
        .unique(format!("credit:{number}:{refund}"))
        .order(number.to_owned())
}

/// Applies the store's change of a synced order to `next` (the order as it will be written)
/// and returns the jobs it calls for. A refund (the refunded total grown) is recorded; with
/// `credits` (and a Sales Order and customer known) it gets a CREATE_REFUND_CREDIT job, else
/// the order needs attention. A newly canceled or declined order that has (or may have) a
/// Sales Order gets its cancellation and a CANCEL_ORDER job.
pub fn follow_store_change(
    before: &Order,
    next: &mut Order,
    credits: bool,
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    let mut jobs = vec![];
    let number = next.data.number.clone();
    // A Sales Order exists, or a create may have made one.
    let linked = next.sync.sales_order_nbr.is_some() || next.sync.create_sent;
    let refunded = next.data.refunded();
    let recorded = next.sync.refunded_total();
    if linked && refunded > recorded {
        let currency = next.data.currency.clone();
        let amount = money::at_currency_scale(refunded - recorded, &currency);
        let so = sales_order_name(&next.sync);
        next.sync.refunds.push(Refund {
            amount,
            refunded_total: money::at_currency_scale(refunded, &currency),
            at: now,
            credit: None,
            credit_sent_at: None,
        });
        let creditable = next.sync.sales_order_nbr.is_some() && next.sync.customer_id.is_some();
        if credits && creditable {
            jobs.push(credit_job(&number, next.sync.refunds.len()));
        } else {
            next.sync.raise(
                format!(
                    "refund of {amount} {currency} to be handled in Acumatica: the store refunded it after the order was synced to {so}; create the credit memo (or return order) there, then mark this resolved"
                ),
                now,
            );
        }
    }
    let in_flight = matches!(next.sync.status, SyncStatus::Queued | SyncStatus::Syncing);
    let newly_canceled = next.data.is_canceled() && !before.data.is_canceled();
    if newly_canceled && (linked || in_flight) && next.sync.cancellation.is_none() {
        next.sync.cancellation = Some(Cancellation::new(now));
        jobs.push(cancel_job(&number));
    }
    jobs
}

/// "Sales Order SO 000012", or "a Sales Order" while it is not linked yet.
pub fn sales_order_name(sync: &OrderSync) -> String {
    match (&sync.sales_order_type, &sync.sales_order_nbr) {
        (Some(t), Some(n)) => format!("Sales Order {t} {n}"),
        _ => "a Sales Order".to_owned(),
    }
}
