//! The Acumatica connection: connect, status, reset, the live client, and the lookups.
//!
//! `connect` validates the input at once, stores it (password and client secret sealed) and
//! enqueues a CONNECT job; the job signs in, checks the endpoint, stores the tokens (sealed)
//! and loads the lookups. While connected, [`Connection::client`] hands the shared Acumatica
//! client to jobs; a background task renews the tokens before they expire and persists every
//! rotation. `reset` forgets secrets and tokens at once and enqueues a SIGN_OUT job that
//! carries the old token, sealed. Every change is published on [`Connection::bus`].
//!
//! Layering: this sits with the sync logic, above the Acumatica client, the job queue and the
//! store; the GraphQL API calls it.

mod handlers;
mod lookups;
pub mod record;
mod session;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::acumatica::{self, BaseUrl, Client, ClientConfig};
use crate::domain::FieldError;
use crate::domain::secret::Secret;
use crate::events::Bus;
use crate::jobs::{JobKind, JobRecord, Jobs, JobsError, KindSpec, NewJob, Outcome, wake};
use crate::secrets::Vault;
use crate::store::{self, Store, StoreError, Typed, decode, encode, trees};
pub use handlers::outcome_of;
pub use record::{ConnectionRecord, ConnectionView, LookupOption, Lookups};

const KEY: &str = "acumatica";

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("Acumatica is connected: reset the connection first, then connect again")]
    AlreadyConnected,
    #[error("Acumatica is not connected{}", .0.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotConnected(Option<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error("{0}")]
    Secrets(String),
}

impl From<sled::Error> for ConnectionError {
    fn from(e: sled::Error) -> Self {
        ConnectionError::Store(e.into())
    }
}

/// How the bridge talks to an instance (from `serve`'s flags).
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub timeout: Duration,
    pub max_rpm: u32,
    pub max_concurrency: u32,
    /// How long the client holds back after a 429 without Retry-After (doubling).
    pub rate_limit_backoff: Duration,
}

/// What `connect` takes; secrets only pass through, sealed before they are stored.
#[derive(Debug, Clone)]
pub struct ConnectInput {
    pub base_url: String,
    pub username: String,
    pub password: Secret,
    pub client_id: String,
    pub client_secret: Secret,
    pub endpoint_name: String,
    pub endpoint_version: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ConnectPayload {
    generation: u64,
}

/// A live Acumatica session.
pub struct Session {
    pub generation: u64,
    pub client: Client,
}

/// The connection service. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    tree: sled::Tree,
    lookups: Typed<Lookups>,
    vault: Vault,
    jobs: Jobs,
    settings: ClientSettings,
    /// The live client and the generation it belongs to.
    client: Mutex<Option<(u64, Client)>>,
    /// Serialises changes of the record.
    write: Mutex<()>,
    bus: Bus<ConnectionView>,
    /// Wakes the token renewer when the connection changes.
    changed: tokio::sync::Notify,
    probing: std::sync::atomic::AtomicBool,
}

impl Connection {
    pub fn open(
        store: &Store,
        vault: Vault,
        jobs: Jobs,
        settings: ClientSettings,
    ) -> store::Result<Connection> {
        Ok(Connection {
            inner: Arc::new(Inner {
                store: store.clone(),
                tree: store.raw_tree(trees::CONNECTION)?,
                lookups: store.typed(trees::LOOKUPS)?,
                vault,
                jobs,
                settings,
                client: Mutex::new(None),
                write: Mutex::new(()),
                bus: Bus::default(),
                changed: tokio::sync::Notify::new(),
                probing: Default::default(),
            }),
        })
    }

    /// Registers the CONNECT, SIGN_OUT and REFRESH_LOOKUPS handlers and starts the token
    /// renewer. Call before the job workers start.
    pub fn register(&self) {
        let c = self.clone();
        self.inner.jobs.register(
            KindSpec::new(JobKind::CONNECT).max_attempts(3),
            move |ctx| {
                let c = c.clone();
                async move { c.run_connect(ctx).await }
            },
        );
        let c = self.clone();
        self.inner.jobs.register(
            KindSpec::new(JobKind::SIGN_OUT).max_attempts(5),
            move |ctx| {
                let c = c.clone();
                async move { c.run_sign_out(ctx).await }
            },
        );
        let c = self.clone();
        self.inner
            .jobs
            .register(KindSpec::new(JobKind::REFRESH_LOOKUPS), move |ctx| {
                let c = c.clone();
                async move { c.run_refresh_lookups(ctx).await }
            });
        session::spawn_renewer(self.clone());
    }

