//! What can go wrong talking to Acumatica, as one enum the job layer acts on:
//!
//! - [`Error::Transient`]: try again later (timeouts, 5xx other than known business errors, 429,
//!   "API Login Limit" in any form). [`Error::is_ambiguous`] says whether a failed write may
//!   still have been committed, so order sync looks the order up before writing again;
//! - [`Error::Unreachable`]: no connection at all (refused, DNS, TLS); jobs wait out the outage
//!   without using up attempts. Nothing was sent, so nothing was applied;
//! - [`Error::Permanent`]: retrying cannot help (422 with its field errors, 400, 403, bad
//!   credentials, missing setup, unknown tenant, bad `$select` field, a missing endpoint);
//! - [`Error::NotFound`] (Acumatica's 500 "No entity satisfies the condition", or a 412 on an
//!   update-only PUT) and [`Error::AlreadyExists`] (a 412 on a create-only PUT, or the 500
//!   OutcomeEntityHasErrors after a repeated PUT): outcomes the caller usually expects.
//!
//! Messages never contain secrets: they come from Acumatica's error bodies and from transport
//! errors, neither of which carries a password or token.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use serde_json::Value;

use crate::domain::{ErrorClass, FieldError};

/// Why a transient error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientReason {
    /// No answer in time (after the request may have been sent).
    Timeout,
    /// The connection broke after the request was sent, or the answer was cut short.
    ConnectionLost,
    /// 429: the license's request limit.
    RateLimited,
    /// "API Login Limit": the license's session limit, whatever the status code.
    LoginLimit,
    /// A 5xx that is not one of Acumatica's known business errors.
    Server,
}

/// Why a permanent error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentReason {
    /// The client's own configuration (Base URL, tenant, field names) is wrong.
    Config,
    /// `invalid_grant` or `invalid_client`, or a login refused for its credentials.
    BadCredentials,
    /// 401 even after a fresh token.
    Unauthorized,
    /// The refresh token was refused (revoked or expired): the session cannot be renewed
    /// without signing in again.
    SessionEnded,
    /// 403: no rights to the form, or the feature is switched off.
    Forbidden,
    /// 400 or 422: the request or the record was refused; see the field errors.
    Invalid,
    /// 500 PXSetupNotEnteredException: a form must be set up first.
    SetupNotEntered,
    /// 500 PXUndefinedCompanyException: the tenant does not exist.
    UndefinedCompany,
    /// 500 KeyNotFoundException: a `$select` or `$expand` names an unknown field.
    UnknownField,
    /// The configured endpoint name and version are not offered by the instance.
    EndpointMissing,
    /// An answer that makes no sense for the request (a redirect, a 404, an unreadable body).
    Protocol,
}

/// The one error type of the Acumatica client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Transient {
        reason: TransientReason,
        message: String,
        /// How long Acumatica asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
        /// Only for writes: the request may have reached Acumatica and been committed.
        ambiguous: bool,
    },
    #[error("Acumatica cannot be reached: {message}")]
    Unreachable { message: String },
    #[error("{message}")]
    Permanent {
        reason: PermanentReason,
        message: String,
        status: Option<u16>,
        /// Field errors of a 422 (paths such as `CustomerID` or `Details/0/InventoryID`), or
        /// the model-state errors of a 400.
        field_errors: Vec<FieldError>,
    },
    #[error("Not found in Acumatica: {message}")]
    NotFound { message: String },
    #[error("Already exists in Acumatica: {message}")]
    AlreadyExists { message: String },
}

