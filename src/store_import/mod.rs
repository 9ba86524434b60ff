//! The X-Cart store connection and the order import.
//!
//! - `connect` checks the store with one real request (`GET /api/orders`, newest first),
//!   stores the connection (API token sealed) and the *floor*: the newest orders at that
//!   moment. Orders placed up to then are history and come in only through a catch-up.
//! - The periodic import is **not a job**: one scheduler task polls the store every
//!   `importIntervalSeconds` while it is connected, from durable cursors kept in the store
//!   record, so that the job list stays readable. Each poll reads the orders changed since the
//!   `lastRenewDate` cursor where the store filters on it (X-Cart 5.5.1+), else the orders
//!   placed since `min(date cursor, now − look-back)`, and records each order placed after the
//!   floor or already imported, when it differs from what is stored. A transient failure is
//!   noted in `lastError` and tried again at the next interval; a refused token leaves the
//!   connection NOT_CONNECTED with the reason and stops polling until `connectStore`.
//! - A catch-up (`importOrders(since, until)`) is an IMPORT_ORDERS job: it walks the orders
//!   placed in `[since, until)` with its own durable cursor and progress, records them all,
//!   retries transient failures with the job queue's backoff, and parks (NotReady) while the
//!   store is not connected.
//!
//! Recording goes through [`Orders::record`], so an imported order is like any recorded one
//! (the sync mode applies). Crash safety: a cursor moves only after the orders before it are
//! recorded (durably), and recording an unchanged order writes nothing, so a crash re-reads a
//! page at most and imports nothing twice.

pub mod record;
pub mod walk;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use crate::domain::FieldError;
use crate::domain::secret::Secret;
use crate::events::Bus;
use crate::jobs::{JobContext, JobKind, JobRecord, Jobs, JobsError, KindSpec, NewJob, Outcome};
use crate::orders::{Orders, OrdersError, Recorded};
use crate::secrets::Vault;
use crate::store::{self, Store, StoreError, decode, encode, trees};
use crate::xcart::client::{DateField, OrderQuery};
use crate::xcart::{self, Client, OrderOutput, StoreUrl};
pub use record::{ChangeDetection, Cursors, Floor, Rejected, StoreRecord, StoreView, TokenAccess};
use walk::{Walker, date_of};

const KEY: &str = "xcart";
const CATCH_UP_PREFIX: &str = "catchup:";

/// The wake condition of IMPORT_ORDERS jobs parked while the store is not connected.
pub const STORE_CONNECTED: &str = "store-connected";

/// Bounds of `importIntervalSeconds`.
pub const MIN_INTERVAL_SECS: i32 = 5;
pub const MAX_INTERVAL_SECS: i32 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum StoreImportError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The store did not answer the check (timeout, connection refused, 5xx).
    #[error("{0}")]
    Unreachable(String),
    #[error("the X-Cart store is not connected{}", .0.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotConnected(Option<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Orders(#[from] OrdersError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error("{0}")]
    Secrets(String),
}

impl From<sled::Error> for StoreImportError {
    fn from(e: sled::Error) -> Self {
        StoreImportError::Store(e.into())
    }
}

/// A poll or catch-up failed: at the store, or here.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    XCart(#[from] xcart::Error),
    #[error(transparent)]
    Local(#[from] StoreImportError),
}

impl From<OrdersError> for RunError {
    fn from(e: OrdersError) -> Self {
        RunError::Local(e.into())
    }
}

impl From<sled::Error> for RunError {
    fn from(e: sled::Error) -> Self {
        RunError::Local(e.into())
    }
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError::Local(e.into())
    }
}

/// How the import runs (from `serve`'s flags).
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// Timeout of one request to the store.
    pub timeout: Duration,
    /// How far back each poll re-reads orders on stores without `lastRenewDate` filters.
    pub look_back: Duration,
    /// Polls at this interval instead of the connection's `importIntervalSeconds` (tests,
    /// demos).
    pub poll_interval_override: Option<Duration>,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            timeout: Duration::from_secs(30),
            look_back: Duration::from_secs(7 * 24 * 3600),
            poll_interval_override: None,
        }
    }
}

/// What `connectStore` takes; the token only passes through, sealed before it is stored.
#[derive(Debug, Clone)]
pub struct StoreConnectInput {
    pub store_url: String,
    pub api_token: Secret,
    pub import_interval_seconds: Option<i32>,
}

