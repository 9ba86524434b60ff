//! CREATE_REFUND_CREDIT: an AR credit memo in Acumatica for a refund the store reported after
//! the sync (setting `createRefundCredits`), exactly once. Every attempt:
//!
//! 1. reads the order's refund: credited already → done;
//! 2. waits out the re-check delay when an earlier attempt's create may still be on its way
//!    (`credit_sent_at`, set durably before the create);
//! 3. LOOKS UP the credit memo: `GET Invoice?$filter=Type eq 'Credit Memo' and Customer eq
//!    '<customer>' and CustomerOrder eq '<reference>-R<n>'` (the order's CustomerOrder
//!    reference and the refund's number): one found is adopted, two is a DATA failure;
//! 4. only when none is found, creates it (insert-only): the customer, one line "Refund of
//!    store order 1001" for the refund's amount, not on hold.
//!
//! Two requests per refund (look-up, create). A DATA or CONFIGURATION failure leaves the order
//! NEEDS_ATTENTION with what went wrong, so the refund is never silently lost.

use chrono::Utc;
use rust_decimal::Decimal;

use super::Aftercare;
use crate::acumatica::{Filter, Invoice, InvoiceDetail, PutMode, Query};
use crate::domain::aftercare::RefundCredit;
use crate::domain::order::Order;
use crate::jobs::{JobContext, Outcome, wake};
use crate::orders::CreditRequest;

const CREDIT_MEMO: &str = "Credit Memo";

/// The reference a refund's credit memo carries in CustomerOrder: `<reference>-R<n>`.
fn credit_reference(order: &Order, refund: usize) -> String {
    let base = order
        .sync
        .create_intent
        .as_ref()
        .map(|i| i.customer_order.clone())
        .unwrap_or_else(|| order.data.number.clone());
    format!("{base}-R{refund}")
}

impl Aftercare {
    pub(super) async fn credit(&self, ctx: JobContext) -> Outcome {
        let request: CreditRequest = match ctx.payload() {
            Ok(r) => r,
            Err(o) => return o,
        };
        let outcome = match self.try_credit(&ctx, &request).await {
            Ok(o) | Err(o) => o,
        };
        if let Outcome::Permanent(_, why) = &outcome {
            // Never lost: a refund whose credit cannot be made is left to a person.
            let reason = format!(
                "the credit memo for refund {} could not be created in Acumatica: {why} Create it there, then mark this resolved",
                request.refund
            );
            let now = Utc::now();
            let raised = self
                .orders
                .set_sync(&request.number, |s| s.raise(reason.clone(), now))
                .await;
            if let Err(e) = raised {
                return Outcome::transient(format!("cannot record the refund's failure: {e}"));
            }
        }
        outcome
    }

    async fn try_credit(
        &self,
        ctx: &JobContext,
        request: &CreditRequest,
    ) -> Result<Outcome, Outcome> {
        let number = request.number.as_str();
        let order = self.order(number)?;
        let Some(refund) = request
            .refund
            .checked_sub(1)
            .and_then(|i| order.sync.refunds.get(i))
        else {
            return Ok(Outcome::data(format!(
                "Order {number} has no refund {}.",
                request.refund
            )));
        };
        if refund.credit.is_some() {
            return Ok(Outcome::Done);
        }
        let Some(customer) = order.sync.customer_id.clone() else {
            return Ok(Outcome::data(format!(
                "Order {number} has no Acumatica customer to credit: sync it first."
            )));
        };
        if let Some(sent) = refund.credit_sent_at {
            let due = sent + chrono::Duration::from_std(self.recheck_delay).unwrap_or_default();
            if let Ok(wait) = (due - Utc::now()).to_std()
                && !wait.is_zero()
            {
                return Ok(Outcome::RetryAfter(
                    wait,
                    "waiting before looking the credit memo up again after an unanswered create"
                        .into(),
                ));
            }
        }
        let (generation, client) = match self.connection.session().await {
            Ok(s) => (s.generation, s.client),
            Err(e) => return Ok(Outcome::not_ready(wake::CONNECTED, e.to_string())),
        };
        let reference = credit_reference(&order, request.refund);
        ctx.progress(1, Some(2), Some("Looking for the credit memo".into()));
        let filter = Filter::eq("Type", CREDIT_MEMO)
            .and(Filter::eq("Customer", customer.as_str()))
            .and(Filter::eq("CustomerOrder", reference.as_str()));
        let found = client
            .list::<Invoice>(&Query::new().filter(filter).top(2))
            .await;
        let found = match found {
            Ok(f) => f,
            Err(e) => return Err(self.credit_failed(&e, generation).await),
        };
        match found.as_slice() {
            [] => {}
            [one] => return self.credited(number, request.refund, one).await,
            [a, b, ..] => {
                return Ok(Outcome::data(format!(
                    "Two credit memos with reference {reference} exist in Acumatica: {} and {}. Void the extra one there.",
                    a.reference_nbr.as_deref().unwrap_or("?"),
                    b.reference_nbr.as_deref().unwrap_or("?")
                )));
            }
        }
        let text = format!("Refund of store order {number}");
        let memo = Invoice {
            invoice_type: Some(CREDIT_MEMO.into()),
            customer: Some(customer),
            customer_order: Some(reference),
            description: Some(text.clone()),
            hold: Some(false),
            details: Some(vec![InvoiceDetail {
                transaction_description: Some(text),
                qty: Some(Decimal::ONE),
                unit_price: Some(refund.amount),
                ..InvoiceDetail::default()
            }]),
            ..Invoice::default()
        };
        let refund_no = request.refund;
        self.orders
            .set_sync(number, |s| {
                if let Some(r) = s.refunds.get_mut(refund_no - 1) {
                    r.credit_sent_at = Some(Utc::now());
                }
            })
            .await
            .map_err(Outcome::transient)?;
        ctx.progress(2, Some(2), Some("Creating the credit memo".into()));
        match client.put(&memo, PutMode::Insert, &Query::new()).await {
            Ok(saved) => self.credited(number, refund_no, &saved).await,
            Err(e) if e.is_ambiguous() => Err(self.credit_failed(&e, generation).await),
            Err(e) => {
                // Definitely not saved: the next attempt need not wait.
                self.orders
                    .set_sync(number, |s| {
                        if let Some(r) = s.refunds.get_mut(refund_no - 1) {
                            r.credit_sent_at = None;
                        }
                    })
                    .await
                    .map_err(Outcome::transient)?;
                Err(self.credit_failed(&e, generation).await)
            }
        }
    }

    /// Records the credit memo Acumatica shows on the refund.
    async fn credited(
        &self,
        number: &str,
        refund: usize,
        memo: &Invoice,
    ) -> Result<Outcome, Outcome> {
        let credit = RefundCredit {
            reference_nbr: memo.reference_nbr.clone().unwrap_or_default(),
            amount: memo.amount.unwrap_or_default(),
            status: memo.status.clone(),
            created_at: Utc::now(),
        };
        self.orders
            .set_sync(number, |s| {
                if let Some(r) = s.refunds.get_mut(refund - 1) {
                    r.credit = Some(credit.clone());
                }
            })
            .await
            .map_err(Outcome::transient)?;
        Ok(Outcome::Done)
    }

    async fn credit_failed(&self, e: &crate::acumatica::Error, generation: u64) -> Outcome {
        self.connection
            .failure_outcome(
                e,
                generation,
                self.recheck_delay,
                "the credit memo is looked up again before any new create",
            )
            .await
    }
}
