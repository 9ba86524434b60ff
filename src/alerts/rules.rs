//! Alert rules as stored: what condition a rule watches, and the channels it notifies
//! (a signed webhook, an SMTP e-mail). Drafts from the API are checked here; secrets arrive
//! in the clear and leave sealed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::FieldError;
use crate::domain::order::SyncStatus;
use crate::domain::secret::Secret;
use crate::secrets::{Sealed, Vault};

/// The order sync statuses that open an incident for rule condition `OrderSync`.
pub const ALERTING_SYNC_STATUSES: &[SyncStatus] = &[SyncStatus::Failed, SyncStatus::NeedsAttention];

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Condition {
    /// An order's sync status is in [`ALERTING_SYNC_STATUSES`]: one incident per order.
    OrderSync,
    /// The Acumatica connection or the store connection is lost: one incident per connection.
    ConnectionLost,
    /// The oldest runnable job of a kind is older than `minutes`: one incident per kind.
    JobWaiting,
    /// The X-Cart import has not succeeded for more than `minutes`.
    ImportLagging,
}

impl Condition {
    pub fn needs_minutes(self) -> bool {
        matches!(self, Condition::JobWaiting | Condition::ImportLagging)
    }
}

/// How an e-mail channel talks to its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SmtpTls {
    /// Plain text (a local relay only).
    None,
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub secret: Sealed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Sealed>,
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Webhook(Webhook),
    Email(Email),
}

/// The outcome of the newest test alert of a channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestSend {
    pub job_id: u64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    /// Unique within its rule, kept across edits.
    pub id: u32,
    pub target: Target,
    pub last_test: Option<TestSend>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub id: u64,
    pub name: String,
    pub condition: Condition,
    pub minutes: Option<u32>,
    /// Remind while an incident stays open, every this many seconds (None: never).
    pub remind_after_secs: Option<u32>,
    pub enabled: bool,
    pub channels: Vec<Channel>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook channel as the operator typed it.
#[derive(Debug, Clone)]
pub struct WebhookDraft {
    /// The channel kept from the rule's current version (its secret is kept when none is given).
    pub id: Option<u32>,
    pub url: String,
    pub secret: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct EmailDraft {
    pub id: Option<u32>,
    pub host: String,
    pub port: i32,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RuleDraft {
    pub name: String,
    pub condition: Condition,
    pub minutes: Option<i32>,
    pub remind_after_seconds: Option<i32>,
    pub enabled: bool,
    pub webhooks: Vec<WebhookDraft>,
    pub emails: Vec<EmailDraft>,
}

/// Longest reminder interval: a week.
const MAX_REMIND_SECS: i32 = 7 * 24 * 3600;
/// Longest `minutes`: a week.
const MAX_MINUTES: i32 = 7 * 24 * 60;
const MAX_CHANNELS: usize = 10;

/// Checks a webhook URL with the rule of the Base URL and the store URL: https (http only
/// for loopback), a host the host rule allows, no credentials.
pub fn check_webhook_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let url = Url::parse(text)
        .map_err(|e| format!("\"{text}\" is not a URL ({e}); expected https://host/path"))?;
    match url.scheme() {
        "https" => {}
        "http" if crate::acumatica::base_url::is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "the webhook URL must use https (http is only allowed for loopback hosts), got \"{text}\""
            ));
        }
        other => {
            return Err(format!(
                "the webhook URL must start with https://, got scheme \"{other}\""
            ));
        }
    }
    if url.host().is_none() {
        return Err(format!("the webhook URL \"{text}\" has no host"));
    }
    crate::acumatica::base_url::check_host(&url, "the webhook URL")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the webhook URL must not contain a user name or password".into());
    }
    Ok(url)
}

