//! The orders store on PostgreSQL (`pg::orders::PgOrders`) against the sled one
//! (`orders::Orders`): the same operations run on both, and every answer is compared —
//! recorded or updated, the orders themselves, the jobs pushed (kind, uniqueness key, order,
//! status), pages of every filter and search walked with their cursors (which are the same
//! strings on both), total counts, the counts by status, Sales Order look-ups and refusals.
//! Then two instances recording the same orders at once: one order each, one sync job; and
//! a record whose write the database refuses leaves no job.
//!
//! The sled service opens in a temporary directory through its public constructors, as
//! `AppState::open` does, so the comparison needs nothing inside the crate.

use std::time::Duration;

use acumatica_bridge::domain::ErrorClass;
use acumatica_bridge::domain::order::{
    AddressDraft, ItemDraft, NewOrder, Order, OrderDraft, OrderShipment, PaymentStatus, SyncStatus,
};
use acumatica_bridge::domain::raw::{RawDateTime, RawDecimal};
use acumatica_bridge::domain::settings::{
    Change, OrderSyncMode, PaymentMethodMapping, SettingsPatch, SyncSettings,
};
use acumatica_bridge::jobs::{JobKind, JobRecord, JobStatus, Jobs, JobsConfig, shipped_limits};
use acumatica_bridge::orders::{OrderFilter, Orders, OrdersError, Recorded};
use acumatica_bridge::paging::Page;
use acumatica_bridge::pg::orders::PgOrders;
use acumatica_bridge::pg::queue::PgQueue;
use acumatica_bridge::pg::{Pg, PgOptions};
use acumatica_bridge::settings::Settings;
use acumatica_bridge::store::Store;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::cluster;

/// The sled service in a temporary directory (its jobs are never run: they stay as pushed).
struct Sled {
    _dir: tempfile::TempDir,
    jobs: Jobs,
    settings: Settings,
    orders: Orders,
}

async fn sled() -> Sled {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 8 << 20).unwrap();
    let jobs = Jobs::open(&store, JobsConfig::new(3, Duration::from_millis(20)))
        .await
        .unwrap();
    let settings = Settings::open(&store).unwrap();
    let orders = Orders::open(&store, &jobs, &settings).unwrap();
    Sled {
        _dir: dir,
        jobs,
        settings,
        orders,
    }
}

/// One instance on a database: its orders and its job queue.
struct Instance {
    orders: PgOrders,
    queue: PgQueue,
}

async fn instance(url: &str, name: &str) -> Instance {
    let options = PgOptions {
        max_connections: 4,
        ..Default::default()
    };
    let pg = Pg::connect_with(url, options).await.unwrap();
    Instance {
        orders: PgOrders::new(&pg, shipped_limits(3)),
        queue: PgQueue::new(pg.pool().clone(), name, Duration::from_secs(30)),
    }
}

struct Draft<'a> {
    number: &'a str,
    email: &'a str,
    placed: &'a str,
    payment: PaymentStatus,
    refunded: Option<&'a str>,
}

fn order(d: Draft) -> NewOrder {
    OrderDraft {
        number: d.number.into(),
        profile_id: None,
        email: d.email.into(),
        phone: None,
        placed_at: RawDateTime::parse(d.placed),
        currency: "USD".into(),
        payment_status: d.payment,
        billing_address: AddressDraft {
            country: "US".into(),
            ..Default::default()
        },
        shipping_address: None,
        items: vec![ItemDraft {
            sku: "A".into(),
            name: "A".into(),
            price: RawDecimal::parse("10.25"),
            quantity: 1,
            warehouse_id: None,
        }],
        shipping_cost: None,
        discount_total: None,
        tax_total: None,
        total: RawDecimal::parse("10.25"),
        refunded_total: d.refunded.map(RawDecimal::parse),
        payment_method: Some("PayPal".into()),
    }
    .validate("input")
    .unwrap()
}

