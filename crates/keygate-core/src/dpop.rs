//! DPoP proofs (RFC 9449): the checks of a proof's JWT (section 4.3), the
//! access-token hash `ath` (section 4.2), the key that a code or refresh
//! token is bound to (sections 5 and 10), and the `jti` replay key
//! (section 11.1).
//!
//! The signature itself is checked by the caller's `verify` (the crypto
//! crate's `thumbprint::verify_with_jwk`: verify with the proof's own
//! `jwk`, and answer its RFC 7638 thumbprint), so the rules here
//! stay free of I/O and of key handling. The single use of `jti` needs the
//! store: [`replay_key`] and [`replay_expires_at`] say what to remember and
//! for how long.
//!
//! The proof's freshness window (docs/dpop.md): `iat` may be at most
//! [`PROOF_MAX_AGE`] seconds old and at most [`PROOF_MAX_AHEAD`] seconds in
//! the future (clock skew). A `jti` is remembered until the end of that
//! window, after which the proof is refused as stale anyway.
//!
//! ```
//! use keygate_core::dpop::ath;
//! // RFC 9449 7.1: the ath of the example access token.
//! assert_eq!(ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
//!            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
//! ```

use crate::model::SigningAlg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::borrow::Cow;
use subtle::ConstantTimeEq;

/// The request header that carries a proof (RFC 9449 4.1).
pub const HEADER: &str = "DPoP";
/// The response header that carries a server nonce (RFC 9449 8.1).
pub const NONCE_HEADER: &str = "DPoP-Nonce";
/// The `typ` of every proof (RFC 9449 4.2).
pub const TYP: &str = "dpop+jwt";
/// The proof algorithms accepted: the asymmetric ones Keygate verifies
/// (RFC 9449 4.2 forbids `none` and MACs), in the order discovery's
/// `dpop_signing_alg_values_supported` and the `algs` of a `DPoP`
/// challenge list them.
pub const ALGS: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::EdDSA];
/// The `algs` parameter of a `WWW-Authenticate: DPoP` challenge (RFC 9449 7.1).
pub const ALGS_PARAM: &str = "ES256 RS256 EdDSA";
/// How old a proof's `iat` may be, in seconds.
pub const PROOF_MAX_AGE: i64 = 60;
/// How far in the future a proof's `iat` may be (the client's clock ahead
/// of ours), in seconds.
pub const PROOF_MAX_AHEAD: i64 = 5;
/// The longest `jti` accepted: a random identifier needs far fewer
/// characters, and the bound keeps what is hashed and stored small.
pub const JTI_MAX_LEN: usize = 128;
/// The longest proof accepted (an RSA-4096 `jwk` fits many times over).
pub const PROOF_MAX_LEN: usize = 8 * 1024;
/// How long one server nonce window lasts, in seconds: a nonce is
/// accepted in its window and the next, so for 5 to 10 minutes
/// (RFC 9449 8; docs/dpop.md).
pub const NONCE_WINDOW: i64 = 300;
/// The length of a JWK SHA-256 thumbprint in base64url (RFC 7638 3.1):
/// what a `dpop_jkt` must look like (RFC 9449 10).
pub const JKT_LEN: usize = 43;

/// JWK members that only a private or symmetric key has (RFC 7518 6.2.2,
/// 6.3.2, 6.4.1; RFC 8037 2): a proof's `jwk` must carry none of them.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof is refused. Every one but the nonce's is `invalid_dpop_proof`
/// (RFC 9449 7.1); a missing or stale nonce is `use_dpop_nonce` (8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopError {
    /// More than one `DPoP` header (RFC 9449 4.3 item 1).
    Multiple,
    /// Not a compact JWS with a JSON header and claims, or too long.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    Typ,
    /// `alg` is not one of [`ALGS`] (`none` and MACs included).
    Alg,
    /// `jwk` is missing, not a public key of `alg`'s type, or names
    /// another algorithm.
    Jwk,
    /// `jwk` carries private key members.
    PrivateKey,
    /// The signature does not verify with `jwk`.
    Signature,
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's URI (query and fragment aside).
    Uri,
    /// `iat` is missing or not a number.
    IssuedAtMissing,
    /// `iat` is older than [`PROOF_MAX_AGE`].
    Stale,
    /// `iat` is more than [`PROOF_MAX_AHEAD`] in the future.
    Future,
    /// `jti` is missing, empty or longer than [`JTI_MAX_LEN`].
    Jti,
    /// The `jti` was used before (RFC 9449 11.1).
    Replayed,
    /// `ath` is missing at a protected resource.
    AthMissing,
    /// `ath` is not the hash of the access token presented.
    AthMismatch,
    /// No `nonce`, and this server requires one.
    NonceMissing,
    /// A `nonce` that is not one of ours, or has expired.
    NonceInvalid,
}

