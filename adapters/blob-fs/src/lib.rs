//! tfr-blob-fs: the `BlobStore` port on a local (or mounted) filesystem.
//!
//! Each object lives at `<root>/<key>` with a small JSON sidecar beside it (see
//! [`layout`]). A put streams into `<root>/@tmp/` (same filesystem), hashing in flight,
//! checks the writer's expectations, fsyncs, then publishes with `hard_link`, which fails
//! when the target exists: two concurrent puts of one key never replace each other, and a
//! reader never sees a partial object. The filesystem must support hard links
//! (`check_writable` says so at startup when it does not).
//!
//! The fs backend cannot sign URLs: `presigned_url` is `Ok(None)` and tfr serves its own
//! signed links.

pub mod layout;
mod publish;
mod walk;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use tfr_core::BlobKey;
use tfr_ports::driven::blob::staged_body;
use tfr_ports::driven::{
    BlobError, BlobListing, BlobMeta, BlobObject, BlobStore, PutExpectation, StoreCheckError,
};
use tfr_ports::stream::{ByteStream, StagedFile};

use crate::layout::{BlobPaths, Sidecar, TMP_DIR};
use crate::publish::{TempFile, io_failure};

/// Temp files older than this are crash leftovers and removed at startup.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// Chunk size of the streams `get` returns.
const READ_CHUNK: usize = 64 * 1024;

/// A `BlobStore` on a directory tree.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating if needed) the store at `root`, and removes temp files older than
    /// [`STALE_TEMP_AGE`] (best effort). Blocks briefly: call it at startup.
    pub fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        let root = std::fs::canonicalize(&root)?;
        let tmp = root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp)?;
        let store = Self { root, tmp };
        match store.clean_temp_older_than(STALE_TEMP_AGE) {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(root = %store.root.display(), removed = n, "removed stale upload temp files")
            }
            Err(e) => {
                tracing::warn!(root = %store.root.display(), error = %e, "could not clean upload temp files")
            }
        }
        Ok(store)
    }

    /// The (canonical) storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes files in the temp directory last modified more than `age` ago; returns how
    /// many went. Uploads in flight keep their file fresh, so an hour is safe.
    pub fn clean_temp_older_than(&self, age: Duration) -> io::Result<usize> {
        let cutoff = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.tmp)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_file() && meta.modified().is_ok_and(|m| m < cutoff) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// After the data is linked in place: the sidecar (what the file cannot tell; if it
    /// cannot be written the put still succeeded, metadata then lacks the sha256) and the
    /// directory entry made durable.
    async fn finish_put(
        &self,
        key: &BlobKey,
        paths: &BlobPaths,
        sha256: String,
        size: u64,
        content_type: Option<String>,
    ) -> BlobMeta {
        let sidecar = Sidecar {
            sha256: sha256.clone(),
            size,
            content_type: content_type.clone(),
        };
        let side_temp = TempFile::new(self.tmp.join(format!("{}.meta.part", uuid::Uuid::new_v4())));
        if let Err(e) = publish::write_sidecar(side_temp.path(), &paths.sidecar, &sidecar).await {
            tracing::warn!(key = %key, error = %e, "blob stored but its sidecar could not be written");
        }
        publish::sync_parent(&paths.data).await;
        let last_modified = match tokio::fs::metadata(&paths.data).await {
            Ok(m) => m.modified().ok().map(DateTime::<Utc>::from),
            Err(_) => Some(Utc::now()),
        };
        BlobMeta {
            size,
            sha256: Some(sha256),
            content_type,
            last_modified,
        }
    }

    /// Whether `path` lives on the filesystem of this store's temp directory (a hard
    /// link from it into the store can work).
    async fn same_filesystem(&self, path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let (a, b) = (
                tokio::fs::metadata(path).await,
                tokio::fs::metadata(&self.tmp).await,
            );
            matches!((a, b), (Ok(a), Ok(b)) if a.dev() == b.dev())
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            false
        }
    }

    fn paths(&self, key: &BlobKey) -> Result<BlobPaths, BlobError> {
        BlobPaths::new(&self.root, key.as_str()).ok_or_else(|| {
            BlobError::Internal(Box::new(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("blob key {key:?} does not map to a path under the storage root"),
            )))
        })
    }

    /// The object's filesystem metadata, `None` when there is no regular file at the key.
    async fn file_meta(&self, path: &Path) -> Result<Option<std::fs::Metadata>, BlobError> {
        match tokio::fs::metadata(path).await {
            Ok(m) if m.is_file() => Ok(Some(m)),
            Ok(_) => Ok(None),
            Err(e) if absent(&e) => Ok(None),
            Err(e) => Err(io_failure(
                format!("reading metadata of {}", path.display()),
                e,
            )),
        }
    }

    async fn blob_meta(&self, paths: &BlobPaths, file: &std::fs::Metadata) -> BlobMeta {
        let sidecar = match tokio::fs::read(&paths.sidecar).await {
            Ok(raw) => Sidecar::parse(&raw, file.len()),
            Err(e) => {
                if !absent(&e) {
                    tracing::warn!(path = %paths.sidecar.display(), error = %e, "unreadable blob sidecar");
                }
                None
            }
        };
        let (sha256, content_type) = sidecar
            .map(|s| (Some(s.sha256), s.content_type))
            .unwrap_or_default();
        BlobMeta {
            size: file.len(),
            sha256,
            content_type,
            last_modified: file.modified().ok().map(DateTime::<Utc>::from),
        }
    }
}