    /// Changes of the connection, for subscribers.
    pub fn bus(&self) -> &Bus<ConnectionView> {
        &self.inner.bus
    }

    pub fn record(&self) -> Result<ConnectionRecord, ConnectionError> {
        Ok(match self.inner.tree.get(KEY)? {
            Some(b) => decode(&b)?,
            None => ConnectionRecord::default(),
        })
    }

    pub fn view(&self) -> Result<ConnectionView, ConnectionError> {
        Ok((&self.record()?).into())
    }

    pub fn lookups(&self) -> Result<Lookups, ConnectionError> {
        Ok(self.inner.lookups.get(KEY)?.unwrap_or_default())
    }

    /// Validates `input`, stores it and enqueues a CONNECT job; refused while connected.
    pub async fn connect(&self, input: ConnectInput) -> Result<JobRecord, ConnectionError> {
        let details = validate(&input)?;
        let _guard = self.inner.write.lock().await;
        let current = self.record()?;
        if current.connected {
            return Err(ConnectionError::AlreadyConnected);
        }
        let v = &self.inner.vault;
        let next = ConnectionRecord {
            connected: false,
            base_url: Some(details.base_url.as_str().to_owned()),
            tenant: details.tenant,
            username: Some(input.username.trim().to_owned()),
            client_id: Some(input.client_id.trim().to_owned()),
            endpoint_name: Some(input.endpoint_name.trim().to_owned()),
            endpoint_version: Some(input.endpoint_version.trim().to_owned()),
            password: Some(v.seal("password", &input.password)),
            client_secret: Some(v.seal("client_secret", &input.client_secret)),
            generation: current.generation + 1,
            ..ConnectionRecord::default()
        };
        let payload = serde_json::to_value(ConnectPayload {
            generation: next.generation,
        })
        .expect("payload serialises");
        let bytes = encode(&next);
        let pushed = self
            .inner
            .jobs
            .push_with::<_, JobsError>(&[&self.inner.tree], |t, q| {
                t[0].insert(KEY, bytes.clone())?;
                q.push(&NewJob::new(JobKind::CONNECT, payload.clone()))
            })
            .await?;
        *self.inner.client.lock().await = None;
        self.changed(&next);
        Ok(pushed.job)
    }

    /// Forgets tokens, password and client secret at once (durably), keeps the other details
    /// to prefill the form, and enqueues a SIGN_OUT job for the old session.
    pub async fn reset(&self) -> Result<ConnectionView, ConnectionError> {
        let _guard = self.inner.write.lock().await;
        let current = self.record()?;
        let next = ConnectionRecord {
            connected: false,
            base_url: current.base_url.clone(),
            tenant: current.tenant.clone(),
            username: current.username.clone(),
            client_id: current.client_id.clone(),
            endpoint_name: current.endpoint_name.clone(),
            endpoint_version: current.endpoint_version.clone(),
            generation: current.generation + 1,
            ..ConnectionRecord::default()
        };
        let sign_out = current
            .access_token
            .clone()
            .map(|token| handlers::SignOutPayload {
                base_url: current
                    .api_base
                    .clone()
                    .or(current.base_url.clone())
                    .unwrap_or_default(),
                client_id: current.client_id.clone().unwrap_or_default(),
                username: current.username.clone().unwrap_or_default(),
                access_token: token,
                refresh_token: current.refresh_token.clone(),
                client_secret: current.client_secret.clone(),
            });
        let bytes = encode(&next);
        self.inner
            .jobs
            .push_with::<_, JobsError>(&[&self.inner.tree], |t, q| {
                t[0].insert(KEY, bytes.clone())?;
                if let Some(p) = &sign_out {
                    let payload = serde_json::to_value(p).expect("payload serialises");
                    q.push(&NewJob::new(JobKind::SIGN_OUT, payload))?;
                }
                Ok(())
            })
            .await?;
        *self.inner.client.lock().await = None;
        self.changed(&next);
        Ok((&next).into())
    }

    /// Enqueues a REFRESH_LOOKUPS job; refused when not connected.
    pub async fn refresh_lookups(&self) -> Result<JobRecord, ConnectionError> {
        let current = self.record()?;
        if !current.connected {
            return Err(ConnectionError::NotConnected(current.last_error));
        }
        let job =
            NewJob::new(JobKind::REFRESH_LOOKUPS, serde_json::json!({})).unique("refresh-lookups");
        Ok(self.inner.jobs.push(job).await?.job)
    }

