//! The X-Cart simulator: an axum server that behaves like an X-Cart 5.5+ store's REST API
//! (`GET /api/orders` with `X-Auth-Token`, paging, date and `lastRenewDate` filters, sorting,
//! X-Cart's error bodies), with fault injection and a control API to place orders, change
//! their payment status and revoke the token.
//!
//! Run it with `acumatica-bridge xcart-sim`, or in-process from tests with
//! [`Simulator::start`], which gives a [`RunningSim`]: its store URL and token, order control,
//! request counters and faults. The API is in [`api`], the control API (`/_sim/…`) in
//! [`control`], orders and faults in [`state`].

pub mod api;
pub mod control;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;

use crate::sim::server::Server;

use state::State;
pub use state::{
    Arrival, Counters, Faults, NewSimOrder, SimAddress, SimItem, SimOrder, SimSurcharge,
};

/// The read-only API token a simulator accepts by default.
pub const READ_TOKEN: &str = "xcart-demo-read-token";
/// The read/write API token.
pub const WRITE_TOKEN: &str = "xcart-demo-write-token";

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port (the default, for tests).
    pub listen: SocketAddr,
    pub read_token: String,
    pub write_token: String,
    /// Place this many sample orders at start (dated over the last days).
    pub sample_orders: u32,
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            read_token: READ_TOKEN.into(),
            write_token: WRITE_TOKEN.into(),
            sample_orders: 0,
            faults: Faults::default(),
        }
    }
}

/// What the server's handlers share.
pub struct Shared {
    pub config: SimConfig,
    state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reset(&self) {
        let mut s = self.lock();
        let faults = s.faults.clone();
        *s = State::new(faults, &self.config.read_token, &self.config.write_token);
        let now = state::now();
        let n = self.config.sample_orders as i64;
        for i in 0..n {
            let paid = i % 2 == 0;
            let _ = s.add_order(NewSimOrder {
                date: Some(now - (n - i) * 3 * 3600),
                payment_code: Some(if paid { "P" } else { "Q" }.into()),
                ..NewSimOrder::default()
            });
        }
    }
}

/// The simulator.
pub struct Simulator;

impl Simulator {
    /// Binds `config.listen` and serves in a background task until the [`RunningSim`] is
    /// dropped or shut down.
    pub async fn start(config: SimConfig) -> std::io::Result<RunningSim> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(
                config.faults.clone(),
                &config.read_token,
                &config.write_token,
            )),
            config,
        });
        shared.reset();
        let app = Router::new()
            .merge(api::router())
            .merge(control::router())
            .fallback(api::fallback)
            .with_state(shared.clone());
        Ok(RunningSim {
            server: Server::spawn(listener, app, "X-Cart simulator")?,
            shared,
        })
    }
}

/// A running simulator. Dropping it stops the server.
pub struct RunningSim {
    server: Server,
    shared: Arc<Shared>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The store URL, e.g. `http://127.0.0.1:9001` (the API is at `<store URL>/api`).
    pub fn store_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The read-only API token.
    pub fn token(&self) -> String {
        self.shared.config.read_token.clone()
    }

    /// The read/write API token (needed for write-backs).
    pub fn write_token(&self) -> String {
        self.shared.config.write_token.clone()
    }

    /// Places an order (see [`NewSimOrder`] for the defaults).
    pub fn add_order(&self, new: NewSimOrder) -> SimOrder {
        self.shared.lock().add_order(new).expect("a valid order")
    }

    /// Sets the payment status of an order (by number or id); bumps its `lastRenewDate`.
    pub fn set_payment_status(&self, number: &str, code: &str) -> SimOrder {
        self.shared
            .lock()
            .set_payment_status(number, code)
            .expect("an existing order")
    }

    /// Changes an order in place (its `lastRenewDate` is left to `change`).
    pub fn update_order(&self, number: &str, change: impl FnOnce(&mut SimOrder)) {
        let mut s = self.shared.lock();
        change(s.find_mut(number).expect("an existing order"));
    }

    pub fn orders(&self) -> Vec<SimOrder> {
        self.shared.lock().orders.clone()
    }

    /// Both API tokens stop working (401 "Invalid credentials.").
    pub fn revoke_token(&self) {
        let mut s = self.shared.lock();
        s.read_token = None;
        s.write_token = None;
    }

    /// The configured tokens work again.
    pub fn restore_token(&self) {
        let mut s = self.shared.lock();
        s.read_token = Some(self.shared.config.read_token.clone());
        s.write_token = Some(self.shared.config.write_token.clone());
    }

    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    pub fn reset_counters(&self) {
        self.shared.lock().reset_counters();
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Changes some faults: `sim.update_faults(|f| f.fail_next = 3)`.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.shared.lock().faults);
    }

    /// No orders (or the sample ones), tokens as configured, counters cleared; faults kept.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// `acumatica-bridge xcart-sim`: serves until Ctrl-C, after printing how to connect.
pub async fn run(config: SimConfig) -> anyhow::Result<()> {
    let loopback = config.listen.ip().is_loopback();
    let sim = Simulator::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the X-Cart simulator: {e}"))?;
    println!("X-Cart simulator listening on {}", sim.store_url());
    println!("  Store URL         {}", sim.store_url());
    println!("  API token (read)  {}", sim.shared.config.read_token);
    println!("  API token (r/w)   {}", sim.shared.config.write_token);
    println!(
        "  Control API       {}/_sim/orders, /_sim/orders/<number>/payment_status, /_sim/revoke-token, /_sim/faults, /_sim/counters, /_sim/reset",
        sim.store_url()
    );
    if !loopback {
        println!("  WARNING: not on a loopback address; the control API has no authentication");
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

/// The flags of `acumatica-bridge xcart-sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct XCartSimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001", value_parser = crate::config::parse_listen, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The read-only API token to accept.
    #[arg(long, default_value = READ_TOKEN, value_name = "TOKEN")]
    pub token: String,
    /// The read/write API token to accept.
    #[arg(long, default_value = WRITE_TOKEN, value_name = "TOKEN")]
    pub write_token: String,
    /// Place this many sample orders at start, dated over the last hours and days.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sample_orders: u32,
    /// Behave like X-Cart 5.5.0: `lastRenewDate[...]` filters are ignored.
    #[arg(long)]
    pub no_last_renew_filters: bool,
    /// Delay before every API request is handled, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Share of API requests answered 500 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub rate_500: f64,
}

impl XCartSimArgs {
    pub fn into_config(self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            read_token: self.token,
            write_token: self.write_token,
            sample_orders: self.sample_orders,
            faults: Faults {
                latency_ms: self.latency_ms,
                rate_500: self.rate_500.clamp(0.0, 1.0),
                fail_next: 0,
                last_renew_filters: !self.no_last_renew_filters,
            },
        }
    }
}
