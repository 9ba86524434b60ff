//! PostgreSQL tests (issue 15) against a real server that the tests start themselves
//! ([`cluster`]): the schema migrations of `src/pg/`, the job queue, the shared rate
//! limiter, leadership (one instance at a time) and the orders store, compared with sled's.

pub mod cluster;

mod leader;
mod limiter;
mod orders;
mod queue;
mod schema;
mod serve;