/// The payload of an IMPORT_ORDERS job: orders placed in `[since, until)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportPayload {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Where a catch-up job has got (kept until it ends).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CatchUpCursor {
    anchor: Option<i64>,
    done: u32,
    created: u32,
    updated: u32,
}

/// What importing a page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    /// Placed before the store was connected and never imported: left to a catch-up.
    pub history: u32,
    pub rejected: u32,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.history += o.history;
        self.rejected += o.rejected;
    }
}

/// The store-import service. Cheap to clone.
#[derive(Clone)]
pub struct StoreImport {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    tree: sled::Tree,
    vault: Vault,
    jobs: Jobs,
    orders: Orders,
    settings: ImportSettings,
    /// Serialises changes of the record.
    write: Mutex<()>,
    /// One poll at a time.
    polling: Mutex<()>,
    bus: Bus<StoreView>,
    /// Bumped by connect and reset: wakes the scheduler.
    changed: watch::Sender<u64>,
}

impl StoreImport {
    pub fn open(
        store: &Store,
        vault: Vault,
        jobs: Jobs,
        orders: Orders,
        settings: ImportSettings,
    ) -> store::Result<StoreImport> {
        Ok(StoreImport {
            inner: Arc::new(Inner {
                store: store.clone(),
                tree: store.raw_tree(trees::STORE_CONNECTION)?,
                vault,
                jobs,
                orders,
                settings,
                write: Mutex::new(()),
                polling: Mutex::new(()),
                bus: Bus::default(),
                changed: watch::Sender::new(0),
            }),
        })
    }

    /// Registers the IMPORT_ORDERS handler and starts the periodic import's scheduler. Call
    /// before the job workers start.
    pub fn register(&self) {
        let s = self.clone();
        self.inner
            .jobs
            .register(KindSpec::new(JobKind::IMPORT_ORDERS), move |ctx| {
                let s = s.clone();
                async move { s.run_catch_up(ctx).await }
            });
        crate::supervise::spawn("X-Cart import scheduler", self.clone(), |s| s.schedule());
    }

    /// Changes of the store connection, for subscribers.
    pub fn bus(&self) -> &Bus<StoreView> {
        &self.inner.bus
    }

    pub fn record(&self) -> Result<StoreRecord, StoreImportError> {
        Ok(match self.inner.tree.get(KEY)? {
            Some(b) => decode(&b)?,
            None => StoreRecord::default(),
        })
    }

    /// What the metrics show of the periodic import.
    pub fn import_state(&self) -> Result<crate::metrics::ImportState, StoreImportError> {
        let r = self.record()?;
        let cursor = r.cursors.last_renew.max(r.cursors.date);
        Ok(crate::metrics::ImportState {
            connected: r.connected,
            last_import_at: r.last_import_at,
            cursor: cursor.and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
        })
    }

    pub fn view(&self) -> Result<StoreView, StoreImportError> {
        Ok((&self.record()?).into())
    }

