use super::*;
use crate::ErrorCode;
use serde_json::json;

const NOW: i64 = 1_700_000_000;
const URI: &str = "https://id.example.com/t/as/token";
const ALIAS: &str = "https://id.example.com/t/as/oauth/token";

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn ec_jwk() -> Value {
    json!({"kty": "EC", "crv": "P-256", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
           "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"})
}

fn header() -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec_jwk()})
}

fn claims() -> Value {
    json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": URI, "iat": NOW})
}

fn proof_of(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(sig)
    )
}

fn proof(header: &Value, claims: &Value) -> String {
    proof_of(header, claims, b"good")
}

/// A stand-in for the crypto crate: the signature `good` verifies, any
/// other does not; the thumbprint is fixed.
fn verify(_: SigningAlg, _: &Value, _: &[u8], sig: &[u8]) -> Option<String> {
    (sig == b"good").then(|| "jkt-of-the-key".to_string())
}

fn token_endpoint() -> Expected<'static> {
    Expected {
        method: "POST",
        uris: &[URI, ALIAS],
        now: NOW,
        nonce_required: false,
        nonces: &["current-nonce", "previous-nonce"],
        access_token: None,
    }
}

fn run(h: &Value, c: &Value, e: &Expected<'_>) -> Result<Proof, DpopError> {
    check(&proof(h, c), e, verify)
}

fn with(base: Value, key: &str, v: Value) -> Value {
    let mut out = base;
    out[key] = v;
    out
}

fn without(base: Value, key: &str) -> Value {
    let mut out = base;
    out.as_object_mut().unwrap().remove(key);
    out
}

#[test]
fn a_good_proof_gives_its_key_jti_and_iat() {
    let p = run(&header(), &claims(), &token_endpoint()).unwrap();
    assert_eq!(
        p,
        Proof {
            jkt: "jkt-of-the-key".into(),
            jti: "e1j3V_bKic8-LAEB".into(),
            iat: NOW
        }
    );
}

#[test]
fn the_signature_is_checked_over_the_header_and_claims_as_sent() {
    let text = proof(&header(), &claims());
    let (signed, _) = text.rsplit_once('.').unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    check(
        &text,
        &token_endpoint(),
        |alg, jwk: &Value, input: &[u8], _: &[u8]| {
            assert_eq!(alg, SigningAlg::ES256);
            assert_eq!(jwk, &ec_jwk());
            seen.borrow_mut().extend_from_slice(input);
            Some("k".into())
        },
    )
    .unwrap();
    assert_eq!(seen.into_inner(), signed.as_bytes());
    let bad = proof_of(&header(), &claims(), b"forged");
    assert_eq!(
        check(&bad, &token_endpoint(), verify),
        Err(DpopError::Signature)
    );
}

#[test]
fn malformed_proofs_are_refused() {
    let e = token_endpoint();
    let good = proof(&header(), &claims());
    let (h, rest) = good.split_once('.').unwrap();
    let (c, s) = rest.split_once('.').unwrap();
    for bad in [
        String::new(),
        "a.b".into(),
        format!("{h}.{c}"),
        format!("{h}.{c}.{s}.{s}"),
        format!("{h}.{c}.not*base64"),
        format!("!!.{c}.{s}"),
        format!("{}.{c}.{s}", b64(b"[1,2]")),
        format!("{}.{c}.{s}", b64(b"not json")),
        format!("{h}.{}.{s}", b64(b"\"a string\"")),
        format!("{h}.{}.{s}", b64(b"{\"jti\":")),
        "x".repeat(PROOF_MAX_LEN + 1),
    ] {
        assert_eq!(
            check(&bad, &e, verify),
            Err(DpopError::Malformed),
            "{bad:.60}"
        );
    }
    // Padding is not base64url without padding (RFC 7515 2).
    let padded = format!("{h}.{c}.{s}==");
    assert_eq!(check(&padded, &e, verify), Err(DpopError::Malformed));
}

#[test]
fn typ_must_be_dpop_jwt_exactly() {
    let e = token_endpoint();
    for typ in [
        json!("JWT"),
        json!("DPOP+JWT"),
        json!("at+jwt"),
        json!(1),
        json!(null),
    ] {
        assert_eq!(
            run(&with(header(), "typ", typ.clone()), &claims(), &e),
            Err(DpopError::Typ),
            "{typ}"
        );
    }
    assert_eq!(
        run(&without(header(), "typ"), &claims(), &e),
        Err(DpopError::Typ)
    );
}

