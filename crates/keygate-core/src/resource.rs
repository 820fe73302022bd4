//! Which API a request is for, and the scopes it may carry there.
//!
//! A client names an API by `resource` (RFC 8707) or `audience` (what
//! Auth0's apps send); both, if sent, must be the same. The API's
//! identifier becomes the access token's `aud` (RFC 9068) and the token's
//! scopes are limited to what the API defines (and, for a client acting
//! for itself, what it was granted). Without either, a token is for the
//! client itself: `aud` is the client's id, the RFC 9068 default (a
//! resource server checking `aud` against its own identifier refuses it).

use crate::error::OAuthError;
use crate::model::{Api, ClientGrant};
use crate::params::Params;
use crate::scope::{Scope, USER_SCOPES};

/// Longest accepted identifier (an API's and a request's).
pub const MAX_IDENTIFIER_LEN: usize = 512;

/// Whether `s` may identify an API: an absolute URI without a fragment
/// (RFC 8707 2), at most [`MAX_IDENTIFIER_LEN`] characters.
pub fn is_identifier(s: &str) -> bool {
    s.len() <= MAX_IDENTIFIER_LEN
        && !s.contains('#')
        && url::Url::parse(s).is_ok_and(|u| !u.cannot_be_a_base() || u.scheme() == "urn")
}

/// The API identifier a request names by `resource` or `audience`, if any.
pub fn named(p: &Params) -> Result<Option<&str>, OAuthError> {
    let named = match (p.get("resource"), p.get("audience")) {
        (None, None) => return Ok(None),
        (Some(r), Some(a)) if r != a => {
            return Err(OAuthError::invalid_target(
                "resource and audience name different APIs",
            ))
        }
        (Some(r), _) => r,
        (None, Some(a)) => a,
    };
    if !is_identifier(named) {
        return Err(OAuthError::invalid_target(
            "the resource must be an absolute URI without a fragment",
        ));
    }
    Ok(Some(named))
}

/// The API a request names, checked against the one the server found for
/// it (`found`: the tenant's API with that identifier, if any).
pub fn resolve<'a>(p: &Params, found: Option<&'a Api>) -> Result<Option<&'a Api>, OAuthError> {
    match named(p)? {
        None => Ok(None),
        Some(id) => match found {
            Some(api) if api.identifier == id => Ok(Some(api)),
            _ => Err(OAuthError::invalid_target(
                "the resource names no API of this tenant",
            )),
        },
    }
}

/// The scope a person may be asked for: the scopes Keygate knows
/// (`openid`, `profile`, ...) and, with an API, the scopes it defines.
pub fn user_scope(raw: &str, api: Option<&Api>) -> Result<Scope, OAuthError> {
    let scope = Scope::parse(raw)?;
    let known =
        |t: &str| USER_SCOPES.contains(&t) || api.is_some_and(|a| a.scopes.iter().any(|s| s == t));
    if let Some(bad) = scope.tokens().find(|t| !known(t)) {
        return Err(OAuthError::invalid_scope(match api {
            Some(a) => format!(
                "scope '{bad}' is not defined by the API {} nor a scope of a person",
                a.identifier
            ),
            None => format!(
                "scope '{bad}' is not supported; use openid, profile, email, address, phone, offline_access, \
                 or name an API with resource or audience"
            ),
        }));
    }
    Ok(scope)
}

