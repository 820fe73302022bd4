//! Writes as data: the statements of one atomic change, run by either engine.
//!
//! Every write of the store is a [`Write`]: a list of statements with their
//! parameters, what a unique-constraint violation means in the caller's
//! terms, and whether a statement must change exactly one row (else the
//! whole write is undone, as "not found"). Describing a write instead of
//! running it lets each engine run it its own way, from one text:
//!
//! - PostgreSQL runs it at once on a pooled connection, in a transaction
//!   when it has more than one statement ([`run_on`]).
//! - SQLite hands it to its one writer thread ([`crate::sqlite::writer`]), which
//!   commits every write waiting at that moment in one transaction, each in
//!   a savepoint of its own, so a write that fails is undone alone.

use crate::row::{bind, OwnedParam, Param};
use crate::{Result, StoreError};
use sqlx::{Any, AnyConnection, Connection, Row};
use std::borrow::Cow;

/// What a statement must do for its write to stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    Any,
    /// Exactly one row changed; otherwise the write is undone.
    ExactlyOne,
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// Mostly a constant; a `String` only where the text is built.
    pub(crate) sql: Cow<'static, str>,
    pub(crate) params: Vec<OwnedParam>,
    pub(crate) rule: Rule,
    /// The message of a unique-constraint violation ("the e-mail is taken").
    pub(crate) conflict: Option<String>,
    /// The statement has a RETURNING clause whose first column is kept.
    pub(crate) returning: bool,
}

/// The statements of one atomic write.
#[derive(Debug, Clone, Default)]
pub(crate) struct Write {
    pub(crate) steps: Vec<Step>,
}

/// A value a RETURNING clause gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Returned {
    Text(String),
    Int(i64),
    Null,
}

/// What one statement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StepDone {
    pub(crate) changed: u64,
    pub(crate) returned: Vec<Returned>,
}

/// How a write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Committed; what each statement did.
    Done(Vec<StepDone>),
    /// A statement broke its [`Rule`]; nothing was written.
    Undone,
}

impl Write {
    pub(crate) fn new() -> Write {
        Write::default()
    }

    /// Adds a statement.
    pub(crate) fn then(self, sql: impl Into<Cow<'static, str>>, params: &[Param<'_>]) -> Write {
        self.then_owned(sql, params.iter().map(OwnedParam::from).collect())
    }

    /// Adds a statement whose parameters are already owned.
    pub(crate) fn then_owned(
        mut self,
        sql: impl Into<Cow<'static, str>>,
        params: Vec<OwnedParam>,
    ) -> Write {
        self.steps.push(Step {
            sql: sql.into(),
            params,
            rule: Rule::Any,
            conflict: None,
            returning: false,
        });
        self
    }

    fn last(&mut self) -> &mut Step {
        self.steps.last_mut().expect("a rule follows a statement")
    }

    /// The last statement must change exactly one row.
    pub(crate) fn exactly_one(mut self) -> Write {
        self.last().rule = Rule::ExactlyOne;
        self
    }

    /// A unique-constraint violation in the last statement means `message`.
    pub(crate) fn conflict(mut self, message: impl Into<String>) -> Write {
        self.last().conflict = Some(message.into());
        self
    }

    /// The last statement returns rows (its first column is kept).
    pub(crate) fn returning(mut self) -> Write {
        self.last().returning = true;
        self
    }
}

impl Outcome {
    /// The rows the statement at `i` changed (0 when undone).
    pub(crate) fn changed(&self, i: usize) -> u64 {
        match self {
            Outcome::Done(steps) => steps.get(i).map_or(0, |s| s.changed),
            Outcome::Undone => 0,
        }
    }

    /// The first value the statement at `i` returned.
    pub(crate) fn first_returned(&self, i: usize) -> Option<&Returned> {
        match self {
            Outcome::Done(steps) => steps.get(i).and_then(|s| s.returned.first()),
            Outcome::Undone => None,
        }
    }

    pub(crate) fn is_undone(&self) -> bool {
        matches!(self, Outcome::Undone)
    }
}

impl Step {
    /// Whether what the statement did keeps its write standing.
    pub(crate) fn holds(&self, done: &StepDone) -> bool {
        self.rule == Rule::Any || done.changed == 1
    }
}

/// A unique-constraint violation told as the statement's own message.
pub(crate) fn conflict_or(e: StoreError, step: &Step) -> StoreError {
    match (e, &step.conflict) {
        (StoreError::Conflict(_), Some(m)) => StoreError::Conflict(m.clone()),
        (e, _) => e,
    }
}

/// Runs a write on one sqlx connection (PostgreSQL), in a transaction when
/// it has more than one statement.
pub(crate) async fn run_on(conn: &mut AnyConnection, write: &Write) -> Result<Outcome> {
    if let [step] = write.steps.as_slice() {
        let done = run_step(&mut *conn, step).await?;
        if !step.holds(&done) {
            return Ok(Outcome::Undone);
        }
        return Ok(Outcome::Done(vec![done]));
    }
    let mut tx = conn.begin().await?;
    let mut out = Vec::with_capacity(write.steps.len());
    for step in &write.steps {
        let done = run_step(&mut *tx, step).await?;
        if !step.holds(&done) {
            tx.rollback().await?;
            return Ok(Outcome::Undone);
        }
        out.push(done);
    }
    tx.commit().await?;
    Ok(Outcome::Done(out))
}

async fn run_step<'c, E>(conn: E, step: &Step) -> Result<StepDone>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    let params: Vec<Param<'_>> = step.params.iter().map(OwnedParam::as_param).collect();
    let q = bind(sqlx::query(step.sql.as_ref()), &params);
    let fail = |e: sqlx::Error| conflict_or(StoreError::from(e), step);
    if step.returning {
        let rows = q.fetch_all(conn).await.map_err(fail)?;
        let returned = rows
            .iter()
            .map(|r| {
                if let Ok(s) = r.try_get::<String, _>(0) {
                    Returned::Text(s)
                } else if let Ok(n) = r.try_get::<i64, _>(0) {
                    Returned::Int(n)
                } else {
                    Returned::Null
                }
            })
            .collect::<Vec<_>>();
        Ok(StepDone {
            changed: returned.len() as u64,
            returned,
        })
    } else {
        let done = q.execute(conn).await.map_err(fail)?;
        Ok(StepDone {
            changed: done.rows_affected(),
            returned: Vec::new(),
        })
    }
}
