//! `put`: a body becomes an object only once it is complete and checked, and never
//! replaces one.
//!
//! A body that fits in one part is buffered, hashed, checked and sent as one `PutObject`
//! with `If-None-Match: *` (and its SHA-256 as `x-amz-checksum-sha256`, so S3 verifies
//! what it stores). A longer body goes up as a multipart upload: parts are cut and
//! hashed as they arrive, at most [`PARTS_IN_FLIGHT`] are being sent at once (memory
//! stays at a few parts whatever the size), and only when the body has ended and passed
//! `PutExpectation::check` is the upload completed, again with `If-None-Match: *`. Until
//! that call nothing is visible; on any failure the upload is aborted.
//!
//! The single `PutObject` and the multipart machinery here also serve `put_staged`
//! (`src/staged.rs`), whose parts stream from a file instead of memory.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, PutExpectation};
use tfr_ports::stream::ByteStream;
use tokio::task::JoinSet;

use crate::S3BlobStore;
use crate::config::quick;
use crate::errors::{S3Failure, blob_error};
use crate::parts::PartReader;
use crate::read::SHA256_META;

/// Part size for bodies of unknown or ordinary size; bodies up to this size go up in
/// one `PutObject`.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts grow (for a promised size too large for 10,000 parts of [`PART_SIZE`]) up to
/// this, which bounds memory per upload to about three of them.
const MAX_PART_SIZE: u64 = 64 * 1024 * 1024;
/// S3's limit on parts per upload.
pub(crate) const MAX_PARTS: i32 = 10_000;
/// Parts being sent at once per upload.
pub const PARTS_IN_FLIGHT: usize = 2;

/// The part size for a body of `expected` bytes (when promised): [`PART_SIZE`] unless
/// 10,000 such parts could not hold it.
pub(crate) fn part_size_for(expected: Option<u64>) -> usize {
    const MIB: u64 = 1024 * 1024;
    let needed = expected.map_or(0, |size| size.div_ceil(MAX_PARTS as u64));
    let rounded = needed.div_ceil(MIB) * MIB;
    rounded.clamp(PART_SIZE as u64, MAX_PART_SIZE) as usize
}

impl S3BlobStore {
    pub(crate) async fn upload(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        // Fast refusal before reading a body that could never be stored (the conditional
        // write below is what makes it safe against a concurrent writer).
        if self.head(key).await?.is_some() {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let mut reader =
            PartReader::new(body, part_size_for(expect.size), expect.size, key.as_str());
        let first = reader.next_part().await?;
        let second = if reader.is_done() {
            Bytes::new()
        } else {
            reader.next_part().await?
        };
        if second.is_empty() {
            let (sha256, size) = reader.finish();
            return self
                .put_single(key, SdkBody::from(first), sha256, size, expect)
                .await;
        }
        self.put_multipart(key, reader, [first, second], expect)
            .await
    }

    /// One conditional `PutObject` of `body` (`size` bytes whose SHA-256 is `sha256`), after
    /// `expect` is checked. S3 verifies the body against `sha256`.
    pub(crate) async fn put_single(
        &self,
        key: &BlobKey,
        body: SdkBody,
        sha256: String,
        size: u64,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        expect.check(key, &sha256, size)?;
        let digest = hex::decode(&sha256).map_err(|e| BlobError::Internal(Box::new(e)))?;
        let length = i64::try_from(size).map_err(|e| BlobError::Internal(Box::new(e)))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .if_none_match("*")
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(digest))
            .metadata(SHA256_META, &sha256)
            .set_content_type(expect.content_type.clone())
            .content_length(length)
            .body(body)
            .send()
            .await
            .map_err(|e| blob_error("PutObject", key.as_str(), e))?;
        tracing::debug!(bucket = %self.bucket, key = %key, size, "s3 object stored");
        Ok(BlobMeta {
            size,
            sha256: Some(sha256),
            content_type: expect.content_type,
            last_modified: Some(Utc::now()),
        })
    }

