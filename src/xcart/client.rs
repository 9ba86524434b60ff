//! The HTTP client of X-Cart 5.5+'s REST API: `GET <store>/api/orders` with the
//! `X-Auth-Token` header, asking for the Hydra form (`application/ld+json`, which counts the
//! matches in `hydra:totalItems`) and reading the plain array form just as well.
//!
//! It follows no redirects (a redirect would carry the token to wherever it points, also from
//! https to http), marks the token header sensitive, and reads at most [`MAX_BODY_BYTES`] of
//! an answer.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::StoreUrl;
use super::error::{self, Error};
use super::model::OrderPage;
use crate::domain::secret::Secret;

/// Largest answer read from the store (a page of 100 orders is far smaller).
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Longest `Retry-After` honoured, in seconds.
pub const MAX_RETRY_AFTER_SECS: u64 = 3600;

/// Most orders X-Cart returns in one page (`itemsPerPage` is capped at 100).
pub const MAX_PER_PAGE: u32 = 100;

/// The two date columns `GET /api/orders` filters and sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// When the order was placed (`date`, shown as `create_date`).
    Date,
    /// When the order last changed (`lastRenewDate`, shown as `update_date`); filters on it
    /// exist from X-Cart 5.5.1.
    LastRenewDate,
}

impl DateField {
    pub fn param(self) -> &'static str {
        match self {
            DateField::Date => "date",
            DateField::LastRenewDate => "lastRenewDate",
        }
    }
}

/// One `GET /api/orders` request.
#[derive(Debug, Clone)]
pub struct OrderQuery {
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Sort field and direction (true: ascending).
    pub sort: Option<(DateField, bool)>,
    /// `<field>[after]`: at or after this time (whole seconds).
    pub after: Option<(DateField, i64)>,
    /// `<field>[strictly_before]`.
    pub strictly_before: Option<(DateField, i64)>,
}

impl OrderQuery {
    pub fn new() -> OrderQuery {
        OrderQuery {
            page: 1,
            per_page: MAX_PER_PAGE,
            sort: None,
            after: None,
            strictly_before: None,
        }
    }

    /// The query parameters, in the form X-Cart reads them.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("page".to_owned(), self.page.to_string()),
            ("itemsPerPage".to_owned(), self.per_page.to_string()),
        ];
        if let Some((field, asc)) = self.sort {
            p.push((
                format!("order[{}]", field.param()),
                if asc { "asc" } else { "desc" }.to_owned(),
            ));
        }
        if let Some((field, t)) = self.after {
            p.push((format!("{}[after]", field.param()), iso(t)));
        }
        if let Some((field, t)) = self.strictly_before {
            p.push((format!("{}[strictly_before]", field.param()), iso(t)));
        }
        p
    }
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery::new()
    }
}

/// A unix time as ISO-8601 (PHP's `DateTime` parses it).
pub fn iso(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A client of one store with one token. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    store: StoreUrl,
    token: Secret,
}

impl Client {
    pub fn new(store: StoreUrl, token: Secret, timeout: Duration) -> Result<Client, Error> {
        crate::init_crypto();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(crate::acumatica::base_url::PublicResolver)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("acumatica-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Permanent(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client { http, store, token })
    }

    pub fn store(&self) -> &StoreUrl {
        &self.store
    }

    /// One page of `GET /api/orders`.
    pub async fn orders(&self, query: &OrderQuery) -> Result<OrderPage, Error> {
        let store = self.store.as_str().to_owned();
        let mut url = self.store.api("orders");
        url.query_pairs_mut().extend_pairs(query.params());
        let request = self
            .http
            .get(url)
            .header("X-Auth-Token", self.token_header()?)
            .header(
                reqwest::header::ACCEPT,
                "application/ld+json, application/json;q=0.9",
            );
        let (status, body, retry_after) = self.exchange(request).await?;
        if !(200..300).contains(&status) {
            return Err(error::from_status(status, &body, retry_after, &store));
        }
        OrderPage::parse(&body).map_err(|why| {
            Error::Permanent(format!(
                "{store} did not answer GET /api/orders like X-Cart 5.5+ does ({why}): check the store URL"
            ))
        })
    }

    /// A request to `path` under the store's API with the token, answered as status, body and
    /// Retry-After (a redirect is an error: the token is never passed on).
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, String, Option<Duration>), Error> {
        let mut request = self
            .http
            .request(method, self.store.api(path))
            .header("X-Auth-Token", self.token_header()?)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            request = request.json(&b);
        }
        self.exchange(request).await
    }

    /// The API token as a header value, marked sensitive.
    fn token_header(&self) -> Result<reqwest::header::HeaderValue, Error> {
        let mut token = reqwest::header::HeaderValue::from_str(self.token.expose().trim())
            .map_err(|_| {
                Error::Permanent(
                    "the API token holds characters that cannot be sent in a header".into(),
                )
            })?;
        token.set_sensitive(true);
        Ok(token)
    }

    /// Sends `request`, counts it, refuses a redirect, and reads at most the capped body.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, String, Option<Duration>), Error> {
        let store = self.store.as_str().to_owned();
        let response = request.send().await;
        crate::metrics::Metrics::global()
            .xcart_request(response.as_ref().ok().map(|r| r.status().as_u16()));
        let mut response = response.map_err(|e| error::from_reqwest(&e, &store))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            return Err(error::redirect(status, location, &store));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            // A store may ask for anything; waits beyond an hour are not honoured.
            .map(|secs| Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS)));
        let body = read_capped(&mut response, &store).await?;
        Ok((status, body, retry_after))
    }
}

/// The body of `response` as text, streamed, refused beyond [`MAX_BODY_BYTES`].
async fn read_capped(response: &mut reqwest::Response, store: &str) -> Result<String, Error> {
    let too_big = || error::too_big(MAX_BODY_BYTES, store);
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| error::from_reqwest(&e, store))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let q = OrderQuery {
            page: 2,
            per_page: 100,
            sort: Some((DateField::LastRenewDate, true)),
            after: Some((DateField::LastRenewDate, 1_709_648_530)),
            strictly_before: Some((DateField::Date, 0)),
        };
        let p = q.params();
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("page"), Some("2"));
        assert_eq!(get("itemsPerPage"), Some("100"));
        assert_eq!(get("order[lastRenewDate]"), Some("asc"));
        assert_eq!(
            get("lastRenewDate[after]"),
            Some("2024-03-05T14:22:10+00:00")
        );
        assert_eq!(
            get("date[strictly_before]"),
            Some("1970-01-01T00:00:00+00:00")
        );
    }
}
