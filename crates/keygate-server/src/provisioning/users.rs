//! People: checked accounts, password hashing, changes that end sessions, deletion.

use super::*;

/// A new user.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Stored lower-cased; unique in the tenant.
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// At least 8 characters.
    #[schema(format = Password)]
    pub password: String,
    /// The person's full name (the `name` claim), if known.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the address is already known to reach the person (default false).
    #[serde(default)]
    pub email_verified: bool,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// A new address: stored lower-cased, unique in the tenant; changing it
    /// ends the person's sessions.
    #[serde(default)]
    pub email: Option<String>,
    /// A new password (at least 8 characters); setting it ends the person's sessions.
    #[serde(default)]
    #[schema(format = Password)]
    pub password: Option<String>,
    /// The person's full name (the `name` claim); it can be changed but not removed.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the address is known to reach the person.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// A disabled person cannot sign in; disabling ends their sessions.
    #[serde(default)]
    pub disabled: Option<bool>,
}

fn email(raw: &str) -> Result<String> {
    validate::normalize_email(raw).ok_or_else(|| {
        ProvisionError::invalid("email", format!("'{raw}' is not a valid e-mail address"))
    })
}

fn check_password(pw: &str) -> Result<()> {
    match validate::check_password(pw) {
        Err(validate::PasswordProblem::TooShort) => Err(ProvisionError::invalid(
            "password",
            format!("must be at least {} characters", validate::MIN_PASSWORD_LEN),
        )),
        Err(validate::PasswordProblem::TooLong) => Err(ProvisionError::invalid(
            "password",
            format!("must be at most {} bytes", validate::MAX_PASSWORD_LEN),
        )),
        Ok(()) => Ok(()),
    }
}

/// Checks a new user's fields; returns them normalized (no I/O).
pub fn check_new_user(spec: &NewUser) -> Result<NewUser> {
    let email = email(&spec.email)?;
    check_password(&spec.password)?;
    let name = spec.name.as_deref().map(|n| name(n, "name")).transpose()?;
    Ok(NewUser {
        email,
        password: spec.password.clone(),
        name,
        email_verified: spec.email_verified,
    })
}

async fn hash_password(pw: &str) -> Result<String> {
    let pw = pw.to_string();
    crate::signing::run_password(move || keygate_crypto::password::hash_password(&pw))
        .await
        .map_err(|e| {
            ProvisionError::Store(keygate_store::StoreError::Backend(format!(
                "hashing the password failed: {e:?}"
            )))
        })
}

fn email_taken(email: &str, tenant: &str) -> ProvisionError {
    ProvisionError::Conflict(format!(
        "the e-mail '{email}' is already registered in tenant '{tenant}'"
    ))
}

/// Creates a user after checking every field; returns the record.
pub async fn create_user(store: &dyn Store, tenant: &str, spec: &NewUser) -> Result<User> {
    let spec = check_new_user(spec)?;
    existing_tenant(store, tenant).await?;
    if store.user_by_email(tenant, &spec.email).await?.is_some() {
        return Err(email_taken(&spec.email, tenant));
    }
    let user = User {
        sub: secrets::new_id(),
        tenant_id: tenant.to_string(),
        email: spec.email,
        email_verified: spec.email_verified,
        name: spec.name,
        password_hash: hash_password(&spec.password).await?,
        created_at: crate::now(),
        disabled: false,
    };
    store.create_user(&user).await.map_err(|e| match e {
        StoreError::Conflict(_) => email_taken(&user.email, tenant),
        other => other.into(),
    })?;
    Ok(user)
}

/// The user of the tenant with this e-mail address, compared as stored
/// (normalized); `None` also for a string that is no e-mail address.
pub async fn user_by_email(store: &dyn Store, tenant: &str, raw: &str) -> Result<Option<User>> {
    existing_tenant(store, tenant).await?;
    match validate::normalize_email(raw) {
        Some(e) => Ok(store.user_by_email(tenant, &e).await?),
        None => Ok(None),
    }
}

pub(super) fn no_user(sub: &str) -> ProvisionError {
    ProvisionError::NotFound(format!("user '{sub}' does not exist"))
}

/// The stored user, or `NotFound` (also when their tenant does not exist).
pub async fn existing_user(store: &dyn Store, tenant: &str, sub: &str) -> Result<User> {
    existing_tenant(store, tenant).await?;
    store
        .get_user(tenant, sub)
        .await?
        .ok_or_else(|| no_user(sub))
}

/// Applies the changes to a stored user and returns them as now stored; a
/// new e-mail address or password, or disabling, ends every session and
/// revokes every grant of the person.
pub async fn update_user(
    store: &dyn Store,
    tenant: &str,
    sub: &str,
    patch: &UserPatch,
) -> Result<User> {
    let mut user = existing_user(store, tenant, sub).await?;
    let before = user.clone();
    if let Some(e) = &patch.email {
        user.email = email(e)?;
    }
    if let Some(n) = &patch.name {
        user.name = Some(name(n, "name")?);
    }
    if let Some(v) = patch.email_verified {
        user.email_verified = v;
    }
    if let Some(pw) = &patch.password {
        check_password(pw)?;
        user.password_hash = hash_password(pw).await?;
    }
    if let Some(d) = patch.disabled {
        user.disabled = d;
    }
    // A new password or e-mail address, or disabling, ends every session
    // and revokes every grant of the person in the same transaction: whoever
    // held the old credentials must not keep a way in.
    let ends = user.email != before.email
        || patch.password.is_some()
        || (user.disabled && !before.disabled);
    let end_sessions_at = ends.then(crate::now);
    store
        .update_user(&user, end_sessions_at)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_user(sub),
            StoreError::Conflict(_) => email_taken(&user.email, tenant),
            other => other.into(),
        })?;
    Ok(user)
}

/// Deletes a user, ends their sessions and revokes their grants.
pub async fn delete_user(store: &dyn Store, tenant: &str, sub: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_user(tenant, sub, crate::now()).await? {
        return Err(no_user(sub));
    }
    Ok(())
}
