//! `put`: the body is hashed and size-checked as it is read, and the blob becomes visible
//! only after `PutExpectation::check` passed, in one create-only request.
//!
//! - A body under one block (8 MiB) is buffered and sent as a single Put Blob.
//! - A larger one goes up as blocks of 8 MiB (at most two in flight, so memory stays
//!   near 24 MiB whatever the size), then Put Block List commits them. Uncommitted
//!   blocks are invisible and Azure discards them, so a failed or refused upload leaves
//!   nothing behind.
//!
//! The block and commit machinery also serves `put_staged` (module `staged`).
//!
//! Both final requests carry `If-None-Match: *`, so a concurrent put of the same key
//! loses with `AlreadyExists` instead of replacing the winner.

use azure_core::prelude::IfMatchCondition;
use azure_core::request_options::Metadata;
use azure_storage_blobs::blob::{BlobBlockType, BlockList};
use azure_storage_blobs::prelude::{BlobClient, BlockId};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, PutExpectation};
use tfr_ports::stream::ByteStream;
use tokio::task::JoinSet;

use crate::errors::{blob_error, code, is_already_exists, is_blob_absent};
use crate::meta::{DEFAULT_CONTENT_TYPE, SHA256_META, UPLOAD_ID_META, to_chrono};

/// Block size of large uploads; smaller bodies go up as one Put Blob.
pub const BLOCK_SIZE: usize = 8 * 1024 * 1024;
/// Blocks uploading at once (each holds its 8 MiB until it is sent).
const MAX_IN_FLIGHT: usize = 2;
/// Azure's limit of committed blocks per blob (8 MiB × 50,000 ≈ 390 GiB).
pub(crate) const MAX_BLOCKS: usize = 50_000;
/// Buffer growth starts here, so a small body does not cost a full block.
const INITIAL_BUFFER: usize = 256 * 1024;

pub(crate) async fn put(
    blob: &BlobClient,
    key: &BlobKey,
    body: ByteStream,
    expect: PutExpectation,
) -> Result<BlobMeta, BlobError> {
    refuse_existing(blob, key).await?;
    let upload = Upload::new(blob, key, expect.content_type.clone());
    let mut reader = BlockReader::new(body, expect.size, key);
    let first = reader.next_block().await?.unwrap_or_default();
    if reader.finished() && first.len() < BLOCK_SIZE {
        let (sha256, size) = reader.digest();
        expect.check(key, &sha256, size)?;
        return upload.single(first, sha256, size).await;
    }
    upload.blocks(first, reader, &expect).await
}

/// Fast refusal before reading a body that could never be stored (the create-only
/// final request is what makes it safe).
pub(crate) async fn refuse_existing(blob: &BlobClient, key: &BlobKey) -> Result<(), BlobError> {
    match blob.get_properties().await {
        Ok(_) => Err(BlobError::AlreadyExists(key.to_string())),
        Err(e) if is_blob_absent(&e) => Ok(()),
        Err(e) => Err(blob_error(&format!("checking {key}"), e)),
    }
}

/// The blocks of one upload: those still being sent and the ids of all of them, in
/// order. Dropping it (on any early return, or when the caller drops its future) aborts
/// the uploads still running, and nothing is committed.
pub(crate) struct Blocks {
    in_flight: JoinSet<Result<(), azure_core::Error>>,
    ids: Vec<BlockId>,
    max_in_flight: usize,
}

impl Blocks {
    pub(crate) fn new(max_in_flight: usize) -> Self {
        Self {
            in_flight: JoinSet::new(),
            ids: Vec::new(),
            max_in_flight,
        }
    }
}

pub(crate) struct Upload<'a> {
    blob: &'a BlobClient,
    key: &'a BlobKey,
    /// Unique per put: names its blocks, and is recorded in the blob's metadata so a
    /// retried request that finds "already exists" can tell its own write.
    id: String,
    content_type: String,
}

