//! The plain types the bridge talks in: orders, money, settings. They validate when they are
//! parsed from raw input, so code that holds one knows it is well formed. Nothing here does I/O.

pub mod aftercare;
pub mod codes;
pub mod error_class;
pub mod money;
pub mod order;
pub mod raw;
pub mod secret;
pub mod settings;

use std::fmt;

pub use error_class::ErrorClass;

/// A problem with one input field: `field` is a path such as `input.items.2.quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}
