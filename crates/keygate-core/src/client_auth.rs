//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 2.3; OpenID Connect Core 9): which method the request
//! used, and whether that is the client's registered method with the right
//! secret. A client assertion (`private_key_jwt`, `client_secret_jwt`) is
//! read by [`crate::client_assertion`]; its signature is left to the caller
//! ([`Proof::Assertion`]).

use crate::client_assertion::{self, AssertionError, Claims};
use crate::error::OAuthError;
use crate::model::{AuthMethod, Client};
use serde_json::Value;

/// What the request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// The client the request claims to be.
    pub client_id: String,
    /// The method it used (`None` when it sent only a `client_id`).
    pub method: AuthMethod,
    /// The secret it sent, to check against the stored hash.
    pub secret: Option<String>,
    /// The claims of the client assertion it sent, not yet verified.
    pub assertion: Option<Claims>,
}

/// Reads a client assertion's `alg` and decoded claims: the method it
/// stands for (HMAC: `client_secret_jwt`; a public-key signature:
/// `private_key_jwt`; `none` and others refused) and its claims.
pub fn read_assertion(alg: &str, payload: &Value) -> Result<(AuthMethod, Claims), AssertionError> {
    let method = client_assertion::method_of_alg(alg)?;
    Ok((method, client_assertion::claims(payload)?))
}

