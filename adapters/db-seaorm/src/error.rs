//! sea-orm errors to `RepoError`: unique and foreign-key violations become `Conflict`
//! (the row clashes with, or depends on, other rows), lost or busy connections
//! `Unavailable`, everything else `Internal` with its cause.

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use tfr_ports::driven::RepoError;

/// A stored row that does not convert back into a domain value.
#[derive(Debug, thiserror::Error)]
#[error("corrupt row in {table}: {detail}")]
pub(crate) struct CorruptRow {
    pub table: &'static str,
    pub detail: String,
}

pub(crate) fn corrupt(table: &'static str, detail: impl Into<String>) -> RepoError {
    RepoError::Internal(Box::new(CorruptRow {
        table,
        detail: detail.into(),
    }))
}

/// Maps any sea-orm error.
pub(crate) fn db_err(err: DbErr) -> RepoError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(detail)) => return RepoError::Conflict(detail),
        Some(SqlErr::ForeignKeyConstraintViolation(detail)) => {
            return RepoError::Conflict(format!("referenced or referencing row: {detail}"));
        }
        _ => {}
    }
    if is_unavailable(&err) {
        return RepoError::Unavailable(err.to_string());
    }
    RepoError::Internal(Box::new(err))
}

/// Maps an error where a unique violation has a known meaning for the caller.
pub(crate) fn db_err_conflict(err: DbErr, what: impl FnOnce() -> String) -> RepoError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => RepoError::Conflict(what()),
        _ => db_err(err),
    }
}

/// Maps an error where a foreign-key violation means "still referenced" (a delete).
pub(crate) fn db_err_in_use(err: DbErr, what: impl FnOnce() -> String) -> RepoError {
    match err.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => RepoError::Conflict(what()),
        _ => db_err(err),
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let code = code.deref();
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            let sqlite_busy = code
                .parse::<u32>()
                .map(|c| matches!(c & 0xff, 5 | 6))
                .unwrap_or(false);
            // PostgreSQL: connection exceptions (08xxx), shutdown (57P01-57P03),
            // too many connections (53300).
            let pg_down =
                code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
            sqlite_busy || pg_down
        }
        _ => false,
    }
}

pub(crate) fn to_i64(table: &'static str, value: u64) -> Result<i64, RepoError> {
    i64::try_from(value).map_err(|_| corrupt(table, format!("value {value} does not fit a BIGINT")))
}

pub(crate) fn to_u64(table: &'static str, value: i64) -> Result<u64, RepoError> {
    u64::try_from(value).map_err(|_| corrupt(table, format!("negative value {value}")))
}
