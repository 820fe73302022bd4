//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 2.3): which method the request used, and whether that
//! is the client's registered method with the right secret.

use crate::error::OAuthError;
use crate::model::{AuthMethod, Client};

/// What the request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// The client the request claims to be.
    pub client_id: String,
    /// The method it used (`None` when it sent only a `client_id`).
    pub method: AuthMethod,
    /// The secret it sent, to check against the stored hash.
    pub secret: Option<String>,
}

/// Works out the method used from the decoded Basic header and the body's
/// `client_id` / `client_secret`. Two methods at once is `invalid_client`
/// (RFC 6749 2.3: "MUST NOT use more than one authentication method").
pub fn presented(
    basic: Option<(String, String)>,
    body_client_id: Option<&str>,
    body_client_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
    match (basic, body_client_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_client(
            "the client authenticated with more than one method (Basic header and client_secret)",
        )),
        (Some((id, secret)), None) => {
            if body_client_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the body differs from the one in the Basic header",
                ));
            }
            Ok(Presented {
                client_id: id,
                method: AuthMethod::ClientSecretBasic,
                secret: Some(secret),
            })
        }
        (None, Some(secret)) => {
            let id = body_client_id.ok_or_else(|| {
                OAuthError::invalid_client("client_secret was sent without client_id")
            })?;
            Ok(Presented {
                client_id: id.to_string(),
                method: AuthMethod::ClientSecretPost,
                secret: Some(secret.to_string()),
            })
        }
        (None, None) => {
            let id = body_client_id
                .ok_or_else(|| OAuthError::invalid_client("the client did not identify itself"))?;
            Ok(Presented {
                client_id: id.to_string(),
                method: AuthMethod::None,
                secret: None,
            })
        }
    }
}

/// Which ways of sending a confidential client's secret an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Methods {
    /// Only the client's registered method (the token endpoint, RFC 6749
    /// 2.3.1, and the Journeys API).
    Registered,
    /// Either secret transport, `client_secret_basic` or
    /// `client_secret_post`, whatever the registered one: revocation
    /// (RFC 7009 2.1) and introspection (RFC 7662 2.1) only ask that the
    /// client authenticate, and libraries such as authlib always revoke
    /// with HTTP Basic. A public client still presents no secret.
    AnySecretTransport,
}

