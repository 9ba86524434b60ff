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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::RecordedPayment;

    fn order(paid: bool) -> Order {
        let mut new = crate::orders::tests::order(1);
        new.payment_status = if paid {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Queued
        };
        new.payment_method = Some("PayPal".into());
        let mut o = Order::first(new, chrono::Utc::now());
        o.sync.sales_order_type = Some("SO".into());
        o.sync.sales_order_nbr = Some("000001".into());
        o
    }

    #[test]
    fn due_only_when_paid_linked_unrecorded_and_a_method_applies() {
        let mut settings = SyncSettings::default();
        assert!(!due(&settings, &order(true)), "no method and account yet");
        settings.payment_method_map = vec![crate::domain::settings::PaymentMethodMapping {
            store_method: "paypal".into(),
            payment_method: "PAYPAL".into(),
            cash_account: "10300".into(),
        }];
        assert!(due(&settings, &order(true)), "the mapped method applies");
        assert!(!due(&settings, &order(false)), "not paid");
        let mut unlinked = order(true);
        unlinked.sync.sales_order_nbr = None;
        assert!(!due(&settings, &unlinked), "no Sales Order yet");
        let mut recorded = order(true);
        recorded.sync.payments.push(RecordedPayment {
            doc_type: "Prepayment".into(),
            reference_nbr: "000001".into(),
            amount: rust_decimal::Decimal::TEN,
            applied_to_order: None,
            status: Some("Balanced".into()),
            payment_method: None,
            payment_ref: None,
        });
        assert!(!due(&settings, &recorded), "a payment is shown already");
        settings.record_payments = false;
        assert!(!due(&settings, &order(true)), "payments off");
        let job = payment_job("1");
        assert_eq!(job.unique_key.as_deref(), Some("payment:1"));
        assert_eq!(job.kind, JobKind::RECORD_PAYMENT);
    }
}
