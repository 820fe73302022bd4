//! Client assertions: a client authenticating with a JWT it signed
//! (`private_key_jwt`) or MACed with its secret (`client_secret_jwt`), as
//! RFC 7523 2.2 and 3, RFC 7521 4.2 and OpenID Connect Core 9 define them
//! (docs/client-auth.md).
//!
//! This module holds the rules that need no key: which parameters carry an
//! assertion, which algorithm means which method, and whether the claims
//! are acceptable now. The signature is checked by the server with the
//! client's keys (`keygate_crypto::client_jws`), and single use of `jti` by
//! the store, under [`replay_key`], until [`Accepted::remember_until`].
//!
//! Audience: the authorization server's issuer identifier is accepted, as
//! the OpenID Connect Core errata require and as openid-client sends, and so
//! is the URL of the token endpoint (RFC 7523 3, item 3; clients written
//! against the earlier OpenID Connect text) or of the endpoint that
//! received the assertion when the server names one (a pushed
//! authorization request endpoint, RFC 9126 2). `aud` may be a string or an
//! array; one accepted value in it suffices (RFC 7519 4.1.3).

use crate::error::OAuthError;
use crate::model::AuthMethod;
use serde_json::Value;

/// The only `client_assertion_type` (RFC 7523 2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live, counted from now: `exp` further
/// ahead is refused (RFC 7523 3, item 4 lets the server bound it). It also
/// bounds how long a `jti` is remembered.
pub const MAX_LIFETIME: i64 = 300;

/// The clock difference allowed between the client and the server
/// (RFC 7523 3, items 4 to 6: "some small leeway").
pub const LEEWAY: i64 = 30;

/// The longest `jti` accepted.
pub const MAX_JTI_LEN: usize = 256;

/// The algorithms of `private_key_jwt` assertions, as discovery lists them.
pub const PUBLIC_KEY_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// The algorithms of `client_secret_jwt` assertions, as discovery lists them.
pub const HMAC_ALGS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// Why an assertion is refused. Every one is `invalid_client` (RFC 7521
/// 4.2.1); the texts say nothing about whether the client exists or what
/// its keys are, so they are sent as the `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// `client_assertion` without `client_assertion_type`, or the reverse.
    #[error("client_assertion and client_assertion_type must be sent together")]
    Incomplete,
    /// A `client_assertion_type` other than [`ASSERTION_TYPE`].
    #[error(
        "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )]
    UnsupportedType,
    /// Not a compact JWS with a JSON header and JSON claims.
    #[error("the client assertion is not a signed JWT")]
    Malformed,
    /// `alg: none`: an unsigned assertion proves nothing.
    #[error("an unsigned client assertion (alg none) is not accepted")]
    Unsigned,
    /// An algorithm neither method uses.
    #[error("the client assertion's alg is not supported: use RS256, ES256, EdDSA, HS256, HS384 or HS512")]
    UnsupportedAlg,
    /// A required claim is missing or of the wrong type.
    #[error("the client assertion's {0} claim is missing or malformed")]
    Claim(&'static str),
    /// `iss` and `sub` are not both the client's id.
    #[error("the client assertion's iss and sub must both be the client_id")]
    NotTheClient,
    /// No `aud` value names this server.
    #[error("the client assertion's aud does not name this authorization server (its issuer identifier)")]
    Audience,
    /// `exp` has passed.
    #[error("the client assertion has expired")]
    Expired,
    /// `exp` is further ahead than [`MAX_LIFETIME`].
    #[error("the client assertion's exp is more than 300 seconds ahead")]
    TooLong,
    /// `nbf` or `iat` is in the future.
    #[error("the client assertion is not valid yet (nbf or iat is in the future)")]
    NotYetValid,
    /// The `jti` was used before.
    #[error("the client assertion was already used (jti replayed)")]
    Replayed,
}

impl From<AssertionError> for OAuthError {
    fn from(e: AssertionError) -> Self {
        OAuthError::invalid_client(e.to_string())
    }
}