/// The scope a client gets for itself from an API (client_credentials):
/// what it asks for, each granted to it; everything granted when it asks
/// for nothing.
pub fn client_scope(
    requested: Option<&Scope>,
    api: &Api,
    grant: Option<&ClientGrant>,
) -> Result<Scope, OAuthError> {
    let granted: Vec<&str> = grant
        .map(|g| {
            g.scopes
                .iter()
                .map(String::as_str)
                .filter(|s| api.scopes.iter().any(|d| d == s))
                .collect()
        })
        .unwrap_or_default();
    match requested {
        Some(r) if !r.is_empty() => {
            if let Some(bad) = r.tokens().find(|t| !granted.contains(t)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope '{bad}' of {} is not granted to this client",
                    api.identifier
                )));
            }
            Ok(r.clone())
        }
        _ if granted.is_empty() => Err(OAuthError::invalid_scope(format!(
            "this client is granted no scope of {}",
            api.identifier
        ))),
        _ => Scope::parse(&granted.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn api() -> Api {
        Api {
            tenant_id: "t".into(),
            identifier: "https://api.example.com/payments".into(),
            name: "Payments".into(),
            scopes: vec!["payments:read".into(), "payments:write".into()],
            access_token_ttl: None,
            signing_alg: None,
            created_at: 0,
        }
    }

    fn params(q: &str) -> Params {
        Params::from_urlencoded(q.as_bytes()).unwrap()
    }

    #[test]
    fn identifiers_are_absolute_uris_without_fragments() {
        assert!(is_identifier("https://api.example.com/payments"));
        assert!(is_identifier("urn:example:payments"));
        for bad in [
            "payments",
            "/payments",
            "https://api.example.com/#x",
            "",
            "mailto:",
        ] {
            assert!(!is_identifier(bad), "{bad}");
        }
        assert!(!is_identifier(&format!("https://a/{}", "x".repeat(600))));
    }

    #[test]
    fn a_request_names_its_api_by_resource_or_audience() {
        let a = api();
        assert_eq!(named(&params("x=1")).unwrap(), None);
        let q = "resource=https%3A%2F%2Fapi.example.com%2Fpayments";
        assert_eq!(resolve(&params(q), Some(&a)).unwrap(), Some(&a));
        let q = "audience=https%3A%2F%2Fapi.example.com%2Fpayments";
        assert_eq!(resolve(&params(q), Some(&a)).unwrap(), Some(&a));
        let both = "audience=https%3A%2F%2Fapi.example.com%2Fpayments&resource=https%3A%2F%2Fother";
        assert_eq!(
            named(&params(both)).unwrap_err().code,
            ErrorCode::InvalidTarget
        );
        let unknown = "resource=https%3A%2F%2Fother.example";
        assert_eq!(
            resolve(&params(unknown), None).unwrap_err().code,
            ErrorCode::InvalidTarget
        );
        assert_eq!(
            resolve(&params(unknown), Some(&a)).unwrap_err().code,
            ErrorCode::InvalidTarget,
            "a found API must be the one named"
        );
        assert_eq!(
            named(&params("resource=relative")).unwrap_err().code,
            ErrorCode::InvalidTarget
        );
    }

    #[test]
    fn a_person_is_asked_only_for_known_scopes() {
        let a = api();
        assert!(user_scope("openid payments:read", Some(&a)).is_ok());
        assert!(user_scope("openid email", None).is_ok());
        assert!(user_scope("openid profile email offline_access", None).is_ok());
        for (raw, with) in [("openid payments:read", None), ("openid admin", Some(&a))] {
            assert_eq!(
                user_scope(raw, with).unwrap_err().code,
                ErrorCode::InvalidScope,
                "{raw}"
            );
        }
    }

    #[test]
    fn a_client_gets_only_what_it_was_granted() {
        let a = api();
        let grant = ClientGrant {
            tenant_id: "t".into(),
            client_id: "c".into(),
            api: a.identifier.clone(),
            scopes: vec!["payments:read".into(), "gone".into()],
        };
        let s = |v: &str| Scope::parse(v).unwrap();
        assert_eq!(
            client_scope(None, &a, Some(&grant)).unwrap(),
            s("payments:read"),
            "all granted (and still defined) when none is asked"
        );
        assert_eq!(
            client_scope(Some(&s("payments:read")), &a, Some(&grant)).unwrap(),
            s("payments:read")
        );
        for asked in ["payments:write", "gone", "openid"] {
            assert_eq!(
                client_scope(Some(&s(asked)), &a, Some(&grant))
                    .unwrap_err()
                    .code,
                ErrorCode::InvalidScope,
                "{asked}"
            );
        }
        assert_eq!(
            client_scope(None, &a, None).unwrap_err().code,
            ErrorCode::InvalidScope
        );
    }
}
