//! grant_type=refresh_token (RFC 6749 6), rotating on every use
//! (RFC 9700 4.14.2): the presented token dies, a new one is issued, and a
//! reused token revokes its whole family.

use super::{approve, exchange_and_answer, not_valid, Successor};
use crate::door::Door;
use crate::error::ApiError;
use crate::jwt::mint::TokenResponse;
use crate::AppState;
use keygate_core::grant::check_refresh;
use keygate_core::model::Client;
use keygate_core::scope::Scope;
use keygate_crypto::secrets::refresh_token_key;
use keygate_store::{Check, RefreshGrant};

pub async fn exchange(
    state: &AppState,
    door: &Door,
    client: &Client,
    refresh_token: &str,
    requested: Option<&Scope>,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let now = crate::now();
    let hash = refresh_token_key(refresh_token);
    let (token, successor) = Successor::draw(door);
    let tenant_id = door.tenant.id.clone();
    let checked = client.clone();
    let requested = requested.cloned();
    let (redirect_uri, code_verifier) = (
        redirect_uri.map(str::to_string),
        code_verifier.map(str::to_string),
    );
    let check: Check<RefreshGrant> = Box::new(move |(presented, grant, user)| {
        if presented.tenant_id != tenant_id {
            return Err(not_valid(WHAT).into());
        }
        let scope = check_refresh(
            presented,
            grant,
            &checked,
            requested.as_ref(),
            redirect_uri.as_deref(),
            code_verifier.as_deref(),
            now,
        )?;
        // The successor keeps the grant's full scope (RFC 6749 6); only
        // this access token is narrowed.
        let full = Scope::parse(&grant.scope)?;
        approve(&checked, grant, user, scope, &full, successor)
    });
    let start = |then| state.store.exchange_refresh(&hash, now, check, then);
    let person = |(_, grant, user)| (grant, user);
    exchange_and_answer(state, door, client, person, start, now, WHAT, token).await
}

const WHAT: &str = "refresh token";
