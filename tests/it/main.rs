//! The integration test crate: black-box tests that start the real `acumatica-bridge` binary on a
//! free port and talk HTTP and WebSocket to it. One crate, so the binary and deps build once.

mod common;

mod auth;
mod crash;
mod jobs;
mod jobs_api;
mod orders;
mod restart;
mod schema;
mod settings;
