//! Alerts in the GraphQL API: `alertRules`, `alertIncidents`, `saveAlertRule`,
//! `deleteAlertRule` and `sendTestAlert`. Channel secrets go in and never come out: a channel
//! answers `hasSecret` / `hasPassword`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::error::{ApiError, ApiResult};
use super::jobs::{Job, JobStatus};
use super::scalars::DateTime;
use super::{first_of, state};
use crate::alerts::{self as lib, AlertsError, incidents, rules};
use crate::domain::secret::Secret;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::alerts::rules::Condition")]
pub enum AlertCondition {
    /// An order's sync status is FAILED: one incident per order.
    OrderSync,
    /// The Acumatica connection is NOT_CONNECTED, or the store connection is failing.
    ConnectionLost,
    /// The oldest runnable job of a kind is older than `minutes`.
    JobWaiting,
    /// The X-Cart import has not succeeded for more than `minutes`.
    ImportLagging,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::alerts::rules::SmtpTls")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::alerts::incidents::Event")]
pub enum AlertEvent {
    Opened,
    Reminder,
    Resolved,
    Test,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::alerts::incidents::Delivery")]
pub enum AlertDelivery {
    Pending,
    Retrying,
    Sent,
    Failed,
    Suppressed,
}

#[derive(InputObject)]
pub struct WebhookChannelInput {
    /// An existing channel of the rule, to keep (its secret is kept when `secret` is left out).
    id: Option<i32>,
    url: String,
    /// The HMAC-SHA256 key of `X-Bridge-Signature` (16 to 256 characters). Never returned.
    secret: Option<String>,
}

#[derive(InputObject)]
pub struct EmailChannelInput {
    id: Option<i32>,
    host: String,
    port: i32,
    tls: SmtpTls,
    username: Option<String>,
    /// Never returned; kept when left out for an existing channel with a username.
    password: Option<String>,
    from: String,
    to: Vec<String>,
}

#[derive(InputObject)]
pub struct AlertRuleInput {
    name: String,
    condition: AlertCondition,
    /// For JOB_WAITING and IMPORT_LAGGING: the threshold, more than 0.
    minutes: Option<i32>,
    /// Remind every this many seconds while an incident stays open (left out: never).
    remind_after_seconds: Option<i32>,
    #[graphql(default = true)]
    enabled: bool,
    #[graphql(default)]
    webhooks: Vec<WebhookChannelInput>,
    #[graphql(default)]
    emails: Vec<EmailChannelInput>,
}

fn channel_id(field: String, id: Option<i32>) -> ApiResult<Option<u32>> {
    match id {
        None => Ok(None),
        Some(n) if n > 0 => Ok(Some(n as u32)),
        Some(n) => Err(ApiError::bad_input(
            field,
            format!("is not a channel id: {n}"),
        )),
    }
}

impl AlertRuleInput {
    fn draft(self) -> ApiResult<lib::RuleDraft> {
        let mut webhooks = Vec::new();
        for (i, w) in self.webhooks.into_iter().enumerate() {
            webhooks.push(rules::WebhookDraft {
                id: channel_id(format!("input.webhooks.{i}.id"), w.id)?,
                url: w.url,
                secret: w.secret.map(Secret::new),
            });
        }
        let mut emails = Vec::new();
        for (i, e) in self.emails.into_iter().enumerate() {
            emails.push(rules::EmailDraft {
                id: channel_id(format!("input.emails.{i}.id"), e.id)?,
                host: e.host,
                port: e.port,
                tls: e.tls.into(),
                username: e.username,
                password: e.password.map(Secret::new),
                from: e.from,
                to: e.to,
            });
        }
        Ok(lib::RuleDraft {
            name: self.name,
            condition: self.condition.into(),
            minutes: self.minutes,
            remind_after_seconds: self.remind_after_seconds,
            enabled: self.enabled,
            webhooks,
            emails,
        })
    }
}

/// The newest test alert of a channel and its job.
pub struct AlertTest(rules::TestSend);

#[Object]
impl AlertTest {
    async fn job_id(&self) -> ID {
        ID(self.0.job_id.to_string())
    }
    async fn at(&self) -> DateTime {
        self.0.at.into()
    }
    /// The SEND_ALERT job's status (null once pruned).
    async fn status(&self, ctx: &Context<'_>) -> ApiResult<Option<JobStatus>> {
        Ok(state(ctx)
            .alerts
            .job(self.0.job_id)?
            .map(|j| j.status.into()))
    }
    async fn last_error(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(state(ctx)
            .alerts
            .job(self.0.job_id)?
            .and_then(|j| j.last_error))
    }
}

/// A channel of a rule: a webhook or an e-mail; secrets are never shown.
pub struct AlertChannel(rules::Channel);

#[Object]
impl AlertChannel {
    async fn id(&self) -> i32 {
        self.0.id as i32
    }
    /// "WEBHOOK" or "EMAIL".
    async fn kind(&self) -> &str {
        match self.0.target {
            rules::Target::Webhook(_) => "WEBHOOK",
            rules::Target::Email(_) => "EMAIL",
        }
    }
    async fn url(&self) -> Option<&str> {
        match &self.0.target {
            rules::Target::Webhook(w) => Some(&w.url),
            rules::Target::Email(_) => None,
        }
    }
    /// Whether the webhook has its signing secret (always true once saved).
    async fn has_secret(&self) -> bool {
        matches!(self.0.target, rules::Target::Webhook(_))
    }
    async fn host(&self) -> Option<&str> {
        self.email().map(|e| e.host.as_str())
    }
    async fn port(&self) -> Option<i32> {
        self.email().map(|e| i32::from(e.port))
    }
    async fn tls(&self) -> Option<SmtpTls> {
        self.email().map(|e| e.tls.into())
    }
    async fn username(&self) -> Option<&str> {
        self.email().and_then(|e| e.username.as_deref())
    }
    async fn has_password(&self) -> bool {
        self.email().is_some_and(|e| e.password.is_some())
    }
    async fn from(&self) -> Option<&str> {
        self.email().map(|e| e.from.as_str())
    }
    async fn to(&self) -> Vec<String> {
        self.email().map(|e| e.to.clone()).unwrap_or_default()
    }
    async fn last_test(&self) -> Option<AlertTest> {
        self.0.last_test.clone().map(AlertTest)
    }
}

impl AlertChannel {
    fn email(&self) -> Option<&rules::Email> {
        match &self.0.target {
            rules::Target::Email(e) => Some(e),
            rules::Target::Webhook(_) => None,
        }
    }
}

pub struct AlertRule(lib::Rule);

#[Object]
impl AlertRule {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn condition(&self) -> AlertCondition {
        self.0.condition.into()
    }
    async fn minutes(&self) -> Option<i32> {
        self.0.minutes.map(|m| m as i32)
    }
    async fn remind_after_seconds(&self) -> Option<i32> {
        self.0.remind_after_secs.map(|m| m as i32)
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn channels(&self) -> Vec<AlertChannel> {
        self.0.channels.iter().cloned().map(AlertChannel).collect()
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

#[derive(SimpleObject)]
pub struct AlertNotification {
    event: AlertEvent,
    /// 1 for the opening and the resolve; the reminder's number for a reminder.
    seq: i32,
    channel_id: i32,
    job_id: Option<ID>,
    created_at: DateTime,
    delivery: AlertDelivery,
    attempts: i32,
    sent_at: Option<DateTime>,
    error: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum IncidentState {
    Open,
    Closed,
}

pub struct AlertIncident(incidents::Incident);

#[Object]
impl AlertIncident {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn rule_id(&self) -> ID {
        ID(self.0.rule_id.to_string())
    }
    /// `order:<number>`, `connection:acumatica`, `connection:store`, `jobs:<KIND>` or `import`.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn state(&self) -> IncidentState {
        if self.0.is_open() {
            IncidentState::Open
        } else {
            IncidentState::Closed
        }
    }
    async fn opened_at(&self) -> DateTime {
        self.0.opened_at.into()
    }
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(Into::into)
    }
    async fn reminders(&self) -> i32 {
        self.0.reminders as i32
    }
    /// Opened past the rule's bound of notified openings per minute: nothing was sent.
    async fn suppressed(&self) -> bool {
        self.0.suppressed
    }
    async fn notifications(&self) -> Vec<AlertNotification> {
        self.0
            .notices
            .iter()
            .map(|n| AlertNotification {
                event: n.event.into(),
                seq: n.seq as i32,
                channel_id: n.channel_id as i32,
                job_id: n.job_id.map(|j| ID(j.to_string())),
                created_at: n.created_at.into(),
                delivery: n.delivery.into(),
                attempts: n.attempts as i32,
                sent_at: n.sent_at.map(Into::into),
                error: n.error.clone(),
            })
            .collect()
    }
}

fn rule_id(field: &str, id: &ID) -> ApiResult<u64> {
    id.parse::<u64>().map_err(|_| {
        ApiError::bad_input(
            field,
            format!("\"{}\" is not an alert rule id", id.as_str()),
        )
    })
}

impl From<AlertsError> for ApiError {
    fn from(e: AlertsError) -> Self {
        match e {
            AlertsError::Invalid(f) => f.into(),
            AlertsError::NoRule(_) | AlertsError::NoChannel(..) => {
                ApiError::NotFound(e.to_string())
            }
            AlertsError::Store(e) => e.into(),
            AlertsError::Jobs(e) => e.into(),
        }
    }
}

#[derive(Default)]
pub struct AlertsQuery;

#[Object]
impl AlertsQuery {
    async fn alert_rules(&self, ctx: &Context<'_>) -> ApiResult<Vec<AlertRule>> {
        Ok(state(ctx)
            .alerts
            .rules()?
            .into_iter()
            .map(AlertRule)
            .collect())
    }

    /// Incidents newest first (default 50, at most 500).
    async fn alert_incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "state")] state_is: Option<IncidentState>,
        rule_id: Option<ID>,
        first: Option<i32>,
    ) -> ApiResult<Vec<AlertIncident>> {
        let first = first_of(first)?;
        let rule = rule_id
            .as_ref()
            .map(|id| self::rule_id("ruleId", id))
            .transpose()?;
        let open = state_is.map(|s| s == IncidentState::Open);
        Ok(state(ctx)
            .alerts
            .incidents(open, rule, first)?
            .into_iter()
            .map(AlertIncident)
            .collect())
    }
}

