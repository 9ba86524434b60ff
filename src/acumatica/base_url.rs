//! The Base URL of an Acumatica instance: `https://host[/path]` (the site root, which may
//! include a virtual directory) or `https://host[/path]/t/<tenant>`. It is checked when parsed:
//! https unless the host is loopback, no query or credentials, and a tenant that agrees with the
//! `@<tenant>` suffix of the OAuth client ID.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

/// A checked Base URL. Paths are joined below it with [`BaseUrl::join`].
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// The URL as given, without a trailing slash.
    url: Url,
    /// The tenant of a `/t/<tenant>` URL.
    tenant: Option<String>,
    /// The URL without its `/t/<tenant>` part (the same as `url` when there is none).
    site_root: Url,
}

impl BaseUrl {
    /// Parses and checks a Base URL; the error says what is wrong in words a person can act on.
    pub fn parse(text: &str) -> Result<BaseUrl, String> {
        let text = text.trim();
        let mut url = Url::parse(text).map_err(|e| {
            format!("the Base URL \"{text}\" is not a URL ({e}); expected https://host[/path][/t/<tenant>]")
        })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(format!(
                    "the Base URL must use https (http is only allowed for loopback hosts), got \"{text}\""
                ));
            }
            other => {
                return Err(format!(
                    "the Base URL must start with https://, got scheme \"{other}\""
                ));
            }
        }
        if url.host().is_none() {
            return Err(format!("the Base URL \"{text}\" has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the Base URL must not contain a user name or password".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "the Base URL must not have a query or fragment, got \"{text}\""
            ));
        }
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        if let Some(pos) = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("entity"))
        {
            let root = segments[..pos].join("/");
            return Err(format!(
                "the Base URL should be the site root, without /entity/...: try \"{}://{}/{}\"",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                root
            ));
        }
        let tenant = match segments.as_slice() {
            [.., t, tenant] if t == "t" => Some(tenant.clone()),
            [.., last] if last == "t" => {
                return Err("the Base URL ends with /t/ but names no tenant".into());
            }
            _ => None,
        };
        url.set_path(&segments.join("/"));
        let mut site_root = url.clone();
        if tenant.is_some() {
            site_root.set_path(&segments[..segments.len() - 2].join("/"));
        }
        Ok(BaseUrl {
            url,
            tenant,
            site_root,
        })
    }

    /// The tenant named by a `/t/<tenant>` URL.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The site root: the URL without its `/t/<tenant>` part.
    pub fn site_root(&self) -> BaseUrl {
        BaseUrl {
            url: self.site_root.clone(),
            tenant: None,
            site_root: self.site_root.clone(),
        }
    }

    /// `<Base URL>/<path>`; `path` is made of already-encoded segments, such as
    /// `identity/connect/token`.
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/{}", path.trim_start_matches('/')));
        url
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// Checks that the URL's tenant, if any, is the tenant of the client ID's `@<tenant>`
    /// suffix, if any (case-insensitively).
    pub fn check_client_id(&self, client_id: &str) -> Result<(), String> {
        match (self.tenant(), client_id_tenant(client_id)) {
            (Some(url_tenant), Some(id_tenant)) if !url_tenant.eq_ignore_ascii_case(id_tenant) => {
                Err(format!(
                    "the Base URL names tenant \"{url_tenant}\" but the client ID belongs to tenant \"{id_tenant}\" \
                     (the part after @); they must be the same tenant"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The tenant of a client ID of the form `<GUID>@<tenant>`.
pub fn client_id_tenant(client_id: &str) -> Option<&str> {
    client_id
        .rsplit_once('@')
        .map(|(_, t)| t)
        .filter(|t| !t.is_empty())
}

/// Is the URL's host a loopback address (127.0.0.0/8, ::1) or `localhost`?
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let b = BaseUrl::parse("https://erp.example.com/AcumaticaDB/t/MyStore/").unwrap();
        assert_eq!(b.tenant(), Some("MyStore"));
        assert_eq!(b.as_str(), "https://erp.example.com/AcumaticaDB/t/MyStore");
        assert_eq!(
            b.site_root().as_str(),
            "https://erp.example.com/AcumaticaDB"
        );
        assert_eq!(
            b.join("identity/connect/token").as_str(),
            "https://erp.example.com/AcumaticaDB/t/MyStore/identity/connect/token"
        );
        let r = BaseUrl::parse("https://erp.example.com").unwrap();
        assert_eq!(r.tenant(), None);
        assert_eq!(r.join("entity").as_str(), "https://erp.example.com/entity");
    }

    #[test]
    fn https_unless_loopback() {
        assert!(BaseUrl::parse("http://erp.example.com").is_err());
        assert!(BaseUrl::parse("http://127.0.0.1:9000/t/Company").is_ok());
        assert!(BaseUrl::parse("http://127.5.0.1:9000").is_ok());
        assert!(BaseUrl::parse("http://localhost:9000").is_ok());
        assert!(BaseUrl::parse("http://[::1]:9000").is_ok());
        assert!(BaseUrl::parse("ftp://erp.example.com").is_err());
        assert!(BaseUrl::parse("not a url").is_err());
        assert!(BaseUrl::parse("https://u:p@erp.example.com").is_err());
        assert!(BaseUrl::parse("https://erp.example.com/?x=1").is_err());
        let err = BaseUrl::parse("https://erp.example.com/entity/Default/24.200.001").unwrap_err();
        assert!(err.contains("https://erp.example.com/"), "{err}");
    }

    #[test]
    fn tenant_must_match_client_id() {
        let b = BaseUrl::parse("https://erp.example.com/t/MyStore").unwrap();
        assert!(b.check_client_id("ABC@mystore").is_ok());
        assert!(b.check_client_id("ABC").is_ok());
        let err = b.check_client_id("ABC@Other").unwrap_err();
        assert!(
            err.contains("\"MyStore\"") && err.contains("\"Other\""),
            "{err}"
        );
        let root = BaseUrl::parse("https://erp.example.com").unwrap();
        assert!(root.check_client_id("ABC@Other").is_ok());
        assert_eq!(client_id_tenant("A@B@C"), Some("C"));
        assert_eq!(client_id_tenant("A@"), None);
    }
}
