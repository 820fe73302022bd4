//! A [`Store`] that times every call of the store it wraps, for the
//! `keygate_store_duration_seconds{op}` histogram.

use crate::*;
use async_trait::async_trait;
use keygate_core::device::DeviceAuthorization;
use keygate_core::events::{Event, EventFilter};
use keygate_core::federation::{FederatedIdentity, FederationState, UpstreamIdp};
use keygate_core::model::{
    Api, Client, ClientGrant, Consent, Grant, RefreshToken, Session, Tenant, User,
};
use std::sync::Arc;
use std::time::Instant;

/// Wraps a store; each method records its latency under its own name.
pub struct Metered(pub Arc<dyn Store>);

macro_rules! metered {
    ($(
        impl $capability:ident {
            $( fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty; )*
            $( then fn $then_name:ident($($then_arg:ident : $then_ty:ty),*) -> $found:ty; )*
        }
    )*) => {$(
        #[async_trait]
        impl $capability for Metered {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    let started = Instant::now();
                    let out = self.0.$name($($arg),*).await;
                    record(stringify!($name), started);
                    out
                }
            )*
            $(
                // Timed until the outcome is handed to `then`.
                async fn $then_name(&self $(, $then_arg: $then_ty)*, then: Then<$found>) {
                    let started = Instant::now();
                    let then: Then<$found> = Box::new(move |outcome| {
                        record(stringify!($then_name), started);
                        then(outcome)
                    });
                    self.0.$then_name($($then_arg,)* then).await
                }
            )*
        }
    )*};
}

