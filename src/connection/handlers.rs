//! The connection's jobs: CONNECT (sign in, check the endpoint, store the tokens, load the
//! lookups), SIGN_OUT (end the old session at Acumatica, best effort) and REFRESH_LOOKUPS.

use chrono::{Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};

use super::{ConnectPayload, Connection, ends_session, lookups};
use crate::acumatica::{self, Client, ClientConfig, Tokens};
use crate::domain::ErrorClass;
use crate::domain::secret::Secret;
use crate::jobs::{JobContext, Outcome, wake};
use crate::secrets::Sealed;

/// What a SIGN_OUT job carries: where, the old access token, and what revoking the refresh
/// token takes (the refresh token and the client secret), all sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SignOutPayload {
    pub base_url: String,
    pub client_id: String,
    pub username: String,
    pub access_token: Sealed,
    #[serde(default)]
    pub refresh_token: Option<Sealed>,
    #[serde(default)]
    pub client_secret: Option<Sealed>,
}

/// The job outcome for a client error, after its class ([`acumatica::Error::error_class`]):
/// DATA and CONFIGURATION fail at once saying what to fix, a 429 waits as asked, anything
/// else is retried with backoff.
pub fn outcome_of(e: &acumatica::Error) -> Outcome {
    let class = e.error_class();
    if class != ErrorClass::Transient {
        let fix = e.what_to_fix();
        let what = e.to_string();
        let what = what.trim_end_matches(['.', ' ']);
        return Outcome::permanent(class, format!("{what}. To fix: {fix}."));
    }
    match e.retry_after() {
        Some(d) => Outcome::RetryAfter(d, e.to_string()),
        None => Outcome::transient(e),
    }
}

/// Which form of the Base URL the client signed in at, for the connect job's steps.
fn base_url_form(client: &Client) -> String {
    let used = client.base_url();
    match (client.configured_base_url().tenant(), used.tenant()) {
        (Some(_), Some(t)) => format!("at {} (the /t/{t} form)", used.as_str()),
        (Some(t), None) => format!(
            "at the site root {} (the /t/{t} form is not served there)",
            used.as_str()
        ),
        _ => format!("at {}", used.as_str()),
    }
}

impl Connection {
    pub(super) async fn run_connect(&self, ctx: JobContext) -> Outcome {
        let payload: ConnectPayload = match ctx.payload() {
            Ok(p) => p,
            Err(o) => return o,
        };
        let record = match self.record() {
            Ok(r) => r,
            Err(e) => return Outcome::transient(e),
        };
        if record.generation != payload.generation || record.connected {
            return Outcome::config(
                "Superseded: the connection changed after this job was queued.",
            );
        }
        let client = match self.build_client(&record) {
            Ok(c) => c,
            Err(e) => {
                return self
                    .connect_failed(payload.generation, Outcome::config(e))
                    .await;
            }
        };
        ctx.progress(1, Some(4), Some("Requesting an OAuth token".into()));
        let tokens = match client.sign_in().await {
            Ok(t) => t,
            Err(e) => {
                return self
                    .connect_failed(payload.generation, outcome_of(&e))
                    .await;
            }
        };
        let form = base_url_form(&client);
        ctx.progress(
            2,
            Some(4),
            Some(format!("Signed in {form}; checking the API endpoint")),
        );
        if let Err(e) = client.check_endpoint().await {
            return self
                .connect_failed(payload.generation, outcome_of(&e))
                .await;
        }
        ctx.progress(3, Some(4), Some("Storing the OAuth token".into()));
        let v = self.inner.vault.clone();
        let api_base = client.base_url().as_str().to_owned();
        let stored = self
            .update(payload.generation, |r| {
                r.connected = true;
                super::seal_tokens(r, &v, &tokens);
                r.api_base = Some(api_base);
                r.connected_at = Some(Utc::now());
                r.last_error = None;
            })
            .await;
        match stored {
            Ok(true) => {}
            Ok(false) => {
                let _ = client.sign_out().await;
                return Outcome::config("Superseded: the connection changed while this job ran.");
            }
            Err(e) => return Outcome::transient(e),
        }
        super::session::persist_rotations(self.clone(), payload.generation, &client);
        *self.inner.client.lock().await = Some((payload.generation, client.clone()));
        if let Err(e) = self.inner.jobs.wake(wake::CONNECTED).await {
            tracing::error!(error = %e, "cannot wake the jobs waiting for a connection");
        }
        ctx.progress(
            4,
            Some(4),
            Some("Loading classes, tax categories and warehouses".into()),
        );
        if let Err(e) = lookups::refresh(self, &client, |_, _| {}).await {
            // Connected all the same; the lists come with a retried REFRESH_LOOKUPS job.
            tracing::warn!(error = %e, "cannot load the lookups yet");
            let _ = self.refresh_lookups().await;
        }
        ctx.progress(4, Some(4), Some(format!("Connected {form}")));
        Outcome::Done
    }