/// Works out the method used from the decoded Basic header, the body's
/// `client_id` / `client_secret` and a client assertion (read by
/// [`read_assertion`]). Two methods at once is `invalid_client` (RFC 6749
/// 2.3: "MUST NOT use more than one authentication method"), and so is a
/// `client_id` other than the assertion's subject (RFC 7521 4.2).
pub fn presented(
    basic: Option<(String, String)>,
    body_client_id: Option<&str>,
    body_client_secret: Option<&str>,
    assertion: Option<(AuthMethod, Claims)>,
) -> Result<Presented, OAuthError> {
    if let Some((method, claims)) = assertion {
        if basic.is_some() || body_client_secret.is_some() {
            return Err(OAuthError::invalid_client(
                "the client authenticated with more than one method (a client assertion and a secret)",
            ));
        }
        if body_client_id.is_some_and(|b| b != claims.sub) {
            return Err(OAuthError::invalid_client(
                "client_id differs from the client assertion's sub",
            ));
        }
        return Ok(Presented {
            client_id: claims.sub.clone(),
            method,
            secret: None,
            assertion: Some(claims),
        });
    }
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
                assertion: None,
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
                assertion: None,
            })
        }
        (None, None) => {
            let id = body_client_id
                .ok_or_else(|| OAuthError::invalid_client("the client did not identify itself"))?;
            Ok(Presented {
                client_id: id.to_string(),
                method: AuthMethod::None,
                secret: None,
                assertion: None,
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
    /// `client_secret_post`, for a client registered with either: revocation
    /// (RFC 7009 2.1) and introspection (RFC 7662 2.1) only ask that the
    /// client authenticate, and libraries such as authlib always revoke
    /// with HTTP Basic. A public client still presents no secret, and a
    /// `private_key_jwt` or `client_secret_jwt` client its assertion.
    AnySecretTransport,
}

/// What is left to prove once [`authenticate`] accepted the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "an assertion's signature must still be verified"]
pub enum Proof {
    /// Nothing: the secret matched, or the client is public.
    Complete,
    /// The client assertion's signature (with the client's keys or secret),
    /// its claims ([`client_assertion::check`]) and the single use of its
    /// `jti`: the client is authenticated only once all three hold.
    Assertion,
}

/// Whether a secret is sent as such (Basic or in the body).
fn is_secret_transport(m: AuthMethod) -> bool {
    matches!(
        m,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    )
}

/// Authenticates a presented client against its record. `secret_matches`
/// compares a secret with the stored hash (in constant time). The public
/// text is the same for every failure (an unknown client, the wrong
/// method, the wrong secret), so it never says whether the client exists;
/// why it failed is in the private detail, for the log. A client
/// assertion of the registered method answers [`Proof::Assertion`].
pub fn authenticate(
    presented: &Presented,
    client: Option<&Client>,
    methods: Methods,
    secret_matches: impl Fn(&str, &str) -> bool,
) -> Result<Proof, OAuthError> {
    let fail = |detail: String| {
        Err(OAuthError::invalid_client("client authentication failed").with_detail(detail))
    };
    let Some(client) = client else {
        return fail("unknown client".into());
    };
    let method_ok = match methods {
        Methods::Registered => presented.method == client.auth_method,
        // Only clients that send their secret anyway may send it at
        // revocation and introspection by either transport: a JWT
        // client's secret (client_secret_jwt) never travels, and a
        // private_key_jwt client has none.
        Methods::AnySecretTransport => {
            presented.method == client.auth_method
                || (!client.public
                    && is_secret_transport(client.auth_method)
                    && is_secret_transport(presented.method))
        }
    };
    if !method_ok {
        return fail(format!(
            "this client must authenticate with {}, not {}",
            client.auth_method.as_str(),
            presented.method.as_str()
        ));
    }
    if presented.assertion.is_some() {
        return if client.public {
            fail("a public client cannot use a client assertion".into())
        } else {
            Ok(Proof::Assertion)
        };
    }
    match (&presented.secret, &client.secret_hash) {
        (None, _) if client.public => Ok(Proof::Complete),
        (Some(secret), Some(hash)) if !client.public => {
            if secret_matches(hash, secret) {
                Ok(Proof::Complete)
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
            tenant_id: "default".into(),
            public: method == AuthMethod::None,
            secret_hash: (method != AuthMethod::None).then(|| "H(s3cret)".into()),
            auth_method: method,
            redirect_uris: vec![],
            ..Client::example()
        }
    }
    fn eq(hash: &str, secret: &str) -> bool {
        hash == format!("H({secret})")
    }
    fn pres(
        b: Option<(String, String)>,
        id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<Presented, OAuthError> {
        presented(b, id, secret, None)
    }
    fn basic() -> Option<(String, String)> {
        Some(("c1".into(), "s3cret".into()))
    }

    #[test]
    fn method_detection() {
        assert_eq!(
            pres(basic(), None, None).unwrap().method,
            AuthMethod::ClientSecretBasic
        );
        assert_eq!(
            pres(basic(), Some("c1"), None).unwrap().method,
            AuthMethod::ClientSecretBasic
        );
        assert_eq!(
            pres(None, Some("c1"), Some("x")).unwrap().method,
            AuthMethod::ClientSecretPost
        );
        assert_eq!(
            pres(None, Some("c1"), None).unwrap().method,
            AuthMethod::None
        );
        for (b, id, s) in [
            (basic(), None, Some("x")),
            (basic(), Some("other"), None),
            (None, None, Some("x")),
            (None, None, None),
        ] {
            assert_eq!(pres(b, id, s).unwrap_err().code, ErrorCode::InvalidClient);
        }
    }

    #[test]
    fn registered_method_is_enforced() {
        let table = [
            (
                AuthMethod::ClientSecretBasic,
                pres(basic(), None, None),
                true,
            ),
            (
                AuthMethod::ClientSecretBasic,
                pres(None, Some("c1"), Some("s3cret")),
                false,
            ),
            (
                AuthMethod::ClientSecretBasic,
                pres(None, Some("c1"), None),
                false,
            ),
            (
                AuthMethod::ClientSecretPost,
                pres(None, Some("c1"), Some("s3cret")),
                true,
            ),
            (
                AuthMethod::ClientSecretPost,
                pres(basic(), None, None),
                false,
            ),
            (AuthMethod::None, pres(None, Some("c1"), None), true),
            (AuthMethod::None, pres(basic(), None, None), false),
            (
                AuthMethod::None,
                pres(None, Some("c1"), Some("s3cret")),
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
        let p = pres(Some(("c1".into(), "nope".into())), None, None).unwrap();
        assert!(authenticate(
            &p,
            Some(&client(AuthMethod::ClientSecretBasic)),
            Methods::Registered,
            eq
        )
        .is_err());
        let p = pres(basic(), None, None).unwrap();
        let e = authenticate(&p, None, Methods::Registered, eq).unwrap_err();
        assert_eq!(e.description, "client authentication failed");
    }

    /// No client-existence oracle: an unknown client, a known client using
    /// the wrong method and a wrong secret read the same to the caller;
    /// only the private detail differs.
    #[test]
    fn every_failure_reads_the_same() {
        let post = pres(None, Some("c1"), Some("s3cret")).unwrap();
        let basic_wrong = pres(Some(("c1".into(), "nope".into())), None, None).unwrap();
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
        let by_basic = pres(basic(), None, None).unwrap();
        let by_post = pres(None, Some("c1"), Some("s3cret")).unwrap();
        let by_none = pres(None, Some("c1"), None).unwrap();
        for registered in [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost] {
            let c = client(registered);
            for p in [&by_basic, &by_post] {
                assert!(authenticate(p, Some(&c), Methods::AnySecretTransport, eq).is_ok());
            }
            // Still no confidential client without its secret, nor a wrong one.
            assert!(authenticate(&by_none, Some(&c), Methods::AnySecretTransport, eq).is_err());
            let wrong = pres(None, Some("c1"), Some("nope")).unwrap();
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

    fn claims(sub: &str) -> Claims {
        Claims {
            iss: sub.into(),
            sub: sub.into(),
            aud: vec!["https://issuer".into()],
            exp: 10,
            nbf: None,
            iat: None,
            jti: "j".into(),
        }
    }

    fn by_assertion(method: AuthMethod) -> Presented {
        presented(None, Some("c1"), None, Some((method, claims("c1")))).unwrap()
    }

    #[test]
    fn an_assertion_names_the_client_and_its_method() {
        let p = presented(
            None,
            None,
            None,
            Some((AuthMethod::PrivateKeyJwt, claims("c1"))),
        )
        .unwrap();
        assert_eq!(
            (p.client_id.as_str(), p.method, p.secret.as_deref()),
            ("c1", AuthMethod::PrivateKeyJwt, None)
        );
        assert_eq!(p.assertion, Some(claims("c1")));
        assert_eq!(
            by_assertion(AuthMethod::ClientSecretJwt).method,
            AuthMethod::ClientSecretJwt
        );
        // A secret as well, or another client_id, is refused.
        let a = || Some((AuthMethod::PrivateKeyJwt, claims("c1")));
        for r in [
            presented(basic(), None, None, a()),
            presented(None, Some("c1"), Some("s3cret"), a()),
            presented(None, Some("c2"), None, a()),
        ] {
            assert_eq!(r.unwrap_err().code, ErrorCode::InvalidClient);
        }
    }

    #[test]
    fn algorithms_are_read_with_the_claims() {
        let payload =
            serde_json::json!({"iss": "c1", "sub": "c1", "aud": "a", "exp": 1, "jti": "j"});
        assert_eq!(
            read_assertion("ES256", &payload).unwrap().0,
            AuthMethod::PrivateKeyJwt
        );
        assert_eq!(
            read_assertion("HS256", &payload).unwrap().0,
            AuthMethod::ClientSecretJwt
        );
        assert_eq!(
            read_assertion("none", &payload).unwrap_err(),
            AssertionError::Unsigned
        );
        assert_eq!(
            read_assertion("ES256", &serde_json::json!({"sub": "c1"})).unwrap_err(),
            AssertionError::Claim("aud")
        );
    }

    /// The registered JWT method is enforced everywhere: an HMAC assertion
    /// for a private_key_jwt client (and the reverse), a secret for a JWT
    /// client, or an assertion for a secret client are all refused, also
    /// at revocation and introspection.
    #[test]
    fn jwt_methods_are_enforced() {
        for methods in [Methods::Registered, Methods::AnySecretTransport] {
            for registered in [AuthMethod::PrivateKeyJwt, AuthMethod::ClientSecretJwt] {
                let c = client(registered);
                assert_eq!(
                    authenticate(&by_assertion(registered), Some(&c), methods, eq).unwrap(),
                    Proof::Assertion
                );
                let other = if registered == AuthMethod::PrivateKeyJwt {
                    AuthMethod::ClientSecretJwt
                } else {
                    AuthMethod::PrivateKeyJwt
                };
                assert!(authenticate(&by_assertion(other), Some(&c), methods, eq).is_err());
                for secret in [
                    pres(basic(), None, None).unwrap(),
                    pres(None, Some("c1"), Some("s3cret")).unwrap(),
                    pres(None, Some("c1"), None).unwrap(),
                ] {
                    let e = authenticate(&secret, Some(&c), methods, eq).unwrap_err();
                    assert_eq!(e.description, "client authentication failed");
                }
            }
            for registered in [
                AuthMethod::ClientSecretBasic,
                AuthMethod::ClientSecretPost,
                AuthMethod::None,
            ] {
                for m in [AuthMethod::PrivateKeyJwt, AuthMethod::ClientSecretJwt] {
                    assert!(
                        authenticate(&by_assertion(m), Some(&client(registered)), methods, eq)
                            .is_err()
                    );
                }
            }
            // An unknown client reads like any other failure.
            let e = authenticate(&by_assertion(AuthMethod::PrivateKeyJwt), None, methods, eq)
                .unwrap_err();
            assert_eq!(e.detail.as_deref(), Some("unknown client"));
        }
        // A public client with a JWT method on record (never provisioned,
        // but the rule holds) is refused.
        let mut public = client(AuthMethod::PrivateKeyJwt);
        public.public = true;
        assert!(authenticate(
            &by_assertion(AuthMethod::PrivateKeyJwt),
            Some(&public),
            Methods::Registered,
            eq
        )
        .is_err());
    }
}
