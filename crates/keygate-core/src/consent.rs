//! Whether a person must allow what a client asks for (OpenID Connect Core
//! 3.1.2.4). Only third-party clients ask: a first-party client (the
//! tenant's own application) never does, whatever `prompt` says. A
//! third-party client asks when the person has not allowed every requested
//! scope for the requested API before, and always for `prompt=consent`.

use crate::authorize::AuthorizeRequest;
use crate::model::{Client, Consent};

/// The key of a consent's API: the identifier, or '' for the client's own
/// tokens.
pub fn resource_key(req: &AuthorizeRequest) -> &str {
    req.resource.as_deref().unwrap_or("")
}

/// What the person allows with `req`: its scope, then the scopes that
/// would release the claims its `claims` parameter names (so naming a
/// claim asks for the same consent as its scope would).
pub fn asked_scopes(req: &AuthorizeRequest) -> Vec<&str> {
    let mut out: Vec<&str> = req.scope.tokens().collect();
    for s in req.claims.covering_scopes() {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Whether the person must be asked before `client` gets a code for
/// `req`, given what they allowed it before for the request's API.
pub fn needs_consent(client: &Client, req: &AuthorizeRequest, allowed: Option<&Consent>) -> bool {
    if !client.third_party {
        return false;
    }
    if req.prompt_consent {
        return true;
    }
    match allowed {
        None => true,
        Some(c) => !asked_scopes(req)
            .into_iter()
            .all(|t| c.scopes.iter().any(|s| s == t)),
    }
}

/// The consent that allowing `req` stores: what was allowed before and
/// what is asked now.
pub fn allowing(
    req: &AuthorizeRequest,
    tenant_id: &str,
    user_sub: &str,
    earlier: Option<&Consent>,
    now: i64,
) -> Consent {
    let mut scopes: Vec<String> = earlier.map(|c| c.scopes.clone()).unwrap_or_default();
    for t in asked_scopes(req) {
        if !scopes.iter().any(|s| s == t) {
            scopes.push(t.to_string());
        }
    }
    Consent {
        tenant_id: tenant_id.to_string(),
        user_sub: user_sub.to_string(),
        client_id: req.client_id.clone(),
        resource: resource_key(req).to_string(),
        scopes,
        granted_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::validate;
    use crate::model::*;
    use crate::params::Params;

    fn client(third_party: bool) -> Client {
        Client {
            public: true,
            secret_hash: None,
            auth_method: AuthMethod::None,
            redirect_uris: vec!["https://app/cb".into()],
            refresh_token_max_ttl: 1,
            third_party,
            ..Client::example()
        }
    }

    fn req(c: &Client, q: &str) -> AuthorizeRequest {
        let q = format!(
            "client_id=c1&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&{q}"
        );
        validate(
            &Params::from_urlencoded(q.as_bytes()).unwrap(),
            Some(c),
            None,
        )
        .unwrap()
    }

    #[test]
    fn only_third_party_clients_ask_and_only_for_what_is_new() {
        let first = client(false);
        assert!(!needs_consent(
            &first,
            &req(&first, "scope=openid&prompt=consent"),
            None
        ));
        let third = client(true);
        let r = req(&third, "scope=openid+email");
        assert!(needs_consent(&third, &r, None));
        let allowed = allowing(&r, "t", "u", None, 5);
        assert_eq!(allowed.scopes, vec!["openid", "email"]);
        assert_eq!((allowed.resource.as_str(), allowed.granted_at), ("", 5));
        assert!(!needs_consent(&third, &r, Some(&allowed)));
        assert!(!needs_consent(
            &third,
            &req(&third, "scope=email"),
            Some(&allowed)
        ));
        // A new scope asks; allowing it keeps the earlier ones.
        let more = req(&third, "scope=openid+profile");
        assert!(needs_consent(&third, &more, Some(&allowed)));
        let both = allowing(&more, "t", "u", Some(&allowed), 6);
        assert_eq!(both.scopes, vec!["openid", "email", "profile"]);
        // prompt=consent always asks.
        assert!(needs_consent(
            &third,
            &req(&third, "scope=openid&prompt=consent"),
            Some(&both)
        ));
    }

    #[test]
    fn claims_named_by_the_claims_parameter_ask_as_their_scopes_would() {
        let third = client(true);
        let allowed = allowing(&req(&third, "scope=openid"), "t", "u", None, 5);
        // {"userinfo":{"phone_number":null},"id_token":{"email":null}}
        let q = "scope=openid&claims=%7B%22userinfo%22%3A%7B%22phone_number%22%3Anull%7D%2C\
                 %22id_token%22%3A%7B%22email%22%3Anull%7D%7D";
        let named = req(&third, q);
        assert_eq!(asked_scopes(&named), ["openid", "email", "phone"]);
        assert!(needs_consent(&third, &named, Some(&allowed)));
        let both = allowing(&named, "t", "u", Some(&allowed), 6);
        assert_eq!(both.scopes, ["openid", "email", "phone"]);
        assert!(!needs_consent(&third, &named, Some(&both)));
        assert!(!needs_consent(
            &third,
            &req(&third, "scope=openid+phone"),
            Some(&both)
        ));
    }
}
