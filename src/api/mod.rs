//! The GraphQL API: one schema for the console, store automation and monitoring.
//!
//! Each area (orders, settings, and the jobs, connection and store parts as they arrive) has
//! its own file with its Query, Mutation and Subscription parts; this module merges them.
//! Resolvers stay thin: they convert input, call the service in [`AppState`], and convert back.

pub mod connection;
pub mod error;
pub mod guard;
pub mod jobs;
pub mod orders;
pub mod scalars;
pub mod settings;
pub mod store;

use async_graphql::SDLExportOptions;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::app::AppState;
use error::{ApiError, ApiResult};

#[derive(MergedObject, Default)]
pub struct Query(
    orders::OrdersQuery,
    settings::SettingsQuery,
    jobs::JobsQuery,
    connection::ConnectionQuery,
    store::StoreQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    orders::OrdersMutation,
    settings::SettingsMutation,
    jobs::JobsMutation,
    connection::ConnectionMutation,
    store::StoreMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    orders::OrdersSubscription,
    jobs::JobsSubscription,
    connection::ConnectionSubscription,
    store::StoreSubscription,
);

pub type BridgeSchema = Schema<Query, Mutation, Subscription>;

/// Depth and complexity limits of every operation.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 5000;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

/// The schema, serving `state`.
pub fn schema(state: AppState) -> BridgeSchema {
    builder()
        .extension(guard::WriteGuard(state.store.clone()))
        .data(state)
        .finish()
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
