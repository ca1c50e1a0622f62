//! The filesystem steps of a put: receive into a temp file, check, publish without
//! replacing, and the small helpers around them.

use std::io;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use tfr_core::BlobKey;
use tfr_ports::driven::BlobError;
use tfr_ports::stream::{ByteStream, HashingStream};
use tokio::io::AsyncWriteExt;

use crate::layout::Sidecar;

/// An I/O failure with what the store was doing.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct FsError {
    context: String,
    #[source]
    source: io::Error,
}

/// A full disk or quota is an outage the operator fixes; anything else is internal.
pub fn io_failure(context: impl Into<String>, source: io::Error) -> BlobError {
    let context = context.into();
    match source.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            BlobError::Unavailable(format!("{context}: {source}"))
        }
        _ => BlobError::Internal(Box::new(FsError { context, source })),
    }
}

/// A path removed (best effort) when dropped: a put that fails, errors or is cancelled
/// leaves no temp file behind.
#[derive(Debug)]
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        Self(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), error = %e, "could not remove temp file");
        }
    }
}

/// Runs blocking filesystem work off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

async fn create_new(path: &Path) -> io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
}

/// Streams `body` into a new file at `path` (creating `tmp_dir` if an operator removed
/// it), hashing in flight, and fsyncs it. Stops as soon as the body passes
/// `expected_size`. Returns the lower-case hex SHA-256 and the size.
pub async fn receive(
    key: &BlobKey,
    path: &Path,
    tmp_dir: &Path,
    body: ByteStream,
    expected_size: Option<u64>,
) -> Result<(String, u64), BlobError> {
    let failed = |what: &str, e: io::Error| io_failure(format!("{what} {}", path.display()), e);
    let mut file = match create_new(path).await {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tokio::fs::create_dir_all(tmp_dir)
                .await
                .map_err(|e| failed("creating the directory of", e))?;
            create_new(path).await
        }
        other => other,
    }
    .map_err(|e| failed("creating", e))?;

    let (mut hashing, handle) = HashingStream::new(body);
    let mut seen = 0u64;
    while let Some(chunk) = hashing.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        seen += chunk.len() as u64;
        if let Some(expected) = expected_size
            && seen > expected
        {
            return Err(BlobError::SizeMismatch {
                key: key.to_string(),
                expected,
                actual: seen,
            });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| failed("writing", e))?;
    }
    file.flush().await.map_err(|e| failed("writing", e))?;
    file.sync_all().await.map_err(|e| failed("syncing", e))?;
    Ok(handle.finish())
}

enum LinkFailure {
    Dir(io::Error),
    Exists,
    Occupied,
    Link(io::Error),
}

/// Publishes `temp` at `dest` with `hard_link`, which never replaces an existing file:
/// of two racing puts exactly one wins, the other gets `AlreadyExists`.
pub async fn link_no_replace(key: &BlobKey, temp: &Path, dest: &Path) -> Result<(), BlobError> {
    let (from, to) = (temp.to_path_buf(), dest.to_path_buf());
    let outcome = tokio::task::spawn_blocking(move || -> Result<(), LinkFailure> {
        let parent = to.parent().unwrap_or(&to);
        // A concurrent delete may prune the parent between the two calls: retry a little.
        let mut attempt = 0;
        loop {
            std::fs::create_dir_all(parent).map_err(LinkFailure::Dir)?;
            match std::fs::hard_link(&from, &to) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 3 => attempt += 1,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(if to.is_dir() {
                        LinkFailure::Occupied
                    } else {
                        LinkFailure::Exists
                    });
                }
                Err(e) => return Err(LinkFailure::Link(e)),
            }
        }
    })
    .await
    .map_err(|e| io_failure("publishing a blob", io::Error::other(e)))?;
    let where_ = dest.display();
    match outcome {
        Ok(()) => Ok(()),
        Err(LinkFailure::Exists) => Err(BlobError::AlreadyExists(key.to_string())),
        Err(LinkFailure::Occupied) => Err(io_failure(
            format!("publishing {where_}"),
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a directory of other objects occupies this key",
            ),
        )),
        Err(LinkFailure::Dir(e)) => {
            Err(io_failure(format!("creating the directory of {where_}"), e))
        }
        Err(LinkFailure::Link(e)) => Err(io_failure(format!("hard-linking {where_}"), e)),
    }
}

/// Writes `bytes` to a new file at `path` and fsyncs it.
pub async fn write_small_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create_new(path).await?;
    file.write_all(bytes).await?;
    file.flush().await?;
    file.sync_all().await
}

/// Writes the sidecar through `temp` and renames it over `dest` (replacing a stale one a
/// crash may have left; only the put that won the data link gets here). Not fsynced: a
/// sidecar torn by a crash reads as absent (`Sidecar::parse` checks it against the data),
/// which costs only the stored sha256 in metadata, never the object.
pub async fn write_sidecar(temp: &Path, dest: &Path, sidecar: &Sidecar) -> io::Result<()> {
    let raw = serde_json::to_vec(sidecar).map_err(io::Error::other)?;
    let mut file = create_new(temp).await?;
    file.write_all(&raw).await?;
    file.flush().await?;
    drop(file);
    tokio::fs::rename(temp, dest).await
}

/// Fsyncs the directory holding `path` so the new entry survives a crash (best effort:
/// not every platform can open a directory).
pub async fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().map(Path::to_path_buf) {
        let _ = blocking(move || std::fs::File::open(parent)?.sync_all()).await;
    }
}

/// Removes the now-empty directories between `path` and `root` (best effort: stops at
/// the first one that is not empty or cannot be removed).
pub async fn prune_empty_parents(root: &Path, path: &Path) {
    let (root, path) = (root.to_path_buf(), path.to_path_buf());
    let _ = blocking(move || {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == root || !d.starts_with(&root) || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    })
    .await;
}
