//! PostgreSQL: a pool shared by all statements; migrations applied under an
//! advisory lock so that several nodes starting at once apply them once.

use crate::lease::Connections;
use crate::migrate::{self, Migration};
use crate::{Result, StoreOptions};
use sqlx::any::AnyPoolOptions;
use sqlx::Executor;
use std::time::Duration;

/// The schema of a PostgreSQL database, in the order applied.
pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "admin",
        sql: include_str!("../migrations/postgres/0002_admin.sql"),
    },
    Migration {
        version: 3,
        name: "one_statement_consume",
        sql: include_str!("../migrations/postgres/0003_one_statement_consume.sql"),
    },
    Migration {
        version: 4,
        name: "client_pkce_policy",
        sql: include_str!("../migrations/postgres/0004_client_pkce_policy.sql"),
    },
    Migration {
        version: 5,
        name: "refresh_token_max_ttl",
        sql: include_str!("../migrations/postgres/0005_refresh_token_max_ttl.sql"),
    },
    Migration {
        version: 6,
        name: "attempt_reservation",
        sql: include_str!("../migrations/postgres/0006_attempt_reservation.sql"),
    },
    Migration {
        version: 7,
        name: "disabled_users_outstanding_codes",
        sql: include_str!("../migrations/postgres/0007_disabled_users_outstanding_codes.sql"),
    },
    Migration {
        version: 8,
        name: "token_rate_limits",
        sql: include_str!("../migrations/postgres/0008_token_rate_limits.sql"),
    },
    Migration {
        version: 9,
        name: "outbox_password_reset",
        sql: include_str!("../migrations/postgres/0009_outbox_password_reset.sql"),
    },
    Migration {
        version: 10,
        name: "tenant_settings",
        sql: include_str!("../migrations/postgres/0010_tenant_settings.sql"),
    },
    Migration {
        version: 11,
        name: "session_details",
        sql: include_str!("../migrations/postgres/0011_session_details.sql"),
    },
    Migration {
        version: 12,
        name: "email_links",
        sql: include_str!("../migrations/postgres/0012_email_links.sql"),
    },
    Migration {
        version: 13,
        name: "totp_devices",
        sql: include_str!("../migrations/postgres/0013_totp_devices.sql"),
    },
    Migration {
        version: 14,
        name: "amr",
        sql: include_str!("../migrations/postgres/0014_amr.sql"),
    },
    // The runner applies, in list order, each version it has not recorded
    // yet: a database that recorded 16 to 18 before 15 was added gets 15 at
    // its next start.
    Migration {
        version: 15,
        name: "passkeys",
        sql: include_str!("../migrations/postgres/0015_passkeys.sql"),
    },
    Migration {
        version: 16,
        name: "recovery_codes",
        sql: include_str!("../migrations/postgres/0016_recovery_codes.sql"),
    },
    Migration {
        version: 17,
        name: "apis",
        sql: include_str!("../migrations/postgres/0017_apis.sql"),
    },
    Migration {
        version: 18,
        name: "consents",
        sql: include_str!("../migrations/postgres/0018_consents.sql"),
    },
    Migration {
        version: 19,
        name: "client_registration",
        sql: include_str!("../migrations/postgres/0019_client_registration.sql"),
    },
    Migration {
        version: 20,
        name: "contact_claims",
        sql: include_str!("../migrations/postgres/0020_contact_claims.sql"),
    },
    Migration {
        version: 21,
        name: "seen_values",
        sql: include_str!("../migrations/postgres/0021_seen_values.sql"),
    },
    Migration {
        version: 22,
        name: "client_modern_grants",
        sql: include_str!("../migrations/postgres/0022_client_modern_grants.sql"),
    },
    Migration {
        version: 23,
        name: "dpop",
        sql: include_str!("../migrations/postgres/0023_dpop.sql"),
    },
    Migration {
        version: 26,
        name: "device_codes",
        sql: include_str!("../migrations/postgres/0026_device_codes.sql"),
    },
    Migration {
        version: 27,
        name: "backchannel_logout",
        sql: include_str!("../migrations/postgres/0027_backchannel_logout.sql"),
    },
    Migration {
        version: 28,
        name: "pushed_requests",
        sql: include_str!("../migrations/postgres/0028_pushed_requests.sql"),
    },
    Migration {
        version: 29,
        name: "federation",
        sql: include_str!("../migrations/postgres/0029_federation.sql"),
    },
    Migration {
        version: 30,
        name: "events",
        sql: include_str!("../migrations/postgres/0030_events.sql"),
    },
    Migration {
        version: 31,
        name: "webhooks",
        sql: include_str!("../migrations/postgres/0031_webhooks.sql"),
    },
    Migration {
        version: 32,
        name: "operators",
        sql: include_str!("../migrations/postgres/0032_operators.sql"),
    },
    Migration {
        version: 33,
        name: "operator_passkeys",
        sql: include_str!("../migrations/postgres/0033_operator_passkeys.sql"),
    },
];

/// Advisory lock key for migrations ("keygate" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x006b_6579_6761_7465;

/// Connects the pool and applies the migrations.
pub(crate) async fn open(url: &str, opts: &StoreOptions) -> Result<Connections> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(opts.max_connections)
        .acquire_timeout(Duration::from_secs(opts.acquire_timeout_secs))
        // sqlx pings a connection when it takes it back, and by default
        // again before handing it out: a round trip to PostgreSQL on every
        // statement's critical path. The ping on return stays, so only a
        // connection that broke while idle in the pool (a database restart)
        // reaches a request, which then fails once and the connection is
        // replaced.
        .test_before_acquire(false)
        .connect(url)
        .await?;
    {
        let mut conn = pool.acquire().await?;
        conn.execute(sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK))
            .await?;
        let applied = migrate::apply(&mut conn, MIGRATIONS).await;
        conn.execute(sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK))
            .await?;
        applied?;
    }
    Ok(Connections::Pool(pool))
}
