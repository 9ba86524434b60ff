//! Helpers of the orders' unit tests, and the tests of rules that span the module.

use std::ops::Bound;
use std::time::Duration;

use super::*;
use crate::domain::order::{AddressDraft, ItemDraft, OrderDraft};
use crate::domain::raw::{RawDateTime, RawDecimal};
use crate::jobs::JobsConfig;

pub(crate) async fn open(dir: &std::path::Path) -> (Store, Orders) {
    let store = Store::open(dir, 4 << 20).unwrap();
    let jobs = Jobs::open(&store, JobsConfig::new(3, Duration::from_millis(20)))
        .await
        .unwrap();
    let settings = Settings::open(&store).unwrap();
    let orders = Orders::open(&store, &jobs, &settings).unwrap();
    (store, orders)
}

pub(crate) fn order(i: usize) -> crate::domain::order::NewOrder {
    OrderDraft {
        number: format!("{i:05}"),
        profile_id: None,
        email: format!("buyer{}@shop{}.example", i % 7, i % 3),
        phone: None,
        placed_at: RawDateTime::parse(&format!("2026-02-{:02}T10:00:00Z", 1 + i % 28)),
        currency: "USD".into(),
        payment_status: PaymentStatus::Queued,
        billing_address: AddressDraft {
            country: "US".into(),
            ..Default::default()
        },
        shipping_address: None,
        items: vec![ItemDraft {
            sku: "A".into(),
            name: "A".into(),
            price: RawDecimal::parse("10.00"),
            quantity: 1,
            warehouse_id: None,
        }],
        shipping_cost: None,
        discount_total: None,
        tax_total: None,
        total: RawDecimal::parse("10.00"),
        refunded_total: None,
        payment_method: None,
    }
    .validate("input")
    .unwrap()
}

#[tokio::test]
async fn a_cursor_of_another_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, o) = open(dir.path()).await;
    o.record(order(1)).await.unwrap();
    let job_cursor = paging::cursor(&7u64.to_be_bytes());
    let err = o
        .list(10, Some(&job_cursor), &OrderFilter::default())
        .unwrap_err();
    assert!(matches!(err, OrdersError::BadCursor(_)), "{err}");
    let page = o.list(10, None, &OrderFilter::default()).unwrap();
    let cursor = &page.items[0].1;
    assert!(o.list(10, Some(cursor), &OrderFilter::default()).is_ok());
}

#[tokio::test]
async fn two_orders_on_one_sales_order_keep_the_later_link() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, o) = open(dir.path()).await;
    let link = |nbr: Option<&'static str>| {
        move |s: &mut crate::domain::order::OrderSync| {
            s.sales_order_type = nbr.map(|_| "SO".to_owned());
            s.sales_order_nbr = nbr.map(str::to_owned);
        }
    };
    for i in [1, 2] {
        o.record(order(i)).await.unwrap();
    }
    o.set_sync("00001", link(Some("SO1"))).await.unwrap();
    o.set_sync("00002", link(Some("SO1"))).await.unwrap();
    // The earlier one unlinked: the later link stays.
    o.set_sync(" 00001 ", link(None)).await.unwrap();
    let linked = o
        .by_sales_order("SO", "SO1")
        .unwrap()
        .map(|o| o.data.number);
    assert_eq!(linked.as_deref(), Some("00002"));
    o.set_sync("00002", link(None)).await.unwrap();
    assert!(o.by_sales_order("SO", "SO1").unwrap().is_none());
}

#[tokio::test]
async fn a_status_filter_walks_only_its_partition() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, o) = open(dir.path()).await;
    for i in 0..60 {
        o.record(order(i)).await.unwrap();
    }
    o.set_sync("00033", |s| s.status = SyncStatus::Failed)
        .await
        .unwrap();
    let failed = OrderFilter {
        sync_status: Some(SyncStatus::Failed),
        ..Default::default()
    };
    let keys: Vec<_> = o
        .entries(&Bound::Unbounded, &failed)
        .map(|e| e.unwrap().0)
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(number_of(&keys[0]), b"00033");
}
