//! Use cases that must finish once started. hyper drops a handler's future when the
//! client disconnects; a publish dropped between storing its blobs and inserting its rows
//! would never run its clean-up, so publishes run as their own task.

use std::future::Future;

use tfr_ports::service::ServiceError;

use crate::error::{ApiError, ErrorBody};

pub async fn run_to_completion<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, ServiceError>> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(err) => {
            tracing::error!(error = %err, "a publish task panicked");
            Err(ApiError::Internal(ErrorBody::new("internal server error")))
        }
    }
}
