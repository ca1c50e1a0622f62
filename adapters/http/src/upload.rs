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
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            tracing::error!(error = %err, "no space left to stage an upload");
            ApiError::Unavailable(crate::error::ErrorBody::new(
                "the registry has no space left for uploads; retry later",
            ))
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

/// A request body that can be told, part-way, to accept only so many more bytes: once a
/// form is refused, the rest is read and discarded up to that budget (so the client can
/// read the error instead of a reset connection), then the body fails and the
/// connection closes.
pub struct DrainableBody {
    inner: ByteStream,
    budget: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Arms a [`DrainableBody`]'s budget.
#[derive(Clone)]
pub struct DrainBudget(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl DrainableBody {
    pub fn new(body: Body) -> (Self, DrainBudget) {
        let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
        (
            Self {
                inner: body_stream(body),
                budget: budget.clone(),
            },
            DrainBudget(budget),
        )
    }
}

impl DrainBudget {
    /// From now on at most `bytes` more are read.
    pub fn arm(&self, bytes: u64) {
        self.0.store(bytes, std::sync::atomic::Ordering::SeqCst);
    }
}

impl futures::Stream for DrainableBody {
    type Item = io::Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::sync::atomic::Ordering;
        let polled = self.inner.as_mut().poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &polled {
            let len = chunk.len() as u64;
            let left = self.budget.load(Ordering::SeqCst);
            if left != u64::MAX {
                if len > left {
                    self.budget.store(0, Ordering::SeqCst);
                    return std::task::Poll::Ready(Some(Err(io::Error::other(
                        "refused upload: drain budget spent",
                    ))));
                }
                self.budget.store(left - len, Ordering::SeqCst);
            }
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn chunks(n: usize, size: usize) -> Body {
        let stream = futures::stream::iter(
            (0..n).map(move |_| Ok::<_, io::Error>(bytes::Bytes::from(vec![0u8; size]))),
        );
        Body::from_bytes_stream(stream)
    }

    #[tokio::test]
    async fn unarmed_body_passes_everything() {
        let (mut body, _budget) = DrainableBody::new(chunks(10, 1000));
        let mut total = 0;
        while let Some(chunk) = body.next().await {
            total += chunk.expect("chunk").len();
        }
        assert_eq!(total, 10_000);
    }

    #[tokio::test]
    async fn armed_body_stops_after_its_budget() {
        let (mut body, budget) = DrainableBody::new(chunks(10, 1000));
        body.next().await.expect("first").expect("ok");
        budget.arm(2500);
        let mut passed = 0;
        let mut failed = false;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => passed += c.len(),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert_eq!(passed, 2000, "two more chunks fit the budget");
        assert!(failed, "the third chunk past the budget fails the body");
    }
}