#[test]
fn only_asymmetric_algorithms_we_verify() {
    let e = token_endpoint();
    for alg in ["none", "HS256", "RS512", "PS256", "ES384", "es256", ""] {
        assert_eq!(
            run(&with(header(), "alg", json!(alg)), &claims(), &e),
            Err(DpopError::Alg),
            "{alg}"
        );
    }
    assert_eq!(
        run(&without(header(), "alg"), &claims(), &e),
        Err(DpopError::Alg)
    );
    let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
    let ed =
        json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let h = |alg: &str, jwk: &Value| json!({"typ": "dpop+jwt", "alg": alg, "jwk": jwk});
    assert!(run(&h("RS256", &rsa), &claims(), &e).is_ok());
    assert!(run(&h("EdDSA", &ed), &claims(), &e).is_ok());
}

#[test]
fn the_jwk_must_be_a_public_key_of_the_alg() {
    let e = token_endpoint();
    let cases = [
        (json!(null), DpopError::Jwk),
        (json!("a key"), DpopError::Jwk),
        (json!({}), DpopError::Jwk),
        (without(ec_jwk(), "y"), DpopError::Jwk),
        (with(ec_jwk(), "x", json!("")), DpopError::Jwk),
        (with(ec_jwk(), "crv", json!("P-384")), DpopError::Jwk),
        (with(ec_jwk(), "kty", json!("RSA")), DpopError::Jwk),
        (with(ec_jwk(), "alg", json!("RS256")), DpopError::Jwk),
        (with(ec_jwk(), "d", json!("private")), DpopError::PrivateKey),
        (
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            DpopError::PrivateKey,
        ),
    ];
    for (jwk, want) in cases {
        assert_eq!(
            run(&with(header(), "jwk", jwk.clone()), &claims(), &e),
            Err(want),
            "{jwk}"
        );
    }
    assert_eq!(
        run(&without(header(), "jwk"), &claims(), &e),
        Err(DpopError::Jwk)
    );
    // Its own alg, when it names one, may be the header's.
    assert!(run(
        &with(header(), "jwk", with(ec_jwk(), "alg", json!("ES256"))),
        &claims(),
        &e
    )
    .is_ok());
    // Each private member of RSA keys (RFC 7518 6.3.2) is refused.
    let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
    for m in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        assert_eq!(
            check_jwk(SigningAlg::RS256, &with(rsa.clone(), m, json!("x"))),
            Err(DpopError::PrivateKey),
            "{m}"
        );
    }
    assert_eq!(
        check_jwk(
            SigningAlg::EdDSA,
            &json!({"kty": "OKP", "crv": "X25519", "x": "a"})
        ),
        Err(DpopError::Jwk)
    );
    assert_eq!(
        check_jwk(SigningAlg::RS256, &json!({"kty": "RSA", "n": "AQAB"})),
        Err(DpopError::Jwk)
    );
}

#[test]
fn htm_is_the_method_exactly() {
    let e = token_endpoint();
    for htm in [json!("GET"), json!("post"), json!(""), json!(1)] {
        assert_eq!(
            run(&header(), &with(claims(), "htm", htm), &e),
            Err(DpopError::Method)
        );
    }
    assert_eq!(
        run(&header(), &without(claims(), "htm"), &e),
        Err(DpopError::Method)
    );
    let get = Expected { method: "GET", ..e };
    assert!(run(&header(), &with(claims(), "htm", json!("GET")), &get).is_ok());
}

#[test]
fn htu_ignores_query_and_fragment_and_normalises() {
    let e = token_endpoint();
    for ok in [
        URI,
        ALIAS,
        "https://id.example.com/t/as/token?x=1",
        "https://id.example.com/t/as/token#frag",
        "https://ID.Example.COM/t/as/token",
        "HTTPS://id.example.com:443/t/as/token",
        "https://id.example.com/t/as/./token",
    ] {
        assert!(
            run(&header(), &with(claims(), "htu", json!(ok)), &e).is_ok(),
            "{ok}"
        );
    }
    for bad in [
        "http://id.example.com/t/as/token",
        "https://id.example.com:8443/t/as/token",
        "https://other.example.com/t/as/token",
        "https://id.example.com/t/as/token/",
        "https://id.example.com/t/as/Token",
        "https://id.example.com/u/as/token",
        "https://user@id.example.com/t/as/token",
        "/t/as/token",
        "",
    ] {
        assert_eq!(
            run(&header(), &with(claims(), "htu", json!(bad)), &e),
            Err(DpopError::Uri),
            "{bad}"
        );
    }
    assert_eq!(
        run(&header(), &with(claims(), "htu", json!(7)), &e),
        Err(DpopError::Uri)
    );
    assert_eq!(
        run(&header(), &without(claims(), "htu"), &e),
        Err(DpopError::Uri)
    );
    assert!(same_uri(
        "http://127.0.0.1:8080/token",
        "http://127.0.0.1:8080/token?a"
    ));
    assert!(!same_uri("not a url", "not a url"));
}