/// Order `i` of the comparison: numbers with and without leading zeros, letters and LIKE's
/// wildcards; placements shared by several orders (ties broken by number); mixed-case
/// e-mails over three domains.
fn nth(i: usize, payment: PaymentStatus) -> NewOrder {
    let number = match i % 5 {
        0 => format!("{i:05}"),
        1 => format!("M{i:05}"),
        2 => format!("{i}"),
        3 => format!("A-{i}"),
        _ => format!("a_{i}%"),
    };
    let email = format!("Buyer{}@Shop{}.Example", i % 4, i % 3);
    let placed = format!("2026-02-{:02}T10:00:00.{:06}Z", 1 + i % 6, (i % 2) * 250);
    order(Draft {
        number: &number,
        email: &email,
        placed: &placed,
        payment,
        refunded: None,
    })
}

fn number(i: usize) -> String {
    nth(i, PaymentStatus::Queued).number
}

/// What a job is, apart from its id (ids are the engines' own).
fn job_key(j: &JobRecord) -> String {
    format!(
        "{} {} {} {}",
        j.kind.as_str(),
        j.unique_key.as_deref().unwrap_or("-"),
        j.order_number.as_deref().unwrap_or("-"),
        j.status.as_str()
    )
}

/// `v` with every time at or after `start` (made by the engines' clocks) as "<now>".
fn untimed(v: &mut Value, start: DateTime<Utc>) {
    match v {
        Value::String(s) if s.parse::<DateTime<Utc>>().is_ok_and(|t| t >= start) => {
            *s = "<now>".into();
        }
        Value::Array(a) => a.iter_mut().for_each(|v| untimed(v, start)),
        Value::Object(o) => o.values_mut().for_each(|v| untimed(v, start)),
        _ => {}
    }
}

/// The sled and PostgreSQL services side by side, compared at every step.
struct Both {
    start: DateTime<Utc>,
    sled: Sled,
    pg: Instance,
}

impl Both {
    async fn new() -> Both {
        let url = cluster::database().await;
        Both {
            start: Utc::now() - chrono::Duration::seconds(1),
            sled: sled().await,
            pg: instance(&url, "instance-a").await,
        }
    }

    fn settings(&self) -> SyncSettings {
        self.sled.settings.get().unwrap()
    }

    async fn save(&self, patch: SettingsPatch) {
        self.sled.settings.save(patch, |_| Ok(())).await.unwrap();
    }

    /// An order of sled as compared: its job ids as the jobs they name, engine times aside.
    fn sled_view(&self, o: &Order) -> Value {
        let mut o = o.clone();
        for id in &mut o.sync.job_ids {
            let job = self.sled.jobs.get(id.parse().unwrap()).unwrap().unwrap();
            *id = job_key(&job);
        }
        let mut v = serde_json::to_value(&o).unwrap();
        untimed(&mut v, self.start);
        v
    }

