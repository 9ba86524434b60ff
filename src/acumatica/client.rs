//! The client: one per Acumatica instance, cheap to clone, shared by every job that talks to
//! that instance. It signs in and keeps tokens fresh, limits its own pace, sends requests and
//! turns answers into typed entities or an [`Error`] the job layer can act on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{CONTENT_LENGTH, HeaderMap, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, RequestBuilder, StatusCode};
use tokio::sync::watch;

use super::auth::{self, Grant, Tokens};
use super::base_url::{BaseUrl, client_id_tenant};
use super::endpoints::Endpoints;
use super::entities::Entity;
use super::error::{self, Error, Op, PermanentReason, TransientReason};
use super::limiter::Limiter;
use super::query::Query;
use super::schema;
use crate::domain::secret::Secret;

mod action;

/// How to reach and sign in to one instance.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://host[/path]` or `https://host[/path]/t/<tenant>`.
    pub base_url: String,
    /// `<GUID>@<tenant>`, from Connected Applications (SM303010).
    pub client_id: String,
    pub client_secret: Secret,
    pub username: String,
    pub password: Secret,
    /// `Default` (the supported one) or `eCommerce`.
    pub endpoint_name: String,
    /// `23.200.001` or `24.200.001`.
    pub endpoint_version: String,
    /// Timeout of one request (RUNNING.md: `--acumatica-timeout-ms`).
    pub timeout: Duration,
    /// Requests per minute (`--acumatica-max-rpm`).
    pub max_rpm: u32,
    /// Requests in flight (`--acumatica-max-concurrency`).
    pub max_concurrency: u32,
    /// How long to hold back after a 429 that has no `Retry-After`; doubles on each retry.
    pub rate_limit_backoff: Duration,
    /// How many times a request answered 429 is tried again before giving up.
    pub rate_limit_retries: u32,
}

impl ClientConfig {
    /// A configuration with RUNNING.md's defaults and the Default/24.200.001 endpoint.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            username: username.into(),
            password: password.into(),
            endpoint_name: "Default".into(),
            endpoint_version: "24.200.001".into(),
            timeout: Duration::from_secs(30),
            max_rpm: 60,
            max_concurrency: 2,
            rate_limit_backoff: Duration::from_secs(5),
            rate_limit_retries: 2,
        }
    }
}

/// The largest answer read (bodies are read as they stream in, and refused beyond this).
pub const MAX_ANSWER_BYTES: usize = 16 << 20;

/// How much of an error answer is kept to explain it (the rest is not read).
const ERROR_BODY_BYTES: usize = 64 << 10;

/// The most pages `list_all` reads before it gives up.
pub const MAX_PAGES: u32 = 200;

/// The longest a `Retry-After` is waited out inside one request; a longer one goes back to the
/// job layer, which schedules the retry.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);

/// How a PUT treats an existing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Insert or update, whichever applies.
    Upsert,
    /// `If-None-Match: *`: insert only; an existing record gives [`Error::AlreadyExists`].
    Insert,
    /// `If-Match: *`: update only; a missing record gives [`Error::NotFound`].
    Update,
}

/// The Acumatica client. Clones share tokens, limiter and connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    /// The Base URL as configured.
    configured: BaseUrl,
    /// The form of the Base URL that works (the site root when the `/t/` form is not served).
    api_base: Mutex<BaseUrl>,
    http: reqwest::Client,
    limiter: Limiter,
    tokens: tokio::sync::Mutex<Option<Tokens>>,
    announce: watch::Sender<Option<Tokens>>,
}