/// The assertion a request carries, from `client_assertion_type` and
/// `client_assertion` (RFC 7521 4.2): `None` when it sends neither.
pub fn from_params<'a>(
    assertion_type: Option<&str>,
    assertion: Option<&'a str>,
) -> Result<Option<&'a str>, AssertionError> {
    match (assertion_type, assertion) {
        (None, None) => Ok(None),
        (Some(t), Some(a)) if t == ASSERTION_TYPE => Ok(Some(a)),
        (Some(_), Some(_)) => Err(AssertionError::UnsupportedType),
        _ => Err(AssertionError::Incomplete),
    }
}

/// The method an assertion's `alg` belongs to: an HMAC is
/// `client_secret_jwt`, a public-key signature `private_key_jwt`.
/// `none` and anything else are refused.
pub fn method_of_alg(alg: &str) -> Result<AuthMethod, AssertionError> {
    if alg.eq_ignore_ascii_case("none") {
        Err(AssertionError::Unsigned)
    } else if HMAC_ALGS.contains(&alg) {
        Ok(AuthMethod::ClientSecretJwt)
    } else if PUBLIC_KEY_ALGS.contains(&alg) {
        Ok(AuthMethod::PrivateKeyJwt)
    } else {
        Err(AssertionError::UnsupportedAlg)
    }
}

/// The claims of an assertion, read but not yet judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`.
    pub iss: String,
    /// `sub`: the client's id (RFC 7523 3, item 2).
    pub sub: String,
    /// `aud`, as a list.
    pub aud: Vec<String>,
    /// `exp` (whole seconds).
    pub exp: i64,
    /// `nbf`, if sent.
    pub nbf: Option<i64>,
    /// `iat`, if sent.
    pub iat: Option<i64>,
    /// `jti`.
    pub jti: String,
}

/// A NumericDate (RFC 7519 2): a number of seconds, maybe fractional.
fn date(v: &Value, name: &'static str) -> Result<Option<i64>, AssertionError> {
    match v.get(name) {
        None => Ok(None),
        Some(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
            _ => Err(AssertionError::Claim(name)),
        },
    }
}

fn text(v: &Value, name: &'static str) -> Result<String, AssertionError> {
    match v.get(name).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(AssertionError::Claim(name)),
    }
}

/// Reads the claims of a decoded payload. `iss`, `sub`, `aud`, `exp` and
/// `jti` are required (RFC 7523 3; OpenID Connect Core 9).
pub fn claims(payload: &Value) -> Result<Claims, AssertionError> {
    if !payload.is_object() {
        return Err(AssertionError::Malformed);
    }
    let aud = match payload.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(AssertionError::Claim("aud"))?,
        _ => return Err(AssertionError::Claim("aud")),
    };
    let jti = text(payload, "jti")?;
    if jti.len() > MAX_JTI_LEN {
        return Err(AssertionError::Claim("jti"));
    }
    Ok(Claims {
        iss: text(payload, "iss")?,
        sub: text(payload, "sub")?,
        aud,
        exp: date(payload, "exp")?.ok_or(AssertionError::Claim("exp"))?,
        nbf: date(payload, "nbf")?,
        iat: date(payload, "iat")?,
        jti,
    })
}

/// What the server expects of an assertion.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The client being authenticated.
    pub client_id: &'a str,
    /// The `aud` values that name this server (see the module's text).
    pub audiences: &'a [String],
    /// The request's clock reading.
    pub now: i64,
}

/// An acceptable assertion: its `jti`, to be used once, and until when it
/// must be remembered (its `exp` plus the leeway, after which it is
/// refused as expired anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `jti`.
    pub jti: String,
    /// Until when the `jti` must stay used.
    pub remember_until: i64,
}

