//! Token exchange (RFC 8693): a confidential client presents an access
//! token Keygate issued (the *subject token*) and gets a new access token
//! for another service (an *audience* it was registered for), with at
//! most the subject token's scope. With an *actor token* as well the new
//! token is a delegation: it names the actor in `act` (RFC 8693 4.1);
//! without one it is an impersonation and carries no new `act`.
//!
//! The server verifies both tokens (signature by the tenant's keys, issuer,
//! expiry, revocation) and hands this module what it found; every rule of
//! the exchange is decided here, without I/O ([`decide`]). Nothing is
//! stored: the issued token is a JWT like any other access token, and its
//! `jti` keeps the subject token's grant, so revoking that grant (or
//! disabling the person) ends the exchanged token too.
//!
//! What is exchanged, and why only that (docs/token-exchange.md):
//! - subject and actor tokens of type `access_token`: Keygate's own JWT
//!   access tokens. Refresh tokens are refused (they are credentials of
//!   the client they were issued to, rotated on use; exchanging one would
//!   hand a long-lived credential's power to another party), and so are
//!   id_tokens (they say who signed in to a client; they authorize
//!   nothing, and are not revocable);
//! - the issued token is an access token (`requested_token_type` absent or
//!   `access_token`); no refresh token is issued: the client exchanges
//!   again while the subject token lives.

use crate::claims::{AccessTokenClaims, Actor};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Api, Client, GrantType};
use crate::params::Params;
use crate::scope::Scope;

/// The `grant_type` of a token exchange (RFC 8693 2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an OAuth access token (RFC 8693 3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of an OAuth refresh token (RFC 8693 3): not exchanged.
pub const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// The token type of an OpenID Connect id_token (RFC 8693 3): not exchanged.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// How many actors a chain of delegations may name (the new actor and the
/// prior ones nested in its `act`): each exchange of a delegated token adds
/// one, and the token carries them all, so the chain is bounded.
pub const MAX_ACTORS: usize = 5;

/// The parameters of a token exchange request (RFC 8693 2.1); `audience`
/// and `resource` are read by [`crate::resource::named`] like every grant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// The token that represents the party on whose behalf the request is made.
    pub subject_token: String,
    /// The party acting (delegation), if any.
    pub actor_token: Option<String>,
    /// The scope asked for; absent means all of the subject token's that fit the target.
    pub scope: Option<Scope>,
}

/// Which token a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Subject,
    Actor,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Subject => "subject_token",
            Role::Actor => "actor_token",
        }
    }
}

/// Checks a presented token's type: only Keygate's access tokens are exchanged.
fn check_type(role: Role, token_type: &str) -> Result<(), OAuthError> {
    let what = role.name();
    let why = match token_type {
        ACCESS_TOKEN_TYPE => return Ok(()),
        REFRESH_TOKEN_TYPE => "refresh tokens are not exchanged: present an access token",
        ID_TOKEN_TYPE => "id_tokens are not exchanged: present an access token",
        _ => "only access tokens are exchanged",
    };
    Err(OAuthError::invalid_request(format!(
        "{what}_type '{}' is not supported: {why} ({ACCESS_TOKEN_TYPE})",
        token_type.chars().take(80).collect::<String>()
    )))
}

impl ExchangeRequest {
    /// Reads and checks the request's parameters (RFC 8693 2.1): the
    /// subject token and its type are required; an actor token needs its
    /// type and a type needs its token; only access tokens are exchanged
    /// and issued.
    pub fn parse(p: &Params) -> Result<ExchangeRequest, OAuthError> {
        let required = |name: &'static str| {
            p.get(name).map(str::to_string).ok_or_else(|| {
                OAuthError::invalid_request(format!("the '{name}' parameter is missing"))
            })
        };
        let subject_token = required("subject_token")?;
        check_type(Role::Subject, &required("subject_token_type")?)?;
        let actor_token = match (p.get("actor_token"), p.get("actor_token_type")) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type is required with actor_token",
                ))
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "actor_token_type was sent without actor_token",
                ))
            }
            (Some(token), Some(t)) => {
                check_type(Role::Actor, t)?;
                Some(token.to_string())
            }
        };
        match p.get("requested_token_type") {
            None | Some(ACCESS_TOKEN_TYPE) => {}
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "requested_token_type '{}' is not supported: only access tokens are issued ({ACCESS_TOKEN_TYPE})",
                    other.chars().take(80).collect::<String>()
                )))
            }
        }
        let scope = p.get("scope").map(Scope::parse).transpose()?;
        Ok(ExchangeRequest {
            subject_token,
            actor_token,
            scope,
        })
    }
}

