//! Reading objects: metadata (HEAD), streamed bodies (GET) and presigned GET URLs.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use chrono::{DateTime, Utc};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, BlobObject};
use tfr_ports::stream::ByteStream;

use crate::S3BlobStore;
use crate::config::quick;
use crate::errors::{Failure, S3Failure, blob_error, classify};

/// User-metadata entry holding the lower-case hex SHA-256 (`x-amz-meta-sha256`).
pub(crate) const SHA256_META: &str = "sha256";

/// SigV4 presigned URLs live at most a week.
const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

impl S3BlobStore {
    /// The object's metadata, `None` when absent.
    pub(crate) async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .customize()
            .config_override(quick())
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(meta(
                out.content_length(),
                out.metadata(),
                out.content_type(),
                out.last_modified(),
            ))),
            Err(e) if classify(&e) == Failure::NotFound => Ok(None),
            Err(e) => Err(blob_error("HeadObject", key.as_str(), e)),
        }
    }

    /// The object with its body as a stream (nothing is buffered), `None` when absent.
    pub(crate) async fn fetch(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            // The attempt ends with the response headers: the limit never cuts a body.
            .customize()
            .config_override(quick())
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if classify(&e) == Failure::NotFound => return Ok(None),
            Err(e) => return Err(blob_error("GetObject", key.as_str(), e)),
        };
        let meta = meta(
            out.content_length(),
            out.metadata(),
            out.content_type(),
            out.last_modified(),
        );
        Ok(Some(BlobObject {
            meta,
            body: body_stream(out.body),
        }))
    }

    /// A SigV4 presigned GET, valid for `ttl` (capped at S3's one week; temporary
    /// credentials cap it further at their own expiry). Never logged: the query is the
    /// credential.
    pub(crate) async fn presign(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError> {
        let ttl = ttl.clamp(Duration::from_secs(1), MAX_PRESIGN_TTL);
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| BlobError::Internal(Box::new(e)))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .presigned(config)
            .await
            .map_err(|e| {
                let failure = classify(&e);
                let detail = crate::errors::describe(&e);
                match failure {
                    Failure::Unreachable => {
                        BlobError::Unavailable(format!("presigning {key}: {detail}"))
                    }
                    _ => BlobError::Internal(Box::new(S3Failure {
                        operation: "presign GetObject",
                        target: key.to_string(),
                        detail,
                    })),
                }
            })?;
        tracing::debug!(bucket = %self.bucket, key = %key, ttl_secs = ttl.as_secs(), "s3 presigned url issued");
        Ok(request.uri().to_string())
    }
}

fn meta(
    size: Option<i64>,
    user: Option<&HashMap<String, String>>,
    content_type: Option<&str>,
    last_modified: Option<&aws_sdk_s3::primitives::DateTime>,
) -> BlobMeta {
    // Only a well-formed digest is reported; anything else is as good as none.
    let sha256 = user
        .and_then(|m| m.get(SHA256_META))
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|s| s.to_ascii_lowercase());
    BlobMeta {
        size: size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        sha256,
        content_type: content_type.map(str::to_string),
        last_modified: last_modified
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
    }
}

/// The SDK body as the port's stream, chunk by chunk as the network delivers it; ends
/// after the first error.
fn body_stream(body: SdkBody) -> ByteStream {
    Box::pin(futures::stream::unfold(Some(body), |state| async move {
        let mut body = state?;
        match body.next().await? {
            Ok(chunk) => Some((Ok(chunk), Some(body))),
            Err(e) => Some((Err(io::Error::from(e)), None)),
        }
    }))
}