#[test]
fn iat_must_fall_in_the_window() {
    let e = token_endpoint();
    let at = |iat: Value| run(&header(), &with(claims(), "iat", iat), &e);
    assert!(at(json!(NOW - PROOF_MAX_AGE)).is_ok());
    assert!(at(json!(NOW + PROOF_MAX_AHEAD)).is_ok());
    assert_eq!(at(json!(NOW - PROOF_MAX_AGE - 1)), Err(DpopError::Stale));
    assert_eq!(at(json!(NOW - 86400)), Err(DpopError::Stale));
    assert_eq!(at(json!(0)), Err(DpopError::Stale));
    assert_eq!(at(json!(NOW + PROOF_MAX_AHEAD + 1)), Err(DpopError::Future));
    assert_eq!(at(json!(i64::MAX)), Err(DpopError::Future));
    assert_eq!(at(json!(NOW as f64 + 0.75)).map(|p| p.iat), Ok(NOW));
    for bad in [json!("1700000000"), json!(null), json!(1e300), json!([NOW])] {
        assert_eq!(at(bad.clone()), Err(DpopError::IssuedAtMissing), "{bad}");
    }
    assert_eq!(
        run(&header(), &without(claims(), "iat"), &e),
        Err(DpopError::IssuedAtMissing)
    );
}

#[test]
fn jti_is_present_and_bounded() {
    let e = token_endpoint();
    let at = |jti: Value| run(&header(), &with(claims(), "jti", jti), &e);
    assert!(at(json!("x".repeat(JTI_MAX_LEN))).is_ok());
    assert!(at(json!("x")).is_ok());
    for bad in [
        json!("x".repeat(JTI_MAX_LEN + 1)),
        json!(""),
        json!(12),
        json!(null),
    ] {
        assert_eq!(at(bad.clone()), Err(DpopError::Jti), "{bad}");
    }
    assert_eq!(
        run(&header(), &without(claims(), "jti"), &e),
        Err(DpopError::Jti)
    );
}

#[test]
fn ath_binds_the_proof_to_the_access_token_at_a_resource() {
    let token = "eyJ.an.access-token";
    let resource = Expected {
        method: "GET",
        uris: &["https://id.example.com/t/as/userinfo"],
        access_token: Some(token),
        ..token_endpoint()
    };
    let c = json!({"jti": "j", "htm": "GET", "htu": "https://id.example.com/t/as/userinfo", "iat": NOW});
    assert_eq!(run(&header(), &c, &resource), Err(DpopError::AthMissing));
    assert_eq!(
        run(
            &header(),
            &with(c.clone(), "ath", json!(ath("another token"))),
            &resource
        ),
        Err(DpopError::AthMismatch)
    );
    assert_eq!(
        run(&header(), &with(c.clone(), "ath", json!(5)), &resource),
        Err(DpopError::AthMissing)
    );
    assert!(run(
        &header(),
        &with(c.clone(), "ath", json!(ath(token))),
        &resource
    )
    .is_ok());
    // At the token endpoint there is no access token, and an ath is ignored.
    assert!(run(
        &header(),
        &with(claims(), "ath", json!("whatever")),
        &token_endpoint()
    )
    .is_ok());
}

#[test]
fn nonces_when_required_and_whenever_sent() {
    let required = Expected {
        nonce_required: true,
        ..token_endpoint()
    };
    let optional = token_endpoint();
    let at = |n: Option<Value>, e: &Expected<'_>| {
        let c = match n {
            Some(n) => with(claims(), "nonce", n),
            None => claims(),
        };
        run(&header(), &c, e)
    };
    assert_eq!(at(None, &required), Err(DpopError::NonceMissing));
    assert!(at(None, &optional).is_ok());
    for e in [&required, &optional] {
        assert!(at(Some(json!("current-nonce")), e).is_ok());
        assert!(at(Some(json!("previous-nonce")), e).is_ok());
        for bad in [
            json!("older-nonce"),
            json!(""),
            json!("current-nonc"),
            json!(1),
        ] {
            assert_eq!(
                at(Some(bad.clone()), e),
                Err(DpopError::NonceInvalid),
                "{bad}"
            );
        }
    }
    // The nonce is checked last: a proof that is bad otherwise says so
    // first, so a client asked for a nonce sent an otherwise good proof.
    let stale = with(claims(), "iat", json!(NOW - 3600));
    assert_eq!(run(&header(), &stale, &required), Err(DpopError::Stale));
    let forged = proof_of(&header(), &claims(), b"forged");
    assert_eq!(check(&forged, &required, verify), Err(DpopError::Signature));
}

