//! The X-Cart 5.5+ side: a client for the API Platform REST API (`GET /api/orders` with the
//! `X-Auth-Token` header), the typed orders it returns ([`model`]), and how one becomes a
//! bridge order ([`mapping`]). Errors are classified unauthorized / transient / permanent
//! ([`Error`]).
//!
//! Layering: beside the Acumatica client, below the services; it knows nothing of the store.

pub mod client;
pub mod error;
pub mod mapping;
pub mod model;
pub mod shipping;

use std::fmt;

use url::Url;

pub use client::{Client, DateField, OrderQuery};
pub use error::Error;
pub use model::{OrderOutput, OrderPage};

/// A checked store URL: `https://host[/path]` (the API lives at `<store URL>/api`); http only
/// for loopback hosts; no private or link-local host unless allowed (the host rule of
/// [`crate::acumatica::base_url::check_host`]).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(Url);

impl StoreUrl {
    pub fn parse(text: &str) -> Result<StoreUrl, String> {
        let text = text.trim();
        let mut url = Url::parse(text).map_err(|e| {
            format!("\"{text}\" is not a URL ({e}); expected the store's address such as https://shop.example.com")
        })?;
        match url.scheme() {
            "https" => {}
            "http" if crate::acumatica::base_url::is_loopback(&url) => {}
            "http" => {
                return Err(format!(
                    "the store URL must use https (http is only allowed for loopback hosts), got \"{text}\""
                ));
            }
            other => {
                return Err(format!(
                    "the store URL must start with https://, got scheme \"{other}\""
                ));
            }
        }
        if url.host().is_none() {
            return Err(format!("the store URL \"{text}\" has no host"));
        }
        crate::acumatica::base_url::check_host(&url, "the store URL")?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the store URL must not contain a user name or password".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "the store URL must not have a query or fragment, got \"{text}\""
            ));
        }
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        // Forgive a pasted API URL or admin page: keep the site root.
        if let Some(pos) = segments.iter().position(|s| s == "api") {
            segments.truncate(pos);
        }
        if segments.last().is_some_and(|s| s.ends_with(".php")) {
            segments.pop();
        }
        url.set_path(&segments.join("/"));
        Ok(StoreUrl(url))
    }

    /// `<store URL>/api/<path>`.
    pub fn api(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/api/{}", path.trim_start_matches('/')));
        url
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        let u = StoreUrl::parse("https://shop.example.com/").unwrap();
        assert_eq!(u.as_str(), "https://shop.example.com");
        assert_eq!(
            u.api("orders").as_str(),
            "https://shop.example.com/api/orders"
        );
        let u = StoreUrl::parse("https://example.com/store/api/orders").unwrap();
        assert_eq!(
            u.api("orders").as_str(),
            "https://example.com/store/api/orders"
        );
        let u = StoreUrl::parse("https://example.com/shop/admin.php").unwrap();
        assert_eq!(u.as_str(), "https://example.com/shop");
        assert!(StoreUrl::parse("http://127.0.0.1:9001").is_ok());
        assert!(StoreUrl::parse("http://localhost:9001").is_ok());
        let e = StoreUrl::parse("http://shop.example.com").unwrap_err();
        assert!(e.contains("https"), "{e}");
        assert!(StoreUrl::parse("shop.example.com").is_err());
        assert!(StoreUrl::parse("ftp://shop.example.com").is_err());
        assert!(StoreUrl::parse("https://u:p@shop.example.com").is_err());
        let e = StoreUrl::parse("https://192.168.0.5/shop").unwrap_err();
        assert!(e.contains("the store URL's host is 192.168.0.5"), "{e}");
    }
}
