//! The list index partitioned by what the list filters ask, so that a filtered page costs its
//! page however rare its status: the packed `orders_by_status` tree holds, for every order,
//! `s<sync status>\0<list key>` and `p<payment status>\0<list key>`, and, for an order whose
//! sync failed with a class, `c<error class>\0<list key>`; each → the order's list entry (its
//! statuses), so the filters not walked are checked without decoding the order. Written in
//! the order's transaction with its list entry (`orders::write`).

use sled::transaction::UnabortableTransactionError;

use super::{IndexEntry, OrderFilter, encode_plain};
use crate::store::{PackedTx, encode};

const SYNC: u8 = b's';
const PAYMENT: u8 = b'p';
const CLASS: u8 = b'c';

fn prefix(tag: u8, name: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(name.len() + 2);
    p.push(tag);
    p.extend_from_slice(name.as_bytes());
    p.push(0);
    p
}

/// The partitions an order with entry `e` is in, as key prefixes.
pub(super) fn prefixes(e: &IndexEntry) -> Vec<Vec<u8>> {
    let mut out = vec![
        prefix(SYNC, e.sync.as_str()),
        prefix(PAYMENT, &encode_plain(&e.payment)),
    ];
    if let Some(c) = e.class {
        out.push(prefix(CLASS, c.as_str()));
    }
    out
}

/// The entries of an order: partition key → its list entry.
pub(super) fn entries(list_key: &[u8], e: &IndexEntry) -> Vec<(Vec<u8>, Vec<u8>)> {
    let value = encode(e);
    prefixes(e)
        .into_iter()
        .map(|mut k| {
            k.extend_from_slice(list_key);
            (k, value.clone())
        })
        .collect()
}

/// Replaces an order's entries (`old`: its list key and entry before) by its new ones.
pub(super) fn write(
    tree: &PackedTx,
    old: Option<(&[u8], &IndexEntry)>,
    new: (&[u8], &IndexEntry),
) -> Result<(), UnabortableTransactionError> {
    let fresh = entries(new.0, new.1);
    if let Some((key, e)) = old {
        for (k, _) in entries(key, e) {
            if !fresh.iter().any(|(f, _)| *f == k) {
                tree.remove(&k)?;
            }
        }
    }
    for (k, v) in fresh {
        tree.insert(&k, &v)?;
    }
    Ok(())
}

/// The partition a filtered list walks: the error class (rare by nature) when asked, else
/// the smaller of the sync and payment partitions (`count` tells how many orders each holds);
/// none without a status filter.
pub(super) fn partition(
    filter: &OrderFilter,
    count: impl Fn(&OrderFilter) -> u64,
) -> Option<Vec<u8>> {
    if let Some(c) = filter.error_class {
        return Some(prefix(CLASS, c.as_str()));
    }
    let sync = filter.sync_status.map(|s| {
        let only = OrderFilter {
            sync_status: Some(s),
            ..Default::default()
        };
        (count(&only), prefix(SYNC, s.as_str()))
    });
    let payment = filter.payment_status.map(|p| {
        let only = OrderFilter {
            payment_status: Some(p),
            ..Default::default()
        };
        (count(&only), prefix(PAYMENT, &encode_plain(&p)))
    });
    match (sync, payment) {
        (Some(s), Some(p)) => Some(if p.0 < s.0 { p.1 } else { s.1 }),
        (s, p) => s.or(p).map(|(_, prefix)| prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorClass;
    use crate::domain::order::{PaymentStatus, SyncStatus};

    #[test]
    fn a_filter_walks_its_smallest_partition() {
        let counts = |f: &OrderFilter| match (f.sync_status, f.payment_status) {
            (Some(SyncStatus::Failed), _) => 3,
            (Some(_), _) => 900,
            (_, Some(PaymentStatus::Refunded)) => 1,
            _ => 500,
        };
        let walk = |filter: OrderFilter| partition(&filter, counts).map(String::from_utf8);
        assert_eq!(walk(OrderFilter::default()), None);
        let failed_paid = OrderFilter {
            sync_status: Some(SyncStatus::Failed),
            payment_status: Some(PaymentStatus::Paid),
            ..Default::default()
        };
        assert_eq!(walk(failed_paid.clone()), Some(Ok("sFAILED\0".into())));
        let synced_refunded = OrderFilter {
            sync_status: Some(SyncStatus::Synced),
            payment_status: Some(PaymentStatus::Refunded),
            ..Default::default()
        };
        assert_eq!(walk(synced_refunded), Some(Ok("pREFUNDED\0".into())));
        let classed = OrderFilter {
            error_class: Some(ErrorClass::Data),
            ..failed_paid
        };
        assert_eq!(walk(classed), Some(Ok("cDATA\0".into())));
    }
}
