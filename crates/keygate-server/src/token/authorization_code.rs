//! grant_type=authorization_code (RFC 6749 4.1.3, RFC 7636 4.5).

use super::{issued, lost, person, person_gone, person_tokens, refuse, Successor};
use crate::door::Door;
use crate::error::ApiError;
use crate::tokens::TokenResponse;
use crate::AppState;
use keygate_core::grant::check_code;
use keygate_core::model::Client;
use keygate_core::scope::Scope;
use keygate_core::OAuthError;
use keygate_crypto::secrets::sha256_hex;
use keygate_store::{Approved, Check, CodeGrant, Exchange};

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
            return Err(not_valid().into());
        }
        check_code(
            grant,
            &checked,
            redirect_uri.as_deref(),
            code_verifier.as_deref(),
            now,
        )?;
        if user.is_none() {
            return Err(person_gone().into());
        }
        let scope = Scope::parse(&grant.scope)?;
        let successor = successor.record(&checked, grant, &scope);
        Ok(Approved { scope, successor })
    });
    match state.store.exchange_code(&code_hash, now, check).await? {
        Exchange::NotFound => Err(not_valid().into()),
        Exchange::Refused(refusal) => Err(refuse(state, client, refusal, now).await),
        Exchange::Lost((grant, _)) => Err(lost(state, &grant, now, "authorization code").await),
        Exchange::Won((grant, user), approved) => {
            let user = person(user)?;
            let refresh = issued(token, &approved);
            person_tokens(state, door, client, &user, &grant, &approved.scope, refresh).await
        }
    }
}

fn not_valid() -> OAuthError {
    OAuthError::invalid_grant("the authorization code is not valid")
}
