//! Alerts: rules that watch the bridge (an order sync FAILED, a connection lost, a job kind
//! waiting too long, the import lagging), incidents opened and closed as their condition
//! becomes true and clears, and notifications sent as SEND_ALERT jobs to each rule's channels.
//!
//! - One incident per rule and subject ([`incidents::Incident::subject`]): per order for
//!   ORDER_SYNC, per connection, per job kind, one for the import. It is notified once when it
//!   opens, reminded every `remind_after_secs` while open (if set), and notified "resolved"
//!   when it closes. An order's incident closes when the order is SYNCED (or is no longer
//!   paid and never synced, NOT_SYNCED); a retry that is QUEUED or SYNCING keeps it open, so a
//!   retried order that fails again is still the same incident.
//! - Bound: a rule notifies at most [`MAX_OPENED_PER_MINUTE`] openings a minute; incidents
//!   opened past it are kept and listed but marked suppressed, and nothing is sent about them.
//! - The incident's change and its jobs are written in one sled transaction, so a
//!   notification is never lost nor pushed twice; jobs retry with backoff, one per channel, so
//!   a failing channel holds up neither the others nor any sync.
//! - [`Alerts::watch`] runs the evaluator under `supervise`: on every order change (for
//!   ORDER_SYNC) and on a periodic tick (all rules, and reminders).

pub mod incidents;
pub mod rules;
mod send;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sled::transaction::ConflictableTransactionError;

use crate::connection::Connection;
use crate::domain::FieldError;
use crate::domain::order::SyncStatus;
use crate::jobs::{JobContext, JobKind, JobRecord, Jobs, JobsError, KindSpec, NewJob, Outcome};
use crate::orders::{OrderFilter, Orders};
use crate::secrets::Vault;
use crate::store::{self, Store, StoreError, decode, encode, trees};
use crate::store_import::StoreImport;
use incidents::{Delivery, Event, Incident, Notice, Send, keys};
pub use rules::{ALERTING_SYNC_STATUSES, Condition, Rule, RuleDraft};
pub use send::signature;

/// Openings a rule notifies per minute at most (see the module doc).
pub const MAX_OPENED_PER_MINUTE: usize = 20;
/// Attempts of one notification before it is FAILED.
const SEND_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("no alert rule with id {0}")]
    NoRule(u64),
    #[error("the alert rule {0} has no channel {1}")]
    NoChannel(u64, u32),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
}

impl From<sled::Error> for AlertsError {
    fn from(e: sled::Error) -> Self {
        AlertsError::Store(e.into())
    }
}

type TxError = ConflictableTransactionError<AlertsError>;

/// The alert service. Cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    tree: sled::Tree,
    vault: Vault,
    jobs: Jobs,
    orders: Orders,
    connection: Connection,
    store_import: StoreImport,
    check_every: Duration,
    /// Closed incidents older than this are deleted.
    retention: chrono::Duration,
    /// Serialises evaluation and handler write-backs (single writer of incidents).
    write: tokio::sync::Mutex<()>,
    /// Openings per rule in the last minute, for the bound.
    opened: Mutex<HashMap<u64, VecDeque<DateTime<Utc>>>>,
}

/// How often rules are evaluated, and how long closed incidents are kept.
#[derive(Debug, Clone, Copy)]
pub struct AlertTiming {
    pub check_every: Duration,
    pub incident_retention: chrono::Duration,
}

impl Alerts {
    pub fn open(
        store: &Store,
        vault: Vault,
        jobs: Jobs,
        orders: Orders,
        connection: Connection,
        store_import: StoreImport,
        timing: AlertTiming,
    ) -> store::Result<Alerts> {
        Ok(Alerts {
            inner: Arc::new(Inner {
                store: store.clone(),
                tree: store.raw_tree(trees::ALERTS)?,
                vault,
                jobs,
                orders,
                connection,
                store_import,
                check_every: timing.check_every,
                retention: timing.incident_retention,
                write: tokio::sync::Mutex::new(()),
                opened: Mutex::default(),
            }),
        })
    }