    /// Records why a CONNECT attempt failed, and passes its outcome on.
    async fn connect_failed(&self, generation: u64, outcome: Outcome) -> Outcome {
        let reason = match &outcome {
            Outcome::Permanent(_, e) | Outcome::Transient(e) | Outcome::RetryAfter(_, e) => {
                e.clone()
            }
            _ => return outcome,
        };
        if let Err(e) = self
            .update(generation, |r| r.last_error = Some(reason))
            .await
        {
            tracing::error!(error = %e, "cannot record the connect error");
        }
        outcome
    }

    pub(super) async fn run_sign_out(&self, ctx: JobContext) -> Outcome {
        let p: SignOutPayload = match ctx.payload() {
            Ok(p) => p,
            Err(o) => return o,
        };
        let vault = &self.inner.vault;
        let open = |what: &str, sealed: Option<&Sealed>| match sealed {
            Some(s) => vault.open_secret(what, s).map(Some),
            None => Ok(None),
        };
        let (token, refresh_token, client_secret) = match (
            open("access_token", Some(&p.access_token)),
            open("refresh_token", p.refresh_token.as_ref()),
            open("client_secret", p.client_secret.as_ref()),
        ) {
            (Ok(Some(t)), Ok(r), Ok(c)) => (t, r, c),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Outcome::config(e),
            (Ok(None), ..) => return Outcome::config("no access token to sign out"),
        };
        let mut config = ClientConfig::new(
            p.base_url,
            p.client_id,
            client_secret.unwrap_or_default(),
            p.username,
            Secret::default(),
        );
        self.apply_settings(&mut config);
        let client = match Client::new(config) {
            Ok(c) => c,
            Err(e) => return outcome_of(&e),
        };
        let now = Utc::now();
        client
            .restore_tokens(Tokens {
                access_token: token,
                refresh_token,
                issued_at: now,
                expires_at: now + ChronoDuration::hours(1),
            })
            .await;
        match client.sign_out().await {
            Ok(()) => Outcome::Done,
            Err(e) => outcome_of(&e),
        }
    }

    pub(super) async fn run_refresh_lookups(&self, ctx: JobContext) -> Outcome {
        let (generation, client) = match self.session().await {
            Ok(s) => (s.generation, s.client),
            Err(e) => return Outcome::not_ready(wake::CONNECTED, e.to_string()),
        };
        ctx.progress(0, Some(6), Some("Reading lists from Acumatica".into()));
        let progress =
            |done: u32, list: &str| ctx.progress(done, Some(6), Some(format!("Read the {list}")));
        match lookups::refresh(self, &client, progress).await {
            Ok(()) => Outcome::Done,
            Err(e) if ends_session(&e) => {
                self.session_ended(generation, &e.to_string()).await;
                Outcome::not_ready(wake::CONNECTED, e.to_string())
            }
            Err(e) => outcome_of(&e),
        }
    }
}