/// An HTTP answer, read to the end.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Client {
    /// Checks the configuration and builds the client (no request is made).
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        crate::init_crypto();
        let base = BaseUrl::parse(&config.base_url).map_err(Error::config)?;
        base.check_client_id(&config.client_id)
            .map_err(Error::config)?;
        for (what, value) in [
            ("client ID", config.client_id.as_str()),
            ("username", config.username.as_str()),
            ("endpoint name", config.endpoint_name.as_str()),
            ("endpoint version", config.endpoint_version.as_str()),
        ] {
            if value.trim().is_empty() {
                return Err(Error::config(format!("the {what} is empty")));
            }
        }
        if !config
            .endpoint_name
            .chars()
            .chain(config.endpoint_version.chars())
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err(Error::config(
                "the endpoint name and version may only hold letters, digits, dots and _",
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(super::base_url::PublicResolver)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("acumatica-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
        let (announce, _) = watch::channel(None);
        Ok(Client {
            inner: Arc::new(Inner {
                limiter: Limiter::new(config.max_rpm, config.max_concurrency),
                api_base: Mutex::new(base.clone()),
                configured: base,
                config,
                http,
                tokens: tokio::sync::Mutex::new(None),
                announce,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The Base URL in use: as configured, or the site root when the `/t/<tenant>` form was
    /// refused (remembered for the client's life).
    pub fn base_url(&self) -> BaseUrl {
        self.inner.api_base.lock().expect("base lock").clone()
    }

    /// The Base URL as configured (see [`Client::base_url`] for the form in use).
    pub fn configured_base_url(&self) -> &BaseUrl {
        &self.inner.configured
    }

    // ---- tokens -------------------------------------------------------------------------

    /// The current tokens, if signed in.
    pub fn tokens(&self) -> Option<Tokens> {
        self.inner.announce.borrow().clone()
    }

    /// A receiver that sees every new set of tokens (after sign-in and each refresh, with the
    /// rotated refresh token) and `None` after sign-out: the owner persists from it.
    pub fn watch_tokens(&self) -> watch::Receiver<Option<Tokens>> {
        self.inner.announce.subscribe()
    }

    /// Starts from stored tokens instead of signing in.
    pub async fn restore_tokens(&self, tokens: Tokens) {
        self.set_tokens(&mut *self.inner.tokens.lock().await, Some(tokens));
    }

    fn set_tokens(&self, slot: &mut Option<Tokens>, tokens: Option<Tokens>) {
        *slot = tokens.clone();
        self.inner.announce.send_replace(tokens);
    }

    /// Signs in with the password grant (also checks the credentials).
    pub async fn sign_in(&self) -> Result<Tokens, Error> {
        let mut slot = self.inner.tokens.lock().await;
        let tokens = self.password_grant().await?;
        self.set_tokens(&mut slot, Some(tokens.clone()));
        Ok(tokens)
    }

    /// Refreshes the tokens now (with the refresh token; with the password when there is none
    /// or it was refused).
    pub async fn refresh(&self) -> Result<Tokens, Error> {
        let mut slot = self.inner.tokens.lock().await;
        let current = slot.clone();
        let tokens = self.renew(current.as_ref()).await?;
        self.set_tokens(&mut slot, Some(tokens.clone()));
        Ok(tokens)
    }

    /// Signs out (ends the session on Acumatica), revokes the refresh token and forgets the
    /// tokens, for a reset. The tokens are forgotten even if Acumatica cannot be told; both
    /// steps are tried, and the first failure is returned.
    pub async fn sign_out(&self) -> Result<(), Error> {
        let mut slot = self.inner.tokens.lock().await;
        let Some(tokens) = slot.clone() else {
            return Ok(());
        };
        self.set_tokens(&mut slot, None);
        drop(slot);
        let logout = self.logout(&tokens.access_token).await;
        let revoke = match &tokens.refresh_token {
            Some(refresh) => self.revoke(refresh).await,
            None => Ok(()),
        };
        logout.and(revoke)
    }

    async fn logout(&self, access_token: &Secret) -> Result<(), Error> {
        let url = self.base_url().join(auth::LOGOUT_PATH);
        let request = self
            .inner
            .http
            .post(url)
            .bearer_auth(access_token.expose())
            .header(CONTENT_LENGTH, "0");
        let answer = self.send(Op::SignOut, request).await?;
        match answer.status {
            s if s.is_success() || s == StatusCode::UNAUTHORIZED => Ok(()),
            s => Err(error::from_response(
                s,
                &answer.headers,
                &answer.body,
                Op::SignOut,
            )),
        }
    }

    /// Revokes a refresh token (RFC 7009, `token_type_hint=refresh_token`). An instance
    /// without the revocation endpoint (404) is told nothing more: logging out is all it has.
    async fn revoke(&self, refresh_token: &Secret) -> Result<(), Error> {
        let c = &self.inner.config;
        let form = auth::revocation_form(refresh_token, &c.client_id, &c.client_secret);
        let request = self
            .inner
            .http
            .post(self.base_url().join(auth::REVOCATION_PATH))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(super::query::encode_pairs(&form));
        let answer = self.send(Op::SignOut, request).await?;
        match answer.status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => {
                tracing::warn!(
                    "Acumatica has no token revocation endpoint; the refresh token stays valid until it expires"
                );
                Ok(())
            }
            s => Err(error::from_response(
                s,
                &answer.headers,
                &answer.body,
                Op::SignOut,
            )),
        }
    }

    /// A valid access token: the current one, or a refreshed one when it is about to expire.
    async fn access_token(&self) -> Result<Secret, Error> {
        let mut slot = self.inner.tokens.lock().await;
        let now = Utc::now();
        match slot.clone() {
            Some(t) if !t.needs_refresh(now) => Ok(t.access_token),
            current => match self.renew(current.as_ref()).await {
                Ok(tokens) => {
                    let access = tokens.access_token.clone();
                    self.set_tokens(&mut slot, Some(tokens));
                    Ok(access)
                }
                // A refresh that failed for a passing reason: the old token still works.
                Err(e)
                    if !e.is_permanent() && current.as_ref().is_some_and(|t| !t.expired(now)) =>
                {
                    tracing::warn!(error = %e, "token refresh failed; using the current token meanwhile");
                    Ok(current.expect("checked").access_token)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// After a 401 with `used`: refresh, unless another request already did.
    async fn renew_after_401(&self, used: &Secret) -> Result<(), Error> {
        let mut slot = self.inner.tokens.lock().await;
        let current = slot.clone();
        if current.as_ref().is_some_and(|t| &t.access_token != used) {
            return Ok(());
        }
        let tokens = self.renew(current.as_ref()).await?;
        self.set_tokens(&mut slot, Some(tokens));
        Ok(())
    }

    /// New tokens: by refresh grant when there is a refresh token; by the password grant only
    /// when Acumatica gave none (no `offline_access`). A refused refresh token (revoked,
    /// expired, already used) ends the session with [`PermanentReason::SessionEnded`]: the
    /// owner decides whether to sign in again, so a revoked session is never silently renewed.
    async fn renew(&self, current: Option<&Tokens>) -> Result<Tokens, Error> {
        if let Some(refresh_token) = current.and_then(|t| t.refresh_token.as_ref()) {
            let renewed = self.token_request(Grant::Refresh { refresh_token }).await;
            crate::metrics::Metrics::global().token_renewal(match &renewed {
                Ok(_) => "ok",
                Err(Error::Permanent { .. }) => "refused",
                Err(_) => "error",
            });
            return match renewed {
                Err(Error::Permanent {
                    reason: PermanentReason::BadCredentials,
                    status,
                    ..
                }) => Err(Error::permanent(
                    PermanentReason::SessionEnded,
                    "Acumatica refused to renew the session: the refresh token was revoked or has expired. \
                     Connect again (reset the connection, then connect).",
                    status,
                )),
                other => other,
            };
        }
        self.password_grant().await
    }

    async fn password_grant(&self) -> Result<Tokens, Error> {
        let c = &self.inner.config;
        self.token_request(Grant::Password {
            username: &c.username,
            password: &c.password,
        })
        .await
    }

    /// Sends a grant to the token endpoint. When the `/t/<tenant>` form is not served there
    /// (a 404, a redirect, an HTML page), tries the site root once (the tenant then comes from
    /// the client ID) and keeps it, for the client's life, if it is served there.
    async fn token_request(&self, grant: Grant<'_>) -> Result<Tokens, Error> {
        let c = &self.inner.config;
        let form = grant.form(&c.client_id, &c.client_secret);
        let base = self.base_url();
        let answer = self.post_form(&base, &form).await?;
        let answer = if not_served(&answer)
            && base.tenant().is_some()
            && client_id_tenant(&c.client_id).is_some()
        {
            let root = base.site_root();
            let retry = self.post_form(&root, &form).await?;
            if !not_served(&retry) {
                tracing::info!(base_url = %root, "the /t/<tenant> form of the Base URL is not served; using the site root");
                *self.inner.api_base.lock().expect("base lock") = root;
            }
            retry
        } else {
            answer
        };
        if !answer.status.is_success() {
            return Err(error::from_response(
                answer.status,
                &answer.headers,
                &answer.body,
                Op::Token,
            ));
        }
        auth::parse_answer(&answer.body, Utc::now())
    }

    async fn post_form(
        &self,
        base: &BaseUrl,
        form: &[(&'static str, String)],
    ) -> Result<Answer, Error> {
        let body = super::query::encode_pairs(form);
        let request = self
            .inner
            .http
            .post(base.join(auth::TOKEN_PATH))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(Op::Token, request).await
    }

    // ---- requests -----------------------------------------------------------------------

    /// Sends one request under the limiter and reads the answer as it streams in: at most
    /// [`MAX_ANSWER_BYTES`] of a success, the start of an error.
    async fn send(&self, op: Op, request: RequestBuilder) -> Result<Answer, Error> {
        let request = request.build().map_err(|e| error::from_transport(&e, op))?;
        let (method, entity) = (request.method().to_string(), entity_of(request.url()));
        let metrics = crate::metrics::Metrics::global();
        let waiting = std::time::Instant::now();
        let _permit = self.inner.limiter.acquire().await;
        metrics.acumatica_limiter_wait(waiting.elapsed());
        let sent = std::time::Instant::now();
        let response = self.inner.http.execute(request).await;
        let status = response.as_ref().ok().map(|r| r.status().as_u16());
        metrics.acumatica_request(&entity, &method, status, sent.elapsed());
        let mut response = response.map_err(|e| error::from_transport(&e, op))?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = if status.is_success() {
            MAX_ANSWER_BYTES
        } else {
            ERROR_BODY_BYTES
        };
        let too_large = |what: String| error::too_large(op, what);
        if status.is_success()
            && let Some(length) = response.content_length()
            && length > limit as u64
        {
            return Err(too_large(format!("{length} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| error::from_transport(&e, op))?
        {
            if body.len() + chunk.len() > limit {
                if !status.is_success() {
                    body.extend_from_slice(&chunk[..limit - body.len()]);
                    break;
                }
                return Err(too_large(format!("more than {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Sends an authenticated request built by `build` against the Base URL in use: refreshes
    /// and retries once after a 401, holds back and retries after a 429.
    async fn call(
        &self,
        op: Op,
        build: impl Fn(&BaseUrl) -> RequestBuilder,
    ) -> Result<Answer, Error> {
        let mut renewed = false;
        let mut rate_retries = 0;
        loop {
            let token = self.access_token().await?;
            let request = build(&self.base_url()).bearer_auth(token.expose());
            let answer = self.send(op, request).await?;
            if answer.status.is_success() {
                return Ok(answer);
            }
            if answer.status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                self.renew_after_401(&token).await?;
                continue;
            }
            let err = error::from_response(answer.status, &answer.headers, &answer.body, op);
            if let Error::Transient {
                reason: TransientReason::RateLimited,
                retry_after,
                ..
            } = &err
            {
                let c = &self.inner.config;
                let wait = retry_after.unwrap_or(c.rate_limit_backoff * 2u32.pow(rate_retries));
                self.inner.limiter.pause_for(wait);
                if rate_retries < c.rate_limit_retries && wait <= MAX_INLINE_WAIT {
                    rate_retries += 1;
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "Acumatica answered 429; holding back"
                    );
                    continue;
                }
            }
            return Err(err);
        }
    }

    fn entity_url(&self, base: &BaseUrl, entity: &str, rest: &str, query: &Query) -> url::Url {
        let c = &self.inner.config;
        let mut url = base.join(&format!(
            "entity/{}/{}/{entity}{rest}",
            c.endpoint_name, c.endpoint_version
        ));
        let q = query.encode();
        url.set_query((!q.is_empty()).then_some(q.as_str()));
        url
    }

    /// Refuses, before sending, a `$select` or `$expand` path that the configured endpoint and
    /// version do not have (Acumatica would answer 500): field lists differ between endpoints
    /// and versions. Versions the schema fixture does not cover are not checked.
    fn check_fields<E: Entity>(&self, query: &Query) -> Result<(), Error> {
        let c = &self.inner.config;
        if !schema::VERSIONS.contains(&c.endpoint_version.as_str()) {
            return Ok(());
        }
        let paths = query.select.iter().chain(&query.expand).copied();
        match schema::unknown_path(&c.endpoint_name, &c.endpoint_version, E::NAME, paths) {
            Some(path) => Err(Error::permanent(
                PermanentReason::UnknownField,
                format!(
                    "{} has no field {path} in the {} {} endpoint",
                    E::NAME,
                    c.endpoint_name,
                    c.endpoint_version
                ),
                None,
            )),
            None => Ok(()),
        }
    }

    /// `GET <Base URL>/entity`: the endpoints the instance offers.
    pub async fn discover_endpoints(&self) -> Result<Endpoints, Error> {
        let answer = self
            .call(Op::Read, |base| self.inner.http.get(base.join("entity")))
            .await?;
        Endpoints::parse(&answer.body)
    }

    /// Checks that the configured endpoint name and version exist on the instance.
    pub async fn check_endpoint(&self) -> Result<Endpoints, Error> {
        let endpoints = self.discover_endpoints().await?;
        let c = &self.inner.config;
        endpoints.check(&c.endpoint_name, &c.endpoint_version)?;
        Ok(endpoints)
    }

    /// `GET /{Entity}/{key1}/{key2}`: one record by its key fields (in [`Entity::KEYS`] order).
    pub async fn get<E: Entity>(&self, keys: &[&str], query: &Query) -> Result<E, Error> {
        if keys.is_empty() || keys.len() > E::KEYS.len() {
            return Err(Error::config(format!(
                "{} takes {} key value(s), got {}",
                E::NAME,
                E::KEYS.len(),
                keys.len()
            )));
        }
        let mut rest = String::new();
        for key in keys {
            if key.is_empty() || key.contains('/') {
                return Err(Error::config(format!(
                    "the key \"{key}\" cannot go in a URL (empty or containing /); look the record up by id or $filter"
                )));
            }
            rest.push('/');
            rest.push_str(&super::query::encode(key));
        }
        self.get_at(&rest, query).await
    }

    /// `GET /{Entity}/{id}`: one record by its GUID.
    pub async fn get_by_id<E: Entity>(&self, id: &str, query: &Query) -> Result<E, Error> {
        if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') || id.is_empty() {
            return Err(Error::config(format!(
                "\"{id}\" is not a record id (a GUID)"
            )));
        }
        self.get_at(&format!("/{id}"), query).await
    }

    async fn get_at<E: Entity>(&self, rest: &str, query: &Query) -> Result<E, Error> {
        self.check_fields::<E>(query)?;
        let answer = self
            .call(Op::Read, |base| {
                self.inner
                    .http
                    .get(self.entity_url(base, E::NAME, rest, query))
            })
            .await?;
        decode(&answer.body, Op::Read)
    }

    /// `GET /{Entity}?$filter&$select&$expand&$top&$skip`: one page of records.
    pub async fn list<E: Entity>(&self, query: &Query) -> Result<Vec<E>, Error> {
        decode(&self.list_body::<E>(query).await?, Op::Read)
    }

    async fn list_body<E: Entity>(&self, query: &Query) -> Result<Vec<u8>, Error> {
        self.check_fields::<E>(query)?;
        let answer = self
            .call(Op::Read, |base| {
                self.inner
                    .http
                    .get(self.entity_url(base, E::NAME, "", query))
            })
            .await?;
        Ok(answer.body)
    }

    /// Every record the query matches, `page_size` at a time (`$top`/`$skip`), stopping at the
    /// first short page (Acumatica gives no total count). A server that answers the same page
    /// again (it ignores `$skip`), or more than [`MAX_PAGES`] pages, is an error.
    pub async fn list_all<E: Entity>(
        &self,
        query: &Query,
        page_size: u32,
    ) -> Result<Vec<E>, Error> {
        let page_size = page_size.max(1);
        let mut out = Vec::new();
        let mut skip = query.skip.unwrap_or(0);
        let mut previous: Option<Vec<u8>> = None;
        for _ in 0..MAX_PAGES {
            let page_query = query.clone().top(page_size).skip(skip);
            let body = self.list_body::<E>(&page_query).await?;
            if previous.as_ref() == Some(&body) {
                return Err(Error::permanent(
                    PermanentReason::Protocol,
                    format!(
                        "Acumatica answered the same page of {} twice (it ignores $skip); stopped after {} records",
                        E::NAME,
                        out.len()
                    ),
                    Some(200),
                ));
            }
            let page: Vec<E> = decode(&body, Op::Read)?;
            let n = page.len() as u32;
            out.extend(page);
            if n < page_size {
                return Ok(out);
            }
            skip += n;
            previous = Some(body);
        }
        Err(Error::permanent(
            PermanentReason::Protocol,
            format!(
                "{} has more than {MAX_PAGES} pages of {page_size}: stopped after {} records",
                E::NAME,
                out.len()
            ),
            Some(200),
        ))
    }

    /// `PUT /{Entity}`: creates or updates a record (see [`PutMode`]) and returns it as saved,
    /// with what `query` selects and expands.
    pub async fn put<E: Entity>(
        &self,
        entity: &E,
        mode: PutMode,
        query: &Query,
    ) -> Result<E, Error> {
        self.check_fields::<E>(query)?;
        let body = serde_json::to_vec(entity)
            .map_err(|e| Error::config(format!("cannot encode {}: {e}", E::NAME)))?;
        let op = Op::Write {
            insert_only: mode == PutMode::Insert,
            update_only: mode == PutMode::Update,
        };
        let answer = self
            .call(op, |base| {
                let mut r = self
                    .inner
                    .http
                    .request(Method::PUT, self.entity_url(base, E::NAME, "", query))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                match mode {
                    PutMode::Upsert => {}
                    PutMode::Insert => r = r.header(IF_NONE_MATCH, "*"),
                    PutMode::Update => r = r.header(IF_MATCH, "*"),
                }
                r
            })
            .await?;
        decode(&answer.body, op)
    }
}

/// True when the token endpoint is not served at that form of the Base URL: a 404, a
/// redirect or an HTML page (but not the "API Login Limit" answer, in any of its forms).
fn not_served(answer: &Answer) -> bool {
    let html = answer
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    let login_limit = matches!(
        error::from_response(answer.status, &answer.headers, &answer.body, Op::Token),
        Error::Transient {
            reason: TransientReason::LoginLimit,
            ..
        }
    );
    !login_limit
        && (answer.status == StatusCode::NOT_FOUND || answer.status.is_redirection() || html)
}

/// Reads a 2xx body. After a write, an unreadable answer still means the write was made, so
/// it is reported as ambiguous rather than permanent.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8], op: Op) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| match op {
        Op::Write { .. } => Error::Transient {
            reason: TransientReason::ConnectionLost,
            message: format!("Acumatica saved the record but its answer could not be read: {e}"),
            retry_after: None,
            ambiguous: true,
        },
        _ => Error::permanent(
            PermanentReason::Protocol,
            format!("Acumatica's answer could not be read: {e}"),
            Some(200),
        ),
    })
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url())
            .field("client_id", &self.inner.config.client_id)
            .field("endpoint", &self.inner.config.endpoint_name)
            .field("version", &self.inner.config.endpoint_version)
            .finish_non_exhaustive()
    }
}

/// What a request is about, for the metrics: the entity of `…/entity/<endpoint>/<version>/<Entity>…`,
/// `endpoints` for the endpoint list, else the path's last part (`token`, `logout`, `revocation`).
fn entity_of(url: &url::Url) -> String {
    let parts: Vec<&str> = url.path_segments().map(|p| p.collect()).unwrap_or_default();
    match parts.iter().position(|p| *p == "entity") {
        Some(i) if parts.len() > i + 3 => parts[i + 3].to_string(),
        Some(i) if parts.len() == i + 1 || parts.get(i + 1) == Some(&"") => "endpoints".into(),
        _ => parts
            .iter()
            .rev()
            .find(|p| !p.is_empty())
            .unwrap_or(&"")
            .to_string(),
    }
}