    /// Registers the SEND_ALERT handler and starts the evaluator. Call before the workers start.
    pub fn register(&self) {
        let s = self.clone();
        self.inner.jobs.register(
            KindSpec::new(JobKind::SEND_ALERT)
                .concurrency(4)
                .max_attempts(SEND_ATTEMPTS),
            move |ctx| {
                let s = s.clone();
                async move { s.run_send(ctx).await }
            },
        );
        crate::supervise::spawn("alert evaluator", self.clone(), |s| s.watch());
    }

    // ----- rules -----

    pub fn rules(&self) -> Result<Vec<Rule>, AlertsError> {
        let mut out = Vec::new();
        for kv in self.inner.tree.scan_prefix(keys::RULES) {
            out.push(decode(&kv?.1)?);
        }
        Ok(out)
    }

    pub fn rule(&self, id: u64) -> Result<Rule, AlertsError> {
        match self.inner.tree.get(keys::rule(id))? {
            Some(b) => Ok(decode(&b)?),
            None => Err(AlertsError::NoRule(id)),
        }
    }

    /// Creates (`id` None) or replaces a rule; durable on return.
    pub async fn save_rule(&self, id: Option<u64>, draft: RuleDraft) -> Result<Rule, AlertsError> {
        let _w = self.inner.write.lock().await;
        let current = id.map(|id| self.rule(id)).transpose()?;
        let id = match id {
            Some(id) => id,
            None => self.inner.store.db().generate_id()? + 1,
        };
        let rule = draft.build(id, current.as_ref(), &self.inner.vault, Utc::now())?;
        self.inner.tree.insert(keys::rule(id), encode(&rule))?;
        self.inner.store.flush().await?;
        Ok(rule)
    }

    /// Deletes a rule and closes its open incidents without notifying; durable on return.
    pub async fn delete_rule(&self, id: u64) -> Result<Rule, AlertsError> {
        let _w = self.inner.write.lock().await;
        let rule = self.rule(id)?;
        let now = Utc::now();
        for kv in self.inner.tree.scan_prefix(keys::open_of_rule(id)) {
            let (k, v) = kv?;
            if let Some(b) = self.inner.tree.get(keys::incident(be(&v)))? {
                let mut inc: Incident = decode(&b)?;
                inc.closed_at = Some(now);
                self.inner
                    .tree
                    .insert(keys::incident(inc.id), encode(&inc))?;
            }
            self.inner.tree.remove(k)?;
        }
        self.inner.tree.remove(keys::rule(id))?;
        self.inner.store.flush().await?;
        Ok(rule)
    }

    /// Sends a test alert on one channel, through a SEND_ALERT job like any notification.
    pub async fn send_test(&self, rule_id: u64, channel_id: u32) -> Result<JobRecord, AlertsError> {
        let _w = self.inner.write.lock().await;
        let rule = self.rule(rule_id)?;
        if !rule.channels.iter().any(|c| c.id == channel_id) {
            return Err(AlertsError::NoChannel(rule_id, channel_id));
        }
        let send = Send {
            rule_id,
            channel_id,
            incident_id: None,
            event: Event::Test,
            seq: 0,
        };
        let tree = self.inner.tree.clone();
        let job = self
            .inner
            .jobs
            .push_with(&[&tree], |t, q| {
                let pushed = q.push(&send_job(&send))?;
                let raw = t[0]
                    .get(keys::rule(rule_id))?
                    .ok_or(abort(AlertsError::NoRule(rule_id)))?;
                let mut rule: Rule = decode(&raw).map_err(|e| abort(e.into()))?;
                if let Some(c) = rule.channels.iter_mut().find(|c| c.id == channel_id) {
                    c.last_test = Some(rules::TestSend {
                        job_id: pushed.job.id,
                        at: Utc::now(),
                    });
                }
                t[0].insert(keys::rule(rule_id), encode(&rule))?;
                Ok(pushed.job)
            })
            .await?;
        Ok(job)
    }

    pub fn job(&self, id: u64) -> Result<Option<JobRecord>, AlertsError> {
        Ok(self.inner.jobs.get(id)?)
    }

    // ----- incidents -----

