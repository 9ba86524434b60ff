//! The Acumatica client against the in-process simulator, and the field-name checks against
//! Acumatica's official endpoint schemas.

mod client;
mod schema;
pub mod simulator;
