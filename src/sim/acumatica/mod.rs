//! The Acumatica simulator: an axum server that behaves like an Acumatica instance as far as
//! the bridge's client uses it, including where the real API is odd (the team's Acumatica API
//! notes): not-found as a 500, unknown fields silently dropped, 422 bodies that are the
//! entity with `error`s, refresh tokens that rotate, lines repriced unless `ManualPrice`.
//!
//! Run it with `acumatica-bridge sim`, or in-process from tests with [`Simulator::start`],
//! which gives a [`RunningSim`]: its URLs, ready client settings, request counters, fault
//! control and the stored records. The API is in [`api`], the control API (`/_sim/…`) in
//! [`control`], the PUT logic in [`rules`] and the seed data in [`seed`].

pub mod api;
pub mod control;
pub mod filter;
pub mod lifecycle;
pub mod records;
pub mod rules;
pub mod seed;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::Value;

use crate::acumatica::ClientConfig;
use crate::sim::server::Server;
use state::State;
pub use state::{Arrival, Counters, Faults};

/// The simulator's tenant (its Login Name).
pub const TENANT: &str = "Company";
/// The client ID of its one connected application (ROPC flow).
pub const CLIENT_ID: &str = "bridge-demo@Company";
/// That application's shared secret.
pub const CLIENT_SECRET: &str = "demo-secret";
/// Its API user.
pub const USERNAME: &str = "admin";
/// That user's password.
pub const PASSWORD: &str = "demo-password";

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 picks a free port (the default, for tests).
    pub listen: SocketAddr,
    /// Start without the seed data.
    pub empty: bool,
    /// Serve the API under `/t/<tenant>` as well as at the root (false: `/t/…` answers as
    /// `not_served` says, as an instance that does not support that form would).
    pub tenant_paths: bool,
    /// What `/t/…` answers without `tenant_paths`.
    pub not_served: NotServed,
    /// Faults and options in force at start.
    pub faults: Faults,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            empty: false,
            tenant_paths: true,
            not_served: NotServed::NotFound,
            faults: Faults::default(),
        }
    }
}

/// How an instance answers a path it does not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotServed {
    /// 404 with Acumatica's JSON message.
    NotFound,
    /// 302 to the sign-in page, as a web front end would.
    Redirect,
    /// 200 with an HTML page (a portal's catch-all).
    HtmlPage,
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

    fn expire_access_tokens(&self) {
        let now = Instant::now();
        for access in self.lock().access.values_mut() {
            access.expires_at = now;
        }
    }

    fn reset(&self) {
        let mut s = self.lock();
        let faults = s.faults.clone();
        *s = State::new(faults);
        if !self.config.empty {
            seed::seed(&mut s);
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
            state: Mutex::new(State::new(config.faults.clone())),
            config,
        });
        shared.reset();
        let app = Router::new()
            .merge(control::router())
            .fallback(api::handle)
            .with_state(shared.clone());
        let addr = listener.local_addr()?;
        Ok(RunningSim {
            server: Mutex::new(Some(Server::spawn(listener, app.clone(), NAME)?)),
            addr,
            app,
            shared,
        })
    }
}

const NAME: &str = "Acumatica simulator";

/// A running simulator. Dropping it stops the server.
pub struct RunningSim {
    /// `None` while offline.
    server: Mutex<Option<Server>>,
    addr: SocketAddr,
    app: Router,
    shared: Arc<Shared>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An outage: stops listening (connections are refused), keeping every record and token.
    pub async fn go_offline(&self) {
        let server = self.server.lock().expect("server").take();
        if let Some(server) = server {
            server.shutdown().await;
        }
    }