    /// The shared client of the current session, or why there is none.
    pub async fn client(&self) -> Result<Client, ConnectionError> {
        Ok(self.session().await?.client)
    }

    /// The current session: its client and the connection generation it belongs to (to say
    /// which session ended, should it end).
    pub async fn session(&self) -> Result<Session, ConnectionError> {
        let record = self.record()?;
        if !record.connected {
            return Err(ConnectionError::NotConnected(record.last_error));
        }
        let mut slot = self.inner.client.lock().await;
        if let Some((generation, client)) = slot.as_ref()
            && *generation == record.generation
        {
            return Ok(Session {
                generation: *generation,
                client: client.clone(),
            });
        }
        let client = self.build_client(&record)?;
        if let (Some(access), Some(issued), Some(expires)) = (
            &record.access_token,
            record.token_issued_at,
            record.token_expires_at,
        ) {
            let open = |field: &str, s: &crate::secrets::Sealed| {
                self.inner
                    .vault
                    .open_secret(field, s)
                    .map_err(|e| ConnectionError::Secrets(e.to_string()))
            };
            let tokens = acumatica::Tokens {
                access_token: open("access_token", access)?,
                refresh_token: record
                    .refresh_token
                    .as_ref()
                    .map(|r| open("refresh_token", r))
                    .transpose()?,
                issued_at: issued,
                expires_at: expires,
            };
            client.restore_tokens(tokens).await;
        }
        session::persist_rotations(self.clone(), record.generation, &client);
        *slot = Some((record.generation, client.clone()));
        Ok(Session {
            generation: record.generation,
            client,
        })
    }

    /// Builds a client from the stored details (secrets opened here, nowhere else).
    fn build_client(&self, record: &ConnectionRecord) -> Result<Client, ConnectionError> {
        let v = &self.inner.vault;
        let open = |field: &str, s: &Option<crate::secrets::Sealed>| match s {
            Some(s) => v
                .open_secret(field, s)
                .map_err(|e| ConnectionError::Secrets(e.to_string())),
            None => Ok(Secret::default()),
        };
        let mut config = ClientConfig::new(
            record
                .api_base
                .clone()
                .or(record.base_url.clone())
                .unwrap_or_default(),
            record.client_id.clone().unwrap_or_default(),
            open("client_secret", &record.client_secret)?,
            record.username.clone().unwrap_or_default(),
            open("password", &record.password)?,
        );
        config.endpoint_name = record.endpoint_name.clone().unwrap_or_default();
        config.endpoint_version = record.endpoint_version.clone().unwrap_or_default();
        self.apply_settings(&mut config);
        Client::new(config).map_err(|e| ConnectionError::NotConnected(Some(e.to_string())))
    }

    fn apply_settings(&self, config: &mut ClientConfig) {
        let s = &self.inner.settings;
        config.timeout = s.timeout;
        config.max_rpm = s.max_rpm;
        config.max_concurrency = s.max_concurrency;
        config.rate_limit_backoff = s.rate_limit_backoff;
    }

    /// Changes the stored record with `f` when it still belongs to `generation`; durable on
    /// return. Returns whether it changed.
    async fn update(
        &self,
        generation: u64,
        f: impl FnOnce(&mut ConnectionRecord),
    ) -> Result<bool, ConnectionError> {
        let _guard = self.inner.write.lock().await;
        let mut record = self.record()?;
        if record.generation != generation {
            return Ok(false);
        }
        let before = record.clone();
        f(&mut record);
        self.inner.tree.insert(KEY, encode(&record))?;
        self.inner.store.flush().await?;
        if ConnectionView::from(&before) != ConnectionView::from(&record) {
            self.changed(&record);
        }
        Ok(true)
    }