/// Judges the claims (RFC 7523 3): issuer and subject are the client,
/// the audience is this server, the time window holds now, and the
/// lifetime is bounded. The signature and single use are the caller's.
pub fn check(c: &Claims, expected: &Expected<'_>) -> Result<Accepted, AssertionError> {
    if c.iss != expected.client_id || c.sub != expected.client_id {
        return Err(AssertionError::NotTheClient);
    }
    if !c
        .aud
        .iter()
        .any(|a| expected.audiences.iter().any(|e| e == a))
    {
        return Err(AssertionError::Audience);
    }
    let now = expected.now;
    if c.exp.saturating_add(LEEWAY) <= now {
        return Err(AssertionError::Expired);
    }
    if c.exp > now.saturating_add(MAX_LIFETIME + LEEWAY) {
        return Err(AssertionError::TooLong);
    }
    if [c.nbf, c.iat]
        .into_iter()
        .flatten()
        .any(|t| t > now.saturating_add(LEEWAY))
    {
        return Err(AssertionError::NotYetValid);
    }
    Ok(Accepted {
        jti: c.jti.clone(),
        remember_until: c.exp + LEEWAY,
    })
}

/// The replay store's key for a `jti`: the purpose, then a hash of the
/// tenant, the client and the `jti` (short, and nothing the client chose
/// appears in it as such).
pub fn replay_key(tenant: &str, client_id: &str, jti: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [tenant, client_id, jti] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let digest = ctx.finish();
    let mut key = String::from("client-assertion:");
    for b in digest.as_ref() {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://id.example.com/acme/as";
    const TOKEN: &str = "https://id.example.com/acme/as/token";

    fn audiences() -> Vec<String> {
        vec![ISSUER.into(), TOKEN.into()]
    }

    fn payload() -> Value {
        json!({
            "iss": "c1", "sub": "c1", "aud": ISSUER,
            "exp": NOW + 60, "iat": NOW, "nbf": NOW, "jti": "j1"
        })
    }

    fn judge(p: Value) -> Result<Accepted, AssertionError> {
        let a = audiences();
        check(
            &claims(&p)?,
            &Expected {
                client_id: "c1",
                audiences: &a,
                now: NOW,
            },
        )
    }

    fn with(k: &str, v: Value) -> Value {
        let mut p = payload();
        p[k] = v;
        p
    }

    fn without(k: &str) -> Value {
        let mut p = payload();
        p.as_object_mut().unwrap().remove(k);
        p
    }

    #[test]
    fn a_good_assertion_is_accepted_until_its_exp() {
        assert_eq!(
            judge(payload()),
            Ok(Accepted {
                jti: "j1".into(),
                remember_until: NOW + 60 + LEEWAY
            })
        );
    }

    #[test]
    fn parameters() {
        assert_eq!(from_params(None, None), Ok(None));
        assert_eq!(from_params(Some(ASSERTION_TYPE), Some("x")), Ok(Some("x")));
        assert_eq!(
            from_params(
                Some("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
                Some("x")
            ),
            Err(AssertionError::UnsupportedType)
        );
        assert_eq!(
            from_params(Some(ASSERTION_TYPE), None),
            Err(AssertionError::Incomplete)
        );
        assert_eq!(
            from_params(None, Some("x")),
            Err(AssertionError::Incomplete)
        );
    }

    #[test]
    fn algorithms_decide_the_method() {
        for alg in PUBLIC_KEY_ALGS {
            assert_eq!(method_of_alg(alg), Ok(AuthMethod::PrivateKeyJwt));
        }
        for alg in HMAC_ALGS {
            assert_eq!(method_of_alg(alg), Ok(AuthMethod::ClientSecretJwt));
        }
        for none in ["none", "None", "NONE"] {
            assert_eq!(method_of_alg(none), Err(AssertionError::Unsigned));
        }
        for other in ["", "hs256", "RS512", "PS256", "ES384", "Ed25519", "HS1"] {
            assert_eq!(
                method_of_alg(other),
                Err(AssertionError::UnsupportedAlg),
                "{other}"
            );
        }
    }

    #[test]
    fn required_claims() {
        for k in ["iss", "sub", "aud", "exp", "jti"] {
            assert_eq!(judge(without(k)), Err(AssertionError::Claim(k)), "{k}");
        }
        // nbf and iat are optional.
        assert!(judge(without("nbf")).is_ok());
        assert!(judge(without("iat")).is_ok());
        for (k, bad) in [
            ("iss", json!(1)),
            ("iss", json!("")),
            ("sub", json!(null)),
            ("aud", json!([])),
            ("aud", json!([ISSUER, 3])),
            ("aud", json!({})),
            ("exp", json!("soon")),
            ("exp", json!(null)),
            ("nbf", json!("now")),
            ("iat", json!(true)),
            ("jti", json!(5)),
            ("jti", json!("")),
            ("jti", json!("j".repeat(MAX_JTI_LEN + 1))),
        ] {
            assert_eq!(
                judge(with(k, bad.clone())),
                Err(AssertionError::Claim(k)),
                "{k}: {bad}"
            );
        }
        assert_eq!(claims(&json!([1])), Err(AssertionError::Malformed));
        // Fractional NumericDates are read.
        assert!(judge(with("exp", json!(NOW as f64 + 60.5))).is_ok());
    }

    #[test]
    fn issuer_and_subject_are_the_client() {
        for (iss, sub) in [("c2", "c1"), ("c1", "c2"), ("c2", "c2")] {
            let mut p = payload();
            p["iss"] = json!(iss);
            p["sub"] = json!(sub);
            assert_eq!(judge(p), Err(AssertionError::NotTheClient));
        }
    }

    #[test]
    fn audience() {
        assert!(judge(with("aud", json!(TOKEN))).is_ok());
        assert!(judge(with("aud", json!(["https://other.example", ISSUER]))).is_ok());
        for bad in [
            json!("https://id.example.com/other/as"),
            json!(format!("{ISSUER}/")),
            json!("https://id.example.com/acme/as/revoke"),
            json!(["https://other.example"]),
            json!("HTTPS://ID.EXAMPLE.COM/acme/as"),
        ] {
            assert_eq!(
                judge(with("aud", bad.clone())),
                Err(AssertionError::Audience),
                "{bad}"
            );
        }
    }

    #[test]
    fn time_window() {
        // exp: in the past beyond the leeway is expired; within it, accepted.
        assert!(judge(with("exp", json!(NOW - LEEWAY + 1))).is_ok());
        assert_eq!(
            judge(with("exp", json!(NOW - LEEWAY))),
            Err(AssertionError::Expired)
        );
        assert_eq!(
            judge(with("exp", json!(NOW - 3600))),
            Err(AssertionError::Expired)
        );
        // exp at most MAX_LIFETIME (plus leeway) ahead.
        assert!(judge(with("exp", json!(NOW + MAX_LIFETIME + LEEWAY))).is_ok());
        assert_eq!(
            judge(with("exp", json!(NOW + MAX_LIFETIME + LEEWAY + 1))),
            Err(AssertionError::TooLong)
        );
        assert_eq!(
            judge(with("exp", json!(i64::MAX))),
            Err(AssertionError::TooLong)
        );
        // nbf and iat: not in the future beyond the leeway.
        for k in ["nbf", "iat"] {
            assert!(judge(with(k, json!(NOW + LEEWAY))).is_ok(), "{k}");
            assert_eq!(
                judge(with(k, json!(NOW + LEEWAY + 1))),
                Err(AssertionError::NotYetValid),
                "{k}"
            );
            assert!(judge(with(k, json!(NOW - 250))).is_ok(), "{k}");
        }
        assert_eq!(
            judge(with("exp", json!(i64::MIN))),
            Err(AssertionError::Expired)
        );
    }

    #[test]
    fn every_refusal_is_invalid_client() {
        let e: OAuthError = AssertionError::Replayed.into();
        assert_eq!(e.code, crate::ErrorCode::InvalidClient);
        assert!(e.description.contains("already used"));
    }

    #[test]
    fn replay_keys_separate_tenants_clients_and_jtis() {
        let k = replay_key("t", "c", "j");
        assert!(k.starts_with("client-assertion:"));
        assert_eq!(k.len(), "client-assertion:".len() + 64);
        assert_eq!(k, replay_key("t", "c", "j"));
        for other in [
            replay_key("t2", "c", "j"),
            replay_key("t", "c2", "j"),
            replay_key("t", "c", "j2"),
            // Boundaries are part of the hash: no shifting between parts.
            replay_key("tc", "", "j"),
            replay_key("t", "cj", ""),
        ] {
            assert_ne!(k, other);
        }
    }
}