/// Why a presented token cannot be exchanged, as the server found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Not a JWT access token of Keygate's (`typ` `at+jwt`).
    Malformed,
    /// An algorithm or key id this tenant does not use.
    Unsupported,
    /// The signature does not verify with the tenant's keys (a token of
    /// another tenant ends here).
    BadSignature,
    /// Issued at another issuer (another tenant, or another door).
    WrongIssuer,
    /// Past its `exp`.
    Expired,
    /// Revoked: its `jti`, its grant, or its client.
    Revoked,
}

impl Unusable {
    fn describe(self) -> &'static str {
        match self {
            Unusable::Malformed => "it is not an access token issued by this server",
            Unusable::Unsupported => "its algorithm or key id is not one this server uses",
            Unusable::BadSignature => "its signature does not verify with this issuer's keys",
            Unusable::WrongIssuer => "it was issued by another issuer",
            Unusable::Expired => "it has expired",
            Unusable::Revoked => "it was revoked",
        }
    }
}

/// What the server presents to [`decide`].
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The authenticated client making the request.
    pub client: &'a Client,
    /// The issuer of the door the request came through.
    pub issuer: &'a str,
    /// The subject token's claims, verified, or why it is not usable.
    pub subject: Result<&'a AccessTokenClaims, Unusable>,
    /// The actor token's, when one was sent.
    pub actor: Option<Result<&'a AccessTokenClaims, Unusable>>,
    /// The target named by `audience` or `resource` (already an absolute URI).
    pub target: Option<&'a str>,
    /// The tenant's API with the target's identifier, if there is one.
    pub api: Option<&'a Api>,
    /// The scope asked for.
    pub scope: Option<&'a Scope>,
    /// The request's clock.
    pub now: i64,
    /// The thumbprint of the key of the request's DPoP proof, if one was
    /// sent (and checked).
    pub dpop_jkt: Option<&'a str>,
}

/// The token an approved exchange issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged {
    /// Its `sub`: the subject token's.
    pub sub: String,
    /// Its `aud`: the target.
    pub audience: String,
    /// Its scope.
    pub scope: Scope,
    /// Its `act`: the actor, with prior actors nested; `None` for an
    /// impersonation of a token that had none.
    pub act: Option<Actor>,
    /// The subject token's grant, which prefixes the new `jti` (so that
    /// revoking the grant revokes this token too).
    pub grant_id: Option<String>,
    /// The subject token's `auth_time`.
    pub auth_time: Option<i64>,
    /// The subject token's `exp`: the new token never outlives it.
    pub not_after: i64,
}

fn unusable(role: Role, why: Unusable) -> OAuthError {
    OAuthError::invalid_request(format!(
        "the {} is not usable: {}",
        role.name(),
        why.describe()
    ))
}

/// Checks a verified token's own claims again (the server verified them;
/// the rule is stated here too, so that it is tested here).
///
/// A DPoP-bound token (`cnf.jkt`) is usable only with a proof by its key
/// (RFC 9449 7: presenting a bound token is proving its key): otherwise a
/// stolen bound token could be traded for an unbound one.
fn usable<'a>(
    role: Role,
    token: Result<&'a AccessTokenClaims, Unusable>,
    issuer: &str,
    now: i64,
    dpop_jkt: Option<&str>,
) -> Result<&'a AccessTokenClaims, OAuthError> {
    let claims = token.map_err(|why| unusable(role, why))?;
    if claims.iss != issuer {
        return Err(unusable(role, Unusable::WrongIssuer));
    }
    if claims.exp <= now {
        return Err(unusable(role, Unusable::Expired));
    }
    if let Some(bound) = claims.jkt() {
        if dpop_jkt != Some(bound) {
            return Err(OAuthError::invalid_request(format!(
                "the {} is bound to a DPoP key (cnf.jkt): send a DPoP proof signed by that key",
                role.name()
            )));
        }
    }
    Ok(claims)
}

