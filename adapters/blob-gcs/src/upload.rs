//! `put`: no overwrite, checks before visibility, bounded memory.
//!
//! Every create carries `ifGenerationMatch=0`, which GCS enforces atomically (412 means
//! another writer got there first). A cheap existence check comes first as well, so a
//! doomed body is not read, and so stores that ignore preconditions (the emulator) still
//! refuse sequential overwrites.
//!
//! A body of at most [`CHUNK`] bytes is buffered, checked and stored in one request. A
//! larger one goes through a resumable upload (`resumable.rs`) whose last chunk
//! is held back until the body has ended and passed [`PutExpectation::check`]: GCS makes
//! the object visible only with that last chunk, so a failed put leaves nothing behind.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use gcloud_storage::http::objects::Object;
use gcloud_storage::http::objects::upload::{UploadObjectRequest, UploadType};
use sha2::{Digest, Sha256};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, PutExpectation};
use tfr_ports::stream::ByteStream;

use crate::GcsBlobStore;
use crate::errors::put_error;
use crate::objects::{SHA256_FIELD, blob_meta};

/// Resumable chunk size: a multiple of 256 KiB, as GCS requires for all but the last.
/// Memory per put stays near one chunk plus one piece of the incoming body.
pub(crate) const CHUNK: usize = 8 * 1024 * 1024;

/// What to create.
pub(crate) struct NewObject<'a> {
    pub name: &'a str,
    pub content_type: Option<&'a str>,
    /// Recorded as custom metadata when known.
    pub sha256: Option<&'a str>,
}

impl NewObject<'_> {
    /// The object resource sent with the data.
    pub fn resource(&self) -> Object {
        Object {
            name: self.name.to_string(),
            content_type: self.content_type.map(str::to_string),
            metadata: self
                .sha256
                .map(|sha| HashMap::from([(SHA256_FIELD.to_string(), sha.to_string())])),
            ..Default::default()
        }
    }
}

impl GcsBlobStore {
    pub(crate) async fn put_object(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        let name = self.names.object(key);
        if self.stat(&name).await?.is_some() {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let mut body = BodyReader::new(key, body, expect.size);
        let mut buf = BytesMut::new();
        body.fill(&mut buf).await?;
        if !body.ended() {
            return self.put_resumable(key, &name, body, buf, &expect).await;
        }
        let (sha256, size) = body.digest();
        expect.check(key, &sha256, size)?;
        let new = NewObject {
            name: &name,
            content_type: expect.content_type.as_deref(),
            sha256: Some(&sha256),
        };
        let object = self
            .insert(&new, buf.freeze())
            .await
            .map_err(|e| put_error(key, &e))?;
        Ok(stored_meta(&object, sha256, size))
    }

    /// One-request create (multipart: resource and data together), never replacing.
    pub(crate) async fn insert(
        &self,
        new: &NewObject<'_>,
        data: Bytes,
    ) -> Result<Object, gcloud_storage::http::Error> {
        let req = UploadObjectRequest {
            bucket: self.bucket.clone(),
            if_generation_match: Some(0),
            ..Default::default()
        };
        let upload = UploadType::Multipart(Box::new(new.resource()));
        self.client.upload_object(&req, data, &upload).await
    }
}

/// What a successful put reports: the server's view, with the digest computed here.
pub(crate) fn stored_meta(object: &Object, sha256: String, size: u64) -> BlobMeta {
    let mut meta = blob_meta(object);
    meta.size = size;
    meta.sha256 = Some(sha256);
    meta
}

/// Reads a put body, hashing and counting, and stops early once it is longer than the
/// expected size.
pub(crate) struct BodyReader<'a> {
    key: &'a BlobKey,
    stream: ByteStream,
    hasher: Sha256,
    seen: u64,
    limit: Option<u64>,
    ended: bool,
}

impl<'a> BodyReader<'a> {
    pub fn new(key: &'a BlobKey, stream: ByteStream, limit: Option<u64>) -> Self {
        Self {
            key,
            stream,
            hasher: Sha256::new(),
            seen: 0,
            limit,
            ended: false,
        }
    }

    /// Reads into `buf` until it holds more than [`CHUNK`] bytes (so at least one byte is
    /// known to follow a full chunk) or the body ends.
    pub async fn fill(&mut self, buf: &mut BytesMut) -> Result<(), BlobError> {
        while buf.len() <= CHUNK && !self.ended {
            match self.stream.next().await {
                None => self.ended = true,
                Some(Err(e)) => return Err(BlobError::Body(e)),
                Some(Ok(piece)) => {
                    self.seen += piece.len() as u64;
                    if let Some(limit) = self.limit
                        && self.seen > limit
                    {
                        return Err(BlobError::SizeMismatch {
                            key: self.key.to_string(),
                            expected: limit,
                            actual: self.seen,
                        });
                    }
                    self.hasher.update(&piece);
                    buf.extend_from_slice(&piece);
                }
            }
        }
        Ok(())
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Lower-case hex SHA-256 and length of everything read.
    pub fn digest(&self) -> (String, u64) {
        (hex::encode(self.hasher.clone().finalize()), self.seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pieces: Vec<std::io::Result<Bytes>>) -> ByteStream {
        Box::pin(futures::stream::iter(pieces))
    }

    #[tokio::test]
    async fn reads_past_one_chunk_then_stops() {
        let key = BlobKey::parse("k").unwrap();
        let piece = Bytes::from(vec![7u8; 3 * 1024 * 1024]);
        let pieces = (0..5).map(|_| Ok(piece.clone())).collect();
        let mut reader = BodyReader::new(&key, body(pieces), None);
        let mut buf = BytesMut::new();
        reader.fill(&mut buf).await.unwrap();
        assert_eq!(buf.len(), 9 * 1024 * 1024);
        assert!(!reader.ended());
        let _ = buf.split_to(CHUNK);
        reader.fill(&mut buf).await.unwrap();
        assert!(reader.ended());
        assert_eq!(reader.digest().1, 15 * 1024 * 1024);
    }

    #[tokio::test]
    async fn stops_reading_a_body_that_is_too_long() {
        let key = BlobKey::parse("k").unwrap();
        let pieces = vec![
            Ok(Bytes::from_static(b"12345")),
            Ok(Bytes::from_static(b"678")),
            Err(std::io::Error::other("never reached")),
        ];
        let mut reader = BodyReader::new(&key, body(pieces), Some(6));
        let mut buf = BytesMut::new();
        match reader.fill(&mut buf).await {
            Err(BlobError::SizeMismatch {
                expected, actual, ..
            }) => assert_eq!((expected, actual), (6, 8)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_resource_records_the_digest() {
        let new = NewObject {
            name: "p/k",
            content_type: Some("text/plain"),
            sha256: Some("abc"),
        };
        let json = serde_json::to_value(new.resource()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "p/k", "contentType": "text/plain", "metadata": {"sha256": "abc"}})
        );
    }
}
