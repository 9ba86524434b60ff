//! The search index of orders: what `search` in the orders list matches, found without
//! walking every order.
//!
//! An order is found by the start of its number (with or without leading zeros), of its
//! e-mail address, or of the e-mail's domain, case-insensitively: `M00042`, `42`, `buyer42@`,
//! `example.co` all find `M00042` of `buyer42@example.com`. Each of those terms is a key of the
//! packed `orders_search` tree, `<tag><term>\0<number>`, whose value is the order's key in
//! `orders_list` (so results come back newest first). A search walks only the keys that
//! start with the needle: its cost follows the number of matches, not of stored orders.
//! The terms change in the same transaction as the order (`orders::write`).

use std::collections::BTreeSet;

use sled::transaction::UnabortableTransactionError;

use crate::domain::order::Order;
use crate::store::{self, Packed, PackedTx};

const NUMBER: u8 = b'n';
const EMAIL: u8 = b'e';
const DOMAIN: u8 = b'd';

/// The needle as the index compares it: trimmed, lower-case, no NULs.
pub(crate) fn needle(search: &str) -> Option<String> {
    let n: String = search.trim().to_lowercase().replace('\0', "");
    (!n.is_empty()).then_some(n)
}

/// The terms an order is found by, as (tag, term).
fn terms(number: &str, email: &str) -> BTreeSet<(u8, String)> {
    let mut out = BTreeSet::new();
    let number = number.to_lowercase().replace('\0', "");
    let stripped = number.trim_start_matches('0');
    if !stripped.is_empty() && stripped != number {
        out.insert((NUMBER, stripped.to_owned()));
    }
    out.insert((NUMBER, number));
    let email = email.trim().to_lowercase().replace('\0', "");
    if !email.is_empty() {
        if let Some((_, domain)) = email.rsplit_once('@')
            && !domain.is_empty()
        {
            out.insert((DOMAIN, domain.to_owned()));
        }
        out.insert((EMAIL, email));
    }
    out
}

fn key(tag: u8, term: &str, number: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(term.len() + number.len() + 2);
    k.push(tag);
    k.extend_from_slice(term.as_bytes());
    k.push(0);
    k.extend_from_slice(number.as_bytes());
    k
}

/// The index entries of an order: term key → its `orders_list` key.
pub(super) fn entries(o: &Order, placed_key: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    terms(&o.data.number, &o.data.email)
        .into_iter()
        .map(|(tag, term)| (key(tag, &term, &o.data.number), placed_key.to_vec()))
        .collect()
}

/// Replaces `old`'s entries by `new`'s inside a transaction (nothing is written when they
/// are the same, which is the common case: number, e-mail and placement rarely change).
pub(super) fn write(
    terms: &PackedTx,
    old: Option<(&Order, Vec<u8>)>,
    new: (&Order, Vec<u8>),
) -> Result<(), UnabortableTransactionError> {
    let fresh = entries(new.0, &new.1);
    if let Some((o, placed)) = old {
        let stale = entries(o, &placed);
        if stale == fresh {
            return Ok(());
        }
        for (k, _) in stale {
            if !fresh.iter().any(|(f, _)| *f == k) {
                terms.remove(&k)?;
            }
        }
    }
    for (k, v) in fresh {
        terms.insert(&k, &v)?;
    }
    Ok(())
}

/// The `orders_list` keys of every order the needle finds, newest first.
pub(super) fn find(terms: &Packed, needle: &str) -> store::Result<Vec<Vec<u8>>> {
    let mut keys = BTreeSet::new();
    for tag in [NUMBER, EMAIL, DOMAIN] {
        let mut prefix = vec![tag];
        prefix.extend_from_slice(needle.as_bytes());
        for entry in terms.scan_prefix(&prefix) {
            let (_, placed) = entry?;
            keys.insert(placed);
        }
    }
    Ok(keys.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(number: &str, email: &str, search: &str) -> bool {
        let n = needle(search).unwrap();
        terms(number, email).iter().any(|(_, t)| t.starts_with(&n))
    }

    #[test]
    fn an_order_is_found_by_the_start_of_its_number_email_or_domain() {
        assert!(found("M00042", "Buyer42@Example.com", "m000"));
        assert!(found("00042", "b@x.io", "42"));
        assert!(found("00042", "b@x.io", "0004"));
        assert!(found("M00042", "Buyer42@Example.com", " BUYER42@ "));
        assert!(found("M00042", "Buyer42@Example.com", "example.c"));
        assert!(!found("M00042", "Buyer42@Example.com", "uyer"));
        assert!(!found("M00042", "Buyer42@Example.com", "0042"));
        assert_eq!(needle("  "), None);
    }

    #[test]
    fn an_order_of_zeros_keeps_its_number() {
        let t = terms("000", "");
        assert_eq!(t.len(), 1);
        assert!(t.contains(&(NUMBER, "000".to_owned())));
    }
}
