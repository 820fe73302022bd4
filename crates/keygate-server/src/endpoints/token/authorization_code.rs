//! grant_type=authorization_code (RFC 6749 4.1.3, RFC 7636 4.5).

use super::{approve, exchange_and_answer, not_valid, Successor};
use crate::door::Door;
use crate::error::ApiError;
use crate::jwt::mint::TokenResponse;
use crate::AppState;
use keygate_core::grant::check_code;
use keygate_core::model::Client;
use keygate_core::scope::Scope;
use keygate_crypto::secrets::sha256_hex;
use keygate_store::{Check, CodeGrant};

pub async fn exchange(
    state: &AppState,
    door: &Door,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let now = crate::now();
    let code_hash = sha256_hex(code);
    let (token, successor) = Successor::draw(door);
    let tenant_id = door.tenant.id.clone();
    let checked = client.clone();
    let (redirect_uri, code_verifier) = (
        redirect_uri.map(str::to_string),
        code_verifier.map(str::to_string),
    );
    // Decides before anything is written; the store then consumes the code
    // (single use decided by the database) and commits the refresh token
    // with it, before any token leaves.
    let check: Check<CodeGrant> = Box::new(move |(grant, user)| {
        if grant.tenant_id != tenant_id {
            return Err(not_valid(WHAT).into());
        }
        check_code(
            grant,
            &checked,
            redirect_uri.as_deref(),
            code_verifier.as_deref(),
            now,
        )?;
        let scope = Scope::parse(&grant.scope)?;
        approve(&checked, grant, user, scope.clone(), &scope, successor)
    });
    let start = |then| state.store.exchange_code(&code_hash, now, check, then);
    exchange_and_answer(state, door, client, |found| found, start, now, WHAT, token).await
}

const WHAT: &str = "authorization code";
