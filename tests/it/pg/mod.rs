//! PostgreSQL tests (issue 15) against a real server that the tests start themselves
//! ([`cluster`]): the schema migrations of `src/pg/`, the job queue, the shared rate
//! limiter and leadership (one instance at a time).

pub mod cluster;

mod leader;
mod limiter;
mod queue;
mod schema;
mod serve;