    async fn put_multipart(
        &self,
        key: &BlobKey,
        mut reader: PartReader,
        first: [Bytes; 2],
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        // The SHA-256 is recorded only when known before the first byte (metadata is
        // fixed at creation); the upload is aborted if the body then disagrees with it.
        let promised_sha = expect
            .sha256
            .as_deref()
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        let upload = self
            .start_upload(key, expect.content_type.clone(), promised_sha, None)
            .await?;
        let (sha256, size) = upload
            .guarded(async {
                let parts = upload
                    .send_parts(body_parts(&mut reader, first), PARTS_IN_FLIGHT)
                    .await?;
                let (sha256, size) = reader.finish();
                expect.check(key, &sha256, size)?;
                upload.complete(parts).await?;
                Ok((sha256, size))
            })
            .await?;
        tracing::debug!(bucket = %self.bucket, key = %key, size, "s3 object stored (multipart)");
        Ok(BlobMeta {
            size,
            sha256: Some(sha256),
            content_type: expect.content_type,
            last_modified: Some(Utc::now()),
        })
    }

    /// Creates a multipart upload for `key`, recording `sha256` (lower-case hex) when
    /// given. With `checksum`, every part must carry that checksum (see [`Part`]). Run
    /// everything that follows through [`Upload::guarded`].
    pub(crate) async fn start_upload(
        &self,
        key: &BlobKey,
        content_type: Option<String>,
        sha256: Option<String>,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<Arc<Upload>, BlobError> {
        let object = self.object_key(key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&object)
            .set_content_type(content_type)
            .set_metadata(sha256.map(|sha| [(SHA256_META.to_string(), sha)].into()))
            .set_checksum_algorithm(checksum)
            .customize()
            .config_override(quick())
            .send()
            .await
            .map_err(|e| blob_error("CreateMultipartUpload", key.as_str(), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        if upload_id.is_empty() {
            return Err(BlobError::Internal(Box::new(S3Failure {
                operation: "CreateMultipartUpload",
                target: key.to_string(),
                detail: "the store returned no upload id".into(),
            })));
        }
        tracing::debug!(bucket = %self.bucket, key = %key, "s3 multipart upload started");
        Ok(Arc::new(Upload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            object,
            upload_id,
            key: key.clone(),
        }))
    }
}

/// One part to send: its body and exact length.
pub(crate) struct Part {
    pub body: SdkBody,
    pub len: u64,
    /// Base64 of the big-endian CRC-32, for an upload created with that checksum: S3
    /// checks the part against it, and the completion lists it.
    pub crc32: Option<String>,
}

impl From<Bytes> for Part {
    fn from(data: Bytes) -> Self {
        Self {
            len: data.len() as u64,
            body: SdkBody::from(data),
            crc32: None,
        }
    }
}

/// The parts of a body being read: the two already read, then the rest as they come.
fn body_parts(
    reader: &mut PartReader,
    first: [Bytes; 2],
) -> impl Stream<Item = Result<Part, BlobError>> + Send + '_ {
    let rest = stream::try_unfold(reader, |reader| async move {
        let part = reader.next_part().await?;
        Ok((!part.is_empty()).then_some((part, reader)))
    });
    stream::iter(first)
        .filter(|part| std::future::ready(!part.is_empty()))
        .map(Ok)
        .chain(rest)
        .map_ok(Part::from)
}

/// One multipart upload in progress.
pub(crate) struct Upload {
    client: aws_sdk_s3::Client,
    bucket: String,
    object: String,
    upload_id: String,
    /// The port's key (for checks and messages).
    key: BlobKey,
}

impl Upload {
    /// Runs `work` (sending the parts and completing), aborting the upload if it fails or
    /// is dropped half way.
    pub(crate) async fn guarded<T>(
        self: &Arc<Self>,
        work: impl Future<Output = Result<T, BlobError>>,
    ) -> Result<T, BlobError> {
        let mut guard = AbortOnDrop(Some(self.clone()));
        match work.await {
            Ok(value) => {
                guard.disarm();
                Ok(value)
            }
            Err(e) => {
                guard.abort_now().await;
                Err(e)
            }
        }
    }

    /// Makes the object visible from `parts`, unless one already exists.
    pub(crate) async fn complete(&self, mut parts: Vec<CompletedPart>) -> Result<(), BlobError> {
        parts.sort_by_key(|p| p.part_number());
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.object)
            .upload_id(&self.upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| blob_error("CompleteMultipartUpload", self.key.as_str(), e))?;
        Ok(())
    }

