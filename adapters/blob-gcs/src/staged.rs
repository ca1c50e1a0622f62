//! `put_staged`: a file whose size and SHA-256 are already known.
//!
//! Unlike a streamed `put`, nothing has to be held back: the digest is recorded when the
//! session starts and the total is known, so each [`CHUNK`] is read from the file just
//! before it is sent (one chunk in memory), and the last one carries the total. The bytes
//! are still hashed as they are read and checked before that last chunk, so a file that
//! changed on disk never becomes an object claiming the wrong digest. Preconditions, the
//! resend of partly kept chunks and cancelling reuse `upload.rs` and `resumable.rs`.

use bytes::{Bytes, BytesMut};
use gcloud_storage::http::resumable_upload_client::{ChunkSize, ResumableUploadClient};
use sha2::{Digest, Sha256};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, PutExpectation};
use tfr_ports::stream::StagedFile;
use tokio::io::AsyncReadExt;

use crate::GcsBlobStore;
use crate::errors::put_error;
use crate::resumable::{MAX_STALLS, cancel, kept, stalled};
use crate::upload::{CHUNK, NewObject, stored_meta};

/// Reads a staged file in order, hashing every byte once.
struct FileReader<'a> {
    key: &'a BlobKey,
    file: tokio::fs::File,
    hasher: Sha256,
    read: u64,
}

impl FileReader<'_> {
    /// Appends the next `n` bytes of the file to `buf`. A file shorter than recorded
    /// fails here (`Body`), before anything that would complete the upload is sent.
    async fn read_into(&mut self, buf: &mut BytesMut, n: usize) -> Result<(), BlobError> {
        let start = buf.len();
        buf.resize(start + n, 0);
        self.file
            .read_exact(&mut buf[start..])
            .await
            .map_err(BlobError::Body)?;
        self.hasher.update(&buf[start..]);
        self.read += n as u64;
        Ok(())
    }

    /// Checks what was read against the recorded size and digest.
    fn check(&self, expect: &PutExpectation) -> Result<String, BlobError> {
        let sha256 = hex::encode(self.hasher.clone().finalize());
        expect.check(self.key, &sha256, self.read)?;
        Ok(sha256)
    }
}

impl GcsBlobStore {
    pub(crate) async fn put_file(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        let name = self.names.object(key);
        if self.stat(&name).await?.is_some() {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let size = file.size();
        let expect = PutExpectation {
            sha256: Some(file.sha256().to_ascii_lowercase()),
            size: Some(size),
            content_type,
        };
        let new = NewObject {
            name: &name,
            content_type: expect.content_type.as_deref(),
            sha256: expect.sha256.as_deref(),
        };
        let mut reader = FileReader {
            key,
            file: tokio::fs::File::open(file.path())
                .await
                .map_err(BlobError::Body)?,
            hasher: Sha256::new(),
            read: 0,
        };
        if size <= CHUNK as u64 {
            // Fits one chunk: one request, as `put` does.
            let mut data = BytesMut::new();
            reader.read_into(&mut data, size as usize).await?;
            let sha256 = reader.check(&expect)?;
            let object = self
                .insert(&new, data.freeze())
                .await
                .map_err(|e| put_error(key, &e))?;
            return Ok(stored_meta(&object, sha256, size));
        }
        let session = self.start_session(key, &new).await?;
        match self.send_file(key, &session, &mut reader, &expect).await {
            Ok(object) => {
                let sha256 = reader.check(&expect)?;
                Ok(stored_meta(&object, sha256, size))
            }
            Err(e) => {
                cancel(session, key).await;
                Err(e)
            }
        }
    }

    /// Sends the file chunk by chunk, each read just before it goes out; the final one
    /// (with the total) only after the whole file was read and matched its digest.
    async fn send_file(
        &self,
        key: &BlobKey,
        session: &ResumableUploadClient,
        reader: &mut FileReader<'_>,
        expect: &PutExpectation,
    ) -> Result<gcloud_storage::http::objects::Object, BlobError> {
        let total = expect.size.unwrap_or_default();
        let mut offset = 0u64;
        // Read but not yet kept by GCS: usually empty between chunks.
        let mut pending = Bytes::new();
        let mut stalls = 0;
        loop {
            let want = (total - offset).min(CHUNK as u64) as usize;
            if pending.len() < want {
                let mut buf = BytesMut::with_capacity(want);
                buf.extend_from_slice(&pending);
                let missing = want - buf.len();
                drop(pending);
                reader.read_into(&mut buf, missing).await?;
                pending = buf.freeze();
            }
            if offset + want as u64 == total {
                reader.check(expect)?;
                return self.finish(key, session, pending, offset, total).await;
            }
            let range = ChunkSize::new(offset, offset + CHUNK as u64 - 1, None);
            let answer = session
                .upload_multiple_chunk(pending.clone(), &range)
                .await
                .map_err(|e| put_error(key, &e))?;
            let kept = kept(key, answer, offset, CHUNK)?;
            // GCS may keep less than it was sent: the rest goes again with the next chunk.
            stalls = if kept == 0 { stalls + 1 } else { 0 };
            if stalls >= MAX_STALLS {
                return Err(stalled(key));
            }
            pending = pending.slice(kept..);
            offset += kept as u64;
        }
    }
}
