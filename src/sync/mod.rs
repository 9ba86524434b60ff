//! Order sync: turning store orders into Acumatica Sales Orders, exactly once.
//!
//! `plan` holds the pure decisions (customer identifiers, discount split, fingerprint).

pub mod plan;
