//! Outbound HTTP for documents named by untrusted input (a Client ID
//! Metadata Document's URL is whatever a client sends as `client_id`), and
//! for posts to URLs a client registered (back-channel logout tokens,
//! docs/logout.md), so that such input cannot make Keygate reach into its
//! own network (SSRF).
//!
//! - Only addresses on the public internet are connected to: the resolver
//!   drops loopback, private (RFC 1918, unique-local), link-local, CGNAT,
//!   multicast, unspecified and documentation addresses, and a URL whose
//!   host is such an IP literal is refused before any connection. Both are
//!   allowed only with `KEYGATE_FETCH_ALLOW_PRIVATE_NETWORKS=true` (tests,
//!   development, an internal deployment), which also allows plain http.
//! - No redirect is followed: a redirect is an answer like any other
//!   non-200 and refused, so it cannot lead to a private address.
//! - Bounded: 3 s to connect, 5 s in all, and a body cap read as a stream.
//! - TLS by rustls on aws-lc-rs with the system's trust store.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Why a document could not be fetched (said to the client, never a 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    /// The URL is not one that may be fetched.
    #[error("the URL is not fetchable: {0}")]
    Refused(&'static str),
    /// The host has no public address (or no address at all).
    #[error("the host has no public address")]
    NoPublicAddress,
    /// The connection or the answer failed, or took too long.
    #[error("fetching failed: {0}")]
    Failed(String),
    /// The answer was not 200 (a redirect included).
    #[error("the answer was HTTP {0}, not 200")]
    Status(u16),
    /// The body is larger than allowed.
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
}

/// A fetched body and how long it may be cached (from `Cache-Control`).
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    /// Seconds the answer may be reused (0: not at all).
    pub max_age: u64,
}

/// Whether `ip` is on the public internet.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT, RFC 6598
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
        || o[0] >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b)) // NAT64 (may reach IPv4 private space)
}

/// Resolves host names to public addresses only (unless allowed).
struct SafeResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for SafeResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(FetchError::NoPublicAddress)
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for untrusted URLs.
pub(crate) struct Fetcher {
    http: reqwest::Client,
    allow_private: bool,
}

impl Fetcher {
    /// A fetcher; `allow_private` lifts the address and scheme rules.
    pub(crate) fn new(allow_private: bool) -> Fetcher {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("Keygate/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(SafeResolver { allow_private }));
        if let Ok(tls) = tls {
            builder = builder.use_preconfigured_tls(tls);
        }
        Fetcher {
            http: builder.build().unwrap_or_default(),
            allow_private,
        }
    }

    /// Whether `url` may be fetched at all (scheme and literal address).
    pub(crate) fn check(&self, url: &url::Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(FetchError::Refused("only https URLs are fetched")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::Refused("URLs with credentials are not fetched"));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError::Refused("the URL has no host")),
        };
        if let Some(ip) = literal {
            if !self.allow_private && !is_public(ip) {
                return Err(FetchError::NoPublicAddress);
            }
        }
        Ok(())
    }

    /// GETs `url` (JSON accepted), reading at most `max_bytes`.
    pub(crate) async fn get(
        &self,
        url: &url::Url,
        max_bytes: usize,
    ) -> Result<Fetched, FetchError> {
        self.check(url)?;
        let mut res = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Failed(describe(&e)))?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        if res.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let max_age = res
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(max_age)
            .unwrap_or(0);
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| FetchError::Failed(describe(&e)))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
    }
}

impl Fetcher {
    /// POSTs `form` as `application/x-www-form-urlencoded` to `url` (the
    /// same rules as [`Fetcher::get`]: no redirect followed, 5 s in all)
    /// and returns the answer's status; its body is not read.
    pub(crate) async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
    ) -> Result<u16, FetchError> {
        self.check(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let res = self
            .http
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| FetchError::Failed(describe(&e)))?;
        Ok(res.status().as_u16())
    }
}

impl Fetcher {
    /// Sends `request` as it is (an OpenID client's discovery, key, token
    /// or userinfo request, docs/federation.md), by the same rules as
    /// [`Fetcher::get`]: no redirect followed, 3 s to connect, 5 s in all,
    /// and the body read up to `max_bytes`. Any status comes back as an
    /// answer (an OAuth error is a 400 with a body worth reading).
    pub(crate) async fn send(
        &self,
        request: openidconnect::http::Request<Vec<u8>>,
        max_bytes: usize,
    ) -> Result<openidconnect::http::Response<Vec<u8>>, FetchError> {
        let url = url::Url::parse(&request.uri().to_string())
            .map_err(|_| FetchError::Refused("not an absolute URL"))?;
        self.check(&url)?;
        let (parts, body) = request.into_parts();
        let mut res = self
            .http
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| FetchError::Failed(describe(&e)))?;
        if res.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let mut answer = openidconnect::http::Response::builder().status(res.status());
        for (name, value) in res.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| FetchError::Failed(describe(&e)))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        answer
            .body(body)
            .map_err(|_| FetchError::Failed("the answer could not be read".into()))
    }
}

/// What went wrong, without the URL (it is the client's own input).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "it took too long".into();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<FetchError>() == Some(&FetchError::NoPublicAddress) {
            return FetchError::NoPublicAddress.to_string();
        }
        source = s.source();
    }
    if e.is_connect() {
        "the connection failed".into()
    } else {
        "the answer could not be read".into()
    }
}

/// The seconds a `Cache-Control` value lets an answer be reused: its
/// `max-age`, 0 for `no-store` or `no-cache`, 0 without either.
pub(crate) fn max_age(cache_control: &str) -> u64 {
    let mut age = 0;
    for part in cache_control.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return 0;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().unwrap_or(0);
        }
    }
    age
}

impl Fetcher {
    /// POSTs `body` as `application/json` with `headers` to `url` (the same
    /// rules as [`Fetcher::get`]: no redirect followed, 5 s in all) and
    /// returns the answer's status; its body is not read. For webhooks
    /// (docs/webhooks.md).
    pub(crate) async fn post_json(
        &self,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: String,
    ) -> Result<u16, FetchError> {
        self.check(url)?;
        let mut req = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let res = req
            .body(body)
            .send()
            .await
            .map_err(|e| FetchError::Failed(describe(&e)))?;
        Ok(res.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let strict = Fetcher::new(false);
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(strict.check(&u("https://client.example/meta.json")).is_ok());
        for bad in [
            "http://client.example/meta.json",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://10.0.0.1/x",
            "https://user:pw@client.example/x",
            "ftp://client.example/x",
        ] {
            assert!(strict.check(&u(bad)).is_err(), "{bad}");
        }
        let lax = Fetcher::new(true);
        assert!(lax.check(&u("http://127.0.0.1:9/x")).is_ok());
    }

    #[test]
    fn cache_control_gives_the_max_age() {
        assert_eq!(max_age("public, max-age=300"), 300);
        assert_eq!(max_age("max-age=300, no-store"), 0);
        assert_eq!(max_age("no-cache"), 0);
        assert_eq!(max_age("private"), 0);
        assert_eq!(max_age("max-age=abc"), 0);
    }
}