    /// Sends `parts` in order, numbered from 1, with at most `in_flight` being sent while
    /// one more is taken from the stream: the stream is read only as fast as parts go up.
    pub(crate) async fn send_parts(
        self: &Arc<Self>,
        parts: impl Stream<Item = Result<Part, BlobError>>,
        in_flight: usize,
    ) -> Result<Vec<CompletedPart>, BlobError> {
        let mut parts = std::pin::pin!(parts);
        let mut tasks = JoinSet::new();
        let outcome = async {
            let mut done = Vec::new();
            let mut number: i32 = 0;
            while let Some(part) = parts.next().await {
                let part = part?;
                number += 1;
                if number > MAX_PARTS {
                    return Err(BlobError::Internal(Box::new(S3Failure {
                        operation: "UploadPart",
                        target: self.key.to_string(),
                        detail: format!(
                            "the body needs more than {MAX_PARTS} parts; promise its size to get larger parts"
                        ),
                    })));
                }
                while tasks.len() >= in_flight.max(1) {
                    done.push(joined(tasks.join_next().await)?);
                }
                tasks.spawn(self.clone().send_part(number, part));
            }
            while let Some(next) = tasks.join_next().await {
                done.push(joined(Some(next))?);
            }
            Ok(done)
        }
        .await;
        if outcome.is_err() {
            // Stop parts still being sent before the upload is aborted, so none lands
            // after the abort.
            tasks.shutdown().await;
        }
        outcome
    }

    async fn send_part(
        self: Arc<Self>,
        number: i32,
        part: Part,
    ) -> Result<CompletedPart, BlobError> {
        let len = i64::try_from(part.len).map_err(|e| BlobError::Internal(Box::new(e)))?;
        let sent = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.object)
            .upload_id(&self.upload_id)
            .part_number(number)
            .content_length(len)
            .set_checksum_crc32(part.crc32.clone())
            .body(part.body)
            .send()
            .await
            .map_err(|e| blob_error("UploadPart", self.key.as_str(), e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(sent.e_tag)
            .set_checksum_crc32(part.crc32)
            .build())
    }

    /// Best effort: a failed abort leaves invisible parts that cost storage until a
    /// bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them.
    async fn abort(&self) {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.object)
            .upload_id(&self.upload_id)
            .customize()
            .config_override(quick())
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::debug!(bucket = %self.bucket, key = %self.key, "s3 multipart upload aborted")
            }
            Err(e) => tracing::warn!(
                bucket = %self.bucket,
                key = %self.key,
                error = %crate::errors::describe(&e),
                "could not abort an s3 multipart upload; its parts stay until a lifecycle rule removes them"
            ),
        }
    }
}

fn joined(
    next: Option<Result<Result<CompletedPart, BlobError>, tokio::task::JoinError>>,
) -> Result<CompletedPart, BlobError> {
    match next {
        Some(Ok(part)) => part,
        Some(Err(e)) => Err(BlobError::Internal(Box::new(e))),
        None => Err(BlobError::Internal("no part upload was running".into())),
    }
}

/// Aborts the upload if the put is dropped half way (the caller went away): the abort
/// then runs on its own task.
struct AbortOnDrop(Option<Arc<Upload>>);

impl AbortOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }

    async fn abort_now(&mut self) {
        if let Some(upload) = self.0.take() {
            upload.abort().await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(upload) = self.0.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { upload.abort().await });
            }
            Err(_) => tracing::warn!(
                bucket = %upload.bucket,
                key = %upload.key,
                "an s3 multipart upload was left behind (no runtime to abort it on)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_only_for_very_large_promised_bodies() {
        const GIB: u64 = 1024 * 1024 * 1024;
        assert_eq!(part_size_for(None), PART_SIZE);
        assert_eq!(part_size_for(Some(5 * GIB)), PART_SIZE);
        assert_eq!(part_size_for(Some(78 * GIB)), PART_SIZE);
        let big = part_size_for(Some(200 * GIB));
        assert!(big > PART_SIZE && (big as u64) * MAX_PARTS as u64 >= 200 * GIB);
        assert_eq!(part_size_for(Some(u64::MAX)), MAX_PART_SIZE as usize);
    }
}
