//! SQLite's one writer: a thread that owns the write connection and commits
//! every write waiting at that moment in one transaction.
//!
//! SQLite lets one connection write at a time, so writes queue for it
//! anyway; queuing here, in memory, is cheaper than busy-waiting on the file
//! lock. While a transaction commits, the writes that arrive meanwhile wait,
//! and the next transaction takes them all (group commit): one commit, and
//! one WAL frame for every page the batch changed however many writes
//! changed it, where committing one by one wrote a frame per page per write.
//! Under no load a batch is one write, committed at once.
//!
//! Group commit alone rarely groups on a small machine: the writer takes
//! 30-40 us per write and writes arrive some 300 us apart even when the
//! server is saturated (by signatures), so nearly every batch was one write
//! and paid its own commit (about 10 WAL frames, 6 `fcntl` locks, the pages
//! written back by the kernel). With a [`Linger`] the writer first waits
//! `wait` when `when` says so, then takes everything that came meanwhile.
//! Measured on 2 cores at concurrency 32 (W2, waiting 1 ms while the
//! signing queue is deep): 7 writes per batch on average instead of about
//! one, the writer's CPU per exchange 30-36 us instead of 38-40, and other
//! processes' (the kernel writing the WAL's pages back) 1-2% of a core
//! instead of 2-3%; no answer came later, since the requests waited for a
//! signing thread anyway.
//!
//! Each write of a batch runs in a savepoint of its own, so a write that
//! breaks a rule or a constraint is undone alone and its caller is told,
//! while the others commit. Callers get their answer only after the commit,
//! so nothing a response depends on is ever uncommitted.
//!
//! The thread replaces sqlx's connection thread and the batching task that
//! fed it: a write is one hand-over to this thread and one back, where it
//! was three (profiled on W1: 73 us of CPU per request on the writer before).

use crate::row::{bind_numbered, sqlite_error};
use crate::write::{conflict_or, Outcome, Returned, StepDone, Write};
use crate::{Linger, Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::time::Duration;
use tokio::sync::oneshot;

/// The settings of the connections that write: the sqlx one that applies
/// the migrations and checkpoints, and the writer thread's.
pub(crate) const WRITE_SETTINGS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    // Checkpoints run in the background (see `checkpointer` in `mod.rs`), not inside
    // the writer's commits.
    "PRAGMA wal_autocheckpoint = 0",
    // A WAL that grew large (a burst of writes) is cut back to 64 MiB when
    // it starts over.
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA foreign_keys = ON",
];

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 256;

/// Work run on the write connection within a batch's transaction, in a
/// savepoint of its own: a [`Write`], or a read that decides a write
/// (`exchange.rs`). Its caller is answered only after the commit.
pub(crate) trait Task: Send {
    /// Runs the task; `Ok(false)` or an error undoes what it wrote. The task
    /// keeps its own result for [`Task::answer`].
    fn run(&mut self, conn: &Connection) -> Result<bool>;
    /// Answers the caller: with the task's result if `committed` is `Ok`,
    /// else with that error (also for a task that never ran).
    fn answer(self: Box<Self>, committed: Result<()>);
}

/// A [`Write`] as a task.
struct WriteTask {
    write: Write,
    reply: oneshot::Sender<Result<Outcome>>,
    outcome: Option<Result<Outcome>>,
}

impl Task for WriteTask {
    fn run(&mut self, conn: &Connection) -> Result<bool> {
        let outcome = apply(conn, &self.write);
        let keep = match &outcome {
            Ok(o) => Ok(!o.is_undone()),
            Err(e) => Err(e.clone()),
        };
        self.outcome = Some(outcome);
        keep
    }

    fn answer(self: Box<Self>, committed: Result<()>) {
        let _ = self.reply.send(answer(committed, self.outcome));
    }
}

/// What a task's caller is told: its result once committed, else why not
/// (also for a task that never ran because its batch failed first).
pub(crate) fn answer<R>(committed: Result<()>, result: Option<Result<R>>) -> Result<R> {
    match (committed, result) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(result)) => result,
        (Ok(()), None) => Err(StoreError::Backend("a write was not run".into())),
    }
}

enum Job {
    Task(Box<dyn Task>),
    /// A RESTART checkpoint, run between transactions (see
    /// [`crate::sqlite`]'s checkpointer).
    Checkpoint(oneshot::Sender<Result<()>>),
}

/// The handle of the writer thread; the thread ends when it is dropped.
pub(crate) struct Writer {
    queue: flume::Sender<Job>,
}

