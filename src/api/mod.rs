//! The GraphQL API: one schema for the console, store automation and monitoring.
//!
//! Each area (orders, settings, and the jobs, connection and store parts as they arrive) has
//! its own file with its Query, Mutation and Subscription parts; this module merges them.
//! Resolvers stay thin: they convert input, call the service in [`AppState`], and convert back.

pub mod aftercare;
pub mod alerts;
pub mod audit;
pub mod connection;
pub mod error;
pub mod guard;
pub mod jobs;
mod limits;
pub mod orders;
mod page_info;
pub mod scalars;
pub mod settings;
pub mod shipments;
pub mod store;

use async_graphql::SDLExportOptions;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::state::AppState;
use error::{ApiError, ApiResult};

#[derive(MergedObject, Default)]
pub struct Query(
    orders::OrdersQuery,
    settings::SettingsQuery,
    jobs::JobsQuery,
    connection::ConnectionQuery,
    store::StoreQuery,
    alerts::AlertsQuery,
    audit::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    orders::OrdersMutation,
    settings::SettingsMutation,
    jobs::JobsMutation,
    connection::ConnectionMutation,
    store::StoreMutation,
    alerts::AlertsMutation,
    aftercare::AftercareMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    orders::OrdersSubscription,
    jobs::JobsSubscription,
    connection::ConnectionSubscription,
    store::StoreSubscription,
);

pub type BridgeSchema = Schema<Query, Mutation, Subscription>;

pub use limits::{MAX_COMPLEXITY, MAX_DEPTH};

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .extension(limits::Limits)
}

/// The schema, serving `state`.
pub fn schema(state: AppState) -> BridgeSchema {
    builder()
        .extension(guard::WriteGuard(state.store.clone()))
        .data(state)
        .finish()
}

/// A request's answer, and whether it reached execution (when not, its errors are request
/// errors: the document did not parse or validate, or its variables did not coerce).
pub struct Answer {
    pub response: async_graphql::Response,
    pub executed: bool,
}

/// Runs one request (query or mutation) and gives every error its `extensions.code`.
pub async fn run(schema: &BridgeSchema, request: async_graphql::Request) -> Answer {
    let executed = std::sync::Arc::new(limits::Executed::default());
    let response = schema.execute(request.data(executed.clone())).await;
    Answer {
        response: error::tag_errors(response),
        executed: executed.get(),
    }
}

/// The SDL of the schema, sorted so that `schema.graphql` diffs stay stable.
pub fn sdl() -> String {
    builder().finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// Checks a list's `first` argument: default 50, between 1 and 500.
pub(crate) fn first_of(first: Option<i32>) -> ApiResult<usize> {
    match first {
        None => Ok(crate::paging::DEFAULT_PAGE),
        Some(n) if n >= 1 && n as usize <= crate::paging::MAX_PAGE => Ok(n as usize),
        Some(n) => Err(ApiError::bad_input(
            "first",
            format!("must be between 1 and {}, got {n}", crate::paging::MAX_PAGE),
        )),
    }
}
