//! `acumatica-bridge demo`: the service, the Acumatica simulator and the X-Cart simulator in one
//! process, already connected, with a handful of sample orders in several states (recorded
//! directly, and imported from the X-Cart store), so that a newcomer sees the whole flow in the
//! console and GraphiQL without an Acumatica instance or a store.
//!
//! Nothing is inserted by hand: the demo calls the same services the GraphQL mutations call
//! (connect, saveSettings, recordOrder, syncOrder), and the jobs do the rest. Paid orders get
//! their payment with the Sales Order; D-1002 is canceled in the store once synced, and its
//! Sales Order is canceled; XC-2001, imported from the store, is shipped in Acumatica and its
//! tracking number written back to the store.

use std::time::Duration;

use chrono::Utc;

use crate::config::ServeConfig;
use crate::connection::ConnectInput;
use crate::domain::order::{AddressDraft, ItemDraft, OrderDraft, PaymentStatus, SyncStatus};
use crate::domain::raw::{RawDateTime, RawDecimal};
use crate::domain::secret::Secret;
use crate::domain::settings::{Change, SettingsPatch};
use crate::sim::acumatica::{CLIENT_ID, CLIENT_SECRET, PASSWORD, SimConfig, Simulator, USERNAME};
use crate::state::AppState;

pub async fn run(mut config: ServeConfig) -> anyhow::Result<()> {
    crate::init_crypto();
    // The simulator has no license limit: at the default 60 requests a minute the samples
    // would take a minute to settle.
    if config.acumatica_max_rpm == 60 {
        config.acumatica_max_rpm = 1200;
    }
    // Shipments show in the store within seconds rather than the minute a real shop polls at.
    if config.shipment_poll_interval_ms == crate::shipments::DEFAULT_POLL_INTERVAL_MS {
        config.shipment_poll_interval_ms = 2000;
    }
    let sim = Simulator::start(SimConfig::default())
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the simulator: {e}"))?;
    let base_url = sim.base_url();
    let store = crate::sim::xcart::Simulator::start(crate::sim::xcart::SimConfig {
        sample_orders: 3,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("cannot start the X-Cart simulator: {e}"))?;
    // The read/write token: the bridge writes shipments back to the store.
    let (store_url, store_token) = (store.store_url(), store.write_token());
    eprintln!(
        "\n  Demo: an Acumatica simulator runs at {base_url}\n  \
         (tenant Company, client ID {CLIENT_ID}, secret {CLIENT_SECRET}, user {USERNAME} / {PASSWORD}).\n  \
         An X-Cart store simulator runs at {store_url} (API token {store_token}).\n  \
         The bridge connects to both, records a few sample orders and imports the store's;\n  \
         open the console at http://{}/\n",
        config.listen
    );
    let store = std::sync::Arc::new(store);
    let shop = store.clone();
    let sim_root = sim.root_url();
    let result = crate::app::serve_with(config, move |state| {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = populate(&state, &base_url).await {
                tracing::error!(error = %e, "the demo could not set itself up");
            }
            if let Err(e) = import(&state, &shop, &store_url, &store_token).await {
                tracing::error!(error = %e, "the demo could not connect its X-Cart store");
            }
            if let Err(e) = ship(&state, &sim_root).await {
                tracing::error!(error = %e, "the demo could not ship its order");
            }
        });
    })
    .await;
    sim.shutdown().await;
    drop(store);
    result
}

/// The connect form filled in with the simulator's demo credentials.
pub fn sim_connect_input(base_url: &str) -> ConnectInput {
    ConnectInput {
        base_url: base_url.to_owned(),
        username: USERNAME.into(),
        password: Secret::new(PASSWORD),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        endpoint_name: "Default".into(),
        endpoint_version: "24.200.001".into(),
    }
}

