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
//! short of. For the same reason a saturated signing thread delivers its
//! answers a few at a time ([`Hold`]).
//!
//! Password hashing (Argon2id, 19 MiB each) runs on tokio's blocking pool,
//! bounded to one at a time per core, so a burst of sign-ins is not a burst
//! of memory and does not queue behind signatures.

use crate::error::ApiError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

type Job = Box<dyn FnOnce() + Send>;

/// The cores to use, read once (std reads it from the cgroup files on
/// every call).
fn cores() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    })
}

fn password_slots() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| Semaphore::new(cores()))
}

/// The signing threads' queue, once started.
static SIGNERS: OnceLock<flume::Sender<Job>> = OnceLock::new();

/// The signing threads' queue, started on first use.
fn signers() -> &'static flume::Sender<Job> {
    SIGNERS.get_or_init(|| {
        let (tx, rx) = flume::unbounded::<Job>();
        for i in 0..cores() {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("keygate-sign-{i}"))
                .spawn(move || sign_loop(rx))
                .expect("cannot start a signing thread");
        }
        tx
    })
}

/// The mean time a signing job has run lately, in nanoseconds (each new
/// job's time counts for an eighth), for [`backlog`].
static JOB_NANOS: AtomicU64 = AtomicU64::new(0);

fn record_job(took: Duration) {
    let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    // Two threads may update at once and one update be lost; the mean is
    // an estimate either way.
    let mean = JOB_NANOS.load(Ordering::Relaxed);
    JOB_NANOS.store(next_mean(mean, took), Ordering::Relaxed);
}

/// The mean after a job that took `took` ns (the first job sets it).
fn next_mean(mean: u64, took: u64) -> u64 {
    if mean == 0 {
        took
    } else {
        mean - mean / 8 + took / 8
    }
}

/// How long the signing threads would take to run what waits in their
/// queue now: the jobs waiting times a job's mean time, over the threads.
fn backlog() -> Duration {
    let queued = SIGNERS.get().map_or(0, |q| q.len());
    backlog_of(queued, JOB_NANOS.load(Ordering::Relaxed), cores())
}

fn backlog_of(queued: usize, job_nanos: u64, threads: usize) -> Duration {
    let total = (queued as u64).saturating_mul(job_nanos);
    Duration::from_nanos(total / threads.max(1) as u64)
}

/// How long SQLite's writer waits for company before a transaction.
const LINGER: Duration = Duration::from_millis(1);

/// Whether SQLite's writer may wait [`LINGER`] now: while the signing
/// queue holds at least twice that much work. An exchange then reaches
/// the signing queue later but is signed no later, since the signing
/// threads stay busy all the while with what was queued before it; so the
/// wait costs no request anything and lets several exchanges share one
/// commit. Under light load (concurrency 4: at most 4 jobs of about half a
/// millisecond on 2 cores) or with cheap signatures (ES256), the queue
/// never holds that much and the writer commits at once.
fn lingers(backlog: Duration) -> bool {
    backlog >= LINGER * 2
}

/// The [`keygate_store::Linger`] the server opens its store with.
pub fn write_linger() -> keygate_store::Linger {
    keygate_store::Linger {
        wait: LINGER,
        when: std::sync::Arc::new(|| lingers(backlog())),
    }
}

/// When a signing thread delivers the answers it holds back.
///
/// Every answer wakes the request's task, and on 2 cores each wake-up is a
/// context switch into the async runtime that preempts a signature: in a
/// perf profile of W3 (client_credentials, c32) a third of the runtime's
/// CPU was the switching itself. So while the queue is deep (the server is
/// saturated and every request waits milliseconds for a signing thread
/// anyway) a signing thread holds its answers back and delivers them
/// together, one wake-up for several. A shallow queue (light load, as at
/// concurrency 4) means every answer goes out as soon as it is made, and
/// nothing is held longer than [`Hold::longest`] plus one job.
#[derive(Clone, Copy, Debug)]
struct Hold {
    /// Answers are held only while at least this many jobs wait.
    depth: usize,
    /// Most answers held at once.
    most: usize,
    /// Longest the oldest held answer waits for company.
    longest: std::time::Duration,
}

/// Measured on 2 cores signing about 5,500 RS256 signatures/s (c32, the
/// two builds run in turn, twice each): holding up to 16 answers for up
/// to 3 ms, against 8 for 1 ms, took the runtime's CPU per W1 request
/// from 66-76 to 58-59 us and W1 from 2,169-2,238 to 2,269-2,275 req/s;
/// W2 and W3 stayed within the runs' noise. A 1 ms hold let a thread
/// gather only one or two answers there, where a W1 job (two signatures)
/// takes 0.73 ms. Under light load nothing changes: the queue is then
/// shallower than [`Hold::depth`] and every answer goes out at once.
const HOLD: Hold = Hold {
    depth: 4,
    most: 16,
    longest: std::time::Duration::from_millis(3),
};

impl Hold {
    /// Whether `held` answers, the oldest of them held for `oldest`, go out
    /// now that `queued` jobs wait.
    fn release(&self, held: usize, queued: usize, oldest: std::time::Duration) -> bool {
        held > 0 && (held >= self.most || queued < self.depth || oldest >= self.longest)
    }
}

/// The answers a signing thread holds back, and since when the oldest
/// of them waits.
struct Held {
    answers: Vec<Job>,
    since: std::time::Instant,
}

thread_local! {
    /// This signing thread's held answers (`None` on other threads, which
    /// deliver at once).
    static HELD: std::cell::RefCell<Option<Held>> = const { std::cell::RefCell::new(None) };
}

