//! PostgreSQL tests (issue 15) against a real server that the tests start themselves
//! ([`cluster`]): the schema migrations of `src/pg/`, the job queue and the shared rate limiter.

pub mod cluster;

mod limiter;
mod queue;
mod schema;
mod serve;
