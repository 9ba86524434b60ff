//! acumatica-bridge: keeps an online store's orders flowing into Acumatica ERP as Sales Orders.
//!
//! The crate is layered, and dependencies point one way only (top to bottom):
//!
//! - [`http`] and [`api`]: the axum server and the GraphQL schema that people and programs use;
//! - [`orders`], [`settings`] (and the job queue and sync logic as they arrive): what the bridge does;
//! - [`store_import`]: the X-Cart store connection and the order import (periodic and catch-up);
//! - [`store`] (sled) and [`pg`] (PostgreSQL, in progress), the Acumatica client and the
//!   [`xcart`] client: where data lives and how Acumatica and the store are reached;
//! - [`domain`]: the plain types everything else talks in, validated when they are parsed.
//!
//! [`state`] holds the opened services; [`cli`] and [`app`] tie it together; `main.rs` only calls [`cli::main`].

pub mod acumatica;
pub mod aftercare;
pub mod alerts;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connection;
pub mod demo;
pub mod domain;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod orders;
pub mod paging;
pub mod pg;
pub mod secrets;
pub mod settings;
pub mod shipments;
pub mod sim;
pub mod state;
pub mod store;
pub mod store_import;
pub mod supervise;
pub mod sync;
pub mod telemetry;
pub mod xcart;

/// Installs the TLS crypto provider (ring) that reqwest's rustls uses. Idempotent; call it
/// before building any HTTP client.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
