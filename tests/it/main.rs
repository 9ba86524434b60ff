//! The integration test crate: one binary for every `tests/it/*` module (one link, fast).

mod acumatica;
