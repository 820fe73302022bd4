//! CPU-heavy work (RSA signing, Argon2id) runs off the async runtime on the
//! blocking pool, but never more of it at once than there are cores: more
//! threads would only add context switches, and each Argon2id holds 19 MiB,
//! so an unbounded burst of sign-ins would also be a burst of memory.

use crate::error::ApiError;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

fn permits() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// Runs `f` on the blocking pool once one of the per-core slots is free.
pub async fn run<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, ApiError> {
    let _slot = permits()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}
