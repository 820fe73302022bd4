//! CPU-heavy work runs off the async runtime.
//!
//! Signing and key generation run on [`signers`]: one thread per core,
//! taking jobs from one queue. Under load a signing thread finds the next
//! job waiting when it finishes one, so it goes from signature to signature
//! without sleeping, where tokio's blocking pool grew to about 30 threads
//! that each slept and woke per signature and crowded the runtime and the
//! SQLite threads out of the run queue (measured on 2 cores, c32: W1 2,500
//! -> 2,890 requests/s, W3 unchanged). Giving the signing threads a lower
//! priority (nice 10) was tried and cost W3 7%: every waking thread then
//! preempted a signature, and context switches are what this machine is
//! short of.
//!
//! Password hashing (Argon2id, 19 MiB each) runs on tokio's blocking pool,
//! bounded to one at a time per core, so a burst of sign-ins is not a burst
//! of memory and does not queue behind signatures.

use crate::error::ApiError;
use std::sync::OnceLock;
use tokio::sync::Semaphore;

type Job = Box<dyn FnOnce() + Send>;

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

fn password_slots() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| Semaphore::new(cores()))
}

/// The signing threads' queue, started on first use.
fn signers() -> &'static flume::Sender<Job> {
    static Q: OnceLock<flume::Sender<Job>> = OnceLock::new();
    Q.get_or_init(|| {
        let (tx, rx) = flume::unbounded::<Job>();
        for i in 0..cores() {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("keygate-sign-{i}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        // A panic ends this job (its caller sees an error),
                        // not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .expect("cannot start a signing thread");
        }
        tx
    })
}

/// Runs `f` (signing, key generation) on a signing thread.
pub async fn run<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(move || {
        // The caller may have gone (request cancelled); nothing to do then.
        let _ = tx.send(f());
    });
    rx.await
        .map_err(|_| ApiError::Internal("a signing job panicked or was not queued".into()))
}

/// Queues `job` for a signing thread without waiting for it; it never
/// blocks, so any thread may call it (the SQLite writer does, for a won
/// exchange). A job that cannot be queued is dropped, as one that panics
/// is: whoever waits on what it holds sees it gone.
pub fn submit(job: impl FnOnce() + Send + 'static) {
    let _ = signers().send(Box::new(job));
}

/// Runs a password hash or check on the blocking pool, at most one per core.
pub async fn run_password<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    let _slot = password_slots()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}