    /// The end of an outage: listens again on the same address, with the same state.
    pub async fn go_online(&self) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let server = Server::spawn(listener, self.app.clone(), NAME)?;
        *self.server.lock().expect("server") = Some(server);
        Ok(())
    }

    /// The site root, e.g. `http://127.0.0.1:9000`.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Base URL with the tenant, e.g. `http://127.0.0.1:9000/t/Company`.
    pub fn base_url(&self) -> String {
        format!("http://{}/t/{TENANT}", self.addr)
    }

    /// Client settings for this simulator with its demo credentials, the Default/24.200.001
    /// endpoint, and test-friendly limits (1 s timeout, 6000 requests a minute, 4 in flight,
    /// 50 ms 429 backoff).
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(
            self.base_url(),
            CLIENT_ID,
            CLIENT_SECRET,
            USERNAME,
            PASSWORD,
        );
        c.timeout = Duration::from_secs(1);
        c.max_rpm = 6000;
        c.max_concurrency = 4;
        c.rate_limit_backoff = Duration::from_millis(50);
        c
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

    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// Changes some faults: `sim.update_faults(|f| f.rate_429 = 1.0)`.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.shared.lock().faults);
    }

    /// Every access token issued so far expires now.
    pub fn expire_access_tokens(&self) {
        self.shared.expire_access_tokens();
    }

    /// Every refresh token issued so far is revoked.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.lock().refresh.clear();
    }

    /// Every access and refresh token that is valid now (tests look for them where they
    /// must not be).
    pub fn live_tokens(&self) -> Vec<String> {
        let s = self.shared.lock();
        s.access.keys().chain(s.refresh.keys()).cloned().collect()
    }

    /// Stored records of `entity` in plain form (`{"CustomerOrder": "WEB-1", "Details": [...]}`).
    pub fn records(&self, entity: &str) -> Vec<Value> {
        self.shared
            .lock()
            .records
            .get(entity)
            .cloned()
            .unwrap_or_default()
    }

    pub fn sales_orders(&self) -> Vec<Value> {
        self.records("SalesOrder")
    }

    pub fn customers(&self) -> Vec<Value> {
        self.records("Customer")
    }

    pub fn stock_items(&self) -> Vec<Value> {
        self.records("StockItem")
    }

    /// Records back to the seed (or empty), tokens and counters cleared; faults kept.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops the server and waits for it to finish (requests that stall forever are dropped).
    pub async fn shutdown(self) {
        self.go_offline().await;
    }
}

/// `acumatica-bridge sim`: serves until Ctrl-C, after printing how to connect.
pub async fn run(config: SimConfig) -> anyhow::Result<()> {
    let loopback = config.listen.ip().is_loopback();
    let sim = Simulator::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the simulator: {e}"))?;
    println!("Acumatica simulator listening on {}", sim.root_url());
    println!(
        "  Base URL       {}   (or {})",
        sim.base_url(),
        sim.root_url()
    );
    println!("  Tenant         {TENANT}");
    println!("  Client ID      {CLIENT_ID}");
    println!("  Client secret  {CLIENT_SECRET}");
    println!("  Username       {USERNAME}");
    println!("  Password       {PASSWORD}");
    println!("  Endpoints      Default and eCommerce, 23.200.001 and 24.200.001");
    println!(
        "  Control API    {}/_sim/counters, /_sim/faults, /_sim/records/<Entity>, /_sim/reset",
        sim.root_url()
    );
    if !loopback {
        println!("  WARNING: not on a loopback address; the control API has no authentication");
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

/// The flags of `acumatica-bridge sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000", value_parser = crate::config::parse_listen, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Start without the seed data (classes, tax categories, warehouses, items, customers).
    #[arg(long)]
    pub empty: bool,
    /// Do not serve the API under /t/<tenant> (only at the site root).
    #[arg(long)]
    pub no_tenant_paths: bool,
    /// Delay before every API request is handled, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Share of API requests answered 429 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share, value_name = "SHARE")]
    pub rate_429: f64,
    /// Share of API requests answered 500 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share, value_name = "SHARE")]
    pub rate_500: f64,
    /// Retry-After seconds sent with 429s (none by default, as on real instances).
    #[arg(long, value_name = "SECS")]
    pub retry_after_secs: Option<u64>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..), value_name = "SECS")]
    pub token_lifetime_secs: u64,
    /// "Commit then stall": save each PUT, then answer only after this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub stall_writes_ms: Option<u64>,
    /// Give new customers the next auto-number even when the PUT names a CustomerID.
    #[arg(long)]
    pub renumber_customer_ids: bool,
    /// Refuse this entity with 403 (as when its feature is switched off).
    #[arg(long, value_name = "ENTITY")]
    pub forbidden_entity: Option<String>,
}

impl SimArgs {
    pub fn into_config(self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            empty: self.empty,
            tenant_paths: !self.no_tenant_paths,
            not_served: NotServed::NotFound,
            faults: Faults {
                latency_ms: self.latency_ms,
                rate_429: self.rate_429,
                rate_500: self.rate_500,
                retry_after_secs: self.retry_after_secs,
                token_lifetime_secs: self.token_lifetime_secs,
                stall_writes_ms: self.stall_writes_ms,
                renumber_customer_ids: self.renumber_customer_ids,
                forbidden_entity: self.forbidden_entity,
                ..Faults::default()
            },
        }
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a share between 0.0 and 1.0, got \"{text}\""
        )),
    }
}
