//! `put_staged`: a file this process staged goes up straight from disk.
//!
//! Its size and SHA-256 are already known, so nothing is hashed again and the file is not
//! streamed through `put`'s block reader: a file under one block is read whole and sent
//! as one Put Blob; a longer one goes up as [`BLOCK_SIZE`] blocks, each read from its
//! own range of the file just before its Put Block, [`STAGED_BLOCKS_IN_FLIGHT`] at a
//! time, so at most that many blocks are in memory. The existence check, block ids, the
//! create-only commit and the handling of refusals are `put`'s (`src/upload.rs`).
//!
//! A file shorter than its recorded size fails with `BlobError::Body` before the commit,
//! so nothing becomes visible (uncommitted blocks are discarded by Azure).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use azure_storage_blobs::prelude::BlobClient;
use bytes::Bytes;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta};
use tfr_ports::stream::StagedFile;

use crate::upload::{BLOCK_SIZE, Blocks, MAX_BLOCKS, Upload, refuse_existing, too_many_blocks};

/// Blocks of a staged file being sent at once. More than `put`'s two: reading a block
/// from disk costs no waiting on a client body, and more connections fill the link
/// better. Not four: the SDK holds a second copy of each block while it is sent, and
/// with four the 1 GiB benchmark peaked at 90 MiB against the 100 MiB target.
pub const STAGED_BLOCKS_IN_FLIGHT: usize = 3;

pub(crate) async fn put_staged(
    blob: &BlobClient,
    key: &BlobKey,
    file: &StagedFile,
    content_type: Option<String>,
) -> Result<BlobMeta, BlobError> {
    refuse_existing(blob, key).await?;
    let upload = Upload::new(blob, key, content_type);
    let size = file.size();
    let sha256 = file.sha256().to_ascii_lowercase();
    let block = BLOCK_SIZE as u64;
    let path = file.path().to_path_buf();
    if size < block {
        // The same threshold as `put`: under one block is a single Put Blob.
        let data = read_range(path, 0, size).await?;
        return upload.single(data, sha256, size).await;
    }
    let count = size.div_ceil(block);
    if count > MAX_BLOCKS as u64 {
        // Refused before sending anything.
        return Err(too_many_blocks(key));
    }
    let mut blocks = Blocks::new(STAGED_BLOCKS_IN_FLIGHT);
    for index in 0..count {
        // Read only once the block can be sent: at most the in-flight blocks in memory.
        upload.wait_for_slot(&mut blocks).await?;
        let offset = index * block;
        let data = read_range(path.clone(), offset, block.min(size - offset)).await?;
        upload.send_block(&mut blocks, data)?;
    }
    upload.commit(blocks, sha256, size).await
}

/// Exactly `len` bytes of the file at `path` from `offset`; a file that ends before is a
/// `Body` error.
async fn read_range(path: PathBuf, offset: u64, len: u64) -> Result<Bytes, BlobError> {
    tokio::task::spawn_blocking(move || -> io::Result<Bytes> {
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        let mut buf = vec![0u8; len];
        file.read_exact(&mut buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the staged file ends before byte {}", offset + len as u64),
                )
            } else {
                e
            }
        })?;
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(|e| BlobError::Internal(Box::new(e)))?
    .map_err(BlobError::Body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ranges_are_exact_and_a_short_file_is_a_body_error() {
        let dir = std::env::temp_dir().join(format!("tfr-azure-staged-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let got = read_range(path.clone(), 4, 6).await.expect("range");
        assert_eq!(&got[..], b"456789");
        let empty = read_range(path.clone(), 0, 0).await.expect("empty");
        assert!(empty.is_empty());
        let short = read_range(path.clone(), 8, 4).await;
        assert!(matches!(short, Err(BlobError::Body(_))), "{short:?}");
        let missing = read_range(dir.join("absent"), 0, 1).await;
        assert!(matches!(missing, Err(BlobError::Body(_))), "{missing:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
