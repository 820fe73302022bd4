//! The account page's "Connected applications" section (docs/apis.md,
//! "Consent"): the third-party applications the person allowed, what each
//! may do, and "Remove access", which deletes the consent and revokes the
//! grants it allowed (POST /account/apps/revoke).

use super::{done, read_signed_in_form, SignedIn};
use crate::door::Door;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Extension;

/// One connected application as the page lists it.
pub(crate) struct AppRow {
    /// The client's id (the revoke form's).
    pub client_id: String,
    /// Its name, or its id when it is gone.
    pub name: String,
    /// What it may do: the scopes allowed, across its APIs.
    pub scopes: String,
    /// When it was last allowed (UTC).
    pub since: String,
}

/// The person's connected applications, one row per client.
pub(crate) async fn rows(state: &AppState, who: &SignedIn) -> Result<Vec<AppRow>, ApiError> {
    let consents = state
        .store
        .consents_of(&who.user.tenant_id, &who.user.sub)
        .await?;
    let mut rows: Vec<AppRow> = vec![];
    let mut last: Option<(String, i64, Vec<String>)> = None;
    let flush = |entry: Option<(String, i64, Vec<String>)>, rows: &mut Vec<AppRow>| {
        if let Some((client_id, at, scopes)) = entry {
            rows.push(AppRow {
                name: client_id.clone(),
                client_id,
                scopes: scopes.join(" "),
                since: super::when(at),
            });
        }
    };
    for c in consents {
        match &mut last {
            Some((id, at, scopes)) if *id == c.client_id => {
                *at = (*at).max(c.granted_at);
                for s in c.scopes {
                    if !scopes.contains(&s) {
                        scopes.push(s);
                    }
                }
            }
            _ => {
                flush(last.take(), &mut rows);
                last = Some((c.client_id, c.granted_at, c.scopes));
            }
        }
    }
    flush(last.take(), &mut rows);
    for row in &mut rows {
        if let Some(client) = state.client(&who.user.tenant_id, &row.client_id).await? {
            row.name = client.name;
        }
    }
    Ok(rows)
}

/// POST /account/apps/revoke: removes an application's access.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Extension(door): Extension<Door>,
    req: Request,
) -> Result<Response, ApiError> {
    let (_, who, form) = match read_signed_in_form(&state, &door, req).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let client_id = form.get("client_id").unwrap_or("");
    if state
        .store
        .revoke_consent(&door.tenant.id, &who.user.sub, client_id, crate::now())
        .await?
    {
        tracing::info!(tenant = %door.tenant.id, sub = %who.user.sub, client_id, "consent revoked on the account page; its grants revoked");
        let detail = serde_json::json!({"client_id": client_id});
        crate::events::by_user(&state, &door, "user.consent_revoked", &who.user.sub, detail).await;
    }
    Ok(done(&door, "app-revoked", &[]))
}
