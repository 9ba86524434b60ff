//! The class of a failure, decided when it happens, that tells an operator what to do about
//! it: fix the data, wait (the bridge retries), or fix the configuration.

use serde::{Deserialize, Serialize};

/// What kind of problem made a job (and its order) fail or wait for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorClass {
    /// The order's data or a record was refused (unknown SKU, validation, 422): fix the data
    /// (in the store or in Acumatica), then retry. Never retried automatically.
    Data,
    /// Network, timeouts, 5xx, 429, locks: retried automatically with backoff.
    Transient,
    /// Credentials, permissions (401/403), missing settings or setup, license: fix the
    /// connection or the settings, then retry. Never retried automatically.
    Configuration,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Data => "DATA",
            ErrorClass::Transient => "TRANSIENT",
            ErrorClass::Configuration => "CONFIGURATION",
        }
    }
}
