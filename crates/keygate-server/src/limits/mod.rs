//! Keys and reservations of the brute-force limits kept in the store.
//!
//! Keys name what they limit by a SHA-256 of the caller's input, so an
//! attacker's over-long e-mail address or client id costs one fixed-size
//! row, never a row of its own size.

pub(crate) mod throttle;

use crate::error::ApiError;
use crate::AppState;
use keygate_crypto::secrets::sha256_hex;
use keygate_store::{Attempt, LimitPolicy};
use std::net::IpAddr;

/// The sign-in limit of one account (tenant and e-mail, case-insensitive).
pub(crate) fn account_key(tenant: &str, email: &str) -> String {
    email_key("signin", tenant, email)
}

/// The limit of one e-mail address (compared case-insensitively) in one
/// tenant for one kind of request (`signin`, `reset`, `verify`).
pub(crate) fn email_key(kind: &str, tenant: &str, email: &str) -> String {
    person_key(kind, tenant, &email.trim().to_lowercase())
}

/// The limit of one person (`who`: an e-mail or a `sub`) in one tenant for
/// one kind of request; hashed, so an over-long value costs one
/// fixed-size row.
pub(crate) fn person_key(kind: &str, tenant: &str, who: &str) -> String {
    format!("{kind}:account:{}", sha256_hex(&format!("{tenant}\n{who}")))
}

/// The limit of one client IP for one kind of request (`reset`, `verify`).
pub(crate) fn kind_ip_key(kind: &str, ip: IpAddr) -> String {
    format!("{kind}:ip:{ip}")
}

/// The sign-in limit of one client IP (across tenants and accounts).
pub(crate) fn ip_key(ip: IpAddr) -> String {
    format!("signin:ip:{ip}")
}

/// The limit of wrong user codes entered on the device page by one client
/// IP (an unknown IP shares one key).
pub(crate) fn device_ip_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => kind_ip_key("device", ip),
        None => "device:ip:unknown".to_string(),
    }
}

/// The registration limit of one client IP.
pub(crate) fn register_ip_key(ip: IpAddr) -> String {
    format!("register:ip:{ip}")
}

/// The failed-authentication limit of one registered client.
pub(crate) fn client_auth_key(tenant: &str, client_id: &str) -> String {
    format!(
        "client-auth:{}",
        sha256_hex(&format!("{tenant}\n{client_id}"))
    )
}

/// Reserves an attempt against the IP's limit (when the IP is known) and
/// then the account's; when the account refuses, the IP's attempt is given
/// back. `Ok` carries each granted attempt's count; `Err` the seconds to
/// wait.
pub(crate) async fn reserve_both(
    state: &AppState,
    account: (&str, &LimitPolicy),
    ip: Option<(&str, &LimitPolicy)>,
) -> Result<Result<(i64, Option<i64>), i64>, ApiError> {
    let ip_count = match ip {
        None => None,
        Some((key, policy)) => match reserve(state, key, policy).await? {
            Ok(count) => Some(count),
            Err(secs) => return Ok(Err(secs)),
        },
    };
    match reserve(state, account.0, account.1).await? {
        Ok(count) => Ok(Ok((count, ip_count))),
        Err(secs) => {
            if let Some((key, policy)) = ip {
                state.store.release_attempt(key, policy).await?;
            }
            Ok(Err(secs))
        }
    }
}

/// Reserves one attempt against a single limit; `Err` is the seconds to
/// wait.
pub(crate) async fn reserve(
    state: &AppState,
    key: &str,
    policy: &LimitPolicy,
) -> Result<Result<i64, i64>, ApiError> {
    Ok(
        match state
            .store
            .reserve_attempt(key, crate::now(), policy)
            .await?
        {
            Attempt::Granted { count } => Ok(count),
            Attempt::Refused { retry_after } => Err(retry_after),
        },
    )
}
