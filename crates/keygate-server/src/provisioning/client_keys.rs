//! What a client authenticates with, by method (docs/client-auth.md): the
//! JWK Set or `jwks_uri` of a `private_key_jwt` client, the secret of the
//! others, and the sealing of a `client_secret_jwt` client's secret.

use super::*;
use keygate_crypto::jwk_set;
use keygate_crypto::sealing::MasterKey;

/// The longest `jwks_uri` accepted.
const MAX_JWKS_URI_LEN: usize = 2048;

/// A `jwks_uri`: absolute https without credentials or fragment; http only
/// on a loopback host (fetched only when the server allows private
/// networks, for development and tests).
fn check_jwks_uri(raw: &str) -> Result<String> {
    let bad = |why: &str| ProvisionError::invalid("jwks_uri", format!("'{raw}': {why}"));
    if raw.len() > MAX_JWKS_URI_LEN {
        return Err(bad("longer than 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("not an absolute URL"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("use https (http only on a loopback host)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no credentials in the URL"));
    }
    if url.fragment().is_some() {
        return Err(bad("no fragment"));
    }
    Ok(raw.to_string())
}

/// A registered JWK Set: public signature keys only, every key usable.
/// Stored as compact JSON text.
fn check_jwks(set: &serde_json::Value) -> Result<String> {
    let parsed = jwk_set::parse(set).map_err(|e| ProvisionError::invalid("jwks", e.to_string()))?;
    if let Some(why) = parsed.skipped.first() {
        return Err(ProvisionError::invalid(
            "jwks",
            format!("{why}; register only public signature keys (RS256, ES256, EdDSA)"),
        ));
    }
    Ok(set.to_string())
}

/// The keys of a client with `method`: exactly one of `jwks` and
/// `jwks_uri` for `private_key_jwt`, neither for any other method.
pub(super) fn keys_for(
    method: AuthMethod,
    jwks: Option<&serde_json::Value>,
    jwks_uri: Option<&str>,
) -> Result<(Option<String>, Option<String>)> {
    match (method, jwks, jwks_uri) {
        (AuthMethod::PrivateKeyJwt, Some(set), None) => Ok((Some(check_jwks(set)?), None)),
        (AuthMethod::PrivateKeyJwt, None, Some(uri)) => Ok((None, Some(check_jwks_uri(uri)?))),
        (AuthMethod::PrivateKeyJwt, Some(_), Some(_)) => Err(ProvisionError::invalid(
            "jwks",
            "give either jwks (--jwks-file) or jwks_uri (--jwks-uri), not both",
        )),
        (AuthMethod::PrivateKeyJwt, None, None) => Err(ProvisionError::invalid(
            "auth_method",
            "a private_key_jwt client needs its public keys: jwks (--jwks-file) or jwks_uri (--jwks-uri)",
        )),
        (_, Some(_), _) => Err(ProvisionError::invalid(
            "jwks",
            "only a private_key_jwt client has registered keys",
        )),
        (_, None, Some(_)) => Err(ProvisionError::invalid(
            "jwks_uri",
            "only a private_key_jwt client has registered keys",
        )),
        (_, None, None) => Ok((None, None)),
    }
}

/// A new secret for a client of `method`, if it has one: none for public
/// and `private_key_jwt` clients; 512 bits for `client_secret_jwt`, so that
/// HS512 has a key as long as its hash (RFC 7518 3.2); 256 bits otherwise.
pub(super) fn new_secret_for(method: AuthMethod) -> Option<String> {
    match method {
        AuthMethod::None | AuthMethod::PrivateKeyJwt => None,
        AuthMethod::ClientSecretJwt => Some(secrets::random_token(64)),
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => Some(secrets::new_secret()),
    }
}

/// The sealed form of a `client_secret_jwt` client's secret (HMAC needs
/// the secret itself; every other method keeps only its hash); `None` for
/// any other method.
pub fn sealed_secret(master: &MasterKey, client: &Client, secret: &str) -> Option<String> {
    (client.auth_method == AuthMethod::ClientSecretJwt)
        .then(|| crate::client_keys::seal_secret(master, &client.tenant_id, &client.id, secret))
}

/// [`client_from_spec`], and for a `client_secret_jwt` client its secret
/// sealed under `master`: what every front that creates a client calls.
pub fn new_client(
    tenant: &str,
    spec: &NewClient,
    now: i64,
    master: &MasterKey,
) -> Result<(Client, Option<String>)> {
    let (mut client, secret) = client_from_spec(tenant, spec, now)?;
    if let Some(s) = &secret {
        client.secret_sealed = sealed_secret(master, &client, s);
    }
    Ok((client, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set() -> serde_json::Value {
        let (k, _) =
            keygate_crypto::keys::SigningKey::generate(SigningAlg::ES256, "k".into()).unwrap();
        json!({ "keys": [k.public_jwk()] })
    }

    #[test]
    fn keys_by_method() {
        let s = set();
        let (jwks, uri) = keys_for(AuthMethod::PrivateKeyJwt, Some(&s), None).unwrap();
        assert!(jwks.unwrap().contains("\"kid\":\"k\"") && uri.is_none());
        let (jwks, uri) = keys_for(
            AuthMethod::PrivateKeyJwt,
            None,
            Some("https://c.example/jwks"),
        )
        .unwrap();
        assert_eq!(
            (jwks, uri.as_deref()),
            (None, Some("https://c.example/jwks"))
        );
        assert!(keys_for(AuthMethod::PrivateKeyJwt, None, None).is_err());
        assert!(keys_for(
            AuthMethod::PrivateKeyJwt,
            Some(&s),
            Some("https://c.example/j")
        )
        .is_err());
        for other in [
            AuthMethod::None,
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::ClientSecretJwt,
        ] {
            assert_eq!(keys_for(other, None, None).unwrap(), (None, None));
            assert!(keys_for(other, Some(&s), None).is_err());
            assert!(keys_for(other, None, Some("https://c.example/j")).is_err());
        }
    }

    #[test]
    fn registered_sets_hold_usable_public_keys_only() {
        let mut private = set();
        private["keys"][0]["d"] = json!("AAAA");
        let mut enc = set();
        enc["keys"][0]["use"] = json!("enc");
        for bad in [private, enc, json!({"keys": []}), json!([])] {
            let e = keys_for(AuthMethod::PrivateKeyJwt, Some(&bad), None).unwrap_err();
            assert!(
                matches!(
                    e,
                    ProvisionError::Invalid {
                        field: Some("jwks"),
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn jwks_uris() {
        for ok in [
            "https://c.example/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert_eq!(check_jwks_uri(ok).unwrap(), ok);
        }
        for bad in [
            "http://c.example/jwks",
            "ftp://c.example/jwks",
            "https://u:p@c.example/jwks",
            "https://c.example/jwks#k",
            "/jwks",
            "javascript:alert(1)",
        ] {
            assert!(check_jwks_uri(bad).is_err(), "{bad}");
        }
        assert!(check_jwks_uri(&format!("https://c.example/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn secrets_by_method() {
        assert_eq!(new_secret_for(AuthMethod::None), None);
        assert_eq!(new_secret_for(AuthMethod::PrivateKeyJwt), None);
        assert_eq!(
            new_secret_for(AuthMethod::ClientSecretJwt).unwrap().len(),
            86
        );
        assert_eq!(
            new_secret_for(AuthMethod::ClientSecretBasic).unwrap().len(),
            43
        );
    }
}
