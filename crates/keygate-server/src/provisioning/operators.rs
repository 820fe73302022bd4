//! Operators of the admin console (docs/console.md): made, listed and
//! deleted by `keygate admin create|list|delete` and by an owner on the
//! console's operators page.

use super::*;

/// The roles an operator may have.
pub const OPERATOR_ROLES: &[&str] = &["owner", "admin", "viewer"];

/// A new operator: its e-mail, password (hashed here with Argon2id),
/// role and optional tenant.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// Its e-mail address, how it signs in.
    pub email: String,
    /// Its password (checked as users' passwords are).
    pub password: String,
    /// `owner`, `admin` or `viewer`.
    pub role: String,
    /// The one tenant it manages (`None`: every tenant).
    pub tenant: Option<String>,
}

/// An operator as the CLI prints it and the console lists it (never its
/// password hash or TOTP secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperatorView {
    /// Its id.
    pub id: String,
    /// Its e-mail.
    pub email: String,
    /// Its role.
    pub role: String,
    /// Its tenant (`null`: every tenant).
    pub tenant: Option<String>,
    /// Whether it has set up its authenticator app.
    pub totp: bool,
    /// When it was made (Unix seconds).
    pub created_at: i64,
}

impl From<keygate_store::Operator> for OperatorView {
    fn from(o: keygate_store::Operator) -> Self {
        OperatorView {
            id: o.id,
            email: o.email,
            role: o.role,
            tenant: o.tenant_id,
            totp: o.totp_confirmed,
            created_at: o.created_at,
        }
    }
}

/// Checks a new operator's fields without the database: the e-mail's
/// shape, the password's length, the role, the tenant id's shape.
pub fn check_new_operator(spec: &NewOperator) -> Result<NewOperator> {
    let email = validate::normalize_email(&spec.email)
        .ok_or_else(|| ProvisionError::invalid("email", "is not a valid e-mail address"))?;
    match validate::check_password(&spec.password) {
        Err(validate::PasswordProblem::TooShort) => {
            return Err(ProvisionError::invalid(
                "password",
                format!("must be at least {} characters", validate::MIN_PASSWORD_LEN),
            ))
        }
        Err(validate::PasswordProblem::TooLong) => {
            return Err(ProvisionError::invalid(
                "password",
                format!("must be at most {} bytes", validate::MAX_PASSWORD_LEN),
            ))
        }
        Ok(()) => {}
    }
    if !OPERATOR_ROLES.contains(&spec.role.as_str()) {
        return Err(ProvisionError::invalid(
            "role",
            "must be owner, admin or viewer",
        ));
    }
    let tenant = spec
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(t) = tenant {
        if !validate::is_tenant_id(t) {
            return Err(ProvisionError::invalid("tenant", "is not a tenant id"));
        }
        if spec.role == "owner" {
            return Err(ProvisionError::invalid(
                "tenant",
                "an owner manages every tenant; give a tenant to admins and viewers only",
            ));
        }
    }
    Ok(NewOperator {
        email,
        password: spec.password.clone(),
        role: spec.role.clone(),
        tenant: tenant.map(str::to_string),
    })
}

/// Creates an operator (the tenant must exist); `Conflict` when its
/// e-mail is taken.
pub async fn create_operator(store: &dyn Store, spec: &NewOperator) -> Result<OperatorView> {
    let spec = check_new_operator(spec)?;
    if let Some(t) = &spec.tenant {
        existing_tenant(store, t).await?;
    }
    let pw = spec.password.clone();
    let password_hash =
        crate::signing::run_password(move || keygate_crypto::password::hash_password(&pw))
            .await
            .map_err(|e| {
                ProvisionError::Store(StoreError::Backend(format!(
                    "hashing the password failed: {e:?}"
                )))
            })?;
    let operator = keygate_store::Operator {
        id: secrets::new_id(),
        email: spec.email.clone(),
        password_hash,
        role: spec.role,
        tenant_id: spec.tenant,
        totp_secret_sealed: None,
        totp_confirmed: false,
        created_at: crate::now(),
        disabled: false,
    };
    store
        .create_operator(&operator)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ProvisionError::Conflict(format!(
                "an operator with the e-mail '{}' exists",
                spec.email
            )),
            e => e.into(),
        })?;
    Ok(operator.into())
}

/// Every operator, by e-mail.
pub async fn list_operators(store: &dyn Store) -> Result<Vec<OperatorView>> {
    Ok(store
        .list_operators()
        .await?
        .into_iter()
        .map(OperatorView::from)
        .collect())
}

/// Deletes an operator (and its sessions) by id or by e-mail; `NotFound`
/// when there is none.
pub async fn delete_operator(store: &dyn Store, id_or_email: &str) -> Result<OperatorView> {
    let found = match validate::normalize_email(id_or_email) {
        Some(email) => store.operator_by_email(&email).await?,
        None => store.get_operator(id_or_email).await?,
    };
    let Some(operator) = found else {
        return Err(ProvisionError::NotFound(format!(
            "no operator '{id_or_email}'"
        )));
    };
    if !store.delete_operator(&operator.id).await? {
        return Err(ProvisionError::NotFound(format!(
            "no operator '{id_or_email}'"
        )));
    }
    Ok(operator.into())
}
