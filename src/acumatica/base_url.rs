//! The Base URL of an Acumatica instance: `https://host[/path]` (the site root, which may
//! include a virtual directory) or `https://host[/path]/t/<tenant>`. It is checked when parsed:
//! https unless the host is loopback, no query or credentials, and a tenant that agrees with the
//! `@<tenant>` suffix of the OAuth client ID.
//!
//! Also the one home of the host rule shared with the X-Cart store URL ([`check_host`],
//! [`PublicResolver`]): private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
//! (169.254/16, fe80::/10), shared (100.64/10) and unspecified (0.0.0.0/8, ::) addresses are
//! refused, as written in the URL and as resolved at connect time, unless the process runs
//! with `--allow-private-hosts` ([`allow_private_hosts`]). Loopback is this machine and stays
//! allowed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

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
        check_host(&url, "the Base URL")?;
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

/// Whether private, link-local and shared hosts are allowed (`--allow-private-hosts`).
static ALLOW_PRIVATE: AtomicBool = AtomicBool::new(false);

/// Allows (or refuses again) private, link-local and shared hosts for this process; set once
/// at start from `--allow-private-hosts`.
pub fn allow_private_hosts(allow: bool) {
    ALLOW_PRIVATE.store(allow, Ordering::Relaxed);
}

fn private_hosts_allowed() -> bool {
    ALLOW_PRIVATE.load(Ordering::Relaxed)
}

/// The kind of address `ip` is when the host rule refuses it (private, link-local, shared,
/// unspecified); `None` for public and loopback addresses.
pub fn refused_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refused_v4(v4),
            None => refused_v6(v6),
        },
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if a == 0 {
        Some("an unspecified address (0.0.0.0/8)")
    } else if ip.is_private() {
        Some("a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
    } else if ip.is_link_local() {
        Some("a link-local address (169.254.0.0/16)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared address (100.64.0.0/10)")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("an unspecified address (::)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private address (fc00::/7)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address (fe80::/10)")
    } else {
        None
    }
}

/// Checks the host of `url` (named `what` in the error) against the host rule: an IP address
/// in a refused range is an error, unless private hosts are allowed. Names are checked when
/// they are resolved ([`PublicResolver`]).
pub fn check_host(url: &Url, what: &str) -> Result<(), String> {
    check_host_with(url, what, private_hosts_allowed())
}

fn check_host_with(url: &Url, what: &str, allow_private: bool) -> Result<(), String> {
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    match refused_kind(ip) {
        Some(kind) if !allow_private => Err(refusal(&format!("{what}'s host is"), &ip, kind)),
        _ => Ok(()),
    }
}

/// The error of a refused address: `subject` says where it came from.
fn refusal(subject: &str, ip: &IpAddr, kind: &str) -> String {
    format!(
        "{subject} {ip}, {kind}; such hosts are refused unless the bridge runs with \
         --allow-private-hosts (BRIDGE_ALLOW_PRIVATE_HOSTS=1), e.g. for an on-premises server"
    )
}

/// A DNS resolver for the HTTP clients that applies the host rule to every address a name
/// resolves to, so that a name pointing at a private address is refused at connect time.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !private_hosts_allowed()
                && let Some((ip, kind)) = addrs
                    .iter()
                    .find_map(|a| refused_kind(a.ip()).map(|k| (a.ip(), k)))
            {
                let why = refusal(
                    &format!("\"{host}\" resolves to an address that"),
                    &ip,
                    kind,
                );
                return Err(why.replace("that's host", "that is, as host").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
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
    fn private_and_link_local_hosts_are_refused_unless_allowed() {
        for host in [
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.10",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "[fc00::1]",
            "[fd12:3456::1]",
            "[fe80::1]",
            "[::]",
            "[::ffff:10.0.0.1]",
            "0x0a000001",
        ] {
            let url = Url::parse(&format!("https://{host}/")).unwrap();
            let err = check_host_with(&url, "the Base URL", false).unwrap_err();
            assert!(
                err.contains("--allow-private-hosts") && err.contains("the Base URL"),
                "{host}: {err}"
            );
            assert!(
                check_host_with(&url, "the Base URL", true).is_ok(),
                "{host}"
            );
        }
        for host in [
            "127.0.0.1",
            "127.8.0.1",
            "[::1]",
            "localhost",
            "erp.example.com",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "[2001:db8::1]",
        ] {
            let url = Url::parse(&format!("https://{host}/")).unwrap();
            assert!(check_host_with(&url, "x", false).is_ok(), "{host}");
        }
        let err = BaseUrl::parse("https://10.1.2.3/t/Company").unwrap_err();
        assert!(
            err.contains("the Base URL's host is 10.1.2.3, a private address"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_resolver_applies_the_rule_to_what_a_name_resolves_to() {
        use reqwest::dns::Resolve;
        // "localhost" is loopback: allowed. Names that resolve to private addresses need a
        // DNS this test cannot rely on; their addresses go through `refused_kind` above.
        let addrs: Vec<_> = PublicResolver
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
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
