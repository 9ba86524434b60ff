//! The X-Cart store connection in the GraphQL API: `storeConnection`, `connectStore`,
//! `resetStoreConnection`, `importOrders` and `storeConnectionUpdates`. No field ever
//! carries the API token.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use futures::{Stream, StreamExt};

use super::connection::ConnectionStatus;
use super::error::{ApiError, ApiResult};
use super::jobs::Job;
use super::scalars::DateTime;
use super::state;
use crate::domain::secret::Secret;
use crate::store_import::{self as lib, StoreView};

/// How the import notices changes (payment status…) of orders it imported before.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum StoreChangeDetection {
    /// The store filters on `lastRenewDate` (X-Cart 5.5.1+).
    LastRenewDate,
    /// The store does not (5.5.0): each import re-reads the orders of the look-back window.
    LookBack,
}

/// What the store's API token may do (X-Cart has a read-only and a read/write token). Learnt
/// from the first shipment write-back: UNKNOWN until then.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TokenAccess {
    ReadOnly,
    ReadWrite,
    Unknown,
}

/// An X-Cart order the import could not turn into a bridge order, and why.
#[derive(SimpleObject)]
pub struct RejectedStoreOrder {
    number: String,
    reason: String,
    at: DateTime,
}

/// The X-Cart store the bridge imports orders from (X-Cart 5.5+ REST API, header
/// X-Auth-Token). The periodic import is not a job: `lastImportAt` and `lastError` tell how
/// it goes; catch-ups (`importOrders`) are IMPORT_ORDERS jobs.
#[derive(SimpleObject)]
pub struct StoreConnection {
    status: ConnectionStatus,
    store_url: Option<String>,
    import_interval_seconds: i32,
    /// End of the last periodic import that succeeded.
    last_import_at: Option<DateTime>,
    /// Why the store is NOT_CONNECTED (a refused token), or why the last import failed.
    last_error: Option<String>,
    connected_at: Option<DateTime>,
    /// Found out on the first import; null until then.
    change_detection: Option<StoreChangeDetection>,
    /// Orders the import skipped because they cannot be bridge orders (newest last).
    rejected_orders: Vec<RejectedStoreOrder>,
    /// What the API token may do: READ_WRITE once the store accepted a shipment write-back,
    /// READ_ONLY once it refused one (403); UNKNOWN after a connect with a new token. Writing
    /// shipments back needs the read/write token.
    token_access: TokenAccess,
}

impl From<StoreView> for StoreConnection {
    fn from(v: StoreView) -> Self {
        StoreConnection {
            status: ConnectionStatus::of(v.connected),
            store_url: v.store_url,
            import_interval_seconds: v.interval_secs as i32,
            last_import_at: v.last_import_at.map(Into::into),
            last_error: v.last_error,
            connected_at: v.connected_at.map(Into::into),
            change_detection: v.change_detection.map(|c| match c {
                lib::ChangeDetection::LastRenewDate => StoreChangeDetection::LastRenewDate,
                lib::ChangeDetection::LookBack => StoreChangeDetection::LookBack,
            }),
            rejected_orders: v
                .rejected
                .into_iter()
                .map(|r| RejectedStoreOrder {
                    number: r.number,
                    reason: r.reason,
                    at: r.at.into(),
                })
                .collect(),
            token_access: match v.token_access {
                lib::TokenAccess::ReadOnly => TokenAccess::ReadOnly,
                lib::TokenAccess::ReadWrite => TokenAccess::ReadWrite,
                lib::TokenAccess::Unknown => TokenAccess::Unknown,
            },
        }
    }
}

#[derive(InputObject)]
pub struct StoreConnectionInput {
    /// e.g. https://shop.example.com (the API lives at <storeUrl>/api); http only for
    /// loopback hosts.
    store_url: String,
    /// An X-Cart API token (Settings → API); read-only is enough for the import, writing
    /// shipments back (writeBackShipments) needs the read/write one.
    api_token: String,
    /// How often new and changed orders are fetched; default 60, from 5 to 86400.
    import_interval_seconds: Option<i32>,
}

