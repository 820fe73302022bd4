//! SQLite: one file in WAL mode; reads on the calling thread
//! (`inline.rs`), writes on one writer thread (`writer.rs`), the exchange
//! of a code or refresh token (read, check, consume) as one task on that
//! writer thread (`exchange.rs`), and
//! one sqlx connection that applies the migrations, answers the readiness
//! probe and copies the WAL back in the background (`checkpointer`).
//!
//! `synchronous=NORMAL` under WAL: a commit is durable against a crash of
//! Keygate (the WAL is written before the commit returns) but the last
//! transactions may be lost if the machine loses power before the next
//! checkpoint's fsync. The database stays consistent either way. For an
//! identity provider that loss means a few recently issued tokens stop
//! working, which their clients handle by signing in again; in exchange each
//! commit costs no fsync, which is what lets one node keep up with its
//! signatures. Use PostgreSQL where every commit must survive power loss.

pub(crate) mod exchange;
pub(crate) mod inline;
pub(crate) mod writer;

use crate::lease::{Connections, Local};
use crate::migrate::{self, Migration};
use crate::sqlite::inline::InlineReads;
use crate::sqlite::writer::{Writer, WRITE_SETTINGS};
use crate::{Result, StoreError, StoreOptions};
use sqlx::AnyConnection;
use sqlx::{Connection, Executor, Row};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The schema of a SQLite database, in the order applied.
pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "admin",
        sql: include_str!("../../migrations/sqlite/0002_admin.sql"),
    },
    Migration {
        version: 3,
        name: "one_statement_consume",
        sql: include_str!("../../migrations/sqlite/0003_one_statement_consume.sql"),
    },
    Migration {
        version: 4,
        name: "client_pkce_policy",
        sql: include_str!("../../migrations/sqlite/0004_client_pkce_policy.sql"),
    },
    Migration {
        version: 5,
        name: "refresh_token_max_ttl",
        sql: include_str!("../../migrations/sqlite/0005_refresh_token_max_ttl.sql"),
    },
    Migration {
        version: 6,
        name: "attempt_reservation",
        sql: include_str!("../../migrations/sqlite/0006_attempt_reservation.sql"),
    },
    Migration {
        version: 7,
        name: "disabled_users_outstanding_codes",
        sql: include_str!("../../migrations/sqlite/0007_disabled_users_outstanding_codes.sql"),
    },
    Migration {
        version: 8,
        name: "token_rate_limits",
        sql: include_str!("../../migrations/sqlite/0008_token_rate_limits.sql"),
    },
    Migration {
        version: 9,
        name: "outbox_password_reset",
        sql: include_str!("../../migrations/sqlite/0009_outbox_password_reset.sql"),
    },
    Migration {
        version: 10,
        name: "tenant_settings",
        sql: include_str!("../../migrations/sqlite/0010_tenant_settings.sql"),
    },
    Migration {
        version: 11,
        name: "session_details",
        sql: include_str!("../../migrations/sqlite/0011_session_details.sql"),
    },
    Migration {
        version: 12,
        name: "email_links",
        sql: include_str!("../../migrations/sqlite/0012_email_links.sql"),
    },
    Migration {
        version: 13,
        name: "totp_devices",
        sql: include_str!("../../migrations/sqlite/0013_totp_devices.sql"),
    },
    Migration {
        version: 14,
        name: "amr",
        sql: include_str!("../../migrations/sqlite/0014_amr.sql"),
    },
    // The runner applies, in list order, each version it has not recorded
    // yet: a database that recorded 16 to 18 before 15 was added gets 15 at
    // its next start.
    Migration {
        version: 15,
        name: "passkeys",
        sql: include_str!("../../migrations/sqlite/0015_passkeys.sql"),
    },
    Migration {
        version: 16,
        name: "recovery_codes",
        sql: include_str!("../../migrations/sqlite/0016_recovery_codes.sql"),
    },
    Migration {
        version: 17,
        name: "apis",
        sql: include_str!("../../migrations/sqlite/0017_apis.sql"),
    },
    Migration {
        version: 18,
        name: "consents",
        sql: include_str!("../../migrations/sqlite/0018_consents.sql"),
    },
    Migration {
        version: 19,
        name: "client_registration",
        sql: include_str!("../../migrations/sqlite/0019_client_registration.sql"),
    },
    Migration {
        version: 20,
        name: "contact_claims",
        sql: include_str!("../../migrations/sqlite/0020_contact_claims.sql"),
    },
    Migration {
        version: 21,
        name: "seen_values",
        sql: include_str!("../../migrations/sqlite/0021_seen_values.sql"),
    },
    Migration {
        version: 22,
        name: "client_modern_grants",
        sql: include_str!("../../migrations/sqlite/0022_client_modern_grants.sql"),
    },
    Migration {
        version: 23,
        name: "dpop",
        sql: include_str!("../../migrations/sqlite/0023_dpop.sql"),
    },
    Migration {
        version: 26,
        name: "device_codes",
        sql: include_str!("../../migrations/sqlite/0026_device_codes.sql"),
    },
    Migration {
        version: 27,
        name: "backchannel_logout",
        sql: include_str!("../../migrations/sqlite/0027_backchannel_logout.sql"),
    },
    Migration {
        version: 28,
        name: "pushed_requests",
        sql: include_str!("../../migrations/sqlite/0028_pushed_requests.sql"),
    },
    Migration {
        version: 29,
        name: "federation",
        sql: include_str!("../../migrations/sqlite/0029_federation.sql"),
    },
    Migration {
        version: 30,
        name: "events",
        sql: include_str!("../../migrations/sqlite/0030_events.sql"),
    },
    Migration {
        version: 31,
        name: "webhooks",
        sql: include_str!("../../migrations/sqlite/0031_webhooks.sql"),
    },
    Migration {
        version: 32,
        name: "operators",
        sql: include_str!("../../migrations/sqlite/0032_operators.sql"),
    },
    Migration {
        version: 33,
        name: "operator_passkeys",
        sql: include_str!("../../migrations/sqlite/0033_operator_passkeys.sql"),
    },
];