    /// Checks the store with one request, then stores the connection and starts the
    /// periodic import. Reconnecting the same store (after a refused token, or to change
    /// the token or interval) goes on from the cursors; a first connect, a connect after
    /// `reset` or to another store starts at this moment.
    pub async fn connect(&self, input: StoreConnectInput) -> Result<StoreView, StoreImportError> {
        let url =
            StoreUrl::parse(&input.store_url).map_err(|e| FieldError::new("input.storeUrl", e))?;
        if input.api_token.expose().trim().is_empty() {
            return Err(FieldError::new("input.apiToken", "must not be empty").into());
        }
        if !input
            .api_token
            .expose()
            .trim()
            .chars()
            .all(|c| c.is_ascii_graphic())
        {
            return Err(FieldError::new(
                "input.apiToken",
                "may only hold visible ASCII characters (letters, digits, punctuation)",
            )
            .into());
        }
        let interval = match input.import_interval_seconds {
            None => record::DEFAULT_INTERVAL_SECS,
            Some(n) if (MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&n) => n as u32,
            Some(n) => {
                return Err(FieldError::new(
                    "input.importIntervalSeconds",
                    format!(
                        "must be between {MIN_INTERVAL_SECS} and {MAX_INTERVAL_SECS} seconds, got {n}"
                    ),
                )
                .into());
            }
        };
        let token = Secret::new(input.api_token.expose().trim());
        let client = Client::new(url.clone(), token.clone(), self.inner.settings.timeout)
            .map_err(|e| StoreImportError::Unreachable(e.to_string()))?;
        // The one check request: the newest orders, which also give the floor.
        let newest = client
            .orders(&OrderQuery {
                sort: Some((DateField::Date, false)),
                ..OrderQuery::new()
            })
            .await
            .map_err(|e| match e {
                xcart::Error::Unauthorized { .. } => {
                    FieldError::new("input.apiToken", e.to_string()).into()
                }
                xcart::Error::Permanent(m) => FieldError::new("input.storeUrl", m).into(),
                xcart::Error::Transient { message, .. } => StoreImportError::Unreachable(format!(
                    "the store could not be checked: {message}; nothing was saved, try again"
                )),
            })?;
        let floor = floor_of(&newest.orders);
        let _guard = self.inner.write.lock().await;
        let current = self.record()?;
        let same_store =
            current.store_url.as_deref() == Some(url.as_str()) && current.connected_at.is_some();
        let mut next = StoreRecord {
            connected: true,
            store_url: Some(url.as_str().to_owned()),
            token: Some(self.inner.vault.seal("xcart_api_token", &token)),
            interval_secs: interval,
            connected_at: Some(Utc::now()),
            last_import_at: None,
            last_error: None,
            generation: current.generation + 1,
            floor: floor.clone(),
            cursors: Cursors {
                date: floor.as_ref().map(|f| f.date),
                last_renew: floor.as_ref().map(|f| f.date),
            },
            change_detection: None,
            rejected: vec![],
            token_access: TokenAccess::Unknown,
        };
        if same_store {
            next.connected_at = current.connected_at;
            next.last_import_at = current.last_import_at;
            next.floor = current.floor.clone();
            next.cursors = current.cursors.clone();
            next.rejected = current.rejected.clone();
            // The same token keeps what write-backs learnt of it; a new one is unknown.
            let same_token = current
                .token
                .as_ref()
                .and_then(|t| self.inner.vault.open_secret("xcart_api_token", t).ok())
                .is_some_and(|t| t.expose() == token.expose());
            if same_token {
                next.token_access = current.token_access;
            }
        }
        self.inner.tree.insert(KEY, encode(&next))?;
        self.inner.store.flush().await?;
        self.changed(&next, true);
        drop(_guard);
        self.inner.jobs.wake(STORE_CONNECTED).await?;
        Ok((&next).into())
    }

    /// Stops the import and forgets the token and the cursors (durably); keeps the URL and
    /// interval to prefill the form. Imported orders stay.
    pub async fn reset(&self) -> Result<StoreView, StoreImportError> {
        let _guard = self.inner.write.lock().await;
        let current = self.record()?;
        let next = StoreRecord {
            store_url: current.store_url.clone(),
            interval_secs: current.interval_secs,
            generation: current.generation + 1,
            ..StoreRecord::default()
        };
        self.inner.tree.insert(KEY, encode(&next))?;
        self.inner.store.flush().await?;
        self.changed(&next, true);
        Ok((&next).into())
    }