/// Authenticates a presented client against its record. `secret_matches`
/// compares a secret with the stored hash (in constant time). The public
/// text is the same for every failure (an unknown client, the wrong
/// method, the wrong secret), so it never says whether the client exists;
/// why it failed is in the private detail, for the log.
pub fn authenticate(
    presented: &Presented,
    client: Option<&Client>,
    methods: Methods,
    secret_matches: impl Fn(&str, &str) -> bool,
) -> Result<(), OAuthError> {
    let fail = |detail: String| {
        Err(OAuthError::invalid_client("client authentication failed").with_detail(detail))
    };
    let Some(client) = client else {
        return fail("unknown client".into());
    };
    let method_ok = match methods {
        Methods::Registered => presented.method == client.auth_method,
        Methods::AnySecretTransport => {
            presented.method == client.auth_method
                || (!client.public
                    && matches!(
                        presented.method,
                        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
                    ))
        }
    };
    if !method_ok {
        return fail(format!(
            "this client must authenticate with {}, not {}",
            client.auth_method.as_str(),
            presented.method.as_str()
        ));
    }
    match (&presented.secret, &client.secret_hash) {
        (None, _) if client.public => Ok(()),
        (Some(secret), Some(hash)) if !client.public => {
            if secret_matches(hash, secret) {
                Ok(())
            } else {
                fail("wrong secret".into())
            }
        }
        _ => fail("the client record and the presented credentials disagree".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::ErrorCode;

    fn client(method: AuthMethod) -> Client {
        Client {
            id: "c1".into(),
            tenant_id: "default".into(),
            name: "n".into(),
            public: method == AuthMethod::None,
            secret_hash: (method != AuthMethod::None).then(|| "H(s3cret)".into()),
            auth_method: method,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            refresh_policy: RefreshPolicy::OfflineAccess,
            id_token_ttl: 1,
            access_token_ttl: 1,
            refresh_token_max_ttl: crate::model::DEFAULT_REFRESH_TOKEN_MAX_TTL,
            journeys_api: false,
            web_origins: vec![],
            signing_alg: SigningAlg::RS256,
            pkce: PkcePolicy::S256,
            created_at: 0,
            token_rate_limit: None,
            require_mfa: false,
            third_party: false,
            registration_token_hash: None,
            first_used_at: None,
            jwks: None,
            jwks_uri: None,
            secret_sealed: None,
            require_dpop: false,
            require_par: false,
            exchange_audiences: Vec::new(),
            backchannel_logout_uri: None,
        }
    }
    fn eq(hash: &str, secret: &str) -> bool {
        hash == format!("H({secret})")
    }
    fn basic() -> Option<(String, String)> {
        Some(("c1".into(), "s3cret".into()))
    }

    #[test]
    fn method_detection() {
        assert_eq!(
            presented(basic(), None, None).unwrap().method,
            AuthMethod::ClientSecretBasic
        );
        assert_eq!(
            presented(basic(), Some("c1"), None).unwrap().method,
            AuthMethod::ClientSecretBasic
        );
        assert_eq!(
            presented(None, Some("c1"), Some("x")).unwrap().method,
            AuthMethod::ClientSecretPost
        );
        assert_eq!(
            presented(None, Some("c1"), None).unwrap().method,
            AuthMethod::None
        );
        for (b, id, s) in [
            (basic(), None, Some("x")),
            (basic(), Some("other"), None),
            (None, None, Some("x")),
            (None, None, None),
        ] {
            assert_eq!(
                presented(b, id, s).unwrap_err().code,
                ErrorCode::InvalidClient
            );
        }
    }

    #[test]
    fn registered_method_is_enforced() {
        let table = [
            (
                AuthMethod::ClientSecretBasic,
                presented(basic(), None, None),
                true,
            ),
            (
                AuthMethod::ClientSecretBasic,
                presented(None, Some("c1"), Some("s3cret")),
                false,
            ),
            (
                AuthMethod::ClientSecretBasic,
                presented(None, Some("c1"), None),
                false,
            ),
            (
                AuthMethod::ClientSecretPost,
                presented(None, Some("c1"), Some("s3cret")),
                true,
            ),
            (
                AuthMethod::ClientSecretPost,
                presented(basic(), None, None),
                false,
            ),
            (AuthMethod::None, presented(None, Some("c1"), None), true),
            (AuthMethod::None, presented(basic(), None, None), false),
            (
                AuthMethod::None,
                presented(None, Some("c1"), Some("s3cret")),
                false,
            ),
        ];
        for (registered, p, ok) in table {
            let r = authenticate(
                &p.unwrap(),
                Some(&client(registered)),
                Methods::Registered,
                eq,
            );
            assert_eq!(r.is_ok(), ok, "{registered:?}");
            if let Err(e) = r {
                assert_eq!(e.code, ErrorCode::InvalidClient);
            }
        }
    }

    #[test]
    fn wrong_secret_and_unknown_client() {
        let p = presented(Some(("c1".into(), "nope".into())), None, None).unwrap();
        assert!(authenticate(
            &p,
            Some(&client(AuthMethod::ClientSecretBasic)),
            Methods::Registered,
            eq
        )
        .is_err());
        let p = presented(basic(), None, None).unwrap();
        let e = authenticate(&p, None, Methods::Registered, eq).unwrap_err();
        assert_eq!(e.description, "client authentication failed");
    }

    /// No client-existence oracle: an unknown client, a known client using
    /// the wrong method and a wrong secret read the same to the caller;
    /// only the private detail differs.
    #[test]
    fn every_failure_reads_the_same() {
        let post = presented(None, Some("c1"), Some("s3cret")).unwrap();
        let basic_wrong = presented(Some(("c1".into(), "nope".into())), None, None).unwrap();
        let failures = [
            authenticate(&post, None, Methods::Registered, eq),
            authenticate(
                &post,
                Some(&client(AuthMethod::ClientSecretBasic)),
                Methods::Registered,
                eq,
            ),
            authenticate(
                &basic_wrong,
                Some(&client(AuthMethod::ClientSecretBasic)),
                Methods::Registered,
                eq,
            ),
            authenticate(
                &post,
                Some(&client(AuthMethod::None)),
                Methods::AnySecretTransport,
                eq,
            ),
        ];
        let mut details = Vec::new();
        for f in failures {
            let e = f.unwrap_err();
            assert_eq!(
                (e.code, &*e.description),
                (ErrorCode::InvalidClient, "client authentication failed")
            );
            details.push(e.detail.expect("a private detail for the log"));
        }
        assert_eq!(details[0], "unknown client");
        assert!(details[1].contains("client_secret_basic"), "{}", details[1]);
    }

    #[test]
    fn revocation_and_introspection_take_either_secret_transport() {
        let by_basic = presented(basic(), None, None).unwrap();
        let by_post = presented(None, Some("c1"), Some("s3cret")).unwrap();
        let by_none = presented(None, Some("c1"), None).unwrap();
        for registered in [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost] {
            let c = client(registered);
            for p in [&by_basic, &by_post] {
                assert!(authenticate(p, Some(&c), Methods::AnySecretTransport, eq).is_ok());
            }
            // Still no confidential client without its secret, nor a wrong one.
            assert!(authenticate(&by_none, Some(&c), Methods::AnySecretTransport, eq).is_err());
            let wrong = presented(None, Some("c1"), Some("nope")).unwrap();
            assert!(authenticate(&wrong, Some(&c), Methods::AnySecretTransport, eq).is_err());
        }
        // The token endpoint keeps enforcing the registered method.
        assert!(authenticate(
            &by_post,
            Some(&client(AuthMethod::ClientSecretBasic)),
            Methods::Registered,
            eq
        )
        .is_err());
        // A public client identifies itself, and a secret does not make it confidential.
        let public = client(AuthMethod::None);
        assert!(authenticate(&by_none, Some(&public), Methods::AnySecretTransport, eq).is_ok());
        assert!(authenticate(&by_basic, Some(&public), Methods::AnySecretTransport, eq).is_err());
    }
}
