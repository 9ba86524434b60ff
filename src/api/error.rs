//! GraphQL errors as the contract defines them: every error carries `extensions.code`, and a
//! BAD_INPUT error names the field (`extensions.field`). Internal details are logged, not sent:
//! the client gets "internal error (reference <id>)" and the log line carries the same id.

use async_graphql::ErrorExtensions;

use crate::domain::FieldError;
use crate::jobs::JobsError;
use crate::orders::OrdersError;
use crate::settings::SettingsError;
use crate::store::StoreError;

/// The error of every resolver. Deliberately not `Display`: it must reach clients through
/// the `From` below, which sets the code, never through async-graphql's catch-all conversion.
#[derive(Debug, Clone)]
pub enum ApiError {
    BadInput {
        field: String,
        message: String,
    },
    NotFound(String),
    Conflict(String),
    NotConnected(String),
    /// Unexpected: logged with a reference id, which alone reaches the client.
    Internal(String),
    /// The store takes no writes (a flush failed): code INTERNAL, with the reason.
    Unavailable(String),
    /// A subscriber fell behind and missed this many events.
    Missed(u64),
}

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// How the audit log tells the failure: its code and message (an internal error's
    /// details stay in the log).
    pub fn summary(&self) -> String {
        let code = self.code();
        match self {
            ApiError::BadInput { field, message } => format!("{code}: {field}: {message}"),
            ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::NotConnected(m)
            | ApiError::Unavailable(m) => format!("{code}: {m}"),
            ApiError::Internal(_) | ApiError::Missed(_) => format!("{code}: internal error"),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput { .. } => "BAD_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::NotConnected(_) => "NOT_CONNECTED",
            ApiError::Internal(_) | ApiError::Unavailable(_) | ApiError::Missed(_) => "INTERNAL",
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let code = e.code();
        let (message, field) = match e {
            ApiError::BadInput { field, message } => (format!("{field}: {message}"), Some(field)),
            ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::NotConnected(m)
            | ApiError::Unavailable(m) => (m, None),
            ApiError::Internal(m) => {
                let reference = reference();
                tracing::error!(%reference, error = %m, "internal error");
                (format!("internal error (reference {reference})"), None)
            }
            ApiError::Missed(n) => (crate::events::Missed(n).to_string(), None),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
        })
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::BadInput {
            field: e.field,
            message: e.message,
        }
    }
}

/// A fresh id that ties an internal error's answer to its log line.
fn reference() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unhealthy(why) => ApiError::Unavailable(why),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<OrdersError> for ApiError {
    fn from(e: OrdersError) -> Self {
        match e {
            OrdersError::BadCursor(_) => ApiError::bad_input("after", e.to_string()),
            OrdersError::NotFound(_) => ApiError::NotFound(e.to_string()),
            OrdersError::Store(e) => e.into(),
            OrdersError::Jobs(e) => e.into(),
            OrdersError::Database(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Invalid(f) => f.into(),
            SettingsError::Store(e) => e.into(),
        }
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::NotFound(_) => ApiError::NotFound(e.to_string()),
            JobsError::Conflict(m) => ApiError::Conflict(m),
            JobsError::BadCursor(_) => ApiError::bad_input("after", e.to_string()),
            JobsError::Store(e) => e.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Gives every error that has no `extensions.code` yet (those async-graphql raises itself
/// while parsing and validating a request) the code BAD_INPUT, and the field where it can tell.
pub fn tag_errors(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_INPUT");
            if let Some(field) = field_of(&error.message) {
                ext.set("field", field);
            }
        }
    }
    response
}

/// The argument or variable path named in one of async-graphql's validation messages, such
/// as `Invalid value for argument "input.items.0.quantity", ...`.
fn field_of(message: &str) -> Option<String> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    let name = &message[start..start + len];
    let name = name.trim_start_matches('$');
    (!name.is_empty()).then(|| name.replace('[', ".").replace(']', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let e = async_graphql::Error::from(ApiError::Internal("sled: /data/db is corrupt".into()));
        assert!(
            e.message.starts_with("internal error (reference "),
            "{}",
            e.message
        );
        assert!(!e.message.contains("corrupt"), "{}", e.message);
        let id = e
            .message
            .trim_start_matches("internal error (reference ")
            .trim_end_matches(')');
        assert_eq!(id.len(), 8, "{id}");
        let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
        // Deliberate codes keep their words.
        let e = async_graphql::Error::from(ApiError::bad_input("input.total", "must be at most 1"));
        assert_eq!(e.message, "input.total: must be at most 1");
        let e = async_graphql::Error::from(ApiError::NotConnected("connect first".into()));
        assert_eq!(e.message, "connect first");
    }

    #[test]
    fn field_from_message() {
        assert_eq!(
            field_of(
                r#"Invalid value for argument "input.items[0].quantity", expected type "Int""#
            )
            .as_deref(),
            Some("input.items.0.quantity")
        );
    }
}