impl Writer {
    /// Opens the write connection (the database exists and is migrated) and
    /// starts the thread.
    pub(crate) fn start(
        path: &str,
        busy_timeout: Duration,
        linger: Option<Linger>,
    ) -> Result<Writer> {
        let conn = open(path, busy_timeout).map_err(sqlite_error)?;
        let (queue, jobs) = flume::unbounded();
        std::thread::Builder::new()
            .name("keygate-writer".into())
            .spawn(move || run(conn, jobs, linger))
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer { queue })
    }

    pub(crate) async fn write(&self, write: Write) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.run(Box::new(WriteTask {
            write,
            reply,
            outcome: None,
        }));
        answer.await.map_err(|_| closed())?
    }

    /// Queues a task; it answers through what it holds. A task that cannot
    /// be queued (the thread has ended) is dropped, which answers its caller
    /// with [`closed`].
    pub(crate) fn run(&self, task: Box<dyn Task>) {
        let _ = self.send(Job::Task(task));
    }

    pub(crate) async fn checkpoint_restart(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Checkpoint(reply))?;
        answer.await.map_err(|_| closed())?
    }

    /// Whether the thread still takes writes (the readiness probe asks).
    pub(crate) fn is_running(&self) -> bool {
        !self.queue.is_disconnected()
    }

    fn send(&self, job: Job) -> Result<()> {
        self.queue.send(job).map_err(|_| closed())
    }
}

pub(crate) fn closed() -> StoreError {
    StoreError::Backend("the SQLite writer has stopped".into())
}

/// The write connection, with [`WRITE_SETTINGS`].
fn open(path: &str, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    for setting in WRITE_SETTINGS {
        conn.execute_batch(setting)?;
    }
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn run(conn: Connection, jobs: flume::Receiver<Job>, linger: Option<Linger>) {
    while let Ok(first) = jobs.recv() {
        // Sleeping, not waiting on the queue: a write that arrives meanwhile
        // is queued without waking this thread.
        if let Some(linger) = linger.as_ref().filter(|l| (l.when)()) {
            std::thread::sleep(linger.wait);
        }
        let mut writes: Vec<Box<dyn Task>> = Vec::new();
        let mut checkpoints = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Task(t) => writes.push(t),
                Job::Checkpoint(reply) => checkpoints.push(reply),
            }
            if writes.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !writes.is_empty() {
            metrics::histogram!("keygate_store_write_batch_size").record(writes.len() as f64);
            // A panic (a bug) fails this batch, whose callers see their
            // answers dropped, not every later write: the thread goes on.
            let done =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(&conn, writes)));
            if done.is_err() && !conn.is_autocommit() {
                let _ = exec(&conn, "ROLLBACK");
            }
        }
        for reply in checkpoints {
            let done = conn
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                .map_err(sqlite_error);
            let _ = reply.send(done);
        }
    }
}