impl DpopError {
    /// Whether the answer is `use_dpop_nonce` (with a fresh nonce) rather
    /// than `invalid_dpop_proof`.
    pub fn is_nonce(self) -> bool {
        matches!(self, DpopError::NonceMissing | DpopError::NonceInvalid)
    }

    /// The `error_description`.
    pub fn describe(self) -> &'static str {
        match self {
            DpopError::Multiple => "more than one DPoP header was sent",
            DpopError::Malformed => "the DPoP proof is not a well-formed JWT",
            DpopError::Typ => "the DPoP proof's typ is not dpop+jwt",
            DpopError::Alg => "the DPoP proof's alg is not supported (ES256, RS256, EdDSA)",
            DpopError::Jwk => "the DPoP proof's jwk is not a public key of its alg",
            DpopError::PrivateKey => "the DPoP proof's jwk contains a private key",
            DpopError::Signature => "the DPoP proof's signature is not valid",
            DpopError::Method => "the DPoP proof's htm is not the request's method",
            DpopError::Uri => "the DPoP proof's htu is not the request's URI",
            DpopError::IssuedAtMissing => "the DPoP proof has no numeric iat",
            DpopError::Stale => "the DPoP proof's iat is too old",
            DpopError::Future => "the DPoP proof's iat is in the future",
            DpopError::Jti => "the DPoP proof's jti is missing or too long",
            DpopError::Replayed => "the DPoP proof was already used",
            DpopError::AthMissing => "the DPoP proof has no ath for the access token",
            DpopError::AthMismatch => "the DPoP proof's ath does not match the access token",
            DpopError::NonceMissing => "the DPoP proof must carry a nonce from this server",
            DpopError::NonceInvalid => "the DPoP proof's nonce is not valid or has expired",
        }
    }

    /// The OAuth error of the refusal.
    pub fn to_oauth(self) -> crate::OAuthError {
        let code = if self.is_nonce() {
            crate::ErrorCode::UseDpopNonce
        } else {
            crate::ErrorCode::InvalidDpopProof
        };
        crate::OAuthError::new(code, self.describe())
    }
}

/// What the request the proof came with looks like, and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`POST`, `GET`), compared exactly (RFC 9110
    /// 9.1: methods are case-sensitive).
    pub method: &'a str,
    /// The URIs the endpoint answers at (an endpoint may have aliases,
    /// `/token` and `/oauth/token`); `htu` must be one of them.
    pub uris: &'a [&'a str],
    /// The request's time (seconds since the epoch).
    pub now: i64,
    /// Whether a nonce is required (RFC 9449 8).
    pub nonce_required: bool,
    /// The nonces accepted now (the current and the previous window's); a
    /// nonce sent must be one of them even where none is required.
    pub nonces: &'a [&'a str],
    /// At a protected resource, the access token presented: `ath` must be
    /// its hash (RFC 9449 4.3 item 12). `None` at the token endpoint.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check but the single use of its `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: what
    /// tokens are bound to (`cnf.jkt`).
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
}

/// The signature check the caller supplies: given the proof's algorithm,
/// its public `jwk` (already checked to be a public key of that type), the
/// signing input and the signature, the key's RFC 7638 thumbprint if the
/// signature verifies, `None` if not.
pub trait Verify: FnOnce(SigningAlg, &Value, &[u8], &[u8]) -> Option<String> {}
impl<F: FnOnce(SigningAlg, &Value, &[u8], &[u8]) -> Option<String>> Verify for F {}

