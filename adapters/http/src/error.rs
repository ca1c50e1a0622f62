//! The one JSON error body (`{"errors":["..."]}`, Terraform's registry shape) and the
//! mapping from use-case errors to statuses.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use tfr_ports::service::ServiceError;

#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Human-readable messages; the first one says what went wrong.
    pub errors: Vec<String>,
    /// The name of the check that refused the request, when one did.
    #[oai(skip_serializing_if_is_none)]
    pub check: Option<String>,
    /// For server errors: quote it when reporting the problem.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(message: impl Into<String>) -> Json<Self> {
        Json(Self {
            errors: vec![message.into()],
            check: None,
            request_id: None,
        })
    }
}

/// Every error an operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or failed a check.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid credential.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The credential lacks a required scope.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The resource exists already (published versions are immutable).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// An upstream registry failed (a mirrored package did not verify).
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    pub fn bad_request(check: &str, message: impl std::fmt::Display) -> Self {
        ApiError::BadRequest(Json(ErrorBody {
            errors: vec![format!("{check}: {message}")],
            check: Some(check.to_string()),
            request_id: None,
        }))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(ErrorBody::new(message))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized(ErrorBody::new(message), "Bearer".to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(msg) => ApiError::NotFound(ErrorBody::new(msg)),
            ServiceError::Invalid { check, message } => ApiError::bad_request(check, message),
            err @ ServiceError::TooLarge { .. } => {
                ApiError::PayloadTooLarge(ErrorBody::new(format!("size_limit: {err}")))
            }
            ServiceError::Conflict(msg) => ApiError::Conflict(ErrorBody::new(msg)),
            ServiceError::Unauthorized(msg) => ApiError::unauthorized(msg),
            ServiceError::Forbidden(msg) => ApiError::Forbidden(ErrorBody::new(msg)),
            ServiceError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "dependency unavailable");
                ApiError::Unavailable(ErrorBody::new(
                    "the registry is temporarily unavailable; retry later",
                ))
            }
            ServiceError::BadGateway(msg) => {
                tracing::warn!(error = %msg, "upstream answered wrongly");
                ApiError::BadGateway(ErrorBody::new(msg))
            }
            ServiceError::Internal(cause) => {
                // Logged with its cause; the client sees an opaque message plus the request
                // id (added by the JSON error middleware).
                tracing::error!(error = %cause, "internal error");
                ApiError::Internal(ErrorBody::new("internal server error"))
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
