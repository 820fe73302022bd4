//! The claims of the tokens Keygate issues: the OpenID Connect id_token
//! (Core 2, 3.1.3.6) and the JWT access token (RFC 9068 2.2).

use crate::model::{Address, User};
use crate::scope::{self, Scope};
use serde::{Deserialize, Serialize};

/// The claims of an id_token (OpenID Connect Core 2), issued when a person granted `openid`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// The issuer: the tenant's issuer URL at the door the request came in by.
    pub iss: String,
    /// The person's subject identifier.
    pub sub: String,
    /// The audience: the client the token was issued to.
    pub aud: String,
    /// When the token expires (seconds since the epoch): `iat` plus the client's id_token lifetime.
    pub exp: i64,
    /// When the token was issued (seconds since the epoch).
    pub iat: i64,
    /// When the person signed in (seconds since the epoch), so the client can judge `max_age`.
    pub auth_time: i64,
    /// The authorization request's `nonce`, echoed so the client can tie the token to its request
    /// (Core 3.1.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The left half of the access token's hash, base64url (Core 3.1.3.6), binding the two tokens
    /// together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The authorized party (Core 2): the client, the same as `aud`.
    pub azp: String,
    /// The `acr_values` value the sign-in satisfied (Core 2), when the
    /// request demanded a second factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// How the person signed in (RFC 8176), when known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The session the token was issued from (Back-Channel Logout 2.1), so
    /// the client can match the logout token sent when it ends.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// The profile and e-mail claims the scope releases, flattened into the token.
    #[serde(flatten)]
    pub profile: UserClaims,
}

/// A person's claims, released by scope or named by the `claims` parameter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserClaims {
    /// The person's full name; with the `profile` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The person's e-mail address; with the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether that address is verified; with the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The person's telephone number; with the `phone` scope, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether that number is verified; with the `phone` scope, when a
    /// number is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// The person's postal address; with the `address` scope, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

impl UserClaims {
    /// The claims of `user` that `scope` releases (OpenID Connect Core 5.4); the rest stay `None`.
    pub fn for_scope(user: &User, scope: &Scope) -> UserClaims {
        UserClaims::released(user, scope, &[])
    }

    /// The claims of `user` that `scope` releases (OpenID Connect Core
    /// 5.4) together with those `named` by the `claims` parameter for this
    /// place (Core 5.5, see [`crate::claims_request`]); a claim the person
    /// has no value for stays `None`.
    pub fn released(user: &User, scope: &Scope, named: &[String]) -> UserClaims {
        let wants = |claim: &str, by_scope: &str| {
            scope.contains(by_scope) || named.iter().any(|n| n == claim)
        };
        let phone = user.phone_number.as_ref();
        UserClaims {
            name: user.name.clone().filter(|_| wants("name", scope::PROFILE)),
            email: wants("email", scope::EMAIL).then(|| user.email.clone()),
            email_verified: wants("email_verified", scope::EMAIL).then_some(user.email_verified),
            phone_number: phone
                .filter(|_| wants("phone_number", scope::PHONE))
                .cloned(),
            phone_number_verified: phone
                .filter(|_| wants("phone_number_verified", scope::PHONE))
                .map(|_| user.phone_number_verified),
            address: user
                .address
                .clone()
                .filter(|_| wants("address", scope::ADDRESS)),
        }
    }
}

/// The claims of a JWT access token (RFC 9068 2.2), signed with type `at+jwt`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    /// The issuer: the tenant's issuer URL at the door the request came in by.
    pub iss: String,
    /// The person's subject identifier, or the client id for client_credentials (RFC 9068 2.2).
    pub sub: String,
    /// The audience is the client the token was issued to: Keygate has no
    /// separate resource registry yet, and its own userinfo accepts it.
    pub aud: String,
    /// The client the token was issued to (RFC 9068 2.2).
    pub client_id: String,
    /// The granted scope, space-separated (RFC 6749 3.3).
    pub scope: String,
    /// When the token expires (seconds since the epoch): `iat` plus the client's access-token
    /// lifetime.
    pub exp: i64,
    /// When the token was issued (seconds since the epoch).
    pub iat: i64,
    /// The token's unique id, `{grant}.{random}` for a person's tokens (see
    /// [`AccessTokenClaims::grant_id`]).
    pub jti: String,
    /// When the person signed in; `None` for client_credentials, where no person did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The claims the `claims` parameter named for userinfo, space-separated
    /// (OpenID Connect Core 5.5): carried in the token so that userinfo
    /// releases them without reading the grant. Absent when none were.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userinfo_claims: String,
    /// The key the token is bound to (RFC 9449 6.1: `cnf.jkt`), when it
    /// was issued for a DPoP proof; absent for a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The party acting for `sub` in a token issued by a delegating token
    /// exchange (RFC 8693 4.1), prior actors nested; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

/// The confirmation claim (RFC 7800 3.1) of a DPoP-bound token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    /// The SHA-256 JWK thumbprint of the DPoP key (RFC 9449 6.1).
    pub jkt: String,
}

