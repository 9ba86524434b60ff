//! Writing shipments to X-Cart 5.5+: read an order's shipping status and tracking numbers
//! (`GET /api/orders/by_number/{number}`), set its shipping status
//! (`PUT /api/orders/{id}/shipping_status` with `{"code": "S"}`) and add a tracking number
//! (`POST /api/orders/{id}/tracking_numbers` with `{"value": "1Z…"}`). Writes need the
//! read/write API token: a 403 is [`Error::Unauthorized`] with status 403, which the caller
//! reports as a read-only token.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::Client;
use super::error::{self, Error};
use super::model::StatusOutput;

/// A tracking number on an order (`tracking_numbers[] {id, date, value}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TrackingOutput {
    #[serde(default)]
    pub id: Option<i64>,
    pub value: String,
}

/// What the write-back reads of an order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShippingState {
    pub id: i64,
    #[serde(default)]
    pub shipping_status: Option<StatusOutput>,
    #[serde(default)]
    pub tracking_numbers: Vec<TrackingOutput>,
}

impl ShippingState {
    pub fn has_tracking(&self, value: &str) -> bool {
        self.tracking_numbers
            .iter()
            .any(|t| t.value.trim().eq_ignore_ascii_case(value.trim()))
    }
}

/// A path segment, percent-encoded (an order number may hold any character).
fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The error of a non-2xx answer to a write-back request: a missing order says so (not "no
/// API"), the rest as any store request.
fn failure(status: u16, body: &str, retry: Option<std::time::Duration>, c: &Client) -> Error {
    if status == 404 {
        return Error::Permanent(format!(
            "the store has no such order (404: {}); was it deleted in X-Cart?",
            error::body_message(body)
        ));
    }
    error::from_status(status, body, retry, c.store().as_str())
}

impl Client {
    /// The order with store number `number`: its id, shipping status and tracking numbers.
    pub async fn shipping_state(&self, number: &str) -> Result<ShippingState, Error> {
        let path = format!("orders/by_number/{}", segment(number));
        let (status, body, retry) = self.send(Method::GET, &path, None).await?;
        if !(200..300).contains(&status) {
            return Err(failure(status, &body, retry, self));
        }
        serde_json::from_str(&body).map_err(|e| {
            Error::Permanent(format!(
                "the store did not answer GET /api/orders/by_number like X-Cart 5.5+ does ({e})"
            ))
        })
    }

    /// Sets the order's shipping status (`S`, `P`, …).
    pub async fn put_shipping_status(&self, id: i64, code: &str) -> Result<(), Error> {
        let path = format!("orders/{id}/shipping_status");
        let (status, body, retry) = self
            .send(Method::PUT, &path, Some(json!({ "code": code })))
            .await?;
        if !(200..300).contains(&status) {
            return Err(failure(status, &body, retry, self));
        }
        Ok(())
    }

    /// Adds a tracking number to the order.
    pub async fn add_tracking_number(&self, id: i64, value: &str) -> Result<(), Error> {
        let path = format!("orders/{id}/tracking_numbers");
        let (status, body, retry) = self
            .send(Method::POST, &path, Some(json!({ "value": value })))
            .await?;
        if !(200..300).contains(&status) {
            return Err(failure(status, &body, retry, self));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_encoded_as_one_segment() {
        assert_eq!(segment("XC-1001"), "XC-1001");
        assert_eq!(segment("A/B ?#"), "A%2FB%20%3F%23");
    }

    #[test]
    fn tracking_numbers_compare_without_case_or_spaces() {
        let s: ShippingState = serde_json::from_str(
            r#"{"id": 5, "shipping_status": {"id": 1, "code": "N"}, "tracking_numbers": [{"id": 1, "date": 0, "value": "1Zabc"}]}"#,
        )
        .unwrap();
        assert!(s.has_tracking(" 1ZABC "));
        assert!(!s.has_tracking("1ZABD"));
    }
}
