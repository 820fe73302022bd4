//! The exchange of a code or refresh token on SQLite: read, check and
//! consume as one task on the writer thread ([`ExchangeTask`]), within the
//! transaction that consumes. The writer's connection is the only one whose
//! page cache survives the constant writes (every other connection rereads
//! the pages it needs after each commit, some 15 for this join), and the
//! request's task is handed over once instead of reading first and then
//! handing the consume over. Profiled on W2 (refresh_token) the inline read
//! was a quarter of the async workers' CPU.

use crate::exchange::{consume_write, decide, settle, Decided};
use crate::row::{Decode, OwnedParam};
use crate::sqlite::inline;
use crate::sqlite::writer::{answer, apply, Task};
use crate::{Check, Exchange, Result, StoreError, Then};
use rusqlite::Connection;

/// An exchange run on SQLite's writer thread.
pub(crate) struct ExchangeTask<T> {
    pub(crate) read: &'static str,
    pub(crate) decode: Decode<T>,
    pub(crate) consume: &'static str,
    pub(crate) hash: String,
    pub(crate) now: i64,
    pub(crate) check: Option<Check<T>>,
    /// Taken by [`Task::answer`]; a task dropped unanswered (the writer
    /// thread ended) answers with [`crate::sqlite::writer::closed`].
    pub(crate) then: Option<Then<T>>,
    pub(crate) result: Option<Result<Exchange<T>>>,
}

impl<T: Send + 'static> ExchangeTask<T> {
    fn exchange(&mut self, conn: &Connection) -> Result<Exchange<T>> {
        let found = inline::run(
            conn,
            self.read,
            &[OwnedParam::Text(self.hash.clone())],
            self.decode,
        )
        .map_err(StoreError::from)?
        .into_iter()
        .next();
        let check = self
            .check
            .take()
            .ok_or_else(|| StoreError::Backend("an exchange ran twice".into()))?;
        match decide(found, check) {
            Decided::Answer(done) => Ok(done),
            Decided::Consume(found, approved) => {
                let write = consume_write(self.consume, &self.hash, self.now, &approved);
                let consumed = apply(conn, &write)?;
                Ok(settle(found, approved, &consumed, &self.hash))
            }
        }
    }
}

impl<T: Send + 'static> Task for ExchangeTask<T> {
    fn run(&mut self, conn: &Connection) -> Result<bool> {
        let result = self.exchange(conn);
        let kept = result.as_ref().map(|_| true).map_err(Clone::clone);
        self.result = Some(result);
        kept
    }

    fn answer(mut self: Box<Self>, committed: Result<()>) {
        if let Some(then) = self.then.take() {
            then(answer(committed, self.result.take()));
        }
    }
}

impl<T> Drop for ExchangeTask<T> {
    fn drop(&mut self) {
        if let Some(then) = self.then.take() {
            then(Err(crate::sqlite::writer::closed()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::writer::tests::{batch_tasks, database, grant};
    use crate::{Approved, NewRefresh};
    use keygate_core::grant::Refusal;
    use keygate_core::model::RefreshToken;
    use keygate_core::scope::Scope;
    use keygate_core::OAuthError;
    use tokio::sync::oneshot;

    const READ: &str = "SELECT id AS v FROM grants WHERE code_hash = $1";
    const CONSUME: &str = "UPDATE grants SET code_consumed_at = $2, successor_hash = $3, successor_expires_at = $4 \
        WHERE code_hash = $1 AND code_consumed_at IS NULL AND code_expires_at > $2 RETURNING code_hash";

    fn id(row: &dyn crate::row::Cols) -> Result<String> {
        row.text("v")
    }

    fn approve(successor: &str) -> Check<String> {
        let hash = successor.to_string();
        Box::new(move |grant_id: &String| {
            Ok(Approved {
                scope: Scope::parse("openid").unwrap(),
                successor: Some(NewRefresh {
                    hash,
                    token: RefreshToken {
                        grant_id: grant_id.clone(),
                        tenant_id: "t".into(),
                        client_id: "c".into(),
                        created_at: 10,
                        expires_at: 1000,
                        consumed_at: None,
                    },
                }),
                bind_dpop: None,
            })
        })
    }

    fn task(
        code_hash: &str,
        check: Check<String>,
    ) -> (Box<dyn Task>, oneshot::Receiver<Result<Exchange<String>>>) {
        let (reply, answer) = oneshot::channel();
        let task = ExchangeTask {
            read: READ,
            decode: id,
            consume: CONSUME,
            hash: code_hash.to_string(),
            now: 10,
            check: Some(check),
            then: Some(Box::new(move |outcome| {
                let _ = reply.send(outcome);
            })),
            result: None,
        };
        (Box::new(task), answer)
    }

    fn stored(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT hash FROM refresh_tokens ORDER BY hash")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    fn consumed_at(conn: &Connection) -> Option<i64> {
        conn.query_row(
            "SELECT code_consumed_at FROM grants WHERE id = 'g'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn an_exchange_dropped_unrun_still_answers() {
        // The writer thread gone: the queued task is dropped, and its caller
        // hears why instead of waiting for ever.
        let (dropped, answer) = task("hash", approve("r"));
        drop(dropped);
        assert_eq!(
            answer.blocking_recv().unwrap(),
            Err(crate::sqlite::writer::closed())
        );
    }

    #[test]
    fn an_exchange_is_checked_then_consumed_once_and_a_refusal_writes_nothing() {
        let (dir, conn) = database("exchange");
        grant(&conn);
        let refusal = Refusal {
            error: OAuthError::invalid_grant("no"),
            revoke_grant: None,
        };
        let refused = refusal.clone();
        let (refuse, refused_answer) = task("hash", Box::new(move |_| Err(refused)));
        let (missing, missing_answer) = task("other", approve("never"));
        batch_tasks(&conn, vec![refuse, missing]);
        assert_eq!(
            refused_answer.blocking_recv().unwrap(),
            Ok(Exchange::Refused(refusal))
        );
        assert_eq!(
            missing_answer.blocking_recv().unwrap(),
            Ok(Exchange::NotFound)
        );
        assert_eq!(consumed_at(&conn), None, "a refused code stays unused");
        assert!(stored(&conn).is_empty());

        // Two approved exchanges of one code in one batch: one winner, and
        // only the winner's successor is stored.
        let (first, first_answer) = task("hash", approve("r1"));
        let (second, second_answer) = task("hash", approve("r2"));
        batch_tasks(&conn, vec![first, second]);
        match first_answer.blocking_recv().unwrap() {
            Ok(Exchange::Won(grant, approved)) => {
                assert_eq!(grant, "g");
                assert_eq!(approved.successor.unwrap().hash, "r1");
            }
            other => panic!("the first exchange should win: {other:?}"),
        }
        assert_eq!(
            second_answer.blocking_recv().unwrap(),
            Ok(Exchange::Lost("g".to_string()))
        );
        assert_eq!(consumed_at(&conn), Some(10));
        assert_eq!(stored(&conn), ["r1"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