#[derive(Default)]
pub struct StoreQuery;

#[Object]
impl StoreQuery {
    async fn store_connection(&self, ctx: &Context<'_>) -> ApiResult<StoreConnection> {
        Ok(state(ctx).store_import.view()?.into())
    }
}

#[derive(Default)]
pub struct StoreMutation;

#[Object]
impl StoreMutation {
    /// Checks the X-Cart store with one request, stores the connection (token encrypted)
    /// and starts the periodic import. Orders placed before come in only through
    /// `importOrders`. A wrong token is BAD_INPUT on `input.apiToken`, a URL that leads to
    /// no X-Cart 5.5+ API is BAD_INPUT on `input.storeUrl`, a store that does not answer is
    /// NOT_CONNECTED; nothing is saved then.
    async fn connect_store(
        &self,
        ctx: &Context<'_>,
        input: StoreConnectionInput,
    ) -> ApiResult<StoreConnection> {
        let summary = format!(
            "store URL {}, import every {} s",
            input.store_url.trim(),
            input
                .import_interval_seconds
                .map_or("(default)".to_string(), |s| s.to_string())
        );
        let input = lib::StoreConnectInput {
            store_url: input.store_url,
            api_token: Secret::new(input.api_token),
            import_interval_seconds: input.import_interval_seconds,
        };
        let run = async { Ok(state(ctx).store_import.connect(input).await?.into()) };
        super::audit::audited(ctx, "connectStore", summary, run, |_| String::new()).await
    }

    /// Stops the import and forgets the X-Cart token; imported orders stay.
    async fn reset_store_connection(&self, ctx: &Context<'_>) -> ApiResult<StoreConnection> {
        let run = async { Ok(state(ctx).store_import.reset().await?.into()) };
        let summary = "the X-Cart store connection";
        super::audit::audited(ctx, "resetStoreConnection", summary, run, |_| String::new()).await
    }

    /// Enqueues an IMPORT_ORDERS job over orders placed in [since, until) (until defaults
    /// to now); its progress shows in `jobUpdates`. NOT_CONNECTED without a store.
    async fn import_orders(
        &self,
        ctx: &Context<'_>,
        since: DateTime,
        until: Option<DateTime>,
    ) -> ApiResult<Job> {
        let since = since.0.get("since")?;
        let until = until.map(|u| u.0.get("until")).transpose()?;
        let summary = format!(
            "orders placed from {}{}",
            since.to_rfc3339(),
            until.map_or(String::new(), |u| format!(" before {}", u.to_rfc3339()))
        );
        let run = async {
            Ok(Job(state(ctx)
                .store_import
                .import_orders(since, until)
                .await?))
        };
        super::audit::audited(ctx, "importOrders", summary, run, |j| {
            format!("job {}", j.0.id)
        })
        .await
    }
}

#[derive(Default)]
pub struct StoreSubscription;

#[Subscription]
impl StoreSubscription {
    /// Every change of the store connection's status, last import or error.
    async fn store_connection_updates(
        &self,
        ctx: &Context<'_>,
    ) -> impl Stream<Item = Result<StoreConnection, ApiError>> + use<> {
        state(ctx).store_import.bus().subscribe().map(|e| {
            e.map(|v| std::sync::Arc::unwrap_or_clone(v).into())
                .map_err(|m| ApiError::Missed(m.0))
        })
    }
}

impl From<lib::StoreImportError> for ApiError {
    fn from(e: lib::StoreImportError) -> Self {
        use lib::StoreImportError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::Unreachable(_) | E::NotConnected(_) => ApiError::NotConnected(e.to_string()),
            E::Store(_) | E::Orders(_) | E::Jobs(_) | E::Secrets(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}
