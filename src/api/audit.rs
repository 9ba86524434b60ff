//! The audit log in the GraphQL API: `auditLog`, and [`audited`], the one helper through
//! which every operator mutation records itself (with the request's client address).

use std::future::Future;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};

use super::error::{ApiError, ApiResult};
use super::page_info::PageInfo;
use super::scalars::DateTime;
use super::{first_of, state};
use crate::audit::{self as lib, AuditEntry, ClientAddress};

/// Runs an operator action and records it in the audit log: `action` (the mutation's name),
/// `summary` (non-secret fields only), its outcome and `result(answer)` for a success.
/// The entry is durable when the answer goes out.
pub async fn audited<T>(
    ctx: &Context<'_>,
    action: &str,
    summary: impl Into<String>,
    run: impl Future<Output = ApiResult<T>>,
    result: impl FnOnce(&T) -> String,
) -> ApiResult<T> {
    let audit = &state(ctx).audit;
    let client = ctx.data_opt::<ClientAddress>().cloned().unwrap_or_default();
    let id = audit.begin(&client, action, summary)?;
    let answer = run.await;
    let (outcome, said) = match &answer {
        Ok(v) => (lib::AuditOutcome::Succeeded, result(v)),
        Err(e) => (lib::AuditOutcome::Failed, e.summary()),
    };
    audit.end(id, outcome, said).await?;
    answer
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::audit::AuditOutcome")]
pub enum AuditOutcome {
    /// Begun, no outcome recorded (the service stopped while it ran).
    Pending,
    Succeeded,
    Failed,
}

/// One operator action.
#[derive(SimpleObject)]
pub struct AuditLogEntry {
    id: async_graphql::ID,
    at: DateTime,
    /// The mutation's name (`connect`, `saveSettings`, `retryJobs`…) or `rotateToken`.
    action: String,
    /// What it was about (never a password, token or secret).
    summary: String,
    outcome: AuditOutcome,
    /// What it did ("3 jobs retried"), or why it failed.
    result: Option<String>,
    /// The TCP peer address of the client ("command line" for rotate-token).
    client_address: Option<String>,
    /// `X-Forwarded-For` as the client sent it: reported, not trusted.
    forwarded_for: Option<String>,
}

impl From<AuditEntry> for AuditLogEntry {
    fn from(e: AuditEntry) -> Self {
        AuditLogEntry {
            id: async_graphql::ID(e.id.to_string()),
            at: e.at.into(),
            action: e.action,
            summary: e.summary,
            outcome: e.outcome.into(),
            result: e.result,
            client_address: e.client.peer,
            forwarded_for: e.client.forwarded_for,
        }
    }
}

#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Only this action (e.g. `retryJobs`).
    action: Option<String>,
    /// At or after this time.
    from: Option<DateTime>,
    /// Before this time.
    to: Option<DateTime>,
}

#[derive(SimpleObject)]
pub struct AuditLogEdge {
    node: AuditLogEntry,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct AuditLogConnection {
    edges: Vec<AuditLogEdge>,
    page_info: PageInfo,
    total_count: i32,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Operator actions, newest first.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditLogFilter>,
    ) -> ApiResult<AuditLogConnection> {
        let first = first_of(first)?;
        let f = filter.unwrap_or_default();
        let filter = lib::AuditFilter {
            action: f
                .action
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty()),
            from: f.from.map(|t| t.0.get("filter.from")).transpose()?,
            to: f.to.map(|t| t.0.get("filter.to")).transpose()?,
        };
        let page = state(ctx)
            .audit
            .list(first, after.as_deref(), &filter)?
            .ok_or_else(|| {
                ApiError::bad_input("after", "this cursor is not one the audit log gave out")
            })?;
        let page_info = PageInfo::of(&page);
        Ok(AuditLogConnection {
            edges: page
                .items
                .into_iter()
                .map(|(e, cursor)| AuditLogEdge {
                    node: e.into(),
                    cursor,
                })
                .collect(),
            page_info,
            total_count: page.total_count as i32,
        })
    }
}
