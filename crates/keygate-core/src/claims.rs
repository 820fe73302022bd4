//! The claims of the tokens Keygate issues: the OpenID Connect id_token
//! (Core 2, 3.1.3.6) and the JWT access token (RFC 9068 2.2).

use crate::model::User;
use crate::scope::{self, Scope};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub azp: String,
    #[serde(flatten)]
    pub profile: UserClaims,
}

/// Profile and e-mail claims, released by scope.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl UserClaims {
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The audience is the client the token was issued to: Keygate has no
    /// separate resource registry yet, and its own userinfo accepts it.
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
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
