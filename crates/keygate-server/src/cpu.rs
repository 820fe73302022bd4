//! CPU-heavy work runs off the async runtime, on tokio's blocking pool.
//!
//! Password hashing (Argon2id, 19 MiB each) is also bounded to one at a
//! time per core, so a burst of sign-ins is not a burst of memory. Signing
//! is not bounded: its memory is small, and a bound would leave a core idle
//! at every handoff between one signature and the next (measured: W3 fell
//! from about 7,600 to 4,900 requests/s with two slots on two cores).

use crate::error::ApiError;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

fn password_slots() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// Runs `f` (signing, key generation) on the blocking pool.
pub async fn run<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Runs a password hash or check on the blocking pool, at most one per core.
pub async fn run_password<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    let _slot = password_slots()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    run(f).await
}