/// What the job layer does with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Transient,
    Unreachable,
    Permanent,
    NotFound,
    AlreadyExists,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Transient { .. } => ErrorKind::Transient,
            Error::Unreachable { .. } => ErrorKind::Unreachable,
            Error::Permanent { .. } => ErrorKind::Permanent,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        }
    }

    /// The operator's class of this failure (the one policy for sync and connection jobs):
    /// TRANSIENT is retried automatically, DATA and CONFIGURATION fail at once.
    pub fn error_class(&self) -> ErrorClass {
        use PermanentReason as R;
        match self {
            Error::Transient { .. } | Error::Unreachable { .. } => ErrorClass::Transient,
            Error::NotFound { .. } | Error::AlreadyExists { .. } => ErrorClass::Data,
            Error::Permanent {
                reason,
                field_errors,
                ..
            } => match reason {
                // Refused only for values the sync settings give (order type, warehouse,
                // classes, tax category): the settings are wrong, not the order.
                R::Invalid
                    if !field_errors.is_empty()
                        && field_errors.iter().all(|f| is_setting_field(&f.field)) =>
                {
                    ErrorClass::Configuration
                }
                R::Invalid => ErrorClass::Data,
                R::Config
                | R::BadCredentials
                | R::Unauthorized
                | R::SessionEnded
                | R::Forbidden
                | R::SetupNotEntered
                | R::UndefinedCompany
                | R::UnknownField
                | R::EndpointMissing
                | R::Protocol => ErrorClass::Configuration,
            },
        }
    }

    /// What an operator should do about a failure that is not retried automatically.
    pub fn what_to_fix(&self) -> &'static str {
        use PermanentReason as R;
        match self {
            Error::Transient { .. } | Error::Unreachable { .. } => "",
            Error::NotFound { .. } | Error::AlreadyExists { .. } => {
                "check the record in Acumatica, then retry the job"
            }
            Error::Permanent { reason, .. } => match reason {
                R::Invalid if self.error_class() == ErrorClass::Configuration => {
                    "check the sync settings named (order type, warehouse, classes, tax category) on the Settings page, then retry the job"
                }
                R::Invalid => {
                    "correct the fields named (in the store order or in Acumatica), then retry the job"
                }
                R::BadCredentials | R::Unauthorized | R::SessionEnded => {
                    "check the username, password, client ID and secret on the Connection page and connect again"
                }
                R::Forbidden => {
                    "give the API user rights on the form (or turn the feature on) in Acumatica, then retry"
                }
                R::SetupNotEntered => "complete the form's setup in Acumatica, then retry",
                R::UndefinedCompany => "check the tenant in the Base URL on the Connection page",
                R::UnknownField | R::EndpointMissing => {
                    "check the endpoint name and version on the Connection page"
                }
                R::Config | R::Protocol => {
                    "check the Base URL and the settings on the Connection page"
                }
            },
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    pub fn is_permanent(&self) -> bool {
        self.kind() == ErrorKind::Permanent
    }

    pub fn is_unreachable(&self) -> bool {
        self.kind() == ErrorKind::Unreachable
    }

    /// True when a failed write may nevertheless have been applied (timeout after sending, a
    /// connection dropped mid-answer, any 5xx but Acumatica's known business errors): look
    /// the record up before writing again. False means the write was definitely not applied.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            Error::Transient {
                ambiguous: true,
                ..
            }
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Permanent { field_errors, .. } => field_errors,
            _ => &[],
        }
    }

    /// The HTTP status of a permanent error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Permanent { status, .. } => *status,
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::permanent(PermanentReason::Config, message, None)
    }

    pub(crate) fn permanent(
        reason: PermanentReason,
        message: impl Into<String>,
        status: Option<u16>,
    ) -> Error {
        Error::Permanent {
            reason,
            message: message.into(),
            status,
            field_errors: Vec::new(),
        }
    }
}

/// What kind of request failed: it decides what a 412 means and whether a failure is ambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    /// A PUT: `insert_only` with `If-None-Match: *`, `update_only` with `If-Match: *`.
    Write {
        insert_only: bool,
        update_only: bool,
    },
    Token,
    SignOut,
}

impl Op {
    fn is_write(self) -> bool {
        matches!(self, Op::Write { .. })
    }
}

/// Classifies a transport failure (no HTTP answer).
pub fn from_transport(err: &reqwest::Error, op: Op) -> Error {
    let message = chain(err);
    if err.is_connect() {
        return Error::Unreachable { message };
    }
    let reason = if err.is_timeout() {
        TransientReason::Timeout
    } else {
        TransientReason::ConnectionLost
    };
    Error::Transient {
        reason,
        message: match reason {
            TransientReason::Timeout => format!("Acumatica did not answer in time: {message}"),
            _ => format!("The connection to Acumatica broke: {message}"),
        },
        retry_after: None,
        ambiguous: op.is_write(),
    }
}

