//! The claims of the tokens Keygate issues: the OpenID Connect id_token
//! (Core 2, 3.1.3.6) and the JWT access token (RFC 9068 2.2).

use crate::model::User;
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
    /// The profile and e-mail claims the scope releases, flattened into the token.
    #[serde(flatten)]
    pub profile: UserClaims,
}

/// Profile and e-mail claims, released by scope.
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
}

impl UserClaims {
    /// The claims of `user` that `scope` releases (OpenID Connect Core 5.4); the rest stay `None`.
    pub fn for_scope(user: &User, scope: &Scope) -> UserClaims {
        let email = scope.contains(scope::EMAIL);
        UserClaims {
            name: if scope.contains(scope::PROFILE) {
                user.name.clone()
            } else {
                None
            },
            email: email.then(|| user.email.clone()),
            email_verified: email.then_some(user.email_verified),
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
        };
        let none = UserClaims::for_scope(&user, &Scope::parse("openid").unwrap());
        assert_eq!(none, UserClaims::default());
        let all = UserClaims::for_scope(&user, &Scope::parse("openid profile email").unwrap());
        assert_eq!(all.name.as_deref(), Some("Ann"));
        assert_eq!(all.email_verified, Some(false));
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json["email"], "a@b.c");
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
        };
        assert_eq!(c.grant_id(), Some("g1"));
        c.jti = "xyz".into();
        assert_eq!(c.grant_id(), None);
    }
}
