//! When an order needs a RECORD_PAYMENT job: it is PAID, linked to a Sales Order, shows no
//! payment yet, and payments are recorded for its store payment method. The job is pushed in
//! the same sled transaction as the order change that made it due (see `Orders::record`) or,
//! after a sync links the order, by [`super::Orders::request_payment`].

use serde::{Deserialize, Serialize};

use crate::domain::order::{Order, PaymentStatus};
use crate::domain::settings::SyncSettings;
use crate::jobs::{JobKind, NewJob};

/// What a RECORD_PAYMENT job carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub number: String,
}

/// The RECORD_PAYMENT job for order `number`: one live job per order (`payment:<number>`).
pub fn payment_job(number: &str) -> NewJob {
    let payload = serde_json::to_value(PaymentRequest {
        number: number.to_owned(),
    })
    .expect("payload serialises");
    NewJob::new(JobKind::RECORD_PAYMENT, payload)
        .unique(format!("payment:{number}"))
        .order(number.to_owned())
}

/// Whether `order` should get a RECORD_PAYMENT job under `settings`.
pub fn due(settings: &SyncSettings, order: &Order) -> bool {
    order.data.payment_status == PaymentStatus::Paid
        && order.data.total > rust_decimal::Decimal::ZERO
        && order.sync.sales_order_nbr.is_some()
        && order.sync.payments.is_empty()
        && settings
            .payment_account_for(order.data.payment_method.as_deref())
            .is_some()
}
