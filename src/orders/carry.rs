//! Carries a store of schema version 1 over to the packed order indexes, once, at start.
//!
//! Version 1 kept one sled key per index entry (`orders_by_placed`, `orders_by_term`,
//! `orders_by_sales_order`). Each packed tree is filled from its version-1 tree when that one
//! is complete (read in key order, so the carry-over streams), or else rebuilt from the
//! orders; its entries and its ready mark land in one atomic batch, and the old tree is
//! dropped after. A new store has nothing to carry: its trees are marked ready at once.

use std::ops::Bound;

use serde::Deserialize;

use super::{IndexEntry, Orders, by_sales_order, by_status, index_entry, index_key, search};
use crate::domain::ErrorClass;
use crate::domain::order::{Order, PaymentStatus, SyncStatus};
use crate::store::{self, Packed, decode, encode, trees};

/// Where version 1 marked an index built (the terms and the Sales Order links).
const V1_READY: &[u8] = b"!ready";

/// A version-1 list entry (it also held the number and e-mail, now left out).
#[derive(Deserialize)]
struct V1Entry {
    payment: PaymentStatus,
    sync: SyncStatus,
    #[serde(default)]
    class: Option<ErrorClass>,
}

/// The newest-first list: version 1 wrote it with every order, so it is always complete.
pub(super) fn list(o: &Orders) -> store::Result<()> {
    carry(
        o,
        &o.index,
        trees::v1::ORDERS_BY_PLACED,
        |_| Ok(true),
        |k, v| {
            let old: V1Entry = decode(v)?;
            let entry = IndexEntry {
                payment: old.payment,
                sync: old.sync,
                class: old.class,
            };
            Ok(Some((k.to_vec(), encode(&entry))))
        },
        |order| {
            let key = index_key(order.data.placed_at, &order.data.number);
            vec![(key, encode(&index_entry(order)))]
        },
    )
}

/// The search terms: same keys and values as in version 1.
pub(super) fn terms(o: &Orders) -> store::Result<()> {
    carry(
        o,
        &o.terms,
        trees::v1::ORDERS_BY_TERM,
        |old| Ok(old.contains_key(V1_READY)?),
        unchanged,
        |order| search::entries(order, &index_key(order.data.placed_at, &order.data.number)),
    )
}

/// The Sales Order links: same keys and values as in version 1.
pub(super) fn sales_orders(o: &Orders) -> store::Result<()> {
    carry(
        o,
        &o.by_so,
        trees::v1::ORDERS_BY_SALES_ORDER,
        |old| Ok(old.contains_key(V1_READY)?),
        unchanged,
        |order| by_sales_order::entry(order).into_iter().collect(),
    )
}

/// The status partitions, new in version 2: built from the list (carried over first), one
/// pass per partition so that entries stream in key order.
pub(super) fn by_status(o: &Orders) -> store::Result<()> {
    let packed = &o.by_status;
    if packed.is_ready()? {
        return Ok(());
    }
    let mut partitions = std::collections::BTreeSet::new();
    for entry in o.index.iter_from(Bound::Unbounded) {
        let (_, value) = entry?;
        partitions.extend(by_status::prefixes(&decode(&value)?));
    }
    if partitions.is_empty() {
        return packed.mark_ready();
    }
    packed.fill(partitions.into_iter().flat_map(|prefix| {
        o.index
            .iter_from(Bound::Unbounded)
            .filter_map(move |entry| {
                let (key, value) = match entry {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                };
                let e: IndexEntry = match decode(&value) {
                    Ok(e) => e,
                    Err(e) => return Some(Err(e)),
                };
                by_status::prefixes(&e)
                    .contains(&prefix)
                    .then(|| Ok(([prefix.as_slice(), &key].concat(), value)))
            })
    }))?;
    o.store.db().flush()?;
    tracing::info!(buckets = packed.buckets(), "order status partitions built");
    Ok(())
}

type Entry = (Vec<u8>, Vec<u8>);

/// A version-1 entry as it is, but for the ready mark.
fn unchanged(k: &[u8], v: &[u8]) -> store::Result<Option<Entry>> {
    Ok((k != V1_READY).then(|| (k.to_vec(), v.to_vec())))
}