/// An answer larger than the client reads. After a write the record may have been saved.
pub fn too_large(op: Op, size: String) -> Error {
    let message = format!(
        "Acumatica's answer is too large ({size}; the limit is {} MiB)",
        super::client::MAX_ANSWER_BYTES >> 20
    );
    match op {
        Op::Write { .. } => Error::Transient {
            reason: TransientReason::ConnectionLost,
            message,
            retry_after: None,
            ambiguous: true,
        },
        _ => Error::permanent(PermanentReason::Protocol, message, None),
    }
}

/// Classifies a non-2xx HTTP answer.
pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8], op: Op) -> Error {
    let text = String::from_utf8_lossy(body);
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let decoded_location = url::form_urlencoded::parse(location.as_bytes())
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ");
    if is_login_limit(&text) || is_login_limit(&decoded_location) {
        return Error::Transient {
            reason: TransientReason::LoginLimit,
            message:
                "Acumatica refused a new API session (API Login Limit): too many open sessions \
                      for the license or the user; they close after a while"
                    .into(),
            retry_after: retry_after(headers),
            ambiguous: false,
        };
    }
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let summary = json
        .as_ref()
        .map(http_error_message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| text_summary(&text));
    let exception = json
        .as_ref()
        .and_then(|j| j.get("exceptionType"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let code = status.as_u16();
    if op == Op::Token
        && let Some(e) = token_error(status, json.as_ref())
    {
        return e;
    }
    match code {
        300..=399 => Error::permanent(
            PermanentReason::Protocol,
            format!(
                "Acumatica answered {code} with a redirect to \"{location}\": check the Base URL."
            ),
            Some(code),
        ),
        429 => Error::Transient {
            reason: TransientReason::RateLimited,
            message: format!("Acumatica's request limit was reached (429): {summary}"),
            retry_after: retry_after(headers),
            ambiguous: false,
        },
        401 => Error::permanent(
            PermanentReason::Unauthorized,
            format!("Acumatica refused the access token (401): {summary}"),
            Some(code),
        ),
        403 => Error::permanent(
            PermanentReason::Forbidden,
            format!(
                "Acumatica refused access (403): the API user lacks rights on the form, or the feature is switched off: {summary}"
            ),
            Some(code),
        ),
        404 => Error::permanent(
            PermanentReason::Protocol,
            format!("Acumatica has no such address (404): {summary}"),
            Some(code),
        ),
        412 => match op {
            Op::Write {
                insert_only: true, ..
            } => Error::AlreadyExists {
                message: format!("the record exists already (412): {summary}"),
            },
            Op::Write {
                update_only: true, ..
            } => Error::NotFound {
                message: format!("the record to update does not exist (412): {summary}"),
            },
            _ => Error::permanent(
                PermanentReason::Protocol,
                format!("Acumatica answered 412: {summary}"),
                Some(code),
            ),
        },
        400 | 422 => {
            let field_errors = json.as_ref().map(collect_field_errors).unwrap_or_default();
            let top = json
                .as_ref()
                .and_then(|j| j.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or(summary);
            let mut message = format!("Acumatica refused the record ({code}): {top}");
            for fe in &field_errors {
                message.push_str(&format!("; {fe}"));
            }
            Error::Permanent {
                reason: PermanentReason::Invalid,
                message,
                status: Some(code),
                field_errors,
            }
        }
        500 if exception.contains("NoEntitySatisfiesTheCondition") => {
            Error::NotFound { message: summary }
        }
        500 if exception.contains("OutcomeEntityHasErrors") && op.is_write() => {
            Error::AlreadyExists {
                message: format!("A repeated write found the record already saved: {summary}"),
            }
        }
        500 if exception.contains("PXSetupNotEntered") => Error::permanent(
            PermanentReason::SetupNotEntered,
            format!("Acumatica is not set up for this: {summary}"),
            Some(code),
        ),
        500 if exception.contains("PXUndefinedCompany") => Error::permanent(
            PermanentReason::UndefinedCompany,
            format!("Acumatica does not know this tenant: {summary}"),
            Some(code),
        ),
        500 if exception.contains("KeyNotFoundException") => Error::permanent(
            PermanentReason::UnknownField,
            format!("Acumatica does not know a requested field: {summary}"),
            Some(code),
        ),
        500..=599 => Error::Transient {
            reason: TransientReason::Server,
            message: format!("Acumatica failed ({code}): {summary}"),
            retry_after: retry_after(headers),
            // Any 5xx may come after the write was saved (by the instance, or behind a proxy).
            ambiguous: op.is_write(),
        },
        _ => Error::permanent(
            PermanentReason::Protocol,
            format!("Acumatica answered {code}: {summary}"),
            Some(code),
        ),
    }
}

/// The errors of the token endpoint: `{"error": "...", "error_description": "..."}`, or the
/// 500 "Invalid credentials" of a login.
fn token_error(status: StatusCode, json: Option<&Value>) -> Option<Error> {
    let json = json?;
    let code = status.as_u16();
    let bad = |message: &str| {
        Some(Error::permanent(
            PermanentReason::BadCredentials,
            message,
            Some(code),
        ))
    };
    match json.get("error").and_then(Value::as_str) {
        Some("invalid_grant") => bad(
            "Acumatica refused the sign-in (invalid_grant): wrong username or password, or the user \
             may not use the API (no API license, locked, or due for a password change).",
        ),
        Some("invalid_client") => {
            bad("Acumatica refused the sign-in (invalid_client): wrong client ID or client secret.")
        }
        Some(other) if status.is_client_error() => {
            let description = json
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            Some(Error::permanent(
                PermanentReason::BadCredentials,
                format!("Acumatica refused the sign-in ({other}): {description}"),
                Some(code),
            ))
        }
        _ => {
            let message = http_error_message(json);
            if message.contains("Invalid credentials") {
                bad("Acumatica refused the sign-in: wrong username or password.")
            } else {
                None
            }
        }
    }
}

/// A field whose value comes from the sync settings rather than from the order.
fn is_setting_field(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "OrderType" | "WarehouseID" | "CustomerClass" | "ItemClass" | "TaxCategory" | "Subaccount"
    )
}

fn is_login_limit(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("api login limit") || lower.contains("concurrent api logins")
}

/// The longest wait a `Retry-After` is taken for (a larger one is read as this).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` as seconds or as an HTTP date, at most [`MAX_RETRY_AFTER`].
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            let wait = at
                .with_timezone(&chrono::Utc)
                .signed_duration_since(chrono::Utc::now());
            wait.to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The best message of an Acumatica HttpError body.
fn http_error_message(json: &Value) -> String {
    let get = |k: &str| json.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let mut message = match (get("exceptionMessage"), get("message")) {
        ("", m) => m.to_string(),
        (e, _) => e.to_string(),
    };
    if let Some(state) = json.get("modelState").and_then(Value::as_object) {
        for msgs in state.values().filter_map(Value::as_array) {
            for m in msgs.iter().filter_map(Value::as_str) {
                message.push_str(&format!(" {m}"));
            }
        }
    }
    clip(message.trim())
}

/// A short summary of a non-JSON body: an HTML page's title, or the start of the text.
fn text_summary(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>"))
        && a + 7 <= b
    {
        return clip(text[a + 7..b].trim());
    }
    clip(text.trim())
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Field errors of a 422 body (the entity, with `error` on bad fields, also inside detail rows
/// and linked entities) or of a 400's `modelState`.
pub fn collect_field_errors(json: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let Some(state) = json.get("modelState").and_then(Value::as_object) {
        for (field, msgs) in state {
            for m in msgs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.push(FieldError::new(field.clone(), m));
            }
        }
    }
    walk(json, "", &mut out);
    out
}

fn walk(value: &Value, path: &str, out: &mut Vec<FieldError>) {
    let Some(map) = value.as_object() else {
        return;
    };
    for (key, child) in map {
        if matches!(
            key.as_str(),
            "error" | "modelState" | "custom" | "_links" | "files"
        ) {
            continue;
        }
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}/{key}")
        };
        match child {
            Value::Object(field) if field.contains_key("value") || field.len() == 1 => {
                if let Some(e) = field.get("error").and_then(Value::as_str) {
                    out.push(FieldError::new(here, e));
                } else {
                    walk(child, &here, out);
                }
            }
            Value::Object(linked) => {
                if let Some(e) = linked.get("error").and_then(Value::as_str) {
                    out.push(FieldError::new(here.clone(), e));
                }
                walk(child, &here, out);
            }
            Value::Array(rows) => {
                for (i, row) in rows.iter().enumerate() {
                    let row_path = format!("{here}/{i}");
                    if let Some(e) = row.get("error").and_then(Value::as_str) {
                        out.push(FieldError::new(row_path.clone(), e));
                    }
                    walk(row, &row_path, out);
                }
            }
            _ => {}
        }
    }
}

/// A transport error with its causes, which carry the useful part ("connection refused").
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn classify(code: u16, body: &str, op: Op) -> Error {
        from_response(
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            op,
        )
    }

    fn business(exception: &str) -> String {
        format!(
            r#"{{"message":"An error has occurred.","exceptionMessage":"Something.","exceptionType":"{exception}"}}"#
        )
    }

    const WRITE: Op = Op::Write {
        insert_only: false,
        update_only: false,
    };
    const INSERT: Op = Op::Write {
        insert_only: true,
        update_only: false,
    };
    const UPDATE: Op = Op::Write {
        insert_only: false,
        update_only: true,
    };

    #[test]
    fn known_500s() {
        let e = classify(
            500,
            &business("PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"),
            Op::Read,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = classify(
            500,
            &business("PX.Api.ContractBased.OutcomeEntityHasErrorsException"),
            WRITE,
        );
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        for (ex, reason) in [
            (
                "PX.Data.PXSetupNotEnteredException`1[[PX.Objects.SO.SOSetup]]",
                PermanentReason::SetupNotEntered,
            ),
            (
                "PX.Data.PXUndefinedCompanyException",
                PermanentReason::UndefinedCompany,
            ),
            (
                "System.Collections.Generic.KeyNotFoundException",
                PermanentReason::UnknownField,
            ),
        ] {
            match classify(500, &business(ex), Op::Read) {
                Error::Permanent { reason: r, .. } => assert_eq!(r, reason),
                other => panic!("{ex}: {other:?}"),
            }
        }
        let e = classify(500, &business("System.Exception"), WRITE);
        assert!(e.is_transient() && e.is_ambiguous(), "a write may be saved");
        let e = classify(500, &business("System.Exception"), Op::Read);
        assert!(e.is_transient() && !e.is_ambiguous());
        assert!(classify(503, "busy", Op::Read).is_transient());
        for code in [500, 502, 503, 504] {
            assert!(classify(code, "", WRITE).is_ambiguous(), "{code}");
            assert!(classify(code, "", INSERT).is_ambiguous(), "{code}");
        }
    }

    #[test]
    fn each_kind_has_its_operator_class() {
        use crate::domain::ErrorClass as C;
        let class = |code, body: &str, op| classify(code, body, op).error_class();
        assert_eq!(class(503, "", WRITE), C::Transient);
        assert_eq!(
            class(500, &business("System.Exception"), Op::Read),
            C::Transient
        );
        assert_eq!(class(429, "", WRITE), C::Transient);
        assert_eq!(class(500, "API Login Limit", Op::Token), C::Transient);
        assert_eq!(class(422, "{}", WRITE), C::Data);
        assert_eq!(class(400, "{}", WRITE), C::Data);
        assert_eq!(class(412, "", INSERT), C::Data);
        assert_eq!(class(412, "", UPDATE), C::Data);
        assert_eq!(
            class(
                500,
                &business("PX.Data.NoEntitySatisfiesTheConditionException"),
                Op::Read
            ),
            C::Data
        );
        assert_eq!(class(401, "", Op::Read), C::Configuration);
        assert_eq!(class(403, "", Op::Read), C::Configuration);
        assert_eq!(class(404, "", Op::Read), C::Configuration);
        assert_eq!(
            class(400, r#"{"error":"invalid_grant"}"#, Op::Token),
            C::Configuration
        );
        assert_eq!(
            class(
                500,
                &business("PX.Data.PXSetupNotEnteredException"),
                Op::Read
            ),
            C::Configuration
        );
        assert_eq!(
            class(
                500,
                &business("PX.Data.PXUndefinedCompanyException"),
                Op::Read
            ),
            C::Configuration
        );
        assert_eq!(
            class(
                500,
                &business("System.Collections.Generic.KeyNotFoundException"),
                Op::Read
            ),
            C::Configuration
        );
        let settings = r#"{"error":"x","OrderType":{"value":"ZZ","error":"'Order Type' cannot be found in the system."},
            "Details":[{"WarehouseID":{"value":"NOPE","error":"'Warehouse' cannot be found."}}]}"#;
        assert_eq!(
            class(422, settings, WRITE),
            C::Configuration,
            "refused settings"
        );
        let mixed = r#"{"error":"x","OrderType":{"value":"ZZ","error":"no"},"CustomerID":{"value":"C","error":"no"}}"#;
        assert_eq!(
            class(422, mixed, WRITE),
            C::Data,
            "the order's own data too"
        );
        let unreachable = Error::Unreachable {
            message: "refused".into(),
        };
        assert_eq!(unreachable.error_class(), C::Transient);
        assert_eq!(Error::config("no tenant").error_class(), C::Configuration);
        for e in [classify(422, "{}", WRITE), classify(401, "", Op::Read)] {
            assert!(!e.what_to_fix().is_empty(), "{e:?}");
        }
    }

    #[test]
    fn conditional_puts() {
        assert_eq!(classify(412, "", INSERT).kind(), ErrorKind::AlreadyExists);
        assert_eq!(classify(412, "", UPDATE).kind(), ErrorKind::NotFound);
    }

    #[test]
    fn login_limit_in_any_form() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LOCATION,
            HeaderValue::from_static(
                "/Frames/Error.aspx?exceptionID=1&message=The+number+of+concurrent+API+logins+for+the+user+has+been+reached.",
            ),
        );
        let e = from_response(StatusCode::FOUND, &headers, b"", Op::Token);
        assert!(
            matches!(
                e,
                Error::Transient {
                    reason: TransientReason::LoginLimit,
                    ..
                }
            ),
            "{e:?}"
        );
        let html = "<html><head><title>API Login Limit</title></head></html>";
        assert!(classify(500, html, Op::Token).is_transient());
        assert!(classify(400, "{\"message\":\"API Login Limit\"}", Op::Read).is_transient());
        // Some other redirect is a configuration problem.
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_static("/Frames/Login.aspx"));
        assert!(from_response(StatusCode::FOUND, &headers, b"", Op::Read).is_permanent());
    }

    #[test]
    fn rate_limit_honours_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let e = from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"", WRITE);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_transient() && !e.is_ambiguous());
        for huge in [
            "18446744073709551615",
            "99999999999",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_static(huge));
            let e = from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"", WRITE);
            assert_eq!(e.retry_after(), Some(MAX_RETRY_AFTER), "{huge}");
        }
    }

    #[test]
    fn token_errors_are_human() {
        let e = classify(400, r#"{"error":"invalid_grant"}"#, Op::Token);
        assert!(e.is_permanent() && e.to_string().contains("username or password"));
        let e = classify(400, r#"{"error":"invalid_client"}"#, Op::Token);
        assert!(e.is_permanent() && e.to_string().contains("client ID or client secret"));
    }

    #[test]
    fn field_errors_of_a_422() {
        let body = r#"{"id":"b6","rowNumber":1,"error":"Inserting 'Sales Order' record raised at least one error.",
            "CustomerID":{"value":"NOPE","error":"'Customer' cannot be found in the system."},
            "Details":[{"id":"x","InventoryID":{"value":"A"}},{"InventoryID":{"value":"B","error":"'Inventory ID' cannot be found."}}],
            "OrderNbr":{"value":"<NEW>"}}"#;
        let e = classify(422, body, WRITE);
        let fields: Vec<&str> = e.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["CustomerID", "Details/1/InventoryID"]);
        assert!(e.is_permanent() && !e.is_ambiguous());
        assert!(e.to_string().contains("'Customer' cannot be found"));
    }
}