/// Delivers every answer this thread holds.
fn release_held() {
    let held = HELD.with(|h| {
        h.borrow_mut()
            .as_mut()
            .map(|h| std::mem::take(&mut h.answers))
    });
    for answer in held.into_iter().flatten() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(answer));
    }
}

/// A signing thread: runs jobs until the queue is closed, delivering
/// answers as [`Hold`] says, and all of them before it sleeps.
fn sign_loop(rx: flume::Receiver<Job>) {
    HELD.with(|h| {
        *h.borrow_mut() = Some(Held {
            answers: Vec::with_capacity(HOLD.most),
            since: std::time::Instant::now(),
        })
    });
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(_) => {
                release_held();
                match rx.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
        };
        // A panic ends this job (its caller sees an error), not the thread.
        let started = std::time::Instant::now();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        record_job(started.elapsed());
        let (held, oldest) = HELD.with(|h| {
            h.borrow()
                .as_ref()
                .map_or((0, std::time::Duration::ZERO), |h| {
                    (h.answers.len(), h.since.elapsed())
                })
        });
        if HOLD.release(held, rx.len(), oldest) {
            release_held();
        }
    }
}

/// Delivers an answer (sends it to whoever waits): at once, or, on a
/// signing thread, when [`Hold`] says.
pub fn deliver(answer: impl FnOnce() + Send + 'static) {
    let answer = HELD.with(|h| match h.borrow_mut().as_mut() {
        Some(held) => {
            if held.answers.is_empty() {
                held.since = std::time::Instant::now();
            }
            held.answers.push(Box::new(answer));
            None
        }
        None => Some(answer),
    });
    if let Some(answer) = answer {
        answer();
    }
}

/// Runs `f` (signing, key generation) on a signing thread.
pub async fn run<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Result<R, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(move || {
        // The caller may have gone (request cancelled); nothing to do then.
        let r = f();
        deliver(move || {
            let _ = tx.send(r);
        });
    });
    rx.await
        .map_err(|_| ApiError::internal("a signing job panicked or was not queued"))
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
        .map_err(|e| ApiError::fault("the password slots are closed", e))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::fault("a password job panicked", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_held_only_while_the_queue_is_deep() {
        let h = HOLD;
        let now = Duration::ZERO;
        // Nothing held: nothing to release.
        assert!(!h.release(0, 0, now));
        // Deep queue, few held, not yet old: hold on.
        assert!(!h.release(1, h.depth, now));
        assert!(!h.release(h.most - 1, 100, h.longest / 2));
        // A shallow queue releases at once.
        assert!(h.release(1, h.depth - 1, now));
        assert!(h.release(1, 0, now));
        // So do a full hold and an old one.
        assert!(h.release(h.most, 100, now));
        assert!(h.release(1, 100, h.longest));
    }

    #[test]
    fn the_backlog_is_the_queued_work_over_the_threads() {
        assert_eq!(backlog_of(0, 500_000, 2), Duration::ZERO);
        assert_eq!(backlog_of(8, 500_000, 2), Duration::from_millis(2));
        assert_eq!(backlog_of(8, 500_000, 1), Duration::from_millis(4));
        // No threads counted is taken as one; no overflow.
        assert_eq!(backlog_of(3, 1_000, 0), Duration::from_micros(3));
        assert_eq!(
            backlog_of(usize::MAX, u64::MAX, 1),
            Duration::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn the_writer_lingers_only_behind_twice_its_wait_of_signing() {
        // Concurrency 4 on RS256: at most 4 jobs of ~530 us on 2 threads.
        assert!(!lingers(backlog_of(4, 530_000, 2)));
        // Concurrency 32 on RS256: some 28 such jobs.
        assert!(lingers(backlog_of(28, 530_000, 2)));
        // ES256 at concurrency 32: ~60 us jobs.
        assert!(!lingers(backlog_of(28, 60_000, 2)));
        assert!(lingers(backlog_of(1, 0, 1) + LINGER * 2));
        assert!(!lingers(Duration::ZERO));
    }

    #[test]
    fn the_job_mean_follows_recent_jobs() {
        // The first job sets the mean; later ones move it by an eighth.
        assert_eq!(next_mean(0, 800_000), 800_000);
        assert_eq!(next_mean(800_000, 0), 700_000);
        assert_eq!(next_mean(800_000, 1_600_000), 900_000);
        // Eight jobs of a new length take it most of the way there.
        let mean = (0..16).fold(100_000, |m, _| next_mean(m, 500_000));
        assert!((430_000..500_000).contains(&mean), "{mean}");
        assert_eq!(
            next_mean(u64::MAX, u64::MAX),
            u64::MAX - u64::MAX / 8 + u64::MAX / 8
        );
    }

    #[test]
    fn off_a_signing_thread_an_answer_goes_at_once() {
        let (tx, rx) = std::sync::mpsc::channel();
        deliver(move || tx.send(7).unwrap());
        assert_eq!(rx.try_recv(), Ok(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn held_answers_all_arrive_when_the_queue_drains() {
        // More jobs than the hold's depth at once, so some answers are
        // held; each must still arrive, the last ones when the queue empties.
        let jobs: Vec<_> = (0..64u64)
            .map(|i| {
                tokio::spawn(run(move || {
                    std::thread::sleep(Duration::from_micros(200));
                    i * 2
                }))
            })
            .collect();
        let mut got = Vec::new();
        for job in jobs {
            let answer = tokio::time::timeout(Duration::from_secs(10), job).await;
            got.push(
                answer
                    .expect("a held answer never arrived")
                    .unwrap()
                    .unwrap(),
            );
        }
        assert_eq!(got, (0..64).map(|i| i * 2).collect::<Vec<_>>());
    }
}
