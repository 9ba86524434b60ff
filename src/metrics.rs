//! Prometheus metrics (`GET /metrics`, OpenMetrics text through the `prometheus-client`
//! crate). Counters and histograms are fed where things happen: job runs by a job change
//! hook, requests by the clients that send them. Gauges that describe the stored state (jobs
//! by kind and status, the oldest runnable job, orders by sync status, the import's lag) are
//! read from the store at each scrape. Every series is listed in the README.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::order::{PaymentStatus, SyncStatus};
use crate::jobs::{JobKind, JobRecord, JobStatus, Jobs};
use crate::orders::Orders;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindStatusLabels {
    kind: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    entity: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntityLabels {
    entity: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncStatusLabels {
    sync_status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

fn seconds_histogram() -> Histogram {
    // 5 ms … ~82 s
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

fn slow_histogram() -> Histogram {
    // 1 s … ~4.5 h
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

/// The bridge's metrics. Cheap to clone; every clone feeds the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    jobs: Family<KindStatusLabels, Gauge>,
    oldest_runnable: Family<KindLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    job_runs: Family<OutcomeLabels, Counter>,
    job_run_seconds: Family<KindLabels, Histogram, fn() -> Histogram>,
    orders: Family<SyncStatusLabels, Gauge>,
    paid_to_sales_order: Histogram,
    sync_warnings: Counter,
    acumatica_requests: Family<RequestLabels, Counter>,
    acumatica_seconds: Family<EntityLabels, Histogram, fn() -> Histogram>,
    acumatica_rate_limited: Counter,
    acumatica_limiter_wait: Histogram,
    token_renewals: Family<ResultLabels, Counter>,
    xcart_requests: Family<StatusLabels, Counter>,
    import_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    import_cursor_age: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

static GLOBAL: std::sync::LazyLock<Metrics> = std::sync::LazyLock::new(Metrics::new);

impl Metrics {
    /// The process's metrics: what the clients deep below feed and `/metrics` shows.
    pub fn global() -> &'static Metrics {
        &GLOBAL
    }

    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bridge");
        let jobs = Family::default();
        registry.register("jobs", "Stored jobs by kind and status", jobs.clone());
        let oldest_runnable = Family::default();
        registry.register(
            "job_oldest_runnable_age_seconds",
            "Age of the oldest job that is due to run (QUEUED or RETRY_SCHEDULED past its run time, not parked), by kind",
            oldest_runnable.clone(),
        );
        let job_runs = Family::default();
        registry.register(
            "job_runs",
            "Finished job attempts by kind and outcome (SUCCEEDED, RETRY_SCHEDULED = a retry, FAILED, CANCELED, QUEUED = gave way to wait)",
            job_runs.clone(),
        );
        let job_run_seconds =
            Family::<KindLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                seconds_histogram,
            );
        registry.register(
            "job_run_duration_seconds",
            "Duration of one job attempt, by kind",
            job_run_seconds.clone(),
        );
        let orders = Family::default();
        registry.register("orders", "Stored orders by sync status", orders.clone());
        let paid_to_sales_order = slow_histogram();
        registry.register(
            "paid_to_sales_order_seconds",
            "From an order's payment (PAID) to its Sales Order in Acumatica",
            paid_to_sales_order.clone(),
        );
        let sync_warnings = Counter::default();
        registry.register(
            "sync_warnings",
            "Warnings of synced orders (totals that differ, changes after sync, duplicate customers)",
            sync_warnings.clone(),
        );
        let acumatica_requests = Family::default();
        registry.register(
            "acumatica_requests",
            "Requests to Acumatica by entity, method and HTTP status (status \"error\" when no answer came)",
            acumatica_requests.clone(),
        );
        let acumatica_seconds =
            Family::<EntityLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                seconds_histogram,
            );
        registry.register(
            "acumatica_request_duration_seconds",
            "Latency of one request to Acumatica, by entity and method",
            acumatica_seconds.clone(),
        );
        let acumatica_rate_limited = Counter::default();
        registry.register(
            "acumatica_rate_limited",
            "Answers 429 (Too Many Requests) from Acumatica",
            acumatica_rate_limited.clone(),
        );
        let acumatica_limiter_wait = seconds_histogram();
        registry.register(
            "acumatica_limiter_wait_seconds",
            "Time a request waited in the bridge's own rate and concurrency limiter",
            acumatica_limiter_wait.clone(),
        );
        let token_renewals = Family::default();
        registry.register(
            "acumatica_token_renewals",
            "Access token renewals with the refresh token, by result (ok, refused, error)",
            token_renewals.clone(),
        );
        let xcart_requests = Family::default();
        registry.register(
            "xcart_requests",
            "Requests to the X-Cart store by HTTP status (status \"error\" when no answer came)",
            xcart_requests.clone(),
        );
        let import_lag = Gauge::default();
        registry.register(
            "xcart_import_lag_seconds",
            "Now minus the end of the last periodic import that succeeded (0 while no store is connected)",
            import_lag.clone(),
        );
        let import_cursor_age = Gauge::default();
        registry.register(
            "xcart_import_cursor_age_seconds",
            "Now minus the import's cursor: the newest order date read (0 while no store is connected)",
            import_cursor_age.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                jobs,
                oldest_runnable,
                job_runs,
                job_run_seconds,
                orders,
                paid_to_sales_order,
                sync_warnings,
                acumatica_requests,
                acumatica_seconds,
                acumatica_rate_limited,
                acumatica_limiter_wait,
                token_renewals,
                xcart_requests,
                import_lag,
                import_cursor_age,
            }),
        }
    }

    /// Feeds the job series from every job change (call once, before the workers start).
    pub fn watch_jobs(&self, jobs: &Jobs, orders: &Orders) {
        let metrics = self.clone();
        let orders = orders.clone();
        jobs.on_change(move |job| metrics.job_changed(job, &orders));
    }

    /// A job changed: when the change closed an attempt, count its outcome and duration.
    fn job_changed(&self, job: &JobRecord, orders: &Orders) {
        let Some(attempt) = job.history.last() else {
            return;
        };
        let Some(finished) = attempt.finished_at else {
            return;
        };
        // Only the change that closed the attempt (a later retry or cancel keeps it).
        if finished != job.updated_at || job.status == JobStatus::Running {
            return;
        }
        let kind = job.kind.as_str().to_string();
        self.inner
            .job_runs
            .get_or_create(&OutcomeLabels {
                kind: kind.clone(),
                outcome: job.status.as_str().to_string(),
            })
            .inc();
        let seconds = seconds_between(attempt.started_at, finished);
        self.inner
            .job_run_seconds
            .get_or_create(&KindLabels { kind })
            .observe(seconds);
        if job.kind == JobKind::SYNC_ORDER
            && job.status == JobStatus::Succeeded
            && let Some(number) = &job.order_number
            && let Ok(Some(order)) = orders.get(number)
            && let Some(synced_at) = order.sync.synced_at
            && synced_at >= attempt.started_at
        {
            self.inner
                .sync_warnings
                .inc_by(order.sync.warnings.len() as u64);
            if let Some(paid) = order
                .payment_status_history
                .iter()
                .rev()
                .find(|c| c.status == PaymentStatus::Paid)
            {
                self.inner
                    .paid_to_sales_order
                    .observe(seconds_between(paid.at, synced_at));
            }
        }
    }

    /// One request to Acumatica, answered with `status` (None: no answer).
    pub fn acumatica_request(
        &self,
        entity: &str,
        method: &str,
        status: Option<u16>,
        took: Duration,
    ) {
        let status_text = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.inner
            .acumatica_requests
            .get_or_create(&RequestLabels {
                entity: entity.to_string(),
                method: method.to_string(),
                status: status_text,
            })
            .inc();
        self.inner
            .acumatica_seconds
            .get_or_create(&EntityLabels {
                entity: entity.to_string(),
                method: method.to_string(),
            })
            .observe(took.as_secs_f64());
        if status == Some(429) {
            self.inner.acumatica_rate_limited.inc();
        }
    }

    /// Time a request waited in the limiter before it was sent.
    pub fn acumatica_limiter_wait(&self, waited: Duration) {
        self.inner
            .acumatica_limiter_wait
            .observe(waited.as_secs_f64());
    }

    /// A token renewal: `ok`, `refused` or `error`.
    pub fn token_renewal(&self, result: &str) {
        self.inner
            .token_renewals
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// One request to the X-Cart store.
    pub fn xcart_request(&self, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.inner
            .xcart_requests
            .get_or_create(&StatusLabels { status })
            .inc();
    }

    /// The OpenMetrics text of every series, with the stored-state gauges read now.
    pub fn render(&self, state: &Snapshot) -> String {
        let inner = &self.inner;
        inner.jobs.clear();
        for ((kind, status), n) in &state.jobs {
            inner
                .jobs
                .get_or_create(&KindStatusLabels {
                    kind: kind.clone(),
                    status: status.clone(),
                })
                .set(*n as i64);
        }
        inner.oldest_runnable.clear();
        for (kind, age) in &state.oldest_runnable {
            inner
                .oldest_runnable
                .get_or_create(&KindLabels { kind: kind.clone() })
                .set(*age);
        }
        inner.orders.clear();
        for (status, n) in &state.orders {
            inner
                .orders
                .get_or_create(&SyncStatusLabels {
                    sync_status: status.clone(),
                })
                .set(*n as i64);
        }
        inner.import_lag.set(state.import_lag_seconds);
        inner.import_cursor_age.set(state.import_cursor_age_seconds);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &inner.registry)
            .expect("writing to a String");
        text
    }
}

