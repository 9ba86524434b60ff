//! The integration test crate: black-box tests that start the real `acumatica-bridge` binary on a
//! free port and talk HTTP and WebSocket to it, and in-process tests of the Acumatica client
//! against the simulator. One crate, so the binary and deps build and link once.

mod common;

mod acumatica;
mod aftercare;
mod alerts;
mod alerts_more;
mod auth;
mod browser;
mod connection;
mod crash;
mod demo;
mod graphql_http;
mod hardening;
mod http_security;
mod jobs;
mod jobs_api;
mod jobs_stress;
mod lifecycle;
mod messages;
mod metrics;
mod money;
mod orders;
mod payments;
mod pg;
mod restart;
mod schema;
mod settings;
mod shipments;
mod sync;
mod sync_ambiguous;
mod sync_faults;
mod triage;
mod xcart;
mod xcart_e2e;
mod xcart_hardening;
