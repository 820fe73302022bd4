//! `KEYGATE_SMTP_URL`: its strict parsing and the SMTP transport it names.
//!
//! - `smtp://host[:port]`: plain SMTP (port 25 by default), no TLS;
//! - `smtp://[user:pass@]host[:port]?tls=starttls`: STARTTLS required
//!   (port 587 by default);
//! - `smtps://[user:pass@]host[:port]`: TLS from the first byte (port 465
//!   by default).
//!
//! User and password are percent-decoded. Credentials are refused on plain
//! SMTP (they would cross the network in clear). Anything else (another
//! scheme, a path, an unknown or repeated query parameter, a missing host)
//! is an error at start-up, never a surprise at the first message.

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::time::Duration;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (a relay on the same host or a trusted network).
    Plain,
    /// STARTTLS, required: a server that does not offer it is an error.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// A parsed `KEYGATE_SMTP_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// The server's host name; with TLS, the name its certificate must carry.
    pub host: String,
    /// The port: the URL's, else 25 (plain), 587 (STARTTLS) or 465 (`smtps://`).
    pub port: u16,
    /// Whether and how the connection is encrypted.
    pub security: Security,
    /// The user to authenticate as (percent-decoded); refused without TLS.
    pub user: Option<String>,
    /// The user's password (percent-decoded); never shown by `Debug`.
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpUrl {
    /// Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .finish()
    }
}

/// How long one connection and each of its commands may take.
const TIMEOUT: Duration = Duration::from_secs(20);

impl SmtpUrl {
    /// Parses a URL of the forms above; the message says what is wrong
    /// (without repeating a password).
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        let bad = |why: &str| format!("KEYGATE_SMTP_URL is not valid: {why}");
        let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err(bad("the scheme must be smtp:// or smtps://")),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("a host is required (smtp://host:port)")),
        };
        if !(url.path().is_empty() || url.path() == "/") {
            return Err(bad("a path is not allowed"));
        }
        if url.fragment().is_some() {
            return Err(bad("a fragment is not allowed"));
        }
        let mut tls: Option<String> = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "tls" if tls.is_none() => tls = Some(v.into_owned()),
                "tls" => return Err(bad("'tls' is given twice")),
                other => return Err(bad(&format!("unknown parameter '{other}' (only 'tls')"))),
            }
        }
        let security = match (implicit, tls.as_deref()) {
            (true, None) | (true, Some("implicit")) => Security::Implicit,
            (true, Some(_)) => {
                return Err(bad("smtps:// always uses TLS; drop the 'tls' parameter"))
            }
            (false, None) | (false, Some("none")) => Security::Plain,
            (false, Some("starttls")) => Security::StartTls,
            (false, Some(other)) => {
                return Err(bad(&format!(
                    "tls={other} is not known (use tls=starttls, or smtps:// for implicit TLS)"
                )))
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("the user or password is not UTF-8 once decoded"))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        if password.is_some() && user.is_none() {
            return Err(bad("a password needs a user (smtp://user:pass@host)"));
        }
        if user.is_some() && security == Security::Plain {
            return Err(bad(
                "credentials need TLS: add ?tls=starttls or use smtps://",
            ));
        }
        let port = url.port().unwrap_or(match security {
            Security::Plain => 25,
            Security::StartTls => 587,
            Security::Implicit => 465,
        });
        Ok(SmtpUrl {
            host,
            port,
            security,
            user,
            password,
        })
    }

    /// The transport this URL names (no connection is made yet). `hello`
    /// is the name this node gives in EHLO (the public URL's host name;
    /// without one, lettre's address literal).
    pub fn transport(
        &self,
        hello: Option<&str>,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let tls = || {
            TlsParameters::new(self.host.clone())
                .map_err(|e| format!("TLS for {} cannot be set up: {e}", self.host))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(TIMEOUT));
        builder = match self.security {
            Security::Plain => builder.tls(Tls::None),
            Security::StartTls => builder.tls(Tls::Required(tls()?)),
            Security::Implicit => builder.tls(Tls::Wrapper(tls()?)),
        };
        if let Some(name) = hello {
            builder = builder.hello_name(ClientId::Domain(name.to_string()));
        }
        if let Some(user) = &self.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                self.password.clone().unwrap_or_default(),
            ));
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> SmtpUrl {
        SmtpUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        SmtpUrl::parse(s).expect_err(s)
    }

    #[test]
    fn plain_smtp_with_host_and_port() {
        let u = ok("smtp://mail.internal:2525");
        assert_eq!(
            (u.host.as_str(), u.port, u.security, u.user, u.password),
            ("mail.internal", 2525, Security::Plain, None, None)
        );
        assert_eq!(ok("smtp://127.0.0.1").port, 25);
        assert_eq!(ok("smtp://127.0.0.1:1025/").host, "127.0.0.1");
        assert_eq!(ok("smtp://[::1]:25").host, "::1");
        assert_eq!(ok("smtp://h:25?tls=none").security, Security::Plain);
    }

    #[test]
    fn starttls_with_percent_decoded_credentials() {
        let u = ok("smtp://me%40example.com:p%3Ass%20w@smtp.example.com:587?tls=starttls");
        assert_eq!(u.security, Security::StartTls);
        assert_eq!(u.user.as_deref(), Some("me@example.com"));
        assert_eq!(u.password.as_deref(), Some("p:ss w"));
        assert_eq!(u.port, 587);
        assert_eq!(ok("smtp://u:p@h?tls=starttls").port, 587);
    }

    #[test]
    fn smtps_is_implicit_tls() {
        let u = ok("smtps://smtp.example.com");
        assert_eq!((u.security, u.port), (Security::Implicit, 465));
        assert_eq!(ok("smtps://u:p@h:2465").port, 2465);
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(err("http://h:25").contains("scheme"));
        assert!(err("smtp://").contains("host"));
        assert!(err("smtp:h").contains("host"));
        assert!(err("smtp://h:25/relay").contains("path"));
        assert!(err("smtp://h?tls=yes").contains("tls=yes"));
        assert!(err("smtp://h?tls=starttls&tls=none").contains("twice"));
        assert!(err("smtp://h?timeout=3").contains("unknown parameter"));
        assert!(err("smtps://h?tls=starttls").contains("smtps://"));
        assert!(err("smtp://h:99999").contains("not valid"));
        assert!(err("not a url").contains("not valid"));
        assert!(err("smtp://h#x").contains("fragment"));
    }

    #[test]
    fn refuses_credentials_in_clear_and_never_shows_the_password() {
        let e = err("smtp://user:secret123@h:25");
        assert!(e.contains("TLS"), "{e}");
        assert!(!e.contains("secret123"));
        let u = ok("smtps://user:secret123@h");
        assert!(!format!("{u:?}").contains("secret123"));
    }

    #[test]
    fn builds_a_transport_for_each_form() {
        for s in [
            "smtp://127.0.0.1:2525",
            "smtp://u:p@localhost:587?tls=starttls",
            "smtps://localhost",
        ] {
            ok(s).transport(None).unwrap_or_else(|e| panic!("{s}: {e}"));
            ok(s)
                .transport(Some("id.example.com"))
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }
}
