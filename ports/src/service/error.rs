//! The error every use case returns: semantic variants the HTTP layer maps to statuses.

use crate::driven::{BlobError, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    /// A client mistake; `check` names the rule that failed.
    #[error("{message}")]
    Invalid {
        check: &'static str,
        message: String,
    },
    #[error("body exceeds the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    /// An upstream registry answered wrongly (a package failing verification).
    #[error("{0}")]
    BadGateway(String),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    pub fn invalid(check: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            check,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ServiceError::Internal(message.into().into())
    }
}

impl From<RepoError> for ServiceError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::Conflict(msg) => ServiceError::Conflict(msg),
            RepoError::Unavailable(msg) => {
                ServiceError::Unavailable(format!("database unavailable: {msg}"))
            }
            RepoError::Internal(e) => ServiceError::Internal(e),
        }
    }
}

impl From<BlobError> for ServiceError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::NotFound(key) => ServiceError::NotFound(format!("file {key} not found")),
            BlobError::Unavailable(msg) => {
                ServiceError::Unavailable(format!("storage unavailable: {msg}"))
            }
            BlobError::Body(io) => match crate::stream::is_limit_error(&io) {
                Some(limit) => ServiceError::TooLarge { limit },
                None => ServiceError::invalid("body", format!("reading the upload failed: {io}")),
            },
            other => ServiceError::Internal(Box::new(other)),
        }
    }
}