/// Checks a proof (RFC 9449 4.3, items 2 to 12), in the order that keeps
/// the expensive and revealing steps last: shape, header, signature,
/// method and URI, time, `jti`, `ath`, and then the nonce, so a client
/// asked for a nonce has sent an otherwise good proof. The caller then
/// spends the `jti` ([`replay_key`]).
pub fn check(
    proof: &str,
    expected: &Expected<'_>,
    verify: impl Verify,
) -> Result<Proof, DpopError> {
    if proof.len() > PROOF_MAX_LEN {
        return Err(DpopError::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::Malformed);
    };
    let header = json_object(h)?;
    let claims = json_object(c)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| DpopError::Malformed)?;
    if header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(DpopError::Typ);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(SigningAlg::parse)
        .filter(|a| ALGS.contains(a))
        .ok_or(DpopError::Alg)?;
    let jwk = header.get("jwk").ok_or(DpopError::Jwk)?;
    check_jwk(alg, jwk)?;
    let signing_input = &proof.as_bytes()[..h.len() + 1 + c.len()];
    let jkt = verify(alg, jwk, signing_input, &signature).ok_or(DpopError::Signature)?;
    if claims.get("htm").and_then(Value::as_str) != Some(expected.method) {
        return Err(DpopError::Method);
    }
    let htu = claims
        .get("htu")
        .and_then(Value::as_str)
        .ok_or(DpopError::Uri)?;
    if !expected.uris.iter().any(|u| same_uri(htu, u)) {
        return Err(DpopError::Uri);
    }
    let iat = numeric_date(claims.get("iat")).ok_or(DpopError::IssuedAtMissing)?;
    if iat < expected.now - PROOF_MAX_AGE {
        return Err(DpopError::Stale);
    }
    if iat > expected.now + PROOF_MAX_AHEAD {
        return Err(DpopError::Future);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= JTI_MAX_LEN)
        .ok_or(DpopError::Jti)?;
    if let Some(token) = expected.access_token {
        let sent = claims
            .get("ath")
            .and_then(Value::as_str)
            .ok_or(DpopError::AthMissing)?;
        if !bool::from(sent.as_bytes().ct_eq(ath(token).as_bytes())) {
            return Err(DpopError::AthMismatch);
        }
    }
    match claims.get("nonce") {
        None if expected.nonce_required => return Err(DpopError::NonceMissing),
        None => {}
        Some(n) => {
            let n = n.as_str().ok_or(DpopError::NonceInvalid)?;
            // Every accepted nonce is compared, so the time taken does not
            // tell which one came close.
            let known = expected.nonces.iter().fold(false, |hit, k| {
                hit | bool::from(n.as_bytes().ct_eq(k.as_bytes()))
            });
            if !known {
                return Err(DpopError::NonceInvalid);
            }
        }
    }
    Ok(Proof {
        jkt,
        jti: jti.to_string(),
        iat,
    })
}

/// A base64url part that decodes to a JSON object.
fn json_object(part: &str) -> Result<serde_json::Map<String, Value>, DpopError> {
    let raw = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| DpopError::Malformed)?;
    match serde_json::from_slice(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(DpopError::Malformed),
    }
}

/// A NumericDate (RFC 7519 2), whole seconds; a fraction is dropped.
fn numeric_date(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.floor() as i64)
    })
}

/// Checks that `jwk` is a public key of `alg`'s type (RFC 9449 4.3 items
/// 6 and 7): an object with the members of that key type and none of a
/// private key's, and no `alg` of its own that differs.
pub fn check_jwk(alg: SigningAlg, jwk: &Value) -> Result<(), DpopError> {
    let Some(m) = jwk.as_object() else {
        return Err(DpopError::Jwk);
    };
    if PRIVATE_MEMBERS.iter().any(|p| m.contains_key(*p)) {
        return Err(DpopError::PrivateKey);
    }
    if m.get("alg")
        .is_some_and(|a| a.as_str() != Some(alg.as_str()))
    {
        return Err(DpopError::Jwk);
    }
    let text = |name: &str| m.get(name).and_then(Value::as_str);
    let has = |name: &str| text(name).is_some_and(|s| !s.is_empty());
    let fits = match alg {
        SigningAlg::ES256 => {
            text("kty") == Some("EC") && text("crv") == Some("P-256") && has("x") && has("y")
        }
        SigningAlg::RS256 => text("kty") == Some("RSA") && has("n") && has("e"),
        SigningAlg::EdDSA => {
            text("kty") == Some("OKP") && text("crv") == Some("Ed25519") && has("x")
        }
    };
    if fits {
        Ok(())
    } else {
        Err(DpopError::Jwk)
    }
}

/// Whether `htu` names the same resource as `uri`, ignoring query and
/// fragment (RFC 9449 4.3 item 9), after RFC 3986 6.2.2 and 6.2.3
/// normalisation (case of scheme and host, default ports, dot segments, an
/// empty path being `/`), as the WHATWG URL parser does.
pub fn same_uri(htu: &str, uri: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(htu), url::Url::parse(uri)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && a.username().is_empty()
        && a.password().is_none()
}

