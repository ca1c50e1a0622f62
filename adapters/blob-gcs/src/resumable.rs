//! Large puts: a resumable upload in [`CHUNK`]-sized pieces, the last one held back until
//! the body has ended and been checked. Without that last chunk GCS never creates the
//! object, so a failed put (body error, size or checksum mismatch) leaves nothing
//! visible; the session is cancelled as well (best effort).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use gcloud_storage::http::Error;
use gcloud_storage::http::error::ErrorResponse;
use gcloud_storage::http::objects::Object;
use gcloud_storage::http::objects::patch::PatchObjectRequest;
use gcloud_storage::http::resumable_upload_client::{
    ChunkSize, ResumableUploadClient, UploadStatus,
};
use reqwest::header::{AUTHORIZATION, LOCATION};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, PutExpectation};
use token_source::TokenSource;

use crate::GcsBlobStore;
use crate::errors::{GcsFailure, Kind, describe, kind, put_error};
use crate::objects::SHA256_FIELD;
use crate::upload::{BodyReader, CHUNK, NewObject, stored_meta};

/// Answers in a row that kept none of a chunk before the put gives up.
pub(crate) const MAX_STALLS: u32 = 3;

impl GcsBlobStore {
    /// Stores a body longer than one chunk; `buf` holds its first bytes (more than
    /// [`CHUNK`]).
    pub(crate) async fn put_resumable(
        &self,
        key: &BlobKey,
        name: &str,
        mut body: BodyReader<'_>,
        buf: BytesMut,
        expect: &PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        // A digest promised upfront is recorded at once: if the body does not match it,
        // the object is never created.
        let promised = expect.sha256.as_ref().map(|s| s.to_ascii_lowercase());
        let new = NewObject {
            name,
            content_type: expect.content_type.as_deref(),
            sha256: promised.as_deref(),
        };
        let session = self.start_session(key, &new).await?;
        let object = match self.send_body(key, &session, &mut body, buf, expect).await {
            Ok(object) => object,
            Err(e) => {
                cancel(session, key).await;
                return Err(e);
            }
        };
        let (sha256, size) = body.digest();
        if promised.is_none() {
            self.record_sha256(name, &object, &sha256).await;
        }
        Ok(stored_meta(&object, sha256, size))
    }

    /// Starts the session. Done here rather than through gcloud-storage, which panics on
    /// an answer without a `Location`.
    pub(crate) async fn start_session(
        &self,
        key: &BlobKey,
        new: &NewObject<'_>,
    ) -> Result<ResumableUploadClient, BlobError> {
        let url = format!(
            "{}/upload/storage/v1/b/{}/o",
            self.endpoint.base, self.bucket
        );
        let mut request = self
            .http
            .post(url)
            .query(&[("uploadType", "resumable"), ("ifGenerationMatch", "0")])
            .json(&new.resource());
        if let Some(token) = &self.token {
            let bearer = token
                .token()
                .await
                .map_err(|e| put_error(key, &Error::TokenSource(e)))?;
            request = request.header(AUTHORIZATION, bearer);
        }
        let response = request
            .send()
            .await
            .map_err(|e| put_error(key, &Error::from(e)))?;
        if let Err(status) = response.error_for_status_ref() {
            let body = response.bytes().await.unwrap_or_default();
            let e = match error_response(&body) {
                Some(r) => Error::Response(r),
                None => Error::HttpClient(status),
            };
            return Err(put_error(key, &e));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| protocol(key, "the resumable upload started without a session URL"))?;
        let session = url::Url::parse(&self.endpoint.base)
            .and_then(|base| base.join(location))
            .map_err(|_| protocol(key, "the resumable upload's session URL is not a URL"))?;
        Ok(ResumableUploadClient::new(
            session.to_string(),
            self.http.clone(),
        ))
    }

    /// Sends every full chunk as the body arrives (reading the next while one is in
    /// flight), checks the body, then sends the rest as the final chunk.
    async fn send_body(
        &self,
        key: &BlobKey,
        session: &ResumableUploadClient,
        body: &mut BodyReader<'_>,
        mut buf: BytesMut,
        expect: &PutExpectation,
    ) -> Result<Object, BlobError> {
        let mut offset = 0u64;
        let mut stalls = 0;
        loop {
            if buf.len() <= CHUNK {
                if body.ended() {
                    break;
                }
                body.fill(&mut buf).await?;
                continue;
            }
            // With more than a chunk in hand, this one is surely not the last. The body
            // keeps arriving while it goes out: about two chunks in memory at most.
            let chunk = buf.split_to(CHUNK).freeze();
            let range = ChunkSize::new(offset, offset + CHUNK as u64 - 1, None);
            let (answer, filled) = tokio::join!(
                session.upload_multiple_chunk(chunk.clone(), &range),
                body.fill(&mut buf)
            );
            let kept = kept(key, answer.map_err(|e| put_error(key, &e))?, offset, CHUNK)?;
            filled?;
            if kept < CHUNK {
                // GCS may keep less than it was sent: the rest goes again.
                stalls = if kept == 0 { stalls + 1 } else { 0 };
                if stalls >= MAX_STALLS {
                    return Err(stalled(key));
                }
                let mut again = BytesMut::with_capacity(CHUNK - kept + buf.len());
                again.extend_from_slice(&chunk[kept..]);
                again.extend_from_slice(&buf);
                buf = again;
            }
            offset += kept as u64;
        }
        let (sha256, size) = body.digest();
        expect.check(key, &sha256, size)?;
        if offset + buf.len() as u64 != size {
            return Err(protocol(key, "sent and read byte counts differ"));
        }
        self.finish(key, session, buf.freeze(), offset, size).await
    }