    /// Enqueues an IMPORT_ORDERS job over the orders placed in `[since, until)`.
    pub async fn import_orders(
        &self,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<JobRecord, StoreImportError> {
        let until = until.unwrap_or_else(Utc::now);
        if until <= since {
            return Err(FieldError::new(
                "until",
                format!("must be after since ({since}), got {until}"),
            )
            .into());
        }
        let current = self.record()?;
        if !current.connected {
            return Err(StoreImportError::NotConnected(current.last_error));
        }
        let payload =
            serde_json::to_value(ImportPayload { since, until }).expect("payload serialises");
        let job = NewJob::new(JobKind::IMPORT_ORDERS, payload).unique(format!(
            "import-orders:{}:{}",
            since.timestamp(),
            until.timestamp()
        ));
        Ok(self.inner.jobs.push(job).await?.job)
    }

    fn changed(&self, record: &StoreRecord, wake_scheduler: bool) {
        self.inner.bus.publish(record.into());
        if wake_scheduler {
            self.inner.changed.send_modify(|n| *n += 1);
        }
    }

    /// Changes the stored record with `f` when it still belongs to `generation` (any, when
    /// `None`); durable on return. Returns whether it changed.
    async fn update(
        &self,
        generation: Option<u64>,
        f: impl FnOnce(&mut StoreRecord),
    ) -> Result<bool, StoreImportError> {
        let _guard = self.inner.write.lock().await;
        let mut record = self.record()?;
        if generation.is_some_and(|g| g != record.generation) {
            return Ok(false);
        }
        let before = StoreView::from(&record);
        let before_cursors = (record.cursors.clone(), record.change_detection);
        f(&mut record);
        let after = StoreView::from(&record);
        if before == after && before_cursors == (record.cursors.clone(), record.change_detection) {
            return Ok(true);
        }
        self.inner.tree.insert(KEY, encode(&record))?;
        self.inner.store.flush().await?;
        if before != after {
            self.changed(&record, false);
        }
        Ok(true)
    }

    /// The client of the stored connection (the token opened here, nowhere else).
    fn client(&self, record: &StoreRecord) -> Result<Client, StoreImportError> {
        let (Some(url), Some(sealed)) = (&record.store_url, &record.token) else {
            return Err(StoreImportError::NotConnected(record.last_error.clone()));
        };
        let url = StoreUrl::parse(url).map_err(StoreImportError::Secrets)?;
        let token = self
            .inner
            .vault
            .open_secret("xcart_api_token", sealed)
            .map_err(|e| StoreImportError::Secrets(e.to_string()))?;
        Client::new(url, token, self.inner.settings.timeout)
            .map_err(|e| StoreImportError::Unreachable(e.to_string()))
    }

    /// The client of the stored connection for other services (the shipment write-back), or
    /// why there is none.
    pub fn connected_client(&self) -> Result<Client, StoreImportError> {
        let record = self.record()?;
        if !record.connected {
            return Err(StoreImportError::NotConnected(record.last_error));
        }
        self.client(&record)
    }

    /// Notes what a write taught of the token (durably; published when it changed).
    pub async fn note_token_access(&self, access: TokenAccess) -> Result<(), StoreImportError> {
        if self.record()?.token_access == access {
            return Ok(());
        }
        self.update(None, |r| r.token_access = access).await?;
        Ok(())
    }

    /// Records the orders of a page that are eligible: every order of a catch-up; for a poll,
    /// orders placed after the floor and orders imported before. An order is written only
    /// when it differs from the stored one.
    async fn import_page(
        &self,
        generation: Option<u64>,
        orders: &[OrderOutput],
        floor: Option<&Floor>,
        catch_up: bool,
    ) -> Result<Tally, RunError> {
        let mut tally = Tally::default();
        let mut rejected: Vec<(String, String)> = vec![];
        let mut to_record = vec![];
        let mut accepted: Vec<String> = vec![];
        let mut seen = HashSet::new();
        for o in orders {
            let Some(number) = o.order_number.as_deref().map(str::trim) else {
                continue; // a cart
            };
            if !seen.insert(number.to_owned()) {
                continue;
            }
            let existing = self.inner.orders.get(number)?;
            let after_floor = match (floor, date_of(o, DateField::Date)) {
                (None, _) => true,
                (Some(f), Some(d)) => f.is_after(d, o.id),
                (Some(_), None) => true,
            };
            if !(catch_up || existing.is_some() || after_floor) {
                tally.history += 1;
                continue;
            }
            match xcart::mapping::to_new_order(o) {
                Err(reason) => {
                    tracing::warn!(order = number, %reason, "an X-Cart order cannot be imported");
                    tally.rejected += 1;
                    rejected.push((number.to_owned(), reason));
                }
                Ok(new) => {
                    accepted.push(new.number.clone());
                    if existing.is_some_and(|e| e.data == new) {
                        tally.unchanged += 1;
                    } else {
                        to_record.push(new);
                    }
                }
            }
        }
        let recorded: Vec<Recorded> = futures::stream::iter(to_record)
            .map(|new| {
                let orders = self.inner.orders.clone();
                async move { orders.record(new).await.map(|(_, how)| how) }
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        for how in recorded {
            match how {
                Recorded::Created => tally.created += 1,
                Recorded::Updated => tally.updated += 1,
            }
        }
        let noted = self
            .record()?
            .rejected
            .iter()
            .any(|r| accepted.contains(&r.number));
        if !rejected.is_empty() || noted {
            let now = Utc::now();
            self.update(generation, |r| {
                r.rejected.retain(|x| !accepted.contains(&x.number));
                for (number, reason) in &rejected {
                    r.reject(number, reason, now);
                }
            })
            .await?;
        }
        Ok(tally)
    }

    /// The scheduler of the periodic import: polls while connected, sleeps between polls,
    /// and wakes at once when the store is connected or reset.
    async fn schedule(self) {
        let mut rx = self.inner.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let record = match self.record() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the store connection");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            if !record.connected {
                if rx.changed().await.is_err() {
                    return;
                }
                continue;
            }
            self.poll_and_note(&record).await;
            let every = self
                .inner
                .settings
                .poll_interval_override
                .unwrap_or(Duration::from_secs(record.interval_secs.max(1) as u64));
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                r = rx.changed() => if r.is_err() { return },
            }
        }
    }

