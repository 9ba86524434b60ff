//! Jobs in the GraphQL API: `jobs`, `job`, `jobsCount`, `retryJob`, `retryJobs`, `cancelJob`,
//! `cancelJobs`, `pruneJobs` and `jobUpdates`. The bulk actions and `jobsCount` read one
//! filter (`JobFilter` → [`lib::JobFilter`], matched by `Jobs::bulk_targets`). Only the contract's kinds are shown; jobs of other kinds (registered by
//! tests or embedding programs) never appear here.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};

use super::audit::audited;
use super::error::{ApiError, ApiResult};
use super::page_info::PageInfo;
use super::scalars::DateTime;
use super::{first_of, state};
use crate::jobs::{self as lib, JobRecord};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JobKind {
    Connect,
    SignOut,
    RefreshLookups,
    SyncOrder,
    ImportOrders,
    /// A notification of an alert incident (or a test alert) to one channel.
    SendAlert,
    /// Cancels an order's Sales Order after the store canceled the order.
    CancelOrder,
    /// A confirmed Acumatica shipment written back to the store (shipping status, tracking).
    WriteBack,
    /// A payment recorded in Acumatica for an order paid after its Sales Order exists.
    RecordPayment,
    /// An AR credit memo created in Acumatica for a refund the store reported.
    CreateRefundCredit,
}

impl From<JobKind> for lib::JobKind {
    fn from(k: JobKind) -> Self {
        match k {
            JobKind::Connect => lib::JobKind::CONNECT,
            JobKind::SignOut => lib::JobKind::SIGN_OUT,
            JobKind::RefreshLookups => lib::JobKind::REFRESH_LOOKUPS,
            JobKind::SyncOrder => lib::JobKind::SYNC_ORDER,
            JobKind::ImportOrders => lib::JobKind::IMPORT_ORDERS,
            JobKind::SendAlert => lib::JobKind::SEND_ALERT,
            JobKind::CancelOrder => lib::JobKind::CANCEL_ORDER,
            JobKind::WriteBack => lib::JobKind::WRITE_BACK,
            JobKind::RecordPayment => lib::JobKind::RECORD_PAYMENT,
            JobKind::CreateRefundCredit => lib::JobKind::CREATE_REFUND_CREDIT,
        }
    }
}