    /// Incidents newest first; `open`: only open (true) or only closed (false) ones.
    pub fn incidents(
        &self,
        open: Option<bool>,
        rule_id: Option<u64>,
        first: usize,
    ) -> Result<Vec<Incident>, AlertsError> {
        let mut out = Vec::new();
        for kv in self.inner.tree.scan_prefix(keys::INCIDENTS).rev() {
            let inc: Incident = decode(&kv?.1)?;
            if open.is_none_or(|o| o == inc.is_open()) && rule_id.is_none_or(|r| r == inc.rule_id) {
                out.push(inc);
                if out.len() == first {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn open_incident_id(&self, rule: u64, subject: &str) -> Result<Option<u64>, AlertsError> {
        Ok(self
            .inner
            .tree
            .get(keys::open(rule, subject))?
            .map(|v| be(&v)))
    }

    /// Opens an incident (unless one is open for the subject) and pushes its notifications.
    async fn open_incident(
        &self,
        rule: &Rule,
        subject: &str,
        summary: String,
    ) -> Result<(), AlertsError> {
        if self.open_incident_id(rule.id, subject)?.is_some() {
            return Ok(());
        }
        let now = Utc::now();
        let suppressed = !self.allow_opening(rule.id, now);
        let id = self.inner.store.db().generate_id()? + 1;
        let tree = self.inner.tree.clone();
        let channels: Vec<u32> = if suppressed {
            vec![]
        } else {
            rule.channels.iter().map(|c| c.id).collect()
        };
        self.inner
            .jobs
            .push_with(&[&tree], |t, q| {
                if t[0].get(keys::open(rule.id, subject))?.is_some() {
                    return Ok(());
                }
                let mut inc = Incident {
                    id,
                    rule_id: rule.id,
                    subject: subject.to_owned(),
                    summary: summary.clone(),
                    opened_at: now,
                    closed_at: None,
                    reminders: 0,
                    last_notice_at: now,
                    suppressed,
                    notices: vec![],
                };
                push_notices(&mut inc, &channels, Event::Opened, 1, q, now)?;
                t[0].insert(keys::incident(id), encode(&inc))?;
                t[0].insert(keys::open(rule.id, subject), &id.to_be_bytes())?;
                Ok(())
            })
            .await?;
        tracing::info!(
            rule = rule.id,
            incident = id,
            subject,
            suppressed,
            "alert incident opened"
        );
        Ok(())
    }

    /// Closes the open incident of the subject, with a "resolved" notification.
    async fn close_incident(&self, rule: &Rule, subject: &str) -> Result<(), AlertsError> {
        let Some(id) = self.open_incident_id(rule.id, subject)? else {
            return Ok(());
        };
        let now = Utc::now();
        let tree = self.inner.tree.clone();
        let channels: Vec<u32> = rule.channels.iter().map(|c| c.id).collect();
        self.inner
            .jobs
            .push_with(&[&tree], |t, q| {
                let Some(raw) = t[0].get(keys::incident(id))? else {
                    return Ok(());
                };
                let mut inc: Incident = decode(&raw).map_err(|e| abort(e.into()))?;
                if !inc.is_open() {
                    return Ok(());
                }
                inc.closed_at = Some(now);
                if !inc.suppressed {
                    push_notices(&mut inc, &channels, Event::Resolved, 1, q, now)?;
                }
                t[0].insert(keys::incident(id), encode(&inc))?;
                t[0].remove(keys::open(rule.id, subject))?;
                Ok(())
            })
            .await?;
        tracing::info!(
            rule = rule.id,
            incident = id,
            subject,
            "alert incident resolved"
        );
        Ok(())
    }

    /// Sends a reminder for open incidents of `rule` whose last notice is old enough.
    async fn remind(&self, rule: &Rule, now: DateTime<Utc>) -> Result<(), AlertsError> {
        let Some(every) = rule.remind_after_secs else {
            return Ok(());
        };
        let due: Vec<u64> = self
            .inner
            .tree
            .scan_prefix(keys::open_of_rule(rule.id))
            .map(|kv| kv.map(|(_, v)| be(&v)))
            .collect::<Result<_, _>>()?;
        let channels: Vec<u32> = rule.channels.iter().map(|c| c.id).collect();
        for id in due {
            let tree = self.inner.tree.clone();
            self.inner
                .jobs
                .push_with(&[&tree], |t, q| {
                    let Some(raw) = t[0].get(keys::incident(id))? else {
                        return Ok(());
                    };
                    let mut inc: Incident = decode(&raw).map_err(|e| abort(e.into()))?;
                    let age = (now - inc.last_notice_at).num_milliseconds();
                    if !inc.is_open() || inc.suppressed || age < i64::from(every) * 1000 {
                        return Ok(());
                    }
                    inc.reminders += 1;
                    inc.last_notice_at = now;
                    let seq = inc.reminders;
                    push_notices(&mut inc, &channels, Event::Reminder, seq, q, now)?;
                    t[0].insert(keys::incident(id), encode(&inc))?;
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    fn allow_opening(&self, rule: u64, now: DateTime<Utc>) -> bool {
        let mut opened = self.inner.opened.lock().expect("opened");
        let window = opened.entry(rule).or_default();
        while window
            .front()
            .is_some_and(|t| now - *t > chrono::Duration::minutes(1))
        {
            window.pop_front();
        }
        if window.len() >= MAX_OPENED_PER_MINUTE {
            return false;
        }
        window.push_back(now);
        true
    }

    // ----- evaluation -----

    /// The evaluator: every rule on each tick, ORDER_SYNC rules on each order change.
    async fn watch(self) {
        let mut orders = self.inner.orders.bus().subscribe();
        let mut tick = tokio::time::interval(self.inner.check_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.check_all().await {
                        tracing::warn!(error = %e, "alert check failed");
                    }
                }
                event = orders.next() => match event {
                    Some(Ok(order)) => {
                        if let Err(e) = self.check_order(&order.data.number, order.sync.status).await {
                            tracing::warn!(error = %e, "alert check of an order failed");
                        }
                    }
                    // Missed events: the next tick looks at every order.
                    Some(Err(_)) => {}
                    None => return,
                },
            }
        }
    }

    fn enabled_rules(&self, condition: Option<Condition>) -> Result<Vec<Rule>, AlertsError> {
        Ok(self
            .rules()?
            .into_iter()
            .filter(|r| r.enabled && condition.is_none_or(|c| c == r.condition))
            .collect())
    }

    async fn check_order(&self, number: &str, status: SyncStatus) -> Result<(), AlertsError> {
        let _w = self.inner.write.lock().await;
        for rule in self.enabled_rules(Some(Condition::OrderSync))? {
            let subject = order_subject(number);
            if ALERTING_SYNC_STATUSES.contains(&status) {
                let summary = self.order_summary(number, status);
                self.open_incident(&rule, &subject, summary).await?;
            } else if order_clears(status) {
                self.close_incident(&rule, &subject).await?;
            }
        }
        Ok(())
    }

    fn order_summary(&self, number: &str, status: SyncStatus) -> String {
        let order = self.inner.orders.get(number).ok().flatten();
        let error = order.and_then(|o| match status {
            SyncStatus::NeedsAttention => o.sync.open_attention().map(|a| a.reason.clone()),
            _ => o.sync.last_error,
        });
        match error {
            Some(e) => format!("order {number} sync {}: {e}", status.as_str()),
            None => format!("order {number} sync {}", status.as_str()),
        }
    }

    /// Evaluates every enabled rule once, sends the reminders that are due, and deletes the
    /// incidents closed longer ago than the retention.
    pub async fn check_all(&self) -> Result<(), AlertsError> {
        let _w = self.inner.write.lock().await;
        let now = Utc::now();
        let pruned = incidents::prune(&self.inner.tree, now - self.inner.retention)?;
        if pruned > 0 {
            tracing::info!(
                pruned,
                "closed alert incidents past their retention deleted"
            );
        }
        let rules = self.enabled_rules(None)?;
        if rules.is_empty() {
            return Ok(());
        }
        for rule in &rules {
            match rule.condition {
                Condition::OrderSync => self.check_orders(rule).await?,
                _ => {
                    let (all, on) = self.subjects(rule, now)?;
                    for subject in all {
                        match on.get(&subject) {
                            Some(summary) => {
                                self.open_incident(rule, &subject, summary.clone()).await?
                            }
                            None => self.close_incident(rule, &subject).await?,
                        }
                    }
                    // Subjects that are gone (a job kind no longer listed) clear too.
                    for subject in self.open_subjects(rule.id)? {
                        if !on.contains_key(&subject) {
                            self.close_incident(rule, &subject).await?;
                        }
                    }
                }
            }
            self.remind(rule, now).await?;
        }
        Ok(())
    }

    async fn check_orders(&self, rule: &Rule) -> Result<(), AlertsError> {
        for &status in ALERTING_SYNC_STATUSES {
            let filter = OrderFilter {
                sync_status: Some(status),
                ..OrderFilter::default()
            };
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .inner
                    .orders
                    .list(500, after.as_deref(), &filter)
                    .map_err(|e| AlertsError::Store(StoreError::Decode(e.to_string())))?;
                for (order, _) in &page.items {
                    let summary = self.order_summary(&order.data.number, status);
                    self.open_incident(rule, &order_subject(&order.data.number), summary)
                        .await?;
                }
                if !page.has_next_page {
                    break;
                }
                after = page.items.last().map(|(_, c)| c.clone());
            }
        }
        for subject in self.open_subjects(rule.id)? {
            let number = subject.strip_prefix("order:").unwrap_or(&subject);
            let status = self
                .inner
                .orders
                .get(number)
                .ok()
                .flatten()
                .map(|o| o.sync.status);
            if status.is_none_or(order_clears) {
                self.close_incident(rule, &subject).await?;
            }
        }
        Ok(())
    }

    fn open_subjects(&self, rule: u64) -> Result<Vec<String>, AlertsError> {
        let prefix = keys::open_of_rule(rule);
        let mut out = Vec::new();
        for kv in self.inner.tree.scan_prefix(&prefix) {
            let (k, _) = kv?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    /// The subjects a non-order rule looks at, and those whose condition holds (with a summary).
    fn subjects(
        &self,
        rule: &Rule,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, BTreeMap<String, String>), AlertsError> {
        let mut on = BTreeMap::new();
        let mut all = Vec::new();
        let limit = f64::from(rule.minutes.unwrap_or(0)) * 60.0;
        match rule.condition {
            Condition::OrderSync => {}
            Condition::ConnectionLost => {
                all.push("connection:acumatica".to_owned());
                all.push("connection:store".to_owned());
                let a = self
                    .inner
                    .connection
                    .record()
                    .map_err(|e| AlertsError::Store(StoreError::Decode(e.to_string())))?;
                // Lost: not connected with a reason (a connect that failed, a session that
                // ended); a connect on its way or a deliberate reset is not an incident.
                if let (false, Some(why)) = (a.connected, a.last_error) {
                    on.insert(all[0].clone(), format!("Acumatica NOT_CONNECTED: {why}"));
                }
                let s = self
                    .inner
                    .store_import
                    .record()
                    .map_err(|e| AlertsError::Store(StoreError::Decode(e.to_string())))?;
                if s.store_url.is_some() && (!s.connected || s.last_error.is_some()) {
                    let why = s.last_error.unwrap_or_else(|| "not connected".into());
                    on.insert(
                        all[1].clone(),
                        format!("X-Cart store connection failing: {why}"),
                    );
                }
            }
            Condition::JobWaiting => {
                let ages = crate::metrics::oldest_runnable(&self.inner.jobs, now)?;
                for kind in JobKind::SHIPPED {
                    let subject = format!("jobs:{kind}");
                    if let Some(age) = ages.get(kind.as_str())
                        && *age > limit
                    {
                        on.insert(
                            subject.clone(),
                            format!(
                                "the oldest runnable {kind} job has waited {} minutes",
                                (*age / 60.0).floor()
                            ),
                        );
                    }
                    all.push(subject);
                }
            }
            Condition::ImportLagging => {
                all.push("import".to_owned());
                let state = self
                    .inner
                    .store_import
                    .import_state()
                    .map_err(|e| AlertsError::Store(StoreError::Decode(e.to_string())))?;
                let lag = state.lag_seconds(now);
                if lag > limit {
                    on.insert(
                        all[0].clone(),
                        format!(
                            "the X-Cart import has not succeeded for {} minutes",
                            (lag / 60.0).floor()
                        ),
                    );
                }
            }
        }
        Ok((all, on))
    }

    // ----- sending -----

    async fn run_send(&self, ctx: JobContext) -> Outcome {
        let send: Send = match ctx.payload() {
            Ok(s) => s,
            Err(o) => return o,
        };
        let rule = match self.rule(send.rule_id) {
            Ok(r) => r,
            Err(AlertsError::NoRule(_)) => return Outcome::config("the alert rule was deleted"),
            Err(e) => return Outcome::transient(e),
        };
        let Some(channel) = rule.channels.iter().find(|c| c.id == send.channel_id) else {
            return Outcome::config("the channel was removed from its rule");
        };
        let incident = match send.incident_id {
            Some(id) => match self.inner.tree.get(keys::incident(id)) {
                Ok(Some(b)) => match decode::<Incident>(&b) {
                    Ok(i) => Some(i),
                    Err(e) => return Outcome::data(e),
                },
                Ok(None) => return Outcome::data("the incident is gone"),
                Err(e) => return Outcome::transient(e),
            },
            None => None,
        };
        let note = send::Notification {
            event: send.event,
            rule: &rule,
            incident: incident.as_ref(),
            delivery: ctx.id(),
            sent_at: Utc::now(),
        };
        let result = match &channel.target {
            rules::Target::Webhook(h) => send::webhook(&self.inner.vault, h, &note).await,
            rules::Target::Email(m) => send::email(&self.inner.vault, m, &note).await,
        };
        let last =
            ctx.attempt() >= ctx.job().max_attempts || result.as_ref().is_err_and(|f| f.permanent);
        if let Some(id) = send.incident_id {
            let _w = self.inner.write.lock().await;
            if let Err(e) = self.note_delivery(id, ctx.id(), ctx.attempt(), &result, last) {
                tracing::warn!(error = %e, incident = id, "cannot record an alert's delivery");
            }
        }
        match result {
            Ok(()) => Outcome::Done,
            Err(f) => {
                tracing::warn!(rule = rule.id, channel = channel.id, error = %f.why, "an alert could not be sent");
                if f.permanent {
                    Outcome::config(f.why)
                } else {
                    Outcome::Transient(f.why)
                }
            }
        }
    }

    fn note_delivery(
        &self,
        incident: u64,
        job: u64,
        attempt: u32,
        result: &Result<(), send::Failure>,
        last: bool,
    ) -> Result<(), AlertsError> {
        let Some(raw) = self.inner.tree.get(keys::incident(incident))? else {
            return Ok(());
        };
        let mut inc: Incident = decode(&raw)?;
        if let Some(n) = inc.notices.iter_mut().find(|n| n.job_id == Some(job)) {
            n.attempts = attempt;
            match result {
                Ok(()) => {
                    n.delivery = Delivery::Sent;
                    n.sent_at = Some(Utc::now());
                    n.error = None;
                }
                Err(e) => {
                    n.delivery = if last {
                        Delivery::Failed
                    } else {
                        Delivery::Retrying
                    };
                    n.error = Some(e.why.clone());
                }
            }
        }
        self.inner
            .tree
            .insert(keys::incident(incident), encode(&inc))?;
        Ok(())
    }
}

/// Pushes one SEND_ALERT job per channel and records the notices (Suppressed when none).
fn push_notices(
    inc: &mut Incident,
    channels: &[u32],
    event: Event,
    seq: u32,
    q: &crate::jobs::JobTx,
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    for &channel_id in channels {
        let send = Send {
            rule_id: inc.rule_id,
            channel_id,
            incident_id: Some(inc.id),
            event,
            seq,
        };
        let pushed = q.push(&send_job(&send))?;
        inc.notices.push(Notice {
            event,
            seq,
            channel_id,
            job_id: Some(pushed.job.id),
            created_at: now,
            delivery: Delivery::Pending,
            attempts: 0,
            sent_at: None,
            error: None,
        });
    }
    Ok(())
}

fn send_job(send: &Send) -> NewJob {
    NewJob::new(
        JobKind::SEND_ALERT,
        serde_json::to_value(send).expect("JSON"),
    )
    .unique(send.unique_key())
}

fn order_subject(number: &str) -> String {
    format!("order:{number}")
}

/// Whether an order's status clears its incident: synced, or back to never synced; a retry
/// on its way (QUEUED, SYNCING) keeps the incident open.
fn order_clears(status: SyncStatus) -> bool {
    !ALERTING_SYNC_STATUSES.contains(&status)
        && !matches!(status, SyncStatus::Queued | SyncStatus::Syncing)
}

fn abort(e: AlertsError) -> TxError {
    ConflictableTransactionError::Abort(e)
}

fn be(v: &[u8]) -> u64 {
    u64::from_be_bytes(v.try_into().unwrap_or([0; 8]))
}
