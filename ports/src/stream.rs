//! Byte streams and the stream wrappers every backend gets for free: in-flight SHA-256
//! and a size cap. Archives and binaries always move as streams, never as `Vec<u8>`.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use sha2::{Digest, Sha256};

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Wraps a stream, hashing every chunk; read the digest from the handle once drained.
pub struct HashingStream {
    inner: ByteStream,
    state: Arc<Mutex<(Sha256, u64)>>,
}

/// The digest and length seen by a [`HashingStream`].
#[derive(Clone)]
pub struct HashHandle(Arc<Mutex<(Sha256, u64)>>);

impl HashHandle {
    /// Lower-case hex SHA-256 and byte count of everything the stream yielded.
    pub fn finish(&self) -> (String, u64) {
        let guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (hex::encode(guard.0.clone().finalize()), guard.1)
    }
}

impl HashingStream {
    pub fn new(inner: ByteStream) -> (Self, HashHandle) {
        let state = Arc::new(Mutex::new((Sha256::new(), 0u64)));
        (
            Self {
                inner,
                state: state.clone(),
            },
            HashHandle(state),
        )
    }
}

impl Stream for HashingStream {
    type Item = io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            guard.0.update(chunk);
            guard.1 += chunk.len() as u64;
        }
        polled
    }
}

/// The error a [`LimitedStream`] yields once the cap is passed; find it with
/// [`is_limit_error`].
#[derive(Debug, thiserror::Error)]
#[error("body exceeds the {0}-byte limit")]
pub struct LimitExceeded(pub u64);

pub fn is_limit_error(err: &io::Error) -> Option<u64> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
        .map(|e| e.0)
}

/// Fails the stream with [`LimitExceeded`] as soon as more than `max` bytes pass.
pub struct LimitedStream {
    inner: ByteStream,
    max: u64,
    seen: u64,
}

impl LimitedStream {
    pub fn new(inner: ByteStream, max: u64) -> Self {
        Self {
            inner,
            max,
            seen: 0,
        }
    }
}

impl Stream for LimitedStream {
    type Item = io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.max {
                    let max = self.max;
                    Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        LimitExceeded(max),
                    ))))
                } else {
                    Poll::Ready(Some(Ok(chunk)))
                }
            }
            other => other,
        }
    }
}

/// An upload spooled to a local temporary file, with its size and SHA-256. The file is
/// removed when the value (and its guard) is dropped.
pub struct StagedFile {
    path: PathBuf,
    size: u64,
    sha256: String,
    _guard: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for StagedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedFile")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl StagedFile {
    /// `guard` keeps the file alive (e.g. a `tempfile::TempPath`).
    pub fn new(
        path: PathBuf,
        size: u64,
        sha256: String,
        guard: Option<Box<dyn Send + Sync>>,
    ) -> Self {
        Self {
            path,
            size,
            sha256,
            _guard: guard,
        }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Lower-case hex SHA-256 of the file.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// Streams the file's bytes.
    pub async fn open(&self) -> io::Result<ByteStream> {
        let file = tokio::fs::File::open(&self.path).await?;
        Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(
            file,
            64 * 1024,
        )))
    }
}

/// Spools a stream into a new file in `dir`, hashing it and enforcing `max_bytes`. On any
/// error the partial file is removed.
pub async fn stage_stream(body: ByteStream, dir: &Path, max_bytes: u64) -> io::Result<StagedFile> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;

    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!(".upload-{}", uuid::Uuid::new_v4()));
    let guard = RemoveOnDrop(path.clone());
    let (hashing, handle) = HashingStream::new(Box::pin(LimitedStream::new(body, max_bytes)));
    let mut hashing = hashing;
    // Network chunks are small; each write to a tokio file is a trip to the blocking
    // pool, so gather them first.
    let mut file =
        tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::create(&path).await?);
    while let Some(chunk) = hashing.next().await {
        file.write_all(&chunk?).await?;
    }
    // No fsync: a staged file is read back by this process and then deleted; the blob
    // store makes the durable copy.
    file.flush().await?;
    drop(file);
    let (sha256, size) = handle.finish();
    Ok(StagedFile::new(path, size, sha256, Some(Box::new(guard))))
}

/// Deletes a file when dropped (best effort).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
