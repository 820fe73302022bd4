//! Pushed authorization requests (RFC 9126): what a client may push, how
//! `/authorize` names a pushed request, and who must push.
//!
//! The pushed parameters are stored server-side; `/authorize` then carries
//! only `client_id` and `request_uri`, and so do the hosted forms through
//! sign-in, second factor and consent: the browser never holds the request
//! itself, so a client that must push (`require_par`) cannot be sent a
//! request it did not push.

use crate::error::OAuthError;
use crate::model::Client;
use crate::params::Params;

/// The prefix of every `request_uri` Keygate issues (RFC 9126 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may wait for its `/authorize`, in seconds
/// (RFC 9126 2.2 suggests between 5 and 600; 60 covers a redirect).
pub const EXPIRES_IN: i64 = 60;

/// How long an opened pushed request stays usable by the hosted forms
/// (a sign-in with a password, a second factor and consent).
pub const OPEN_FOR: i64 = 1800;

/// Parameters that authenticate the client at the pushed authorization
/// request endpoint; they are not part of the request and are not stored.
const AUTHENTICATION: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// The parameters to store for a pushed request: everything sent but the
/// client's credentials, with `client_id` (which may have come in the
/// Authorization header). A `request_uri` may not be pushed (RFC 9126 2.1),
/// and request objects are not supported.
pub fn pushable(p: &Params, client_id: &str) -> Result<Vec<(String, String)>, OAuthError> {
    if p.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri may not be pushed (RFC 9126 2.1)",
        ));
    }
    if p.contains("request") {
        return Err(OAuthError::new(
            crate::error::ErrorCode::RequestNotSupported,
            "request objects are not supported; push the parameters themselves",
        ));
    }
    if p.get("client_id").is_some_and(|c| c != client_id) {
        return Err(OAuthError::invalid_request(
            "client_id is not the authenticated client's",
        ));
    }
    let mut pairs: Vec<(String, String)> = p
        .iter()
        .filter(|(k, _)| !AUTHENTICATION.contains(k) && *k != "client_id")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.insert(0, ("client_id".into(), client_id.into()));
    Ok(pairs)
}

/// A pushed request named at `/authorize`: the client and the random part
/// of the `request_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The `client_id` sent with the `request_uri` (RFC 9126 4 requires it).
    pub client_id: &'a str,
    /// The whole `request_uri`, as issued.
    pub request_uri: &'a str,
}

/// Whether `/authorize` names a pushed request; an error (for an error
/// page: the redirect URI is not known yet) when it names one badly.
pub fn reference(p: &Params) -> Result<Option<Reference<'_>>, String> {
    let Some(request_uri) = p.get("request_uri") else {
        return Ok(None);
    };
    let Some(client_id) = p.get("client_id") else {
        return Err("The request names a request_uri without a client_id.".into());
    };
    let token = request_uri.strip_prefix(REQUEST_URI_PREFIX).unwrap_or("");
    if token.is_empty() || token.len() > 128 {
        return Err("The request_uri was not issued by this server's pushed authorization request endpoint.".into());
    }
    Ok(Some(Reference {
        client_id,
        request_uri,
    }))
}

/// The request a stored pushed request holds; other parameters sent to
/// `/authorize` beside `client_id` and `request_uri` are ignored (RFC 9126 4).
pub fn resolve(stored: &str, client_id: &str) -> Result<Params, String> {
    let p = Params::from_urlencoded(stored.as_bytes())
        .map_err(|_| "The pushed request could not be read.".to_string())?;
    if p.get("client_id") != Some(client_id) {
        return Err("The pushed request belongs to another client.".into());
    }
    Ok(p)
}

/// Refuses a request that was not pushed from a client that must push
/// (RFC 9126 6, `require_pushed_authorization_requests`).
pub fn must_push(client: &Client, pushed: bool) -> Result<(), OAuthError> {
    if client.require_par && !pushed {
        return Err(OAuthError::invalid_request(
            "this client must push its authorization requests first (RFC 9126)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn params(s: &str) -> Params {
        Params::from_urlencoded(s.as_bytes()).unwrap()
    }

    #[test]
    fn credentials_are_not_stored_and_client_id_comes_first() {
        let p = params("response_type=code&client_secret=s&client_assertion=a&client_assertion_type=t&scope=openid");
        let pairs = pushable(&p, "c1").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("client_id".to_string(), "c1".to_string()),
                ("response_type".into(), "code".into()),
                ("scope".into(), "openid".into()),
            ]
        );
        // A client_id in the body is kept once.
        let p = params("client_id=c1&scope=openid");
        assert_eq!(pushable(&p, "c1").unwrap().len(), 2);
    }

    #[test]
    fn request_uri_request_objects_and_other_clients_are_refused() {
        let e = pushable(&params("request_uri=urn:x"), "c1").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = pushable(&params("request=eyJ"), "c1").unwrap_err();
        assert_eq!(e.code, ErrorCode::RequestNotSupported);
        let e = pushable(&params("client_id=c2"), "c1").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn references_need_a_client_and_our_prefix() {
        assert_eq!(reference(&params("client_id=c1")), Ok(None));
        let uri = format!("{REQUEST_URI_PREFIX}abc");
        let p = params(&format!("client_id=c1&request_uri={uri}"));
        assert_eq!(
            reference(&p),
            Ok(Some(Reference {
                client_id: "c1",
                request_uri: &uri
            }))
        );
        assert!(reference(&params(&format!("request_uri={uri}"))).is_err());
        assert!(reference(&params("client_id=c1&request_uri=https://evil.example/r")).is_err());
        assert!(reference(&params(&format!(
            "client_id=c1&request_uri={REQUEST_URI_PREFIX}"
        )))
        .is_err());
        let long = "a".repeat(129);
        assert!(reference(&params(&format!(
            "client_id=c1&request_uri={REQUEST_URI_PREFIX}{long}"
        )))
        .is_err());
    }

    #[test]
    fn a_stored_request_resolves_only_for_its_client() {
        let p = resolve("client_id=c1&scope=openid", "c1").unwrap();
        assert_eq!(p.get("scope"), Some("openid"));
        assert!(resolve("client_id=c1&scope=openid", "c2").is_err());
        assert!(resolve("scope=openid", "c1").is_err());
    }

    #[test]
    fn only_clients_that_must_push_are_refused_unpushed_requests() {
        let mut c = Client::example();
        assert!(must_push(&c, false).is_ok());
        c.require_par = true;
        assert_eq!(
            must_push(&c, false).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert!(must_push(&c, true).is_ok());
    }
}
