//! The application state: the store opened in the data dir and every service built on it,
//! shared by the HTTP layer, the GraphQL resolvers, the demo and the benchmarks.

use std::sync::Arc;

use anyhow::Context;

use crate::aftercare::Aftercare;
use crate::alerts::{AlertTiming, Alerts};
use crate::audit::Audit;
use crate::auth::AdminToken;
use crate::config::ServeConfig;
use crate::connection::{ClientSettings, Connection};
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::orders::Orders;
use crate::secrets::Vault;
use crate::settings::Settings;
use crate::shipments::Shipments;
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
    pub alerts: Alerts,
    pub audit: Audit,
    pub aftercare: Aftercare,
    pub shipments: Shipments,
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
        let alerts = Alerts::open(
            &store,
            vault.clone(),
            jobs.clone(),
            orders.clone(),
            connection.clone(),
            store_import.clone(),
            AlertTiming {
                check_every: std::time::Duration::from_millis(config.alert_check_interval_ms),
                incident_retention: chrono::Duration::days(config.incident_retention_days as i64),
            },
        )?;
        let audit = Audit::open(&store)?;
        let aftercare = Aftercare::new(&orders, &connection, config.ambiguous_recheck_delay());
        let shipments = Shipments::open(
            &store,
            jobs.clone(),
            orders.clone(),
            settings.clone(),
            connection.clone(),
            store_import.clone(),
            config.shipment_poll_interval(),
        )?;
        let state = AppState {
            aftercare,
            shipments,
            alerts,
            audit,
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
        self.alerts.register();
        self.shipments.register();
        let sync_concurrency = (self.config.acumatica_max_concurrency as usize * 2).max(2);
        self.syncer.register(&self.jobs, sync_concurrency);
        self.aftercare.register(&self.jobs);
        setup(self);
        self.metrics.watch_jobs(&self.jobs, &self.orders);
        self.orders.reconcile()?;
        self.jobs.start().await?;
        Ok(())
    }
}
