//! Reading rows and binding parameters the same way on both engines' drivers.
//!
//! Reads on SQLite run through rusqlite ([`crate::sqlite::inline`]) and everything
//! else through sqlx. The statements and the code that turns a row into a
//! record are written once: statements take [`Param`]s, and records are
//! decoded from any [`Cols`].

use crate::{Result, StoreError};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Row};

/// A statement parameter ($1, $2, ... in order of first use).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(s)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(s: &'a String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param<'_> {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Param::OptText(s)
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(s: &'a Option<String>) -> Self {
        Param::OptText(s.as_deref())
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(n: Option<i64>) -> Self {
        Param::OptInt(n)
    }
}

impl From<bool> for Param<'_> {
    /// Booleans are stored as 0 and 1.
    fn from(b: bool) -> Self {
        Param::Int(b as i64)
    }
}

/// A parameter that owns its value (for a read retried on another thread).
#[derive(Debug, Clone)]
pub(crate) enum OwnedParam {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

impl OwnedParam {
    pub(crate) fn as_param(&self) -> Param<'_> {
        match self {
            OwnedParam::Text(s) => Param::Text(s),
            OwnedParam::OptText(s) => Param::OptText(s.as_deref()),
            OwnedParam::Int(n) => Param::Int(*n),
            OwnedParam::OptInt(n) => Param::OptInt(*n),
        }
    }
}

impl From<&Param<'_>> for OwnedParam {
    fn from(p: &Param<'_>) -> Self {
        match *p {
            Param::Text(s) => OwnedParam::Text(s.to_string()),
            Param::OptText(s) => OwnedParam::OptText(s.map(str::to_string)),
            Param::Int(n) => OwnedParam::Int(n),
            Param::OptInt(n) => OwnedParam::OptInt(n),
        }
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::OptText(s) => s.to_sql(),
            Param::Int(n) => n.to_sql(),
            Param::OptInt(n) => n.to_sql(),
        }
    }
}

impl rusqlite::ToSql for OwnedParam {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            OwnedParam::Text(s) => s.to_sql(),
            OwnedParam::OptText(s) => s.to_sql(),
            OwnedParam::Int(n) => n.to_sql(),
            OwnedParam::OptInt(n) => n.to_sql(),
        }
    }
}

/// Binds `params` to a sqlx query, in order.
pub(crate) fn bind<'q>(
    mut q: sqlx::query::Query<'q, Any, AnyArguments<'q>>,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, Any, AnyArguments<'q>> {
    for p in params {
        q = match *p {
            Param::Text(s) => q.bind(s),
            Param::OptText(s) => q.bind(s),
            Param::Int(n) => q.bind(n),
            Param::OptInt(n) => q.bind(n),
        };
    }
    q
}

/// The columns of a row, by name.
pub(crate) trait Cols {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    /// An integer column holding 0 or 1.
    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.int(col)? != 0)
    }
}

impl Cols for AnyRow {
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
}

fn column(col: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("column {col}: {e}"))
}

/// A rusqlite row with its statement's column names read once.
///
/// rusqlite finds a column by name by asking SQLite for every column's name
/// in turn (a C string measured and checked as UTF-8 each time), so decoding
/// a 25-column join by name cost some 300 of those per row: 4-6% of the
/// async workers' CPU on W2 (refresh_token) in a profile. Reading the names
/// once per row makes each lookup a comparison of Rust strings.
pub(crate) struct NamedRow<'r> {
    row: &'r rusqlite::Row<'r>,
    names: Vec<&'r str>,
}

impl<'r> NamedRow<'r> {
    pub(crate) fn new(row: &'r rusqlite::Row<'r>) -> Self {
        NamedRow {
            row,
            names: row.as_ref().column_names(),
        }
    }

    fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(col))
            .ok_or_else(|| column(col, rusqlite::Error::InvalidColumnName(col.to_string())))?;
        self.row.get(index).map_err(|e| column(col, e))
    }
}

impl Cols for NamedRow<'_> {
    fn text(&self, col: &str) -> Result<String> {
        self.get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.get(col)
    }
    fn int(&self, col: &str) -> Result<i64> {
        self.get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.get(col)
    }
}

/// Turns a row into a record.
pub(crate) type Decode<T> = fn(&dyn Cols) -> Result<T>;

/// Binds `params` to a rusqlite statement by their numbers.
///
/// The statements are written with PostgreSQL's `$1, $2, ...`. SQLite reads
/// `$2` as a parameter *named* "$2" and numbers parameters in the order they
/// first appear, so `SET a = $2 WHERE b = $1` would take them the wrong way
/// round if bound by position. Each parameter is bound by the number in its
/// name instead (sqlx's SQLite driver does the same).
pub(crate) fn bind_numbered<P: rusqlite::ToSql>(
    stmt: &mut rusqlite::Statement<'_>,
    params: &[P],
) -> rusqlite::Result<()> {
    let count = stmt.parameter_count();
    if count != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), count));
    }
    for index in 1..=count {
        let number = stmt
            .parameter_name(index)
            .and_then(|n| n.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        let value = params
            .get(number.wrapping_sub(1))
            .ok_or(rusqlite::Error::InvalidParameterCount(params.len(), number))?;
        stmt.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// A rusqlite error in the store's terms: unique and primary-key
/// violations are the caller's conflicts.
pub(crate) fn sqlite_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ) {
            return StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()));
        }
    }
    StoreError::Backend(e.to_string())
}

/// A space-separated column (such as `amr`) as its words.
pub(crate) fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}