#[test]
fn errors_map_to_their_codes() {
    for e in [DpopError::NonceMissing, DpopError::NonceInvalid] {
        assert!(e.is_nonce());
        assert_eq!(e.to_oauth().code, ErrorCode::UseDpopNonce);
        assert_eq!(e.to_oauth().code.as_str(), "use_dpop_nonce");
    }
    for e in [
        DpopError::Multiple,
        DpopError::Malformed,
        DpopError::Typ,
        DpopError::Alg,
        DpopError::Jwk,
        DpopError::PrivateKey,
        DpopError::Signature,
        DpopError::Method,
        DpopError::Uri,
        DpopError::IssuedAtMissing,
        DpopError::Stale,
        DpopError::Future,
        DpopError::Jti,
        DpopError::Replayed,
        DpopError::AthMissing,
        DpopError::AthMismatch,
    ] {
        assert!(!e.is_nonce());
        let o = e.to_oauth();
        assert_eq!(o.code.as_str(), "invalid_dpop_proof");
        assert_eq!(o.code.http_status(), 400);
        assert!(!o.description.is_empty());
    }
}

#[test]
fn ath_matches_rfc_9449() {
    // RFC 9449 7.1's example access token and its ath.
    assert_eq!(
        ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn replay_keys_are_short_and_keep_their_parts_apart() {
    let k = replay_key("t", "jkt", "jti");
    assert_eq!(k, replay_key("t", "jkt", "jti"));
    assert!(k.starts_with("dpop/"));
    assert_eq!(k.len(), 5 + 43);
    let long = "j".repeat(JTI_MAX_LEN);
    assert_eq!(replay_key("t", "jkt", &long).len(), k.len());
    for other in [
        replay_key("u", "jkt", "jti"),
        replay_key("t", "jkt2", "jti"),
        replay_key("t", "jkt", "jti2"),
        replay_key("tj", "kt", "jti"),
        replay_key("t", "jktj", "ti"),
    ] {
        assert_ne!(k, other);
    }
    let p = Proof {
        jkt: "k".into(),
        jti: "j".into(),
        iat: NOW,
    };
    assert_eq!(replay_expires_at(&p), NOW + PROOF_MAX_AGE + 1);
    // A proof still accepted is still remembered.
    assert!(replay_expires_at(&p) > NOW + PROOF_MAX_AGE);
}

#[test]
fn nonce_windows() {
    assert_eq!(nonce_window(0), 0);
    assert_eq!(nonce_window(NONCE_WINDOW - 1), 0);
    assert_eq!(nonce_window(NONCE_WINDOW), 1);
    assert_eq!(nonce_window(-1), -1);
    assert_eq!(nonce_window(NOW) - nonce_window(NOW - NONCE_WINDOW), 1);
}

#[test]
fn jkt_shape() {
    assert!(is_jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
    for bad in [
        "",
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4",
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I=",
        "0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4II",
    ] {
        assert!(!is_jkt(bad), "{bad}");
    }
}

#[test]
fn code_binding() {
    let b = |bound, proof| Binding { bound, proof };
    for public in [true, false] {
        // Bound at /authorize (dpop_jkt): only a proof by that key.
        assert_eq!(bind_code(b(Some("k"), Some("k")), public), Ok(Some("k")));
        assert_eq!(
            bind_code(b(Some("k"), Some("o")), public),
            Err(BindingError::OtherKey)
        );
        assert_eq!(
            bind_code(b(Some("k"), None), public),
            Err(BindingError::ProofMissing)
        );
        assert_eq!(bind_code(b(None, None), public), Ok(None));
    }
    // Unbound: a public client's proof binds its refresh tokens; a
    // confidential client's does not.
    assert_eq!(bind_code(b(None, Some("p")), true), Ok(Some("p")));
    assert_eq!(bind_code(b(None, Some("p")), false), Ok(None));
}

#[test]
fn refresh_binding() {
    let b = |bound, proof| Binding { bound, proof };
    assert_eq!(bind_refresh(b(Some("k"), Some("k")), true), Ok(Some("k")));
    assert_eq!(
        bind_refresh(b(Some("k"), Some("o")), true),
        Err(BindingError::OtherKey)
    );
    assert_eq!(
        bind_refresh(b(Some("k"), None), true),
        Err(BindingError::ProofMissing)
    );
    assert_eq!(bind_refresh(b(None, Some("p")), true), Ok(Some("p")));
    assert_eq!(bind_refresh(b(None, None), true), Ok(None));
    // Confidential clients' refresh tokens are not bound (RFC 9449 5).
    for proof in [None, Some("k"), Some("o")] {
        assert_eq!(bind_refresh(b(Some("k"), proof), false), Ok(Some("k")));
        assert_eq!(bind_refresh(b(None, proof), false), Ok(None));
    }
    let o = BindingError::OtherKey.to_oauth("refresh token");
    assert_eq!(o.code, ErrorCode::InvalidGrant);
    assert!(o.description.contains("refresh token"));
    assert!(BindingError::ProofMissing
        .to_oauth("authorization code")
        .description
        .contains("DPoP proof"));
}
