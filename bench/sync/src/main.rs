//! The order-sync benchmark (README, "Benchmarks"):
//!
//! 1. orders synced per second against the in-process Acumatica simulator, with no latency and
//!    with 50 ms per request, in the steady state (customer and items known) and with a new
//!    customer and new items per order; Acumatica requests and writes per paid order (its payment
//!    recorded inside the Sales Order write) and payments recorded per order, in each case;
//! 2. the real `acumatica-bridge serve` process holding `--stored` orders (100,000 by default):
//!    p50 and p99 of list, filter and search queries, its peak memory (VmHWM), and the bytes
//!    on disk per stored order.
//!
//! 3. shipments written back to the store: `--orders` synced orders shipped in Acumatica at
//!    once, each with a tracking number; store requests per shipment and Acumatica requests
//!    (shipment polls, one request each) for all of them.
//!
//! Run: `cargo run --release -p sync-bench` (add `--orders N`, `--stored N`, `--store-dir D`
//! to fill D once and measure it again later, `--no-throughput`, `--no-memory`,
//! `--no-write-back`).

use std::time::{Duration, Instant};

use acumatica_bridge::config::ServeConfig;
use acumatica_bridge::demo::sim_connect_input;
use acumatica_bridge::domain::order::{
    AddressDraft, ItemDraft, NewOrder, OrderDraft, PaymentStatus, SyncStatus,
};
use acumatica_bridge::domain::raw::{RawDateTime, RawDecimal};
use acumatica_bridge::domain::settings::{Change, SettingsPatch};
use acumatica_bridge::sim::acumatica::{SimConfig, Simulator};
use acumatica_bridge::state::AppState;
use clap::Parser;
use futures::StreamExt;

#[derive(Parser)]
struct Args {
    /// Orders per throughput run.
    #[arg(long, default_value_t = 300)]
    orders: usize,
    /// Orders stored for the memory measurement.
    #[arg(long, default_value_t = 100_000)]
    stored: usize,
    /// Skip the memory measurement.
    #[arg(long)]
    no_memory: bool,
    /// Internal: fill this data dir with `--stored` orders and exit (run as a child process,
    /// so that the store is closed before the service opens it).
    #[arg(long, hide = true)]
    fill: Option<std::path::PathBuf>,
    /// Skip the throughput runs.
    #[arg(long)]
    no_throughput: bool,
    /// Keep the stored orders in this dir: filled when empty, measured as it is otherwise.
    #[arg(long)]
    store_dir: Option<std::path::PathBuf>,
    /// Runs of each query.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Skip the shipment write-back measurement.
    #[arg(long)]
    no_write_back: bool,
}

fn order(number: &str, email: &str, sku: &str) -> NewOrder {
    order_at(number, email, sku, 0)
}

/// An order placed `offset` seconds after the first one.
fn order_at(number: &str, email: &str, sku: &str, offset: i64) -> NewOrder {
    let placed = chrono::DateTime::parse_from_rfc3339("2026-01-31T12:00:00Z").unwrap()
        + chrono::Duration::seconds(offset);
    let address = AddressDraft {
        first_name: Some("Bench".into()),
        last_name: Some("Buyer".into()),
        street: Some("1 Main St".into()),
        city: Some("Kirkland".into()),
        country: "US".into(),
        ..Default::default()
    };
    OrderDraft {
        number: number.into(),
        profile_id: None,
        email: email.into(),
        phone: None,
        placed_at: RawDateTime::parse(&placed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        currency: "USD".into(),
        payment_status: PaymentStatus::Paid,
        billing_address: address.clone(),
        shipping_address: Some(address),
        items: vec![ItemDraft {
            sku: sku.into(),
            name: "Bench item".into(),
            price: RawDecimal::parse("12.50"),
            quantity: 2,
            warehouse_id: None,
        }],
        shipping_cost: Some(RawDecimal::parse("5.00")),
        discount_total: Some(RawDecimal::parse("1.00")),
        tax_total: None,
        total: RawDecimal::parse("29.00"),
        refunded_total: None,
        payment_method: None,
    }
    .validate("bench")
    .expect("a valid order")
}

fn config(dir: &std::path::Path, concurrency: u32) -> ServeConfig {
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        serve: ServeConfig,
    }
    Wrap::parse_from([
        "bench",
        "--data-dir",
        dir.to_str().unwrap(),
        "--acumatica-max-rpm",
        "1000000",
        "--acumatica-max-concurrency",
        &concurrency.to_string(),
        "--retry-base-delay-ms",
        "100",
        "--shipment-poll-interval-ms",
        "200",
    ])
    .serve
}