fn record(op: &'static str, started: Instant) {
    metrics::histogram!("keygate_store_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
}

// Each capability's methods, one line each (the compiler checks the lists
// against the traits).
metered! {
    impl TenantStore {
        fn create_tenant(tenant: &Tenant) -> Result<()>;
        fn ensure_tenant(tenant: &Tenant) -> Result<()>;
        fn get_tenant(id: &str) -> Result<Option<Tenant>>;
        fn tenant_by_authority(authority: &str) -> Result<Option<(Tenant, String)>>;
        fn list_tenants(after: &str, limit: i64) -> Result<Vec<Tenant>>;
        fn update_tenant(tenant: &Tenant) -> Result<()>;
        fn delete_tenant(id: &str) -> Result<bool>;
    }
    impl ClientStore {
        fn create_client(client: &Client) -> Result<()>;
        fn get_client(tenant_id: &str, client_id: &str) -> Result<Option<Client>>;
        fn client_by_name(tenant_id: &str, name: &str) -> Result<Option<Client>>;
        fn is_web_origin(tenant_id: &str, origin: &str) -> Result<bool>;
        fn list_clients(tenant_id: &str, after: &str, limit: i64) -> Result<Vec<Client>>;
        fn update_client(client: &Client) -> Result<()>;
        fn set_client_secret(tenant_id: &str, client_id: &str, secret_hash: &str) -> Result<()>;
        fn delete_client(tenant_id: &str, client_id: &str, now: i64) -> Result<bool>;
    }
    impl UserStore {
        fn create_user(user: &User) -> Result<()>;
        fn get_user(tenant_id: &str, sub: &str) -> Result<Option<User>>;
        fn user_by_email(tenant_id: &str, email: &str) -> Result<Option<User>>;
        fn list_users(tenant_id: &str, after: &str, limit: i64) -> Result<Vec<User>>;
        fn users_by_email_prefix(tenant_id: &str, prefix: &str, after: &str, limit: i64) -> Result<Vec<User>>;
        fn update_user(user: &User, end_sessions_at: Option<i64>) -> Result<()>;
        fn delete_user(tenant_id: &str, sub: &str, now: i64) -> Result<bool>;
    }
    impl SessionStore {
        fn create_session(id_hash: &str, session: &Session) -> Result<()>;
        fn get_session(id_hash: &str) -> Result<Option<Session>>;
        fn delete_session(id_hash: &str) -> Result<()>;
        fn end_session(id_hash: &str, now: i64) -> Result<()>;
        fn sessions_of(tenant_id: &str, sub: &str, now: i64) -> Result<Vec<(String, Session)>>;
        fn end_sessions_of(tenant_id: &str, sub: &str, now: i64) -> Result<()>;
    }
    impl GrantStore {
        fn create_grant(grant: &Grant, code_hash: &str, max_outstanding: i64) -> Result<bool>;
        fn get_grant(grant_id: &str) -> Result<Option<Grant>>;
        fn revoke_grant(grant_id: &str, now: i64) -> Result<()>;
        fn refresh_token(hash: &str) -> Result<Option<(RefreshToken, Grant, Option<User>)>>;
        fn revoke_jti(jti: &str, expires_at: i64) -> Result<()>;
        fn token_standing(jti: &str, grant_id: Option<&str>, person: Option<(&str, &str)>) -> Result<Standing>;
        // Exchanges give their outcome to a `then` (added last), timed until then.
        then fn exchange_code(code_hash: &str, now: i64, check: Check<CodeGrant>) -> CodeGrant;
        then fn exchange_refresh(hash: &str, now: i64, check: Check<RefreshGrant>) -> RefreshGrant;
    }
    impl OutboxStore {
        fn enqueue_mail(mail: &NewMail) -> Result<()>;
        fn claim_mail(claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Mail>>;
        fn mail_sent(id: &str, now: i64) -> Result<()>;
        fn mail_failed(id: &str, next_attempt_at: i64) -> Result<()>;
        fn sweep_outbox(now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>>;
    }
    impl ResetStore {
        fn create_reset_link(hash: &str, link: &ResetLink) -> Result<()>;
        fn reset_link(hash: &str) -> Result<Option<ResetLink>>;
        fn use_reset_link(hash: &str, tenant_id: &str, user_sub: &str, password_hash: &str, now: i64) -> Result<bool>;
    }
    impl EmailLinkStore {
        fn create_email_link(hash: &str, link: &EmailLink) -> Result<()>;
        fn email_link(hash: &str) -> Result<Option<EmailLink>>;
        fn use_email_link(hash: &str, now: i64) -> Result<Option<EmailLink>>;
    }
    impl FactorStore {
        fn create_totp_device(device: &TotpDevice) -> Result<()>;
        fn confirm_totp_device(tenant_id: &str, user_sub: &str, id: &str, name: &str, step: i64, now: i64) -> Result<bool>;
        fn totp_devices(tenant_id: &str, user_sub: &str) -> Result<Vec<TotpDevice>>;
        fn delete_totp_device(tenant_id: &str, user_sub: &str, id: &str) -> Result<bool>;
        fn use_totp_step(device_id: &str, step: i64) -> Result<bool>;
        fn create_mfa_pending(hash: &str, pending: &MfaPending) -> Result<()>;
        fn mfa_pending(hash: &str) -> Result<Option<MfaPending>>;
        fn finish_mfa_pending(hash: &str, now: i64) -> Result<bool>;
        fn replace_recovery_codes(tenant_id: &str, user_sub: &str, hashes: &[String], now: i64) -> Result<()>;
        fn use_recovery_code(tenant_id: &str, user_sub: &str, hash: &str, now: i64) -> Result<bool>;
        fn recovery_codes_left(tenant_id: &str, user_sub: &str) -> Result<i64>;
        fn delete_recovery_codes_without_factor(tenant_id: &str, user_sub: &str) -> Result<u64>;
        fn reset_factors(tenant_id: &str, user_sub: &str, now: i64) -> Result<()>;
    }
    impl PasskeyStore {
        fn create_passkey(passkey: &StoredPasskey) -> Result<()>;
        fn passkeys(tenant_id: &str, user_sub: &str) -> Result<Vec<StoredPasskey>>;
        fn passkey_by_credential(tenant_id: &str, credential_id: &str) -> Result<Option<StoredPasskey>>;
        fn passkey_used(tenant_id: &str, id: &str, passkey: &str, backup_eligible: bool, now: i64) -> Result<bool>;
        fn delete_passkey(tenant_id: &str, user_sub: &str, id: &str) -> Result<bool>;
        fn create_passkey_ceremony(hash: &str, ceremony: &PasskeyCeremony) -> Result<()>;
        fn take_passkey_ceremony(hash: &str, tenant_id: &str, now: i64) -> Result<Option<PasskeyCeremony>>;
    }
    impl PushedRequestStore {
        fn create_pushed_request(hash: &str, request: &PushedRequest) -> Result<()>;
        fn open_pushed_request(hash: &str, tenant_id: &str, client_id: &str, now: i64, open_until: i64) -> Result<Option<PushedRequest>>;
        fn use_pushed_request(hash: &str, now: i64) -> Result<bool>;
    }
    impl ReplayStore {
        fn first_use(key: &str, expires_at: i64, now: i64) -> Result<bool>;
    }
    impl EventStore {
        fn append_event(event: &Event, expires_at: i64) -> Result<()>;
        fn list_events(filter: &EventFilter, limit: i64) -> Result<Vec<Event>>;
    }
    impl OperatorStore {
        fn create_operator(operator: &Operator) -> Result<()>;
        fn get_operator(id: &str) -> Result<Option<Operator>>;
        fn operator_by_email(email: &str) -> Result<Option<Operator>>;
        fn list_operators() -> Result<Vec<Operator>>;
        fn delete_operator(id: &str) -> Result<bool>;
        fn set_operator_totp(id: &str, sealed: &str) -> Result<bool>;
        fn use_operator_totp_step(id: &str, step: i64, confirm: bool) -> Result<bool>;
        fn create_operator_session(session: &OperatorSession) -> Result<()>;
        fn operator_session(id_hash: &str, now: i64) -> Result<Option<OperatorSession>>;
        fn pass_operator_mfa(id_hash: &str) -> Result<bool>;
        fn delete_operator_session(id_hash: &str) -> Result<bool>;
        fn create_operator_passkey(passkey: &OperatorPasskey) -> Result<()>;
        fn operator_passkeys(operator_id: &str) -> Result<Vec<OperatorPasskey>>;
        fn operator_passkey_by_credential(credential_id: &str) -> Result<Option<OperatorPasskey>>;
        fn operator_passkey_used(id: &str, passkey: &str, now: i64) -> Result<bool>;
        fn delete_operator_passkey(operator_id: &str, id: &str) -> Result<bool>;
        fn count_events_by_bucket(tenant: Option<&str>, kinds: &[String], since: i64, until: i64, bucket: i64) -> Result<Vec<(i64, String, i64)>>;
        fn count_grants_by_bucket(tenant: Option<&str>, since: i64, until: i64, bucket: i64) -> Result<Vec<(i64, i64)>>;
    }
    impl WebhookStore {
        fn create_webhook(webhook: &Webhook) -> Result<()>;
        fn list_webhooks(tenant_id: &str) -> Result<Vec<Webhook>>;
        fn get_webhook(tenant_id: &str, id: &str) -> Result<Option<Webhook>>;
        fn delete_webhook(tenant_id: &str, id: &str) -> Result<bool>;
        fn claim_deliveries(claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Delivery>>;
        fn delivery_succeeded(id: &str, status: i64, now: i64) -> Result<()>;
        fn delivery_failed(id: &str, status: Option<i64>, error: &str, next_attempt_at: i64) -> Result<()>;
        fn delivery_given_up(id: &str, status: Option<i64>, error: &str, now: i64) -> Result<()>;
        fn webhook_event(tenant_id: &str, event_id: &str) -> Result<Option<Event>>;
        fn deliveries_of(tenant_id: &str, webhook_id: &str, limit: i64) -> Result<Vec<Delivery>>;
    }
    impl FederationStore {
        fn create_idp(idp: &UpstreamIdp) -> Result<()>;
        fn get_idp(tenant_id: &str, id: &str) -> Result<Option<UpstreamIdp>>;
        fn list_idps(tenant_id: &str) -> Result<Vec<UpstreamIdp>>;
        fn update_idp(idp: &UpstreamIdp) -> Result<bool>;
        fn delete_idp(tenant_id: &str, id: &str) -> Result<bool>;
        fn federated_identity(tenant_id: &str, issuer: &str, subject: &str) -> Result<Option<FederatedIdentity>>;
        fn identities_of(tenant_id: &str, user_sub: &str) -> Result<Vec<FederatedIdentity>>;
        fn link_identity(identity: &FederatedIdentity) -> Result<bool>;
        fn create_federated_user(user: &User, identity: &FederatedIdentity) -> Result<()>;
        fn touch_identity(tenant_id: &str, issuer: &str, subject: &str, now: i64) -> Result<()>;
        fn unlink_identity(tenant_id: &str, user_sub: &str, issuer: &str, subject: &str) -> Result<bool>;
        fn put_federation_state(hash: &str, state: &FederationState) -> Result<()>;
        fn federation_state(hash: &str, now: i64) -> Result<Option<FederationState>>;
        fn take_federation_state(hash: &str, now: i64) -> Result<Option<FederationState>>;
    }
    impl LogoutStore {
        fn claim_logouts(claim: &str, now: i64, lease: i64, limit: i64) -> Result<Vec<Logout>>;
        fn logout_finished(client_id: &str, sid: &str, outcome: LogoutOutcome, now: i64) -> Result<()>;
        fn logout_failed(client_id: &str, sid: &str, next_attempt_at: i64) -> Result<()>;
        fn logouts_of_session(sid: &str) -> Result<Vec<(String, Option<String>)>>;
    }
    impl DeviceStore {
        fn create_device_authorization(device_hash: &str, user_code_hash: &str, d: &DeviceAuthorization) -> Result<bool>;
        fn device_authorization(device_hash: &str) -> Result<Option<DeviceAuthorization>>;
        fn device_authorization_by_user_code(user_code_hash: &str) -> Result<Option<(String, DeviceAuthorization)>>;
        fn record_device_poll(device_hash: &str, now: i64, interval: i64) -> Result<()>;
        fn approve_device(device_hash: &str, grant: &Grant, code_hash: &str, now: i64) -> Result<bool>;
        fn deny_device(device_hash: &str, user_sub: &str, now: i64) -> Result<bool>;
    }
    impl KeyStore {
        fn signing_keys(tenant_id: &str) -> Result<Vec<StoredKey>>;
        fn insert_signing_key(key: &StoredKey) -> Result<bool>;
        fn set_key_retirement(kid: &str, retires_at: i64) -> Result<()>;
        fn max_token_ttl(tenant_id: &str) -> Result<i64>;
    }
    impl LimitStore {
        fn reserve_attempt(key: &str, now: i64, policy: &LimitPolicy) -> Result<Attempt>;
        fn attempt_failed(key: &str, count: i64, now: i64, policy: &LimitPolicy) -> Result<()>;
        fn release_attempt(key: &str, policy: &LimitPolicy) -> Result<()>;
        fn record_failure(key: &str, now: i64, policy: &LimitPolicy) -> Result<Option<i64>>;
        fn clear_failures(key: &str) -> Result<()>;
    }
    impl ApiStore {
        fn create_api(api: &Api) -> Result<()>;
        fn get_api(tenant_id: &str, identifier: &str) -> Result<Option<Api>>;
        fn list_apis(tenant_id: &str) -> Result<Vec<Api>>;
        fn update_api(api: &Api) -> Result<bool>;
        fn delete_api(tenant_id: &str, identifier: &str) -> Result<bool>;
        fn set_client_grant(grant: &ClientGrant) -> Result<()>;
        fn client_grant(tenant_id: &str, client_id: &str, api: &str) -> Result<Option<ClientGrant>>;
        fn client_grants(tenant_id: &str, client_id: &str) -> Result<Vec<ClientGrant>>;
        fn delete_client_grant(tenant_id: &str, client_id: &str, api: &str) -> Result<bool>;
    }
    impl ConsentStore {
        fn save_consent(consent: &Consent) -> Result<()>;
        fn consent(tenant_id: &str, user_sub: &str, client_id: &str, resource: &str) -> Result<Option<Consent>>;
        fn consents_of(tenant_id: &str, user_sub: &str) -> Result<Vec<Consent>>;
        fn revoke_consent(tenant_id: &str, user_sub: &str, client_id: &str, now: i64) -> Result<bool>;
    }
    impl RegistrationStore {
        fn create_registration_token(hash: &str, tenant_id: &str, created_at: i64, expires_at: i64) -> Result<()>;
        fn registration_token_valid(hash: &str, tenant_id: &str, now: i64) -> Result<bool>;
        fn mark_client_used(tenant_id: &str, client_id: &str, now: i64) -> Result<()>;
    }
    impl AdminTokenStore {
        fn create_admin_token(token: &AdminToken, hash: &str) -> Result<()>;
        fn admin_token_exists(hash: &str) -> Result<bool>;
        fn admin_token_id(hash: &str) -> Result<Option<String>>;
        fn list_admin_tokens() -> Result<Vec<AdminToken>>;
        fn delete_admin_token(id: &str) -> Result<bool>;
    }
    impl MaintenanceStore {
        fn ping() -> Result<()>;
        fn sweep(now: i64, batch: i64) -> Result<Vec<(&'static str, u64)>>;
    }
}
