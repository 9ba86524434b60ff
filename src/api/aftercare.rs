//! An order's life after its Sales Order in the GraphQL API: why it needs attention, its
//! refunds and cancellation (fields of `Order` and `OrderSync`), and `resolveAttention`.

use async_graphql::{Context, Object, SimpleObject};

use super::error::{ApiError, ApiResult};
use super::orders::Order;
use super::scalars::{DateTime, Decimal};
use super::state;
use crate::domain::aftercare as domain;

/// Why an order needs (or needed) a person.
#[derive(SimpleObject)]
pub struct OrderAttention {
    /// What happened and what to do in Acumatica.
    reason: String,
    raised_at: DateTime,
    resolved_at: Option<DateTime>,
    /// The operator's note when resolving it.
    resolution: Option<String>,
}

impl From<&domain::Attention> for OrderAttention {
    fn from(a: &domain::Attention) -> Self {
        OrderAttention {
            reason: a.reason.clone(),
            raised_at: a.raised_at.into(),
            resolved_at: a.resolved_at.map(Into::into),
            resolution: a.resolution.clone(),
        }
    }
}

/// A refund the store reported after the order was synced. The bridge does not create the
/// credit in Acumatica: the order becomes NEEDS_ATTENTION saying so.
#[derive(SimpleObject)]
pub struct OrderRefund {
    /// This refund alone.
    amount: Decimal,
    /// All refunded so far, this one included.
    refunded_total: Decimal,
    at: DateTime,
    /// The AR credit memo created for it in Acumatica (setting createRefundCredits), once
    /// created; its CREATE_REFUND_CREDIT job is among the order's jobs.
    credit_memo: Option<RefundCreditMemo>,
}

/// A credit memo the bridge created in Acumatica for a refund.
#[derive(SimpleObject)]
pub struct RefundCreditMemo {
    /// Acumatica's ReferenceNbr of the credit memo.
    reference_nbr: String,
    amount: Decimal,
    /// Acumatica's status when created (Balanced, …).
    status: Option<String>,
    created_at: DateTime,
}

impl OrderRefund {
    pub fn of(r: &domain::Refund, currency: &str) -> OrderRefund {
        OrderRefund {
            amount: Decimal::money(r.amount, currency),
            refunded_total: Decimal::money(r.refunded_total, currency),
            at: r.at.into(),
            credit_memo: r.credit.as_ref().map(|c| RefundCreditMemo {
                reference_nbr: c.reference_nbr.clone(),
                amount: Decimal::money(c.amount, currency),
                status: c.status.clone(),
                created_at: c.created_at.into(),
            }),
        }
    }
}

/// The cancellation of the order's Sales Order after the store canceled the order (its
/// CANCEL_ORDER job is among the order's jobs).
#[derive(SimpleObject)]
pub struct OrderCancellation {
    requested_at: DateTime,
    /// When Acumatica showed the Sales Order canceled.
    canceled_at: Option<DateTime>,
    /// What came of it: "Sales Order SO 000012 canceled", "not canceled: … has shipped".
    outcome: Option<String>,
}

impl From<&domain::Cancellation> for OrderCancellation {
    fn from(c: &domain::Cancellation) -> Self {
        OrderCancellation {
            requested_at: c.requested_at.into(),
            canceled_at: c.canceled_at.map(Into::into),
            outcome: c.outcome.clone(),
        }
    }
}

#[derive(Default)]
pub struct AftercareMutation;

#[Object]
impl AftercareMutation {
    /// Marks what a NEEDS_ATTENTION order needed as handled (with an optional note): the
    /// order is SYNCED again. An order that needs no attention is refused, naming `number`.
    async fn resolve_attention(
        &self,
        ctx: &Context<'_>,
        number: String,
        note: Option<String>,
    ) -> ApiResult<Order> {
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(ApiError::bad_input("note", "at most 500 characters"));
        }
        let summary = format!("order {}", number.trim());
        let run = async {
            match state(ctx).orders.resolve_attention(&number, note).await? {
                Some(order) => Ok(Order(order)),
                None => Err(ApiError::bad_input(
                    "number",
                    format!("order {} does not need attention", number.trim()),
                )),
            }
        };
        super::audit::audited(ctx, "resolveAttention", summary, run, |_| String::new()).await
    }
}