/// Runs a batch of tasks in one transaction and answers each caller.
fn commit(conn: &Connection, batch: Vec<Box<dyn Task>>) {
    let fail_all = |tasks: Vec<Box<dyn Task>>, e: StoreError| {
        for task in tasks {
            task.answer(Err(e.clone()));
        }
    };
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        return fail_all(batch, sqlite_error(e));
    }
    let alone = batch.len() == 1;
    let mut ran = Vec::with_capacity(batch.len());
    let mut kept = true;
    let mut tasks = batch.into_iter();
    while let Some(mut task) = tasks.next() {
        let outcome = if alone {
            task.run(conn)
        } else {
            in_savepoint(conn, task.as_mut())
        };
        match outcome {
            // SQLite rolled the whole transaction back (a full disk, an I/O
            // error): every task of the batch is lost, and its caller told.
            Err(e) if conn.is_autocommit() => {
                ran.push(task);
                ran.extend(tasks);
                return fail_all(ran, e);
            }
            outcome => kept = matches!(outcome, Ok(true)),
        }
        ran.push(task);
    }
    let finish = if alone && !kept {
        exec(conn, "ROLLBACK")
    } else {
        exec(conn, "COMMIT")
    };
    if let Err(e) = finish {
        let _ = exec(conn, "ROLLBACK");
        return fail_all(ran, sqlite_error(e));
    }
    for task in ran {
        task.answer(Ok(()));
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// One task of a batch, undone alone if it fails or breaks a rule.
fn in_savepoint(conn: &Connection, task: &mut dyn Task) -> Result<bool> {
    exec(conn, "SAVEPOINT one_write").map_err(sqlite_error)?;
    let outcome = task.run(conn);
    if !matches!(outcome, Ok(true)) && !conn.is_autocommit() {
        exec(conn, "ROLLBACK TO one_write").map_err(sqlite_error)?;
    }
    if !conn.is_autocommit() {
        exec(conn, "RELEASE one_write").map_err(sqlite_error)?;
    }
    outcome
}

/// Runs the statements of a write; stops at the first that breaks its rule.
pub(crate) fn apply(conn: &Connection, write: &Write) -> Result<Outcome> {
    let mut out = Vec::with_capacity(write.steps.len());
    for step in &write.steps {
        let fail = |e: rusqlite::Error| conflict_or(sqlite_error(e), step);
        let mut stmt = conn.prepare_cached(&step.sql).map_err(fail)?;
        bind_numbered(&mut stmt, &step.params).map_err(fail)?;
        let done = if step.returning {
            let mut rows = stmt.raw_query();
            let mut returned = Vec::new();
            while let Some(row) = rows.next().map_err(fail)? {
                returned.push(match row.get_ref(0).map_err(fail)? {
                    rusqlite::types::ValueRef::Text(t) => {
                        Returned::Text(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Integer(n) => Returned::Int(n),
                    _ => Returned::Null,
                });
            }
            StepDone {
                changed: returned.len() as u64,
                returned,
            }
        } else {
            StepDone {
                changed: stmt.raw_execute().map_err(fail)? as u64,
                returned: Vec::new(),
            }
        };
        if !step.holds(&done) {
            return Ok(Outcome::Undone);
        }
        out.push(done);
    }
    Ok(Outcome::Done(out))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::row::{OwnedParam, Param};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A fresh database file with Keygate's schema.
    pub(crate) fn database(name: &str) -> (std::path::PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!(
            "keygate-writer-{name}-{}-{}",
            std::process::id(),
            crate::migrate::unix_now()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        for m in crate::sqlite::MIGRATIONS {
            conn.execute_batch(m.sql).unwrap();
        }
        drop(conn);
        let conn = open(path.to_str().unwrap(), Duration::from_secs(5)).unwrap();
        (dir, conn)
    }

    /// Grant 'g' with the unused code of hash 'hash', valid until 100.
    pub(crate) fn grant(conn: &Connection) {
        conn.execute_batch(
            "INSERT INTO grants (id, tenant_id, client_id, user_sub, scope, auth_time, redirect_uri, \
             redirect_uri_sent, created_at, code_hash, code_expires_at) \
             VALUES ('g', 't', 'c', 'u', 'openid', 1, 'https://a/cb', 1, 1, 'hash', 100)",
        )
        .unwrap();
    }

    fn tenant(id: &str) -> Write {
        Write::new()
            .then(
                "INSERT INTO tenants (id, display_name, created_at) VALUES ($1, $2, $3)",
                &[id.into(), "T".into(), 1i64.into()],
            )
            .conflict(format!("tenant '{id}' already exists"))
    }

    fn tenants(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT id FROM tenants ORDER BY id").unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    /// Commits `tasks` as one batch; each answers through its own channel.
    pub(crate) fn batch_tasks(conn: &Connection, tasks: Vec<Box<dyn Task>>) {
        commit(conn, tasks);
    }

    /// Commits `writes` as one batch and returns each caller's answer.
    fn batch(conn: &Connection, writes: Vec<Write>) -> Vec<Result<Outcome>> {
        let (pending, answers): (Vec<Box<dyn Task>>, Vec<_>) = writes
            .into_iter()
            .map(|write| {
                let (reply, rx) = oneshot::channel();
                let task: Box<dyn Task> = Box::new(WriteTask {
                    write,
                    reply,
                    outcome: None,
                });
                (task, rx)
            })
            .unzip();
        commit(conn, pending);
        answers
            .into_iter()
            .map(|mut rx| rx.try_recv().expect("every caller is answered"))
            .collect()
    }

    #[test]
    fn parameters_are_bound_by_their_numbers_not_their_order() {
        let conn = Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare("SELECT $2 || $1 || $2").unwrap();
        bind_numbered(&mut stmt, &[Param::Text("a"), Param::Text("b")]).unwrap();
        let mut rows = stmt.raw_query();
        let row = rows.next().unwrap().unwrap();
        assert_eq!(row.get::<_, String>(0).unwrap(), "bab");
        drop(rows);
        let mut stmt = conn.prepare("SELECT $1").unwrap();
        assert!(bind_numbered(&mut stmt, &[OwnedParam::Int(1), OwnedParam::Int(2)]).is_err());
    }

    /// A writer on a fresh database with `linger`, counting the times
    /// its `when` is asked.
    fn lingering_writer(
        name: &str,
        wait: Duration,
        linger: bool,
    ) -> (std::path::PathBuf, Connection, Writer, Arc<AtomicUsize>) {
        let (dir, conn) = database(name);
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let when = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            linger
        });
        let path = dir.join("test.db");
        let writer = Writer::start(
            path.to_str().unwrap(),
            Duration::from_secs(5),
            Some(Linger { wait, when }),
        )
        .unwrap();
        (dir, conn, writer, asked)
    }

    #[tokio::test]
    async fn a_lingering_writer_commits_what_came_meanwhile_with_the_first() {
        let (dir, conn, writer, asked) =
            lingering_writer("linger", Duration::from_millis(400), true);
        let writer = Arc::new(writer);
        let w = writer.clone();
        let first = tokio::spawn(async move { w.write(tenant("t1")).await });
        // The writer sleeps: the first write is not answered yet when the
        // second comes, and both are answered after one wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!first.is_finished(), "the first write waited for company");
        let second = writer.write(tenant("t2")).await;
        assert!(matches!(second, Ok(Outcome::Done(_))), "{second:?}");
        assert!(matches!(first.await.unwrap(), Ok(Outcome::Done(_))));
        assert_eq!(asked.load(Ordering::SeqCst), 1, "one transaction, one wait");
        assert_eq!(tenants(&conn), ["t1", "t2"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_writer_told_not_to_linger_commits_at_once() {
        let (dir, conn, writer, asked) =
            lingering_writer("no-linger", Duration::from_secs(3600), false);
        for id in ["t1", "t2"] {
            let done = tokio::time::timeout(Duration::from_secs(60), writer.write(tenant(id)))
                .await
                .expect("a write waited although told not to");
            assert!(matches!(done, Ok(Outcome::Done(_))), "{done:?}");
        }
        assert_eq!(
            asked.load(Ordering::SeqCst),
            2,
            "asked before each transaction"
        );
        assert_eq!(tenants(&conn), ["t1", "t2"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn each_write_of_a_batch_stands_or_falls_alone() {
        let (dir, conn) = database("batch");
        let broken_rule = tenant("t3")
            .then(
                "UPDATE tenants SET display_name = 'x' WHERE id = $1",
                &["missing".into()],
            )
            .exactly_one();
        let answers = batch(
            &conn,
            vec![tenant("t1"), tenant("t1"), broken_rule, tenant("t4")],
        );
        assert!(matches!(&answers[0], Ok(Outcome::Done(s)) if s[0].changed == 1));
        assert_eq!(
            answers[1],
            Err(StoreError::Conflict("tenant 't1' already exists".into()))
        );
        assert_eq!(answers[2], Ok(Outcome::Undone));
        assert!(matches!(&answers[3], Ok(Outcome::Done(_))));
        // The undone write's first statement left nothing behind.
        assert_eq!(tenants(&conn), ["t1", "t4"]);
        assert!(conn.is_autocommit(), "the batch's transaction is closed");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_lone_write_that_breaks_its_rule_writes_nothing() {
        let (dir, conn) = database("alone");
        let answers = batch(
            &conn,
            vec![tenant("t1")
                .then("DELETE FROM tenants WHERE id = $1", &["nope".into()])
                .exactly_one()],
        );
        assert_eq!(answers[0], Ok(Outcome::Undone));
        assert!(tenants(&conn).is_empty());
        let answers = batch(&conn, vec![tenant("t1")]);
        assert!(matches!(&answers[0], Ok(Outcome::Done(_))));
        assert_eq!(tenants(&conn), ["t1"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn two_consumes_of_one_code_in_one_batch_have_one_winner() {
        let (dir, conn) = database("consume");
        grant(&conn);
        let consume = |successor: &str| {
            Write::new()
                .then(
                    "UPDATE grants SET code_consumed_at = $2, successor_hash = $3, successor_expires_at = $4 \
                     WHERE code_hash = $1 AND code_consumed_at IS NULL AND code_expires_at > $2 \
                     RETURNING code_hash",
                    &["hash".into(), 10i64.into(), Some(successor).into(), Some(1000i64).into()],
                )
                .returning()
        };
        let answers = batch(&conn, vec![consume("r1"), consume("r2")]);
        let returned: Vec<_> = answers
            .iter()
            .map(|a| a.as_ref().unwrap().first_returned(0).cloned())
            .collect();
        assert_eq!(returned, [Some(Returned::Text("hash".into())), None]);
        // Only the winner's successor refresh token was stored (trigger).
        let stored: Vec<String> = conn
            .prepare("SELECT hash FROM refresh_tokens")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(stored, ["r1"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
