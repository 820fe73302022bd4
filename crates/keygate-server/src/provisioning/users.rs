//! People: checked accounts, password hashing, changes that end sessions, deletion.

use super::*;
use keygate_core::contact;
use serde::Serialize;

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
    /// The person's telephone number (the `phone_number` claim): `+` then 7
    /// to 15 digits, E.164 without spaces.
    #[serde(default)]
    #[schema(example = "+4915112345678")]
    pub phone_number: Option<String>,
    /// Whether the number is known to reach the person (default false);
    /// needs `phone_number`.
    #[serde(default)]
    pub phone_number_verified: bool,
    /// The person's postal address (the `address` claim).
    #[serde(default)]
    pub address: Option<AddressFields>,
}

/// A postal address: the `address` claim (OpenID Connect Core 5.1.1).
/// Every part is optional; each is at most 200 characters (`formatted` 500)
/// without control characters (`formatted` and `street_address` may hold
/// line breaks). Empty parts are dropped, and an address with none is no
/// address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressFields {
    /// The full address as it would be printed on a label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// The street, house number and so on; may span lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Hauptstr. 1")]
    pub street_address: Option<String>,
    /// The city or locality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Berlin")]
    pub locality: Option<String>,
    /// The state, province, prefecture or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The zip or postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "10115")]
    pub postal_code: Option<String>,
    /// The country name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Germany")]
    pub country: Option<String>,
}

impl From<AddressFields> for Address {
    fn from(a: AddressFields) -> Self {
        Address {
            formatted: a.formatted,
            street_address: a.street_address,
            locality: a.locality,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

impl From<Address> for AddressFields {
    fn from(a: Address) -> Self {
        AddressFields {
            formatted: a.formatted,
            street_address: a.street_address,
            locality: a.locality,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
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
    /// A new telephone number (`+` then 7 to 15 digits), or null to remove
    /// it. A new number is unverified unless `phone_number_verified` is sent too.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "+4915112345678")]
    pub phone_number: Option<Option<String>>,
    /// Whether the number is known to reach the person; true needs a number.
    #[serde(default)]
    pub phone_number_verified: Option<bool>,
    /// A new postal address, replacing the whole stored one, or null to
    /// remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AddressFields>)]
    pub address: Option<Option<AddressFields>>,
}

/// Checks a telephone number (surrounding spaces trimmed).
pub fn phone_number(raw: &str) -> Result<String> {
    let p = raw.trim();
    contact::check_phone_number(p).map_err(|e| ProvisionError::invalid("phone_number", e.0))?;
    Ok(p.to_string())
}

/// Checks an address; one with no part left after trimming is `None`.
pub fn address(raw: &AddressFields) -> Result<Option<Address>> {
    let a = contact::tidy_address(raw.clone().into());
    if let Some(a) = &a {
        contact::check_address(a).map_err(|e| ProvisionError::invalid("address", e.0))?;
    }
    Ok(a)
}

fn verified_needs_number(verified: bool, number: &Option<String>) -> Result<()> {
    if verified && number.is_none() {
        return Err(ProvisionError::invalid(
            "phone_number_verified",
            "a phone number can only be verified when there is one",
        ));
    }
    Ok(())
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
    let phone = spec.phone_number.as_deref().map(phone_number).transpose()?;
    verified_needs_number(spec.phone_number_verified, &phone)?;
    let address = match &spec.address {
        Some(a) => address(a)?.map(AddressFields::from),
        None => None,
    };
    Ok(NewUser {
        email,
        password: spec.password.clone(),
        name,
        email_verified: spec.email_verified,
        phone_number: phone,
        phone_number_verified: spec.phone_number_verified,
        address,
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
        phone_number: spec.phone_number,
        phone_number_verified: spec.phone_number_verified,
        address: spec.address.map(Address::from),
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
    if let Some(p) = &patch.phone_number {
        user.phone_number = p.as_deref().map(phone_number).transpose()?;
        // A new number has not been shown to reach the person.
        if user.phone_number != before.phone_number {
            user.phone_number_verified = false;
        }
    }
    if let Some(v) = patch.phone_number_verified {
        user.phone_number_verified = v;
    }
    verified_needs_number(user.phone_number_verified, &user.phone_number)?;
    if let Some(a) = &patch.address {
        user.address = match a {
            Some(a) => address(a)?,
            None => None,
        };
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
    if ends {
        crate::backchannel::wake();
    }
    Ok(user)
}

/// Deletes a user, ends their sessions and revokes their grants.
pub async fn delete_user(store: &dyn Store, tenant: &str, sub: &str) -> Result<()> {
    existing_tenant(store, tenant).await?;
    if !store.delete_user(tenant, sub, crate::now()).await? {
        return Err(no_user(sub));
    }
    crate::backchannel::wake();
    Ok(())
}
