//! What a store call can fail with, in the caller's terms: the caller's
//! input at fault (`Conflict`, `NotFound`) or the database (`Backend`).

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (a taken e-mail, id or domain): the
    /// caller's input is at fault, not the server.
    #[error("{0}")]
    Conflict(String),
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// The database failed or answered what the store does not understand.
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.message().to_string());
            }
        }
        StoreError::Backend(e.to_string())
    }
}

/// The result of a store call.
pub type Result<T> = std::result::Result<T, StoreError>;