    /// Sends the final chunk (with the total size), which creates the object.
    pub(crate) async fn finish(
        &self,
        key: &BlobKey,
        session: &ResumableUploadClient,
        mut rest: Bytes,
        mut offset: u64,
        total: u64,
    ) -> Result<Object, BlobError> {
        let mut stalls = 0;
        loop {
            let range = ChunkSize::new(offset, total - 1, Some(total));
            match session.upload_multiple_chunk(rest.clone(), &range).await {
                Ok(UploadStatus::Ok(object)) => return Ok(object),
                Ok(answer) => {
                    let kept = kept(key, answer, offset, rest.len())?;
                    stalls = if kept == 0 { stalls + 1 } else { 0 };
                    if stalls >= MAX_STALLS {
                        return Err(stalled(key));
                    }
                    rest = rest.slice(kept..);
                    offset += kept as u64;
                }
                // The object may exist even though the answer was lost: ask the session.
                Err(e) if kind(&e) == Kind::Unreachable => {
                    return match session.status(Some(total)).await {
                        Ok(UploadStatus::Ok(object)) => Ok(object),
                        _ => Err(put_error(key, &e)),
                    };
                }
                Err(e) => return Err(put_error(key, &e)),
            }
        }
    }

    /// Records the digest of a body that had none promised (best effort: the object is
    /// stored either way, and the port allows metadata without it).
    async fn record_sha256(&self, name: &str, object: &Object, sha256: &str) {
        let req = PatchObjectRequest {
            bucket: self.bucket.clone(),
            object: name.to_string(),
            // Only the object this put created.
            if_generation_match: (object.generation != 0).then_some(object.generation),
            metadata: Some(Object {
                metadata: Some(HashMap::from([(
                    SHA256_FIELD.to_string(),
                    sha256.to_string(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Err(e) = self.client.patch_object(&req).await {
            tracing::warn!(object = name, error = %describe(&e), "stored, but recording its sha256 failed");
        }
    }
}

/// How many of `sent` bytes starting at `offset` GCS kept, from a chunk's answer.
pub(crate) fn kept(
    key: &BlobKey,
    answer: UploadStatus,
    offset: u64,
    sent: usize,
) -> Result<usize, BlobError> {
    let persisted = match answer {
        UploadStatus::ResumeIncomplete(range) => range.last_byte + 1,
        UploadStatus::NotStarted => 0,
        UploadStatus::Ok(_) => {
            return Err(protocol(
                key,
                "GCS created the object before its last chunk",
            ));
        }
    };
    persisted
        .checked_sub(offset)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= sent)
        .ok_or_else(|| protocol(key, "GCS reported an unexpected upload offset"))
}

/// Best effort: an upload without its last chunk never becomes an object, and GCS drops
/// abandoned sessions after a week (the emulator does not implement cancelling).
pub(crate) async fn cancel(session: ResumableUploadClient, key: &BlobKey) {
    if let Err(e) = session.cancel().await {
        tracing::debug!(key = %key, error = %describe(&e), "cancelling a resumable upload failed");
    }
}

fn error_response(body: &[u8]) -> Option<ErrorResponse> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    serde_json::from_value(value.get_mut("error")?.take()).ok()
}

fn protocol(key: &BlobKey, what: &str) -> BlobError {
    BlobError::Internal(Box::new(GcsFailure(format!("storing {key}: {what}"))))
}

pub(crate) fn stalled(key: &BlobKey) -> BlobError {
    BlobError::Unavailable(format!(
        "storing {key}: GCS kept none of {MAX_STALLS} chunks in a row"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcloud_storage::http::resumable_upload_client::UploadedRange;

    #[test]
    fn kept_bytes() {
        let key = BlobKey::parse("k").unwrap();
        let answer = |last_byte| {
            UploadStatus::ResumeIncomplete(UploadedRange {
                first_byte: 0,
                last_byte,
            })
        };
        assert_eq!(kept(&key, answer(99), 0, 100).unwrap(), 100);
        assert_eq!(kept(&key, answer(149), 100, 100).unwrap(), 50);
        assert_eq!(kept(&key, UploadStatus::NotStarted, 0, 100).unwrap(), 0);
        assert!(kept(&key, answer(49), 100, 100).is_err());
        assert!(kept(&key, answer(300), 100, 100).is_err());
    }

    #[test]
    fn error_bodies() {
        let body = br#"{"error":{"code":412,"message":"At least one of the pre-conditions you specified did not hold.","errors":[{"domain":"global","reason":"conditionNotMet","message":"x"}]}}"#;
        assert_eq!(error_response(body).map(|e| e.code), Some(412));
        assert!(error_response(b"<html>").is_none());
    }
}
