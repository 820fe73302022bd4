//! Bearer tokens of the admin API.

use super::*;

/// Creates an admin API token; returns its id and the token (shown once;
/// only its SHA-256 is stored).
pub async fn create_admin_token(store: &dyn Store) -> Result<(String, String)> {
    let token = secrets::new_secret();
    let record = keygate_store::AdminToken {
        id: secrets::random_token(9),
        created_at: crate::now(),
    };
    store
        .create_admin_token(&record, &secrets::sha256_hex(&token))
        .await?;
    Ok((record.id, token))
}