/// The number of actors a chain names.
fn actors(act: Option<&Actor>) -> usize {
    std::iter::successors(act, |a| a.act.as_deref()).count()
}

/// The scope of the issued token: what was asked for (or, when nothing
/// was, all the subject token's scope that fits the target), never more
/// than the subject token's (RFC 8693 2.1: the AS decides; Keygate never
/// widens), and for an API only the scopes it defines.
fn scope_for(
    subject: &AccessTokenClaims,
    requested: Option<&Scope>,
    api: Option<&Api>,
) -> Result<Scope, OAuthError> {
    let held = Scope::parse(&subject.scope)?;
    let fits = |t: &str| api.is_none_or(|a| a.scopes.iter().any(|s| s == t));
    match requested {
        Some(r) if !r.is_empty() => {
            if let Some(bad) = r.tokens().find(|t| !held.contains(t)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope '{bad}' is not in the subject token's scope: an exchange never widens it"
                )));
            }
            if let (Some(bad), Some(a)) = (r.tokens().find(|t| !fits(t)), api) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope '{bad}' is not defined by the API {}",
                    a.identifier
                )));
            }
            Ok(r.clone())
        }
        _ => {
            let kept: Vec<&str> = held.tokens().filter(|t| fits(t)).collect();
            match api {
                Some(a) if kept.is_empty() => Err(OAuthError::invalid_scope(format!(
                    "the subject token carries no scope defined by the API {}",
                    a.identifier
                ))),
                _ => Scope::parse(&kept.join(" ")),
            }
        }
    }
}

/// Decides a token exchange (RFC 8693 2): who may exchange, which target,
/// which tokens, which scope, and the `act` of the issued token. Errors
/// follow RFC 8693 2.2.2: `unauthorized_client` for a client that may not
/// exchange, `invalid_target` for a target it may not have, `invalid_request`
/// for a subject or actor token that is not usable, `invalid_scope` for a
/// scope wider than the subject token's.
pub fn decide(p: &Presented<'_>) -> Result<Exchanged, OAuthError> {
    let client = p.client;
    // A public client proves nothing about itself, so it could exchange
    // any token it picked up for one of its audiences.
    if client.public {
        return Err(OAuthError::unauthorized_client(
            "public clients may not exchange tokens: the exchange needs a client that authenticates",
        ));
    }
    if !client.allows(GrantType::TokenExchange) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {GRANT_TYPE} grant"
        )));
    }
    let Some(target) = p.target else {
        return Err(OAuthError::invalid_request(
            "name the service the token is for with audience or resource",
        ));
    };
    if !client.exchange_audiences.iter().any(|a| a == target) {
        return Err(OAuthError::invalid_target(format!(
            "this client may not exchange tokens for the audience {}",
            target.chars().take(200).collect::<String>()
        )));
    }
    let api = p.api.filter(|a| a.identifier == target);
    let subject = usable(Role::Subject, p.subject, p.issuer, p.now, p.dpop_jkt)?;
    let act = match p.actor {
        None => subject.act.clone(),
        Some(actor) => {
            let actor = usable(Role::Actor, actor, p.issuer, p.now, p.dpop_jkt)?;
            // The actor token proves the calling client is the actor (or
            // acts for it): one issued to another client proves nothing
            // about this one.
            if actor.client_id != client.id {
                return Err(OAuthError::invalid_request(
                    "the actor_token was issued to another client: present one issued to this client",
                ));
            }
            Some(Actor {
                sub: actor.sub.clone(),
                act: subject.act.clone().map(Box::new),
            })
        }
    };
    if actors(act.as_ref()) > MAX_ACTORS {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            format!("the chain of delegation would name more than {MAX_ACTORS} actors"),
        ));
    }
    let scope = scope_for(subject, p.scope, api)?;
    Ok(Exchanged {
        sub: subject.sub.clone(),
        audience: target.to_string(),
        scope,
        act,
        grant_id: subject.grant_id().map(str::to_string),
        auth_time: subject.auth_time,
        not_after: subject.exp,
    })
}

#[cfg(test)]
mod tests;
