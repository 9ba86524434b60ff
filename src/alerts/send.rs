//! Delivering one notification: the webhook (a JSON POST signed with HMAC-SHA256 of the raw
//! body under the channel's secret) and the e-mail (SMTP through lettre, rustls). Both
//! answer Ok or the reason in words; the SEND_ALERT handler retries on any error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use sha2::Sha256;

use super::incidents::{Event, Incident};
use super::rules::{
    Condition, Email, Rule, SMTP_PASSWORD_FIELD, SmtpTls, WEBHOOK_SECRET_FIELD, Webhook,
};
use crate::secrets::Vault;

const TIMEOUT: Duration = Duration::from_secs(10);

/// What a notification says.
pub struct Notification<'a> {
    pub event: Event,
    pub rule: &'a Rule,
    pub incident: Option<&'a Incident>,
    pub delivery: u64,
    pub sent_at: DateTime<Utc>,
}

impl Notification<'_> {
    /// The webhook's body (the e-mail says the same in words).
    pub fn body(&self) -> serde_json::Value {
        json!({
            "event": self.event.as_str(),
            "delivery": self.delivery.to_string(),
            "sentAt": self.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "rule": {
                "id": self.rule.id.to_string(),
                "name": self.rule.name,
                "condition": condition_name(self.rule.condition),
            },
            "incident": self.incident.map(|i| json!({
                "id": i.id.to_string(),
                "subject": i.subject,
                "summary": i.summary,
                "openedAt": i.opened_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "closedAt": i.closed_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            })),
        })
    }

    fn subject_line(&self) -> String {
        let what = match self.incident {
            Some(i) => format!("{} — {}", self.rule.name, i.summary),
            None => format!("{} — test alert", self.rule.name),
        };
        format!("[acumatica-bridge] {}: {what}", self.event.as_str())
    }

    fn text(&self) -> String {
        let mut t = String::new();
        match self.incident {
            Some(i) => {
                t.push_str(&format!(
                    "{}\n\nRule: {} ({})\nSubject: {}\nOpened: {}\n",
                    i.summary,
                    self.rule.name,
                    condition_name(self.rule.condition),
                    i.subject,
                    i.opened_at.to_rfc3339()
                ));
                if let Some(c) = i.closed_at {
                    t.push_str(&format!("Resolved: {}\n", c.to_rfc3339()));
                }
            }
            None => t.push_str(&format!(
                "A test alert of the rule \"{}\": this channel works.\n",
                self.rule.name
            )),
        }
        t.push_str(&format!("Delivery: {}\n", self.delivery));
        t
    }
}

pub fn condition_name(c: Condition) -> &'static str {
    match c {
        Condition::OrderSync => "ORDER_SYNC",
        Condition::ConnectionLost => "CONNECTION_LOST",
        Condition::JobWaiting => "JOB_WAITING",
        Condition::ImportLagging => "IMPORT_LAGGING",
    }
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a notification was not delivered, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub why: String,
    /// The receiver refused it for good (a webhook's 4xx other than 408 and 429, an SMTP
    /// 5xx): retrying the same request cannot succeed, the channel needs fixing.
    pub permanent: bool,
}

impl Failure {
    fn transient(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            permanent: false,
        }
    }

    fn permanent(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            permanent: true,
        }
    }
}

/// What a webhook's HTTP status says about the delivery.
fn webhook_answer(status: u16) -> Result<(), Failure> {
    match status {
        200..=299 => Ok(()),
        408 | 425 | 429 => Err(Failure::transient(format!(
            "the webhook answered HTTP {status}"
        ))),
        400..=499 => Err(Failure::permanent(format!(
            "the webhook refused the alert with HTTP {status}; To fix: check the channel's \
             URL and that the receiver accepts the bridge's JSON"
        ))),
        _ => Err(Failure::transient(format!(
            "the webhook answered HTTP {status}"
        ))),
    }
}

/// POSTs the notification; a 2xx answer is delivery.
pub async fn webhook(vault: &Vault, hook: &Webhook, n: &Notification<'_>) -> Result<(), Failure> {
    let secret = vault
        .open_secret(WEBHOOK_SECRET_FIELD, &hook.secret)
        .map_err(|e| Failure::permanent(e.to_string()))?;
    let body = serde_json::to_vec(&n.body()).expect("JSON");
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(
            crate::acumatica::base_url::PublicResolver,
        ))
        .build()
        .map_err(|e| Failure::transient(format!("cannot build the HTTP client: {e}")))?;
    let answer = client
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "acumatica-bridge")
        .header("X-Bridge-Event", n.event.as_str())
        .header("X-Bridge-Delivery", n.delivery.to_string())
        .header("X-Bridge-Timestamp", n.sent_at.timestamp().to_string())
        .header(
            "X-Bridge-Signature",
            signature(secret.expose().as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Failure::transient(format!(
                "the webhook could not be reached: {}",
                without_url(e)
            ))
        })?;
    webhook_answer(answer.status().as_u16())
}

/// reqwest's error text without the URL (which may carry a token in its path).
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Sends the notification as a plain-text e-mail to every recipient.
pub async fn email(vault: &Vault, mail: &Email, n: &Notification<'_>) -> Result<(), Failure> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| Failure::permanent(format!("from: {e}")))?;
    let mut message = Message::builder()
        .from(from)
        .subject(n.subject_line())
        .header(ContentType::TEXT_PLAIN);
    for to in &mail.to {
        message = message.to(to
            .parse()
            .map_err(|e| Failure::permanent(format!("to: {e}")))?);
    }
    let message = message
        .body(n.text())
        .map_err(|e| Failure::permanent(format!("cannot build the e-mail: {e}")))?;
    let tls = match mail.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls => Tls::Required(params(&mail.host)?),
        SmtpTls::Tls => Tls::Wrapper(params(&mail.host)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&mail.host)
        .port(mail.port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    if let (Some(user), Some(sealed)) = (&mail.username, &mail.password) {
        let password = vault
            .open_secret(SMTP_PASSWORD_FIELD, sealed)
            .map_err(|e| Failure::permanent(e.to_string()))?;
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| {
            let why = format!(
                "the SMTP server {}:{} refused or failed: {e}",
                mail.host, mail.port
            );
            // A 5xx reply refuses this message for good (a bad recipient, a refused
            // sender, wrong credentials); 4xx replies and network failures may pass later.
            if e.is_permanent() {
                Failure::permanent(format!(
                    "{why}; To fix: check the channel's sender, recipients and credentials"
                ))
            } else {
                Failure::transient(why)
            }
        })
}

fn params(host: &str) -> Result<TlsParameters, Failure> {
    TlsParameters::new(host.to_owned()).map_err(|e| Failure::permanent(format!("TLS: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_refusal_is_permanent_but_throttling_and_server_errors_are_not() {
        assert_eq!(webhook_answer(204), Ok(()));
        for status in [400, 401, 403, 404, 410, 422] {
            assert!(webhook_answer(status).unwrap_err().permanent, "{status}");
        }
        for status in [408, 425, 429, 500, 502, 503] {
            assert!(!webhook_answer(status).unwrap_err().permanent, "{status}");
        }
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