/// A plain check of an e-mail address: one `@`, a local part and a dotted domain, no spaces
/// or angle brackets (what SMTP's MAIL/RCPT take).
pub fn check_address(text: &str) -> Result<String, String> {
    let t = text.trim();
    let ok = match t.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && (domain.contains('.') || domain == "localhost")
                && t.len() <= 254
                && t.chars()
                    .all(|c| c.is_ascii_graphic() && !"<>(),;:\\\"[]".contains(c))
        }
        None => false,
    };
    if ok && t.parse::<lettre::Address>().is_ok() {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "\"{t}\" is not an e-mail address such as ops@example.com"
        ))
    }
}

impl RuleDraft {
    /// Checks the draft and builds the rule, sealing new secrets; `current` is the rule
    /// being replaced (its channels' secrets are kept when a channel names its `id`).
    pub fn build(
        self,
        id: u64,
        current: Option<&Rule>,
        vault: &Vault,
        now: DateTime<Utc>,
    ) -> Result<Rule, FieldError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(FieldError::new("input.name", "must be 1 to 100 characters"));
        }
        let minutes = match (self.condition.needs_minutes(), self.minutes) {
            (true, None) => {
                return Err(FieldError::new(
                    "input.minutes",
                    "is required for this condition",
                ));
            }
            (true, Some(n)) if !(1..=MAX_MINUTES).contains(&n) => {
                return Err(FieldError::new(
                    "input.minutes",
                    format!("must be between 1 and {MAX_MINUTES}, got {n}"),
                ));
            }
            (true, Some(n)) => Some(n as u32),
            (false, Some(_)) => {
                return Err(FieldError::new(
                    "input.minutes",
                    "only applies to JOB_WAITING and IMPORT_LAGGING",
                ));
            }
            (false, None) => None,
        };
        let remind_after_secs = match self.remind_after_seconds {
            None => None,
            Some(n) if (1..=MAX_REMIND_SECS).contains(&n) => Some(n as u32),
            Some(n) => {
                return Err(FieldError::new(
                    "input.remindAfterSeconds",
                    format!("must be between 1 and {MAX_REMIND_SECS}, got {n}"),
                ));
            }
        };
        if self.webhooks.len() + self.emails.len() > MAX_CHANNELS {
            return Err(FieldError::new(
                "input",
                format!("at most {MAX_CHANNELS} channels per rule"),
            ));
        }
        let old = |id: Option<u32>| {
            id.and_then(|id| current.and_then(|r| r.channels.iter().find(|c| c.id == id)))
        };
        let mut next_id = current
            .map(|r| r.channels.iter().map(|c| c.id).max().unwrap_or(0))
            .unwrap_or(0);
        let mut channels = Vec::new();
        let mut used = std::collections::BTreeSet::new();
        for (i, w) in self.webhooks.into_iter().enumerate() {
            let field = |f: &str| format!("input.webhooks.{i}.{f}");
            let url = check_webhook_url(&w.url).map_err(|e| FieldError::new(field("url"), e))?;
            let kept = old(w.id).and_then(|c| match &c.target {
                Target::Webhook(h) => Some((c, h)),
                Target::Email(_) => None,
            });
            if w.id.is_some() && kept.is_none() {
                return Err(FieldError::new(
                    field("id"),
                    "names no webhook channel of this rule",
                ));
            }
            let secret = match (&w.secret, kept) {
                (Some(s), _) => {
                    let s = s.expose();
                    if s.len() < 16 || s.len() > 256 || !s.chars().all(|c| c.is_ascii_graphic()) {
                        return Err(FieldError::new(
                            field("secret"),
                            "must be 16 to 256 visible ASCII characters",
                        ));
                    }
                    vault.seal(WEBHOOK_SECRET_FIELD, &Secret::new(s))
                }
                (None, Some((_, h))) => h.secret.clone(),
                (None, None) => {
                    return Err(FieldError::new(
                        field("secret"),
                        "is required for a new webhook",
                    ));
                }
            };
            let channel_id = id_for(kept.map(|(c, _)| c.id), &mut next_id, &mut used, &field)?;
            channels.push(Channel {
                id: channel_id,
                target: Target::Webhook(Webhook {
                    url: url.to_string(),
                    secret,
                }),
                last_test: kept.and_then(|(c, _)| c.last_test.clone()),
            });
        }
        for (i, e) in self.emails.into_iter().enumerate() {
            let field = |f: &str| format!("input.emails.{i}.{f}");
            let host = e.host.trim().to_owned();
            if host.is_empty()
                || host.len() > 253
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            {
                return Err(FieldError::new(
                    field("host"),
                    "must be a host name or IP address",
                ));
            }
            if !(1..=65535).contains(&e.port) {
                return Err(FieldError::new(
                    field("port"),
                    format!("must be between 1 and 65535, got {}", e.port),
                ));
            }
            let from = check_address(&e.from).map_err(|m| FieldError::new(field("from"), m))?;
            if e.to.is_empty() || e.to.len() > 20 {
                return Err(FieldError::new(field("to"), "must list 1 to 20 addresses"));
            }
            let mut to = Vec::new();
            for (j, a) in e.to.iter().enumerate() {
                to.push(
                    check_address(a)
                        .map_err(|m| FieldError::new(format!("input.emails.{i}.to.{j}"), m))?,
                );
            }
            let kept = old(e.id).and_then(|c| match &c.target {
                Target::Email(m) => Some((c, m)),
                Target::Webhook(_) => None,
            });
            if e.id.is_some() && kept.is_none() {
                return Err(FieldError::new(
                    field("id"),
                    "names no e-mail channel of this rule",
                ));
            }
            let username = e
                .username
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty());
            let password = match (&username, &e.password, kept) {
                (None, Some(_), _) => {
                    return Err(FieldError::new(field("password"), "needs a username"));
                }
                (None, None, _) => None,
                (Some(_), Some(p), _) if p.is_empty() => {
                    return Err(FieldError::new(field("password"), "must not be empty"));
                }
                (Some(_), Some(p), _) => Some(vault.seal(SMTP_PASSWORD_FIELD, p)),
                (Some(_), None, Some((_, m))) if m.password.is_some() => m.password.clone(),
                (Some(_), None, _) => {
                    return Err(FieldError::new(
                        field("password"),
                        "is required with a username",
                    ));
                }
            };
            let channel_id = id_for(kept.map(|(c, _)| c.id), &mut next_id, &mut used, &field)?;
            channels.push(Channel {
                id: channel_id,
                target: Target::Email(Email {
                    host,
                    port: e.port as u16,
                    tls: e.tls,
                    username,
                    password,
                    from,
                    to,
                }),
                last_test: kept.and_then(|(c, _)| c.last_test.clone()),
            });
        }
        Ok(Rule {
            id,
            name,
            condition: self.condition,
            minutes,
            remind_after_secs,
            enabled: self.enabled,
            channels,
            created_at: current.map_or(now, |r| r.created_at),
            updated_at: now,
        })
    }
}