impl<'a> Upload<'a> {
    pub(crate) fn new(
        blob: &'a BlobClient,
        key: &'a BlobKey,
        content_type: Option<String>,
    ) -> Self {
        Self {
            blob,
            key,
            id: uuid::Uuid::new_v4().to_string(),
            content_type: content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string()),
        }
    }

    fn metadata(&self, sha256: &str) -> Metadata {
        let mut metadata = Metadata::new();
        metadata.insert(SHA256_META, sha256.to_string());
        metadata.insert(UPLOAD_ID_META, self.id.clone());
        metadata
    }

    fn meta(&self, sha256: String, size: u64, last_modified: Option<DateTime<Utc>>) -> BlobMeta {
        BlobMeta {
            size,
            sha256: Some(sha256),
            content_type: Some(self.content_type.clone()),
            last_modified,
        }
    }

    /// The whole (small, checked) body as one create-only Put Blob.
    pub(crate) async fn single(
        &self,
        data: Bytes,
        sha256: String,
        size: u64,
    ) -> Result<BlobMeta, BlobError> {
        let result = self
            .blob
            .put_block_blob(data)
            .content_type(self.content_type.clone())
            .metadata(self.metadata(&sha256))
            .if_match(IfMatchCondition::NotMatch("*".into()))
            .await;
        match result {
            Ok(r) => Ok(self.meta(sha256, size, to_chrono(r.last_modified))),
            Err(e) => self.refused(e, sha256, size).await,
        }
    }

    /// Streams the body up as blocks, then commits them once the expectation holds.
    async fn blocks(
        &self,
        first: Bytes,
        mut reader: BlockReader,
        expect: &PutExpectation,
    ) -> Result<BlobMeta, BlobError> {
        let mut blocks = Blocks::new(MAX_IN_FLIGHT);
        let mut next = Some(first);
        while let Some(block) = next {
            self.wait_for_slot(&mut blocks).await?;
            self.send_block(&mut blocks, block)?;
            next = reader.next_block().await?;
        }
        let (sha256, size) = reader.digest();
        expect.check(self.key, &sha256, size)?;
        self.commit(blocks, sha256, size).await
    }

    /// Waits until fewer than the limit of blocks are in flight, so the caller can read
    /// the next block only when it can be sent.
    pub(crate) async fn wait_for_slot(&self, blocks: &mut Blocks) -> Result<(), BlobError> {
        while blocks.in_flight.len() >= blocks.max_in_flight {
            self.join_one(&mut blocks.in_flight).await?;
        }
        Ok(())
    }

    /// Starts the Put Block of the next block of the upload.
    pub(crate) fn send_block(&self, blocks: &mut Blocks, block: Bytes) -> Result<(), BlobError> {
        if blocks.ids.len() >= MAX_BLOCKS {
            return Err(too_many_blocks(self.key));
        }
        // Equal length for every block of the upload, as Azure requires.
        let id = BlockId::new(format!("{}-{:06}", self.id, blocks.ids.len()));
        blocks.ids.push(id.clone());
        let blob = self.blob.clone();
        blocks
            .in_flight
            .spawn(async move { blob.put_block(id, block).await.map(|_| ()) });
        Ok(())
    }

    /// Waits for the blocks still in flight, then commits them all with a create-only
    /// Put Block List recording `sha256`.
    pub(crate) async fn commit(
        &self,
        mut blocks: Blocks,
        sha256: String,
        size: u64,
    ) -> Result<BlobMeta, BlobError> {
        while !blocks.in_flight.is_empty() {
            self.join_one(&mut blocks.in_flight).await?;
        }
        let list = BlockList {
            blocks: blocks
                .ids
                .into_iter()
                .map(BlobBlockType::new_uncommitted)
                .collect(),
        };
        let result = self
            .blob
            .put_block_list(list)
            .content_type(self.content_type.clone())
            .metadata(self.metadata(&sha256))
            .if_match(IfMatchCondition::NotMatch("*".into()))
            .await;
        match result {
            Ok(r) => Ok(self.meta(sha256, size, to_chrono(r.last_modified))),
            // A concurrent writer committed first, which discards our uncommitted blocks.
            Err(e) if code(&e) == Some("InvalidBlockList") => match self.blob.exists().await {
                Ok(true) => Err(BlobError::AlreadyExists(self.key.to_string())),
                _ => Err(blob_error(&format!("committing {}", self.key), e)),
            },
            Err(e) => self.refused(e, sha256, size).await,
        }
    }

    async fn join_one(
        &self,
        in_flight: &mut JoinSet<Result<(), azure_core::Error>>,
    ) -> Result<(), BlobError> {
        match in_flight.join_next().await {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(blob_error(&format!("uploading a block of {}", self.key), e)),
            Some(Err(e)) => Err(BlobError::Internal(
                format!("uploading a block of {}: task failed: {e}", self.key).into(),
            )),
        }
    }

    /// A failed create: `AlreadyExists` when the precondition failed, unless the blob
    /// there is this very upload (the SDK retried after a lost response).
    async fn refused(
        &self,
        e: azure_core::Error,
        sha256: String,
        size: u64,
    ) -> Result<BlobMeta, BlobError> {
        if !is_already_exists(&e) {
            return Err(blob_error(&format!("storing {}", self.key), e));
        }
        if let Ok(props) = self.blob.get_properties().await {
            let ours = props
                .blob
                .metadata
                .as_ref()
                .and_then(|m| m.get(UPLOAD_ID_META))
                .is_some_and(|id| *id == self.id);
            if ours {
                let last_modified = to_chrono(props.blob.properties.last_modified);
                return Ok(self.meta(sha256, size, last_modified));
            }
        }
        Err(BlobError::AlreadyExists(self.key.to_string()))
    }
}