    /// One poll, with its outcome written to the record.
    async fn poll_and_note(&self, record: &StoreRecord) {
        let generation = record.generation;
        let noted = match self.poll(record).await {
            Ok(tally) => {
                if tally.created + tally.updated + tally.rejected > 0 {
                    tracing::info!(
                        created = tally.created,
                        updated = tally.updated,
                        rejected = tally.rejected,
                        "imported X-Cart orders"
                    );
                }
                self.update(Some(generation), |r| {
                    r.last_import_at = Some(Utc::now());
                    r.last_error = None;
                })
                .await
            }
            Err(RunError::XCart(e @ xcart::Error::Unauthorized { .. })) => {
                tracing::warn!(error = %e, "X-Cart refused the token: the store is not connected until connectStore");
                let why = e.to_string();
                self.update(Some(generation), |r| {
                    r.connected = false;
                    r.last_error = Some(why);
                })
                .await
            }
            Err(e) => {
                tracing::warn!(error = %e, "the X-Cart import failed; it runs again at the next interval");
                let why = e.to_string();
                self.update(Some(generation), |r| r.last_error = Some(why))
                    .await
            }
        };
        if let Err(e) = noted {
            tracing::error!(error = %e, "cannot record the outcome of an X-Cart import");
        }
    }

    /// Reads what changed since the cursors and records it.
    async fn poll(&self, record: &StoreRecord) -> Result<Tally, RunError> {
        let _one = self.inner.polling.lock().await;
        let generation = record.generation;
        let client = self.client(record)?;
        let mode = match record.change_detection {
            Some(m) => m,
            None => {
                let found = detect(&client).await?;
                if let Some(m) = found {
                    tracing::info!(mode = ?m, "X-Cart change detection");
                    self.update(Some(generation), |r| r.change_detection = Some(m))
                        .await?;
                }
                found.unwrap_or(ChangeDetection::LookBack)
            }
        };
        let mut walker = match mode {
            ChangeDetection::LastRenewDate => {
                Walker::new(DateField::LastRenewDate, record.cursors.last_renew, None)
            }
            ChangeDetection::LookBack => {
                let look_back =
                    chrono::Duration::from_std(self.inner.settings.look_back).unwrap_or_default();
                let window = (Utc::now() - look_back).timestamp();
                Walker::new(
                    DateField::Date,
                    record.cursors.date.map(|c| c.min(window)),
                    None,
                )
            }
        };
        let mut tally = Tally::default();
        while let Some(page) = walker.next(&client).await? {
            let t = self
                .import_page(Some(generation), &page.orders, record.floor.as_ref(), false)
                .await?;
            tally.add(&t);
            let anchor = walker.anchor();
            let field = walker.field;
            let current = self
                .update(Some(generation), |r| {
                    let slot = match field {
                        DateField::Date => &mut r.cursors.date,
                        DateField::LastRenewDate => &mut r.cursors.last_renew,
                    };
                    *slot = (*slot).max(anchor);
                })
                .await?;
            if !current {
                break; // reset or reconnected meanwhile
            }
        }
        Ok(tally)
    }

    /// The IMPORT_ORDERS handler: a catch-up over `[since, until)`.
    async fn run_catch_up(&self, ctx: JobContext) -> Outcome {
        let payload: ImportPayload = match ctx.payload() {
            Ok(p) => p,
            Err(o) => return o,
        };
        match self.catch_up(&ctx, &payload).await {
            Ok(outcome) => outcome,
            Err(RunError::XCart(e @ xcart::Error::Unauthorized { .. })) => {
                let why = e.to_string();
                if let Ok(record) = self.record() {
                    let _ = self
                        .update(Some(record.generation), |r| {
                            r.connected = false;
                            r.last_error = Some(why.clone());
                        })
                        .await;
                }
                Outcome::not_ready(STORE_CONNECTED, why)
            }
            Err(RunError::XCart(xcart::Error::Transient {
                message,
                retry_after: Some(d),
            })) => Outcome::RetryAfter(d, message),
            Err(RunError::XCart(e @ xcart::Error::Transient { .. })) => Outcome::transient(e),
            Err(RunError::XCart(e @ xcart::Error::Permanent(_))) => {
                Outcome::permanent(e.error_class(), e)
            }
            Err(RunError::Local(StoreImportError::NotConnected(why))) => Outcome::not_ready(
                STORE_CONNECTED,
                format!(
                    "the X-Cart store is not connected{}",
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                ),
            ),
            Err(RunError::Local(e)) => Outcome::transient(e),
        }
    }

