//! The Acumatica connection in the GraphQL API: `connection`, `lookups`, `connect`,
//! `resetConnection`, `refreshLookups` and `connectionUpdates`. No field ever carries a secret.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};

use super::audit::audited;
use super::error::{ApiError, ApiResult};
use super::jobs::Job;
use super::scalars::DateTime;
use super::state;
use crate::connection::{self as lib, ConnectionView};
use crate::domain::secret::Secret;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ConnectionStatus {
    Connected,
    NotConnected,
}

impl ConnectionStatus {
    pub fn of(connected: bool) -> ConnectionStatus {
        if connected {
            ConnectionStatus::Connected
        } else {
            ConnectionStatus::NotConnected
        }
    }
}

/// The connection to Acumatica. `tenant` is the Base URL's `/t/<tenant>`, else the client
/// ID's `@<tenant>` suffix; `tokenExpiresAt` is the current access token's expiry.
#[derive(SimpleObject)]
pub struct AcumaticaConnection {
    status: ConnectionStatus,
    base_url: Option<String>,
    tenant: Option<String>,
    username: Option<String>,
    client_id: Option<String>,
    endpoint_name: Option<String>,
    endpoint_version: Option<String>,
    connected_at: Option<DateTime>,
    /// Expiry of the current access token.
    token_expires_at: Option<DateTime>,
    last_error: Option<String>,
}

impl From<ConnectionView> for AcumaticaConnection {
    fn from(v: ConnectionView) -> Self {
        AcumaticaConnection {
            status: ConnectionStatus::of(v.connected),
            base_url: v.base_url,
            tenant: v.tenant,
            username: v.username,
            client_id: v.client_id,
            endpoint_name: v.endpoint_name,
            endpoint_version: v.endpoint_version,
            connected_at: v.connected_at.map(Into::into),
            token_expires_at: v.token_expires_at.map(Into::into),
            last_error: v.last_error,
        }
    }
}

#[derive(InputObject)]
pub struct ConnectInput {
    /// `https://host[/path]` or `https://host[/path]/t/<tenant>`; http only for loopback hosts.
    base_url: String,
    username: String,
    password: String,
    /// From Connected Applications (SM303010), e.g. `<GUID>@<tenant>`.
    client_id: String,
    client_secret: String,
    /// e.g. `Default`.
    endpoint_name: String,
    /// e.g. `24.200.001`.
    endpoint_version: String,
}