impl JobKind {
    fn of(k: &lib::JobKind) -> Option<JobKind> {
        [
            JobKind::Connect,
            JobKind::SignOut,
            JobKind::RefreshLookups,
            JobKind::SyncOrder,
            JobKind::ImportOrders,
            JobKind::SendAlert,
            JobKind::CancelOrder,
            JobKind::WriteBack,
            JobKind::RecordPayment,
            JobKind::CreateRefundCredit,
        ]
        .into_iter()
        .find(|g| lib::JobKind::from(*g) == *k)
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::jobs::JobStatus")]
pub enum JobStatus {
    Queued,
    Running,
    RetryScheduled,
    Succeeded,
    Failed,
    Canceled,
}

/// What kind of problem made a job (and its order) fail or wait for a retry: only
/// TRANSIENT errors are retried automatically.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::ErrorClass")]
pub enum ErrorClass {
    /// The order's data or a record was refused (unknown SKU, validation): fix it, then retry.
    Data,
    /// Network, timeouts, 5xx, 429: retried automatically.
    Transient,
    /// Credentials, permissions, missing settings or setup: fix them, then retry.
    Configuration,
}

/// A bulk action by filter, for `jobsCount` to count what it would change.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JobAction {
    /// retryJobs: the FAILED or CANCELED jobs.
    Retry,
    /// cancelJobs: the QUEUED or RETRY_SCHEDULED jobs.
    Cancel,
}

impl From<JobAction> for lib::Bulk {
    fn from(a: JobAction) -> Self {
        match a {
            JobAction::Retry => lib::Bulk::Retry,
            JobAction::Cancel => lib::Bulk::Cancel,
        }
    }
}

#[derive(SimpleObject)]
pub struct JobAttempt {
    /// Position in the job's whole history, from 1.
    number: i32,
    started_at: DateTime,
    finished_at: Option<DateTime>,
    error: Option<String>,
}

#[derive(SimpleObject)]
pub struct JobProgress {
    done: i32,
    total: Option<i32>,
    message: Option<String>,
}

/// A durable job. Only jobs of the contract's kinds are ever built.
pub struct Job(pub JobRecord);

impl Job {
    /// The job as the API shows it, or `None` for a kind the API does not show.
    pub fn shown(j: JobRecord) -> Option<Job> {
        j.kind.is_shipped().then_some(Job(j))
    }
}

#[Object]
impl Job {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> JobKind {
        JobKind::of(&self.0.kind).expect("only shipped kinds are shown")
    }
    async fn status(&self) -> JobStatus {
        self.0.status.into()
    }
    /// Attempts of the current round (retryJob starts a new round).
    async fn attempts(&self) -> i32 {
        self.0.attempts as i32
    }
    async fn max_attempts(&self) -> i32 {
        self.0.max_attempts as i32
    }
    async fn order_number(&self) -> Option<&str> {
        self.0.order_number.as_deref()
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// The class of the last run's error: DATA and CONFIGURATION fail at once (lastError says
    /// what to fix), TRANSIENT is retried.
    async fn error_class(&self) -> Option<ErrorClass> {
        self.0.error_class.map(Into::into)
    }
    /// Every attempt, oldest first, across manual retries.
    async fn history(&self) -> Vec<JobAttempt> {
        self.0
            .history
            .iter()
            .map(|a| JobAttempt {
                number: a.number as i32,
                started_at: a.started_at.into(),
                finished_at: a.finished_at.map(Into::into),
                error: a.error.clone(),
            })
            .collect()
    }
    /// For jobs with steps (CONNECT, REFRESH_LOOKUPS, IMPORT_ORDERS).
    async fn progress(&self) -> Option<JobProgress> {
        self.0.progress.as_ref().map(|p| JobProgress {
            done: p.done as i32,
            total: p.total.map(|t| t as i32),
            message: p.message.clone(),
        })
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
    /// When a QUEUED or RETRY_SCHEDULED job runs next (none while it waits for a condition).
    async fn next_run_at(&self) -> Option<DateTime> {
        self.0.run_at.map(Into::into)
    }
    /// What a QUEUED job waits for before it runs again, e.g. "connected: not connected".
    async fn waiting_for(&self) -> Option<String> {
        self.0
            .waiting_for
            .as_ref()
            .map(|p| format!("{}: {}", p.condition, p.reason))
    }
    /// cancelJob asked this RUNNING job to stop at its next safe point.
    async fn cancel_requested(&self) -> bool {
        self.0.cancel_requested
    }
}

#[derive(InputObject, Default)]
pub struct JobFilter {
    status: Option<JobStatus>,
    kind: Option<JobKind>,
    order_number: Option<String>,
    error_class: Option<ErrorClass>,
    /// Jobs of orders whose number starts with this.
    order_number_prefix: Option<String>,
    /// Created at or after this time.
    created_after: Option<DateTime>,
    /// Created before this time.
    created_before: Option<DateTime>,
    /// Finished (SUCCEEDED, FAILED, CANCELED) at or after this time.
    finished_after: Option<DateTime>,
    /// Finished before this time.
    finished_before: Option<DateTime>,
}

fn time(t: Option<DateTime>, field: &str) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(match t {
        Some(t) => Some(t.0.get(&format!("filter.{field}"))?),
        None => None,
    })
}

fn text(t: Option<String>) -> Option<String> {
    t.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
}

impl JobFilter {
    /// The service's filter, or BAD_INPUT naming the field with a bad time.
    fn into_lib(self) -> ApiResult<lib::JobFilter> {
        Ok(lib::JobFilter {
            status: self.status.map(Into::into),
            kinds: match self.kind {
                Some(k) => vec![k.into()],
                None => lib::JobKind::SHIPPED.to_vec(),
            },
            order_number: text(self.order_number),
            error_class: self.error_class.map(Into::into),
            order_number_prefix: text(self.order_number_prefix),
            created: lib::TimeRange {
                from: time(self.created_after, "createdAfter")?,
                to: time(self.created_before, "createdBefore")?,
            },
            finished: lib::TimeRange {
                from: time(self.finished_after, "finishedAfter")?,
                to: time(self.finished_before, "finishedBefore")?,
            },
        })
    }
}

#[derive(SimpleObject)]
pub struct JobEdge {
    node: Job,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct JobConnection {
    edges: Vec<JobEdge>,
    page_info: PageInfo,
    total_count: i32,
}

fn id_of(id: &ID) -> ApiResult<u64> {
    id.trim()
        .parse()
        .map_err(|_| ApiError::bad_input("id", format!("\"{}\" is not a job id", id.0)))
}

/// A job the API shows, or NOT_FOUND.
fn shown(ctx: &Context<'_>, id: &ID) -> ApiResult<u64> {
    let n = id_of(id)?;
    match state(ctx).jobs.get(n)? {
        Some(j) if j.kind.is_shipped() => Ok(n),
        _ => Err(ApiError::NotFound(format!("no job with id {n}"))),
    }
}

#[derive(Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// Jobs, newest createdAt first.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<JobFilter>,
    ) -> ApiResult<JobConnection> {
        let first = first_of(first)?;
        let filter = filter.unwrap_or_default().into_lib()?;
        let page = state(ctx).jobs.list(first, after.as_deref(), &filter)?;
        let page_info = PageInfo::of(&page);
        Ok(JobConnection {
            edges: page
                .items
                .into_iter()
                .map(|(j, cursor)| JobEdge {
                    node: Job(j),
                    cursor,
                })
                .collect(),
            page_info,
            total_count: page.total_count as i32,
        })
    }