    /// The session ended for good (refresh refused, credentials changed): NOT_CONNECTED with
    /// the reason, until the operator connects again.
    pub async fn session_ended(&self, generation: u64, reason: &str) {
        let reason = reason.to_owned();
        let done = self
            .update(generation, |r| {
                r.connected = false;
                r.access_token = None;
                r.refresh_token = None;
                r.last_error = Some(reason);
            })
            .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "cannot record the end of the Acumatica session");
        }
        let mut slot = self.inner.client.lock().await;
        if slot.as_ref().is_some_and(|(g, _)| *g == generation) {
            *slot = None;
        }
    }

    /// The job outcome of a failed request to Acumatica, for every job that writes there: a
    /// session that ended waits for a new connection, an outage waits for Acumatica to answer
    /// again (neither uses up attempts), a write that may have been saved is retried after
    /// `recheck` (the next attempt reads before writing: `then` says how), a 429 waits as
    /// asked, other transient errors back off, DATA and CONFIGURATION fail ([`outcome_of`]).
    pub async fn failure_outcome(
        &self,
        e: &acumatica::Error,
        generation: u64,
        recheck: std::time::Duration,
        then: &str,
    ) -> Outcome {
        if ends_session(e) {
            self.session_ended(generation, &e.to_string()).await;
            return Outcome::not_ready(wake::CONNECTED, e.to_string());
        }
        if e.is_unreachable() {
            self.report_unreachable();
            return Outcome::not_ready(wake::REACHABLE, e.to_string());
        }
        if e.is_ambiguous() {
            return Outcome::RetryAfter(recheck, format!("{e}; it may have been saved: {then}"));
        }
        outcome_of(e)
    }

    /// Called by jobs that found Acumatica unreachable: probes it in the background and
    /// wakes the waiting jobs once it answers again.
    pub fn report_unreachable(&self) {
        session::probe_until_reachable(self.clone());
    }

    fn changed(&self, record: &ConnectionRecord) {
        self.inner.bus.publish(record.into());
        self.inner.changed.notify_waiters();
    }
}

struct Details {
    base_url: BaseUrl,
    tenant: Option<String>,
}

/// Checks a connect input without any request: all fields present, the Base URL's rules,
/// the tenant of the URL against the client ID's suffix, the endpoint's form.
fn validate(input: &ConnectInput) -> Result<Details, FieldError> {
    let required = [
        ("input.baseUrl", input.base_url.as_str()),
        ("input.username", input.username.as_str()),
        ("input.password", input.password.expose()),
        ("input.clientId", input.client_id.as_str()),
        ("input.clientSecret", input.client_secret.expose()),
        ("input.endpointName", input.endpoint_name.as_str()),
        ("input.endpointVersion", input.endpoint_version.as_str()),
    ];
    for (field, value) in required {
        if value.trim().is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
    }
    let base_url =
        BaseUrl::parse(input.base_url.trim()).map_err(|e| FieldError::new("input.baseUrl", e))?;
    base_url
        .check_client_id(input.client_id.trim())
        .map_err(|e| FieldError::new("input.clientId", e))?;
    let name = input.endpoint_name.trim();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(FieldError::new(
            "input.endpointName",
            format!("\"{name}\" is not an endpoint name such as Default"),
        ));
    }
    let version = input.endpoint_version.trim();
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(FieldError::new(
            "input.endpointVersion",
            format!("\"{version}\" is not an endpoint version such as 24.200.001"),
        ));
    }
    let tenant = base_url.tenant().map(str::to_owned).or_else(|| {
        acumatica::base_url::client_id_tenant(input.client_id.trim()).map(str::to_owned)
    });
    Ok(Details { base_url, tenant })
}

/// Stores a session's tokens in `record`, sealed.
fn seal_tokens(record: &mut ConnectionRecord, vault: &Vault, tokens: &acumatica::Tokens) {
    record.access_token = Some(vault.seal("access_token", &tokens.access_token));
    record.refresh_token = tokens
        .refresh_token
        .as_ref()
        .map(|t| vault.seal("refresh_token", t));
    record.token_issued_at = Some(tokens.issued_at);
    record.token_expires_at = Some(tokens.expires_at);
}

/// When the Acumatica session has ended for good, by the error that said so.
pub fn ends_session(e: &acumatica::Error) -> bool {
    use acumatica::{Error, PermanentReason};
    matches!(
        e,
        Error::Permanent {
            reason: PermanentReason::SessionEnded
                | PermanentReason::BadCredentials
                | PermanentReason::Unauthorized,
            ..
        }
    )
}

/// How long after `now` the token of `record` should be renewed, if there is one.
fn renew_in(record: &ConnectionRecord) -> Option<Duration> {
    let (issued, expires) = (record.token_issued_at?, record.token_expires_at?);
    let lifetime = (expires - issued).to_std().ok()?;
    let margin = chrono::Duration::from_std((lifetime / 4).min(Duration::from_secs(60))).ok()?;
    Some(
        (expires - margin - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}