#[derive(Default)]
pub struct AlertsMutation;

#[Object]
impl AlertsMutation {
    /// Creates a rule (no `id`) or replaces one. All or nothing; durable on return.
    async fn save_alert_rule(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: AlertRuleInput,
    ) -> ApiResult<AlertRule> {
        let id = id.as_ref().map(|id| rule_id("id", id)).transpose()?;
        let summary = match id {
            Some(id) => format!("alert rule {id}"),
            None => "a new alert rule".to_owned(),
        };
        let run = async {
            let rule = state(ctx).alerts.save_rule(id, input.draft()?).await?;
            Ok(AlertRule(rule))
        };
        super::audit::audited(ctx, "saveAlertRule", summary, run, |r| {
            format!("rule {}", r.0.id)
        })
        .await
    }

    /// Deletes a rule; its open incidents close without a notification.
    async fn delete_alert_rule(&self, ctx: &Context<'_>, id: ID) -> ApiResult<AlertRule> {
        let id = rule_id("id", &id)?;
        let run = async { Ok(AlertRule(state(ctx).alerts.delete_rule(id).await?)) };
        super::audit::audited(
            ctx,
            "deleteAlertRule",
            format!("alert rule {id}"),
            run,
            |_| String::new(),
        )
        .await
    }

    /// Sends a test alert on one channel of a rule, as a SEND_ALERT job.
    async fn send_test_alert(
        &self,
        ctx: &Context<'_>,
        rule_id: ID,
        channel_id: i32,
    ) -> ApiResult<Job> {
        let rule = self::rule_id("ruleId", &rule_id)?;
        if channel_id < 1 {
            return Err(ApiError::bad_input("channelId", "is not a channel id"));
        }
        let run = async {
            let job = state(ctx).alerts.send_test(rule, channel_id as u32).await?;
            Job::shown(job).ok_or_else(|| ApiError::Internal("SEND_ALERT is not shown".into()))
        };
        let summary = format!("alert rule {rule}, channel {channel_id}");
        super::audit::audited(ctx, "sendTestAlert", summary, run, |j| {
            format!("job {}", j.0.id)
        })
        .await
    }
}
