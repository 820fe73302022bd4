//! grant_type=client_credentials (RFC 6749 4.4): a token for the client
//! itself; no id_token, no refresh token, nothing stored.

use crate::door::Door;
use crate::error::ApiError;
use crate::jwt::mint::{mint, Subject, TokenResponse};
use crate::AppState;
use keygate_core::grant::check_client_credentials;
use keygate_core::model::Client;
use keygate_core::scope::Scope;

pub async fn exchange(
    state: &AppState,
    door: &Door,
    client: &Client,
    requested: Option<&Scope>,
) -> Result<TokenResponse, ApiError> {
    let scope = check_client_credentials(client, requested)?;
    mint(state, door, client, Subject::Client, &scope, None).await
}