    async fn pg_view(&self, o: &Order) -> Value {
        let mut o = o.clone();
        for id in &mut o.sync.job_ids {
            let job = self
                .pg
                .queue
                .get(id.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
            *id = job_key(&job);
        }
        let mut v = serde_json::to_value(&o).unwrap();
        untimed(&mut v, self.start);
        v
    }

    async fn same_order(&self, what: &str, s: &Option<Order>, p: &Option<Order>) {
        match (s, p) {
            (Some(s), Some(p)) => {
                assert_eq!(self.sled_view(s), self.pg_view(p).await, "{what}");
                assert_eq!(s.data.total.to_string(), p.data.total.to_string(), "{what}");
            }
            (None, None) => {}
            _ => panic!(
                "{what}: sled {:?}, PostgreSQL {:?}",
                s.is_some(),
                p.is_some()
            ),
        }
    }

    async fn record(&self, new: NewOrder) -> Recorded {
        let what = format!("record {}", new.number);
        let settings = self.settings();
        let (s, sh) = self.sled.orders.record(new.clone()).await.unwrap();
        let (p, ph) = self.pg.orders.record(new, &settings).await.unwrap();
        assert_eq!(sh, ph, "{what}");
        self.same_order(&what, &Some(s), &Some(p)).await;
        sh
    }

    async fn set_sync(&self, n: &str, f: impl Fn(&mut acumatica_bridge::domain::order::OrderSync)) {
        let s = self.sled.orders.set_sync(n, &f).await.unwrap();
        let p = self.pg.orders.set_sync(n, &f).await.unwrap();
        self.same_order(&format!("set_sync {n}"), &Some(s), &Some(p))
            .await;
    }

    /// Every order and every job of both, compared.
    async fn same_state(&self, what: &str) -> Vec<String> {
        let s = self
            .sled
            .orders
            .list(1000, None, &OrderFilter::default())
            .unwrap();
        let p = self
            .pg
            .orders
            .list(1000, None, &OrderFilter::default())
            .await
            .unwrap();
        self.same_page(what, &s, &p).await;
        let mut jobs = vec![];
        for (o, _) in &s.items {
            let n = &o.data.number;
            let mut sj: Vec<String> = self
                .sled
                .jobs
                .for_order(n)
                .unwrap()
                .iter()
                .map(job_key)
                .collect();
            let mut pj: Vec<String> = self
                .pg
                .queue
                .for_order(n)
                .await
                .unwrap()
                .iter()
                .map(job_key)
                .collect();
            sj.sort();
            pj.sort();
            assert_eq!(sj, pj, "{what}: the jobs of {n}");
            jobs.extend(sj);
        }
        assert_eq!(
            self.sled.orders.count_by_sync_status().unwrap(),
            self.pg.orders.count_by_sync_status().await.unwrap(),
            "{what}: counts by sync status"
        );
        jobs
    }

    async fn same_page(&self, what: &str, s: &Page<Order>, p: &Page<Order>) {
        let numbers = |page: &Page<Order>| -> Vec<String> {
            page.items
                .iter()
                .map(|(o, _)| o.data.number.clone())
                .collect()
        };
        assert_eq!(numbers(s), numbers(p), "{what}: numbers");
        assert_eq!(s.total_count, p.total_count, "{what}: total count");
        assert_eq!(s.has_next_page, p.has_next_page, "{what}: has next page");
        for ((so, sc), (po, pc)) in s.items.iter().zip(&p.items) {
            assert_eq!(sc, pc, "{what}: cursor of {}", so.data.number);
            self.same_order(what, &Some(so.clone()), &Some(po.clone()))
                .await;
        }
    }

    /// Walks every page of `filter`, `first` at a time, on both; returns the numbers seen.
    async fn walk(&self, filter: &OrderFilter, first: usize) -> Vec<String> {
        let mut after: Option<String> = None;
        let mut seen = vec![];
        for step in 0.. {
            let what = format!("{filter:?}, {first} a page, page {step}");
            let s = self
                .sled
                .orders
                .list(first, after.as_deref(), filter)
                .unwrap();
            let p = self
                .pg
                .orders
                .list(first, after.as_deref(), filter)
                .await
                .unwrap();
            self.same_page(&what, &s, &p).await;
            seen.extend(s.items.iter().map(|(o, _)| o.data.number.clone()));
            if !s.has_next_page || first == 0 {
                break;
            }
            after = s.end_cursor();
        }
        seen
    }
}

fn filter(
    sync: Option<SyncStatus>,
    payment: Option<PaymentStatus>,
    class: Option<ErrorClass>,
    search: Option<&str>,
) -> OrderFilter {
    OrderFilter {
        sync_status: sync,
        payment_status: payment,
        error_class: class,
        search: search.map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_orders_answer_as_the_sled_ones() {
    let both = Both::new().await;
    both.save(SettingsPatch {
        order_sync_mode: Change::Set(OrderSyncMode::AutomaticAfterPayment),
        create_refund_credits: Change::Set(false),
        payment_method_map: Change::Set(vec![PaymentMethodMapping {
            store_method: "paypal".into(),
            payment_method: "PAYPAL".into(),
            cash_account: "10300".into(),
        }]),
        ..Default::default()
    })
    .await;
    const N: usize = 40;

    // Created, a third paid (automatic mode: one sync job each); then updated, another
    // third becoming paid, the paid ones paid again (no second job).
    for i in 0..N {
        let paid = if i % 3 == 0 {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Queued
        };
        assert_eq!(both.record(nth(i, paid)).await, Recorded::Created);
    }
    for i in 0..N {
        let paid = if i % 3 < 2 {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Queued
        };
        assert_eq!(both.record(nth(i, paid)).await, Recorded::Updated);
    }
    let jobs = both.same_state("after recording").await;
    let syncs = jobs.iter().filter(|j| j.starts_with("SYNC_ORDER")).count();
    assert_eq!(
        syncs,
        (0..N).filter(|i| i % 3 < 2).count(),
        "one sync per paid order: {jobs:?}"
    );

    // Links to Sales Orders (mixed case), failures of the DATA class.
    for i in (0..N).filter(|i| i % 5 == 0) {
        both.set_sync(&number(i), |s| {
            s.status = SyncStatus::Synced;
            s.sales_order_type = Some("SO".into());
            s.sales_order_nbr = Some(format!("so{i:04}"));
            s.customer_id = Some("C1".into());
        })
        .await;
    }
    for i in (0..N).filter(|i| i % 7 == 3) {
        both.set_sync(&number(i), |s| {
            s.status = SyncStatus::Failed;
            s.error_class = Some(ErrorClass::Data);
            s.last_error = Some("no such SKU".into());
        })
        .await;
    }
    // Paid again after its sync failed: no new job (it was paid); becoming paid after a
    // failure: a new automatic sync.
    let failed = |i: usize| (0..N).any(|j| j == i && j % 7 == 3);
    assert!(failed(3) && failed(24) && failed(17));
    for i in [3, 24, 17] {
        both.record(nth(i, PaymentStatus::Paid)).await;
    }
    let jobs = both.same_state("after failures").await;
    let n17 = format!("SYNC_ORDER sync:{0} {0} QUEUED", number(17));
    assert!(jobs.contains(&n17), "{jobs:?}");
    let syncs = jobs.iter().filter(|j| j.starts_with("SYNC_ORDER")).count();
    assert_eq!(syncs, (0..N).filter(|i| i % 3 < 2).count() + 1, "{jobs:?}");
    // The store's changes after the sync: paid again (RECORD_PAYMENT due), refunded without
    // credits (NEEDS_ATTENTION), canceled (CANCEL_ORDER), a new e-mail and placement.
    both.record(nth(0, PaymentStatus::Paid)).await;
    let mut refunded = nth(5, PaymentStatus::Paid);
    refunded.refunded_total = Some("4.10".parse().unwrap());
    both.record(refunded).await;
    both.record(nth(10, PaymentStatus::Canceled)).await;
    let mut moved = nth(15, PaymentStatus::Paid);
    moved.email = "someone@Elsewhere.example".into();
    moved.placed_at = "2026-03-01T00:00:00Z".parse().unwrap();
    both.record(moved).await;
    // With credits on, a refund gets its CREATE_REFUND_CREDIT job.
    both.save(SettingsPatch {
        create_refund_credits: Change::Set(true),
        ..Default::default()
    })
    .await;
    let mut credited = nth(25, PaymentStatus::Paid);
    credited.refunded_total = Some("2.50".parse().unwrap());
    both.record(credited).await;
    let jobs = both.same_state("after the store's changes").await;
    for kind in ["RECORD_PAYMENT", "CANCEL_ORDER", "CREATE_REFUND_CREDIT"] {
        assert!(jobs.iter().any(|j| j.starts_with(kind)), "{kind}: {jobs:?}");
    }

    // request_sync: known numbers (spaces trimmed, one twice); an unknown one changes nothing.
    let numbers = vec![number(2), format!(" {} ", number(4)), number(2), number(20)];
    let s = both.sled.orders.request_sync(&numbers).await.unwrap();
    let p = both.pg.orders.request_sync(&numbers).await.unwrap();
    assert_eq!(
        s.iter().map(job_key).collect::<Vec<_>>(),
        p.iter().map(job_key).collect::<Vec<_>>()
    );
    let before = both.same_state("after request_sync").await;
    // Orders 8 and 14 have no job and are NOT_SYNCED: a call that went through would queue them.
    let bad = vec![number(8), "no-such-order".to_owned(), number(14)];
    let s = both.sled.orders.request_sync(&bad).await;
    let p = both.pg.orders.request_sync(&bad).await;
    assert!(
        matches!(s, Err(OrdersError::NotFound(ref n)) if n == "no-such-order"),
        "{s:?}"
    );
    assert!(
        matches!(p, Err(OrdersError::NotFound(ref n)) if n == "no-such-order"),
        "{p:?}"
    );
    assert_eq!(
        before,
        both.same_state("after a refused request_sync").await
    );
    for i in [8, 14] {
        let o = both.pg.orders.get(&number(i)).await.unwrap().unwrap();
        assert_eq!(o.sync.status, SyncStatus::NotSynced, "{}", number(i));
        assert!(o.sync.job_ids.is_empty());
    }

    // request_payment.
    let settings = both.settings();
    for i in [0, 5, 20, 30, 1] {
        let n = number(i);
        assert_eq!(
            both.sled.orders.request_payment(&n).await.unwrap(),
            both.pg.orders.request_payment(&n, &settings).await.unwrap(),
            "request_payment {n}"
        );
    }

    // mirror_job: each engine's own sync job of an order, moved the same way.
    let moves: [(usize, JobStatus, Option<ErrorClass>, Option<&str>); 4] = [
        (1, JobStatus::Running, None, None),
        (6, JobStatus::Succeeded, None, None),
        (
            13,
            JobStatus::Failed,
            Some(ErrorClass::Transient),
            Some("timed out"),
        ),
        (
            16,
            JobStatus::RetryScheduled,
            Some(ErrorClass::Data),
            Some("bad tax"),
        ),
    ];
    for (i, status, class, error) in moves {
        let n = number(i);
        let sync = |jobs: Vec<JobRecord>| {
            let mut j = jobs
                .into_iter()
                .find(|j| j.kind == JobKind::SYNC_ORDER)
                .expect("a sync job");
            j.status = status;
            j.error_class = class;
            j.last_error = error.map(str::to_owned);
            j
        };
        both.sled
            .orders
            .mirror_job(&sync(both.sled.jobs.for_order(&n).unwrap()));
        both.pg
            .orders
            .mirror_job(&sync(both.pg.queue.for_order(&n).await.unwrap()))
            .await;
    }
    both.same_state("after mirroring").await;

    // resolve_attention: the refunded order, one that needs nothing, an unknown one.
    for n in [number(5), number(1)] {
        let s = both
            .sled
            .orders
            .resolve_attention(&n, Some("done".into()))
            .await
            .unwrap();
        let p = both
            .pg
            .orders
            .resolve_attention(&n, Some("done".into()))
            .await
            .unwrap();
        both.same_order(&format!("resolve {n}"), &s, &p).await;
    }
    assert!(matches!(
        both.pg.orders.resolve_attention("nope", None).await,
        Err(OrdersError::NotFound(_))
    ));
    assert!(matches!(
        both.sled.orders.resolve_attention("nope", None).await,
        Err(OrdersError::NotFound(_))
    ));
    // record_shipment, twice the same shipment (replaced), then another.
    for (nbr, qty) in [("SH1", "1"), ("SH1", "1.5"), ("SH2", "0.25")] {
        let shipment = OrderShipment {
            number: nbr.into(),
            status: "Confirmed".into(),
            tracking_numbers: vec!["1Z".into()],
            shipped_at: Some("2026-02-03T00:00:00Z".parse().unwrap()),
            shipped_qty: Some(qty.parse().unwrap()),
            store_status: "S".into(),
            written_back_at: "2026-02-04T00:00:00Z".parse().unwrap(),
            job_id: "7".into(),
        };
        let s = both
            .sled
            .orders
            .record_shipment(&number(0), shipment.clone())
            .await
            .unwrap();
        let p = both
            .pg
            .orders
            .record_shipment(&number(0), shipment)
            .await
            .unwrap();
        both.same_order("record_shipment", &Some(s), &Some(p)).await;
    }
    let gone = both.pg.orders.set_sync("nope", |_| {}).await;
    assert!(matches!(gone, Err(OrdersError::NotFound(_))), "{gone:?}");
    both.same_state("after resolving and shipping").await;

    // by_sales_order, case and spaces aside.
    for (t, n) in [
        ("SO", "SO0010"),
        ("so", " so0010 "),
        ("So", "sO0035"),
        ("SO", "SO9999"),
        ("IN", "SO0010"),
    ] {
        let s = both.sled.orders.by_sales_order(t, n).unwrap();
        let p = both.pg.orders.by_sales_order(t, n).await.unwrap();
        both.same_order(&format!("by_sales_order {t} {n}"), &s, &p)
            .await;
    }
    assert!(
        both.pg
            .orders
            .by_sales_order("so", "so0010")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        both.pg
            .orders
            .get(&format!(" {} ", number(3)))
            .await
            .unwrap()
            .map(|o| o.data.number),
        Some(number(3)),
        "get trims the number"
    );

    // Letters beyond ASCII fold as sled folds them, whatever the database's locale.
    let unicode = order(Draft {
        number: "Ö-41",
        email: "Zoë@Ünïcode.Example",
        placed: "2026-02-02T10:00:00Z",
        payment: PaymentStatus::Paid,
        refunded: None,
    });
    assert_eq!(both.record(unicode).await, Recorded::Created);

    // Every filter and search, page by page, at several page sizes.
    let statuses = [
        filter(None, None, None, None),
        filter(Some(SyncStatus::Queued), None, None, None),
        filter(Some(SyncStatus::Synced), None, None, None),
        filter(Some(SyncStatus::Failed), None, None, None),
        filter(Some(SyncStatus::NeedsAttention), None, None, None),
        filter(Some(SyncStatus::Syncing), None, None, None),
        filter(None, Some(PaymentStatus::Paid), None, None),
        filter(None, Some(PaymentStatus::Canceled), None, None),
        filter(None, None, Some(ErrorClass::Data), None),
        filter(
            None,
            Some(PaymentStatus::Queued),
            Some(ErrorClass::Data),
            None,
        ),
        filter(
            Some(SyncStatus::Queued),
            Some(PaymentStatus::Paid),
            None,
            None,
        ),
    ];
    let searches = [
        "m000",
        "M00011",
        "0001",
        "1",
        "12",
        "00012",
        "a-",
        "A-3",
        "a_",
        "a\\",
        "%",
        "_",
        "buyer3@",
        "BUYER1@SHOP",
        "shop1.example",
        "shop2",
        "elsewhere",
        "someone",
        " 5 ",
        "nobody",
        "@",
        ".example",
        "ö-",
        "Ö-4",
        "zoë@",
        "ÜNÏCODE",
        "ünïcode.example",
    ];
    let mut walked = 0;
    for f in &statuses {
        for first in [7, 1, 0, 100] {
            walked += both.walk(f, first).await.len();
        }
    }
    for needle in searches {
        for f in [
            filter(None, None, None, Some(needle)),
            filter(Some(SyncStatus::Queued), None, None, Some(needle)),
            filter(
                None,
                Some(PaymentStatus::Paid),
                Some(ErrorClass::Data),
                Some(needle),
            ),
        ] {
            for first in [3, 50] {
                walked += both.walk(&f, first).await.len();
            }
        }
    }
    assert!(walked > 500, "the pages held orders: {walked}");
    let all = both.walk(&filter(None, None, None, None), 7).await;
    assert_eq!(all.len(), N + 1);

    // A cursor of sled continues the PostgreSQL list (they are the same), and text that is
    // no cursor is refused by both.
    let s = both
        .sled
        .orders
        .list(5, None, &OrderFilter::default())
        .unwrap();
    let cursor = s.end_cursor().unwrap();
    let p = both
        .pg
        .orders
        .list(5, Some(&cursor), &OrderFilter::default())
        .await
        .unwrap();
    assert_eq!(p.items[0].0.data.number, all[5]);
    assert!(matches!(
        both.pg
            .orders
            .list(5, Some("!!"), &OrderFilter::default())
            .await,
        Err(OrdersError::BadCursor(_))
    ));
    assert!(matches!(
        both.sled
            .orders
            .list(5, Some("!!"), &OrderFilter::default()),
        Err(OrdersError::BadCursor(_))
    ));
    assert!(matches!(
        both.pg
            .orders
            .list(5, Some("AAAA"), &OrderFilter::default())
            .await,
        Err(OrdersError::BadCursor(_))
    ));
    // A cursor of the jobs list (8 bytes: a job id) is not an orders cursor. (sled takes any
    // base64 text as a position in its list index, so it pages on from there.)
    let job_cursor = acumatica_bridge::paging::cursor(&3u64.to_be_bytes());
    assert!(matches!(
        both.pg
            .orders
            .list(5, Some(&job_cursor), &OrderFilter::default())
            .await,
        Err(OrdersError::BadCursor(_))
    ));

    // reconcile: the orders QUEUED or SYNCING take their sync job's status again (the jobs
    // never ran: the mirrored RUNNING and RETRY_SCHEDULED above are undone).
    assert_eq!(
        both.sled.orders.reconcile().unwrap(),
        both.pg.orders.reconcile().await.unwrap()
    );
    both.same_state("after reconcile").await;
    let syncing = filter(Some(SyncStatus::Syncing), None, None, None);
    assert!(both.walk(&syncing, 10).await.is_empty());
}

/// Two instances (two pools) recording the same paid orders at the same moment: each order
/// is created once (one answer Created, the other Updated), exists once, and has one sync
/// job, the one its record names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_recording_one_order_at_once_make_one_order_and_one_sync_job() {
    let url = cluster::database().await;
    let a = instance(&url, "instance-a").await;
    let b = instance(&url, "instance-b").await;
    let settings = SyncSettings {
        order_sync_mode: OrderSyncMode::AutomaticAfterPayment,
        ..Default::default()
    };
    for round in 0..25 {
        let new = nth(round, PaymentStatus::Paid);
        let (ra, rb) = tokio::join!(
            a.orders.record(new.clone(), &settings),
            b.orders.record(new.clone(), &settings)
        );
        let ((oa, ha), (ob, hb)) = (ra.unwrap(), rb.unwrap());
        let mut how = [ha, hb];
        how.sort_by_key(|h| *h == Recorded::Updated);
        assert_eq!(how, [Recorded::Created, Recorded::Updated], "round {round}");
        let stored = a.orders.get(&new.number).await.unwrap().unwrap();
        assert_eq!(stored.sync.status, SyncStatus::Queued);
        assert_eq!(
            stored.sync.job_ids.len(),
            1,
            "round {round}: {:?}",
            stored.sync.job_ids
        );
        for o in [&oa, &ob] {
            assert_eq!(o.sync.job_ids, stored.sync.job_ids, "round {round}");
        }
        let jobs = b.queue.for_order(&new.number).await.unwrap();
        assert_eq!(jobs.len(), 1, "round {round}: {jobs:?}");
        assert_eq!(jobs[0].id.to_string(), stored.sync.job_ids[0]);
        assert_eq!(jobs[0].kind, JobKind::SYNC_ORDER);
        assert!(jobs[0].status.is_live());
        // Paid again, from both at once: no second job.
        let (ra, rb) = tokio::join!(
            a.orders.record(new.clone(), &settings),
            b.orders.record(new.clone(), &settings)
        );
        assert_eq!(ra.unwrap().1, Recorded::Updated);
        assert_eq!(rb.unwrap().1, Recorded::Updated);
        assert_eq!(b.queue.for_order(&new.number).await.unwrap().len(), 1);
    }
    let all = a
        .orders
        .list(100, None, &OrderFilter::default())
        .await
        .unwrap();
    assert_eq!(all.total_count, 25);
    assert_eq!(all.items.len(), 25);
}

/// An order and the jobs its record pushes are one transaction: when the order's write fails
/// (a trigger of the test refuses it), no job is left behind, and the next record makes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_record_leaves_no_job() {
    let url = cluster::database().await;
    let a = instance(&url, "instance-a").await;
    let settings = SyncSettings {
        order_sync_mode: OrderSyncMode::AutomaticAfterPayment,
        ..Default::default()
    };
    let pool = a.queue.pool();
    for statement in [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse()",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
    let new = nth(3, PaymentStatus::Paid);
    let refused = a.orders.record(new.clone(), &settings).await;
    assert!(
        matches!(&refused, Err(OrdersError::Database(e)) if e.to_string().contains("refused by the test")),
        "{refused:?}"
    );
    assert!(a.orders.get(&new.number).await.unwrap().is_none());
    assert!(a.queue.for_order(&new.number).await.unwrap().is_empty());

    sqlx::query("DROP TRIGGER refuse ON orders")
        .execute(pool)
        .await
        .unwrap();
    let (order, how) = a.orders.record(new.clone(), &settings).await.unwrap();
    assert_eq!(how, Recorded::Created);
    let jobs = a.queue.for_order(&new.number).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(order.sync.job_ids, vec![jobs[0].id.to_string()]);
}