/// `ath`: the base64url SHA-256 of the access token's ASCII (RFC 9449 4.2).
pub fn ath(access_token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// The key under which a proof's `jti` is spent in the replay store: the
/// tenant, the key's thumbprint and the `jti`, hashed, so the stored key
/// is short whatever the client sent and two clients' `jti`s never meet.
pub fn replay_key(tenant_id: &str, jkt: &str, jti: &str) -> String {
    let mut input = Vec::with_capacity(tenant_id.len() + jkt.len() + jti.len() + 2);
    for (i, part) in [tenant_id, jkt, jti].iter().enumerate() {
        if i > 0 {
            input.push(0);
        }
        input.extend_from_slice(part.as_bytes());
    }
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
    format!("dpop/{}", URL_SAFE_NO_PAD.encode(d.as_ref()))
}

/// Until when a proof's `jti` is remembered: the end of the window in
/// which its `iat` is accepted; after it the proof is stale anyway.
pub fn replay_expires_at(proof: &Proof) -> i64 {
    proof.iat + PROOF_MAX_AGE + 1
}

/// The nonce window `now` falls in (RFC 9449 8): the server's nonce is a
/// MAC of it, so every node computes the same value without storing any.
pub fn nonce_window(now: i64) -> i64 {
    now.div_euclid(NONCE_WINDOW)
}

/// Whether `jkt` looks like a SHA-256 JWK thumbprint (RFC 7638, base64url
/// without padding): the form a `dpop_jkt` must have (RFC 9449 10).
pub fn is_jkt(jkt: &str) -> bool {
    jkt.len() == JKT_LEN
        && jkt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a code or refresh exchange decides about DPoP binding (RFC 9449 5
/// and 10): the key a grant is bound to, the key of the request's proof,
/// and whether the client is public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The key the grant is bound to, if any (`dpop_jkt` at /authorize, or
    /// the first proof of a public client).
    pub bound: Option<&'a str>,
    /// The key of the request's proof, if it sent one.
    pub proof: Option<&'a str>,
}

/// Why a bound code or refresh token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingError {
    /// The credential is bound to a key and the request sent no proof.
    ProofMissing,
    /// The proof is by another key.
    OtherKey,
}

impl BindingError {
    /// The refusal: `invalid_grant` (the credential is not valid for this
    /// request; RFC 9449 5 and 10 leave the code open, and stored state
    /// is left as it was).
    pub fn to_oauth(self, noun: &str) -> crate::OAuthError {
        let d: Cow<'static, str> = match self {
            BindingError::ProofMissing => {
                format!("the {noun} is bound to a DPoP key: send a DPoP proof by that key").into()
            }
            BindingError::OtherKey => {
                format!("the {noun} is bound to another DPoP key than the proof's").into()
            }
        };
        crate::OAuthError::invalid_grant(d)
    }
}

/// The binding check of a code exchange (RFC 9449 10): a code whose grant
/// is bound (`dpop_jkt`) needs a proof by that key. On success, the key the
/// grant is bound to from now on: the proof's for a public client, whose
/// refresh tokens are bound (RFC 9449 5), and whatever it was otherwise.
pub fn bind_code<'a>(b: Binding<'a>, public_client: bool) -> Result<Option<&'a str>, BindingError> {
    match (b.bound, b.proof) {
        (Some(_), None) => Err(BindingError::ProofMissing),
        (Some(k), Some(p)) if k != p => Err(BindingError::OtherKey),
        (Some(k), Some(_)) => Ok(Some(k)),
        (None, Some(p)) if public_client => Ok(Some(p)),
        (None, _) => Ok(None),
    }
}

/// The binding check of a refresh exchange (RFC 9449 5): a public client's
/// refresh token bound to a key needs a proof by that key; a confidential
/// client's refresh tokens are not bound (it authenticates instead), so any
/// proof or none will do. A public client's first proof on an unbound
/// grant binds it from now on.
pub fn bind_refresh<'a>(
    b: Binding<'a>,
    public_client: bool,
) -> Result<Option<&'a str>, BindingError> {
    if !public_client {
        return Ok(b.bound);
    }
    match (b.bound, b.proof) {
        (Some(_), None) => Err(BindingError::ProofMissing),
        (Some(k), Some(p)) if k != p => Err(BindingError::OtherKey),
        (Some(k), Some(_)) => Ok(Some(k)),
        (None, p) => Ok(p),
    }
}

#[cfg(test)]
mod tests;
