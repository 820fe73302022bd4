//! Redirect URIs and origins: what may be registered, and how a request's
//! value is matched (exactly, character for character, RFC 9700 2.1; the
//! one exception is the port of a loopback IP address, RFC 8252 7.3).

use url::Url;

/// Whether a URL's host is a loopback host: `localhost`, `127.0.0.1` or `[::1]`.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// Whether `sent` is one of the `registered` redirect URIs: equal
/// character for character (RFC 9700 2.1), or, for an `http` URI on a
/// loopback IP literal (`127.0.0.1`, `[::1]`), equal in everything but the
/// port, which a native app picks when it starts listening (RFC 8252 7.3:
/// "MUST allow any port"). `localhost` is matched exactly (RFC 8252 8.3
/// advises against it: the name may resolve elsewhere).
pub fn is_registered(registered: &[String], sent: &str) -> bool {
    registered
        .iter()
        .any(|r| r == sent || same_but_loopback_port(r, sent))
}

fn same_but_loopback_port(registered: &str, sent: &str) -> bool {
    let (Ok(r), Ok(s)) = (Url::parse(registered), Url::parse(sent)) else {
        return false;
    };
    let loopback_ip = |u: &Url| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    };
    if r.scheme() != "http" || s.scheme() != "http" || !loopback_ip(&r) || r.host() != s.host() {
        return false;
    }
    // Everything after the authority must be the same text, and the sent
    // URI must carry nothing the registered one lacks (no user info).
    s.username().is_empty()
        && s.password().is_none()
        && s.fragment().is_none()
        && r.path() == s.path()
        && r.query() == s.query()
        && after_authority(registered) == after_authority(sent)
}

/// The text of a URI after its authority (path, query), as sent: the
/// parsed forms normalize, and the match must not.
fn after_authority(uri: &str) -> &str {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    rest.find(['/', '?']).map_or("", |i| &rest[i..])
}

/// Checks a redirect URI (or post-logout redirect URI) offered for
/// registration. It must be absolute, carry no fragment (RFC 6749 3.1.2)
/// and no user info, and use `https`, `http` on a loopback host only (RFC
/// 9700 2.6 and RFC 8252 7.3: a code sent over plain http to any other host
/// can be read on the way), or a private-use scheme of a native app (RFC 8252
/// 7.1, a reverse domain name such as `com.example.app`). Schemes that run
/// code or read files are refused.
pub fn validate_redirect_uri(raw: &str) -> Result<(), String> {
    if raw.contains('#') {
        return Err(format!(
            "redirect URI '{raw}' must not contain a fragment (#)"
        ));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("redirect URI '{raw}' contains white space"));
    }
    let url = Url::parse(raw).map_err(|e| format!("redirect URI '{raw}' is malformed: {e}"))?;
    match url.scheme() {
        "https" | "http" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("redirect URI '{raw}' has no host"));
            }
            if url.scheme() == "http" && !is_loopback_host(&url) {
                return Err(format!(
                    "redirect URI '{raw}' uses http, which is allowed only for loopback hosts \
                     (localhost, 127.0.0.1, [::1]): use https"
                ));
            }
        }
        s if s.contains('.') => {}
        s => {
            return Err(format!(
                "redirect URI '{raw}' uses scheme '{s}': use https, http, or a reverse-domain private scheme"
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI '{raw}' must not carry user info"));
    }
    Ok(())
}

/// Parses an origin (`https://login.example.com`, `http://localhost:8080`),
/// returning its canonical form: lower-case host, default port omitted, no
/// trailing slash. Paths, queries, fragments and user info are refused.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|e| format!("origin '{raw}' is malformed: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("origin '{raw}' must use http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("origin '{raw}' has no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || raw.ends_with('/')
    {
        return Err(format!(
            "origin '{raw}' must be scheme://host[:port] with nothing after it"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("origin '{raw}' must not carry user info"));
    }
    Ok(url.origin().ascii_serialization())
}

/// The `host[:port]` a browser sends in the Host header for an origin.
pub fn origin_authority(origin: &str) -> Option<String> {
    let url = Url::parse(origin).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Appends query parameters to a registered redirect URI, keeping its own.
pub fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(base) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_ip_redirect_uri_matches_on_any_port_and_nothing_else_does() {
        let reg = vec![
            "http://127.0.0.1:9/callback".to_string(),
            "http://[::1]/cb?x=1".to_string(),
            "http://localhost:9/cb".to_string(),
            "https://app.example/cb".to_string(),
        ];
        for ok in [
            "http://127.0.0.1:9/callback",
            "http://127.0.0.1:53111/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:4000/cb?x=1",
            "http://localhost:9/cb",
            "https://app.example/cb",
        ] {
            assert!(is_registered(&reg, ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:9/Callback",
            "http://127.0.0.1:53111/callback/",
            "http://127.0.0.1:53111/callback?x=1",
            "http://127.0.0.1:53111/callback#f",
            "http://u@127.0.0.1:53111/callback",
            "http://127.0.0.2:9/callback",
            "http://[::1]:4000/cb",
            "http://[::1]:4000/cb?x=2",
            "http://localhost:10/cb",
            "https://127.0.0.1:9/callback",
            "https://app.example:444/cb",
            "http://127.0.0.1:53111/%63allback",
            "http://127.0.0.1:9/./callback",
        ] {
            assert!(!is_registered(&reg, bad), "{bad}");
        }
    }

    #[test]
    fn registrable_redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "http://localhost:3000/callback",
            "http://127.0.0.1:9/cb?x=1",
            "http://[::1]:8080/cb",
            "http://LOCALHOST/cb",
            "com.example.app:/oauth",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "https://app.example.com/cb#frag",
            "https://app/cb#",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "not a uri",
            "https://user:pw@app.example.com/cb",
            "http://",
            "https://a b/",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
        // Plain http only on loopback hosts (RFC 9700 2.6, RFC 8252 7.3).
        for bad in [
            "http://app.example.com/cb",
            "http://localhost.example.com/cb",
            "http://127.0.0.2/cb",
            "http://10.0.0.1/cb",
            "http://[::2]/cb",
        ] {
            let e = validate_redirect_uri(bad).unwrap_err();
            assert!(e.contains("only for loopback hosts"), "{bad}: {e}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("https://Login.Example.com").unwrap(),
            "https://login.example.com"
        );
        assert_eq!(
            parse_origin("https://a.example:443").unwrap(),
            "https://a.example"
        );
        assert_eq!(
            parse_origin("http://localhost:8080").unwrap(),
            "http://localhost:8080"
        );
        for bad in [
            "https://a.example/path",
            "https://a.example/",
            "ftp://a.example",
            "a.example",
            "https://a.example?x",
            "https://u@a.example",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            origin_authority("http://localhost:8080").unwrap(),
            "localhost:8080"
        );
        assert_eq!(origin_authority("https://a.example").unwrap(), "a.example");
    }

    #[test]
    fn query_is_appended() {
        assert_eq!(
            with_query("https://a/cb?x=1", &[("code", "c d"), ("state", "s")]),
            "https://a/cb?x=1&code=c+d&state=s"
        );
    }
}
