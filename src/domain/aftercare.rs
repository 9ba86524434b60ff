//! What happens to a synced order after its Sales Order, as the order keeps it: the reasons it
//! needs an operator ([`Attention`]), the refunds the store reported ([`Refund`]) and the
//! cancellation of its Sales Order ([`Cancellation`]). Plain data; the jobs that act on them
//! live in `crate::aftercare`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Why an order needs a person, raised by the bridge and resolved by an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    /// What happened and what to do, e.g. "refund of 12.50 USD to be handled in Acumatica …".
    pub reason: String,
    pub raised_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// What the operator said when resolving it.
    pub resolution: Option<String>,
}

/// A refund the store reported after the order was synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// This refund alone (the increase of the refunded total), at the currency's scale.
    pub amount: Decimal,
    /// The refunded total after it.
    pub refunded_total: Decimal,
    pub at: DateTime<Utc>,
    /// The credit memo created for it in Acumatica (setting `createRefundCredits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<RefundCredit>,
    /// Set, durably, before the credit memo's create: from then every attempt looks it up
    /// first, after the re-check delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_sent_at: Option<DateTime<Utc>>,
}

/// A credit memo created in Acumatica for a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundCredit {
    /// Acumatica's ReferenceNbr of the credit memo.
    pub reference_nbr: String,
    pub amount: Decimal,
    pub status: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The cancellation of the order's Sales Order, after the store canceled the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub requested_at: DateTime<Utc>,
    /// Set once Acumatica shows the Sales Order canceled.
    pub canceled_at: Option<DateTime<Utc>>,
    /// What came of it, in words: "Sales Order SO 000012 canceled", "not canceled: it has
    /// shipment 000003".
    pub outcome: Option<String>,
}

impl Cancellation {
    /// A cancellation asked for at `now`, not yet done.
    pub fn new(now: DateTime<Utc>) -> Cancellation {
        Cancellation {
            requested_at: now,
            canceled_at: None,
            outcome: None,
        }
    }
}

/// The sync status an order returns to when its attention is resolved.
pub fn settled(linked: bool) -> super::order::SyncStatus {
    if linked {
        super::order::SyncStatus::Synced
    } else {
        super::order::SyncStatus::NotSynced
    }
}