/// The stored state the gauges show, read at scrape time.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub jobs: BTreeMap<(String, String), u64>,
    pub oldest_runnable: BTreeMap<String, f64>,
    pub orders: BTreeMap<String, u64>,
    pub import_lag_seconds: f64,
    pub import_cursor_age_seconds: f64,
}

/// What the gauges need of the store connection.
#[derive(Debug, Default)]
pub struct ImportState {
    pub connected: bool,
    pub last_import_at: Option<DateTime<Utc>>,
    pub cursor: Option<DateTime<Utc>>,
}

impl Snapshot {
    /// Reads the kept job and order counts, the longest-due job of each kind and the import
    /// cursor: the cost of a scrape does not grow with the stored jobs and orders.
    pub fn read(jobs: &Jobs, orders: &Orders, import: ImportState) -> anyhow::Result<Snapshot> {
        let now = Utc::now();
        let mut snapshot = Snapshot::default();
        for status in SyncStatus::ALL {
            snapshot.orders.insert(status.as_str().to_string(), 0);
        }
        for (status, n) in orders.count_by_sync_status()? {
            snapshot.orders.insert(status.as_str().to_string(), n);
        }
        for ((kind, status), n) in jobs.counts()? {
            if n > 0 {
                snapshot
                    .jobs
                    .insert((kind.as_str().to_string(), status.as_str().to_string()), n);
            }
        }
        snapshot.oldest_runnable = oldest_runnable(jobs, now)?;
        snapshot.import_lag_seconds = import.lag_seconds(now);
        if import.connected {
            snapshot.import_cursor_age_seconds =
                import.cursor.map_or(0.0, |t| seconds_between(t, now));
        }
        Ok(snapshot)
    }
}

impl ImportState {
    /// Now minus the end of the last periodic import that succeeded; 0 while no store is
    /// connected (the gauge `bridge_xcart_import_lag_seconds` and the IMPORT_LAGGING alert).
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> f64 {
        match (self.connected, self.last_import_at) {
            (true, Some(t)) => seconds_between(t, now),
            _ => 0.0,
        }
    }
}

/// The age of the oldest runnable job by kind (QUEUED or RETRY_SCHEDULED past its run time,
/// not parked; kinds with none are left out): the rule of the
/// `bridge_job_oldest_runnable_age_seconds` gauge and of the JOB_WAITING alert. Reads one
/// index entry per kind, however many jobs are stored.
pub fn oldest_runnable(
    jobs: &Jobs,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, f64>, crate::jobs::JobsError> {
    Ok(jobs
        .oldest_due()?
        .into_iter()
        .map(|(kind, since)| (kind.as_str().to_string(), seconds_between(since, now)))
        .collect())
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}