/// The refusal of a body needing more than [`MAX_BLOCKS`] blocks.
pub(crate) fn too_many_blocks(key: &BlobKey) -> BlobError {
    BlobError::Internal(
        format!(
            "{key}: body larger than a block blob allows ({MAX_BLOCKS} blocks of {BLOCK_SIZE} bytes)"
        )
        .into(),
    )
}

/// Cuts the body into blocks, hashing and counting every byte as it arrives.
struct BlockReader {
    body: ByteStream,
    /// The unread rest of the last chunk.
    pending: Bytes,
    done: bool,
    hasher: Sha256,
    size: u64,
    expected: Option<u64>,
    key: String,
}

impl BlockReader {
    fn new(body: ByteStream, expected: Option<u64>, key: &BlobKey) -> Self {
        Self {
            key: key.to_string(),
            body,
            pending: Bytes::new(),
            done: false,
            hasher: Sha256::new(),
            size: 0,
            expected,
        }
    }

    /// The body ended and every byte was handed out.
    fn finished(&self) -> bool {
        self.done && self.pending.is_empty()
    }

    fn digest(&self) -> (String, u64) {
        (hex::encode(self.hasher.clone().finalize()), self.size)
    }

    /// The next [`BLOCK_SIZE`] bytes (fewer at the end), `None` once all were handed out.
    /// A body longer than the expected size fails as soon as it passes it.
    async fn next_block(&mut self) -> Result<Option<Bytes>, BlobError> {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            if !self.pending.is_empty() {
                // A chunk that is a whole block by itself needs no copy.
                if buf.is_empty() && self.pending.len() >= BLOCK_SIZE {
                    return Ok(Some(self.pending.split_to(BLOCK_SIZE)));
                }
                let n = (BLOCK_SIZE - buf.len()).min(self.pending.len());
                reserve(&mut buf, n);
                buf.extend_from_slice(&self.pending.split_to(n));
                if buf.len() == BLOCK_SIZE {
                    return Ok(Some(Bytes::from(buf)));
                }
                continue;
            }
            if self.done {
                return Ok((!buf.is_empty()).then(|| Bytes::from(buf)));
            }
            match self.body.next().await {
                None => self.done = true,
                Some(Err(e)) => return Err(BlobError::Body(e)),
                Some(Ok(chunk)) => {
                    self.hasher.update(&chunk);
                    self.size += chunk.len() as u64;
                    if let Some(expected) = self.expected
                        && self.size > expected
                    {
                        // Already too long: no need to read (or store) the rest.
                        return Err(BlobError::SizeMismatch {
                            key: self.key.clone(),
                            expected,
                            actual: self.size,
                        });
                    }
                    self.pending = chunk;
                }
            }
        }
    }
}

/// Grows `buf` for `n` more bytes, doubling but never past a block, so a block buffer
/// holds at most [`BLOCK_SIZE`] (a plain `Vec` could double to twice that).
fn reserve(buf: &mut Vec<u8>, n: usize) {
    let needed = buf.len() + n;
    if needed <= buf.capacity() {
        return;
    }
    let target = (buf.capacity() * 2)
        .clamp(INITIAL_BUFFER, BLOCK_SIZE)
        .max(needed);
    buf.reserve_exact(target - buf.len());
}