/// Fills `packed` once: from the version-1 tree `old_name` when `complete` says it is, else
/// from the orders; then drops the old tree.
fn carry(
    o: &Orders,
    packed: &Packed,
    old_name: &str,
    complete: impl Fn(&sled::Tree) -> store::Result<bool>,
    convert: impl Fn(&[u8], &[u8]) -> store::Result<Option<Entry>>,
    rebuild: impl Fn(&Order) -> Vec<Entry>,
) -> store::Result<()> {
    let db = o.store.db();
    let old = db
        .tree_names()
        .iter()
        .any(|n| n.as_ref() == old_name.as_bytes())
        .then(|| db.open_tree(old_name))
        .transpose()?;
    if !packed.is_ready()? {
        match &old {
            Some(old) if complete(old)? => {
                packed.fill(old.iter().filter_map(|entry| match entry {
                    Ok((k, v)) => convert(&k, &v).transpose(),
                    Err(e) => Some(Err(e.into())),
                }))?;
            }
            _ if o.orders.is_empty() => packed.mark_ready()?,
            _ => {
                let mut entries = Vec::new();
                for entry in o.orders.iter() {
                    let (_, value) = entry?;
                    entries.extend(rebuild(&decode::<Order>(&value)?));
                }
                entries.sort();
                entries.dedup_by(|a, b| a.0 == b.0);
                packed.fill(entries.into_iter().map(Ok))?;
            }
        }
        db.flush()?;
        tracing::info!(
            index = old_name,
            buckets = packed.buckets(),
            "order index carried over to the packed layout"
        );
    }
    if old.is_some() {
        db.drop_tree(old_name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::{open, order};
    use crate::orders::{OrderFilter, number_of};

    /// What the indexes answer: the list, some searches, a Sales Order's order.
    fn answers(o: &Orders) -> Vec<String> {
        let mut out = vec![];
        let numbers = |filter: &OrderFilter| {
            let page = o.list(500, None, filter).unwrap();
            let n: Vec<_> = page
                .items
                .iter()
                .map(|(o, _)| o.data.number.clone())
                .collect();
            format!("{} {n:?}", page.total_count)
        };
        out.push(numbers(&OrderFilter::default()));
        for needle in ["buyer3@", "shop1.example", "0012", "12", "nobody"] {
            out.push(numbers(&OrderFilter {
                search: Some(needle.into()),
                ..Default::default()
            }));
        }
        out.push(numbers(&OrderFilter {
            sync_status: Some(SyncStatus::Failed),
            ..Default::default()
        }));
        out.push(numbers(&OrderFilter {
            error_class: Some(ErrorClass::Data),
            payment_status: Some(PaymentStatus::Queued),
            ..Default::default()
        }));
        let linked = o.by_sales_order("SO", "SO0042").unwrap();
        out.push(format!("{:?}", linked.map(|o| o.data.number)));
        out
    }

    #[tokio::test]
    async fn a_version_1_store_is_carried_over_entry_for_entry() {
        let dir = tempfile::tempdir().unwrap();
        let copy = tempfile::tempdir().unwrap();
        let before = {
            let (store, o) = open(dir.path()).await;
            for i in 0..400 {
                o.record(order(i)).await.unwrap();
            }
            o.set_sync("00042", |s| {
                s.sales_order_type = Some("SO".into());
                s.sales_order_nbr = Some("SO0042".into());
            })
            .await
            .unwrap();
            for (number, class) in [("00007", Some(ErrorClass::Data)), ("00300", None)] {
                o.set_sync(number, |s| {
                    s.status = SyncStatus::Failed;
                    s.error_class = class;
                })
                .await
                .unwrap();
            }
            let before = answers(&o);
            // The version-1 layout, written from the packed one: one sled key per entry.
            let db = store.db();
            let list = db.open_tree(trees::v1::ORDERS_BY_PLACED).unwrap();
            for entry in o.index.iter_from(Bound::Unbounded) {
                let (k, v) = entry.unwrap();
                let e: IndexEntry = decode(&v).unwrap();
                let number = String::from_utf8(number_of(&k).to_vec()).unwrap();
                let email = o.get(&number).unwrap().unwrap().data.email;
                let mut v1 = serde_json::json!({
                    "number": number, "email": email, "payment": e.payment, "sync": e.sync,
                });
                if let Some(class) = e.class {
                    v1["class"] = serde_json::json!(class);
                }
                list.insert(k, serde_json::to_vec(&v1).unwrap()).unwrap();
            }
            for (packed, name) in [
                (&o.terms, trees::v1::ORDERS_BY_TERM),
                (&o.by_so, trees::v1::ORDERS_BY_SALES_ORDER),
            ] {
                let old = db.open_tree(name).unwrap();
                for entry in packed.iter_from(Bound::Unbounded) {
                    let (k, v) = entry.unwrap();
                    old.insert(k, v).unwrap();
                }
                old.insert(V1_READY, &[1u8][..]).unwrap();
            }
            for name in [
                trees::ORDERS_LIST,
                trees::ORDERS_SEARCH,
                trees::ORDERS_BY_SO,
                trees::ORDERS_BY_STATUS,
            ] {
                db.drop_tree(name).unwrap();
            }
            db.open_tree(trees::META)
                .unwrap()
                .insert("schema_version", &1u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
            let status = std::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", dir.path().display()))
                .arg(copy.path())
                .status()
                .unwrap();
            assert!(status.success());
            before
        };
        let (store, o) = open(copy.path()).await;
        assert_eq!(answers(&o), before);
        assert!(before[0].starts_with("400 "), "{}", before[0]);
        assert_eq!(before[6], "2 [\"00300\", \"00007\"]");
        assert_eq!(before[7], "1 [\"00007\"]");
        assert_eq!(before[8], "Some(\"00042\")");
        let names: Vec<_> = store.db().tree_names();
        for old in [
            trees::v1::ORDERS_BY_PLACED,
            trees::v1::ORDERS_BY_TERM,
            trees::v1::ORDERS_BY_SALES_ORDER,
        ] {
            assert!(
                !names.iter().any(|n| n.as_ref() == old.as_bytes()),
                "{old} dropped"
            );
        }
        let version = store.raw_tree(trees::META).unwrap().get("schema_version");
        assert_eq!(
            version.unwrap().as_deref(),
            Some(&store::SCHEMA_VERSION.to_be_bytes()[..])
        );
        // 400 list entries in a handful of buckets; writes go on as before.
        assert!(o.index.buckets() < 20, "{} buckets", o.index.buckets());
        assert!(
            o.by_status.buckets() < 40,
            "{} buckets",
            o.by_status.buckets()
        );
        o.record(order(400)).await.unwrap();
        assert!(answers(&o)[0].starts_with("401 "));
    }
}
