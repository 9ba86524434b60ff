//! The index from an order's Sales Order to the order: `so:<type>:<nbr>` → order number (type
//! and number upper-cased, as Acumatica compares its keys without case), written in the
//! order's own transaction whenever its Sales Order link changes, so that the shipment poll
//! finds the order of a shipment without walking the orders. The index is the packed
//! `orders_by_so` tree; an older store is indexed at start (`orders/carry.rs`).

use super::TxResult;
use crate::domain::order::Order;
use crate::store::PackedTx;

/// The key of Sales Order `order_type` `nbr`.
pub fn key(order_type: &str, nbr: &str) -> Vec<u8> {
    format!(
        "so:{}:{}",
        order_type.trim().to_uppercase(),
        nbr.trim().to_uppercase()
    )
    .into_bytes()
}

/// The index entry of an order linked to a Sales Order.
pub fn entry(o: &Order) -> Option<(Vec<u8>, Vec<u8>)> {
    match (&o.sync.sales_order_type, &o.sync.sales_order_nbr) {
        (Some(t), Some(n)) => Some((key(t, n), o.data.number.clone().into_bytes())),
        _ => None,
    }
}

/// Keeps the index in step with a write of `next` over `current`.
pub(super) fn write(tree: &PackedTx, current: Option<&Order>, next: &Order) -> TxResult<()> {
    let old = current.and_then(entry);
    let new = entry(next);
    if old == new {
        return Ok(());
    }
    // Unlinked: the entry goes only if it is this order's (two orders linked to one Sales
    // Order keep the later link; the earlier one's unlinking leaves it).
    if let Some((k, v)) = old
        && tree.get(&k)?.as_deref() == Some(v.as_slice())
    {
        tree.remove(&k)?;
    }
    if let Some((k, v)) = new {
        tree.insert(&k, &v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_spaces() {
        assert_eq!(key("so", " 000123 "), b"so:SO:000123".to_vec());
        assert_eq!(key("SO", "ab1"), key("so", "AB1"));
    }
}