    /// How many jobs match the filter; with `action`, how many of them that bulk action would
    /// change (what the console shows before it asks to confirm).
    async fn jobs_count(
        &self,
        ctx: &Context<'_>,
        filter: Option<JobFilter>,
        action: Option<JobAction>,
    ) -> ApiResult<i32> {
        let filter = filter.unwrap_or_default().into_lib()?;
        let jobs = &state(ctx).jobs;
        let n = match action {
            Some(a) => jobs.bulk_targets(a.into(), &filter)?.len(),
            None => jobs.list(1, None, &filter)?.total_count,
        };
        Ok(n as i32)
    }

    async fn job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Job>> {
        let Ok(n) = id.trim().parse::<u64>() else {
            return Ok(None);
        };
        Ok(state(ctx).jobs.get(n)?.and_then(Job::shown))
    }
}

#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Same job id; attempts start again; history is kept.
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Job> {
        let n = shown(ctx, &id)?;
        let run = async { Ok(Job(state(ctx).jobs.retry(n).await?)) };
        audited(ctx, "retryJob", format!("job {n}"), run, |_| String::new()).await
    }

    /// Retries every FAILED or CANCELED job matching the filter (the console's Retry all failed).
    async fn retry_jobs(&self, ctx: &Context<'_>, filter: JobFilter) -> ApiResult<Vec<Job>> {
        let filter = filter.into_lib()?;
        let run = async { Ok(state(ctx).jobs.retry_all(&filter).await?) };
        let jobs = audited(ctx, "retryJobs", filter.describe(), run, |j| {
            format!("{} jobs retried", j.len())
        })
        .await?;
        Ok(jobs.into_iter().map(Job).collect())
    }

    /// Cancels every QUEUED or RETRY_SCHEDULED job matching the filter (RUNNING ones end on
    /// their own). Returns how many were canceled; durable when it answers.
    async fn cancel_jobs(&self, ctx: &Context<'_>, filter: JobFilter) -> ApiResult<i32> {
        let filter = filter.into_lib()?;
        let run = async { Ok(state(ctx).jobs.cancel_all(&filter).await?.len() as i32) };
        audited(ctx, "cancelJobs", filter.describe(), run, |n| {
            format!("{n} jobs canceled")
        })
        .await
    }

    /// Cancels a QUEUED or RETRY_SCHEDULED job at once; a RUNNING one stops at its next safe
    /// point (cancelRequested), or the call is refused (CONFLICT) for kinds that cannot stop
    /// midway.
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Job> {
        let n = shown(ctx, &id)?;
        let run = async { Ok(Job(state(ctx).jobs.cancel(n).await?)) };
        audited(ctx, "cancelJob", format!("job {n}"), run, |_| String::new()).await
    }

    /// Operator clean-up: deletes the finished jobs (SUCCEEDED, FAILED, CANCELED) matching
    /// the filter; live jobs are never deleted. Returns how many were deleted.
    async fn prune_jobs(&self, ctx: &Context<'_>, filter: JobFilter) -> ApiResult<i32> {
        let filter = filter.into_lib()?;
        let run = async { Ok(state(ctx).jobs.prune(&filter).await? as i32) };
        audited(ctx, "pruneJobs", filter.describe(), run, |n| {
            format!("{n} jobs deleted")
        })
        .await
    }
}

#[derive(Default)]
pub struct JobsSubscription;

#[Subscription]
impl JobsSubscription {
    /// Every change of a job; filtered by id and/or kind when given.
    async fn job_updates(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        kind: Option<JobKind>,
    ) -> impl Stream<Item = Result<Job, ApiError>> + use<> {
        let id = id.map(|i| i.trim().to_owned());
        let kind = kind.map(lib::JobKind::from);
        state(ctx).jobs.bus().subscribe().filter_map(move |event| {
            let item = match event {
                Ok(j) => {
                    let keep = j.kind.is_shipped()
                        && id.as_ref().is_none_or(|i| *i == j.id.to_string())
                        && kind.as_ref().is_none_or(|k| *k == j.kind);
                    keep.then(|| Ok(Job(std::sync::Arc::unwrap_or_clone(j))))
                }
                Err(m) => Some(Err(ApiError::Missed(m.0))),
            };
            async move { item }
        })
    }
}
