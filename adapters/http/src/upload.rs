//! Spooling request bodies and multipart parts to the staging directory, with a size
//! cap and SHA-256 computed in flight.

use std::io;

use futures::TryStreamExt;
use poem::Body;
use tfr_ports::StagedFile;
use tfr_ports::stream::{ByteStream, is_limit_error, stage_stream};

use crate::error::ApiError;

pub fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_bytes_stream().map_err(io::Error::other))
}

/// Maps a staging failure: a passed cap is 413, a broken body is 400, anything else 500.
pub fn staging_error(err: io::Error, what: &str) -> ApiError {
    if let Some(limit) = is_limit_error(&err) {
        return ApiError::PayloadTooLarge(crate::error::ErrorBody::new(format!(
            "size_limit: {what} exceeds the {limit}-byte limit"
        )));
    }
    match err.kind() {
        io::ErrorKind::Other
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::InvalidData => {
            tracing::info!(error = %err, "upload body could not be read");
            ApiError::bad_request("body", format!("reading {what} failed: {err}"))
        }
        _ => {
            tracing::error!(error = %err, "staging an upload failed");
            ApiError::Internal(crate::error::ErrorBody::new("internal server error"))
        }
    }
}

pub async fn stage(
    stream: ByteStream,
    dir: &std::path::Path,
    max_bytes: u64,
    what: &str,
) -> Result<StagedFile, ApiError> {
    stage_stream(stream, dir, max_bytes)
        .await
        .map_err(|e| staging_error(e, what))
}

/// Refuses early when the declared length already passes the cap.
pub fn check_content_length(req: &poem::Request, max_bytes: u64) -> Result<(), ApiError> {
    let declared = req
        .header(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max_bytes => {
            Err(ApiError::PayloadTooLarge(crate::error::ErrorBody::new(
                format!("size_limit: body of {len} bytes exceeds the {max_bytes}-byte limit"),
            )))
        }
        _ => Ok(()),
    }
}