    async fn catch_up(&self, ctx: &JobContext, p: &ImportPayload) -> Result<Outcome, RunError> {
        let record = self.record()?;
        if !record.connected {
            return Err(StoreImportError::NotConnected(record.last_error).into());
        }
        let client = self.client(&record)?;
        let key = format!("{CATCH_UP_PREFIX}{}", ctx.id());
        let mut cursor: CatchUpCursor = match self.inner.tree.get(&key).map_err(StoreError::from)? {
            Some(b) => decode(&b)?,
            None => CatchUpCursor::default(),
        };
        // X-Cart dates are whole seconds: an order at second s is in [since, until) when
        // since <= s < until.
        let ceil = |t: DateTime<Utc>| t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
        let start = cursor.anchor.unwrap_or_else(|| ceil(p.since));
        tracing::info!(job = ctx.id(), from = ?cursor.anchor, done = cursor.done, "catch-up import runs");
        let mut walker = Walker::new(DateField::Date, Some(start), Some(ceil(p.until)));
        let mut total: Option<u32> = None;
        let mut counted: HashSet<i64> = HashSet::new();
        let base = cursor.done;
        ctx.progress(cursor.done, None, Some("reading orders from X-Cart".into()));
        while let Some(page) = walker.next(&client).await? {
            if ctx.cancel_requested() {
                return Ok(Outcome::Canceled("canceled".into()));
            }
            if total.is_none() {
                total = page
                    .total_items
                    .map(|t| cursor.done + u32::try_from(t).unwrap_or(u32::MAX));
            }
            let t = self.import_page(None, &page.orders, None, true).await?;
            cursor.created += t.created;
            cursor.updated += t.updated;
            // Orders at the anchor's second are read again by the next request: count
            // each order once (a resumed run may count those of its first second twice).
            counted.extend(page.orders.iter().map(|o| o.id));
            cursor.done = base + u32::try_from(counted.len()).unwrap_or(u32::MAX);
            cursor.anchor = walker.anchor();
            self.inner.tree.insert(&key, encode(&cursor))?;
            self.inner.store.flush().await?;
            ctx.progress(
                cursor.done,
                total.map(|t| t.max(cursor.done)),
                Some(format!(
                    "{} orders read: {} new, {} updated",
                    cursor.done, cursor.created, cursor.updated
                )),
            );
        }
        ctx.progress(
            cursor.done,
            Some(cursor.done),
            Some(format!(
                "done: {} orders read, {} new, {} updated",
                cursor.done, cursor.created, cursor.updated
            )),
        );
        self.inner.tree.remove(&key)?;
        self.inner.store.flush().await?;
        Ok(Outcome::Done)
    }
}

/// The floor of a connect: the newest second among `newest` (sorted newest first) and the
/// ids at it; `None` for a store without orders.
fn floor_of(newest: &[OrderOutput]) -> Option<Floor> {
    let date = newest
        .iter()
        .filter(|o| o.order_number.is_some())
        .filter_map(|o| date_of(o, DateField::Date))
        .max()?;
    let ids = newest
        .iter()
        .filter(|o| date_of(o, DateField::Date) == Some(date))
        .map(|o| o.id)
        .collect();
    Some(Floor { date, ids })
}

/// Whether the store filters on `lastRenewDate`: asks for orders changed after a far-future
/// date. A store that ignores the filter (5.5.0) returns some anyway; one that has no orders
/// cannot tell yet (`None`).
async fn detect(client: &Client) -> Result<Option<ChangeDetection>, xcart::Error> {
    let far = (Utc::now() + chrono::Duration::days(3650)).timestamp();
    let probe = client
        .orders(&OrderQuery {
            per_page: 1,
            after: Some((DateField::LastRenewDate, far)),
            ..OrderQuery::new()
        })
        .await?;
    if !probe.orders.is_empty() {
        return Ok(Some(ChangeDetection::LookBack));
    }
    let any = client
        .orders(&OrderQuery {
            per_page: 1,
            ..OrderQuery::new()
        })
        .await?;
    Ok((!any.orders.is_empty()).then_some(ChangeDetection::LastRenewDate))
}
