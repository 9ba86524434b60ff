//! Wiring: opens the store, builds the services, the GraphQL schema and the HTTP router, and
//! runs the server until SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::auth::AdminToken;
use crate::config::ServeConfig;
use crate::connection::{ClientSettings, Connection};
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::orders::Orders;
use crate::secrets::Vault;
use crate::settings::Settings;
use crate::store::Store;
use crate::store_import::StoreImport;
use crate::sync::Syncer;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServeConfig>,
    pub store: Store,
    pub orders: Orders,
    pub settings: Settings,
    pub jobs: Jobs,
    pub connection: Connection,
    pub syncer: Syncer,
    pub store_import: StoreImport,
    pub token: AdminToken,
    pub vault: Vault,
    pub metrics: Metrics,
}

impl AppState {
    /// Opens the store in the configured data dir and builds the services on it (job
    /// workers are not started yet: register handlers, then `jobs.start()`). Returns a
    /// freshly generated admin token when one had to be made.
    pub async fn open(config: ServeConfig) -> anyhow::Result<(AppState, Option<String>)> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data dir {}", config.data_dir.display()))?;
        let store = Store::open(&config.data_dir, config.cache_mb << 20)?;
        let env_token = std::env::var("BRIDGE_ADMIN_TOKEN").ok();
        let (token, fresh) = AdminToken::load_or_create(&store, env_token.as_deref())?;
        let env_key = std::env::var("BRIDGE_SECRET_KEY").ok();
        let vault = Vault::open(&config.data_dir, env_key.as_deref(), &store)?;
        let jobs = Jobs::open(&store, config.jobs()).await?;
        let client_settings = ClientSettings {
            timeout: config.acumatica_timeout(),
            max_rpm: config.acumatica_max_rpm,
            max_concurrency: config.acumatica_max_concurrency,
            rate_limit_backoff: config.retry_base_delay(),
        };
        let connection = Connection::open(&store, vault.clone(), jobs.clone(), client_settings)?;
        let settings = Settings::open(&store)?;
        let orders = Orders::open(&store, &jobs, &settings)?;
        let syncer = Syncer::open(
            &store,
            &orders,
            &settings,
            &connection,
            config.ambiguous_recheck_delay(),
        )?;
        let store_import = StoreImport::open(
            &store,
            vault.clone(),
            jobs.clone(),
            orders.clone(),
            config.store_import(),
        )?;
        let state = AppState {
            syncer,
            store_import,
            orders,
            settings,
            jobs,
            connection,
            config: Arc::new(config),
            store,
            token,
            vault,
            metrics: Metrics::global().clone(),
        };
        Ok((state, fresh))
    }
}

impl AppState {
    /// Registers the job handlers (and `setup`'s), brings order sync states in line with
    /// their jobs, and starts the job workers.
    pub async fn start(&self, setup: impl FnOnce(&AppState)) -> anyhow::Result<()> {
        self.connection.register();
        self.store_import.register();
        let sync_concurrency = (self.config.acumatica_max_concurrency as usize * 2).max(2);
        self.syncer.register(&self.jobs, sync_concurrency);
        setup(self);
        self.metrics.watch_jobs(&self.jobs, &self.orders);
        self.orders.reconcile()?;
        self.jobs.start().await?;
        Ok(())
    }
}

/// `acumatica-bridge serve`.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    serve_with(config, |_| {}).await
}

/// `serve`, with `setup` called on the opened state before the job workers start (where
/// handlers are registered).
pub async fn serve_with(config: ServeConfig, setup: impl FnOnce(&AppState)) -> anyhow::Result<()> {
    crate::telemetry::init(config.log_format);
    crate::init_crypto();
    crate::acumatica::base_url::allow_private_hosts(config.allow_private_hosts);
    let listen = config.listen;
    let (state, fresh) = AppState::open(config).await?;
    if let Some(token) = fresh {
        show_new_token(&token);
    }
    state.start(setup).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %state.config.data_dir.display(), "acumatica-bridge is listening");
    let router = crate::http::router(state.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    state.jobs.shutdown().await?;
    state.store.flush().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `acumatica-bridge rotate-token`.
pub async fn rotate_token(data_dir: &Path) -> anyhow::Result<()> {
    let store = Store::open(data_dir, 8 << 20)?;
    let (_, fresh) = AdminToken::rotate(&store)?;
    show_new_token(&fresh);
    Ok(())
}

/// Prints a new admin token once on stderr, outside the log.
fn show_new_token(token: &str) {
    eprintln!(
        "\n  Admin token (shown once; only its hash is stored):\n\n    {token}\n\n  \
         Use it as `Authorization: Bearer <token>` and to sign in to the console.\n  \
         To rotate it: `acumatica-bridge rotate-token --data-dir <dir>` (with the service \
         stopped), or set BRIDGE_ADMIN_TOKEN.\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
