//! PostgreSQL tests (issue 15) against a real server that the tests start themselves
//! ([`cluster`]): the schema migrations of `src/pg/` and the job queue on PostgreSQL.

pub mod cluster;

mod queue;
mod schema;