async fn state(dir: &std::path::Path, concurrency: u32) -> anyhow::Result<AppState> {
    let (state, _) = AppState::open(config(dir, concurrency)).await?;
    state.start(|_| {}).await?;
    Ok(state)
}

/// What one run measured, per order.
struct Figures {
    orders_per_sec: f64,
    /// Acumatica requests per (paid) order.
    requests: f64,
    /// Of those, writes (PUT and POST, sign-in left out).
    writes: f64,
    /// Payments Acumatica holds per order (1.0: each paid order's payment recorded once).
    payments: f64,
}

/// Acumatica writes so far (PUT and POST requests, sign-in and sign-out left out).
fn writes(sim: &acumatica_bridge::sim::acumatica::RunningSim) -> u64 {
    sim.counters()
        .by_request
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("PUT ") || k.starts_with("POST "))
                && !["token", "logout", "revocation"]
                    .iter()
                    .any(|t| k.ends_with(t))
        })
        .map(|(_, n)| *n)
        .sum()
}

/// Syncs `n` paid orders (payments recorded with the Sales Order) and measures them.
async fn run(latency_ms: u64, concurrency: u32, n: usize, fresh: bool) -> anyhow::Result<Figures> {
    let sim = Simulator::start(SimConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let state = state(dir.path(), concurrency).await?;
    state
        .connection
        .connect(sim_connect_input(&sim.base_url()))
        .await?;
    while !state.connection.view()?.connected {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let patch = SettingsPatch {
        create_new_products: Change::Set(true),
        payment_method: Change::Set("CREDITCARD".into()),
        cash_account: Change::Set("10250".into()),
        ..Default::default()
    };
    state.settings.save(patch, |_| Ok(())).await?;
    // Warm up: the steady-state customer and item become known.
    state
        .orders
        .record(order("WARM", "steady@example.com", "AALEGO500"))
        .await?;
    wait_synced(&state, &["WARM".to_owned()]).await?;
    sim.update_faults(|f| f.latency_ms = latency_ms);
    let before = sim.counters().total;
    let (writes_before, payments_before) = (writes(&sim), sim.records("Payment").len());
    let numbers: Vec<String> = (0..n).map(|i| format!("B{i:06}")).collect();
    let start = Instant::now();
    futures::stream::iter(numbers.iter().enumerate())
        .map(|(i, number)| {
            let state = state.clone();
            let (email, sku) = if fresh {
                (format!("new{i}@example.com"), format!("NEW-{i:06}"))
            } else {
                ("steady@example.com".to_owned(), "AALEGO500".to_owned())
            };
            async move {
                state
                    .orders
                    .record(order(number, &email, &sku))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    wait_synced(&state, &numbers).await?;
    let secs = start.elapsed().as_secs_f64();
    let figures = Figures {
        orders_per_sec: n as f64 / secs,
        requests: (sim.counters().total - before) as f64 / n as f64,
        writes: (writes(&sim) - writes_before) as f64 / n as f64,
        payments: (sim.records("Payment").len() - payments_before) as f64 / n as f64,
    };
    state.jobs.shutdown().await?;
    sim.shutdown().await;
    Ok(figures)
}

async fn wait_synced(state: &AppState, numbers: &[String]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    for number in numbers {
        loop {
            let o = state.orders.get(number)?.expect("recorded");
            match o.sync.status {
                SyncStatus::Synced => break,
                SyncStatus::Failed => {
                    anyhow::bail!("order {number} failed: {:?}", o.sync.last_error)
                }
                _ if Instant::now() > deadline => {
                    anyhow::bail!("order {number} did not sync in time")
                }
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }
    Ok(())
}

/// What the write-back of `n` shipments cost.
struct WriteBackFigures {
    shipments_per_sec: f64,
    /// X-Cart requests per shipment (read the order, set its status, add the tracking number).
    store_requests: f64,
    /// Acumatica requests for all the shipments (each a poll: one `GET Shipment`).
    acumatica_requests: u64,
    polls: u64,
}

/// Syncs `n` orders of a store, ships them all in Acumatica at once (one tracking number each)
/// and measures their write-back to the store.
async fn write_back(n: usize) -> anyhow::Result<WriteBackFigures> {
    use acumatica_bridge::sim::xcart;
    let sim = Simulator::start(SimConfig::default()).await?;
    let store = xcart::Simulator::start(xcart::SimConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let state = state(dir.path(), 2).await?;
    state
        .connection
        .connect(sim_connect_input(&sim.base_url()))
        .await?;
    while !state.connection.view()?.connected {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let patch = SettingsPatch {
        create_new_products: Change::Set(true),
        write_back_shipments: Change::Set(true),
        ..Default::default()
    };
    state.settings.save(patch, |_| Ok(())).await?;
    let numbers: Vec<String> = (0..n).map(|i| format!("W{i:06}")).collect();
    // In the store before the connect (history, not imported): the bridge records them itself.
    for number in &numbers {
        store.add_order(xcart::NewSimOrder {
            order_number: Some(number.clone()),
            payment_code: Some("P".into()),
            ..Default::default()
        });
    }
    state
        .store_import
        .connect(acumatica_bridge::store_import::StoreConnectInput {
            store_url: store.store_url(),
            api_token: acumatica_bridge::acumatica::Secret::new(store.write_token()),
            import_interval_seconds: Some(86_400),
        })
        .await?;
    for number in &numbers {
        state
            .orders
            .record(order(number, "steady@example.com", "AALEGO500"))
            .await?;
    }
    wait_synced(&state, &numbers).await?;
    let http = reqwest::Client::new();
    let mut nbrs = vec![];
    for number in &numbers {
        let o = state.orders.get(number)?.expect("recorded");
        nbrs.push((number.clone(), o.sync.sales_order_nbr.expect("linked")));
    }
    sim.reset_counters();
    store.reset_counters();
    let start = Instant::now();
    for (number, nbr) in &nbrs {
        let r = http
            .post(format!("{}/_sim/shipments", sim.root_url()))
            .json(&serde_json::json!({"orderType": "SO", "orderNbr": nbr,
                "trackingNumbers": [format!("1Z{number}")], "confirmed": true}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "ship {nbr}: {}", r.status());
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    for number in &numbers {
        while state
            .orders
            .get(number)?
            .expect("recorded")
            .shipments
            .is_empty()
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{number} not written back in time"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let acumatica = sim.counters();
    let figures = WriteBackFigures {
        shipments_per_sec: n as f64 / secs,
        store_requests: store.counters().total as f64 / n as f64,
        acumatica_requests: acumatica.total,
        polls: acumatica.count("GET Shipment"),
    };
    state.jobs.shutdown().await?;
    sim.shutdown().await;
    store.shutdown().await;
    Ok(figures)
}

/// Records `n` orders into the data dir `dir` through the library (manual sync mode).
async fn fill(dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let (state, _) = AppState::open(config(dir, 2)).await?;
    let patch = SettingsPatch {
        order_sync_mode: Change::Set(acumatica_bridge::domain::settings::OrderSyncMode::ManualOnly),
        ..Default::default()
    };
    state.settings.save(patch, |_| Ok(())).await?;
    futures::stream::iter(0..n)
        .map(|i| {
            let state = state.clone();
            async move {
                let o = order_at(
                    &format!("M{i:07}"),
                    &format!("buyer{}@example.com", i % 5000),
                    "AALEGO500",
                    i as i64 * 30,
                );
                state.orders.record(o).await?;
                // One in 10,000 failed with a data error: the rare status a filter looks for.
                if i % 10_000 == 0 {
                    state
                        .orders
                        .set_sync(&format!("M{i:07}"), |s| {
                            s.status = acumatica_bridge::domain::order::SyncStatus::Failed;
                            s.error_class = Some(acumatica_bridge::domain::ErrorClass::Data);
                        })
                        .await?;
                }
                Ok::<_, acumatica_bridge::orders::OrdersError>(())
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    state.store.flush().await?;
    Ok(())
}

/// The admin token of the service the bench starts (24 characters at least, as the service asks).
const BENCH_TOKEN: &str = "bench-admin-token-0123456789";

/// What the stored-orders run measured.
struct Stored {
    hwm_kib: u64,
    bytes_per_order: f64,
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// Fills a data dir with `n` orders (in a child process, unless `keep` already holds them),
/// then measures the real service on it.
async fn memory(n: usize, keep: Option<&std::path::Path>, runs: usize) -> anyhow::Result<Stored> {
    let temp = tempfile::tempdir()?;
    let dir = keep.unwrap_or(temp.path());
    if dir_bytes(dir) == 0 {
        let start = Instant::now();
        let filled = std::process::Command::new(std::env::current_exe()?)
            .arg("--fill")
            .arg(dir)
            .args(["--stored", &n.to_string()])
            .status()?;
        anyhow::ensure!(filled.success(), "filling the store failed");
        println!(
            "filled {n} orders in {:.0} s",
            start.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let binary = std::env::current_exe()?.with_file_name("acumatica-bridge");
    let starting = Instant::now();
    let mut child = std::process::Command::new(&binary)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("BRIDGE_ADMIN_TOKEN", BENCH_TOKEN)
        .env("RUST_LOG", "warn")
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start {} (build it with --release first): {e}",
                binary.display()
            )
        })?;
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    while http.get(format!("{url}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "service answering /healthz {:.2} s after its start",
        starting.elapsed().as_secs_f64()
    );
    let queries = [
        "{ orders(first: 50) { totalCount edges { node { number total } } } }",
        "{ orders(first: 50, filter: {paymentStatus: PAID}) { totalCount edges { node { number } } } }",
        "{ orders(first: 50, filter: {syncStatus: NOT_SYNCED, paymentStatus: PAID}) { totalCount edges { node { number } } } }",
        "{ orders(first: 50, filter: {search: \"buyer42@\"}) { totalCount edges { node { number } } } }",
        "{ orders(first: 50, filter: {search: \"M00001\"}) { totalCount edges { node { number } } } }",
        "{ orders(first: 50, filter: {search: \"M0000042\"}) { totalCount edges { node { number email } } } }",
        "{ order(number: \"M0000042\") { number total items { sku } } }",
        "{ orders(first: 50, filter: {syncStatus: FAILED}) { totalCount edges { node { number } } } }",
        "{ orders(first: 50, filter: {errorClass: DATA}) { totalCount edges { node { number } } } }",
        "{ jobs(first: 50) { totalCount edges { node { id status } } } }",
        "{ orders(first: 500, filter: {syncStatus: NOT_SYNCED}) { totalCount edges { node { number items { sku } } } } }",
    ];
    println!("| query | p50 ms | p99 ms |\n|---|---:|---:|");
    for q in queries {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let r: serde_json::Value = http
                .post(format!("{url}/graphql"))
                .bearer_auth(BENCH_TOKEN)
                .json(&serde_json::json!({"query": q}))
                .send()
                .await?
                .json()
                .await?;
            times.push(start.elapsed());
            anyhow::ensure!(r.get("errors").is_none(), "query failed: {r}");
        }
        times.sort();
        let at =
            |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "| `{q}` | {:.2} | {:.2} |",
            at(0.50).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let hwm_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0);
    child.kill()?;
    child.wait()?;
    Ok(Stored {
        hwm_kib,
        bytes_per_order: dir_bytes(dir) as f64 / n as f64,
    })
}

fn report(n: usize, s: &Stored) {
    println!(
        "service holding {n} orders: VmHWM {:.1} MiB; {:.0} bytes on disk per stored order",
        s.hwm_kib as f64 / 1024.0,
        s.bytes_per_order
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    acumatica_bridge::init_crypto();
    let args = Args::parse();
    if let Some(dir) = &args.fill {
        return fill(dir, args.stored).await;
    }
    if !args.no_throughput {
        println!(
            "order sync, {} orders a run (in-process simulator, release build)",
            args.orders
        );
        println!(
            "| latency | concurrency | customers and items | orders/s | requests/paid order | writes/paid order | payments/order |"
        );
        println!("|---:|---:|---|---:|---:|---:|---:|");
        for (latency, concurrency) in [(0, 2), (50, 2), (50, 8)] {
            for fresh in [false, true] {
                let f = run(latency, concurrency, args.orders, fresh).await?;
                let kind = if fresh {
                    "new per order"
                } else {
                    "known (steady state)"
                };
                println!(
                    "| {latency} ms | {concurrency} | {kind} | {:.1} | {:.2} | {:.2} | {:.2} |",
                    f.orders_per_sec, f.requests, f.writes, f.payments
                );
            }
        }
    }
    if !args.no_write_back {
        let f = write_back(args.orders).await?;
        println!();
        println!(
            "shipments written back to the store, {} at once (200 ms shipment poll)",
            args.orders
        );
        println!(
            "| shipments/s | store requests/shipment | Acumatica requests (all shipments) | of them shipment polls |"
        );
        println!("|---:|---:|---:|---:|");
        println!(
            "| {:.1} | {:.2} | {} | {} |",
            f.shipments_per_sec, f.store_requests, f.acumatica_requests, f.polls
        );
    }
    if !args.no_memory {
        println!();
        let stored = memory(args.stored, args.store_dir.as_deref(), args.runs).await?;
        report(args.stored, &stored);
    }
    Ok(())
}
