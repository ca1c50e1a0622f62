//! `put_staged`: a file this process staged goes up straight from disk.
//!
//! Its size and SHA-256 are already known, so nothing is held in memory or hashed with
//! SHA-256 again: a file of up to one part is one conditional `PutObject` whose body
//! streams from the file (S3 checks it against the known SHA-256); a longer one is a
//! multipart upload whose parts each stream their own range of the file,
//! [`STAGED_PARTS_IN_FLIGHT`] at a time. Memory stays at a few read buffers per part in
//! flight, whatever the size. Creation, the conditional completion and the abort on
//! failure are `put`'s (`src/upload.rs`).
//!
//! Integrity: the SDK signs a body it cannot hash up front (a file) as
//! `UNSIGNED-PAYLOAD`, so unlike `put`'s in-memory parts, whose SHA-256 is part of the
//! signature, S3 would have nothing to check a part against. Each part therefore carries
//! its CRC-32 as a plain header (the upload is created with that algorithm; no
//! aws-chunked trailers), which S3 verifies; it costs one more read of the range, usually
//! from the page cache, at several GB/s.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::primitives::Length;
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine as _;
use chrono::Utc;
use futures::{Stream, StreamExt, stream};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, PutExpectation};
use tfr_ports::stream::StagedFile;

use crate::S3BlobStore;
use crate::errors::S3Failure;
use crate::upload::{MAX_PARTS, Part, part_size_for};

/// Parts of a staged file being sent at once. More than `put`'s: a part costs only a
/// read buffer here, not a part-sized one, and more connections fill the link better.
pub const STAGED_PARTS_IN_FLIGHT: usize = 4;

/// Read size for part bodies: fewer trips to the blocking pool than the SDK's 64 KiB.
const READ_BUFFER: usize = 256 * 1024;

impl S3BlobStore {
    /// `put_staged`: the file's bytes under `key`, recorded with the file's SHA-256.
    pub(crate) async fn upload_staged(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        // Fast refusal before sending anything (the conditional writes make it safe).
        if self.head(key).await?.is_some() {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let size = file.size();
        let sha256 = file.sha256().to_ascii_lowercase();
        let part_size = part_size_for(Some(size)) as u64;
        if size <= part_size {
            // The same threshold as `put`: up to one part is a single PutObject.
            let body = file_range(file.path(), 0, size).await?;
            let expect = PutExpectation {
                sha256: Some(sha256.clone()),
                size: Some(size),
                content_type,
            };
            return self.put_single(key, body, sha256, size, expect).await;
        }
        let count = size.div_ceil(part_size);
        if count > MAX_PARTS as u64 {
            return Err(BlobError::Internal(Box::new(S3Failure {
                operation: "CreateMultipartUpload",
                target: key.to_string(),
                detail: format!("{size} bytes need more than {MAX_PARTS} parts"),
            })));
        }
        let upload = self
            .start_upload(
                key,
                content_type.clone(),
                Some(sha256.clone()),
                Some(ChecksumAlgorithm::Crc32),
            )
            .await?;
        upload
            .guarded(async {
                let parts = file_parts(file.path().to_path_buf(), size, part_size);
                let parts = upload.send_parts(parts, STAGED_PARTS_IN_FLIGHT).await?;
                upload.complete(parts).await
            })
            .await?;
        tracing::debug!(bucket = %self.bucket, key = %key, size, parts = count, "s3 object stored from a staged file");
        Ok(BlobMeta {
            size,
            sha256: Some(sha256),
            content_type,
            last_modified: Some(Utc::now()),
        })
    }
}

/// `size` bytes of the file at `path`, `part_size` at a time (the last part shorter).
fn file_parts(
    path: PathBuf,
    size: u64,
    part_size: u64,
) -> impl Stream<Item = Result<Part, BlobError>> + Send {
    let ranges = (0..size.div_ceil(part_size)).map(move |i| {
        let offset = i * part_size;
        (offset, part_size.min(size - offset))
    });
    stream::iter(ranges).then(move |(offset, len)| {
        let path = path.clone();
        async move {
            let crc32 = range_crc32(path.clone(), offset, len).await?;
            let body = file_range(&path, offset, len).await?;
            Ok(Part {
                body,
                len,
                crc32: Some(crc32),
            })
        }
    })
}

/// A body streaming exactly `len` bytes of the file from `offset`. It reopens the file
/// when the SDK retries, and fails if the file is shorter than that.
async fn file_range(path: &Path, offset: u64, len: u64) -> Result<SdkBody, BlobError> {
    SdkBody::read_from()
        .path(path)
        .offset(offset)
        .length(Length::Exact(len))
        .buffer_size(READ_BUFFER)
        .build()
        .await
        .map_err(|e| BlobError::Body(io::Error::other(e)))
}

/// The CRC-32 of `len` bytes of the file from `offset`, as S3 wants it (base64 of the
/// big-endian value). A file shorter than that is an error.
async fn range_crc32(path: PathBuf, offset: u64, len: u64) -> Result<String, BlobError> {
    let crc = tokio::task::spawn_blocking(move || -> io::Result<u32> {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut range = file.take(len);
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; READ_BUFFER];
        let mut seen = 0u64;
        loop {
            let n = range.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            seen += n as u64;
        }
        if seen != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the staged file ends before byte {}", offset + len),
            ));
        }
        Ok(hasher.finalize())
    })
    .await
    .map_err(|e| BlobError::Internal(Box::new(e)))?
    .map_err(BlobError::Body)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parts_cover_the_file_exactly() {
        let path = PathBuf::from("/nonexistent/tfr-staged-parts");
        // Opening fails (no such file): a Body error, before anything is sent.
        let mut parts = std::pin::pin!(file_parts(path, 10, 4));
        assert!(matches!(parts.next().await, Some(Err(BlobError::Body(_)))));

        let dir = std::env::temp_dir().join(format!("tfr-s3-staged-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let mut lens = Vec::new();
        let mut all = Vec::new();
        let mut parts = std::pin::pin!(file_parts(path.clone(), 10, 4));
        while let Some(part) = parts.next().await {
            let part = part.expect("part");
            lens.push(part.len);
            let bytes = part.body.collect().await.expect("read").into_bytes();
            assert_eq!(bytes.len() as u64, part.len);
            let crc = crc32fast::hash(&bytes).to_be_bytes();
            assert_eq!(
                part.crc32.as_deref(),
                Some(
                    base64::engine::general_purpose::STANDARD
                        .encode(crc)
                        .as_str()
                )
            );
            all.extend_from_slice(&bytes);
        }
        assert_eq!(lens, [4, 4, 2]);
        assert_eq!(all, b"0123456789");
        // The standard check value: CRC-32 of "123456789" is 0xCBF43926.
        let check = range_crc32(path.clone(), 1, 9).await.expect("crc");
        assert_eq!(check, "y/Q5Jg==");

        // A file shorter than promised is refused rather than sent short.
        let mut parts = std::pin::pin!(file_parts(path, 12, 4));
        assert!(parts.next().await.is_some_and(|p| p.is_ok()));
        assert!(parts.next().await.is_some_and(|p| p.is_ok()));
        assert!(matches!(parts.next().await, Some(Err(BlobError::Body(_)))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