/// Connects to the simulator and records the sample orders through the real flow.
async fn populate(state: &AppState, base_url: &str) -> anyhow::Result<()> {
    let current = state.connection.record()?;
    if current.base_url.as_deref() != Some(base_url) {
        if current.connected {
            state.connection.reset().await?;
        }
        state
            .connection
            .connect(sim_connect_input(base_url))
            .await?;
    }
    let samples = [
        (
            "D-1001",
            "jane.doe@example.com",
            "Jane",
            "Doe",
            PaymentStatus::Paid,
            "AALEGO500",
            "29.99",
            2,
        ),
        (
            "D-1002",
            "sam.new@example.com",
            "Sam",
            "Newman",
            PaymentStatus::Paid,
            "TSHIRT-M",
            "19.99",
            3,
        ),
        (
            "D-1003",
            "lee@example.com",
            "Lee",
            "Park",
            PaymentStatus::Queued,
            "APJAM08",
            "4.25",
            6,
        ),
        (
            "D-1004",
            "gift@example.com",
            "Ada",
            "Giver",
            PaymentStatus::Paid,
            "GIFT-CARD-50",
            "50.00",
            1,
        ),
        (
            "D-1005",
            "office@abcstudios.example",
            "Ann",
            "Studio",
            PaymentStatus::Authorized,
            "CONTABLE1",
            "1199.00",
            1,
        ),
    ];
    // Payments recorded with each paid order's Sales Order (the simulator's card method and
    // its clearing account).
    if state.settings.get()?.payment_method.is_none() {
        let patch = SettingsPatch {
            payment_method: Change::Set("CREDITCARD".into()),
            cash_account: Change::Set("10250".into()),
            write_back_shipments: Change::Set(true),
            ..Default::default()
        };
        state.settings.save(patch, |_| Ok(())).await?;
    }
    let mut drafts = std::collections::HashMap::new();
    for (i, (number, email, first, last, payment, sku, price, qty)) in
        samples.into_iter().enumerate()
    {
        if state.orders.get(number)?.is_some() {
            continue;
        }
        let unit: rust_decimal::Decimal = price.parse()?;
        let shipping = rust_decimal::Decimal::new(595, 2);
        let total = unit * rust_decimal::Decimal::from(qty) + shipping;
        let placed = Utc::now() - chrono::Duration::hours(5 - i as i64);
        let address = AddressDraft {
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            street: Some(format!("{} Main St", 10 + i)),
            city: Some("Kirkland".into()),
            state: Some("WA".into()),
            postal_code: Some("98033".into()),
            country: "US".into(),
            ..Default::default()
        };
        let order = OrderDraft {
            number: number.into(),
            profile_id: None,
            email: email.into(),
            phone: None,
            placed_at: RawDateTime::parse(&placed.to_rfc3339()),
            currency: "USD".into(),
            payment_status: payment,
            billing_address: address.clone(),
            shipping_address: Some(address),
            items: vec![ItemDraft {
                sku: sku.into(),
                name: format!("Sample {sku}"),
                price: RawDecimal::Valid(unit),
                quantity: qty,
                warehouse_id: None,
            }],
            shipping_cost: Some(RawDecimal::Valid(shipping)),
            discount_total: None,
            tax_total: None,
            total: RawDecimal::Valid(total),
            refunded_total: None,
            payment_method: None,
        };
        drafts.insert(number, order.clone());
        state.orders.record(order.validate("demo")?).await?;
    }
    // An order synced by hand, as an operator would from the console.
    tokio::time::sleep(Duration::from_millis(200)).await;
    if state
        .orders
        .get("D-1005")?
        .is_some_and(|o| o.sync.job_ids.is_empty())
    {
        state.orders.request_sync(&["D-1005".to_owned()]).await?;
    }
    // D-1002 is canceled in the store once synced, before anything shipped: its Sales Order
    // is canceled by a CANCEL_ORDER job.
    if let Some(mut draft) = drafts.remove("D-1002") {
        synced(state, "D-1002").await?;
        draft.payment_status = PaymentStatus::Canceled;
        state.orders.record(draft.validate("demo")?).await?;
    }
    Ok(())
}

/// Ships XC-2001 (imported from the store, paid) in Acumatica with a tracking number, as a
/// warehouse would: the shipment poll finds it and its WRITE_BACK job marks the store's order
/// shipped with the tracking number.
async fn ship(state: &AppState, sim_root: &str) -> anyhow::Result<()> {
    synced(state, "XC-2001").await?;
    let Some(order) = state.orders.get("XC-2001")? else {
        return Ok(());
    };
    if !order.shipments.is_empty() {
        return Ok(());
    }
    let (Some(order_type), Some(nbr)) = (order.sync.sales_order_type, order.sync.sales_order_nbr)
    else {
        return Ok(());
    };
    let shipped = reqwest::Client::new()
        .post(format!("{sim_root}/_sim/shipments"))
        .json(
            &serde_json::json!({"orderType": order_type, "orderNbr": nbr,
                                   "trackingNumbers": ["1Z999AA10123456784"], "confirmed": true}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        shipped.status().is_success(),
        "the simulator did not ship {order_type} {nbr}: {}",
        shipped.status()
    );
    Ok(())
}

/// Waits (30 s at most) until order `number` is SYNCED.
async fn synced(state: &AppState, number: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        let status = state.orders.get(number)?.map(|o| o.sync.status);
        if status == Some(SyncStatus::Synced) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("order {number} was not synced within 30 s")
}

/// Connects the X-Cart store simulator, places two orders after the connect (the periodic
/// import brings them in), and catches up on the store's older orders.
async fn import(
    state: &AppState,
    store: &crate::sim::xcart::RunningSim,
    store_url: &str,
    token: &str,
) -> anyhow::Result<()> {
    use crate::sim::xcart::NewSimOrder;
    use crate::store_import::StoreConnectInput;
    let current = state.store_import.record()?.store_url;
    if current.as_deref() == Some(store_url) {
        return Ok(());
    }
    if current.is_some() {
        state.store_import.reset().await?;
    }
    state
        .store_import
        .connect(StoreConnectInput {
            store_url: store_url.to_owned(),
            api_token: Secret::new(token),
            import_interval_seconds: Some(crate::store_import::MIN_INTERVAL_SECS),
        })
        .await?;
    for (number, code) in [("XC-2001", "P"), ("XC-2002", "Q")] {
        store.add_order(NewSimOrder {
            order_number: Some(number.into()),
            email: Some("shopper@example.com".into()),
            customer_id: Some(4242),
            payment_code: Some(code.into()),
            ..Default::default()
        });
    }
    let now = Utc::now();
    state
        .store_import
        .import_orders(
            now - chrono::Duration::days(30),
            Some(now - chrono::Duration::minutes(1)),
        )
        .await?;
    Ok(())
}