impl From<ConnectInput> for lib::ConnectInput {
    fn from(i: ConnectInput) -> Self {
        lib::ConnectInput {
            base_url: i.base_url,
            username: i.username,
            password: Secret::new(i.password),
            client_id: i.client_id,
            client_secret: Secret::new(i.client_secret),
            endpoint_name: i.endpoint_name,
            endpoint_version: i.endpoint_version,
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct LookupOption {
    id: String,
    description: Option<String>,
}

/// A list Acumatica refused to give (e.g. 403: a feature switched off), and why.
#[derive(SimpleObject)]
pub struct UnavailableLookup {
    /// The field of AcumaticaLookups, e.g. `subaccounts`.
    list: String,
    reason: String,
}

#[derive(SimpleObject)]
pub struct AcumaticaLookups {
    customer_classes: Vec<LookupOption>,
    item_classes: Vec<LookupOption>,
    /// Posting classes have no entity in the standard endpoints: these are the distinct
    /// PostingClass values of the item classes.
    posting_classes: Vec<LookupOption>,
    subaccounts: Vec<LookupOption>,
    tax_categories: Vec<LookupOption>,
    warehouses: Vec<LookupOption>,
    /// Payment methods used in Accounts Receivable, for the paymentMethod setting.
    payment_methods: Vec<LookupOption>,
    /// The cash accounts those payment methods allow (no entity in the standard endpoints).
    cash_accounts: Vec<LookupOption>,
    refreshed_at: Option<DateTime>,
    /// Lists left empty because Acumatica refused them.
    unavailable: Vec<UnavailableLookup>,
}

fn options(v: Vec<lib::LookupOption>) -> Vec<LookupOption> {
    v.into_iter()
        .map(|o| LookupOption {
            id: o.id,
            description: o.description,
        })
        .collect()
}

impl From<lib::Lookups> for AcumaticaLookups {
    fn from(l: lib::Lookups) -> Self {
        AcumaticaLookups {
            customer_classes: options(l.customer_classes),
            item_classes: options(l.item_classes),
            posting_classes: options(l.posting_classes),
            subaccounts: options(l.subaccounts),
            tax_categories: options(l.tax_categories),
            warehouses: options(l.warehouses),
            payment_methods: options(l.payment_methods),
            cash_accounts: options(l.cash_accounts),
            refreshed_at: l.refreshed_at.map(Into::into),
            unavailable: l
                .unavailable
                .into_iter()
                .map(|(list, reason)| UnavailableLookup { list, reason })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct ConnectionQuery;

#[Object]
impl ConnectionQuery {
    async fn connection(&self, ctx: &Context<'_>) -> ApiResult<AcumaticaConnection> {
        Ok(state(ctx).connection.view()?.into())
    }

    /// The lists read from Acumatica (cached; `refreshLookups` reads them again).
    async fn lookups(&self, ctx: &Context<'_>) -> ApiResult<AcumaticaLookups> {
        Ok(state(ctx).connection.lookups()?.into())
    }
}

#[derive(Default)]
pub struct ConnectionMutation;

#[Object]
impl ConnectionMutation {
    /// Validates the input, stores it (secrets encrypted) and enqueues a CONNECT job.
    /// Refused with CONFLICT while CONNECTED: reset first.
    async fn connect(&self, ctx: &Context<'_>, input: ConnectInput) -> ApiResult<Job> {
        let summary = format!(
            "Base URL {}, user {}, client ID {}, endpoint {} {}",
            input.base_url.trim(),
            input.username.trim(),
            input.client_id.trim(),
            input.endpoint_name.trim(),
            input.endpoint_version.trim()
        );
        let run = async { Ok(Job(state(ctx).connection.connect(input.into()).await?)) };
        audited(ctx, "connect", summary, run, |j| format!("job {}", j.0.id)).await
    }

    /// Forgets the token and credentials at once and enqueues a SIGN_OUT job for the old session.
    async fn reset_connection(&self, ctx: &Context<'_>) -> ApiResult<AcumaticaConnection> {
        let run = async { Ok(state(ctx).connection.reset().await?.into()) };
        audited(
            ctx,
            "resetConnection",
            "the Acumatica connection",
            run,
            |_| String::new(),
        )
        .await
    }

    /// Enqueues a REFRESH_LOOKUPS job (NOT_CONNECTED when there is no connection).
    async fn refresh_lookups(&self, ctx: &Context<'_>) -> ApiResult<Job> {
        let run = async { Ok(Job(state(ctx).connection.refresh_lookups().await?)) };
        audited(
            ctx,
            "refreshLookups",
            "Acumatica's lookup lists",
            run,
            |j| format!("job {}", j.0.id),
        )
        .await
    }
}

#[derive(Default)]
pub struct ConnectionSubscription;

#[Subscription]
impl ConnectionSubscription {
    /// Every change of the connection's status or details.
    async fn connection_updates(
        &self,
        ctx: &Context<'_>,
    ) -> impl Stream<Item = Result<AcumaticaConnection, ApiError>> + use<> {
        state(ctx).connection.bus().subscribe().map(|e| {
            e.map(|v| std::sync::Arc::unwrap_or_clone(v).into())
                .map_err(|m| ApiError::Missed(m.0))
        })
    }
}

impl From<lib::ConnectionError> for ApiError {
    fn from(e: lib::ConnectionError) -> Self {
        use lib::ConnectionError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::AlreadyConnected => ApiError::Conflict(e.to_string()),
            E::NotConnected(_) => ApiError::NotConnected(e.to_string()),
            E::Store(_) | E::Jobs(_) | E::Secrets(_) => ApiError::Internal(e.to_string()),
        }
    }
}