/// The file path of a `sqlite://` URL.
pub fn path_of(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.split('?').next().unwrap_or(rest)
}

/// Runs `f` again while SQLite answers SQLITE_BUSY ("database is locked"),
/// for at most `timeout`. SQLite answers that without waiting in a few cases
/// the busy timeout does not cover: two processes switching a new file to
/// WAL, or upgrading their migration transactions to writes, at the same
/// moment. Both steps are safe to repeat (the migration re-reads what is
/// applied).
async fn when_unlocked<T, F, Fut>(timeout: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let start = std::time::Instant::now();
    loop {
        match f().await {
            Err(e) if is_locked(&e) && start.elapsed() < timeout => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => return other,
        }
    }
}

fn is_locked(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(m) if m.contains("database is locked"))
}

/// Opens the sqlx connection with [`WRITE_SETTINGS`].
async fn connect(url: &str) -> Result<AnyConnection> {
    let mut conn = AnyConnection::connect(url).await?;
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    for setting in WRITE_SETTINGS {
        conn.execute(*setting).await?;
    }
    Ok(conn)
}

/// What an open SQLite store runs on (see `Engine::Sqlite` in `sql/mod.rs`).
pub(crate) struct Opened {
    pub(crate) reads: Arc<InlineReads>,
    pub(crate) writer: Arc<Writer>,
    pub(crate) probe: Connections,
}

/// Opens (creating if needed) and migrates the database file of a
/// `sqlite://` URL, and starts its writer thread and checkpointer.
pub(crate) async fn open(url: &str, opts: &StoreOptions) -> Result<Opened> {
    sqlx::any::install_default_drivers();
    let path = path_of(url);
    if path.is_empty() {
        return Err(StoreError::Backend(format!(
            "'{url}' names no database file"
        )));
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create folder {}: {e}", dir.display()))
            })?;
        }
    }
    let conn_url = format!("sqlite://{path}?mode=rwc");
    let timeout = Duration::from_secs(opts.acquire_timeout_secs);
    // The connection that applies the migrations stays open as the probe
    // of readiness and for the background checkpoints; reads run inline on
    // rusqlite connections and writes on the writer thread.
    let probe = when_unlocked(timeout, || async {
        let mut conn = connect(&conn_url).await?;
        migrate::apply(&mut conn, MIGRATIONS).await?;
        Ok(conn)
    })
    .await?;
    let reads = InlineReads::open(path, timeout)?;
    let writer = Arc::new(Writer::start(path, timeout, opts.linger.clone())?);
    let probe = Connections::Local(Local::new(vec![probe], timeout));
    tokio::spawn(checkpointer(probe.clone(), Arc::downgrade(&writer)));
    Ok(Opened {
        reads,
        writer,
        probe,
    })
}

/// The WAL length (4 KiB frames: 64 MiB) past which the second step runs.
/// Below it the WAL starts over by itself whenever load pauses, and writes
/// are spared the step's wait (about 20 ms, an fsync among it).
const RESTART_AFTER_FRAMES: i64 = 16_384;

/// Copies the WAL back into the database file every second, in two steps.
///
/// First a PASSIVE checkpoint from the reader connection copies what the
/// WAL holds while writes go on, so the writer's commits do not pay for the
/// bulk of the copy and its fsync (with SQLite's automatic checkpoints they
/// did, every 1,000 pages: measured W1 2,364 -> 2,838 requests/s without
/// them).
///
/// That alone does not bound the WAL. SQLite starts the WAL again from its
/// beginning only when a write begins after everything in it was copied and
/// no reader is looking at it, and under steady load some reader always is:
/// the WAL grew by 40 MB/s under W1 and held 1.3 GB after 30 s. So the
/// second step holds the writer connection, so no frame is added meanwhile,
/// and runs a RESTART checkpoint: it copies the frames the first step
/// missed and waits (microseconds) for the readers of the old frames, so the
/// next write starts the WAL from its beginning. Writes wait for this step
/// only (measured about 20 ms, under steady load every second or two), and
/// only once the WAL holds [`RESTART_AFTER_FRAMES`].
async fn checkpointer(reader: Connections, writer: Weak<Writer>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The store was dropped: its writer thread has ended, and so do we.
        let Some(writer) = writer.upgrade() else {
            return;
        };
        let done = async {
            let started = std::time::Instant::now();
            let (_, log, _) = checkpoint(&reader).await?;
            metrics::histogram!("keygate_store_checkpoint_seconds", "step" => "passive")
                .record(started.elapsed().as_secs_f64());
            if log >= RESTART_AFTER_FRAMES {
                let started = std::time::Instant::now();
                writer.checkpoint_restart().await?;
                metrics::histogram!("keygate_store_checkpoint_seconds", "step" => "restart")
                    .record(started.elapsed().as_secs_f64());
            }
            Ok::<_, StoreError>(())
        };
        if let Err(e) = done.await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// A PASSIVE checkpoint on a connection of `from`: whether it was blocked,
/// the frames in the WAL, and the frames copied into the database.
async fn checkpoint(from: &Connections) -> Result<(i64, i64, i64)> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *from.get().await?)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
}