/// The vault field names the channel secrets are sealed under.
pub const WEBHOOK_SECRET_FIELD: &str = "alert_webhook_secret";
pub const SMTP_PASSWORD_FIELD: &str = "alert_smtp_password";

fn id_for(
    kept: Option<u32>,
    next: &mut u32,
    used: &mut std::collections::BTreeSet<u32>,
    field: &dyn Fn(&str) -> String,
) -> Result<u32, FieldError> {
    let id = match kept {
        Some(id) => id,
        None => {
            *next += 1;
            *next
        }
    };
    if !used.insert(id) {
        return Err(FieldError::new(
            field("id"),
            "names a channel already listed",
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(check_address("ops@example.com").is_ok());
        assert!(check_address("a@localhost").is_ok());
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "a b@example.com",
            "<a@b.c>",
            "a@b@c.d",
            "ops@.com",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn webhook_urls_follow_the_url_rule() {
        assert!(check_webhook_url("https://hooks.example.com/x").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9/x").is_ok());
        assert!(check_webhook_url("http://hooks.example.com/x").is_err());
        assert!(check_webhook_url("https://10.0.0.1/x").is_err());
        assert!(check_webhook_url("https://u:p@hooks.example.com/x").is_err());
        assert!(check_webhook_url("ftp://hooks.example.com/x").is_err());
    }
}
