//! Endpoint discovery: `GET <Base URL>/entity` lists the endpoints (name and version) the
//! instance offers; the bridge checks that the configured one is among them.

use serde::Deserialize;
use serde_json::Value;

use super::error::{Error, PermanentReason};

/// One endpoint an instance offers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EndpointRef {
    pub name: String,
    pub version: String,
}

/// What `GET /entity` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `version.acumaticaBuildVersion`, when given.
    pub build_version: Option<String>,
    pub endpoints: Vec<EndpointRef>,
}

impl Endpoints {
    /// Reads `{"version": {...}, "endpoints": [...]}`, or the bare array some older builds are
    /// said to return (unconfirmed).
    pub fn parse(body: &[u8]) -> Result<Endpoints, Error> {
        let unreadable = || {
            Error::permanent(
                PermanentReason::Protocol,
                "GET /entity did not answer with a list of endpoints; check the Base URL",
                Some(200),
            )
        };
        let json: Value = serde_json::from_slice(body).map_err(|_| unreadable())?;
        let (build_version, list) = match &json {
            Value::Array(_) => (None, json.clone()),
            Value::Object(map) => (
                map.get("version")
                    .and_then(|v| v.get("acumaticaBuildVersion"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                map.get("endpoints").cloned().ok_or_else(unreadable)?,
            ),
            _ => return Err(unreadable()),
        };
        let endpoints = serde_json::from_value(list).map_err(|_| unreadable())?;
        Ok(Endpoints {
            build_version,
            endpoints,
        })
    }

    /// Ok when `name`/`version` is offered (the name compared case-insensitively); otherwise a
    /// permanent error that lists what is.
    pub fn check(&self, name: &str, version: &str) -> Result<(), Error> {
        if self
            .endpoints
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(name) && e.version == version)
        {
            return Ok(());
        }
        let available: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| format!("{} {}", e.name, e.version))
            .collect();
        Err(Error::permanent(
            PermanentReason::EndpointMissing,
            format!(
                "the instance has no endpoint {name} {version}; it offers: {}",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
            None,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes() {
        let e = Endpoints::parse(
            br#"{"version":{"acumaticaBuildVersion":"24.108.0012","databaseVersion":"24.108.0012"},
                "endpoints":[{"name":"Default","version":"24.200.001","href":"/entity/Default/24.200.001/"}]}"#,
        )
        .unwrap();
        assert_eq!(e.build_version.as_deref(), Some("24.108.0012"));
        assert!(e.check("default", "24.200.001").is_ok());
        let err = e.check("eCommerce", "23.200.001").unwrap_err();
        assert!(
            err.is_permanent() && err.to_string().contains("it offers: Default 24.200.001"),
            "{err}"
        );
        let bare = Endpoints::parse(br#"[{"name":"Default","version":"23.200.001"}]"#).unwrap();
        assert_eq!(bare.endpoints.len(), 1);
        assert!(Endpoints::parse(b"<html>").is_err());
    }
}