/// "No such object": the file, or one of its parent directories, is missing (or a parent
/// is a file, when one key is a prefix of another).
fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        expect: PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        let paths = self.paths(key)?;
        // Fast refusal before reading a body that could never be stored.
        if self.file_meta(&paths.data).await?.is_some() {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let temp = TempFile::new(self.tmp.join(format!("{}.part", uuid::Uuid::new_v4())));
        let (sha256, size) =
            publish::receive(key, temp.path(), &self.tmp, body, expect.size).await?;
        expect.check(key, &sha256, size)?;
        publish::link_no_replace(key, temp.path(), &paths.data).await?;
        drop(temp);
        Ok(self
            .finish_put(key, &paths, sha256, size, expect.content_type)
            .await)
    }

    /// Links the staged file into place when it is on this store's filesystem: no copy
    /// and no second hash (its SHA-256 was computed as it was written). Elsewhere it is
    /// streamed like any put.
    async fn put_staged(
        &self,
        key: &BlobKey,
        file: &StagedFile,
        content_type: Option<String>,
    ) -> Result<BlobMeta, BlobError> {
        if !self.same_filesystem(file.path()).await {
            let (body, expect) = staged_body(file, content_type).await?;
            return self.put(key, body, expect).await;
        }
        let paths = self.paths(key)?;
        if self.file_meta(&paths.data).await?.is_some() {
            return Err(BlobError::AlreadyExists(key.to_string()));
        }
        let staged = file.path().to_path_buf();
        publish::blocking(move || std::fs::File::open(&staged)?.sync_all())
            .await
            .map_err(|e| io_failure(format!("syncing {}", file.path().display()), e))?;
        match publish::link_no_replace(key, file.path(), &paths.data).await {
            Ok(()) => {}
            // Same device yet no link (a bind mount between): copy it instead.
            Err(BlobError::Internal(e)) => {
                tracing::debug!(key = %key, error = %e, "hard link refused; copying the staged file");
                let (body, expect) = staged_body(file, content_type).await?;
                return self.put(key, body, expect).await;
            }
            Err(other) => return Err(other),
        }
        Ok(self
            .finish_put(
                key,
                &paths,
                file.sha256().to_string(),
                file.size(),
                content_type,
            )
            .await)
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        let paths = self.paths(key)?;
        let file = match tokio::fs::File::open(&paths.data).await {
            Ok(f) => f,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(io_failure(format!("opening {}", paths.data.display()), e)),
        };
        let file_meta = file
            .metadata()
            .await
            .map_err(|e| io_failure(format!("reading metadata of {}", paths.data.display()), e))?;
        if !file_meta.is_file() {
            return Ok(None);
        }
        let meta = self.blob_meta(&paths, &file_meta).await;
        let body: ByteStream = Box::pin(tokio_util::io::ReaderStream::with_capacity(
            file, READ_CHUNK,
        ));
        Ok(Some(BlobObject { meta, body }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let paths = self.paths(key)?;
        match tokio::fs::symlink_metadata(&paths.data).await {
            Ok(m) if m.is_dir() => return Ok(()), // a key prefix, not an object
            Ok(_) => remove_if_present(&paths.data).await?,
            Err(e) if absent(&e) => {}
            Err(e) => {
                return Err(io_failure(
                    format!("reading metadata of {}", paths.data.display()),
                    e,
                ));
            }
        }
        remove_if_present(&paths.sidecar).await?;
        publish::prune_empty_parents(&self.root, &paths.data).await;
        Ok(())
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        let paths = self.paths(key)?;
        Ok(self.file_meta(&paths.data).await?.is_some())
    }

    async fn metadata(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        let paths = self.paths(key)?;
        match self.file_meta(&paths.data).await? {
            Some(file) => Ok(Some(self.blob_meta(&paths, &file).await)),
            None => Ok(None),
        }
    }

    async fn presigned_url(
        &self,
        _key: &BlobKey,
        _ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        Ok(None)
    }

    /// Startup check: writes a probe file in the temp directory, hard-links it into the
    /// root (the publish primitive), and removes both. The error names what failed.
    async fn check_writable(&self) -> Result<(), StoreCheckError> {
        let id = uuid::Uuid::new_v4();
        let unavailable = |what: &str, e: io::Error| {
            StoreCheckError::Other(format!(
                "fs storage at {} is not usable: {what}: {e}",
                self.root.display()
            ))
        };
        tokio::fs::create_dir_all(&self.tmp)
            .await
            .map_err(|e| unavailable("creating the temp directory", e))?;
        let probe = TempFile::new(self.tmp.join(format!("probe-{id}.part")));
        publish::write_small_file(probe.path(), b"tfr write probe\n")
            .await
            .map_err(|e| unavailable("writing a probe file", e))?;
        let published = TempFile::new(self.root.join(format!("@probe-{id}")));
        let (from, to) = (probe.path().to_path_buf(), published.path().to_path_buf());
        publish::blocking(move || std::fs::hard_link(&from, &to))
            .await
            .map_err(|e| {
                unavailable(
                    "hard-linking a probe file (the fs backend needs hard links)",
                    e,
                )
            })?;
        tokio::fs::remove_file(published.path())
            .await
            .map_err(|e| unavailable("removing a probe file", e))?;
        Ok(())
    }

    fn list(&self) -> BoxStream<'_, Result<BlobListing, BlobError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || walk::list_blobs(&root, &tx));
        walk::receiver_stream(rx)
    }

    fn backend_name(&self) -> &'static str {
        "fs"
    }
}

async fn remove_if_present(path: &Path) -> Result<(), BlobError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if absent(&e) => Ok(()),
        Err(e) => Err(io_failure(format!("removing {}", path.display()), e)),
    }
}