impl AccessTokenClaims {
    /// The DPoP key the token is bound to, if any.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

/// The `act` (actor) claim (RFC 8693 4.1): who acts for the token's
/// subject, and, nested, who acted before them (outermost is current).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Actor {
    /// The actor's subject identifier: a person's `sub`, or a client's id
    /// for a client acting for itself.
    pub sub: String,
    /// The prior actor, when this delegation was itself delegated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl AccessTokenClaims {
    /// The grant an access token belongs to: its `jti` is `{grant}.{random}`
    /// for tokens issued for a person, so revoking the grant reaches it.
    pub fn grant_id(&self) -> Option<&str> {
        self.jti.split_once('.').map(|(g, _)| g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_by_scope() {
        let user = User {
            sub: "s".into(),
            tenant_id: "t".into(),
            email: "a@b.c".into(),
            email_verified: false,
            name: Some("Ann".into()),
            password_hash: String::new(),
            created_at: 0,
            disabled: false,
            phone_number: None,
            phone_number_verified: false,
            address: None,
        };
        let none = UserClaims::for_scope(&user, &Scope::parse("openid").unwrap());
        assert_eq!(none, UserClaims::default());
        let all = UserClaims::for_scope(&user, &Scope::parse("openid profile email").unwrap());
        assert_eq!(all.name.as_deref(), Some("Ann"));
        assert_eq!(all.email_verified, Some(false));
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json["email"], "a@b.c");
        // No number or address: nothing even with the scopes.
        let s = Scope::parse("openid phone address").unwrap();
        assert_eq!(UserClaims::released(&user, &s, &[]), UserClaims::default());
    }

    #[test]
    fn phone_and_address_by_scope_or_by_name() {
        let user = User {
            sub: "s".into(),
            tenant_id: "t".into(),
            email: "a@b.c".into(),
            email_verified: true,
            name: None,
            password_hash: String::new(),
            created_at: 0,
            disabled: false,
            phone_number: Some("+4915112345678".into()),
            phone_number_verified: false,
            address: Some(Address {
                locality: Some("Berlin".into()),
                ..Address::default()
            }),
        };
        let openid = Scope::parse("openid").unwrap();
        assert_eq!(
            UserClaims::released(&user, &openid, &[]),
            UserClaims::default()
        );
        let phone = UserClaims::released(&user, &Scope::parse("openid phone").unwrap(), &[]);
        assert_eq!(phone.phone_number.as_deref(), Some("+4915112345678"));
        assert_eq!(phone.phone_number_verified, Some(false));
        assert_eq!(phone.address, None);
        let json = serde_json::to_value(UserClaims::released(
            &user,
            &Scope::parse("address").unwrap(),
            &[],
        ))
        .unwrap();
        assert_eq!(json, serde_json::json!({"address": {"locality": "Berlin"}}));
        let named = [
            "email".to_string(),
            "phone_number".to_string(),
            "name".to_string(),
        ];
        let by_name = UserClaims::released(&user, &openid, &named);
        assert_eq!(by_name.email.as_deref(), Some("a@b.c"));
        assert_eq!(by_name.email_verified, None);
        assert_eq!(by_name.phone_number.as_deref(), Some("+4915112345678"));
        assert_eq!(by_name.phone_number_verified, None);
        assert_eq!(by_name.name, None, "no name to release");
    }

    #[test]
    fn grant_of_access_token() {
        let mut c = AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            client_id: "a".into(),
            scope: String::new(),
            exp: 0,
            iat: 0,
            jti: "g1.xyz".into(),
            auth_time: None,
            userinfo_claims: String::new(),
            cnf: None,
            act: None,
        };
        assert_eq!(c.grant_id(), Some("g1"));
        c.jti = "xyz".into();
        assert_eq!(c.grant_id(), None);
        // A bearer token has no cnf in its JSON; a bound one has cnf.jkt.
        let bearer = serde_json::to_value(&c).unwrap();
        assert!(bearer.get("cnf").is_none());
        assert_eq!(c.jkt(), None);
        c.cnf = Some(Confirmation { jkt: "k".into() });
        let bound = serde_json::to_value(&c).unwrap();
        assert_eq!(bound["cnf"], serde_json::json!({"jkt": "k"}));
        assert_eq!(c.jkt(), Some("k"));
        let back: AccessTokenClaims = serde_json::from_value(bound).unwrap();
        assert_eq!(back, c);
    }

    /// RFC 8693 4.1: `act` is an object with `sub`, prior actors nested;
    /// absent when no one acts.
    #[test]
    fn actor_claim() {
        let act = Actor {
            sub: "service-b".into(),
            act: Some(Box::new(Actor {
                sub: "service-a".into(),
                act: None,
            })),
        };
        assert_eq!(
            serde_json::to_value(&act).unwrap(),
            serde_json::json!({"sub": "service-b", "act": {"sub": "service-a"}})
        );
        let plain: AccessTokenClaims = serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "s", "aud": "a", "client_id": "a", "scope": "",
            "exp": 1, "iat": 0, "jti": "x"
        }))
        .unwrap();
        assert_eq!(plain.act, None);
        assert!(!serde_json::to_string(&plain).unwrap().contains("act"));
    }
}
